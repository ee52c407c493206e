// CUDA kernels of the synchronized batch-norm ops (schemas in ../sync_bn.cpp).
//
// Reductions: a (C, B) grid, block (c, b) sums a strided share of channel c's rows in float64 (values
// shifted by the channel's first element, so data far from zero keep their precision) and adds its
// block total to the channel's result with atomicAdd (float64 atomics: sm_60 and newer).
// Elementwise ops: one thread per element, y = a[c] * u + b[c] * v + d[c] with per-channel constants.
// Only c10's CUDA headers: ATen/cuda/CUDAContext.h would also need the cuBLAS/cuSPARSE headers.
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <ATen/ATen.h>
#include <torch/library.h>

#include <type_traits>

namespace pytc {
namespace {

constexpr int kThreads = 256;

__device__ double block_sum(double v, double* shared) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = threadIdx.x < blockDim.x / 32 ? shared[threadIdx.x] : 0.0;
  if (warp == 0) {
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  }
  __syncthreads();
  return v;
}

// sums[c] += sum(u), sums[C + c] += sum(u * u) with u = x - shift[c]   (mode 0, statistics), or
// sums[c] += sum(dy), sums[C + c] += sum(dy * (x - shift[c]))           (mode 1, backward sums).
template <typename scalar_t>
__global__ void channel_sums(const scalar_t* x, const scalar_t* dy, const double* shift, int64_t n, int64_t c_count,
                             int64_t s, double* sums) {
  __shared__ double shared[kThreads / 32];
  const int64_t c = blockIdx.x;
  const double k = shift[c];
  double a = 0, b = 0;
  for (int64_t row = 0; row < n; ++row) {
    const int64_t base = (row * c_count + c) * s;
    for (int64_t i = blockIdx.y * blockDim.x + threadIdx.x; i < s; i += gridDim.y * blockDim.x) {
      const double u = static_cast<double>(x[base + i]) - k;
      if (dy == nullptr) {
        a += u;
        b += u * u;
      } else {
        const double g = static_cast<double>(dy[base + i]);
        a += g;
        b += g * u;
      }
    }
  }
  a = block_sum(a, shared);
  b = block_sum(b, shared);
  if (threadIdx.x == 0) {
    atomicAdd(sums + c, a);
    atomicAdd(sums + c_count + c, b);
  }
}

// out = (u * a[c] if u) + ((x - hi[c]) - lo[c]) * j[c] + d[c], with the mean split into hi + lo so
// that float inputs far from zero are centered almost exactly. acc_t: double for double, else float.
template <typename scalar_t, typename acc_t>
__global__ void centered_affine(const scalar_t* u, const acc_t* a, const scalar_t* x, const acc_t* hi,
                                const acc_t* lo, const acc_t* j, const acc_t* d, int64_t numel, int64_t c_count,
                                int64_t s, scalar_t* out) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < numel;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t c = (i / s) % c_count;
    acc_t y = ((static_cast<acc_t>(x[i]) - hi[c]) - lo[c]) * j[c] + d[c];
    if (u != nullptr) y += static_cast<acc_t>(u[i]) * a[c];
    out[i] = static_cast<scalar_t>(y);
  }
}

struct Layout {
  int64_t n, c, s;
};

Layout layout_of(const at::Tensor& input, const char* fn) {
  TORCH_CHECK(input.dim() >= 2, fn, ": `input` must be (N, C, *); got ", input.dim(), " dimensions");
  TORCH_CHECK(input.is_cuda(), fn, ": `input` must be a CUDA tensor");
  const int64_t n = input.size(0), c = input.size(1);
  return {n, c, c == 0 || n == 0 ? 0 : input.numel() / (n * c)};
}

at::Tensor channel_vector(const at::Tensor& t, int64_t c, const char* fn, const char* arg) {
  TORCH_CHECK(t.dim() == 1 && t.size(0) == c, fn, ": `", arg, "` must have shape (", c, "); got ", t.sizes());
  return t.to(at::kDouble).contiguous();
}

dim3 reduction_grid(const Layout& l) {
  const int64_t per_channel = (l.s + kThreads - 1) / kThreads;
  return dim3(static_cast<unsigned>(l.c), static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(per_channel, 64))));
}

unsigned elementwise_blocks(int64_t numel) {
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>((numel + kThreads - 1) / kThreads, 65535)));
}

// Per-channel sums as a (2, C) float64 tensor (see channel_sums).
at::Tensor sums(const at::Tensor& x, const at::Tensor* dy, const at::Tensor& shift, const Layout& l) {
  at::Tensor out = at::zeros({2, l.c}, x.options().dtype(at::kDouble));
  if (l.c == 0 || l.n == 0 || l.s == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "pytc_channel_sums", [&] {
    channel_sums<scalar_t><<<reduction_grid(l), kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        x.const_data_ptr<scalar_t>(), dy ? dy->const_data_ptr<scalar_t>() : nullptr, shift.const_data_ptr<double>(),
        l.n, l.c, l.s, out.data_ptr<double>());
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

// See centered_affine; a, mean, j and d are float64 (C) tensors, u may be null.
at::Tensor affine(const at::Tensor* u, const at::Tensor& a, const at::Tensor& x, const at::Tensor& mean,
                  const at::Tensor& j, const at::Tensor& d, const Layout& l) {
  at::Tensor out = at::empty_like(x);
  if (x.numel() == 0) return out;
  const auto acc = x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const at::Tensor hi = mean.to(acc).contiguous(), lo = (mean - hi.to(at::kDouble)).to(acc).contiguous();
  const at::Tensor a_ = a.to(acc).contiguous(), j_ = j.to(acc).contiguous(), d_ = d.to(acc).contiguous();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "pytc_centered_affine", [&] {
    using acc_t = std::conditional_t<std::is_same_v<scalar_t, double>, double, float>;
    centered_affine<scalar_t, acc_t><<<elementwise_blocks(x.numel()), kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        u ? u->const_data_ptr<scalar_t>() : nullptr, a_.const_data_ptr<acc_t>(), x.const_data_ptr<scalar_t>(),
        hi.const_data_ptr<acc_t>(), lo.const_data_ptr<acc_t>(), j_.const_data_ptr<acc_t>(), d_.const_data_ptr<acc_t>(),
        x.numel(), l.c, l.s, out.data_ptr<scalar_t>());
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

std::tuple<at::Tensor, at::Tensor> bn_stats_cuda(const at::Tensor& input_) {
  const Layout l = layout_of(input_, "bn_stats");
  const c10::cuda::CUDAGuard guard(input_.device());
  const at::Tensor input = input_.contiguous();
  // Shift each channel by its first element: input[0, c, 0, ...] (0 for empty input).
  at::Tensor shift = l.n && l.s ? input.reshape({l.n, l.c, l.s}).select(0, 0).select(1, 0).to(at::kDouble)
                                : at::zeros({l.c}, input.options().dtype(at::kDouble));
  shift = shift.contiguous();
  const at::Tensor s = sums(input, nullptr, shift, l);
  const double count = static_cast<double>(l.n * l.s);
  if (count == 0) return {at::zeros_like(shift), at::zeros_like(shift)};
  const at::Tensor sum = s[0], sum2 = s[1];
  return {shift + sum / count, sum2 - sum * sum / count};
}

at::Tensor bn_normalize_cuda(const at::Tensor& input_, const at::Tensor& mean, const at::Tensor& invstd,
                             const c10::optional<at::Tensor>& weight, const c10::optional<at::Tensor>& bias) {
  const Layout l = layout_of(input_, "bn_normalize");
  const c10::cuda::CUDAGuard guard(input_.device());
  const at::Tensor input = input_.contiguous();
  at::Tensor scale = channel_vector(invstd, l.c, "bn_normalize", "invstd");
  if (weight.has_value() && weight->defined()) scale = scale * channel_vector(*weight, l.c, "bn_normalize", "weight");
  const at::Tensor shift = bias.has_value() && bias->defined() ? channel_vector(*bias, l.c, "bn_normalize", "bias")
                                                               : at::zeros_like(scale);
  return affine(nullptr, scale, input, channel_vector(mean, l.c, "bn_normalize", "mean"), scale, shift, l);
}

std::tuple<at::Tensor, at::Tensor> bn_backward_reduce_cuda(const at::Tensor& grad, const at::Tensor& input_,
                                                           const at::Tensor& mean) {
  const Layout l = layout_of(input_, "bn_backward_reduce");
  TORCH_CHECK(grad.sizes() == input_.sizes(), "bn_backward_reduce: `grad_output` has shape ", grad.sizes(),
              "; `input` has ", input_.sizes());
  const c10::cuda::CUDAGuard guard(input_.device());
  const at::Tensor input = input_.contiguous(), dy = grad.contiguous().to(input.scalar_type());
  const at::Tensor s = sums(input, &dy, channel_vector(mean, l.c, "bn_backward_reduce", "mean"), l);
  return {s[0], s[1]};
}

at::Tensor bn_backward_elemt_cuda(const at::Tensor& grad, const at::Tensor& input_, const at::Tensor& mean,
                                  const at::Tensor& invstd, const c10::optional<at::Tensor>& weight,
                                  const at::Tensor& mean_dy, const at::Tensor& mean_dy_xmu) {
  constexpr const char* fn = "bn_backward_elemt";
  const Layout l = layout_of(input_, fn);
  TORCH_CHECK(grad.sizes() == input_.sizes(), fn, ": `grad_output` has shape ", grad.sizes(), "; `input` has ",
              input_.sizes());
  const c10::cuda::CUDAGuard guard(input_.device());
  const at::Tensor input = input_.contiguous(), dy = grad.contiguous().to(input.scalar_type());
  const at::Tensor is = channel_vector(invstd, l.c, fn, "invstd");
  at::Tensor k = is;
  if (weight.has_value() && weight->defined()) k = k * channel_vector(*weight, l.c, fn, "weight");
  const at::Tensor j = -k * is * is * channel_vector(mean_dy_xmu, l.c, fn, "mean_dy_xmu");
  const at::Tensor shift = -k * channel_vector(mean_dy, l.c, fn, "mean_dy");
  return affine(&dy, k, input, channel_vector(mean, l.c, fn, "mean"), j, shift, l);
}

}  // namespace

TORCH_LIBRARY_IMPL(pytc, CUDA, m) {
  m.impl("bn_stats", &bn_stats_cuda);
  m.impl("bn_normalize", &bn_normalize_cuda);
  m.impl("bn_backward_reduce", &bn_backward_reduce_cuda);
  m.impl("bn_backward_elemt", &bn_backward_elemt_cuda);
}

}  // namespace pytc
