"""``add_tensor``: a raw tensor under plugin ``tensor``, stored and readable, shown by no dashboard."""

from __future__ import annotations

from typing import Any

from .. import protos
from ..arrays import to_numpy
from ..metadata import PLUGIN_TENSOR, summary_metadata
from ..tensor_codec import tensor_proto


def tensor_summary(tag: str, tensor: Any) -> "protos.Summary":
    """Summary for ``add_tensor``: the tensor under plugin ``tensor`` (stored, not shown by any dashboard).

    Unlike torch, every dtype decodes correctly (uint8, float16, bfloat16 -> float32, uint32/64).

    Raises:
        TypeError: ``tensor`` is not array-like or has an unsupported dtype.
    """
    array = to_numpy(tensor, "tensor")
    value = protos.Summary.Value(tag=tag, tensor=tensor_proto(array), metadata=summary_metadata(PLUGIN_TENSOR))
    return protos.Summary(value=[value])
