"""``eventwriter export`` of values that files struggle with (issue 16 item 8), read back and compared
with what TensorBoard's loader holds.

* A string tensor (``add_custom_scalars``' layout, a text-like ``add_tensor``) crashed the
  ``.jsonl``, ``.parquet`` and ``.feather`` writers with a traceback.
* JSON Lines held ``NaN``/``Infinity`` tokens that strict JSON parsers reject (a NaN loss is common).
"""

from __future__ import annotations

import base64
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support.tbutil import legacy_accumulator, plugin_accumulator, tensor_values

from eventwriter import SummaryWriter

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("pandas")
pytest.importorskip("pyarrow")


def _export(logdir, output, *args):
    return subprocess.run([sys.executable, "-m", "eventwriter", "export", str(logdir), "-o", str(output), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=180)


def _strict_json(line: str):
    """json.loads that rejects NaN/Infinity, as strict parsers (JavaScript, Go, jq) do."""
    def reject(token):
        raise ValueError(f"not JSON: {token}")

    return json.loads(line, parse_constant=reject)


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("foreign_values")
    with SummaryWriter(str(root / "run")) as writer:
        writer.add_custom_scalars({"losses": {"loss": ["Multiline", ["loss"]]}})
        writer.add_tensor("words", np.array([b"alpha", b"\xffbinary"]), 1)
        writer.add_tensor("floats", np.array([1.5, np.nan, np.inf, -np.inf]), 2)
        writer.add_tensor("counts", np.array([[1, 2], [3, 4]], dtype=np.int64), 3)
        for step in range(3):
            writer.add_scalar("loss", float("nan") if step == 1 else 1.0 / (step + 1), step)
    return root


def _tensors_by_tag(logdir):
    acc = plugin_accumulator(logdir / "run")
    return {tag: tensor_values(acc, tag) for tag in ("custom_scalars__config__", "words", "floats", "counts")}


@pytest.mark.parametrize("ext", [".jsonl", ".parquet", ".feather", ".csv"])
def test_string_tensors_export_to_every_format(logdir, tmp_path, ext):
    import pandas as pd

    out = tmp_path / f"tensors{ext}"
    done = _export(logdir, out, "--kind", "tensors")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "wrote 4 rows" in done.stderr
    expected = _tensors_by_tag(logdir)
    if ext == ".jsonl":
        rows = {row["tag"]: row for row in map(_strict_json, out.read_text().splitlines())}
    elif ext == ".csv":
        frame = pd.read_csv(out)
        rows = {row["tag"]: {**row, "value": json.loads(row["value"]) if row["value"].startswith("[") else row["value"]}
                for row in frame.to_dict("records")}
    else:
        frame = pd.read_parquet(out) if ext == ".parquet" else pd.read_feather(out)
        rows = {row["tag"]: row for row in frame.to_dict("records")}
    for tag, [(step, array)] in expected.items():
        row = rows[tag]
        assert row["step"] == step
        if array.dtype.kind in "SO":  # bytes elements
            want = [bytes(b) for b in array.ravel()]
            if ext in (".jsonl", ".csv"):
                got = row["value"] if isinstance(row["value"], list) else [row["value"]]
                assert [base64.b64decode(v) for v in got] == want
            else:
                assert [bytes(b) for b in row["value_bytes"]] == want
                assert row["value"] is None
        else:
            want = array.ravel().tolist()
            got = row["value"]
            got = np.asarray(got, dtype=float).ravel().tolist() if ext != ".jsonl" and ext != ".csv" else \
                np.asarray([math.nan if v is None else v for v in np.asarray(got, dtype=object).ravel()], dtype=float).tolist()
            if ext in (".jsonl", ".csv"):  # JSON: every non-finite number is null
                want = [v if math.isfinite(v) else math.nan for v in want]
            assert np.array_equal(np.asarray(got), np.asarray(want, dtype=float), equal_nan=True), tag


def test_json_lines_write_a_nan_loss_as_null(logdir, tmp_path):
    out = tmp_path / "scalars.jsonl"
    done = _export(logdir, out)
    assert done.returncode == 0, done.stderr
    rows = [_strict_json(line) for line in out.read_text().splitlines()]
    tb = [(e.step, e.value) for e in legacy_accumulator(logdir / "run").Scalars("loss")]
    assert [(r["step"], r["value"]) for r in rows] == [(s, None if math.isnan(v) else v) for s, v in tb]
    assert rows[1]["value"] is None


def test_integer_tensors_stay_integers_in_parquet(logdir, tmp_path):
    import pyarrow.parquet as pq

    out = tmp_path / "counts.parquet"
    assert _export(logdir, out, "--kind", "tensors", "--tags", "counts").returncode == 0
    column = pq.read_table(out).column("value")
    assert str(column.type.value_type) == "int64" and column.to_pylist() == [[1, 2, 3, 4]]


def test_export_takes_its_kinds_from_frames(logdir, tmp_path):
    """Issue 18: no copy of the kind list in the command; a new frames kind is exportable at once."""
    from eventwriter.cli.export import kinds
    from eventwriter.frames.kinds import KINDS

    assert kinds() == (*KINDS, "hparams")
    done = _export(logdir, tmp_path / "x.csv", "--kind", "nope")
    assert done.returncode == 2
    assert done.stderr == f"eventwriter: --kind must be one of {', '.join((*KINDS, 'hparams'))}, got 'nope'\n"
