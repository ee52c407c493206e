"""The typed schema of pytc's configs: every key, its type, default, bounds and documentation.

A config file only states what differs from these defaults. `pytc.config.load_config` merges files
(``base:`` inheritance) and ``key=value`` overrides into one dict and checks it against these classes;
`python -m pytc.config docs` prints the reference generated from them.
"""

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal


def option(default=None, doc="", *, factory=None, low=None, high=None):
    """A schema field with its documentation and, for numbers, its bounds (inclusive)."""
    metadata = {"doc": doc, "low": low, "high": high}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class SystemConfig:
    """Processes, threads and seeds."""

    seed: int = option(0, "Seed of the model's initialisation and of sampling (each sample has its own stream).")
    num_gpu: int = option(0, "GPUs to train on, one process each (DDP over NCCL). 0: train on the CPU.", low=0)
    num_proc: int = option(1, "Processes on the CPU (DDP over gloo) when `num_gpu` is 0.", low=1)
    num_workers: int = option(2, "DataLoader worker processes per training process.", low=0)
    threads: int = option(0, "torch threads per process; 0: the CPU cores divided by the processes.", low=0)
    deterministic: bool = option(False, "Ask torch for deterministic algorithms (slower on GPUs).")


@dataclass
class ModelConfig:
    """The network (`pytc.models.build_model`); its output channels follow from `tasks`."""

    name: str = option("unet_residual_3d", "A model of the zoo: unet_residual_3d, unet_3d, unet_2d, fpn_3d.")
    in_channels: int = option(1, "Image channels.", low=1)
    filters: list[int] | None = option(None, "Channels per level; null: the model's own.")
    isotropy: list[bool] | None = option(None, "Per level, whether it convolves and downsamples in z too.")
    block: str | None = option(None, "residual, residual_se, dilated or plain; null: the model's own.")
    norm: str = option("bn", "bn, sync_bn, in, gn or none.")
    activation: str = option("elu", "relu, elu, leaky_relu, gelu or silu.")
    padding_mode: str = option("zeros", "zeros, reflect, replicate or circular.")
    dropout: float = option(
        0.0,
        "Channel dropout in the bottleneck and decoder, for MC-dropout uncertainty (`pytc.models.enable_mc_dropout`); "
        "0: no dropout layers.",
        low=0.0,
        high=0.99,
    )
    sync_bn: bool = option(True, "With several processes, turn batch norm into pytc's SyncBatchNorm.")
    channels_last: bool = option(True, "Run convolutions in the channels-last memory format (faster on CPUs).")


@dataclass
class VolumesConfig:
    """Volumes as ``PATH[:DATASET]`` strings (HDF5 dataset or zarr array), one list entry per volume."""

    image: list[str] = option(doc="Image volumes (any format `pytc.data.read_volume` reads).", factory=list)
    label: list[str] = option(doc="Label volumes, one per image (instance or class ids).", factory=list)
    mask: list[str] = option(doc="Valid masks, one per image: nonzero where labels can be trusted.", factory=list)


@dataclass
class NormalizeConfig:
    """How image intensities become the network's input."""

    mode: Literal["max", "meanstd", "percentile", "none"] = option(
        "max",
        "max: divide by the dtype's maximum (floats unchanged); meanstd: (x - mean) / std; percentile: "
        "map the low and high percentiles of each volume to 0 and 1; none: cast to float32.",
    )
    mean: float | None = option(None, "meanstd: the mean; null: each volume's own.")
    std: float | None = option(None, "meanstd: the standard deviation; null: each volume's own.", low=0.0)
    low: float = option(1.0, "percentile: the percentile mapped to 0.", low=0.0, high=100.0)
    high: float = option(99.0, "percentile: the percentile mapped to 1.", low=0.0, high=100.0)


@dataclass
class AugmentConfig:
    """Training augmentations (`pytc.augment`)."""

    preset: Literal["em", "none"] = option("em", "em: PyTorch Connectomics' EM list (`em_augmentations`).")
    isotropic: bool = option(False, "em preset: also z-x transposes and a 3D elastic field (isotropic data).")
    skip: list[str] = option(doc="Augmentations of the preset to leave out, e.g. [MotionBlur, CutNoise].", factory=list)
    params: dict[str, dict[str, Any]] = option(
        doc="Parameters per augmentation of the preset, e.g. {Elastic: {alpha: 8.0}, Flip: {p: 1.0}}.", factory=dict
    )
    extra: list[dict[str, Any]] = option(
        doc="Augmentations appended after the preset, each {name: ..., p: ..., other parameters}.", factory=list
    )


@dataclass
class DataConfig:
    """Training and validation volumes and how samples are drawn."""

    train: VolumesConfig = option(doc="Training volumes.", factory=VolumesConfig)
    val: VolumesConfig = option(
        doc="Validation volumes: scored with the task's metric every `val.every`.", factory=VolumesConfig
    )
    sample_shape: list[int] = option(
        doc="(Z, Y, X) of a training sample, or (Y, X) for 2D models.", factory=lambda: [18, 160, 160]
    )
    pad: list[int] = option(doc="Reflect padding added around each volume (Z, Y, X).", factory=lambda: [0, 0, 0])
    normalize: NormalizeConfig = option(doc="Image normalisation.", factory=NormalizeConfig)
    augment: AugmentConfig = option(doc="Augmentations.", factory=AugmentConfig)
    erode_border: int = option(0, "Widen instance borders by this radius (in y-x) before building targets.", low=0)
    min_foreground: int = option(
        0, "Rejection sampling: a sample with fewer labelled voxels is redrawn with probability `reject_p`.", low=0
    )
    reject_p: float = option(0.95, "See `min_foreground`.", low=0.0, high=1.0)
    min_instances: int = option(0, "A sample with fewer distinct nonzero label ids is redrawn.", low=0)
    min_valid: float = option(0.0, "A sample whose valid-mask fraction is below this is redrawn.", low=0.0, high=1.0)


@dataclass
class LossConfig:
    """One loss of a task; a plain name stands for ``{name: NAME}``."""

    SHORTHAND: ClassVar[str] = "name"

    name: str = option("bce", "bce, mse, mae, dice, jaccard, focal or ce.")
    weight: float = option(1.0, "Its weight in the total loss.", low=0.0)
    activation: str | None = option(
        None,
        "Activation applied to the output before this loss: sigmoid, softmax, tanh or none. null: none for "
        "the losses that take logits (bce, focal, ce), else the task's activation.",
    )
    options: dict[str, Any] = option(doc="Keyword arguments of the loss, e.g. {gamma: 2.0} for focal.", factory=dict)


def _default_losses():
    return [LossConfig("bce", 1.0), LossConfig("dice", 0.5)]


@dataclass
class TaskConfig:
    """One output of the network: its training target, losses and inference activation. A plain name stands
    for ``{target: NAME}``."""

    SHORTHAND: ClassVar[str] = "target"

    target: str = option(
        "affinity",
        "A target of `pytc.data.TARGETS`: affinity, binary, boundary, instance_edt, "
        "quantized_edt, semantic_edt, polarity, semantic, small_object.",
    )
    options: dict[str, Any] = option(
        doc="Keyword arguments of the target, e.g. {offsets: [[-1, 0, 0], ...]}.", factory=dict
    )
    weight: Literal["ratio", "unet"] | None = option(
        None, "Per-voxel loss weight: ratio (class balancing) or unet (border weight); null: 1."
    )
    weight_options: dict[str, Any] = option(doc="Options of the weight: alpha (ratio); w0, sigma (unet).", factory=dict)
    losses: list[LossConfig] = option(doc="Losses of this task.", factory=_default_losses)
    activation: str | None = option(
        None, "Activation of this output at inference: sigmoid, softmax, tanh or none. null: the target's usual one."
    )
    name: str | None = option(None, "Name in logs; null: the target's name.")


@dataclass
class SolverConfig:
    """Optimiser, iteration-based schedule and precision."""

    optimizer: Literal["adamw", "sgd"] = option("adamw", "AdamW or SGD with momentum.")
    lr: float = option(0.001, "Peak learning rate.", low=0.0)
    weight_decay: float = option(0.01, "Weight decay.", low=0.0)
    momentum: float = option(0.9, "SGD momentum.", low=0.0, high=1.0)
    betas: list[float] = option(doc="AdamW betas.", factory=lambda: [0.9, 0.999])
    batch_size: int = option(2, "Global batch per optimiser step, split over processes and accumulation steps.", low=1)
    accumulate: int = option(1, "Gradient accumulation: micro-batches per optimiser step.", low=1)
    iterations: int = option(100000, "Optimiser steps in total.", low=1)
    minutes: float = option(
        0.0,
        "Time budget: stop after this many minutes, with the schedule following the "
        "elapsed time instead of the iterations. 0: no budget.",
        low=0.0,
    )
    warmup: int = option(1000, "Iterations of linear warm-up from `warmup_factor * lr` to `lr`.", low=0)
    warmup_factor: float = option(
        0.001, "Learning rate at the start of warm-up, as a fraction of `lr`.", low=0.0, high=1.0
    )
    schedule: Literal["cosine", "multistep", "constant"] = option("cosine", "Decay after warm-up.")
    milestones: list[int] = option(doc="multistep: iterations where the rate is multiplied by `gamma`.", factory=list)
    gamma: float = option(0.1, "multistep: factor at each milestone.", low=0.0)
    min_lr: float = option(0.0, "cosine: the rate reached at the end.", low=0.0)
    clip_grad: float = option(0.0, "Clip the gradient norm to this value; 0: no clipping.", low=0.0)
    ema: float = option(
        0.0,
        "Decay of an exponential moving average of the weights, e.g. 0.999; 0: off. "
        "Validation and saved predictions use the average.",
        low=0.0,
        high=1.0,
    )
    precision: Literal["fp32", "bf16", "fp16"] = option(
        "fp32", "Mixed precision on CUDA (fp16 with a grad scaler); the CPU trains in fp32."
    )
    compile: bool = option(False, "Compile the model with torch.compile.")


@dataclass
class LogConfig:
    """What the user sees while training."""

    every: int = option(20, "Iterations between log lines (metrics.jsonl, TensorBoard scalars).", low=1)
    image_every: int = option(500, "Iterations between TensorBoard image grids; 0: none.", low=0)
    tensorboard: bool = option(True, "Write TensorBoard events (tensorboardX) to the run folder.")
    progress: bool = option(True, "Show a progress bar.")


@dataclass
class CheckpointConfig:
    """Checkpoints in the run folder."""

    every: int = option(1000, "Iterations between checkpoints (one is always written at the end).", low=1)
    keep: int = option(3, "Checkpoints kept besides the best one.", low=1)


@dataclass
class ValConfig:
    """Validation on `data.val`, with the task's real metric."""

    every: int = option(1000, "Iterations between validations; 0: none.", low=0)
    window: list[int] | None = option(None, "Sliding-window size; null: `data.sample_shape`.")
    overlap: float = option(0.5, "Overlap of neighbouring windows, as a fraction of the window.", low=0.0, high=0.9)
    batch: int = option(1, "Windows per forward pass.", low=1)
    thresholds: list[float] = option(
        doc="Affinity tasks: agglomeration thresholds; the best one is reported.",
        factory=lambda: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
    )
    scoring: str = option(
        "quantile-50-histogram",
        "Affinity tasks: agglomeration scoring (see "
        "`pytc.kernels.agglomerate`); the median affinity of a boundary is robust to a few leaks.",
    )
    metric: Literal["auto", "adapted_rand", "voi", "iou", "dice"] = option(
        "auto", "Metric that picks the best checkpoint. auto: adapted_rand for affinities, else iou."
    )


@dataclass
class InferenceConfig:
    """Sliding-window prediction with the trained model (`pytc.infer`, `pytc.train --inference`)."""

    image: list[str] = option(doc="Volumes that `pytc.train --inference` predicts into the run folder.", factory=list)
    window: list[int] | None = option(
        None,
        "Window size; null: `data.sample_shape`. Fully convolutional models take larger windows than they trained on.",
    )
    overlap: float = option(0.5, "Overlap of neighbouring windows, as a fraction of the window.", low=0.0, high=0.9)
    blending: Literal["gaussian", "bump", "constant"] = option("gaussian", "Weighting of overlapping windows.")
    batch: int = option(1, "Windows per forward pass.", low=1)
    crop: list[int] = option(
        doc="Voxels at each window face (Z, Y, X) that get no weight, except on the volume's "
        "border: the border the network cannot see.",
        factory=lambda: [0, 0, 0],
    )
    tta: Literal[1, 4, 8, 16] = option(1, "Test-time augmentation variants (flips, y-x transpose).")
    chunk: list[int] | None = option(None, "Chunk of zarr/HDF5 outputs; null: four windows per axis.")
    dtype: Literal["float32", "float16", "uint8"] = option("float32", "Stored prediction type (uint8: 0..255).")


@dataclass
class Config:
    """A pytc config. Files may start with ``base: NAME_OR_PATH`` (or a list) to inherit from shipped configs
    or other files; later files and ``key=value`` overrides win."""

    system: SystemConfig = option(doc="Processes, threads and seeds.", factory=SystemConfig)
    model: ModelConfig = option(doc="The network.", factory=ModelConfig)
    data: DataConfig = option(doc="Volumes and sampling.", factory=DataConfig)
    tasks: list[TaskConfig] = option(doc="Outputs of the network, in channel order.", factory=lambda: [TaskConfig()])
    solver: SolverConfig = option(doc="Optimisation.", factory=SolverConfig)
    log: LogConfig = option(doc="Logging.", factory=LogConfig)
    checkpoint: CheckpointConfig = option(doc="Checkpoints.", factory=CheckpointConfig)
    val: ValConfig = option(doc="Validation.", factory=ValConfig)
    inference: InferenceConfig = option(doc="Prediction.", factory=InferenceConfig)
    output: str | None = option(None, "Run folder; null: runs/<config name>.")
