// Binding of core/value_range.hpp. pytc/kernels/_validation.py turns a found position into the
// user's error; the checks here guard the raw pointer against misuse of the private function.
#include "core/value_range.hpp"

#include "numpy/common.hpp"
#include "numpy/registry.hpp"

namespace pytc::binding {

namespace {

int64_t first_outside_binding(const py::array& values, double lo, double hi, int threads) {
  if (!values.dtype().equal(py::dtype::of<float>()) || !(values.flags() & py::array::c_style)) {
    throw py::type_error("first_outside: `values` must be a C-contiguous float32 array; got " +
                         dtype_string(values));
  }
  const float* data = static_cast<const float*>(values.data());
  const int64_t n = static_cast<int64_t>(values.size());
  py::gil_scoped_release release;
  return first_outside(data, n, static_cast<float>(lo), static_cast<float>(hi), threads);
}

}  // namespace

PYTC_BINDING(value_range) {
  m.def("first_outside", &first_outside_binding, py::arg("values"), py::arg("lo"), py::arg("hi"),
        py::arg("threads"), "Flat index of the first value outside [lo, hi] or NaN, or -1.");
}

}  // namespace pytc::binding
