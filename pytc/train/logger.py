"""What the user sees while training: a progress bar, a metrics file (one JSON line per log step),
TensorBoard scalars and image grids (tensorboardX)."""

import json
import sys
import time

import numpy as np

from ..data.colors import affinity_rgb, gray_rgb, label_colors


def image_grid(rows, gap=2):
    """One (H, W, 3) uint8 image from rows of equally sized (h, w, 3) tiles, with white gaps."""
    height, width = rows[0][0].shape[:2]
    out = np.full((len(rows) * (height + gap) - gap, max(len(r) for r in rows) * (width + gap) - gap, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        for j, tile in enumerate(row):
            out[i * (height + gap) : i * (height + gap) + height, j * (width + gap) : j * (width + gap) + width] = tile
    return out


def task_tiles(array, target, z):
    """Tiles (h, w, 3) of one task's (C, Z, Y, X) channels at section z: affinities as RGB, else one grey
    tile per channel (at most 3)."""
    if target == "affinity":
        return [affinity_rgb(array[:3, z])]
    return [gray_rgb(c[z], 0.0, max(1.0, float(c.max()))) for c in array[:3]]


def sections(depth, count=3):
    """Up to `count` evenly spaced z sections of a volume of `depth` sections."""
    return sorted(set(np.linspace(0, depth - 1, min(count, depth)).round().astype(int).tolist()))


def training_grid(image, target, prediction, layout):
    """Rows of raw | target | prediction (per task) for sections of one training sample: (C, Z, Y, X)
    arrays, the prediction after each task's activation."""
    rows = []
    for z in sections(image.shape[1]):
        row = [gray_rgb(image[0, z])]
        for task in layout:
            name = task.target["name"]
            row += task_tiles(target[slice(*task.channels)], name, z)
            row += task_tiles(prediction[slice(*task.output)], name, z)
        rows.append(row)
    return image_grid(rows)


def validation_grid(image, label, segmentation, affinities):
    """Rows of raw | ground truth | segmentation (instances in colours) | affinities (RGB) per section."""
    rows = []
    for z in sections(image.shape[0]):
        row = [gray_rgb(image[z]), label_colors(label[z]), label_colors(segmentation[z])]
        if affinities is not None:
            row.append(affinity_rgb(affinities[:3, z]))
        rows.append(row)
    return image_grid(rows)


class RunLogger:
    """Writes metrics.jsonl and TensorBoard events in the run folder and drives the progress bar.

    Only the process of rank 0 logs; the others get a logger whose methods do nothing.
    """

    def __init__(self, run_dir, cfg, start, enabled=True):
        self.enabled = enabled
        self.tensorboard = self.bar = None
        self.lines = False
        if not enabled:
            return
        self.metrics = open(run_dir / "metrics.jsonl", "a")
        if cfg.log.tensorboard:
            from tensorboardX import SummaryWriter

            self.tensorboard = SummaryWriter(str(run_dir / "tensorboard"))
        self.budget = 60 * cfg.solver.minutes  # a time budget: the bar counts seconds, not iterations
        self.total = cfg.solver.iterations
        self.last_line = 0.0
        if cfg.log.progress and sys.stderr.isatty():
            from tqdm import tqdm

            total, unit = (round(self.budget), "s") if self.budget else (self.total, "it")
            budget_format = "{l_bar}{bar}| {n_fmt}/{total_fmt} s [{postfix}]"
            self.bar = tqdm(
                total=total,
                initial=0 if self.budget else start,
                unit=unit,
                dynamic_ncols=True,
                file=sys.stderr,
                bar_format=budget_format if self.budget else None,
            )
        self.lines = cfg.log.progress and self.bar is None  # not a terminal: a plain line every 30 seconds

    def scalars(self, iteration, values, prefix=""):
        """One metrics.jsonl line and a TensorBoard scalar per value."""
        if not self.enabled:
            return
        record = {"iteration": iteration, "time": time.time(), **{prefix + k: v for k, v in values.items()}}
        self.metrics.write(json.dumps(record) + "\n")
        self.metrics.flush()
        if self.tensorboard is not None:
            for key, value in values.items():
                self.tensorboard.add_scalar(prefix + key, value, iteration)

    def image(self, iteration, tag, grid):
        if self.enabled and self.tensorboard is not None:
            self.tensorboard.add_image(tag, grid, iteration, dataformats="HWC")

    def progress(self, iteration, elapsed, postfix):
        """Moves the bar to `iteration` (or to `elapsed` seconds in a time budget)."""
        if self.bar is not None:
            position = min(round(elapsed), self.bar.total) if self.budget else iteration
            self.bar.set_postfix_str(f"it={iteration}, {postfix}" if self.budget else postfix, refresh=False)
            self.bar.update(position - self.bar.n)
        elif self.lines and time.monotonic() - self.last_line >= 30:
            self.last_line = time.monotonic()
            done = f"{elapsed / 60:.1f}/{self.budget / 60:g} min" if self.budget else f"{iteration}/{self.total}"
            self.message(f"iteration {iteration} ({done}): {postfix}")

    def message(self, text):
        """A line for the user, above the progress bar."""
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr, flush=True)

    def close(self):
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.close()
        if self.tensorboard is not None:
            self.tensorboard.close()
        self.metrics.close()
