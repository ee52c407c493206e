"""SyncBatchNorm forward + backward on one (2, 32, 32, 128, 128) float32 batch, one process:
the compiled kernels against the torch-operations path and plain torch.nn.BatchNorm3d, 1 and all threads.

On a GPU machine a second group times the same on the GPU, plus torch.nn.SyncBatchNorm's own kernels
(its autograd function, called through a 1-rank NCCL group, so that it runs its statistics, all_gather and
backward all_reduce path rather than falling back to plain batch norm as the module does with one rank).
pytc's module with one rank skips its collectives, so that row is the kernels alone."""

import pytest
import torch
from bench_utils import full_or_smoke

from pytc.models import SyncBatchNorm

SHAPE = full_or_smoke((2, 32, 32, 128, 128), (2, 8, 8, 32, 32))
THREADS = [1, torch.get_num_threads()] if torch.get_num_threads() > 1 else [1]


@pytest.fixture(scope="module")
def batch():
    torch.manual_seed(0)
    x = torch.randn(SHAPE)
    return x, torch.randn(SHAPE)


def modules():
    return {
        "BatchNorm3d": lambda: torch.nn.BatchNorm3d(SHAPE[1]),
        "pytc-compiled": lambda: SyncBatchNorm(SHAPE[1]),
        "pytc-torch-ops": lambda: SyncBatchNorm(SHAPE[1], use_compiled=False),
    }


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("name", list(modules()))
def test_sync_bn_forward_backward_cpu(benchmark, batch, name, threads):
    benchmark.group = f"SyncBatchNorm fwd+bwd {SHAPE} float32 cpu, {threads} thread(s)"
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    x, dy = batch
    x = x.clone().requires_grad_()
    module = modules()[name]()
    reference = torch.nn.BatchNorm3d(SHAPE[1])
    torch.testing.assert_close(module(x), reference(x), atol=1e-4, rtol=1e-4)  # agree before timing

    def step():
        x.grad = None
        module(x).backward(dy)

    try:
        benchmark.pedantic(step, rounds=3 if name == "pytc-torch-ops" else 7, warmup_rounds=1)
    finally:
        torch.set_num_threads(previous)
    benchmark.extra_info["threads"] = threads


def gpu_modules(group):
    from torch.nn.modules._functions import SyncBatchNorm as TorchSyncBatchNormFunction

    class TorchSyncKernels(torch.nn.BatchNorm3d):
        def forward(self, x):
            return TorchSyncBatchNormFunction.apply(
                x, self.weight, self.bias, self.running_mean, self.running_var, self.eps, self.momentum, group, 1
            )

    return {**modules(), "torch-SyncBatchNorm-kernels-nccl-1rank": lambda: TorchSyncKernels(SHAPE[1])}


@pytest.fixture(scope="module")
def nccl_group(tmp_path_factory):
    import torch.distributed as dist

    if not dist.is_nccl_available():
        pytest.skip("NCCL unavailable")
    init = tmp_path_factory.mktemp("nccl") / "init"
    dist.init_process_group(
        "nccl", init_method=f"file://{init}", rank=0, world_size=1, device_id=torch.device("cuda:0")
    )
    yield dist.group.WORLD
    dist.destroy_process_group()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", list(modules()) + ["torch-SyncBatchNorm-kernels-nccl-1rank"])
def test_sync_bn_forward_backward_cuda(benchmark, batch, nccl_group, name):
    benchmark.group = f"SyncBatchNorm fwd+bwd {SHAPE} float32 {torch.cuda.get_device_name()}"
    x, dy = (t.cuda() for t in batch)
    x = x.clone().requires_grad_()
    module = gpu_modules(nccl_group)[name]().cuda()
    reference = torch.nn.BatchNorm3d(SHAPE[1]).cuda()
    torch.testing.assert_close(module(x), reference(x), atol=1e-4, rtol=1e-4)  # agree before timing

    def step():
        x.grad = None
        module(x).backward(dy)
        torch.cuda.synchronize()

    benchmark.pedantic(step, rounds=30, warmup_rounds=5)
    if benchmark.stats is not None:  # 8 passes over a tensor: x (stats), x and y, dy and x (sums), dy, x and dx
        benchmark.extra_info["GBps_8_passes"] = round(8 * x.numel() * 4 / benchmark.stats.stats.min / 1e9, 1)
