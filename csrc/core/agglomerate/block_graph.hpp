// Blockwise agglomeration: the region graph of one block of a larger volume, and the statistic
// accessors that let blocks' graphs be summed and agglomerated as one (Agglomeration's graph
// constructor, agglomerate.hpp).
//
// A face (v, v - e_d) belongs to the block that holds v, so every face of the volume is counted
// by exactly one block; the block is read with one more plane on each low side (its "low halo",
// absent at the volume's low border) for the faces it owns there. Faces whose two fragments
// differ and are both nonzero add their affinity aff[d, v] to the edge of their pair, as in the
// whole-volume region graph (region_graph.hpp). So for the mean (double sums and counts), max,
// min and the histogram quantiles (bin counts), the blocks' statistics of a pair added together
// are the whole volume's (the mean up to the order of its double additions).
// To number nodes and edges as the whole-volume agglomeration does (in order of first appearance,
// which decides how exactly tied edges merge), each node records the global C-order index of its
// first voxel in the block and each edge the global scan key of its first face: the whole volume
// scans plane by plane, row by row, in a row the z faces, then y, then x, each along x, so
// key(v, d) = ((z * Y + y) * 3 + d) * X + x in global coordinates. The minimum over blocks is the
// whole volume's first appearance.
// Complexity: O(block voxels) with one hash look-up per face between two fragments (a cache of
// the last pair in front). Memory: O(fragments + edges) of the block. Threading: none.
// Layout: fragments (Z, Y, X) and affinities (C >= 3, Z, Y, X) of the block with its low halo,
// C-contiguous.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/agglomerate/pair_map.hpp"
#include "core/agglomerate/region_graph.hpp"
#include "core/agglomerate/scoring.hpp"

namespace pytc {
namespace agglo {

struct BlockGraph {
  explicit BlockGraph(const EdgeStats& empty) : stats(empty) {}

  std::vector<uint64_t> labels;       // node -> label, in order of first appearance in the block
  std::vector<uint64_t> first_voxel;  // node -> global index of its first voxel in the block (max: halo only)
  std::vector<Edge> edges;            // node pairs, u < v
  std::vector<uint64_t> first_face;   // edge -> global scan key of its first face in the block
  EdgeStats stats;                    // not finalized: the raw statistics, as blocks add them (EdgeStats::Raw)
};

// The region graph of the faces the block owns. `shape`: the array's extents (block plus low
// halo); `halo[d]` (0 or 1): whether the array starts one plane before the block along d;
// `origin`: global coordinates of the array's first voxel; `volume`: the volume's extents.
template <typename Label>
BlockGraph block_graph(const Label* fragments, const float* aff, const int64_t shape[3], const int64_t halo[3],
                       const int64_t origin[3], const int64_t volume[3], const EdgeStats& empty) {
  for (int d = 0; d < 3; ++d) {
    if (halo[d] != 0 && halo[d] != 1) {
      throw std::invalid_argument("block_graph: halo[" + std::to_string(d) + "] must be 0 or 1; got " +
                                  std::to_string(halo[d]));
    }
    if (shape[d] < halo[d] || origin[d] < 0 || origin[d] + shape[d] > volume[d]) {
      throw std::invalid_argument("block_graph: the block does not fit in the volume along axis " +
                                  std::to_string(d));
    }
    if (halo[d] == 0 && origin[d] != 0 && shape[d] > 0) {
      throw std::invalid_argument("block_graph: a block that is not at the volume's low border along axis " +
                                  std::to_string(d) + " needs its low halo");
    }
  }
  const int64_t Z = shape[0], Y = shape[1], X = shape[2], n = Z * Y * X;
  BlockGraph graph(empty);
  PairMap nodes(1024), pairs(1024);
  uint64_t last_label = 0;
  uint32_t last_node = PairMap::kNone;
  auto node_of = [&](uint64_t label) -> uint32_t {
    if (label == last_label) return last_node;
    const uint32_t node = nodes.find_or_insert(label, static_cast<uint32_t>(graph.labels.size()));
    if (node == graph.labels.size()) {
      if (graph.labels.size() >= PairMap::kNone - 1) {
        throw std::invalid_argument("block_graph: too many fragments (more than 2^32 - 2)");
      }
      graph.labels.push_back(label);
      graph.first_voxel.push_back(std::numeric_limits<uint64_t>::max());
    }
    last_label = label;
    last_node = node;
    return node;
  };
  uint64_t last_key = PairMap::kEmpty;
  uint32_t last_edge = 0;
  auto edge_of = [&](uint32_t a, uint32_t b, uint64_t face) -> uint32_t {
    const uint64_t key = pair_key(a, b);
    if (key == last_key) return last_edge;
    const uint32_t edge = pairs.find_or_insert(key, static_cast<uint32_t>(graph.edges.size()));
    if (edge == graph.edges.size()) {
      graph.edges.push_back(Edge{static_cast<uint32_t>(key >> 32), static_cast<uint32_t>(key)});
      graph.first_face.push_back(face);
      graph.stats.add_edge();
    }
    last_key = key;
    last_edge = edge;
    return edge;
  };
  const int64_t step[3] = {Y * X, X, 1};
  for (int64_t z = halo[0]; z < Z; ++z) {
    for (int64_t y = halo[1]; y < Y; ++y) {
      const int64_t row = (z * Y + y) * X;
      const uint64_t gz = static_cast<uint64_t>(origin[0] + z), gy = static_cast<uint64_t>(origin[1] + y);
      const uint64_t gx0 = static_cast<uint64_t>(origin[2]);
      const uint64_t VY = static_cast<uint64_t>(volume[1]), VX = static_cast<uint64_t>(volume[2]);
      // the row's voxels: first voxels of their fragments
      for (int64_t x = halo[2]; x < X; ++x) {
        const uint64_t label = static_cast<uint64_t>(fragments[row + x]);
        if (label == 0) continue;
        const uint32_t node = node_of(label);
        if (graph.first_voxel[node] == std::numeric_limits<uint64_t>::max()) {
          graph.first_voxel[node] = (gz * VY + gy) * VX + gx0 + static_cast<uint64_t>(x);
        }
      }
      // its faces: z, then y, then x, each along x (the whole volume's scan order)
      for (int d = 0; d < 3; ++d) {
        const bool has_neighbour = d == 0 ? z > 0 : d == 1 ? y > 0 : true;
        if (!has_neighbour) continue;
        const float* values = aff + d * n + row;
        const int64_t first = std::max<int64_t>(halo[2], d == 2 ? 1 : 0);
        for (int64_t x = first; x < X; ++x) {
          const uint64_t a = static_cast<uint64_t>(fragments[row + x]);
          const uint64_t b = static_cast<uint64_t>(fragments[row + x - step[d]]);
          if (a == b || a == 0 || b == 0) continue;
          const uint64_t face = ((gz * VY + gy) * 3 + static_cast<uint64_t>(d)) * VX + gx0 + static_cast<uint64_t>(x);
          graph.stats.add(edge_of(node_of(a), node_of(b), face), values[x]);
        }
      }
    }
  }
  return graph;
}

}  // namespace agglo
}  // namespace pytc
