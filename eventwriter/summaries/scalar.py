"""Scalars: converting user values to one float, and the (rarely needed) message-based builder.

The writer's ``add_scalar`` hot path encodes old-style scalars with :mod:`eventwriter.wire`
instead of :func:`scalar_summary`; both produce the same bytes (tests/format/test_wire.py).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..metadata import PLUGIN_SCALARS, summary_metadata

if TYPE_CHECKING:
    from ..protos import Summary


def scalar_value(value: Any, name: str = "scalar_value") -> float:
    """Convert a number, numpy scalar/array or 1-element tensor (any float dtype) to a Python float.

    Raises:
        TypeError: not numeric (strings, None, complex, ...).
        ValueError: more than one element.
    """
    kind = type(value)
    if kind is float:
        return value
    if kind is int or kind is bool:
        try:
            return float(value)
        except OverflowError:
            return math.copysign(math.inf, value)
    if isinstance(value, (str, bytes)) or value is None or isinstance(value, complex):
        raise TypeError(f"{name} must be a real number or a one-element tensor, got {type(value).__name__}")
    numel = getattr(value, "numel", None)
    if callable(numel) and hasattr(value, "item"):  # a torch tensor: .item() works for any dtype
        count = numel()
        if count != 1:
            raise ValueError(f"{name} must have exactly one element, got {count}")
        item = value.item()
        if isinstance(item, complex):
            raise TypeError(f"{name} must be real, got a complex tensor")
        return float(item)
    from ..arrays import real_array

    array = real_array(value, name)
    if array.size != 1:
        raise ValueError(f"{name} must have exactly one element, got shape {tuple(array.shape)}")
    return float(array.reshape(()))


def scalar_summary(tag: str, scalar_value_: Any, new_style: bool = False, double_precision: bool = False) -> "Summary":
    """Summary with one scalar, as torch's ``add_scalar`` writes it.

    Old style (default): ``simple_value`` (float32), shown by every loader. ``new_style``: a rank-0
    DT_FLOAT tensor with ``scalars`` metadata; with ``double_precision`` a DT_DOUBLE one, which
    TensorBoard's default (Rust) loader ignores (docs/FORMAT.md §6 item 1).
    """
    from .. import protos

    value = scalar_value(scalar_value_)
    if not new_style:
        return protos.Summary(value=[protos.Summary.Value(tag=tag, simple_value=value)])
    if double_precision:
        tensor = protos.TensorProto(dtype=protos.DT_DOUBLE, double_val=[value])
    else:
        tensor = protos.TensorProto(dtype=protos.DT_FLOAT, float_val=[value])
    return protos.Summary(value=[protos.Summary.Value(tag=tag, tensor=tensor, metadata=summary_metadata(PLUGIN_SCALARS))])
