"""Projector (add_embedding): differential against torch, the config merge, and a running TensorBoard.

Both writers get the same inputs in two logdirs. The config is read with TensorBoard's own
``projector_config_pb2`` + ``text_format``; tensors.tsv is compared as text (we write exactly
torch's number formatting) and as values; sprites are compared as decoded pixels.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from google.protobuf import text_format
from PIL import Image
from tensorboard.plugins.projector import projector_config_pb2

from eventwriter import SummaryWriter
from eventwriter.summaries import float_repr
from eventwriter.summaries.graph import graph_events
from eventwriter.projector import EMPTY_LABEL, write_embedding

torch = pytest.importorskip("torch")
from torch.utils.tensorboard import SummaryWriter as TorchWriter  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _config(logdir) -> projector_config_pb2.ProjectorConfig:
    config = projector_config_pb2.ProjectorConfig()
    with open(os.path.join(logdir, "projector_config.pbtxt"), encoding="utf-8") as f:
        text_format.Parse(f.read(), config)
    return config


def _entries(logdir) -> dict:
    return {e.tensor_name: e for e in _config(logdir).embeddings}


def _read(logdir, relpath) -> bytes:
    with open(os.path.join(logdir, relpath), "rb") as f:
        return f.read()


def _pixels(logdir, relpath) -> np.ndarray:
    return np.array(Image.open(io.BytesIO(_read(logdir, relpath))).convert("RGB"))


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


def _metadata_rows(text: str):
    """Parse metadata.tsv as the projector frontend does: blank lines skipped, header iff TAB in line 1."""
    lines = [line for line in text.split("\n") if line.strip()]
    if lines and "\t" in lines[0]:
        return lines[0].split("\t"), [line.split("\t") for line in lines[1:]]
    return ["label"], [[line] for line in lines]


# --- differential against torch --------------------------------------------------------------


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


def test_fast_float_formatting_equals_repr():
    # the vectorised formatter against Python's repr on every kind of double, random bit patterns included
    rng = np.random.default_rng(7)
    with np.errstate(invalid="ignore"):
        bits32 = rng.integers(0, 2**32, 100_000, dtype=np.uint64).astype(np.uint32).view(np.float32).astype(np.float64)
    samples = [
        rng.standard_normal(100_000).astype(np.float32).astype(np.float64),
        rng.standard_normal(100_000),
        bits32,
        rng.integers(-(2**63), 2**63 - 1, 100_000, dtype=np.int64).view(np.float64),
        rng.standard_normal(50_000) * 10.0 ** rng.integers(-30, 30, 50_000),
        np.array([round(float(v), int(d)) for v, d in zip(rng.standard_normal(20_000), rng.integers(0, 9, 20_000))]),
        np.ldexp(1.0, np.arange(-1074, 1024)).astype(np.float64),  # powers of two
        np.array([10.0**e for e in range(-320, 309)] + [9.999999999999999e22, 0.30000000000000004, 2 / 3]),
        rng.integers(-(10**6), 10**6, 100_000).astype(np.float64),  # whole numbers take their own path
        np.array([0.0, -0.0, 1.0, -100.0, 2.0**53, 2.0**53 + 2, 9999999999999998.0, 1e15, 1e16, 1e17, 123e10]),
    ]
    for x in samples:
        seps = np.full(x.size, 9, dtype=np.uint8)
        expected = "".join(repr(float(v)) + "\t" for v in x.tolist()).encode()
        assert float_repr.format_values(x, seps) == expected
        with np.errstate(invalid="ignore", over="ignore"):
            from_float32 = np.array_equal(x.astype(np.float32).astype(np.float64), x, equal_nan=True)
        if from_float32:  # the shortcut product for values with at most 24 significant bits
            assert float_repr.format_values(x, seps, narrow=True) == expected


def test_sprite_equals_torch_for_any_count(tmp_path):
    # torch pads the grid to ceil(sqrt(N)) rows of square cells; for square thumbnails our grid is the same
    rng = np.random.default_rng(8)
    for n in (1, 2, 5, 10):
        images = torch.from_numpy(rng.random((n, 1, 6, 6)).astype(np.float32))
        theirs, ours = _both(tmp_path / str(n), mat=np.zeros((n, 2), np.float32), label_img=images)
        path = "00000/default/sprite.png"
        np.testing.assert_array_equal(_pixels(ours, path), _pixels(theirs, path))


def test_sprite_non_square_thumbnails(tmp_path):
    n, height, width = 7, 6, 10
    colors = (np.arange(n * 3).reshape(n, 3) * 11 + 20).astype(np.uint8)
    images = np.broadcast_to(colors[:, :, None, None], (n, 3, height, width)).copy()
    with SummaryWriter(str(tmp_path)) as w:
        w.add_embedding(np.ones((n, 4)), label_img=images)
    entry = _entries(tmp_path)["default:00000"]
    assert list(entry.sprite.single_image_dim) == [width, height]
    sprite = _pixels(tmp_path, entry.sprite.image_path)
    assert sprite.shape == (3 * height, 3 * width, 3)  # 3 x 3 grid of exact W x H cells
    for i in range(9):
        cell = sprite[(i // 3) * height:(i // 3 + 1) * height, (i % 3) * width:(i % 3 + 1) * width]
        expected = colors[i] if i < n else np.zeros(3, np.uint8)  # uint8 used as is
        assert (cell == expected).all(), i


def test_sprite_shrunk_below_8192_px(tmp_path):
    n, height, width = 4, 5000, 40  # a 2 x 2 grid would be 10000 px high
    values = np.arange(n, dtype=np.float32)[:, None, None, None] / 4 + 0.1
    images = np.broadcast_to(values, (n, 1, height, width))
    with SummaryWriter(str(tmp_path)) as w, pytest.warns(UserWarning, match="shrunk"):
        w.add_embedding(np.ones((n, 2)), label_img=images)
    entry = _entries(tmp_path)["default:00000"]
    cell_w, cell_h = entry.sprite.single_image_dim
    assert (cell_w, cell_h) == (32, 4096)
    sprite = _pixels(tmp_path, entry.sprite.image_path)
    assert sprite.shape == (2 * cell_h, 2 * cell_w, 3) and max(sprite.shape[:2]) <= 8192
    for i in range(n):
        r, c = divmod(i, 2)
        cell = sprite[r * cell_h:(r + 1) * cell_h, c * cell_w:(c + 1) * cell_w]
        assert (cell == int(float(values[i, 0, 0, 0]) * 255)).all()


def test_sprite_shrink_averages_each_thumbnail_alone(tmp_path):
    # 4 cells of 8 x 8192 must halve to 4 x 4096: each output pixel is the mean of a 2 x 2 block of
    # its own thumbnail (test_sprite_shrunk_below_8192_px checks that cells do not blend)
    n, height, width = 4, 8192, 8
    rng = np.random.default_rng(9)
    images = rng.integers(0, 256, (n, 3, height, width), dtype=np.uint8)
    with SummaryWriter(str(tmp_path)) as w, pytest.warns(UserWarning, match="shrunk"):
        w.add_embedding(np.ones((n, 2)), label_img=images)
    entry = _entries(tmp_path)["default:00000"]
    assert list(entry.sprite.single_image_dim) == [4, 4096]
    sprite = _pixels(tmp_path, entry.sprite.image_path)
    for i in range(n):
        r, c = divmod(i, 2)
        cell = sprite[r * 4096:(r + 1) * 4096, c * 4:(c + 1) * 4].astype(np.float64)
        blocks = images[i].transpose(1, 2, 0).reshape(4096, 2, 4, 2, 3).mean(axis=(1, 3))
        # Pillow's box filter works in two 8-bit passes (rows, then columns), rounding halves up
        # after each, so a result can be 1 away from the exact mean (a nearest-neighbour or
        # cross-cell filter would be off by tens on random pixels)
        assert np.abs(cell - blocks).max() <= 1.0, i


def test_metadata_rows_never_break(tmp_path):
    labels = ["a\tb", "c\nd", "", "   ", None, float("nan"), "x\r\ny", "\ufeff", "ok"]
    with SummaryWriter(str(tmp_path)) as w:
        w.add_embedding(np.ones((len(labels), 2)), metadata=labels)
    text = _read(tmp_path, "00000/default/metadata.tsv").decode("utf-8")
    header, rows = _metadata_rows(text)
    assert header == ["label"]
    assert [r[0] for r in rows] == ["a b", "c d", EMPTY_LABEL, EMPTY_LABEL, "None", "nan", "x y", EMPTY_LABEL, "ok"]


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


def test_one_column_header_is_not_written(tmp_path):
    with SummaryWriter(str(tmp_path)) as w:
        w.add_embedding(np.ones((3, 2)), metadata=[["a"], ["b"], ["c"]], metadata_header=["label"])
    assert _read(tmp_path, "00000/default/metadata.tsv") == b"a\nb\nc\n"


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


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(mat=np.ones(5)), ValueError, "mat must be 2-D"),
        (dict(mat=np.ones((2, 3, 4))), ValueError, "mat must be 2-D"),
        (dict(mat=np.ones((0, 3))), ValueError, "at least one row"),
        (dict(mat=np.array([["a", "b"]])), TypeError, "mat"),
        (dict(mat=np.ones((3, 2)), metadata=["a", "b"]), ValueError, "metadata"),
        (dict(mat=np.ones((3, 2)), metadata="abc"), TypeError, "metadata"),
        (dict(mat=np.ones((3, 2)), metadata=[["a", 1], ["b"], ["c", 3]], metadata_header=["x", "y"]), ValueError, r"metadata\[1\]"),
        (dict(mat=np.ones((3, 2)), metadata_header=["x", "y"]), ValueError, "metadata_header"),
        (dict(mat=np.ones((3, 2)), label_img=np.ones((2, 3, 4, 4))), ValueError, "label_img"),
        (dict(mat=np.ones((3, 2)), label_img=np.ones((3, 4, 4))), ValueError, "label_img"),
        (dict(mat=np.ones((3, 2)), label_img=np.ones((3, 2, 4, 4))), ValueError, "channels"),
        (dict(mat=np.ones((3, 2)), tag=".."), ValueError, "tag"),
        (dict(mat=np.ones((3, 2)), tag=5), TypeError, "tag"),
    ],
)
def test_bad_input_raises_and_writes_nothing(tmp_path, kwargs, error, match):
    with SummaryWriter(str(tmp_path)) as w:
        with pytest.raises(error, match=match):
            w.add_embedding(**kwargs)
    assert not [name for name in os.listdir(tmp_path) if "tfevents" not in name]


def test_write_embedding_checks_step_and_logdir(tmp_path):
    with pytest.raises(TypeError, match="global_step"):
        write_embedding(str(tmp_path), np.ones((2, 2)), global_step="1")  # a float truncates: tests/test_steps.py
    assert os.listdir(tmp_path) == []
    write_embedding(tmp_path, np.ones((2, 2)), global_step=np.int64(-3))  # os.PathLike, numpy int
    assert list(_entries(tmp_path)) == ["default:-0003"]  # torch: str(step).zfill(5)


def test_unparsable_config_is_not_overwritten(tmp_path):
    (tmp_path / "projector_config.pbtxt").write_text("this is { not a config")
    with pytest.raises(ValueError, match="projector_config.pbtxt"):
        write_embedding(str(tmp_path), np.ones((2, 2)))
    assert (tmp_path / "projector_config.pbtxt").read_text() == "this is { not a config"
    assert not (tmp_path / "00000").exists()


# --- merging -------------------------------------------------------------------------------------


def test_config_merged_across_writers(tmp_path):
    with SummaryWriter(str(tmp_path)) as w:
        w.add_embedding(np.ones((2, 2)), tag="a")
        w.add_embedding(np.ones((2, 2)), tag="a", global_step=1)
    with SummaryWriter(str(tmp_path)) as w:  # a second writer (torch would drop the entries above)
        w.add_embedding(np.zeros((3, 2)), tag="b", metadata=["x", "y", "z"])
        w.add_embedding(np.full((4, 2), 2.0), tag="a")  # same name: replaced, not duplicated
    entries = _entries(tmp_path)
    assert list(entries) == ["a:00000", "a:00001", "b:00000"]
    np.testing.assert_array_equal(np.loadtxt(os.path.join(tmp_path, entries["a:00000"].tensor_path)), np.full((4, 2), 2.0))
    assert entries["b:00000"].metadata_path == "00000/b/metadata.tsv"
    leftovers = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    assert not leftovers
    probe = tmp_path / "probe.txt"
    probe.write_text("x")  # the files get the permissions of a plain open() (not mkstemp's 0600)
    for relpath in ("projector_config.pbtxt", entries["b:00000"].tensor_path, entries["b:00000"].metadata_path):
        assert os.stat(os.path.join(tmp_path, relpath)).st_mode & 0o777 == probe.stat().st_mode & 0o777


_WORKER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {root!r})
    import numpy as np
    from eventwriter.projector import write_embedding
    for i in range({count}):
        write_embedding({logdir!r}, np.full((3, 2), float(i)), metadata=["a", "b", "c"], tag="{prefix}%d" % i)
    """
)

_READER = textwrap.dedent(
    """
    import os, sys, time
    sys.path.insert(0, {root!r})
    from google.protobuf import text_format
    from tensorboard.plugins.projector import projector_config_pb2
    path = os.path.join({logdir!r}, "projector_config.pbtxt")
    seen = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            time.sleep(0.001)
            continue
        config = projector_config_pb2.ProjectorConfig()
        text_format.Parse(text, config)  # raises on a half-written file
        seen = max(seen, len(config.embeddings))
        if seen >= {total}:
            break
    print(seen)
    """
)


def test_config_merged_across_processes_and_replaced_atomically(tmp_path):
    count = 15
    logdir = str(tmp_path)
    reader = subprocess.Popen(
        [sys.executable, "-c", _READER.format(root=ROOT, logdir=logdir, total=2 * count)], stdout=subprocess.PIPE, text=True
    )
    writers = [
        subprocess.Popen([sys.executable, "-c", _WORKER.format(root=ROOT, logdir=logdir, count=count, prefix=prefix)])
        for prefix in ("p", "q")
    ]
    try:
        for proc in writers:
            assert proc.wait(timeout=120) == 0
        out, _ = reader.communicate(timeout=120)
    finally:
        for proc in writers + [reader]:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert reader.returncode == 0  # every read of the config parsed: never a partial file
    assert int(out.strip()) == 2 * count
    entries = _entries(tmp_path)
    assert sorted(entries) == sorted(f"{p}{i}:00000" for p in "pq" for i in range(count))
    for name, entry in entries.items():
        values = np.loadtxt(os.path.join(logdir, entry.tensor_path))
        assert (values == float(name.split(":")[0][1:])).all()


# --- a running TensorBoard ---------------------------------------------------------------------


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
