"""The viewer in a real browser: headless Chromium (Debian's chromium and chromium-driver) through Selenium,
rendering WebGL in software (SwiftShader). Under CI=true a missing browser fails these tests; elsewhere they
skip.

Neuroglancer takes its screenshots once every visible chunk has loaded, so the checks below see the layers
drawn, not a half-loaded page. With one voxel per pixel and the section centred, pixel (row, col) shows voxel
(z, y0 + row, x0 + col); the checks compare those pixels with the colours pytc's TensorBoard images give the
same voxels.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from scipy import ndimage

from pytc import testing
from pytc.data.colors import affinity_rgb, label_colors
from pytc.view import Region, VolumeSpec, open_region, open_viewer

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# Headless Chromium as root in a container, without network: no sandbox, no background connections, and WebGL
# through ANGLE on SwiftShader (software), which headless Chromium no longer enables without being asked.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--use-gl=angle",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--no-first-run",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1000,700",
)
SIZE = (320, 200)  # screenshot width, height in pixels: the 160 x 100 voxel section drawn at 2 pixels per voxel
README_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "view.png"


@pytest.fixture(scope="module")
def browser():
    webdriver = testing.require_module("selenium.webdriver", "the browser tests")
    testing.require_module("neuroglancer", "the browser tests")
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if missing:
        testing.fail_in_ci_else_skip(
            f"the browser tests need Debian's chromium and chromium-driver ({', '.join(missing)} missing): "
            "apt-get install chromium chromium-driver"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def screenshot(viewer, timeout=90):
    """(H, W, 3) pixels of the viewer's panels at SIZE, taken by the browser once all visible data has loaded."""
    done, reply = threading.Event(), []
    with viewer.config_state.txn() as s:
        s.show_ui_controls, s.show_panel_borders, s.viewer_size = False, False, list(SIZE)
    for _ in range(5):  # the first reply may come before the resize
        done.clear()
        viewer.async_screenshot(lambda s: (reply.append(s), done.set()))
        assert done.wait(timeout), f"no screenshot from the browser in {timeout} s"
        shot = reply[-1].screenshot
        if (shot.width, shot.height) == SIZE:
            return np.asarray(shot.image_pixels)[..., :3].astype(np.int16)
    raise AssertionError(f"the browser did not resize its panels to {SIZE}")


def section_view(viewer, z, shape):
    """Show section `z` of a (Z, Y, X) volume centred, one voxel per 2 pixels, one 'xy' panel."""
    with viewer.txn() as s:
        s.layout = "xy"
        s.position = [z + 0.5, shape[1] / 2, shape[2] / 2]
        s.cross_section_scale = 0.5
        s.show_axis_lines = False
        s.show_scale_bar = False
        s.show_default_annotations = False  # no yellow outline of the volume


def voxels_of_pixels(array, z):
    """`array[..., z]` resampled to the screenshot: pixel (r, c) -> voxel (r // 2, c // 2)."""
    section = array[..., z, :, :]
    return np.repeat(np.repeat(section, 2, -2), 2, -1)[..., : SIZE[1], : SIZE[0]]


def interior(labels):
    """Pixels (in screenshot layout) whose voxel has the same id as its 8 neighbours and is not background."""
    same = ndimage.minimum_filter(labels, 3) == ndimage.maximum_filter(labels, 3)
    return same & (labels != 0)


def set_visible(viewer, *names):
    with viewer.txn() as s:
        for layer in s.layers:
            layer.visible = layer.name in names


@pytest.fixture(scope="module")
def sample(volumes):
    with h5py.File(volumes, "r") as f:
        return {name: f[name][:] for name in ("image", "seg", "aff", "prob")}


@pytest.fixture(scope="module")
def sample_viewer(browser, volumes):
    """A viewer of the sample's image, segmentation, affinities and probabilities."""
    regions = [open_region(VolumeSpec.parse(f"{volumes}:{name}")) for name in ("image", "seg", "aff", "prob")]
    viewer = open_viewer(regions)
    with viewer.txn() as s:
        s.layers["seg"].selected_alpha = 1.0  # segments drawn in their own colours, not blended with the EM
    return viewer


@pytest.fixture
def loaded(browser, sample_viewer):
    """The sample viewer, open in the browser at section 10 (opened again if another test left its page)."""
    if browser.current_url != sample_viewer.get_viewer_url():
        start = time.perf_counter()
        browser.get(sample_viewer.get_viewer_url())
        section_view(sample_viewer, 10, (20, 100, 160))
        screenshot(sample_viewer)
        print(f"\nviewer page open, all chunks loaded: {time.perf_counter() - start:.1f} s")
    return sample_viewer


def test_image_layer_is_not_blank(loaded, sample):
    set_visible(loaded, "image")
    pixels = screenshot(loaded)
    assert pixels.std() > 20, "the EM section renders as a flat screenshot"
    assert (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all(), "EM is grey"
    expected = voxels_of_pixels(sample["image"], 10).astype(np.int16)
    assert np.corrcoef(pixels[..., 0].ravel(), expected.ravel())[0, 1] > 0.95


def test_segmentation_shows_segment_colours(loaded, sample):
    """Every pixel inside a segment has the id's colour, the colour TensorBoard's images give it."""
    set_visible(loaded, "seg")
    pixels = screenshot(loaded)
    labels = voxels_of_pixels(sample["seg"], 10)
    inside = interior(labels)
    assert inside.mean() > 0.5
    difference = np.abs(pixels - label_colors(labels).astype(np.int16)).max(-1)
    assert np.mean(difference[inside] <= 2) > 0.99
    assert len(np.unique(labels[inside])) > 20  # many segments, each in its own colour


def test_toggling_a_layer_changes_the_screenshot(loaded):
    set_visible(loaded, "image", "seg")
    both = screenshot(loaded)
    set_visible(loaded, "image")
    image_only = screenshot(loaded)
    assert np.abs(both - image_only).mean() > 10
    assert (image_only.std(-1) == 0).all() and (both.std(-1) > 0).mean() > 0.5  # colour comes with the segments


def test_affinities_show_as_rgb(loaded, sample):
    set_visible(loaded, "aff")
    pixels = screenshot(loaded)
    expected = np.moveaxis(voxels_of_pixels(sample["aff"], 10), 0, -1)  # (H, W, 3)
    steady = np.ones(expected.shape[:2], bool)  # pixels whose 3x3 voxel neighbourhood has one affinity colour
    for c in range(3):
        steady &= ndimage.minimum_filter(expected[..., c], 3) == ndimage.maximum_filter(expected[..., c], 3)
    colours = affinity_rgb(np.moveaxis(expected, -1, 0)).astype(np.int16)
    assert steady.mean() > 0.5
    assert np.mean(np.abs(pixels - colours).max(-1)[steady] <= 2) > 0.99


def test_tensorboard_images_match_the_viewer(loaded, sample):
    """The validation images of training (TensorBoard) show section 10's segments and affinities in the colours
    the viewer draws them."""
    from pytc.train.logger import sections, validation_grid

    image, seg, aff = sample["image"], sample["seg"], sample["aff"]
    row = sections(len(image)).index(10)
    grid = validation_grid(image, seg, seg, aff)
    height, width = image.shape[1:]

    def tile(column):  # the grid's tile, upscaled like the screenshot (2 pixels per voxel)
        top, left = row * (height + 2), column * (width + 2)
        return np.repeat(np.repeat(grid[top : top + height, left : left + width], 2, 0), 2, 1).astype(np.int16)

    labels = voxels_of_pixels(seg, 10)
    set_visible(loaded, "seg")
    segments = screenshot(loaded)
    inside = interior(labels)
    assert np.mean(np.abs(segments - tile(1)).max(-1)[inside] <= 2) > 0.99
    set_visible(loaded, "aff")
    affinities = screenshot(loaded)
    assert np.mean(np.abs(affinities - tile(3)).max(-1)[inside] <= 2) > 0.95


def test_probabilities_show_as_heat_map(loaded, sample):
    set_visible(loaded, "prob")
    pixels = screenshot(loaded)
    prob = voxels_of_pixels(sample["prob"], 10)
    low, high = prob < 0.1, prob > 0.9
    assert low.mean() > 0.05 and high.mean() > 0.05
    red, blue = pixels[..., 0], pixels[..., 2]
    assert np.mean(blue[low] > red[low]) > 0.95 and np.mean(red[high] > blue[high]) > 0.95  # jet: blue to red


def test_channels_of_uncertainty_are_a_layer_slider(browser, sample):
    """A (C, Z, Y, X) variance map shows one channel at a time (a local channel dimension)."""
    variance = np.stack([sample["prob"] * 0.25, (1 - sample["prob"]) * 0.25])
    viewer = open_viewer([Region(variance, "prob", "prediction_variance")])
    browser.get(viewer.get_viewer_url())
    section_view(viewer, 10, variance.shape[1:])
    first = screenshot(viewer)
    with viewer.txn() as s:
        s.layers["prediction_variance"].layer.local_position = [1]  # the layer's channel slider
    second = screenshot(viewer)
    prob = voxels_of_pixels(sample["prob"], 10)
    high = prob > 0.9
    assert np.mean(first[..., 0][high] > first[..., 2][high]) > 0.95  # channel 0 high where prob is high
    assert np.mean(second[..., 2][high] > second[..., 0][high]) > 0.95  # channel 1 low there


def test_readme_screenshot(loaded, browser):
    """The picture in README: EM with the segmentation over it. Written only with PYTC_WRITE_SCREENSHOT=1."""
    set_visible(loaded, "image", "seg")
    with loaded.txn() as s:
        s.layers["seg"].selected_alpha = 0.4
        s.layout = "xy"
        s.cross_section_scale = 0.4
    screenshot(loaded)  # everything loaded
    with loaded.config_state.txn() as s:
        s.show_ui_controls, s.show_panel_borders, s.viewer_size = True, True, None
    browser.set_window_size(720, 420)
    time.sleep(2)
    png = browser.get_screenshot_as_png()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("PYTC_WRITE_SCREENSHOT") == "1":
        README_SCREENSHOT.parent.mkdir(exist_ok=True)
        README_SCREENSHOT.write_bytes(png)


def test_command_line_viewer_serves_until_interrupted(browser, volumes):
    """`python -m pytc.view` prints a link that opens the viewer with its layers, and stops on Ctrl-C."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    # -X faulthandler: if it does not stop, SIGABRT makes it print every thread's stack for the failure message
    command = [sys.executable, "-X", "faulthandler", "-m", "pytc.view", f"{volumes}:image", f"{volumes}:seg"]
    command += ["--select", "5"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = None
        for line in process.stdout:
            if line.startswith("Neuroglancer: "):
                url = line.split(" ", 1)[1].strip()
                break
        assert url and url.startswith("http://127.0.0.1:"), process.stderr.read() if process.poll() else url
        browser.get(url)

        def layer_names(driver):
            labels = driver.find_elements(By.CSS_SELECTOR, ".neuroglancer-layer-item-label")
            return [e.text for e in labels] or False

        assert WebDriverWait(browser, 60).until(layer_names) == ["image", "seg"]
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGABRT)
            pytest.fail(f"the viewer did not stop within 60 s of Ctrl-C; its threads:\n{process.communicate()[1]}")
        assert code == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _wait_for(condition, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_recording_proofreading_operations(browser, sample, tmp_path):
    """Keys in the viewer record merge, split and correct operations: with the mouse over a segment, the
    recorded id is the segment at the recorded voxel."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from pytc.view.record import OperationRecorder

    seg = sample["seg"]
    z = 10
    # the voxel of section z farthest from any boundary (ids are separated by 0): the mouse lands in a segment
    # there, and 3 voxels off still does
    distance = ndimage.distance_transform_edt(np.pad(seg[z] != 0, 1))[1:-1, 1:-1]
    y, x = np.unravel_index(np.argmax(distance), distance.shape)
    assert distance[y, x] > 5
    viewer = open_viewer([Region(seg, "seg", "seg")], layout="xy")

    said = []  # the recorder says one line per action it handles
    recorder = OperationRecorder(tmp_path / "ops.json", "seg", Region(seg, "seg"), log=said.append)
    recorder.attach(viewer)
    browser.set_window_size(1000, 700)
    browser.get(viewer.get_viewer_url())
    with viewer.txn() as s:
        s.position = [z + 0.5, y + 0.5, x + 0.5]
        s.cross_section_scale = 0.5
        s.layers["seg"].segments = [int(seg[z, 5, 5]), int(seg[z, 90, 150])]
    screenshot(viewer)  # loaded
    with viewer.config_state.txn() as s:
        s.show_ui_controls, s.show_panel_borders, s.viewer_size = True, True, None
    time.sleep(1)
    panel = browser.find_element(By.CSS_SELECTOR, ".neuroglancer-rendered-data-panel")

    def press(key, dx=0, dy=0):
        count = len(said)
        time.sleep(0.5)
        chain = ActionChains(browser).move_to_element_with_offset(panel, dx + 1, dy).pause(0.2)
        chain.move_to_element_with_offset(panel, dx, dy).pause(0.5)  # a move Neuroglancer sees
        chain.key_down(Keys.ALT).send_keys(key).key_up(Keys.ALT).perform()
        assert _wait_for(lambda: len(said) > count), f"alt+{key} reached no action"

    press("m")
    assert recorder.operations[-1] == {"op": "merge", "ids": sorted([int(seg[z, 5, 5]), int(seg[z, 90, 150])])}
    press("s", -4, 0)
    press("s", 4, 0)
    split = recorder.operations[-1]
    assert split["op"] == "split" and split["id"] == seg[z, y, x]
    assert all(seg[tuple(p)] == split["id"] for p in split["points"]) and split["points"][0] != split["points"][1]
    press("c")
    assert recorder.operations[-1] == {"op": "correct", "id": int(seg[z, y, x])}
    assert json.loads((tmp_path / "ops.json").read_text()) == recorder.operations
