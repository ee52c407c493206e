import pytest

from pytc.testing import tiny_config


@pytest.fixture
def tiny(tmp_path):
    return lambda *overrides: tiny_config(tmp_path, *overrides)
