"""Read event files back: events of a file or logdir, scalars as plain Python data, and a run summary.

* :mod:`.events` — every event of a file or logdir in TensorBoard's read order (``read_events``).
* :mod:`.scalar_series` — every scalar as ``{run: {tag: [ScalarPoint, ...]}}`` (``scalars``).
* :mod:`.inspection` — files, writers and per-tag counts of each run (``describe``).
* :mod:`.explanation` — the annotated byte-level dump behind ``eventwriter explain``.

Which files make a run is :mod:`eventwriter.logdir`'s job; tables (pandas, Arrow, Polars) are
:mod:`eventwriter.frames`'. Nothing here imports the writer.
"""

from ..logdir import SkippedFileWarning, event_files, is_event_file_name, run_files
from .events import EventRecord, check_event, read_events, read_file_events
from .inspection import RunInfo, TagInfo, describe
from .scalar_series import MalformedValueWarning, ScalarPoint, scalars

__all__ = [
    "EventRecord",
    "MalformedValueWarning",
    "RunInfo",
    "ScalarPoint",
    "SkippedFileWarning",
    "TagInfo",
    "check_event",
    "describe",
    "event_files",
    "is_event_file_name",
    "read_events",
    "read_file_events",
    "run_files",
    "scalars",
]
