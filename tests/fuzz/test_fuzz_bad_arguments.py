"""Every public kernel, called with one argument its docstring rules out (on random valid others), raises
TypeError or ValueError with the house message ``<function>: `<arg>` ...`` (never another exception, a crash or a
hang). Each bad argument is a test of its own with a tenth of the example budget (the shapes vary, not the
argument)."""

import numpy as np
import pytest
from fuzz_strategies import LAYOUTS, with_layout
from hypothesis import given, note, settings
from hypothesis import strategies as st

from pytc.decode import seeded_watershed
from pytc.kernels import agglomerate, contingency_table, iter_agglomerate, mutex_watershed, seg_to_affinity, watershed
from pytc.metrics import adapted_rand, evaluate, voi

pytestmark = pytest.mark.fuzz

NEAREST_3D = [(-1, 0, 0), (0, -1, 0), (0, 0, -1)]
volumes = st.tuples(*[st.integers(1, 5)] * 3)


def labels(shape, dtype=np.uint32):
    return (np.arange(int(np.prod(shape))) % 3).reshape(shape).astype(dtype)


def affinities(shape, channels=3, dtype=np.float32):
    return np.full((channels,) + tuple(shape), 0.5, dtype)


def read_only(array):
    array.flags.writeable = False
    return array


# (argument, bad value as a function of the volume shape); the other arguments are valid
SEG_TO_AFFINITY = [
    ("seg", lambda s: labels(s, np.float32)),
    ("seg", lambda s: labels(s).astype(bool)),
    ("seg", lambda s: labels(s).astype(str)),
    ("seg", lambda s: labels(s)[0, 0]),
    ("seg", lambda s: labels(s)[0, 0, 0]),
    ("seg", lambda s: labels((2,) + s)),
    ("offsets", lambda s: [(1,)]),
    ("offsets", lambda s: [(0.5, 0, 0)]),
    ("offsets", lambda s: [(1, 0, 0), (1,)]),
    ("offsets", lambda s: [(True, False, False)]),
    ("offsets", lambda s: [(2**64, 0, 0)]),
    ("offsets", lambda s: "abc"),
    ("dtype", lambda s: np.float64),
    ("dtype", lambda s: np.int32),
    ("dtype", lambda s: "foo"),
    ("threads", lambda s: 0),
    ("threads", lambda s: -1),
    ("threads", lambda s: 1.5),
    ("threads", lambda s: "2"),
    ("out", lambda s: np.empty((3,) + s[:2] + (s[2] + 1,), np.float32)),
    ("out", lambda s: np.empty((3,) + s, np.float64)),
    ("out", lambda s: np.empty((3,) + s + (2,), np.float32)[..., 0]),
    ("out", lambda s: read_only(np.empty((3,) + s, np.float32))),
    ("out", lambda s: [[0.0]]),
]
AFFINITIES = [
    ("affinities", lambda s: affinities(s, dtype=np.float64)),
    ("affinities", lambda s: affinities(s, dtype=np.int32)),
    ("affinities", lambda s: affinities(s, dtype=bool)),
    ("affinities", lambda s: affinities(s)[0]),
    ("affinities", lambda s: affinities(s)[np.newaxis]),
    ("affinities", lambda s: affinities(s, channels=2)),
]
THREADS = [("threads", lambda s: 0), ("threads", lambda s: 1.5), ("threads", lambda s: "2")]
WATERSHED = (
    AFFINITIES
    + THREADS
    + [
        ("low", lambda s: -0.1),
        ("low", lambda s: float("nan")),
        ("low", lambda s: float("inf")),
        ("low", lambda s: "0.1"),
        ("low", lambda s: True),
        ("low", lambda s: None),
        ("high", lambda s: 0.00001),
        ("high", lambda s: float("nan")),
        ("size_threshold", lambda s: -1),
        ("size_threshold", lambda s: 1.5),
        ("size_threshold", lambda s: True),
        ("size_threshold", lambda s: None),
        ("dust", lambda s: -1),
        ("dust", lambda s: 2.0),
        ("dust", lambda s: "3"),
        ("mask", lambda s: np.ones(s[:2], bool)),
        ("mask", lambda s: np.ones(s, np.float32)),
        ("weight_threshold", lambda s: -1.0),
        ("weight_threshold", lambda s: float("nan")),
    ]
)
AGGLOMERATE = (
    AFFINITIES
    + THREADS
    + [
        ("thresholds", lambda s: [0.5, 0.2]),
        ("thresholds", lambda s: [float("nan")]),
        ("thresholds", lambda s: [np.inf]),
        ("thresholds", lambda s: 0.5),
        ("thresholds", lambda s: ["a"]),
        ("thresholds", lambda s: None),
        ("fragments", lambda s: labels(s, np.float32)),
        ("fragments", lambda s: labels(s).astype(bool)),
        ("fragments", lambda s: -labels(s, np.int32) - 1),
        ("fragments", lambda s: labels(s[:2])),
        ("scoring", lambda s: "median"),
        ("scoring", lambda s: "quantile-101"),
        ("scoring", lambda s: "quantile--1"),
        ("scoring", lambda s: 3),
        ("scoring", lambda s: None),
        ("scoring", lambda s: "OneMinus<Foo>"),
    ]
)
MUTEX_WATERSHED = (
    AFFINITIES[:3]
    + THREADS
    + [
        ("affinities", lambda s: affinities(s)[0, 0]),
        ("affinities", lambda s: affinities(s)[np.newaxis]),
        ("offsets", lambda s: NEAREST_3D[:2]),
        ("offsets", lambda s: None),
        ("offsets", lambda s: [(0.5, 0, 0)] * 3),
        ("offsets", lambda s: [(1, 0)] * 3),
        ("attractive", lambda s: 4),
        ("attractive", lambda s: -1),
        ("attractive", lambda s: 1.5),
        ("strides", lambda s: (1, 2)),
        ("strides", lambda s: (1, 0, 1)),
        ("strides", lambda s: (1, 1.5, 1)),
        ("strides", lambda s: 2),
        ("mask", lambda s: np.ones(s[:2], bool)),
        ("mask", lambda s: np.ones(s, np.float32)),
    ]
)
LABEL_PAIRS = THREADS + [
    ("gt", lambda s: labels(s[:2])),
    ("gt", lambda s: labels(s, np.float64)),
    ("seg", lambda s: labels(s).astype(bool)),
    ("seg", lambda s: labels(s).astype(complex)),
    ("ignore_gt", lambda s: 0.5),
    ("ignore_gt", lambda s: True),
    ("ignore_seg", lambda s: ["a"]),
    ("ignore_seg", lambda s: [1, 2.5]),
]
SEEDED_WATERSHED = [
    ("markers", lambda s: labels(s, np.float32)),
    ("markers", lambda s: -labels(s, np.int16) - 1),
    ("markers", lambda s: labels(s[:2])),
    ("mask", lambda s: np.ones(s[:2], bool)),
    ("landscape", lambda s: np.full(s, 2.0)),
    ("landscape", lambda s: np.full(s, -0.5, np.float32)),
    ("landscape", lambda s: np.full(s, np.nan)),
    ("landscape", lambda s: labels(s, np.int32)),
]


def cases(bad):
    return pytest.mark.parametrize("arg, make", bad, ids=[f"{arg}-{i}" for i, (arg, _) in enumerate(bad)])


few = settings(max_examples=max(3, settings.default.max_examples // 10))


def check_rejected(fn, call, arg):
    with pytest.raises((TypeError, ValueError)) as error:
        call()
    note(f"{error.type.__name__}: {error.value}")
    message = str(error.value)
    assert message.startswith(f"{fn}: "), f"message does not name the function: {message!r}"
    assert arg.rstrip("s") in message, f"message does not name `{arg}`: {message!r}"


@cases(SEG_TO_AFFINITY)
@given(shape=volumes, layout=st.sampled_from(LAYOUTS))
@few
def test_seg_to_affinity_rejects_bad_arguments(arg, make, shape, layout):
    kwargs = dict(seg=with_layout(labels(shape), layout), offsets=None)
    kwargs[arg] = make(shape)
    if arg == "out":
        kwargs["offsets"] = NEAREST_3D
    check_rejected("seg_to_affinity", lambda: seg_to_affinity(**kwargs), arg)


@cases(WATERSHED)
@given(shape=volumes)
@few
def test_watershed_rejects_bad_arguments(arg, make, shape):
    kwargs = dict(affinities=affinities(shape), low=0.0001)
    kwargs[arg] = make(shape)
    check_rejected("watershed", lambda: watershed(**kwargs), arg)


@cases(AGGLOMERATE)
@given(shape=volumes, iterate=st.booleans())
@few
def test_agglomerate_rejects_bad_arguments(arg, make, shape, iterate):
    kwargs = dict(affinities=affinities(shape), thresholds=[0.5], fragments=labels(shape))
    kwargs[arg] = make(shape)
    fn = iter_agglomerate if iterate else agglomerate
    check_rejected(fn.__name__, lambda: fn(**kwargs), arg)


@cases(MUTEX_WATERSHED)
@given(shape=volumes)
@few
def test_mutex_watershed_rejects_bad_arguments(arg, make, shape):
    kwargs = dict(affinities=affinities(shape), offsets=NEAREST_3D)
    kwargs[arg] = make(shape)
    check_rejected("mutex_watershed", lambda: mutex_watershed(**kwargs), arg)


@cases(LABEL_PAIRS)
@given(shape=volumes, fn=st.sampled_from([contingency_table, adapted_rand, voi, evaluate]))
@few
def test_label_pair_functions_reject_bad_arguments(arg, make, shape, fn):
    kwargs = dict(seg=labels(shape), gt=labels(shape, np.int16))
    kwargs[arg] = make(shape)
    check_rejected(fn.__name__, lambda: fn(**kwargs), arg)


@cases(SEEDED_WATERSHED)
@given(shape=volumes)
@few
def test_seeded_watershed_rejects_bad_arguments(arg, make, shape):
    kwargs = dict(landscape=np.zeros(shape, np.uint8), markers=labels(shape), mask=None)
    kwargs[arg] = make(shape)
    check_rejected("seeded_watershed", lambda: seeded_watershed(**kwargs), arg)
