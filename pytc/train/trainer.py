"""The training loop: a short `step` plus hooks for logging, images, validation and checkpoints.

Sampling is by index: optimiser step s uses the training samples s*B .. s*B + B - 1 (B the global batch),
each drawn from its own random stream, whatever the number of processes, accumulation steps or DataLoader
workers. So 2 processes with 2 samples each train like 1 process with 4 (with SyncBatchNorm and losses that
average over voxels), and a resumed run continues exactly where it stopped.
"""

import contextlib
import math
import random
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from ..config import to_dict
from ..data import VolumeDataset, build_dataloader, open_volume, split_dataset
from ..data.normalize import Normalization
from ..data.tasks import task_layout
from ..inference.predict import AUTOCAST
from ..losses import criterion_from_layout
from ..models import convert_sync_batchnorm, model_from_config
from ..models.checkpoint import BEST, checkpoint_name, list_checkpoints, load_checkpoint, save_checkpoint
from ..sample import IMAGE, TARGET, WEIGHT
from .logger import RunLogger, training_grid, validation_grid
from .schedule import ModelEMA, learning_rate
from .validation import LOWER_IS_BETTER, metric_name, summary_score, validate


class IndexBatches(torch.utils.data.Sampler):
    """Batches of sample indices for one process: micro-batch u (u = step * accumulate + m) takes samples
    [u * world * b, (u + 1) * world * b), of which this rank gets its b consecutive ones."""

    def __init__(self, per_rank, rank, world, start_micro):
        self.per_rank, self.rank, self.world, self.start = per_rank, rank, world, start_micro

    def __iter__(self):
        u = self.start
        while True:
            first = (u * self.world + self.rank) * self.per_rank
            yield list(range(first, first + self.per_rank))
            u += 1


def _as_batch(batch, device, channels_last):
    x = batch[IMAGE].to(device, non_blocking=True)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last_3d if x.dim() == 5 else torch.channels_last)
    return x, batch[TARGET].to(device, non_blocking=True), batch[WEIGHT].to(device, non_blocking=True)


def rng_state():
    """The global generators' states (workers and user code may draw from numpy's legacy global one)."""
    return {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state()[1].tolist(),  # noqa: NPY002
        "numpy_pos": int(np.random.get_state()[2]),  # noqa: NPY002
        "python": list(random.getstate()[1]),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state):
    torch.set_rng_state(state["torch"])
    legacy = ("MT19937", np.array(state["numpy"], np.uint32), state["numpy_pos"], 0, 0.0)
    np.random.set_state(legacy)  # noqa: NPY002
    random.setstate((3, tuple(state["python"]), None))
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def train_dataset(cfg, layout):
    """The training `VolumeDataset` of a config, with its augmentations and the layout's targets."""
    from ..augment import build_augmentations

    d, a = cfg.data, cfg.data.augment
    augment = None
    if len(d.sample_shape) == 3 and (a.preset != "none" or a.extra):
        # no output_shape: the dataset owns the sample shape and sets it on the pipeline
        augment = build_augmentations(None, a.preset, a.isotropic, a.skip, a.params, a.extra)
    return VolumeDataset(
        d.train.image,
        d.train.label,
        valid_masks=d.train.mask or None,
        sample_shape=d.sample_shape,
        augment=augment,
        targets=[task.target for task in layout],
        min_foreground=d.min_foreground,
        reject_p=d.reject_p,
        min_instances=d.min_instances,
        min_valid=d.min_valid,
        erode_border=d.erode_border,
        pad=d.pad,
        normalize=vars(d.normalize),
        seed=cfg.system.seed,
    )


def check_target_channels(dataset, layout):
    """Raise ValueError when the target channels of the dataset's items (`VolumeDataset.target_channels`, as
    `build_targets` lays them out) are not those of the task layout, which the criterion reads."""
    got = getattr(dataset, "target_channels", None)
    expected = [(task.target["name"], *task.channels) for task in layout]
    if got is not None and [tuple(c) for c in got] != expected:
        raise ValueError(
            f"Trainer: the dataset's target channels {got} are not the task layout's {expected}, "
            f"which the criterion reads"
        )


class Trainer:
    """Trains the model of a resolved config (`pytc.config.Config`) in one process of `world`.

    Parameters
    ----------
    cfg : Config, with volume paths resolved (`pytc.train.run.resolve_volumes`)
    run_dir : pathlib.Path
    rank, world : this process and the number of processes (a process group exists when world > 1)
    device : torch.device
    resume : bool
        Continue from the last checkpoint in `run_dir`.
    init_weights : path, optional
        A checkpoint whose model weights start the run (fine-tuning); nothing else is taken from it.
    """

    def __init__(self, cfg, run_dir, rank=0, world=1, device=None, resume=False, init_weights=None):
        self.cfg, self.run_dir, self.rank, self.world = cfg, Path(run_dir), rank, world
        self.device = torch.device("cpu") if device is None else device
        self.run_dir.mkdir(parents=True, exist_ok=True)
        solver = cfg.solver
        self.per_rank = solver.batch_size // (world * solver.accumulate)
        self.channels_last = cfg.model.channels_last
        self.layout = task_layout(cfg.tasks, len(cfg.data.sample_shape))
        torch.manual_seed(cfg.system.seed)  # identical initial weights in every process
        self.module = self.build_model()
        self.ema = ModelEMA(self.module, solver.ema) if solver.ema > 0 else None
        self.model = self.wrap(self.module)
        self.criterion = criterion_from_layout(self.layout).to(self.device)
        self.optimizer = self.build_optimizer()
        self.scaler = torch.amp.GradScaler(
            self.device.type, enabled=solver.precision == "fp16" and self.device.type == "cuda"
        )
        self.iteration, self.elapsed, self.best = 0, 0.0, None
        if resume:
            self.load(load_checkpoint(run_dir, which="last"))
        elif init_weights is not None:
            self.module.load_state_dict(load_checkpoint(init_weights)["model"])
            if self.ema is not None:
                self.ema.module.load_state_dict(self.module.state_dict())
        if not resume:  # a stream per process from here on (a resumed run restores its streams)
            torch.manual_seed(cfg.system.seed * 1000 + rank + 1)
        self.dataset = self.build_dataset()
        check_target_channels(self.dataset, self.layout)
        self.loader = iter(self.build_loader())
        self.val_volumes = self.load_val_volumes() if rank == 0 and cfg.val.every else []
        self.metric = metric_name(cfg, self.layout) if cfg.val.every else None
        self.log = RunLogger(run_dir, cfg, self.iteration, enabled=rank == 0)
        self.data_wait = 0.0

    # ------------------------------------------------------------------ building blocks (override to customise)

    def build_model(self):
        model = model_from_config(self.cfg)
        if self.world > 1 and self.cfg.model.sync_bn:
            model = convert_sync_batchnorm(model)
        model = model.to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last_3d if model.ndim == 3 else torch.channels_last)
        return model

    def wrap(self, module):
        model = module
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            model = torch.nn.parallel.DistributedDataParallel(module, device_ids=ids)
            # channels-last 1x1x1 kernels get gradients whose strides differ only on size-1 axes: harmless
            warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
        if self.cfg.solver.compile:
            model = torch.compile(model)
        return model

    def build_optimizer(self):
        s = self.cfg.solver
        params = [p for p in self.module.parameters() if p.requires_grad]
        if s.optimizer == "sgd":
            return torch.optim.SGD(params, lr=s.lr, momentum=s.momentum, weight_decay=s.weight_decay)
        return torch.optim.AdamW(params, lr=s.lr, betas=tuple(s.betas), weight_decay=s.weight_decay)

    def build_dataset(self):
        return train_dataset(self.cfg, self.layout)

    def build_loader(self):
        start = self.iteration * self.cfg.solver.accumulate
        sampler = IndexBatches(self.per_rank, self.rank, self.world, start)
        workers = self.cfg.system.num_workers
        return build_dataloader(
            self.dataset, num_workers=workers, batch_sampler=sampler, **({"prefetch_factor": 4} if workers else {})
        )

    def load_val_volumes(self):
        """[(normalised image, label)] of the validation volumes, read once."""
        norm = Normalization.from_spec(vars(self.cfg.data.normalize))
        volumes = []
        for image_path, label_path in zip(self.cfg.data.val.image, self.cfg.data.val.label):
            image = np.asarray(open_volume(*split_dataset(image_path)))
            label = np.asarray(open_volume(*split_dataset(label_path)))
            volumes.append((norm.apply(image, norm.fit(image)), label))
        return volumes

    # ------------------------------------------------------------------ the loop

    def lr(self):
        s = self.cfg.solver
        progress = self.elapsed / (60 * s.minutes) if s.minutes > 0 else None
        return learning_rate(s, self.iteration, progress)

    def step(self):
        """One optimiser step over `accumulate` micro-batches; returns the loss parts averaged over them."""
        s = self.cfg.solver
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr()
        self.optimizer.zero_grad(set_to_none=True)
        parts = {}
        autocast = AUTOCAST.get(s.precision) if self.device.type == "cuda" else None
        for m in range(s.accumulate):
            wait = time.perf_counter()
            batch = next(self.loader)
            self.data_wait += time.perf_counter() - wait
            x, target, weight = _as_batch(batch, self.device, self.channels_last)
            sync = self.world == 1 or m == s.accumulate - 1
            with contextlib.nullcontext() if sync else self.model.no_sync():
                with torch.autocast(self.device.type, dtype=autocast, enabled=autocast is not None):
                    output = self.model(x)
                loss, losses = self.criterion(output.float(), target, weight)
                self.scaler.scale(loss / s.accumulate).backward()
            losses["total"] = loss.detach()
            for key, value in losses.items():
                parts[key] = parts.get(key, 0.0) + value / s.accumulate
        if s.clip_grad > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.module.parameters(), s.clip_grad)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.ema is not None:
            self.ema.update(self.module)
        self.last = (x, target, output.detach())
        return parts

    def train(self, until=None):
        """Runs until `solver.iterations`, the time budget, or iteration `until` (an interruption: the run can
        be resumed from the checkpoint written then). Returns the last validation metrics, if any."""
        s = self.cfg.solver
        budget = 60 * s.minutes
        window_start, window_iters, metrics = time.perf_counter(), 0, None
        self.data_wait = 0.0
        clock = time.perf_counter() - self.elapsed
        while self.iteration < s.iterations:
            parts = self.step()
            self.iteration += 1
            window_iters += 1
            self.elapsed = self._agree(time.perf_counter() - clock)
            done = self.iteration in (s.iterations, until) or (budget > 0 and self.elapsed >= budget)
            if self.iteration % self.cfg.log.every == 0 or done:
                seconds = time.perf_counter() - window_start
                self.log_step(parts, window_iters, seconds)
                window_start, window_iters, self.data_wait = time.perf_counter(), 0, 0.0
            if self.cfg.log.image_every and self.iteration % self.cfg.log.image_every == 0 and self.rank == 0:
                self.log_images()
            if self.cfg.val.every and (self.iteration % self.cfg.val.every == 0 or done):
                metrics = self.validate()
            if self.iteration % self.cfg.checkpoint.every == 0 or done:
                self.save()
            if done:
                break
        self.log.close()
        return metrics

    def _agree(self, elapsed):
        """Rank 0's elapsed time in every process, so that time-budgeted schedules stay identical."""
        if self.world == 1 or self.cfg.solver.minutes <= 0:
            return elapsed
        value = torch.tensor([elapsed], dtype=torch.float64, device=self.device if self.device.type == "cuda" else None)
        dist.broadcast(value, 0)
        return float(value.item())

    # ------------------------------------------------------------------ hooks

    def log_step(self, parts, iterations, seconds):
        names = sorted(parts)
        values = torch.stack([torch.as_tensor(parts[k], dtype=torch.float64).to(self.device) for k in names])
        if self.world > 1:
            dist.all_reduce(values)
            values /= self.world
        scalars = {f"loss/{k}": float(v) for k, v in zip(names, values.tolist())}
        samples = iterations * self.cfg.solver.batch_size
        scalars.update(
            {
                "lr": self.optimizer.param_groups[0]["lr"],
                "samples_per_second": samples / seconds,
                "data_wait": self.data_wait / seconds,
                "elapsed": self.elapsed,
            }
        )
        self.log.scalars(self.iteration, scalars)
        self.log.progress(
            self.iteration,
            self.elapsed,
            f"loss={scalars['loss/total']:.4f}, lr={scalars['lr']:.2e}, {scalars['samples_per_second']:.1f} samples/s",
        )

    def log_images(self):
        x, target, output = self.last
        with torch.no_grad():
            prediction = self.criterion.activate(output[:1].detach().float())
        grid = training_grid(
            x[0].float().cpu().numpy(), target[0].cpu().numpy(), prediction[0].cpu().numpy(), self.layout
        )
        self.log.image(self.iteration, "train/raw_target_prediction", grid)

    def eval_model(self):
        return self.ema.module if self.ema is not None else self.module

    def validate(self):
        """Scores the validation volumes on rank 0 (the others wait); keeps the best checkpoint."""
        metrics, improved, score = None, False, None
        if self.rank == 0:
            start = time.perf_counter()
            metrics, (prediction, segmentation) = validate(
                self.eval_model(), self.val_volumes, self.layout, self.cfg, self.device, self.channels_last
            )
            score = summary_score(metrics, self.metric)
            lower = LOWER_IS_BETTER[self.metric]
            improved = self.best is None or (score < self.best if lower else score > self.best)
            metrics["seconds"] = time.perf_counter() - start
            self.log.scalars(self.iteration, {**metrics, self.metric: score}, prefix="val/")
            image, label = self.val_volumes[0]
            task = next((t for t in self.layout if t.target["name"] == "affinity"), None)
            affinities = prediction[slice(*task.output)] if task is not None else None
            if segmentation is not None:
                self.log.image(
                    self.iteration,
                    "val/raw_gt_segmentation_affinities",
                    validation_grid(image, label, segmentation, affinities),
                )
            self.log.message(
                f"iteration {self.iteration}: validation {self.metric} {score:.4f}"
                f"{' (best)' if improved else f', best {self.best:.4f}'}"
            )
        if self.world > 1:  # every process takes part in saving (it gathers the random states)
            shared = [improved, score]
            dist.broadcast_object_list(shared, 0)
            improved, score = shared
        if improved:
            self.best = score
            state = self.state(score)
            if self.rank == 0:
                save_checkpoint(state, self.run_dir / BEST)
        return metrics

    # ------------------------------------------------------------------ checkpoints

    def state(self, metric=None):
        rngs = [rng_state()]
        if self.world > 1:
            rngs = [None] * self.world
            dist.all_gather_object(rngs, rng_state())
        return {
            "model": self.module.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": {"elapsed": self.elapsed, "best": self.best},
            "scaler": self.scaler.state_dict(),
            "iteration": self.iteration,
            "rng": rngs,
            "config": to_dict(self.cfg),
            "metric": metric,
        }

    def save(self):
        state = self.state()  # every rank takes part in gathering the RNG states
        if self.rank != 0:
            return
        save_checkpoint(state, self.run_dir / checkpoint_name(self.iteration))
        for _, old in list_checkpoints(self.run_dir)[: -self.cfg.checkpoint.keep]:
            old.unlink()

    def load(self, state):
        self.module.load_state_dict(state["model"])
        if self.ema is not None and state.get("ema") is not None:
            self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.iteration = int(state["iteration"])
        self.elapsed = float(state["scheduler"]["elapsed"])
        self.best = state["scheduler"]["best"]
        rngs = state["rng"]
        set_rng_state(rngs[self.rank] if self.rank < len(rngs) else rngs[0])


def check_batch(cfg, world):
    """The global batch must split evenly over processes and accumulation steps."""
    from ..config import ConfigError

    s = cfg.solver
    split = world * s.accumulate
    if s.batch_size % split:
        raise ConfigError(
            f"config: `solver.batch_size` ({s.batch_size}) must be a multiple of the processes "
            f"({world}) times `solver.accumulate` ({s.accumulate}); e.g. "
            f"solver.batch_size={split * math.ceil(s.batch_size / split)}"
        )
