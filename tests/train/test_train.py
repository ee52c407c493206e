"""The trainer end to end on real data (gala FIB-SEM), with models small enough to train in seconds."""

import json
import os
import signal
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
import yaml

from pytc.config import from_dict
from pytc.config.schema import Config
from pytc.models import load_checkpoint, load_model, model_from_config
from pytc.train import Trainer, train
from pytc.train.run import resolve_volumes

pytestmark = pytest.mark.real_data


def read_events(folder):
    """(scalar tags, image tags) of the TensorBoard event files in `folder` (TFRecord framing)."""
    from tensorboardX.proto.event_pb2 import Event

    scalars, images = set(), set()
    for path in folder.iterdir():
        data = path.read_bytes()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack("<Q", data[offset : offset + 8])
            event = Event.FromString(data[offset + 12 : offset + 12 + length])
            offset += 12 + length + 4
            for value in event.summary.value:
                (images if value.HasField("image") else scalars).add(value.tag)
    return scalars, images


def test_a_run_folder_holds_everything(tiny):
    cfg = tiny("val.every=2", "checkpoint.keep=1")
    run_dir, metrics = train(cfg)
    names = sorted(p.name for p in run_dir.iterdir())
    assert names == [
        "checkpoint_0000004.pt",
        "checkpoint_best.pt",
        "config.yaml",
        "env.json",
        "metrics.jsonl",
        "tensorboard",
    ]
    saved = from_dict(Config, yaml.safe_load((run_dir / "config.yaml").read_text()))
    assert saved.data.train.image == cfg.data.train.image and os.path.isabs(saved.data.train.image[0].split(":")[0])
    env = json.loads((run_dir / "env.json").read_text())
    assert env["torch"] == torch.__version__ and env["processes"] == 1 and env["torch_threads"] == 1
    assert {"pytc", "git_commit", "python", "cpu_count", "OMP_NUM_THREADS"} <= set(env)
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [line for line in lines if "loss/total" in line]
    assert [line["iteration"] for line in steps] == [1, 2, 3, 4]
    assert {"loss/affinity/bce", "loss/affinity/dice", "lr", "samples_per_second", "data_wait"} <= set(steps[0])
    vals = [line for line in lines if "val/adapted_rand" in line]
    assert [line["iteration"] for line in vals] == [2, 4]
    assert 0 <= metrics["affinity/adapted_rand"] <= 1 and metrics["affinity/threshold"] in (0.3, 0.5)
    scalars, images = read_events(run_dir / "tensorboard")
    assert {
        "loss/total",
        "loss/affinity/bce",
        "lr",
        "samples_per_second",
        "val/adapted_rand",
        "val/affinity/voi_split",
    } <= scalars
    assert images == {"train/raw_target_prediction", "val/raw_gt_segmentation_affinities"}
    best = load_checkpoint(run_dir)
    assert best["metric"] == min(line["val/adapted_rand"] for line in vals)
    model, loaded = load_model(run_dir)
    assert not model.training and loaded.model.filters == [4, 8]


def test_resume_is_bit_exact_with_workers(tiny, tmp_path):
    overrides = ("system.num_workers=2", "solver.iterations=6", "checkpoint.every=1", "solver.ema=0.9")
    straight, _ = train(tiny(*overrides, f"output={tmp_path / 'straight'}"))

    cfg = tiny(*overrides, f"output={tmp_path / 'stopped'}")
    resolve_volumes(cfg)
    torch.set_num_threads(1)
    Trainer(cfg, tmp_path / "stopped").train(until=3)
    assert load_checkpoint(tmp_path / "stopped", "last")["iteration"] == 3
    resumed, _ = train(cfg, resume=True)

    a, b = load_checkpoint(straight, "last"), load_checkpoint(resumed, "last")
    assert a["iteration"] == b["iteration"] == 6
    for part in ("model", "ema"):
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), (part, key)
    for x, y in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert all(torch.equal(x[k], y[k]) for k in x)


def test_fine_tuning_takes_the_weights_only(tiny, tmp_path):
    first, _ = train(tiny(f"output={tmp_path / 'first'}", "solver.iterations=2"))
    cfg = tiny(f"output={tmp_path / 'second'}", "solver.iterations=2", "solver.lr=0")
    second, _ = train(cfg, init_weights=first / "checkpoint_0000002.pt")
    a, b = load_checkpoint(first, "last"), load_checkpoint(second, "last")
    assert b["iteration"] == 2 and b["config"]["solver"]["lr"] == 0
    conv = [k for k in a["model"] if k.endswith("weight") and a["model"][k].dim() == 5]
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in conv)  # lr 0: the weights stay


def test_time_budget_stops_the_run(tiny):
    run_dir, _ = train(tiny("solver.minutes=0.05", "solver.iterations=100000"))
    state = load_checkpoint(run_dir, "last")
    assert 0 < state["iteration"] < 100000 and state["scheduler"]["elapsed"] >= 3.0


def _params(run_dir):
    return load_checkpoint(run_dir, "last")["model"]


@pytest.mark.parametrize("norm", ["bn", "gn"])
def test_two_processes_train_like_one_with_the_global_batch(tiny, tmp_path, norm):
    """2 processes x 2 samples = 1 process x 4 (bn: pytc's SyncBatchNorm; gn: also with accumulation)."""
    common = (
        f"model.norm={norm}",
        "solver.batch_size=4",
        "solver.iterations=3",
        "tasks.0.losses=[bce]",
        "solver.optimizer=sgd",
        "solver.lr=0.05",
        "solver.warmup=0",
    )
    one, _ = train(tiny(*common, f"output={tmp_path / 'one'}"))
    two, _ = train(tiny(*common, f"output={tmp_path / 'two'}", "system.num_proc=2", "val.every=2"))
    assert (two / "checkpoint_best.pt").exists()  # validated on rank 0, saved with every rank's state
    runs = [two]
    if norm == "gn":
        accumulated, _ = train(tiny(*common, f"output={tmp_path / 'acc'}", "solver.accumulate=2"))
        runs.append(accumulated)
    reference = _params(one)
    torch.manual_seed(0)
    initial = model_from_config(tiny(*common)).state_dict()
    assert max(float((reference[k] - initial[k]).abs().max()) for k in reference if k.endswith("weight")) > 1e-2
    for run in runs:  # float32 sums in another order: differences of 1e-5 after 3 steps
        params = _params(run)
        for key, value in reference.items():
            torch.testing.assert_close(params[key], value, rtol=1e-3, atol=1e-4, msg=f"{run.name}: {key}")


def test_a_process_killed_while_saving_leaves_the_previous_checkpoint(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time, torch
        from pytc.models import save_checkpoint
        save_checkpoint({{"iteration": 1, "weights": torch.ones(1000)}}, r"{tmp_path}/checkpoint_0000001.pt")
        real_save = torch.save
        def slow_save(obj, f):
            real_save(obj, f)          # the bytes are written, but the file is not closed nor renamed yet
            f.flush()
            print("inside", flush=True)
            time.sleep(600)
        torch.save = slow_save
        save_checkpoint({{"iteration": 2, "weights": torch.zeros(10**7)}}, r"{tmp_path}/checkpoint_0000002.pt")
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "inside"
        assert any(p.name.startswith(".checkpoint_0000002.pt.tmp") for p in tmp_path.iterdir())
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    state = load_checkpoint(tmp_path, "last")
    assert state["iteration"] == 1 and torch.equal(state["weights"], torch.ones(1000))
    assert not (tmp_path / "checkpoint_0000002.pt").exists()


def test_val_metrics_follow_the_task(tiny):
    cfg = tiny("tasks=[{target: binary, weight: ratio}, {target: boundary}]", "val.every=2", "solver.iterations=2")
    _, metrics = train(cfg)
    assert set(metrics) == {"binary/iou", "binary/dice", "boundary/iou", "boundary/dice", "seconds"}
    assert all(0 <= metrics[k] <= 1 for k in metrics if k != "seconds")
    assert np.isfinite(metrics["seconds"])


def test_torchrun_starts_the_processes(tiny, tmp_path):
    from pytc.config import dump_config

    config = tmp_path / "tiny.yaml"
    config.write_text(dump_config(tiny("solver.iterations=2", "system.num_proc=2")))
    from pytc.distributed import free_port

    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-port",
        str(free_port()),
        "-m",
        "pytc.train",
        "--config",
        str(config),
        f"output={tmp_path / 'run'}",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    state = load_checkpoint(tmp_path / "run", "last")
    assert state["iteration"] == 2 and len(state["rng"]) == 2  # one random state per process
    assert json.loads((tmp_path / "run" / "env.json").read_text())["processes"] == 2
