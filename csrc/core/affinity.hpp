// Segmentation to affinity graph.
//
// aff[c, v] = 1 iff seg[v] != 0 and seg[v] == seg[v + offsets[c]], else 0 (also 0 where
// v + offsets[c] falls outside the volume). valid[c, v] = 1 iff v + offsets[c] is inside.
//
// Algorithm: one pass over the rows (z, y) of the volume; for each row every channel is
// written before moving on, so the label rows are read once from memory and reused from
// cache. The inner loop over x is branch-free and vectorizes for unit x stride.
// Complexity: O(C * N) time, O(1) extra memory.
// Layout: seg is (Z, Y, X) with arbitrary element strides (C order, Fortran order, any view,
//   negative strides included); aff and valid are C-contiguous (C, Z, Y, X). 2D callers pass Z = 1.
// Threading: rows are split statically over `threads` OpenMP threads (<= 0: the OpenMP default).
//   Without OpenMP the pragmas are ignored and the kernel runs on one thread.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "core/simd.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace pytc {

struct Offset3 {
  int64_t z, y, x;
};

// The row loop is compiled twice on x86-64 Linux with GCC or clang (AVX2 and baseline) and the
// best version is picked when the library loads; 64-bit label compares need AVX2 to vectorize.
#define PYTC_TARGET_CLONES PYTC_SIMD_CLONES  // core/simd.hpp

namespace detail {

template <typename Label, typename Out>
PYTC_TARGET_CLONES void affinity_row(const Label* row, const Label* neighbour, int64_t begin, int64_t end,
                         int64_t stride, Out* out) {
  if (stride == 1) {
    for (int64_t x = begin; x < end; ++x) {
      const Label a = row[x];
      out[x] = static_cast<Out>((a == neighbour[x]) & (a != 0));
    }
  } else {
    for (int64_t x = begin; x < end; ++x) {
      const Label a = row[x * stride];
      out[x] = static_cast<Out>((a == neighbour[x * stride]) & (a != 0));
    }
  }
}

}  // namespace detail

template <typename Label, typename Out>
void seg_to_affinity(const Label* seg, const int64_t shape[3], const int64_t strides[3],
                     const Offset3* offsets, int64_t n_offsets, Out* aff, uint8_t* valid,
                     int threads) {
  for (int d = 0; d < 3; ++d) {
    if (shape[d] < 0) {
      throw std::invalid_argument("seg_to_affinity: shape[" + std::to_string(d) +
                                  "] must be >= 0; got " + std::to_string(shape[d]));
    }
  }
  const int64_t Z = shape[0], Y = shape[1], X = shape[2];
  const int64_t rows = Z * Y;
  const int64_t n_voxels = rows * X;
  if (n_voxels == 0 || n_offsets == 0) return;

#if defined(_OPENMP)
  const bool parallel = n_voxels * n_offsets >= (int64_t{1} << 16);
#pragma omp parallel for schedule(static) num_threads(threads > 0 ? threads : omp_get_max_threads()) if (parallel)
#else
  (void)threads;
#endif
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t z = r / Y, y = r % Y;
    const Label* row = seg + z * strides[0] + y * strides[1];
    for (int64_t c = 0; c < n_offsets; ++c) {
      const Offset3 o = offsets[c];
      const int64_t out_index = (c * rows + r) * X;
      Out* out = aff + out_index;
      const int64_t nz = z + o.z, ny = y + o.y;
      int64_t begin = std::clamp<int64_t>(-o.x, 0, X);
      int64_t end = std::clamp<int64_t>(X - o.x, 0, X);
      if (nz < 0 || nz >= Z || ny < 0 || ny >= Y || begin >= end) begin = end = 0;
      std::fill(out, out + begin, Out(0));
      if (begin < end) {
        const Label* neighbour = seg + nz * strides[0] + ny * strides[1] + o.x * strides[2];
        detail::affinity_row(row, neighbour, begin, end, strides[2], out);
      }
      std::fill(out + end, out + X, Out(0));
      if (valid != nullptr) {
        uint8_t* v = valid + out_index;
        std::fill(v, v + begin, uint8_t(0));
        std::fill(v + begin, v + end, uint8_t(1));
        std::fill(v + end, v + X, uint8_t(0));
      }
    }
  }
}

}  // namespace pytc
