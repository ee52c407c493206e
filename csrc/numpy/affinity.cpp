// Binding of core/affinity.hpp. Validation of user input lives in pytc/kernels/_affinity.py;
// the checks here guard the raw pointers against misuse of the private function.
#include "core/affinity.hpp"

#include "numpy/common.hpp"
#include "numpy/registry.hpp"

namespace pytc::binding {

namespace {

constexpr const char* kName = "seg_to_affinity";

void seg_to_affinity_binding(const py::array& seg,
                             const py::array_t<int64_t, py::array::c_style>& offsets,
                             py::array& aff, const py::object& valid_obj, int threads) {
  if (seg.ndim() != 3) {
    throw py::value_error(std::string(kName) + ": `seg` must be 3D here; got shape " + shape_string(seg));
  }
  if (offsets.ndim() != 2 || offsets.shape(1) != 3) {
    throw py::value_error(std::string(kName) + ": `offsets` must have shape (C, 3); got " +
                          shape_string(offsets));
  }
  const int64_t n_offsets = offsets.shape(0);
  const std::vector<py::ssize_t> expected = {n_offsets, seg.shape(0), seg.shape(1), seg.shape(2)};
  auto check_output = [&](const py::array& out, const char* arg) {
    require_c_contiguous_writable(out, kName, arg);
    if (std::vector<py::ssize_t>(out.shape(), out.shape() + out.ndim()) != expected) {
      throw py::value_error(std::string(kName) + ": `" + arg + "` has shape " + shape_string(out) +
                            "; expected (len(offsets), *seg.shape)");
    }
  };
  check_output(aff, "aff");

  uint8_t* valid = nullptr;
  if (!valid_obj.is_none()) {
    auto valid_array = valid_obj.cast<py::array>();
    check_output(valid_array, "valid");
    if (!valid_array.dtype().equal(py::dtype::of<uint8_t>())) {
      throw py::type_error(std::string(kName) + ": `valid` must be uint8; got " + dtype_string(valid_array));
    }
    valid = static_cast<uint8_t*>(valid_array.mutable_data());
  }

  const int64_t shape[3] = {seg.shape(0), seg.shape(1), seg.shape(2)};
  const std::vector<int64_t> strides = element_strides(seg, kName, "seg");
  const auto* offset_ptr = reinterpret_cast<const Offset3*>(offsets.data());
  static_assert(sizeof(Offset3) == 3 * sizeof(int64_t), "Offset3 must be three packed int64");

  auto run = [&](auto out_tag) {
    using Out = decltype(out_tag);
    Out* out = static_cast<Out*>(aff.mutable_data());
    dispatch_label_width(seg, kName, "seg", [&](auto label_tag) {
      using Label = decltype(label_tag);
      const auto* data = static_cast<const Label*>(seg.data());
      py::gil_scoped_release release;
      seg_to_affinity(data, shape, strides.data(), offset_ptr, n_offsets, out, valid, threads);
    });
  };
  if (aff.dtype().equal(py::dtype::of<float>())) {
    run(float{});
  } else if (aff.dtype().equal(py::dtype::of<uint8_t>())) {
    run(uint8_t{});
  } else {
    throw py::type_error(std::string(kName) + ": `aff` must be float32 or uint8; got " + dtype_string(aff));
  }
}

}  // namespace

PYTC_BINDING(affinity) {
  m.def("seg_to_affinity", &seg_to_affinity_binding, py::arg("seg"), py::arg("offsets"),
        py::arg("aff"), py::arg("valid"), py::arg("threads"),
        "Fills `aff` (and `valid` unless None) in place; see pytc.kernels.seg_to_affinity.");
}

}  // namespace pytc::binding
