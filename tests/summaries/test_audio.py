"""Audio: the new-style WAV tensor TensorBoard needs, read back and decoded; input checks.

We write a DT_STRING [1] tensor with ``AudioPluginData{encoding: WAV}`` and data class BLOB_SEQUENCE
(docs/FORMAT.md §6 item 11); torch writes old-style ``Summary.Audio`` (compared in test_audio_torch.py).
"""

from __future__ import annotations

import io
import wave
import warnings

import numpy as np
import pytest
from tensorboard.plugins.audio import metadata as audio_metadata
from tensorboard.plugins.audio import plugin_data_pb2

from eventwriter import SummaryWriter
from eventwriter.summaries.audio import audio_summary
from support.tbutil import plugin_accumulator, plugins_by_tag, tensor_values



def _decode_wav(data: bytes):
    with wave.open(io.BytesIO(data), "rb") as wav:
        params = (wav.getnchannels(), wav.getsampwidth(), wav.getframerate(), wav.getnframes())
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return params, samples


def test_new_style_encoding_is_wav(tmp_path):
    with SummaryWriter(str(tmp_path)) as writer:
        writer.add_audio("a", np.zeros(10, dtype=np.float32), 0)
    acc = plugin_accumulator(tmp_path)
    meta = acc.SummaryMetadata("a")
    assert meta.plugin_data.plugin_name == "audio"
    assert meta.data_class == 3  # BLOB_SEQUENCE
    parsed = audio_metadata.parse_plugin_metadata(meta.plugin_data.content)
    assert parsed.encoding == plugin_data_pb2.AudioPluginData.WAV
    ((_, blobs),) = tensor_values(acc, "a")
    assert blobs.shape == (1,) and blobs[0].startswith(b"RIFF")


def test_audio_plugin_serves_audio_wav(tmp_path):
    """TensorBoard's own audio plugin (Python data provider) picks the audio/wav MIME type and gets the WAV."""
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.audio import audio_plugin

    clip = np.linspace(-1, 1, 50, dtype=np.float32)
    with SummaryWriter(str(tmp_path)) as writer:
        writer.add_audio("a", clip, 7, sample_rate=22050)
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(tmp_path))
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, str(tmp_path))
    plugin = audio_plugin.AudioPlugin(base_plugin.TBContext(data_provider=provider))
    ctx = context.RequestContext()
    assert plugin._get_mime_type(ctx, "", ".", "a") == "audio/wav"
    sequences = provider.read_blob_sequences(ctx, experiment_id="", plugin_name="audio", downsample=10)
    (datum,) = sequences["."]["a"]
    assert datum.step == 7 and len(datum.values) == 1
    params, samples = _decode_wav(provider.read_blob(ctx, blob_key=datum.values[0].blob_key))
    assert params == (1, 2, 22050, 50)
    assert samples[0] == -32767 and samples[-1] == 32767


def test_truncation_and_clipping_rule():
    """x -> clip(x, -1, 1) * 32767 truncated toward zero (not rounded)."""
    values = np.array([0.5, -0.5, 0.99999, 1.0, -1.0, 2.0, -3.0, 1e-6], dtype=np.float32)
    with pytest.warns(UserWarning, match="clipped"):
        summary = audio_summary("a", values, sample_rate=100)
    (_, samples) = _decode_wav(summary.value[0].tensor.string_val[0])
    assert samples.tolist() == [16383, -16383, 32766, 32767, -32767, 32767, -32767, 0]


def test_clipping_warning_points_at_the_callers_line(tmp_path):
    with SummaryWriter(str(tmp_path)) as writer:
        with pytest.warns(UserWarning, match="clipped") as record:
            writer.add_audio("loud", np.array([0.0, 2.0]), 0)
    assert record[0].filename == __file__


def test_no_warning_in_range():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        audio_summary("a", np.array([-1.0, 0.0, 1.0]))


def test_sample_rate_is_stored_rounded():
    (params, _) = _decode_wav(audio_summary("a", [0.0, 0.1], sample_rate=22050.4).value[0].tensor.string_val[0])
    assert params[2] == 22050


@pytest.mark.parametrize(
    "kwargs, exc, word",
    [
        ({"snd_tensor": np.zeros((2, 100))}, ValueError, "snd_tensor"),
        ({"snd_tensor": np.zeros((0,))}, ValueError, "snd_tensor"),
        ({"snd_tensor": np.array([0.0, np.nan])}, ValueError, "snd_tensor"),
        ({"snd_tensor": np.array([0.0, np.inf])}, ValueError, "snd_tensor"),
        ({"snd_tensor": np.array(["a", "b"])}, TypeError, "snd_tensor"),
        ({"snd_tensor": None}, TypeError, "snd_tensor"),
        ({"sample_rate": 0}, ValueError, "sample_rate"),
        ({"sample_rate": -8000}, ValueError, "sample_rate"),
        ({"sample_rate": float("inf")}, ValueError, "sample_rate"),
        ({"sample_rate": "44100"}, TypeError, "sample_rate"),
        ({"sample_rate": True}, TypeError, "sample_rate"),
    ],
)
def test_bad_input_names_the_argument(kwargs, exc, word):
    args = {"tag": "a", "snd_tensor": np.zeros(10), **kwargs}
    with pytest.raises(exc, match=word):
        audio_summary(**args)


def test_failed_call_writes_nothing(tmp_path):
    with SummaryWriter(str(tmp_path)) as writer:
        with pytest.raises(ValueError):
            writer.add_audio("bad", np.array([0.1, np.nan]), 0)
        writer.add_audio("good", np.zeros(4), 1)
    assert sorted(plugins_by_tag(plugin_accumulator(tmp_path))) == ["good"]


@pytest.mark.server
@pytest.mark.slow
@pytest.mark.parametrize("load_fast", [True, False])
def test_running_tensorboard_serves_audio_wav(tmp_path, tb_server, load_fast):
    """Both loaders (Rust data server and Python) list the clip and serve it as audio/wav."""
    import urllib.parse

    clip = np.linspace(-1, 1, 64, dtype=np.float32)
    with SummaryWriter(str(tmp_path / "ours")) as writer:
        writer.add_audio("a", clip, 3, sample_rate=8000)
    # Keep every sample (the server's default for audio is 10 per tag).
    server = tb_server(tmp_path, load_fast=load_fast, extra_args=["--samples_per_plugin", "audio=100"])
    server.wait_for(lambda tags: "a" in tags.get("ours", {}), "/data/plugin/audio/tags")
    query = urllib.parse.urlencode({"run": "ours", "tag": "a", "sample": 0})
    (entry,) = server.get_json("/data/plugin/audio/audio?" + query)
    assert (entry["step"], entry["contentType"]) == (3, "audio/wav")
    content_type, body = server.get_with_type("/data/plugin/audio/individualAudio?" + entry["query"])
    assert content_type == "audio/wav"
    params, samples = _decode_wav(body)
    assert params == (1, 2, 8000, 64) and samples[0] == -32767 and samples[-1] == 32767
