"""The hand-encoded hot-path events are byte-identical to protobuf's serialization."""

from __future__ import annotations

import math

import pytest
from tensorboard.compat.proto import event_pb2 as tb_event_pb2

from eventwriter import protos, wire


@pytest.mark.parametrize("tag", ["loss", "a/b/c", "x" * 200, "ünï/código", ""])
@pytest.mark.parametrize("step", [None, 0, 1, 127, 128, 2**40, -1, -(2**63)])
@pytest.mark.parametrize("value", [0.0, 0.1, -3.5, 1e30, math.inf, -math.inf])
def test_scalar_event_bytes(tag, step, value):
    ours = wire.event_prefix(1234.5, step) + wire.summary_field(wire.simple_value_entry(tag) + wire.float32_bytes(value))
    expected = protos.Event(wall_time=1234.5, summary=protos.Summary(value=[protos.Summary.Value(tag=tag, simple_value=value)]))
    if step is not None:
        expected.step = step
    assert ours == expected.SerializeToString()
    parsed = tb_event_pb2.Event.FromString(ours)
    assert parsed.summary.value[0].tag == tag and parsed.step == (step or 0)


def test_float32_overflow_becomes_inf():
    import struct

    assert struct.unpack("<f", wire.float32_bytes(1e300))[0] == math.inf
    assert struct.unpack("<f", wire.float32_bytes(-1e300))[0] == -math.inf
    assert math.isnan(struct.unpack("<f", wire.float32_bytes(math.nan))[0])


def test_file_version_and_session_start_events():
    header = tb_event_pb2.Event.FromString(wire.file_version_event(99.25, "eventwriter"))
    assert header.file_version == "brain.Event:2" and header.source_metadata.writer == "eventwriter"
    assert header.wall_time == 99.25 and header.step == 0
    purge = tb_event_pb2.Event.FromString(wire.file_version_event(1.0, None, 5))
    assert purge.step == 5 and not purge.HasField("source_metadata")
    start = tb_event_pb2.Event.FromString(wire.session_start_event(1.0, 5))
    assert start.step == 5 and start.session_log.status == tb_event_pb2.SessionLog.START


def test_varint_matches_protobuf():
    assert wire.varint(0) == b"\x00" and wire.varint(300) == b"\xac\x02"
    assert wire.varint(-1) == b"\xff" * 9 + b"\x01"
    for n in [0, 1, 127, 128, 300, 0x3FFF, 0x4000, 2**31, 2**63 - 1, -1, -(2**63)]:
        # A packed repeated int64 holding one element writes even 0: key 0x52, length, the varint.
        encoded = protos.TensorProto(int64_val=[n]).SerializeToString()
        assert encoded == b"\x52" + bytes([len(wire.varint(n))]) + wire.varint(n), n
        if n:
            assert protos.Event(step=n).SerializeToString() == b"\x10" + wire.varint(n), n


@pytest.mark.parametrize("tag", ["loss", "x" * 200, ""])
def test_simple_value_prefix_completes_to_protobufs_bytes(tag):
    head = wire.event_prefix(5.0, 7) + wire.simple_value_prefix(tag) + wire.float32_bytes(0.25)
    expected = protos.Event(wall_time=5.0, step=7, summary=protos.Summary(value=[protos.Summary.Value(tag=tag, simple_value=0.25)]))
    assert head == expected.SerializeToString()


def test_summary_graph_and_run_metadata_events_match_protobuf():
    summary = protos.Summary(value=[protos.Summary.Value(tag="t", simple_value=1.0)])
    assert wire.summary_event(3.5, 9, summary.SerializeToString()) == protos.Event(wall_time=3.5, step=9, summary=summary).SerializeToString()
    graph = protos.GraphDef(node=[protos.NodeDef(name="a", op="b")]).SerializeToString()
    assert wire.graph_event(3.5, graph) == protos.Event(wall_time=3.5, graph_def=graph).SerializeToString()
    run_metadata = protos.RunMetadata(step_stats=protos.StepStats(dev_stats=[protos.DeviceStepStats(device="/device:CPU:0")]))
    expected = protos.Event(
        wall_time=3.5, tagged_run_metadata=protos.TaggedRunMetadata(tag="step1", run_metadata=run_metadata.SerializeToString())
    )
    assert wire.tagged_run_metadata_event(3.5, "step1", run_metadata.SerializeToString()) == expected.SerializeToString()


@pytest.mark.parametrize("tag", ["loss", "x" * 200, "ünï/código", ""])
@pytest.mark.parametrize("step", [None, 0, 5, 2**40, -1])
def test_tensor_scalar_parts_complete_to_protobufs_bytes(tag, step):
    """The new-style scalar (the framework adapters' per-batch path) is what protobuf writes for
    ``scalar_summary(new_style=True)``, and TensorBoard reads a rank-0 float tensor with ``scalars`` metadata."""
    from eventwriter.summaries.scalar import scalar_summary

    head, tail = wire.tensor_scalar_parts(tag)
    ours = wire.event_prefix(5.0, step) + head + wire.float32_bytes(0.25) + tail
    expected = protos.Event(wall_time=5.0, summary=scalar_summary(tag, 0.25, new_style=True))
    if step is not None:
        expected.step = step
    assert ours == expected.SerializeToString()
    (value,) = tb_event_pb2.Event.FromString(ours).summary.value
    assert value.metadata.plugin_data.plugin_name == "scalars"
    assert value.tensor.dtype == 1 and list(value.tensor.float_val) == [0.25] and not value.tensor.tensor_shape.dim


def test_tensor_scalars_take_the_frames_fast_path():
    import numpy as np

    from eventwriter.frames.scalar_shape import decode_scalars

    head, tail = wire.tensor_scalar_parts("loss")
    payloads = [wire.event_prefix(1.0 + s, s) + head + wire.float32_bytes(s / 4) + tail for s in range(1, 9)]
    rows = decode_scalars(np.frombuffer(b"".join(payloads), np.uint8).reshape(len(payloads), -1).T.copy())
    assert rows.step.tolist() == list(range(1, 9)) and rows.value.tolist() == [s / 4 for s in range(1, 9)]
    assert rows.meta.all() and rows.tags == [b"loss"]
