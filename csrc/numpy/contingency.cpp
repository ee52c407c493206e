// Binding of core/contingency.hpp. Validation of user input lives in pytc/kernels/_contingency.py;
// the checks here guard the raw pointers against misuse of the private function.
#include "core/contingency.hpp"

#include <memory>
#include <utility>

#include "numpy/common.hpp"
#include "numpy/registry.hpp"

namespace pytc::binding {

namespace {

constexpr const char* kName = "contingency_table";

// A 1D numpy array owning `values` (moved, not copied).
template <typename T>
py::array_t<T> to_numpy(std::vector<T>&& values) {
  auto* owner = new std::vector<T>(std::move(values));
  py::capsule free_when_done(owner, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>({static_cast<py::ssize_t>(owner->size())}, {static_cast<py::ssize_t>(sizeof(T))},
                        owner->data(), free_when_done);
}

py::tuple contingency_table_binding(const py::array& seg, const py::array& gt,
                                    const py::array_t<uint64_t, py::array::c_style | py::array::forcecast>& ignore_seg,
                                    const py::array_t<uint64_t, py::array::c_style | py::array::forcecast>& ignore_gt,
                                    int threads) {
  if (seg.ndim() != gt.ndim() ||
      !std::equal(seg.shape(), seg.shape() + seg.ndim(), gt.shape())) {
    throw py::value_error(std::string(kName) + ": `seg` and `gt` must have the same shape; got " +
                          shape_string(seg) + " and " + shape_string(gt));
  }
  for (const py::array* a : {&seg, &gt}) {
    // numpy writes '=' (or '|') for the native order, and '<' or '>' when given explicitly (zarr does)
    const uint16_t probe = 1;
    const char native = *reinterpret_cast<const uint8_t*>(&probe) == 1 ? '<' : '>';
    const char order = a->dtype().byteorder();
    if ((order == '<' || order == '>') && order != native) {
      throw py::type_error(std::string(kName) + ": labels must be in native byte order; got dtype " +
                           dtype_string(*a));
    }
  }
  const int ndim = static_cast<int>(seg.ndim());
  const std::vector<int64_t> shape(seg.shape(), seg.shape() + ndim);
  const std::vector<int64_t> seg_strides = element_strides(seg, kName, "seg");
  const std::vector<int64_t> gt_strides = element_strides(gt, kName, "gt");
  std::vector<uint64_t> ignore_s(ignore_seg.data(), ignore_seg.data() + ignore_seg.size());
  std::vector<uint64_t> ignore_g(ignore_gt.data(), ignore_gt.data() + ignore_gt.size());
  const bool seg_signed = seg.dtype().kind() == 'i';
  const bool gt_signed = gt.dtype().kind() == 'i';

  ContingencyTable table;
  dispatch_label_width(seg, kName, "seg", [&](auto seg_tag) {
    using S = decltype(seg_tag);
    dispatch_label_width(gt, kName, "gt", [&](auto gt_tag) {
      using G = decltype(gt_tag);
      const auto* s = static_cast<const S*>(seg.data());
      const auto* g = static_cast<const G*>(gt.data());
      py::gil_scoped_release release;
      table = contingency_table(s, g, ndim, shape.data(), seg_strides.data(), gt_strides.data(), seg_signed,
                                gt_signed, std::move(ignore_s), std::move(ignore_g), threads);
    });
  });
  return py::make_tuple(to_numpy(std::move(table.seg_ids)), to_numpy(std::move(table.gt_ids)),
                        to_numpy(std::move(table.counts)));
}

}  // namespace

PYTC_BINDING(contingency) {
  m.def("contingency_table", &contingency_table_binding, py::arg("seg"), py::arg("gt"), py::arg("ignore_seg"),
        py::arg("ignore_gt"), py::arg("threads"),
        "(seg_ids, gt_ids, counts) of the nonzero cells; see pytc.kernels.contingency_table.");
}

}  // namespace pytc::binding
