// Standalone check of the mutex watershed core, no Python needed:
//   g++ -std=c++17 -O2 -Wall -Wextra -Werror [-fopenmp] -I csrc csrc/core/tests/test_mutex_watershed.cpp && ./a.out
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include "core/mutex_watershed.hpp"
#include "core/tests/check.hpp"

using pytc_test::check;

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

  // The list pool: blocks keep their contents while others are allocated and released, freed
  // blocks are reused per size, and the pool grows (here from 64 entries) without losing data.
  {
    using pytc::mws_detail::ListPool;
    check(ListPool::size_class(0) == 1 && ListPool::size_class(2) == 1 && ListPool::size_class(3) == 2 &&
              ListPool::size_class(4) == 2 && ListPool::size_class(5) == 3 && ListPool::size_class(1024) == 10,
          "list pool size classes");
    ListPool pool(64);
    std::vector<uint64_t> blocks;
    std::vector<int> classes;
    for (int i = 0; i < 200; ++i) {
      const int k = 1 + i % 6;
      blocks.push_back(pool.allocate(k));
      classes.push_back(k);
      for (uint32_t j = 0; j < (1u << k); ++j) pool.at(blocks.back())[j] = static_cast<uint32_t>(i * 1000 + j);
    }
    for (int i = 0; i < 200; i += 3) pool.release(blocks[i], classes[i]);
    const uint64_t reused = pool.allocate(classes[198]);
    check(reused == blocks[198], "a released block is reused by the next allocation of its size");
    for (int i = 0; i < 200; ++i) {
      if (i % 3 == 0) continue;
      bool intact = true;
      for (uint32_t j = 0; j < (1u << classes[i]); ++j) intact = intact && pool.at(blocks[i])[j] == static_cast<uint32_t>(i * 1000 + j);
      check(intact, "live pool blocks keep their contents through growth and reuse");
    }
  }

  // Large inputs take the mapped (huge page) arrays; a 64x64x64 volume of random affinities must
  // give the same labels with 1 and 2 threads and only labels 1..K.
  {
    const int64_t big[3] = {64, 64, 64};
    const int64_t n_voxels = big[0] * big[1] * big[2];
    const pytc::MwsOffset3 offs[4] = {{-1, 0, 0}, {0, -1, 0}, {0, 0, -1}, {0, -3, -3}};
    std::vector<float> weights(4 * n_voxels);
    uint32_t state = 1;
    for (float& w : weights) {
      state = state * 1664525u + 1013904223u;
      w = static_cast<float>(state >> 8) / 16777216.0f;
    }
    std::vector<uint64_t> one(n_voxels), two(n_voxels);
    const uint64_t k1 = pytc::mutex_watershed(weights.data(), big, offs, 4, 3, nullptr, nullptr, stride, one.data(), 1);
    const uint64_t k2 = pytc::mutex_watershed(weights.data(), big, offs, 4, 3, nullptr, nullptr, stride, two.data(), 2);
    bool in_range = k1 > 1;
    for (const uint64_t l : one) in_range = in_range && l >= 1 && l <= k1;
    check(k1 == k2 && one == two && in_range, "large input: same labels with 1 and 2 threads, labels 1..K");
  }

  return pytc_test::report("mutex_watershed");
}
