"""Mutated event files: every ``frames`` kind equals TensorBoard's data layer, whole-file and in windows.

The corpus holds every record shape ``frames`` decodes on its own paths: torch-style
``simple_value`` scalars, TensorFlow 2 scalar tensors (with plugin metadata on every record, and
on the first record of a tag only), ``new_style`` float tensors, tensors without any metadata
(``tf.summary.write``), text, histograms (old-style and tensors), images, audio, PR curves, hparams,
a restart (``SessionLog.START``), and hostile shapes. Each seeded mutation (bit flips, truncation,
inserted or deleted bytes, damage behind valid CRCs, lying lengths, repeated or dropped records,
hostile field values, steps going back, metadata removed) is read whole and with a window of 1-300
bytes, and compared row by row with ``plugin_event_accumulator``. A file the accumulator cannot
load at all (a CRC-valid record that is not an Event makes ``Reload()`` raise) is left out; every
other difference counts.
"""

from __future__ import annotations

import io
import math
import os
import random
import warnings

import numpy as np
import pytest

pytest.importorskip("pandas")

from eventwriter import SummaryWriter, protos, wire  # noqa: E402
from eventwriter.frames import file_reader  # noqa: E402
from eventwriter.frames.scalar_shape import templates  # noqa: E402
from eventwriter.metadata import summary_metadata  # noqa: E402
from eventwriter.reader import event_files  # noqa: E402
from eventwriter.record import encode_record, read_records  # noqa: E402
from support.frames_oracle import KINDS, mismatches  # noqa: E402
from support.tbutil import plugin_accumulator  # noqa: E402

SEED = 20261205
CASES = 60
HERE = os.path.dirname(os.path.abspath(__file__))


def _payloads(path):
    with open(path, "rb") as fh:
        return [r.payload for r in read_records(fh)]


def _scalar_record(t, tag, step, value):
    raw = wire.length_delimited(bytes((wire.KEY_TAG,)), tag.encode())
    return wire.event_prefix(1000.0 + step, step) + wire.summary_field(raw + t.middle + np.float32(value).tobytes() + t.suffix)


def corpus(tmp_path_factory) -> bytes:
    logdir = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(0)
    with SummaryWriter(str(logdir)) as w:
        for step in range(20):
            w.add_scalar("old", 1.0 / (step + 1), step)
            w.add_scalar("new", step * 0.5, step, new_style=True)
        w.add_text("note", "hello *world*", 1)
        w.add_tensor("t", np.arange(6, dtype=np.int32).reshape(2, 3), 1)
        w.add_histogram("h", rng.normal(size=200), 1)
        w.add_histogram_raw("raw", 0, 10, 3, 12, 50, [0, 1, 5, 10], [0, 1, 2, 0], 2)
        w.add_image("img", rng.random((3, 4, 5)), 1)
        w.add_audio("a", rng.uniform(-1, 1, 200), 1, sample_rate=8000)
        w.add_pr_curve("pr", rng.integers(0, 2, 50), rng.random(50), 1, num_thresholds=5)
        w.add_custom_scalars({"c": {"x": ["Multiline", ["old"]]}})
        w.add_hparams({"lr": 0.1, "opt": "sgd"}, {"old": 0.5})
    (path,) = event_files(logdir)
    payloads = _payloads(path)
    # TensorFlow 2's own records: scalars with metadata, tensors without any, text and histograms.
    (tf_path,) = event_files(os.path.join(HERE, "tf_written", "tf2"))
    payloads += _payloads(tf_path)[1:]
    # TF2 scalars whose metadata is on each tag's first record only, and new-style shapes.
    for i, t in enumerate(templates()[1:]):
        for step in range(20):
            shape = t if step == 0 or not t.meta else templates()[1 + (i // 2) * 2 + 1]  # later records without metadata
            payloads.append(_scalar_record(shape, f"tf/{i}", step, step / 3))
    # A tensor without metadata that looks like a scalar, repeated enough for the batch decoder.
    for step in range(20):
        payloads.append(_scalar_record(templates()[2], "bare", step, step))
    # A second session: a restart at step 10 (the run's second START: TensorBoard purges).
    payloads.append(wire.session_start_event(2000.0, 3))
    payloads.append(wire.session_start_event(2001.0, 10))
    for step in range(10, 14):
        payloads.append(_scalar_record(templates()[0], "old", step, -step))
    return b"".join(encode_record(p) for p in payloads)


@pytest.fixture(scope="module")
def corpus_bytes(tmp_path_factory) -> bytes:
    return corpus(tmp_path_factory)


def _records(data):
    return [r.payload for r in read_records(io.BytesIO(data))]


def _tamper(rng, payload):
    event = protos.Event.FromString(payload)
    choice = rng.randrange(8)
    if choice == 0:
        event.wall_time = rng.choice([math.nan, math.inf, 1e20, -1e300])
    elif choice == 1:
        event.step = rng.choice([-1, 0, 5, (1 << 63) - 1])  # often a step going back
    elif event.WhichOneof("what") == "summary" and event.summary.value:
        value = rng.choice(list(event.summary.value))
        if choice == 2:
            value.ClearField("metadata")
        elif choice == 3:
            value.metadata.CopyFrom(summary_metadata(rng.choice(["scalars", "text", "histograms", "tensor", "images"])))
        else:
            tensor = value.tensor
            del tensor.tensor_shape.dim[:]
            for size in rng.choice([[300_000_000], [1 << 31], [-1], [], [0], [3, 1 << 40], [2], [1, 1]]):
                tensor.tensor_shape.dim.add(size=size)
            if choice >= 6:
                tensor.dtype = rng.choice([1, 2, 3, 7, 9, 10, 19])
    else:
        event.file_version = rng.choice(["brain.Event:2", "brain.Event:1", "x"])
    return event.SerializeToString()


def mutate(rng, data):
    kind = rng.randrange(8)
    buf = bytearray(data)
    if kind == 0:
        for _ in range(rng.randint(1, 6)):
            buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
        return bytes(buf)
    if kind == 1:
        return bytes(buf[: rng.randrange(len(buf))])
    if kind == 2:
        at = rng.randrange(len(buf))
        if rng.random() < 0.5:
            return bytes(buf[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 16))) + buf[at:])
        return bytes(buf[:at] + buf[at + rng.randint(1, 16) :])
    records = _records(data)
    i = rng.randrange(len(records))
    if kind == 3:
        payload = bytearray(records[i])
        payload[rng.randrange(len(payload))] = rng.randrange(256)
        records[i] = bytes(payload)
    elif kind == 4:
        records.insert(rng.randrange(len(records)), records[i])
        del records[rng.randrange(len(records))]
    else:
        for j in rng.sample(range(len(records)), 3):
            try:
                records[j] = _tamper(rng, records[j])
            except Exception:  # noqa: BLE001 - not an Event: leave it
                pass
    return b"".join(encode_record(p) for p in records)


def _loadable(run_dir) -> bool:
    try:
        plugin_accumulator(run_dir)
    except Exception:  # noqa: BLE001 - TensorBoard's Reload() raises on a CRC-valid non-Event
        return False
    return True


@pytest.mark.timeout(600)
def test_mutated_files_equal_the_data_layer_whole_and_in_windows(corpus_bytes, tmp_path, monkeypatch):
    rng = random.Random(SEED)
    findings = []
    compared = 0
    for case in range(CASES):
        data = corpus_bytes if case == 0 else mutate(rng, corpus_bytes)
        logdir = tmp_path / f"case{case:03d}"
        run = logdir / "r"
        run.mkdir(parents=True)
        (run / "events.out.tfevents.0000000001.fuzz.1.00000").write_bytes(data)
        if not _loadable(str(run)):
            continue
        compared += 1
        window = rng.randint(1, 300)
        for kind in KINDS:
            for size in (file_reader.WINDOW_BYTES, window):
                monkeypatch.setattr(file_reader, "WINDOW_BYTES", size)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    problems = mismatches(logdir, kind, workers=0)
                findings += [f"case {case} window {size}: {p}" for p in problems]
        monkeypatch.setattr(file_reader, "WINDOW_BYTES", 1 << 20)
    print(f"{compared} of {CASES} mutated files compared, {len(findings)} mismatches")
    assert compared > CASES // 2
    assert findings == [], "\n".join(findings[:20])
