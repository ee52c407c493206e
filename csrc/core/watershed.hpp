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
//  3. Basins: connected components of the pointer graph (union-find over voxels), numbered
//     1..B in order of their first voxel (C order).
//  4. Region graph: for each pair of adjacent basins the maximum affinity between them; only
//     edges above min(low, weight_threshold) are kept (the others are never used).
//  5. Size-dependent single linkage, pass 1: region-graph edges in descending weight (ties:
//     ascending basin ids), merge the two sides when weight > weight_threshold and either side
//     is smaller than size_threshold voxels. Pass 2 (dust): the same with weight > low and
//     size `dust`, which attaches each fragment under `dust` voxels to its best-connected
//     neighbour. Fragments still under `dust` voxels (no edge above low) are set to 0.
//     Fragments are renumbered 1..N in order of their first voxel.
//
// Complexity: O(N) for stages 1-3 (union-find with path halving, near linear), O(F log F) for
// the region graph (F = faces between basins) and O(E log E) for the merging (E region-graph
// edges). Memory: N bytes of pointers, the uint64 output (also used as union-find storage),
// 16 bytes per basin face and per region-graph edge.
// Layout: aff is C-contiguous (C >= 3, Z, Y, X) float32 (only channels 0..2 are read); mask is
// C-contiguous (Z, Y, X) uint8 or null; out is C-contiguous (Z, Y, X) uint64.
// Threading: stage 1, the face collection of stage 4 and the final relabelling run on `threads`
// OpenMP threads (<= 0: the OpenMP default); stages 2, 3 and 5 are sequential.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace pytc {

namespace ws_detail {

constexpr uint8_t kVisited = 0x40;
constexpr uint64_t kLabelBit = uint64_t{1} << 63;

inline int resolve_threads(int threads) {
#if defined(_OPENMP)
  return threads > 0 ? threads : omp_get_max_threads();
#else
  (void)threads;
  return 1;
#endif
}

struct Face {
  uint64_t key;  // (smaller basin id << 32 | larger) when ids fit 32 bits; see region_graph
  float weight;
};

struct Edge {
  float weight;
  uint64_t a, b;
};

inline uint64_t find_root(std::vector<uint64_t>& parent, uint64_t x) {
  while (parent[x] != x) {
    parent[x] = parent[parent[x]];
    x = parent[x];
  }
  return x;
}

}  // namespace ws_detail

struct WatershedStats {
  uint64_t basins = 0;         // watershed basins before merging
  uint64_t region_edges = 0;   // region-graph edges kept
  uint64_t fragments = 0;      // output fragments
  uint64_t dust_voxels = 0;    // voxels set to 0 by the dust rule
};

// Fills out (Z*Y*X uint64) with fragment ids 1..N, 0 for masked voxels and removed dust.
inline WatershedStats watershed(const float* aff, const int64_t shape[3], const uint8_t* mask, double low,
                                double high, uint64_t size_threshold, double weight_threshold, uint64_t dust,
                                uint64_t* out, int threads) {
  using namespace ws_detail;
  for (int d = 0; d < 3; ++d) {
    if (shape[d] < 0) {
      throw std::invalid_argument("watershed: shape[" + std::to_string(d) + "] must be >= 0; got " +
                                  std::to_string(shape[d]));
    }
  }
  if (!(low >= 0.0) || !(high >= low)) {
    throw std::invalid_argument("watershed: thresholds must satisfy 0 <= low <= high; got low=" +
                                std::to_string(low) + ", high=" + std::to_string(high));
  }
  if (!(weight_threshold >= 0.0)) {
    throw std::invalid_argument("watershed: weight_threshold must be >= 0; got " +
                                std::to_string(weight_threshold));
  }
  WatershedStats stats;
  const int64_t Z = shape[0], Y = shape[1], X = shape[2];
  const int64_t N = Z * Y * X;
  if (N == 0) return stats;
  const int n_threads = resolve_threads(threads);
  (void)n_threads;
  const int64_t sz = Y * X, sy = X;
  const float* aff_z = aff;
  const float* aff_y = aff + N;
  const float* aff_x = aff + 2 * N;
  const int64_t step[6] = {-sz, -sy, -1, sz, sy, 1};
  auto inside = [&](int64_t v) { return mask == nullptr || mask[v] != 0; };

  // 1. steepest ascent: bit d set when v points along direction d.
  std::vector<uint8_t> sag(static_cast<size_t>(N));
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) num_threads(n_threads) if (N >= (int64_t{1} << 15))
#endif
  for (int64_t r = 0; r < Z * Y; ++r) {
    const int64_t z = r / Y, y = r % Y;
    for (int64_t x = 0; x < X; ++x) {
      const int64_t v = r * X + x;
      uint8_t bits = 0;
      if (inside(v)) {
        double e[6];
        e[0] = (z > 0 && inside(v - sz)) ? aff_z[v] : -1.0;
        e[1] = (y > 0 && inside(v - sy)) ? aff_y[v] : -1.0;
        e[2] = (x > 0 && inside(v - 1)) ? aff_x[v] : -1.0;
        e[3] = (z + 1 < Z && inside(v + sz)) ? aff_z[v + sz] : -1.0;
        e[4] = (y + 1 < Y && inside(v + sy)) ? aff_y[v + sy] : -1.0;
        e[5] = (x + 1 < X && inside(v + 1)) ? aff_x[v + 1] : -1.0;
        double m = -1.0;
        for (int d = 0; d < 6; ++d) {
          e[d] = e[d] > low ? std::min(e[d], high) : -1.0;
          m = std::max(m, e[d]);
        }
        if (m >= 0.0) {
          for (int d = 0; d < 6; ++d) bits |= static_cast<uint8_t>((e[d] == m) << d);
        }
      }
      sag[v] = bits;
    }
  }

  // 2. plateau division (sequential breadth-first search from the corners).
  auto opposite = [](int d) { return d < 3 ? d + 3 : d - 3; };
  std::vector<int64_t> queue;
  for (int64_t v = 0; v < N; ++v) {
    const uint8_t bits = sag[v];
    for (int d = 0; d < 6; ++d) {
      if ((bits >> d & 1) && !(sag[v + step[d]] >> opposite(d) & 1)) {
        sag[v] |= kVisited;
        queue.push_back(v);
        break;
      }
    }
  }
  for (size_t head = 0; head < queue.size(); ++head) {
    const int64_t v = queue[head];
    const uint8_t bits = sag[v];
    uint8_t keep = 0;
    for (int d = 0; d < 6; ++d) {
      if (!(bits >> d & 1)) continue;
      const int64_t u = v + step[d];
      if (sag[u] >> opposite(d) & 1) {
        if (!(sag[u] & kVisited)) {
          sag[u] |= kVisited;
          queue.push_back(u);
        }
      } else {
        keep = static_cast<uint8_t>(1u << d);
      }
    }
    sag[v] = keep;
  }
  std::vector<int64_t>().swap(queue);

  // 3. basins: union-find over voxels in `out` (parent[x] <= x, the root is the first voxel of
  // its set), then one pass in C order that flattens and numbers the sets.
  for (int64_t v = 0; v < N; ++v) out[v] = static_cast<uint64_t>(v);
  auto find = [&](uint64_t x) {
    while (out[x] != x) {
      out[x] = out[out[x]];
      x = out[x];
    }
    return x;
  };
  for (int64_t v = 0; v < N; ++v) {
    const uint8_t bits = sag[v];
    if (!bits) continue;
    for (int d = 0; d < 6; ++d) {
      if (!(bits >> d & 1)) continue;
      const uint64_t a = find(static_cast<uint64_t>(v)), b = find(static_cast<uint64_t>(v + step[d]));
      if (a != b) {
        if (a < b) out[b] = a; else out[a] = b;
      }
    }
  }
  std::vector<uint8_t>().swap(sag);
  uint64_t n_basins = 0;
  for (int64_t v = 0; v < N; ++v) {
    if (!inside(v)) {
      out[v] = 0;
      continue;
    }
    const uint64_t p = out[v];
    out[v] = p == static_cast<uint64_t>(v) ? (kLabelBit | ++n_basins) : out[p];
  }
  std::vector<uint64_t> size(n_basins + 1, 0);
  for (int64_t v = 0; v < N; ++v) {
    out[v] &= ~kLabelBit;
    ++size[out[v]];
  }
  size[0] = 0;
  stats.basins = n_basins;

  // 4. region graph: faces between different basins, then the maximum per pair.
  const double keep_above = std::min(low, weight_threshold);
  std::vector<Face> faces;
  {
    const bool wide = n_basins >= (uint64_t{1} << 32);
    auto make_key = [wide](uint64_t a, uint64_t b) {
      if (a > b) std::swap(a, b);
      return wide ? a : (a << 32 | b);
    };
#if defined(_OPENMP)
    const int parts = N >= (int64_t{1} << 15) ? n_threads : 1;
#else
    const int parts = 1;
#endif
    std::vector<std::vector<Face>> local(parts);
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) num_threads(parts)
#endif
    for (int t = 0; t < parts; ++t) {
      std::vector<Face>& mine = local[t];
      const int64_t begin = Z * Y * t / parts, end = Z * Y * (t + 1) / parts;
      for (int64_t r = begin; r < end; ++r) {
        const int64_t z = r / Y, y = r % Y;
        for (int64_t x = 0; x < X; ++x) {
          const int64_t v = r * X + x;
          const uint64_t a = out[v];
          if (a == 0) continue;
          auto visit = [&](int64_t u, float w) {
            const uint64_t b = out[u];
            if (b != 0 && b != a && w > keep_above) mine.push_back(Face{make_key(a, b), w});
          };
          if (z > 0) visit(v - sz, aff_z[v]);
          if (y > 0) visit(v - sy, aff_y[v]);
          if (x > 0) visit(v - 1, aff_x[v]);
        }
      }
    }
    size_t total = 0;
    for (const auto& l : local) total += l.size();
    faces.reserve(total);
    for (auto& l : local) {
      faces.insert(faces.end(), l.begin(), l.end());
      std::vector<Face>().swap(l);
    }
    if (wide) {
      throw std::invalid_argument("watershed: more than 2^32 - 1 basins are not supported; got " +
                                  std::to_string(n_basins));
    }
  }
  std::sort(faces.begin(), faces.end(), [](const Face& p, const Face& q) {
    return p.key < q.key || (p.key == q.key && p.weight > q.weight);
  });
  std::vector<Edge> edges;
  for (size_t i = 0; i < faces.size(); ++i) {
    if (i > 0 && faces[i].key == faces[i - 1].key) continue;  // first of a key has the max weight
    edges.push_back(Edge{faces[i].weight, faces[i].key >> 32, faces[i].key & 0xffffffffu});
  }
  std::vector<Face>().swap(faces);
  std::sort(edges.begin(), edges.end(), [](const Edge& p, const Edge& q) {
    if (p.weight != q.weight) return p.weight > q.weight;
    if (p.a != q.a) return p.a < q.a;
    return p.b < q.b;
  });
  stats.region_edges = edges.size();

  // 5. size-dependent single linkage, then dust.
  std::vector<uint64_t> parent(n_basins + 1);
  for (uint64_t i = 0; i <= n_basins; ++i) parent[i] = i;
  auto merge_pass = [&](uint64_t min_size, double above) {
    if (min_size == 0) return;
    for (const Edge& e : edges) {
      if (!(static_cast<double>(e.weight) > above)) break;
      const uint64_t a = find_root(parent, e.a), b = find_root(parent, e.b);
      if (a == b || (size[a] >= min_size && size[b] >= min_size)) continue;
      const uint64_t root = std::min(a, b), child = std::max(a, b);
      parent[child] = root;
      size[root] += size[child];
    }
  };
  merge_pass(size_threshold, weight_threshold);
  merge_pass(dust, low);
  std::vector<uint64_t> relabel(n_basins + 1, 0);
  uint64_t n_fragments = 0;
  for (uint64_t b = 1; b <= n_basins; ++b) {
    const uint64_t r = find_root(parent, b);  // r <= b: roots are the smallest basin id of a set
    if (size[r] < dust) {
      relabel[b] = 0;
      if (r == b) stats.dust_voxels += size[r];
    } else {
      relabel[b] = r == b ? ++n_fragments : relabel[r];
    }
  }
  stats.fragments = n_fragments;
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) num_threads(n_threads) if (N >= (int64_t{1} << 15))
#endif
  for (int64_t v = 0; v < N; ++v) out[v] = relabel[out[v]];
  return stats;
}

}  // namespace pytc
