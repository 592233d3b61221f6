"""Custom Scalars layouts: same Layout as torch, read back with TensorBoard; input checks."""

from __future__ import annotations

import pytest
from support.tbutil import plugin_accumulator, tensor_values
from tensorboard.plugins.custom_scalar import layout_pb2 as tb_layout_pb2

from eventwriter import SummaryWriter
from eventwriter.summaries.custom_scalars import custom_scalars_summary

torch = pytest.importorskip("torch")
from torch.utils.tensorboard import SummaryWriter as TorchWriter  # noqa: E402

TAG = "custom_scalars__config__"
LAYOUT = {
    "Taiwan": {"twse": ["Multiline", ["twse/0050", "twse/2330"]]},
    "USA": {
        "dow": ["Margin", ["dow/aaa", "dow/bbb", "dow/ccc"]],
        "nasdaq": ["Margin", ["nasdaq/aaa", "nasdaq/bbb", "nasdaq/ccc"]],
    },
}


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


def test_rank0_tensor_bytes_like_torch():
    (value,) = custom_scalars_summary(LAYOUT).value
    assert value.tag == TAG
    assert value.tensor.dtype == 7  # DT_STRING
    assert value.tensor.HasField("tensor_shape") and len(value.tensor.tensor_shape.dim) == 0
    assert len(value.tensor.string_val) == 1


@pytest.mark.parametrize(
    "layout,error,match",
    [
        (["x"], TypeError, "layout must be a dict"),
        ({1: {}}, TypeError, "layout categories must be str"),
        ({"c": ["Multiline", ["a"]]}, TypeError, r"layout\['c'\] must be a dict"),
        ({"c": {"t": ["Margin", ["a", "b"]]}}, ValueError, r"layout\['c'\]\['t'\]: a Margin chart needs exactly 3 tags"),
        ({"c": {"t": ["Lines", ["a"]]}}, ValueError, r"chart type must be 'Multiline' or 'Margin', got 'Lines'"),
        ({"c": {"t": ["Multiline"]}}, ValueError, r"layout\['c'\]\['t'\] must be \[chart type, tags\]"),
        ({"c": {"t": ["Multiline", "a"]}}, TypeError, "tags must be a list of str"),
        ({"c": {"t": ["Multiline", ["a", 3]]}}, TypeError, "tags must be a list of str"),
        ({"c": {"t": ["Multiline", []]}}, ValueError, "tags must not be empty"),
        ({"c": {5: ["Multiline", ["a"]]}}, TypeError, "chart titles must be str"),
    ],
)
def test_bad_layout_raises(layout, error, match):
    with pytest.raises(error, match=match):
        custom_scalars_summary(layout)


def test_writer_margin_helper_needs_three_tags(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    with pytest.raises(ValueError, match="3 tags"):
        writer.add_custom_scalars_marginchart(["a", "b"])
    writer.close()
    assert TAG not in plugin_accumulator(tmp_path).Tags()["tensors"]
