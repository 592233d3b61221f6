"""What a read reads, as one value passed from the public functions down to the file reader.

:class:`ReadOptions` is frozen and picklable (it crosses to worker processes and Dask partitions),
and it is checked once, where it is made, instead of at every level it passes through.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, FrozenSet, Iterable, Mapping, Optional, Union

from .kinds import KINDS

Names = Union[None, str, Iterable[str]]
ON_DAMAGE = ("warn", "raise", "ignore")


def names_arg(value: Names, name: str) -> Optional[FrozenSet[str]]:
    """Normalise a ``runs=``/``tags=`` argument to a frozenset of strings (None = all).

    Raises:
        TypeError: ``value`` is not None, a string or an iterable of strings.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset((value,))
    try:
        items = frozenset(value)
    except TypeError:
        raise TypeError(f"{name} must be None, a string or an iterable of strings, got {type(value).__name__}") from None
    if not all(isinstance(v, str) for v in items):
        raise TypeError(f"{name} must contain only strings")
    return items


@dataclass(frozen=True)
class ReadOptions:
    """The options of one read: the kind, which runs and tags, payloads, damage handling, storage, workers.

    Build it with :meth:`of`, which checks every field; ``runs``/``tags`` are frozensets (None:
    all), ``workers`` is None (decide by size) or a count (0 or 1: in this process).
    """

    kind: str
    runs: Optional[FrozenSet[str]] = None
    tags: Optional[FrozenSet[str]] = None
    payload: bool = False
    on_damage: str = "warn"
    storage_options: Optional[Mapping[str, Any]] = None
    workers: Optional[int] = None

    @classmethod
    def of(
        cls,
        kind: str,
        *,
        runs: Names = None,
        tags: Names = None,
        payload: bool = False,
        on_damage: str = "warn",
        storage_options: Optional[Mapping[str, Any]] = None,
        workers: Optional[int] = None,
    ) -> "ReadOptions":
        """Check and normalise the arguments of a read.

        Raises:
            ValueError: an unknown ``kind`` or ``on_damage``, or a negative ``workers``.
            TypeError: ``runs``/``tags`` are not strings, ``workers`` is not an int.
        """
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
        if on_damage not in ON_DAMAGE:
            raise ValueError(f"on_damage must be 'warn', 'raise' or 'ignore', got {on_damage!r}")
        if workers is not None:
            if isinstance(workers, bool) or not isinstance(workers, int):
                raise TypeError(f"workers must be None or an int, got {type(workers).__name__}")
            if workers < 0:
                raise ValueError(f"workers must be None or >= 0, got {workers}")
        return cls(kind, names_arg(runs, "runs"), names_arg(tags, "tags"), bool(payload), on_damage, storage_options, workers)

    def with_kind(self, kind: str) -> "ReadOptions":
        """The same options for another kind."""
        return replace(self, kind=kind)


def as_options(options: Union[ReadOptions, str]) -> ReadOptions:
    """``options`` itself, or the default options for a kind name."""
    return ReadOptions.of(options) if isinstance(options, str) else options
