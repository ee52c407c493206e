// Standalone check of blockwise agglomeration's core (block_graph.hpp and Agglomeration's graph
// constructor), no Python needed:
//   g++ -std=c++17 -O2 -Wall -Wextra -Werror [-fopenmp] -I csrc csrc/core/tests/test_block_graph.cpp && ./a.out
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <utility>
#include <vector>

#include "core/agglomerate.hpp"
#include "core/agglomerate/block_graph.hpp"
#include "core/tests/check.hpp"

using pytc::agglo::Agglomeration;
using pytc::agglo::BlockGraph;
using pytc::agglo::Edge;
using pytc::agglo::EdgeStats;
using pytc::agglo::Scoring;
using pytc_test::check;

namespace {

constexpr int64_t kZ = 5, kY = 6, kX = 7, kN = kZ * kY * kX;

// The summed statistic of one label pair over blocks.
struct Summed {
  uint64_t first_face = ~uint64_t{0};
  double sum = 0;
  uint64_t count = 0;
  float single = NAN;
  std::map<int, uint64_t> bins;
};

struct Summary {
  std::map<uint64_t, uint64_t> first_voxel;  // label -> first voxel (halo-only fragments left out)
  std::map<std::pair<uint64_t, uint64_t>, Summed> edges;
};

// Adds a block's graph to `summary` as merge_region_graphs does.
void add(Summary& summary, const BlockGraph& graph) {
  for (std::size_t i = 0; i < graph.labels.size(); ++i) {
    if (graph.first_voxel[i] == ~uint64_t{0}) continue;
    auto found = summary.first_voxel.find(graph.labels[i]);
    if (found == summary.first_voxel.end()) summary.first_voxel[graph.labels[i]] = graph.first_voxel[i];
    else found->second = std::min(found->second, graph.first_voxel[i]);
  }
  const EdgeStats& stats = graph.stats;
  for (uint32_t e = 0; e < graph.edges.size(); ++e) {
    const uint64_t a = graph.labels[graph.edges[e].u], b = graph.labels[graph.edges[e].v];
    Summed& s = summary.edges[{std::min(a, b), std::max(a, b)}];
    s.first_face = std::min(s.first_face, graph.first_face[e]);
    switch (stats.raw()) {
      case EdgeStats::Raw::Sum:
        s.sum += stats.sum(e);
        s.count += stats.count(e);
        break;
      case EdgeStats::Raw::Max:
        s.single = std::isnan(s.single) ? stats.single(e) : std::max(s.single, stats.single(e));
        break;
      case EdgeStats::Raw::Min:
        s.single = std::isnan(s.single) ? stats.single(e) : std::min(s.single, stats.single(e));
        break;
      default:
        for (const EdgeStats::Bin& bin : stats.bin_counts(e)) s.bins[bin.bin] += bin.count;
    }
  }
}

bool same(const Summary& a, const Summary& b) {
  if (a.first_voxel != b.first_voxel || a.edges.size() != b.edges.size()) return false;
  for (const auto& [pair, s] : a.edges) {
    const auto found = b.edges.find(pair);
    if (found == b.edges.end()) return false;
    const Summed& t = found->second;
    const bool single_equal = (std::isnan(s.single) && std::isnan(t.single)) || s.single == t.single;
    if (s.first_face != t.first_face || std::abs(s.sum - t.sum) > 1e-9 || s.count != t.count || !single_equal ||
        s.bins != t.bins) {
      return false;
    }
  }
  return true;
}

// The graph of the block [lo, hi) of the volume, read with its low halo.
BlockGraph block(const std::vector<uint32_t>& fragments, const std::vector<float>& aff, const int64_t lo[3],
                 const int64_t hi[3], const EdgeStats& empty) {
  int64_t halo[3], origin[3], shape[3];
  for (int d = 0; d < 3; ++d) {
    halo[d] = lo[d] > 0 ? 1 : 0;
    origin[d] = lo[d] - halo[d];
    shape[d] = hi[d] - origin[d];
  }
  std::vector<uint32_t> frag(static_cast<std::size_t>(shape[0] * shape[1] * shape[2]));
  std::vector<float> block_aff(3 * frag.size());
  std::size_t i = 0;
  for (int64_t z = 0; z < shape[0]; ++z) {
    for (int64_t y = 0; y < shape[1]; ++y) {
      for (int64_t x = 0; x < shape[2]; ++x, ++i) {
        const int64_t v = ((origin[0] + z) * kY + origin[1] + y) * kX + origin[2] + x;
        frag[i] = fragments[v];
        for (int c = 0; c < 3; ++c) block_aff[c * frag.size() + i] = aff[c * kN + v];
      }
    }
  }
  const int64_t volume[3] = {kZ, kY, kX};
  return pytc::agglo::block_graph(frag.data(), block_aff.data(), shape, halo, origin, volume, empty);
}

template <typename F>
bool throws(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument&) {
    return true;
  }
  return false;
}

}  // namespace

int main() {
  // a random volume of few fragments (ties in label pairs, background) and affinities k / 16
  std::vector<uint32_t> fragments(kN);
  std::vector<float> aff(3 * kN);
  uint64_t state = 7;
  auto next = [&]() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(state >> 40);
  };
  for (auto& f : fragments) f = next() % 6;
  for (auto& a : aff) a = static_cast<float>(next() % 17) / 16.0f;
  const std::vector<uint32_t> fragments_copy = fragments;
  const std::vector<float> aff_copy = aff;

  const int64_t whole_lo[3] = {0, 0, 0}, whole_hi[3] = {kZ, kY, kX};
  const std::vector<std::vector<int64_t>> block_shapes = {{2, 3, 4}, {1, 6, 7}, {5, 1, 2}, {3, 4, 1}};
  for (const auto& [scoring, init] : std::vector<std::pair<Scoring, bool>>{
           {Scoring::Mean, true}, {Scoring::Max, true}, {Scoring::Min, true}, {Scoring::Histogram, false}}) {
    const EdgeStats empty(scoring, 50, init);
    const BlockGraph whole_graph = block(fragments, aff, whole_lo, whole_hi, empty);
    check(!whole_graph.edges.empty(), "the volume has edges");
    Summary whole;
    add(whole, whole_graph);
    for (const auto& bs : block_shapes) {
      Summary blocks;
      for (int64_t z = 0; z < kZ; z += bs[0]) {
        for (int64_t y = 0; y < kY; y += bs[1]) {
          for (int64_t x = 0; x < kX; x += bs[2]) {
            const int64_t lo[3] = {z, y, x};
            const int64_t hi[3] = {std::min(z + bs[0], kZ), std::min(y + bs[1], kY), std::min(x + bs[2], kX)};
            add(blocks, block(fragments, aff, lo, hi, empty));
          }
        }
      }
      check(same(blocks, whole), "blocks sum to the whole volume's graph");
    }
  }
  check(fragments == fragments_copy && aff == aff_copy, "inputs not modified");

  // the whole volume's graph (in order of first appearance), agglomerated by the graph constructor,
  // equals the agglomeration of the volume
  for (int scoring = 0; scoring <= 4; ++scoring) {
    const bool init = scoring != 4;  // the histogram from bin counts, the others from one statistic
    const EdgeStats empty(static_cast<Scoring>(scoring), 50, init);
    BlockGraph graph = block(fragments, aff, whole_lo, whole_hi, empty);
    graph.stats.finalize();
    Agglomeration from_graph(graph.labels, graph.edges, graph.stats);
    const int64_t shape[3] = {kZ, kY, kX};
    Agglomeration from_volume(fragments.data(), aff.data(), shape, static_cast<Scoring>(scoring), 50, init);
    for (float threshold : {0.2f, 0.5f, 0.8f}) {
      from_graph.merge_until(threshold);
      from_volume.merge_until(threshold);
      std::vector<uint64_t> expected(kN);
      from_volume.extract(fragments.data(), kN, expected.data(), 1);
      const std::vector<uint64_t> table = from_graph.region_labels();
      std::map<uint64_t, uint64_t> region;
      for (std::size_t i = 0; i < graph.labels.size(); ++i) region[graph.labels[i]] = table[i];
      bool equal = true;
      for (int64_t v = 0; v < kN; ++v) equal = equal && (fragments[v] == 0 ? 0 : region[fragments[v]]) == expected[v];
      check(equal, "graph agglomeration equals the volume's");
    }
  }

  // a tiny graph: 10 -(0.9)- 20 -(0.4)- 30, 40 alone; mean scores 0.1 and 0.6
  {
    EdgeStats stats(Scoring::Mean, 0, true);
    stats.add_edge();
    stats.add_edge();
    stats.add_sum(0, 1.8, 2);
    stats.add_sum(1, 0.4, 1);
    stats.finalize();
    Agglomeration a({10, 20, 30, 40}, {Edge{0, 1}, Edge{1, 2}}, stats);
    check(a.num_nodes() == 4 && a.num_edges() == 2, "four nodes, two edges");
    check(a.merge_until(0.05f) == 0, "nothing below 0.05");
    check(a.merge_until(0.5f) == 1, "one merge below 0.5");
    std::vector<uint64_t> t = a.region_labels();
    check(t.size() == 5 && t[0] == t[1] && (t[0] == 10 || t[0] == 20) && t[2] == 30 && t[3] == 40 && t[4] == 0,
          "10 and 20 merged, named by one of them");
    check(a.merge_until(0.7f) == 1, "then 30");
    t = a.region_labels();
    check(t[0] == t[1] && t[1] == t[2] && t[3] == 40, "10, 20 and 30 merged, 40 alone");
  }
  // histogram bin counts: 1 -> 2 with 3 values in bin 250 and 1 in bin 10: the median is high, merges at 0.1
  {
    EdgeStats stats(Scoring::Histogram, 50, false);
    stats.add_edge();
    stats.finalize();
    stats.add_bin_count(0, 10, 1);
    stats.add_bin_count(0, 250, 3);
    Agglomeration a({1, 2}, {Edge{0, 1}}, stats);
    check(a.merge_until(0.01f) == 0 && a.merge_until(0.1f) == 1, "histogram of bin counts scores its quantile");
  }

  // invalid arguments throw
  {
    const EdgeStats empty(Scoring::Mean, 0, true);
    const int64_t shape[3] = {2, 2, 2}, volume[3] = {4, 4, 4}, zero[3] = {0, 0, 0}, one[3] = {1, 0, 0};
    const int64_t bad_halo[3] = {2, 0, 0}, far[3] = {3, 0, 0};
    const uint32_t frag[8] = {1, 2, 1, 2, 1, 2, 1, 2};
    const float a[24] = {};
    check(throws([&] { pytc::agglo::block_graph(frag, a, shape, bad_halo, one, volume, empty); }), "halo 2 throws");
    check(throws([&] { pytc::agglo::block_graph(frag, a, shape, zero, one, volume, empty); }),
          "a block inside the volume without its low halo throws");
    check(throws([&] { pytc::agglo::block_graph(frag, a, shape, one, far, volume, empty); }),
          "a block past the volume's end throws");
    check(!throws([&] { pytc::agglo::block_graph(frag, a, shape, one, one, volume, empty); }), "a valid block");

    EdgeStats two(Scoring::Mean, 0, true);
    two.add_edge();
    two.add_edge();
    two.add_sum(0, 0.5, 1);
    two.add_sum(1, 0.5, 1);
    two.finalize();
    check(throws([&] { Agglomeration({1, 2, 3}, {Edge{0, 1}}, two); }), "one statistic per edge");
    check(throws([&] { Agglomeration({1, 2, 3}, {Edge{1, 0}, Edge{1, 2}}, two); }), "edges need u < v");
    check(throws([&] { Agglomeration({1, 2, 3}, {Edge{0, 1}, Edge{1, 3}}, two); }), "edges need v < nodes");
    check(throws([&] { Agglomeration({1, 2, 3}, {Edge{0, 1}, Edge{0, 1}}, two); }), "a repeated pair throws");
    check(throws([&] { Agglomeration({1, 2, 3}, {Edge{0, 1}, Edge{1, 2}}, two, NAN); }), "a NaN limit throws");
    Agglomeration limited({1, 2, 3}, {Edge{0, 1}, Edge{1, 2}}, two, 0.5f);
    check(throws([&] { limited.merge_until(0.6f); }), "merging above the limit throws");
  }

  return pytc_test::report("block_graph");
}
