"""``MetricWriter``: CLU's ``metric_writers`` interface, writing TensorBoard files without TensorFlow.

CLU's ``clu.metric_writers.SummaryWriter`` writes through ``tf.summary``, and the package's
``__init__`` imports it, so without TensorFlow nothing in ``clu.metric_writers`` can be imported,
the interface included. This writer therefore does not subclass ``MetricWriter``: it has its
methods and signatures (``write_summaries``, ``write_scalars``, ``write_images``,
``write_videos``, ``write_audios``, ``write_texts``, ``write_histograms``, ``write_hparams``,
``flush``, ``close``) and works inside CLU's ``AsyncWriter`` and ``MultiWriter``, which only call
those methods. When ``clu.metric_writers`` is already imported (TensorFlow installed), the class
is registered as a virtual subclass of CLU's ``MetricWriter``, so ``isinstance`` checks pass.

What is written matches CLU's TensorFlow writer: tags are the mapping keys, in the logdir itself;
scalars as float32 tensors, every image and audio clip of a batch as samples of one summary,
30-bucket histograms, hparams as TensorBoard's ``hparams()`` writes them. Videos, which CLU's
writer only warns about, are written as animated GIFs. Neither CLU nor JAX is imported here.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, List, Mapping, Optional, Tuple, Union

import numpy as np

from eventwriter.arrays import real_array
from eventwriter.integrations._run import Run
from eventwriter.integrations.flax import scalar_float
from eventwriter.summaries.audio import tf_audio_summary
from eventwriter.summaries.histogram import tf_histogram_summary
from eventwriter.summaries.hparams import tf_hparams_summary
from eventwriter.summaries.image import tf_image_summary
from eventwriter.summaries.tensor import tf_tensor_summary
from eventwriter.summaries.text import tf_text_summary

__all__ = ["MetricWriter"]


def _flatten(hparams: Mapping[str, Any], prefix: Tuple[str, ...] = ()) -> List[Tuple[str, Any]]:
    """CLU's flattening for hparams: nested mappings and sequences joined with ".", None as ""."""
    out: List[Tuple[str, Any]] = []
    for key, value in hparams.items():
        if isinstance(value, Mapping) or hasattr(value, "items"):
            out += _flatten(value, prefix + (key,))
        elif isinstance(value, (list, tuple)):
            out += _flatten({str(i): v for i, v in enumerate(value)}, prefix + (key,))
        else:
            out.append((".".join(prefix + (key,)), "" if value is None else value))
    return out


class MetricWriter:
    """A CLU ``MetricWriter`` that writes TensorBoard event files to ``logdir`` through eventwriter.

    Args:
        logdir: the run directory, a path or a URL (``s3://``, ``gs://``, any fsspec URL).

    Keyword-only arguments:
        storage_options: fsspec options for a URL ``logdir``.
        upload_secs: for a URL ``logdir``, the longest a record waits before it is uploaded.
        rank: this process's rank; only rank 0 writes. Default: ``jax.process_index()`` once
            ``jax.distributed.initialize()`` ran, else the launcher's environment (``RANK``, ...).
    """

    def __init__(
        self,
        logdir: Union[str, "os.PathLike[str]"],
        *,
        storage_options: Optional[Mapping[str, Any]] = None,
        upload_secs: Optional[float] = None,
        rank: Optional[int] = None,
    ) -> None:
        logdir = os.fspath(logdir)
        if not isinstance(logdir, str):
            raise TypeError(f"logdir must be a str or path, got {type(logdir).__name__}")
        self._run = Run(logdir, rank, {"storage_options": storage_options, "upload_secs": upload_secs})

    def write_summaries(self, step: int, values: Mapping[str, Any], metadata: Optional[Mapping[str, Any]] = None) -> None:
        """Write arbitrary tensors, each with its ``SummaryMetadata`` (message or bytes) from ``metadata``, if any.

        Raises:
            TypeError: a tensor's dtype cannot be stored, or a metadata is neither bytes nor a message.
        """
        if not self._run.writes:
            return
        for key, value in values.items():
            self._run.summary(tf_tensor_summary(key, value, None if metadata is None else metadata.get(key)), step)

    def write_scalars(self, step: int, scalars: Mapping[str, Any]) -> None:
        """Write one float32 scalar per key.

        Raises:
            ValueError: a value has more than one element.
        """
        run = self._run
        if not run.writes:
            return
        for key, value in scalars.items():
            run.scalar(key, value if type(value) is float else scalar_float(value, f"scalars[{key!r}]"), step)

    def write_images(self, step: int, images: Mapping[str, Any]) -> None:
        """Write images ``[N, H, W, C]`` or ``[H, W, C]`` (C 1 to 4; uint8, or floats in [0, 1]); all N as samples.

        Raises:
            ValueError: an image of another rank or channel count.
        """
        if not self._run.writes:
            return
        for key, value in images.items():
            array = real_array(value, f"images[{key!r}]")
            if array.ndim == 3:
                array = array[None]
            self._run.summary(tf_image_summary(key, array, max_outputs=array.shape[0] if array.ndim == 4 else 0), step)

    def write_videos(self, step: int, videos: Mapping[str, Any]) -> None:
        """Write videos ``[N, T, H, W, C]`` or ``[T, H, W, C]`` (uint8, or floats in [0, 1]) as animated GIFs.

        CLU's TensorFlow writer only logs a warning here; eventwriter's ``add_video`` tiles the N
        videos into one GIF (4 frames per second), shown in the Images dashboard.

        Raises:
            ValueError: a video of another rank.
        """
        writer = self._run.writer
        if not self._run.writes:
            return
        for key, value in videos.items():
            array = real_array(value, f"videos[{key!r}]")
            if array.ndim == 4:
                array = array[None]
            if array.ndim != 5:
                raise ValueError(f"videos[{key!r}] must be [N, T, H, W, C] or [T, H, W, C], got shape {array.shape}")
            writer.add_video(key, np.transpose(array, (0, 1, 4, 2, 3)), global_step=step)

    def write_audios(self, step: int, audios: Mapping[str, Any], *, sample_rate: int) -> None:
        """Write audio clips ``[N, T, C]`` (floats in [-1, 1]) as 16-bit WAV, all N as samples.

        Raises:
            ValueError: a clip batch that is not rank 3, or ``sample_rate`` not a positive integer.
        """
        if not self._run.writes:
            return
        for key, value in audios.items():
            array = real_array(value, f"audios[{key!r}]")
            self._run.summary(tf_audio_summary(key, array, sample_rate, max_outputs=array.shape[0] if array.ndim == 3 else 0), step)

    def write_texts(self, step: int, texts: Mapping[str, str]) -> None:
        """Write (Markdown) strings.

        Raises:
            TypeError: a value is not a str or bytes.
        """
        if not self._run.writes:
            return
        for key, value in texts.items():
            if not isinstance(value, (str, bytes)):
                raise TypeError(f"texts[{key!r}] must be a str, got {type(value).__name__}")
            self._run.summary(tf_text_summary(key, value), step)

    def write_histograms(self, step: int, arrays: Mapping[str, Any], num_buckets: Optional[Mapping[str, int]] = None) -> None:
        """Write histograms: ``num_buckets[key]`` (default 30) equal-width buckets from the minimum to the maximum.

        Raises:
            ValueError: non-finite values or a negative bucket count.
        """
        if not self._run.writes:
            return
        for key, value in arrays.items():
            self._run.summary(tf_histogram_summary(key, value, None if num_buckets is None else num_buckets.get(key)), step)

    def write_pointcloud(self, step: int, point_clouds: Mapping[str, Any], *, point_colors: Optional[Mapping[str, Any]] = None,
                         configs: Optional[Mapping[str, Any]] = None) -> None:
        """Not supported (CLU's interface default): raises NotImplementedError."""
        raise NotImplementedError("eventwriter's MetricWriter does not write point clouds")

    def write_hparams(self, hparams: Mapping[str, Any]) -> None:
        """Write hyperparameters (nested mappings flattened with "."), as TensorBoard's ``hparams()``.

        Raises:
            TypeError: a value is not a bool, number or str.
        """
        if self._run.writes:
            self._run.summary(tf_hparams_summary(dict(_flatten(hparams)), time.time()), 0)

    def flush(self) -> None:
        """Write everything so far to disk (``fsync``)."""
        self._run.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        self._run.close()


def _register_with_clu() -> None:
    """Make ``isinstance(w, clu.metric_writers.MetricWriter)`` true, if CLU's interface is already loaded.

    Importing it from here would import TensorFlow (CLU's package ``__init__`` does), so it is
    only looked up.
    """
    interface = sys.modules.get("clu.metric_writers.interface")
    base = getattr(interface, "MetricWriter", None)
    if base is not None and hasattr(base, "register"):
        base.register(MetricWriter)


_register_with_clu()
