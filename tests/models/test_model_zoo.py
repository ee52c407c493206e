import pytest
import torch

from pytc.models import MODELS, SyncBatchNorm, build_model, num_parameters

# Parameter counts of the default models (1 input channel, 3 outputs): a change here changes the architecture.
PARAMETERS = {"unet_residual_3d": 1092915, "unet_3d": 5372419, "unet_2d": 7427011, "fpn_3d": 852067}
TRAINING_SIZES = {
    "unet_residual_3d": (18, 160, 160),
    "unet_3d": (16, 64, 64),
    "unet_2d": (128, 128),
    "fpn_3d": (16, 64, 64),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_parameter_counts_are_stable(name):
    assert num_parameters(build_model(name)) == PARAMETERS[name]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_training_sizes_keep_their_shape(name):
    model = build_model(name, in_channels=1, out_channels=[3, 1]).eval()
    size = TRAINING_SIZES[name]
    with torch.no_grad():
        y = model(torch.randn(1, 1, *size))
    assert y.shape == (1, 4) + size


@pytest.mark.parametrize("name", sorted(MODELS))
def test_odd_sizes_and_gradients_reach_every_parameter(name):
    ndim = build_model(name).ndim
    isotropy = [False, True, True] if ndim == 3 else [True, True, True]
    model = build_model(name, in_channels=2, out_channels=2, filters=[4, 6, 8], isotropy=isotropy, norm="gn")
    size = (9, 35, 37)[-ndim:]  # sizes that are not multiples of the downsampling
    x = torch.randn(2, 2, *size)
    y = model(x)
    assert y.shape == (2, 2) + size
    y.square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


@pytest.mark.parametrize(
    "option, values",
    [
        ("norm", ["bn", "sync_bn", "in", "gn", "none"]),
        ("activation", ["relu", "elu", "leaky_relu", "gelu", "silu"]),
        ("padding_mode", ["zeros", "reflect", "replicate"]),
        ("block", ["residual", "residual_se", "dilated", "plain"]),
    ],
)
def test_options(option, values):
    for value in values:
        model = build_model("unet_3d", out_channels=1, filters=[4, 8], isotropy=[True, True], **{option: value})
        assert model(torch.randn(2, 1, 8, 8, 8)).shape == (2, 1, 8, 8, 8)
    assert any(isinstance(m, SyncBatchNorm) for m in build_model("unet_2d", norm="sync_bn").modules())


def test_too_small_inputs_say_which_sizes_work():
    model = build_model("unet_residual_3d")
    with pytest.raises(
        ValueError, match=r"UNet: `input` must be at least \(8, 32, 32\) in space.*; got spatial size \(4, 160, 160\)"
    ):
        model(torch.randn(1, 1, 4, 160, 160))
    with pytest.raises(ValueError, match=r"UNet: `input` must be \(N, C, Z, Y, X\); got shape \(1, 160, 160\)"):
        model(torch.randn(1, 160, 160))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            {"name": "unet_4d"},
            r"`unet_4d` is not a known model; the known ones are \['fpn_3d', 'unet_2d', 'unet_3d', "
            r"'unet_residual_3d'\]",
        ),
        (
            {"name": "unet_3d", "norm": "batch"},
            r"`norm` must be one of \('bn', 'sync_bn', 'in', 'gn', 'none'\); got 'batch'",
        ),
        ({"name": "unet_3d", "activation": "tanh"}, r"`activation` must be one of"),
        ({"name": "unet_3d", "block": "dense"}, r"`block` must be one of"),
        (
            {"name": "unet_3d", "isotropy": [True]},
            r"`isotropy` must be one bool per level \(4 values\); got 1: \[True\]",
        ),
        ({"name": "unet_3d", "out_channels": 0}, r"`out_channels` must be a positive int"),
    ],
)
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_model(**kwargs)


def test_bad_in_channels():
    with pytest.raises(TypeError, match=r"build_model: `in_channels` must be an integer; got 1.0"):
        build_model("unet_3d", in_channels=1.0)
    with pytest.raises(ValueError, match=r"build_model: `in_channels` must be in \[1, inf\]; got 0"):
        build_model("unet_3d", in_channels=0)


def test_every_registered_model_builds_with_its_own_function():
    assert MODELS.names() == sorted(PARAMETERS)
    for name in MODELS:
        model = MODELS.get(name)(2, [1, 2], filters=[4, 8], isotropy=[True, True], norm="gn")
        assert model.heads.heads[-1].out_channels == 2 and model.ndim == (2 if name.endswith("_2d") else 3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", sorted(MODELS))
def test_cuda_training_step_with_sync_bn_matches_bn(name, monkeypatch):
    """On the GPU at the training size: the sync_bn model (compiled CUDA kernels) and the same weights with
    BatchNorm give the same outputs and gradients. In full float32: with TF32 convolutions (cuDNN's default)
    the last-bit differences between the two batch norms are rounded up to 1e-2 over the network's depth."""
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    torch.manual_seed(0)
    sync = build_model(name, norm="sync_bn").cuda()
    plain = build_model(name, norm="bn").cuda()
    plain.load_state_dict(sync.state_dict())
    x = torch.randn(2, 1, *TRAINING_SIZES[name], device="cuda")
    outputs = []
    for model in (sync, plain):
        y = model(x)
        y.square().mean().backward()
        outputs.append((y.detach(), [p.grad for p in model.parameters()]))
    (y_sync, g_sync), (y_plain, g_plain) = outputs
    torch.testing.assert_close(y_sync, y_plain, atol=1e-3, rtol=1e-3)
    for a, b in zip(g_sync, g_plain):
        torch.testing.assert_close(a, b, atol=1e-3, rtol=1e-2)


def test_checkpoint_choices_are_checked(tmp_path):
    from pytc.models import load_model
    from pytc.models.checkpoint import resolve_checkpoint

    with pytest.raises(ValueError, match=r"resolve_checkpoint: `which` must be one of \('best', 'last'\); got 'first'"):
        resolve_checkpoint(tmp_path, which="first")
    with pytest.raises(ValueError, match=r"load_model: `weights` must be one of \('auto', 'model', 'ema'\); got 'avg'"):
        load_model(tmp_path, weights="avg")


# ---------------------------------------------------------------- dropout and MC dropout


def _small(name, **options):
    ndim = build_model(name).ndim
    isotropy = [False, True, True] if ndim == 3 else [True, True, True]
    return build_model(name, out_channels=[2, 1], filters=[4, 6, 8], isotropy=isotropy, **options), ndim


def _dropouts(model):
    return [m for m in model.modules() if isinstance(m, (torch.nn.Dropout2d, torch.nn.Dropout3d))]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_mc_dropout_samples_while_batch_norm_stays_put(name):
    from pytc.models import enable_mc_dropout

    torch.manual_seed(0)
    model, ndim = _small(name, dropout=0.3)
    layers = _dropouts(model)
    # U-Nets: the bottleneck and each of the 2 decoder blocks; FPN: the bottleneck and the finest level
    assert len(layers) == (2 if name == "fpn_3d" else 3)
    assert all(isinstance(m, torch.nn.Dropout2d if ndim == 2 else torch.nn.Dropout3d) and m.p == 0.3 for m in layers)
    x = torch.randn(2, 1, *(8, 24, 24)[-ndim:])
    model.train()
    model(x)  # one training pass so the running statistics are not the initial ones
    buffers = {k: v.clone() for k, v in model.state_dict().items()}
    model.eval()
    with torch.no_grad():
        plain = [model(x) for _ in range(2)]
        assert torch.equal(plain[0], plain[1])  # eval: deterministic
        assert enable_mc_dropout(model) == len(layers)
        assert all(m.training for m in layers)
        assert not any(m.training for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm))
        sampled = [model(x) for _ in range(2)]
    assert not torch.equal(sampled[0], sampled[1]) and not torch.equal(sampled[0], plain[0])
    for key, value in model.state_dict().items():
        assert torch.equal(value, buffers[key]), key  # running means, variances and counts unchanged
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), plain[0])


@pytest.mark.parametrize("name", sorted(MODELS))
def test_no_dropout_by_default_and_weights_shared_with_dropout(name):
    from pytc.models import enable_mc_dropout

    torch.manual_seed(0)
    plain, ndim = _small(name)
    torch.manual_seed(0)
    dropped, _ = _small(name, dropout=0.5)
    assert not _dropouts(plain) and num_parameters(plain) == num_parameters(dropped)
    # same initial weights, and state dicts load both ways (dropout holds no weights)
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(), dropped.state_dict().values()))
    plain.load_state_dict(dropped.state_dict())
    dropped.load_state_dict(plain.state_dict())
    x = torch.randn(1, 1, *(8, 24, 24)[-ndim:])
    with torch.no_grad():
        assert torch.equal(plain.eval()(x), dropped.eval()(x))  # dropout is off in eval mode
    with pytest.raises(ValueError, match=r"enable_mc_dropout: `model` must be a model with dropout layers \(train it "):
        enable_mc_dropout(plain)


@pytest.mark.parametrize("dropout, error", [(1.0, ValueError), (-0.1, ValueError), ("0.2", TypeError)])
def test_bad_dropout(dropout, error):
    with pytest.raises(error, match="build_model: `dropout` must be"):
        build_model("unet_3d", dropout=dropout)


def test_checkpoints_with_dropout_load(tmp_path):
    from pytc.config import ConfigError, load_config, to_dict
    from pytc.models import enable_mc_dropout, load_model, model_from_config, save_checkpoint

    overrides = [("model.filters", [4, 8]), ("model.isotropy", [True, True])]
    cfg = load_config("demo", overrides + [("model.dropout", 0.25)])
    torch.manual_seed(0)
    model = model_from_config(cfg)
    save_checkpoint({"model": model.state_dict(), "ema": None, "config": to_dict(cfg)}, tmp_path / "c.pt")
    loaded, loaded_cfg = load_model(tmp_path / "c.pt")
    assert loaded_cfg.model.dropout == 0.25 and enable_mc_dropout(loaded) == 2
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))
    # the weights of a checkpoint without dropout start a model with dropout (fine-tuning with model.dropout)
    plain = model_from_config(load_config("demo", overrides))
    model.load_state_dict(plain.state_dict())
    with pytest.raises(ConfigError, match=r"`model.dropout` must be in \[0.0, 0.99\]; got 1.0"):
        load_config("demo", overrides + [("model.dropout", 1.0)])
