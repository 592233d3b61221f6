"""One ``Summary.Value`` as TensorBoard's Python data layer sees it, without TensorBoard.

``plugin_event_accumulator`` first rewrites old-style values (``simple_value``, ``histo``,
``image``, ``audio``) into tensors with plugin metadata (docs/FORMAT.md §5.2), then files each value
under its tag. :func:`value_view` gives the same three facts for one value: its tag (``node_name``
for an untagged tensor), the plugin metadata it carries after that rewrite, and its data, left as
the protobuf field so that a row builder decodes only what its kind needs.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Optional, Tuple

from ..metadata import IMPLIED_PLUGIN
from ..wire import parse_file_version

__all__ = ["ValueView", "value_view", "parse_file_version"]


class ValueView(NamedTuple):
    """``tag``; ``meta`` = (plugin_name, content bytes) or None; ``field`` = which oneof; ``data``."""

    tag: str
    meta: Optional[Tuple[str, bytes]]
    field: Optional[str]
    data: Any


def value_view(value: Any) -> ValueView:
    """Describe one ``Summary.Value`` as the Python data layer files it."""
    field = value.WhichOneof("value")
    tag = value.tag
    if field == "tensor" and not tag:
        tag = value.node_name  # the old plugin-asset form keys untagged tensors by node name
    meta: Optional[Tuple[str, bytes]] = None
    if field in IMPLIED_PLUGIN:
        # The rewrite gives every old-style value fresh metadata of its plugin (content only for audio).
        meta = (IMPLIED_PLUGIN[field], b"")
    elif value.HasField("metadata"):
        meta = (value.metadata.plugin_data.plugin_name, value.metadata.plugin_data.content)
    return ValueView(tag, meta, field, getattr(value, field) if field else None)
