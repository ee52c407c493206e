"""The v1 (yacs) config converter on PyTorch Connectomics v1.0.0's own configs (../shared/pytc_v1_configs)."""

import pytest
import yaml

from pytc.config.convert import (
    FALLBACK_REASON,
    convert_command,
    convert_v1,
    convert_v1_dict,
    decode_target,
    flatten,
    read_v1,
)
from pytc.config.loader import ConfigError, from_dict
from pytc.config.schema import Config
from pytc.testing import require_v1_configs, v1_configs_dir


def v1_dir():
    return require_v1_configs()


def _runs():
    """[base, specific] pairs as v1 runs them: each specific file with every base of its folder whose name
    prefix it shares (NucMM-Mouse-Base for NucMM-Mouse-*), or alone; a base with no specific file alone."""
    root = v1_configs_dir()
    if not root.is_dir():
        return [pytest.param(None, id="v1-configs-missing")]
    runs = []
    for folder in sorted({p.parent for p in root.rglob("*.yaml")}):
        files = sorted(folder.glob("*.yaml"))
        bases = [f for f in files if "-Base" in f.stem]
        for specific in (f for f in files if f not in bases):
            mine = [b for b in bases if specific.stem.startswith(b.stem.split("-Base")[0])]
            runs += [[base, specific] for base in mine] or [[specific]]
        runs += [[base] for base in bases if not any(base in run for run in runs)]
    return [pytest.param(run, id="+".join(f.stem for f in run)) for run in runs]


def _convert(*names):
    """The conversion of the keys the files set (v1's defaults of the others are tested on their own)."""
    root = v1_dir()
    return convert_v1([root / name for name in names], v1_defaults=False)


def _reasons(unmapped):
    return {key: reason for key, _, reason in unmapped}


# --------------------------------------------------------------------------- every shipped config


@pytest.mark.parametrize("run", _runs())
def test_every_v1_config_converts(run):
    v1_dir()
    conversion = convert_v1_dict(read_v1(run), v1_defaults=False)  # the keys the files set
    from_dict(Config, conversion.data)
    leaves = set(flatten(read_v1(run)))
    listed = {key.split("[")[0] for key, _, _ in conversion.unmapped}
    assert leaves - conversion.mapped - listed == set()  # nothing silently dropped
    assert not conversion.mapped - leaves
    # notes on v1's defaults (e.g. the default loss of a target) may name keys the files do not set
    assert all(
        key.split("[")[0] in leaves or reason.endswith("(v1's default)") for key, _, reason in conversion.unmapped
    )
    assert [key for key, _, reason in conversion.unmapped if reason == FALLBACK_REASON] == []


@pytest.mark.parametrize("run", _runs())
def test_converted_tasks_lay_out(run):
    """pytc's task layout accepts the tasks (distinct names, a loss each) wherever one converted."""
    from pytc.data.tasks import task_layout

    v1_dir()
    cfg = from_dict(Config, convert_v1(run)[0])
    if cfg.tasks:
        task_layout(cfg.tasks, len(cfg.data.sample_shape))


@pytest.mark.parametrize(
    "names",
    [
        ("SNEMI/SNEMI-Base.yaml", "SNEMI/SNEMI-Affinity-UNet.yaml"),
        ("Lucchi-Mitochondria.yaml",),
        ("Cellpose/Cellpose-Base.yaml",),
        ("CREMI/CREMI-Base.yaml", "CREMI/CREMI-Foreground-FPN-ResNet.yaml"),
    ],
)
def test_converted_models_build(names):
    from pytc.models.zoo import model_from_config

    model = model_from_config(from_dict(Config, _convert(*names)[0]))
    assert model.ndim == (2 if "Cellpose" in names[0] else 3)


# --------------------------------------------------------------------------- values of particular configs


def test_snemi():
    data, unmapped = _convert("SNEMI/SNEMI-Base.yaml", "SNEMI/SNEMI-Affinity-UNet.yaml")
    cfg = from_dict(Config, data)
    # v1's unet_3d is anisotropic with a (1, 5, 5) input kernel: pytc's unet_residual_3d
    assert cfg.model.name == "unet_residual_3d"
    assert cfg.model.block == "residual_se"
    assert cfg.model.filters == [32, 64, 96, 128, 160]
    assert cfg.model.isotropy == [False, False, False, True, True]
    assert cfg.model.norm == "gn"
    assert cfg.data.sample_shape == [17, 257, 257]
    assert cfg.data.pad == [4, 64, 64]
    assert cfg.data.erode_border == 1
    assert cfg.data.train.image == ["datasets/SNEMI3D/image/train-input.tif"]
    assert cfg.data.train.label == ["datasets/SNEMI3D/seg/train-labels.tif"]
    [task] = cfg.tasks
    assert (task.target, task.options, task.weight, task.activation) == ("affinity", {}, "ratio", "sigmoid")
    assert [(loss.name, loss.weight, loss.activation) for loss in task.losses] == [
        ("bce", 1.0, "none"),
        ("dice", 0.5, "sigmoid"),
    ]
    assert (cfg.solver.lr, cfg.solver.schedule, cfg.solver.iterations, cfg.solver.batch_size) == (
        0.02,
        "cosine",
        150000,
        2,
    )
    assert (cfg.log.every, cfg.log.image_every, cfg.checkpoint.every) == (200, 1000, 10000)
    assert cfg.inference.window == [17, 513, 513]
    assert cfg.inference.overlap == pytest.approx(1 - 256 / 513, abs=1e-3)  # the smallest over the axes
    assert cfg.output == "outputs/SNEMI_UNet"
    reasons = _reasons(unmapped)
    assert "one weight per task" in reasons["MODEL.WEIGHT_OPT[0]"]
    assert "approximated" in reasons["INFERENCE.STRIDE"]
    assert "pytc.infer" in reasons["INFERENCE.AUG_MODE"]
    assert "AUGMENTOR.SMOOTH" not in reasons  # False: what pytc does
    assert "optimizer" not in data["solver"]  # only what the files set


def test_snemi_with_v1_defaults():
    """The default conversion also writes v1's defaults, so the run keeps v1's SGD for its learning rate."""
    root = v1_dir()
    data, unmapped = convert_v1([root / "SNEMI/SNEMI-Base.yaml", root / "SNEMI/SNEMI-Affinity-UNet.yaml"])
    cfg = from_dict(Config, data)
    assert (cfg.solver.optimizer, cfg.solver.weight_decay, cfg.solver.lr) == ("sgd", 0.0001, 0.02)
    assert cfg.solver.schedule == "cosine" and "milestones" not in data["solver"]
    assert cfg.model.padding_mode == "replicate"
    assert cfg.data.augment.params["Rotate"] == {"p": 1.0}
    assert len(unmapped) == len(_convert("SNEMI/SNEMI-Base.yaml", "SNEMI/SNEMI-Affinity-UNet.yaml")[1])


def test_snemi_long_range_affinities_are_one_task_per_target():
    cfg = from_dict(Config, _convert("SNEMI/SNEMI-Base.yaml", "SNEMI/SNEMI-Affinity-UNet-LR.yaml")[0])
    assert [t.target for t in cfg.tasks] == ["affinity"] * 4
    assert [t.name for t in cfg.tasks] == ["affinity_0", "affinity_1", "affinity_2", "affinity_3"]
    assert cfg.tasks[0].options["offsets"] == [[-1, 0, 0], [0, -1, 0], [0, 0, -1]]
    assert cfg.tasks[3].options["offsets"] == [[-4, 0, 0], [0, -27, 0], [0, 0, -27]]
    assert all([loss.name for loss in t.losses] == ["bce", "dice"] for t in cfg.tasks)


def test_lucchi():
    data, unmapped = _convert("Lucchi-Mitochondria.yaml")
    cfg = from_dict(Config, data)
    [task] = cfg.tasks
    assert (task.target, task.weight) == ("binary", "ratio")
    assert [(loss.name, loss.weight) for loss in task.losses] == [("bce", 1.0), ("dice", 1.0)]
    assert cfg.data.augment.isotropic is True
    assert cfg.data.augment.params == {"CutBlur": {"downsample_z": True}}
    assert cfg.data.sample_shape == [112, 112, 112]
    assert cfg.model.filters == [28, 36, 48, 64, 80]  # v1's defaults: the files do not set them
    assert "Elastic 3D" in _reasons(unmapped)["AUGMENTOR.FLIP.DO_ZTRANS"]


def test_cremi():
    cfg = from_dict(Config, _convert("CREMI/CREMI-Base.yaml", "CREMI/CREMI-Foreground-UNet.yaml")[0])
    assert (cfg.data.min_foreground, cfg.data.reject_p) == (1000, 0.95)
    assert cfg.data.train.image == [f"datasets/CREMI/corrected/im_{v}.h5" for v in "ABC"]  # '@'-joined in v1
    [task] = cfg.tasks
    assert (task.target, task.weight, [loss.name for loss in task.losses]) == ("binary", "ratio", ["bce"])
    assert cfg.model.norm == "sync_bn"


def test_cremi_distance_transform():
    data, unmapped = _convert("CREMI/CREMI-Base.yaml", "CREMI/CREMI-Foreground-DT-Regu-UNet.yaml")
    cfg = from_dict(Config, data)
    assert [t.target for t in cfg.tasks] == ["binary", "semantic_edt"]
    dt = cfg.tasks[1]
    assert dt.options == {"mode": "2d", "alpha_fore": 4.0, "alpha_back": 50.0}
    assert [(loss.name, loss.weight, loss.activation) for loss in dt.losses] == [("mse", 4.0, "tanh")]
    reasons = _reasons(unmapped)
    assert "approximated" in reasons["MODEL.ARCHITECTURE"]  # unet_plus_3d
    assert "regularisation" in reasons["MODEL.REGU_OPT"]


def test_cremi_multi_gpu_batch_is_global():
    cfg = from_dict(Config, _convert("CREMI/CREMI-Base_multiGPU.yaml", "CREMI/CREMI-Foreground-UNet.yaml")[0])
    assert (cfg.system.num_gpu, cfg.solver.batch_size, cfg.system.num_workers) == (3, 6, 4)


def test_mitoem_bc():
    data, unmapped = _convert("MitoEM/MitoEM-R-Base.yaml", "MitoEM/MitoEM-R-BC.yaml")
    cfg = from_dict(Config, data)
    assert [t.target for t in cfg.tasks] == ["binary", "boundary"]
    assert cfg.tasks[1].options == {"thickness": 1, "background": True, "convolve": True}
    assert all(t.weight == "ratio" for t in cfg.tasks)
    assert cfg.solver.batch_size == 8  # 2 per GPU x 4 GPUs
    reasons = _reasons(unmapped)
    assert "tile description" in reasons["DATASET.IMAGE_NAME"]  # im_train.json
    assert "train" not in data["data"]


def test_nucmm_instance_distance():
    cfg = from_dict(Config, _convert("NucMM/NucMM-Zebrafish-Base.yaml", "NucMM/NucMM-Zebrafish-UNet-BCD.yaml")[0])
    assert [t.target for t in cfg.tasks] == ["binary", "boundary", "instance_edt"]
    assert cfg.tasks[1].options["background"] is True and cfg.tasks[1].options["thickness"] == 0
    assert cfg.tasks[2].options == {"mode": "3d", "resolution": [1.0, 1.0, 1.0], "background": -1.0}
    assert cfg.data.reject_p == 1.0


def test_semantic_and_quantized_targets():
    cfg = from_dict(Config, _convert("Multiclass-Semantic-Seg.yaml")[0])
    [task] = cfg.tasks
    assert (task.target, task.options, task.activation) == ("semantic", {"num_classes": 12}, "softmax")
    assert cfg.solver.schedule == "multistep" and cfg.solver.milestones == [40000, 45000]
    data, unmapped = _convert("Distance-Transform-Quantized.yaml")
    assert data["tasks"][0]["target"] == "quantized_edt"  # '5' trained with cross-entropy
    assert data["solver"]["milestones"] == [30000, 35000]  # v1's default STEPS
    assert "OUT_PLANES" in str(_reasons(unmapped))


def test_unconvertible_parts_are_listed():
    data, unmapped = _convert("SNEMI/SNEMI-Base.yaml", "SNEMI/SNEMI-Affinity-SwinUNETR.yaml")
    reasons = _reasons(unmapped)
    assert "swinunetr" in reasons["MODEL.ARCHITECTURE"]
    assert "name" not in data["model"] and "filters" not in data["model"]
    assert "MODEL.SWIN_UNETR_NUM_HEADS" in reasons and "MODEL.ISOTROPY" in reasons
    assert data["solver"]["optimizer"] == "adamw"
    data, unmapped = _convert("SNEMI/SNEMI-Base.yaml", "SNEMI/SNEMI-Affinity-EffNet.yaml")
    assert "efficientnet" in _reasons(unmapped)["MODEL.BACKBONE"]
    assert data["model"]["name"] == "fpn_3d"
    data, unmapped = _convert("Cellpose/Cellpose-Base.yaml")
    assert [t["target"] for t in data["tasks"]] == ["binary"]  # '7' (diffusion gradients) dropped
    reasons = _reasons(unmapped)
    assert "dropped" in reasons["MODEL.TARGET_OPT[1]"] and "MODEL.OUT_PLANES" in reasons
    assert data["data"]["sample_shape"] == [225, 225]  # a 2D model
    data, unmapped = _convert("JWR15/synapse/JWR15-Synapse-Base.yaml", "JWR15/synapse/JWR15-Synapse-Semantic-CE.yaml")
    assert data["tasks"] == [] and "exclusive" in _reasons(unmapped)["MODEL.TARGET_OPT[0]"]


def test_erosion_rates_per_target():
    data, unmapped = _convert("SNEMI/SNEMI-Base.yaml", "SNEMI/SNEMI-Affinity-UNet-MER.yaml")
    assert data["data"]["erode_border"] == 1
    assert "pytc erodes once" in _reasons(unmapped)["MODEL.LABEL_EROSION"]


# --------------------------------------------------------------------------- small inputs


@pytest.mark.parametrize(
    "topt, target, options",
    [
        ("0", "binary", {}),
        ("0-1-3", "binary", {"foreground": [1, 3]}),
        ("1", "polarity", {}),
        ("2", "affinity", {}),
        ("2-1-3-3-v1", "affinity", {"offsets": [[-1, 0, 0], [0, -3, 0], [0, 0, -3]]}),
        ("3-25-2-1", "small_object", {"threshold": 25, "z_ratio": 2}),
        ("4-1-0", "boundary", {"thickness": 1, "background": False, "convolve": False}),
        ("5-2d-0-1-5.0-0", "quantized_edt", {"mode": "2d"}),
        ("6", "semantic_edt", {"mode": "2d", "alpha_fore": 8.0, "alpha_back": 50.0}),
        ("9-4", "semantic", {"num_classes": 4}),
    ],
)
def test_decode_target(topt, target, options):
    assert decode_target(topt)[:2] == (target, options)


def test_decode_target_2d_affinity():
    assert decode_target("2-1-2-2-v1", ndim=2)[1] == {"offsets": [[-2, 0], [0, -2]]}


@pytest.mark.parametrize(
    "topt, match",
    [
        ("7", "cellpose"),
        ("1-1", "exclusive"),
        ("2-1-1-1-v2", "one-sided"),
        ("4", "4-THICKNESS-BACKGROUND"),
        ("x", "unknown"),
    ],
)
def test_decode_target_unsupported(topt, match):
    with pytest.raises(ValueError, match=match):
        decode_target(topt)


def test_yacs_literals_and_adam(tmp_path):
    path = tmp_path / "v1.yaml"
    path.write_text(
        "MODEL:\n  ARCHITECTURE: unet_3d\n  FILTERS: [8, 16, 32]\n  ISOTROPY: '(False, True, True)'\n"
        "SOLVER:\n  NAME: Adam\n  BETAS: (0.9, 0.99)\n  LR_SCHEDULER_NAME: MultiStepLR\n"
        "  STEPS: (100, 200)\n  SAMPLES_PER_BATCH: 3\n  CLIP_GRADIENTS:\n    ENABLED: True\n"
        "    CLIP_VALUE: 0.5\nAUGMENTOR:\n  MIXUP:\n    ENABLED: True\n  COPYPASTE:\n    ENABLED: True\n"
        "    P: 0.5\n  ROTATE:\n    ENABLED: False\nFOO: 1\n"
    )
    data, unmapped = convert_v1(path, v1_defaults=False)
    assert data["model"]["isotropy"] == [False, True, True]
    solver = data["solver"]
    assert (solver["optimizer"], solver["betas"], solver["milestones"], solver["warmup"]) == (
        "adamw",
        [0.9, 0.99],
        [100, 200],
        0,
    )
    assert solver["batch_size"] == 12  # v1's default: 4 GPUs
    assert solver["clip_grad"] == 0.5
    assert data["data"]["augment"] == {"skip": ["Rotate"], "extra": [{"name": "CopyPaste", "p": 0.5}]}
    reasons = _reasons(unmapped)
    assert "decoupled" in reasons["SOLVER.NAME"] and "norm" in reasons["SOLVER.CLIP_GRADIENTS.CLIP_TYPE"]
    assert "mixup" in reasons["AUGMENTOR.MIXUP.ENABLED"]
    assert reasons["FOO"] == FALLBACK_REASON


@pytest.mark.parametrize("text, match", [("a: [\n", "valid YAML"), ("- 1\n", "mapping")])
def test_bad_files(tmp_path, text, match):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match) as info:
        convert_v1([path])
    assert str(path) in str(info.value)
    with pytest.raises(ConfigError, match="no such file"):
        convert_v1([tmp_path / "missing.yaml"])
    with pytest.raises(ConfigError, match="`files` must be a non-empty list"):
        convert_v1([])


# --------------------------------------------------------------------------- the command


def test_command(capsys):
    root = v1_dir()
    code = convert_command(
        [str(root / "SNEMI/SNEMI-Affinity-EffNet.yaml"), "--base", str(root / "SNEMI/SNEMI-Base.yaml")]
    )
    out, err = capsys.readouterr()
    assert code == 0
    from_dict(Config, yaml.safe_load(out))
    assert "# not converted: MODEL.BACKBONE: efficientnet (no efficientnet backbone" in out
    assert "# solver.batch_size 2: v1's SOLVER.SAMPLES_PER_BATCH (2) is per GPU" in out
    assert "MODEL.BACKBONE" in err and "not converted" in err


def test_command_writes_a_file(tmp_path, capsys):
    root = v1_dir()
    out_path = tmp_path / "lucchi.yaml"
    assert convert_command([str(root / "Lucchi-Mitochondria.yaml"), "-o", str(out_path)]) == 0
    assert capsys.readouterr().out == ""
    from pytc.config.loader import load_config

    assert load_config(str(out_path)).data.augment.isotropic is True


def test_command_errors(tmp_path, capsys):
    assert convert_command([str(tmp_path / "missing.yaml")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: ") and err.count("\n") == 1 and "missing.yaml" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [\n")
    assert convert_command([str(bad)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_module_dispatch(capsys):
    from pytc.config.__main__ import main

    root = v1_dir()
    assert main(["convert", str(root / "Lucchi-Mitochondria.yaml")]) == 0
    assert "target: binary" in capsys.readouterr().out
    assert main(["show", "no-such-config"]) == 2
    assert capsys.readouterr().err.startswith("error: ")
