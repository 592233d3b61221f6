"""Bounded fuzzing: mutated event files through every reader entry point and every CLI command.

Seeded (reproducible), a fixed number of cases, each file a few KB. Every entry point may only
raise the documented exceptions (the RecordError family), emit the documented warnings, exit the
CLI with 0 or 1, and stay within a memory bound far above what a few-KB file needs but far below
what allocating from a damaged length or shape would cost.
"""

from __future__ import annotations

import contextlib
import io
import math
import random
import struct
import tracemalloc
import warnings

import numpy as np
import pytest

from eventwriter import SummaryWriter, protos
from eventwriter.cli import main as cli_main
from eventwriter.crc import masked_crc32c
from eventwriter.reader import (
    MalformedValueWarning,
    SkippedFileWarning,
    describe,
    event_files,
    read_events,
    read_file_events,
    run_files,
    scalars,
)
from eventwriter.record import RecordError, encode_record, read_records

SEED = 20261129
CASES = 160
MEMORY_BOUND = 48 << 20
DOCUMENTED_WARNINGS = (MalformedValueWarning, SkippedFileWarning)


def _corpus(tmp_path_factory) -> bytes:
    logdir = tmp_path_factory.mktemp("corpus")
    w = SummaryWriter(logdir)
    rng = np.random.default_rng(0)
    for step in range(3):
        w.add_scalar("loss", 1.0 / (step + 1), step)
        w.add_scalar("new", 0.5, step, new_style=True)
        w.add_scalar("double", 0.25, step, new_style=True, double_precision=True)
    w.add_text("note", "hello *world*", 1)
    w.add_tensor("t", np.arange(6, dtype=np.int32).reshape(2, 3), 1)
    w.add_histogram("h", rng.normal(size=200), 1)
    w.add_image("img", rng.random((3, 4, 5)), 1)
    w.add_audio("a", rng.uniform(-1, 1, 400), 1, sample_rate=8000)
    w.add_pr_curve("pr", rng.integers(0, 2, 50), rng.random(50), 1, num_thresholds=5)
    w.add_hparams({"lr": 0.1, "opt": "sgd"}, {"acc": 0.5})
    w.close()
    (path,) = event_files(logdir)
    with open(path, "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> bytes:
    return _corpus(tmp_path_factory)


def _records(data: bytes):
    return [r.payload for r in read_records(io.BytesIO(data))]


def _frame_with_length(payload: bytes, length: int) -> bytes:
    """A record whose length field (with a valid CRC) says ``length``, whatever the payload is."""
    head = struct.pack("<Q", length)
    return head + struct.pack("<I", masked_crc32c(head)) + payload + struct.pack("<I", masked_crc32c(payload))


def _tamper_event(rng: random.Random, payload: bytes) -> bytes:
    """Re-serialize the Event with one field set to something hostile (the CRCs will be valid)."""
    event = protos.Event.FromString(payload)
    choice = rng.randrange(6)
    if choice == 0:
        event.wall_time = rng.choice([math.nan, math.inf, -math.inf, 1e20, -1e300, 1e308])
    elif choice == 1:
        event.step = rng.choice([-1, -(1 << 63), (1 << 63) - 1])
    elif event.WhichOneof("what") == "summary" and event.summary.value:
        value = rng.choice(list(event.summary.value))
        if choice == 2:
            value.metadata.plugin_data.plugin_name = "scalars"  # claim any value is a scalar
        tensor = value.tensor
        dims = rng.choice([[300_000_000], [1 << 31], [-1], [(1 << 62), 4], [], [0], [3, 1 << 40]])
        del tensor.tensor_shape.dim[:]
        for size in dims:
            tensor.tensor_shape.dim.add(size=size)
        if choice >= 4:
            tensor.dtype = rng.choice([0, 1, 2, 3, 7, 8, 9, 10, 14, 18, 19, 23, 999])
        if choice == 5:
            tensor.tensor_content = bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 3, 5, 8])))
    else:
        event.file_version = "x" * rng.randrange(50)
    return event.SerializeToString()


def mutate(rng: random.Random, data: bytes) -> bytes:
    """One seeded mutation of an event file: raw byte damage, or damage behind valid CRCs."""
    kind = rng.randrange(8)
    buf = bytearray(data)
    if kind == 0:  # bit flips
        for _ in range(rng.randint(1, 8)):
            buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
        return bytes(buf)
    if kind == 1:  # truncation
        return bytes(buf[: rng.randrange(len(buf))])
    if kind == 2:  # inserted or deleted bytes
        at = rng.randrange(len(buf))
        if rng.random() < 0.5:
            return bytes(buf[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 16))) + buf[at:])
        return bytes(buf[:at] + buf[at + rng.randint(1, 16):])
    records = _records(data)
    i = rng.randrange(len(records))
    if kind == 3:  # payload bytes damaged behind a valid CRC
        payload = bytearray(records[i])
        for _ in range(rng.randint(1, 4)):
            if payload:
                payload[rng.randrange(len(payload))] = rng.randrange(256)
        records[i] = bytes(payload)
    elif kind == 4:  # a valid-CRC length field that lies (huge, or just too long)
        claimed = rng.choice([(1 << 31) - 1, 1 << 31, (1 << 64) - 1, len(records[i]) + 1000])
        framed = [encode_record(p) for p in records]
        framed[i] = _frame_with_length(records[i], claimed)
        return b"".join(framed)
    elif kind == 5:  # a record repeated, another dropped
        records.insert(rng.randrange(len(records)), records[i])
        del records[rng.randrange(len(records))]
    else:  # hostile field values in a well-formed Event
        records[i] = _tamper_event(rng, records[i])
    return b"".join(encode_record(p) for p in records)


def _exercise(logdir, path) -> list:
    """Every reader entry point and CLI command on one damaged file; returns what went wrong."""
    problems = []

    def call(name, fn):
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                fn()
            for w in caught:
                if not issubclass(w.category, DOCUMENTED_WARNINGS):
                    problems.append(f"{name}: undocumented warning {w.category.__name__}: {w.message}")
        except RecordError:
            pass
        except Exception as exc:  # noqa: BLE001 - anything else is a finding
            problems.append(f"{name}: {type(exc).__name__}: {exc}")

    call("read_file_events", lambda: list(read_file_events(path)))
    call("read_file_events(strict)", lambda: list(read_file_events(path, strict=True)))
    call("read_events(dir)", lambda: list(read_events(logdir)))
    call("event_files", lambda: event_files(logdir))
    call("run_files", lambda: run_files(logdir))
    call("scalars", lambda: scalars(logdir))
    call("describe", lambda: describe(logdir))
    for argv in (["inspect", logdir], ["inspect", "--json", logdir], ["dump", path], ["dump", "--raw", path],
                 ["verify", path], ["verify", "--all", "-q", logdir]):
        out, err = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = cli_main([str(a) for a in argv])
        except BaseException as exc:  # noqa: BLE001 - a CLI must not raise
            problems.append(f"eventwriter {argv[0]}: raised {type(exc).__name__}: {exc}")
            continue
        if code not in (0, 1):
            problems.append(f"eventwriter {argv[0]}: exit code {code}: {err.getvalue()}")
        if "Traceback" in err.getvalue():
            problems.append(f"eventwriter {argv[0]}: traceback: {err.getvalue()}")
    return problems


@pytest.mark.timeout(300)  # a hang guard, not a speed check: the cases are few and small
def test_fuzzed_event_files_only_raise_documented_errors(corpus, tmp_path):
    rng = random.Random(SEED)
    findings = []
    peaks = []
    for case in range(CASES):
        data = mutate(rng, corpus)
        logdir = tmp_path / f"case{case:03d}"
        logdir.mkdir()
        path = logdir / "events.out.tfevents.0000000001.fuzz.1.00000"
        path.write_bytes(data)
        tracemalloc.start()
        try:
            problems = _exercise(logdir, path)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        peaks.append(peak)
        if peak > MEMORY_BOUND:
            problems.append(f"peak memory {peak} bytes for a {len(data)}-byte file")
        findings.extend(f"case {case}: {p}" for p in problems)
    print(f"{CASES} cases; peak traced memory max {max(peaks) / 1e6:.1f} MB")
    assert findings == [], "\n".join(findings[:20])


def test_mutations_reach_every_layer(corpus, tmp_path):
    """The fuzzer is only as good as its mutations: check that they reach framing, parsing and values."""
    rng = random.Random(SEED)
    outcomes = set()
    path = tmp_path / "events.out.tfevents.0000000001.fuzz.1.00000"
    for _ in range(CASES):
        path.write_bytes(mutate(rng, corpus))
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                list(read_file_events(path))
                scalars(tmp_path)
            skipped = any(issubclass(w.category, MalformedValueWarning) for w in caught)
            outcomes.add("malformed value skipped" if skipped else "read")
        except RecordError as exc:
            outcomes.add(exc.kind)
    assert {"bad length CRC", "bad data CRC", "invalid event", "malformed value skipped", "read"} <= outcomes, outcomes
