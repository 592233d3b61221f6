"""A table of values written to a file: Parquet, Feather, CSV or JSON Lines, chosen by its extension."""

from __future__ import annotations

import os
from typing import Any

FORMATS = {".parquet": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".feather": "feather"}
"""File extensions :func:`write_table` knows, and the format each one means."""


def _jsonable_frame(frame: Any) -> Any:
    """Columns that CSV/JSON cannot hold (numpy arrays, bytes) as lists and base64 text."""
    import base64

    import numpy as np

    out = frame.copy()
    for name in out.columns:
        if out[name].dtype == object:
            out[name] = [
                v.tolist() if isinstance(v, np.ndarray) else base64.b64encode(v).decode("ascii") if isinstance(v, bytes) else v for v in out[name]
            ]
    return out


def write_table(frame: Any, output: str) -> None:
    """Write a pandas DataFrame to ``output`` in the format its extension names."""
    kind = FORMATS[os.path.splitext(output)[1].lower()]
    if kind in ("parquet", "feather"):
        import pyarrow as pa

        frame = (
            _jsonable_frame(frame)
            if any(frame[c].dtype == object and len(frame) and hasattr(frame[c].iloc[0], "dtype") for c in frame.columns)
            else frame
        )
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if kind == "parquet":
            import pyarrow.parquet as pq

            pq.write_table(table, output)
        else:
            import pyarrow.feather as feather

            feather.write_feather(table, output)
    elif kind == "csv":
        import json

        flat = _jsonable_frame(frame)
        for name in flat.columns:
            if flat[name].dtype == object and any(isinstance(v, list) for v in flat[name]):
                flat[name] = [json.dumps(v) if isinstance(v, list) else v for v in flat[name]]
        flat.to_csv(output, index=False)
    else:
        import json

        import numpy as np

        # json's float repr round-trips exactly (pandas' to_json keeps only 10 digits by default).
        flat = _jsonable_frame(frame)
        columns = list(flat.columns)
        values = [flat[c].astype(object).tolist() if flat[c].dtype != object else flat[c].tolist() for c in columns]
        with open(output, "w", encoding="utf-8") as out:
            for row in zip(*values):
                out.write(json.dumps({c: (v.item() if isinstance(v, np.generic) else v) for c, v in zip(columns, row)}) + "\n")
