"""References for pytc.augment.cut: PyTorch Connectomics' CutBlur on a cuboid, through scikit-image."""

import numpy as np


def blur_cuboid_ref(block, factor):
    """PyTorch Connectomics' CutBlur on one cuboid: ``skimage.transform.resize`` down (linear, anti-aliased,
    mode 'reflect') to ``int(n / f)`` per axis (at least 1), then back up (nearest neighbour)."""
    from skimage.transform import resize  # a test dependency: imported only when the reference runs

    block = np.asarray(block)
    small_shape = tuple(max(1, int(n / f)) for n, f in zip(block.shape, factor))
    down = resize(block, small_shape, order=1, mode="reflect", clip=True, preserve_range=True, anti_aliasing=True)
    return resize(down, block.shape, order=0, mode="reflect", clip=True, preserve_range=True, anti_aliasing=False)
