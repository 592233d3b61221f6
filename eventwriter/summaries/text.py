"""Text: a string shown (as Markdown) by the Text dashboard."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..metadata import PLUGIN_TEXT, summary_metadata

if TYPE_CHECKING:
    from ..protos import Summary

TEXT_TAG_SUFFIX = "/text_summary"  # torch's and tensorboardX's convention; TF does not add it


def text_summary(tag: str, text_string: Any) -> "Summary":
    """Summary for ``add_text``: tag ``<tag>/text_summary``, a DT_STRING tensor of shape [1].

    Raises:
        TypeError: ``text_string`` is not ``str`` (or UTF-8 ``bytes``).
    """
    from .. import protos

    if isinstance(text_string, str):
        data = text_string.encode("utf-8")
    elif isinstance(text_string, bytes):
        data = text_string
    else:
        raise TypeError(f"text_string must be str, got {type(text_string).__name__}")
    tensor = protos.TensorProto(
        dtype=protos.DT_STRING,
        tensor_shape=protos.TensorShapeProto(dim=[protos.TensorShapeProto.Dim(size=1)]),
        string_val=[data],
    )
    value = protos.Summary.Value(tag=tag + TEXT_TAG_SUFFIX, tensor=tensor, metadata=summary_metadata(PLUGIN_TEXT))
    return protos.Summary(value=[value])
