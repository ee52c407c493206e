"""pytc: fast deep-learning toolbox for connectomics.

Subpackages are imported on demand; `import pytc` alone loads nothing heavy. The compiled
numpy kernels live in `pytc.kernels` and never import torch.
"""

__version__ = "0.1.0"
