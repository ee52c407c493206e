// CPU kernels of the synchronized batch-norm ops (schemas in ../sync_bn.cpp).
//
// The (N, C, S) input is split into tasks of at most kChunk contiguous elements of one (n, c) row;
// each task sums shifted values (x - K, K = its first element) in float64, and tasks of a channel are
// merged with Chan's formula: exact enough for data far from zero (e.g. offset by 1e4) in one pass.
// Tasks run on ATen's thread pool (torch.set_num_threads).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <type_traits>
#include <vector>

namespace pytc {
namespace {

constexpr int64_t kChunk = 1 << 15;

struct Layout {
  int64_t n, c, s;
};

Layout layout_of(const at::Tensor& input, const char* fn) {
  TORCH_CHECK(input.dim() >= 2, fn, ": `input` must be (N, C, *); got ", input.dim(), " dimensions");
  const int64_t n = input.size(0), c = input.size(1);
  const int64_t s = c == 0 || n == 0 ? 0 : input.numel() / (n * c);
  return {n, c, s};
}

at::Tensor channel_vector(const at::Tensor& t, int64_t c, const char* fn, const char* arg) {
  TORCH_CHECK(t.dim() == 1 && t.size(0) == c, fn, ": `", arg, "` must have shape (", c, "); got ", t.sizes());
  return t.to(at::kDouble).contiguous();
}

// Calls f(row, begin, end) for chunks of the rows (n, c) in parallel; rows are n * C + c.
template <typename F>
void for_each_chunk(const Layout& l, F&& f) {
  const int64_t chunks_per_row = (l.s + kChunk - 1) / kChunk;
  const int64_t tasks = l.n * l.c * chunks_per_row;
  at::parallel_for(0, tasks, 1, [&](int64_t first, int64_t last) {
    for (int64_t t = first; t < last; ++t) {
      const int64_t row = t / chunks_per_row, chunk = t % chunks_per_row;
      f(t, row, chunk * kChunk, std::min(l.s, (chunk + 1) * kChunk));
    }
  });
}

std::tuple<at::Tensor, at::Tensor> bn_stats_cpu(const at::Tensor& input_) {
  const Layout l = layout_of(input_, "bn_stats");
  const at::Tensor input = input_.contiguous();
  const int64_t chunks_per_row = (l.s + kChunk - 1) / kChunk;
  std::vector<double> count(l.n * l.c * chunks_per_row), mean(count.size()), m2(count.size());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(), "bn_stats", [&] {
    const scalar_t* x = input.const_data_ptr<scalar_t>();
    for_each_chunk(l, [&](int64_t t, int64_t row, int64_t begin, int64_t end) {
      const scalar_t* p = x + row * l.s;
      const double shift = static_cast<double>(p[begin]);
      double sum = 0, sum2 = 0;
      _Pragma("omp simd reduction(+ : sum, sum2)")  // a pragma cannot sit in AT_DISPATCH's argument
      for (int64_t i = begin; i < end; ++i) {
        const double d = static_cast<double>(p[i]) - shift;
        sum += d;
        sum2 += d * d;
      }
      const double k = static_cast<double>(end - begin);
      count[t] = k;
      mean[t] = shift + sum / k;
      m2[t] = sum2 - sum * sum / k;
    });
  });
  at::Tensor out_mean = at::zeros({l.c}, input.options().dtype(at::kDouble));
  at::Tensor out_m2 = at::zeros({l.c}, input.options().dtype(at::kDouble));
  double* om = out_mean.data_ptr<double>();
  double* o2 = out_m2.data_ptr<double>();
  for (int64_t c = 0; c < l.c; ++c) {  // Chan et al.: merge the tasks of channel c
    double n_total = 0, m = 0, v = 0;
    for (int64_t n = 0; n < l.n; ++n) {
      for (int64_t k = 0; k < chunks_per_row; ++k) {
        const int64_t t = (n * l.c + c) * chunks_per_row + k;
        const double nb = count[t], delta = mean[t] - m, total = n_total + nb;
        m += delta * nb / total;
        v += m2[t] + delta * delta * n_total * nb / total;
        n_total = total;
      }
    }
    om[c] = m;
    o2[c] = v;
  }
  return {out_mean, out_m2};
}

// Per-channel constants of the elementwise ops, in the accumulation type (double for double input,
// float otherwise). The mean is split into hi + lo so that float inputs far from zero are centered
// almost exactly: (x - hi) - lo.
template <typename acc_t>
struct Centered {
  std::vector<acc_t> hi, lo;
  explicit Centered(const std::vector<double>& mean) : hi(mean.size()), lo(mean.size()) {
    for (size_t c = 0; c < mean.size(); ++c) {
      hi[c] = static_cast<acc_t>(mean[c]);
      lo[c] = static_cast<acc_t>(mean[c] - static_cast<double>(hi[c]));
    }
  }
};

template <typename scalar_t>
using acc_type = std::conditional_t<std::is_same_v<scalar_t, double>, double, float>;

template <typename acc_t>
std::vector<acc_t> cast(const std::vector<double>& v) {
  return std::vector<acc_t>(v.begin(), v.end());
}

// out = (u * a[c] if u) + ((x - mean[c]) * j[c]) + d[c] over the (n, c) rows: the normalization
// (no u) and the input gradient (u = dy) alike.
template <typename scalar_t>
void centered_affine(const Layout& l, const scalar_t* u, const std::vector<double>& a, const scalar_t* x,
                     const std::vector<double>& mean, const std::vector<double>& j, const std::vector<double>& d,
                     scalar_t* out) {
  using acc_t = acc_type<scalar_t>;
  const Centered<acc_t> center(mean);
  const auto a_ = cast<acc_t>(a), j_ = cast<acc_t>(j), d_ = cast<acc_t>(d);
  for_each_chunk(l, [&](int64_t, int64_t row, int64_t begin, int64_t end) {
    const int64_t c = row % l.c;
    const acc_t hi = center.hi[c], lo = center.lo[c], jc = j_[c], dc = d_[c];
    const scalar_t* p = x + row * l.s;
    scalar_t* q = out + row * l.s;
    if (u == nullptr) {
#pragma omp simd
      for (int64_t i = begin; i < end; ++i) {
        q[i] = static_cast<scalar_t>(((static_cast<acc_t>(p[i]) - hi) - lo) * jc + dc);
      }
    } else {
      const acc_t ac = a_[c];
      const scalar_t* g = u + row * l.s;
#pragma omp simd
      for (int64_t i = begin; i < end; ++i) {
        q[i] = static_cast<scalar_t>(static_cast<acc_t>(g[i]) * ac + ((static_cast<acc_t>(p[i]) - hi) - lo) * jc + dc);
      }
    }
  });
}

std::vector<double> to_vector(const at::Tensor& t) {
  const double* p = t.data_ptr<double>();
  return std::vector<double>(p, p + t.numel());
}

std::vector<double> weight_or_one(const c10::optional<at::Tensor>& w, int64_t c, const char* fn, const char* arg,
                                  double fill) {
  if (!w.has_value() || !w->defined()) return std::vector<double>(c, fill);
  return to_vector(channel_vector(*w, c, fn, arg));
}

at::Tensor bn_normalize_cpu(const at::Tensor& input_, const at::Tensor& mean_, const at::Tensor& invstd_,
                            const c10::optional<at::Tensor>& weight, const c10::optional<at::Tensor>& bias) {
  const Layout l = layout_of(input_, "bn_normalize");
  const at::Tensor input = input_.contiguous();
  const auto mean = to_vector(channel_vector(mean_, l.c, "bn_normalize", "mean"));
  const auto invstd = to_vector(channel_vector(invstd_, l.c, "bn_normalize", "invstd"));
  const auto w = weight_or_one(weight, l.c, "bn_normalize", "weight", 1.0);
  const auto b = weight_or_one(bias, l.c, "bn_normalize", "bias", 0.0);
  std::vector<double> scale(l.c);
  for (int64_t c = 0; c < l.c; ++c) scale[c] = invstd[c] * w[c];
  at::Tensor out = at::empty_like(input);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(), "bn_normalize", [&] {
    centered_affine<scalar_t>(l, nullptr, {}, input.const_data_ptr<scalar_t>(), mean, scale, b,
                              out.data_ptr<scalar_t>());
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor> bn_backward_reduce_cpu(const at::Tensor& grad_, const at::Tensor& input_,
                                                          const at::Tensor& mean_) {
  const Layout l = layout_of(input_, "bn_backward_reduce");
  TORCH_CHECK(grad_.sizes() == input_.sizes(), "bn_backward_reduce: `grad_output` has shape ", grad_.sizes(),
              "; `input` has ", input_.sizes());
  const at::Tensor input = input_.contiguous(), grad = grad_.contiguous().to(input.scalar_type());
  const auto mean = to_vector(channel_vector(mean_, l.c, "bn_backward_reduce", "mean"));
  const int64_t chunks_per_row = (l.s + kChunk - 1) / kChunk;
  std::vector<double> sum_dy(l.n * l.c * chunks_per_row), sum_dy_xmu(sum_dy.size());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(), "bn_backward_reduce", [&] {
    const scalar_t* x = input.const_data_ptr<scalar_t>();
    const scalar_t* dy = grad.const_data_ptr<scalar_t>();
    for_each_chunk(l, [&](int64_t t, int64_t row, int64_t begin, int64_t end) {
      const double m = mean[row % l.c];
      const scalar_t* p = x + row * l.s;
      const scalar_t* g = dy + row * l.s;
      double a = 0, b = 0;
      _Pragma("omp simd reduction(+ : a, b)")
      for (int64_t i = begin; i < end; ++i) {
        const double gi = static_cast<double>(g[i]);
        a += gi;
        b += gi * (static_cast<double>(p[i]) - m);
      }
      sum_dy[t] = a;
      sum_dy_xmu[t] = b;
    });
  });
  at::Tensor out_dy = at::zeros({l.c}, input.options().dtype(at::kDouble));
  at::Tensor out_dy_xmu = at::zeros({l.c}, input.options().dtype(at::kDouble));
  double* a = out_dy.data_ptr<double>();
  double* b = out_dy_xmu.data_ptr<double>();
  for (int64_t t = 0; t < static_cast<int64_t>(sum_dy.size()); ++t) {
    const int64_t c = (t / chunks_per_row) % l.c;
    a[c] += sum_dy[t];
    b[c] += sum_dy_xmu[t];
  }
  return {out_dy, out_dy_xmu};
}

at::Tensor bn_backward_elemt_cpu(const at::Tensor& grad_, const at::Tensor& input_, const at::Tensor& mean_,
                                 const at::Tensor& invstd_, const c10::optional<at::Tensor>& weight,
                                 const at::Tensor& mean_dy_, const at::Tensor& mean_dy_xmu_) {
  constexpr const char* fn = "bn_backward_elemt";
  const Layout l = layout_of(input_, fn);
  TORCH_CHECK(grad_.sizes() == input_.sizes(), fn, ": `grad_output` has shape ", grad_.sizes(), "; `input` has ",
              input_.sizes());
  const at::Tensor input = input_.contiguous(), grad = grad_.contiguous().to(input.scalar_type());
  const auto mean = to_vector(channel_vector(mean_, l.c, fn, "mean"));
  const auto invstd = to_vector(channel_vector(invstd_, l.c, fn, "invstd"));
  const auto mean_dy = to_vector(channel_vector(mean_dy_, l.c, fn, "mean_dy"));
  const auto mean_dy_xmu = to_vector(channel_vector(mean_dy_xmu_, l.c, fn, "mean_dy_xmu"));
  const auto w = weight_or_one(weight, l.c, fn, "weight", 1.0);
  // grad_in = dy * k + (x - mean) * j - k * mean_dy, with k = w * invstd, j = -k * invstd^2 * mean_dy_xmu
  std::vector<double> k(l.c), j(l.c), shift(l.c);
  for (int64_t c = 0; c < l.c; ++c) {
    k[c] = w[c] * invstd[c];
    j[c] = -k[c] * invstd[c] * invstd[c] * mean_dy_xmu[c];
    shift[c] = -k[c] * mean_dy[c];
  }
  at::Tensor out = at::empty_like(input);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(), fn, [&] {
    centered_affine<scalar_t>(l, grad.const_data_ptr<scalar_t>(), k, input.const_data_ptr<scalar_t>(), mean, j,
                              shift, out.data_ptr<scalar_t>());
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(pytc, CPU, m) {
  m.impl("bn_stats", &bn_stats_cpu);
  m.impl("bn_normalize", &bn_normalize_cpu);
  m.impl("bn_backward_reduce", &bn_backward_reduce_cpu);
  m.impl("bn_backward_elemt", &bn_backward_elemt_cpu);
}

}  // namespace pytc
