"""Hypothesis strategies shared by the fuzz tests: small volumes of every supported dtype, memory layout and
value pattern, and the comparisons the unit tests use (partitions up to relabelling).

Bulk values come from a numpy generator seeded by hypothesis; hypothesis draws what matters for shrinking
(shape, dtype, layout, the palette of values, the pattern and the seed), so a failure shrinks to a small
shape, a short palette and seed 0 where the seed does not matter.
"""

import math

import numpy as np
from hypothesis import event, note
from hypothesis import strategies as st

LABEL_DTYPES = tuple(
    np.dtype(t) for t in (np.uint8, np.uint16, np.uint32, np.uint64, np.int8, np.int16, np.int32, np.int64)
)
# C order, Fortran order, axes in another memory order (neither C nor F), a view with step 2 on every axis, a
# view with negative strides on every axis, and a view with step -2 on every axis
LAYOUTS = ("C", "F", "permuted", "strided", "reversed", "strided-reversed")
PATTERNS = ("random", "runs", "blocks", "constant", "sparse")

seeds = st.integers(0, 2**32 - 1)
threads = st.integers(1, 3)


@st.composite
def shapes(draw, ndim, max_side, min_side=0):
    """Sides drawn uniformly from max(min_side, 1)..max_side, and, when min_side is 0, about one shape in ten
    empty (a 0 on a random axis). Shrinks towards the smallest sides."""
    low = max(min_side, 1)
    shape = [draw(st.sampled_from(range(low, max(low, max_side) + 1))) for _ in range(ndim)]
    if min_side == 0 and ndim and draw(st.sampled_from(range(10))) == 9:
        shape[draw(st.integers(0, ndim - 1))] = 0
    return tuple(shape)


@st.composite
def large_shapes(draw, ndim=3, min_voxels=2**15, max_voxels=2**17):
    """Shapes of min_voxels..max_voxels voxels (above the kernels' parallel cutoffs), thin ones included."""
    shape = [draw(st.sampled_from([1, 2, 3, 5, 8, 16, 33])) for _ in range(ndim - 1)]
    rest = math.prod(shape)
    low = -(-min_voxels // rest)
    shape.append(draw(st.integers(low, max(low, max_voxels // rest))))
    order = draw(st.permutations(range(ndim)))
    return tuple(shape[i] for i in order)


def _poison(dtype):
    """A value for the voxels around a strided view: a kernel reading outside the view sees it."""
    if dtype == np.bool_:
        return True
    if np.issubdtype(dtype, np.integer):
        return np.iinfo(dtype).max // 3  # 0x5555...: not in the palettes below
    return 0.3141592


def with_layout(array, layout):
    """The values of `array` (a new array or view of it, never `array` itself) in the memory layout `layout`."""
    array = np.asarray(array)
    every = (slice(None, None, -1),) * array.ndim
    if layout == "C" or array.ndim == 0:
        return np.array(array, order="C")
    if layout == "F":
        return np.array(array, order="F")
    if layout == "permuted":  # memory order: the last axis first, then the others in order
        order = (array.ndim - 1,) + tuple(range(array.ndim - 1))
        return np.ascontiguousarray(array.transpose(order)).transpose(np.argsort(order))
    if layout == "reversed":
        return np.ascontiguousarray(array[every])[every]
    step = 2 if layout == "strided" else -2
    big = np.full(tuple(2 * n for n in array.shape), _poison(array.dtype), dtype=array.dtype)
    view = big[(slice(None, None, step),) * array.ndim]
    view[...] = array
    return view


def extremes(dtype, nonnegative=False):
    """Small ids (0, 1, 2, and -1 when signed) and the ends of the integer dtype's range with their neighbours."""
    info = np.iinfo(dtype)
    values = {0, 1, 2, info.max, info.max - 1}
    if info.min < 0 and not nonnegative:
        values |= {-1, info.min, info.min + 1}
    return sorted(values)


@st.composite
def label_palettes(draw, dtype, nonnegative=False, max_size=6):
    """A short list of label values of `dtype`: small ids, extremes of the dtype (huge ids) and anything."""
    info = np.iinfo(dtype)
    low = 0 if nonnegative else int(info.min)
    value = st.one_of(st.integers(0, 5), st.sampled_from(extremes(dtype, nonnegative)), st.integers(low, int(info.max)))
    return draw(st.lists(value, min_size=1, max_size=max_size))


def fill(shape, palette, pattern, seed, dtype):
    """An array of `shape` whose values come from `palette`, arranged by `pattern`."""
    rng = np.random.default_rng(seed)
    palette = np.asarray(palette, dtype=dtype)
    k = len(palette)
    if pattern == "constant" or k == 1:
        index = np.zeros(shape, np.int64)
    elif pattern == "random":
        index = rng.integers(0, k, size=shape)
    elif pattern == "runs":  # runs along the last axis: the pair of labels changes rarely
        index = np.cumsum(rng.random(shape) < 0.3, axis=-1) % k if len(shape) else np.zeros(shape, np.int64)
    elif pattern == "blocks":  # connected blocks of 2 or 3 voxels per axis
        block = int(rng.integers(2, 4))
        coarse = rng.integers(0, k, size=tuple(-(-n // block) for n in shape))
        for axis in range(len(shape)):
            coarse = np.repeat(coarse, block, axis=axis)
        index = coarse[tuple(slice(0, n) for n in shape)]
    elif pattern == "sparse":  # mostly the first value
        index = np.where(rng.random(shape) < 0.1, rng.integers(0, k, size=shape), 0)
    else:
        raise ValueError(pattern)
    return palette[index]


@st.composite
def label_arrays(
    draw, shape, dtypes=LABEL_DTYPES, nonnegative=False, layouts=LAYOUTS, patterns=PATTERNS, name="labels"
):
    """Integer labels of `shape` (a tuple or a strategy) in any dtype of `dtypes` and any layout of `layouts`."""
    shape = draw(shape) if isinstance(shape, st.SearchStrategy) else tuple(shape)
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    palette = draw(label_palettes(dtype, nonnegative))
    pattern = draw(st.sampled_from(patterns))
    values = fill(shape, palette, pattern, draw(seeds), dtype)
    layout = draw(st.sampled_from(layouts))
    note(f"{name}: dtype {dtype}, shape {shape}, layout {layout}, pattern {pattern}, palette {palette}")
    return with_layout(values, layout)


FLOAT_EXTREMES = (
    0.0,
    -0.0,
    1.0,
    0.5,
    float(np.float32(0.0001)),
    float(np.float32(0.9999)),
    float(np.nextafter(np.float32(0), np.float32(1))),  # the smallest subnormal
    float(np.finfo(np.float32).tiny),
    float(np.nextafter(np.float32(1), np.float32(0))),
)
AFFINITY_KINDS = ("uniform", "levels", "constant", "extremes")


def affinity_values(shape, kind, seed, dtype, constant=0.5, levels=4):
    """Affinities in [0, 1] (float32) or 0..255 (uint8): uniform noise, a few levels (ties and plateaus), one
    constant, or only the extreme values."""
    rng = np.random.default_rng(seed)
    if dtype == np.uint8:
        if kind == "uniform":
            return rng.integers(0, 256, size=shape).astype(np.uint8)
        if kind == "levels":
            return (rng.integers(0, levels, size=shape) * (255 // (levels - 1))).astype(np.uint8)
        if kind == "constant":
            return np.full(shape, round(constant * 255), np.uint8)
        return rng.choice(np.array([0, 1, 127, 128, 254, 255], np.uint8), size=shape)
    if kind == "uniform":
        return rng.random(shape, dtype=np.float32)
    if kind == "levels":
        return (rng.integers(0, levels, size=shape) / np.float32(levels - 1)).astype(np.float32)
    if kind == "constant":
        return np.full(shape, constant, np.float32)
    return rng.choice(np.array(FLOAT_EXTREMES, np.float32), size=shape)


@st.composite
def affinity_arrays(draw, shape, dtypes=(np.float32, np.uint8), layouts=LAYOUTS, name="affinities"):
    """Affinities of `shape` (channels first), float32 in [0, 1] or uint8, in any layout of `layouts`."""
    shape = draw(shape) if isinstance(shape, st.SearchStrategy) else tuple(shape)
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    kind = draw(st.sampled_from(AFFINITY_KINDS))
    constant = 0.5
    if kind == "constant":
        constant = draw(st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(0, 1, width=32)))
    levels = draw(st.sampled_from([2, 3, 5, 256])) if kind == "levels" else 4
    values = affinity_values(shape, kind, draw(seeds), dtype, constant, levels)
    layout = draw(st.sampled_from(layouts))
    note(f"{name}: dtype {dtype}, shape {shape}, layout {layout}, kind {kind}, constant {constant}, levels {levels}")
    return with_layout(values, layout)


# NaN, infinities, logits, the float32 just above 1 and the negative subnormal closest to 0
BAD_AFFINITIES = (
    np.nan,
    -np.inf,
    np.inf,
    -1.0,
    2.0,
    1e30,
    -1e-30,
    float(np.nextafter(np.float32(1), np.float32(2))),
    float(-np.nextafter(np.float32(0), np.float32(1))),
)


@st.composite
def bad_affinity_arrays(draw, shape, name="affinities"):
    """float32 affinities in [0, 1] with one value outside [0, 1] or NaN at a random place, in any layout."""
    shape = draw(shape) if isinstance(shape, st.SearchStrategy) else tuple(shape)
    values = affinity_values(shape, draw(st.sampled_from(AFFINITY_KINDS)), draw(seeds), np.float32)
    where = tuple(draw(st.integers(0, n - 1)) for n in shape)
    bad = draw(st.sampled_from(BAD_AFFINITIES))
    values[where] = bad
    layout = draw(st.sampled_from(LAYOUTS))
    note(f"{name}: shape {shape}, layout {layout}, {bad} at {where}")
    return with_layout(values, layout)


@st.composite
def masks(draw, shape, name="mask"):
    """None, or a bool / uint8 / int32 mask of `shape` (nonzero = inside) in any layout."""
    if draw(st.booleans()):
        return None
    dtype = draw(st.sampled_from([bool, np.uint8, np.int32]))
    density = draw(st.sampled_from([0.0, 0.5, 0.8, 1.0]))
    inside = np.random.default_rng(draw(seeds)).random(shape) < density
    layout = draw(st.sampled_from(LAYOUTS))
    note(f"{name}: dtype {np.dtype(dtype)}, density {density}, layout {layout}")
    return with_layout(inside.astype(dtype), layout)


def size_event(array, what="voxels"):
    """Records the size class of `array` in hypothesis' statistics (shown by --hypothesis-show-statistics)."""
    n = int(np.size(array))
    bucket = "0" if n == 0 else "1" if n == 1 else "2-63" if n < 64 else "64-511" if n < 512 else ">= 512"
    event(f"{what}: {bucket}")


def same_partition(a, b):
    """True when the label arrays `a` and `b` split the voxels the same way (equal up to relabelling), with
    the background (0) of one the background of the other."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or not np.array_equal(a == 0, b == 0):
        return False
    if a.size == 0:
        return True
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    return len(np.unique(pairs[0])) == pairs.shape[1] == len(np.unique(pairs[1]))


def assert_consecutive_ids(labels):
    """Nonzero ids are exactly 1..N."""
    ids = np.unique(labels[labels > 0])
    np.testing.assert_array_equal(ids, np.arange(1, ids.size + 1, dtype=ids.dtype))
