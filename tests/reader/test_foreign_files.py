"""Files that TensorFlow wrote, read by ``frames`` and compared with TensorBoard's data layer.

The logdirs under ``tf_written/`` were written by TensorFlow 2.21 (``make_logdirs.py`` beside them):
``tf.summary`` eager and in ``tf.function``, ``tf.summary.write`` without plugin metadata, and a TF1
session that restarts. Issue 16, items 18 (tensors without metadata) and 19 (the TF2 scalar record
shape decoded without protobuf).
"""

from __future__ import annotations

import os
import shutil
import time

import numpy as np
import pytest

pytest.importorskip("pandas")

from eventwriter import frames, protos  # noqa: E402
from eventwriter.frames.scalar_shape import decode_scalars  # noqa: E402
from eventwriter.reader import run_files  # noqa: E402
from eventwriter.record import encode_record, read_records  # noqa: E402
from support.frames_oracle import KINDS, assert_same, mismatches  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TF = os.path.join(HERE, "tf_written")


def _copy(tmp_path, *layouts):
    for layout in layouts:
        shutil.copytree(os.path.join(TF, layout), tmp_path / layout)
    return tmp_path


@pytest.mark.parametrize("kind", KINDS)
def test_tensorflow_written_logdirs_equal_the_data_layer(tmp_path, kind):
    logdir = _copy(tmp_path, "tf2", "tf2_function", "tf1")
    assert_same(logdir, kind, workers=0)


def test_tensors_without_metadata_are_tensors_rows(tmp_path):
    logdir = _copy(tmp_path, "tf2")
    got = assert_same(logdir, "tensors", workers=0)
    assert sorted(tag for _, tag in got) == ["raw/float", "raw/int64", "raw/matrix", "raw/string", "raw/vector"]
    table = frames.tensors(logdir)
    assert set(table.plugin) == {""}  # no plugin at all
    row = table[table.tag == "raw/float"].iloc[0]
    assert (row["dtype"], row["shape"], float(row["value"])) == ("float32", [], 0.25)
    # a rank-0 float without the scalars plugin is not a scalar (TensorBoard does not show it either)
    assert "raw/float" not in set(frames.scalars(logdir).tag)


def test_tf1_session_restart_is_purged_as_tensorboard_does(tmp_path):
    logdir = _copy(tmp_path, "tf1")
    got = assert_same(logdir, "scalars", workers=0)
    # session 1 wrote steps 0-9, session 2 restarted at 5: steps >= 5 of session 1 are dropped
    assert [(step, value) for step, _, value in got[("tf1", "loss")]] == [(s, float(s)) for s in range(5)] + [
        (s, 100.0 + s) for s in range(5, 8)
    ]


def _scalar_payloads(path):
    with open(path, "rb") as fh:
        return [r.payload for r in read_records(fh)]


def test_tf2_scalar_records_are_decoded_without_protobuf(tmp_path, monkeypatch):
    logdir = _copy(tmp_path, "tf2", "tf2_function")
    expected = frames.scalars(logdir, workers=0)
    parsed = []
    real = protos.Event.FromString
    monkeypatch.setattr(protos.Event, "FromString", staticmethod(lambda data: parsed.append(len(data)) or real(data)))
    got = frames.scalars(logdir, workers=0)
    assert got.equals(expected) and len(got) == 40 * 2 + 30
    # Only the records that are not scalars go through protobuf (the file_version record of each
    # file, the text, the histogram and the five tensors without metadata), and the step-0 record
    # of each scalar tag: without a step field it is the only record of its length, and lengths
    # that occur fewer than 16 times are cheaper per record (framing._MIN_BATCH_ROWS).
    assert len(parsed) <= (2 + 1 + 1 + 5) + 3, parsed


def _strip_metadata_after_first(src, dst):
    """A copy of ``src`` where only each tag's first value keeps its metadata (as older TF writers did)."""
    seen = set()
    out = []
    for payload in _scalar_payloads(src):
        event = protos.Event.FromString(payload)
        for value in event.summary.value:
            if value.tag in seen:
                value.ClearField("metadata")
            seen.add(value.tag)
        out.append(encode_record(event.SerializeToString()))
    with open(dst, "wb") as fh:
        fh.write(b"".join(out))


def test_tf2_scalars_with_metadata_on_the_first_record_only(tmp_path):
    run = tmp_path / "stripped"
    run.mkdir()
    (src,) = run_files(os.path.join(TF, "tf2"))["."]
    _strip_metadata_after_first(src, run / os.path.basename(src))
    got = assert_same(tmp_path, "scalars", workers=0)
    assert len(got[("stripped", "loss")]) == 40
    assert_same(tmp_path, "tensors", workers=0)


def test_every_fast_path_template_parses_to_the_same_event():
    """Each record shape the fast path decodes gives, under protobuf, the decoded step, time, tag and value."""
    rng = np.random.default_rng(5)
    from eventwriter.frames.scalar_shape import templates

    from eventwriter import wire

    for t in templates():
        for step in (None, 0, 1, 300, 2**40, -7):
            for tag in ("", "a", "metrics/accuracy", "é" * 30):
                raw = tag.encode("utf-8")
                values = rng.normal(size=20).astype(np.float32)
                payloads = []
                for v in values:
                    value = wire.length_delimited(bytes((wire.KEY_TAG,)), raw) + t.middle + v.tobytes() + t.suffix
                    payloads.append(wire.event_prefix(1234.5, step) + wire.summary_field(value))
                matrix = np.frombuffer(b"".join(payloads), np.uint8).reshape(len(payloads), -1).T.copy()
                rows = decode_scalars(matrix)
                assert len(rows.rows) == len(payloads), (t, step, tag)
                for i, payload in enumerate(payloads):
                    event = protos.Event.FromString(payload)
                    (value,) = event.summary.value
                    assert (event.step, event.wall_time, value.tag) == (rows.step[i], rows.wall_time[i], rows.tags[rows.tag_codes[i]].decode())
                    kind = value.WhichOneof("value")
                    assert kind == ("tensor" if t.tensor else "simple_value")
                    number = value.simple_value if kind == "simple_value" else np.frombuffer(
                        value.tensor.tensor_content or np.float32(value.tensor.float_val[0]).tobytes(), "<f4"
                    )[0]
                    assert np.float32(number).tobytes() == rows.value[i].tobytes()
                    assert value.HasField("metadata") == (t.tensor and t.meta)


def _tf2_logdir(root, points):
    """``points`` TF2-shaped scalar records (bytes as ``tf.summary.scalar`` writes them) in one run."""
    from eventwriter import wire
    from eventwriter.frames.scalar_shape import templates

    tf2 = templates()[1]  # tensor_content + metadata on every record, as TensorFlow 2.21 writes
    run = root / "run"
    run.mkdir(parents=True)
    chunks = [encode_record(wire.file_version_event(1.0, "tensorflow.core.util.events_writer"))]
    for tag in ("loss", "accuracy"):
        raw = wire.length_delimited(bytes((wire.KEY_TAG,)), tag.encode())
        values = np.linspace(0, 1, points // 2, dtype=np.float32)
        chunks += [
            encode_record(wire.event_prefix(100.0 + s, s) + wire.summary_field(raw + tf2.middle + v.tobytes() + tf2.suffix))
            for s, v in enumerate(values)
        ]
    (run / "events.out.tfevents.1.host.v2").write_bytes(b"".join(chunks))
    return root


def test_synthetic_tf2_records_match_a_real_tensorflow_file():
    """The benchmark's TF2 records have the bytes TensorFlow writes (checked on a record of tf2/)."""
    from eventwriter import wire
    from eventwriter.frames.scalar_shape import templates

    (src,) = run_files(os.path.join(TF, "tf2"))["."]
    real = _scalar_payloads(src)[1]
    event = protos.Event.FromString(real)
    (value,) = event.summary.value
    tf2 = templates()[1]
    v = np.frombuffer(value.tensor.tensor_content, "<f4")[0]
    raw = wire.length_delimited(bytes((wire.KEY_TAG,)), value.tag.encode())
    assert wire.event_prefix(event.wall_time, event.step) + wire.summary_field(raw + tf2.middle + v.tobytes() + tf2.suffix) == real


def test_tf2_scalars_speed_is_printed_not_asserted(tmp_path):
    logdir = _tf2_logdir(tmp_path, 20000)
    start = time.perf_counter()
    table = frames.scalars(logdir, workers=0)
    elapsed = time.perf_counter() - start
    assert len(table) == 20000
    assert mismatches(logdir, "scalars", workers=0) == []
    print(f"20,000 TF2 scalars: {elapsed:.3f} s")
