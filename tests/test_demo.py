import numpy as np
import pytest

from pytc.data import write_volume
from pytc.demo import kernels as demo
from pytc.demo.__main__ import main as demo_main
from pytc.testing import require_data


def test_demo_on_generated_volume(capsys):
    assert demo.main(["--shape", "24", "32", "40", "--repeat", "1", "--long-range"]) == 0
    out = capsys.readouterr().out
    assert "shape (24, 32, 40)" in out and "12 channels" in out
    assert "matches numpy reference: True" in out
    assert "Mvoxel/s" in out and "pytc, 1 thread" in out


def test_demo_on_user_volumes(tmp_path, capsys):
    seg = np.random.default_rng(0).integers(0, 5, size=(20, 30), dtype=np.uint16)
    for name in ("labels.npy", "labels.tif", "labels.h5"):
        write_volume(tmp_path / name, seg)
        assert demo.main([str(tmp_path / name), "--repeat", "1", "--threads", "1"]) == 0
        assert "shape (20, 30), dtype uint16" in capsys.readouterr().out


@pytest.mark.real_data
def test_demo_on_real_labels(capsys):
    path = require_data("gala_fibsem_mini", "train-gt.lzf.h5")
    assert demo.main([str(path), "--repeat", "1"]) == 0
    assert "shape (50, 100, 200), dtype int32, 88 ids" in capsys.readouterr().out


def test_demo_rejects_images(tmp_path, capsys):
    write_volume(tmp_path / "image.npy", np.zeros((4, 4), np.float32))
    assert demo.main([str(tmp_path / "image.npy"), "--repeat", "1"]) == 2
    assert "must hold 2D or 3D integer labels" in capsys.readouterr().err


def test_demo_bad_arguments():
    with pytest.raises(SystemExit):
        demo.main(["--repeat", "0"])


def test_kernel_demo_through_the_main_command(capsys):
    assert demo_main(["--kernels", "--shape", "8", "8", "8", "--repeat", "1"]) == 0
    assert "matches numpy reference: True" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        demo_main(["--shape", "8", "8", "8"])  # kernel options without --kernels


def test_main_job_on_the_embedded_sample(tmp_path, capsys):
    assert demo_main(["--minutes", "0.1", "--output", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "Best adapted Rand error: trained model" in out and "the shipped boundary map 0.1856" in out
    assert (tmp_path / "run" / "checkpoint_best.pt").exists()
    # the predictions stay in the run folder, which the viewer opens with the image and ground truth
    from pytc.view import open_region, run_volumes

    specs = run_volumes(tmp_path / "run")
    names = [spec.name for spec in specs]
    assert names[:3] == ["val_image", "val_label", "test/affinities"] and names[3].startswith("test/segmentation_")
    assert [open_region(spec).kind for spec in specs] == ["image", "seg", "aff", "seg"]
    assert f"python -m pytc.view --run {tmp_path / 'run'}" in out
    with pytest.raises(SystemExit):
        demo_main(["--minutes", "0"])
