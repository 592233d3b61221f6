"""SummaryWriter with torch tensors as values and torch's writer side by side: the same calls through both writers, compared
value by value through TensorBoard's loaders (this file needs torch; the torch-free tests are in
test_writer.py)."""

from __future__ import annotations


import numpy as np
import pytest

from eventwriter import SummaryWriter
from support.tbutil import plugin_accumulator, plugins_by_tag, run_dirs, scalar_series, tensor_values

torch = pytest.importorskip("torch")


@pytest.mark.parametrize(
    "value, expected",
    [
        (np.float32(2.5), 2.5),
        (np.float64(0.25), 0.25),
        (np.int64(3), 3.0),
        (np.array(1.5), 1.5),
        (np.array([[4.0]]), 4.0),
        (True, 1.0),
        ("torch_float", 1.5),
        ("torch_bf16", 1.5),
        ("torch_half", 1.5),
        ("torch_grad", 1.5),
        ("torch_int", 2.0),
    ],
)
def test_scalar_input_types(tmp_path, value, expected):
    if isinstance(value, str):
        value = {
            "torch_float": torch.tensor(1.5),
            "torch_bf16": torch.tensor([1.5], dtype=torch.bfloat16),
            "torch_half": torch.tensor(1.5, dtype=torch.float16),
            "torch_grad": torch.tensor(1.5, requires_grad=True) * 1,
            "torch_int": torch.tensor(2),
        }[value]
    with SummaryWriter(tmp_path) as w:
        w.add_scalar("x", value, torch.tensor(5) if hasattr(value, "numel") else np.int32(5))
    assert scalar_series(plugin_accumulator(tmp_path), "x") == [(5, expected)]


def test_add_scalars_layout_matches_torch(tmp_path):
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    for cls, sub in ((TorchWriter, "torch"), (SummaryWriter, "ours")):
        w = cls(str(tmp_path / sub))
        for step in range(3):
            w.add_scalars("run/loss", {"train": step * 1.0, "val": step * 2.0}, step, walltime=50.0 + step)
        w.close()
    torch_runs, our_runs = run_dirs(tmp_path / "torch"), run_dirs(tmp_path / "ours")
    assert sorted(torch_runs) == sorted(our_runs) == [".", "run_loss_train", "run_loss_val"]
    for run in ("run_loss_train", "run_loss_val"):
        a, b = plugin_accumulator(torch_runs[run]), plugin_accumulator(our_runs[run])
        assert a.Tags()["tensors"] == b.Tags()["tensors"] == ["run/loss"]
        assert scalar_series(a, "run/loss") == scalar_series(b, "run/loss")
        assert [e.wall_time for e in a.Tensors("run/loss")] == [e.wall_time for e in b.Tensors("run/loss")]


def test_add_text_matches_torch(tmp_path):
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    texts = ["hello", "**bold** ünïcödé", "", "line1\nline2"]
    for cls, sub in ((TorchWriter, "torch"), (SummaryWriter, "ours")):
        w = cls(str(tmp_path / sub))
        for step, text in enumerate(texts):
            w.add_text("notes", text, step)
        w.close()
    a, b = plugin_accumulator(tmp_path / "torch"), plugin_accumulator(tmp_path / "ours")
    assert plugins_by_tag(a) == plugins_by_tag(b) == {"notes/text_summary": "text"}
    ta, tb = tensor_values(a, "notes/text_summary"), tensor_values(b, "notes/text_summary")
    assert [(s, v.tolist(), v.shape) for s, v in ta] == [(s, v.tolist(), v.shape) for s, v in tb]
    with SummaryWriter(tmp_path / "bad") as w:
        with pytest.raises(TypeError, match="text_string"):
            w.add_text("x", 3)


def test_scalar_differential_against_torch(tmp_path):
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    rng = np.random.default_rng(0)
    values = rng.normal(size=50).tolist() + [np.float32(1.5), torch.tensor(2.5)]
    for cls, sub in ((TorchWriter, "torch"), (SummaryWriter, "ours")):
        w = cls(str(tmp_path / sub))
        for step, v in enumerate(values):
            w.add_scalar("a", v, step, walltime=100.0 + step)
            w.add_scalar("b/new", v, step, walltime=100.0 + step, new_style=True)
        w.close()
    a, b = plugin_accumulator(tmp_path / "torch"), plugin_accumulator(tmp_path / "ours")
    assert plugins_by_tag(a) == plugins_by_tag(b)
    for tag in ("a", "b/new"):
        assert scalar_series(a, tag) == scalar_series(b, tag)
