"""Inference throughput on a GPU: voxels/s of unet_residual_3d (random weights) with fp16 and bf16, with TTA x8,
and a chunked run from a zarr volume on disk to a zarr output, where reading and writing overlap the forward
passes: the share of the run the GPU spends in forward passes, which should be at least 90%.

    python benchmarks/gpu/inference_throughput.py [--json OUT.json]
    python benchmarks/gpu/inference_throughput.py --device cpu --volume 16 128 128 --window 16 64 64   # dry run
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from pytc.data import Normalization, write_volume
from pytc.inference import Source, WindowPredictor, predict_array
from pytc.inference.chunked import Outputs, chunk_regions, output_shapes, predict_chunks
from pytc.models import build_model

SIGMOID = [(0, 3, "sigmoid")]
OFFSETS = [(-1, 0, 0), (0, -1, 0), (0, 0, -1)]


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


class Timed(torch.nn.Module):
    """The model with its forward passes timed by CUDA events (no synchronisation in the loop)."""

    def __init__(self, model, device):
        super().__init__()
        self.model, self.device, self.events = model, device, []
        self.ndim = model.ndim

    def min_size(self):
        return self.model.min_size()

    def forward(self, x):
        if self.device.type != "cuda":
            start = time.perf_counter()
            y = self.model(x)
            self.events.append(time.perf_counter() - start)
            return y
        begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        begin.record()
        y = self.model(x)
        end.record()
        self.events.append((begin, end))
        return y

    def busy_seconds(self):
        sync(self.device)
        if self.device.type != "cuda":
            return sum(self.events)
        return sum(b.elapsed_time(e) for b, e in self.events) / 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--volume", type=int, nargs=3, default=[64, 768, 768])
    parser.add_argument("--window", type=int, nargs=3, default=[32, 256, 256])
    parser.add_argument("--chunk", type=int, nargs=3, default=[64, 512, 512])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}", flush=True)
    torch.manual_seed(0)
    model = build_model("unet_residual_3d", out_channels=3).to(device).eval()
    image = np.random.default_rng(0).integers(0, 256, args.volume, dtype=np.uint8)
    x = (image / np.float32(255)).astype(np.float32)
    results = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "volume": args.volume,
        "window": args.window,
        "batch": args.batch,
    }
    runs = [("fp16", 1), ("bf16", 1), ("bf16", 8)] if device.type == "cuda" else [("fp32", 1), ("fp32", 8)]
    for precision, tta in runs:
        predict_array(model, x[: args.window[0]], args.window, batch=args.batch, precision=precision, device=device)
        sync(device)
        start = time.perf_counter()
        predict_array(
            model,
            x,
            args.window,
            batch=args.batch,
            precision=precision,
            device=device,
            tta=tta,
            offsets=OFFSETS,
            activations=SIGMOID,
        )
        sync(device)
        seconds = time.perf_counter() - start
        key = f"{precision}_tta{tta}"
        results[key] = {"seconds": seconds, "voxels_per_second": x.size / seconds}
        print(f"{key}: {x.size / seconds / 1e6:8.2f} Mvoxel/s ({seconds:.1f} s)", flush=True)

    precision = "bf16" if device.type == "cuda" else "fp32"
    with tempfile.TemporaryDirectory() as tmp:
        write_volume(Path(tmp) / "in.zarr", image, dataset="raw")
        import zarr

        source = Source(zarr.open_group(str(Path(tmp) / "in.zarr"), mode="r")["raw"], Normalization("max"))
        timed = Timed(model, device)
        predictor = WindowPredictor(
            timed, args.window, batch=args.batch, activations=SIGMOID, device=device, precision=precision
        )
        output = f"{Path(tmp) / 'out.zarr'}:prediction"
        outputs = Outputs(output, output_shapes(3, source.spatial, SIGMOID, False), args.chunk, "uint8")
        outputs.create()
        sync(device)
        start = time.perf_counter()
        predict_chunks(predictor, source, outputs, chunk_regions(source.spatial, args.chunk), SIGMOID)
        sync(device)
        seconds = time.perf_counter() - start
        busy = timed.busy_seconds()
    results["chunked"] = {
        "precision": precision,
        "chunk": args.chunk,
        "seconds": seconds,
        "voxels_per_second": x.size / seconds,
        "forward_share": busy / seconds,
    }
    print(
        f"chunked zarr -> zarr ({precision}, uint8 output): {x.size / seconds / 1e6:.2f} Mvoxel/s, forward passes "
        f"{100 * busy / seconds:.1f}% of the run",
        flush=True,
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
