"""Issue 11, projector side: shared logdirs, kills while re-logging, stale temp files, planted links, lock waits."""

from __future__ import annotations

import os
import random
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest
from google.protobuf import text_format
from tensorboard.plugins.projector import projector_config_pb2

from eventwriter import SummaryWriter
from eventwriter.projector import LOCK_TIMEOUT_SECS, write_embedding

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _config(logdir) -> projector_config_pb2.ProjectorConfig:
    config = projector_config_pb2.ProjectorConfig()
    with open(os.path.join(logdir, "projector_config.pbtxt")) as f:
        text_format.Parse(f.read(), config)
    return config


def _rows(path) -> int:
    with open(path, "rb") as f:
        return f.read().count(b"\n")


@pytest.mark.skipif(not hasattr(os, "setuid") or os.geteuid() != 0, reason="needs root to act as a second user")
def test_group_shared_logdir_second_user_can_add_embeddings():
    """#2: setgid directory, umask 002: a second member of the group logs an embedding too."""
    gid, uid1, uid2 = 54321, 54321, 54322
    shared = tempfile.mkdtemp(prefix="ew-shared-")  # under /tmp, reachable by other users
    try:
        os.chown(shared, 0, gid)
        os.chmod(shared, 0o2775)

        def as_user(uid: int, tag: str) -> int:
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    os.setgroups([gid])
                    os.setgid(gid)
                    os.setuid(uid)
                    os.umask(0o002)
                    write_embedding(shared, np.eye(3), metadata=["a", "b", "c"], tag=tag)
                    code = 0
                except BaseException as exc:  # noqa: BLE001 - reported through the exit code
                    sys.stderr.write(f"{uid}: {exc!r}\n")
                finally:
                    os._exit(code)
            return os.waitpid(pid, 0)[1]

        assert as_user(uid1, "first") == 0
        lock = os.path.join(shared, ".projector_config.pbtxt.lock")
        assert stat.S_IMODE(os.stat(lock).st_mode) & 0o060 == 0o060  # 0666 minus umask 002
        assert as_user(uid2, "second") == 0
        assert {e.tensor_name for e in _config(shared).embeddings} == {"first:00000", "second:00000"}
    finally:
        subprocess.run(["rm", "-rf", shared], check=False)


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
        for entry in _config(logdir).embeddings:
            tensors = _rows(os.path.join(logdir, entry.tensor_path))
            labels = _rows(os.path.join(logdir, entry.metadata_path))
            assert tensors == labels, f"kill {kill}: {entry.tensor_path} has {tensors} rows, {entry.metadata_path} {labels}"
    # One more call cleans the temp files every killed call may have left.
    w = SummaryWriter(logdir)
    w.add_embedding(np.ones((5, 2)), metadata=list("abcde"), tag="emb", global_step=3)
    w.close()
    leftovers = [os.path.join(d, f) for d, _, files in os.walk(logdir) for f in files if f.endswith(".tmp")]
    assert leftovers == []
    (entry,) = _config(logdir).embeddings
    assert _rows(os.path.join(logdir, entry.tensor_path)) == _rows(os.path.join(logdir, entry.metadata_path)) == 5


def test_relogged_embedding_files_are_switched_in_the_config(tmp_path):
    """#8: the first call writes torch's names; a re-log of the same tag and step writes fresh,
    uniquely named files, points the config at them, and removes the superseded ones."""
    w = SummaryWriter(tmp_path)
    w.add_embedding(np.eye(4), metadata=list("abcd"), tag="e", global_step=1)
    (first,) = _config(tmp_path).embeddings
    assert first.tensor_path == "00001/e/tensors.tsv" and first.metadata_path == "00001/e/metadata.tsv"
    w.add_embedding(np.eye(6), metadata=list("abcdef"), tag="e", global_step=1)
    (second,) = _config(tmp_path).embeddings
    assert second.tensor_path != first.tensor_path and second.tensor_path.startswith("00001/e/tensors.")
    assert _rows(tmp_path / second.tensor_path) == _rows(tmp_path / second.metadata_path) == 6
    assert sorted(os.listdir(tmp_path / "00001" / "e")) == sorted(
        os.path.basename(p) for p in (second.tensor_path, second.metadata_path)
    )


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


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


def test_planted_symlink_at_the_lock_file_is_refused(tmp_path):
    """#10: the lock is opened with O_NOFOLLOW: a clear OSError, nothing created at the target."""
    logdir = tmp_path / "run"
    logdir.mkdir()
    target = tmp_path / "elsewhere" / "victim"
    (tmp_path / "elsewhere").mkdir()
    os.symlink(target, logdir / ".projector_config.pbtxt.lock")
    w = SummaryWriter(logdir)
    with pytest.raises(OSError, match="symbolic link"):
        w.add_embedding(np.eye(2))
    w.close()
    assert not os.path.lexists(target)
    assert not (logdir / "projector_config.pbtxt").exists()


HOLDER = """
import fcntl, os, sys, time
fd = os.open({lock!r}, os.O_RDONLY | os.O_CREAT, 0o666)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(120)
"""


def test_lock_wait_is_bounded_and_names_the_lock_file(tmp_path):
    """#11: another process holds the config lock: TimeoutError after lock_timeout, naming the file."""
    assert LOCK_TIMEOUT_SECS == 30.0
    lock = str(tmp_path / ".projector_config.pbtxt.lock")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER.format(lock=lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        w = SummaryWriter(tmp_path, lock_timeout=0.5)
        with pytest.raises(TimeoutError, match=r"\.projector_config\.pbtxt\.lock"):
            w.add_embedding(np.eye(3), tag="blocked")
        with pytest.raises(TimeoutError, match="0.3 s"):
            write_embedding(str(tmp_path), np.eye(3), tag="direct", lock_timeout=0.3)
        before = sorted(os.listdir(tmp_path / "00000" / "blocked"))
        with pytest.raises(TimeoutError):
            w.add_embedding(np.eye(4), tag="blocked")  # a re-log (tensors.tsv exists) that times out
        assert sorted(os.listdir(tmp_path / "00000" / "blocked")) == before  # its fresh files are gone
    finally:
        holder.kill()
        holder.wait(10)
        holder.stdout.close()
    w.add_embedding(np.eye(3), tag="free")  # the lock is free again
    w.close()
    assert [e.tensor_name for e in _config(tmp_path).embeddings] == ["free:00000"]


def test_lock_timeout_argument_is_checked(tmp_path):
    with pytest.raises(ValueError, match="lock_timeout"):
        SummaryWriter(tmp_path, lock_timeout=-1)
    with pytest.raises(ValueError, match="lock_timeout"):
        SummaryWriter(tmp_path, lock_timeout="soon")
