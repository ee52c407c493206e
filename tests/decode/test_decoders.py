"""Decoders: the seeded watershed against its plain reference, each decoder on real data, and the rejection of
outputs that are not probabilities."""

import numpy as np
import pytest

from pytc.data import read_volume
from pytc.data.targets import boundary_target, instance_edt_target, polarity_target
from pytc.decode import (
    affinities_to_segmentation,
    binary_contour_to_instances,
    connected_components,
    polarity_to_instances,
    seeded_watershed,
)
from pytc.decode._reference import seeded_watershed_ref
from pytc.kernels import seg_to_affinity
from pytc.metrics import adapted_rand, average_precision
from pytc.testing import read_gala, require_data

# --------------------------------------------------------------------------- seeded watershed


@pytest.mark.parametrize("shape", [(1, 1, 1), (1, 9, 7), (6, 8, 9), (7, 11)])
@pytest.mark.parametrize("levels", [2, 256])  # few levels: many ties, FIFO order decides
def test_seeded_watershed_matches_reference(rng, shape, levels):
    landscape = (rng.integers(0, levels, shape) * (255 // max(1, levels - 1))).astype(np.uint8)
    markers = np.where(rng.random(shape) < 0.05, rng.integers(1, 6, shape), 0)
    mask = rng.random(shape) < 0.85
    out = seeded_watershed(landscape, markers, mask)
    ref = seeded_watershed_ref(
        landscape[np.newaxis] if len(shape) == 2 else landscape,
        markers.reshape(out.shape if len(shape) == 3 else (1,) + shape),
        mask.reshape((1,) + shape) if len(shape) == 2 else mask,
    )
    np.testing.assert_array_equal(out.reshape(ref.shape), ref)
    assert out.dtype == np.uint64 and out.shape == shape


def test_seeded_watershed_floods_basins_and_respects_the_mask():
    landscape = np.array([[[0, 1, 9, 1, 0]]], np.uint8)
    markers = np.array([[[1, 0, 0, 0, 2]]])
    np.testing.assert_array_equal(seeded_watershed(landscape, markers), [[[1, 1, 1, 2, 2]]])
    mask = np.array([[[1, 1, 0, 1, 1]]], bool)
    np.testing.assert_array_equal(seeded_watershed(landscape, markers, mask), [[[1, 1, 0, 2, 2]]])
    assert (markers == [[[1, 0, 0, 0, 2]]]).all()  # inputs untouched


@pytest.mark.real_data
def test_seeded_watershed_agrees_with_scikit_image_on_real_data():
    from skimage.segmentation import watershed

    p = read_gala("train-p1")[:20]
    landscape = (p * 255).astype(np.uint8)
    markers = connected_components(p < 0.05, connectivity=6).astype(np.int64)
    ours = seeded_watershed(landscape, markers)
    theirs = watershed(landscape, markers)  # the same flooding; ties may go the other way
    assert adapted_rand(ours, theirs, ignore_gt=()) < 0.01


def test_seeded_watershed_rejects_bad_input():
    with pytest.raises(TypeError, match=r"`markers` must be integer ids; got dtype float64"):
        seeded_watershed(np.zeros((2, 2), np.uint8), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"of one shape; got \(2, 2\) and \(2, 3\)"):
        seeded_watershed(np.zeros((2, 2), np.uint8), np.zeros((2, 3), int))
    with pytest.raises(
        ValueError, match=r"must be probabilities in \[0, 1\]; got -3.0 at \[0, 0\].*finite values in \[-3, 2\]"
    ):
        seeded_watershed(np.array([[-3.0, 2.0]]), np.zeros((1, 2), int))


# --------------------------------------------------------------------------- decoders on real data


def vnc(kind, crop=np.s_[:, :512, :512]):
    return read_volume(require_data("drosophila_vnc_sstem_stack1", kind))[crop]


@pytest.mark.real_data
def test_binary_contour_recovers_real_mitochondria():
    """Perfect foreground and contour maps of the VNC mitochondria decode back into those instances."""
    gt = connected_components(vnc("mitochondria") > 0, connectivity=26)
    foreground = (gt > 0).astype(np.float32)
    contour = boundary_target(gt, thickness=1, mode="2d")[0]
    instances = binary_contour_to_instances(foreground, contour, min_size=64, min_seed_size=8)
    big = np.isin(gt, np.flatnonzero(np.bincount(gt.ravel().astype(np.int64)) >= 512))
    scores = average_precision(instances * big, gt * big, [0.5])
    assert scores["ap_50"] > 0.9
    distance = instance_edt_target(gt, mode="2d")[0]  # the normalised distance a BCD model learns
    with_distance = binary_contour_to_instances(foreground, contour, distance, min_size=64, min_seed_size=8)
    assert average_precision(with_distance * big, gt * big, [0.5])["ap_50"] > 0.9


@pytest.mark.real_data
def test_polarity_round_trip_on_real_synapses():
    synapses = connected_components(vnc("synapses") > 0, connectivity=26)
    labels = np.where(synapses > 0, 2 * synapses - (np.arange(synapses.shape[2]) < 256), 0).astype(np.uint64)
    polarity = polarity_target(labels)  # pre (odd), post (even), synapse
    decoded = polarity_to_instances(polarity)
    assert adapted_rand(decoded, labels) < 1e-9  # the same partition
    assert ((decoded % 2) == (labels % 2))[labels > 0].all()  # pre odd, post even


@pytest.mark.real_data
def test_affinities_decode_real_neurons():
    gt = read_gala("test-gt")
    segmentation = affinities_to_segmentation(seg_to_affinity(gt), [0.5])[0]
    assert adapted_rand(segmentation, gt) < 0.01


@pytest.mark.parametrize(
    "call",
    [
        lambda p: affinities_to_segmentation(p, [0.5]),
        lambda p: binary_contour_to_instances(p[0], p[1]),
        lambda p: polarity_to_instances(p[:3]),
    ],
)
def test_logits_are_rejected_with_a_hint(call):
    logits = np.random.default_rng(0).normal(0, 3, (3, 4, 8, 8)).astype(np.float32)
    with pytest.raises(ValueError, match=r"must be probabilities in \[0, 1\].*Apply the network's output activation"):
        call(logits)
    with pytest.raises(ValueError, match=r"must be probabilities in \[0, 1\]; got nan .*no finite value"):
        call(np.full((3, 4, 8, 8), np.nan, np.float32))
