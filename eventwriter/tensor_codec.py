"""``TensorProto`` to and from numpy: how eventwriter stores tensors and how it reads anyone's back.

``tensor_proto`` writes every numeric dtype as little-endian ``tensor_content`` with an explicit
shape. That is how TensorBoard decodes tensors most directly (docs/FORMAT.md §3.3), and it sidesteps the
typed fields torch gets wrong: torch puts uint8 in ``uint32_val`` (unreadable) and float16 as float32
bit patterns in ``half_val`` (docs/FORMAT.md §4, add_tensor). ``tensor_to_numpy`` reads every
layout a writer may have used (``tensor_content`` or the typed ``*_val`` fields), as TensorBoard does.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Tuple

import numpy as np

from . import protos

_DTYPES: Dict[np.dtype, int] = {
    np.dtype(np.float32): protos.DT_FLOAT,
    np.dtype(np.float64): protos.DT_DOUBLE,
    np.dtype(np.float16): protos.DT_HALF,
    np.dtype(np.int8): protos.DT_INT8,
    np.dtype(np.int16): protos.DT_INT16,
    np.dtype(np.int32): protos.DT_INT32,
    np.dtype(np.int64): protos.DT_INT64,
    np.dtype(np.uint8): protos.DT_UINT8,
    np.dtype(np.uint16): protos.DT_UINT16,
    np.dtype(np.uint32): protos.DT_UINT32,
    np.dtype(np.uint64): protos.DT_UINT64,
    np.dtype(np.bool_): protos.DT_BOOL,
    np.dtype(np.complex64): protos.DT_COMPLEX64,
    np.dtype(np.complex128): protos.DT_COMPLEX128,
}



def tensor_proto(array: np.ndarray) -> "protos.TensorProto":
    """Build a ``TensorProto`` with an explicit shape that TensorBoard decodes back to ``array``.

    Numbers go little-endian into ``tensor_content``; strings (numpy ``U``/``S`` arrays, or object
    arrays of ``str``/``bytes``, which keep trailing NUL characters) into ``string_val``, ``str``
    as UTF-8.

    Raises:
        TypeError: the dtype has no TensorBoard equivalent (datetime, ...), or an object array
            holds something other than ``str`` and ``bytes``.
    """
    array = np.asarray(array)
    shape = protos.TensorShapeProto(dim=[protos.TensorShapeProto.Dim(size=int(d)) for d in array.shape])
    if array.dtype.kind in "USO":
        values = [_string_bytes(v) for v in array.reshape(-1).tolist()]
        return protos.TensorProto(dtype=protos.DT_STRING, tensor_shape=shape, string_val=values)
    dtype = _DTYPES.get(array.dtype.newbyteorder("="))
    if dtype is None:
        raise TypeError(f"arrays of dtype {array.dtype} cannot be stored in a TensorBoard tensor")
    content = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    return protos.TensorProto(dtype=dtype, tensor_shape=shape, tensor_content=content)  # type: ignore[arg-type]


def _string_bytes(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    raise TypeError(f"an object array can be stored in a TensorBoard tensor only if it holds str and bytes, got {type(value).__name__}")


_TYPED_FIELDS: Dict[int, Tuple[str, Any]] = {
    protos.DT_FLOAT: ("float_val", np.float32),
    protos.DT_DOUBLE: ("double_val", np.float64),
    protos.DT_INT32: ("int_val", np.int32),
    protos.DT_INT16: ("int_val", np.int16),
    protos.DT_INT8: ("int_val", np.int8),
    protos.DT_UINT8: ("int_val", np.uint8),
    protos.DT_UINT16: ("int_val", np.uint16),
    protos.DT_INT64: ("int64_val", np.int64),
    protos.DT_BOOL: ("bool_val", np.bool_),
}
_NUMPY_OF: Dict[int, np.dtype] = {int(dtype): np_dtype for np_dtype, dtype in _DTYPES.items()}


def tensor_to_numpy(tensor: "protos.TensorProto") -> np.ndarray:
    """Decode a ``TensorProto`` (ours or any wire-compatible one) to numpy, as TensorBoard reads it.

    Raises:
        ValueError: the element count does not match the shape, or the dtype is not supported.

    Memory follows the values present in the message, not its declared shape: a single value
    declared with a large shape is returned as a read-only broadcast view.
    """
    shape = tuple(d.size for d in tensor.tensor_shape.dim)
    count = math.prod(shape)  # Python ints: a huge declared shape cannot wrap around
    if tensor.dtype == protos.DT_STRING:
        values = np.array(list(tensor.string_val), dtype=object)
    elif tensor.tensor_content:
        content_dtype = _NUMPY_OF.get(tensor.dtype)
        if content_dtype is None:
            raise ValueError(f"unsupported tensor dtype {tensor.dtype}")
        values = np.frombuffer(tensor.tensor_content, dtype=content_dtype.newbyteorder("<"))
    elif tensor.dtype in (protos.DT_HALF, protos.DT_BFLOAT16):
        bits = np.array(tensor.half_val, dtype=np.uint16)
        if tensor.dtype == protos.DT_HALF:
            values = bits.view(np.float16)
        else:
            values = (bits.astype(np.uint32) << 16).view(np.float32)
    elif tensor.dtype in (protos.DT_COMPLEX64, protos.DT_COMPLEX128):
        field = tensor.scomplex_val if tensor.dtype == protos.DT_COMPLEX64 else tensor.dcomplex_val
        pairs = np.array(field, dtype=np.float64).reshape(-1, 2)
        values = pairs[:, 0] + 1j * pairs[:, 1]
    elif tensor.dtype in _TYPED_FIELDS:
        field, np_dtype = _TYPED_FIELDS[tensor.dtype]
        values = np.array(getattr(tensor, field), dtype=np_dtype)
    else:
        raise ValueError(f"unsupported tensor dtype {tensor.dtype}")
    if values.size == 1 and count != 1 and not tensor.tensor_content:
        # TensorBoard broadcasts one typed value (never tensor_content) to the shape. A read-only
        # view, never an allocation of the declared size: a 100-byte record may declare billions.
        if count < 0:
            raise ValueError(f"tensor shape {shape} has a negative dimension")
        return np.broadcast_to(values.reshape(()), shape)
    try:
        # numpy's reshape, as TensorBoard's: one dimension of -1 stands for "the rest".
        return values.reshape(shape)
    except ValueError:
        raise ValueError(f"tensor has {values.size} elements, which do not fit its shape {shape}") from None
