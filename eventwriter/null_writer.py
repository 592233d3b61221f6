"""``NullWriter``: ``SummaryWriter``'s methods, recording nothing.

Two uses: the writer that :func:`eventwriter.distributed.rank_zero_writer` hands to every rank
but the writing one, and the baseline of the benchmarks (the same loop with a writer that costs
nothing). Its methods are empty, so a call costs one Python call (tens of nanoseconds), and it
never creates a directory or a file. Work the *caller* does before a call (building a figure,
computing predictions) is still done: guard that with the rank when it is expensive.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["NullWriter"]


class NullWriter:
    """Drop-in for ``SummaryWriter`` (same method names and arguments) that discards everything.

    Args:
        log_dir: reported by :meth:`get_logdir`; nothing is created there.
        **kwargs: accepted and ignored, like the remaining ``SummaryWriter`` arguments.
    """

    def __init__(self, log_dir: str | None = None, **kwargs: Any) -> None:
        self._log_dir = log_dir

    def get_logdir(self) -> str | None:
        """The ``log_dir`` given to the constructor."""
        return self._log_dir

    def add_scalar(self, tag: str, scalar_value: Any, global_step: int | None = None,
                   walltime: float | None = None, new_style: bool = False,
                   double_precision: bool = False) -> None:
        """Discard a scalar."""

    def add_scalars(self, main_tag: str, tag_scalar_dict: dict[str, Any],
                    global_step: int | None = None, walltime: float | None = None) -> None:
        """Discard a group of scalars."""

    def add_tensor(self, tag: str, tensor: Any, global_step: int | None = None,
                   walltime: float | None = None) -> None:
        """Discard a tensor."""

    def add_histogram(self, tag: str, values: Any, global_step: int | None = None,
                      bins: str | int | Sequence[float] = "tensorflow", walltime: float | None = None,
                      max_bins: int | None = None) -> None:
        """Discard a histogram."""

    def add_histogram_raw(self, tag: str, min: float, max: float, num: int, sum: float,
                          sum_squares: float, bucket_limits: Any, bucket_counts: Any,
                          global_step: int | None = None, walltime: float | None = None) -> None:
        """Discard a pre-binned histogram."""

    def add_image(self, tag: str, img_tensor: Any, global_step: int | None = None,
                  walltime: float | None = None, dataformats: str = "CHW") -> None:
        """Discard an image."""

    def add_images(self, tag: str, img_tensor: Any, global_step: int | None = None,
                   walltime: float | None = None, dataformats: str = "NCHW") -> None:
        """Discard a batch of images."""

    def add_image_with_boxes(self, tag: str, img_tensor: Any, box_tensor: Any,
                             global_step: int | None = None, walltime: float | None = None,
                             rescale: float = 1, dataformats: str = "CHW",
                             labels: list[str] | None = None) -> None:
        """Discard an image with boxes."""

    def add_figure(self, tag: str, figure: Any, global_step: int | None = None,
                   close: bool = True, walltime: float | None = None) -> None:
        """Discard a matplotlib figure, closing it like ``SummaryWriter`` does when ``close``."""
        pyplot = sys.modules.get("matplotlib.pyplot")  # only pyplot-managed figures need closing
        if close and pyplot is not None:
            for fig in figure if isinstance(figure, list) else [figure]:
                pyplot.close(fig)

    def add_video(self, tag: str, vid_tensor: Any, global_step: int | None = None,
                  fps: int | float = 4, walltime: float | None = None) -> None:
        """Discard a video."""

    def add_audio(self, tag: str, snd_tensor: Any, global_step: int | None = None,
                  sample_rate: int = 44100, walltime: float | None = None) -> None:
        """Discard an audio clip."""

    def add_text(self, tag: str, text_string: str, global_step: int | None = None,
                 walltime: float | None = None) -> None:
        """Discard a text."""

    def add_onnx_graph(self, prototxt: str) -> None:
        """Discard an ONNX graph."""

    def add_graph(self, model: Any, input_to_model: Any = None, verbose: bool = False,
                  use_strict_trace: bool = True) -> None:
        """Discard a model graph (the model is not traced)."""

    def add_embedding(self, mat: Any, metadata: list[Any] | None = None, label_img: Any = None,
                      global_step: int | None = None, tag: str = "default",
                      metadata_header: list[str] | None = None) -> None:
        """Discard an embedding."""

    def add_pr_curve(self, tag: str, labels: Any, predictions: Any,
                     global_step: int | None = None, num_thresholds: int = 127,
                     weights: Any = None, walltime: float | None = None) -> None:
        """Discard a precision-recall curve."""

    def add_pr_curve_raw(self, tag: str, true_positive_counts: Any, false_positive_counts: Any,
                         true_negative_counts: Any, false_negative_counts: Any, precision: Any,
                         recall: Any, global_step: int | None = None, num_thresholds: int = 127,
                         weights: Any = None, walltime: float | None = None) -> None:
        """Discard a pre-computed precision-recall curve."""

    def add_custom_scalars(self, layout: dict[str, dict[str, list[Any]]]) -> None:
        """Discard a custom-scalars layout."""

    def add_custom_scalars_multilinechart(self, tags: list[str], category: str = "default",
                                          title: str = "untitled") -> None:
        """Discard a one-chart custom-scalars layout."""

    def add_custom_scalars_marginchart(self, tags: list[str], category: str = "default",
                                       title: str = "untitled") -> None:
        """Discard a one-chart margin layout."""

    def add_mesh(self, tag: str, vertices: Any, colors: Any = None, faces: Any = None,
                 config_dict: dict[str, Any] | None = None, global_step: int | None = None,
                 walltime: float | None = None) -> None:
        """Discard a mesh."""

    def add_hparams(self, hparam_dict: dict[str, Any], metric_dict: dict[str, Any],
                    hparam_domain_discrete: dict[str, list[Any]] | None = None,
                    run_name: str | None = None, global_step: int | None = None) -> None:
        """Discard hyperparameters and metrics."""

    def flush(self) -> None:
        """Nothing to flush."""

    def close(self) -> None:
        """Nothing to close."""

    def __enter__(self) -> NullWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
