"""The viewer without a browser: volume specs, layer kinds, region reads, the state JSON, the chunk server, run
folders and the command line."""

import io
import json
import subprocess
import sys
import urllib.request
import zlib

import h5py
import numpy as np
import pytest

from pytc import testing
from pytc.data.colors import label_colors
from pytc.view import Region, VolumeSpec, guess_kind, open_region, run_volumes
from pytc.view.viewer import affinity_shader


def _neuroglancer():
    return testing.require_module("neuroglancer", "pytc.view")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("vol.h5", ("vol.h5", None, None)),
        ("vol.h5:raw", ("vol.h5", "raw", None)),
        ("vol.h5:volumes/raw:image", ("vol.h5", "volumes/raw", "image")),
        ("pred.zarr:affinities:aff", ("pred.zarr", "affinities", "aff")),
        ("pred.npy:prob", ("pred.npy", None, "prob")),
        ("seg.h5:seg", ("seg.h5", "seg", None)),  # in a file of datasets, FILE:NAME names a dataset
        ("seg.h5:seg:seg", ("seg.h5", "seg", "seg")),
        ("seg.h5::seg", ("seg.h5", None, "seg")),  # the file's only dataset, as a segmentation
        ("seg.tif:seg", ("seg.tif", None, "seg")),
        ("stack/*.png", ("stack/*.png", None, None)),
    ],
)
def test_volume_spec_parse(text, expected):
    spec = VolumeSpec.parse(text)
    assert (spec.path, spec.dataset, spec.kind) == expected


@pytest.mark.parametrize(
    ("shape", "dtype", "name", "kind"),
    [
        ((10, 20, 30), np.uint8, "raw", "image"),
        ((10, 20, 30), np.uint8, "whatever", "image"),
        ((10, 20, 30), np.float32, "image", "image"),
        ((10, 20, 30), np.float32, "boundary", "prob"),
        ((10, 20, 30), np.float32, "p1", "prob"),
        ((10, 20, 30), np.uint64, "x", "seg"),
        ((10, 20, 30), np.int32, "gt", "seg"),
        ((10, 20, 30), np.uint16, "em", "image"),
        ((10, 20, 30), np.uint16, "labels", "seg"),
        ((10, 20, 30), np.bool_, "mask", "seg"),
        ((3, 10, 20, 30), np.float32, "prediction", "aff"),
        ((12, 10, 20, 30), np.uint8, "prediction", "aff"),
        ((1, 10, 20, 30), np.float32, "prediction", "prob"),
        ((3, 10, 20, 30), np.float32, "prediction_variance", "prob"),
        ((2, 10, 20, 30), np.float32, "affinities", "aff"),
    ],
)
def test_guess_kind(shape, dtype, name, kind):
    assert guess_kind(shape, dtype, name) == kind


class CountingVolume:
    """A volume that records the regions read from it."""

    def __init__(self, array):
        self.array, self.shape, self.dtype, self.keys = array, array.shape, array.dtype, []

    def __getitem__(self, key):
        self.keys.append(key)
        return self.array[key]


def test_region_reads_only_what_is_asked(rng):
    array = rng.integers(-5, 1000, (20, 30, 40), dtype=np.int64)
    volume = CountingVolume(array)
    region = Region(volume, "seg")
    assert region.shape == (20, 30, 40) and region.dtype == np.uint64
    out = region[2:4, 28:40, 35:50]  # a region past the volume's edge, as Neuroglancer asks at edges
    np.testing.assert_array_equal(out, array[2:4, 28:30, 35:40].astype(np.uint64))
    assert region.reads == out.size == 2 * 2 * 5
    assert all(k.stop <= n for key in volume.keys for k, n in zip(key, array.shape))


def test_region_layouts(rng):
    section = rng.random((30, 40))
    region = Region(section, "prob")  # 2D: one section, float64 served as float32
    assert region.shape == (1, 30, 40) and region.dtype == np.float32
    np.testing.assert_array_equal(region[0:1, 5:10, :], section[None, 5:10].astype(np.float32))
    affinities = rng.random((12, 4, 5, 6)).astype(np.float16)
    region = Region(affinities, "aff")  # long-range channels are not served
    assert region.shape == (3, 4, 5, 6) and region.channels == 3 and region.dtype == np.float32
    np.testing.assert_array_equal(region[:, 1:2], affinities[:3, 1:2].astype(np.float32))
    assert Region(np.zeros((4, 5, 6), bool), "seg").dtype == np.uint8
    with pytest.raises(ValueError, match=r"view: `volume` must be \(Z, Y, X\) for a seg layer"):
        Region(np.zeros((2, 4, 5, 6), np.uint32), "seg")
    with pytest.raises(ValueError, match="`volume` must be a 2D, 3D or"):
        Region(np.zeros(5), "image")


def test_open_region_guesses_and_reads_resolution(volumes):
    region = open_region(VolumeSpec.parse(f"{volumes}:image"))
    assert (region.kind, region.shape, region.resolution, region.name) == ("image", (20, 100, 160), (30, 6, 6), "image")
    assert open_region(VolumeSpec.parse(f"{volumes}:seg")).kind == "seg"
    assert open_region(VolumeSpec.parse(f"{volumes}:aff")).kind == "aff"
    assert open_region(VolumeSpec.parse(f"{volumes}:prob")).kind == "prob"
    assert open_region(VolumeSpec.parse(f"{volumes}:image:seg")).kind == "seg"  # the user's kind wins


def test_affinity_shader_uses_present_channels():
    assert "getDataValue(2)" in affinity_shader(3)
    two = affinity_shader(2)
    assert "getDataValue(1)" in two and "getDataValue(2)" not in two and "0.0" in two


def test_label_colors_are_neuroglancers(rng):
    """TensorBoard's instance colours (label_colors) are the segment colours Neuroglancer draws."""
    segment_colors = testing.require_module("neuroglancer.segment_colors", "this comparison")
    ids = np.concatenate([np.arange(1, 2000), rng.integers(1, 2**63, 2000, dtype=np.uint64).astype(np.int64)])
    ids = ids.astype(np.uint64)
    expected = np.array(
        [[int(segment_colors.hex_string_from_segment_id(0, int(i))[k : k + 2], 16) for k in (1, 3, 5)] for i in ids]
    )
    ours = label_colors(ids).astype(int)
    # Neuroglancer rounds channel values that fall on .5 either way (its Python mirror to even, WebGL to nearest)
    assert np.abs(ours - expected).max() <= 1
    assert (ours == expected).all(1).mean() > 0.85
    assert (label_colors(np.zeros(3, np.int64)) == 0).all()


@pytest.fixture
def viewer_of(volumes):
    """open_viewer on the sample's datasets; the server stops with the test session."""
    _neuroglancer()
    from pytc.view import open_viewer

    def make(*names, **options):
        return open_viewer([open_region(VolumeSpec.parse(f"{volumes}:{n}")) for n in names], **options)

    return make


def test_state_json(viewer_of):
    viewer = viewer_of("image", "seg", "aff", "prob", select=[5, 9])
    state = viewer.state.to_json()
    assert state["dimensions"] == {"z": [30e-9, "m"], "y": [6e-9, "m"], "x": [6e-9, "m"]}  # from the attribute
    assert state["displayDimensions"] == ["x", "y", "z"] and state["layout"] == "4panel"
    assert state["position"] == [10, 50, 80]
    layers = {layer["name"]: layer for layer in state["layers"]}
    assert list(layers) == ["image", "seg", "aff", "prob"]
    assert [layers[n]["type"] for n in layers] == ["image", "segmentation", "image", "image"]
    assert layers["seg"]["segments"] == ["5", "9"]
    assert "emitRGB(vec3(toNormalized(getDataValue(0))" in layers["aff"]["shader"]
    assert "colormapJet" in layers["prob"]["shader"]
    assert all(layer["source"][0]["url"].startswith("python://volume/") for layer in layers.values())

    state = viewer_of("image", "section", resolution=(40, 4, 4), layout="xy").state.to_json()
    assert state["dimensions"]["z"] == [40e-9, "m"] and state["layout"] == "xy"
    assert [layer["name"] for layer in state["layers"]] == ["image", "section"]


def test_state_out_file(viewer_of, tmp_path):
    from pytc.view import write_state

    viewer = viewer_of("image", "seg")
    write_state(viewer, tmp_path / "state.json")
    state = json.loads((tmp_path / "state.json").read_text())
    assert [layer["type"] for layer in state["layers"]] == ["image", "segmentation"]


@pytest.mark.parametrize("bad", [{"resolution": (1, 0, 1)}, {"resolution": (1, 2)}, {"layout": "diagonal"}])
def test_open_viewer_rejects(viewer_of, bad):
    with pytest.raises(ValueError, match="view: `(resolution|layout)` must be"):
        viewer_of("image", **bad)


def _chunk(viewer, layer, start, end):
    """What the viewer's server answers for a chunk request of `layer` (npz encoding, as the browser asks)."""
    url = viewer.state.layers[layer].source[0].url
    key = url.removeprefix("python://volume/")
    server = viewer.get_viewer_url().split("/v/")[0]
    scale = ",".join("1" * len(start))  # full resolution
    request = f"{server}/neuroglancer/npz/{key}/{scale}/{','.join(map(str, start))}/{','.join(map(str, end))}"
    with urllib.request.urlopen(request, timeout=30) as reply:
        return np.load(io.BytesIO(zlib.decompress(reply.read())))


def test_chunk_server_answers_with_the_volume(viewer_of, volumes):
    viewer = viewer_of("image", "seg", "aff")
    with h5py.File(volumes, "r") as f:
        image, seg, aff = f["image"][:], f["seg"][:], f["aff"][:]
    np.testing.assert_array_equal(_chunk(viewer, "image", (0, 0, 0), (4, 32, 32)), image[:4, :32, :32])
    # a region at the volume's far edge (shape 20, 100, 160)
    edge = _chunk(viewer, "seg", (16, 96, 128), (20, 100, 160))
    assert edge.dtype == np.uint32
    np.testing.assert_array_equal(edge, seg[16:, 96:, 128:].astype(np.uint32))
    np.testing.assert_array_equal(_chunk(viewer, "aff", (0, 3, 50, 60), (3, 5, 70, 90)), aff[:, 3:5, 50:70, 60:90])
    with pytest.raises(urllib.error.HTTPError, match="400"):  # past the edge: refused, not padded
        _chunk(viewer, "image", (16, 96, 128), (21, 100, 160))


def test_run_folder(volumes, tmp_path):
    """A training run folder: the config's validation image and label, then its predictions with the image
    they name; an inference output folder: its predictions and their image."""
    run = tmp_path / "run"
    (run / "predictions").mkdir(parents=True)
    (run / "config.yaml").write_text(
        f"data:\n  train:\n    image: ['{volumes}:image']\n    label: ['{volumes}:seg']\n"
        f"  val:\n    image: ['{volumes}:image']\n    label: ['{volumes}:seg']\n"
    )
    with h5py.File(run / "predictions" / "test.h5", "w") as f:
        f.attrs["pytc_image"] = f"{volumes}:image"
        f["affinities"] = np.zeros((3, 2, 3, 4), np.float32)
        f["segmentation"] = np.zeros((2, 3, 4), np.uint32)
    specs = run_volumes(run)
    assert [(s.name, s.kind) for s in specs] == [
        ("val_image", "image"),
        ("val_label", "seg"),
        ("test/affinities", None),
        ("test/segmentation", None),
    ]  # the prediction's image is the config's: shown once
    assert [open_region(s).kind for s in specs[2:]] == ["aff", "seg"]

    outputs = tmp_path / "inference"
    outputs.mkdir()
    with h5py.File(outputs / "pred.h5", "w") as f:
        f["prediction"] = np.zeros((3, 2, 3, 4), np.float32)
        f["prediction"].attrs["pytc_image"] = f"{volumes}:image"
    assert [(s.name, s.kind) for s in run_volumes(outputs)] == [("image", "image"), ("pred/prediction", None)]


def test_run_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="view: `--run` must be a run folder; got .*missing"):
        run_volumes(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="view: run folder .*empty has nothing to show"):
        run_volumes(tmp_path / "empty")


def _view(*args):
    return subprocess.run([sys.executable, "-m", "pytc.view", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/no/such/file.h5:raw"], "`path` does not exist: /no/such/file.h5"),
        (["{volumes}:imag"], "dataset 'imag' not in"),
        (["--run", "/no/such/run"], "`--run` must be a run folder"),
    ],
)
def test_command_line_errors_are_one_line(volumes, args, message):
    result = _view(*[a.format(volumes=volumes) for a in args])
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("pytc view: error: ")
    assert message in result.stderr


def test_command_line_needs_a_volume():
    result = _view()
    assert result.returncode == 2 and "give at least one VOLUME or --run" in result.stderr


def test_missing_neuroglancer_names_the_extra(volumes):
    code = (
        "import sys; sys.modules['neuroglancer'] = None\n"
        "from pytc.view.__main__ import main\n"
        f"sys.exit(main([{str(volumes) + ':image'!r}]))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "needs the `neuroglancer` package: pip install 'pytc[view]'" in result.stderr


def test_set_attributes(tmp_path):
    from pytc.data.io import set_attributes, write_volume

    data = np.zeros((2, 3, 4), np.uint8)
    write_volume(tmp_path / "a.h5", data, "pred")
    assert set_attributes(tmp_path / "a.h5", "pred", {"pytc_image": "x.h5:raw"})
    write_volume(tmp_path / "b.zarr", data, "pred")
    assert set_attributes(tmp_path / "b.zarr", "pred", {"pytc_image": "y.h5:raw"})
    write_volume(tmp_path / "c.zarr", data)
    assert set_attributes(tmp_path / "c.zarr", None, {"pytc_image": "z.h5:raw"})
    assert not set_attributes(tmp_path / "d.tif", None, {"pytc_image": "z.h5:raw"})
    # paths relative to the run folder
    expected = [f"{tmp_path / name}:raw:image" for name in ("x.h5", "y.h5", "z.h5")]
    assert [str(s) for s in run_volumes(tmp_path) if s.kind == "image"] == expected


def test_boxes_become_an_annotation_layer(viewer_of):
    boxes = [{"name": "patch_000", "start": [0, 10, 20], "stop": [4, 42, 52], "score": 0.25}]
    state = viewer_of("image", boxes=boxes).state.to_json()
    layer = state["layers"][-1]
    assert layer["type"] == "annotation" and layer["name"] == "boxes"
    (box,) = layer["annotations"]
    assert box["type"] == "axis_aligned_bounding_box" and box["id"] == "patch_000"
    assert box["pointA"] == [0, 10, 20] and box["pointB"] == [4, 42, 52]
    assert box["description"] == "patch_000 (score 0.2500)"
