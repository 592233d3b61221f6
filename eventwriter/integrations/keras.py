"""``TensorBoard``: Keras 3's TensorBoard callback without TensorFlow, on any Keras backend.

``keras.callbacks.TensorBoard`` writes through ``tf.summary`` and so needs TensorFlow even on the
JAX and torch backends. This callback has the same constructor and writes the same logdir through
``eventwriter``: runs ``train/`` and ``validation/``; ``epoch_<metric>`` scalars (with the learning
rate and, optionally, steps per second); ``batch_<metric>`` scalars every ``update_freq`` batches;
``evaluation_<metric>_vs_iterations`` after each evaluation; ``<weight path>/histogram`` and
``<weight path>/image`` every ``histogram_freq`` epochs; the model's config (tag ``keras``, the
Graphs dashboard's conceptual graph); and the Projector files of ``Embedding`` layers. Tags, steps,
plugins and tensor layouts are those of Keras's callback (see docs/integrations.md for the
differences, each deliberate).

Importing this module imports Keras (and its backend), never TensorFlow or tensorboard.
"""

from __future__ import annotations

import os
import posixpath
import threading
import time
import warnings
from typing import Any, Dict, List, Mapping, Optional, Union

import keras
import numpy as np

from eventwriter.arrays import real_array
from eventwriter.integrations._run import Run
from eventwriter.storage import is_url
from eventwriter.summaries.graph import keras_model_summary
from eventwriter.summaries.histogram import tf_histogram_summary
from eventwriter.summaries.image import tf_image_summary

__all__ = ["TensorBoard"]

def _to_numpy(value: Any) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(value))


def _float(name: str, value: Any) -> float:
    """A logged value as a Python float (the callback logs scalars only, as Keras's does)."""
    if type(value) is float:
        return value
    array = real_array(value, f"logs[{name!r}]")  # bfloat16 and the other narrow floats as float32
    if array.size != 1:
        raise ValueError(f"logs[{name!r}] must be a single number to be logged as a scalar, got shape {array.shape}")
    return float(array.reshape(()))


def _weight_image(weight: np.ndarray) -> Optional[np.ndarray]:
    """The ``[k, h, w, c]`` image Keras's ``_log_weight_as_image`` makes of a weight, or None."""
    image = np.squeeze(weight)
    shape = image.shape
    if len(shape) == 1:  # a bias: one column
        image = image.reshape(1, shape[0], 1, 1)
    elif len(shape) == 2:  # a dense kernel, the longer side horizontal
        if shape[0] > shape[1]:
            image = image.T
        image = image.reshape(1, image.shape[0], image.shape[1], 1)
    elif len(shape) == 3:  # a conv kernel: one image per output channel
        if keras.backend.image_data_format() == "channels_last":
            image = np.transpose(image, (2, 0, 1))
        image = image.reshape(image.shape[0], image.shape[1], image.shape[2], 1)
    if image.ndim == 4 and image.shape[-1] in (1, 3, 4):
        return image
    return None


class TensorBoard(keras.callbacks.Callback):
    """Keras's TensorBoard callback (same arguments), writing through eventwriter instead of TensorFlow.

    Args:
        log_dir: the logdir; runs ``train`` and ``validation`` are created in it. A local path or a
            URL (``s3://``, ``gs://``, any fsspec URL; see ``storage_options``).
        histogram_freq: every this many epochs, write a histogram of every weight (0: never).
        write_graph: write the model's config for the Graphs dashboard (Functional and Sequential
            models), as Keras does. Keras writes no op graph on its JAX and torch backends, nor on
            TensorFlow 2.21; neither does this callback.
        write_images: with ``histogram_freq``, also write each weight as an image.
        write_steps_per_second: also log training steps per second (per epoch, and per batch
            with ``update_freq``).
        update_freq: ``"epoch"``, or ``"batch"`` / an integer N: also log ``batch_<metric>`` every
            N training batches (batches counted from 1 across epochs).
        profile_batch: a batch number or a ``(start, stop)`` pair to profile (0: none). On the JAX
            backend this uses JAX's profiler (``train/plugins/profile/``), on the TensorFlow backend
            TensorFlow's. Keras has no profiler for the torch or numpy backends.
        embeddings_freq: every this many epochs, write each ``Embedding`` layer's vectors for the
            Projector (0: never).
        embeddings_metadata: a metadata file (one label per row, or a TSV with a header row) for
            every embedding layer, or a dict from layer name to such a file.

    Keyword-only arguments beyond Keras's:
        storage_options: fsspec options for a URL ``log_dir``.
        upload_secs: for a URL ``log_dir``, the longest a record waits before it is uploaded.
        rank: this process's rank in a multi-process job; only the writing rank (0) creates files.
            Default: ``jax.process_index()`` once ``jax.distributed.initialize()`` ran, else the launcher's
            environment (``RANK``, ``SLURM_PROCID``, ...) as :func:`eventwriter.distributed.get_rank`.

    Raises:
        ValueError: ``profile_batch`` is malformed, or asked for on a backend without a profiler;
            ``update_freq`` is not "epoch", "batch" or a positive integer.
    """

    def __init__(
        self,
        log_dir: Union[str, "os.PathLike[str]"] = "logs",
        histogram_freq: int = 0,
        write_graph: bool = True,
        write_images: bool = False,
        write_steps_per_second: bool = False,
        update_freq: Union[str, int] = "epoch",
        profile_batch: Union[int, str, tuple, list] = 0,
        embeddings_freq: int = 0,
        embeddings_metadata: Optional[Union[str, Mapping[str, str]]] = None,
        *,
        storage_options: Optional[Dict[str, Any]] = None,
        upload_secs: Optional[float] = None,
        rank: Optional[int] = None,
    ) -> None:
        super().__init__()
        self.log_dir = os.fspath(log_dir) if not isinstance(log_dir, str) else log_dir
        self.histogram_freq = _non_negative_int(histogram_freq, "histogram_freq")
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (isinstance(update_freq, bool) or not isinstance(update_freq, int) or update_freq < 1):
            raise ValueError(f'update_freq must be "epoch", "batch" or a positive integer, got {update_freq!r}')
        self.update_freq = update_freq
        self.embeddings_freq = _non_negative_int(embeddings_freq, "embeddings_freq")
        if embeddings_metadata is not None and not isinstance(embeddings_metadata, (str, os.PathLike, Mapping)):
            raise TypeError(f"embeddings_metadata must be a file name or a dict of layer name to file name, got {type(embeddings_metadata).__name__}")
        self.embeddings_metadata = embeddings_metadata
        self._options: Dict[str, Any] = {"storage_options": storage_options, "upload_secs": upload_secs}
        self._rank = rank
        self._start_batch, self._stop_batch = _profile_range(profile_batch)
        if self._start_batch and keras.backend.backend() not in ("jax", "tensorflow"):
            raise ValueError(
                f"profile_batch needs a profiler, which Keras has only on the JAX and TensorFlow backends; "
                f"this is the {keras.backend.backend()} backend. Got profile_batch={profile_batch!r} (must be 0)"
            )
        self._profiling = False
        self._batch_trace: Any = None
        # Keras runs on_train_batch_end in a thread pool when every callback allows it, so
        # training need not wait for each batch's logs. Allowed unless a batch's end must be
        # timed (batch_steps_per_second) or traced (the profiler) right when it happens; the
        # steps are then taken from the batch index and written in order (_write_batch).
        self.async_safe = not self._start_batch and not (self.write_steps_per_second and self.update_freq != "epoch")
        self._runs: Dict[str, Run] = {}
        self._lock = threading.Lock()
        self._batch_counts: Dict[int, int] = {}  # this epoch's batch index -> global batch number
        self._pending: Dict[int, tuple] = {}  # batch logs that arrived before an earlier batch's
        self._next_batch_step = 0
        self._global_train_batch = 0
        self._global_test_batch = 0
        self._previous_epoch_iterations = 0.0
        self._epoch_start_time = 0.0
        self._batch_start_time = 0.0

    # -- runs -------------------------------------------------------------------------------

    def _run(self, name: str) -> Run:
        run = self._runs.get(name)
        if run is None:
            if is_url(self.log_dir):
                path = posixpath.join(self.log_dir, name)
            else:
                path = os.path.join(self.log_dir, name)
            run = self._runs[name] = Run(path, self._rank, self._options)
        return run

    def _close_runs(self) -> None:
        for run in self._runs.values():
            run.close()

    # -- Keras hooks --------------------------------------------------------------------------

    def set_model(self, model: Any) -> None:
        """Attach the model (every ``fit``/``evaluate`` does); writes its config when ``write_graph``."""
        self._model = model
        self._close_runs()  # a new fit or evaluate: new event files, as Keras's new tf writers
        self._runs = {}
        if self.write_graph:
            self._write_model_config()
        if self.embeddings_freq:
            self._embedding_layers()  # raises for unknown layer names now, as Keras does

    def on_train_begin(self, logs: Optional[Dict[str, Any]] = None) -> None:
        """Reset the batch counter."""
        self._global_train_batch = 0
        self._batch_counts = {}
        self._pending = {}
        self._next_batch_step = 0 if self.update_freq == "epoch" else self.update_freq  # type: ignore[assignment]
        self._previous_epoch_iterations = 0.0

    def on_train_end(self, logs: Optional[Dict[str, Any]] = None) -> None:
        """Stop a running profile and close the runs' files."""
        self._write_pending()
        if self._profiling:
            self._stop_profile()
        self._close_runs()

    def on_test_begin(self, logs: Optional[Dict[str, Any]] = None) -> None:
        """Nothing to do: Keras's callback only routes ``tf.summary`` calls made inside the model here."""

    def on_test_end(self, logs: Optional[Dict[str, Any]] = None) -> None:
        """Write ``evaluation_<metric>_vs_iterations`` at the optimizer's iteration count."""
        optimizer = getattr(self.model, "optimizer", None)
        if not logs or optimizer is None or not hasattr(optimizer, "iterations"):
            return
        run = self._run("validation")
        if not run.writes:
            return
        step = int(_to_numpy(optimizer.iterations))
        for name, value in logs.items():
            run.scalar(f"evaluation_{name}_vs_iterations", _float(name, value), step)

    def on_train_batch_begin(self, batch: int, logs: Optional[Dict[str, Any]] = None) -> None:
        """Count the batch; start the profiler at ``profile_batch``."""
        self._global_train_batch += 1
        self._batch_counts[batch] = self._global_train_batch
        if self.write_steps_per_second:
            self._batch_start_time = time.time()
        if self._start_batch:
            if self._global_train_batch == self._start_batch:
                self._start_profile()
            if self._profiling:
                self._batch_trace = _start_batch_trace(batch)

    def on_train_batch_end(self, batch: int, logs: Optional[Dict[str, Any]] = None) -> None:
        """Every ``update_freq`` batches: ``batch_<metric>`` (and ``batch_steps_per_second``).

        May run in Keras's thread pool, after later batches began: the step is the global number
        of the batch ``batch`` (recorded when it began), not the current count.
        """
        step = self._batch_counts.get(batch)
        if step is None:  # steps_per_execution > 1: batch is the last step of the execution begun last
            step = self._batch_counts[max(b for b in self._batch_counts if b <= batch)]
        if self.update_freq != "epoch" and step % self.update_freq == 0:  # type: ignore[operator]
            rate = 1.0 / (time.time() - self._batch_start_time) if self.write_steps_per_second else None
            self._write_batch(step, rate, logs)
        if self._profiling:
            if self._batch_trace is not None:
                self._batch_trace.__exit__(None, None, None)
                self._batch_trace = None
            if step >= self._stop_batch:
                self._stop_profile()

    def _write_batch(self, step: int, rate: Optional[float], logs: Any) -> None:
        """Write a batch's summaries, keeping steps in order when batches end out of order (Keras's
        thread pool): TensorBoard's default loader drops a tag's points above a step that goes back."""
        with self._lock:
            self._pending[step] = (rate, logs)
            while self._next_batch_step in self._pending:
                self._write_batch_now(self._next_batch_step, *self._pending.pop(self._next_batch_step))
                self._next_batch_step += self.update_freq  # type: ignore[operator]

    def _write_pending(self) -> None:
        """Write what waits for a batch that will not come (its hook failed): at epoch and training end."""
        with self._lock:
            for step in sorted(self._pending):
                self._write_batch_now(step, *self._pending.pop(step))
                self._next_batch_step = step + self.update_freq  # type: ignore[operator]

    def _write_batch_now(self, step: int, rate: Optional[float], logs: Any) -> None:
        run = self._run("train")
        if not run.writes:
            return
        if rate is not None:
            run.scalar("batch_steps_per_second", rate, step)
        if isinstance(logs, dict):
            for name, value in logs.items():
                run.scalar(f"batch_{name}", _float(name, value), step)

    def on_test_batch_begin(self, batch: int, logs: Optional[Dict[str, Any]] = None) -> None:
        """Count the evaluation batch (kept for parity with Keras's callback)."""
        self._global_test_batch += 1

    def on_epoch_begin(self, epoch: int, logs: Optional[Dict[str, Any]] = None) -> None:
        """Remember the iteration count and time for ``steps_per_second``."""
        self._batch_counts = {}  # Keras waited for the previous epoch's batch hooks to finish
        if self.write_steps_per_second:
            self._previous_epoch_iterations = float(_to_numpy(self.model.optimizer.iterations))
            self._epoch_start_time = time.time()

    def on_epoch_end(self, epoch: int, logs: Optional[Dict[str, Any]] = None) -> None:
        """Write the epoch's metrics, and the histograms, images and embeddings when due."""
        self._write_pending()
        self._log_epoch_metrics(epoch, logs)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        if self.embeddings_freq and epoch % self.embeddings_freq == 0:
            self._log_embeddings(epoch)

    # -- what is written ----------------------------------------------------------------------

    def _write_model_config(self) -> None:
        # Keras's keras_model_summary("keras", model, step=0): the JSON config for the Graphs
        # dashboard's conceptual graph (eventwriter.summaries.graph.keras_model_summary). Keras
        # writes it for Functional and Sequential models only.
        if type(self.model).__name__ not in ("Functional", "Sequential"):
            return
        run = self._run("train")
        if not run.writes:
            return
        try:
            config = self.model.to_json()
        except Exception as exc:  # as Keras: a model that cannot be serialised must not stop training
            warnings.warn(f"Model failed to serialize as JSON. Ignoring... {exc}", stacklevel=2)
            return
        run.summary(keras_model_summary("keras", config), 0)

    def _learning_rates(self) -> Dict[str, float]:
        optimizer = self.model.optimizer
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # a LossScaleOptimizer's
        if hasattr(optimizer, "optimizers"):
            return {f"learning_rate_{opt.name}": float(_to_numpy(opt.learning_rate)) for opt in optimizer.optimizers}
        if isinstance(optimizer, keras.optimizers.Optimizer):
            return {"learning_rate": float(_to_numpy(optimizer.learning_rate))}
        return {}

    def _steps_per_second(self) -> float:
        # float32 arithmetic, as Keras's callback computes it.
        iterations = np.float32(_to_numpy(self.model.optimizer.iterations))
        elapsed = np.float32(time.time() - self._epoch_start_time)
        return float((iterations - np.float32(self._previous_epoch_iterations)) / elapsed)

    def _log_epoch_metrics(self, epoch: int, logs: Optional[Dict[str, Any]]) -> None:
        if not logs:
            return
        train_logs = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val_logs = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        train = self._run("train")
        if train.writes:
            train_logs.update(self._learning_rates())
            if self.write_steps_per_second:
                train_logs["steps_per_second"] = self._steps_per_second()
            for name, value in train_logs.items():
                train.scalar(f"epoch_{name}", _float(name, value), epoch)
        if val_logs:
            val = self._run("validation")
            for name, value in val_logs.items():
                val.scalar(f"epoch_{name}", _float(name, value), epoch)

    def _log_weights(self, epoch: int) -> None:
        run = self._run("train")
        if not run.writes:
            return
        for layer in self.model.layers:
            for weight in layer.weights:
                name = weight.path.replace(":", "_")
                values = _to_numpy(weight)
                run.summary(tf_histogram_summary(f"{name}/histogram", values), epoch)
                if self.write_images:
                    image = _weight_image(values)
                    if image is not None:
                        run.summary(tf_image_summary(f"{name}/image", image), epoch)
        run.flush()

    def _embedding_layers(self) -> List[Any]:
        layers = [layer for layer in self.model.layers if isinstance(layer, keras.layers.Embedding)]
        if isinstance(self.embeddings_metadata, Mapping):
            unknown = set(self.embeddings_metadata) - {layer.name for layer in layers}
            if unknown:
                raise ValueError(f"embeddings_metadata names layers that are not Embedding layers of the model: {sorted(unknown)}")
        return layers

    def _metadata_file(self, layer_name: str) -> Optional[str]:
        if isinstance(self.embeddings_metadata, Mapping):
            path = self.embeddings_metadata.get(layer_name)
        else:
            path = self.embeddings_metadata
        return None if path is None else os.fspath(path)

    def _log_embeddings(self, epoch: int) -> None:
        # Keras 3 writes a projector config whose tensor is a .weights.h5 checkpoint, which
        # TensorBoard's Projector cannot read; the vectors are written as tensors.tsv instead
        # (eventwriter's add_embedding: <train>/<epoch:05d>/<layer name>/), so the Projector shows them.
        run = self._run("train")
        if not run.writes:
            return
        for layer in self._embedding_layers():
            matrix = _to_numpy(layer.embeddings)
            labels, header = _read_metadata(self._metadata_file(layer.name))
            run.writer.add_embedding(matrix, metadata=labels, global_step=epoch, tag=layer.name, metadata_header=header)

    # -- profiling ----------------------------------------------------------------------------

    def _start_profile(self) -> None:
        log_dir = self._run("train").log_dir
        if keras.backend.backend() == "jax":
            import jax

            jax.profiler.start_trace(log_dir)
        else:
            import tensorflow as tf  # the TensorFlow backend: TensorFlow is there

            tf.profiler.experimental.start(log_dir)
        self._profiling = True

    def _stop_profile(self) -> None:
        self._profiling = False
        if keras.backend.backend() == "jax":
            import jax

            jax.profiler.stop_trace()
        else:
            import tensorflow as tf

            tf.profiler.experimental.stop()


def _start_batch_trace(batch: int) -> Any:
    if keras.backend.backend() != "jax":
        return None
    import jax

    trace = jax.profiler.TraceAnnotation(f"Profiled batch {batch}")
    trace.__enter__()
    return trace


def _non_negative_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def _profile_range(profile_batch: Any) -> tuple:
    """``(start, stop)`` batches from Keras's forms: an int, ``"start,stop"``, or a pair (0: no profiling)."""
    message = f"profile_batch must be a non-negative integer or a pair of positive integers (start, stop), got {profile_batch!r}"
    value = profile_batch
    if isinstance(value, str):
        try:
            value = [int(part) for part in value.split(",")]
        except ValueError:
            raise ValueError(message) from None
        if len(value) == 1:
            value = value[0]
    if isinstance(value, bool):
        raise ValueError(message)
    if isinstance(value, (int, np.integer)):
        start = stop = int(value)
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
        start, stop = int(value[0]), int(value[1])
    else:
        raise ValueError(message)
    if start < 0 or stop < start:
        raise ValueError(message)
    return start, stop


def _read_metadata(path: Optional[str]) -> tuple:
    """Labels (and header) from an embeddings metadata file: a TAB in the first line marks a header row, as in the Projector."""
    if path is None:
        return None, None
    with open(path, encoding="utf-8") as handle:
        lines = [line.rstrip("\n") for line in handle if line.strip()]
    if lines and "\t" in lines[0]:
        return [line.split("\t") for line in lines[1:]], lines[0].split("\t")
    return lines, None
