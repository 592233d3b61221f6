"""add_audio against torch.utils.tensorboard: the same calls through both writers, compared
value by value through TensorBoard's loaders (this file needs torch; the torch-free tests are in
test_audio.py)."""

from __future__ import annotations


import numpy as np
import pytest

from eventwriter import SummaryWriter
from support.tbutil import plugin_accumulator, plugins_by_tag, tensor_values

torch = pytest.importorskip("torch")
from torch.utils.tensorboard import SummaryWriter as TorchWriter  # noqa: E402


from test_audio import _decode_wav  # noqa: E402


def _clips(logdir) -> dict:
    """``{tag: (plugin, [(step, wav params, samples)])}`` via TensorBoard's plugin accumulator."""
    acc = plugin_accumulator(logdir)
    out = {}
    for tag, plugin in plugins_by_tag(acc).items():
        rows = []
        for step, blobs in tensor_values(acc, tag):
            assert blobs.shape == (1,), tag  # torch's value migrates to [wav]; ours is written so
            wav = blobs[0]
            rows.append((step,) + _decode_wav(wav))
        out[tag] = (plugin, rows)
    return out


def _sine(seconds=0.05, rate=8000, amplitude=0.9, seed=0):
    t = np.arange(int(seconds * rate), dtype=np.float32) / rate
    noise = np.random.default_rng(seed).standard_normal(t.shape).astype(np.float32) * 0.01
    return torch.from_numpy(amplitude * np.sin(2 * np.pi * 440 * t) + noise)


def test_samples_match_torch(tmp_path):
    loud = _sine(amplitude=1.7, seed=1)

    def log(w):
        w.add_audio("mono", _sine(), 0, sample_rate=8000)
        w.add_audio("mono", _sine(seed=2), 3, sample_rate=8000)
        w.add_audio("row", _sine(seed=3).reshape(1, -1), 1, sample_rate=16000)
        w.add_audio("column_float64", _sine(seed=4).reshape(-1, 1).double(), 2)
        w.add_audio("clipped", loud, 4, sample_rate=8000)

    with TorchWriter(str(tmp_path / "torch")) as writer:
        log(writer)
    with SummaryWriter(str(tmp_path / "ours")) as writer:
        with pytest.warns(UserWarning, match="clipped"):
            log(writer)
    theirs, ours = _clips(tmp_path / "torch"), _clips(tmp_path / "ours")
    assert sorted(ours) == sorted(theirs)
    for tag, (plugin, rows) in theirs.items():
        our_plugin, our_rows = ours[tag]
        assert our_plugin == plugin == "audio"
        assert [r[:2] for r in our_rows] == [r[:2] for r in rows], tag
        for (_, _, samples), (_, _, our_samples) in zip(rows, our_rows):
            np.testing.assert_array_equal(our_samples, samples, err_msg=tag)
    assert ours["clipped"][1][0][2].max() == 32767
    assert ours["row"][1][0][1] == (1, 2, 16000, 400)
