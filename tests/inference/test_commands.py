"""End to end on real data: a model trained by pytc.train on gala train; pytc.infer, pytc.decode and
pytc.evaluate on gala test give the figures its validation reported."""

import json

import numpy as np
import pytest

from pytc.data import read_volume
from pytc.decode.__main__ import main as decode_main
from pytc.evaluate import main as evaluate_main
from pytc.infer import main as infer_main
from pytc.testing import gala_spec as gala
from pytc.testing import tiny_config
from pytc.train import train
from pytc.train.__main__ import main as train_main

pytestmark = pytest.mark.real_data


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trained")
    cfg = tiny_config(
        folder,
        "solver.iterations=6",
        "val.every=6",
        "val.thresholds=[0.2, 0.4, 0.6]",
        "model.filters=[8, 16]",
        "solver.lr=0.01",
    )
    run_dir, metrics = train(cfg)
    return run_dir, metrics


def test_predict_decode_evaluate_reproduce_the_validation(trained, tmp_path, capsys):
    run_dir, metrics = trained
    prediction = f"{tmp_path / 'pred.zarr'}:affinities"
    assert (
        infer_main(
            [
                "--checkpoint",
                str(run_dir),
                "--input",
                gala("test-image"),
                "--output",
                prediction,
                "--chunk",
                "25",
                "50",
                "100",
            ]
        )
        == 0
    )
    threshold = metrics["affinity/threshold"]
    assert (
        decode_main(
            [
                "affinity",
                "--input",
                prediction,
                "--output",
                f"{tmp_path / 'seg.h5'}:seg",
                "--thresholds",
                str(threshold),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert evaluate_main(["--seg", f"{tmp_path / 'seg.h5'}:seg", "--gt", gala("test-gt"), "--json", "-"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["adapted_rand_error"] == pytest.approx(metrics["affinity/adapted_rand"], abs=1e-6)
    assert figures["voi_split"] == pytest.approx(metrics["affinity/voi_split"], abs=1e-6)
    assert figures["voi_merge"] == pytest.approx(metrics["affinity/voi_merge"], abs=1e-6)


def test_train_inference_predicts_into_the_run(trained, capsys):
    run_dir, _ = trained
    image = gala("test-image")
    assert train_main(["--inference", "--output", str(run_dir), f"inference.image=['{image}']"]) == 0
    written = read_volume(run_dir / "predictions" / "test-image.zarr", "prediction")
    assert written.shape == (3, 50, 100, 200) and 0 <= written.min() and written.max() <= 1
    # the prediction names its image, so the viewer shows them together (here the config's val image already)
    from pytc.data import open_volume
    from pytc.view import open_region, run_volumes

    assert open_volume(run_dir / "predictions" / "test-image.zarr", "prediction").attrs["pytc_image"] == image
    specs = {spec.name: spec for spec in run_volumes(run_dir)}
    assert list(specs) == ["val_image", "val_label", "test-image/prediction"]
    assert str(specs["val_image"]) == f"{image}:image" and open_region(specs["test-image/prediction"]).kind == "aff"
    assert train_main(["--inference", "--output", str(run_dir)]) == 2
    assert "`inference.image` is empty" in capsys.readouterr().err


def test_infer_errors_are_one_line(trained, tmp_path, capsys):
    run_dir, _ = trained
    base = ["--checkpoint", str(run_dir), "--input", gala("test-image")]
    assert infer_main(base + ["--output", str(tmp_path / "p.zarr"), "--num-gpu", "1"]) == 2
    assert "this machine has 0 usable GPUs" in capsys.readouterr().err
    assert (
        infer_main(
            [
                "--checkpoint",
                str(tmp_path / "nope"),
                "--input",
                gala("test-image"),
                "--output",
                str(tmp_path / "p.zarr"),
            ]
        )
        == 2
    )
    assert "neither a checkpoint file nor a run folder" in capsys.readouterr().err
    assert infer_main(base + ["--output", str(tmp_path / "p.zarr"), "--uncertainty"]) == 2
    assert "needs test-time augmentation" in capsys.readouterr().err


def test_tta_and_uncertainty_from_the_command_line(trained, tmp_path):
    run_dir, _ = trained
    out = tmp_path / "u.zarr"
    assert (
        infer_main(
            [
                "--checkpoint",
                str(run_dir),
                "--input",
                gala("test-image"),
                "--output",
                f"{out}:p",
                "--tta",
                "--uncertainty",
                "--dtype",
                "float16",
            ]
        )
        == 0
    )
    assert read_volume(out, "p").dtype == np.float16
    assert read_volume(out, "p_variance").shape == (3, 50, 100, 200)
    entropy = read_volume(out, "p_entropy")
    assert entropy.shape == (1, 50, 100, 200) and 0 <= entropy.min() and entropy.max() <= np.log(2) + 1e-6
