"""``SummaryWriter``: a drop-in for ``flax.metrics.tensorboard.SummaryWriter`` without TensorFlow.

Flax's writer wraps ``tf.summary``; this one has the same constructor and methods (``scalar``,
``image``, ``audio``, ``histogram``, ``text``, ``write``, ``hparams``, ``flush``, ``close``) and
writes the same summaries (tags, steps, plugins, tensor layouts) through eventwriter. Values may be
JAX arrays of any dtype, bfloat16 included, numpy arrays or Python numbers. Neither flax nor JAX is
imported by this module.

Replace ``from flax.metrics.tensorboard import SummaryWriter`` with
``from eventwriter.integrations.flax import SummaryWriter``.
"""

from __future__ import annotations

import os
import time
from typing import Any, Dict, Mapping, Optional, Union

import numpy as np

from eventwriter.arrays import real_array
from eventwriter.integrations._run import Run
from eventwriter.summaries.audio import tf_audio_summary
from eventwriter.summaries.histogram import tf_histogram_summary
from eventwriter.summaries.hparams import tf_hparams_summary
from eventwriter.summaries.image import tf_image_summary
from eventwriter.summaries.tensor import tf_tensor_summary
from eventwriter.summaries.text import tf_text_summary

__all__ = ["SummaryWriter"]

# The hparam value types flax passes through unchanged; anything else becomes str(value).
_HPARAM_TYPES = (bool, int, float, str, np.bool_, np.integer, np.floating, np.character)


def _flatten(hparams: Mapping[str, Any], parent: str = "") -> Dict[str, Any]:
    """Nested dicts flattened with "." and unsupported values turned into strings, as flax does."""
    out: Dict[str, Any] = {}
    for key, value in hparams.items():
        name = f"{parent}.{key}" if parent else key
        if isinstance(value, dict):
            out.update(_flatten(value, name))
        else:
            out[name] = value if isinstance(value, _HPARAM_TYPES) else str(value)
    return out


def scalar_float(value: Any, name: str = "value") -> float:
    """One number (Python, numpy, JAX of any dtype incl. bfloat16) as a float.

    Raises:
        ValueError: ``value`` has more than one element.
        TypeError: ``value`` is not numeric.
    """
    if type(value) is float:
        return value
    array = real_array(value, name)  # bfloat16 and the other ml_dtypes floats come back as float32 (exact)
    if array.size != 1:
        raise ValueError(f"{name} must be a single number, got shape {array.shape}")
    return float(array.reshape(()))


class SummaryWriter:
    """Flax's ``SummaryWriter`` (same arguments and methods), writing through eventwriter.

    Args:
        log_dir: the run directory (created if missing), a path or a URL (``s3://``, ``gs://``...).
        auto_flush: accepted for compatibility. Flax flushes after every call so TensorBoard sees
            each value promptly; eventwriter hands every event to the OS within 0.2 s anyway, and
            :meth:`flush` (``fsync``) stays available.

    Keyword-only arguments beyond flax's:
        storage_options: fsspec options for a URL ``log_dir``.
        upload_secs: for a URL ``log_dir``, the longest a record waits before it is uploaded.
        rank: this process's rank. Only rank 0 writes (flax's writer writes on every process):
            default ``jax.process_index()`` once ``jax.distributed.initialize()`` ran, else
            the launcher's environment (``RANK``, ``SLURM_PROCID``, ...).
    """

    def __init__(
        self,
        log_dir: Union[str, "os.PathLike[str]"],
        auto_flush: bool = True,
        *,
        storage_options: Optional[Dict[str, Any]] = None,
        upload_secs: Optional[float] = None,
        rank: Optional[int] = None,
    ) -> None:
        log_dir = os.fspath(log_dir)
        if not isinstance(log_dir, str):
            raise TypeError(f"log_dir must be a str or path, got {type(log_dir).__name__}")
        self.auto_flush = auto_flush
        self._run = Run(log_dir, rank, {"storage_options": storage_options, "upload_secs": upload_secs})
        _ = self._run.writer  # created now, as flax creates the directory and event file in __init__
        self._closed = False

    def close(self) -> None:
        """Flush and close the event file. Calling it again does nothing."""
        if not self._closed:
            self._run.close()
            self._closed = True

    def flush(self) -> None:
        """Write everything logged so far to disk (``fsync``)."""
        self._run.flush()

    def scalar(self, tag: str, value: Any, step: int) -> None:
        """Log a number (as float32, like ``tf.summary.scalar``).

        Raises:
            ValueError: ``value`` has more than one element.
        """
        self._run.scalar(tag, scalar_float(value), step)

    def image(self, tag: str, image: Any, step: int, max_outputs: int = 3) -> None:
        """Log images: ``[H, W]``, ``[H, W, 1|3]``, ``[K, H, W]`` or ``[K, H, W, 1|3]``, uint8 or floats in [0, 1).

        Greyscale is repeated to RGB, and at most ``max_outputs`` of the K images are kept, as flax does.

        Raises:
            ValueError: the shape is none of the above.
        """
        if not self._run.writes:
            return
        array = np.asarray(image)
        if array.ndim == 2:
            array = array[np.newaxis, :, :, np.newaxis]
        elif array.ndim == 3:
            # [K, H, W] or [H, W, C]: flax decides by the last dimension.
            array = array[np.newaxis] if array.shape[-1] in (1, 3) else array[..., np.newaxis]
        if array.ndim != 4:
            raise ValueError(f"image must be [H, W], [H, W, C], [K, H, W] or [K, H, W, C], got shape {array.shape}")
        if array.shape[-1] == 1:
            array = np.repeat(array, 3, axis=-1)
        self._run.summary(tf_image_summary(tag, array, max_outputs), step)

    def audio(self, tag: str, audiodata: Any, step: int, sample_rate: int = 44100, max_outputs: int = 3) -> None:
        """Log audio clips ``[K, frames, channels]`` (clipped to [-1, 1]) as 16-bit WAV.

        Raises:
            ValueError: not rank 3, or ``sample_rate`` not a positive integer.
        """
        if not self._run.writes:
            return
        data = np.clip(real_array(audiodata, "audiodata").astype(np.float32), -1, 1)
        self._run.summary(tf_audio_summary(tag, data, sample_rate, max_outputs), step)

    def histogram(self, tag: str, values: Any, step: int, bins: Optional[int] = None) -> None:
        """Log a histogram of ``values`` (flattened): ``bins`` equal-width buckets (default 30), as ``tf.summary.histogram``.

        Raises:
            ValueError: non-finite values or a negative ``bins``.
        """
        if not self._run.writes:
            return
        self._run.summary(tf_histogram_summary(tag, values, bins), step)

    def text(self, tag: str, textdata: Union[str, bytes], step: int) -> None:
        """Log a (Markdown) string.

        Raises:
            ValueError: ``textdata`` is not a str or bytes (flax's check and exception type).
        """
        if not isinstance(textdata, (str, bytes)):
            raise ValueError("`textdata` should be of the type `str` or `bytes`.")
        if self._run.writes:
            self._run.summary(tf_text_summary(tag, textdata), step)

    def write(self, tag: str, tensor: Any, step: int, metadata: Any = None) -> None:
        """Log an arbitrary tensor with optional ``SummaryMetadata`` (a message or its bytes), for custom plugins.

        Raises:
            TypeError: the tensor's dtype cannot be stored, or ``metadata`` is neither bytes nor a message.
        """
        if self._run.writes:
            self._run.summary(tf_tensor_summary(tag, tensor, metadata), step)

    def hparams(self, hparams: Mapping[str, Any]) -> None:
        """Log hyperparameters (nested dicts flattened with "."), as TensorBoard's ``hparams()`` does:
        session start info only, so the HParams dashboard takes every scalar of the run as a metric.

        Raises:
            TypeError: ``hparams`` is not a mapping.
        """
        if not isinstance(hparams, Mapping):
            raise TypeError(f"hparams must be a mapping, got {type(hparams).__name__}")
        if self._run.writes:
            self._run.summary(tf_hparams_summary(_flatten(dict(hparams)), time.time()), 0)
