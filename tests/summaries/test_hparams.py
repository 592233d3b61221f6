"""HParams: plugin data parsed by TensorBoard (bools kept as bools); input checks (against torch:
test_hparams_torch.py)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from support.tbutil import plugin_accumulator, run_dirs, scalar_series
from tensorboard.plugins.hparams import metadata as tb_hparams_metadata

from eventwriter import SummaryWriter
from eventwriter.summaries.hparams import hparams_summaries



TAGS = ("_hparams_/experiment", "_hparams_/session_start_info", "_hparams_/session_end_info")


def _parsed(acc):
    parse = (
        tb_hparams_metadata.parse_experiment_plugin_data,
        tb_hparams_metadata.parse_session_start_info_plugin_data,
        tb_hparams_metadata.parse_session_end_info_plugin_data,
    )
    out = []
    for tag, parser in zip(TAGS, parse):
        meta = acc.SummaryMetadata(tag)
        assert meta.plugin_data.plugin_name == "hparams"
        out.append(parser(meta.plugin_data.content))
    return out


def test_default_run_is_the_writers_own(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    writer.add_scalar("acc", 0.5, 1)
    writer.add_hparams({"lr": 0.1}, {"acc": 0.75})
    writer.close()
    assert list(run_dirs(tmp_path)) == ["."]
    acc = plugin_accumulator(tmp_path)
    experiment, start, _ = _parsed(acc)
    assert start.hparams["lr"].number_value == 0.1
    assert scalar_series(acc, "acc")[-1][1] == 0.75


def test_summaries_carry_only_tag_and_metadata():
    summaries = hparams_summaries({"a": 1}, {"m": 2})
    assert [s.value[0].tag for s in summaries] == list(TAGS)
    for summary in summaries:
        (value,) = summary.value
        assert value.WhichOneof("value") is None
        assert value.metadata.plugin_data.plugin_name == "hparams"


def test_numbers_mix_in_domains_and_nan_metrics_are_allowed():
    experiment, _, _ = hparams_summaries({"lr": 0.1}, {"loss": float("nan")}, {"lr": [1, 0.1, np.float32(0.5)]})
    content = tb_hparams_metadata.parse_experiment_plugin_data(experiment.value[0].metadata.plugin_data.content)
    assert [v.number_value for v in content.hparam_infos[0].domain_discrete.values] == [1.0, 0.1, 0.5]
    assert [m.name.tag for m in content.metric_infos] == ["loss"]


def test_same_run_hparams_metrics_follow_training_scalars_and_update(tmp_path):
    """run_name=None: metrics are the run's own scalar tags; repeated calls update them."""
    import warnings as _warnings

    from eventwriter import SummaryWriter as OurWriter
    from support.tbutil import plugin_accumulator as _acc, scalar_series as _series

    with OurWriter(tmp_path) as w:
        for step in range(5):
            w.add_scalar("accuracy", step / 10, step)
        w.add_hparams({"lr": 0.1}, {"accuracy": 0.45})
        with _warnings.catch_warnings():
            _warnings.simplefilter("error")
            w.add_hparams({"lr": 0.1}, {"accuracy": 0.5}, global_step=5)
        with pytest.warns(UserWarning, match="only the first"):
            w.add_hparams({"lr": 0.2}, {"accuracy": 0.6}, global_step=6)
    assert sorted(os.listdir(tmp_path))[0].startswith("events.out.tfevents")
    assert [d for d in os.listdir(tmp_path) if os.path.isdir(tmp_path / d)] == []  # no sub-run
    acc = _acc(tmp_path)
    series = _series(acc, "accuracy")
    # the first metric write reuses the tag's latest step (4), so the curve keeps its history
    assert [s for s, _ in series] == [0, 1, 2, 3, 4, 4, 5, 6]
    assert series[-1][1] == pytest.approx(0.6)
    assert len(acc.Tensors("_hparams_/session_start_info")) == 1


def test_session_start_bytes_follow_key_order_not_insertion_order():
    from eventwriter import protos
    from eventwriter.reader.explanation import decode_fields

    names = ["lr", "batch", "opt", "dropout", "bn", "seed", "act", "wd"]
    values = {"lr": 0.1, "batch": 4.0, "opt": "sgd", "dropout": 0.5, "bn": True, "seed": 1.0, "act": "relu", "wd": 0.0}
    contents = set()
    for order in (names, names[::-1], sorted(names)):
        _, start, _ = hparams_summaries({k: values[k] for k in order}, {"loss": 1.0})
        contents.add(start.value[0].metadata.plugin_data.content)
    assert len(contents) == 1  # the same call always writes the same bytes
    (data,) = decode_fields(contents.pop(), protos.HParamsPluginData.DESCRIPTOR)
    assert [entry.children[0].value for entry in data.children] == sorted(names)
