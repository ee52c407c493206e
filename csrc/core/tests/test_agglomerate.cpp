// Standalone check of the agglomeration core, no Python needed:
//   g++ -std=c++17 -O2 -Wall -Wextra -Werror [-fopenmp] -I csrc csrc/core/tests/test_agglomerate.cpp && ./a.out
#include <cstdint>
#include <cstdio>
#include <vector>

#include "core/agglomerate.hpp"

static int failures = 0;

static void check(bool ok, const char* what) {
  if (!ok) {
    std::printf("FAILED: %s\n", what);
    ++failures;
  }
}

int main() {
  // 1 x 1 x 5 volume of fragments [1 2 3 0 4]; x-affinities (channel 2) link x with x - 1.
  const std::vector<uint32_t> fragments = {1, 2, 3, 0, 4};
  const int64_t shape[3] = {1, 1, 5};
  std::vector<float> aff(3 * 5, 0.0f);
  aff[2 * 5 + 1] = 0.9f;  // 1-2: score 0.1
  aff[2 * 5 + 2] = 0.4f;  // 2-3: score 0.6
  aff[2 * 5 + 4] = 1.0f;  // 0-4: background, no edge
  const std::vector<float> aff_copy = aff;

  for (int scoring = 0; scoring <= 4; ++scoring) {
    pytc::agglo::Agglomeration a(fragments.data(), aff.data(), shape, static_cast<pytc::agglo::Scoring>(scoring),
                                 50, true);
    check(a.num_nodes() == 4, "four fragments");
    check(a.num_edges() == 2, "two edges (background has none)");
    std::vector<uint64_t> out(5);
    a.merge_until(0.05f);
    a.extract(fragments.data(), 5, out.data(), 1);
    check(out == std::vector<uint64_t>({1, 2, 3, 0, 4}), "nothing below 0.05");
    a.merge_until(0.5f);
    a.extract(fragments.data(), 5, out.data(), 1);
    check(out[0] == out[1] && out[1] != out[2] && out[3] == 0 && out[4] == 4, "1-2 merged at 0.5");
    a.merge_until(0.7f);
    a.extract(fragments.data(), 5, out.data(), 1);
    check(out[0] == out[1] && out[1] == out[2] && out[3] == 0 && out[4] == 4, "1-2-3 merged at 0.7");
  }
  check(aff == aff_copy, "input not modified");

  // hash map: insert, erase with backward shift, find
  pytc::agglo::PairMap map(4);
  for (uint32_t i = 0; i < 1000; ++i) map.insert(pytc::agglo::pair_key(i, i + 1), i);
  for (uint32_t i = 0; i < 1000; i += 2) map.erase(pytc::agglo::pair_key(i + 1, i));
  bool ok = map.size() == 500;
  for (uint32_t i = 0; i < 1000; ++i) {
    const uint32_t found = map.find(pytc::agglo::pair_key(i, i + 1));
    ok = ok && (i % 2 == 0 ? found == pytc::agglo::PairMap::kNone : found == i);
  }
  check(ok, "pair map insert/erase/find");

  if (failures == 0) std::printf("agglomerate core: all checks passed\n");
  return failures == 0 ? 0 : 1;
}
