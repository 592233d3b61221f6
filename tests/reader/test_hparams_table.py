"""``frames.hparams`` against TensorBoard's HParams dashboard (issue 16, items 5 and 17).

The oracle is a running ``tensorboard`` (Python data layer, ``--load_fast=false``): its
``experiment`` and ``session_groups`` routes, which the dashboard draws. Layouts: the HParams
tutorial's Keras callbacks with ``hparams_config`` (metrics in groups ``train`` and ``validation``)
and without it (TensorBoard derives the metrics from the sessions' sub-runs), written by
TensorFlow (``tf_written/``), and torch's layout, one sub-run per ``add_hparams`` call.
"""

from __future__ import annotations

import math
import os
import shutil

import pytest

pd = pytest.importorskip("pandas")

from eventwriter import SummaryWriter, frames  # noqa: E402
from support.served import HPARAMS_GROUPS_REQUEST  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TF = os.path.join(HERE, "tf_written")


def dashboard(server, sessions: int):
    """``{session: ({hparam: value}, {"group.tag" or "tag": value})}`` as the HParams dashboard shows them."""
    groups = server.wait_for(
        lambda d: len(d.get("sessionGroups", [])) == sessions,
        "/data/plugin/hparams/session_groups?request=" + __import__("urllib.parse").parse.quote(__import__("json").dumps(HPARAMS_GROUPS_REQUEST)),
        timeout=120,
    )
    experiment = server.query_json("/data/plugin/hparams/experiment", {"experimentName": ""})
    names = [(m["name"].get("group", ""), m["name"]["tag"]) for m in experiment["metricInfos"]]
    out = {}
    for group in groups["sessionGroups"]:
        for session in group["sessions"]:
            values = {(v["name"].get("group", ""), v["name"]["tag"]): v["value"] for v in session.get("metricValues", [])}
            metrics = {(f"{g}.{t}" if g else t): values.get((g, t)) for g, t in names}
            out[session["name"]] = (dict(group["hparams"]), metrics)
    return out


def ours(table):
    """The same shape from a frames.hparams table."""
    out = {}
    for row in table.to_dict("records"):
        hparams = {k[len("hparam/"):]: v for k, v in row.items() if k.startswith("hparam/") and not _missing(v)}
        metrics = {k[len("metric/"):]: (None if _missing(v) else v) for k, v in row.items() if k.startswith("metric/")}
        out[row["run"]] = (hparams, metrics)
    return out


def _missing(v):
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def _assert_matches_dashboard(logdir, tb_server, sessions):
    server = tb_server(str(logdir), load_fast=False)
    theirs = dashboard(server, sessions)
    mine = ours(frames.hparams(logdir))
    assert sorted(mine) == sorted(theirs)
    for session, (their_hparams, their_metrics) in theirs.items():
        my_hparams, my_metrics = mine[session]
        assert my_hparams == pytest.approx(their_hparams), session  # TensorBoard's numbers are doubles, ours ints when whole
        for name, value in their_metrics.items():
            assert my_metrics.get(name) == pytest.approx(value, nan_ok=True), (session, name)
    return mine


@pytest.mark.server
def test_keras_tutorial_layout_with_hparams_config_matches_the_dashboard(tmp_path, tb_server):
    logdir = tmp_path / "hparams_tutorial"
    shutil.copytree(os.path.join(TF, "hparams_tutorial"), logdir)
    mine = _assert_matches_dashboard(logdir, tb_server, 2)
    # a tag in two groups is two metrics: the training loss is not lost under the validation loss
    _, metrics = mine["run-0"]
    assert set(metrics) == {"train.epoch_loss", "validation.epoch_loss", "validation.epoch_accuracy"}
    assert metrics["train.epoch_loss"] != metrics["validation.epoch_loss"]


@pytest.mark.server
def test_keras_layout_without_hparams_config_derives_the_dashboards_metrics(tmp_path, tb_server):
    logdir = tmp_path / "hparams_derived"
    shutil.copytree(os.path.join(TF, "hparams_derived"), logdir)
    mine = _assert_matches_dashboard(logdir, tb_server, 2)
    assert all(len(metrics) == 7 for _, metrics in mine.values())  # 3 in train/, 4 in validation/


@pytest.mark.server
def test_torch_layout_one_sub_run_per_call_matches_the_dashboard(tmp_path, tb_server):
    with SummaryWriter(str(tmp_path)) as w:
        for i, lr in enumerate((0.1, 0.01)):
            w.add_hparams({"lr": lr, "seed": 483555354 + i, "opt": "sgd"}, {"hp/loss": 1.0 / (i + 1), "hp/acc": 0.5 + i / 4}, run_name=f"trial{i}")
    _assert_matches_dashboard(tmp_path, tb_server, 2)


def test_each_run_has_its_own_metrics_even_when_others_are_excluded(tmp_path):
    # Issue 16 item 5: run "x" logged three metrics, run "a" (first in order) one other.
    with SummaryWriter(str(tmp_path)) as w:
        w.add_hparams({"lr": 0.1}, {"other": 1.0}, run_name="a")
        w.add_hparams({"lr": 0.2, "seed": 483555354}, {"m1": 1.0, "m2": 2.0, "m3": 3.0}, run_name="x")
    table = frames.hparams(tmp_path, runs=["x"])
    assert table["run"].tolist() == ["x"]
    assert [c for c in table.columns if c.startswith("metric/")] == ["metric/m1", "metric/m2", "metric/m3"]
    assert table[["metric/m1", "metric/m2", "metric/m3"]].iloc[0].tolist() == [1.0, 2.0, 3.0]
    both = frames.hparams(tmp_path)
    assert both["hparam/seed"].tolist()[1] == 483555354 and str(both["hparam/seed"].dtype) == "Int64"
    assert both["hparam/lr"].tolist() == [0.1, 0.2]


def test_integer_hparams_stay_integers_in_every_format(tmp_path):
    with SummaryWriter(str(tmp_path)) as w:
        w.add_hparams({"seed": 483555354, "layers": 3, "lr": 0.5, "bn": True}, {"loss": 0.25}, run_name="a")
        w.add_hparams({"seed": 7, "lr": 1.5, "bn": False}, {"loss": 0.5}, run_name="b")
    table = frames.hparams(tmp_path)
    assert table["hparam/seed"].tolist() == [483555354, 7] and table["hparam/seed"].dtype == "int64"
    assert table["hparam/layers"].tolist()[0] == 3 and str(table["hparam/layers"].dtype) == "Int64"
    assert table["hparam/bn"].tolist() == [True, False] and table["hparam/bn"].dtype == bool
    arrow = frames.hparams(tmp_path, format="arrow")
    assert str(arrow.schema.field("hparam/seed").type) == "int64" and arrow.column("hparam/seed").to_pylist() == [483555354, 7]
    assert arrow.column("hparam/layers").to_pylist() == [3, None]
    polars = frames.hparams(tmp_path, format="polars")
    assert polars["hparam/seed"].to_list() == [483555354, 7] and str(polars["hparam/bn"].dtype) == "Boolean"


def test_hparams_named_like_fixed_columns_or_metrics_stay_apart(tmp_path):
    # Issue 16 item 17: an hparam called "run" or "start_time", or like a metric, overwrote that column.
    with SummaryWriter(str(tmp_path / "session")) as w:
        w.add_hparams({"run": "label", "start_time": 3.5, "loss": 0.5}, {"loss": 0.25})
    row = frames.hparams(tmp_path).iloc[0]
    assert row["run"] == "session"
    assert (row["hparam/run"], row["hparam/start_time"], row["hparam/loss"]) == ("label", 3.5, 0.5)
    assert row["metric/loss"] == 0.25


def test_mixed_types_are_strings_in_arrow_and_kept_in_pandas(tmp_path):
    with SummaryWriter(str(tmp_path)) as w:
        w.add_hparams({"x": 1}, {"m": 1.0}, run_name="a")
        w.add_hparams({"x": "wide"}, {"m": 2.0}, run_name="b")
        w.add_hparams({"x": True}, {"m": 3.0}, run_name="c")
    assert frames.hparams(tmp_path)["hparam/x"].tolist() == [1, "wide", True]
    assert frames.hparams(tmp_path, format="arrow").column("hparam/x").to_pylist() == ["1", "wide", "true"]


def test_session_status_and_times_come_from_the_session_infos():
    table = frames.hparams(os.path.join(TF, "hparams_tutorial"))
    assert table["status"].tolist() == ["SUCCESS", "SUCCESS"]
    assert (table["end_time"] > table["start_time"]).all() and (table["start_time"] > 1e9).all()
    assert table["run"].tolist() == ["run-0", "run-1"] and table["hparam/optimizer"].tolist() == ["sgd", "adam"]
