"""Audio for the Audio dashboard: ``add_audio`` as a 16-bit mono WAV clip.

Samples follow torch's rule: the input is squeezed to 1-D (mono only), clipped to [-1, 1] (with a
warning when clipping happened), multiplied by 32767 and truncated to little-endian int16, then
wrapped in a RIFF/WAVE PCM file by the stdlib ``wave`` module.

Unlike torch, the value is written new-style (docs/FORMAT.md §5.11, §6 item 11): ``tensor`` DT_STRING of
shape [1] = ``[wav]`` with metadata plugin ``audio``, content ``AudioPluginData{encoding: WAV}`` and
data class BLOB_SEQUENCE. torch's old-style ``Summary.Audio`` is served as ``audio/wav`` only by the
Python loader; the Rust data server synthesizes metadata without the encoding and serves
``application/octet-stream``. The stored blob is the WAV the Python loader derives from torch's value.

Why [1] and not TensorBoard's own [k, 2] (clip, label) layout: the Python loader reduces [k, 2] to
the clips only while migrating values whose data class is unset. With the data class set, it keeps
[1, 2], counts two blobs per step and serves a numpy row instead of the WAV bytes (checked against a
running ``tensorboard --load_fast=false``). Rank 1 with an explicit data class works in both loaders.

:func:`tf_audio_summary` writes ``tf.summary.audio``'s shape instead, for the framework adapters
(CLU, Flax): ``[n, 2]`` rows (multi-channel WAV, empty label), no data class, samples rounded as
``tf.audio.encode_wav`` rounds them. Both go through one WAV encoder, :func:`wav_bytes`.
"""

from __future__ import annotations

import io
import math
import numbers
import wave
import warnings
from typing import Any

import numpy as np

from .. import protos
from ..metadata import PLUGIN_AUDIO, summary_metadata
from ..arrays import real_array
from ..tensor_codec import tensor_proto
from ..stamps import user_stacklevel

_INT16_MAX = 32767
_WAV_MAX_RATE = 2**32 - 1  # the RIFF header stores the rate as uint32


def audio_summary(tag: str, snd_tensor: Any, sample_rate: float = 44100) -> "protos.Summary":
    """Summary for ``add_audio``: one mono clip as WAV, readable by both TensorBoard loaders.

    Args:
        tag: the series name.
        snd_tensor: array-like of samples in [-1, 1]; any shape that squeezes to 1-D
            (e.g. (L,), (1, L), (L, 1)). Values outside [-1, 1] are clipped with a warning.
        sample_rate: samples per second (> 0; the WAV header stores it rounded to an integer).

    Returns:
        ``Summary`` with one ``tensor`` value and audio metadata.

    Raises:
        TypeError: ``snd_tensor`` is not a real-valued array, or ``sample_rate`` is not a number.
        ValueError: ``snd_tensor`` is not mono, is empty or holds NaN/inf; ``sample_rate`` does not
            round to a positive integer that fits a WAV header.

    Warns:
        UserWarning: samples outside [-1, 1] were clipped.
    """
    rate = _frame_rate(sample_rate)
    samples = _mono_samples(real_array(snd_tensor, "snd_tensor"))
    peak = float(np.abs(samples).max())
    if peak > 1:
        warnings.warn(
            f"add_audio {tag!r}: snd_tensor amplitude {peak:g} is outside [-1, 1]; samples were clipped",
            stacklevel=user_stacklevel(),
        )
        samples = np.clip(samples, -1, 1)
    # float32 input is scaled in float32 like torch, so the truncated int16 values are identical.
    pcm = (samples * _INT16_MAX).astype("<i2")
    tensor = protos.TensorProto(
        dtype=protos.DT_STRING,
        tensor_shape=protos.TensorShapeProto(dim=[protos.TensorShapeProto.Dim(size=1)]),
        string_val=[wav_bytes(pcm[:, None], rate)],
    )
    metadata = summary_metadata(PLUGIN_AUDIO, _wav_content(), protos.DATA_CLASS_BLOB_SEQUENCE)
    return protos.Summary(value=[protos.Summary.Value(tag=tag, tensor=tensor, metadata=metadata)])


def tf_audio_summary(tag: str, audio: Any, sample_rate: int, max_outputs: int = 3) -> "protos.Summary":
    """Summary as ``tf.summary.audio`` writes it: several clips as samples of one tensor.

    The value is a ``DT_STRING`` tensor of shape ``[n, 2]``, one row (16-bit PCM WAV, empty label)
    for each of the first ``n = min(k, max_outputs)`` clips; metadata plugin ``audio``, content
    ``AudioPluginData{encoding: WAV}``, no data class (the Python loader reduces ``[n, 2]`` to
    the clips only without one; see the module docstring). Samples are ×32768, rounded half away
    from zero and clamped to int16, as ``tf.audio.encode_wav``; NaN becomes 0. Values are not
    clipped to [-1, 1] first (Flax's writer clips, CLU's does not).

    Args:
        tag: the series name.
        audio: ``[k, frames, channels]`` array-like of floats in [-1, 1].
        sample_rate: samples per second, a positive integer.
        max_outputs: at most this many clips are kept (0 or less: none).

    Returns:
        ``Summary`` with one ``tensor`` value and ``audio`` metadata.

    Raises:
        TypeError: ``audio`` is not real-valued.
        ValueError: ``audio`` is not ``[k, frames, channels]``, or ``sample_rate`` is not a
            positive integer.
    """
    data = real_array(audio, "audio")
    if data.ndim != 3:
        raise ValueError(f"audio must be [k, frames, channels], got shape {data.shape}")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or not 0 < sample_rate <= _WAV_MAX_RATE:
        raise ValueError(f"sample_rate must be a positive integer, got {sample_rate!r}")
    clips = []
    for clip in data[: max(0, int(max_outputs))]:
        scaled = (clip.astype(np.float32) * np.float32(32768.0)).astype(np.float64)  # exact: a power of two
        rounded = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)  # C's roundf: halves away from zero
        clips.append(wav_bytes(np.clip(np.nan_to_num(rounded), -32768, 32767).astype("<i2"), int(sample_rate)))
    rows = np.array([[clip, b""] for clip in clips], dtype=object).reshape(len(clips), 2)
    value = protos.Summary.Value(tag=tag, tensor=tensor_proto(rows), metadata=summary_metadata(PLUGIN_AUDIO, _wav_content()))
    return protos.Summary(value=[value])


def wav_bytes(pcm: np.ndarray, sample_rate: int) -> bytes:
    """A RIFF/WAVE PCM file of ``[frames, channels]`` 16-bit samples, written by the stdlib ``wave`` module."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(pcm.shape[1])
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(np.ascontiguousarray(pcm, dtype="<i2").tobytes())
    return buffer.getvalue()


def _wav_content() -> bytes:
    """``AudioPluginData{encoding: WAV}``: the ``audio`` plugin's metadata content."""
    return protos.AudioPluginData(encoding=protos.AUDIO_ENCODING_WAV).SerializeToString()


def _frame_rate(sample_rate: Any) -> int:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Real):
        raise TypeError(f"sample_rate must be a number, got {type(sample_rate).__name__}")
    if not math.isfinite(sample_rate) or not 1 <= round(float(sample_rate)) <= _WAV_MAX_RATE:
        raise ValueError(f"sample_rate must be a positive number of samples per second, got {sample_rate}")
    return int(round(float(sample_rate)))


def _mono_samples(array: np.ndarray) -> np.ndarray:
    if array.size == 0:
        raise ValueError(f"snd_tensor must hold at least one sample, got shape {array.shape}")
    samples = array.reshape(1) if array.size == 1 else array.squeeze()
    if samples.ndim != 1:
        raise ValueError(
            f"snd_tensor must be mono: 1-D after removing size-1 axes, got shape {array.shape}"
        )
    if samples.dtype not in (np.float32, np.float64):
        samples = samples.astype(np.float32 if samples.dtype == np.float16 else np.float64)
    if not np.isfinite(samples).all():
        raise ValueError("snd_tensor must contain only finite samples (found NaN or inf)")
    return samples
