// Binding of core/mutex_watershed.hpp. Validation of user input lives in
// pytc/kernels/_mutex_watershed.py; the checks here guard the raw pointers against misuse of the
// private function.
#include "core/mutex_watershed.hpp"

#include "numpy/common.hpp"
#include "numpy/registry.hpp"

#include <pybind11/stl.h>

namespace pytc::binding {

namespace {

constexpr const char* kName = "mutex_watershed";

const uint8_t* optional_uint8(const py::object& obj, const std::vector<py::ssize_t>& expected, const char* arg) {
  if (obj.is_none()) return nullptr;
  auto array = obj.cast<py::array>();
  if (!array.dtype().equal(py::dtype::of<uint8_t>())) {
    throw py::type_error(std::string(kName) + ": `" + arg + "` must be uint8; got " + dtype_string(array));
  }
  if (!(array.flags() & py::array::c_style)) {
    throw py::value_error(std::string(kName) + ": `" + arg + "` must be C-contiguous");
  }
  if (std::vector<py::ssize_t>(array.shape(), array.shape() + array.ndim()) != expected) {
    throw py::value_error(std::string(kName) + ": `" + arg + "` has shape " + shape_string(array) +
                          "; expected another shape");
  }
  return static_cast<const uint8_t*>(array.data());
}

uint64_t mutex_watershed_binding(const py::array& aff, const py::array_t<int64_t, py::array::c_style>& offsets,
                                 int64_t n_attractive, const py::object& mask_obj, const py::object& keep_obj,
                                 const std::vector<int64_t>& stride, py::array& labels, int threads) {
  if (aff.ndim() != 4) {
    throw py::value_error(std::string(kName) + ": `aff` must be 4D (C, Z, Y, X); got shape " + shape_string(aff));
  }
  if (!aff.dtype().equal(py::dtype::of<float>())) {
    throw py::type_error(std::string(kName) + ": `aff` must be float32; got " + dtype_string(aff));
  }
  if (!(aff.flags() & py::array::c_style)) {
    throw py::value_error(std::string(kName) + ": `aff` must be C-contiguous");
  }
  const int64_t C = aff.shape(0);
  if (offsets.ndim() != 2 || offsets.shape(0) != C || offsets.shape(1) != 3) {
    throw py::value_error(std::string(kName) + ": `offsets` must have shape (C, 3) with C = aff.shape[0]; got " +
                          shape_string(offsets));
  }
  if (stride.size() != 3) {
    throw py::value_error(std::string(kName) + ": `stride` must have 3 entries; got " +
                          std::to_string(stride.size()));
  }
  if (n_attractive < 0 || n_attractive > C) {
    throw py::value_error(std::string(kName) + ": `n_attractive` must be in [0, C]; got " +
                          std::to_string(n_attractive));
  }
  const std::vector<py::ssize_t> volume = {aff.shape(1), aff.shape(2), aff.shape(3)};
  require_c_contiguous_writable(labels, kName, "labels");
  if (!labels.dtype().equal(py::dtype::of<uint64_t>()) ||
      std::vector<py::ssize_t>(labels.shape(), labels.shape() + labels.ndim()) != volume) {
    throw py::value_error(std::string(kName) + ": `labels` must be uint64 of shape aff.shape[1:]; got " +
                          dtype_string(labels) + " " + shape_string(labels));
  }
  const uint8_t* mask = optional_uint8(mask_obj, volume, "mask");
  const std::vector<py::ssize_t> keep_shape = {C - n_attractive, aff.shape(1), aff.shape(2), aff.shape(3)};
  const uint8_t* keep = optional_uint8(keep_obj, keep_shape, "keep");
  const int64_t shape[3] = {aff.shape(1), aff.shape(2), aff.shape(3)};
  static_assert(sizeof(MwsOffset3) == 3 * sizeof(int64_t), "MwsOffset3 must be three packed int64");
  const auto* offset_ptr = reinterpret_cast<const MwsOffset3*>(offsets.data());
  const auto* data = static_cast<const float*>(aff.data());
  auto* out = static_cast<uint64_t*>(labels.mutable_data());
  py::gil_scoped_release release;  // std::invalid_argument from the core becomes ValueError
  return mutex_watershed(data, shape, offset_ptr, C, n_attractive, mask, keep, stride.data(), out, threads);
}

}  // namespace

PYTC_BINDING(mutex_watershed) {
  m.def("mutex_watershed", &mutex_watershed_binding, py::arg("aff"), py::arg("offsets"), py::arg("n_attractive"),
        py::arg("mask"), py::arg("keep"), py::arg("stride"), py::arg("labels"), py::arg("threads"),
        "Fills `labels` in place and returns the number of clusters; see "
        "pytc.kernels.mutex_watershed.");
}

}  // namespace pytc::binding
