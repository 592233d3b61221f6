"""The projector config's lock file: shared (setgid) logdirs, planted symlinks, bounded waits."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile

import numpy as np
import pytest

from eventwriter import SummaryWriter
from eventwriter.projector import LOCK_TIMEOUT_SECS, write_embedding
from support.tbutil import projector_config


HOLDER = """
import fcntl, os, sys, time
fd = os.open({lock!r}, os.O_RDONLY | os.O_CREAT, 0o666)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(120)
"""


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
        assert {e.tensor_name for e in projector_config(shared).embeddings} == {"first:00000", "second:00000"}
    finally:
        subprocess.run(["rm", "-rf", shared], check=False)


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
    assert [e.tensor_name for e in projector_config(tmp_path).embeddings] == ["free:00000"]


def test_lock_timeout_argument_is_checked(tmp_path):
    with pytest.raises(ValueError, match="lock_timeout"):
        SummaryWriter(tmp_path, lock_timeout=-1)
    with pytest.raises(ValueError, match="lock_timeout"):
        SummaryWriter(tmp_path, lock_timeout="soon")
