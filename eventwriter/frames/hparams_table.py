"""``hparams``: one row per session run, its hyperparameters and final metric values.

A session is a run with ``_hparams_/session_start_info`` (docs/FORMAT.md §5.9). Its metrics follow
TensorBoard's HParams plugin (``backend_context.py``), with one difference: each session's own.

* **Names.** A metric is a ``(group, tag)`` pair: the last scalar of ``tag`` in the run
  ``<session>/<group>`` (``group`` empty: the session's own run). Its column is named as the
  dashboard names a metric without a display name: ``tag``, or ``group.tag``.
* **Which metrics.** The session's own ``_hparams_/experiment`` (torch and eventwriter write one
  per ``add_hparams`` call), else that of the nearest enclosing run (``hparams_config`` written
  at the top of a logdir), else the first experiment in the logdir (TensorBoard uses that one for
  every session), else, as TensorBoard derives them, every scalar tag of every run below the
  session whose nearest enclosing session it is (Keras' ``train/`` and ``validation/`` sub-runs).
* **Columns.** ``run``, ``group_name``, ``start_time``, ``end_time``, ``status`` are fixed; each
  hyperparameter is ``hparam/<name>`` and each metric ``metric/<name>``, so no hyperparameter or
  metric can overwrite a fixed column or one another.
* **Types.** A numeric hyperparameter whose values are all whole numbers is an integer column
  (``Int64`` when some session lacks it): protobuf stores every number as a double, so ``seed``
  would otherwise read ``483555354.0``. Booleans stay booleans, strings strings; a hyperparameter
  that is a number in one session and a string in another is a string column in Arrow/Polars
  (as in TensorBoard) and keeps each value in pandas.
"""

from __future__ import annotations

import math
import os
from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Tuple

from ..metadata import HPARAMS_EXPERIMENT_TAG, HPARAMS_SESSION_END_INFO_TAG, HPARAMS_SESSION_START_INFO_TAG, PLUGIN_HPARAMS
from .options import Names, ReadOptions, names_arg
from .reading import PathLike, read_columns
from .runs import RunState

FIXED_COLUMNS = ("run", "group_name", "start_time", "end_time", "status")
HPARAM_PREFIX = "hparam/"
METRIC_PREFIX = "metric/"
_STATUS = {0: "UNKNOWN", 1: "SUCCESS", 2: "FAILURE", 3: "RUNNING"}  # hparams Status (docs/FORMAT.md §3.5)
_EXACT_INT = 1 << 53  # doubles hold every integer up to here exactly

Metric = Tuple[str, str]  # (group, tag)


def metric_column(group: str, tag: str) -> str:
    """The column of metric ``(group, tag)``: the dashboard's name for it, after ``metric/``."""
    return METRIC_PREFIX + (f"{group}.{tag}" if group else tag)


def _value(v: Any) -> Any:
    kind = v.WhichOneof("kind")
    if kind == "number_value":
        return v.number_value
    if kind == "string_value":
        return v.string_value
    if kind == "bool_value":
        return v.bool_value
    return None


def _plugin_content(state: RunState, tag: str) -> Optional[bytes]:
    meta = state.tag_meta.get(tag)
    return meta[2] if meta is not None and meta[1] == PLUGIN_HPARAMS else None


def _enclosing(run: str, candidates: Set[str]) -> Optional[str]:
    """The nearest run of ``candidates`` that is ``run`` or encloses it (``.`` encloses every run)."""
    path = run
    while path and path != ".":
        if path in candidates:
            return path
        path = os.path.dirname(path)
    return "." if "." in candidates else None


def _group_of(run: str, session: str) -> str:
    return "" if run == session else os.path.relpath(run, session)


def _metrics_by_session(
    sessions: List[str], experiments: Dict[str, List[Metric]], scalar_tags: Dict[str, List[str]]
) -> Dict[str, List[Metric]]:
    """Each session's metrics (see the module docstring for the order of the rules)."""
    first = next(iter(experiments.values())) if experiments else None
    derived: Dict[str, Set[Metric]] = {s: set() for s in sessions}
    if first is None:
        session_set = set(sessions)
        for run, tags in scalar_tags.items():
            session = _enclosing(run, session_set)
            if session is not None:
                derived[session].update((_group_of(run, session), tag) for tag in tags)
    out: Dict[str, List[Metric]] = {}
    for session in sessions:
        owner = _enclosing(session, set(experiments))
        if owner is not None:
            out[session] = experiments[owner]
        elif first is not None:
            out[session] = first
        else:
            out[session] = sorted(derived[session], key=lambda gt: (gt[1], gt[0]))
    return out


def _whole(values: List[Any]) -> bool:
    return all(isinstance(v, float) and math.isfinite(v) and v == int(v) and abs(v) <= _EXACT_INT for v in values)


def _hparam_column(values: List[Any]) -> Tuple[str, List[Any]]:
    """The column's sort (``int``, ``float``, ``bool``, ``str`` or ``mixed``) and its values (None if absent)."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return "bool", values
    if present and all(isinstance(v, float) for v in present):
        if _whole(present):
            return "int", [None if v is None else int(v) for v in values]
        return "float", values
    if all(isinstance(v, str) for v in present):
        return "str", values
    return "mixed", [int(v) if isinstance(v, float) and _whole([v]) else v for v in values]


def hparams_table(
    logdir: PathLike,
    *,
    runs: Names = None,
    format: str = "pandas",
    workers: Optional[int] = None,
    on_damage: str = "warn",
    storage_options: Optional[Mapping[str, Any]] = None,
    progress: Optional[Callable[[int], None]] = None,
) -> Any:
    """See :func:`eventwriter.frames.hparams`."""
    from .. import protos

    wanted = names_arg(runs, "runs")
    # Every run is read, whatever ``runs`` says: metrics live in sub-runs and experiments in
    # enclosing runs, which the filter would leave out.
    options = ReadOptions.of("scalars", on_damage=on_damage, storage_options=storage_options, workers=workers)
    states: Dict[str, RunState] = {}
    cols = read_columns(logdir, options, progress, states)
    # Last scalar of each (run, tag) in read order, after purges (TensorBoard's read_last_scalars).
    last: Dict[Tuple[str, str], float] = {}
    scalar_tags: Dict[str, List[str]] = {}
    for r, t, v in zip(cols.run_code.tolist(), cols.tag_code.tolist(), cols.data["value"].tolist()):
        key = (cols.runs[r], cols.tags[t])
        if key not in last:
            scalar_tags.setdefault(key[0], []).append(key[1])
        last[key] = v
    experiments: Dict[str, List[Metric]] = {}
    starts: Dict[str, Any] = {}
    for run, state in states.items():
        content = _plugin_content(state, HPARAMS_EXPERIMENT_TAG)
        if content is not None:
            infos = protos.HParamsPluginData.FromString(content).experiment.metric_infos
            experiments[run] = [(m.name.group, m.name.tag) for m in infos]
        content = _plugin_content(state, HPARAMS_SESSION_START_INFO_TAG)
        if content is not None:
            starts[run] = protos.HParamsPluginData.FromString(content).session_start_info
    sessions = list(starts)
    metrics = _metrics_by_session(sessions, experiments, scalar_tags)
    shown = [s for s in sessions if wanted is None or s in wanted]

    fixed: Dict[str, List[Any]] = {name: [] for name in FIXED_COLUMNS}
    hparam_values: Dict[str, Dict[str, Any]] = {}
    metric_values: Dict[Metric, Dict[str, float]] = {}
    for session in shown:
        info = starts[session]
        content = _plugin_content(states[session], HPARAMS_SESSION_END_INFO_TAG)
        end = protos.HParamsPluginData.FromString(content).session_end_info if content is not None else None
        fixed["run"].append(session)
        fixed["group_name"].append(info.group_name)
        fixed["start_time"].append(info.start_time_secs)
        fixed["end_time"].append(end.end_time_secs if end is not None else math.nan)
        fixed["status"].append(_STATUS.get(int(end.status), "UNKNOWN") if end is not None else "UNKNOWN")
        for name in info.hparams:
            hparam_values.setdefault(name, {})[session] = _value(info.hparams[name])
        for group, tag in metrics[session]:
            source = os.path.normpath(os.path.join(session, group)) if group else session
            value = last.get((source, tag))
            column = metric_values.setdefault((group, tag), {})
            if value is not None:
                column[session] = value
    hparams = {name: _hparam_column([values.get(s) for s in shown]) for name, values in sorted(hparam_values.items())}
    metric_cols = {
        metric_column(group, tag): [values.get(s, math.nan) for s in shown]
        for (group, tag), values in sorted(metric_values.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    }
    return _render(fixed, hparams, metric_cols, format)


def _render(fixed: Dict[str, List[Any]], hparams: Dict[str, Tuple[str, List[Any]]], metrics: Dict[str, List[float]], format: str) -> Any:
    if format == "pandas":
        import pandas as pd

        data: Dict[str, Any] = {
            "run": pd.array(fixed["run"], dtype=object),
            "group_name": pd.array(fixed["group_name"], dtype=object),
            "start_time": pd.array(fixed["start_time"], dtype="float64"),
            "end_time": pd.array(fixed["end_time"], dtype="float64"),
            "status": pd.array(fixed["status"], dtype=object),
        }
        pandas_types = {"int": "Int64", "bool": "boolean", "float": "float64", "str": object, "mixed": object}
        for name, (sort, values) in hparams.items():
            if sort == "int" and None not in values:
                data[HPARAM_PREFIX + name] = pd.array(values, dtype="int64")
            elif sort == "bool" and None not in values:
                data[HPARAM_PREFIX + name] = pd.array(values, dtype=bool)
            elif sort == "float":
                data[HPARAM_PREFIX + name] = pd.array([math.nan if v is None else v for v in values], dtype="float64")
            else:
                data[HPARAM_PREFIX + name] = pd.array(values, dtype=pandas_types[sort])
        for name, floats in metrics.items():
            data[name] = pd.array(floats, dtype="float64")
        return pd.DataFrame(data)
    import pyarrow as pa

    arrow_types = {"int": pa.int64(), "bool": pa.bool_(), "float": pa.float64(), "str": pa.string(), "mixed": pa.string()}
    arrays: Dict[str, Any] = {
        "run": pa.array(fixed["run"], pa.string()),
        "group_name": pa.array(fixed["group_name"], pa.string()),
        "start_time": pa.array(fixed["start_time"], pa.float64()),
        "end_time": pa.array(fixed["end_time"], pa.float64()),
        "status": pa.array(fixed["status"], pa.string()),
    }
    for name, (sort, values) in hparams.items():
        if sort == "mixed":  # TensorBoard shows such a hyperparameter as a string column too
            values = [None if v is None else str(v).lower() if isinstance(v, bool) else str(v) for v in values]
        arrays[HPARAM_PREFIX + name] = pa.array(values, arrow_types[sort])
    for name, floats in metrics.items():
        arrays[name] = pa.array(floats, pa.float64())
    table = pa.table(arrays)
    if format == "arrow":
        return table
    import polars as pl

    return pl.from_arrow(table)
