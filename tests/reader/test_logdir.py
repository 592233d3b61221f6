"""Which files make a run: link loops, links to runs, FIFOs and broken links named like event files."""

from __future__ import annotations

import os

import pytest

from eventwriter import SummaryWriter
from eventwriter.reader import SkippedFileWarning, event_files, read_events, run_files, scalars
from support.processes import run_cli


def _run(path, n: int = 3, tag: str = "x") -> None:
    w = SummaryWriter(path)
    for i in range(n):
        w.add_scalar(tag, float(i), i)
    w.close()


def test_symlink_loops_end_and_a_link_to_a_run_is_a_run(tmp_path):
    _run(tmp_path / "exp3")
    os.symlink("exp3", tmp_path / "latest")
    os.symlink(".", tmp_path / "a")
    os.symlink(".", tmp_path / "b")
    os.symlink("..", tmp_path / "exp3" / "up")
    runs = run_files(tmp_path)
    assert sorted(runs) == ["exp3", "latest"]  # as TensorBoard: the link is a run of its own
    listed = [f for files in runs.values() for f in files]
    assert len(listed) == len(set(listed)) == 2
    assert len(list(read_events(tmp_path))) == 2 * 4  # file_version + 3 scalars per run
    assert sorted(scalars(tmp_path)) == ["exp3", "latest"]
    for command in (["inspect"], ["verify"], ["inspect", "--json"]):
        done = run_cli(*command, tmp_path)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
    assert run_cli("verify", tmp_path).stdout.count("ok ") == 2


def test_fifo_named_like_an_event_file_is_skipped_and_said_so(tmp_path):
    _run(tmp_path)
    fifo = tmp_path / "events.out.tfevents.9999999999.fifo"
    os.mkfifo(fifo)
    with pytest.warns(SkippedFileWarning, match="not a regular file"):
        assert len(list(read_events(tmp_path))) == 4
    with pytest.warns(SkippedFileWarning):
        assert [p.step for p in scalars(tmp_path)["."]["x"]] == [0, 1, 2]
    for command in (["verify", tmp_path], ["inspect", tmp_path]):
        done = run_cli(*command, timeout=30)  # would block forever reading the FIFO
        assert done.returncode == 0, done.stderr
        assert "fifo: not a regular file" in done.stderr and "skipped" in done.stderr
    for command in (["dump", fifo], ["verify", fifo]):
        done = run_cli(*command, timeout=30)
        assert done.returncode == 1 and "not a regular file" in done.stderr + done.stdout
        assert "Traceback" not in done.stderr
    with pytest.raises(OSError, match="not a regular file"):
        event_files(fifo)
