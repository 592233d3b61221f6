"""Custom Scalars dashboard layouts, as torch's ``add_custom_scalars`` writes them.

Layout (docs/FORMAT.md §3.5, §4, §5.8): one ``Summary.Value`` with tag ``custom_scalars__config__``, a
rank-0 DT_STRING tensor holding the serialized ``Layout`` proto, and metadata of plugin
``custom_scalars`` with empty content. torch writes it at step 0; TensorBoard uses only each run's
latest layout and merges the runs' layouts by category title.

The ``layout`` argument is torch's: ``{category: {chart title: [chart type, tags]}}`` with chart
type ``"Multiline"`` (one line per scalar tag matching each regular expression in ``tags``; the
match is anchored at the tag's start) or ``"Margin"`` (exactly three exact tags: value, lower
bound, upper bound). Categories and charts keep the dict order.

Differences from torch: the layout is checked, with ``TypeError``/``ValueError`` naming the
category and chart; a chart type other than "Multiline"/"Margin" is an error (torch draws it as a
multiline chart) and so is a chart without tags.
"""

from __future__ import annotations

from typing import Any, Dict, List

from .. import protos
from ..metadata import PLUGIN_CUSTOM_SCALARS, summary_metadata

__all__ = ["custom_scalars_summary", "CUSTOM_SCALARS_TAG"]

CUSTOM_SCALARS_TAG = "custom_scalars__config__"


def _chart(category: str, title: Any, spec: Any) -> "protos.Chart":
    where = f"layout[{category!r}][{title!r}]"
    if not isinstance(title, str):
        raise TypeError(f"chart titles must be str, got {type(title).__name__} in layout[{category!r}]")
    if not isinstance(spec, (list, tuple)) or len(spec) != 2:
        raise ValueError(f"{where} must be [chart type, tags], got {spec!r}")
    chart_type, tags = spec
    if isinstance(tags, str) or not isinstance(tags, (list, tuple)):
        raise TypeError(f"{where}: tags must be a list of str, got {type(tags).__name__}")
    if not all(isinstance(tag, str) for tag in tags):
        raise TypeError(f"{where}: tags must be a list of str, got {tags!r}")
    if not tags:
        raise ValueError(f"{where}: tags must not be empty")
    if chart_type == "Multiline":
        return protos.Chart(title=title, multiline=protos.MultilineChartContent(tag=list(tags)))
    if chart_type == "Margin":
        if len(tags) != 3:
            raise ValueError(f"{where}: a Margin chart needs exactly 3 tags (value, lower, upper), got {len(tags)}")
        series = protos.MarginChartContent.Series(value=tags[0], lower=tags[1], upper=tags[2])
        return protos.Chart(title=title, margin=protos.MarginChartContent(series=[series]))
    raise ValueError(f"{where}: chart type must be 'Multiline' or 'Margin', got {chart_type!r}")


def custom_scalars_summary(layout: Dict[str, Dict[str, List[Any]]]) -> "protos.Summary":
    """Summary with a Custom Scalars layout.

    Args:
        layout: ``{category: {chart title: ["Multiline" | "Margin", [tags]]}}``.

    Returns:
        ``Summary{value: [{tag "custom_scalars__config__", tensor DT_STRING rank 0, metadata}]}``.

    Raises:
        TypeError: ``layout`` or a category is not a dict; titles or tags are not str.
        ValueError: a chart is not ``[type, tags]``, has an unknown type or no tags, or is a
            Margin chart without exactly 3 tags.
    """
    if not isinstance(layout, dict):
        raise TypeError(f"layout must be a dict {{category: {{chart title: [type, tags]}}}}, got {type(layout).__name__}")
    categories = []
    for category, charts in layout.items():
        if not isinstance(category, str):
            raise TypeError(f"layout categories must be str, got {type(category).__name__}")
        if not isinstance(charts, dict):
            raise TypeError(f"layout[{category!r}] must be a dict {{chart title: [type, tags]}}, got {type(charts).__name__}")
        categories.append(
            protos.Category(title=category, chart=[_chart(category, title, spec) for title, spec in charts.items()])
        )
    tensor = protos.TensorProto(
        dtype=protos.DT_STRING,
        tensor_shape=protos.TensorShapeProto(),  # rank 0
        string_val=[protos.Layout(category=categories).SerializeToString()],
    )
    value = protos.Summary.Value(tag=CUSTOM_SCALARS_TAG, tensor=tensor, metadata=summary_metadata(PLUGIN_CUSTOM_SCALARS))
    return protos.Summary(value=[value])
