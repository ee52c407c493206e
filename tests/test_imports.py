"""The numpy-side packages import and run without torch, so other EM tools can use them alone."""

import subprocess
import sys

BLOCK_TORCH = """
import sys

class BlockTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this test")

sys.meta_path.insert(0, BlockTorch())
import numpy as np
import pytc.augment, pytc.config, pytc.data, pytc.decode, pytc.kernels, pytc.metrics
from pytc.config import load_config
from pytc.data.tasks import task_layout
seg = np.zeros((4, 8, 8), np.uint32)
seg[:, :4] = 1
assert pytc.kernels.seg_to_affinity(seg).shape == (3, 4, 8, 8)
assert task_layout(load_config("neurons").tasks)[0].output == (0, 3)
assert "torch" not in sys.modules
print("ok")
"""


def test_numpy_side_packages_import_without_torch():
    result = subprocess.run([sys.executable, "-c", BLOCK_TORCH], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
