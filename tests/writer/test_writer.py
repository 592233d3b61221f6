"""SummaryWriter core: scalars, scalars groups, text, lifecycle; read back with TensorBoard's loaders."""

from __future__ import annotations

import math
import os
import re
import socket

import numpy as np
import pytest

from eventwriter import SummaryWriter
from support.tbutil import legacy_accumulator, loader_events, plugin_accumulator, plugins_by_tag, scalar_series, tensor_values


def _files(path):
    return sorted(p for p in os.listdir(path) if "tfevents" in p)


def test_file_name_and_first_record(tmp_path):
    w = SummaryWriter(tmp_path, filename_suffix=".sfx")
    w.close()
    (name,) = _files(tmp_path)
    assert re.fullmatch(r"events\.out\.tfevents\.\d{10}\.%s\.%d\.\d{5}\.sfx" % (re.escape(socket.gethostname()), os.getpid()), name)
    events = loader_events(tmp_path / name)
    assert events[0].file_version == "brain.Event:2"
    assert events[0].source_metadata.writer == "eventwriter"


def test_files_opened_in_one_second_sort_in_creation_order(tmp_path):
    """Close-and-reopen a dozen times (as the tutorial does): name order == creation order."""
    w = SummaryWriter(tmp_path)
    for step in range(12):
        w.add_scalar("x", float(step), step)
        w.close()
    names = _files(tmp_path)
    assert len(names) == 12
    first_steps = [[e.step for e in loader_events(tmp_path / n) if e.HasField("summary")][0] for n in names]
    assert first_steps == list(range(12))


def test_scalar_values_and_steps(tmp_path):
    values = [0.9, -1.25, 3e38, 1e39, math.inf, 0.0, 7]
    with SummaryWriter(tmp_path) as w:
        for step, v in enumerate(values):
            w.add_scalar("loss/train", v, step)
    got = scalar_series(plugin_accumulator(tmp_path), "loss/train")
    assert [s for s, _ in got] == list(range(len(values)))
    expected = np.array(values, dtype=np.float64).astype(np.float32)
    np.testing.assert_array_equal(np.array([v for _, v in got], dtype=np.float32), expected)
    legacy = legacy_accumulator(tmp_path).Scalars("loss/train")
    assert [e.value for e in legacy][0] == pytest.approx(0.8999999761581421)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(tag="x", scalar_value="1.0"), TypeError, "scalar_value"),
        (dict(tag="x", scalar_value=None), TypeError, "scalar_value"),
        (dict(tag="x", scalar_value=np.ones(3)), ValueError, "scalar_value"),
        (dict(tag="x", scalar_value=1.0, walltime=math.nan), ValueError, "walltime"),
        (dict(tag="x", scalar_value=1.0, walltime=math.inf), ValueError, "walltime"),
        (dict(tag="x", scalar_value=1.0, global_step="3"), TypeError, "global_step"),
        (dict(tag="x", scalar_value=1.0, global_step=math.nan), ValueError, "global_step"),
        (dict(tag=3, scalar_value=1.0), TypeError, "tag"),
        (dict(tag="x", scalar_value=1.0, new_style=True, global_step=2**64), ValueError, "global_step"),
    ],
)
def test_scalar_bad_input_writes_nothing(tmp_path, kwargs, error, words):
    with SummaryWriter(tmp_path) as w:
        with pytest.raises(error, match=words):
            w.add_scalar(**kwargs)
    (name,) = _files(tmp_path)
    assert len(loader_events(tmp_path / name)) == 1  # only the file header


def test_walltime_and_new_style(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_scalar("old", 1.0, 1, walltime=1000.5)
        w.add_scalar("new", 2.0, 2, walltime=1001.5, new_style=True)
        w.add_scalar("dbl", 1 / 3, 3, walltime=1002.5, new_style=True, double_precision=True)
    acc = plugin_accumulator(tmp_path)
    assert [e.wall_time for e in acc.Tensors("old")] == [1000.5]
    assert scalar_series(acc, "new") == [(2, 2.0)]
    (step, value), = tensor_values(acc, "dbl")
    assert value.dtype == np.float64 and float(value) == 1 / 3
    assert plugins_by_tag(acc) == {"old": "scalars", "new": "scalars", "dbl": "scalars"}


def test_close_is_idempotent_and_logging_after_close_reopens(tmp_path):
    w = SummaryWriter(tmp_path)
    w.add_scalar("x", 1.0, 0)
    w.close()
    w.close()
    w.add_scalar("x", 2.0, 1)  # the tutorial logs after close(): a fresh file
    w.add_scalars("g", {"a": 1.0}, 1)
    w.flush()
    w.close()
    files = _files(tmp_path)
    assert len(files) == 2 and files == sorted(files)
    assert scalar_series(plugin_accumulator(tmp_path), "x") == [(0, 1.0), (1, 2.0)]
    assert scalar_series(plugin_accumulator(tmp_path / "g_a"), "g") == [(1, 1.0)]


def test_flush_is_a_barrier(tmp_path):
    w = SummaryWriter(tmp_path)
    for i in range(100):
        w.add_scalar("x", float(i), i)
    w.flush()
    # Another reader sees everything right after flush() returns.
    assert len(scalar_series(plugin_accumulator(tmp_path), "x")) == 100
    w.close()


def test_purge_step_events(tmp_path):
    with SummaryWriter(tmp_path, purge_step=5) as w:
        w.add_scalar("x", 1.0, 5)
    (name,) = _files(tmp_path)
    events = loader_events(tmp_path / name)
    assert events[1].step == 5 and events[1].file_version == "brain.Event:2"
    assert events[2].step == 5 and events[2].session_log.status == 1
    legacy = legacy_accumulator(tmp_path)
    assert [e.step for e in legacy.Scalars("x")] == [5]


def test_default_logdir_and_comment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    w = SummaryWriter(comment="_lr0.1")
    w.close()
    logdir = w.get_logdir()
    assert logdir.startswith("runs" + os.sep) and logdir.endswith(socket.gethostname() + "_lr0.1")
    assert _files(tmp_path / logdir)


def test_url_never_creates_a_local_folder(tmp_path, monkeypatch):
    # torch creates a local folder "memory:" / "s3:"; a URL goes to the fsspec backend instead.
    pytest.importorskip("fsspec")
    from eventwriter.reader import scalars

    monkeypatch.chdir(tmp_path)
    url = f"memory://ew-writer-test/run-{os.getpid()}"
    with SummaryWriter(url) as w:
        w.add_scalar("x", 3.0, 2)
    assert list(tmp_path.iterdir()) == []
    assert [(p.step, p.value) for p in scalars(url)["."]["x"]] == [(2, 3.0)]


def test_max_file_bytes_rotates_with_headers_and_no_repeated_purge(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from eventwriter.reader import read_file_events

    with SummaryWriter(tmp_path, purge_step=0, max_file_bytes=600) as w:
        for step in range(60):
            w.add_scalar("r", float(step), step)
            w.flush()
    names = sorted(p.name for p in tmp_path.iterdir() if "tfevents" in p.name)
    assert len(names) > 3
    purges = 0
    for name in names:
        events = [r.event for r in read_file_events(str(tmp_path / name))]
        assert events[0].WhichOneof("what") == "file_version"
        purges += sum(e.WhichOneof("what") == "session_log" for e in events)
        assert (tmp_path / name).stat().st_size <= 600 or len(events) == 2
    assert purges == 1
    acc = EventAccumulator(str(tmp_path), size_guidance={"scalars": 0})
    acc.Reload()
    assert [(e.step, e.value) for e in acc.Scalars("r")] == [(s, float(s)) for s in range(60)]


def test_logdir_under_a_file_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OSError, match=re.escape(str(blocker))):
        SummaryWriter(blocker / "run")


def test_file_writer_compat_add_summary_with_tensorboard_protos(tmp_path):
    """Code that hands tensorboard-made Summary protos to writer.file_writer keeps working."""
    from tensorboard.compat.proto.summary_pb2 import Summary

    w = SummaryWriter(tmp_path)
    w.file_writer.add_summary(Summary(value=[Summary.Value(tag="ext", simple_value=4.0)]), 9)
    w.close()
    assert scalar_series(plugin_accumulator(tmp_path), "ext") == [(9, 4.0)]


@pytest.mark.slow
def test_per_tag_state_is_bounded_and_add_hparams_keeps_its_purpose(tmp_path, monkeypatch):
    """#12: past MAX_TRACKED_TAGS distinct tags, a new tag costs (almost) no memory; add_hparams
    still writes each metric at a step no lower than its own latest, so TensorBoard keeps the curve."""
    import tracemalloc

    from eventwriter import writer as writer_module

    monkeypatch.setattr(writer_module, "MAX_TRACKED_TAGS", 1000)
    w = SummaryWriter(tmp_path)
    w.add_scalar("early", 1.0, 5)
    w.add_scalar("early", 2.0, 9)
    tags = [f"tag/{i:07d}" for i in range(21_000)]
    for i, tag in enumerate(tags[:1000]):
        w.add_scalar(tag, 0.0, i)
    w.flush()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for tag in tags[1000:]:
        w.add_scalar(tag, 0.0, 3)
    w.add_scalar("late", 1.0, 40)
    w.add_scalar("late", 2.0, 41)
    w.flush()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    per_tag = grown / 20_000
    print(f"memory per tag beyond the tracked ones: {per_tag:.1f} bytes")
    assert per_tag < 8  # was ~130 bytes: a dict entry, the tag string and the step per tag
    w.add_hparams({"lr": 0.1}, {"early": 3.0, "late": 3.0, "never": 1.0})
    w.close()
    acc = plugin_accumulator(tmp_path)
    assert [s for s, _ in scalar_series(acc, "early")] == [5, 9, 9]  # tracked: its own latest step
    late = [s for s, _ in scalar_series(acc, "late")]
    assert late[:2] == [40, 41] and late[2] >= 41  # untracked: the largest step seen, curve intact
    assert len(scalar_series(acc, "never")) == 1
