import numpy as np
import pytest
import torch

from pytc.inference import blend_weights, predict_array, sliding_windows, window_starts


class Pointwise(torch.nn.Module):
    """A 1x1x1 convolution: its prediction of any window is exactly that window of the whole prediction."""

    ndim = 3

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv3d(1, 2, 1)

    def min_size(self):
        return (1, 1, 1)

    def forward(self, x):
        return self.conv(x)


def test_window_starts_cover_and_push_the_last_inside():
    assert window_starts(10, 4, 0.5) == [0, 2, 4, 6]
    assert window_starts(11, 4, 0.5) == [0, 2, 4, 6, 7]
    assert window_starts(3, 4, 0.5) == [0]
    assert window_starts(8, 4, 0.0) == [0, 4]
    assert len(sliding_windows((10, 11, 3), (4, 4, 4), 0.5)) == 4 * 5 * 1


def test_blend_weights():
    w = blend_weights((5, 7, 9))
    assert w.shape == (5, 7, 9) and w.max() == 1.0 and w[2, 3, 4] == 1.0 and w.min() >= 1e-3
    assert np.allclose(w, w[::-1, ::-1, ::-1])
    assert (blend_weights((2, 3, 4), "constant") == 1).all()
    bump = blend_weights((6, 6, 6), "bump")
    assert bump.max() <= 1.0 and 1e-3 <= bump[0, 0, 0] < 0.01 and bump[2, 2, 2] > 0.9 and np.allclose(bump, bump.T)
    with pytest.raises(ValueError, match="`blending` must be one of"):
        blend_weights((2, 2, 2), "cosine")


@pytest.mark.parametrize("blending", ["gaussian", "constant"])
def test_pointwise_model_gives_the_whole_volume_prediction(rng, blending):
    torch.manual_seed(0)
    model = Pointwise()
    image = rng.random((9, 20, 17)).astype(np.float32)
    with torch.no_grad():
        whole = torch.sigmoid(model(torch.from_numpy(image)[None, None]))[0].numpy()
    out = predict_array(
        model, image, (4, 8, 8), overlap=0.5, batch=3, blending=blending, activations=[(0, 2, "sigmoid")]
    )
    assert out.shape == (2, 9, 20, 17) and out.dtype == np.float32
    np.testing.assert_allclose(out, whole, rtol=1e-6, atol=1e-6)


def test_batches_and_channels_last_do_not_change_the_result(rng):
    from pytc.models import build_model

    torch.manual_seed(0)
    model = build_model("unet_3d", out_channels=3, filters=(4, 8), isotropy=(True, True)).eval()
    image = rng.random((8, 24, 24)).astype(np.float32)
    one = predict_array(model, image, (8, 16, 16), overlap=0.25, batch=1)
    four = predict_array(model, image, (8, 16, 16), overlap=0.25, batch=4, channels_last=True)
    np.testing.assert_allclose(one, four, rtol=1e-5, atol=1e-5)
    assert model.training is False


def test_two_d_models_predict_section_by_section(rng):
    from pytc.models import build_model

    model = build_model("unet_2d", out_channels=1, filters=(4, 8), isotropy=(True, True)).eval()
    image = rng.random((3, 16, 16)).astype(np.float32)
    out = predict_array(model, image, (1, 16, 16))
    with torch.no_grad():
        sections = model(torch.from_numpy(image)[:, None])[:, 0].numpy()
    np.testing.assert_allclose(out[0], sections, rtol=1e-5, atol=1e-5)


def test_bad_arguments(rng):
    model = Pointwise()
    with pytest.raises(ValueError, match=r"`image` must be \(Z, Y, X\) or \(C, Z, Y, X\)"):
        predict_array(model, np.zeros((4, 4), np.float32), (2, 2, 2))
    with pytest.raises(ValueError, match=r"`overlap` must be in \[0, 1\); got 1.0"):
        predict_array(model, np.zeros((4, 4, 4), np.float32), (2, 2, 2), overlap=1.0)
    model.min_size = lambda: (3, 3, 3)
    with pytest.raises(ValueError, match=r"window \(2, 4, 4\) .* smaller than the model's minimum input \(3, 3, 3\)"):
        predict_array(model, np.zeros((2, 4, 4), np.float32), (4, 4, 4))


class Convolutions(torch.nn.Module):
    """Three 3x3x3 convolutions, zero padded: a receptive field of radius 3, and wrong values within 3 voxels of
    a window's faces (the padding), exactly equal to the whole-volume prediction elsewhere."""

    ndim = 3

    def __init__(self):
        super().__init__()
        self.layers = torch.nn.Sequential(*(torch.nn.Conv3d(c, d, 3, padding=1) for c, d in ((1, 4), (4, 4), (4, 2))))

    def min_size(self):
        return (1, 1, 1)

    def forward(self, x):
        return self.layers(x)


def test_cropping_the_unseen_border_gives_the_whole_volume_prediction(rng):
    torch.manual_seed(0)
    model = Convolutions().eval()
    image = rng.random((14, 30, 26)).astype(np.float32)
    with torch.no_grad():
        whole = model(torch.from_numpy(image)[None, None])[0].numpy()
    cropped = predict_array(model, image, (12, 16, 16), overlap=0.5, crop=3)
    np.testing.assert_allclose(cropped, whole, rtol=1e-5, atol=1e-5)
    blended = predict_array(model, image, (12, 16, 16), overlap=0.5)  # without cropping, window borders show
    assert np.abs(blended - whole).max() > 1e-3
    with pytest.raises(ValueError, match=r"`crop` \(5, 5, 5\) needs windows that share at least twice as many"):
        predict_array(model, image, (10, 16, 16), overlap=0.5, crop=5)
