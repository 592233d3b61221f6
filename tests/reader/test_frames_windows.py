"""eventwriter.frames reads a file a window at a time: any window size gives the same rows.

The default window (1 MiB) covers most test files in one piece, so these tests shrink it to a few
dozen bytes, cutting records, headers and CRCs at every position, and compare every kind with a
read of each file in one piece (itself checked against TensorBoard's data layer in test_frames).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

from eventwriter import SummaryWriter, frames, wire  # noqa: E402
from eventwriter.frames import file_reader  # noqa: E402
from eventwriter.frames.file_reader import read_file  # noqa: E402
from eventwriter.record import encode_record, read_records  # noqa: E402
from eventwriter.reader import run_files  # noqa: E402
from support.kinds import write_everything  # noqa: E402
from support.frames_oracle import assert_same  # noqa: E402

KINDS = ["scalars", "histograms", "text", "pr_curves", "images", "audio", "tensors"]
WHOLE = 1 << 24  # one window holds any test file (16 MiB)


def _event(step, tag, value, wall=1.0):
    return encode_record(wire.event_prefix(wall, step) + wire.simple_value_prefix(tag) + wire.float32_bytes(value))


def _logdir(tmp_path):
    write_everything(str(tmp_path / "every"))  # images and audio: records far longer than the window
    run = str(tmp_path / "restarts")
    for purge in (None, 5, 3):
        with SummaryWriter(run, purge_step=purge) as w:
            for step in range(purge or 0, (purge or 0) + 12):
                w.add_scalar("loss", step * 1.5, step)
                w.add_text("t", f"s{step}", step)
    with SummaryWriter(str(tmp_path / "back")) as w:  # file_version 2: steps going back purge nothing
        for step in list(range(30)) + list(range(10, 25)):
            w.add_scalar("x", step, step)
    old = tmp_path / "no_version"  # no file_version: a step going back purges that tag's later steps
    old.mkdir()
    records = [_event(s, "a", s) for s in range(20)] + [_event(s, "b", s) for s in range(20)]
    records += [_event(7, "a", 77.0)] + [_event(s, "b", 100 + s) for s in (20, 21)]
    (old / "events.out.tfevents.1.host").write_bytes(b"".join(records))
    return tmp_path


def _read(logdir, kind, window, monkeypatch):
    monkeypatch.setattr(file_reader, "WINDOW_BYTES", window)
    if kind == "hparams":
        return frames.hparams(logdir, workers=0)
    return frames.read(logdir, kind, workers=0)


@pytest.mark.parametrize("window", [1, 7, 61, 500])
def test_every_kind_equals_one_window_reads(tmp_path, monkeypatch, window):
    logdir = _logdir(tmp_path)
    for kind in KINDS + ["hparams"]:
        whole = _read(logdir, kind, WHOLE, monkeypatch)
        assert len(whole), kind
        pd.testing.assert_frame_equal(_read(logdir, kind, window, monkeypatch), whole, obj=kind)


def test_windowed_reads_match_the_data_layer(tmp_path, monkeypatch):
    logdir = _logdir(tmp_path)
    monkeypatch.setattr(file_reader, "WINDOW_BYTES", 45)
    for kind in ("scalars", "text", "images", "histograms"):
        assert_same(logdir, kind, workers=0)


def test_damage_and_truncation_found_at_the_same_place_for_every_window(tmp_path, monkeypatch):
    with SummaryWriter(str(tmp_path / "r")) as w:
        for step in range(60):
            w.add_scalar("loss", step, step)
    (path,) = run_files(tmp_path)["r"]
    with open(path, "rb") as fh:
        offsets = [r.offset for r in read_records(fh)]
    data = bytearray(open(path, "rb").read())
    data[offsets[33] + 14] ^= 0xFF
    open(path, "wb").write(bytes(data))
    for window in (1, 13, 64, WHOLE):
        monkeypatch.setattr(file_reader, "WINDOW_BYTES", window)
        with pytest.warns(frames.DamagedFileWarning, match=f"bad data CRC at byte {offsets[33]}"):
            table = frames.scalars(tmp_path, workers=0)
        assert table.step.tolist() == list(range(32)), window

    open(path, "wb").write(bytes(data[: offsets[33]]) + bytes(data[offsets[33] : offsets[34] - 5]))
    for window in (1, 13, 64, WHOLE):
        chunk = read_file(path, 0, "scalars", window=window)
        assert (chunk.truncated, chunk.damage, chunk.end) == (True, None, offsets[33]), window
        assert chunk.step.tolist() == list(range(32)) and chunk.records == 33
        assert chunk.rec.tolist() == list(range(1, 33))  # record 0 is the file_version header


def test_follower_with_a_small_window_resumes_after_the_last_whole_record(tmp_path, monkeypatch):
    monkeypatch.setattr(file_reader, "WINDOW_BYTES", 29)
    follower = frames.Follower(tmp_path, "scalars")
    w = SummaryWriter(str(tmp_path / "a"))
    for step in range(40):
        w.add_scalar("loss", np.float32(step / 3), step)
    w.flush()
    (path,) = run_files(tmp_path)["a"]
    full = open(path, "rb").read()
    open(path, "wb").write(full[:-7])  # the tail record cut short, as a live writer may leave it
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        first = follower.poll()
    open(path, "wb").write(full)
    second = follower.poll()
    w.close()
    assert first.step.tolist() == list(range(39)) and second.step.tolist() == [39]


def test_window_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="window"):
        read_file(str(tmp_path / "x"), 0, "scalars", window=0)
