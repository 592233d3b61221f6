"""Arrays from any framework into numpy: the one conversion and check of array-like inputs.

Tensors are converted by duck typing (``detach``/``cpu``/``numpy``, ``__array__``), so torch, JAX,
CuPy-on-host and numpy inputs all work and the library never imports a framework.
"""

from __future__ import annotations

from typing import Any

import numpy as np


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
