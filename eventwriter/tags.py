"""The one rule for tags and other names users pass as strings (``tag``, ``main_tag``, dict keys)."""

from __future__ import annotations

from typing import Any

__all__ = ["check_tag"]


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
