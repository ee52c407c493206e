// Hierarchical agglomeration of fragments on an affinity graph, with waterz's semantics.
//
// Region graph: built in one pass, or, for large fragments (at most one run of labels per 8
// voxels in the first plane), on slabs of z planes in parallel (at least 8 planes and 2^16
// voxels each, at most 16), then joined in slab order. Labels get nodes in order of first
// appearance (C order; in a slab, through a hash map behind a direct-mapped cache), each row is
// cut into runs of equal labels (branch-free) and a node looked up per run. The faces of
// direction z (y) are the overlaps of the row's runs with those of the same row in
// the plane before (the row before), the plane before the slab included, whose two nodes differ
// and are both nonzero; the x faces are the run boundaries. The overlaps of a row are listed as
// segments (node pair, x range), branch-free, z first, then y, then x; consecutive segments of
// one pair fold their affinities (aff[d, v] for the faces (v, v - e_d)) into one partial
// statistic (the mean: a double sum), which is added to the pair's edge: so a pair is looked up
// once per run of segments, not once per face. A pair is found in a direct-mapped cache of recent
// pairs or an open-addressing hash map (which numbers new edges in order of first appearance);
// once the map outgrows the CPU caches, the map slots of a row's segments are prefetched before
// they are added. Joining the slabs numbers nodes and edges in order of first appearance over
// the whole volume (a table by label, grown up to the largest label, at most 2N + 65536, or a
// hash map once a larger label appears) and adds the slabs' statistics in slab order.
// Edge score = 1 - value(statistic), in float32 like waterz's ScoreValue. Statistics:
//   Mean       sum (double) and count; merged by addition             (waterz MeanAffinity)
//   Max, Min   one float; merged by max / min                         (MaxAffinity, MinAffinity)
//   Quantile   sorted value list; merged by std::merge; value = sorted[q*n/100] (clamped to
//              n-1)                                                   (QuantileAffinity)
//   Histogram  sparse 256-bin histogram; merged by addition; value = (bin + 0.5) / 256 of the
//              first bin whose cumulative count reaches q*n/100 + 1   (HistogramQuantileAffinity)
// For the quantiles, init_with_max (waterz's default InitWithMax=true) starts every initial edge
// with the single maximum affinity of its boundary instead of all of them.
// Merging: edges in ascending (score, edge id) order with lazy deletion (an entry is skipped when
// popped if its edge is dead or its score bits are no longer the edge's current ones, kept in a
// compact array of 4 bytes an edge): the initial edges radix-sorted once and read in order,
// rescored edges in a 4-ary heap, the smaller head first. Edges scoring at least the largest
// threshold (the limit) can never merge and are not queued. The edge of smallest current score
// is merged while its score < threshold. The region with fewer live edges is merged into the
// other (small to large): its edges move over,
// or, where both regions border the same neighbour, the two edges' statistics merge and the
// merged edge is rescored. Each moving edge costs one hash-map look-up (region pair -> edge,
// inserting if absent), its edge record and map slot prefetched first; the keys of the merged
// region are left in the map (never looked up again) and dropped when the map would grow: it is
// rebuilt from the live edges instead, with room for at least E / 2 insertions. Thresholds are
// processed in ascending order in one pass: merge_until(t) continues from where the previous
// call stopped. A union-find over the fragments gives the partition.
// History (optional, off by default: one pointer test per merge): record_history() makes every
// later merge append {into, from, score} (labels of the two regions' root fragments, the region
// of `from` joining that of `into`, which keeps its label) to a list, in merge order.
// Output: per threshold a table node -> label of the region's root fragment; agglomerate()
// writes all thresholds' segmentations in one pass over the fragments (node ids of a block of
// voxels, then one look-up per threshold).
// Complexity: O(N) for the region graph, O(E log E) merges (hash-map operations amortised by
// small-to-large), O(N K) for K segmentations. Memory: O(fragments + edges) (the hash map holds
// at most about 4 E slots) plus the value lists of the quantile statistics (O(boundary voxels),
// like waterz), plus K node tables for agglomerate().
// Layout: fragments (Z, Y, X) C-contiguous integer labels, 0 = background; affinities
// (C >= 3, Z, Y, X) float32 C-contiguous, channel d linking v with v - e_d for d < 3.
// Threading: the slabs of the region graph and the writing of the segmentations (blocks of
// voxels, so the OS's zeroing of fresh output pages is shared out too) run on OpenMP threads;
// joining the slabs and merging are sequential. The result does not depend on the thread count
// (the slabs and the order in which their statistics are added do not).
//
// Files: agglomerate/pair_map.hpp (the hash map of node pairs), agglomerate/scoring.hpp (the
// statistics, EdgeStats), agglomerate/queue.hpp (the merge queue, EdgeQueue),
// agglomerate/region_graph.hpp (the region graph of one slab, SlabGraph), agglomerate/block_graph.hpp
// (the region graph of one block of a larger volume, for blockwise agglomeration); this header joins
// the slabs and merges (Agglomeration) and holds the entry point agglomerate().
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "core/agglomerate/pair_map.hpp"
#include "core/agglomerate/queue.hpp"
#include "core/agglomerate/region_graph.hpp"
#include "core/agglomerate/scoring.hpp"

namespace pytc {
namespace agglo {

// Output arrays (count arrays of n uint64) whose pages idle threads first touch (the OS zeroes
// fresh pages then) while the region graph is built, in tasks of 2 MiB.
struct FreshOutputs {
  uint64_t* const* outs;
  int count;
  int64_t n;

  static constexpr int64_t kChunk = int64_t{1} << 18;
  int64_t tasks() const { return count * chunks(); }
  void touch(int64_t task) const {
    uint64_t* out = outs[task / chunks()];
    const int64_t begin = task % chunks() * kChunk, end = std::min(n, begin + kChunk);
    for (int64_t v = begin; v < end; v += 4096 / sizeof(uint64_t)) out[v] = 0;
  }

 private:
  int64_t chunks() const { return (n + kChunk - 1) / kChunk; }
};

// One merge of the history: the region whose root fragment has label `from` joined the region of
// root fragment `into` (the joined region keeps `into`'s label), at `score`.
struct Merge {
  uint64_t into;
  uint64_t from;
  float score;
};

class Agglomeration {
 public:
  // Builds the region graph. `fragments` holds `n` labels (C order, shape Z, Y, X);
  // `aff` holds at least 3 channels of n float32 values each.
  // Edges scoring at least `limit` are never merged, so they are left out of the queue: `limit`
  // bounds the thresholds merge_until accepts (the largest threshold; +inf for any). `threads`
  // build the region graph (<= 0: OpenMP's default), and those it leaves idle first touch the
  // pages of `fresh` meanwhile.
  template <typename Label>
  Agglomeration(const Label* fragments, const float* aff, const int64_t shape[3], Scoring scoring,
                int quantile, bool init_with_max, float limit = INFINITY, int threads = 1,
                const FreshOutputs* fresh = nullptr)
      : stats_(scoring, quantile, init_with_max), limit_(sortable(limit)) {
    if (std::isnan(limit)) throw std::invalid_argument("agglomerate: limit must not be NaN");
    for (int d = 0; d < 3; ++d) {
      if (shape[d] < 0) {
        throw std::invalid_argument("agglomerate: shape[" + std::to_string(d) + "] must be >= 0; got " +
                                    std::to_string(shape[d]));
      }
    }
    if (quantile < 0 || quantile > 100) {
      throw std::invalid_argument("agglomerate: quantile must be in [0, 100]; got " + std::to_string(quantile));
    }
    const int64_t Z = shape[0], Y = shape[1], X = shape[2];
    const int64_t n = Z * Y * X;
    if (X >= (int64_t{1} << 32) - 1) {
      throw std::invalid_argument("agglomerate: shape[2] must be < 2^32 - 1; got " + std::to_string(X));
    }
    bound_ = static_cast<uint64_t>(n) * 2 + 65536;
    lut_.assign(1025, PairMap::kNone);
    if (n > 0) build_graph(fragments, aff, Z, Y, X, threads, fresh);
    stats_.finalize();
    build_queue();
  }

  // The agglomeration of a region graph given as lists (blockwise agglomeration, block_graph.hpp):
  // node i has label labels[i]; edge e joins nodes edges[e].u < edges[e].v, each pair once, with
  // statistic e of `stats` (finalized). Nodes and edges are numbered as given, which decides how
  // exactly tied edges merge: in order of first appearance, the result is the whole-volume one.
  Agglomeration(std::vector<uint64_t> labels, std::vector<Edge> edges, EdgeStats stats, float limit = INFINITY)
      : stats_(std::move(stats)), limit_(sortable(limit)) {
    if (std::isnan(limit)) throw std::invalid_argument("agglomerate: limit must not be NaN");
    if (stats_.num_edges() != edges.size()) {
      throw std::invalid_argument("agglomerate: one statistic per edge is needed; got " +
                                  std::to_string(stats_.num_edges()) + " for " + std::to_string(edges.size()) +
                                  " edges");
    }
    if (labels.size() >= PairMap::kNone - 1) {
      throw std::invalid_argument("agglomerate: too many fragments (more than 2^32 - 2)");
    }
    labels_ = std::move(labels);
    edges_ = std::move(edges);
    map_ = PairMap(edges_.size());
    for (uint32_t e = 0; e < edges_.size(); ++e) {
      const Edge& edge = edges_[e];
      if (!(edge.u < edge.v && edge.v < labels_.size())) {
        throw std::invalid_argument("agglomerate: edge " + std::to_string(e) + " (" + std::to_string(edge.u) + ", " +
                                    std::to_string(edge.v) + ") must join nodes u < v < " +
                                    std::to_string(labels_.size()));
      }
      if (!map_.emplace(pair_key(edge.u, edge.v), e).second) {
        throw std::invalid_argument("agglomerate: edge " + std::to_string(e) + " repeats the node pair (" +
                                    std::to_string(edge.u) + ", " + std::to_string(edge.v) + ")");
      }
    }
    build_queue();
  }

  std::size_t num_nodes() const { return labels_.size(); }

  // Records every later merge into `history` (kept by the caller; nullptr stops recording).
  void record_history(std::vector<Merge>* history) { history_ = history; }

  std::size_t num_edges() const { return edges_.size(); }

  // Merges while the cheapest edge scores < threshold; returns the number of merges.
  std::size_t merge_until(float threshold) {
    if (!(sortable(threshold) <= limit_)) {
      throw std::invalid_argument("agglomerate: threshold " + std::to_string(threshold) +
                                  " is above the limit the agglomeration was built for");
    }
    std::size_t merged = 0;
    while (!queue_.empty()) {
      const uint64_t top = queue_.top();
      const uint32_t edge = static_cast<uint32_t>(top), bits = static_cast<uint32_t>(top >> 32);
      // the initial entries are read in order: their score bits are fetched ahead
      const uint64_t ahead = queue_.sorted_ahead(16);
      if (ahead != ~uint64_t{0}) prefetch(&current_[static_cast<uint32_t>(ahead)]);
      if (current_[edge] != bits) {  // dead (kDead) or rescored since
        queue_.pop();
        continue;
      }
      if (!(unsortable(bits) < threshold)) break;
      queue_.pop();
      merge_edge(edge);
      ++merged;
    }
    return merged;
  }

  // Label of the region of every node under the current partition (the label of the region's
  // root fragment), followed by 0 for the background (index num_nodes()).
  std::vector<uint64_t> region_labels() {
    std::vector<uint64_t> table(labels_.size() + 1, 0);
    for (std::size_t i = 0; i < labels_.size(); ++i) table[i] = labels_[find(static_cast<uint32_t>(i))];
    return table;
  }

  // Writes `count` segmentations in one pass over the fragments: outs[k][v] = tables[k][node of
  // fragments[v]], tables from region_labels(). Blocks of voxels are split over the threads, so
  // the first touch of the output pages (the OS zeroing them) is shared out too.
  template <typename Label>
  void write_segmentations(const Label* fragments, int64_t n, const uint64_t* const* tables, uint64_t* const* outs,
                           int count, int threads) const {
    if (count <= 0) return;
    constexpr int64_t kBlock = 4096;
    const int64_t blocks = (n + kBlock - 1) / kBlock;
    const uint32_t background = static_cast<uint32_t>(labels_.size());
#if defined(_OPENMP)
#pragma omp parallel num_threads(threads > 0 ? threads : omp_get_max_threads()) if (n >= (int64_t{1} << 18))
#else
    (void)threads;
#endif
    {
      std::vector<uint32_t> nodes(static_cast<std::size_t>(kBlock));
#if defined(_OPENMP)
#pragma omp for schedule(static)
#endif
      for (int64_t block = 0; block < blocks; ++block) {
        const int64_t begin = block * kBlock, size = std::min(kBlock, n - begin);
        node_plane(fragments + begin, static_cast<std::size_t>(size), nodes.data());
        for (int64_t i = 0; i < size; ++i) nodes[i] = std::min(nodes[i], background);  // kNone -> background
        for (int k = 0; k < count; ++k) {
          const uint64_t* table = tables[k];
          uint64_t* out = outs[k] + begin;
          for (int64_t i = 0; i < size; ++i) out[i] = table[nodes[i]];
        }
      }
    }
  }

  // The current segmentation (region label per voxel, 0 for the background) into `out`.
  template <typename Label>
  void extract(const Label* fragments, int64_t n, uint64_t* out, int threads) {
    const std::vector<uint64_t> table = region_labels();
    if (dense_) {
      // one look-up per voxel, in a table by label
      std::vector<uint64_t> lut(lut_.size(), 0);
      for (std::size_t l = 1; l < lut_.size(); ++l) {
        if (lut_[l] != PairMap::kNone) lut[l] = table[lut_[l]];
      }
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) num_threads(threads > 0 ? threads : omp_get_max_threads()) if (n >= (int64_t{1} << 18))
#else
      (void)threads;
#endif
      for (int64_t v = 0; v < n; ++v) out[v] = lut[static_cast<uint64_t>(fragments[v])];
    } else {
      const uint64_t* tables[1] = {table.data()};
      write_segmentations(fragments, n, tables, &out, 1, threads);
    }
  }

  // merge_until(t) for each of the ascending `thresholds`, recording region_labels() at each.
  std::vector<std::vector<uint64_t>> merge_through(const float* thresholds, int count) {
    std::vector<std::vector<uint64_t>> tables;
    for (int k = 0; k < count; ++k) {
      merge_until(thresholds[k]);
      tables.push_back(region_labels());
    }
    return tables;
  }

  // merge_until(t) for each of the ascending `thresholds`, then the segmentation of each into
  // outs[k], all written in one pass.
  template <typename Label>
  void extract_thresholds(const Label* fragments, int64_t n, const float* thresholds, uint64_t* const* outs,
                          int count, int threads) {
    write_tables(fragments, n, merge_through(thresholds, count), outs, threads);
  }

  template <typename Label>
  void write_tables(const Label* fragments, int64_t n, const std::vector<std::vector<uint64_t>>& tables,
                    uint64_t* const* outs, int threads) const {
    std::vector<const uint64_t*> pointers;
    for (const auto& t : tables) pointers.push_back(t.data());
    write_segmentations(fragments, n, pointers.data(), outs, static_cast<int>(tables.size()), threads);
  }

 private:
  // Queue entries are (sortable score bits << 32 | edge): ascending (score, edge id) order is
  // ascending integer order. An entry is current when its score bits equal current_[edge] (so the
  // edge is alive; an outdated entry with the same score would pop at the same place anyway).
  static uint32_t sortable(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    if (u == 0x80000000u) u = 0;  // -0 == +0
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  }
  static float unsortable(uint32_t u) {
    u = (u & 0x80000000u) ? (u & 0x7FFFFFFFu) : ~u;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
  }

  // The region graph (nodes, edges_, their statistics and map_; see the header comment): the
  // slabs' graphs, built in parallel, then joined in slab order (nodes and edges numbered in
  // order of first appearance over the whole volume, statistics added slab by slab).
  template <typename Label>
  void build_graph(const Label* fragments, const float* aff, int64_t Z, int64_t Y, int64_t X, int threads,
                   const FreshOutputs* fresh) {
    const int64_t n_slabs = slab_count(fragments, Z, Y, X);
    // Tasks: scanning slab t (t < n_slabs; one slab: in the volume's own numbering, then no
    // join), then first touches of the fresh output pages, over the threads.
    std::vector<SlabGraph> slabs;
    slabs.reserve(static_cast<std::size_t>(n_slabs));
    for (int64_t t = 0; t < n_slabs; ++t) slabs.emplace_back(stats_);
    auto scan = [&](int64_t t) {
      SlabGraph& slab = slabs[static_cast<std::size_t>(t)];
      if (n_slabs == 1) {
        slab.scan(fragments, aff, Z, Y, X, 0, Z, [&](uint64_t label) { return node_or_new(label); });
      } else {
        slab.scan(fragments, aff, Z, Y, X, Z * t / n_slabs, Z * (t + 1) / n_slabs,
                  [&slab](uint64_t label) { return slab.local_node(label); });
      }
    };
    std::exception_ptr error;
#if defined(_OPENMP)
    const int64_t n_threads = threads > 0 ? threads : omp_get_max_threads();
    const int64_t n_tasks = n_slabs + (n_threads > 1 && fresh != nullptr ? fresh->tasks() : 0);
    const int team = static_cast<int>(std::min(n_threads, n_tasks));
#pragma omp parallel for schedule(dynamic, 1) num_threads(team) if (team > 1)
#else
    (void)threads;
    (void)fresh;
    const int64_t n_tasks = n_slabs;
#endif
    for (int64_t task = 0; task < n_tasks; ++task) {
      try {
        if (task < n_slabs) {
          scan(task);
        } else {
          fresh->touch(task - n_slabs);
        }
      } catch (...) {
#if defined(_OPENMP)
#pragma omp critical(pytc_agglomerate_error)
#endif
        error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(error);
    if (n_slabs == 1) {
      edges_ = std::move(slabs[0].edges);
      map_ = std::move(slabs[0].map);
      stats_ = std::move(slabs[0].stats);
      return;
    }
    std::size_t total = 0;  // room for every slab's edges (an upper bound: shared edges count once)
    for (const SlabGraph& slab : slabs) total += slab.edges.size();
    map_.reserve(total);
    edges_.reserve(total);
    stats_.reserve(total);
    std::vector<uint32_t> remap;
    for (SlabGraph& slab : slabs) {
      remap.resize(slab.labels.size());
      for (std::size_t i = 0; i < slab.labels.size(); ++i) remap[i] = node_or_new(slab.labels[i]);
      // the slab's edges as pairs of volume nodes, their map slots prefetched ahead
      keys_.resize(slab.edges.size());
      for (std::size_t e = 0; e < slab.edges.size(); ++e) {
        keys_[e] = pair_key(remap[slab.edges[e].u], remap[slab.edges[e].v]);
      }
      constexpr std::size_t kAhead = 16;
      for (std::size_t e = 0; e < std::min(kAhead, keys_.size()); ++e) map_.prefetch(keys_[e]);
      for (uint32_t e = 0; e < slab.edges.size(); ++e) {
        if (e + kAhead < keys_.size()) map_.prefetch(keys_[e + kAhead]);
        const uint64_t key = keys_[e];
        const uint32_t edge = map_.find_or_insert(key, static_cast<uint32_t>(edges_.size()));
        if (edge == edges_.size()) {
          edges_.push_back(Edge{static_cast<uint32_t>(key >> 32), static_cast<uint32_t>(key)});
          stats_.add_edge();
        }
        stats_.absorb(edge, slab.stats, e);
      }
      slab = SlabGraph(stats_);  // frees it
    }
  }

  // Slabs of at least 8 planes and 2^16 voxels, at most 16, when the fragments are large (at most
  // one run of labels per 8 voxels along x in the first plane): joining the slabs costs one
  // hash-map insertion per slab edge, which small fragments (many edges) do not repay. Fixed by
  // the input, not by the threads, so that the result does not depend on the thread count.
  template <typename Label>
  static int64_t slab_count(const Label* fragments, int64_t Z, int64_t Y, int64_t X) {
    const int64_t slabs = std::clamp<int64_t>(std::min<int64_t>(Z / 8, Z * Y * X >> 16), 1, 16);
    if (slabs == 1) return 1;
    int64_t runs = 0;
    for (int64_t y = 0; y < Y; ++y) {
      const Label* row = fragments + y * X;
      runs += 1;
      for (int64_t x = 1; x < X; ++x) runs += row[x] != row[x - 1];
    }
    return runs * 8 <= Y * X ? slabs : 1;
  }

  // Adjacency lists, degrees, the union-find and the queue of the initial edges.
  void build_queue() {
    const std::size_t n_edges = edges_.size();
    current_.resize(n_edges);
    const std::size_t n_nodes = labels_.size();
    adj_.assign(n_nodes, {});
    degree_.assign(n_nodes, 0);
    parent_.resize(n_nodes);
    for (std::size_t i = 0; i < n_nodes; ++i) parent_[i] = static_cast<uint32_t>(i);
    for (const Edge& edge : edges_) {
      ++degree_[edge.u];
      ++degree_[edge.v];
    }
    for (std::size_t i = 0; i < n_nodes; ++i) adj_[i].reserve(degree_[i]);  // one allocation a node
    for (uint32_t e = 0; e < n_edges; ++e) {
      adj_[edges_[e].u].push_back(e);
      adj_[edges_[e].v].push_back(e);
    }
    std::vector<uint64_t> entries;
    entries.reserve(n_edges);
    for (uint32_t e = 0; e < n_edges; ++e) {
      current_[e] = sortable(stats_.score(e));
      if (current_[e] < limit_) entries.push_back(uint64_t{current_[e]} << 32 | e);
    }
    queue_ = EdgeQueue(std::move(entries));
  }

  // Node of a label, numbering labels in order of first appearance (kNone for the background).
  // Labels up to bound_ are looked up in a table by label (grown as larger labels appear);
  // the first label above it moves all of them to a hash map.
  template <typename Label>
  uint32_t node_or_new(Label label) {
    const uint64_t a = static_cast<uint64_t>(label);
    if (dense_ && a < lut_.size()) {
      const uint32_t node = lut_[a];
      if (node != PairMap::kNone || a == 0) return node;
    }
    return new_node(a);
  }

#if defined(__GNUC__) || defined(__clang__)
  __attribute__((noinline))  // the rare path: keeps node_or_new small enough to inline
#endif
  uint32_t new_node(uint64_t a) {
    if (dense_ && a > bound_) {
      dense_ = false;
      for (std::size_t l = 1; l < lut_.size(); ++l) {
        if (lut_[l] != PairMap::kNone) sparse_.emplace(l, lut_[l]);
      }
      std::vector<uint32_t>().swap(lut_);
    }
    if (a == 0) return PairMap::kNone;
    const uint32_t node = static_cast<uint32_t>(labels_.size());
    if (dense_) {
      if (a >= lut_.size()) {
        lut_.resize(static_cast<std::size_t>(std::min(std::max(a + 1, uint64_t{2} * lut_.size()), bound_ + 1)),
                    PairMap::kNone);
      }
      if (lut_[a] != PairMap::kNone) return lut_[a];
      lut_[a] = node;
    } else {
      const auto found = sparse_.emplace(a, node);
      if (!found.second) return found.first->second;
    }
    if (labels_.size() >= PairMap::kNone - 1) {
      throw std::invalid_argument("agglomerate: too many fragments (more than 2^32 - 2)");
    }
    labels_.push_back(a);
    return node;
  }

  // Node ids (kNone for the background) of `count` labels.
  template <typename Label>
  void node_plane(const Label* labels, std::size_t count, uint32_t* nodes) const {
    if (dense_) {
      const uint32_t* lut = lut_.data();  // lut_[0] == kNone
      for (std::size_t i = 0; i < count; ++i) nodes[i] = lut[static_cast<uint64_t>(labels[i])];
    } else {
      Label last = 0;
      uint32_t last_node = PairMap::kNone;
      for (std::size_t i = 0; i < count; ++i) {
        const Label a = labels[i];
        if (a != last) {
          last = a;
          last_node = a == 0 ? PairMap::kNone : sparse_.find(static_cast<uint64_t>(a))->second;
        }
        nodes[i] = last_node;
      }
    }
  }

  uint32_t find(uint32_t i) {
    uint32_t root = i;
    while (parent_[root] != root) root = parent_[root];
    while (parent_[i] != root) {
      const uint32_t next = parent_[i];
      parent_[i] = root;
      i = next;
    }
    return root;
  }

  // Rescores edge e; it is queued only if it can still merge (score < limit).
  void push(uint32_t e) {
    current_[e] = sortable(stats_.score(e));
    if (current_[e] < limit_) queue_.push(uint64_t{current_[e]} << 32 | e);
  }

  void compact(uint32_t node) {
    auto& list = adj_[node];
    if (list.size() <= 2 * static_cast<std::size_t>(degree_[node]) + 16) return;
    list.erase(std::remove_if(list.begin(), list.end(), [&](uint32_t e) { return current_[e] == kDead; }), list.end());
  }

  // The map again from the live edges alone (see merge_edge), sized so that rebuilding it is
  // amortised over at least edges_.size() / 2 insertions.
  void rebuild_map() {
    std::size_t alive = 0;
    for (const uint32_t bits : current_) alive += bits != kDead;
    map_ = PairMap(std::max(alive * 2, edges_.size() / 2));
    for (uint32_t e = 0; e < edges_.size(); ++e) {
      if (current_[e] != kDead) map_.insert(pair_key(edges_[e].u, edges_[e].v), e);
    }
  }

  void merge_edge(uint32_t e) {
    uint32_t from = edges_[e].u, into = edges_[e].v;
    if (degree_[from] > degree_[into]) std::swap(from, into);
    if (history_ != nullptr) history_->push_back(Merge{labels_[into], labels_[from], unsortable(current_[e])});
    current_[e] = kDead;
    --degree_[from];
    --degree_[into];
    parent_[from] = into;

    std::vector<uint32_t> edges;
    edges.swap(adj_[from]);
    // The keys of `from`'s edges stay in the map: `from` is no longer a region, so they are
    // never looked up again; they are dropped when the map is full and rebuilt from the live
    // edges. Each edge then costs one look-up, (into, other), inserting it if absent.
    if (map_.would_grow(edges.size())) rebuild_map();
    // The edges and their map slots are prefetched first: the look-ups are independent.
    for (uint32_t f : edges) {
      prefetch(&edges_[f]);
      prefetch(&current_[f]);
    }
    keys_.resize(edges.size());
    for (std::size_t i = 0; i < edges.size(); ++i) {
      const Edge& edge = edges_[edges[i]];
      if (current_[edges[i]] == kDead) {
        keys_[i] = PairMap::kEmpty;
        continue;
      }
      keys_[i] = pair_key(into, edge.u == from ? edge.v : edge.u);
      map_.prefetch(keys_[i]);
    }
    for (std::size_t i = 0; i < edges.size(); ++i) {
      const uint64_t key = keys_[i];
      if (key == PairMap::kEmpty) continue;
      const uint32_t f = edges[i];
      const uint32_t other = static_cast<uint32_t>(key >> 32) == into ? static_cast<uint32_t>(key)
                                                                       : static_cast<uint32_t>(key >> 32);
      const std::pair<uint32_t*, bool> slot = map_.emplace(key, f);
      if (slot.second) {
        // exclusive neighbour of `from`: the edge moves to `into` with its statistic unchanged
        if (edges_[f].u == from) edges_[f].u = into; else edges_[f].v = into;
        adj_[into].push_back(f);
        ++degree_[into];
      } else {
        // shared neighbour: merge the two edges' statistics into the larger one
        const uint32_t g = *slot.first;
        uint32_t keep = g, drop = f;
        if (stats_.weight(f) > stats_.weight(g)) {
          keep = f;
          drop = g;
          if (edges_[f].u == from) edges_[f].u = into; else edges_[f].v = into;
        }
        const bool changed = stats_.merge_changes(drop, keep);
        stats_.merge(drop, keep);
        current_[drop] = kDead;
        if (keep == f) {
          // g was in adj_[into] and adj_[other]; f is in adj_[other] already
          *slot.first = f;
          adj_[into].push_back(f);
        }
        --degree_[other];
        compact(other);
        if (changed) push(keep);
      }
    }
    degree_[from] = 0;
    compact(into);
  }

  static void prefetch(const void* address) {
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(address);
#else
    (void)address;
#endif
  }

  EdgeStats stats_;
  uint32_t limit_;  // sortable(limit): edges scoring at least this never merge and are not queued
  PairMap map_;
  bool dense_ = true;
  uint64_t bound_ = 0;                              // largest label of the table
  std::vector<uint32_t> lut_;                       // label -> node (dense labels)
  std::unordered_map<uint64_t, uint32_t> sparse_;  // label -> node (sparse labels)
  std::vector<uint64_t> labels_;                    // node -> label
  std::vector<Edge> edges_;  // current endpoints (regions)
  // Per edge, the sortable bits of its current score, or kDead: compact (4 bytes an edge), since
  // every queue entry popped is checked against it.
  static constexpr uint32_t kDead = ~uint32_t{0};  // not the bits of any finite score
  std::vector<uint32_t> current_;
  std::vector<std::vector<uint32_t>> adj_;          // edges of each region (may hold dead ones)
  std::vector<uint32_t> degree_;                    // live edges of each region
  std::vector<uint32_t> parent_;                    // union-find over fragments
  std::vector<uint64_t> keys_;                      // scratch of merge_edge
  EdgeQueue queue_;
  std::vector<Merge>* history_ = nullptr;  // where merge_edge records the merges (see record_history)
};

// Agglomerates and writes one segmentation per ascending threshold into outs[k] (n uint64 each):
// the region graph on `threads` threads (threads it leaves idle first touch the output pages),
// merging on one, then the segmentations on `threads`.
template <typename Label>
void agglomerate(const Label* fragments, const float* aff, const int64_t shape[3], Scoring scoring, int quantile,
                 bool init_with_max, const float* thresholds, uint64_t* const* outs, int count, int threads) {
  const int64_t n = std::max<int64_t>(shape[0], 0) * std::max<int64_t>(shape[1], 0) * std::max<int64_t>(shape[2], 0);
  const float limit = count > 0 ? thresholds[count - 1] : -INFINITY;  // ascending: the last is the largest
  const FreshOutputs fresh{outs, count, n};
  Agglomeration state(fragments, aff, shape, scoring, quantile, init_with_max, limit, threads, &fresh);
  state.write_tables(fragments, n, state.merge_through(thresholds, count), outs, threads);
}

}  // namespace agglo
}  // namespace pytc
