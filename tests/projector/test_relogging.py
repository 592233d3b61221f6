"""Re-logging an embedding: SIGKILL never leaves a mismatched pair; superseded and stale files are removed."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from eventwriter import SummaryWriter
from support.processes import ROOT
from support.tbutil import projector_config


def _rows(path) -> int:
    with open(path, "rb") as f:
        return f.read().count(b"\n")


RELOG = """
import sys, numpy as np
sys.path.insert(0, {root!r})
from eventwriter import SummaryWriter
w = SummaryWriter({logdir!r})
rng = np.random.default_rng(0)
print("ready", flush=True)
k = 0
while True:
    n = 400 if k % 2 else 900      # a mismatched pair would show as different row counts
    w.add_embedding(rng.random((n, 32)), metadata=[str(i) for i in range(n)], tag="emb", global_step=3)
    k += 1
"""


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.slow
def test_sigkill_while_relogging_an_embedding_never_leaves_a_mismatched_pair(tmp_path):
    """#8 (and #9): 30 kills at random moments; every referenced tensors/metadata pair matches,
    and stale temp files of killed calls are removed by the next call."""
    rng = random.Random(11)
    logdir = str(tmp_path)
    for kill in range(30):
        proc = subprocess.Popen([sys.executable, "-c", RELOG.format(root=ROOT, logdir=logdir)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()
        if not os.path.exists(os.path.join(logdir, "projector_config.pbtxt")):
            continue
        for entry in projector_config(logdir).embeddings:
            tensors = _rows(os.path.join(logdir, entry.tensor_path))
            labels = _rows(os.path.join(logdir, entry.metadata_path))
            assert tensors == labels, f"kill {kill}: {entry.tensor_path} has {tensors} rows, {entry.metadata_path} {labels}"
    # One more call cleans the temp files every killed call may have left.
    w = SummaryWriter(logdir)
    w.add_embedding(np.ones((5, 2)), metadata=list("abcde"), tag="emb", global_step=3)
    w.close()
    leftovers = [os.path.join(d, f) for d, _, files in os.walk(logdir) for f in files if f.endswith(".tmp")]
    assert leftovers == []
    (entry,) = projector_config(logdir).embeddings
    assert _rows(os.path.join(logdir, entry.tensor_path)) == _rows(os.path.join(logdir, entry.metadata_path)) == 5


def test_relogged_embedding_files_are_switched_in_the_config(tmp_path):
    """#8: the first call writes torch's names; a re-log of the same tag and step writes fresh,
    uniquely named files, points the config at them, and removes the superseded ones."""
    w = SummaryWriter(tmp_path)
    w.add_embedding(np.eye(4), metadata=list("abcd"), tag="e", global_step=1)
    (first,) = projector_config(tmp_path).embeddings
    assert first.tensor_path == "00001/e/tensors.tsv" and first.metadata_path == "00001/e/metadata.tsv"
    w.add_embedding(np.eye(6), metadata=list("abcdef"), tag="e", global_step=1)
    (second,) = projector_config(tmp_path).embeddings
    assert second.tensor_path != first.tensor_path and second.tensor_path.startswith("00001/e/tensors.")
    assert _rows(tmp_path / second.tensor_path) == _rows(tmp_path / second.metadata_path) == 6
    assert sorted(os.listdir(tmp_path / "00001" / "e")) == sorted(
        os.path.basename(p) for p in (second.tensor_path, second.metadata_path)
    )


def test_stale_temp_files_of_dead_processes_are_removed(tmp_path):
    """#9: temp files of a dead pid on this host go; a live process's and a foreign one stay."""
    host, dead, alive = socket.gethostname(), _dead_pid(), os.getpid()
    sub = tmp_path / "00000" / "default"
    sub.mkdir(parents=True)
    stale = [
        sub / f".tensors.tsv.{host}.{dead}.0a1b2c3d.tmp",
        sub / f".tensors.5e6f7a8b.tsv.{host}.{dead}.1a2b3c4d.tmp",  # from a killed re-log
        tmp_path / f".projector_config.pbtxt.{host}.{dead}.2b3c4d5e.tmp",
    ]
    kept = [
        sub / f".metadata.tsv.{host}.{alive}.3c4d5e6f.tmp",  # a live writer's file in progress
        sub / f".tensors.tsv.otherhost.{dead}.4d5e6f7a.tmp",  # another machine on a shared disk
        tmp_path / ".notes.tmp",  # not ours
    ]
    for path in stale + kept:
        path.write_bytes(b"x" * 1000)
    w = SummaryWriter(tmp_path)
    w.add_embedding(np.eye(2), metadata=["a", "b"])
    w.close()
    assert [p for p in stale if p.exists()] == []
    assert [p for p in kept if not p.exists()] == []
