"""The two numbers every Event carries: ``step`` and ``wall_time``, converted from user input.

torch stores ``int(global_step)`` and ``walltime or time.time()`` without checks. A NaN wall time
makes TensorBoard's default (Rust) loader give up on the whole file, and an infinite one drops the
event (docs/FORMAT.md §1.4), so non-finite wall times are refused here instead.
"""

from __future__ import annotations

import math
import time
from typing import Any, Optional

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


def event_step(global_step: Any) -> Optional[int]:
    """Convert ``global_step`` (int, numpy integer, 1-element tensor, float) to an int64, or None.

    Raises:
        TypeError: not a number.
        ValueError: NaN/inf, or outside the int64 range.
    """
    if global_step is None or type(global_step) is int:
        step = global_step
    else:
        if isinstance(global_step, (str, bytes)):
            raise TypeError(f"global_step must be an integer, got {type(global_step).__name__}")
        try:
            step = int(global_step)
        except (TypeError, ValueError, OverflowError, RuntimeError) as exc:
            raise (ValueError if isinstance(exc, (ValueError, OverflowError)) else TypeError)(
                f"global_step must be an integer, got {global_step!r}"
            ) from exc
    if step is not None and not _INT64_MIN <= step <= _INT64_MAX:
        raise ValueError(f"global_step must fit in a signed 64-bit integer, got {step}")
    return step


def event_wall_time(walltime: Any) -> float:
    """Return ``walltime`` as a finite float of seconds since the epoch, or ``time.time()`` if None.

    Raises:
        TypeError: not a number.
        ValueError: NaN or infinite.
    """
    if walltime is None:
        return time.time()
    try:
        value = float(walltime)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TypeError(f"walltime must be a number of seconds, got {walltime!r}") from exc
    if not math.isfinite(value):
        raise ValueError(f"walltime must be finite, got {value}")
    return value
