"""Table shapes people ask for (issue 16, items 4, 6 and 22).

* One event file instead of a logdir (tbparse and ``reader.read_events`` accept one).
* A wide table, one row per ``(run, step)`` and one column per tag, like tbparse's ``pivot=True``,
  with a documented rule for repeated steps; and ``add_hparams`` not writing a second point at a
  step where the tag already has that value.
* ``tensors`` in Arrow/Polars when string and numeric tensors share a logdir.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")

from eventwriter import SummaryWriter, frames  # noqa: E402
from eventwriter.reader import read_events, run_files  # noqa: E402
from support.frames_oracle import assert_same  # noqa: E402
from support.tbutil import plugin_accumulator, scalar_series  # noqa: E402

# ---- one event file ------------------------------------------------------------------------------


def test_one_event_file_is_read_as_run_dot(tmp_path):
    with SummaryWriter(str(tmp_path / "r")) as w:
        for step in range(5):
            w.add_scalar("loss", step / 2, step)
            w.add_text("t", f"s{step}", step)
    (path,) = run_files(tmp_path)["r"]
    table = frames.scalars(path)
    assert set(table.run) == {"."} and table.value.tolist() == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert len(frames.text(path, format="arrow")) == 5
    assert len(frames.hparams(path)) == 0
    follower = frames.Follower(path, "scalars")
    assert len(follower.poll()) == 5 and len(follower.poll()) == 0
    assert len(list(read_events(path))) == 11  # the same file, as the reader reads it
    with pytest.raises(FileNotFoundError):
        frames.scalars(tmp_path / "missing")


def test_export_of_one_event_file(tmp_path):
    import os
    import subprocess
    import sys

    with SummaryWriter(str(tmp_path / "r")) as w:
        for step in range(5):
            w.add_scalar("loss", step / 2, step)
    (path,) = run_files(tmp_path)["r"]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = tmp_path / "out.parquet"
    done = subprocess.run(
        [sys.executable, "-m", "eventwriter", "export", path, "-o", str(out), "--progress"],
        capture_output=True, text=True, timeout=120, env=dict(os.environ, PYTHONPATH=root),
    )
    assert done.returncode == 0, done.stderr
    assert pd.read_parquet(out).value.tolist() == [0.0, 0.5, 1.0, 1.5, 2.0]


# ---- pivot ---------------------------------------------------------------------------------------


def test_pivot_has_one_row_per_run_and_step_and_a_column_per_tag(tmp_path):
    with SummaryWriter(str(tmp_path / "a")) as w:
        for step in range(4):
            w.add_scalar("loss", 1 / (step + 1), step)
            if step % 2 == 0:
                w.add_scalar("acc", step / 10, step)
    with SummaryWriter(str(tmp_path / "b")) as w:
        w.add_scalar("loss", 7.0, 10)
    wide = frames.scalars(tmp_path, pivot=True)
    assert list(wide.columns) == ["run", "step", "acc", "loss"]
    assert list(zip(wide.run, wide.step)) == [("a", 0), ("a", 1), ("a", 2), ("a", 3), ("b", 10)]
    assert wide.loss.tolist() == [1.0, 0.5, pytest.approx(1 / 3), 0.25, 7.0]
    assert [v if not math.isnan(v) else None for v in wide.acc] == [0.0, None, pytest.approx(0.2), None, None]
    arrow = frames.scalars(tmp_path, pivot=True, format="arrow")
    assert arrow.column("acc").to_pylist() == [0.0, None, pytest.approx(0.2), None, None]
    pl = pytest.importorskip("polars")
    polars = frames.scalars(tmp_path, pivot=True, format="polars")
    assert isinstance(polars, pl.DataFrame) and polars["loss"].to_list() == arrow.column("loss").to_pylist()
    with pytest.raises(ValueError, match="pivot"):
        frames.read(tmp_path, "text", pivot=True)


def test_pivot_keeps_the_value_read_last_at_a_repeated_step(tmp_path):
    # A restart TensorBoard's Python layer does not purge (the first START of a run is ignored):
    # step 5 is logged twice; the long table keeps both, the wide one the later value.
    run = str(tmp_path / "r")
    with SummaryWriter(run) as w:
        for step in range(8):
            w.add_scalar("loss", step, step)
    with SummaryWriter(run, purge_step=5) as w:
        w.add_scalar("loss", 50.0, 5)
    long = frames.scalars(tmp_path)
    assert long[long.step == 5].value.tolist() == [5.0, 50.0]
    assert [v for _, v in scalar_series(plugin_accumulator(run), "loss") if _ == 5] == [5.0, 50.0]  # TensorBoard keeps both too
    wide = frames.scalars(tmp_path, pivot=True)
    assert wide.set_index("step").loss.to_dict() == {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 50.0, 6: 6, 7: 7}


def test_add_hparams_at_a_metrics_last_step_does_not_duplicate_it(tmp_path):
    with SummaryWriter(str(tmp_path / "r")) as w:
        for step in range(5):
            w.add_scalar("loss", 1 / (step + 1), step)
        w.add_hparams({"lr": 0.1}, {"loss": 0.2})  # the value loss already has at its last step (as float32)
        w.add_hparams({"lr": 0.1}, {"loss": 0.2}, global_step=4)
    table = frames.scalars(tmp_path)
    assert table.step.tolist() == [0, 1, 2, 3, 4]
    assert_same(tmp_path, "scalars", workers=0)
    wide = frames.scalars(tmp_path, pivot=True)
    assert len(wide) == 5
    assert frames.hparams(tmp_path)["metric/loss"].tolist() == [pytest.approx(0.2)]


def test_add_hparams_with_a_new_value_still_writes_it(tmp_path):
    with SummaryWriter(str(tmp_path / "r")) as w:
        for step in range(3):
            w.add_scalar("loss", 1.0, step)
        w.add_hparams({"lr": 0.1}, {"loss": 0.125})  # a final evaluation: a new value at step 2
    table = frames.scalars(tmp_path)
    assert list(zip(table.step, table.value)) == [(0, 1.0), (1, 1.0), (2, 1.0), (2, 0.125)]
    assert frames.hparams(tmp_path)["metric/loss"].tolist() == [0.125]


# ---- string tensors in Arrow and Polars ----------------------------------------------------------


def test_string_and_numeric_tensors_share_an_arrow_table(tmp_path):
    with SummaryWriter(str(tmp_path / "r")) as w:
        w.add_custom_scalars({"Losses": {"all": ["Multiline", ["loss/.*"]]}})
        w.add_mesh("mesh", np.zeros((1, 3, 3), np.float32), faces=np.array([[[0, 1, 2]]], np.int32), global_step=1)
        w.add_tensor("ints", np.arange(6, dtype=np.int64).reshape(2, 3), 1)
        w.add_tensor("cplx", np.array([1 + 2j], np.complex64), 1)
    pandas = frames.tensors(tmp_path)
    table = frames.tensors(tmp_path, format="arrow")
    assert table.num_rows == len(pandas) == 5
    assert str(table.schema.field("value").type) == "list<item: double>"
    assert str(table.schema.field("strings").type) == "list<item: binary>"
    rows = {r["tag"]: r for r in table.to_pylist()}
    layout = rows["custom_scalars__config__"]
    assert layout["value"] is None and layout["dtype"] == "string" and len(layout["strings"]) == 1
    assert rows["ints"]["value"] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0] and rows["ints"]["strings"] is None
    assert rows["ints"]["shape"] == [2, 3]
    assert rows["cplx"]["value"] == [1.0, 2.0]  # complex: real and imaginary parts in turn
    pytest.importorskip("polars")
    polars = frames.tensors(tmp_path, format="polars")
    assert polars.height == 5 and str(polars.schema["strings"]) == "List(Binary)"
    empty = frames.tensors(tmp_path / "r", tags=["nothing"], format="arrow")
    assert empty.num_rows == 0 and empty.schema.field("strings").type == table.schema.field("strings").type
