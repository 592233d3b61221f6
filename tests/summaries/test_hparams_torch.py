"""add_hparams against torch.utils.tensorboard: the same calls through both writers, compared
value by value through TensorBoard's loaders (this file needs torch; the torch-free tests are in
test_hparams.py)."""

from __future__ import annotations


import numpy as np
import pytest
from support.tbutil import plugin_accumulator, run_dirs, scalar_series
from tensorboard.plugins.hparams import api_pb2 as tb_api_pb2
from tensorboard.plugins.hparams import metadata as tb_hparams_metadata

from eventwriter import SummaryWriter
from eventwriter.summaries.hparams import hparams_summaries

torch = pytest.importorskip("torch")
from torch.utils.tensorboard import SummaryWriter as TorchWriter  # noqa: E402

from test_hparams import TAGS, _parsed  # noqa: E402


def _write_both(tmp_path, hparams, metrics, domains=None, step=None):
    accs = []
    for name, cls in (("torch", TorchWriter), ("ours", SummaryWriter)):
        writer = cls(str(tmp_path / name))
        writer.add_hparams(hparams, metrics, hparam_domain_discrete=domains, run_name="session", global_step=step)
        writer.close()
        assert "session" in run_dirs(tmp_path / name)
        accs.append(plugin_accumulator(tmp_path / name / "session"))
    return accs


def test_matches_torch_for_numbers_and_strings(tmp_path):
    hparams = {
        "lr": 0.01,
        "batch": 64,
        "optimizer": "adam",
        "dropout": 0.25,
        "layers": torch.tensor([3.0]),
        "unused": None,
    }
    metrics = {"hparam/accuracy": 0.9, "hparam/loss": 0.1}
    domains = {"optimizer": ["adam", "sgd"], "batch": [32, 64]}
    theirs, ours = _write_both(tmp_path, hparams, metrics, domains, step=5)
    assert _parsed(ours) == _parsed(theirs)
    experiment, start, end = _parsed(ours)
    assert [h.name for h in experiment.hparam_infos] == ["lr", "batch", "optimizer", "dropout", "layers"]
    assert [m.name.tag for m in experiment.metric_infos] == ["hparam/accuracy", "hparam/loss"]
    assert experiment.hparam_infos[2].type == tb_api_pb2.DATA_TYPE_STRING
    assert [v.string_value for v in experiment.hparam_infos[2].domain_discrete.values] == ["adam", "sgd"]
    assert start.hparams["lr"].number_value == 0.01
    assert start.hparams["optimizer"].string_value == "adam"
    assert "unused" not in start.hparams
    assert end.status == tb_api_pb2.STATUS_SUCCESS
    for tag in metrics:
        assert scalar_series(ours, tag) == scalar_series(theirs, tag)
    assert [e.step for e in ours.Tensors(TAGS[0])] == [e.step for e in theirs.Tensors(TAGS[0])] == [5]


def test_bools_stay_bools(tmp_path):
    theirs, ours = _write_both(tmp_path, {"augment": True, "fp16": False}, {"acc": 1.0}, {"augment": [True, False]})
    experiment, start, _ = _parsed(ours)
    assert [h.type for h in experiment.hparam_infos] == [tb_api_pb2.DATA_TYPE_BOOL] * 2
    assert [v.bool_value for v in experiment.hparam_infos[0].domain_discrete.values] == [True, False]
    assert start.hparams["augment"].WhichOneof("kind") == "bool_value" and start.hparams["augment"].bool_value is True
    assert start.hparams["fp16"].bool_value is False
    # torch stores them as numbers
    their_experiment, their_start, _ = _parsed(theirs)
    assert their_start.hparams["augment"].number_value == 1.0
    assert their_experiment.hparam_infos[0].type == tb_api_pb2.DATA_TYPE_FLOAT64


@pytest.mark.parametrize(
    "args,error,match",
    [
        (([], {}), TypeError, "hparam_dict must be a dict"),
        (({}, None), TypeError, "metric_dict must be a dict"),
        (({1: 2}, {}), TypeError, "hparam_dict keys must be str"),
        (({"a": [1, 2]}, {}), TypeError, r"hparam_dict\['a'\] must be a bool, str or real number, got list"),
        (({"a": 1 + 2j}, {}), TypeError, r"hparam_dict\['a'\]"),
        (({"a": torch.ones(3)}, {}), TypeError, r"hparam_dict\['a'\] must be .* of shape \(3,\)"),
        (({"a": object()}, {}), TypeError, r"hparam_dict\['a'\]"),
        (({}, {"m": "high"}), TypeError, r"metric_dict\['m'\] must be a real number"),
        (({}, {"m": None}), TypeError, r"metric_dict\['m'\]"),
        (({}, {3: 1.0}), TypeError, "metric_dict keys must be str"),
        (({"a": 1}, {}, {"b": [1]}), ValueError, r"hparam_domain_discrete\['b'\]: 'b' is not a key of hparam_dict"),
        (({"a": None}, {}, {"a": [1]}), ValueError, r"hparam_dict\['a'\] is None"),
        (({"a": 1}, {}, {"a": 1}), TypeError, r"hparam_domain_discrete\['a'\] must be a list"),
        (({"a": 1}, {}, {"a": []}), ValueError, r"hparam_domain_discrete\['a'\] must list at least one value"),
        (({"a": 1}, {}, {"a": [1, "x"]}), TypeError, r"same kind as hparam_dict\['a'\] \(a real number\), got 'x'"),
        (({"a": True}, {}, {"a": [True, 0]}), TypeError, r"\(bool\), got 0"),
        (({"a": 1}, {}, ["a"]), TypeError, "hparam_domain_discrete must be a dict"),
    ],
)
def test_bad_input_raises_naming_the_key(args, error, match):
    with pytest.raises(error, match=match):
        hparams_summaries(*args)


def test_numpy_and_tensor_scalars():
    # torch rejects numpy scalars and 0-d tensors; we take any one-element real value.
    _, start, _ = hparams_summaries(
        {"f": np.float32(0.5), "i": np.int64(3), "b": np.bool_(True), "t": torch.tensor(2.0), "tb": torch.tensor(False)},
        {"m": torch.tensor([0.25])},
    )
    content = tb_hparams_metadata.parse_session_start_info_plugin_data(start.value[0].metadata.plugin_data.content)
    assert content.hparams["f"].number_value == 0.5 and content.hparams["i"].number_value == 3.0
    assert content.hparams["t"].number_value == 2.0
    assert content.hparams["b"].bool_value is True and content.hparams["tb"].WhichOneof("kind") == "bool_value"
