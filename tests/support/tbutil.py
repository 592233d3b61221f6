"""Helpers that read logdirs with TensorBoard's own loaders (the test oracle)."""

from __future__ import annotations

import os
from typing import Dict, List

from google.protobuf import text_format

import numpy as np
from tensorboard.backend.event_processing import event_accumulator as legacy_ea
from tensorboard.backend.event_processing import event_file_loader
from tensorboard.backend.event_processing import plugin_event_accumulator as pea
from tensorboard.plugins.projector import projector_config_pb2
from tensorboard.util import tensor_util

ALL = 0  # size_guidance 0 keeps every item


def plugin_accumulator(run_dir) -> pea.EventAccumulator:
    """A ``plugin_event_accumulator`` over one run, keeping everything (as the server loads it)."""
    acc = pea.EventAccumulator(
        str(run_dir), size_guidance={pea.TENSORS: ALL, pea.GRAPH: ALL, pea.META_GRAPH: ALL, pea.RUN_METADATA: ALL}
    )
    acc.Reload()
    return acc


def legacy_accumulator(run_dir) -> legacy_ea.EventAccumulator:
    """The legacy ``event_accumulator`` (used by tbparse and most tools), keeping everything."""
    kinds = (legacy_ea.SCALARS, legacy_ea.IMAGES, legacy_ea.AUDIO, legacy_ea.HISTOGRAMS, legacy_ea.COMPRESSED_HISTOGRAMS, legacy_ea.TENSORS)
    guidance = {k: ALL for k in kinds}
    acc = legacy_ea.EventAccumulator(str(run_dir), size_guidance=guidance)
    acc.Reload()
    return acc


def run_dirs(logdir) -> Dict[str, str]:
    """``{run name: directory}`` for every run under ``logdir`` (directories holding tfevents files)."""
    runs = {}
    for dirpath, _dirs, files in os.walk(str(logdir)):
        if any("tfevents" in f for f in files):
            runs[os.path.relpath(dirpath, str(logdir))] = dirpath
    return runs


def loader_events(path) -> List:
    """All events of one file through ``EventFileLoader`` (TB's Python reader, with its migrations)."""
    return list(event_file_loader.EventFileLoader(str(path)).Load())


def tensor_values(acc: pea.EventAccumulator, tag: str) -> List[tuple]:
    """``[(step, ndarray)]`` of a tag in a plugin accumulator."""
    return [(e.step, tensor_util.make_ndarray(e.tensor_proto)) for e in acc.Tensors(tag)]


def scalar_series(acc: pea.EventAccumulator, tag: str) -> List[tuple]:
    """``[(step, float)]`` of a scalar tag in a plugin accumulator."""
    return [(step, float(np.asarray(v).reshape(()))) for step, v in tensor_values(acc, tag)]


def plugins_by_tag(acc: pea.EventAccumulator) -> Dict[str, str]:
    """``{tag: plugin_name}`` as the plugin accumulator recorded them."""
    out = {}
    for tag in acc.Tags()[pea.TENSORS]:
        out[tag] = acc.SummaryMetadata(tag).plugin_data.plugin_name
    return out


def write_both(tmp_path, calls):
    """Run ``calls(writer)`` with torch's SummaryWriter (in ``tmp_path/torch``) and ours (``tmp_path/ours``).

    Returns the two run directories, torch's first. Imports torch only when called.
    """
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    from eventwriter import SummaryWriter

    dirs = []
    for name, cls in (("torch", TorchWriter), ("ours", SummaryWriter)):
        run = tmp_path / name
        writer = cls(str(run))
        calls(writer)
        writer.close()
        dirs.append(run)
    return dirs


def projector_config(logdir) -> projector_config_pb2.ProjectorConfig:
    """``projector_config.pbtxt`` of ``logdir`` parsed with TensorBoard's own message and text parser."""
    config = projector_config_pb2.ProjectorConfig()
    with open(os.path.join(str(logdir), "projector_config.pbtxt"), encoding="utf-8") as f:
        text_format.Parse(f.read(), config)
    return config
