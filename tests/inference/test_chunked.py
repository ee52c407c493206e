"""Chunked prediction into zarr and HDF5: equal to the whole-volume prediction, resumable, any schedule."""

import numpy as np
import pytest
import torch

from pytc.data import open_volume, read_volume, write_volume
from pytc.inference import Source, WindowPredictor, chunk_regions, predict, predict_array, predict_volume
from pytc.inference.chunked import Outputs, output_shapes
from pytc.models import build_model


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model("unet_3d", out_channels=[3, 1], filters=(4, 8), isotropy=(True, True)).eval()


@pytest.fixture
def image(rng):
    return rng.random((12, 40, 36)).astype(np.float32)


ACTIVATIONS = [(0, 3, "sigmoid"), (3, 4, "sigmoid")]


def test_chunk_regions_tile_the_volume():
    regions = chunk_regions((5, 7, 3), (2, 4, 3))
    assert len(regions) == 3 * 2 * 1
    covered = np.zeros((5, 7, 3), int)
    for r in regions:
        covered[r] += 1
    assert (covered == 1).all()


@pytest.mark.parametrize("suffix", [".zarr", ".h5"])
def test_chunked_equals_whole_volume(model, image, tmp_path, suffix):
    whole = predict_array(model, image, (8, 16, 16), overlap=0.5, activations=ACTIVATIONS)
    out = tmp_path / f"pred{suffix}"
    predict(model, image, f"{out}:pred", window=(8, 16, 16), chunk=(8, 16, 20), activations=ACTIVATIONS)
    np.testing.assert_allclose(read_volume(out, "pred"), whole, rtol=1e-5, atol=1e-6)
    assert (tmp_path / f"pred{suffix}.pytc-done" / "pred").is_dir()


def test_any_schedule_and_process_split_gives_the_same_output(model, image, tmp_path):
    predictor = WindowPredictor(model, (8, 16, 16), activations=ACTIVATIONS)
    source = Source(image)
    reference = predictor.predict_region(source)["mean"]
    for world in (1, 3):  # processes taking every world-th chunk, in any order
        out = f"{tmp_path / f'split{world}.zarr'}:pred"
        Outputs(out, output_shapes(4, source.spatial, ACTIVATIONS, False), (6, 16, 16), "float32").create()
        for rank in reversed(range(world)):
            predict_volume(predictor, source, out, (6, 16, 16), channels=4, rank=rank, world=world)
        np.testing.assert_allclose(read_volume(*out.split(":")), reference, rtol=1e-5, atol=1e-6)


def test_an_interrupted_run_resumes_with_the_chunks_left(model, image, tmp_path, monkeypatch):
    predictor = WindowPredictor(model, (8, 16, 16), activations=ACTIVATIONS)
    source = Source(image)
    out = f"{tmp_path / 'pred.zarr'}:pred"
    calls = []
    real = predictor.predict_region

    def failing(buffered, region):
        calls.append(region)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the run is stopped while predicting its third chunk
        return real(buffered, region)

    monkeypatch.setattr(predictor, "predict_region", failing)
    with pytest.raises(KeyboardInterrupt):
        predict_volume(predictor, source, out, (6, 16, 16), channels=4)
    monkeypatch.setattr(predictor, "predict_region", real)
    done = len(list((tmp_path / "pred.zarr.pytc-done" / "pred").iterdir()))
    assert done == 2
    total = len(chunk_regions(source.spatial, (6, 16, 16)))
    assert predict_volume(predictor, source, out, (6, 16, 16), channels=4) == total - 2  # only the rest
    np.testing.assert_allclose(
        read_volume(tmp_path / "pred.zarr", "pred"), predictor.predict_region(source)["mean"], rtol=1e-5, atol=1e-6
    )


def test_uint8_float16_and_uncertainty_outputs(model, image, tmp_path):
    whole = predict_array(model, image, (8, 16, 16), activations=ACTIVATIONS)
    out = tmp_path / "q.zarr"
    predict(
        model,
        image,
        f"{out}:p",
        window=(8, 16, 16),
        activations=ACTIVATIONS,
        dtype="uint8",
        tta=4,
        uncertainty=True,
        offsets=[(-1, 0, 0), (0, -1, 0), (0, 0, -1), None],
    )
    stored = open_volume(out, "p")
    assert stored.dtype == np.uint8 and stored.shape == whole.shape
    tta = predict_array(
        model, image, (8, 16, 16), activations=ACTIVATIONS, tta=4, offsets=[(-1, 0, 0), (0, -1, 0), (0, 0, -1), None]
    )
    assert np.abs(stored[:].astype(np.float32) / 255 - tta).max() <= 0.5 / 255 + 1e-6
    assert open_volume(out, "p_variance").shape == whole.shape
    assert open_volume(out, "p_entropy").shape == (2,) + image.shape  # one channel per sigmoid task
    predict(model, image, f"{tmp_path / 'h.h5'}:p", window=(8, 16, 16), activations=ACTIVATIONS, dtype="float16")
    assert read_volume(tmp_path / "h.h5", "p").dtype == np.float16


def test_inputs_are_read_lazily_from_files(model, image, tmp_path):
    write_volume(tmp_path / "in.h5", image, dataset="raw")
    whole = predict_array(model, image, (8, 16, 16))
    np.testing.assert_allclose(predict(model, f"{tmp_path / 'in.h5'}:raw", window=(8, 16, 16)), whole, atol=1e-6)
    predict(model, f"{tmp_path / 'in.h5'}:raw", f"{tmp_path / 'out.npy'}", window=(8, 16, 16))
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), whole, atol=1e-6)


def test_bad_requests(model, image, tmp_path):
    with pytest.raises(ValueError, match="give `window`"):
        predict(model, image)
    with pytest.raises(ValueError, match=r"`dtype` must be one of"):
        predict(model, image, window=(8, 8, 8), dtype="int8")
    with pytest.raises(ValueError, match="`uncertainty` needs test-time augmentation"):
        predict(model, image, window=(8, 8, 8), uncertainty=True)
    predict(model, image, f"{tmp_path / 'a.zarr'}:p", window=(8, 16, 16))
    with pytest.raises(ValueError, match=r"exists with shape .* this prediction needs"):
        predict(model, image[:6], f"{tmp_path / 'a.zarr'}:p", window=(4, 16, 16))
