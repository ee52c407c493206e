"""Training throughput on a GPU: iterations/s of unet_residual_3d at 18x160x160 for fp32, bf16 and fp16,
pytc's trainer against a plain PyTorch loop (torch's BatchNorm, the same model and batches), and the share of
time the trainer waits for data from its own DataLoader (the embedded gala sample, EM augmentations).

    python benchmarks/gpu/train_throughput.py [--json OUT.json]
    python benchmarks/gpu/train_throughput.py --device cpu --iterations 2 --sample 18 64 64   # a dry run

TF32 is on for convolutions and matrix products (torch's default for cuDNN convolutions).
"""

import argparse
import itertools
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from pytc.config import apply_overrides, load_config
from pytc.data.tasks import task_layout
from pytc.losses import criterion_from_layout
from pytc.models import model_from_config
from pytc.train import Trainer
from pytc.train.run import resolve_volumes

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def sample_pad(sample, volume=(50, 100, 200)):
    """Reflect padding that lets the embedded sample give crops with the EM augmentations' margins."""
    from pytc.augment import em_augmentations

    read = em_augmentations(sample).input_shape()
    return [max(0, math.ceil((r - n) / 2) + 1) for r, n in zip(read, volume)]


def config(folder, sample, precision, device, *overrides):
    cfg = load_config(
        "neurons",
        [
            ("data.pad", sample_pad(sample)),
            ("output", str(folder)),
            ("data.sample_shape", sample),
            ("solver.precision", precision),
            ("solver.batch_size", 2),
            ("val.every", 0),
            ("log.progress", False),
            ("log.image_every", 0),
            ("checkpoint.every", 10**6),
            ("model.channels_last", device.type == "cpu"),
            ("data.train.image", ["${pytc_sample}/gala_fibsem_mini.h5:train/image"]),
            ("data.train.label", ["${pytc_sample}/gala_fibsem_mini.h5:train/gt"]),
        ],
    )
    cfg = apply_overrides(cfg, overrides)
    resolve_volumes(cfg)
    return cfg


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def random_batches(cfg, device, count=4):
    g = torch.Generator().manual_seed(0)
    shape = (cfg.solver.batch_size, 1, *cfg.data.sample_shape)
    target = (cfg.solver.batch_size, 3, *cfg.data.sample_shape)
    return [
        {
            "image": torch.rand(shape, generator=g),
            "target": (torch.rand(target, generator=g) > 0.5).float(),
            "weight": torch.ones(target),
        }
        for _ in range(count)
    ]


def plain_loop(cfg, batches, device, iterations):
    """Seconds per iteration of a plain PyTorch loop (autocast, a GradScaler for fp16)."""
    torch.manual_seed(0)
    model = model_from_config(cfg).to(device)
    criterion = criterion_from_layout(task_layout(cfg.tasks)).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    dtype = PRECISIONS[cfg.solver.precision] if device.type == "cuda" else None
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    on_device = [{k: v.to(device) for k, v in b.items()} for b in batches]
    start = None
    for i, batch in zip(range(iterations + 3), itertools.cycle(on_device)):
        if i == 3:
            sync(device)
            start = time.perf_counter()
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            output = model(batch["image"])
        loss, _ = criterion(output.float(), batch["target"], batch["weight"])
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    sync(device)
    return (time.perf_counter() - start) / iterations


class Prefetched(Trainer):
    batches = None

    def build_loader(self):
        return itertools.cycle(self.batches)


def trainer_loop(cfg, batches, device, iterations, folder):
    """Seconds per iteration of `Trainer.train` on the same batches (its hooks included)."""
    Prefetched.batches = batches
    warm = Prefetched(
        apply_overrides(cfg, [("solver.iterations", 3), ("output", str(folder / "warm"))]),
        folder / "warm",
        device=device,
    )
    warm.train()
    trainer = Prefetched(
        apply_overrides(cfg, [("solver.iterations", iterations), ("output", str(folder / "run"))]),
        folder / "run",
        device=device,
    )
    sync(device)
    start = time.perf_counter()
    trainer.train()
    sync(device)
    return (time.perf_counter() - start) / iterations


def data_wait(cfg, device, iterations, workers, folder):
    """Share of training time spent waiting for batches from the trainer's own DataLoader."""
    cfg = apply_overrides(cfg, [("system.num_workers", workers), ("solver.iterations", iterations + 5)])
    trainer = Trainer(cfg, folder / "data", device=device)
    for _ in range(5):
        trainer.step()
    trainer.data_wait = 0.0
    sync(device)
    start = time.perf_counter()
    for _ in range(iterations):
        trainer.step()
    sync(device)
    return trainer.data_wait / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--sample", type=int, nargs=3, default=[18, 160, 160])
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
        print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}", flush=True)
    results = {
        "device": str(torch.cuda.get_device_name() if device.type == "cuda" else "cpu"),
        "torch": torch.__version__,
        "sample": args.sample,
        "batch": 2,
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for precision in PRECISIONS:
            cfg = config(folder / precision, args.sample, precision, device)
            batches = random_batches(cfg, device)
            plain = plain_loop(cfg, batches, device, args.iterations)
            ours = trainer_loop(cfg, batches, device, args.iterations, folder / precision)
            results[precision] = {
                "plain_it_per_s": 1 / plain,
                "trainer_it_per_s": 1 / ours,
                "trainer_overhead": ours / plain - 1,
            }
            print(
                f"{precision}: plain loop {1 / plain:7.2f} it/s, trainer {1 / ours:7.2f} it/s, overhead "
                f"{100 * (ours / plain - 1):+.1f}%",
                flush=True,
            )
        results["bf16_speedup_vs_fp32"] = results["bf16"]["trainer_it_per_s"] / results["fp32"]["trainer_it_per_s"]
        print(f"bf16 / fp32 (trainer): {results['bf16_speedup_vs_fp32']:.2f}x", flush=True)
        precision = "bf16" if device.type == "cuda" else "fp32"
        cfg = config(folder / "data", args.sample, precision, device)
        share = data_wait(cfg, device, args.iterations, args.workers, folder)
        results["data_wait_share"] = {"precision": precision, "workers": args.workers, "share": share}
        print(
            f"data wait ({precision}, {args.workers} workers, EM augmentations): {100 * share:.1f}% of the time",
            flush=True,
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
