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
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm.tobytes())
    tensor = protos.TensorProto(
        dtype=protos.DT_STRING,
        tensor_shape=protos.TensorShapeProto(dim=[protos.TensorShapeProto.Dim(size=1)]),
        string_val=[buffer.getvalue()],
    )
    content = protos.AudioPluginData(encoding=protos.AUDIO_ENCODING_WAV).SerializeToString()
    metadata = summary_metadata(PLUGIN_AUDIO, content, protos.DATA_CLASS_BLOB_SEQUENCE)
    return protos.Summary(value=[protos.Summary.Value(tag=tag, tensor=tensor, metadata=metadata)])


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
