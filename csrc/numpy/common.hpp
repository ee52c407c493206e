// Helpers shared by the numpy bindings: argument checks and dtype dispatch.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

namespace pytc::binding {

namespace py = pybind11;

inline std::string shape_string(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t d = 0; d < a.ndim(); ++d) {
    s += std::to_string(a.shape(d)) + (a.ndim() == 1 || d + 1 < a.ndim() ? "," : "");
    if (d + 1 < a.ndim()) s += " ";
  }
  return s + ")";
}

inline std::string dtype_string(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

// Element strides of `a` (numpy stores byte strides); rejects strides that are not a whole
// number of elements.
inline std::vector<int64_t> element_strides(const py::array& a, const char* fn, const char* arg) {
  std::vector<int64_t> out(a.ndim());
  for (py::ssize_t d = 0; d < a.ndim(); ++d) {
    if (a.strides(d) % a.itemsize() != 0) {
      throw py::value_error(std::string(fn) + ": `" + arg +
                            "` must have strides that are multiples of its item size; got stride " +
                            std::to_string(a.strides(d)) + " bytes for item size " +
                            std::to_string(a.itemsize()));
    }
    out[d] = a.strides(d) / a.itemsize();
  }
  return out;
}

inline bool is_integer(const py::array& a) {
  const char kind = a.dtype().kind();
  return kind == 'i' || kind == 'u';
}

// Calls f(T{}) with T the unsigned integer type of the array's item size. Label kernels that only
// compare labels for equality and against 0 need no more than the width: signedness and byte
// order do not change the result.
template <typename F>
void dispatch_label_width(const py::array& a, const char* fn, const char* arg, F&& f) {
  if (!is_integer(a)) {
    throw py::type_error(std::string(fn) + ": `" + arg +
                         "` must be an integer array (uint8/16/32/64 or int8/16/32/64); got dtype " +
                         dtype_string(a));
  }
  switch (a.itemsize()) {
    case 1: return f(uint8_t{});
    case 2: return f(uint16_t{});
    case 4: return f(uint32_t{});
    case 8: return f(uint64_t{});
    default:
      throw py::type_error(std::string(fn) + ": `" + arg + "` has unsupported dtype " + dtype_string(a));
  }
}

inline void require_c_contiguous_writable(const py::array& a, const char* fn, const char* arg) {
  if (!(a.flags() & py::array::c_style)) {
    throw py::value_error(std::string(fn) + ": `" + arg + "` must be C-contiguous");
  }
  if (!a.writeable()) {
    throw py::value_error(std::string(fn) + ": `" + arg + "` must be writable");
  }
}

}  // namespace pytc::binding
