"""Projector (add_embedding): files, the config merge, and a running TensorBoard (against torch:
test_projector_torch.py).

The config is read with TensorBoard's own ``projector_config_pb2`` + ``text_format``.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from eventwriter import SummaryWriter
from eventwriter.summaries import float_repr
from eventwriter.projector import EMPTY_LABEL, write_embedding
from support.processes import ROOT
from support.tbutil import projector_config





def _entries(logdir) -> dict:
    return {e.tensor_name: e for e in projector_config(logdir).embeddings}


def _read(logdir, relpath) -> bytes:
    with open(os.path.join(logdir, relpath), "rb") as f:
        return f.read()


def _pixels(logdir, relpath) -> np.ndarray:
    return np.array(Image.open(io.BytesIO(_read(logdir, relpath))).convert("RGB"))


def _metadata_rows(text: str):
    """Parse metadata.tsv as the projector frontend does: blank lines skipped, header iff TAB in line 1."""
    lines = [line for line in text.split("\n") if line.strip()]
    if lines and "\t" in lines[0]:
        return lines[0].split("\t"), [line.split("\t") for line in lines[1:]]
    return ["label"], [[line] for line in lines]


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


def test_one_column_header_is_not_written(tmp_path):
    with SummaryWriter(str(tmp_path)) as w:
        w.add_embedding(np.ones((3, 2)), metadata=[["a"], ["b"], ["c"]], metadata_header=["label"])
    assert _read(tmp_path, "00000/default/metadata.tsv") == b"a\nb\nc\n"


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
        write_embedding(str(tmp_path), np.ones((2, 2)), global_step="1")  # a float truncates: tests/writer/test_steps.py
    assert os.listdir(tmp_path) == []
    write_embedding(tmp_path, np.ones((2, 2)), global_step=np.int64(-3))  # os.PathLike, numpy int
    assert list(_entries(tmp_path)) == ["default:-0003"]  # torch: str(step).zfill(5)


def test_unparsable_config_is_not_overwritten(tmp_path):
    (tmp_path / "projector_config.pbtxt").write_text("this is { not a config")
    with pytest.raises(ValueError, match="projector_config.pbtxt"):
        write_embedding(str(tmp_path), np.ones((2, 2)))
    assert (tmp_path / "projector_config.pbtxt").read_text() == "this is { not a config"
    assert not (tmp_path / "00000").exists()


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
