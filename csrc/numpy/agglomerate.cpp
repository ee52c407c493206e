// Binding of core/agglomerate.hpp: agglomerate_into (all thresholds at once, the segmentations
// written in one pass) and a class holding one agglomeration, so that Python can extract a
// segmentation after each threshold (one merging pass for all thresholds).
// Validation of user input lives in pytc/kernels/_agglomerate.py; the checks here guard the
// raw pointers against misuse of the private class.
#include <memory>
#include <vector>

#include <pybind11/stl.h>

#include "core/agglomerate.hpp"

#include "numpy/common.hpp"
#include "numpy/registry.hpp"

namespace pytc::binding {

namespace {

constexpr const char* kName = "agglomerate";

void check_inputs(const py::array& fragments, const py::array_t<float, py::array::c_style>& affinities, int scoring) {
  if (fragments.ndim() != 3) {
    throw py::value_error(std::string(kName) + ": `fragments` must be 3D; got shape " + shape_string(fragments));
  }
  if (!(fragments.flags() & py::array::c_style)) {
    throw py::value_error(std::string(kName) + ": `fragments` must be C-contiguous");
  }
  if (affinities.ndim() != 4 || affinities.shape(0) < 3 || affinities.shape(1) != fragments.shape(0) ||
      affinities.shape(2) != fragments.shape(1) || affinities.shape(3) != fragments.shape(2)) {
    throw py::value_error(std::string(kName) + ": `affinities` must have shape (C >= 3, *fragments.shape); got " +
                          shape_string(affinities) + " for fragments " + shape_string(fragments));
  }
  if (scoring < 0 || scoring > 4) {
    throw py::value_error(std::string(kName) + ": unknown scoring code " + std::to_string(scoring));
  }
}

// Pointers to the uint64 outputs, one per threshold, each with n values.
std::vector<uint64_t*> output_pointers(const std::vector<py::array>& outs, std::size_t count, int64_t n) {
  if (outs.size() != count) {
    throw py::value_error(std::string(kName) + ": one `out` array per threshold is needed; got " +
                          std::to_string(outs.size()) + " for " + std::to_string(count) + " thresholds");
  }
  std::vector<uint64_t*> dst;
  for (const py::array& out : outs) {
    py::array array = out;
    require_c_contiguous_writable(array, kName, "out");
    if (!array.dtype().equal(py::dtype::of<uint64_t>()) || array.size() != n) {
      throw py::value_error(std::string(kName) + ": `out` must be uint64 with one value per voxel");
    }
    dst.push_back(static_cast<uint64_t*>(array.mutable_data()));
  }
  return dst;
}

class PyAgglomeration {
 public:
  PyAgglomeration(const py::array& fragments, const py::array_t<float, py::array::c_style>& affinities,
                  int scoring, int quantile, bool init_with_max, float limit, int threads)
      : fragments_(fragments) {
    check_inputs(fragments, affinities, scoring);
    const int64_t shape[3] = {fragments.shape(0), fragments.shape(1), fragments.shape(2)};
    n_ = shape[0] * shape[1] * shape[2];
    const float* aff = affinities.data();
    dispatch_label_width(fragments, kName, "fragments", [&](auto tag) {
      using Label = decltype(tag);
      const auto* data = static_cast<const Label*>(fragments.data());
      py::gil_scoped_release release;
      impl_ = std::make_unique<agglo::Agglomeration>(data, aff, shape, static_cast<agglo::Scoring>(scoring),
                                                     quantile, init_with_max, limit, threads);
    });
  }

  std::size_t merge_until(float threshold) {
    py::gil_scoped_release release;
    return impl_->merge_until(threshold);
  }

  void extract(py::array& out, int threads) {
    require_c_contiguous_writable(out, kName, "out");
    if (!out.dtype().equal(py::dtype::of<uint64_t>()) || out.size() != n_) {
      throw py::value_error(std::string(kName) + ": `out` must be uint64 with one value per voxel");
    }
    auto* dst = static_cast<uint64_t*>(out.mutable_data());
    dispatch_label_width(fragments_, kName, "fragments", [&](auto tag) {
      using Label = decltype(tag);
      const auto* data = static_cast<const Label*>(fragments_.data());
      py::gil_scoped_release release;
      impl_->extract(data, n_, dst, threads);
    });
  }

  std::size_t num_nodes() const { return impl_->num_nodes(); }
  std::size_t num_edges() const { return impl_->num_edges(); }

  // From now on, every merge is recorded (see history()).
  void record_history() { impl_->record_history(&history_); }

  // The merges recorded so far, in order: (M, 2) uint64 labels (into, from) of the two regions'
  // root fragments (the region of `from` joined that of `into`, which keeps its label) and (M,)
  // float32 scores.
  py::tuple history() const {
    const auto m = static_cast<py::ssize_t>(history_.size());
    py::array_t<uint64_t> pairs({m, py::ssize_t{2}});
    py::array_t<float> scores(m);
    auto p = pairs.mutable_unchecked<2>();
    auto s = scores.mutable_unchecked<1>();
    for (py::ssize_t i = 0; i < m; ++i) {
      const agglo::Merge& merge = history_[static_cast<std::size_t>(i)];
      p(i, 0) = merge.into;
      p(i, 1) = merge.from;
      s(i) = merge.score;
    }
    return py::make_tuple(pairs, scores);
  }

 private:
  py::array fragments_;  // kept alive (and unmodified) for extract()
  int64_t n_ = 0;
  std::unique_ptr<agglo::Agglomeration> impl_;
  std::vector<agglo::Merge> history_;  // filled by impl_ once record_history() was called
};

// The whole agglomeration into `outs` (one uint64 array per ascending threshold; see core
// agglomerate()).
void agglomerate_into(const py::array& fragments, const py::array_t<float, py::array::c_style>& affinities,
                      int scoring, int quantile, bool init_with_max, const std::vector<float>& thresholds,
                      const std::vector<py::array>& outs, int threads) {
  check_inputs(fragments, affinities, scoring);
  const int64_t shape[3] = {fragments.shape(0), fragments.shape(1), fragments.shape(2)};
  const std::vector<uint64_t*> dst = output_pointers(outs, thresholds.size(), shape[0] * shape[1] * shape[2]);
  const float* aff = affinities.data();
  dispatch_label_width(fragments, kName, "fragments", [&](auto tag) {
    using Label = decltype(tag);
    const auto* data = static_cast<const Label*>(fragments.data());
    py::gil_scoped_release release;
    agglo::agglomerate(data, aff, shape, static_cast<agglo::Scoring>(scoring), quantile, init_with_max,
                       thresholds.data(), dst.data(), static_cast<int>(dst.size()), threads);
  });
}

}  // namespace

PYTC_BINDING(agglomerate) {
  m.def("agglomerate_into", &agglomerate_into, py::arg("fragments"), py::arg("affinities"), py::arg("scoring"),
        py::arg("quantile"), py::arg("init_with_max"), py::arg("thresholds"), py::arg("outs"), py::arg("threads"),
        "Agglomerates and writes the segmentation of each ascending threshold into `outs` (uint64, one per "
        "threshold); see pytc.kernels._agglomerate.agglomerate.");
  py::class_<PyAgglomeration>(m, "Agglomeration",
                              "Region graph and merge state; see pytc.kernels._agglomerate.iter_agglomerate.")
      .def(py::init<const py::array&, const py::array_t<float, py::array::c_style>&, int, int, bool, float, int>(),
           py::arg("fragments"), py::arg("affinities"), py::arg("scoring"), py::arg("quantile"),
           py::arg("init_with_max"), py::arg("limit"), py::arg("threads"),
           "Builds the region graph on `threads` threads; merge_until accepts thresholds up to `limit` (edges "
           "scoring at least `limit` are never queued).")
      .def("merge_until", &PyAgglomeration::merge_until, py::arg("threshold"),
           "Merges while the cheapest edge scores < threshold; returns the number of merges.")
      .def("extract", &PyAgglomeration::extract, py::arg("out"), py::arg("threads"),
           "Writes the current segmentation (uint64, region = label of one of its fragments) into `out`.")
      .def("record_history", &PyAgglomeration::record_history,
           "Records every later merge; see history().")
      .def("history", &PyAgglomeration::history,
           "The merges recorded so far, in order: ((M, 2) uint64 labels (into, from) of the root fragments of "
           "the two regions, the region of `from` joining that of `into`, which keeps its label; (M,) float32 "
           "scores).")
      .def_property_readonly("num_nodes", &PyAgglomeration::num_nodes)
      .def_property_readonly("num_edges", &PyAgglomeration::num_edges);
}

}  // namespace pytc::binding
