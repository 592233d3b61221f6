"""Wall time spent inside chosen methods of one object: the frameworks' "time inside the logger"."""

from __future__ import annotations

import functools
import time
from typing import Any, Iterable


class MethodTimer:
    """Replaces methods of an object with timed wrappers and sums their wall time in ``seconds``.

    The framework calls the wrappers as it would the methods, so what is measured is the logger's
    share of a real ``fit``/``train``, not a loop of our own.
    """

    def __init__(self) -> None:
        self.seconds = 0.0

    def wrap(self, target: Any, names: Iterable[str]) -> None:
        """Time every call of ``target.<name>`` for each name."""
        for name in names:
            setattr(target, name, self._timed(getattr(target, name)))

    def _timed(self, method: Any) -> Any:
        @functools.wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
        return wrapper
