"""Custom Scalars layouts read back with TensorBoard; input checks (against torch: test_custom_scalars_torch.py)."""

from __future__ import annotations

import pytest
from support.tbutil import plugin_accumulator

from eventwriter import SummaryWriter
from eventwriter.summaries.custom_scalars import custom_scalars_summary



TAG = "custom_scalars__config__"


LAYOUT = {
    "Taiwan": {"twse": ["Multiline", ["twse/0050", "twse/2330"]]},
    "USA": {
        "dow": ["Margin", ["dow/aaa", "dow/bbb", "dow/ccc"]],
        "nasdaq": ["Margin", ["nasdaq/aaa", "nasdaq/bbb", "nasdaq/ccc"]],
    },
}


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
