// The Python module of pytc's torch extension (pytc._C) and the `pytc` op library (torch.ops.pytc.*).
//
// Layout, as torchvision's csrc/ops: this file declares the library once and holds nothing op-specific.
// Each op has <op>.cpp with its schemas (TORCH_LIBRARY_FRAGMENT(pytc, m)) and one file per device,
// cpu/<op>_kernel.cpp and cuda/<op>_kernel.cu, that register its kernels with TORCH_LIBRARY_IMPL.
// Adding an op or a device is adding files: both builds take every source listed by
// pytc/_torch_sources.py (csrc/torch/*.cpp, cpu/*.cpp, autograd/*.cpp, cuda/*.cu).
#include <torch/extension.h>

// The library exists, with no ops of its own: a second TORCH_LIBRARY(pytc) anywhere is an error at load.
TORCH_LIBRARY(pytc, m) {}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "pytc torch ops: importing this module registers them as torch.ops.pytc.*";
#if defined(_OPENMP)
  m.attr("openmp") = true;
#else
  m.attr("openmp") = false;
#endif
}
