"""Issue 11, reader and CLI side: link loops, FIFOs, huge lengths, odd wall times, malformed scalars,
and what a new user meets first (non-event files, empty directories, dump output)."""

from __future__ import annotations

import math
import os
import struct
import subprocess
import sys
import tracemalloc
import warnings

import pytest

from eventwriter import SummaryWriter, protos
from eventwriter.crc import masked_crc32c
from eventwriter.event_file import EventFileWriter
from eventwriter.reader import MalformedValueWarning, SkippedFileWarning, describe, event_files, read_events, run_files, scalars
from eventwriter.record import TruncatedRecordError
from support.tbutil import plugin_accumulator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(*args, timeout: float = 60):
    """Run ``python -m eventwriter ARGS`` with a bounded wait; returns the CompletedProcess."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "eventwriter", *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)


def _run(path, n: int = 3, tag: str = "x") -> None:
    w = SummaryWriter(path)
    for i in range(n):
        w.add_scalar(tag, float(i), i)
    w.close()


# -- #3 symlink loops ---------------------------------------------------------------------------


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
        done = cli(*command, tmp_path)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
    assert cli("verify", tmp_path).stdout.count("ok ") == 2


# -- #4 odd wall times, broken links by name, huge lengths -------------------------------------


def test_inspect_of_huge_and_nan_wall_times_is_a_table_not_a_traceback(tmp_path):
    w = SummaryWriter(tmp_path)
    w.add_scalar("far", 1.0, 1, walltime=1e20)
    w.close()
    nan_file = EventFileWriter(str(tmp_path))
    event = protos.Event(wall_time=math.nan, step=2)
    event.summary.value.add(tag="nan", simple_value=2.0)
    nan_file.add_event(event)
    nan_file.close()
    done = cli("inspect", tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "1e+20 (not a date)" in done.stdout and "nan (not a date)" in done.stdout
    import json

    as_json = cli("inspect", "--json", tmp_path)
    runs = json.loads(as_json.stdout, parse_constant=lambda c: pytest.fail(f"not JSON: {c}"))
    tags = {name: tag for run in runs for name, tag in run["tags"].items()}
    assert tags["nan"]["first_wall_time"] == "nan" and tags["far"]["first_wall_time"] == 1e20
    verify = cli("verify", "--all", tmp_path)
    assert verify.returncode == 1 and "wall_time is nan" in verify.stdout and "Traceback" not in verify.stderr


@pytest.mark.parametrize("kind", ["dangling", "looping"])
def test_verify_and_inspect_of_a_broken_link_named_like_an_event_file(tmp_path, kind):
    name = tmp_path / "events.out.tfevents.1.host.1.00000"
    if kind == "dangling":
        os.symlink(tmp_path / "gone", name)
    else:
        os.symlink(name.name, name)  # points at itself: ELOOP
    for command in (["verify", name], ["dump", name], ["verify", tmp_path], ["inspect", tmp_path]):
        done = cli(*command)
        assert "Traceback" not in done.stderr, (command, done.stderr)
        assert done.returncode in (0, 1), (command, done.returncode, done.stderr)
        assert "not a regular file" in done.stderr or "no such file" in done.stderr or "no event files" in done.stderr, (command, done.stderr)
    assert cli("verify", name).returncode == 1
    with pytest.warns(SkippedFileWarning):
        assert run_files(tmp_path) == {}


def test_huge_declared_length_reads_only_what_is_there(tmp_path):
    """A valid-CRC length of 2**31-1 in a 16-byte file: a truncated record, no 2 GiB allocation."""
    length = struct.pack("<Q", (1 << 31) - 1)
    path = tmp_path / "events.out.tfevents.huge"
    path.write_bytes(length + struct.pack("<I", masked_crc32c(length)) + b"abcd")
    tracemalloc.start()
    try:
        assert list(read_events(path)) == []
        with pytest.raises(TruncatedRecordError, match="offset|byte 0"):
            list(read_events(path, strict=True))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20, f"peak {peak} bytes"
    done = cli("verify", path)
    assert done.returncode == 1 and "truncated record" in done.stdout


# -- #5 FIFOs ----------------------------------------------------------------------------------


def test_fifo_named_like_an_event_file_is_skipped_and_said_so(tmp_path):
    _run(tmp_path)
    fifo = tmp_path / "events.out.tfevents.9999999999.fifo"
    os.mkfifo(fifo)
    with pytest.warns(SkippedFileWarning, match="not a regular file"):
        assert len(list(read_events(tmp_path))) == 4
    with pytest.warns(SkippedFileWarning):
        assert [p.step for p in scalars(tmp_path)["."]["x"]] == [0, 1, 2]
    for command in (["verify", tmp_path], ["inspect", tmp_path]):
        done = cli(*command, timeout=30)  # would block forever reading the FIFO
        assert done.returncode == 0, done.stderr
        assert "fifo: not a regular file" in done.stderr and "skipped" in done.stderr
    for command in (["dump", fifo], ["verify", fifo]):
        done = cli(*command, timeout=30)
        assert done.returncode == 1 and "not a regular file" in done.stderr + done.stdout
        assert "Traceback" not in done.stderr
    with pytest.raises(OSError, match="not a regular file"):
        event_files(fifo)


# -- #6 malformed scalars tensors that pass the CRC ---------------------------------------------


def _scalars_value(summary_value, dims, dtype=None, content=b"", floats=()) -> None:
    summary_value.metadata.plugin_data.plugin_name = "scalars"
    tensor = summary_value.tensor
    tensor.dtype = protos.DT_FLOAT if dtype is None else dtype
    for size in dims:
        tensor.tensor_shape.dim.add(size=size)
    if content:
        tensor.tensor_content = content
    tensor.float_val.extend(floats)


MALFORMED = {
    "shape [3e8], one value": dict(dims=[300_000_000], floats=[1.0]),
    "shape [2**31], one value": dict(dims=[1 << 31], floats=[1.0]),
    "two values, rank 0": dict(dims=[], floats=[1.0, 2.0]),
    "content not a multiple of the dtype": dict(dims=[], content=b"abc"),
    "string tensor": dict(dims=[], dtype=protos.DT_STRING),
    "complex": dict(dims=[], dtype=protos.DT_COMPLEX64),
    "negative dimension": dict(dims=[-1], floats=[1.0]),
    "unknown dtype": dict(dims=[], dtype=999, content=b"abcd"),
}


def test_malformed_scalars_tensors_are_skipped_with_file_and_offset(tmp_path):
    writer = EventFileWriter(str(tmp_path))
    for step, spec in enumerate(MALFORMED.values()):
        event = protos.Event(wall_time=1.0, step=step)
        _scalars_value(event.summary.value.add(tag="bad"), **spec)
        writer.add_event(event)
    good = protos.Event(wall_time=1.0, step=100)
    _scalars_value(good.summary.value.add(tag="bad"), [], floats=[0.5])
    writer.add_event(good)
    writer.close()
    tracemalloc.start()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = scalars(tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [(p.step, p.value) for p in result["."]["bad"]] == [(100, 0.5)]
    found = [w.message for w in caught if isinstance(w.message, MalformedValueWarning)]
    assert len(found) == len(MALFORMED)
    assert all(w.path == writer.path and w.tag == "bad" and w.offset > 0 for w in found)
    assert len({w.offset for w in found}) == len(MALFORMED)
    assert peak < 16 << 20, f"peak {peak} bytes for a {os.path.getsize(writer.path)}-byte file"
    # TensorBoard's loader reads past them as well, and so do describe/inspect.
    assert plugin_accumulator(tmp_path).Tags()["tensors"] == ["bad"]
    assert describe(tmp_path)[0].tags["bad"].count == len(MALFORMED) + 1
    done = cli("inspect", tmp_path)
    assert done.returncode == 0 and "Traceback" not in done.stderr


# -- a new user's first commands ---------------------------------------------------------------


def test_verify_of_a_file_that_is_not_an_event_file_says_so(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# A project\n\nSome words that are long enough to fill a record header.\n")
    done = cli("verify", readme)
    assert done.returncode == 1
    assert "not an event file" in done.stdout
    assert "not an event file" in cli("dump", readme).stderr


def test_empty_directory_both_commands_say_no_event_files(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    inspect = cli("inspect", tmp_path)
    verify = cli("verify", tmp_path)
    assert (inspect.returncode, verify.returncode) == (0, 1)
    assert f"no event files under {tmp_path}" in inspect.stderr
    assert f"no event files under {tmp_path}" in verify.stderr
    assert f"no event files under {tmp_path}" in cli("inspect", "--json", tmp_path).stderr
