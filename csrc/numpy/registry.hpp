// Each binding file registers its functions with PYTC_BINDING(name) { m.def(...); } and
// module.cpp calls every registration when pytc._ext loads: adding a kernel adds a file and
// touches no other binding.
#pragma once

#include <pybind11/pybind11.h>

#include <vector>

namespace pytc::binding {

using Registration = void (*)(pybind11::module_&);

inline std::vector<Registration>& registrations() {
  static std::vector<Registration> all;
  return all;
}

struct Registrar {
  explicit Registrar(Registration r) { registrations().push_back(r); }
};

}  // namespace pytc::binding

#define PYTC_BINDING(name)                                                             \
  static void pytc_register_##name(pybind11::module_& m);                              \
  static const ::pytc::binding::Registrar pytc_registrar_##name(&pytc_register_##name); \
  static void pytc_register_##name(pybind11::module_& m)
