"""Elastic deformation: pytc's fused kernel (field generation included) against resampling peers.

Run: pytest benchmarks/test_bench_elastic.py (add --benchmark-json=out.json to keep the figures).
Groups, on the same image: a 256^3 float32 volume (mode '3d', trilinear) and PyTorch Connectomics'
training sample (output 18x160x160 plus Elastic's margins; mode '2d', bilinear, one field for all
sections). Peers get a precomputed full-resolution field (their field generation is not timed):
scipy's map_coordinates (order 1, mode='nearest'), torch's grid_sample (bilinear/trilinear,
padding 'border', align_corners=True) on 1 and all threads, and elasticdeform's deform_random_grid
(its own coarse-grid B-spline field, order 1) when it imports.
"""

import numba
import numpy as np
import pytest
from bench_utils import full_or_smoke, timed_seconds
from scipy import ndimage

from pytc.augment import Elastic
from pytc.augment._elastic import coarse_field
from pytc.augment._reference.elastic import field_from_coarse_ref

ALL = numba.config.NUMBA_NUM_THREADS
CUBE = full_or_smoke(256, 64)
CASES = {f"{CUBE}cube-3d": ((CUBE,) * 3, "3d"), "pytc-sample-2d": (None, "2d")}
IMPLEMENTATIONS = [
    "pytc-1thread",
    f"pytc-{ALL}threads",
    "scipy-map_coordinates",
    "torch-grid_sample-1thread",
    f"torch-grid_sample-{ALL}threads",
    "elasticdeform",
]


@pytest.fixture(scope="module")
def inputs():
    cache = {}

    def get(case):
        if case not in cache:
            shape, mode = CASES[case]
            aug = Elastic(p=1.0, mode=mode)
            shape = shape or aug.input_shape((18, 160, 160))
            rng = np.random.default_rng(0)
            image = ndimage.gaussian_filter(rng.random(shape, dtype=np.float32), 2)
            ndim = 3 if mode == "3d" else 2
            coef, spacing = coarse_field(shape, ndim, aug.sigma, aug.alpha, np.random.default_rng(1))
            field = field_from_coarse_ref(coef, spacing, shape, aug.alpha).astype(np.float32)
            cache[case] = aug, image, field
        return cache[case]

    return get


def _torch_grid(field):
    import torch

    shape = field.shape[1:]
    coords = np.indices(shape, dtype=np.float32) + field
    grid = np.stack([2 * coords[a] / (shape[a] - 1) - 1 for a in (2, 1, 0)], -1)  # (Z, Y, X, 3) as (x, y, z)
    return torch.from_numpy(np.ascontiguousarray(grid[None]))


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_elastic(benchmark, inputs, case, impl):
    aug, image, field = inputs(case)
    benchmark.group = f"elastic-{case}-{'x'.join(map(str, image.shape))}"
    sample = {"image": image}
    coords = np.indices(image.shape, dtype=np.float32) + field if impl == "scipy-map_coordinates" else None
    if impl.startswith("pytc"):
        threads = 1 if "1thread" in impl else ALL

        def fn():
            numba.set_num_threads(threads)
            return aug(sample, np.random.default_rng(2))["image"]
    elif impl == "scipy-map_coordinates":

        def fn():
            return ndimage.map_coordinates(image, coords, order=1, mode="nearest")
    elif impl.startswith("torch"):
        import torch

        grid = _torch_grid(field)
        src = torch.from_numpy(image)[None, None]
        threads = 1 if "1thread" in impl else ALL

        def fn():
            torch.set_num_threads(threads)
            return torch.nn.functional.grid_sample(
                src, grid, mode="bilinear", padding_mode="border", align_corners=True
            )[0, 0].numpy()
    else:
        elasticdeform = pytest.importorskip(
            "elasticdeform",
            reason="elasticdeform, an optional peer (not installed by the bench extra: its wheels break with numpy 2), does not import",
        )
        points = [max(3, n // int(aug.sigma)) for n in image.shape]
        if aug.mode == "2d":
            points[0] = 1

        def fn():
            return elasticdeform.deform_random_grid(
                image, sigma=aug.alpha * 0.04, points=points, order=1, mode="nearest"
            )

    out = fn()
    assert out.shape == image.shape and out.dtype == np.float32
    if impl.startswith("torch"):  # same field as map_coordinates: agree before timing (interior)
        ref = ndimage.map_coordinates(image, np.indices(image.shape, dtype=np.float32) + field, order=1, mode="nearest")
        np.testing.assert_allclose(out, ref, atol=1e-3)
    slow = (image.size > 10**7 and impl in ("scipy-map_coordinates", "elasticdeform")) or "1thread" in impl
    benchmark.pedantic(fn, rounds=2 if slow and image.size > 10**7 else 5, warmup_rounds=0 if slow else 1)
    numba.set_num_threads(ALL)
    seconds = timed_seconds(benchmark)
    if seconds is None:
        return
    benchmark.extra_info.update(
        megavoxels_per_s=round(image.size / seconds / 1e6, 2),
        threads=1 if "1thread" in impl or impl in ("scipy-map_coordinates", "elasticdeform") else ALL,
    )
