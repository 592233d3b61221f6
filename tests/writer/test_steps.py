"""One rule for steps: a non-integral step is truncated (as torch does) with one warning per writer.

Events are read back with TensorBoard's ``EventFileLoader``; embedding directories and config
entries with TensorBoard's ``projector_config_pb2``.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from google.protobuf import text_format
from tensorboard.plugins.projector import projector_config_pb2

from eventwriter import SummaryWriter
from eventwriter.projector import write_embedding
from eventwriter.stamps import event_step
from support.tbutil import loader_events


def _summary_steps(logdir):
    steps = []
    for name in sorted(os.listdir(logdir)):
        if "tfevents" in name:
            steps += [(e.summary.value[0].tag, e.step) for e in loader_events(os.path.join(logdir, name)) if e.HasField("summary")]
    return steps


def _truncation_warnings(record):
    return [w for w in record if "not a whole number" in str(w.message)]


def test_float_steps_truncate_everywhere_with_one_warning_per_writer(tmp_path):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        with SummaryWriter(tmp_path) as w:
            w.add_scalar("a", 1.0, 2.7)
            w.add_scalar("b", 1.0, np.float32(-3.5))
            w.add_text("t", "hi", 4.9)
            w.add_histogram("h", np.arange(10.0), 5.5)
            w.add_embedding(np.ones((2, 2)), global_step=6.2)
    assert _summary_steps(tmp_path) == [("a", 2), ("b", -3), ("t/text_summary", 4), ("h", 5)]
    config = projector_config_pb2.ProjectorConfig()
    with open(tmp_path / "projector_config.pbtxt", encoding="utf-8") as f:
        text_format.Parse(f.read(), config)
    assert [e.tensor_name for e in config.embeddings] == ["default:00006"]  # torch: str(6).zfill(5)
    assert os.path.isfile(tmp_path / "00006" / "default" / "tensors.tsv")
    found = _truncation_warnings(record)
    assert len(found) == 1
    assert "2.7" in str(found[0].message) and found[0].filename == __file__  # points at the user's call


def test_each_writer_warns_once(tmp_path):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        for run in ("r1", "r2"):
            with SummaryWriter(tmp_path / run) as w:
                w.add_scalar("x", 0.5, 1.5)
                w.add_scalar("x", 0.5, 2.5)
    assert len(_truncation_warnings(record)) == 2
    assert _summary_steps(tmp_path / "r1") == [("x", 1), ("x", 2)]


def test_whole_steps_do_not_warn(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with SummaryWriter(tmp_path) as w:
            w.add_scalar("x", 1.0, 3.0)
            w.add_scalar("x", 1.0, np.int64(4))
            w.add_scalar("x", 1.0, np.float64(5.0))
            w.add_scalar("x", 1.0, 2.0**62)  # a float this large is a whole number
    assert [s for _, s in _summary_steps(tmp_path)] == [3, 4, 5, 2**62]


def test_tensor_steps(tmp_path):
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        with SummaryWriter(tmp_path) as w:
            w.add_scalar("x", 1.0, torch.tensor(7))
            w.add_scalar("x", 1.0, torch.tensor(8.9))
    assert [s for _, s in _summary_steps(tmp_path)] == [7, 8]
    assert len(_truncation_warnings(record)) == 1


def test_write_embedding_alone_truncates_with_a_warning(tmp_path):
    with pytest.warns(UserWarning, match="not a whole number"):
        write_embedding(str(tmp_path), np.ones((2, 2)), global_step=1.5)
    assert os.path.isdir(tmp_path / "00001" / "default")


@pytest.mark.parametrize("bad, error", [("3", TypeError), (b"3", TypeError), (float("nan"), ValueError), (2.0**64, ValueError), ([1, 2], TypeError)])
def test_non_numbers_and_out_of_range_steps_raise(bad, error):
    with pytest.raises(error, match="global_step"):
        event_step(bad)
