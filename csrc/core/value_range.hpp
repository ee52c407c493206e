// Range check of a float array: the position of the first value outside [lo, hi], NaN included.
//
// The kernels that take probabilities (watershed, agglomerate, mutex watershed) check their input
// with it. It reads the data once, as the NaN check it replaces did: blocks are checked in parallel
// with branch-free compares, and the exact first position is searched only in a block that fails.
#pragma once

#include <algorithm>
#include <cstdint>

#include "core/simd.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

// The block loop is compiled twice on x86-64 Linux with GCC or clang (AVX2 and baseline) and the
// best version is picked when the library loads.
#define PYTC_RANGE_TARGET_CLONES PYTC_SIMD_CLONES  // core/simd.hpp

namespace pytc {

namespace detail {

// Whether one of the n values is outside [lo, hi] or NaN (NaN fails both ordered compares).
template <typename Dummy = void>
PYTC_RANGE_TARGET_CLONES bool any_outside(const float* data, int64_t n, float lo, float hi) {
  unsigned outside = 0;
  for (int64_t i = 0; i < n; ++i) outside |= static_cast<unsigned>(!(data[i] >= lo)) | !(data[i] <= hi);
  return outside != 0;
}

}  // namespace detail

// Index of the first of the n values outside [lo, hi] (NaN counts as outside), or -1 when none is.
// Deterministic: the result does not depend on the thread count (threads <= 0: OpenMP's default).
inline int64_t first_outside(const float* data, int64_t n, float lo, float hi, int threads) {
  constexpr int64_t kBlock = int64_t{1} << 15;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  int64_t first_block = blocks;
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) num_threads(threads > 0 ? threads : omp_get_max_threads()) \
    reduction(min : first_block) if (blocks > 4)
#else
  (void)threads;
#endif
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t start = b * kBlock;
    if (detail::any_outside(data + start, std::min(kBlock, n - start), lo, hi)) first_block = std::min(first_block, b);
  }
  if (first_block == blocks) return -1;
  for (int64_t i = first_block * kBlock; i < n; ++i) {
    if (!(data[i] >= lo && data[i] <= hi)) return i;
  }
  return -1;  // not reached: the block holds such a value
}

}  // namespace pytc
