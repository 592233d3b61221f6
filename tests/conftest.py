"""Shared pytest setup: the real Fashion-MNIST location, TensorBoard loader helpers, server fixture."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

# The real dataset shipped beside the project (shared/data/fashion-mnist); CI points here too.
os.environ.setdefault("FASHION_MNIST_DIR", str(ROOT.parent / "shared" / "data" / "fashion-mnist"))


@pytest.fixture
def tb_server():
    """Start a real ``tensorboard`` on 127.0.0.1 for a logdir: ``server = tb_server(logdir, load_fast=...)``.

    Returns a :class:`tbserver.TensorBoardServer` with ``get_json(route)`` / ``get(route)``;
    every server started is stopped when the test ends.
    """
    from tbserver import TensorBoardServer

    started = []

    def start(logdir, load_fast: bool = True, extra_args=()):
        server = TensorBoardServer(str(logdir), load_fast=load_fast, extra_args=extra_args)
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        server.stop()
