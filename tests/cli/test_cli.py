"""The reader API and the ``eventwriter`` command (inspect, dump, verify)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from eventwriter import SummaryWriter
from eventwriter.reader import describe, read_events, run_files, scalars
from support.tbutil import legacy_accumulator, plugin_accumulator, scalar_series
from support.processes import ROOT



def _cli(*args):
    return subprocess.run([sys.executable, "-m", "eventwriter", *map(str, args)], capture_output=True, text=True, cwd=ROOT)


@pytest.fixture
def logdir(tmp_path):
    with SummaryWriter(tmp_path) as w:
        for step in range(5):
            w.add_scalar("loss", 1.0 / (step + 1), step, walltime=1000.0 + step)
            w.add_scalar("acc", step / 10, step, walltime=1000.0 + step, new_style=True)
        w.add_text("notes", "hello", 3, walltime=1010.0)
        w.add_scalars("pair", {"a": 1.0, "b": 2.0}, 4, walltime=1011.0)
    return tmp_path


def test_scalars_agree_with_tensorboard(logdir):
    ours = scalars(logdir)
    assert sorted(ours) == [".", "pair_a", "pair_b"]
    acc = plugin_accumulator(logdir)
    for tag in ("loss", "acc"):
        assert [(p.step, p.value) for p in ours["."][tag]] == scalar_series(acc, tag)
    assert "notes/text_summary" not in ours["."]
    legacy = legacy_accumulator(logdir)
    assert [(e.step, e.wall_time, e.value) for e in legacy.Scalars("loss")] == [
        (p.step, p.wall_time, p.value) for p in ours["."]["loss"]
    ]


@pytest.mark.torch
def test_reader_agrees_on_torch_written_files(tmp_path):
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    w = torch_tb.SummaryWriter(str(tmp_path))
    for step in range(20):
        w.add_scalar("x", np.sin(step), step)
        w.add_scalar("y", step * 2.0, step, new_style=True)
    w.close()
    ours = scalars(tmp_path)["."]
    acc = plugin_accumulator(tmp_path)
    for tag in ("x", "y"):
        assert [(p.step, p.value) for p in ours[tag]] == scalar_series(acc, tag)
    info = describe(tmp_path)[0]
    assert info.writers == ["tensorboard.summary.writer.event_file_writer"]


def test_read_events_offsets_and_run_files(logdir):
    files = run_files(logdir)["."]
    records = list(read_events(files[0]))
    assert records[0].offset == 0 and records[0].event.file_version == "brain.Event:2"
    assert all(b.offset > a.offset for a, b in zip(records, records[1:]))


def test_inspect(logdir):
    out = _cli("inspect", logdir)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for needle in ("run .", "run pair_a", "writer eventwriter", "loss", "scalars", "notes/text_summary", "text", "0..4"):
        assert needle in text
    data = json.loads(_cli("inspect", "--json", logdir).stdout)
    main = next(r for r in data if r["run"] == ".")
    assert main["tags"]["loss"]["count"] == 5 and main["tags"]["loss"]["last_step"] == 4
    assert main["tags"]["acc"]["plugin"] == "scalars"
    assert main["tags"]["notes/text_summary"]["first_wall_time"] == 1010.0


def test_dump(logdir):
    path = run_files(logdir)["."][0]
    out = _cli("dump", path)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert rows[0]["offset"] == 0 and rows[0]["event"]["file_version"] == "brain.Event:2"
    assert [r["offset"] for r in rows] == [r.offset for r in read_events(path)]
    assert rows[1]["event"]["summary"]["value"][0]["tag"] == "loss"


def test_verify_good_truncated_and_corrupt(logdir, tmp_path_factory):
    assert _cli("verify", logdir).returncode == 0
    path = run_files(logdir)["."][0]
    data = open(path, "rb").read()
    bad = tmp_path_factory.mktemp("bad")
    truncated = bad / "events.out.tfevents.truncated"
    truncated.write_bytes(data[:-3])
    out = _cli("verify", truncated)
    assert out.returncode == 1 and "truncated record" in out.stdout and "offset" in out.stdout
    records = list(read_events(path))
    flipped = bytearray(data)
    flipped[records[3].offset + 14] ^= 0xFF
    corrupt = bad / "events.out.tfevents.corrupt"
    corrupt.write_bytes(bytes(flipped))
    out = _cli("verify", corrupt)
    assert out.returncode == 1
    assert f"offset {records[3].offset}: bad data CRC" in out.stdout


def test_missing_path_and_non_event_file(tmp_path):
    out = _cli("inspect", tmp_path / "nope")
    assert out.returncode == 2 and "no such file or directory" in out.stderr
    out = _cli("verify", tmp_path / "nope")
    assert out.returncode == 2
    text = tmp_path / "notes.txt"
    text.write_text("this is not an event file at all\n")
    out = _cli("dump", text)
    assert out.returncode == 1 and "not an event file" in out.stderr
    out = _cli("verify", tmp_path)
    assert out.returncode == 1 and "no event files" in out.stderr


def test_inspect_reports_damage_and_keeps_going(logdir):
    path = run_files(logdir)["."][0]
    records = list(read_events(path))
    data = bytearray(open(path, "rb").read())
    data[records[4].offset + 14] ^= 0xFF
    open(path, "wb").write(bytes(data))
    out = _cli("inspect", logdir)
    assert out.returncode == 1
    assert f"DAMAGED {path}: offset {records[4].offset}: bad data CRC" in out.stdout
    assert "run pair_a" in out.stdout  # the other runs are still listed
    info = json.loads(_cli("inspect", "--json", logdir).stdout)
    main = next(r for r in info if r["run"] == ".")
    assert main["problems"] and main["tags"]["loss"]["count"] == 2  # records before the damage


@pytest.mark.torch
def test_read_events_matches_tensorboards_loader_event_for_event(tmp_path):
    """Every kind, from torch's writer and ours: the same events, in order, as EventFileLoader."""
    pytest.importorskip("torch")
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
    from tensorboard.compat.proto.event_pb2 import Event
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    from support.kinds import write_everything

    write_everything(tmp_path / "ours")
    torch_writer = TorchWriter(str(tmp_path / "torch"))
    torch_writer.add_scalar("s", 1.0, 1)
    torch_writer.add_histogram("h", np.arange(100.0), 2)
    torch_writer.add_image("i", np.zeros((3, 4, 4)), 3)
    torch_writer.add_text("t", "x", 4)
    torch_writer.add_pr_curve("p", np.array([0, 1, 1]), np.array([0.2, 0.7, 0.9]), 5)
    torch_writer.close()
    for root in (tmp_path / "ours", tmp_path / "torch"):
        for files in run_files(root).values():
            for path in files:
                ours = [(r.event.wall_time, r.event.step, r.event.WhichOneof("what"), r.event.SerializeToString()) for r in read_events(path)]
                theirs = []
                for raw in RawEventFileLoader(path).Load():
                    event = Event.FromString(raw)
                    theirs.append((event.wall_time, event.step, event.WhichOneof("what"), raw))
                assert ours == theirs, path


def test_dump_prints_steps_as_numbers_and_step_zero(tmp_path):
    """Every field a reader expects, step 0 included, with int64 as numbers (protobuf 4.25 and 7.x)."""
    w = SummaryWriter(tmp_path)
    w.add_scalar("x", 1.5, 0)
    w.add_scalar("x", 2.5, 7)
    w.close()
    (path,) = [os.path.join(tmp_path, f) for f in os.listdir(tmp_path) if "tfevents" in f]
    done = _cli("dump", path)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    events = [r["event"] for r in rows]
    assert events[0]["file_version"] == "brain.Event:2" and events[0]["step"] == 0
    assert [e["step"] for e in events[1:]] == [0, 7]  # numbers, and step 0 is printed
    assert all(isinstance(e["wall_time"], float) for e in events)
    assert events[1]["summary"]["value"][0]["simple_value"] == 1.5
    assert [s for s, _ in scalar_series(plugin_accumulator(tmp_path), "x")] == [0, 7]
