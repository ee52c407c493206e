"""SyncBatchNorm across processes against BatchNorm on the concatenated batch, and its compiled ops.

The CPU tests run everywhere (gloo). The CUDA tests (marked `cuda`) run where torch sees a GPU: the CUDA
kernels against the CPU ones, the module against torch's BatchNorm on the GPU, and ranks exchanging CUDA
tensors (gloo on one GPU; NCCL when there are two)."""

import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from pytc._torch_ext import load_ops, status
from pytc.models import SyncBatchNorm, convert_sync_batchnorm
from pytc.models.sync_bn import TorchOps, _SyncBatchNormFunction, merge_statistics
from pytc.testing import fail_in_ci_else_skip

C = 3
SPATIAL = (4, 5, 6)


def global_batch(sizes, offset, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(sum(sizes), C, *SPATIAL, generator=g, dtype=torch.float64) * 2 + offset
    dy = torch.randn(x.shape, generator=g, dtype=torch.float64)
    weight = torch.rand(C, generator=g, dtype=torch.float64) + 0.5
    bias = torch.rand(C, generator=g, dtype=torch.float64) - 0.5
    return x, dy, weight, bias


def make_bn(weight, bias, **kwargs):
    bn = SyncBatchNorm(C, momentum=0.3, **kwargs).double()
    with torch.no_grad():
        bn.weight.copy_(weight)
        bn.bias.copy_(bias)
    return bn


def worker(rank, world, init_file, out_dir, cases, backend="gloo", device="cpu"):
    if device == "cuda":
        device = f"cuda:{rank % torch.cuda.device_count()}"  # NCCL needs one GPU per rank; gloo shares one
        torch.cuda.set_device(device)
    dist.init_process_group(backend, init_method=f"file://{init_file}", rank=rank, world_size=world)
    results = []
    for sizes, offset, use_compiled in cases:
        x, dy, weight, bias = (t.to(device) for t in global_batch(sizes, offset))
        start = sum(sizes[:rank])
        x_local = x[start : start + sizes[rank]].clone().requires_grad_()
        bn = make_bn(weight, bias, use_compiled=use_compiled).to(device)
        y = bn(x_local)
        y.backward(dy[start : start + sizes[rank]])
        grads = torch.cat([bn.weight.grad, bn.bias.grad])
        dist.all_reduce(grads)  # DDP sums parameter gradients across ranks (then averages)
        results.append(
            {
                k: v.cpu()
                for k, v in {
                    "y": y.detach(),
                    "dx": x_local.grad,
                    "dw": grads[:C],
                    "db": grads[C:],
                    "mean": bn.running_mean,
                    "var": bn.running_var,
                }.items()
            }
        )
    torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
    dist.destroy_process_group()


def reference(sizes, offset, round_to=None):
    x, dy, weight, bias = global_batch(sizes, offset)
    if round_to is not None:
        x = x.to(round_to).double()  # the reference sees the same rounded input
    bn = torch.nn.BatchNorm3d(C, momentum=0.3).double()
    with torch.no_grad():
        bn.weight.copy_(weight)
        bn.bias.copy_(bias)
    x = x.clone().requires_grad_()
    bn(x).backward(dy)
    y = torch.nn.BatchNorm3d(C, momentum=0.3).double()
    with torch.no_grad():
        y.weight.copy_(weight)
        y.bias.copy_(bias)
    return {
        "y": y(x.detach()),
        "dx": x.grad,
        "dw": bn.weight.grad,
        "db": bn.bias.grad,
        "mean": bn.running_mean,
        "var": bn.running_var,
    }


CASES = [([3, 5], 0.0), ([2, 0, 4], 1e4), ([1, 6, 2], 0.0)]


def check_ranks(cases, per_rank, world):
    for i, (sizes, offset, compiled) in enumerate(cases):
        ref = reference(sizes, offset)
        y = torch.cat([per_rank[r][i]["y"] for r in range(world)])
        dx = torch.cat([per_rank[r][i]["dx"] for r in range(world)])
        for name, value in (("y", y), ("dx", dx)):
            torch.testing.assert_close(value, ref[name], atol=1e-5, rtol=0, msg=f"{name} {sizes} {offset} {compiled}")
        for r in range(world):  # parameter gradients and running statistics agree on every rank
            for name in ("dw", "db", "mean", "var"):
                torch.testing.assert_close(
                    per_rank[r][i][name],
                    ref[name],
                    atol=1e-5,
                    rtol=1e-6,
                    msg=f"{name} rank {r} {sizes} {offset} {compiled}",
                )


def run_ranks(tmp_path, world, backend="gloo", device="cpu"):
    cases = [(sizes, offset, compiled) for sizes, offset in CASES if len(sizes) == world for compiled in (True, False)]
    mp.spawn(
        worker, args=(world, str(tmp_path / "init"), str(tmp_path), cases, backend, device), nprocs=world, join=True
    )
    per_rank = [torch.load(tmp_path / f"rank{r}.pt") for r in range(world)]
    check_ranks(cases, per_rank, world)


@pytest.mark.parametrize("world", [2, 3])
def test_matches_batchnorm_on_the_concatenated_batch(tmp_path, world):
    run_ranks(tmp_path, world)


def test_compiled_ops_match_torch_ops():
    ops = load_ops()
    if ops is None:
        fail_in_ci_else_skip(f"compiled torch ops unavailable: {status()}")
    torch_ops = TorchOps()
    for dtype in (torch.float32, torch.float64):
        x = torch.randn(3, 4, 7, 9, dtype=dtype) * 3 + 5
        dy = torch.randn_like(x)
        mean, m2 = ops.bn_stats(x)
        ref_mean, ref_m2 = torch_ops.bn_stats(x)
        torch.testing.assert_close(mean, ref_mean)
        torch.testing.assert_close(m2, ref_m2)
        invstd = torch.rsqrt(m2 / 189 + 1e-5)
        w, b = torch.rand(4, dtype=dtype), torch.rand(4, dtype=dtype)
        tol = {"atol": 1e-5, "rtol": 1e-5} if dtype == torch.float32 else {}
        torch.testing.assert_close(
            ops.bn_normalize(x, mean, invstd, w, b), torch_ops.bn_normalize(x, mean, invstd, w, b), **tol
        )
        torch.testing.assert_close(
            ops.bn_normalize(x, mean, invstd, None, None), torch_ops.bn_normalize(x, mean, invstd, None, None), **tol
        )
        s1, s2 = ops.bn_backward_reduce(dy, x, mean)
        r1, r2 = torch_ops.bn_backward_reduce(dy, x, mean)
        torch.testing.assert_close(s1, r1)
        torch.testing.assert_close(s2, r2)
        args = (dy, x, mean, invstd, w, s1 / 189, s2 / 189)
        torch.testing.assert_close(ops.bn_backward_elemt(*args), torch_ops.bn_backward_elemt(*args), **tol)
    x = torch.randn(0, 4, 5)  # an empty rank
    mean, m2 = ops.bn_stats(x)
    assert mean.shape == (4,) and not mean.any() and not m2.any()


def reject_bad_shapes(ops, device):
    x = torch.randn(2, 3, 4, 5, device=device)
    with pytest.raises(RuntimeError, match=r"`mean` must have shape \(3\)"):
        ops.bn_normalize(
            x, torch.zeros(2, dtype=torch.float64, device=device), torch.ones(3, device=device), None, None
        )
    with pytest.raises(RuntimeError, match="`grad_output` has shape"):
        ops.bn_backward_reduce(torch.randn(2, 3, device=device), x, torch.zeros(3, device=device))
    with pytest.raises(RuntimeError, match=r"`input` must be \(N, C, \*\)"):
        ops.bn_stats(torch.randn(5, device=device))


def test_compiled_ops_reject_bad_shapes():
    ops = load_ops()
    if ops is None:
        fail_in_ci_else_skip(f"compiled torch ops unavailable: {status()}")
    reject_bad_shapes(ops, "cpu")


def test_float32_far_from_zero_keeps_precision():
    """Inputs offset by 1e4 in float32: the float64 shifted sums keep the variance; sum-of-squares does not."""
    x, _dy, weight, bias = global_batch([4], 1e4)
    ref = reference([4], 1e4, round_to=torch.float32)
    x32 = x.float().requires_grad_()
    bn = make_bn(weight, bias).float()
    y = bn(x32)
    torch.testing.assert_close(y.double(), ref["y"], atol=1e-5, rtol=0)
    rows = x.float().transpose(0, 1).reshape(C, -1)
    naive_var = (rows * rows).mean(1) - rows.mean(1) ** 2  # E[x^2] - E[x]^2 in float32
    assert (naive_var.double() - ref["var"]).abs().max() > 0.1  # the naive formula is far off
    torch.testing.assert_close(bn.running_var.double(), ref["var"], atol=1e-5, rtol=1e-6)


@pytest.mark.parametrize("eps_mode", ["add", "max"])
def test_gradcheck_float64(eps_mode):
    ops = load_ops() or TorchOps()
    eps = 1e-5 if eps_mode == "add" else 0.5  # 'max' with eps above some channel variances

    def fn(x, w, b):
        return _SyncBatchNormFunction.apply(x, w, b, None, None, eps, 0.1, None, eps_mode, ops)

    x = torch.randn(3, 2, 5, dtype=torch.float64) * torch.tensor([0.3, 2.0], dtype=torch.float64)[None, :, None]
    args = (
        x.requires_grad_(),
        torch.rand(2, dtype=torch.float64, requires_grad=True),
        torch.rand(2, dtype=torch.float64, requires_grad=True),
    )
    assert torch.autograd.gradcheck(fn, args)


def test_max_eps_mode_is_pytorch_connectomics_normalization():
    x = torch.randn(4, 2, 6, dtype=torch.float64) * torch.tensor([0.1, 3.0], dtype=torch.float64)[None, :, None]
    bn = SyncBatchNorm(2, eps=0.5, affine=False, eps_mode="max").double()
    var = x.transpose(0, 1).reshape(2, -1).var(1, unbiased=False)
    expected = (x - x.mean((0, 2), keepdim=True)) / torch.sqrt(torch.clamp(var, min=0.5))[None, :, None]
    torch.testing.assert_close(bn(x), expected)


def test_module_behaviour():
    model = torch.nn.Sequential(
        torch.nn.Conv3d(1, 4, 3), torch.nn.BatchNorm3d(4), torch.nn.ReLU(), torch.nn.Sequential(torch.nn.BatchNorm3d(4))
    )
    model[1].running_mean.fill_(0.5)
    converted = convert_sync_batchnorm(model)
    assert isinstance(converted[1], SyncBatchNorm) and isinstance(converted[3][0], SyncBatchNorm)
    assert converted[1].running_mean[0] == 0.5
    x = torch.randn(2, 1, 6, 6, 6)
    converted(x).sum().backward()  # single process: plain batch norm
    converted.eval()
    bn = torch.nn.BatchNorm3d(4).eval()
    bn.load_state_dict(converted[1].state_dict())
    z = torch.randn(2, 4, 3, 3, 3)
    torch.testing.assert_close(converted[1](z), bn(z))  # eval uses running statistics
    with pytest.raises(ValueError, match=r"`eps_mode` must be one of \('add', 'max'\); got 'sqrt'"):
        SyncBatchNorm(4, eps_mode="sqrt")
    with pytest.raises(ValueError, match=r"`input` must be \(N, C, \*\) with C = 4 channels; got shape \(2, 3, 5\)"):
        converted[1].train()(torch.randn(2, 3, 5))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        SyncBatchNorm(4)(torch.randn(1, 4))


def test_merge_statistics_handles_empty_parts():
    parts = [torch.randn(n, 3, dtype=torch.float64) + 7 for n in (4, 0, 9)]
    counts = torch.tensor([4.0, 0.0, 9.0], dtype=torch.float64)
    means = torch.stack([p.mean(0) if len(p) else torch.zeros(3, dtype=torch.float64) for p in parts])
    m2s = torch.stack([((p - p.mean(0)) ** 2).sum(0) if len(p) else torch.zeros(3, dtype=torch.float64) for p in parts])
    n, mean, m2 = merge_statistics(counts, means, m2s)
    allx = torch.cat(parts)
    assert n == 13
    torch.testing.assert_close(mean, allx.mean(0))
    torch.testing.assert_close(m2, ((allx - allx.mean(0)) ** 2).sum(0))


def test_falls_back_to_torch_ops_with_one_warning(monkeypatch):
    import sys

    from pytc import _torch_ext

    def broken():
        raise RuntimeError("Error building extension 'pytc_C': no compiler")

    monkeypatch.setattr(_torch_ext, "_build_just_in_time", broken)
    monkeypatch.setitem(sys.modules, "pytc._C", None)  # no ahead-of-time build either
    monkeypatch.delenv("PYTC_TORCH_OPS", raising=False)  # CI requires the ops; this tests the fallback
    _torch_ext.load_ops.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match=r"could not be built.*no compiler.*'The torch extension \(pytc._C\)'"):
            assert _torch_ext.load_ops() is None
        assert _torch_ext.load_ops() is None  # cached: no second warning, no second build
        x = torch.randn(4, C, 5, dtype=torch.float64)
        y = SyncBatchNorm(C).double()(x)
        torch.testing.assert_close(y, torch.nn.BatchNorm1d(C).double()(x))
    finally:
        _torch_ext.load_ops.cache_clear()
        _torch_ext._status["state"] = "not loaded yet"


# CUDA: the kernels in csrc/torch/cuda, run where torch sees a GPU.
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def cuda_ops():
    ops = load_ops()
    if ops is None:
        fail_in_ci_else_skip(f"compiled torch ops unavailable: {status()}")
    # a GPU build must include the CUDA kernels: without them the ops would raise on CUDA tensors
    assert torch._C._dispatch_has_kernel_for_dispatch_key("pytc::bn_stats", "CUDA"), "pytc._C built without CUDA"
    return ops


@cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("shape", [(3, 4, 7, 9), (2, 3, 70001), (1, 2, 5, 6, 7), (5, 6)])
def test_cuda_ops_match_cpu_ops(dtype, shape):
    """Every op on the GPU against the float64 torch-operations reference on the CPU (same rounded input)."""
    ops, ref = cuda_ops(), TorchOps()
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(shape, generator=g, dtype=torch.float64) * 3 + 5).to(dtype)
    dy = torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)
    channels = shape[1]
    w, b = torch.rand(channels, generator=g).to(dtype), torch.rand(channels, generator=g).to(dtype)
    xc, dyc, wc, bc = x.cuda(), dy.cuda(), w.cuda(), b.cuda()
    count = x.numel() // channels
    # float64 statistics whatever the input dtype: only the summation order differs from the CPU
    mean, m2 = ops.bn_stats(xc)
    assert mean.dtype == m2.dtype == torch.float64 and mean.is_cuda
    ref_mean, ref_m2 = ref.bn_stats(x)
    torch.testing.assert_close(mean.cpu(), ref_mean, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(m2.cpu(), ref_m2, rtol=1e-10, atol=1e-10)
    invstd = torch.rsqrt(ref_m2 / count + 1e-5)
    s1, s2 = ops.bn_backward_reduce(dyc, xc, ref_mean.cuda())
    r1, r2 = ref.bn_backward_reduce(dy, x, ref_mean)
    torch.testing.assert_close(s1.cpu(), r1, rtol=1e-10, atol=1e-9)
    torch.testing.assert_close(s2.cpu(), r2, rtol=1e-10, atol=1e-9)
    # elementwise outputs are in the input dtype: within a couple of its units in the last place
    tol = {torch.float32: 1e-5, torch.float64: 1e-12, torch.float16: 2e-3, torch.bfloat16: 2e-2}[dtype]
    for weight, bias in ((w, b), (None, None)):
        y = ops.bn_normalize(
            xc, ref_mean.cuda(), invstd.cuda(), None if weight is None else wc, None if bias is None else bc
        )
        assert y.dtype == dtype and y.is_cuda
        torch.testing.assert_close(y.cpu(), ref.bn_normalize(x, ref_mean, invstd, weight, bias), rtol=tol, atol=tol)
    args = (ref_mean, invstd, w, r1 / count, r2 / count)
    dx = ops.bn_backward_elemt(dyc, xc, *(a.cuda() for a in args))
    torch.testing.assert_close(dx.cpu(), ref.bn_backward_elemt(dy, x, *args), rtol=tol, atol=tol)


@cuda
def test_cuda_ops_edge_cases():
    ops = cuda_ops()
    mean, m2 = ops.bn_stats(torch.randn(0, 4, 5, device="cuda"))  # an empty rank
    assert mean.shape == (4,) and not mean.any() and not m2.any()
    x = torch.randn(2, 3, 4, 5, 6, device="cuda")
    strided = x.transpose(2, 4)  # non-contiguous input: the ops read it in its logical order
    torch.testing.assert_close(ops.bn_stats(strided)[0], ops.bn_stats(strided.contiguous())[0])


@cuda
def test_cuda_ops_reject_bad_shapes():
    reject_bad_shapes(cuda_ops(), "cuda")


@cuda
@pytest.mark.parametrize("eps_mode", ["add", "max"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cuda_module_matches_batchnorm(dtype, eps_mode):
    """Forward, input and parameter gradients and running statistics against BatchNorm3d on the GPU."""
    cuda_ops()
    torch.manual_seed(0)
    x = (
        torch.randn(2, 8, 6, 20, 20, device="cuda", dtype=dtype)
        * torch.linspace(0.5, 3, 8, device="cuda", dtype=dtype)[:, None, None, None]
        + 2
    ).requires_grad_()
    dy = torch.randn_like(x)
    eps = 1e-5 if eps_mode == "add" else 1e-3
    bn = SyncBatchNorm(8, eps=eps, eps_mode=eps_mode).to("cuda", dtype)
    # 'max' normalizes by max(var, eps): every variance here is above eps, so that is BatchNorm with eps ~0
    ref = torch.nn.BatchNorm3d(8, eps=eps if eps_mode == "add" else 1e-30).to("cuda", dtype)
    with torch.no_grad():
        for m in (bn, ref):
            m.weight.copy_(torch.linspace(0.5, 1.5, 8))
            m.bias.copy_(torch.linspace(-1, 1, 8))
    xr = x.detach().clone().requires_grad_()
    y, yr = bn(x), ref(xr)
    y.backward(dy)
    yr.backward(dy)
    tol = {"atol": 2e-5, "rtol": 2e-5} if dtype == torch.float32 else {}
    for got, want in (
        (y, yr),
        (x.grad, xr.grad),
        (bn.weight.grad, ref.weight.grad),
        (bn.bias.grad, ref.bias.grad),
        (bn.running_mean, ref.running_mean),
        (bn.running_var, ref.running_var),
    ):
        torch.testing.assert_close(got, want, **tol)


@cuda
def test_cuda_float32_far_from_zero_keeps_precision():
    cuda_ops()
    x, _dy, weight, bias = global_batch([4], 1e4)
    ref = reference([4], 1e4, round_to=torch.float32)
    bn = make_bn(weight, bias).float().cuda()
    y = bn(x.float().cuda())
    torch.testing.assert_close(y.double().cpu(), ref["y"], atol=1e-5, rtol=0)
    torch.testing.assert_close(bn.running_var.double().cpu(), ref["var"], atol=1e-5, rtol=1e-6)


@cuda
def test_ranks_exchange_cuda_tensors(tmp_path):
    """Two ranks with CUDA tensors: NCCL where there are two GPUs, else gloo (which supports CUDA tensors)."""
    cuda_ops()
    backend = "nccl" if torch.cuda.device_count() >= 2 and dist.is_nccl_available() else "gloo"
    run_ranks(tmp_path, 2, backend=backend, device="cuda")
