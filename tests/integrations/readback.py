"""Logdirs read back with TensorBoard's loaders and compared, for the framework adapters' tests.

``contents(logdir)`` gives ``{run: {tag: Series}}`` through ``plugin_event_accumulator`` (size
guidance 0, as the server's Python path loads them), with each value decoded by plugin: a float for
scalars, the ``[k, 3]`` array for histograms, ``(width, height, [pixel arrays])`` for images,
``[(rate, [samples])]`` for audio, the JSON for the Keras model config, the array otherwise.
"""

from __future__ import annotations

import io
import json
import wave
from dataclasses import dataclass, field
from typing import Any, Dict, List, Tuple

import numpy as np
from PIL import Image
from support.tbutil import plugin_accumulator, run_dirs
from tensorboard.compat.proto import summary_pb2
from tensorboard.util import tensor_util


@dataclass
class Series:
    plugin: str
    points: List[Tuple[int, Any]] = field(default_factory=list)

    @property
    def steps(self) -> List[int]:
        return [step for step, _ in self.points]


def _png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def _wav(data: bytes) -> Tuple[int, np.ndarray]:
    with wave.open(io.BytesIO(data)) as clip:
        frames = np.frombuffer(clip.readframes(clip.getnframes()), "<i2").reshape(-1, clip.getnchannels())
        return clip.getframerate(), frames


def decode(plugin: str, array: np.ndarray) -> Any:
    if plugin == "scalars":
        return float(np.asarray(array).reshape(()))
    if plugin == "images":
        items = list(array.reshape(-1))
        return int(items[0]), int(items[1]), [_png(b) for b in items[2:]]
    if plugin == "audio":
        # [k, 2] (clip, label) as written; the Python loader's blob migration keeps [k] clips only.
        rows = array.reshape(-1, 2) if array.ndim == 2 else array.reshape(-1, 1)
        return [(_wav(row[0]), row[1] if len(row) > 1 else b"") for row in rows]
    if plugin == "graph_keras_model":
        return json.loads(array.reshape(()).item())
    if plugin == "text":
        return array.astype(object).tolist()
    return array


def _hparams(content: bytes) -> Dict[str, Any]:
    """HParamsPluginData's session start info: hparams (as Python values) and group name (not the start time)."""
    from google.protobuf import json_format
    from tensorboard.plugins.hparams import plugin_data_pb2

    data = plugin_data_pb2.HParamsPluginData.FromString(content)
    info = data.session_start_info
    return {"kind": data.WhichOneof("data"), "group_name": info.group_name,
            "hparams": {k: json_format.MessageToDict(v) for k, v in info.hparams.items()}}


def contents(logdir) -> Dict[str, Dict[str, Series]]:
    out: Dict[str, Dict[str, Series]] = {}
    for run, path in sorted(run_dirs(logdir).items()):
        acc = plugin_accumulator(path)
        tags: Dict[str, Series] = {}
        for tag in acc.Tags()["tensors"]:
            # A tensor written without metadata (tf.summary.write's default) has none recorded.
            metadata = acc.summary_metadata.get(tag) or summary_pb2.SummaryMetadata()
            plugin = metadata.plugin_data.plugin_name
            series = tags[tag] = Series(plugin)
            for event in acc.Tensors(tag):
                if plugin == "hparams":  # the data is in the metadata; the tensor is a null placeholder
                    value: Any = _hparams(metadata.plugin_data.content)
                else:
                    value = decode(plugin, tensor_util.make_ndarray(event.tensor_proto))
                series.points.append((event.step, value))
        out[run] = tags
    return out


def structure(data: Dict[str, Dict[str, Series]]) -> Dict[str, Dict[str, Tuple[str, List[int]]]]:
    """``{run: {tag: (plugin, steps)}}``: what must match exactly between two writers."""
    return {run: {tag: (s.plugin, s.steps) for tag, s in tags.items()} for run, tags in data.items()}


def assert_values_equal(plugin: str, where: str, ours: Any, theirs: Any) -> None:
    """Equal as TensorBoard shows them: scalars and histogram edges at float32, images by pixels."""
    if plugin == "scalars":
        assert np.float32(ours) == np.float32(theirs), f"{where}: {ours!r} != {theirs!r}"
    elif plugin == "histograms":
        np.testing.assert_array_equal(np.asarray(ours, np.float32), np.asarray(theirs, np.float32), err_msg=where)
    elif plugin == "images":
        assert ours[:2] == theirs[:2], f"{where}: size {ours[:2]} != {theirs[:2]}"
        assert len(ours[2]) == len(theirs[2]), f"{where}: {len(ours[2])} samples != {len(theirs[2])}"
        for i, (a, b) in enumerate(zip(ours[2], theirs[2])):
            np.testing.assert_array_equal(a, b, err_msg=f"{where} sample {i}")
    elif plugin == "audio":
        assert len(ours) == len(theirs), where
        for ((rate_a, a), label_a), ((rate_b, b), label_b) in zip(ours, theirs):
            assert rate_a == rate_b and label_a == label_b, where
            np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(ours, np.ndarray):
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape, f"{where}: {ours.dtype}{ours.shape} != {theirs.dtype}{theirs.shape}"
        np.testing.assert_array_equal(ours, theirs, err_msg=where)
    else:
        assert ours == theirs, where


def assert_same(ours: Dict[str, Dict[str, Series]], theirs: Dict[str, Dict[str, Series]], timing_tags=()) -> None:
    """Same runs, tags, plugins and steps; same values except for ``timing_tags`` (measured times)."""
    assert structure(ours) == structure(theirs)
    for run, tags in theirs.items():
        for tag, series in tags.items():
            if tag in timing_tags:
                continue
            for (step, a), (_, b) in zip(ours[run][tag].points, series.points):
                assert_values_equal(series.plugin, f"{run}/{tag}@{step}", a, b)
