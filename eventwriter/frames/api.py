"""The public readers: one function per kind, all sharing :func:`read`."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

from .options import ReadOptions
from .reading import DamagedFileWarning, Names, PathLike, check_format, read_columns
from .table import pivot as wide_table
from .table import render

__all__ = ["read", "scalars", "histograms", "tensors", "text", "pr_curves", "images", "audio", "hparams", "DamagedFileWarning"]


def read(
    logdir: PathLike,
    kind: str,
    *,
    runs: Names = None,
    tags: Names = None,
    format: str = "pandas",
    payload: bool = False,
    workers: Optional[int] = None,
    on_damage: str = "warn",
    storage_options: Optional[Mapping[str, Any]] = None,
    progress: Optional[Callable[[int], None]] = None,
    pivot: bool = False,
) -> Any:
    """Read every value of ``kind`` under ``logdir`` as a table.

    Args:
        logdir: a logdir (every run below it), a run directory, or one event file (run ``.``).
        kind: ``"scalars"``, ``"histograms"``, ``"tensors"``, ``"text"``, ``"pr_curves"``,
            ``"images"`` or ``"audio"`` (``hparams`` has its own function).
        runs: only these runs (names as in the ``run`` column); None for all.
        tags: only these tags; other values are not decoded.
        format: ``"pandas"``, ``"arrow"`` (``pyarrow.Table``), ``"polars"`` or ``"dask"`` (one
            partition per event file).
        payload: images/audio: fill the ``data`` column with the encoded bytes.
        workers: worker processes (None: one per CPU for logdirs of 256 MB or more, else none;
            0 or 1: none). Workers are never started where they would run the calling script's
            top level again (a call outside ``if __name__ == "__main__":``): the files are then
            read in this process.
        on_damage: a damaged record ends its file; ``"warn"`` (default) keeps the rows before it
            and warns (:class:`DamagedFileWarning`), ``"raise"`` raises the
            :class:`~eventwriter.record.CorruptRecordError`, ``"ignore"`` keeps them silently.
            A truncated last record (a live file) is always skipped quietly.
        storage_options: options for a URL logdir's storage backend.
        progress: called with the byte count of each file as it is done.
        pivot: scalars only: a wide table, one row per ``(run, step)`` and one column per tag;
            of several values of a tag at one step, the one read last (see
            :func:`eventwriter.frames.table.pivot`).

    Raises:
        ValueError: an unknown ``kind``, ``format`` or ``on_damage``; ``pivot`` with another kind
            than scalars or with ``format="dask"``; a negative ``workers``.
        TypeError: ``runs``/``tags`` are not strings; ``workers`` is not an int.
        FileNotFoundError: ``logdir`` does not exist.
        WorkerCrashError: a file killed a worker process twice.
        CorruptRecordError, MalformedValueWarning: with ``on_damage="raise"``.
    """
    options = ReadOptions.of(kind, runs=runs, tags=tags, payload=payload, on_damage=on_damage, storage_options=storage_options, workers=workers)
    check_format(format)
    if pivot and (kind != "scalars" or format == "dask"):
        raise ValueError(f"pivot=True needs kind='scalars' and format 'pandas', 'arrow' or 'polars', got kind={kind!r}, format={format!r}")
    if format == "dask":
        from .dask_frame import dask_frame

        return dask_frame(logdir, options)
    cols = read_columns(logdir, options, progress)
    return wide_table(cols, format) if pivot else render(cols, format)


def scalars(
    logdir: PathLike, *, runs: Names = None, tags: Names = None, format: str = "pandas", pivot: bool = False, **options: Any
) -> Any:
    """Scalars (old-style ``simple_value`` and new-style tensors, float or double).

    Columns: ``run, tag, step, wall_time, value`` (float64). With ``pivot=True``, a wide table:
    ``run, step`` and one float64 column per tag, one row per ``(run, step)``; a tag with
    several values at one step shows the one read last. Options as for :func:`read`.
    """
    return read(logdir, "scalars", runs=runs, tags=tags, format=format, pivot=pivot, **options)


def histograms(logdir: PathLike, *, runs: Names = None, tags: Names = None, format: str = "pandas", **options: Any) -> Any:
    """Histograms as bucket lists: ``run, tag, step, wall_time, left, right, count``.

    ``left``/``right`` are each bucket's edges and ``count`` its count, as TensorBoard's data layer
    stores them (old-style histograms lose their empty end buckets, edges become float32).
    """
    return read(logdir, "histograms", runs=runs, tags=tags, format=format, **options)


def tensors(logdir: PathLike, *, runs: Names = None, tags: Names = None, format: str = "pandas", **options: Any) -> Any:
    """Tensors of plugins without a kind of their own (``add_tensor``, mesh, custom scalars, ...).

    Columns: ``run, tag, step, wall_time, plugin, dtype, shape, value``; ``value`` is the numpy
    array in pandas and the flattened elements in Arrow/Polars.
    """
    return read(logdir, "tensors", runs=runs, tags=tags, format=format, **options)


def text(logdir: PathLike, *, runs: Names = None, tags: Names = None, format: str = "pandas", **options: Any) -> Any:
    """Text summaries: ``run, tag, step, wall_time, text, shape`` (elements joined by newlines)."""
    return read(logdir, "text", runs=runs, tags=tags, format=format, **options)


def pr_curves(logdir: PathLike, *, runs: Names = None, tags: Names = None, format: str = "pandas", **options: Any) -> Any:
    """PR curves: one row per step with list columns ``true_positives`` … ``precision``, ``recall``."""
    return read(logdir, "pr_curves", runs=runs, tags=tags, format=format, **options)


def images(logdir: PathLike, *, runs: Names = None, tags: Names = None, format: str = "pandas", payload: bool = False, **options: Any) -> Any:
    """One row per image: ``run, tag, step, wall_time, index, width, height, format, size, data``.

    ``data`` holds the encoded image only with ``payload=True`` (else None).
    """
    return read(logdir, "images", runs=runs, tags=tags, format=format, payload=payload, **options)


def audio(logdir: PathLike, *, runs: Names = None, tags: Names = None, format: str = "pandas", payload: bool = False, **options: Any) -> Any:
    """One row per clip: ``run, tag, step, wall_time, index, sample_rate, format, size, label, data``."""
    return read(logdir, "audio", runs=runs, tags=tags, format=format, payload=payload, **options)


def hparams(logdir: PathLike, *, runs: Names = None, format: str = "pandas", **options: Any) -> Any:
    """One row per hparams session: fixed columns, ``hparam/<name>`` and ``metric/<name>`` columns.

    A session is a run with ``_hparams_/session_start_info``. Fixed columns: ``run``,
    ``group_name``, ``start_time``, ``end_time``, ``status``. A metric is a ``(group, tag)`` pair
    named as TensorBoard's HParams dashboard names it (``tag`` or ``group.tag``); its value is the
    last scalar of ``tag`` in the run ``<session>/<group>``, after purges. Each session has its own
    metrics (its experiment, an enclosing run's, the logdir's first, else those TensorBoard
    derives from the runs below it); see :mod:`eventwriter.frames.hparams_table`. Whole-number
    hyperparameters are integers, booleans booleans.

    Options: ``workers``, ``on_damage``, ``storage_options``, ``progress`` as for :func:`read`.

    Raises:
        ValueError: ``format`` is not ``"pandas"``, ``"arrow"`` or ``"polars"``.
    """
    from .hparams_table import hparams_table

    if format not in ("pandas", "arrow", "polars"):
        raise ValueError(f"format must be 'pandas', 'arrow' or 'polars' for hparams, got {format!r}")
    return hparams_table(logdir, runs=runs, format=format, **options)
