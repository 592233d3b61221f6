"""Matplotlib figures logged with ``add_figure``.

Figures are built on ``matplotlib.figure.Figure`` with an Agg canvas rather than through
``pyplot``: no global figure registry fills up during a long run, no GUI backend is needed,
and any writer can render them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import nn

__all__ = ["confusion_matrix_figure", "images_to_probs", "plot_classes_preds"]


def _new_figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)  # attaches itself as figure.canvas
    return figure


@torch.no_grad()
def images_to_probs(net: nn.Module, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Predicted class and its softmax probability for each image.

    Args:
        net: the classifier.
        images: normalised batch (N, 1, 28, 28) on the model's device.

    Returns:
        ``(predictions, probabilities)``: int array (N,) and float array (N,).
    """
    probs = F.softmax(net(images), dim=1)
    top_prob, top_class = probs.max(dim=1)
    return top_class.cpu().numpy(), top_prob.cpu().numpy()


def plot_classes_preds(
    net: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    classes: Sequence[str],
    count: int = 4,
) -> Figure:
    """The tutorial's "predictions vs. actuals" figure.

    Shows the first ``count`` images of a batch, each titled with the predicted class, its
    probability and the true label; green when the prediction is right, red when wrong.

    Args:
        net: the classifier.
        images: normalised batch (N, 1, 28, 28) on the model's device.
        labels: true labels (N,).
        classes: class names indexed by label.
        count: how many images to show (at most N).

    Returns:
        The figure (one row of ``count`` panels).
    """
    preds, probs = images_to_probs(net, images)
    count = min(count, len(images))
    # One row of panels; the tutorial's 12x48 inch canvas was mostly blank space.
    figure = _new_figure(3.0 * count, 3.6)
    pixels = (images[:count, 0].cpu() / 2 + 0.5).numpy()  # undo Normalize((0.5,), (0.5,))
    for idx in range(count):
        ax = figure.add_subplot(1, count, idx + 1, xticks=[], yticks=[])
        ax.imshow(pixels[idx], cmap="Greys")
        label = int(labels[idx])
        ax.set_title(
            f"{classes[preds[idx]]}, {probs[idx] * 100.0:.1f}%\n(label: {classes[label]})",
            color="green" if preds[idx] == label else "red",
        )
    figure.tight_layout()
    return figure


def confusion_matrix_figure(matrix: np.ndarray, classes: Sequence[str]) -> Figure:
    """A confusion matrix with counts in each cell.

    Args:
        matrix: int array (C, C); ``matrix[t, p]`` counts samples of true class ``t``
            predicted as ``p``.
        classes: class names indexed by label.

    Returns:
        The figure: true class on the vertical axis, predicted class on the horizontal one.
    """
    figure = _new_figure(8.0, 7.0)
    ax = figure.add_subplot(1, 1, 1)
    image = ax.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ticks = np.arange(len(classes))
    ax.set_xticks(ticks, labels=list(classes), rotation=45, ha="right")
    ax.set_yticks(ticks, labels=list(classes))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    threshold = matrix.max() / 2 if matrix.size else 0
    for true_class in range(matrix.shape[0]):
        for predicted in range(matrix.shape[1]):
            count = int(matrix[true_class, predicted])
            ax.text(predicted, true_class, str(count), ha="center", va="center", fontsize=8,
                    color="white" if count > threshold else "black")
    accuracy = np.trace(matrix) / max(1, matrix.sum())
    ax.set_title(f"Confusion matrix (accuracy {accuracy:.1%})")
    figure.tight_layout()
    return figure
