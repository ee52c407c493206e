// Affinity watershed with size-dependent single linkage (zwatershed).
//
// Zlateski & Seung 2015, "Image segmentation by size-dependent single linkage clustering of a
// watershed basin graph" (arXiv:1505.00249). Input: nearest-neighbour affinities aff[c, z, y, x],
// c = 0, 1, 2 linking v with v + (-1,0,0), (0,-1,0), (0,0,-1); optional mask (voxels where it is 0
// get label 0 and have no edges).
//
// Stages (all deterministic: the result does not depend on the thread count):
//  1. Steepest ascent. An edge is usable iff aff > low (edges with aff <= low are cut). Usable
//     values are clamped to `high`. Each voxel points along every usable incident edge whose
//     clamped value equals its maximum (so all edges >= high count as maximal). Voxels with no
//     usable edge point nowhere (singleton basins).
//  2. Plateau division. Corners are voxels with a pointer whose target does not point back;
//     they are queued in index order and the queue is processed breadth-first: a voxel keeps one
//     pointer, the last in direction order (-z, -y, -x, +z, +y, +x) that leads to a voxel not
//     pointing back or to an already processed voxel; unprocessed plateau neighbours are queued.
//     Plateaus without a corner (flat maxima, e.g. components of edges >= high) stay as they are.
//  3. Basins: connected components of the pointer graph, numbered
//     1..B in order of their first voxel (C order).
//  4. Region graph: for each pair of adjacent basins the maximum affinity between them; only
//     edges above min(low, weight_threshold) are kept (the others are never used).
//  5. Size-dependent single linkage, pass 1: region-graph edges in descending weight (ties:
//     ascending basin ids), merge the two sides when weight > weight_threshold and either side
//     is smaller than size_threshold voxels. Pass 2 (dust): the same with weight > low and
//     size `dust`, which attaches each fragment under `dust` voxels to its best-connected
//     neighbour. Fragments still under `dust` voxels (no edge above low) are set to 0.
//     Fragments are renumbered 1..N in order of their first voxel.
// Each stage is one function, run in order by watershed_impl (shared state: Grid, the volume and
// settings): 1. steepest_ascent, 2. divide_plateaus, 3. link_masks then label_basins,
// 4. region_graph, 5. merge_basins; write_labels writes the output (basins or fragments).
//
// Implementation: stage 1 writes a 6-bit direction mask per voxel (branch-free, float compares
// with `low`/`high` rounded to the float that gives the same answers); a second branch-free pass
// marks voxels with a mutual pointer (plateau voxels): the others keep their last direction
// without the queue (the breadth-first search is only run over plateau voxels, seeded by the
// plateau corners in index order, found 32 voxels at a time with SSE2, which gives exactly the
// order of the full queue; each searched voxel looks at its six neighbours without branches).
// Basins: a 3-bit link mask per voxel (linked to its -z / -y / -x neighbour: one of the two
// points to the other, or both are on the same flat maximum), then a two-pass labelling:
// pass 1 in C order gives a new provisional label where there is no link, else the label of the
// first linked neighbour, and joins differing linked labels in a union-find whose roots are the
// smallest labels. Pass 1 runs on z slabs in parallel; a slab numbers its labels from its first
// voxel index, so labels stay in C order of the voxel that created them, and the links into the
// previous slab are joined afterwards. A basin's smallest label is the one created at its first
// voxel, so numbering the roots in label order numbers the basins in first-voxel order; pass 2
// maps each voxel to its basin. Region graph (skipped when no merge pass runs, stats.region_edges
// is then 0): per row, a branch-free mask of the faces between two basins above keep_above, then
// one record (a < b, maximum weight) per run of faces with the same pair along x in each
// direction, per z slab in parallel; the records are bucketed by a (counting sort), each bucket
// is sorted by b and reduced to one edge per pair, which gives the edges in (a, b) order, and a
// stable LSD radix sort (3 x 11 bits) by descending weight gives the merge order with ties in
// ascending (a, b). Merging: union-find with the set size next to the parent; a byte per basin
// marks the sets that may still be under the pass's size (sizes only grow, so an edge between
// two sets at or above it never merges and is skipped without finds). The row loops of stage 1,
// the plateau marking, the link masks and the face masks have AVX2 clones (target_clones) on
// x86-64 Linux.
// Complexity: O(N) for stages 1-3 (union-find with path halving, near-linear), O(N + F) for the
// region graph (F = faces between basins) plus the bucket sorts (small buckets by insertion),
// O(E) for the radix sort and near-linear merge passes (E region-graph edges). Memory: 2 N bytes
// of direction masks and plateau state, one scratch of N + 2 indices (4 bytes, 8 when
// N >= 2^31; pages touched on use) for the plateau queue and then the union-find of the
// provisional labels; the labels themselves live in the uint64 output until it is written
// (32-bit labels in its upper half). With merging: 12 bytes per face record, 8 per bucketed
// face, 24 per edge during the sort and 9 per basin for the union-find and its flags.
// Layout: aff is C-contiguous (C >= 3, Z, Y, X) float32 (only channels 0..2 are read); mask is
// C-contiguous (Z, Y, X) uint8 or null; out is C-contiguous (Z, Y, X) uint64. Without a mask,
// stage 1 also looks for values outside [0, 1] and NaN in each row of channels 0..2 it has read
// (stats.outside_seen; NaN edges count as cut), so that the Python wrapper needs no separate pass
// over the input.
// Threading: stage 1, the plateau marking, the link masks, basin pass 1 (n_threads x 1..4 z
// slabs of >= 16 planes where possible), the writing of the output over the labels (phases that
// each write half of what is left, the last 2^16 voxels in C order) and the region-graph face
// sweep (z slabs) run on `threads` OpenMP threads (<= 0: the OpenMP default; volumes under 2^15
// voxels run on one); the plateau search, the slab joins, the numbering of the basins, the
// bucket sorts, the radix sort and the merge passes are sequential.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/simd.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#if defined(_MSC_VER)
#define PYTC_WS_RESTRICT __restrict
#else
#define PYTC_WS_RESTRICT __restrict__
#endif

namespace pytc {

struct WatershedStats {
  uint64_t basins = 0;         // watershed basins before merging
  uint64_t region_edges = 0;   // region-graph edges kept (0 when size_threshold == dust == 0)
  uint64_t fragments = 0;      // output fragments
  uint64_t dust_voxels = 0;    // voxels set to 0 by the dust rule
  bool outside_seen = false;   // an affinity of channels 0..2 is outside [0, 1] or NaN (looked for
                               // only without a mask; NaN edges count as cut)
};

namespace ws_detail {

constexpr uint8_t kVisited = 0x40;
constexpr uint8_t kPlateau = 0x80;

inline int resolve_threads(int threads) {
#if defined(_OPENMP)
  return threads > 0 ? threads : omp_get_max_threads();
#else
  (void)threads;
  return 1;
#endif
}

struct Edge {
  float weight;
  uint32_t a, b;
};

// Largest float <= x (x >= 0 finite).
inline float float_below(double x) {
  if (x > static_cast<double>(std::numeric_limits<float>::max())) return std::numeric_limits<float>::max();
  float f = static_cast<float>(x);
  if (static_cast<double>(f) > x) f = std::nextafter(f, -std::numeric_limits<float>::infinity());
  return f;
}

// Smallest float >= x (x >= 0 finite); +inf above the float range.
inline float float_above(double x) {
  if (x > static_cast<double>(std::numeric_limits<float>::max())) return std::numeric_limits<float>::infinity();
  float f = static_cast<float>(x);
  if (static_cast<double>(f) < x) f = std::nextafter(f, std::numeric_limits<float>::infinity());
  return f;
}

// Direction mask of one voxel from its six incident edge values (-1 where there is no edge).
// e > lowf is e > low and min(e, highf) keeps the order and the ties of min(e, high).
inline uint8_t ascent_bits(float e0, float e1, float e2, float e3, float e4, float e5, float lowf, float highf) {
  auto c = [lowf, highf](float e) { return e > lowf ? std::min(e, highf) : -1.0f; };
  e0 = c(e0), e1 = c(e1), e2 = c(e2), e3 = c(e3), e4 = c(e4), e5 = c(e5);
  const float m = std::max(std::max(std::max(e0, e1), std::max(e2, e3)), std::max(e4, e5));
  const uint8_t bits = static_cast<uint8_t>((e0 == m) | (e1 == m) << 1 | (e2 == m) << 2 | (e3 == m) << 3 |
                                            (e4 == m) << 4 | (e5 == m) << 5);
  return m >= 0.0f ? bits : uint8_t{0};
}

// The row loops (stage 1, plateau marking, link masks, face masks) are compiled twice on x86-64
// Linux with GCC or clang (AVX2 and baseline) and the best version is picked when the library
// loads.
#define PYTC_WS_TARGET_CLONES PYTC_SIMD_CLONES  // core/simd.hpp

// Stage 1 for one row without a mask: zm/ym/zp/yp are the -z/-y/+z/+y edges of each voxel (a row
// of -1 at the volume border), ax the row's -x edges (ax[x + 1] is the +x edge of x).
template <typename Dummy = void>
PYTC_WS_TARGET_CLONES void ascent_row(const float* PYTC_WS_RESTRICT zm, const float* PYTC_WS_RESTRICT ym,
                                      const float* PYTC_WS_RESTRICT ax, const float* PYTC_WS_RESTRICT zp,
                                      const float* PYTC_WS_RESTRICT yp, int64_t X, float lowf, float highf,
                                      uint8_t* PYTC_WS_RESTRICT s) {
  if (X == 1) {
    s[0] = ascent_bits(zm[0], ym[0], -1.0f, zp[0], yp[0], -1.0f, lowf, highf);
    return;
  }
  s[0] = ascent_bits(zm[0], ym[0], -1.0f, zp[0], yp[0], ax[1], lowf, highf);
  for (int64_t x = 1; x + 1 < X; ++x) {
    s[x] = ascent_bits(zm[x], ym[x], ax[x], zp[x], yp[x], ax[x + 1], lowf, highf);
  }
  s[X - 1] = ascent_bits(zm[X - 1], ym[X - 1], ax[X - 1], zp[X - 1], yp[X - 1], -1.0f, lowf, highf);
}

// Whether one of the X values of a row of each of the three channels is outside [0, 1] or NaN (NaN
// fails both ordered compares).
template <typename Dummy = void>
PYTC_WS_TARGET_CLONES unsigned outside_row(const float* PYTC_WS_RESTRICT a, const float* PYTC_WS_RESTRICT b,
                                       const float* PYTC_WS_RESTRICT c, int64_t X) {
  unsigned any = 0;
  for (int64_t x = 0; x < X; ++x) {
    any |= static_cast<unsigned>(!(a[x] >= 0.0f)) | !(a[x] <= 1.0f) | !(b[x] >= 0.0f) | !(b[x] <= 1.0f) |
           !(c[x] >= 0.0f) | !(c[x] <= 1.0f);
  }
  return any;
}

// Plateau marking of one row (s: its direction masks, t: its state): a voxel without a mutual
// pointer keeps its last direction, one with a mutual pointer keeps its directions and is marked
// kPlateau, and kVisited too when it also has a non-mutual pointer (a plateau corner).
template <typename Dummy = void>
PYTC_WS_TARGET_CLONES void mark_row(const uint8_t* PYTC_WS_RESTRICT s, int64_t sz, int64_t sy, int64_t X,
                                    uint8_t* PYTC_WS_RESTRICT t) {
  for (int64_t x = 0; x < X; ++x) {
    const uint8_t b = s[x];
    const uint8_t back = static_cast<uint8_t>((s[x - sz] >> 3 & 1) | (s[x - sy] >> 4 & 1) << 1 |
                                              (s[x - 1] >> 5 & 1) << 2 | (s[x + sz] & 1) << 3 |
                                              (s[x + sy] >> 1 & 1) << 4 | (s[x + 1] >> 2 & 1) << 5);
    const uint8_t mutual = b & back;
    uint8_t h = static_cast<uint8_t>(b | b >> 1);
    h = static_cast<uint8_t>(h | h >> 2);
    h = static_cast<uint8_t>(h | h >> 4);
    const uint8_t last = static_cast<uint8_t>(h ^ (h >> 1));  // highest set bit of b
    const uint8_t on_plateau = static_cast<uint8_t>(-static_cast<int>(mutual != 0));
    const uint8_t corner = static_cast<uint8_t>(-static_cast<int>((b & ~mutual) != 0)) & kVisited;
    t[x] = static_cast<uint8_t>((on_plateau & (b | kPlateau | corner)) | (~on_plateau & last));
  }
}

// Link masks of one row (st: its plateau-divided state): bit d set when the voxel is linked to
// its backward neighbour d (-z, -y, -x): one of the two points to the other, or both are on the
// same flat maximum.
template <typename Dummy = void>
PYTC_WS_TARGET_CLONES void link_row(const uint8_t* PYTC_WS_RESTRICT st, int64_t sz, int64_t sy, int64_t X,
                                    uint8_t* PYTC_WS_RESTRICT lk) {
  for (int64_t x = 0; x < X; ++x) {
    lk[x] = static_cast<uint8_t>((st[x] & 7u) | (st[x - sz] >> 3 & 1u) | (st[x - sy] >> 3 & 2u) |
                                 (st[x - 1] >> 3 & 4u));
  }
}

// Region-graph faces of one row: bit d of m[x] set when voxel x and its backward neighbour d
// (lz, ly: the labels of the -z / -y neighbours, l itself at the border; -x: l[x - 1]) are in
// different basins, neither 0, and the face weight is above keepf.
template <typename I>
PYTC_WS_TARGET_CLONES void face_row(const I* PYTC_WS_RESTRICT l, const I* PYTC_WS_RESTRICT lz,
                                    const I* PYTC_WS_RESTRICT ly, const float* PYTC_WS_RESTRICT wz,
                                    const float* PYTC_WS_RESTRICT wy, const float* PYTC_WS_RESTRICT wx, int64_t X,
                                    float keepf, uint8_t* PYTC_WS_RESTRICT m) {
  {
    const I a = l[0];
    const unsigned bits = (lz[0] != a && lz[0] != 0 && wz[0] > keepf) | (ly[0] != a && ly[0] != 0 && wy[0] > keepf) << 1;
    m[0] = static_cast<uint8_t>(a != 0 ? bits : 0u);
  }
  for (int64_t x = 1; x < X; ++x) {  // branch-free, so that it vectorizes
    const I a = l[x];
    const uint32_t cz = (lz[x] != a) & (lz[x] != 0) & (wz[x] > keepf);
    const uint32_t cy = (ly[x] != a) & (ly[x] != 0) & (wy[x] > keepf);
    const uint32_t cx = (l[x - 1] != a) & (l[x - 1] != 0) & (wx[x] > keepf);
    m[x] = static_cast<uint8_t>((cz | cy << 1 | cx << 2) & -static_cast<uint32_t>(a != 0));
  }
}

// Index of the single bit set in b (b < 64, one bit).
inline int bit_index(uint8_t b) {
#if defined(__GNUC__) || defined(__clang__)
  return __builtin_ctz(b);
#else
  int i = 0;
  while (!(b >> i & 1)) ++i;
  return i;
#endif
}

// Number of set bits of b.
inline int popcount32(uint32_t b) {
#if defined(__GNUC__) || defined(__clang__)
  return __builtin_popcount(b);
#else
  int n = 0;
  for (; b; b &= b - 1) ++n;
  return n;
#endif
}

// Index of the lowest set bit of b (b != 0).
inline int bit_index64(uint64_t b) {
#if defined(__GNUC__) || defined(__clang__)
  return __builtin_ctzll(b);
#else
  int i = 0;
  while (!(b >> i & 1)) ++i;
  return i;
#endif
}

// Stages 1-5 with voxel indices of type I in the plateau queue (uint32_t when N < 2^31, else
// uint64_t).
template <typename I>
inline void watershed_impl(const float* aff, const int64_t shape[3], const uint8_t* mask, double low, double high,
                           uint64_t size_threshold, double weight_threshold, uint64_t dust, uint64_t* out,
                           int n_threads, WatershedStats& stats);

}  // namespace ws_detail

// Fills out (Z*Y*X uint64) with fragment ids 1..N, 0 for masked voxels and removed dust.
inline WatershedStats watershed(const float* aff, const int64_t shape[3], const uint8_t* mask, double low,
                                double high, uint64_t size_threshold, double weight_threshold, uint64_t dust,
                                uint64_t* out, int threads) {
  for (int d = 0; d < 3; ++d) {
    if (shape[d] < 0) {
      throw std::invalid_argument("watershed: shape[" + std::to_string(d) + "] must be >= 0; got " +
                                  std::to_string(shape[d]));
    }
  }
  if (!(low >= 0.0) || !(high >= low) || !std::isfinite(high)) {
    throw std::invalid_argument("watershed: thresholds must satisfy 0 <= low <= high (finite); got low=" +
                                std::to_string(low) + ", high=" + std::to_string(high));
  }
  if (!(weight_threshold >= 0.0)) {
    throw std::invalid_argument("watershed: weight_threshold must be >= 0; got " +
                                std::to_string(weight_threshold));
  }
  WatershedStats stats;
  const int64_t N = shape[0] * shape[1] * shape[2];
  if (N == 0) return stats;
  const int n_threads = ws_detail::resolve_threads(threads);
  if (N < (int64_t{1} << 31)) {
    ws_detail::watershed_impl<uint32_t>(aff, shape, mask, low, high, size_threshold, weight_threshold, dust, out,
                                        n_threads, stats);
  } else {
    ws_detail::watershed_impl<uint64_t>(aff, shape, mask, low, high, size_threshold, weight_threshold, dust, out,
                                        n_threads, stats);
  }
  return stats;
}

namespace ws_detail {

// The volume and the settings that every stage reads.
struct Grid {
  int64_t Z, Y, X, N;
  int64_t sz, sy;                 // strides of z and y (x: 1)
  int64_t step[6];                // voxel offsets of the directions -z, -y, -x, +z, +y, +x
  const float* aff_z;             // channel 0 (edges to -z), then -y, -x
  const float* aff_y;
  const float* aff_x;
  const uint8_t* mask;            // or null
  int n_threads;
  bool parallel;                  // whether the parallel loops run on n_threads (N >= 2^15)
};

inline Grid make_grid(const float* aff, const int64_t shape[3], const uint8_t* mask, int n_threads) {
  Grid g;
  g.Z = shape[0], g.Y = shape[1], g.X = shape[2];
  g.N = g.Z * g.Y * g.X;
  g.sz = g.Y * g.X, g.sy = g.X;
  const int64_t step[6] = {-g.sz, -g.sy, -1, g.sz, g.sy, 1};
  std::copy(step, step + 6, g.step);
  g.aff_z = aff;
  g.aff_y = aff + g.N;
  g.aff_x = aff + 2 * g.N;
  g.mask = mask;
  g.n_threads = n_threads;
  g.parallel = g.N >= (int64_t{1} << 15);
  return g;
}

// A byte per voxel padded by sz + 1 zero bytes on both sides, so that neighbour reads never
// leave the buffer; at() is voxel 0.
struct PaddedBytes {
  explicit PaddedBytes(const Grid& g)
      : pad(g.sz + 1), buffer(new uint8_t[static_cast<size_t>(g.N + 2 * pad)]) {
    std::memset(buffer.get(), 0, static_cast<size_t>(pad));
    std::memset(buffer.get() + pad + g.N, 0, static_cast<size_t>(pad));
  }
  uint8_t* at() const { return buffer.get() + pad; }
  void reset() { buffer.reset(); }

  int64_t pad;
  std::unique_ptr<uint8_t[]> buffer;
};

// Stage 1, steepest ascent: bit d of sag[v] set when v points along direction d. Returns whether
// an affinity of channels 0..2 is outside [0, 1] or NaN (looked for only without a mask, in each
// row while it is in the cache).
inline bool steepest_ascent(const Grid& g, float lowf, float highf, uint8_t* sag) {
  const int64_t Z = g.Z, Y = g.Y, X = g.X, sz = g.sz, sy = g.sy;
  const float* aff_z = g.aff_z;
  const float* aff_y = g.aff_y;
  const float* aff_x = g.aff_x;
  const uint8_t* mask = g.mask;
  const std::vector<float> none(static_cast<size_t>(X) + 1, -1.0f);
  unsigned outside_any = 0;
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 64) num_threads(g.n_threads) if (g.parallel) reduction(| : outside_any)
#endif
  for (int64_t r = 0; r < Z * Y; ++r) {
    const int64_t z = r / Y, y = r % Y, base = r * X;
    uint8_t* PYTC_WS_RESTRICT s = sag + base;
    if (mask == nullptr) {
      const float* PYTC_WS_RESTRICT zm = z > 0 ? aff_z + base : none.data();
      const float* PYTC_WS_RESTRICT zp = z + 1 < Z ? aff_z + base + sz : none.data();
      const float* PYTC_WS_RESTRICT ym = y > 0 ? aff_y + base : none.data();
      const float* PYTC_WS_RESTRICT yp = y + 1 < Y ? aff_y + base + sy : none.data();
      const float* PYTC_WS_RESTRICT ax = aff_x + base;
      ascent_row(zm, ym, ax, zp, yp, X, lowf, highf, s);
      outside_any |= outside_row(aff_z + base, aff_y + base, ax, X);
    } else {
      for (int64_t x = 0; x < X; ++x) {
        const int64_t v = base + x;
        if (!mask[v]) {
          s[x] = 0;
          continue;
        }
        s[x] = ascent_bits((z > 0 && mask[v - sz]) ? aff_z[v] : -1.0f, (y > 0 && mask[v - sy]) ? aff_y[v] : -1.0f,
                           (x > 0 && mask[v - 1]) ? aff_x[v] : -1.0f,
                           (z + 1 < Z && mask[v + sz]) ? aff_z[v + sz] : -1.0f,
                           (y + 1 < Y && mask[v + sy]) ? aff_y[v + sy] : -1.0f,
                           (x + 1 < X && mask[v + 1]) ? aff_x[v + 1] : -1.0f, lowf, highf);
      }
    }
  }
  return outside_any != 0;
}

// Stage 2, plateau division, from the direction masks sag into state (both padded). Voxels
// without a mutual pointer keep their last direction (what the queue would give them); plateau
// voxels (with a mutual pointer) are marked, plateau corners (also with a non-mutual pointer)
// additionally as visited, and searched breadth-first. queue: scratch of N indices.
template <typename I>
inline void divide_plateaus(const Grid& g, const uint8_t* sag, uint8_t* state, I* queue) {
  const int64_t N = g.N, X = g.X, sz = g.sz, sy = g.sy;
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 64) num_threads(g.n_threads) if (g.parallel)
#endif
  for (int64_t r = 0; r < g.Z * g.Y; ++r) {
    mark_row(sag + r * X, sz, sy, X, state + r * X);
  }
  // queue of plateau voxels (each is queued once): the corners in index order, found 32 voxels
  // at a time with SSE2 (the first 8 of a block stored without branches), else 8 at a time
  // (bit 7 of a byte of `hit`: plateau and visited), then the breadth-first search
  size_t tail = 0;
  int64_t v = 0;
#if defined(__SSE2__)
  {
    const __m128i both = _mm_set1_epi8(static_cast<char>(kPlateau | kVisited));
    for (; v + 32 <= N; v += 32) {
      const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state + v));
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state + v + 16));
      const uint32_t ma = static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(a, both), both)));
      const uint32_t mb = static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(b, both), both)));
      if ((ma | mb) == 0) continue;  // plateau-free blocks are common in most volumes
      uint64_t m = ma | mb << 16 | uint64_t{0xff} << 32;  // stops: the first 8 pops never see 0
      const int count = popcount32(static_cast<uint32_t>(m));
      I* const q = queue + tail;  // tail <= v, so q[0..7] lie in the queue
      for (int j = 0; j < 8; ++j) {
        q[j] = static_cast<I>(v + bit_index64(m));
        m &= m - 1;
      }
      for (int j = 8; j < count; ++j) {
        q[j] = static_cast<I>(v + bit_index64(m));
        m &= m - 1;
      }
      tail += static_cast<size_t>(count);
    }
  }
#endif
  for (; v + 8 <= N; v += 8) {
    uint64_t word;
    std::memcpy(&word, state + v, 8);
    uint64_t hit = word & word << 1 & 0x8080808080808080ull;
    while (hit) {
      queue[tail++] = static_cast<I>(v + (bit_index64(hit) >> 3));
      hit &= hit - 1;
    }
  }
  for (; v < N; ++v) {
    if ((state[v] & (kPlateau | kVisited)) == (kPlateau | kVisited)) queue[tail++] = static_cast<I>(v);
  }
  uint8_t* st = state;
  const int64_t* const step = g.step;
  constexpr int opposite[6] = {3, 4, 5, 0, 1, 2};
  for (size_t head = 0; head < tail; ++head) {  // the six neighbours read without branches
    const int64_t v = static_cast<int64_t>(queue[head]);
    const unsigned bits = st[v] & 0x3fu;
    unsigned keep = 0, fresh = 0;
    for (int d = 0; d < 6; ++d) {
      const unsigned su = st[v + step[d]];
      const unsigned has = bits >> d & 1u;
      const unsigned back = su >> opposite[d] & has;
      fresh |= (back & ~(su >> 6)) << d;  // points back, not yet queued: queue it
      keep = (has & ~back) ? (1u << d) : keep;
    }
    while (fresh) {  // few voxels queue others (most plateau voxels are corners)
      const int64_t u = v + step[bit_index64(fresh)];
      fresh &= fresh - 1;
      st[u] = static_cast<uint8_t>(st[u] | kVisited);
      queue[tail++] = static_cast<I>(u);
    }
    st[v] = static_cast<uint8_t>(keep);
  }
}

// Stage 3, first half: link masks (bit d: linked to the backward neighbour d) from the
// plateau-divided state into lk.
inline void link_masks(const Grid& g, const uint8_t* state, uint8_t* lk_out) {
  uint8_t* PYTC_WS_RESTRICT lk = lk_out;
  const uint8_t* PYTC_WS_RESTRICT st = state;
  const int64_t X = g.X, sz = g.sz, sy = g.sy;
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 64) num_threads(g.n_threads) if (g.parallel)
#endif
  for (int64_t r = 0; r < g.Z * g.Y; ++r) link_row(st + r * X, sz, sy, X, lk + r * X);
}

// Stage 3, second half: connected components of the link masks lk. lab gets each voxel's
// provisional label and rt (scratch of N + 2 indices) maps each provisional label to its basin
// id 1..B (0: masked voxels); returns B. Pass 1 runs on slabs of z planes in parallel: a slab
// starting at voxel s numbers its labels from s + 1 (labels stay in C order of their first voxel)
// and leaves its links to the plane before it for a sequential join afterwards. Slabs are a
// multiple of the threads, up to 4 per thread (a descheduled thread then holds back less) while
// they keep >= 16 planes (the join of a slab's first plane costs about as much as labelling a
// plane).
template <typename I>
inline uint64_t label_basins(const Grid& g, const uint8_t* lk_in, I* lab, I* rt_out) {
  const int64_t Z = g.Z, sz = g.sz, sy = g.sy;
  const uint8_t* mask = g.mask;
  int64_t n_slabs = 1;
#if defined(_OPENMP)
  if (g.parallel && g.n_threads > 1) {
    const int64_t per_thread = std::max<int64_t>(1, std::min<int64_t>(4, Z / (16 * int64_t{g.n_threads})));
    n_slabs = std::min<int64_t>(Z, per_thread * g.n_threads);
  }
#endif
  std::vector<I> slab_next(static_cast<size_t>(n_slabs));
  auto slab_begin = [&](int64_t t) { return (Z * t / n_slabs) * sz; };  // first voxel of slab t
  const uint8_t* PYTC_WS_RESTRICT lk = lk_in;
  I* PYTC_WS_RESTRICT lb = lab;
  I* PYTC_WS_RESTRICT rt = rt_out;  // provisional label -> parent (label 0: masked voxels)
  rt[0] = 0;
  auto find = [rt](I x) {
    while (rt[x] != x) {
      rt[x] = rt[rt[x]];
      x = rt[x];
    }
    return x;
  };
  const int64_t* const step = g.step;
  // lowest set bit of a 3-bit link mask -> the offset of that backward neighbour (none: v
  // itself, whose value is then replaced)
  const int64_t first_step[8] = {0, -sz, -sy, -sz, -1, -sz, -sy, -sz};
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 1) num_threads(g.n_threads) if (n_slabs > 1)
#endif
  for (int64_t t = 0; t < n_slabs; ++t) {
    const int64_t begin = slab_begin(t), end = slab_begin(t + 1);
    I next = static_cast<I>(begin + 1);
    auto label = [&](int64_t v, unsigned link) {
      const I fresh = (mask != nullptr && !mask[v]) ? I{0} : next;
      rt[next] = next;
      next += static_cast<I>(link == 0 && fresh != 0);
      lb[v] = fresh;  // read back below when link == 0
      I l = lb[v + first_step[link]];
      const I lz = (link & 1) ? lb[v - sz] : l, ly = (link & 2) ? lb[v - sy] : l, lx = (link & 4) ? lb[v - 1] : l;
      if ((lz ^ l) | (ly ^ l) | (lx ^ l)) {  // links to different labels: join them
        l = find(l);
        for (int d = 0; d < 3; ++d) {
          if (!(link >> d & 1)) continue;
          const I m = find(lb[v + step[d]]);
          if (m < l) {
            rt[l] = m;
            l = m;
          } else if (l < m) {
            rt[m] = l;
          }
        }
      }
      lb[v] = l;
    };
    const int64_t own = t > 0 ? std::min(end, begin + sz) : begin;  // links to slab t - 1 left out
    for (int64_t v = begin; v < own; ++v) label(v, lk[v] & 6u);
    for (int64_t v = own; v < end; ++v) label(v, lk[v]);
    slab_next[static_cast<size_t>(t)] = next;
  }
  for (int64_t t = 1; t < n_slabs; ++t) {  // join across slab borders
    const int64_t begin = slab_begin(t);
    for (int64_t v = begin; v < std::min(slab_begin(t + 1), begin + sz); ++v) {
      if (!(lk[v] & 1)) continue;
      const I a = find(lb[v]), b = find(lb[v - sz]);
      if (a < b) {
        rt[b] = a;
      } else if (b < a) {
        rt[a] = b;
      }
    }
  }
  // final ids, in place: roots numbered 1..B in label order (root[l] <= l is done before l)
  I n = 0;
  for (int64_t t = 0; t < n_slabs; ++t) {
    const I last = slab_next[static_cast<size_t>(t)];
    for (I l = static_cast<I>(slab_begin(t) + 1); l < last; ++l) {
      const I r = rt[l], up = rt[r];  // without branches: roots and the others interleave
      n += static_cast<I>(r == l);
      rt[l] = r == l ? n : up;
    }
  }
  return n;
}

// Writes out[v] = map(lab[v]) for all voxels, where lab lives in out itself (the 32-bit labels in
// its upper half: out[v] covers the labels 2v - N and 2v - N + 1, below v). With threads the
// voxels [a, (N + a) / 2) are written in parallel once all below a are (their writes only cover
// labels below a), halving what is left each time; the rest in C order, reading the labels in
// blocks through a local copy.
template <typename I, typename Map>
inline void write_labels(const Grid& g, const I* lab, uint64_t* out, Map&& map) {
  const int64_t N = g.N;
  if (sizeof(I) == 8) {
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 16384) num_threads(g.n_threads) if (g.parallel)
#endif
    for (int64_t v = 0; v < N; ++v) out[v] = static_cast<uint64_t>(map(lab[v]));
    return;
  }
  int64_t first = 0;
#if defined(_OPENMP)
  if (g.parallel && g.n_threads > 1) {
    while (N - first >= (int64_t{1} << 16)) {
      const int64_t a = first, b = (N + a) / 2;
#pragma omp parallel for schedule(static) num_threads(g.n_threads)
      for (int64_t v = a; v < b; ++v) out[v] = static_cast<uint64_t>(map(lab[v]));
      first = b;
    }
  }
#endif
  constexpr int64_t kBlock = 2048;
  I block[kBlock];
  for (int64_t v0 = first; v0 < N; v0 += kBlock) {
    const int64_t n = std::min(kBlock, N - v0);
    std::memcpy(block, lab + v0, static_cast<size_t>(n) * sizeof(I));
    for (int64_t i = 0; i < n; ++i) out[v0 + i] = static_cast<uint64_t>(map(block[i]));
  }
}

// Stage 4, region graph: the maximum face weight per basin pair (basin ids in lab), for faces
// above keepf, in merge order (descending weight, ties in ascending (a, b)). The faces are
// bucketed by their smaller basin id (counted in a first sweep, stored in a second; a face with
// the same pair as the previous one in its direction only raises that entry's weight), each
// bucket is sorted by the other id and reduced to one edge per pair, which gives the edges in
// (a, b) order; a stable radix sort by descending weight then gives the merge order.
template <typename I>
inline std::vector<Edge> region_graph(const Grid& g, const I* lab, uint64_t n_basins, float keepf) {
  const int64_t Z = g.Z, Y = g.Y, X = g.X, sz = g.sz, sy = g.sy;
  const float* aff_z = g.aff_z;
  const float* aff_y = g.aff_y;
  const float* aff_x = g.aff_x;
  std::vector<Edge> edges;
  const I* PYTC_WS_RESTRICT lb = lab;
  struct Face {
    uint32_t b;
    float weight;
  };
  // one sweep over the rows, in slabs of z (one record list per slab, filled in parallel):
  // records (a < b, weight) of the faces, a face with the pair of the previous face of its
  // direction in the row only raising that record's weight
  struct Record {
    uint32_t a, b;
    float weight;
  };
  std::vector<std::vector<Record>> slabs(static_cast<size_t>(Z));
#if defined(_OPENMP)
#pragma omp parallel num_threads(g.n_threads) if (g.parallel)
#endif
  {
    std::vector<uint8_t> row_faces(static_cast<size_t>(X) + 8, 0);
    uint8_t* const m = row_faces.data();
#if defined(_OPENMP)
#pragma omp for schedule(dynamic, 1)
#endif
    for (int64_t z = 0; z < Z; ++z) {
      std::vector<Record>& rec = slabs[static_cast<size_t>(z)];
      for (int64_t y = 0; y < Y; ++y) {
        const int64_t base = (z * Y + y) * X;
        const float* PYTC_WS_RESTRICT w[3] = {aff_z + base, aff_y + base, aff_x + base};
        const I* PYTC_WS_RESTRICT l = lb + base;
        face_row(l, z > 0 ? l - sz : l, y > 0 ? l - sy : l, w[0], w[1], w[2], X, keepf, m);
        const int64_t back[3] = {-sz, -sy, -1};
        for (int d = 0; d < 3; ++d) {  // one direction at a time, in x order
          uint64_t last = 0;
          size_t at = 0;
          const uint64_t bit = 0x0101010101010101ull << d;
          for (int64_t x0 = 0; x0 < X; x0 += 8) {
            uint64_t word;
            std::memcpy(&word, m + x0, 8);  // m is padded with zeros
            word &= bit;
            while (word) {
              const int64_t x = x0 + (bit_index64(word) >> 3);
              word &= word - 1;
              const uint32_t a = static_cast<uint32_t>(l[x]), b = static_cast<uint32_t>(l[x + back[d]]);
              const uint32_t lo = std::min(a, b), hi = std::max(a, b);
              const uint64_t key = uint64_t{lo} << 32 | hi;
              const float wt = w[d][x];
              if (key == last) {
                rec[at].weight = std::max(rec[at].weight, wt);
              } else {
                last = key;
                at = rec.size();
                rec.push_back(Record{lo, hi, wt});
              }
            }
          }
        }
      }
    }
  }
  // records bucketed by a (counting sort)
  std::vector<uint64_t> start(n_basins + 2, 0);
  for (const auto& rec : slabs) {
    for (const Record& r : rec) ++start[r.a + 1];
  }
  for (uint64_t b = 1; b < start.size(); ++b) start[b] += start[b - 1];
  std::unique_ptr<Face[]> faces(new Face[static_cast<size_t>(start.back())]);
  {
    std::vector<uint64_t> fill(start.begin(), start.end() - 1);
    Face* PYTC_WS_RESTRICT f = faces.get();
    for (auto& rec : slabs) {
      for (const Record& r : rec) f[fill[r.a]++] = Face{r.b, r.weight};
      std::vector<Record>().swap(rec);
    }
  }
  // the weight keys ~bits(w) order like descending weights (weights > 0); their three 11-bit
  // digits are counted while the buckets are compacted
  auto key = [](float w) {
    uint32_t bits;
    std::memcpy(&bits, &w, 4);
    return ~bits;
  };
  constexpr unsigned kDigits = 2048;
  std::vector<uint64_t> hist(3 * kDigits, 0);
  uint64_t o = 0;  // buckets compacted in place: bucket a becomes [start[a], start[a + 1])
  Face* const f = faces.get();
  for (uint64_t a = 1; a <= n_basins; ++a) {  // sort each bucket by b, keep the maximum per b
    Face* const begin = f + start[a];
    Face* const end = f + start[a + 1];
    if (end - begin > 32) {
      std::sort(begin, end, [](const Face& p, const Face& q) { return p.b < q.b; });
    } else {
      for (Face* p = begin + 1; p < end; ++p) {
        const Face x = *p;
        Face* q = p;
        for (; q > begin && q[-1].b > x.b; --q) *q = q[-1];
        *q = x;
      }
    }
    const uint64_t first = o;
    for (Face* p = begin; p < end; ++p) {
      if (o > first && f[o - 1].b == p->b) {
        f[o - 1].weight = std::max(f[o - 1].weight, p->weight);
      } else {
        f[o++] = *p;
      }
    }
    for (uint64_t i = first; i < o; ++i) {
      const uint32_t k = key(f[i].weight);
      ++hist[k & 2047u];
      ++hist[kDigits + (k >> 11 & 2047u)];
      ++hist[2 * kDigits + (k >> 22)];
    }
    start[a] = first;
  }
  start[n_basins + 1] = o;
  // stable LSD radix sort by descending weight of the edges in (a, b) order: the first pass
  // reads the buckets, digits that are the same for all edges are skipped after it
  bool single[3] = {false, false, false};  // one digit value for all edges
  for (int p = 0; p < 3; ++p) {
    uint64_t sum = 0;
    for (unsigned d = 0; d < kDigits; ++d) {
      const uint64_t c = hist[p * kDigits + d];
      single[p] = single[p] || c == o;
      hist[p * kDigits + d] = sum;
      sum += c;
    }
  }
  edges.resize(static_cast<size_t>(o));
  {
    uint64_t* h = hist.data();
    Edge* PYTC_WS_RESTRICT dst = edges.data();
    for (uint64_t a = 1; a <= n_basins; ++a) {
      for (uint64_t i = start[a]; i < start[a + 1]; ++i) {
        dst[h[key(f[i].weight) & 2047u]++] = Edge{f[i].weight, static_cast<uint32_t>(a), f[i].b};
      }
    }
  }
  faces.reset();
  std::vector<Edge> other;
  for (int p = 1; p < 3; ++p) {
    uint64_t* h = hist.data() + p * kDigits;
    const int shift = 11 * p;
    if (single[p]) continue;
    if (other.empty()) other.resize(static_cast<size_t>(o));
    const Edge* PYTC_WS_RESTRICT src = edges.data();
    Edge* PYTC_WS_RESTRICT dst = other.data();
    for (uint64_t i = 0; i < o; ++i) dst[h[key(src[i].weight) >> shift & 2047u]++] = src[i];
    edges.swap(other);
  }
  return edges;
}

// Stage 5, size-dependent single linkage, then dust, over the edges in merge order; size: the
// voxels of each basin (freed here). Returns basin -> fragment id 1..N in order of first voxel,
// 0 for dust; sets stats.fragments and stats.dust_voxels. Union-find with the size next to the
// parent (one cache line per lookup); sizes only grow, so an edge between two sets that are
// already at min_size never merges: a byte per basin marks the ones whose set may still be small.
template <typename I>
inline std::vector<uint64_t> merge_basins(const std::vector<Edge>& edges, std::vector<uint64_t>& size,
                                          uint64_t n_basins, uint64_t size_threshold, double weight_threshold,
                                          uint64_t dust, double low, WatershedStats& stats) {
  struct Node {
    I parent, size;
  };
  std::vector<Node> node(n_basins + 1);
  for (uint64_t b = 0; b <= n_basins; ++b) node[b] = Node{static_cast<I>(b), static_cast<I>(size[b])};
  size.clear();
  size.shrink_to_fit();
  auto find_root = [&node](I x) {
    while (node[x].parent != x) {
      node[x].parent = node[node[x].parent].parent;
      x = node[x].parent;
    }
    return x;
  };
  std::vector<uint8_t> small(n_basins + 1);
  auto merge_pass = [&](uint64_t min_size, double above) {
    if (min_size == 0) return;
    for (uint64_t b = 1; b <= n_basins; ++b) small[b] = node[find_root(static_cast<I>(b))].size < min_size;
    const float abovef = float_below(above);  // w > abovef iff w > above
    for (const Edge& e : edges) {
      if (!(e.weight > abovef)) break;
      if (!(small[e.a] | small[e.b])) continue;
      const I a = find_root(static_cast<I>(e.a)), b = find_root(static_cast<I>(e.b));
      if (a == b) continue;
      const bool big_a = node[a].size >= min_size, big_b = node[b].size >= min_size;
      if (big_a && big_b) {
        small[e.a] = 0;
        small[e.b] = 0;
        continue;
      }
      const I root = std::min(a, b), child = std::max(a, b);
      node[child].parent = root;
      node[root].size += node[child].size;
    }
  };
  merge_pass(size_threshold, weight_threshold);
  // After pass 1 every edge above weight_threshold joins two sets of at least size_threshold
  // voxels (or lies inside one set), so with dust <= size_threshold and low >= weight_threshold
  // the dust pass cannot merge anything and is skipped.
  if (!(dust <= size_threshold && low >= weight_threshold)) merge_pass(dust, low);
  std::vector<uint64_t> relabel(n_basins + 1, 0);
  uint64_t n_fragments = 0;
  for (uint64_t b = 1; b <= n_basins; ++b) {
    const uint64_t r = find_root(static_cast<I>(b));  // r <= b: roots are the smallest basin id of a set
    if (node[r].size < dust) {
      relabel[b] = 0;
      if (r == b) stats.dust_voxels += node[r].size;
    } else {
      relabel[b] = r == b ? ++n_fragments : relabel[r];
    }
  }
  stats.fragments = n_fragments;
  return relabel;
}

template <typename I>
inline void watershed_impl(const float* aff, const int64_t shape[3], const uint8_t* mask, double low, double high,
                           uint64_t size_threshold, double weight_threshold, uint64_t dust, uint64_t* out,
                           int n_threads, WatershedStats& stats) {
  const Grid g = make_grid(aff, shape, mask, n_threads);
  const int64_t N = g.N;

  // 1. steepest ascent, into direction masks
  PaddedBytes sag(g);
  stats.outside_seen = steepest_ascent(g, float_below(low), float_above(high), sag.at());

  // 2. plateau division, into the plateau state. work: scratch of N + 2 indices, the plateau
  // queue, then the union-find of the provisional labels
  PaddedBytes state(g);  // reads before voxel 0 give "no pointer"
  std::unique_ptr<I[]> work(new I[static_cast<size_t>(N) + 2]);
  divide_plateaus(g, sag.at(), state.at(), work.get());

  // 3. basins: connected components of the pointer graph (and of the flat maxima) by a
  // two-pass labelling in C order. Pass 1 gives each voxel a provisional label: a new one when
  // it is linked to none of its backward neighbours (-z, -y, -x; linked: one points to the
  // other, or both are on the same flat maximum), else the label of the first linked one, and
  // the labels of further linked ones are joined (union-find, the smaller label is the root).
  // A component's smallest label is the one created at its first voxel, so numbering the roots
  // in label order numbers the basins in order of their first voxel. The link masks go into the
  // direction-mask buffer; the labels live in the output buffer (32-bit labels in its upper
  // half) until the output is written (write_labels).
  link_masks(g, state.at(), sag.at());
  state.reset();
  I* const lab = reinterpret_cast<I*>(out) + (sizeof(I) == 4 ? N : 0);
  const uint64_t n_basins = label_basins(g, sag.at(), lab, work.get());
  const I* const basin_of = work.get();
  std::vector<uint64_t> size;  // voxels per basin, when a merge pass runs
  if (size_threshold != 0 || dust != 0) {
    size.assign(n_basins + 1, 0);
    I* PYTC_WS_RESTRICT lb = lab;
    const I* PYTC_WS_RESTRICT bo = basin_of;
    for (int64_t v = 0; v < N; ++v) {
      const I b = bo[lb[v]];
      lb[v] = b;
      ++size[b];
    }
  } else {
    write_labels(g, lab, out, [basin_of](I l) { return basin_of[l]; });
  }
  work.reset();
  stats.basins = n_basins;
  if (size_threshold == 0 && dust == 0) {
    stats.fragments = n_basins;
    return;
  }
  if (n_basins >= (uint64_t{1} << 32)) {
    throw std::invalid_argument("watershed: more than 2^32 - 1 basins are not supported; got " +
                                std::to_string(n_basins));
  }

  // 4. region graph, for faces above keep_above (w > keepf iff w > keep_above)
  const std::vector<Edge> edges = region_graph(g, lab, n_basins, float_below(std::min(low, weight_threshold)));
  stats.region_edges = edges.size();

  // 5. size-dependent single linkage, then dust
  const std::vector<uint64_t> relabel =
      merge_basins<I>(edges, size, n_basins, size_threshold, weight_threshold, dust, low, stats);
  write_labels(g, lab, out, [&relabel](I b) { return relabel[b]; });
}

}  // namespace ws_detail

}  // namespace pytc
