"""Raw tensors: ``add_tensor`` under plugin ``tensor``, and ``tf.summary.write``'s tensor with any metadata."""

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


def tf_tensor_summary(tag: str, tensor: Any, metadata: Any = None) -> "protos.Summary":
    """Summary as ``tf.summary.write(tag, tensor, metadata=metadata)`` writes it, for custom plugins.

    Args:
        tag: the series name.
        tensor: array-like (numbers of any dtype, bfloat16 stored as float32; strings; an object
            array of str/bytes).
        metadata: a ``SummaryMetadata`` message (this package's, TensorBoard's or TensorFlow's),
            its serialized bytes, or None for no metadata at all (``tf.summary.write``'s default).

    Raises:
        TypeError: the tensor's dtype cannot be stored, or ``metadata`` is neither bytes nor a message.
    """
    data = b"" if metadata is None else metadata.SerializeToString() if hasattr(metadata, "SerializeToString") else metadata
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"metadata must be a SummaryMetadata message or its serialized bytes, got {type(metadata).__name__}")
    value = protos.Summary.Value(tag=tag, tensor=tensor_proto(to_numpy(tensor, "tensor")))
    if data:  # empty metadata is no metadata, as tf.summary.write without it
        value.metadata.MergeFromString(bytes(data))
    return protos.Summary(value=[value])
