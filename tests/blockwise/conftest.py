import pytest

from pytc.testing import require_module


@pytest.fixture(scope="session")
def client():
    """One LocalCluster of 2 worker processes for all the blockwise tests (starting one costs seconds)."""
    require_module("distributed", "blockwise jobs")
    from pytc.blockwise import dask_client

    with dask_client(workers=2, threads_per_worker=1, memory_limit="1GiB") as client:
        yield client
