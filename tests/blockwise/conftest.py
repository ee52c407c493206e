import pytest

from pytc.testing import require_module


@pytest.fixture(scope="session")
def client():
    """A local Dask cluster of 2 worker processes (1 thread, 1 GiB each), shared by the blockwise tests."""
    require_module("distributed", "the blockwise tests")
    from pytc.blockwise import dask_client

    with dask_client(workers=2, threads_per_worker=1, memory_limit="1GiB") as client:
        yield client
