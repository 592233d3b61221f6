"""add_graph (torch models traced) against torch.utils.tensorboard: the same calls through both writers, compared
value by value through TensorBoard's loaders (this file needs torch; the torch-free tests are in
test_graph.py)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from eventwriter import SummaryWriter
from eventwriter.summaries.graph import GraphTraceError, graph_events, onnx_graph_def
from support.tbutil import legacy_accumulator, plugin_accumulator

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.utils.tensorboard import SummaryWriter as TorchWriter  # noqa: E402
from torch.utils.tensorboard._pytorch_graph import graph as torch_graph  # noqa: E402


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.fc = nn.Linear(4 * 6 * 6, 10)
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(10, 3))

    def forward(self, x):
        return self.head(self.fc(torch.relu(self.conv(x)).flatten(1)))


class TwoInputsLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(3, 3)
        self.lstm = nn.LSTM(3, 4, batch_first=True)

    def forward(self, x, y):
        out, (h, _c) = self.lstm(self.proj(x))
        return out, h + y.sum(), x


class DictOutput(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        return {"logits": self.fc(x), "double": x * 2}


class Exploding(nn.Module):
    def forward(self, x):
        raise ValueError("boom in forward")


def _node_set(graph_def) -> set:
    out = set()
    for n in graph_def.node:
        shapes = None
        if "_output_shapes" in n.attr:
            shapes = tuple(tuple(d.size for d in s.dim) for s in n.attr["_output_shapes"].list.shape)
        out.add((n.name, n.op, tuple(sorted(n.input)), n.attr["attr"].s, shapes))
    return out


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def test_torch_names_are_deterministic():
    model, x = ConvNet(), torch.randn(2, 1, 8, 8)
    first, _ = _quiet(torch_graph, model, x)
    second, _ = _quiet(torch_graph, model, x)
    assert first.SerializeToString(deterministic=True) == second.SerializeToString(deterministic=True)


def test_add_graph_matches_torch_through_loader(tmp_path):
    model, x = ConvNet(), torch.randn(2, 1, 8, 8)
    theirs = tmp_path / "torch"
    w = TorchWriter(str(theirs))
    _quiet(w.add_graph, model, x)
    w.close()
    with SummaryWriter(str(tmp_path / "ours")) as w:
        w.add_graph(model, x)

    t_graph, o_graph = plugin_accumulator(theirs).Graph(), plugin_accumulator(tmp_path / "ours").Graph()
    assert _node_set(o_graph) == _node_set(t_graph)
    assert [n.name for n in o_graph.node] == [n.name for n in t_graph.node]
    assert o_graph.versions.producer == t_graph.versions.producer == 22
    names = {n.name for n in o_graph.node}
    assert "output/output.1" in names and any(n.startswith("input/x") for n in names)
    assert any(n.startswith("ConvNet/Sequential[head]/Linear[1]/") for n in names)

    t_meta = legacy_accumulator(theirs).RunMetadata("step1")
    o_meta = legacy_accumulator(tmp_path / "ours").RunMetadata("step1")
    assert o_meta == t_meta
    assert [d.device for d in o_meta.step_stats.dev_stats] == ["/device:CPU:0"]


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")  # torch's LSTM code, not ours
@pytest.mark.parametrize(
    "make, example, strict",
    [
        (ConvNet, lambda: torch.randn(1, 1, 8, 8), True),
        (TwoInputsLSTM, lambda: (torch.randn(2, 5, 3), torch.randn(1)), True),
        (DictOutput, lambda: torch.randn(2, 3), False),
        (lambda: nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5), nn.BatchNorm1d(3)), lambda: torch.randn(4, 3), True),
        (lambda: pytest.importorskip("torchvision").models.resnet18(), lambda: torch.randn(1, 3, 32, 32), True),
    ],
    ids=["convnet", "lstm-multi-output", "dict-output", "dropout-batchnorm", "resnet18"],
)
def test_graph_def_identical_to_torch(make, example, strict):
    model, x = make(), example()
    model.train()
    theirs, t_meta = _quiet(torch_graph, model, x, use_strict_trace=strict)
    ours, o_meta = graph_events(model, x, use_strict_trace=strict)
    assert ours.SerializeToString(deterministic=True) == theirs.SerializeToString(deterministic=True)
    assert o_meta.SerializeToString(deterministic=True) == t_meta.SerializeToString(deterministic=True)
    assert model.training  # traced in eval mode, restored afterwards


@pytest.mark.parametrize(
    "model, example, strict, match",
    [
        (DictOutput(), torch.randn(2, 3), True, "use_strict_trace=False"),
        (Exploding(), torch.randn(2, 3), True, "boom in forward"),
        (nn.Linear(3, 2), torch.randn(2, 5), True, "cannot trace Linear"),
    ],
    ids=["dict-output-strict", "raises-in-forward", "wrong-input-shape"],
)
def test_untraceable_model_raises_clear_error_and_writer_keeps_working(tmp_path, model, example, strict, match):
    model.train()
    with SummaryWriter(str(tmp_path)) as w:
        with pytest.raises(GraphTraceError, match=match) as info:
            w.add_graph(model, example, use_strict_trace=strict)
        assert isinstance(info.value, RuntimeError)
        assert model.training
        w.add_scalar("loss", 1.0, 0)
        w.add_graph(ConvNet(), torch.randn(1, 1, 8, 8))
    acc = plugin_accumulator(tmp_path)
    assert "output/output.1" in {n.name for n in acc.Graph().node}
    assert "loss" in acc.Tags()["tensors"]


def _tiny_onnx_model(path):
    import onnx
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["xw"], name="mm"),
        helper.make_node("Add", ["xw", "b"], ["z"]),
        helper.make_node("Softmax", ["z"], ["y"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])],
        initializer=[
            helper.make_tensor("w", TensorProto.FLOAT, [3, 2], np.ones(6, np.float32)),
            helper.make_tensor("b", TensorProto.FLOAT, [2], np.zeros(2, np.float32)),
        ],
    )
    onnx.save(helper.make_model(graph), str(path))


def _exported_onnx_model(path):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 6 * 6, 4))
    _quiet(torch.onnx.export, model, (torch.randn(1, 1, 8, 8),), str(path), dynamo=False)


@pytest.mark.parametrize("build", [_tiny_onnx_model, _exported_onnx_model], ids=["onnx-helper", "torch-onnx-export"])
def test_onnx_graph_matches_torch(tmp_path, build, capsys):
    pytest.importorskip("onnx")
    path = tmp_path / "model.onnx"
    try:
        build(path)
    except Exception as exc:  # torch.onnx.export may need packages that are not installed
        pytest.skip(f"cannot build the ONNX file: {exc}")
    theirs = tmp_path / "torch"
    w = TorchWriter(str(theirs))
    w.add_onnx_graph(str(path))
    w.close()
    with SummaryWriter(str(tmp_path / "ours")) as w:
        w.add_onnx_graph(str(path))
    t_graph = plugin_accumulator(theirs).Graph()
    o_graph = plugin_accumulator(tmp_path / "ours").Graph()
    assert o_graph.SerializeToString(deterministic=True) == t_graph.SerializeToString(deterministic=True)
    assert onnx_graph_def(str(path)).SerializeToString(deterministic=True) == t_graph.SerializeToString(deterministic=True)
    ops = [n.op for n in o_graph.node]
    assert ops.count("Variable") == 2 and len(ops) > 2
