// Standalone check of the mutex watershed core, no Python needed:
//   g++ -std=c++17 -O2 -Wall -Wextra -Werror [-fopenmp] -I csrc csrc/core/tests/test_mutex_watershed.cpp && ./a.out
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include "core/mutex_watershed.hpp"

static int failures = 0;

static void check(bool ok, const char* what) {
  if (!ok) {
    std::printf("FAILED: %s\n", what);
    ++failures;
  }
}

int main() {
  // 1 x 1 x 4 row. Attractive (0,0,-1): 0-1 strong (0.9), 1-2 weak (0.2), 2-3 strong (0.8).
  // Repulsive (0,0,-2): 0-2 with weight 1 - 0.3 = 0.7 (processed before the weak link 1-2).
  const int64_t shape[3] = {1, 1, 4};
  const pytc::MwsOffset3 offsets[2] = {{0, 0, -1}, {0, 0, -2}};
  const std::vector<float> aff = {0.0f, 0.9f, 0.2f, 0.8f, 1.0f, 1.0f, 0.3f, 1.0f};
  const int64_t stride[3] = {1, 1, 1};
  std::vector<uint64_t> labels(4, 99);
  uint64_t n = pytc::mutex_watershed(aff.data(), shape, offsets, 2, 1, nullptr, nullptr, stride, labels.data(), 1);
  check(n == 2 && labels == std::vector<uint64_t>({1, 1, 2, 2}), "repulsive edge blocks the weak link");

  // Without the repulsive channel everything merges.
  n = pytc::mutex_watershed(aff.data(), shape, offsets, 1, 1, nullptr, nullptr, stride, labels.data(), 1);
  check(n == 1 && labels == std::vector<uint64_t>({1, 1, 1, 1}), "attractive only: one segment");

  // Masking voxel 1 splits the row; masked voxels get 0.
  const std::vector<uint8_t> mask = {1, 0, 1, 1};
  n = pytc::mutex_watershed(aff.data(), shape, offsets, 2, 1, mask.data(), nullptr, stride, labels.data(), 1);
  check(n == 2 && labels == std::vector<uint64_t>({1, 0, 2, 2}), "mask");

  bool threw = false;
  const int64_t bad_stride[3] = {1, 0, 1};
  try {
    pytc::mutex_watershed(aff.data(), shape, offsets, 2, 1, nullptr, nullptr, bad_stride, labels.data(), 1);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  check(threw, "stride 0 is rejected");

  if (failures == 0) std::printf("all mutex_watershed core checks passed\n");
  return failures == 0 ? 0 : 1;
}
