"""What identifies a logged value: its ``tag``, ``step`` and ``wall_time``, checked and converted from user input.

torch stores ``int(global_step)`` and ``walltime or time.time()`` without checks. The step rule
here is the same truncation (reported through ``on_truncate``) plus range checks. A NaN wall time
makes TensorBoard's default (Rust) loader give up on the whole file, and an infinite one drops the
event (docs/FORMAT.md §1.4), so non-finite wall times are refused here instead.
"""

from __future__ import annotations

import math
import operator
import os
import sys
import time
import warnings
from typing import Any, Callable, Dict, Optional, Tuple

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


def event_step(global_step: Any, on_truncate: Optional[Callable[[Any, int], None]] = None) -> Optional[int]:
    """Convert ``global_step`` (int, numpy integer or float, 1-element tensor, float) to an int64, or None.

    One rule for every step (events and embedding directories alike): a non-integral step is
    truncated toward zero, as torch does (``int(2.7)`` is 2); ``on_truncate(global_step, step)``
    is then called, so the caller can warn (:class:`~eventwriter.writer.SummaryWriter` warns
    once per writer).

    Raises:
        TypeError: not a number (a str, bytes, a tensor of several elements, ...).
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
        if on_truncate is not None and not _is_integral(global_step, step):
            on_truncate(global_step, step)
    if step is not None and not _INT64_MIN <= step <= _INT64_MAX:
        raise ValueError(f"global_step must fit in a signed 64-bit integer, got {step}")
    return step


def truncation_warning(global_step: Any, step: int) -> None:
    """The warning for a non-integral step (an ``on_truncate`` for :func:`event_step`)."""
    warnings.warn(
        f"global_step {global_step!r} is not a whole number; it is truncated to {step}, as torch does",
        stacklevel=user_stacklevel(),
    )


def user_stacklevel() -> int:
    """``stacklevel`` for a ``warnings.warn`` in the calling function that points at the first frame
    outside the eventwriter package: ``writer.add_audio(...)`` warns at the user's line, not inside
    ``writer.py`` or a builder."""
    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame = sys._getframe(1)  # the function that will call warnings.warn
    level = 1
    while frame.f_back is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame = frame.f_back
        level += 1
    return level


def _is_integral(global_step: Any, step: int) -> bool:
    try:
        operator.index(global_step)  # Python/numpy integers, bools, integer tensors
        return True
    except TypeError:
        pass
    try:
        return float(global_step) == step  # exact: a float this large is a whole number
    except (TypeError, ValueError, OverflowError, RuntimeError):
        return True  # int() accepted it and float() cannot say otherwise


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


def check_tag(tag: Any, name: str = "tag") -> str:
    """Return ``tag`` if it is a ``str``.

    torch accepts anything and fails later (or writes ``str(tag)``); a tag that is not a string
    is almost always an argument in the wrong place, so it is refused where it is passed.

    Args:
        tag: the value to check.
        name: the argument's name, used in the error message.

    Raises:
        TypeError: ``tag`` is not a str.
    """
    if not isinstance(tag, str):
        raise TypeError(f"{name} must be str, got {type(tag).__name__}")
    return tag


class StepLedger:
    """The latest step and value of each scalar tag, in bounded memory.

    ``add_hparams`` writes a metric at its tag's latest step: TensorBoard's default loader treats a
    step going back as a restart and drops the curve after it (docs/FORMAT.md §5.6); and it skips
    the point when the tag already holds that value at that step (a duplicate row for every
    reader). Remembering every tag of a run with millions of distinct tags would cost ~130 bytes
    a tag, so past ``limit`` tags only the largest step among the others is kept (a metric among
    them is written at a step no lower than its own latest one, which is what keeps its curve).
    """

    __slots__ = ("latest", "limit", "_overflow", "_overflow_max")

    def __init__(self, limit: int) -> None:
        self.latest: Dict[str, Tuple[Optional[int], float]] = {}
        """``{tag: (latest step, its value)}`` of the first ``limit`` tags (the hot path updates it directly)."""
        self.limit = limit
        self._overflow = False  # a tag beyond the limit was logged
        self._overflow_max: Optional[int] = None  # the largest step among those tags

    def note(self, tag: str, step: Optional[int], value: float) -> None:
        """Remember ``step`` and ``value`` as ``tag``'s latest."""
        if len(self.latest) < self.limit or tag in self.latest:
            self.latest[tag] = (step, value)
            return
        self._overflow = True
        if step is not None and (self._overflow_max is None or step > self._overflow_max):
            self._overflow_max = step

    def latest_step(self, tag: str) -> Optional[int]:
        """The step to write metric ``tag`` at when no step is given (None: the tag was never logged)."""
        if tag in self.latest:
            return self.latest[tag][0]
        return self._overflow_max if self._overflow else None

    def latest_point(self, tag: str) -> Optional[Tuple[Optional[int], float]]:
        """``(step, value)`` of ``tag``'s latest scalar, or None if it was never logged (or not tracked)."""
        return self.latest.get(tag)
