"""Arrays from any framework into numpy, and numpy into TensorBoard's ``TensorProto``.

Tensors are converted by duck typing (``detach``/``cpu``/``numpy``, ``__array__``), so torch, JAX,
CuPy-on-host and numpy inputs all work and the library never imports a framework.

``tensor_proto`` writes every numeric dtype as little-endian ``tensor_content`` with an explicit
shape. That is how TensorBoard decodes tensors most directly (docs/FORMAT.md §3.3), and it sidesteps the
typed fields torch gets wrong: torch puts uint8 in ``uint32_val`` (unreadable) and float16 as float32
bit patterns in ``half_val`` (docs/FORMAT.md §4, add_tensor).
"""

from __future__ import annotations

import math
from typing import Any, Dict, Tuple

import numpy as np

from . import protos
from .metadata import PLUGIN_TENSOR, summary_metadata

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


def _torch_to_numpy(tensor: Any) -> np.ndarray:
    tensor = tensor.detach()
    if getattr(tensor, "device", None) is not None and str(tensor.device) != "cpu":
        tensor = tensor.cpu()
    for resolve in ("resolve_conj", "resolve_neg"):
        if hasattr(tensor, resolve):
            tensor = getattr(tensor, resolve)()
    try:
        return tensor.numpy()
    except TypeError:
        # bfloat16 and the float8 types have no numpy dtype; float32 holds them exactly.
        return tensor.float().numpy()


# ml_dtypes' narrow floats (JAX's bfloat16 and float8 types, also usable with plain numpy) are
# numpy dtypes of kind "V" (float8_e5m2: "f") that no numpy routine can compute with. They are
# recognised by name, so neither ml_dtypes nor JAX is imported, and widened to float32, which
# holds every one of their values exactly (torch's bfloat16 goes the same way, above).
_NARROW_FLOATS = frozenset(
    {"bfloat16", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e4m3b11fnuz",
     "float8_e3m4", "float8_e4m3", "float8_e8m0fnu", "float4_e2m1fn", "float6_e2m3fn", "float6_e3m2fn"}
)
_NARROW_INTS = {"int2": np.int8, "int4": np.int8, "uint2": np.uint8, "uint4": np.uint8}


def _widened(array: np.ndarray) -> np.ndarray:
    """``array`` with an ml_dtypes narrow float/int dtype converted to float32/int8/uint8; others as is."""
    name = array.dtype.name
    if name in _NARROW_FLOATS or (name.startswith(("float8_", "float6_", "float4_")) and array.dtype.itemsize == 1):
        return array.astype(np.float32)
    if name in _NARROW_INTS:
        return array.astype(_NARROW_INTS[name])
    return array


def to_numpy(value: Any, name: str) -> np.ndarray:
    """Convert ``value`` (numpy array or scalar, Python number or sequence, torch/JAX tensor) to numpy.

    bfloat16 and the float8/float6/float4 types (torch's, or ml_dtypes' as JAX uses them) come
    back as float32, which holds their values exactly.

    Args:
        value: the input.
        name: the argument's name, used in error messages.

    Raises:
        TypeError: ``value`` is None or cannot be converted to a numeric/string array.
    """
    if isinstance(value, np.ndarray):
        return value if value.dtype.isbuiltin == 1 else _widened(value)  # 1: numpy's own, native order
    if value is None:
        raise TypeError(f"{name} must be an array or a number, got None")
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        return _torch_to_numpy(value)
    try:
        array = np.asarray(value)
    except Exception as exc:
        raise TypeError(f"{name} must be array-like, got {type(value).__name__}: {exc}") from exc
    if array.dtype == object:
        raise TypeError(f"{name} must be a numeric array, got {type(value).__name__} of mixed objects")
    return array if array.dtype.isbuiltin == 1 else _widened(array)


def real_array(value: Any, name: str, kinds: str = "biuf") -> np.ndarray:
    """:func:`to_numpy`, then check that the dtype is of one of ``kinds`` (numpy kind letters).

    The one validation of numeric inputs: bool (``b``), integers (``i``, ``u``) and floats (``f``)
    by default; complex numbers, strings, dates and raw bytes are refused.

    Args:
        value: the input (see :func:`to_numpy`).
        name: the argument's name, used in error messages.
        kinds: the accepted numpy dtype kinds.

    Raises:
        TypeError: ``value`` cannot be converted, or its dtype is not of an accepted kind.
    """
    array = to_numpy(value, name)
    if array.dtype.kind not in kinds:
        expected = "real numbers" if kinds == "biuf" else f"numbers of dtype kind {'/'.join(kinds)}"
        raise TypeError(f"{name} must hold {expected}, got dtype {array.dtype}")
    return array


def tensor_proto(array: np.ndarray) -> "protos.TensorProto":
    """Build a ``TensorProto`` with an explicit shape that TensorBoard decodes back to ``array``.

    Numbers go little-endian into ``tensor_content``; strings (numpy ``U``/``S`` arrays) into
    ``string_val`` as UTF-8.

    Raises:
        TypeError: the dtype has no TensorBoard equivalent (object, datetime, ...).
    """
    array = np.asarray(array)
    shape = protos.TensorShapeProto(dim=[protos.TensorShapeProto.Dim(size=int(d)) for d in array.shape])
    if array.dtype.kind in "US":
        flat = array.reshape(-1)
        values = [v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in flat.tolist()]
        return protos.TensorProto(dtype=protos.DT_STRING, tensor_shape=shape, string_val=values)
    dtype = _DTYPES.get(array.dtype.newbyteorder("="))
    if dtype is None:
        raise TypeError(f"arrays of dtype {array.dtype} cannot be stored in a TensorBoard tensor")
    content = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    return protos.TensorProto(dtype=dtype, tensor_shape=shape, tensor_content=content)  # type: ignore[arg-type]


def tensor_summary(tag: str, tensor: Any) -> "protos.Summary":
    """Summary for ``add_tensor``: the tensor under plugin ``tensor`` (stored, not shown by any dashboard).

    Unlike torch, every dtype decodes correctly (uint8, float16, bfloat16 -> float32, uint32/64).

    Raises:
        TypeError: ``tensor`` is not array-like or has an unsupported dtype.
    """
    array = to_numpy(tensor, "tensor")
    value = protos.Summary.Value(tag=tag, tensor=tensor_proto(array), metadata=summary_metadata(PLUGIN_TENSOR))
    return protos.Summary(value=[value])


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
    if any(size < 0 for size in shape):
        raise ValueError(f"tensor shape {shape} has a negative dimension")
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
    if values.size == 1 and count != 1:
        # TensorBoard broadcasts one value. A read-only view, never an allocation of the declared
        # size: a 100-byte record may declare billions of elements.
        return np.broadcast_to(values.reshape(()), shape)
    if values.size != count:
        raise ValueError(f"tensor has {values.size} elements but its shape {shape} needs {count}")
    return values.reshape(shape)
