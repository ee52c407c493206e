// Standalone check of the affinity core, no Python needed:
//   g++ -std=c++17 -O2 -Wall -Wextra -Werror [-fopenmp] -I csrc csrc/core/tests/test_affinity.cpp && ./a.out
#include <cstdint>
#include <cstdio>
#include <vector>

#include "core/affinity.hpp"
#include "core/tests/check.hpp"

using pytc_test::check;

int main() {
  // 1 x 2 x 3 volume:  [1 1 2]
  //                    [1 0 2]
  const std::vector<uint32_t> seg = {1, 1, 2, 1, 0, 2};
  const int64_t shape[3] = {1, 2, 3};
  const int64_t strides[3] = {6, 3, 1};
  const pytc::Offset3 offsets[3] = {{0, -1, 0}, {0, 0, -1}, {0, 0, 2}};
  std::vector<float> aff(3 * 6, -1.0f);
  std::vector<uint8_t> valid(3 * 6, 7);
  pytc::seg_to_affinity(seg.data(), shape, strides, offsets, 3, aff.data(), valid.data(), 2);

  const std::vector<float> expected = {
      0, 0, 0, 1, 0, 1,  // (0,-1,0): row 1 against row 0
      0, 1, 0, 0, 0, 0,  // (0,0,-1): left neighbour
      0, 0, 0, 0, 0, 0,  // (0,0,2): seg[0,0]=1 vs seg[0,2]=2; seg[1,0]=1 vs seg[1,2]=2
  };
  const std::vector<uint8_t> expected_valid = {
      0, 0, 0, 1, 1, 1,
      0, 1, 1, 0, 1, 1,
      1, 0, 0, 1, 0, 0,
  };
  check(aff == expected, "affinities");
  check(valid == expected_valid, "valid mask");

  // Fortran-order copy of the same volume gives the same result.
  const std::vector<uint32_t> seg_f = {1, 1, 1, 0, 2, 2};
  const int64_t strides_f[3] = {6, 1, 2};
  std::vector<float> aff_f(3 * 6, -1.0f);
  pytc::seg_to_affinity(seg_f.data(), shape, strides_f, offsets, 3, aff_f.data(),
                        static_cast<uint8_t*>(nullptr), 1);
  check(aff_f == expected, "Fortran order");

  bool threw = false;
  const int64_t bad_shape[3] = {1, -2, 3};
  try {
    pytc::seg_to_affinity(seg.data(), bad_shape, strides, offsets, 3, aff.data(),
                          static_cast<uint8_t*>(nullptr), 1);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  check(threw, "negative shape throws");

  return pytc_test::report("affinity");
}
