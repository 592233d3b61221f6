"""``hparams``: one row per session run, its hyperparameters and final metric values."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional

from .reading import Names, PathLike, read_columns
from .runs import RunState

_START = "_hparams_/session_start_info"
_EXPERIMENT = "_hparams_/experiment"


def _value(v: Any) -> Any:
    kind = v.WhichOneof("kind")
    if kind == "number_value":
        return v.number_value
    if kind == "string_value":
        return v.string_value
    if kind == "bool_value":
        return v.bool_value
    return None


def hparams_table(logdir: PathLike, *, runs: Names = None, format: str = "pandas", **options: Any) -> Any:
    """See :func:`eventwriter.frames.hparams`."""
    from .. import protos

    states: Dict[str, RunState] = {}
    cols = read_columns(
        logdir, "scalars", None, None, False, options.get("workers"), options.get("on_damage", "warn"), options.get("storage_options"), None, states
    )
    # Last scalar of each (run, tag), after purges.
    last: Dict[tuple, float] = {}
    for r, t, v in zip(cols.run_code.tolist(), cols.tag_code.tolist(), cols.data["value"].tolist()):
        last[(cols.runs[r], cols.tags[t])] = v
    metrics: Optional[List[tuple]] = None
    for _run, state in states.items():  # the first run with an experiment defines the metrics
        meta = state.tag_meta.get(_EXPERIMENT)
        if meta and meta[1] == "hparams":
            data = protos.HParamsPluginData.FromString(meta[2])
            metrics = [(m.name.tag, m.name.group) for m in data.experiment.metric_infos]
            break
    wanted = None if runs is None else ({runs} if isinstance(runs, str) else set(runs))
    rows: List[Dict[str, Any]] = []
    for run, state in states.items():
        meta = state.tag_meta.get(_START)
        if not meta or meta[1] != "hparams" or (wanted is not None and run not in wanted):
            continue
        info = protos.HParamsPluginData.FromString(meta[2]).session_start_info
        row: Dict[str, Any] = {"run": run, "group_name": info.group_name, "start_time": info.start_time_secs}
        for name in sorted(info.hparams):
            row[name] = _value(info.hparams[name])
        names = metrics if metrics is not None else [(t, "") for (r, t) in last if r == run]
        for tag, group in names:
            source = os.path.normpath(os.path.join(run, group)) if group else run
            row[tag] = last.get((source, tag))
        rows.append(row)
    import pandas as pd

    frame = pd.DataFrame(rows) if rows else pd.DataFrame({"run": [], "group_name": [], "start_time": []})
    if format == "pandas":
        return frame
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)
    if format == "arrow":
        return table
    import polars as pl

    return pl.from_arrow(table)
