"""Neuroglancer layers and the local viewer for `Region` volumes (needs the `neuroglancer` package)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .volumes import Region

EXTRA_HINT = "pip install 'pytc[view]' (or pip install neuroglancer)"
LAYOUTS = ("xy", "xz", "yz", "4panel", "xy-3d", "3d")
DEFAULT_RESOLUTION = (1.0, 1.0, 1.0)

# Affinities as RGB of their first three channels (z red, y green, x blue), as `pytc.data.colors.affinity_rgb`
# draws them for TensorBoard; fewer channels leave the rest dark.
_AFFINITY_SHADER = """void main() {{
  emitRGB(vec3({}));
}}
"""
# Probabilities, variance and entropy as a heat map (jet), with a range the user can drag.
_HEAT_SHADER = """#uicontrol invlerp normalized(range=[{low:g}, {high:g}])
void main() {{
  emitRGB(colormapJet(normalized()));
}}
"""
_IMAGE_SHADER = """#uicontrol invlerp normalized(range=[{low:g}, {high:g}])
void main() {{
  emitGrayscale(normalized());
}}
"""


def require_neuroglancer():
    """The `neuroglancer` module, or an ImportError that names the extra to install."""
    try:
        import neuroglancer
    except ImportError as e:
        raise ImportError(f"view: the viewer needs the `neuroglancer` package: {EXTRA_HINT}") from e
    return neuroglancer


def affinity_shader(channels: int) -> str:
    values = [f"toNormalized(getDataValue({c}))" if c < channels else "0.0" for c in range(3)]
    return _AFFINITY_SHADER.format(", ".join(values))


def _value_range(region: Region, name: str) -> tuple[float, float]:
    """The range a heat map or float image maps to its colours: [0, 1] for probabilities (scaled to the dtype
    for integers), [0, 0.25] for variance, and the 0.5 and 99.5 percentiles of the middle section of a float
    image."""
    if region.dtype.kind in "iu":
        return 0.0, float(np.iinfo(region.dtype).max)
    if region.kind == "prob":
        return (0.0, 0.25) if "variance" in name.lower() else (0.0, 1.0)
    z = region.shape[-3] // 2
    middle = tuple(slice(max(0, n // 2 - 512), n // 2 + 512) for n in region.shape[-2:])
    key = (slice(0, 1),) * (region.ndim - 3) + (slice(z, z + 1), *middle)
    low, high = np.nanpercentile(region[key], [0.5, 99.5])
    return float(low), float(high if high > low else low + 1)


def coordinate_space(region: Region, resolution: Sequence[float]):
    """Neuroglancer's dimensions of `region`: z, y, x in nm, after a channel dimension for affinities
    (``c^``, read together by the shader) or probabilities (``c'``, a slider of the layer)."""
    neuroglancer = require_neuroglancer()
    names, units, scales = ["z", "y", "x"], ["nm"] * 3, list(resolution)
    if region.channels:
        names.insert(0, "c^" if region.kind == "aff" else "c'")
        units.insert(0, "")
        scales.insert(0, 1)
    return neuroglancer.CoordinateSpace(names=names, units=units, scales=scales)


def build_layer(region: Region, resolution: Sequence[float], select: Sequence[int] = ()) -> Any:
    """The Neuroglancer layer of `region`: an image layer for EM, a segmentation layer (with `select`ed ids)
    for labels, RGB for affinities, a heat map for probabilities and uncertainty."""
    neuroglancer = require_neuroglancer()
    source = neuroglancer.LocalVolume(
        region,
        dimensions=coordinate_space(region, resolution),
        volume_type="segmentation" if region.kind == "seg" else "image",
    )
    if region.kind == "seg":
        return neuroglancer.SegmentationLayer(source=source, segments=[int(i) for i in select])
    if region.kind == "aff":
        return neuroglancer.ImageLayer(source=source, shader=affinity_shader(region.channels))
    if region.kind == "prob":
        low, high = _value_range(region, region.name)
        layer = neuroglancer.ImageLayer(source=source, shader=_HEAT_SHADER.format(low=low, high=high))
        if region.channels:
            layer.local_position = [0]  # the first channel; Neuroglancer would start in the middle
        return layer
    if region.dtype.kind == "f":
        low, high = _value_range(region, region.name)
        return neuroglancer.ImageLayer(source=source, shader=_IMAGE_SHADER.format(low=low, high=high), opacity=1.0)
    return neuroglancer.ImageLayer(source=source, opacity=1.0)


def _unique_names(regions):
    names, seen = [], {}
    for region in regions:
        n = seen[region.name] = seen.get(region.name, 0) + 1
        names.append(region.name if n == 1 else f"{region.name}_{n}")
    return names


def open_viewer(
    regions: Sequence[Region],
    *,
    bind: str = "127.0.0.1",
    port: int = 0,
    resolution: Sequence[float] | None = None,
    select: Sequence[int] = (),
    layout: str | None = None,
    boxes: Sequence[dict] = (),
) -> Any:
    """A Neuroglancer viewer serving `regions` from this process (bound to `bind`:`port`, 0 for any free port).

    `resolution` is the (Z, Y, X) voxel size in nm; default: what the first volume records, else 1 nm.
    `boxes` (dicts with 'name', 'start', 'stop' in voxels, optional 'score') become an annotation layer
    'boxes', e.g. the patches picked for annotation (`pytc.view.run.run_boxes`).
    The viewer's link is ``viewer.get_viewer_url()``; it serves until the process ends.
    """
    neuroglancer = require_neuroglancer()
    if not regions:
        raise ValueError("view: nothing to show; give at least one VOLUME or --run")
    if resolution is None:
        resolution = next((r.resolution for r in regions if r.resolution), DEFAULT_RESOLUTION)
    resolution = [float(v) for v in resolution]
    if len(resolution) != 3 or not all(np.isfinite(v) and v > 0 for v in resolution):
        raise ValueError(f"view: `resolution` must be 3 positive numbers (Z, Y, X in nm); got {resolution}")
    if layout is None:
        layout = "xy" if regions[0].shape[-3] == 1 else "4panel"
    if layout not in LAYOUTS:
        raise ValueError(f"view: `layout` must be one of {', '.join(LAYOUTS)}; got {layout!r}")
    neuroglancer.set_server_bind_address(bind, port)
    viewer = neuroglancer.Viewer()
    first = regions[0].shape[-3:]
    with viewer.txn() as state:
        state.dimensions = neuroglancer.CoordinateSpace(names=["z", "y", "x"], units="nm", scales=resolution)
        state.display_dimensions = ["x", "y", "z"]
        state.position = [n / 2 for n in first]
        state.layout = layout
        for name, region in zip(_unique_names(regions), regions):
            state.layers[name] = build_layer(region, resolution, select)
        if boxes:
            state.layers["boxes"] = box_layer(boxes, resolution)
    return viewer


def box_layer(boxes: Sequence[dict], resolution: Sequence[float]) -> Any:
    """A Neuroglancer annotation layer of axis-aligned boxes (voxel corners `start`, `stop`, (Z, Y, X))."""
    neuroglancer = require_neuroglancer()
    space = neuroglancer.CoordinateSpace(names=["z", "y", "x"], units="nm", scales=list(resolution))
    annotations = []
    for box in boxes:
        score = box.get("score")
        annotations.append(
            neuroglancer.AxisAlignedBoundingBoxAnnotation(
                id=str(box["name"]),
                point_a=[float(v) for v in box["start"]],
                point_b=[float(v) for v in box["stop"]],
                description=str(box["name"]) + (f" (score {score:.4f})" if score is not None else ""),
            )
        )
    return neuroglancer.LocalAnnotationLayer(dimensions=space, annotations=annotations, annotation_color="#ffff00")


def state_json(viewer: Any) -> dict:
    """The viewer's Neuroglancer state as JSON-ready data (layers, dimensions, position, layout)."""
    return viewer.state.to_json()


def write_state(viewer: Any, path: str | os.PathLike) -> None:
    with open(path, "w") as f:
        json.dump(state_json(viewer), f, indent=2)
        f.write("\n")
