// Binding of core/agglomerate/block_graph.hpp and of Agglomeration's graph constructor: the
// region graph of one block (its raw statistics as arrays) and the agglomeration of a region
// graph given as arrays (the blocks' graphs summed by pytc.kernels._region_graph).
// Validation of user input lives in pytc/kernels/_region_graph.py; the checks here guard the raw
// pointers.
#include <array>
#include <memory>
#include <vector>

#include <pybind11/stl.h>

#include "core/agglomerate.hpp"
#include "core/agglomerate/block_graph.hpp"

#include "numpy/common.hpp"
#include "numpy/registry.hpp"

namespace pytc::binding {

namespace {

constexpr const char* kName = "block_region_graph";

using Shape = std::array<int64_t, 3>;

agglo::EdgeStats empty_stats(int scoring, int quantile, bool init_with_max, const char* fn) {
  if (scoring < 0 || scoring > 4) throw py::value_error(std::string(fn) + ": unknown scoring code");
  agglo::EdgeStats stats(static_cast<agglo::Scoring>(scoring), quantile, init_with_max);
  if (stats.raw() == agglo::EdgeStats::Raw::None) {
    throw py::value_error(std::string(fn) + ": the exact quantile without init_with_max has no blockwise form");
  }
  return stats;
}

template <typename T>
py::array_t<T> to_array(const std::vector<T>& values) {
  py::array_t<T> out(static_cast<py::ssize_t>(values.size()));
  std::copy(values.begin(), values.end(), out.mutable_data());
  return out;
}

py::dict block_region_graph(const py::array& fragments, const py::array_t<float, py::array::c_style>& affinities,
                            const Shape& halo, const Shape& origin, const Shape& volume, int scoring, int quantile,
                            bool init_with_max) {
  if (fragments.ndim() != 3 || !(fragments.flags() & py::array::c_style)) {
    throw py::value_error(std::string(kName) + ": `fragments` must be 3D and C-contiguous; got shape " +
                          shape_string(fragments));
  }
  if (affinities.ndim() != 4 || affinities.shape(0) < 3 || affinities.shape(1) != fragments.shape(0) ||
      affinities.shape(2) != fragments.shape(1) || affinities.shape(3) != fragments.shape(2)) {
    throw py::value_error(std::string(kName) + ": `affinities` must have shape (C >= 3, *fragments.shape); got " +
                          shape_string(affinities) + " for fragments " + shape_string(fragments));
  }
  const agglo::EdgeStats empty = empty_stats(scoring, quantile, init_with_max, kName);
  const int64_t shape[3] = {fragments.shape(0), fragments.shape(1), fragments.shape(2)};
  std::unique_ptr<agglo::BlockGraph> graph;
  dispatch_label_width(fragments, kName, "fragments", [&](auto tag) {
    using Label = decltype(tag);
    const auto* data = static_cast<const Label*>(fragments.data());
    py::gil_scoped_release release;
    graph = std::make_unique<agglo::BlockGraph>(
        agglo::block_graph(data, affinities.data(), shape, halo.data(), origin.data(), volume.data(), empty));
  });
  const auto n_edges = static_cast<py::ssize_t>(graph->edges.size());
  py::array_t<uint64_t> pairs({n_edges, py::ssize_t{2}});
  auto p = pairs.mutable_unchecked<2>();
  for (py::ssize_t e = 0; e < n_edges; ++e) {
    const uint64_t a = graph->labels[graph->edges[e].u], b = graph->labels[graph->edges[e].v];
    p(e, 0) = std::min(a, b);
    p(e, 1) = std::max(a, b);
  }
  py::dict out;
  out["labels"] = to_array(graph->labels);
  out["first_voxel"] = to_array(graph->first_voxel);
  out["edges"] = pairs;
  out["first_face"] = to_array(graph->first_face);
  const agglo::EdgeStats& stats = graph->stats;
  std::vector<double> sums;
  std::vector<uint64_t> counts;
  std::vector<float> values;
  std::vector<uint64_t> bin_edges;
  std::vector<uint16_t> bins;
  std::vector<uint32_t> bin_counts;
  for (uint32_t e = 0; e < graph->edges.size(); ++e) {
    switch (stats.raw()) {
      case agglo::EdgeStats::Raw::Sum:
        sums.push_back(stats.sum(e));
        counts.push_back(stats.count(e));
        break;
      case agglo::EdgeStats::Raw::Max:
      case agglo::EdgeStats::Raw::Min: values.push_back(stats.single(e)); break;
      default:
        for (const agglo::EdgeStats::Bin& bin : stats.bin_counts(e)) {
          bin_edges.push_back(e);
          bins.push_back(bin.bin);
          bin_counts.push_back(bin.count);
        }
    }
  }
  switch (stats.raw()) {
    case agglo::EdgeStats::Raw::Sum:
      out["sum"] = to_array(sums);
      out["count"] = to_array(counts);
      break;
    case agglo::EdgeStats::Raw::Max: out["max"] = to_array(values); break;
    case agglo::EdgeStats::Raw::Min: out["min"] = to_array(values); break;
    default:
      out["bin_edge"] = to_array(bin_edges);
      out["bin"] = to_array(bins);
      out["bin_count"] = to_array(bin_counts);
  }
  return out;
}

// stats[key] as a C-contiguous array of `size` values of T (converted if needed).
template <typename T>
py::array_t<T, py::array::c_style> column(const py::dict& stats, const char* key, std::size_t size) {
  if (!stats.contains(key)) throw py::value_error(std::string("agglomerate_graph: `stats` needs `") + key + "`");
  auto array = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(stats[key]);
  if (!array || static_cast<std::size_t>(array.size()) != size) {
    throw py::value_error(std::string("agglomerate_graph: `stats['") + key + "']` must have " +
                          std::to_string(size) + " values");
  }
  return array;
}

// Agglomeration of a region graph given as arrays; see pytc.kernels._region_graph.
class PyGraphAgglomeration {
 public:
  PyGraphAgglomeration(const py::array_t<uint64_t, py::array::c_style>& labels,
                       const py::array_t<uint32_t, py::array::c_style>& edges, int scoring, int quantile,
                       bool init_with_max, py::dict stats, float limit) {
    const char* fn = "agglomerate_graph";
    if (edges.ndim() != 2 || edges.shape(1) != 2) {
      throw py::value_error(std::string(fn) + ": `edges` must have shape (E, 2); got " + shape_string(edges));
    }
    agglo::EdgeStats table = empty_stats(scoring, quantile, init_with_max, fn);
    const std::size_t n_edges = static_cast<std::size_t>(edges.shape(0));
    std::vector<agglo::Edge> pairs(n_edges);
    for (std::size_t e = 0; e < n_edges; ++e) {
      pairs[e] = agglo::Edge{edges.at(e, 0), edges.at(e, 1)};
      table.add_edge();
    }
    const agglo::EdgeStats::Raw raw = table.raw();
    if (raw == agglo::EdgeStats::Raw::Sum) {
      const auto sum_array = column<double>(stats, "sum", n_edges);
      const auto count_array = column<uint64_t>(stats, "count", n_edges);
      const double* sums = sum_array.data();
      const uint64_t* counts = count_array.data();
      for (uint32_t e = 0; e < n_edges; ++e) table.add_sum(e, sums[e], counts[e]);
    } else if (raw != agglo::EdgeStats::Raw::Counts) {
      const auto value_array = column<float>(stats, raw == agglo::EdgeStats::Raw::Max ? "max" : "min", n_edges);
      const float* values = value_array.data();
      for (uint32_t e = 0; e < n_edges; ++e) {
        if (raw == agglo::EdgeStats::Raw::Max) table.add_max(e, values[e]); else table.add_min(e, values[e]);
      }
    }
    table.finalize();
    if (raw == agglo::EdgeStats::Raw::Counts) {
      const std::size_t n_bins = stats.contains("bin") ? static_cast<std::size_t>(py::len(stats["bin"])) : 0;
      const auto edge_array = column<uint64_t>(stats, "bin_edge", n_bins);
      const auto bin_array = column<uint16_t>(stats, "bin", n_bins);
      const auto count_array = column<uint32_t>(stats, "bin_count", n_bins);
      const uint64_t* bin_edges = edge_array.data();
      const uint16_t* bins = bin_array.data();
      const uint32_t* counts = count_array.data();
      for (std::size_t i = 0; i < n_bins; ++i) {
        bool sorted = bin_edges[i] < n_edges && bins[i] < agglo::kHistogramBins;
        if (i > 0) {
          sorted = sorted && (bin_edges[i] > bin_edges[i - 1] ||
                              (bin_edges[i] == bin_edges[i - 1] && bins[i] > bins[i - 1]));
        }
        if (!sorted) {
          throw py::value_error(std::string(fn) + ": histogram bins must be sorted by edge, then bin, each once");
        }
        table.add_bin_count(static_cast<uint32_t>(bin_edges[i]), bins[i], counts[i]);
      }
    }
    std::vector<uint64_t> names(labels.data(), labels.data() + labels.size());
    py::gil_scoped_release release;
    impl_ = std::make_unique<agglo::Agglomeration>(std::move(names), std::move(pairs), std::move(table), limit);
  }

  std::size_t merge_until(float threshold) {
    py::gil_scoped_release release;
    return impl_->merge_until(threshold);
  }

  // The label of every node's region (the label of one of its fragments).
  py::array_t<uint64_t> region_labels() {
    std::vector<uint64_t> table = impl_->region_labels();
    table.pop_back();  // the background's entry
    return to_array(table);
  }

 private:
  std::unique_ptr<agglo::Agglomeration> impl_;
};

}  // namespace

PYTC_BINDING(block_graph) {
  m.def("block_region_graph", &block_region_graph, py::arg("fragments"), py::arg("affinities"), py::arg("halo"),
        py::arg("origin"), py::arg("volume"), py::arg("scoring"), py::arg("quantile"), py::arg("init_with_max"),
        "The region graph of the faces one block owns, with raw statistics; see "
        "pytc.kernels._region_graph.block_region_graph.");
  py::class_<PyGraphAgglomeration>(m, "GraphAgglomeration",
                                   "Agglomeration of a region graph given as arrays; see "
                                   "pytc.kernels._region_graph.agglomerate_graph.")
      .def(py::init<const py::array_t<uint64_t, py::array::c_style>&, const py::array_t<uint32_t, py::array::c_style>&,
                    int, int, bool, py::dict, float>(),
           py::arg("labels"), py::arg("edges"), py::arg("scoring"), py::arg("quantile"), py::arg("init_with_max"),
           py::arg("stats"), py::arg("limit"))
      .def("merge_until", &PyGraphAgglomeration::merge_until, py::arg("threshold"),
           "Merges while the cheapest edge scores < threshold; returns the number of merges.")
      .def("region_labels", &PyGraphAgglomeration::region_labels,
           "uint64 (N,): the label of each node's region (the label of one of its fragments).");
}

}  // namespace pytc::binding
