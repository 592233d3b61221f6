"""add_custom_scalars against torch.utils.tensorboard: the same calls through both writers, compared
value by value through TensorBoard's loaders (this file needs torch; the torch-free tests are in
test_custom_scalars.py)."""

from __future__ import annotations

import pytest
from support.tbutil import plugin_accumulator, tensor_values
from tensorboard.plugins.custom_scalar import layout_pb2 as tb_layout_pb2

from eventwriter import SummaryWriter

torch = pytest.importorskip("torch")
from torch.utils.tensorboard import SummaryWriter as TorchWriter  # noqa: E402

from test_custom_scalars import LAYOUT, TAG  # noqa: E402


def _layouts(tmp_path, calls):
    out = []
    for name, cls in (("torch", TorchWriter), ("ours", SummaryWriter)):
        writer = cls(str(tmp_path / name))
        calls(writer)
        writer.close()
        acc = plugin_accumulator(tmp_path / name)
        meta = acc.SummaryMetadata(TAG)
        assert meta.plugin_data.plugin_name == "custom_scalars"
        assert meta.plugin_data.content == b""
        items = tensor_values(acc, TAG)
        decoded = []
        for step, array in items:
            assert array.shape == () and array.dtype == object  # rank-0 DT_STRING
            decoded.append((step, tb_layout_pb2.Layout.FromString(array.item())))
        out.append(decoded)
    return out


def test_layout_matches_torch(tmp_path):
    theirs, ours = _layouts(tmp_path, lambda w: w.add_custom_scalars(LAYOUT))
    assert ours == theirs
    [(step, layout)] = ours
    assert step == 0
    assert [c.title for c in layout.category] == ["Taiwan", "USA"]
    assert list(layout.category[0].chart[0].multiline.tag) == ["twse/0050", "twse/2330"]
    series = layout.category[1].chart[1].margin.series[0]
    assert (series.value, series.lower, series.upper) == ("nasdaq/aaa", "nasdaq/bbb", "nasdaq/ccc")


def test_chart_helpers_match_torch(tmp_path):
    def calls(writer):
        writer.add_custom_scalars_multilinechart(["loss/train", "loss/val"], category="Losses", title="both")
        writer.add_custom_scalars_marginchart(["acc", "acc_lo", "acc_hi"])

    theirs, ours = _layouts(tmp_path, calls)
    assert ours == theirs
    assert ours[1][1].category[0].title == "default" and ours[1][1].category[0].chart[0].title == "untitled"
