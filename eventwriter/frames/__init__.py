"""Event files as tables: pandas, Arrow, Polars or Dask, at close to I/O speed.

Every function reads a logdir (or one run directory, or one event file) and returns one row per
value, with the columns ``run, tag, step, wall_time`` and the kind's own columns. ``run`` is the
run's directory relative to the logdir (``.`` for the logdir itself). Rows equal those of
TensorBoard's Python data layer (``plugin_event_accumulator`` with size guidance 0), restarts and
``purge_step`` included; docs/reading.md lists the differences.

>>> from eventwriter import frames
>>> df = frames.scalars("runs", tags=["loss/train"])          # doctest: +SKIP

pandas, pyarrow and polars come with ``pip install ".[frames]"`` (in the checkout); ``format="dask"`` needs
``".[dask]"``. Importing ``eventwriter`` does not import this package.
"""

from __future__ import annotations

from .api import (
    DamagedFileWarning,
    audio,
    histograms,
    hparams,
    images,
    pr_curves,
    read,
    scalars,
    tensors,
    text,
)
from .follower import Follower
from .pool import WorkerCrashError

__all__ = [
    "scalars",
    "histograms",
    "tensors",
    "text",
    "pr_curves",
    "images",
    "audio",
    "hparams",
    "read",
    "Follower",
    "DamagedFileWarning",
    "WorkerCrashError",
]
