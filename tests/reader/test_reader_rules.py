"""``eventwriter.reader.scalars`` applies TensorBoard's rules, as ``frames`` does (issue 16, item 20).

TensorBoard's loaders purge rows of a run that restarts (a second ``SessionLog.START`` under
``file_version`` 2: TF1 sessions, torch's ``purge_step``) and of files without a ``file_version``
whose steps go back; a tag's plugin is that of its first metadata in the run. The plain-Python
reader must give the same points as ``plugin_event_accumulator`` and ``frames.scalars``.
"""

from __future__ import annotations

import os
import shutil

import pytest

from eventwriter import SummaryWriter, protos, wire
from eventwriter.metadata import summary_metadata
from eventwriter.reader import run_files, scalars
from eventwriter.record import encode_record
from support.tbutil import plugin_accumulator, plugins_by_tag, scalar_series

HERE = os.path.dirname(os.path.abspath(__file__))


def _event(step, tag, value, wall=1.0):
    return encode_record(wire.event_prefix(wall, step) + wire.simple_value_prefix(tag) + wire.float32_bytes(value))


def tensorboard(logdir):
    """``{run: {tag: [(step, value)]}}`` of the scalars plugin in plugin_event_accumulator."""
    out = {}
    for run, files in run_files(logdir).items():
        acc = plugin_accumulator(os.path.dirname(files[0]))
        series = {tag: scalar_series(acc, tag) for tag, plugin in plugins_by_tag(acc).items() if plugin == "scalars"}
        series = {tag: points for tag, points in series.items() if points}
        if series:
            out[run] = series
    return out


def ours(logdir):
    return {run: {tag: [(p.step, p.value) for p in points] for tag, points in tags.items()} for run, tags in scalars(logdir).items()}


def test_purge_step_restarts_are_applied(tmp_path):
    run = str(tmp_path / "r")
    with SummaryWriter(run) as w:
        for step in range(10):
            w.add_scalar("loss", step, step)
    with SummaryWriter(run, purge_step=5) as w:  # the run's first START: ignored
        for step in range(5, 8):
            w.add_scalar("loss", 100 + step, step)
    with SummaryWriter(run, purge_step=6) as w:  # the second: drops every earlier point with step >= 6
        for step in range(6, 9):
            w.add_scalar("loss", 200 + step, step)
    assert ours(tmp_path) == tensorboard(tmp_path)
    assert [s for s, _ in ours(tmp_path)["r"]["loss"]] == [0, 1, 2, 3, 4, 5, 5, 6, 7, 8]


def test_tf1_session_restart_is_applied(tmp_path):
    shutil.copytree(os.path.join(HERE, "tf_written", "tf1"), tmp_path / "tf1")
    assert ours(tmp_path) == tensorboard(tmp_path)
    assert [s for s, _ in ours(tmp_path)["tf1"]["loss"]] == [0, 1, 2, 3, 4, 5, 6, 7]


def test_files_without_file_version_purge_a_tag_whose_step_goes_back(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    records = [_event(s, "a", s) for s in range(6)] + [_event(s, "b", s) for s in range(6)]
    records += [_event(3, "a", 33.0)] + [_event(s, "b", 10 + s) for s in (6, 7)]
    (run / "events.out.tfevents.1.host").write_bytes(b"".join(records))
    assert ours(tmp_path) == tensorboard(tmp_path)
    assert [s for s, _ in ours(tmp_path)["r"]["a"]] == [0, 1, 2, 3]


def test_a_tags_plugin_is_its_first_metadata_even_after_points(tmp_path):
    # A tensor without metadata, then the same tag with scalars metadata: both points are scalars
    # (TensorBoard files the tag under its first metadata). A tag whose first metadata is another
    # plugin is not a scalar even if it also has simple values.
    run = tmp_path / "r"
    run.mkdir()
    events = []
    for step, meta in ((0, None), (1, summary_metadata("scalars"))):
        e = protos.Event(wall_time=1.0, step=step)
        value = e.summary.value.add(tag="late", tensor=protos.TensorProto(dtype=protos.DT_FLOAT, float_val=[step + 0.5]))
        if meta is not None:
            value.metadata.CopyFrom(meta)
        events.append(encode_record(e.SerializeToString()))
    e = protos.Event(wall_time=1.0, step=0)
    e.summary.value.add(tag="other", tensor=protos.TensorProto(dtype=protos.DT_FLOAT, float_val=[1.0]), metadata=summary_metadata("custom"))
    events.append(encode_record(e.SerializeToString()))
    events.append(_event(1, "other", 2.0))
    (run / "events.out.tfevents.1.host").write_bytes(encode_record(wire.file_version_event(1.0, "t")) + b"".join(events))
    assert ours(tmp_path) == tensorboard(tmp_path) == {"r": {"late": [(0, 0.5), (1, 1.5)]}}


def test_reader_and_frames_agree(tmp_path):
    pytest.importorskip("pandas")
    from eventwriter import frames

    test_purge_step_restarts_are_applied(tmp_path / "one")
    table = frames.scalars(tmp_path / "one")
    assert ours(tmp_path / "one") == {
        run: {tag: [(s, v) for s, v in zip(g.step, g.value)] for tag, g in rows.groupby("tag", observed=True)}
        for run, rows in table.groupby("run", observed=True)
    }
