"""``EventFileWriter.add_event`` (torch's public ``FileWriter.add_event``): raw Events written as given."""

from __future__ import annotations

import os

from tensorboard.compat.proto import event_pb2 as tb_event_pb2
from tensorboard.compat.proto import summary_pb2 as tb_summary_pb2
from tensorboard.util import tensor_util

from eventwriter import SummaryWriter, protos
from support.tbutil import loader_events


def test_add_event_messages_and_bytes_read_back(tmp_path):
    ours = protos.Event(wall_time=10.5, step=3, summary=protos.Summary(value=[protos.Summary.Value(tag="a", simple_value=1.5)]))
    theirs = tb_event_pb2.Event(
        wall_time=11.0, step=4, summary=tb_summary_pb2.Summary(value=[tb_summary_pb2.Summary.Value(tag="b", simple_value=2.5)])
    )
    raw = tb_event_pb2.Event(wall_time=12.0, step=5, file_version="custom")
    with SummaryWriter(tmp_path) as w:
        w.file_writer.add_event(ours)  # our own message class
        w.file_writer.add_event(theirs)  # TensorBoard's message class
        w.file_writer.add_event(raw.SerializeToString())  # already serialized
    (name,) = [n for n in os.listdir(tmp_path) if "tfevents" in n]
    events = loader_events(os.path.join(tmp_path, name))[1:]  # after the file_version header
    assert [(e.wall_time, e.step) for e in events] == [(10.5, 3), (11.0, 4), (12.0, 5)]
    # the loader migrates simple_value into a rank-0 tensor, as TensorBoard serves it
    values = [(v.tag, float(tensor_util.make_ndarray(v.tensor))) for e in events[:2] for v in e.summary.value]
    assert values == [("a", 1.5), ("b", 2.5)]
    assert events[2].file_version == "custom"
