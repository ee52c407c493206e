// Standalone check of the range check core, no Python needed:
//   g++ -std=c++17 -O2 -Wall -Wextra -Werror [-fopenmp] -I csrc csrc/core/tests/test_value_range.cpp && ./a.out
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/tests/check.hpp"
#include "core/value_range.hpp"

using pytc_test::check;

int main() {
  const int64_t n = 200000;  // several blocks, so the parallel path runs
  std::vector<float> values(n);
  for (int64_t i = 0; i < n; ++i) values[i] = static_cast<float>(i % 101) / 100.0f;
  check(pytc::first_outside(values.data(), n, 0.0f, 1.0f, 2) == -1, "values in [0, 1] pass");
  check(pytc::first_outside(values.data(), 0, 0.0f, 1.0f, 2) == -1, "an empty array passes");

  const float bad[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                       -std::numeric_limits<float>::infinity(), 1.0001f, -1e-7f};
  for (float value : bad) {
    for (int64_t at : {int64_t{0}, int64_t{40000}, n - 1}) {
      std::vector<float> copy = values;
      copy[at] = value;
      copy[n - 1 - at / 2] = value;  // a later one must not hide the first
      const int64_t first = std::min(at, n - 1 - at / 2);
      check(pytc::first_outside(copy.data(), n, 0.0f, 1.0f, 2) == first, "the first bad value is found");
      check(pytc::first_outside(copy.data(), n, 0.0f, 1.0f, 1) == first, "one thread finds the same");
    }
  }
  std::vector<float> bounds = {0.0f, 1.0f, 0.5f};
  check(pytc::first_outside(bounds.data(), 3, 0.0f, 1.0f, 1) == -1, "the bounds are inside");
  return pytc_test::report("value range");
}
