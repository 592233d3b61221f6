"""``frames.Follower.poll`` is all-or-nothing (issue 16, item 1).

A poll that raises part-way (a transient storage error on one run's file, a file removed between
listing and reading, ``on_damage="raise"``) must not lose the rows it had read from other runs:
offsets, run state and restarts move only when ``poll()`` returns.
"""

from __future__ import annotations

import os
import warnings

import pytest

pytest.importorskip("pandas")

from eventwriter import SummaryWriter, frames  # noqa: E402
from eventwriter.frames import follower as follower_module  # noqa: E402
from eventwriter.reader import run_files  # noqa: E402
from eventwriter.record import BadDataCrcError, read_records  # noqa: E402


def _runs(tmp_path, steps=range(3)):
    for run in ("a", "b"):
        with SummaryWriter(str(tmp_path / run)) as w:
            for step in steps:
                w.add_scalar("loss", step, step)


def _fail_once(monkeypatch, path):
    """The Follower's next read of ``path`` raises a 503, as a store's transient error would."""
    real = follower_module.read_file
    failures = [OSError(503, "Service Unavailable")]

    def flaky(read_path, start, *args):
        if read_path == path and failures:
            raise failures.pop()
        return real(read_path, start, *args)

    monkeypatch.setattr(follower_module, "read_file", flaky)


def test_a_transient_error_on_one_run_loses_no_rows_of_the_others(tmp_path, monkeypatch):
    _runs(tmp_path)
    follower = frames.Follower(tmp_path, "scalars")
    (b_path,) = run_files(tmp_path)["b"]
    _fail_once(monkeypatch, b_path)
    with pytest.raises(OSError, match="Service Unavailable"):
        follower.poll()
    assert follower.offsets == {} and follower.restarts == []
    table = follower.poll()
    assert list(zip(table.run, table.step)) == [("a", 0), ("a", 1), ("a", 2), ("b", 0), ("b", 1), ("b", 2)]
    assert len(follower.poll()) == 0


def test_a_file_removed_between_listing_and_reading(tmp_path, monkeypatch):
    _runs(tmp_path)
    follower = frames.Follower(tmp_path, "scalars")
    real_list = follower_module.list_runs

    def with_a_ghost(logdir, storage_options=None):
        found = real_list(logdir, storage_options)
        found["b"] = found["b"] + [os.path.join(str(tmp_path), "b", "events.out.tfevents.9999999999.gone")]
        return found

    monkeypatch.setattr(follower_module, "list_runs", with_a_ghost)
    with pytest.raises(FileNotFoundError):
        follower.poll()
    monkeypatch.setattr(follower_module, "list_runs", real_list)
    assert len(follower.poll()) == 6


def test_on_damage_raise_keeps_every_run_for_the_poll_after_the_repair(tmp_path):
    _runs(tmp_path, range(20))
    (b_path,) = run_files(tmp_path)["b"]
    good = open(b_path, "rb").read()
    with open(b_path, "rb") as fh:
        offsets = [r.offset for r in read_records(fh)]
    bad = bytearray(good)
    bad[offsets[10] + 14] ^= 0xFF
    open(b_path, "wb").write(bytes(bad))
    follower = frames.Follower(tmp_path, "scalars", on_damage="raise")
    with pytest.raises(BadDataCrcError):
        follower.poll()
    with pytest.raises(BadDataCrcError):  # nothing moved: the same damage is found again
        follower.poll()
    open(b_path, "wb").write(good)
    table = follower.poll()
    assert table.groupby("run", observed=True).size().to_dict() == {"a": 20, "b": 20}


def test_warnings_come_once_from_the_poll_that_returns(tmp_path, monkeypatch):
    _runs(tmp_path, range(20))
    (a_path,) = run_files(tmp_path)["a"]
    data = bytearray(open(a_path, "rb").read())
    with open(a_path, "rb") as fh:
        offsets = [r.offset for r in read_records(fh)]
    data[offsets[5] + 14] ^= 0xFF
    open(a_path, "wb").write(bytes(data))
    follower = frames.Follower(tmp_path, "scalars")
    (b_path,) = run_files(tmp_path)["b"]
    _fail_once(monkeypatch, b_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(OSError):
            follower.poll()
    assert not [w for w in caught if issubclass(w.category, frames.DamagedFileWarning)]
    with pytest.warns(frames.DamagedFileWarning, match="bad data CRC"):
        table = follower.poll()
    assert table.groupby("run", observed=True).size().to_dict() == {"a": 4, "b": 20}


def test_a_restart_is_recorded_once_even_after_a_failed_poll(tmp_path, monkeypatch):
    run = str(tmp_path / "r")
    with SummaryWriter(run, purge_step=0) as w:
        for step in range(4):
            w.add_scalar("x", step, step)
    follower = frames.Follower(tmp_path, "scalars")
    assert len(follower.poll()) == 4
    with SummaryWriter(run, purge_step=2) as w:
        w.add_scalar("x", 9.0, 2)
    with SummaryWriter(str(tmp_path / "s")) as w:
        w.add_scalar("y", 1.0, 0)
    real = follower_module.read_file
    failures = [OSError(503, "Service Unavailable")]

    def flaky(path, start, *args):
        if "/s/" in path and failures:
            raise failures.pop()
        return real(path, start, *args)

    monkeypatch.setattr(follower_module, "read_file", flaky)
    with pytest.raises(OSError):
        follower.poll()
    assert follower.restarts == []
    table = follower.poll()
    assert list(zip(table.run, table.step)) == [("r", 2), ("s", 0)]
    assert follower.restarts == [("r", 2)]
