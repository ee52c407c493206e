from pathlib import Path

import pytest
import yaml

from pytc.config import Config, ConfigError, apply_overrides, dump_config, load_config, shipped_configs, to_dict
from pytc.config.docs import markdown
from pytc.config.loader import from_dict, valid_keys

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_configs_load_and_round_trip():
    assert shipped_configs() == ["demo", "mitochondria", "neurons", "synapse"]
    for name in shipped_configs():
        cfg = load_config(name)
        assert isinstance(cfg, Config)
        again = from_dict(Config, yaml.safe_load(dump_config(cfg)))
        assert to_dict(again) == to_dict(cfg)
    assert load_config("neurons").model.name == "unet_residual_3d"
    assert [t.target for t in load_config("mitochondria").tasks] == ["binary", "boundary"]
    assert load_config("synapse").tasks[0].target == "polarity"


def test_defaults_live_in_the_schema():
    cfg = load_config()
    assert to_dict(cfg) == to_dict(Config())
    assert cfg.solver.optimizer == "adamw" and cfg.tasks[0].losses[1].name == "dice"


def test_base_inheritance(tmp_path):
    (tmp_path / "a.yaml").write_text("base: neurons\nsolver: {lr: 0.5, iterations: 10}\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.yaml").write_text("base: ../a.yaml\nsolver: {iterations: 20}\nmodel: {norm: gn}\n")
    cfg = load_config(tmp_path / "sub" / "b.yaml")
    assert (cfg.solver.lr, cfg.solver.iterations, cfg.model.norm) == (0.5, 20, "gn")
    assert cfg.model.name == "unet_residual_3d" and cfg.data.erode_border == 1  # from neurons
    (tmp_path / "c.yaml").write_text("base: [mitochondria, a.yaml]\n")  # later bases win
    cfg = load_config(tmp_path / "c.yaml")
    assert cfg.solver.lr == 0.5 and cfg.tasks[0].target == "affinity"
    (tmp_path / "loop.yaml").write_text("base: loop2.yaml\n")
    (tmp_path / "loop2.yaml").write_text("base: loop.yaml\n")
    with pytest.raises(ConfigError, match="loops back to itself"):
        load_config(tmp_path / "loop.yaml")


def test_overrides_are_parsed_as_yaml_and_checked():
    cfg = load_config(
        "neurons",
        [
            "solver.lr=0.01",
            "data.sample_shape=[18,128,128]",
            "val.window=null",
            "tasks.0.losses.1.weight=0.25",
            "tasks.0.options.offsets=[[-1,0,0],[0,-1,0],[0,0,-1]]",
            "data.augment.params.Elastic.alpha=8",
            "system.deterministic=true",
        ],
    )
    assert cfg.solver.lr == 0.01 and isinstance(cfg.solver.lr, float)
    assert cfg.data.sample_shape == [18, 128, 128] and cfg.val.window is None
    assert cfg.tasks[0].losses[1].weight == 0.25
    assert cfg.tasks[0].options["offsets"][2] == [0, 0, -1]
    assert cfg.data.augment.params == {"Elastic": {"alpha": 8}}
    assert cfg.system.deterministic is True
    cfg = apply_overrides(cfg, [("tasks", ["binary", {"target": "boundary", "losses": ["bce"]}])])
    assert [t.target for t in cfg.tasks] == ["binary", "boundary"] and cfg.tasks[1].losses[0].weight == 1.0


@pytest.mark.parametrize(
    "override, match",
    [
        ("solver.lrr=1", r"unknown key `solver.lrr`; did you mean `solver.lr`\?"),
        ("sover.lr=1", r"unknown key `sover.lr`; did you mean `solver.lr`\?"),
        ("lr=1", r"unknown key `lr`; did you mean `solver.lr`\?"),
        ("tasks.0.losses.0.nam=x", r"unknown key `tasks.0.losses.0.nam`; did you mean `tasks.0.losses.0.name`\?"),
        (
            "solver.optimizer=adam",
            r"`solver.optimizer` must be one of 'adamw', 'sgd'; got 'adam' \(did you mean 'adamw'\?\)",
        ),
        ("solver.lr=-1", r"`solver.lr` must be >= 0.0; got -1.0"),
        ("solver.lr=fast", r"`solver.lr` must be a number; got 'fast'"),
        ("solver.iterations=1.5", r"`solver.iterations` must be an integer; got 1.5"),
        ("model.filters=3", r"`model.filters` must be a list of integers or null; got 3"),
        ("system.deterministic=1", r"`system.deterministic` must be true or false; got 1"),
        ("val.overlap=0.95", r"`val.overlap` must be in \[0.0, 0.9\]; got 0.95"),
        ("tasks.2.target=binary", r"`tasks.2`: `tasks` has 1 entries, so the index must be 0 to 0; got 2"),
        ("solver.lr.x=1", r"`solver.lr` is a single value; `solver.lr.x` does not exist"),
        ("solver.lr", r"an override must look like key=value"),
    ],
)
def test_bad_overrides_name_the_key(override, match):
    with pytest.raises(ConfigError, match=match):
        load_config("neurons", [override])


def test_bad_files(tmp_path):
    with pytest.raises(
        ConfigError, match=r"'nope' is neither a file nor a shipped config; shipped: demo, mitochondria"
    ):
        load_config("nope")
    (tmp_path / "bad.yaml").write_text("solver: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad.yaml is not valid YAML"):
        load_config(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match=r"must hold a mapping of keys; got list"):
        load_config(tmp_path / "list.yaml")
    (tmp_path / "typo.yaml").write_text("solver:\n  iteratons: 5\n")
    with pytest.raises(ConfigError, match=r"unknown key `solver.iteratons`; did you mean `solver.iterations`\?"):
        load_config(tmp_path / "typo.yaml")


def test_every_key_is_documented():
    text = markdown()
    for key in valid_keys():
        assert f"`{key.replace('.0.', '.N.')}`" in text, key
    committed = (ROOT / "docs" / "config.md").read_text()
    assert committed == text + "\n", "docs/config.md is stale: python -m pytc.config docs > docs/config.md"
