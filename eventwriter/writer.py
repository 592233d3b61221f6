"""``SummaryWriter``: torch.utils.tensorboard's API on top of eventwriter's event files.

Method names, argument names, defaults, tags and run layout are torch's, so migrating is a
one-line import change. Where torch writes something TensorBoard cannot show, this writer does the
right thing instead; README.md lists every such difference.

Cost model: ``add_scalar`` encodes its event by hand (:mod:`eventwriter.wire`) and appends it to
an in-memory buffer; numpy, protobuf and the media/plot libraries are imported only by the
methods that need them.
"""

from __future__ import annotations

import os
import time
from typing import Any, Dict, List, Optional, Sequence, Union

from . import wire
from .event_file import EventFileWriter
from .logdir import default_run_dir
from .record import encode_record
from .run_files import RunFiles
from .stamps import StepLedger, event_step, event_wall_time, truncation_warning
from .stamps import check_tag as _check_tag
from .summaries.scalar import scalar_value as _to_float

_now = time.time
MAX_TRACKED_TAGS = 100_000
"""Scalar tags whose latest step (for add_hparams) and encoded prefix are remembered one by one
(:class:`eventwriter.stamps.StepLedger`); a run with more distinct tags costs no more memory."""
_event_prefix = wire.event_prefix
_float32_bytes = wire.float32_bytes


class SummaryWriter:
    """Write TensorBoard event files for the run in ``log_dir``; a drop-in for torch's SummaryWriter.

    Args:
        log_dir: the run directory. Default: ``runs/<Mon DD_HH-MM-SS>_<hostname><comment>``.
        comment: suffix of the default ``log_dir``; ignored when ``log_dir`` is given.
        purge_step: on a resumed run, ask TensorBoard to drop events at or after this step
            (a ``SessionLog.START`` at that step, as torch writes it).
        max_queue: accepted for compatibility. Events always reach the OS within 0.2 s, and a
            buffer over 1 MiB is written at once, so there is no queue length to tune.
        flush_secs: locally accepted for compatibility, for the same reason; for a URL ``log_dir``
            an upper bound, as in torch: a record is in the store at most
            ``min(flush_secs, upload_secs)`` seconds after it was logged.
        filename_suffix: appended to every event file name.

    Events reach the operating system within 0.2 s of being logged (they survive the process
    being killed); :meth:`flush` additionally ``fsync``-s. After :meth:`close`, the next ``add_*``
    call opens a fresh event file in the same directory, as torch does.

    Keyword-only arguments beyond torch's:
        storage_options: for a URL ``log_dir`` (``s3://``, ``gs://``, ``az://``, any fsspec URL),
            keyword arguments for the fsspec filesystem; ignored for local paths.
        max_file_bytes: start a new event file once the current one would grow past this many
            bytes (each file begins with the ``file_version`` header; default: no limit).
        upload_secs: for a URL ``log_dir``, the longest a logged record waits before it is
            uploaded (default 10 s); each upload is one sealed segment, a complete event file
            (docs/object-storage.md). Ignored for local paths.
        retry_secs: for a URL ``log_dir``, the total time ``flush()`` and ``close()`` wait for the
            store (requests in flight included) before they raise with the records kept on local
            disk; also the exit hook's budget (default 60 s). Ignored for local paths.
        lock_timeout: seconds ``add_embedding`` waits for another process's update of
            ``projector_config.pbtxt`` before raising ``TimeoutError`` (default 30).

    Raises:
        TypeError: ``log_dir`` is not a str or path.
        ImportError: ``log_dir`` is a URL and fsspec (or the store's package) is missing.
        OSError: the directory or event file cannot be created.
    """

    def __init__(
        self,
        log_dir: Optional[Union[str, "os.PathLike[str]"]] = None,
        comment: str = "",
        purge_step: Optional[int] = None,
        max_queue: int = 10,
        flush_secs: int = 120,
        filename_suffix: str = "",
        *,
        storage_options: Optional[Dict[str, Any]] = None,
        max_file_bytes: Optional[int] = None,
        upload_secs: Optional[float] = None,
        retry_secs: Optional[float] = None,
        lock_timeout: float = 30.0,
    ) -> None:
        from .storage import storage_for

        if not log_dir:
            log_dir = default_run_dir(comment)
        log_dir = os.fspath(log_dir)
        if not isinstance(log_dir, str):
            raise TypeError(f"log_dir must be a str or path, got {type(log_dir).__name__}")
        if max_file_bytes is not None and (not isinstance(max_file_bytes, int) or max_file_bytes <= 0):
            raise ValueError(f"max_file_bytes must be a positive integer or None, got {max_file_bytes!r}")
        if upload_secs is not None and (isinstance(upload_secs, bool) or not isinstance(upload_secs, (int, float)) or not upload_secs > 0):
            raise ValueError(f"upload_secs must be a positive number of seconds or None, got {upload_secs!r}")
        self._storage_options = storage_options
        if retry_secs is not None and (isinstance(retry_secs, bool) or not isinstance(retry_secs, (int, float)) or not retry_secs > 0):
            raise ValueError(f"retry_secs must be a positive number of seconds or None, got {retry_secs!r}")
        self._upload_secs = upload_secs
        self._retry_secs = retry_secs
        self._storage = storage_for(
            log_dir, storage_options, upload_secs=self._upload_interval(flush_secs, upload_secs), retry_secs=retry_secs
        )
        self._max_file_bytes = max_file_bytes
        if isinstance(lock_timeout, bool) or not isinstance(lock_timeout, (int, float)) or not lock_timeout >= 0:
            raise ValueError(f"lock_timeout must be a number of seconds >= 0, got {lock_timeout!r}")
        self._lock_timeout = float(lock_timeout)
        self.log_dir = log_dir
        self._step_warned = False  # a non-integral step is truncated with one warning per writer
        self.purge_step = self._step(purge_step)
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        self._files = RunFiles(log_dir, self._open_file_writer, self.purge_step)
        self.purge_step = None
        # tag -> the encoded Event bytes that follow the wall_time/step fields, minus the value.
        self._scalar_prefixes: Dict[str, bytes] = {}
        self._steps = StepLedger(MAX_TRACKED_TAGS)
        self._run_hparams: Optional[Any] = None  # hparams.RunHparams, created by the first add_hparams
        self._files.open()

    # -- files -------------------------------------------------------------------------------

    @staticmethod
    def _upload_interval(flush_secs: Any, upload_secs: Optional[float]) -> Optional[float]:
        """``min(flush_secs, upload_secs)`` for URL logdirs (None: the backend's default upload_secs)."""
        from .storage.policy import DEFAULT_UPLOAD_SECS

        interval = DEFAULT_UPLOAD_SECS if upload_secs is None else float(upload_secs)
        if isinstance(flush_secs, (int, float)) and not isinstance(flush_secs, bool) and flush_secs > 0:
            interval = min(interval, float(flush_secs))
        return interval

    @property
    def file_writer(self) -> Optional[EventFileWriter]:
        """The run's current event file (torch's attribute; ``file_writer.add_summary`` works)."""
        return self._files.current

    @property
    def all_writers(self) -> Optional[Dict[str, EventFileWriter]]:
        """Every open event file by directory, ``add_scalars`` sub-runs included (torch's attribute)."""
        return self._files.by_dir

    def _open_file_writer(self, run_dir: str, first_step: Optional[int] = None) -> EventFileWriter:
        return EventFileWriter(
            run_dir, self.filename_suffix, first_step=first_step, storage=self._storage, max_file_bytes=self._max_file_bytes
        )

    def _step(self, global_step: Any) -> Optional[int]:
        """The step rule (:func:`eventwriter.stamps.event_step`), warning once per writer on truncation."""
        return event_step(global_step, None if self._step_warned else self._on_truncated_step)

    def _on_truncated_step(self, global_step: Any, step: int) -> None:
        self._step_warned = True
        truncation_warning(global_step, step)

    def _log(self, build: Any, tag: str, global_step: Any, walltime: Any, *args: Any, **kwargs: Any) -> None:
        """Check ``tag``, build the Summary with ``build(tag, *args, **kwargs)`` and write it."""
        self._write_summary(build(_check_tag(tag), *args, **kwargs), global_step, walltime)

    def get_logdir(self) -> str:
        """Return the directory where event files are written."""
        return self.log_dir

    def _write_summary(self, summary: Any, global_step: Any = None, walltime: Any = None) -> None:
        """Wrap a Summary message in an Event and queue it (wire-identical to Event(summary=...))."""
        self._write_summary_bytes(summary.SerializeToString(), self._step(global_step), event_wall_time(walltime))

    def _write_summary_bytes(self, body: bytes, step: Optional[int], wall_time: float) -> None:
        self._files.write(encode_record(wire.summary_event(wall_time, step, body)))

    # -- scalars -----------------------------------------------------------------------------

    def add_scalar(
        self,
        tag: str,
        scalar_value: Any,
        global_step: Optional[int] = None,
        walltime: Optional[float] = None,
        new_style: bool = False,
        double_precision: bool = False,
    ) -> None:
        """Log one scalar.

        Args:
            tag: the series name.
            scalar_value: a number, numpy scalar or one-element tensor (CPU/CUDA, any float dtype).
            global_step: the step; None writes no step (TensorBoard then sees step 0).
            walltime: seconds since the epoch; default ``time.time()``.
            new_style: write a rank-0 DT_FLOAT tensor with ``scalars`` metadata instead of
                ``simple_value``.
            double_precision: with ``new_style``, a DT_DOUBLE tensor (kept in full precision, but
                TensorBoard's default loader ignores it; see README).

        Raises:
            TypeError: ``tag`` is not a str or the value is not a real number.
            ValueError: the value has more than one element; ``walltime`` is not finite.
        """
        if new_style:
            from .summaries.scalar import scalar_summary

            _check_tag(tag)
            summary = scalar_summary(tag, scalar_value, new_style=True, double_precision=double_precision)
            step = self._step(global_step)
            self._write_summary_bytes(summary.SerializeToString(), step, event_wall_time(walltime))
            self._steps.note(tag, step, _to_float(scalar_value))
            return
        value = scalar_value if type(scalar_value) is float else _to_float(scalar_value)
        prefix = self._scalar_prefixes.get(tag) or self._scalar_prefix(tag)
        step = global_step if global_step is None or type(global_step) is int else self._step(global_step)
        wall_time = _now() if walltime is None else event_wall_time(walltime)
        self._files.write(encode_record(_event_prefix(wall_time, step) + prefix + _float32_bytes(value)))
        ledger = self._steps
        steps = ledger.latest
        if len(steps) < ledger.limit or tag in steps:  # StepLedger.note's common case, inlined: the hot path
            steps[tag] = (step, value)
        else:
            ledger.note(tag, step, value)

    def _scalar_prefix(self, tag: str) -> bytes:
        prefix = wire.simple_value_prefix(_check_tag(tag))
        if len(self._scalar_prefixes) < MAX_TRACKED_TAGS:  # bounded for programs with unbounded tag sets
            self._scalar_prefixes[tag] = prefix
        return prefix

    def add_scalars(
        self,
        main_tag: str,
        tag_scalar_dict: Dict[str, Any],
        global_step: Optional[int] = None,
        walltime: Optional[float] = None,
    ) -> None:
        """Log several scalars, each in its own run ``<log_dir>/<main_tag with / as _>_<key>`` (as torch).

        Every value is written under tag ``main_tag`` with one shared wall time, so TensorBoard
        draws them as one chart with one line per sub-run.

        Raises:
            TypeError: ``tag_scalar_dict`` is not a mapping of str to numbers.
        """
        _check_tag(main_tag, "main_tag")
        if not hasattr(tag_scalar_dict, "items"):
            raise TypeError(f"tag_scalar_dict must be a dict of str to numbers, got {type(tag_scalar_dict).__name__}")
        items = [(_check_tag(key, "tag_scalar_dict key"), _to_float(value, f"tag_scalar_dict[{key!r}]")) for key, value in tag_scalar_dict.items()]
        step = self._step(global_step)
        wall_time = event_wall_time(walltime)
        head = wire.event_prefix(wall_time, step) + wire.simple_value_prefix(main_tag)
        base = self._files.open().get_logdir()
        for key, value in items:
            run_dir = self._storage.join(base, main_tag.replace("/", "_") + "_" + key)
            self._files.write_to(run_dir, encode_record(head + wire.float32_bytes(value)))

    # -- text, tensors, histograms -----------------------------------------------------------

    def add_text(self, tag: str, text_string: str, global_step: Optional[int] = None, walltime: Optional[float] = None) -> None:
        """Log a string (Markdown) under tag ``<tag>/text_summary``, as torch does.

        Raises:
            TypeError: ``tag`` or ``text_string`` is not a str.
        """
        from .summaries.text import text_summary

        self._log(text_summary, tag, global_step, walltime, text_string)

    def add_tensor(self, tag: str, tensor: Any, global_step: Optional[int] = None, walltime: Optional[float] = None) -> None:
        """Log a raw tensor (plugin ``tensor``: stored, readable by the loaders, shown by no dashboard).

        Raises:
            TypeError: the tensor's dtype cannot be stored.
        """
        from .summaries.tensor import tensor_summary

        self._log(tensor_summary, tag, global_step, walltime, tensor)

    def add_histogram(
        self,
        tag: str,
        values: Any,
        global_step: Optional[int] = None,
        bins: Union[str, int, Sequence[float]] = "tensorflow",
        walltime: Optional[float] = None,
        max_bins: Optional[int] = None,
    ) -> None:
        """Log a histogram of ``values`` (bucketed as torch does; ``bins`` as numpy.histogram or "tensorflow").

        Raises:
            ValueError: empty or non-finite values, bad ``bins``/``max_bins``.
        """
        from .summaries.histogram import histogram_summary

        self._log(histogram_summary, tag, global_step, walltime, values, bins=bins, max_bins=max_bins)

    def add_histogram_raw(
        self,
        tag: str,
        min: float,
        max: float,
        num: int,
        sum: float,
        sum_squares: float,
        bucket_limits: Any,
        bucket_counts: Any,
        global_step: Optional[int] = None,
        walltime: Optional[float] = None,
    ) -> None:
        """Log a histogram from precomputed statistics and buckets (right edges in ``bucket_limits``).

        Raises:
            ValueError: ``bucket_limits`` and ``bucket_counts`` differ in length.
        """
        from .summaries.histogram import histogram_raw_summary

        self._log(histogram_raw_summary, tag, global_step, walltime, min, max, num, sum, sum_squares, bucket_limits, bucket_counts)

    # -- images, video, audio ----------------------------------------------------------------

    def add_image(
        self,
        tag: str,
        img_tensor: Any,
        global_step: Optional[int] = None,
        walltime: Optional[float] = None,
        dataformats: str = "CHW",
    ) -> None:
        """Log one image (``dataformats`` CHW, HWC or HW; floats in [0, 1] are scaled by 255 and clipped).

        Raises:
            ValueError: the array's rank does not match ``dataformats``.
        """
        from .summaries.image import image_summary

        self._log(image_summary, tag, global_step, walltime, img_tensor, dataformats=dataformats)

    def add_images(
        self,
        tag: str,
        img_tensor: Any,
        global_step: Optional[int] = None,
        walltime: Optional[float] = None,
        dataformats: str = "NCHW",
    ) -> None:
        """Log a batch of images tiled into one grid (8 per row), as torch does.

        Raises:
            ValueError: the array's rank does not match ``dataformats``.
        """
        from .summaries.image import images_summary

        self._log(images_summary, tag, global_step, walltime, img_tensor, dataformats=dataformats)

    def add_image_with_boxes(
        self,
        tag: str,
        img_tensor: Any,
        box_tensor: Any,
        global_step: Optional[int] = None,
        walltime: Optional[float] = None,
        rescale: float = 1,
        dataformats: str = "CHW",
        labels: Optional[List[str]] = None,
    ) -> None:
        """Log an image with boxes ``[x1, y1, x2, y2]`` (pixels) drawn on it, optionally labelled.

        Raises:
            ValueError: ``box_tensor`` is not (N, 4), or ``labels`` does not have N entries.
        """
        from .summaries.image import image_with_boxes_summary

        self._log(
            image_with_boxes_summary, tag, global_step, walltime,
            img_tensor, box_tensor, labels=labels, dataformats=dataformats, rescale=rescale,
        )

    def add_figure(
        self,
        tag: str,
        figure: Any,
        global_step: Optional[int] = None,
        close: bool = True,
        walltime: Optional[float] = None,
    ) -> None:
        """Log a matplotlib figure (or a list of figures, as a grid); closes them unless ``close=False``."""
        from .summaries.image import figure_summary

        self._log(figure_summary, tag, global_step, walltime, figure, close=close)

    def add_video(
        self,
        tag: str,
        vid_tensor: Any,
        global_step: Optional[int] = None,
        fps: Union[int, float] = 4,
        walltime: Optional[float] = None,
    ) -> None:
        """Log a video (N, T, C, H, W) as an animated GIF, encoded with Pillow (no moviepy needed).

        Raises:
            ValueError: not rank 5, or ``fps`` not positive.
        """
        from .summaries.video import video_summary

        self._log(video_summary, tag, global_step, walltime, vid_tensor, fps=fps)

    def add_audio(
        self,
        tag: str,
        snd_tensor: Any,
        global_step: Optional[int] = None,
        sample_rate: int = 44100,
        walltime: Optional[float] = None,
    ) -> None:
        """Log mono audio in [-1, 1] as 16-bit WAV, served by TensorBoard as ``audio/wav``.

        Raises:
            ValueError: more than one channel, non-finite samples, or ``sample_rate`` not positive.
        """
        from .summaries.audio import audio_summary

        self._log(audio_summary, tag, global_step, walltime, snd_tensor, sample_rate=sample_rate)

    # -- PR curves, meshes, custom scalars, hparams --------------------------------------------

    def add_pr_curve(
        self,
        tag: str,
        labels: Any,
        predictions: Any,
        global_step: Optional[int] = None,
        num_thresholds: int = 127,
        weights: Any = None,
        walltime: Optional[float] = None,
    ) -> None:
        """Log a precision-recall curve from binary ``labels`` and ``predictions`` in [0, 1].

        Unlike torch, ``num_thresholds`` is not capped at 127.

        Raises:
            ValueError: lengths differ, predictions outside [0, 1], NaN labels, ``num_thresholds`` < 2.
        """
        from .summaries.pr_curve import pr_curve_summary

        self._log(pr_curve_summary, tag, global_step, walltime, labels, predictions, num_thresholds=num_thresholds, weights=weights)

    def add_pr_curve_raw(
        self,
        tag: str,
        true_positive_counts: Any,
        false_positive_counts: Any,
        true_negative_counts: Any,
        false_negative_counts: Any,
        precision: Any,
        recall: Any,
        global_step: Optional[int] = None,
        num_thresholds: int = 127,
        weights: Any = None,
        walltime: Optional[float] = None,
    ) -> None:
        """Log a precision-recall curve from precomputed counts and ratios (six equal-length arrays).

        Raises:
            ValueError: the arrays differ in length.
        """
        from .summaries.pr_curve import pr_curve_raw_summary

        self._log(
            pr_curve_raw_summary,
            tag,
            global_step,
            walltime,
            true_positive_counts,
            false_positive_counts,
            true_negative_counts,
            false_negative_counts,
            precision,
            recall,
            num_thresholds=num_thresholds,
            weights=weights,
        )

    def add_custom_scalars_multilinechart(self, tags: List[str], category: str = "default", title: str = "untitled") -> None:
        """Add a Custom Scalars chart drawing the given scalar tags (regular expressions) as lines."""
        self.add_custom_scalars({category: {title: ["Multiline", tags]}})

    def add_custom_scalars_marginchart(self, tags: List[str], category: str = "default", title: str = "untitled") -> None:
        """Add a Custom Scalars margin chart from exactly three tags: value, lower bound, upper bound.

        Raises:
            ValueError: ``tags`` does not have three entries.
        """
        if not isinstance(tags, (list, tuple)) or len(tags) != 3:
            raise ValueError(f"tags must be a list of 3 tags (value, lower, upper), got {tags!r}")
        self.add_custom_scalars({category: {title: ["Margin", tags]}})

    def add_custom_scalars(self, layout: Dict[str, Dict[str, List[Any]]]) -> None:
        """Set the Custom Scalars layout: ``{category: {chart title: ["Multiline" | "Margin", tags]}}``.

        Written at step 0, as torch does; TensorBoard uses each run's latest layout.

        Raises:
            ValueError: a malformed layout (a margin chart without exactly three tags, ...).
        """
        from .summaries.custom_scalars import custom_scalars_summary

        self._write_summary(custom_scalars_summary(layout))

    def add_mesh(
        self,
        tag: str,
        vertices: Any,
        colors: Any = None,
        faces: Any = None,
        config_dict: Optional[Dict[str, Any]] = None,
        global_step: Optional[int] = None,
        walltime: Optional[float] = None,
    ) -> None:
        """Log a 3-D mesh or point cloud: ``vertices`` (B, N, 3), optional ``faces`` and ``colors`` (0..255).

        Raises:
            ValueError: arrays not of shape (B, N, 3).
        """
        from .summaries.mesh import mesh_summary

        self._log(mesh_summary, tag, global_step, walltime, vertices, colors=colors, faces=faces, config_dict=config_dict)

    def add_hparams(
        self,
        hparam_dict: Dict[str, Any],
        metric_dict: Dict[str, Any],
        hparam_domain_discrete: Optional[Dict[str, List[Any]]] = None,
        run_name: Optional[str] = None,
        global_step: Optional[int] = None,
    ) -> None:
        """Log hyperparameters and their metrics for the HParams dashboard.

        Difference from torch: with ``run_name=None`` everything goes into this writer's own run
        (torch creates a sub-run named after ``time.time()``, pytorch/pytorch#32651), so the
        metrics are ordinary scalar tags of the run and later ``add_scalar`` calls update them.
        Calling it again without ``run_name`` updates the metrics (TensorBoard shows only the first
        hyperparameters of a run; a different ``hparam_dict`` gives a warning).
        With a ``run_name``, a sub-run ``<log_dir>/<run_name>`` is written, as torch does.
        Booleans stay booleans (torch stores them as 1.0/0.0).

        Raises:
            TypeError: ``hparam_dict``/``metric_dict`` are not dicts, or a value of an unsupported type.
        """
        from .summaries.hparams import RunHparams

        if self._run_hparams is None:
            self._run_hparams = RunHparams()
        step = self._step(global_step)
        wall_time = time.time()
        if run_name is None:
            summaries, metrics = self._run_hparams.own_run(
                hparam_dict, metric_dict, hparam_domain_discrete, step, self._steps.latest_step, self._steps.latest_point
            )
            for summary in summaries:
                self._write_summary_bytes(summary.SerializeToString(), step, wall_time)
            for tag, value, metric_step in metrics:
                self.add_scalar(tag, value, metric_step, wall_time)
            return
        summaries, metrics = RunHparams.sub_run(hparam_dict, metric_dict, hparam_domain_discrete, step)
        run_dir = self._storage.join(self._files.open().get_logdir(), _check_tag(run_name, "run_name"))
        with SummaryWriter(
            log_dir=run_dir, filename_suffix=self.filename_suffix, flush_secs=self.flush_secs,
            storage_options=self._storage_options, upload_secs=self._upload_secs, retry_secs=self._retry_secs,
        ) as sub:
            for summary in summaries:
                sub._write_summary_bytes(summary.SerializeToString(), step, wall_time)
            for tag, value, metric_step in metrics:
                sub.add_scalar(tag, value, metric_step, wall_time)

    # -- graphs and embeddings -----------------------------------------------------------------

    def add_graph(self, model: Any, input_to_model: Any = None, verbose: bool = False, use_strict_trace: bool = True) -> None:
        """Log a model graph for the Graphs dashboard.

        ``model`` is a ``torch.nn.Module`` traced with ``torch.jit.trace(model, input_to_model)``
        (torch is imported only here), or a ready ``GraphDef`` message or its serialized bytes.

        Raises:
            eventwriter.summaries.graph.GraphTraceError: the model cannot be traced (the message names the
                cause); the writer keeps working.
        """
        from .summaries import graph

        if isinstance(model, (bytes, bytearray)) or graph.is_graph_def(model):
            graph_def, run_metadata = graph.graph_def_from(model), None
        else:
            graph_def, run_metadata = graph.graph_events(model, input_to_model, verbose, use_strict_trace)
        self._write_graph(graph_def, run_metadata)

    def add_onnx_graph(self, prototxt: str) -> None:
        """Log the graph of an ONNX model file (needs the ``onnx`` package).

        Raises:
            ImportError: ``onnx`` is not installed.
        """
        from .summaries import graph

        self._write_graph(graph.onnx_graph_def(prototxt), None)

    def _write_graph(self, graph_def: Any, run_metadata: Any) -> None:
        # Event.graph_def (field 4, bytes) at step 0, then Event.tagged_run_metadata (field 8)
        # {tag "step1", run_metadata} as torch writes them (docs/FORMAT.md §4, add_graph).
        # Deterministic: NodeDef.attr and StepStats.thread_names are maps whose default order
        # follows a hash table, so one graph would otherwise give different bytes per process.
        now = time.time()
        records = encode_record(wire.graph_event(now, graph_def.SerializeToString(deterministic=True)))
        if run_metadata is not None:
            records += encode_record(wire.tagged_run_metadata_event(now, "step1", run_metadata.SerializeToString(deterministic=True)))
        self._files.write(records)

    def add_embedding(
        self,
        mat: Any,
        metadata: Optional[List[Any]] = None,
        label_img: Any = None,
        global_step: Optional[int] = None,
        tag: str = "default",
        metadata_header: Optional[List[str]] = None,
    ) -> None:
        """Add an embedding for the Projector: tensors.tsv, metadata.tsv, sprite.png and the config.

        Files go to ``<log_dir>/<step:05d>/<tag>/``; ``projector_config.pbtxt`` in ``log_dir`` is
        merged (entries from other writers and processes are kept) and replaced atomically.

        Raises:
            ValueError: ``mat`` not 2-D, ``metadata``/``label_img`` of the wrong length or shape.
            TimeoutError: another process held the config's lock file for longer than the
                writer's ``lock_timeout`` (the message names the lock file).
        """
        from .projector import write_embedding

        write_embedding(
            self._files.open().get_logdir(),
            mat,
            storage=self._storage,
            metadata=metadata,
            label_img=label_img,
            global_step=self._step(global_step),
            tag=_check_tag(tag),
            metadata_header=metadata_header,
            lock_timeout=self._lock_timeout,
        )

    # -- lifecycle ---------------------------------------------------------------------------

    def flush(self) -> None:
        """Write everything logged so far to disk (``fsync``); returns when it is there.

        For a URL ``log_dir``: returns once everything is in the store, or raises after the retry
        budget (60 s, one deadline for all of this writer's files) with the records kept on local
        disk (README: "Logging to object storage").

        Raises:
            OSError: the disk refused the data (it stays queued for a retry).
        """
        self._files.flush(self._deadline())

    def _deadline(self) -> Optional[float]:
        """One deadline shared by all event files of a URL ``log_dir`` (None: local files)."""
        policy = getattr(self._storage, "policy", None)
        retry_secs = getattr(policy, "retry_secs", None)
        return None if retry_secs is None else time.monotonic() + float(retry_secs)

    def close(self) -> None:
        """Flush and close every event file of this writer. Calling it twice is harmless.

        Logging after ``close()`` opens a new event file in the same run directory (torch does the
        same, and the PyTorch TensorBoard tutorial relies on it). If a file cannot be written (a
        full disk), the error is raised and that file keeps its queued records: calling
        ``close()`` or ``flush()`` again once there is room writes them, nothing is lost.
        """
        self._files.close(self._deadline())

    def __enter__(self) -> "SummaryWriter":
        return self

    def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        try:
            self.close()
        except OSError as exc:
            # The body already failed with this store's refusal (an add_* raised it): raising it
            # again from close() would only hide the first message behind a second.
            if not (_same_store_failure(exc_val, exc)):
                raise


def _same_store_failure(first: Any, second: BaseException) -> bool:
    """True if both are a refusal for good (:class:`~eventwriter.storage.errors.UploadError`) of one
    bucket (an ``add_scalars`` sub-run's file is refused like the main one)."""
    from .storage.errors import UploadError

    return (
        isinstance(first, UploadError) and isinstance(second, UploadError)
        and first.permanent and second.permanent and first.url.split("/")[:3] == second.url.split("/")[:3]
    )
