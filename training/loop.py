"""Training and evaluation loop that logs everything through the writer it is given.

The loop follows the PyTorch tutorial "Visualizing Models, Data, and Training with
TensorBoard" step by step and then logs what a real run needs on top of it. The writer is a
parameter, so the very same loop runs with ``eventwriter.SummaryWriter``, with
``torch.utils.tensorboard.SummaryWriter`` or with ``eventwriter.NullWriter``.

What is logged (tag → dashboard):

=============================== ============ ===============================================
``four_fashion_mnist_images``   Images       grid of the first training batch (step 0)
graph of ``Net``                Graphs       ``add_graph(net, images)``
embedding ``default``           Projector    100 random training images, labels, sprite
``training loss``               Scalars      mean loss over each log interval
``learning rate``               Scalars      every log interval
``predictions vs. actuals``     Images       figure every log interval
``test loss``, ``accuracy/test`` Scalars     every epoch, on the test set
``accuracy/<class>``            Scalars      per-class test accuracy, every epoch
``confusion matrix``            Images       figure every epoch
``weights/<param>``             Histograms   every epoch
``gradients/<param>``           Histograms   every epoch (gradients of the epoch's last batch)
``<class name>``                PR Curves    one per class on the test set (step 0)
hyperparameters + ``hparam/*``  HParams      once, at the end
=============================== ============ ===============================================

Like the tutorial, the loop calls ``writer.close()`` after the graph, after the embedding and
after each PR curve and then keeps logging: a ``SummaryWriter`` reopens a fresh event file
on the next call.

Under torchrun (a :class:`~training.cluster.Cluster` is passed) the model is wrapped in
DistributedDataParallel and each rank trains on its ``DistributedSampler`` shard; a step is one
synchronised optimizer step, so the global steps are the single-process ones. ``training loss``
is the mean over the ranks (:func:`eventwriter.distributed.reduce_scalars`); the test set is
split by index (rank k takes images k, k+N, ...: no padding, every image counted once) and the
predictions are gathered, so every rank holds the full evaluation. Only rank 0 builds figures,
the image grid, the graph and the embedding; the other ranks hold a ``NullWriter``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torch.utils.data import DistributedSampler
from tqdm import tqdm

from eventwriter import SummaryWriterLike
from eventwriter.distributed import reduce_scalars

from .cluster import Cluster
from .data import FashionMNIST, make_loader
from .figures import confusion_matrix_figure, plot_classes_preds
from .model import Net

__all__ = ["Evaluation", "TrainConfig", "TrainResult", "evaluate", "evaluate_sharded", "train"]


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters and run options; the defaults are the tutorial's.

    Attributes:
        epochs: passes over the training set.
        batch_size: training batch size.
        lr: SGD learning rate.
        momentum: SGD momentum.
        log_interval: log loss, learning rate and the predictions figure every this many steps.
        max_steps: stop after this many training steps (None: run all epochs).
        test_limit: evaluate on the first this many test images only (None: all 10000).
        seed: seeds weight initialisation, shuffling and the embedding sample.
        device: ``"cpu"`` or ``"cuda"`` (already resolved; see ``training.cli``).
        num_workers: DataLoader worker processes for training batches.
        progress: show a tqdm progress bar (tqdm hides it anyway when stderr is not a TTY).
        embedding_points: number of random training images in the projector embedding.
        eval_batch_size: batch size for evaluation (does not change the results).
    """

    epochs: int = 1
    batch_size: int = 4
    lr: float = 0.001
    momentum: float = 0.9
    log_interval: int = 1000
    max_steps: int | None = None
    test_limit: int | None = None
    seed: int = 0
    device: str = "cpu"
    num_workers: int = 0
    progress: bool = True
    embedding_points: int = 100
    eval_batch_size: int = 1000

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "log_interval", "embedding_points", "eval_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("max_steps", "test_limit"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1 or None, got {value}")
        if self.num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {self.num_workers}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive number, got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")


@dataclass
class Evaluation:
    """Model outputs on the (possibly limited) test set.

    Attributes:
        probs: float tensor (N, C), softmax probabilities.
        labels: int64 tensor (N,), true labels.
        loss: mean cross-entropy.
    """

    probs: torch.Tensor
    labels: torch.Tensor
    loss: float

    @property
    def predictions(self) -> torch.Tensor:
        """Predicted class per sample."""
        return self.probs.argmax(dim=1)

    @property
    def accuracy(self) -> float:
        """Fraction of samples classified correctly."""
        return (self.predictions == self.labels).float().mean().item()

    def confusion_matrix(self) -> np.ndarray:
        """int64 array (C, C): ``[true, predicted]`` counts."""
        num_classes = self.probs.shape[1]
        flat = self.labels * num_classes + self.predictions
        counts = torch.bincount(flat, minlength=num_classes * num_classes)
        return counts.reshape(num_classes, num_classes).numpy()

    def class_accuracy(self) -> dict[int, float]:
        """Accuracy per class, for the classes present in the labels."""
        matrix = self.confusion_matrix()
        totals = matrix.sum(axis=1)
        return {c: float(matrix[c, c] / totals[c]) for c in range(len(totals)) if totals[c]}


@dataclass
class TrainResult:
    """What a run produced.

    Attributes:
        model: the trained network.
        steps: training steps taken.
        losses: ``(global_step, mean loss)`` per log interval, as logged to ``training loss``.
        evaluation: the final test-set evaluation.
        class_accuracy: final per-class test accuracy, by class name.
        seconds: wall time of :func:`train`.
        images_per_second: training throughput (training steps only).
        hparams: the hyperparameters logged to the HParams dashboard.
    """

    model: nn.Module
    steps: int
    losses: list[tuple[int, float]]
    evaluation: Evaluation
    class_accuracy: dict[str, float]
    seconds: float
    images_per_second: float
    hparams: dict[str, Any] = field(default_factory=dict)

    @property
    def test_accuracy(self) -> float:
        """Final test accuracy."""
        return self.evaluation.accuracy


@torch.no_grad()
def evaluate(net: nn.Module, loader: torch.utils.data.DataLoader, device: str) -> Evaluation:
    """Run ``net`` over ``loader`` and collect probabilities, labels and the mean loss."""
    net.eval()
    probs, labels, total_loss = [], [], 0.0
    for images, batch_labels in loader:
        logits = net(images.to(device))
        total_loss += F.cross_entropy(logits, batch_labels.to(device), reduction="sum").item()
        probs.append(F.softmax(logits, dim=1).cpu())
        labels.append(batch_labels)
    net.train()
    all_labels = torch.cat(labels)
    return Evaluation(torch.cat(probs), all_labels, total_loss / max(1, len(all_labels)))


@torch.no_grad()
def evaluate_sharded(net: nn.Module, inputs: torch.Tensor, labels: torch.Tensor,
                     batch_size: int, cluster: Cluster) -> Evaluation:
    """Evaluate on every rank's share of ``inputs`` and gather the full :class:`Evaluation`.

    Rank k evaluates images k, k+N, k+2N, ... (N ranks). Unlike ``DistributedSampler``, this
    split pads nothing, so every image is counted exactly once. The gathered probabilities are
    put back in the original order: the result is the single-process evaluation's, up to
    float rounding. A collective: every rank calls it.
    """
    index = torch.arange(cluster.rank, len(inputs), cluster.world_size)
    loader = make_loader(inputs[index], labels[index], batch_size, shuffle=False)
    local = evaluate(net, loader, cluster.device)
    shards = cluster.all_gather((index, local.probs, local.labels, local.loss * len(index)))
    probs = torch.empty(len(inputs), shards[0][1].shape[1], dtype=shards[0][1].dtype)
    gathered_labels = torch.empty(len(inputs), dtype=labels.dtype)
    for shard_index, shard_probs, shard_labels, _ in shards:
        probs[shard_index] = shard_probs
        gathered_labels[shard_index] = shard_labels
    total_loss = sum(shard[3] for shard in shards)
    return Evaluation(probs, gathered_labels, total_loss / max(1, len(inputs)))


def _log_dataset_and_model(
    writer: SummaryWriterLike,
    net: nn.Module,
    data: FashionMNIST,
    first_batch: torch.Tensor,
    config: TrainConfig,
) -> None:
    """The tutorial's first three steps: image grid, model graph, projector embedding."""
    grid = torchvision.utils.make_grid(first_batch / 2 + 0.5)  # un-normalise to [0, 1]
    writer.add_image("four_fashion_mnist_images", grid)

    writer.add_graph(net, first_batch.to(config.device))
    writer.close()  # as the tutorial does; the next call reopens the writer

    sampler = torch.Generator().manual_seed(config.seed)
    count = min(config.embedding_points, len(data.train_images))
    index = torch.randperm(len(data.train_images), generator=sampler)[:count]
    images = data.train_images[index].float() / 255  # raw pixels in [0, 1], (N, 28, 28)
    writer.add_embedding(
        images.view(-1, 28 * 28),
        metadata=[data.classes[label] for label in data.train_labels[index].tolist()],
        label_img=images.unsqueeze(1),
    )
    writer.close()


def _log_epoch(
    writer: SummaryWriterLike,
    net: nn.Module,
    evaluation: Evaluation,
    classes: Sequence[str],
    step: int,
) -> None:
    """Per-epoch test metrics, confusion matrix and parameter/gradient histograms."""
    writer.add_scalar("test loss", evaluation.loss, step)
    writer.add_scalar("accuracy/test", evaluation.accuracy, step)
    for label, accuracy in evaluation.class_accuracy().items():
        writer.add_scalar(f"accuracy/{classes[label]}", accuracy, step)
    writer.add_figure("confusion matrix", confusion_matrix_figure(
        evaluation.confusion_matrix(), classes), global_step=step)
    for name, parameter in net.named_parameters():
        writer.add_histogram(f"weights/{name}", parameter.detach(), step)
        if parameter.grad is not None:
            writer.add_histogram(f"gradients/{name}", parameter.grad, step)


def _log_pr_curves(writer: SummaryWriterLike, evaluation: Evaluation,
                   classes: Sequence[str]) -> None:
    """One precision-recall curve per class, tagged with the class name, as in the tutorial."""
    for class_index, name in enumerate(classes):
        writer.add_pr_curve(name, evaluation.labels == class_index,
                            evaluation.probs[:, class_index], global_step=0)
        writer.close()


def train(writer: SummaryWriterLike, data: FashionMNIST, config: TrainConfig,
          cluster: Cluster | None = None) -> TrainResult:
    """Train the tutorial's ``Net`` on Fashion-MNIST and log the run through ``writer``.

    The writer is left open (after a final ``flush()``); closing it is the caller's job.

    Args:
        writer: ``eventwriter.SummaryWriter``, ``torch.utils.tensorboard.SummaryWriter``,
            ``NullWriter`` or anything else with those methods. Under torchrun, rank 0's
            writer; the other ranks pass a ``NullWriter``
            (``eventwriter.distributed.rank_zero_writer`` does both).
        data: the loaded dataset.
        config: hyperparameters and run options; ``batch_size`` is per rank and ``device``
            is ``cluster.device``.
        cluster: the torchrun job this process belongs to (None: a single process). Every
            rank must call ``train`` with the same config.

    Returns:
        The trained model, the logged losses and the final evaluation.
    """
    started = time.perf_counter()
    torch.manual_seed(config.seed)  # weight initialisation
    device = config.device
    classes = data.classes
    main = cluster is None or cluster.is_main  # the process that builds what gets logged
    world_size = 1 if cluster is None else cluster.world_size

    sampler: DistributedSampler | None = None
    if cluster is None:
        train_loader = make_loader(data.train_inputs, data.train_labels, config.batch_size,
                                   shuffle=True, num_workers=config.num_workers,
                                   generator=torch.Generator().manual_seed(config.seed))
    else:
        sampler = DistributedSampler(range(len(data.train_labels)), cluster.world_size,
                                     cluster.rank, shuffle=True, seed=config.seed)
        train_loader = make_loader(data.train_inputs, data.train_labels, config.batch_size,
                                   shuffle=False, num_workers=config.num_workers,
                                   sampler=sampler)
    test_limit = config.test_limit or len(data.test_images)
    test_inputs, test_labels = data.test_inputs[:test_limit], data.test_labels[:test_limit]
    test_loader = make_loader(test_inputs, test_labels, config.eval_batch_size, shuffle=False)

    net = Net(num_classes=len(classes)).to(device)
    model = net if cluster is None else cluster.wrap(net)  # trains; ``net`` logs and evaluates
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)

    if main:
        first_images, _ = next(iter(train_loader))
        _log_dataset_and_model(writer, net, data, first_images, config)

    steps_per_epoch = len(train_loader)
    total_steps = config.epochs * steps_per_epoch
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)

    losses: list[tuple[int, float]] = []
    evaluation: Evaluation | None = None
    running_loss, running_count, steps = 0.0, 0, 0
    train_seconds = 0.0
    progress = tqdm(total=total_steps, unit="step",
                    disable=None if config.progress and main else True,
                    dynamic_ncols=True)
    with progress:
        for epoch in range(config.epochs):
            if steps >= total_steps:
                break
            progress.set_description(f"epoch {epoch + 1}/{config.epochs}")
            if sampler is not None:
                sampler.set_epoch(epoch)  # a different shuffle every epoch, the same on all ranks
            epoch_started = time.perf_counter()
            for i, (inputs, labels) in enumerate(train_loader):
                inputs, labels = inputs.to(device), labels.to(device)
                optimizer.zero_grad()
                loss = criterion(model(inputs), labels)
                loss.backward()
                optimizer.step()

                running_loss += loss.item()
                running_count += 1
                steps += 1
                progress.update()
                step = epoch * steps_per_epoch + i  # the tutorial's global step
                if steps % config.log_interval == 0:
                    mean_loss = running_loss / running_count
                    if cluster is not None:  # collective: every rank logs at the same steps
                        mean_loss = reduce_scalars({"loss": mean_loss}, step=step)["loss"]
                    losses.append((step, mean_loss))
                    writer.add_scalar("training loss", mean_loss, step)
                    writer.add_scalar("learning rate", optimizer.param_groups[0]["lr"], step)
                    if main:
                        writer.add_figure("predictions vs. actuals",
                                          plot_classes_preds(net, inputs, labels, classes),
                                          global_step=step)
                    running_loss, running_count = 0.0, 0
                if steps % 100 == 0 or steps == total_steps:
                    rate = steps * config.batch_size * world_size / max(1e-9, train_seconds
                                                          + time.perf_counter() - epoch_started)
                    progress.set_postfix(loss=f"{loss.item():.3f}", img_s=f"{rate:.0f}",
                                         refresh=False)
                if steps >= total_steps:
                    break
            train_seconds += time.perf_counter() - epoch_started

            if cluster is None:
                evaluation = evaluate(net, test_loader, device)
            else:
                evaluation = evaluate_sharded(net, test_inputs, test_labels,
                                              config.eval_batch_size, cluster)
            if main:
                _log_epoch(writer, net, evaluation, classes, step)

    assert evaluation is not None  # internal invariant: total_steps >= 1, so an epoch ran
    if main:
        _log_pr_curves(writer, evaluation, classes)

    class_accuracy = {classes[c]: acc for c, acc in evaluation.class_accuracy().items()}
    hparams = {key: value for key, value in asdict(config).items()
               if key in ("epochs", "batch_size", "lr", "momentum", "seed", "max_steps",
                          "test_limit") and value is not None}
    hparams["optimizer"] = "SGD"
    hparams["device"] = device
    if cluster is not None:
        hparams["world_size"] = cluster.world_size  # batch_size is per rank
    final_loss = losses[-1][1] if losses else running_loss / max(1, running_count)
    writer.add_hparams(
        hparams,
        {"hparam/test_accuracy": evaluation.accuracy,
         "hparam/test_loss": evaluation.loss,
         "hparam/training_loss": final_loss},
        global_step=step,
    )
    writer.flush()

    return TrainResult(
        model=net,
        steps=steps,
        losses=losses,
        evaluation=evaluation,
        class_accuracy=class_accuracy,
        seconds=time.perf_counter() - started,
        images_per_second=steps * config.batch_size * world_size / max(1e-9, train_seconds),
        hparams=hparams,
    )
