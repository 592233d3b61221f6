"""Shared pytest setup: the real Fashion-MNIST location, TensorBoard loader helpers, server fixture."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# tests/installed/ tests the built wheel from outside the checkout (scripts/test-installed runs it);
# collected here, it would see the checkout instead.
collect_ignore = ["installed"]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

# gcsfs's experimental zonal-bucket probe speaks gRPC over TLS, which the GCS emulator does not, so
# each new bucket would wait for it (or hang). It is decided when gcsfs is first imported, which
# another test (or a framework) may do before the emulator fixture runs: set it for the session.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

# The real dataset shipped beside the project (shared/data/fashion-mnist); CI points here too.
os.environ.setdefault("FASHION_MNIST_DIR", str(ROOT.parent / "shared" / "data" / "fashion-mnist"))


@pytest.fixture
def tb_server():
    """Start a real ``tensorboard`` on 127.0.0.1 for a logdir: ``server = tb_server(logdir, load_fast=...)``.

    Returns a :class:`tbserver.TensorBoardServer` with ``get_json(route)`` / ``get(route)``;
    every server started is stopped when the test ends.
    """
    from support.tbserver import TensorBoardServer

    started = []

    def start(logdir, load_fast: bool = True, extra_args=()):
        server = TensorBoardServer(str(logdir), load_fast=load_fast, extra_args=extra_args)
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def moto_s3():
    """A ``moto_server`` (S3 API) for the whole session: ``moto_s3.bucket()``, ``.storage_options``, ``.env``."""
    pytest.importorskip("s3fs")
    pytest.importorskip("moto")
    from support.stores import MotoS3

    server = MotoS3().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gcs_emulator():
    """A ``gcp-storage-emulator`` for the whole session: ``gcs_emulator.bucket()``, ``.storage_options``."""
    pytest.importorskip("gcsfs")
    pytest.importorskip("gcp_storage_emulator")
    from support.stores import GcsEmulator

    server = GcsEmulator().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def azurite():
    """Azurite's blob service for the whole session: ``azurite.container()``, ``.storage_options``."""
    pytest.importorskip("adlfs")
    from support.stores import Azurite

    server = Azurite().start()
    yield server
    server.stop()


@pytest.fixture
def s3_run(moto_s3, monkeypatch, tmp_path):
    """A fresh ``s3://bucket/run`` URL on the moto server, with the AWS environment pointing at it
    (and spill directories under the test's tmp_path)."""
    for key, value in moto_s3.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("EVENTWRITER_PENDING_DIR", str(tmp_path / "ew-pending"))
    import fsspec

    fsspec.config.conf.pop("s3", None)
    return f"s3://{moto_s3.bucket()}/run"


@pytest.fixture
def fault_proxy(moto_s3, monkeypatch, tmp_path):
    """A fault-injecting proxy (``support.faultproxy.FaultProxy``) in front of the session's moto
    server, with the AWS environment pointing at it (TensorBoard's ``S3_ENDPOINT`` still reads
    moto directly) and spill directories under the test's tmp_path. Stopped after the test."""
    from support.faultproxy import FaultProxy

    proxy = FaultProxy(moto_s3.port).start()
    for key, value in proxy.env(moto_s3.env).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("EVENTWRITER_PENDING_DIR", str(tmp_path / "ew-pending"))
    import fsspec

    fsspec.config.conf.pop("s3", None)
    yield proxy
    proxy.stop()
