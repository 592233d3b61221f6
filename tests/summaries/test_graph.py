"""Graphs without torch: ready GraphDefs and ONNX models, through TensorBoard's loaders (traced torch
models: test_graph_torch.py)."""

from __future__ import annotations

import os
import sys

import pytest

from eventwriter import SummaryWriter
from eventwriter.summaries.graph import graph_def_from, graph_events, is_graph_def, onnx_graph_def
from support.tbutil import plugin_accumulator



def test_graph_bytes_are_reproducible(tmp_path):
    """Map fields (NodeDef.attr) go to disk in key order, so one graph always gives the same file bytes."""
    from eventwriter import protos
    from support.tbutil import loader_events

    node = protos.NodeDef(name="a", op="b")
    for key in reversed([f"k{i:02d}" for i in range(20)]):
        node.attr[key].i = 1
    graph = protos.GraphDef(node=[node])
    with SummaryWriter(str(tmp_path)) as w:
        w.add_graph(graph)
    (path,) = [tmp_path / f for f in os.listdir(tmp_path) if "tfevents" in f]
    (on_disk,) = [e.graph_def for e in loader_events(path) if e.HasField("graph_def")]
    assert on_disk == graph.SerializeToString(deterministic=True)


def test_not_callable_model():
    with pytest.raises(TypeError, match="model"):
        graph_events(42)


def test_ready_graph_def_and_bytes(tmp_path):
    from tensorboard.compat.proto import graph_pb2

    theirs = graph_pb2.GraphDef()
    node = theirs.node.add(name="a/b", op="MatMul", input=["x", "y"])
    node.attr["T"].type = 1
    theirs.versions.producer = 27
    ours = graph_def_from(theirs)
    assert ours.SerializeToString(deterministic=True) == theirs.SerializeToString(deterministic=True)
    assert is_graph_def(theirs) and is_graph_def(ours) and not is_graph_def(node)
    assert graph_def_from(theirs.SerializeToString()) == ours
    assert graph_def_from(ours) is ours

    for i, given in enumerate([theirs, theirs.SerializeToString(), ours]):
        with SummaryWriter(str(tmp_path / str(i))) as w:
            w.add_graph(given)
        loaded = plugin_accumulator(tmp_path / str(i)).Graph()
        assert loaded.SerializeToString(deterministic=True) == theirs.SerializeToString(deterministic=True)

    with pytest.raises(ValueError, match="GraphDef"):
        graph_def_from(b"\xff\xff\xff")
    with pytest.raises(TypeError, match="GraphDef"):
        graph_def_from(3.5)


def test_onnx_missing_package(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes "import onnx" raise ImportError
    with pytest.raises(ImportError, match="pip install onnx"):
        onnx_graph_def(str(tmp_path / "model.onnx"))
    with SummaryWriter(str(tmp_path)) as w, pytest.raises(ImportError, match="onnx"):
        w.add_onnx_graph(str(tmp_path / "model.onnx"))


def test_onnx_missing_file(tmp_path):
    pytest.importorskip("onnx")
    with pytest.raises(FileNotFoundError):
        onnx_graph_def(str(tmp_path / "nope.onnx"))
    assert not os.path.exists(tmp_path / "nope.onnx")
