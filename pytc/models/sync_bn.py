"""Synchronized batch normalization with compiled per-channel reductions.

In training under torch.distributed, each rank computes its per-channel count, mean and M2 (sum of squared
deviations) in float64; one all_gather shares them and every rank merges them with Chan et al.'s parallel
formula, so unequal per-rank batch sizes and ranks with empty input are exact. The backward pass needs
one all_reduce of the per-channel sums of dy and dy * (x - mean). Works with gloo on CPU and NCCL on GPU.
"""

from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from .._torch_ext import load_ops
from ..validation import check_choice, fail

EPS_MODES = ("add", "max")


class TorchOps:
    """The compiled ops written with torch operations: the fallback and the reference for tests."""

    @staticmethod
    def _rows(x):
        return x.transpose(0, 1).reshape(x.shape[1], -1).double()

    def bn_stats(self, x):
        rows = self._rows(x)
        if rows.shape[1] == 0:
            zeros = rows.new_zeros(rows.shape[0])
            return zeros, zeros.clone()
        mean = rows.mean(1)
        return mean, ((rows - mean[:, None]) ** 2).sum(1)

    @staticmethod
    def _shape(v, x):
        return v.view((1, -1) + (1,) * (x.dim() - 2))

    def bn_normalize(self, x, mean, invstd, weight, bias):
        scale = invstd if weight is None else invstd * weight.double()
        shift = -mean * scale if bias is None else bias.double() - mean * scale
        return (x * self._shape(scale, x) + self._shape(shift, x)).to(x.dtype)

    def bn_backward_reduce(self, dy, x, mean):
        g, rows = self._rows(dy), self._rows(x)
        return g.sum(1), (g * (rows - mean[:, None])).sum(1)

    def bn_backward_elemt(self, dy, x, mean, invstd, weight, mean_dy, mean_dy_xmu):
        k = invstd if weight is None else invstd * weight.double()
        j = -k * invstd * invstd * mean_dy_xmu
        out = dy.double() * self._shape(k, x) + x.double() * self._shape(j, x) + self._shape(-k * mean_dy - j * mean, x)
        return out.to(x.dtype)


def _ops(use_compiled=True):
    return (load_ops() if use_compiled else None) or TorchOps()


def _world(process_group):
    if not (dist.is_available() and dist.is_initialized()):
        return 1
    return dist.get_world_size(process_group)


def merge_statistics(counts, means, m2s):
    """Chan et al.: merge per-part (count, mean, M2) of shape (P,), (P, C), (P, C) into one (count, mean, M2)."""
    total = counts.sum()
    if total == 0:
        return total, torch.zeros_like(means[0]), torch.zeros_like(m2s[0])
    mean = (counts[:, None] * means).sum(0) / total
    m2 = m2s.sum(0) + (counts[:, None] * (means - mean) ** 2).sum(0)
    return total, mean, m2


class _SyncBatchNormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, eps, momentum, process_group, eps_mode, ops):
        channels = x.shape[1]
        count = x.numel() // channels if channels else 0
        mean, m2 = ops.bn_stats(x)
        world = _world(process_group)
        if world > 1:
            local = torch.cat([mean.new_tensor([count]), mean, m2])
            gathered = [torch.empty_like(local) for _ in range(world)]
            dist.all_gather(gathered, local, group=process_group)
            parts = torch.stack(gathered)
            count, mean, m2 = merge_statistics(parts[:, 0], parts[:, 1 : 1 + channels], parts[:, 1 + channels :])
            count = int(count.item())
        if count <= 1:
            raise ValueError(
                f"SyncBatchNorm: expected more than 1 value per channel when training; got {count} "
                f"over all ranks (input shape {tuple(x.shape)} here)"
            )
        var = m2 / count
        clipped = var < eps if eps_mode == "max" else torch.zeros_like(var, dtype=torch.bool)
        invstd = torch.rsqrt(torch.clamp(var, min=eps) if eps_mode == "max" else var + eps)
        if running_mean is not None:
            with torch.no_grad():
                running_mean.mul_(1 - momentum).add_(mean.to(running_mean.dtype), alpha=momentum)
                running_var.mul_(1 - momentum).add_((m2 / (count - 1)).to(running_var.dtype), alpha=momentum)
        ctx.save_for_backward(x, weight, mean, invstd, clipped)
        ctx.count, ctx.process_group, ctx.ops = count, process_group, ops
        return ops.bn_normalize(x, mean, invstd, weight, bias)

    @staticmethod
    def backward(ctx, dy):
        x, weight, mean, invstd, clipped = ctx.saved_tensors
        ops = ctx.ops
        sum_dy, sum_dy_xmu = ops.bn_backward_reduce(dy.contiguous(), x, mean)
        grad_weight = (sum_dy_xmu * invstd).to(weight.dtype) if weight is not None and ctx.needs_input_grad[1] else None
        grad_bias = sum_dy.to(weight.dtype) if weight is not None and ctx.needs_input_grad[2] else None
        grad_input = None
        if ctx.needs_input_grad[0]:
            if _world(ctx.process_group) > 1:
                sums = torch.cat([sum_dy, sum_dy_xmu])
                dist.all_reduce(sums, group=ctx.process_group)
                sum_dy, sum_dy_xmu = sums.chunk(2)
            mean_dy = sum_dy / ctx.count
            # where var was clipped to eps ('max' mode), invstd does not depend on x: no variance term
            mean_dy_xmu = torch.where(clipped, torch.zeros_like(sum_dy_xmu), sum_dy_xmu / ctx.count)
            grad_input = ops.bn_backward_elemt(dy.contiguous(), x, mean, invstd, weight, mean_dy, mean_dy_xmu)
        return grad_input, grad_weight, grad_bias, None, None, None, None, None, None, None


class SyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch normalization over the global batch of all ranks (drop-in for `torch.nn.SyncBatchNorm`).

    Parameters are those of `torch.nn.SyncBatchNorm`, plus:

    eps_mode : {'add', 'max'}
        'add': ``1 / sqrt(var + eps)`` (standard); 'max': ``1 / sqrt(max(var, eps))``, PyTorch Connectomics'
        original normalization.
    use_compiled : bool
        Use the compiled reductions (`pytc._C`) when available; False forces the torch-operations path.

    Outside torch.distributed (or with one rank) it is plain batch normalization. Input (N, C, *), any N >= 0
    per rank as long as the global batch has more than one value per channel.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        process_group: Any = None,
        device: Any = None,
        dtype: Any = None,
        eps_mode: str = "add",
        use_compiled: bool = True,
    ):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device=device, dtype=dtype)
        self.process_group = process_group
        self.eps_mode = check_choice(eps_mode, "SyncBatchNorm", "eps_mode", EPS_MODES)
        self.use_compiled = use_compiled

    def _check_input_dim(self, input):
        if input.dim() < 2 or input.shape[1] != self.num_features:
            raise fail(
                "SyncBatchNorm",
                "input",
                f"(N, C, *) with C = {self.num_features} channels",
                f"shape {tuple(input.shape)}",
            )

    def forward(self, input):
        self._check_input_dim(input)
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average
                momentum = 1.0 / float(self.num_batches_tracked)
        use_batch_stats = self.training or not self.track_running_stats
        ops = _ops(self.use_compiled)
        if not use_batch_stats:
            var = self.running_var.double()
            invstd = torch.rsqrt(torch.clamp(var, min=self.eps) if self.eps_mode == "max" else var + self.eps)
            return ops.bn_normalize(input.contiguous(), self.running_mean.double(), invstd, self.weight, self.bias)
        track = self.training and self.track_running_stats
        return _SyncBatchNormFunction.apply(
            input.contiguous(),
            self.weight,
            self.bias,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.eps,
            momentum,
            self.process_group if self.training else None,
            self.eps_mode,
            ops,
        )

    def extra_repr(self):
        return super().extra_repr() + f", eps_mode={self.eps_mode!r}"


def convert_sync_batchnorm(module: nn.Module, process_group: Any = None, eps_mode: str = "add") -> nn.Module:
    """Replaces every BatchNorm*d in `module` (recursively) by `SyncBatchNorm`, keeping parameters and
    running statistics; returns the converted module (a new one if `module` itself is a BatchNorm)."""
    out = module
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, SyncBatchNorm):
        out = SyncBatchNorm(
            module.num_features,
            module.eps,
            module.momentum,
            module.affine,
            module.track_running_stats,
            process_group,
            eps_mode=eps_mode,
        )
        if module.affine:
            with torch.no_grad():
                out.weight.copy_(module.weight)
                out.bias.copy_(module.bias)
        out.running_mean = module.running_mean
        out.running_var = module.running_var
        out.num_batches_tracked = module.num_batches_tracked
        out.training = module.training
    for name, child in module.named_children():
        out.add_module(name, convert_sync_batchnorm(child, process_group, eps_mode))
    return out
