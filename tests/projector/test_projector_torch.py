"""add_embedding against torch.utils.tensorboard: the same calls through both writers, compared
value by value through TensorBoard's loaders (this file needs torch; the torch-free tests are in
test_projector.py)."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from google.protobuf import text_format

from eventwriter import SummaryWriter
from eventwriter.summaries.graph import graph_events
from eventwriter.projector import EMPTY_LABEL

torch = pytest.importorskip("torch")
from torch.utils.tensorboard import SummaryWriter as TorchWriter  # noqa: E402

from test_projector import _entries, _metadata_rows, _pixels, _read  # noqa: E402


def _both(tmp_path, torch_kwargs=None, **kwargs):
    """Log one embedding with torch and with eventwriter; return the two logdirs."""
    theirs, ours = tmp_path / "torch", tmp_path / "ours"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = TorchWriter(str(theirs))
        w.add_embedding(**(torch_kwargs or kwargs))
        w.close()
    with SummaryWriter(str(ours)) as w:
        w.add_embedding(**kwargs)
    return theirs, ours


def test_files_and_config_match_torch(tmp_path):
    rng = np.random.default_rng(0)
    mat = torch.from_numpy(rng.standard_normal((16, 5)).astype(np.float32))
    labels = [f"point {i}" for i in range(16)]
    images = torch.from_numpy(rng.random((16, 3, 8, 8)).astype(np.float32))
    theirs, ours = _both(tmp_path, mat=mat, metadata=labels, label_img=images, global_step=3, tag="emb/a b%\\")

    t_entries, o_entries = _entries(theirs), _entries(ours)
    assert list(o_entries) == list(t_entries) == ["emb/a b%\\:00003"]
    t, o = t_entries["emb/a b%\\:00003"], o_entries["emb/a b%\\:00003"]
    assert o == t  # tensor_path, metadata_path, sprite path and [W, H]: every field equal
    assert o.tensor_path == "00003/emb%2fa b%25%5c/tensors.tsv"
    assert list(o.sprite.single_image_dim) == [8, 8]

    assert _read(ours, o.tensor_path) == _read(theirs, t.tensor_path)  # same text, byte for byte
    np.testing.assert_array_equal(np.loadtxt(os.path.join(ours, o.tensor_path), ndmin=2), mat.numpy().astype(np.float64))
    assert _read(ours, o.metadata_path) == _read(theirs, t.metadata_path)
    np.testing.assert_array_equal(_pixels(ours, o.sprite.image_path), _pixels(theirs, t.sprite.image_path))


@pytest.mark.parametrize(
    "values",
    [
        np.random.default_rng(1).standard_normal((40, 7)).astype(np.float32) * np.float32(1e3),
        np.random.default_rng(2).standard_normal((30, 6)),  # float64
        np.random.default_rng(3).standard_normal((20, 5)).astype(np.float16),
        np.array([[0.0, -0.0, 1.0, -2.5, 0.1], [1e-5, 1e-4, 1e16, 1e17, 123456789.0], [np.nan, np.inf, -np.inf, 5e-324, 1.7e308]]),
        np.random.default_rng(4).integers(-(10**12), 10**12, (10, 9)),
        (np.random.default_rng(5).integers(0, 256, (200, 784)) / 255).astype(np.float32),  # few distinct values
        np.concatenate([(np.arange(300 * 784).reshape(300, 784) % 256 / 255).astype(np.float32), [[0.1] * 784]]),
        np.maximum(np.random.default_rng(6).standard_normal((100, 700)).astype(np.float32), 0),  # half zeros
        (np.random.default_rng(7).standard_normal((50, 40)) * 10.0 ** np.random.default_rng(8).integers(-8, 20, (50, 40))),
        np.random.default_rng(9).integers(-20000, 20000, (100, 700)).astype(np.float32),  # whole numbers
        np.random.default_rng(10).integers(0, 10**9, (40, 30)) * 10.0 ** np.random.default_rng(11).integers(0, 8, (40, 30)),
    ],
    ids=[
        "float32", "float64", "float16", "special", "int64", "pixels", "pixels-and-outlier", "relu", "wide-range",
        "whole-float32", "whole-float64",
    ],
)
def test_tensors_tsv_text_equals_torch(tmp_path, values):
    theirs, ours = _both(tmp_path, mat=values)
    path = "00000/default/tensors.tsv"
    assert _read(ours, path) == _read(theirs, path)


def test_sprite_equals_torch_for_any_count(tmp_path):
    # torch pads the grid to ceil(sqrt(N)) rows of square cells; for square thumbnails our grid is the same
    rng = np.random.default_rng(8)
    for n in (1, 2, 5, 10):
        images = torch.from_numpy(rng.random((n, 1, 6, 6)).astype(np.float32))
        theirs, ours = _both(tmp_path / str(n), mat=np.zeros((n, 2), np.float32), label_img=images)
        path = "00000/default/sprite.png"
        np.testing.assert_array_equal(_pixels(ours, path), _pixels(theirs, path))


def test_multi_column_metadata(tmp_path):
    header = ["name", "class"]
    rows = [[f"n{i}", i % 3] for i in range(6)]
    theirs, ours = _both(tmp_path, mat=np.ones((6, 2)), metadata=rows, metadata_header=header)
    path = "00000/default/metadata.tsv"
    assert _read(ours, path) == _read(theirs, path)
    # tabs and newlines inside fields, and an all-empty row
    messy = [["a\tb", "1"], ["", " "], ["c\nd", "2"]]
    with SummaryWriter(str(tmp_path / "messy")) as w:
        w.add_embedding(np.ones((3, 2)), metadata=messy, metadata_header=["x\ty", "z"])
    got_header, got = _metadata_rows(_read(tmp_path / "messy", path).decode())
    assert got_header == ["x y", "z"]
    assert got == [["a b", "1"], [EMPTY_LABEL, " "], ["c d", "2"]]


def test_tensor_and_other_inputs(tmp_path):
    mat = torch.randn(9, 3, requires_grad=True)
    labels = torch.arange(9)
    images = torch.randint(0, 256, (9, 3, 4, 4), dtype=torch.uint8)
    with SummaryWriter(str(tmp_path)) as w:
        w.add_embedding(mat, metadata=labels, label_img=images, global_step=torch.tensor(12))
        w.add_embedding(np.array([[True, False]]), tag="bool")
    entry = _entries(tmp_path)["default:00012"]
    assert _read(tmp_path, entry.metadata_path) == "".join(f"{i}\n" for i in range(9)).encode()
    np.testing.assert_array_equal(np.loadtxt(os.path.join(tmp_path, entry.tensor_path)), mat.detach().numpy())
    sprite = _pixels(tmp_path, entry.sprite.image_path)
    np.testing.assert_array_equal(sprite[:4, 4:8], images[1].permute(1, 2, 0).numpy())
    assert _read(tmp_path, "00000/bool/tensors.tsv") == b"1.0\t0.0\n"


class _Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 2, 3)
        self.fc = torch.nn.Linear(2 * 4 * 4, 3)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).flatten(1))


@pytest.mark.server
@pytest.mark.slow
@pytest.mark.parametrize("load_fast", [True, False], ids=["rust", "python"])
def test_tensorboard_serves_embedding_and_graph(tmp_path, tb_server, load_fast):
    rng = np.random.default_rng(9)
    mat = rng.standard_normal((10, 4)).astype(np.float32)
    labels = [f"item {i}" for i in range(10)]
    images = rng.random((10, 3, 5, 7)).astype(np.float32)  # non-square thumbnails
    model, example = _Net(), torch.randn(1, 1, 6, 6)
    with SummaryWriter(str(tmp_path)) as w:
        w.add_embedding(mat, metadata=labels, label_img=images, tag="feat", global_step=2)
        w.add_graph(model, example)
    name = "feat:00002"
    ours = _entries(tmp_path)[name]

    server = tb_server(tmp_path, load_fast=load_fast)
    listing = server.wait_for(
        lambda d: d.get("projector", {}).get("enabled") and d.get("graphs", {}).get("enabled"), "/data/plugins_listing"
    )
    assert listing["projector"]["enabled"] and listing["graphs"]["enabled"]
    assert server.get_json("/data/plugin/projector/runs") == ["."]
    info = server.get_json("/data/plugin/projector/info?run=.")
    (embedding,) = [e for e in info["embeddings"] if e["tensorName"] == name]
    assert embedding["tensorShape"] == [10, 4]
    assert embedding["sprite"]["singleImageDim"] == [7, 5]
    tensor = np.frombuffer(server.get(f"/data/plugin/projector/tensor?run=.&name={name}"), dtype="<f4").reshape(10, 4)
    np.testing.assert_array_equal(tensor, mat)
    metadata = server.get(f"/data/plugin/projector/metadata?run=.&name={name}").decode()
    assert metadata.split("\n")[:-1] == labels
    sprite = server.get(f"/data/plugin/projector/sprite_image?run=.&name={name}")
    assert sprite == _read(tmp_path, ours.sprite.image_path)

    from tensorboard.compat.proto import graph_pb2

    served = graph_pb2.GraphDef()
    text_format.Parse(server.get("/data/plugin/graphs/graph?run=.&conceptual=false").decode(), served)
    expected, _ = graph_events(model, example)
    assert [(n.name, n.op, list(n.input)) for n in served.node] == [(n.name, n.op, list(n.input)) for n in expected.node]
    assert any(n.op == "aten::_convolution" and n.name.startswith("_Net/Conv2d[conv]/") for n in served.node)
