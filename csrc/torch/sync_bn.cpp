// Schemas of the synchronized batch-norm ops (torch.ops.pytc.bn_*); the library itself is declared in
// module.cpp. Kernels register per device: cpu/sync_bn_kernel.cpp and cuda/sync_bn_kernel.cu.
//
// Inputs are (N, C, *) tensors. Per-channel statistics and sums are float64 whatever the input
// dtype, so ranks can merge them exactly (Chan et al.'s parallel variance formula).
#include <torch/library.h>

TORCH_LIBRARY_FRAGMENT(pytc, m) {
  // mean and M2 = sum((x - mean)^2) of each channel over N and the spatial axes.
  m.def("bn_stats(Tensor input) -> (Tensor mean, Tensor m2)");
  // (x - mean[c]) * invstd[c] * weight[c] + bias[c]; weight and bias optional.
  m.def("bn_normalize(Tensor input, Tensor mean, Tensor invstd, Tensor? weight, Tensor? bias) -> Tensor");
  // sum(dy) and sum(dy * (x - mean)) of each channel.
  m.def("bn_backward_reduce(Tensor grad_output, Tensor input, Tensor mean) -> (Tensor sum_dy, Tensor sum_dy_xmu)");
  // weight * invstd * (dy - mean_dy - (x - mean) * invstd^2 * mean_dy_xmu), with the global means.
  m.def(
      "bn_backward_elemt(Tensor grad_output, Tensor input, Tensor mean, Tensor invstd, Tensor? weight, "
      "Tensor mean_dy, Tensor mean_dy_xmu) -> Tensor");
}
