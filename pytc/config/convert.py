"""Converting PyTorch Connectomics v1 (yacs) configs into pytc configs.

A v1 run merges a base file and a specific one (``--config-base SNEMI/SNEMI-Base.yaml --config-file
SNEMI/SNEMI-Affinity-UNet.yaml``). `convert_v1` merges them the same way and returns the pytc config dict
and the v1 keys that have no pytc equivalent; ``python -m pytc.config convert`` prints it as YAML.

Every leaf key of the merged v1 config is either mapped (`V1Conversion.mapped`) or listed with a reason
(`V1Conversion.unmapped`), which also lists approximations. The output holds only what the files set, with
two exceptions: `tasks` always follow v1 (its defaults where the files are silent, since pytc's default
task differs), and v1's defaults are read to interpret the files (per-GPU batch, model levels, targets).
By default v1's defaults of the other mapped keys are written too (SGD, its weight decay...), so that the
pytc run reproduces the v1 run; ``v1_defaults=False`` writes only what the files set.
"""

import argparse
import ast
import dataclasses
import fnmatch
import json
import os
import sys
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from .loader import ConfigError, from_dict, merge
from .schema import Config

# v1.0.0's defaults (connectomics/config/defaults.py) of the keys this conversion maps or reads.
V1_DEFAULTS = {
    "SYSTEM.NUM_GPUS": 4,
    "SYSTEM.NUM_CPUS": 4,
    "MODEL.ARCHITECTURE": "unet_3d",
    "MODEL.BLOCK_TYPE": "residual",
    "MODEL.FILTERS": [28, 36, 48, 64, 80],
    "MODEL.ISOTROPY": [False, False, False, True, True],
    "MODEL.TARGET_OPT": ["0"],
    "MODEL.WEIGHT_OPT": [["1"]],
    "MODEL.LOSS_OPTION": [["WeightedBCE"]],
    "MODEL.OUTPUT_ACT": [["none"]],
    "MODEL.LOSS_WEIGHT": [[1.0]],
    "MODEL.PAD_MODE": "replicate",
    "MODEL.INPUT_SIZE": [8, 256, 256],
    "DATASET.IS_ISOTROPIC": False,
    "DATASET.PAD_SIZE": [2, 64, 64],
    "AUGMENTOR.ROTATE.P": 1.0,
    "AUGMENTOR.RESCALE.P": 0.5,
    "AUGMENTOR.FLIP.P": 1.0,
    "AUGMENTOR.ELASTIC.P": 0.75,
    "AUGMENTOR.GRAYSCALE.P": 0.75,
    "AUGMENTOR.MISSINGPARTS.P": 0.9,
    "AUGMENTOR.MISSINGPARTS.ITER": 64,
    "AUGMENTOR.MISALIGNMENT.ROTATE_RATIO": 0.5,
    "AUGMENTOR.CUTBLUR.LENGTH_RATIO": 0.4,
    "AUGMENTOR.CUTNOISE.P": 0.75,
    "AUGMENTOR.CUTNOISE.LENGTH_RATIO": 0.4,
    "AUGMENTOR.CUTNOISE.SCALE": 0.3,
    "AUGMENTOR.COPYPASTE.ENABLED": False,
    "SOLVER.NAME": "SGD",
    "SOLVER.LR_SCHEDULER_NAME": "MultiStepLR",
    "SOLVER.WEIGHT_DECAY": 0.0001,
    "SOLVER.STEPS": [30000, 35000],
    "SOLVER.ITERATION_TOTAL": 40000,
    "SOLVER.ITERATION_SAVE": 5000,
    "SOLVER.SAMPLES_PER_BATCH": 2,
    "MONITOR.ITERATION_NUM": [20, 200],
    "INFERENCE.SAMPLES_PER_BATCH": 4,
}

# Reason given to a key that nothing below explains; the tests check that no shipped config hits it.
FALLBACK_REASON = "no pytc equivalent"

# --------------------------------------------------------------------------- tables: v1 value -> pytc value

_DIRECT = {  # same meaning, same value
    "MODEL.IN_PLANES": "model.in_channels",
    "DATASET.PAD_SIZE": "data.pad",
    "DATASET.OUTPUT_PATH": "output",
    "DATASET.REJECT_SAMPLING.P": "data.reject_p",
    "DATASET.VALID_RATIO": "data.min_valid",
    "SOLVER.BASE_LR": "solver.lr",
    "SOLVER.WEIGHT_DECAY": "solver.weight_decay",
    "SOLVER.MOMENTUM": "solver.momentum",
    "SOLVER.BETAS": "solver.betas",
    "SOLVER.ITERATION_TOTAL": "solver.iterations",
    "SOLVER.ITERATION_SAVE": "checkpoint.every",
    "SOLVER.ITERATION_VAL": "val.every",
    "INFERENCE.SAMPLES_PER_BATCH": "inference.batch",
}
# v1's unet_3d (anisotropic unless DATASET.IS_ISOTROPIC) is pytc's unet_residual_3d: (1, 5, 5) input kernel
_ARCHITECTURES = {
    "unet_3d": "unet_residual_3d",
    "unet_plus_3d": "unet_residual_3d",
    "unet_residual_3d": "unet_residual_3d",
    "unet_2d": "unet_2d",
    "unet_plus_2d": "unet_2d",
    "fpn_3d": "fpn_3d",
}
_BLOCKS = {"residual": "residual", "residual_se": "residual_se"}
_NORMS = {name: name for name in ("bn", "sync_bn", "in", "gn", "none")}
_ACTIVATIONS = {
    "relu": "relu",
    "elu": "elu",
    "leaky_relu": "leaky_relu",
    "gelu": "gelu",
    "silu": "silu",
    "swish": "silu",
    "efficient_swish": "silu",
}
_PADDING = {name: name for name in ("zeros", "replicate", "reflect", "circular")}
_OPTIMIZERS = {"SGD": "sgd", "AdamW": "adamw", "Adam": "adamw"}
_SCHEDULES = {"WarmupCosineLR": "cosine", "WarmupMultiStepLR": "multistep", "MultiStepLR": "multistep"}
_BLENDING = {"gaussian": "gaussian", "bump": "gaussian"}
_CHOICES = {  # v1 key -> (table, pytc key, what it is)
    "MODEL.BLOCK_TYPE": (_BLOCKS, "model.block", "block"),
    "MODEL.NORM_MODE": (_NORMS, "model.norm", "normalisation"),
    "MODEL.ACT_MODE": (_ACTIVATIONS, "model.activation", "activation"),
    "MODEL.PAD_MODE": (_PADDING, "model.padding_mode", "padding mode"),
    "SOLVER.NAME": (_OPTIMIZERS, "solver.optimizer", "optimizer"),
    "SOLVER.LR_SCHEDULER_NAME": (_SCHEDULES, "solver.schedule", "schedule"),
    "INFERENCE.BLENDING": (_BLENDING, "inference.blending", "blending"),
}
_APPROXIMATIONS = {  # (v1 key, value) -> why the mapped pytc value is not exactly v1's
    ("MODEL.ARCHITECTURE", "unet_plus_3d"): "approximated by unet_residual_3d: no non-local block and no "
    "fusion of the deepest features into every decoder level",
    ("MODEL.ARCHITECTURE", "unet_plus_2d"): "approximated by unet_2d: no non-local block and no fusion of "
    "the deepest features into every decoder level",
    ("MODEL.BACKBONE", "resnet"): "approximated: pytc's fpn_3d has its own residual encoder (model.block)",
    ("SOLVER.NAME", "Adam"): "approximated by adamw: Adam's L2 weight decay becomes decoupled weight decay",
    ("INFERENCE.BLENDING", "bump"): "approximated by gaussian: pytc has no bump blending",
}

# v1 loss -> pytc loss; v1's WeightedBCE takes probabilities, pytc's bce logits
_LOSSES = {
    "WeightedBCEWithLogitsLoss": "bce",
    "WeightedBCE": "bce",
    "DiceLoss": "dice",
    "WeightedMSE": "mse",
    "WeightedMAE": "mae",
    "WeightedCE": "ce",
    "CrossEntropyLoss": "ce",
    "WeightedBCEFocalLoss": "focal",
    "FocalLoss": "focal",
    "JaccardLoss": "jaccard",
}
_LOSS_KWARGS = {  # v1 loss -> {v1 keyword: (pytc option, conversion)}
    "WeightedCE": {"class_weight": ("class_weights", list)},
    # v1 weighs positives by 1 - alpha, pytc by alpha
    "WeightedBCEFocalLoss": {"gamma": ("gamma", float), "alpha": ("alpha", lambda a: 1.0 - a)},
}
_LOSS_ACTIVATIONS = ("none", "sigmoid", "tanh", "softmax")

# v1 AUGMENTOR section -> (pytc augmentation, {v1 parameter: pytc parameter}); P is p everywhere
_AUGMENTS = {
    "ROTATE": ("Rotate", {"ROT90": "rot90"}),
    "RESCALE": ("Rescale", {"FIX_ASPECT": "fix_aspect"}),
    "FLIP": ("Flip", {}),
    "ELASTIC": ("Elastic", {"ALPHA": "alpha", "SIGMA": "sigma"}),
    "GRAYSCALE": ("Grayscale", {}),
    "MISSINGPARTS": ("MissingParts", {"ITER": "iterations"}),
    "MISSINGSECTION": ("MissingSection", {"NUM_SECTION": "num_sections"}),
    "MISALIGNMENT": ("MisAlignment", {"DISPLACEMENT": "displacement", "ROTATE_RATIO": "rotate_ratio"}),
    "MOTIONBLUR": ("MotionBlur", {"SECTIONS": "sections", "KERNEL_SIZE": "kernel_size"}),
    "CUTBLUR": (
        "CutBlur",
        {
            "LENGTH_RATIO": "length_ratio",
            "DOWN_RATIO_MIN": "down_ratio_min",
            "DOWN_RATIO_MAX": "down_ratio_max",
            "DOWNSAMPLE_Z": "downsample_z",
        },
    ),
    "CUTNOISE": ("CutNoise", {"LENGTH_RATIO": "length_ratio", "SCALE": "scale"}),
    "COPYPASTE": ("CopyPaste", {"AUG_THRES": "aug_thres"}),
}
_NOT_IN_PRESET = {"CopyPaste"}  # enabled: an `extra` entry

# Values with which a v1 key asks for what pytc does anyway: mapped to nothing.
_NEUTRAL = {
    "AUGMENTOR.SMOOTH": False,
    "AUGMENTOR.*.SKIP": [],
    "DATASET.DATA_SCALE": [1, 1, 1],
    "DATASET.IMAGE_SCALE": [1, 1, 1],
    "DATASET.LABEL_SCALE": [1, 1, 1],
    "DATASET.VALID_MASK_SCALE": [1, 1, 1],
    "DATASET.PAD_MODE": "reflect",
    "DATASET.DROP_CHANNEL": False,
    "DATASET.LABEL_VAST": False,
    "DATASET.ENSURE_MIN_SIZE": False,
    "MODEL.POOLING_LAYER": False,
    "MODEL.LABEL_DILATION": None,
    "MODEL.REGU_OPT": None,
    "MODEL.RETURN_FEATS": None,
    "SOLVER.WARMUP_METHOD": "linear",
    "SOLVER.ITERATION_RESTART": False,
    "SOLVER.SWA.ENABLED": False,
    "INFERENCE.OUTPUT_SCALE": [1, 1, 1],
    "INFERENCE.UNPAD": True,
    "INFERENCE.DO_EVAL": True,
}

_TRANSFORMER = "a transformer (UNETR, Swin UNETR) setting; pytc's zoo has no transformers"
_TILES = "v1 tile datasets; pytc reads tiles described by its own .json format (pytc.data.io.TiledVolume)"
_INFER = "inference inputs and outputs are command-line options of pytc.infer"
_PRETRAINED = "pretrained weights come from a checkpoint, not from the config"
# Why the other v1 keys are not converted (fnmatch patterns; the first match wins).
_REASONS = {
    "SYSTEM.DISTRIBUTED": "pytc runs one DDP process per GPU whenever system.num_gpu > 1",
    "SYSTEM.PARALLEL": "pytc runs one DDP process per GPU whenever system.num_gpu > 1",
    "SYSTEM.DISTRIBUTED_BACKEND": "pytc uses NCCL on GPUs and gloo on CPUs",
    "SYSTEM.DEBUG": "pytc has no debug mode",
    "MODEL.DEPLOY_MODE": "RepVGG deployment; no RepVGG in pytc's zoo",
    "MODEL.BLOCKS": "EfficientNet backbone setting; no EfficientNet in pytc's zoo",
    "MODEL.KERNEL_SIZES": "EfficientNet backbone setting; no EfficientNet in pytc's zoo",
    "MODEL.ATTENTION": "backbone attention setting; not in pytc's zoo",
    "MODEL.TARGET_OPT_MULTISEG_SPLIT": "multi-segmentation targets are not in pytc",
    "MODEL.LABEL_DILATION": "pytc only erodes labels (data.erode_border)",
    "MODEL.REGU_*": "pytc has no cross-task regularisation",
    "MODEL.POOLING_LAYER": "pytc downsamples by strided convolutions",
    "MODEL.EMBEDDING": "not used by pytc's models",
    "MODEL.HEAD_DEPTH": "pytc's heads are one 1x1 convolution per task",
    "MODEL.FINETUNE": _PRETRAINED,
    "MODEL.EXACT": _PRETRAINED,
    "MODEL.SIZE_MATCH": _PRETRAINED,
    "MODEL.PRE_MODEL*": _PRETRAINED,
    "MODEL.RETURN_FEATS": "pytc's models return only their outputs",
    "MODEL.AUX_OUT": "pytc's models return only their outputs",
    "MODEL.SWIN_UNETR_*": _TRANSFORMER,
    "MODEL.UNETR_*": _TRANSFORMER,
    "MODEL.DEPTHS": _TRANSFORMER,
    "MODEL.NORM_NAME": _TRANSFORMER,
    "MODEL.ATTN_DROP_RATE": _TRANSFORMER,
    "MODEL.DROPOUT_PATH_RATE": _TRANSFORMER,
    "MODEL.NORMALIZE": _TRANSFORMER,
    "MODEL.USE_CHECKPOINT": _TRANSFORMER,
    "MODEL.SPATIAL_DIMS": _TRANSFORMER,
    "MODEL.DOWNSAMPLE": _TRANSFORMER,
    "MODEL.USE_V2": _TRANSFORMER,
    "MODEL.HIDDEN_SIZE": _TRANSFORMER,
    "MODEL.MLP_DIM": _TRANSFORMER,
    "MODEL.POS_EMBED": _TRANSFORMER,
    "MODEL.CONV_BLOCK": _TRANSFORMER,
    "MODEL.RES_BLOCK": _TRANSFORMER,
    "DATASET.*_SCALE": "pytc does not rescale volumes: resample them beforehand",
    "DATASET.SCALE_FACTOR": "super-resolution setting; pytc has no super-resolution task",
    "DATASET.DISTRIBUTED": "v1 splits the volumes among processes; pytc's processes all sample every volume",
    "DATASET.DO_2D": "pytc trains in 2D when model.name is a 2D model (data.sample_shape (Y, X))",
    "DATASET.LOAD_2D": "pytc reads a folder or glob of 2D images as one volume",
    "DATASET.DROP_CHANNEL": "pytc keeps the image channels",
    "DATASET.REDUCE_LABEL": "pytc keeps label ids as they are",
    "DATASET.LABEL_VAST": "VAST-coloured labels: convert them to ids beforehand",
    "DATASET.LABEL_BINARY": "pytc builds binary targets with the binary target",
    "DATASET.LABEL_MAG": "pytc does not rescale label ids",
    "DATASET.ENSURE_MIN_SIZE": "pytc does not resize volumes smaller than a sample",
    "DATASET.NORMALIZE_RANGE": "v1's intensity normalisation; set data.normalize",
    "DATASET.MEAN": "v1's intensity normalisation; set data.normalize",
    "DATASET.STD": "v1's intensity normalisation; set data.normalize",
    "DATASET.MATCH_ACT": "v1's intensity normalisation; set data.normalize",
    "DATASET.PAD_MODE": "pytc pads volumes by reflection",
    "DATASET.VAL_PAD_SIZE": "pytc pads validation volumes by data.pad",
    "DATASET.DO_CHUNK_TITLE": _TILES,
    "DATASET.DATA_CHUNK_*": _TILES,
    "DATASET.CHUNK_IND_SPLIT": _TILES,
    "DATASET.DATA_COORD_RANGE": _TILES,
    "DATASET.REJECT_SAMPLING.NUM_TRIAL": "pytc redraws a rejected sample until one is accepted",
    "DATASET.LABEL_EROSION": "not a v1.0.0 key (v1 erodes by MODEL.LABEL_EROSION and rejects this file)",
    "AUGMENTOR.SMOOTH": "pytc does not smooth labels after augmentation",
    "AUGMENTOR.ADDITIONAL_TARGETS_*": "pytc augments the image, label and mask of a sample together",
    "AUGMENTOR.MIXUP.*": "no mixup in pytc's augmentation config",
    "AUGMENTOR.*.SKIP": "pytc applies each augmentation to every array of a sample",
    "SOLVER.BIAS_LR_FACTOR": "pytc has one learning rate for all parameters",
    "SOLVER.WEIGHT_DECAY_*": "pytc has one weight decay for all parameters",
    "SOLVER.WARMUP_METHOD": "pytc warms up linearly",
    "SOLVER.ITERATION_RESTART": "restarting the iteration count is not a pytc config option",
    "SOLVER.SWA.*": "no stochastic weight averaging in pytc (solver.ema is an exponential average)",
    "SOLVER.CLIP_GRADIENTS.*": "ignored: gradient clipping is disabled",
    "MONITOR.LOG_OPT": "pytc logs scalars every log.every iterations",
    "MONITOR.VIS_OPT": "pytc shows images every log.image_every iterations",
    "INFERENCE.DATA_SCALE": "pytc does not rescale volumes",
    "INFERENCE.OUTPUT_SCALE": "pytc does not rescale predictions",
    "INFERENCE.UNPAD": "pytc predicts the whole volume",
    "INFERENCE.DO_EVAL": "pytc predicts in eval mode",
    "INFERENCE.TEST_NUM": "pytc.infer does not split a run into test workers",
    "INFERENCE.TEST_ID": "pytc.infer does not split a run into test workers",
    "INFERENCE.MODEL_RETURN_FEATS": "pytc's models return only their outputs",
    "INFERENCE.AUG_*": "test-time augmentation is not a pytc config option (pytc.infer)",
    "INFERENCE.*": _INFER,
}

_MISSING = object()


# --------------------------------------------------------------------------- reading v1 files


def read_v1(files: str | os.PathLike | Sequence[str | os.PathLike]) -> dict:
    """The v1 YAML files merged in order (later files win), as a nested dict.

    Parameters
    ----------
    files : str, path or list of them
        Base first, as v1's ``--config-base`` then ``--config-file``.

    Raises
    ------
    ConfigError
        A file is missing, is not YAML or does not hold a mapping.
    """
    if isinstance(files, (str, os.PathLike)):
        files = [files]
    if not files:
        raise ConfigError(f"convert: `files` must be a non-empty list of v1 YAML paths; got {files!r}")
    merged = {}
    for path in files:
        merged = merge(merged, _read_yaml(Path(path)))
    return merged


def _read_yaml(path):
    if not path.is_file():
        raise ConfigError(f"convert: `files` must be existing v1 YAML files; got {path} (no such file)")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"convert: v1 config {path} must be valid YAML; got {problem}{where}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"convert: v1 config {path} must hold a mapping of keys; got {type(data).__name__}")
    return data


def _decode(value):
    """A value as yacs reads it: strings holding Python literals (tuples, None, numbers) are evaluated."""
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return value
    return list(value) if isinstance(value, tuple) else value


def flatten(tree, prefix=""):
    """The leaf keys of a nested v1 dict, as ``{"MODEL.FILTERS": [...], ...}`` (lists are leaves)."""
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = _decode(value)
    return flat


# --------------------------------------------------------------------------- conversion state


@dataclasses.dataclass
class V1Conversion:
    """A converted v1 config.

    Attributes
    ----------
    data : dict
        The pytc config, nested, for ``from_dict(Config, data)``.
    unmapped : list of (str, object, str)
        (v1 key, value, reason) for every key without a pytc equivalent and every approximation; a key
        inside a list reads ``MODEL.TARGET_OPT[1]``.
    mapped : set of str
        The v1 keys carried into `data`.
    notes : list of str
        Adaptations worth a comment in the output (e.g. the per-GPU batch made global).
    """

    data: dict = dataclasses.field(default_factory=dict)
    unmapped: list = dataclasses.field(default_factory=list)
    mapped: set = dataclasses.field(default_factory=set)
    notes: list = dataclasses.field(default_factory=list)


class _Converter:
    """Reads the flat v1 config and records what each key became."""

    def __init__(self, flat, defaulted=()):
        self.v1 = flat
        self.defaulted = set(defaulted)  # keys set by V1_DEFAULTS only: never listed
        self.out = V1Conversion()
        self.handled = set()

    def has(self, key):
        return key in self.v1

    def peek(self, key):
        """The value from the files, else v1's default; records nothing."""
        return self.v1.get(key, V1_DEFAULTS.get(key))

    def take(self, key):
        """The value of a key that is mapped."""
        if key in self.v1:
            self.out.mapped.add(key)
            self.handled.add(key)
        return self.peek(key)

    def skip(self, key, reason):
        """Lists a key of the files as not converted."""
        if key in self.v1:
            self.handled.add(key)
            if key not in self.defaulted:
                self.out.unmapped.append((key, self.v1[key], reason))

    def note(self, key, value, reason):
        """Lists an approximation or a part of a list (``KEY[i]``) that is not converted."""
        base = key.split("[")[0]
        if base not in self.defaulted:
            self.out.unmapped.append((key, value, reason if base in self.v1 else f"{reason} (v1's default)"))

    def put(self, dest, value):
        node = self.out.data
        *parents, last = dest.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value

    def comment(self, text):
        self.out.notes.append(text)


def _matches(key, patterns):
    return next((patterns[p] for p in patterns if fnmatch.fnmatchcase(key, p)), _MISSING)


def _sweep(c):
    """Every key left: neutral values are mapped to nothing, the rest listed with their reason."""
    for key, value in c.v1.items():
        if key in c.handled:
            continue
        if _matches(key, _NEUTRAL) == value:
            c.take(key)
        else:
            reason = _matches(key, _REASONS)
            c.skip(key, FALLBACK_REASON if reason is _MISSING else reason)


def _lookup(table, value):
    """table[value], or None (also for unhashable values such as lists)."""
    try:
        return table.get(value)
    except TypeError:
        return None


def _choice(c, key, table, dest, what):
    """A key whose values map through `table`; others are listed."""
    if not c.has(key):
        return None
    value = c.peek(key)
    if _lookup(table, value) is None:
        c.skip(key, f"{what} {value!r} has no pytc equivalent; pytc has {', '.join(sorted(set(table.values())))}")
        return None
    c.put(dest, table[c.take(key)])
    if (key, value) in _APPROXIMATIONS:
        c.note(key, value, _APPROXIMATIONS[(key, value)])
    return table[value]


def _is_2d(c):
    return _lookup(_ARCHITECTURES, c.peek("MODEL.ARCHITECTURE")) == "unet_2d"


def _spatial(c, shape):
    """A v1 (Z, Y, X) shape for pytc: (Y, X) for 2D models."""
    shape = list(shape)
    return shape[1:] if _is_2d(c) and len(shape) == 3 and shape[0] == 1 else shape


# --------------------------------------------------------------------------- sections


def _system(c):
    gpus = max(1, int(c.peek("SYSTEM.NUM_GPUS") or 0))
    if c.has("SYSTEM.NUM_GPUS"):
        c.put("system.num_gpu", c.take("SYSTEM.NUM_GPUS"))
    if c.has("SYSTEM.NUM_CPUS"):
        cpus = c.take("SYSTEM.NUM_CPUS")
        workers = max(1, cpus // gpus) if cpus > 0 else 0
        c.put("system.num_workers", workers)
        if gpus > 1:
            c.comment(f"system.num_workers {workers}: v1's SYSTEM.NUM_CPUS ({cpus}) shared by {gpus} GPU processes")


def _model(c):
    arch = c.peek("MODEL.ARCHITECTURE")
    name = _lookup(_ARCHITECTURES, arch)
    if name is None:
        c.skip("MODEL.ARCHITECTURE", f"no {arch} model in pytc's zoo; pytc's default model is used")
        for key in ("MODEL.FILTERS", "MODEL.ISOTROPY", "MODEL.BLOCK_TYPE", "MODEL.BACKBONE", "DATASET.IS_ISOTROPIC"):
            c.skip(key, f"a setting of v1's {arch} model, which is not converted")
    else:
        isotropic = bool(c.peek("DATASET.IS_ISOTROPIC"))
        if isotropic and name == "unet_residual_3d":
            name = "unet_3d"  # isotropic levels and input kernel
        if c.has("MODEL.ARCHITECTURE") or isotropic:
            c.take("MODEL.ARCHITECTURE")
            c.take("DATASET.IS_ISOTROPIC")
            c.put("model.name", name)
            if ("MODEL.ARCHITECTURE", arch) in _APPROXIMATIONS:
                c.note("MODEL.ARCHITECTURE", arch, _APPROXIMATIONS[("MODEL.ARCHITECTURE", arch)])
        _levels(c, name, isotropic)
        _backbone(c, arch)
    for key in ("MODEL.BLOCK_TYPE", "MODEL.NORM_MODE", "MODEL.ACT_MODE", "MODEL.PAD_MODE"):
        if key not in c.handled:
            _choice(c, key, *_CHOICES[key])
    if c.has("MODEL.MIXED_PRECESION"):  # v1's spelling
        c.put("solver.precision", "fp16" if c.take("MODEL.MIXED_PRECESION") else "fp32")


def _levels(c, name, isotropic):
    """model.filters and model.isotropy, written together (pytc needs one isotropy per level)."""
    keys = ("MODEL.ARCHITECTURE", "MODEL.FILTERS", "MODEL.ISOTROPY", "DATASET.IS_ISOTROPIC")
    if not any(c.has(k) for k in keys):
        return  # v1's default model is pytc's default model
    filters = c.peek("MODEL.FILTERS")
    if not isinstance(filters, list) or not filters:
        c.skip("MODEL.FILTERS", "expected a list of channels per level")
        c.skip("MODEL.ISOTROPY", "expected one entry per level of MODEL.FILTERS")
        return
    c.take("MODEL.FILTERS")
    if name == "unet_2d":
        isotropy = [True] * len(filters)
        c.skip("MODEL.ISOTROPY", "2D models have no z axis")
    elif isotropic:
        isotropy = [True] * len(filters)
        c.take("MODEL.ISOTROPY")  # v1 overrides it with DATASET.IS_ISOTROPIC
    else:
        isotropy = c.peek("MODEL.ISOTROPY")
        if not isinstance(isotropy, list) or len(isotropy) != len(filters):
            c.skip("MODEL.ISOTROPY", f"needs one entry per level of MODEL.FILTERS ({len(filters)}), in v1 too")
            isotropy = None
        else:
            isotropy = [bool(x) for x in c.take("MODEL.ISOTROPY")]
    c.put("model.filters", filters)
    if isotropy is not None:
        c.put("model.isotropy", isotropy)


def _backbone(c, arch):
    if not c.has("MODEL.BACKBONE"):
        return
    backbone = c.peek("MODEL.BACKBONE")
    if arch != "fpn_3d":
        c.skip("MODEL.BACKBONE", "only read by v1's fpn_3d and deeplab models")
    elif backbone == "resnet":
        c.take("MODEL.BACKBONE")
        c.note("MODEL.BACKBONE", backbone, _APPROXIMATIONS[("MODEL.BACKBONE", "resnet")])
    else:
        c.skip("MODEL.BACKBONE", f"no {backbone} backbone in pytc's zoo; pytc's fpn_3d has a residual encoder")


# --------------------------------------------------------------------------- tasks


class _Unsupported(Exception):
    """A v1 target or weight option without a pytc equivalent."""


def _ints(parts, n, form):
    if len(parts) != n:
        raise _Unsupported(f"expected the form {form}")
    try:
        return [int(p) for p in parts]
    except ValueError:
        raise _Unsupported(f"expected the form {form}") from None


def _binary(parts, ndim):
    return "binary", ({"foreground": [int(p) for p in parts]} if parts else {}), []


def _polarity(parts, ndim):
    if parts:
        raise _Unsupported(
            "exclusive polarity classes (for cross-entropy); pytc's polarity target is 3 non-exclusive channels"
        )
    return "polarity", {}, []


def _affinity(parts, ndim):
    if not parts:
        return "affinity", {}, []  # nearest neighbours
    if len(parts) != 4 or parts[3] != "v1":
        raise _Unsupported("pytc's affinities take one-sided offsets, as v1's 2-Z-Y-X-v1 form")
    dz, dy, dx = _ints(parts[:3], 3, "2-Z-Y-X-v1")
    offsets = [[-dy, 0], [0, -dx]] if ndim == 2 else [[-dz, 0, 0], [0, -dy, 0], [0, 0, -dx]]
    return "affinity", {"offsets": offsets}, []


def _small_object(parts, ndim):
    size, z_ratio, _ = _ints(parts, 3, "3-SIZE-ZRATIO-DILATION")  # v1 ignores the dilation
    return "small_object", {"threshold": size, "z_ratio": z_ratio}, []


def _boundary(parts, ndim):
    thickness, background = _ints(parts, 2, "4-THICKNESS-BACKGROUND")
    # v1 convolves edge filters unless only contacts between instances count
    return "boundary", {"thickness": thickness, "background": bool(background), "convolve": bool(background)}, []


def _instance_edt(parts, ndim):
    parts = parts or ["2d", "0", "0", "5.0", "0"]  # v1's default
    if len(parts) != 5 or parts[0] not in ("2d", "3d"):
        raise _Unsupported("expected the form 5-MODE-PADDING-QUANTIZE-ZRES-EROSION")
    mode, padding, quantize, z_res, erosion = parts
    options = {"mode": mode}
    if mode == "3d":
        options["resolution"] = [float(z_res), 1.0, 1.0]
    notes = []
    if int(padding):
        notes.append("v1 pads with background so that volume faces bound instances; pytc does not")
    if int(erosion):
        notes.append(f"v1 erodes each instance by {erosion} first; pytc does not")
    if int(quantize):
        return "quantized_edt", options, notes
    return "instance_edt", {**options, "background": -1.0}, notes  # v1 fills the background with -1


def _semantic_edt(parts, ndim):
    parts = parts or ["2d", "8", "50"]  # v1's default
    if len(parts) != 3 or parts[0] not in ("2d", "3d"):
        raise _Unsupported("expected the form 6-MODE-ALPHA_FORE-ALPHA_BACK")
    return "semantic_edt", {"mode": parts[0], "alpha_fore": float(parts[1]), "alpha_back": float(parts[2])}, []


def _semantic(parts, ndim):
    return "semantic", ({"num_classes": _ints(parts, 1, "9-CLASSES")[0]} if parts else {}), []


_TARGETS = {
    "0": _binary,
    "1": _polarity,
    "2": _affinity,
    "3": _small_object,
    "4": _boundary,
    "5": _instance_edt,
    "6": _semantic_edt,
    "9": _semantic,
}
_UNSUPPORTED_TARGETS = {
    "7": "cellpose diffusion gradients; no such target in pytc",
    "8": "skeleton-aware distance transform; no such target in pytc",
    "I": "image reconstruction target; no such target in pytc",
}


def decode_target(topt, ndim=3):
    """A v1 TARGET_OPT string as (pytc target, options, notes on approximations).

    Raises `ValueError` with the reason for targets pytc does not have.

    Examples
    --------
    >>> decode_target("2-2-3-3-v1")
    ('affinity', {'offsets': [[-2, 0, 0], [0, -3, 0], [0, 0, -3]]}, [])
    >>> decode_target("4-1-1")[:2]
    ('boundary', {'thickness': 1, 'background': True, 'convolve': True})
    """
    kind, *parts = str(topt).split("-")
    if kind in _UNSUPPORTED_TARGETS:
        raise ValueError(_UNSUPPORTED_TARGETS[kind])
    if kind not in _TARGETS:
        raise ValueError(f"unknown v1 target {kind!r}")
    try:
        return _TARGETS[kind](parts, ndim)
    except _Unsupported as e:
        raise ValueError(str(e)) from None


def _decode_weight(wopt):
    """A v1 WEIGHT_OPT string as (pytc task weight, weight options, note or None)."""
    kind, *parts = str(wopt).split("-")
    if kind == "0":
        return None, {}, None
    if kind == "1":
        note = "v1 dilates the foreground before weighting ('1-1'); pytc does not" if parts == ["1"] else None
        return "ratio", {}, note
    if kind == "2" and len(parts) == 2:
        note = f"pytc weighs the foreground by the background fraction, not by v1's w1 = {parts[1]}"
        return "unet", {"w0": float(parts[0])}, note
    return None, {}, f"weight option {wopt!r} has no pytc equivalent"


def _at(items, *index):
    """items[i][j]..., or None where v1's lists are too short."""
    for i in index:
        if not isinstance(items, list) or i >= len(items):
            return None
        items = items[i]
    return items


def _tasks(c):
    """One pytc task per v1 TARGET_OPT entry, with its losses, weight and activations."""
    for key in (
        "MODEL.TARGET_OPT",
        "MODEL.LOSS_OPTION",
        "MODEL.LOSS_WEIGHT",
        "MODEL.WEIGHT_OPT",
        "MODEL.OUTPUT_ACT",
        "MODEL.LOSS_KWARGS_KEY",
        "MODEL.LOSS_KWARGS_VAL",
        "INFERENCE.OUTPUT_ACT",
    ):
        c.take(key)
    targets = c.peek("MODEL.TARGET_OPT")
    targets = targets if isinstance(targets, list) else [targets]
    ndim = 2 if _is_2d(c) else 3
    tasks = [task for i, topt in enumerate(targets) if (task := _task(c, i, topt, ndim))]
    _name_duplicates(tasks)
    c.put("tasks", tasks)
    _out_planes(c, tasks, ndim)


def _task(c, i, topt, ndim):
    try:
        target, options, notes = decode_target(topt, ndim)
    except ValueError as e:
        c.note(f"MODEL.TARGET_OPT[{i}]", topt, f"{e}; the task and its losses are dropped")
        return None
    for note in notes:
        c.note(f"MODEL.TARGET_OPT[{i}]", topt, note)
    losses = _losses(c, i)
    if target == "instance_edt" and any(loss["name"] == "ce" for loss in losses):
        target, options = "quantized_edt", {k: v for k, v in options.items() if k != "background"}
        c.note(
            f"MODEL.TARGET_OPT[{i}]",
            topt,
            "v1.0.0 does not quantise this target, but its loss is cross-"
            "entropy, which needs classes: converted to quantized_edt",
        )
    task = {"target": target, **({"options": options} if options else {})}
    task.update(_task_weight(c, i))
    task["losses"] = losses
    activation = _at(c.peek("INFERENCE.OUTPUT_ACT"), i) if c.has("INFERENCE.OUTPUT_ACT") else None
    if activation in _LOSS_ACTIVATIONS:
        task["activation"] = activation
    elif activation is not None:
        c.note(f"INFERENCE.OUTPUT_ACT[{i}]", activation, "pytc's activations: " + ", ".join(_LOSS_ACTIVATIONS))
    return task


def _losses(c, i):
    names = _at(c.peek("MODEL.LOSS_OPTION"), i) or []
    losses = []
    for j, name in enumerate(names):
        if name not in _LOSSES:
            c.note(
                f"MODEL.LOSS_OPTION[{i}][{j}]",
                name,
                f"no {name} in pytc; pytc has {', '.join(sorted(set(_LOSSES.values())))}",
            )
            continue
        weight = _at(c.peek("MODEL.LOSS_WEIGHT"), i, j)
        loss = {"name": _LOSSES[name], "weight": 1.0 if weight is None else weight}
        activation = _loss_activation(c, i, j, name)
        if activation is not None:
            loss["activation"] = activation
        options = _loss_options(c, i, j, name)
        if options:
            loss["options"] = options
        losses.append(loss)
    return losses


def _loss_activation(c, i, j, name):
    acts = c.peek("MODEL.OUTPUT_ACT")
    act = acts if isinstance(acts, str) else _at(acts, i, j)  # v1 configs sometimes give one string
    if act is None:
        return None
    if name == "WeightedBCE":  # on probabilities: pytc's bce on logits is BCE after a sigmoid
        if act != "sigmoid":
            c.note(
                f"MODEL.OUTPUT_ACT[{i}][{j}]",
                act,
                "v1's WeightedBCE after this activation; pytc's bce takes logits (a sigmoid inside)",
            )
        return "none"
    if act not in _LOSS_ACTIVATIONS:
        c.note(f"MODEL.OUTPUT_ACT[{i}][{j}]", act, "pytc's loss activations: " + ", ".join(_LOSS_ACTIVATIONS))
        return None
    return act


def _loss_options(c, i, j, name):
    keys = _at(c.peek("MODEL.LOSS_KWARGS_KEY"), i, j) or []
    values = _at(c.peek("MODEL.LOSS_KWARGS_VAL"), i, j) or []
    table = _LOSS_KWARGS.get(name, {})
    options = {"alpha": 0.75} if name == "WeightedBCEFocalLoss" else {}  # v1's alpha 0.25 in pytc's terms
    for key, value in zip(keys, values, strict=False):  # v1 ignores unpaired entries too
        if key in table:
            option, convert = table[key]
            options[option] = convert(value)
        else:
            c.note(f"MODEL.LOSS_KWARGS_KEY[{i}][{j}]", key, f"no {key} option for pytc's {_LOSSES[name]}")
    return options


def _task_weight(c, i):
    """pytc's one weight per task from v1's one weight option per loss."""
    wopts = _at(c.peek("MODEL.WEIGHT_OPT"), i) or ["0"]
    chosen = [str(w) for w in wopts if str(w) != "0"]
    if not chosen:
        return {}
    if len({str(w) for w in wopts}) > 1:
        c.note(
            f"MODEL.WEIGHT_OPT[{i}]",
            wopts,
            f"pytc has one weight per task, applied to all its losses: {chosen[0]!r} for all",
        )
    weight, options, note = _decode_weight(chosen[0])
    if note:
        c.note(f"MODEL.WEIGHT_OPT[{i}]", wopts, note)
    return {"weight": weight, **({"weight_options": options} if options else {})} if weight else {}


def _name_duplicates(tasks):
    """pytc's task names must differ: repeated targets become affinity_0, affinity_1..."""
    counts = {}
    for task in tasks:
        counts[task["target"]] = counts.get(task["target"], 0) + 1
    seen = {}
    for task in tasks:
        if counts[task["target"]] > 1:
            k = seen[task["target"]] = seen.get(task["target"], -1) + 1
            task["name"] = f"{task['target']}_{k}"


def _out_planes(c, tasks, ndim):
    """MODEL.OUT_PLANES is implied by the tasks; listed only when it disagrees."""
    if not c.has("MODEL.OUT_PLANES"):
        return
    from pytc.data.targets import target_channels

    try:
        channels = sum(target_channels(t["target"], t.get("options"), ndim)[1] for t in tasks)
    except ValueError:  # e.g. semantic without num_classes
        channels = None
    planes = c.peek("MODEL.OUT_PLANES")
    if channels is None or planes == channels:
        c.take("MODEL.OUT_PLANES")
    else:
        c.skip("MODEL.OUT_PLANES", f"pytc derives the output channels from `tasks`: {channels}")


# --------------------------------------------------------------------------- data and augmentation


def _data(c):
    joined = [
        _volumes(c, key, dest)
        for key, dest in (
            ("DATASET.IMAGE_NAME", "data.train.image"),
            ("DATASET.LABEL_NAME", "data.train.label"),
            ("DATASET.VALID_MASK_NAME", "data.train.mask"),
            ("DATASET.VAL_IMAGE_NAME", "data.val.image"),
            ("DATASET.VAL_LABEL_NAME", "data.val.label"),
            ("DATASET.VAL_VALID_MASK_NAME", "data.val.mask"),
        )
    ]
    for key in ("DATASET.INPUT_PATH", "DATASET.IS_ABSOLUTE_PATH"):
        if any(joined):
            c.take(key)
        else:
            c.skip(key, "only read with the volume names, which are not converted")
    if c.has("MODEL.INPUT_SIZE"):
        c.put("data.sample_shape", _spatial(c, c.take("MODEL.INPUT_SIZE")))
    if c.has("MODEL.OUTPUT_SIZE"):
        if c.peek("MODEL.OUTPUT_SIZE") == c.peek("MODEL.INPUT_SIZE"):
            c.take("MODEL.OUTPUT_SIZE")
        else:
            c.skip("MODEL.OUTPUT_SIZE", "pytc's outputs have the size of the input")
    _erosion(c)
    _rejection(c)


def _volumes(c, key, dest):
    """Volume names joined with DATASET.INPUT_PATH as pytc's list of paths; True when converted."""
    if not c.has(key) or c.peek(key) is None:
        c.take(key)
        return False
    names = c.peek(key)
    names = names.split("@") if isinstance(names, str) else [str(n) for n in names]
    lists = [n for n in names if n.endswith((".txt", ".json"))]
    if lists:
        what = "a v1 list of files" if lists[0].endswith(".txt") else "a v1 tile description"
        c.skip(key, f"{lists[0]} is {what}; pytc reads volumes as PATH[:DATASET] strings: list them in {dest}")
        return False
    if not c.peek("DATASET.IS_ABSOLUTE_PATH") and c.has("DATASET.INPUT_PATH"):
        folders = str(c.peek("DATASET.INPUT_PATH")).split("@")
        if len(folders) not in (1, len(names)):
            c.skip(key, f"DATASET.INPUT_PATH has {len(folders)} folders for {len(names)} volumes")
            return False
        names = [os.path.join(folders[0 if len(folders) == 1 else k], n) for k, n in enumerate(names)]
    c.take(key)
    c.put(dest, names)
    return True


def _erosion(c):
    if not c.has("MODEL.LABEL_EROSION"):
        return
    rates = c.take("MODEL.LABEL_EROSION")
    if rates is None:
        return
    if isinstance(rates, list):
        if len(set(rates)) > 1:
            c.note("MODEL.LABEL_EROSION", rates, f"pytc erodes once for all tasks: {rates[0]} for all")
        rates = rates[0]
    c.put("data.erode_border", rates)


def _rejection(c):
    if c.has("DATASET.REJECT_SAMPLING.SIZE_THRES"):
        c.put("data.min_foreground", max(0, c.take("DATASET.REJECT_SAMPLING.SIZE_THRES")))  # v1: -1 is off
    if c.has("DATASET.REJECT_SAMPLING.DIVERSITY"):
        diversity = c.take("DATASET.REJECT_SAMPLING.DIVERSITY")
        c.put("data.min_instances", max(0, diversity - 1))
        if diversity > 0:
            c.note(
                "DATASET.REJECT_SAMPLING.DIVERSITY",
                diversity,
                "approximated: v1 counts the background among "
                f"the ids and redraws with probability P; data.min_instances {max(0, diversity - 1)} counts "
                "nonzero ids",
            )


def _augment(c):
    if c.has("AUGMENTOR.ENABLED") and not c.take("AUGMENTOR.ENABLED"):
        c.put("data.augment.preset", "none")
        for key in c.v1:  # nothing else of the section matters
            if key.startswith("AUGMENTOR.") and key not in c.handled:
                c.take(key)
        return
    for section, (name, params) in _AUGMENTS.items():
        _augmentation(c, section, name, params)
    if c.has("AUGMENTOR.FLIP.DO_ZTRANS") and c.take("AUGMENTOR.FLIP.DO_ZTRANS"):
        c.put("data.augment.isotropic", True)
        c.note(
            "AUGMENTOR.FLIP.DO_ZTRANS",
            c.peek("AUGMENTOR.FLIP.DO_ZTRANS"),
            "approximated by data.augment.isotropic, which also makes pytc's Elastic 3D",
        )


def _augmentation(c, section, name, params):
    prefix = f"AUGMENTOR.{section}."
    keys = [k for k in c.v1 if k.startswith(prefix)]
    enabled = c.peek(prefix + "ENABLED")
    enabled = True if enabled is None else bool(enabled)
    c.take(prefix + "ENABLED")
    values = {}
    for key in keys:
        param = "p" if key == prefix + "P" else params.get(key[len(prefix) :])
        if param:
            values[param] = c.take(key)
    if name in _NOT_IN_PRESET:
        if enabled:
            _append(c, "data.augment.extra", {"name": name, **values})
        return
    if not enabled:
        _append(c, "data.augment.skip", name)
    elif values:
        c.put(f"data.augment.params.{name}", values)


def _append(c, dest, value):
    *parents, last = dest.split(".")
    node = c.out.data
    for part in parents:
        node = node.setdefault(part, {})
    node.setdefault(last, []).append(value)


# --------------------------------------------------------------------------- solver, logging, inference


def _direct(c):
    for key, dest in _DIRECT.items():
        if c.has(key):
            c.put(dest, c.take(key))


def _solver(c):
    for key in ("SOLVER.NAME", "SOLVER.LR_SCHEDULER_NAME"):
        _choice(c, key, *_CHOICES[key])
    _schedule(c)
    _batch(c)
    if c.has("SOLVER.ITERATION_STEP"):
        if c.peek("SOLVER.ITERATION_STEP") == 1:
            c.put("solver.accumulate", c.take("SOLVER.ITERATION_STEP"))
        else:
            c.skip("SOLVER.ITERATION_STEP", "v1.0.0 reads but never uses it (no gradient accumulation)")
    _clip(c)


def _schedule(c):
    name = c.peek("SOLVER.LR_SCHEDULER_NAME")
    explicit = c.has("SOLVER.LR_SCHEDULER_NAME")
    steps_given = c.has("SOLVER.STEPS") and "SOLVER.STEPS" not in c.defaulted
    if steps_given or (explicit and _lookup(_SCHEDULES, name) == "multistep"):
        if not steps_given:
            c.comment(f"solver.milestones: v1's default SOLVER.STEPS {c.peek('SOLVER.STEPS')}")
        c.put("solver.milestones", list(c.take("SOLVER.STEPS")))
    if c.has("SOLVER.GAMMA"):
        c.put("solver.gamma", c.take("SOLVER.GAMMA"))
    if name == "MultiStepLR":  # torch's, without warm-up
        if explicit:
            c.put("solver.warmup", 0)
        for key in ("SOLVER.WARMUP_ITERS", "SOLVER.WARMUP_FACTOR"):
            c.skip(key, "v1's MultiStepLR has no warm-up")
        return
    if c.has("SOLVER.WARMUP_ITERS"):
        c.put("solver.warmup", c.take("SOLVER.WARMUP_ITERS"))
    if c.has("SOLVER.WARMUP_FACTOR"):
        c.put("solver.warmup_factor", c.take("SOLVER.WARMUP_FACTOR"))


def _batch(c):
    if not c.has("SOLVER.SAMPLES_PER_BATCH"):
        return
    per_gpu = c.take("SOLVER.SAMPLES_PER_BATCH")
    gpus = max(1, int(c.peek("SYSTEM.NUM_GPUS") or 0))
    c.put("solver.batch_size", per_gpu * gpus)
    c.comment(
        f"solver.batch_size {per_gpu * gpus}: v1's SOLVER.SAMPLES_PER_BATCH ({per_gpu}) is per GPU, "
        f"x {gpus} GPU(s); pytc's batch_size is global"
    )


def _clip(c):
    if not c.has("SOLVER.CLIP_GRADIENTS.ENABLED"):
        return
    if not c.take("SOLVER.CLIP_GRADIENTS.ENABLED"):
        c.put("solver.clip_grad", 0.0)
        return
    value = c.take("SOLVER.CLIP_GRADIENTS.CLIP_VALUE")
    c.put("solver.clip_grad", float(1.0 if value is None else value))
    if c.peek("SOLVER.CLIP_GRADIENTS.CLIP_TYPE") in (None, "value"):  # v1's default
        c.take("SOLVER.CLIP_GRADIENTS.CLIP_TYPE")
        c.note(
            "SOLVER.CLIP_GRADIENTS.CLIP_TYPE",
            "value",
            "approximated: v1 clips each gradient element, pytc clips the gradient norm",
        )
    else:
        c.take("SOLVER.CLIP_GRADIENTS.CLIP_TYPE")
    c.take("SOLVER.CLIP_GRADIENTS.NORM_TYPE")


def _monitor(c):
    if not c.has("MONITOR.ITERATION_NUM"):
        return
    every = c.peek("MONITOR.ITERATION_NUM")
    if not isinstance(every, list) or len(every) != 2:
        c.skip("MONITOR.ITERATION_NUM", "expected [log iterations, image iterations]")
        return
    c.take("MONITOR.ITERATION_NUM")
    c.put("log.every", every[0])
    c.put("log.image_every", every[1])


def _inference(c):
    window = c.peek("INFERENCE.INPUT_SIZE") if c.has("INFERENCE.INPUT_SIZE") else None
    if window is not None:
        c.put("inference.window", _spatial(c, c.take("INFERENCE.INPUT_SIZE")))
    if c.has("INFERENCE.OUTPUT_SIZE"):
        if c.peek("INFERENCE.OUTPUT_SIZE") in (window, None):
            c.take("INFERENCE.OUTPUT_SIZE")
        else:
            c.skip("INFERENCE.OUTPUT_SIZE", "pytc's outputs have the size of the window")
    if c.has("INFERENCE.STRIDE"):
        _overlap(c, window or c.peek("MODEL.INPUT_SIZE"), c.peek("INFERENCE.STRIDE"))
    _choice(c, "INFERENCE.BLENDING", *_CHOICES["INFERENCE.BLENDING"])


def _overlap(c, window, stride):
    """v1's stride as pytc's one overlap fraction: the smallest over the axes the window spans."""
    if not (isinstance(stride, list) and isinstance(window, list) and len(stride) == len(window)):
        c.skip("INFERENCE.STRIDE", f"needs one stride per axis of the window {window}")
        return
    per_axis = [1 - s / w for s, w in zip(stride, window, strict=True) if w > 1]
    overlap = round(min(0.9, max(0.0, min(per_axis, default=0.0))), 3)
    c.take("INFERENCE.STRIDE")
    c.put("inference.overlap", overlap)
    c.comment(f"inference.overlap {overlap}: 1 - INFERENCE.STRIDE / window, the smallest over the axes")
    if per_axis and (max(per_axis) - min(per_axis) > 0.01 or overlap != round(min(per_axis), 3)):
        c.note(
            "INFERENCE.STRIDE",
            stride,
            f"approximated: pytc has one overlap for all axes; v1's per axis: "
            f"{[round(o, 2) for o in per_axis]}, converted to {overlap}",
        )


# --------------------------------------------------------------------------- public API


def _ordered(value, annotation):
    """`value` with its mapping keys in the schema's order (for readable YAML)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):  # Optional[X]
        annotation = typing.get_args(annotation)[0]
    if dataclasses.is_dataclass(annotation) and isinstance(value, dict):
        hints = typing.get_type_hints(annotation)
        order = [name for name in hints if name in value] + [name for name in value if name not in hints]
        return {k: _ordered(value[k], hints.get(k)) for k in order}
    if typing.get_origin(annotation) is list and isinstance(value, list):
        return [_ordered(v, typing.get_args(annotation)[0]) for v in value]
    return value


def convert_v1_dict(v1: dict, v1_defaults: bool = True) -> "V1Conversion":
    """Converts a merged v1 config (nested dict, as `read_v1` returns).

    Parameters
    ----------
    v1 : dict
    v1_defaults : bool
        Also write v1's defaults (`V1_DEFAULTS`) of mapped keys the files do not set (default: True).

    Returns
    -------
    V1Conversion
        ``data`` is checked with ``from_dict(Config, data)``.
    """
    flat = flatten(v1)
    defaulted = set(V1_DEFAULTS) - set(flat) if v1_defaults else set()
    c = _Converter({**{k: V1_DEFAULTS[k] for k in defaulted}, **flat}, defaulted)
    for section in (_direct, _system, _model, _tasks, _data, _augment, _solver, _monitor, _inference, _sweep):
        section(c)
    order = {key: i for i, key in enumerate(flat)}
    c.out.unmapped.sort(key=lambda entry: order.get(entry[0].split("[")[0], len(order)))
    c.out.data = _ordered(c.out.data, Config)
    try:
        from_dict(Config, c.out.data)
    except ConfigError as e:
        raise ConfigError(f"convert: the v1 values give an invalid pytc config: {e}") from None
    return c.out


def convert_v1(
    files: str | os.PathLike | Sequence[str | os.PathLike], v1_defaults: bool = True
) -> tuple[dict, list[tuple[str, Any, str]]]:
    """Converts PyTorch Connectomics v1 YAML configs to a pytc config dict.

    Parameters
    ----------
    files : str, path or list of them
        v1 files merged in order, later ones winning: ``[base, specific]``.
    v1_defaults : bool
        Also write v1's defaults of the mapped keys that the files do not set (e.g. SOLVER.NAME SGD,
        SOLVER.WEIGHT_DECAY 1e-4), so that training matches the v1 run (default: True).

    Returns
    -------
    data : dict
        The pytc config (nested; only what comes from the files, plus `tasks`), accepted by
        ``from_dict(Config, data)``.
    unmapped : list of (str, object, str)
        (dotted v1 key, value, reason) for every v1 key without a pytc equivalent and for approximations.

    Raises
    ------
    ConfigError
        A file is missing, not YAML or not a mapping.

    Examples
    --------
    >>> data, unmapped = convert_v1(["SNEMI/SNEMI-Base.yaml", "SNEMI/SNEMI-Affinity-UNet.yaml"])  # doctest: +SKIP
    >>> data["model"]["name"], data["solver"]["lr"]  # doctest: +SKIP
    ('unet_residual_3d', 0.02)
    """
    conversion = convert_v1_dict(read_v1(files), v1_defaults)
    return conversion.data, conversion.unmapped


# --------------------------------------------------------------------------- command line


def _inline(value):
    return value if isinstance(value, str) else json.dumps(value, default=str)


def to_yaml(conversion: "V1Conversion", sources: Sequence[str | os.PathLike] = ()) -> str:
    """The pytc config as YAML text: a header of notes, the config, then one ``# not converted:`` line per
    unmapped v1 key."""
    head = [
        "# pytc config converted from PyTorch Connectomics v1"
        + (": " + " + ".join(map(str, sources)) if sources else "")
    ]
    head += [f"# {note}" for note in conversion.notes]
    body = yaml.safe_dump(conversion.data, sort_keys=False, default_flow_style=None, width=110)
    tail = [
        f"# not converted: {key}: {_inline(value)} ({reason})".replace("\n", " ")
        for key, value, reason in conversion.unmapped
    ]
    return "\n".join(head) + "\n" + body + "".join(line + "\n" for line in tail)


def convert_command(argv: Sequence[str] | None = None) -> int:
    """``python -m pytc.config convert OLD.yaml [--base BASE.yaml] [-o OUT.yaml] [--only-file-keys]``.

    Prints (or writes) the pytc config and lists the unmapped keys on stderr. Returns the exit code:
    0, or 2 with one ``error: ...`` line on stderr.
    """
    parser = argparse.ArgumentParser(
        prog="python -m pytc.config convert",
        description="Convert a PyTorch Connectomics v1 (yacs) config to a pytc config.",
    )
    parser.add_argument("config", help="the v1 config (v1's --config-file)")
    parser.add_argument("--base", help="its base config (v1's --config-base), merged under it")
    parser.add_argument("-o", "--output", help="write the pytc config to this file instead of stdout")
    parser.add_argument(
        "--only-file-keys",
        action="store_true",
        help="write only what the files set, not v1's defaults of the other keys (SGD, weight "
        "decay...), which a faithful conversion needs",
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return e.code
    sources = [args.base, args.config] if args.base else [args.config]
    try:
        conversion = convert_v1_dict(read_v1(sources), not args.only_file_keys)
        text = to_yaml(conversion, sources)
        if args.output:
            Path(args.output).write_text(text)
        else:
            sys.stdout.write(text)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: convert: cannot write {args.output}: {e.strerror or e}", file=sys.stderr)
        return 2
    _report(conversion, args.output)
    return 0


def _report(conversion, output):
    err = sys.stderr
    if output:
        print(f"wrote {output}", file=err)
    if conversion.unmapped:
        print(
            f"convert: {len(conversion.unmapped)} v1 keys not converted (also listed at the end of the config):",
            file=err,
        )
        for key, _, reason in conversion.unmapped:
            print(f"  {key}: {reason}", file=err)
