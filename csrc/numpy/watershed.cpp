// Binding of core/watershed.hpp. Validation of user input lives in pytc/kernels/_watershed.py;
// the checks here guard the raw pointers against misuse of the private function.
#include "core/watershed.hpp"

#include "numpy/common.hpp"
#include "numpy/registry.hpp"

namespace pytc::binding {

namespace {

constexpr const char* kName = "watershed";

py::tuple watershed_binding(const py::array& aff, const py::object& mask_obj,
                            double low, double high, uint64_t size_threshold, double weight_threshold,
                            uint64_t dust, py::array& out, int threads) {
  if (aff.ndim() != 4 || aff.shape(0) < 3) {
    throw py::value_error(std::string(kName) + ": `affinities` must have shape (C >= 3, Z, Y, X); got " +
                          shape_string(aff));
  }
  if (!aff.dtype().equal(py::dtype::of<float>()) || !(aff.flags() & py::array::c_style)) {
    throw py::type_error(std::string(kName) + ": `affinities` must be a C-contiguous float32 array; got " +
                         dtype_string(aff));
  }
  const int64_t shape[3] = {aff.shape(1), aff.shape(2), aff.shape(3)};
  const uint8_t* mask = nullptr;
  py::array mask_array;
  if (!mask_obj.is_none()) {
    mask_array = mask_obj.cast<py::array>();
    if (!mask_array.dtype().equal(py::dtype::of<uint8_t>()) || !(mask_array.flags() & py::array::c_style)) {
      throw py::type_error(std::string(kName) + ": `mask` must be a C-contiguous uint8 array; got " +
                           dtype_string(mask_array));
    }
    if (mask_array.ndim() != 3 || mask_array.shape(0) != shape[0] || mask_array.shape(1) != shape[1] ||
        mask_array.shape(2) != shape[2]) {
      throw py::value_error(std::string(kName) + ": `mask` must have shape (Z, Y, X) of the affinities; got " +
                            shape_string(mask_array));
    }
    mask = static_cast<const uint8_t*>(mask_array.data());
  }
  require_c_contiguous_writable(out, kName, "out");
  if (!out.dtype().equal(py::dtype::of<uint64_t>()) || out.ndim() != 3 || out.shape(0) != shape[0] ||
      out.shape(1) != shape[1] || out.shape(2) != shape[2]) {
    throw py::value_error(std::string(kName) + ": `out` must be uint64 of shape (Z, Y, X) of the affinities; got " +
                          dtype_string(out) + " " + shape_string(out));
  }
  auto* out_ptr = static_cast<uint64_t*>(out.mutable_data());
  const float* aff_ptr = static_cast<const float*>(aff.data());
  WatershedStats stats;
  {
    py::gil_scoped_release release;
    stats = watershed(aff_ptr, shape, mask, low, high, size_threshold, weight_threshold, dust, out_ptr, threads);
  }
  py::dict info;
  info["basins"] = stats.basins;
  info["region_edges"] = stats.region_edges;
  info["fragments"] = stats.fragments;
  info["dust_voxels"] = stats.dust_voxels;
  return py::make_tuple(info, stats.outside_seen);
}

}  // namespace

PYTC_BINDING(watershed) {
  m.def("watershed", &watershed_binding, py::arg("affinities"), py::arg("mask"), py::arg("low"), py::arg("high"),
        py::arg("size_threshold"), py::arg("weight_threshold"), py::arg("dust"), py::arg("out"), py::arg("threads"),
        "Writes the fragments into `out` and returns (stats, outside_seen); see pytc.kernels._watershed.watershed.");
}

}  // namespace pytc::binding
