"""eventwriter.reader on damaged input: absurd declared lengths, malformed scalar tensors."""

from __future__ import annotations

import os
import struct
import tracemalloc
import warnings

import pytest

from eventwriter import protos
from eventwriter.crc import masked_crc32c
from eventwriter.event_file import EventFileWriter
from eventwriter.reader import MalformedValueWarning, describe, read_events, scalars
from eventwriter.record import TruncatedRecordError
from support.tbutil import plugin_accumulator
from support.processes import run_cli


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
    done = run_cli("verify", path)
    assert done.returncode == 1 and "truncated record" in done.stdout


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
    done = run_cli("inspect", tmp_path)
    assert done.returncode == 0 and "Traceback" not in done.stderr
