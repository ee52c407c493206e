// Agglomeration, part 4 of 4: the region graph of one slab of z planes.
//
// SlabGraph::scan numbers the slab's labels and edges in order of first appearance and adds each
// face's affinity to its edge's statistic (EdgeStats, scoring.hpp): rows are cut into runs of
// equal labels (RowRuns), the faces between runs are listed as segments (node pair, x range) per
// direction and consecutive segments of one pair are folded into one partial statistic
// (fold_segments) before the pair's edge is looked up (a direct-mapped cache, then the PairMap,
// pair_map.hpp). Agglomeration (agglomerate.hpp) scans slabs in parallel and joins them in slab
// order; the details are in agglomerate.hpp's header comment. Layout: fragments (Z, Y, X) and
// affinities (C >= 3, Z, Y, X) C-contiguous, as there. Threading: none inside; one SlabGraph per
// thread.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "core/agglomerate/pair_map.hpp"
#include "core/agglomerate/scoring.hpp"

namespace pytc {
namespace agglo {

// Consecutive faces of one direction along a row between one node pair: x in [begin, end).
struct Segment {
  uint64_t key;
  uint32_t begin, end;
};

// Runs of equal labels in the rows of one z plane: run r of row y covers x in
// [start(y)[r], start(y)[r + 1]) and has node node(y)[r] (kNone: background); start(y)[count(y)]
// is the row length.
class RowRuns {
 public:
  RowRuns(int64_t rows, int64_t width)
      : stride_(static_cast<std::size_t>(width) + 1),
        start_(static_cast<std::size_t>(rows) * stride_),
        node_(static_cast<std::size_t>(rows) * stride_),
        count_(static_cast<std::size_t>(rows)) {}

  // Runs of row y from its `width` labels; node_of(label) gives a run's node.
  template <typename Label, typename NodeOf>
  void build(int64_t y, const Label* labels, int64_t width, NodeOf&& node_of) {
    uint32_t* start = start_.data() + static_cast<std::size_t>(y) * stride_;
    uint32_t* node = node_.data() + static_cast<std::size_t>(y) * stride_;
    start[0] = 0;
    uint32_t k = 1;
    for (int64_t x = 1; x < width; ++x) {  // branch-free: runs can be short
      start[k] = static_cast<uint32_t>(x);
      k += labels[x] != labels[x - 1];
    }
    start[k] = static_cast<uint32_t>(width);
    for (uint32_t r = 0; r < k; ++r) node[r] = node_of(labels[start[r]]);
    count_[static_cast<std::size_t>(y)] = k;
  }
  const uint32_t* start(int64_t y) const { return start_.data() + static_cast<std::size_t>(y) * stride_; }
  const uint32_t* node(int64_t y) const { return node_.data() + static_cast<std::size_t>(y) * stride_; }
  uint32_t count(int64_t y) const { return count_[static_cast<std::size_t>(y)]; }

 private:
  std::size_t stride_;
  std::vector<uint32_t> start_, node_, count_;
};

// Folds the boundary values of segments [begin, end) (values: the row of their direction)
// edge by edge: consecutive segments of one pair are folded into one partial value with
// `combine`, starting from `identity`, and handed to add(edge, partial, number of values).
template <typename EdgeOf, typename T, typename Combine, typename Add>
void fold_segments(const Segment* begin, const Segment* end, const float* values, EdgeOf& edge_of, T identity,
                   Combine combine, Add add) {
  uint64_t key = begin->key;
  T partial = identity;
  uint64_t count = 0;
  for (const Segment* s = begin; s != end; ++s) {
    if (s->key != key) {
      add(edge_of(key), partial, count);
      key = s->key;
      partial = identity;
      count = 0;
    }
    // segments are never empty, and most hold one face (all x segments): the loop is then skipped
    partial = combine(partial, values[s->begin]);
    for (uint32_t x = s->begin + 1; x < s->end; ++x) partial = combine(partial, values[x]);
    count += s->end - s->begin;
  }
  add(edge_of(key), partial, count);
}

// An edge of the region graph: its two nodes (regions, once merging starts).
struct Edge {
  uint32_t u, v;
};

// The region graph of the z planes [z0, z1) of the fragments, with the faces between planes z0
// and z0 - 1: nodes and edges numbered in order of first appearance in the slab.
class SlabGraph {
 public:
  explicit SlabGraph(const EdgeStats& empty) : map(16), stats(empty) {}

  // node_of(label): the node of a label (kNone for 0), numbering new ones; local_node() numbers
  // them in the slab.
  template <typename Label, typename NodeOf>
  void scan(const Label* fragments, const float* aff, int64_t Z, int64_t Y, int64_t X, int64_t z0, int64_t z1,
            NodeOf&& node_of) {
    map = PairMap(static_cast<std::size_t>(std::max<int64_t>(16, (z1 - z0) * Y * X / 64)));  // grows as needed
    const int64_t n = Z * Y * X;
    // A direct-mapped cache of recent node pairs in front of the hash map (a fragment touches
    // few others), sized to the pairs of about one z plane, 2^10 to 2^14 entries.
    struct Cached {
      uint64_t key;
      uint32_t edge;
    };
    int cache_bits = 10;
    while (cache_bits < 14 && (int64_t{1} << cache_bits) < Y * X / 16) ++cache_bits;
    std::vector<Cached> cache(std::size_t{1} << cache_bits, Cached{PairMap::kEmpty, 0});
    const int cache_shift = 64 - cache_bits;
    // Edge of node pair `key` (found in the map, or new), through the cache.
    auto edge_of = [&](uint64_t key) -> uint32_t {
      Cached& slot = cache[static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> cache_shift)];
      if (slot.key != key) {
        const uint32_t e = map.find_or_insert(key, static_cast<uint32_t>(edges.size()));
        if (e == edges.size()) {
          edges.push_back(Edge{static_cast<uint32_t>(key >> 32), static_cast<uint32_t>(key)});
          stats.add_edge();
        }
        slot = Cached{key, e};
      }
      return slot.edge;
    };
    // The faces of one row as segments, listed branch-free (a slot is written for every
    // candidate and kept if it is a face between two different nonzero nodes): z segments
    // first, then y, then x.
    std::vector<Segment> segments(static_cast<std::size_t>(3 * X + 3));
    const uint32_t width = static_cast<uint32_t>(X);
    // Lists the overlaps of the runs of this row (a) and a neighbouring row (b) at `out`.
    auto list_overlaps = [&](const uint32_t* start_a, const uint32_t* node_a, const uint32_t* start_b,
                             const uint32_t* node_b, Segment* out) -> Segment* {
      uint32_t i = 0, j = 0, pos = 0;
      while (pos < width) {
        const uint32_t end_a = start_a[i + 1], end_b = start_b[j + 1];
        const uint32_t end = std::min(end_a, end_b);
        const uint32_t u = node_a[i], w = node_b[j];
        *out = Segment{pair_key(u, w), pos, end};
        out += (u != w) & (u != PairMap::kNone) & (w != PairMap::kNone);
        pos = end;
        i += end_a == end;
        j += end_b == end;
      }
      return out;
    };
    // Adds the boundary values of the listed segments to their edges. Consecutive segments of
    // the same pair are folded together first (mean: summed) and added once.
    const EdgeStats::Fold fold = stats.fold();
    auto add_segments = [&](const Segment* begin, const Segment* end, const float* values) {
      if (begin == end) return;
      if (map.capacity() > (std::size_t{1} << 16)) {  // beyond the CPU caches
        for (const Segment* s = begin; s != end; ++s) map.prefetch(s->key);
      }
      switch (fold) {
        case EdgeStats::Fold::Sum:
          fold_segments(begin, end, values, edge_of, 0.0, [](double sum, float a) { return sum + a; },
                        [&](uint32_t e, double sum, uint64_t count) { stats.add_sum(e, sum, count); });
          break;
        case EdgeStats::Fold::Max:
          fold_segments(begin, end, values, edge_of, -INFINITY, [](float m, float a) { return std::max(m, a); },
                        [&](uint32_t e, float m, uint64_t) { stats.add_max(e, m); });
          break;
        case EdgeStats::Fold::Min:
          fold_segments(begin, end, values, edge_of, INFINITY, [](float m, float a) { return std::min(m, a); },
                        [&](uint32_t e, float m, uint64_t) { stats.add_min(e, m); });
          break;
        case EdgeStats::Fold::Keep:
          for (const Segment* s = begin; s != end; ++s) {
            const uint32_t e = edge_of(s->key);
            for (uint32_t x = s->begin; x < s->end; ++x) stats.add(e, values[x]);
          }
          break;
      }
    };
    RowRuns runs_prev(Y, X), runs_cur(Y, X);
    if (z0 > 0) {  // the runs of the plane before, for the z faces of plane z0
      for (int64_t y = 0; y < Y; ++y) {
        runs_cur.build(y, fragments + ((z0 - 1) * Y + y) * X, X,
                       [&](Label a) { return node_of(static_cast<uint64_t>(a)); });
      }
    }
    for (int64_t z = z0; z < z1; ++z) {
      if (z == z0 + 2 && z1 - z0 > 4) {
        // room for as many edges per plane as the first two planes had (fewer rehashes)
        const std::size_t expected = edges.size() * static_cast<std::size_t>(z1 - z0) / 2;
        map.reserve(expected);
        edges.reserve(expected);
        stats.reserve(expected);
      }
      std::swap(runs_prev, runs_cur);
      for (int64_t y = 0; y < Y; ++y) {
        const int64_t offset = (z * Y + y) * X;
        if (offset + 2 * X <= n) {
          for (int64_t x = 0; x < X; x += 16) {
            for (int c = 0; c < 3; ++c) __builtin_prefetch(aff + c * n + offset + X + x);
          }
        }
        runs_cur.build(y, fragments + offset, X, [&](Label a) { return node_of(static_cast<uint64_t>(a)); });
        const uint32_t* start = runs_cur.start(y);
        const uint32_t* node = runs_cur.node(y);
        Segment* const z_begin = segments.data();
        Segment* const y_begin = z > 0 ? list_overlaps(start, node, runs_prev.start(y), runs_prev.node(y), z_begin)
                                       : z_begin;
        Segment* const x_begin =
            y > 0 ? list_overlaps(start, node, runs_cur.start(y - 1), runs_cur.node(y - 1), y_begin) : y_begin;
        Segment* x_end = x_begin;
        for (uint32_t r = 1; r < runs_cur.count(y); ++r) {
          const uint32_t u = node[r], w = node[r - 1];
          *x_end = Segment{pair_key(u, w), start[r], start[r] + 1};
          x_end += (u != PairMap::kNone) & (w != PairMap::kNone);
        }
        add_segments(z_begin, y_begin, aff + offset);
        add_segments(y_begin, x_begin, aff + n + offset);
        add_segments(x_begin, x_end, aff + 2 * n + offset);
      }
    }
  }

  // Node of a label in the slab's own numbering (kNone for 0), numbered on first sight; a
  // direct-mapped cache of recent labels in front of the hash map.
  uint32_t local_node(uint64_t label) {
    if (label == 0) return PairMap::kNone;
    const std::size_t hash = static_cast<std::size_t>((label * 0x9E3779B97F4A7C15ull) >> (64 - kNodeCacheBits));
    CachedNode& slot = node_cache_[hash];
    if (slot.label != label) {
      const uint32_t node = nodes_.find_or_insert(label, static_cast<uint32_t>(labels.size()));
      if (node == labels.size()) {
        if (labels.size() >= PairMap::kNone - 1) {
          throw std::invalid_argument("agglomerate: too many fragments (more than 2^32 - 2)");
        }
        labels.push_back(label);
      }
      slot = CachedNode{label, node};
    }
    return slot.node;
  }

  std::vector<uint64_t> labels;  // node -> label (local numbering)
  std::vector<Edge> edges;       // node pairs (u < v)
  PairMap map;                   // node pair key -> edge
  EdgeStats stats;

 private:
  struct CachedNode {
    uint64_t label;  // 0: empty (label 0 is never looked up)
    uint32_t node;
  };
  static constexpr int kNodeCacheBits = 12;
  std::vector<CachedNode> node_cache_ = std::vector<CachedNode>(std::size_t{1} << kNodeCacheBits, CachedNode{0, 0});
  PairMap nodes_{16};  // label -> node
};

}  // namespace agglo
}  // namespace pytc
