"""What every command shares: how failures are reported and how warnings are shown."""

from __future__ import annotations

import sys
from typing import Any


def no_event_files(path: str) -> str:
    """The message for a path that holds no event file."""
    return f"no event files under {path} (no file name contains 'tfevents')"


def fail(message: str, code: int = 1) -> int:
    """Write ``eventwriter: message`` to stderr and return ``code`` (the command's exit code)."""
    sys.stderr.write(f"eventwriter: {message}\n")
    return code


def show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    """Warnings (skipped files, malformed values) as one plain line each, without source lines."""
    sys.stderr.write(f"eventwriter: warning: {message}\n")
