"""`python -m pytc.train` and `pytc`: what a person sees for good and bad command lines."""

import subprocess
import sys

import pytest
import yaml

from pytc import cli
from pytc.config import from_dict
from pytc.config.schema import Config
from pytc.train.__main__ import main


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_print_config_shows_the_resolved_config(capsys):
    code, out, _ = run(["--config", "neurons", "--print-config", "solver.lr=0.01", "--num-proc", "2"], capsys)
    assert code == 0
    cfg = from_dict(Config, yaml.safe_load(out))
    assert cfg.solver.lr == 0.01 and cfg.system.num_proc == 2 and cfg.model.name == "unet_residual_3d"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--config", "neurons", "solver.lrr=1"], "error: config: unknown key `solver.lrr`; did you mean `solver.lr`?"),
        (
            ["--config", "nope"],
            "error: config 'nope' is neither a file nor a shipped config; shipped: demo, mitochondria",
        ),
        (
            ["--config", "neurons"],
            "error: config: `data.train.image` is empty; set it, e.g. data.train.image=[volume.h5:raw]",
        ),
        (
            ["--config", "demo", "data.train.image=[/nope.h5:raw]"],
            "error: config: `data.train.image.0`: /nope.h5 does not exist",
        ),
        (["--config", "demo", "--num-gpu", "1"], "error: --num-gpu 1: this machine has 0 usable GPUs"),
        (
            ["--config", "demo", "--num-proc", "2", "solver.batch_size=3"],
            "error: config: `solver.batch_size` (3) must be a multiple of the processes (2) times `solver.accumulate` (1)",
        ),
        (
            ["--config", "demo", "data.sample_shape=[32,6,64]"],
            "error: config: `data.sample_shape` [32, 6, 64] is smaller than the minimum input of unet_3d, [16, 16, 16]",
        ),
        (["--config", "demo", "val.scoring=median"], "error: config: `val.scoring`:"),
        (["--config", "demo", "tasks.0.target=afinity"], "error: config: tasks.0.target: unknown target 'afinity'"),
        (
            ["--config", "demo", "data.sample_shape=[64,64,64]"],
            "error: data: VolumeDataset: volume 0 (padded shape (50, 100, 200)) is smaller than the crop (64, 64, 64)",
        ),
        (
            ["--config", "demo", "data.train.image=['${pytc_sample}/gala_fibsem_mini.h5:train/nope']"],
            "error: data: open_volume: dataset 'train/nope' not in",
        ),
        (
            ["--config", "demo", "data.augment.extra=[{name: Flipp}]"],
            "error: data: augmentation: `Flipp` is not a known augmentation; the known ones are ['CopyPaste'",
        ),
        (
            ["--config", "demo", "data.train.image=['${NOPE_VAR}/a.h5']"],
            "error: config: `data.train.image.0` uses ${NOPE_VAR}",
        ),
        (
            ["--config", "demo", "data.train.image=[${NOPE_VAR}/a.h5]"],
            "error: config: the value of `data.train.image` is not valid YAML",
        ),
        (["--resume"], "error: --config is required"),
    ],
)
def test_mistakes_give_one_line_that_says_what_to_change(argv, message, capsys, tmp_path):
    code, out, err = run(argv + [f"output={tmp_path / 'run'}"], capsys)
    assert code == 2 and out == ""
    assert err.startswith(message) and err.count("\n") == 1, err


def test_existing_runs_are_not_overwritten(tmp_path, capsys):
    (tmp_path / "checkpoint_0000010.pt").write_bytes(b"")
    code, _, err = run(["--config", "demo", "--output", str(tmp_path)], capsys)
    assert code == 2 and "already holds a run: continue it with --resume" in err
    code, _, err = run(["--config", "demo", "--output", str(tmp_path / "empty"), "--resume"], capsys)
    assert code == 2 and "holds no checkpoint; start it without --resume" in err


def test_the_command_line_prints_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pytc.train", "--config", "demo", "solver.lr=-1"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr == "error: config: `solver.lr` must be >= 0.0; got -1.0\n"


def test_pytc_script_dispatches(capsys):
    assert cli.main([]) == 0 and "train" in capsys.readouterr().out
    assert cli.main(["config", "show", "demo", "solver.lr=0.5"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["solver"]["lr"] == 0.5
    assert cli.main(["trian"]) == 2 and "unknown command 'trian'" in capsys.readouterr().err
    assert cli.main(["--version"]) == 0 and capsys.readouterr().out.startswith("pytc ")
