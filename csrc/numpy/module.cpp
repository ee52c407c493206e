// pytc._ext: the numpy-facing compiled kernels. No torch headers here.
#include <pybind11/pybind11.h>

#include <string>

#include "core/simd.hpp"
#include "numpy/registry.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace py = pybind11;

#ifndef PYTC_BUILD_FLAGS
#define PYTC_BUILD_FLAGS "unknown"
#endif

static py::dict build_info() {
  py::dict info;
#if defined(__clang__)
  info["compiler"] = "clang " __clang_version__;
#elif defined(__GNUC__)
  info["compiler"] = "gcc " __VERSION__;
#elif defined(_MSC_VER)
  info["compiler"] = "msvc " + std::to_string(_MSC_VER);
#else
  info["compiler"] = "unknown";
#endif
  info["flags"] = PYTC_BUILD_FLAGS;
  info["cplusplus"] = static_cast<long>(__cplusplus);
  info["pybind11"] = std::to_string(PYBIND11_VERSION_MAJOR) + "." + std::to_string(PYBIND11_VERSION_MINOR) +
                     "." + std::to_string(PYBIND11_VERSION_PATCH);
#if defined(_OPENMP)
  info["openmp"] = static_cast<long>(_OPENMP);
#else
  info["openmp"] = py::none();
#endif
  return info;
}

PYBIND11_MODULE(_ext, m) {
  m.doc() = "pytc compiled kernels for numpy arrays (see pytc.kernels for the public API)";
  m.attr("build_info") = build_info();
  m.def(
      "max_threads",
      []() {
#if defined(_OPENMP)
        return omp_get_max_threads();
#else
        return 1;
#endif
      },
      "Threads a kernel uses when `threads` is None (1 in a build without OpenMP).");
  m.def(
      "simd_path", []() { return std::string(pytc::simd_path()); },
      "The SIMD version of the kernels' row loops that runs on this CPU: 'avx2' or 'baseline' (core/simd.hpp).");
  for (auto registration : pytc::binding::registrations()) registration(m);
}
