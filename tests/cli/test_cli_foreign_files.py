"""The command line on files that other programs wrote (issue 16 item 23).

* ``verify`` failed (exit 1) a sound file with no ``file_version`` record (old TensorFlow, plain
  TFRecord writers), which TensorBoard reads: now a warning and exit 0.
* ``inspect`` said "writer (unnamed)" for tensorboardX and invented a second writer after torch's
  ``purge_step``; its counts were raw records (55 where TensorBoard shows 40) with nothing saying so.
* ``dump`` and ``explain`` showed TF2 scalars as ``tensor_content`` bytes instead of their value.

The files are written with TensorBoard's own protos and record writer (as TensorFlow writes them),
tensorboardX and torch, and read back with TensorBoard's loaders as the oracle.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from support.tbutil import legacy_accumulator, plugin_accumulator, scalar_series

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "eventwriter", *map(str, args)], capture_output=True, text=True, cwd=ROOT, timeout=120)


def _write_records(path: Path, events) -> None:
    """``events`` framed by TensorBoard's own TFRecord writer, as a plain TFRecord writer would."""
    from tensorboard.summary.writer.record_writer import RecordWriter

    with open(path, "wb") as out:
        writer = RecordWriter(out)
        for event in events:
            writer.write(event.SerializeToString())
        writer.flush()


def _tf_scalar_event(step: int, value: float, wall_time: float):
    """A scalar as TF2's summary writer puts it on disk: DT_FLOAT rank 0 in ``tensor_content``."""
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, types_pb2

    tensor = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_content=struct.pack("<f", value))
    metadata = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
    summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="loss", tensor=tensor, metadata=metadata)])
    return event_pb2.Event(step=step, wall_time=wall_time, summary=summary)


def test_verify_warns_about_a_file_without_file_version_and_passes_it(tmp_path):
    from tensorboard.compat.proto import event_pb2, summary_pb2

    path = tmp_path / "events.out.tfevents.1700000000.host"
    _write_records(path, [
        event_pb2.Event(step=s, wall_time=1.7e9 + s, summary=summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="x", simple_value=s / 2)]))
        for s in range(4)
    ])
    assert [(e.step, e.value) for e in legacy_accumulator(tmp_path).Scalars("x")] == [(s, s / 2) for s in range(4)]  # TensorBoard reads it
    done = _cli("verify", tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == f"ok   {path}\n"
    assert "no file_version record" in done.stderr and "TensorBoard reads it" in done.stderr
    assert done.stderr.startswith(f"eventwriter: warning: {path}: ")


def test_inspect_names_no_invented_writer_for_tensorboardx(tmp_path):
    tbx = pytest.importorskip("tensorboardX")
    writer = tbx.SummaryWriter(str(tmp_path))
    for step in range(5):
        writer.add_scalar("loss", 1.0 / (step + 1), step)
    writer.close()
    done = _cli("inspect", tmp_path)
    assert done.returncode == 0, done.stderr
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("  writer")]
    assert "(unnamed)" not in line
    assert line == "  writer not named in the file (tensorboardX, older TensorFlow and plain TFRecord writers leave it out)"
    (run,) = json.loads(_cli("inspect", "--json", tmp_path).stdout)
    assert run["writers"] == [] and run["unnamed_writer_files"] == 1


@pytest.mark.torch
def test_inspect_after_torchs_purge_step_counts_what_tensorboard_shows(tmp_path):
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    writer = torch_tb.SummaryWriter(str(tmp_path))
    for step in range(30):
        writer.add_scalar("loss", float(step), step)
    writer.close()
    writer = torch_tb.SummaryWriter(str(tmp_path), purge_step=15)  # a resumed run
    for step in range(15, 40):
        writer.add_scalar("loss", 100.0 + step, step)
    writer.close()
    shown = [(e.step, e.value) for e in legacy_accumulator(tmp_path).Scalars("loss")]
    assert len(shown) == 40 and shown[15] == (15, 115.0)  # TensorBoard drops the first run's 15..29

    done = _cli("inspect", tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "  writer tensorboard.summary.writer.event_file_writer" in lines  # one writer, not a second "(unnamed)"
    header = next(line for line in lines if line.lstrip().startswith("tag"))
    assert header.split()[:5] == ["tag", "plugin", "shown", "records", "steps"]
    row = next(line for line in lines if line.lstrip().startswith("loss"))
    assert row.split()[1:5] == ["scalars", "40", "55", "0..39"]
    assert any("the values TensorBoard keeps" in line for line in lines)
    (run,) = json.loads(_cli("inspect", "--json", tmp_path).stdout)
    assert run["writers"] == ["tensorboard.summary.writer.event_file_writer"] and run["unnamed_writer_files"] == 0
    assert (run["tags"]["loss"]["count"], run["tags"]["loss"]["records"]) == (40, 55)


@pytest.fixture
def tf2_file(tmp_path):
    from tensorboard.compat.proto import event_pb2

    path = tmp_path / "events.out.tfevents.1700000000.host.123.0.v2"
    _write_records(path, [event_pb2.Event(wall_time=1.7e9, file_version="brain.Event:2")]
                   + [_tf_scalar_event(step, value, 1.7e9 + step) for step, value in ((0, 0.25), (1, 0.125))])
    assert scalar_series(plugin_accumulator(tmp_path), "loss") == [(0, 0.25), (1, 0.125)]
    return path


def test_dump_shows_the_value_of_a_tf2_scalar(tf2_file):
    done = _cli("dump", tf2_file)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    tensors = [row["event"]["summary"]["value"][0]["tensor"] for row in rows[1:]]
    assert [t["decoded"] for t in tensors] == [0.25, 0.125]
    assert tensors[0]["tensor_content"] == "AACAPg=="  # the field itself is still shown


def test_explain_shows_the_value_of_a_tf2_scalar(tf2_file):
    done = _cli("explain", tf2_file, "--record", "1")
    assert done.returncode == 0, done.stderr
    (line,) = [line for line in done.stdout.splitlines() if "tensor_content" in line]
    assert line.endswith("4 tensor_content (LEN bytes) = 4 bytes  [decoded: 0.25 (float32, scalar)]")
