"""Hostile files and dying workers (issue 16, items 2 and 3).

* A worker process that dies (OOM killer, SIGKILL) breaks a ``ProcessPoolExecutor`` for good: the
  pool must be replaced, the files in flight read again, and a file that kills a worker twice
  reported as that file's :class:`frames.WorkerCrashError`.
* A ~100-byte record may declare a huge tensor shape around one value (TensorBoard broadcasts a
  single value to the shape): every kind must refuse it before allocating, with a warning naming
  the file, byte offset and tag, and ``MemoryError`` must never escape.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
import tracemalloc
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

from eventwriter import SummaryWriter, frames, protos  # noqa: E402
from eventwriter.frames import kinds, pool  # noqa: E402
from eventwriter.metadata import summary_metadata  # noqa: E402
from eventwriter.reader import MalformedValueWarning, run_files  # noqa: E402
from eventwriter.record import encode_record  # noqa: E402
from eventwriter.wire import file_version_event  # noqa: E402

# ---- dying workers -------------------------------------------------------------------------------


def _logdir(tmp_path, names=("a", "b", "c")):
    for name in names:
        with SummaryWriter(str(tmp_path / name)) as w:
            for step in range(200):
                w.add_scalar("loss", step, step)
    return tmp_path


def _worker_pids():
    assert pool._pool is not None
    return list(pool._pool._processes)  # the executor's live worker processes


def test_a_killed_worker_does_not_break_later_calls(tmp_path):
    logdir = _logdir(tmp_path)
    expected = frames.scalars(logdir, workers=0)
    pool.shutdown()
    pd.testing.assert_frame_equal(frames.scalars(logdir, workers=2), expected)
    pids = _worker_pids()
    os.kill(pids[0], signal.SIGKILL)  # as the OOM killer would
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not getattr(pool._pool, "_broken", False):
        time.sleep(0.05)
    for _ in range(2):
        pd.testing.assert_frame_equal(frames.scalars(logdir, workers=2), expected)
    pool.shutdown()


@pytest.fixture
def poisoned_pool(monkeypatch):
    """Worker pools whose processes die (SIGKILL) when asked to read a path containing ``poison``."""
    from support import poison

    pool.shutdown()

    def executor(size):
        if pool._pool is None or pool._pool_size != size:
            if pool._pool is not None:
                pool._pool.shutdown(wait=True)
            context = multiprocessing.get_context("forkserver")
            pool._pool = ProcessPoolExecutor(max_workers=size, mp_context=context, initializer=poison.install)
            pool._pool_size = size
        return pool._pool

    monkeypatch.setattr(pool, "_executor", executor)
    yield
    pool.shutdown()


def test_files_in_flight_when_a_worker_dies_are_read_again_and_the_killer_is_named(tmp_path, poisoned_pool):
    logdir = _logdir(tmp_path, ("a", "b", "c", "d", "poison"))
    (poisoned,) = run_files(logdir)["poison"]
    with pytest.raises(frames.WorkerCrashError, match="killed a worker process twice") as caught:
        frames.scalars(logdir, workers=2)
    assert caught.value.path == poisoned
    # The pool was replaced: the other runs read fine, in workers, in the same process.
    table = frames.scalars(logdir, runs=["a", "b", "c", "d"], workers=2)
    assert table.groupby("run", observed=True).size().to_dict() == {"a": 200, "b": 200, "c": 200, "d": 200}


# ---- huge declared shapes ------------------------------------------------------------------------

HUGE = {
    # kind: (plugin, dtype, shape, values)
    "text": ("text", protos.DT_STRING, [1 << 30], {"string_val": [b"x"]}),
    "histograms": ("histograms", protos.DT_FLOAT, [1 << 28, 3], {"float_val": [1.0]}),
    "images": ("images", protos.DT_STRING, [1 << 30], {"string_val": [b"8"]}),
    "audio": ("audio", protos.DT_STRING, [1 << 28, 2], {"string_val": [b"RIFF"]}),
    "pr_curves": ("pr_curves", protos.DT_FLOAT, [6, 1 << 28], {"float_val": [0.5]}),
    "tensors": ("tensor", protos.DT_DOUBLE, [1 << 30], {"double_val": [2.0]}),
    "scalars": ("scalars", protos.DT_FLOAT, [1 << 30], {"float_val": [2.0]}),
}


def _hostile_file(run_dir, kind):
    plugin, dtype, shape, values = HUGE[kind]
    os.makedirs(run_dir, exist_ok=True)
    tensor = protos.TensorProto(dtype=dtype, tensor_shape=protos.TensorShapeProto(dim=[protos.TensorShapeProto.Dim(size=d) for d in shape]), **values)
    event = protos.Event(wall_time=1.0, step=1)
    event.summary.value.add(tag="big", tensor=tensor, metadata=summary_metadata(plugin))
    header = encode_record(file_version_event(1.0, "test"))
    record = encode_record(event.SerializeToString())
    path = os.path.join(run_dir, "events.out.tfevents.0000000001.host")
    with open(path, "wb") as fh:
        fh.write(header + record)
    return path, len(header), len(record)


@pytest.mark.parametrize("kind", sorted(HUGE))
def test_a_huge_declared_shape_is_refused_before_allocating(tmp_path, kind):
    path, offset, size = _hostile_file(str(tmp_path / "r"), kind)
    assert size < 120  # a ~100-byte record
    tracemalloc.start()
    try:
        with pytest.warns(MalformedValueWarning) as caught:
            table = frames.read(tmp_path, kind, workers=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(table) == 0
    assert peak < 32 << 20, f"{peak} bytes for a {size}-byte record"
    (warning,) = [w.message for w in caught if isinstance(w.message, MalformedValueWarning)]
    assert (warning.path, warning.offset, warning.tag) == (path, offset, "big")
    assert "declares" in str(warning) and str(offset) in str(warning)
    assert len(frames.read(tmp_path, kind, workers=0, on_damage="ignore")) == 0
    with pytest.raises(MalformedValueWarning):
        frames.read(tmp_path, kind, workers=0, on_damage="raise")


def test_arrow_and_polars_tensors_refuse_it_too(tmp_path):
    _hostile_file(str(tmp_path / "r"), "tensors")
    with SummaryWriter(str(tmp_path / "r")) as w:
        w.add_tensor("fine", np.arange(4, dtype=np.float32), 1)
    with pytest.warns(MalformedValueWarning):
        table = frames.tensors(tmp_path, format="arrow", workers=0)
    assert table.column("tag").to_pylist() == ["fine"]


def test_broadcasts_within_the_records_bytes_are_read_as_tensorboard_reads_them(tmp_path):
    # One value for shape [4, 3] in a ~60-byte record: fewer elements than bytes, so it is
    # expanded, as TensorBoard's make_ndarray broadcasts it.
    run = tmp_path / "r"
    run.mkdir()
    shape = protos.TensorShapeProto(dim=[protos.TensorShapeProto.Dim(size=4), protos.TensorShapeProto.Dim(size=3)])
    tensor = protos.TensorProto(dtype=protos.DT_FLOAT, tensor_shape=shape, float_val=[1.5])
    event = protos.Event(wall_time=1.0, step=1)
    event.summary.value.add(tag="h", tensor=tensor, metadata=summary_metadata("histograms"))
    (run / "events.out.tfevents.1.host").write_bytes(encode_record(file_version_event(1.0, "t")) + encode_record(event.SerializeToString()))
    from support.frames_oracle import assert_same

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = assert_same(tmp_path, "histograms", workers=0)
    assert got[("r", "h")][0][2:] == ([1.5] * 4, [1.5] * 4, [1.5] * 4)


def test_memory_error_while_decoding_is_a_warning_not_a_crash(tmp_path, monkeypatch):
    with SummaryWriter(str(tmp_path / "r")) as w:
        w.add_text("note", "hello", 1)
        w.add_text("note", "again", 2)
    real = kinds.KINDS["text"].build
    calls = []

    def exhausted(field, data, payload=False):
        calls.append(1)
        if len(calls) == 1:
            raise MemoryError
        return real(field, data, payload)

    monkeypatch.setattr(kinds.KINDS["text"], "build", exhausted)
    with pytest.warns(MalformedValueWarning, match="ran out of memory"):
        table = frames.text(tmp_path, workers=0)
    assert table.text.tolist() == ["again"]
