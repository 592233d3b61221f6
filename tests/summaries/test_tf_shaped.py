"""The ``tf.summary``-shaped builders the framework adapters use, read back with TensorBoard's loader.

Each builder's Summary is written at a step and read back with ``plugin_event_accumulator`` (as the
server's Python path loads it); where TensorBoard has a pure-Python version of the same summary
(``histogram_pb``, ``hparams_pb``, ``text_pb``) its values are the reference. Image and audio
are checked against ``tf.summary`` itself by the framework adapters' differential tests
(tests/integrations/, the ``.venv-tf`` leg); here the pixel and sample rules are spelled out.
"""

from __future__ import annotations

import io
import json
import wave

import numpy as np
import pytest
from PIL import Image
from support.tbutil import plugin_accumulator, tensor_values
from tensorboard.compat.proto import summary_pb2 as tb_summary_pb2
from tensorboard.plugins.audio import plugin_data_pb2 as audio_plugin_data_pb2
from tensorboard.plugins.hparams import plugin_data_pb2 as hparams_plugin_data_pb2
from tensorboard.plugins.hparams import summary_v2 as tb_hparams
from tensorboard.plugins.histogram import summary_v2 as tb_histogram
from tensorboard.plugins.text import summary_v2 as tb_text
from tensorboard.util import tensor_util

from eventwriter import SummaryWriter
from eventwriter.summaries.audio import tf_audio_summary
from eventwriter.summaries.graph import keras_model_summary
from eventwriter.summaries.histogram import tf_histogram_buckets, tf_histogram_summary
from eventwriter.summaries.hparams import tf_hparams_summary
from eventwriter.summaries.image import tf_image_summary, tf_pixels
from eventwriter.summaries.tensor import tf_tensor_summary
from eventwriter.summaries.text import tf_text_summary


def _read_back(tmp_path, summary, step=3):
    """Write ``summary`` at ``step`` into a run and load it with the plugin accumulator."""
    with SummaryWriter(str(tmp_path)) as writer:
        writer.file_writer.add_summary(summary, step)
    return plugin_accumulator(tmp_path)


def _only_tensor(acc, tag, step=3):
    ((got_step, array),) = tensor_values(acc, tag)
    assert got_step == step
    return array


def _png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


# -- images --------------------------------------------------------------------------------------


def test_tf_image_summary_samples_in_one_tensor(tmp_path):
    images = np.linspace(-0.2, 1.2, 4 * 6 * 8 * 3, dtype=np.float32).reshape(4, 6, 8, 3)
    images[0, 0, 0, 0] = np.nan
    acc = _read_back(tmp_path, tf_image_summary("img", images, max_outputs=3))
    meta = acc.SummaryMetadata("img")
    assert meta.plugin_data.plugin_name == "images" and meta.plugin_data.content == b""
    blobs = _only_tensor(acc, "img")
    assert blobs.shape == (5,) and blobs[:2].tolist() == [b"8", b"6"]  # width, height, then 3 of the 4 images
    for image, blob in zip(images, blobs[2:]):
        # tf.image.convert_image_dtype(saturate=True): x * 255.5 in float32, clipped, truncated; NaN -> 0
        expected = np.clip(np.nan_to_num(image * np.float32(255.5)), 0, 255).astype(np.uint8)
        np.testing.assert_array_equal(_png(blob), expected)
    assert _png(blobs[2])[0, 0, 0] == 0


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_tf_image_summary_keeps_the_channels(tmp_path, channels):
    images = np.random.default_rng(channels).integers(0, 256, (2, 5, 7, channels), dtype=np.uint8)
    blobs = tf_image_summary("img", images, max_outputs=5).value[0].tensor.string_val
    assert len(blobs) == 4
    for image, blob in zip(images, blobs[2:]):
        np.testing.assert_array_equal(_png(blob).reshape(5, 7, channels), image)


def test_tf_pixels_follows_convert_image_dtype():
    assert tf_pixels(np.array([0, 1, 255], np.uint8)).tolist() == [0, 1, 255]
    assert tf_pixels(np.array([False, True])).tolist() == [0, 255]
    assert tf_pixels(np.array([-5, 0, 256, 32767], np.int16)).tolist() == [0, 0, 2, 255]  # >> 7, clipped
    assert tf_pixels(np.array([0, 256, 65535], np.uint16)).tolist() == [0, 1, 255]  # >> 8
    assert tf_pixels(np.array([0.0, 0.5, 0.999, 1.0, 2.0, -1.0, np.inf], np.float64)).tolist() == [0, 127, 255, 255, 255, 0, 255]


def test_tf_image_summary_takes_bfloat16_and_no_samples():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    images = np.full((2, 3, 4, 3), 0.5, dtype=ml_dtypes.bfloat16)
    blobs = tf_image_summary("img", images).value[0].tensor.string_val
    assert _png(blobs[2]).max() == 127
    assert list(tf_image_summary("img", images, max_outputs=0).value[0].tensor.string_val) == [b"4", b"3"]


def test_tf_image_summary_errors():
    with pytest.raises(ValueError, match=r"images must be \[k, height, width, channels\]"):
        tf_image_summary("img", np.zeros((3, 4, 3)))
    with pytest.raises(ValueError, match="1 to 4 channels"):
        tf_image_summary("img", np.zeros((1, 3, 4, 5)))
    with pytest.raises(TypeError, match="images"):
        tf_image_summary("img", np.zeros((1, 3, 4, 3), np.complex64))


# -- audio ---------------------------------------------------------------------------------------


def _wav(data: bytes):
    with wave.open(io.BytesIO(data)) as clip:
        frames = np.frombuffer(clip.readframes(clip.getnframes()), "<i2").reshape(-1, clip.getnchannels())
        return clip.getframerate(), frames


def test_tf_audio_summary_rows_of_wav_and_label(tmp_path):
    half = 0.5 / 32768  # exactly half a step: tf.audio.encode_wav rounds it away from zero
    clip = np.array([[0.0, half], [-half, 1.0], [-1.0, 2.0], [np.nan, 1.5 / 32768]], np.float32)
    audio = np.stack([clip, clip / 2, clip])
    summary = tf_audio_summary("tone", audio, 8000, max_outputs=2)
    tensor = summary.value[0].tensor
    assert [d.size for d in tensor.tensor_shape.dim] == [2, 2] and tensor.string_val[1] == tensor.string_val[3] == b""
    rate, samples = _wav(tensor.string_val[0])
    assert rate == 8000 and samples.tolist() == [[0, 1], [-1, 32767], [-32768, 32767], [0, 2]]
    acc = _read_back(tmp_path, summary)
    meta = acc.SummaryMetadata("tone")
    assert meta.plugin_data.plugin_name == "audio"
    encoding = audio_plugin_data_pb2.AudioPluginData.FromString(meta.plugin_data.content).encoding
    assert encoding == audio_plugin_data_pb2.AudioPluginData.WAV
    blobs = _only_tensor(acc, "tone").reshape(-1)  # the loader keeps the clips of [n, 2], or the rows
    assert _wav(blobs[0])[1].tolist() == samples.tolist()


def test_tf_audio_summary_errors():
    with pytest.raises(ValueError, match=r"\[k, frames, channels\]"):
        tf_audio_summary("a", np.zeros((5, 1)), 8000)
    for rate in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="sample_rate"):
            tf_audio_summary("a", np.zeros((1, 5, 1)), rate)  # type: ignore[arg-type]


# -- histograms ----------------------------------------------------------------------------------

HISTOGRAM_DATA = [
    (np.random.default_rng(0).standard_normal(1000), None),
    (np.random.default_rng(1).standard_normal((10, 10)).astype(np.float32), 12),
    (np.arange(10), 3),
    (np.ones(5), None),  # all equal: the last bucket holds the count
    (np.zeros(0), 7),  # no values: zero rows
    (np.arange(10.0), 0),
    (np.array([True, False, True]), 2),
]


@pytest.mark.parametrize("values, buckets", HISTOGRAM_DATA)
def test_tf_histogram_summary_is_tensorboards_histogram_pb(tmp_path, values, buckets):
    expected = tensor_util.make_ndarray(tb_histogram.histogram_pb("h", values, buckets).value[0].tensor)
    np.testing.assert_array_equal(tf_histogram_buckets(values, buckets), expected)
    acc = _read_back(tmp_path, tf_histogram_summary("h", values, buckets))
    assert acc.SummaryMetadata("h").plugin_data.plugin_name == "histograms"
    got = _only_tensor(acc, "h")
    assert got.dtype == np.float64 and got.shape == ((30 if buckets is None else buckets), 3)
    np.testing.assert_array_equal(got, expected)


def test_tf_histogram_buckets_of_bfloat16_and_errors():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    values = np.linspace(-1, 1, 50).astype(ml_dtypes.bfloat16)
    np.testing.assert_array_equal(tf_histogram_buckets(values, 5), tf_histogram_buckets(values.astype(np.float32), 5))
    with pytest.raises(ValueError, match="finite"):
        tf_histogram_buckets([1.0, np.nan])
    with pytest.raises(ValueError, match=">= 0"):
        tf_histogram_buckets([1.0], -1)
    with pytest.raises(TypeError, match="values"):
        tf_histogram_buckets(np.array([1j]))


# -- hparams, text, tensors, the Keras model ---------------------------------------------------------


def test_tf_hparams_summary_is_tensorboards_hparams_pb(tmp_path):
    hparams = {"lr": 0.1, "model.width": 4, "optimizer": "sgd", "shuffle": False, "np": np.float32(0.5), "n": np.int64(3)}
    ours = tf_hparams_summary(hparams, start_time_secs=1234.5)
    theirs = tb_hparams.hparams_pb(hparams, start_time_secs=1234.5)
    (value,) = ours.value
    assert value.tag == theirs.value[0].tag == "_hparams_/session_start_info"
    parse = hparams_plugin_data_pb2.HParamsPluginData.FromString
    assert parse(value.metadata.plugin_data.content) == parse(theirs.value[0].metadata.plugin_data.content)  # group name included
    acc = _read_back(tmp_path, ours, step=0)
    meta = acc.SummaryMetadata("_hparams_/session_start_info")
    info = parse(meta.plugin_data.content).session_start_info
    assert meta.plugin_data.plugin_name == "hparams" and info.start_time_secs == 1234.5
    assert dict(info.hparams)["optimizer"].string_value == "sgd" and dict(info.hparams)["shuffle"].bool_value is False
    assert _only_tensor(acc, "_hparams_/session_start_info", step=0).shape == (0,)


def test_tf_hparams_summary_refuses_other_types():
    with pytest.raises(TypeError, match=r"hparams\['opt'\]"):
        tf_hparams_summary({"opt": object()}, 0.0)
    with pytest.raises(TypeError, match="keys must be str"):
        tf_hparams_summary({1: 2}, 0.0)  # type: ignore[dict-item]


@pytest.mark.parametrize("text", ["*markdown*", "ünïcode\x00", b"raw\x00"])
def test_tf_text_summary_is_tensorboards_text_pb(tmp_path, text):
    expected = tb_text.text_pb("note", np.array(text, dtype=object)).value[0]
    acc = _read_back(tmp_path, tf_text_summary("note", text))
    assert acc.SummaryMetadata("note").plugin_data.plugin_name == "text"
    got = _only_tensor(acc, "note")
    assert got.shape == () and got.item() == (text.encode() if isinstance(text, str) else text)
    assert got.item() == tensor_util.make_ndarray(expected.tensor).item()
    with pytest.raises(TypeError, match="str"):
        tf_text_summary("note", 3)


def test_keras_model_summary(tmp_path):
    config = json.dumps({"class_name": "Sequential", "config": {"layers": []}})
    acc = _read_back(tmp_path, keras_model_summary("keras", config), step=0)
    meta = acc.SummaryMetadata("keras")
    assert meta.plugin_data.plugin_name == "graph_keras_model" and meta.plugin_data.content == b"1"
    assert json.loads(_only_tensor(acc, "keras", step=0).item()) == json.loads(config)
    with pytest.raises(TypeError, match="config_json"):
        keras_model_summary("keras", {"a": 1})  # type: ignore[arg-type]


def test_tf_tensor_summary_with_and_without_metadata(tmp_path):
    plugin_data = tb_summary_pb2.SummaryMetadata.PluginData(plugin_name="custom", content=b"v1")
    theirs = tb_summary_pb2.SummaryMetadata(display_name="shown", plugin_data=plugin_data)  # TensorBoard's class
    summaries = {
        "bare": tf_tensor_summary("bare", np.arange(6, dtype=np.int32).reshape(2, 3)),
        "message": tf_tensor_summary("message", np.float16([1.5, 2]), theirs),
        "bytes": tf_tensor_summary("bytes", np.array(["a", "bc"]), theirs.SerializeToString()),
        "scalar": tf_tensor_summary("scalar", np.float64(2.5), b""),
    }
    assert not summaries["bare"].value[0].HasField("metadata") and not summaries["scalar"].value[0].HasField("metadata")
    with SummaryWriter(str(tmp_path)) as writer:
        for summary in summaries.values():
            writer.file_writer.add_summary(summary, 3)
    acc = plugin_accumulator(tmp_path)
    assert _only_tensor(acc, "bare").tolist() == [[0, 1, 2], [3, 4, 5]]
    assert _only_tensor(acc, "message").dtype == np.float16
    assert _only_tensor(acc, "bytes").tolist() == [b"a", b"bc"]
    assert _only_tensor(acc, "scalar").shape == ()  # rank 0 stays rank 0
    for tag in ("message", "bytes"):
        meta = acc.SummaryMetadata(tag)
        assert (meta.plugin_data.plugin_name, meta.plugin_data.content, meta.display_name) == ("custom", b"v1", "shown")
    with pytest.raises(TypeError, match="metadata"):
        tf_tensor_summary("x", [1], metadata=3)


def test_tf_tensor_summary_widens_bfloat16():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    tensor = tf_tensor_summary("x", np.array([1.5, -2], dtype=ml_dtypes.bfloat16)).value[0].tensor
    assert tensor_util.make_ndarray(tensor).tolist() == [1.5, -2.0] and tensor.dtype == 1  # DT_FLOAT
