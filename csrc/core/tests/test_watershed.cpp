// Standalone check of the watershed core, no Python needed:
//   g++ -std=c++17 -O2 -Wall -Wextra -Werror [-fopenmp] -I csrc csrc/core/tests/test_watershed.cpp && ./a.out
#include <cstdint>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <vector>

#include "core/watershed.hpp"
#include "core/tests/check.hpp"

using pytc_test::check;

// Runs the watershed with low=0.0001, high=0.9999 and weight_threshold=low.
static std::vector<uint64_t> run(const std::vector<float>& aff, const int64_t shape[3], uint64_t size_threshold,
                                 uint64_t dust, const uint8_t* mask = nullptr, int threads = 1,
                                 pytc::WatershedStats* stats = nullptr) {
  std::vector<uint64_t> out(static_cast<size_t>(shape[0] * shape[1] * shape[2]), 99);
  const pytc::WatershedStats s =
      pytc::watershed(aff.data(), shape, mask, 0.0001, 0.9999, size_threshold, 0.0001, dust, out.data(), threads);
  if (stats != nullptr) *stats = s;
  return out;
}

int main() {
  // 1 x 1 x 6 line, channel 2 links x with x - 1; one weak edge between x = 2 and x = 3.
  const int64_t line[3] = {1, 1, 6};
  std::vector<float> aff(3 * 6, 1.0f);
  aff[2 * 6 + 3] = 0.0f;  // cut
  check(run(aff, line, 0, 0) == std::vector<uint64_t>{1, 1, 1, 2, 2, 2}, "cut line: two basins");
  pytc::WatershedStats stats;
  check(run(aff, line, 0, 4, nullptr, 1, &stats) == std::vector<uint64_t>(6, 0), "cut line: both sides are dust");
  check(stats.dust_voxels == 6 && stats.fragments == 0 && stats.basins == 2, "cut line: stats");
  check(!stats.outside_seen, "cut line: nothing outside [0, 1]");
  {
    // NaN, infinities and values outside [0, 1] anywhere in channels 0..2 (border edges included) are
    // reported without a mask; NaN counts as cut
    const int64_t cube[3] = {40, 36, 30};  // above the parallel cutoff
    const size_t n = 40 * 36 * 30;
    std::vector<float> ones(3 * n, 1.0f);
    for (size_t at : {size_t{0}, n + 5, 2 * n + 30 * 7, 3 * n - 1, n / 2}) {
      for (int threads : {1, 2}) {
        for (float value : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                            -0.001f, 1.001f}) {
          std::vector<float> bad = ones;
          bad[at] = value;
          pytc::WatershedStats s;
          run(bad, cube, 0, 0, nullptr, threads, &s);
          check(s.outside_seen, "a value outside [0, 1] is reported");
        }
      }
    }
    pytc::WatershedStats s;
    run(ones, cube, 0, 0, nullptr, 2, &s);
    check(!s.outside_seen && s.basins == 1, "nothing reported without a value outside [0, 1]");
  }
  aff[2 * 6 + 3] = 0.5f;  // weak but not cut
  check(run(aff, line, 0, 0) == std::vector<uint64_t>{1, 1, 1, 2, 2, 2}, "weak line: two basins");
  check(run(aff, line, 4, 0) == std::vector<uint64_t>(6, 1), "weak line: size rule merges");
  check(run(aff, line, 3, 0) == std::vector<uint64_t>{1, 1, 1, 2, 2, 2}, "weak line: sides not small");
  check(run(aff, line, 0, 4) == std::vector<uint64_t>(6, 1), "weak line: dust attached");

  // Steepest ascent: 1 x 1 x 5 with edges (x-1, x) = 0.2 0.6 0.3 0.7; voxel 2 climbs to 1
  // (0.6 > 0.3), voxel 3 to 4 (0.7 > 0.3).
  const int64_t five[3] = {1, 1, 5};
  std::vector<float> ramp(3 * 5, 0.0f);
  const float ex[5] = {0.0f, 0.2f, 0.6f, 0.3f, 0.7f};
  for (int x = 0; x < 5; ++x) ramp[2 * 5 + x] = ex[x];
  check(run(ramp, five, 0, 0) == std::vector<uint64_t>{1, 1, 1, 2, 2}, "steepest ascent");

  // Plateau: all edges equal and below high, one stronger edge at the end: the whole line
  // drains towards it in one basin; with a cut in the middle, two.
  std::vector<float> flat(3 * 6, 0.0f);
  for (int x = 1; x < 6; ++x) flat[2 * 6 + x] = 0.5f;
  check(run(flat, line, 0, 0) == std::vector<uint64_t>(6, 1), "flat line: one basin");
  flat[2 * 6 + 5] = 0.8f;
  check(run(flat, line, 0, 0) == std::vector<uint64_t>(6, 1), "plateau drains to its corner");

  // Masks, single voxels and empty volumes.
  const std::vector<uint8_t> none(6, 0), half = {1, 1, 1, 0, 1, 1};
  check(run(aff, line, 0, 0, none.data()) == std::vector<uint64_t>(6, 0), "all masked");
  check(run(aff, line, 0, 0, half.data()) == std::vector<uint64_t>{1, 1, 1, 0, 2, 2}, "mask splits");
  const int64_t one[3] = {1, 1, 1};
  const std::vector<float> one_aff(3, 1.0f);
  check(run(one_aff, one, 0, 0) == std::vector<uint64_t>{1}, "single voxel");
  check(run(one_aff, one, 0, 2) == std::vector<uint64_t>{0}, "single voxel is dust");
  const int64_t empty[3] = {0, 4, 4};
  check(pytc::watershed(one_aff.data(), empty, nullptr, 0.1, 0.9, 0, 0.1, 0, nullptr, 1).basins == 0, "empty");

  // Random volume: the result does not depend on the thread count, ids are 1..n in order of
  // first voxel, and the merging only coarsens the basins.
  const int64_t shape[3] = {17, 23, 31};
  const int64_t n = shape[0] * shape[1] * shape[2];
  std::vector<float> noise(static_cast<size_t>(3 * n));
  uint32_t state = 12345;
  for (float& a : noise) {
    state = state * 1664525u + 1013904223u;
    a = static_cast<float>(state >> 8) / 16777216.0f;
    if ((state & 0xf0) == 0) a = 0.5f;  // ties
  }
  for (uint64_t st : {0u, 20u}) {
    for (uint64_t dust : {0u, 5u}) {
      const std::vector<uint64_t> a = run(noise, shape, st, dust, nullptr, 1);
      const std::vector<uint64_t> b = run(noise, shape, st, dust, nullptr, 3);
      check(a == b, "random: threads give the same result");
      uint64_t next = 1;
      bool ordered = true;
      for (uint64_t label : a) {
        if (label == next) ++next;
        else if (label > next) ordered = false;
      }
      check(ordered, "random: ids numbered in order of first voxel");
    }
  }
  const std::vector<uint64_t> basins = run(noise, shape, 0, 0), merged = run(noise, shape, 20, 0);
  std::vector<uint64_t> image(static_cast<size_t>(n) + 1, 0);
  bool coarser = true;
  for (int64_t v = 0; v < n; ++v) {
    uint64_t& m = image[basins[v]];
    if (m == 0) m = merged[v];
    coarser = coarser && m == merged[v];
  }
  check(coarser, "random: merging only joins basins");

  // Volumes above the parallel cutoff (2^15 voxels), with few levels (plateaus, flat maxima) and
  // a mask: the basins are labelled on z slabs in parallel and joined at the slab borders
  // (shape {2, ...}: slabs of one plane); every thread count gives the same result.
  for (const auto& big : {std::vector<int64_t>{40, 30, 30}, std::vector<int64_t>{2, 150, 120}}) {
    const int64_t bn = big[0] * big[1] * big[2];
    std::vector<float> levels(static_cast<size_t>(3 * bn));
    std::vector<uint8_t> inside(static_cast<size_t>(bn));
    for (float& a : levels) {
      state = state * 1664525u + 1013904223u;
      a = static_cast<float>(state >> 30) / 3.0f;
    }
    for (uint8_t& m : inside) {
      state = state * 1664525u + 1013904223u;
      m = (state >> 28) != 0;
    }
    for (const uint8_t* m : {static_cast<const uint8_t*>(nullptr), static_cast<const uint8_t*>(inside.data())}) {
      for (uint64_t st : {0u, 20u}) {
        const std::vector<uint64_t> a = run(levels, big.data(), st, st / 4, m, 1);
        for (int threads : {2, 3, 16}) {
          check(a == run(levels, big.data(), st, st / 4, m, threads), "large volume: threads give the same result");
        }
      }
    }
  }

  bool threw = false;
  try {
    pytc::watershed(aff.data(), line, nullptr, 0.9, 0.1, 0, 0.1, 0, std::vector<uint64_t>(6).data(), 1);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  check(threw, "low > high throws");

  return pytc_test::report("watershed");
}
