"""scipy references for the EM-defect kernels."""

import numpy as np
from scipy import ndimage


def box_blur_axis_ref(section, size, axis):
    """Mean over `size` neighbours along `axis` of a 2D section, mirror (reflect-101) borders."""
    weights = np.full(size, 1.0 / size)
    # scipy centres even boxes at size // 2, as the kernel does
    out = ndimage.correlate1d(section.astype(np.float64), weights, axis=axis, mode="mirror")
    return out.astype(np.float32)
