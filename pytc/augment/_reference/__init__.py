"""Plain numpy/scipy references for the numba augmentation kernels: written for clarity, not speed.

One module per family; tests compare each numba kernel with its reference here.
"""
