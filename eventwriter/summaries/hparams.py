"""Hyperparameters for TensorBoard's HParams dashboard, as torch's ``add_hparams`` writes them.

Layout (docs/FORMAT.md §3.5, §4, §5.9): three Summaries, each with one value that carries only a tag
and metadata (no tensor), plugin ``hparams``, content ``HParamsPluginData{version 0, ...}``:

1. ``_hparams_/experiment``: ``Experiment{hparam_infos, metric_infos}``, the dashboard's columns.
   TensorBoard honours only one experiment per logdir (the first run that has one).
2. ``_hparams_/session_start_info``: ``SessionStartInfo{hparams}``, this run's values.
3. ``_hparams_/session_end_info``: ``SessionEndInfo{status SUCCESS}``.

A metric's value is the last scalar with the metric's tag in the same run, so the writer logs
``metric_dict`` as ordinary scalars next to these summaries. Like torch, no start/end times and
no group name are set (TensorBoard then groups sessions by run name).

Value types: ``bool`` (also numpy bools) → ``bool_value`` with type BOOL; ``str`` →
``string_value``, STRING; real numbers (Python, numpy scalars, one-element arrays or tensors) →
``number_value``, FLOAT64; ``None`` → left out. Differences from torch:

* Booleans stay booleans. torch's number check catches them first, so it stores 1.0/0.0 as
  FLOAT64 and the dashboard shows a numeric column.
* Any other type raises ``TypeError`` naming the key (torch: ``ValueError`` without the key).
* ``hparam_domain_discrete`` must name keys of ``hparam_dict`` whose value is not None, with a
  non-empty list of values of the same kind; ints and floats mix freely for numbers (torch
  requires the exact Python type of the value).
* ``metric_dict`` values must be real numbers or bools (one-element tensors too); NaN and infinity are
  allowed, as scalars allow them (a diverged run's loss is worth seeing).

:func:`tf_hparams_summary` writes what TensorBoard's ``hparams()`` (``hparams_pb``) writes instead,
for the framework adapters (CLU, Flax): the session start info alone, with a group name and a
start time, so that the dashboard infers its columns (the run's scalars become its metrics).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import numpy as np
from google.protobuf import struct_pb2

from .. import protos
from ..metadata import HPARAMS_EXPERIMENT_TAG as EXPERIMENT_TAG
from ..metadata import HPARAMS_SESSION_END_INFO_TAG as SESSION_END_INFO_TAG
from ..metadata import HPARAMS_SESSION_START_INFO_TAG as SESSION_START_INFO_TAG
from ..metadata import PLUGIN_HPARAMS, summary_metadata
from .scalar import scalar_value
from ..stamps import check_tag
from ..wire import float32_bytes
from ..arrays import real_array
from ..tensor_codec import tensor_proto

__all__ = [
    "hparams_summaries", "tf_hparams_summary", "RunHparams", "EXPERIMENT_TAG", "SESSION_START_INFO_TAG", "SESSION_END_INFO_TAG"
]

_KIND_NAMES: Dict[int, str] = {
    protos.HPARAM_TYPE_BOOL: "bool",
    protos.HPARAM_TYPE_STRING: "str",
    protos.HPARAM_TYPE_FLOAT64: "a real number",
}


def _classify(value: Any, name: str) -> Tuple[int, Any]:
    """Return (hparams DataType, Python value) for one hparam/domain value, or raise TypeError."""
    if isinstance(value, (bool, np.bool_)):
        return protos.HPARAM_TYPE_BOOL, bool(value)
    if isinstance(value, str):
        return protos.HPARAM_TYPE_STRING, str(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return protos.HPARAM_TYPE_FLOAT64, float(value)
    if isinstance(value, (bytes, complex, np.complexfloating, dict, list, tuple, set)) or value is None:
        raise TypeError(f"{name} must be a bool, str or real number, got {type(value).__name__}")
    try:  # one-element numpy arrays and tensors
        array = real_array(value, name)
    except TypeError:
        raise TypeError(f"{name} must be a bool, str or real number, got {type(value).__name__}") from None
    if array.size != 1:
        raise TypeError(
            f"{name} must be a bool, str or real number, got {type(value).__name__} "
            f"of shape {tuple(array.shape)} and dtype {array.dtype}"
        )
    item = array.reshape(()).item()
    if array.dtype.kind == "b":
        return protos.HPARAM_TYPE_BOOL, bool(item)
    return protos.HPARAM_TYPE_FLOAT64, float(item)


def _struct_value(kind: int, value: Any) -> struct_pb2.Value:
    if kind == protos.HPARAM_TYPE_BOOL:
        return struct_pb2.Value(bool_value=value)
    if kind == protos.HPARAM_TYPE_STRING:
        return struct_pb2.Value(string_value=value)
    return struct_pb2.Value(number_value=value)


def _plugin_summary(tag: str, data: "protos.HParamsPluginData") -> "protos.Summary":
    # deterministic: map entries (SessionStartInfo.hparams) in key order, so the same call always
    # writes the same bytes; protobuf's default map order varies from one process to the next.
    metadata = summary_metadata(PLUGIN_HPARAMS, data.SerializeToString(deterministic=True))
    return protos.Summary(value=[protos.Summary.Value(tag=tag, metadata=metadata)])


def _domains(
    hparam_domain_discrete: Optional[Dict[str, List[Any]]], kinds: Dict[str, int], hparam_dict: Dict[str, Any]
) -> Dict[str, struct_pb2.ListValue]:
    if hparam_domain_discrete is None:
        return {}
    if not isinstance(hparam_domain_discrete, dict):
        raise TypeError(f"hparam_domain_discrete must be a dict or None, got {type(hparam_domain_discrete).__name__}")
    domains = {}
    for key, options in hparam_domain_discrete.items():
        name = f"hparam_domain_discrete[{key!r}]"
        if key not in hparam_dict:
            raise ValueError(f"{name}: {key!r} is not a key of hparam_dict")
        if key not in kinds:
            raise ValueError(f"{name}: hparam_dict[{key!r}] is None, so it has no column to restrict")
        if not isinstance(options, (list, tuple)):
            raise TypeError(f"{name} must be a list of values, got {type(options).__name__}")
        if not options:
            raise ValueError(f"{name} must list at least one value")
        values = []
        for option in options:
            try:
                kind, python_value = _classify(option, name)
            except TypeError:
                kind, python_value = None, None
            if kind != kinds[key]:
                raise TypeError(
                    f"{name} must hold values of the same kind as hparam_dict[{key!r}] "
                    f"({_KIND_NAMES[kinds[key]]}), got {option!r}"
                )
            values.append(_struct_value(kind, python_value))
        domains[key] = struct_pb2.ListValue(values=values)
    return domains


def hparams_summaries(
    hparam_dict: Dict[str, Any],
    metric_dict: Dict[str, Any],
    hparam_domain_discrete: Optional[Dict[str, List[Any]]] = None,
) -> Tuple["protos.Summary", "protos.Summary", "protos.Summary"]:
    """The three HParams summaries (experiment, session start, session end) for one run.

    Args:
        hparam_dict: ``{name: value}``; values bool, str, real number or None (left out).
        metric_dict: ``{scalar tag: value}``; only the tags go into the experiment, the values
            must be logged as scalars of the same run (the writer does that).
        hparam_domain_discrete: optional ``{name: [possible values]}`` for the dashboard's filters.

    Returns:
        ``(experiment, session_start_info, session_end_info)`` Summaries, to be written in this
        order (torch writes all three with the same step).

    Raises:
        TypeError: a dict of the wrong type, a non-str key, a value of an unsupported type, or
            a domain value of another kind than its hparam.
        ValueError: a domain for an unknown or None hparam, or an empty domain.
    """
    if not isinstance(hparam_dict, dict):
        raise TypeError(f"hparam_dict must be a dict, got {type(hparam_dict).__name__}")
    if not isinstance(metric_dict, dict):
        raise TypeError(f"metric_dict must be a dict, got {type(metric_dict).__name__}")

    kinds: Dict[str, int] = {}
    start_info = protos.SessionStartInfo()
    for key, value in hparam_dict.items():
        if not isinstance(key, str):
            raise TypeError(f"hparam_dict keys must be str, got {type(key).__name__} {key!r}")
        if value is None:
            continue
        kind, python_value = _classify(value, f"hparam_dict[{key!r}]")
        kinds[key] = kind
        start_info.hparams[key].CopyFrom(_struct_value(kind, python_value))

    for key, value in metric_dict.items():
        if not isinstance(key, str):
            raise TypeError(f"metric_dict keys must be str, got {type(key).__name__} {key!r}")
        name = f"metric_dict[{key!r}]"
        kind, _ = _classify(value, name)
        if kind == protos.HPARAM_TYPE_STRING:
            raise TypeError(f"{name} must be a real number, got {type(value).__name__}")

    domains = _domains(hparam_domain_discrete, kinds, hparam_dict)
    hparam_infos = []
    for key, kind in kinds.items():
        info = protos.HParamInfo(name=key, type=kind)  # type: ignore[arg-type]  # enum value as int
        if key in domains:
            info.domain_discrete.CopyFrom(domains[key])
        hparam_infos.append(info)
    metric_infos = [protos.MetricInfo(name=protos.MetricName(tag=key)) for key in metric_dict]
    experiment = protos.Experiment(hparam_infos=hparam_infos, metric_infos=metric_infos)

    return (
        _plugin_summary(EXPERIMENT_TAG, protos.HParamsPluginData(version=0, experiment=experiment)),
        _plugin_summary(SESSION_START_INFO_TAG, protos.HParamsPluginData(version=0, session_start_info=start_info)),
        _plugin_summary(
            SESSION_END_INFO_TAG,
            protos.HParamsPluginData(
                version=0, session_end_info=protos.SessionEndInfo(status=protos.STATUS_SUCCESS)
            ),
        ),
    )


def tf_hparams_summary(hparams: Mapping[str, Any], start_time_secs: float) -> "protos.Summary":
    """The Summary of TensorBoard's ``hparams(hparams)``: ``_hparams_/session_start_info`` only.

    ``HParamsPluginData{session_start_info{hparams, group_name, start_time_secs}}`` as metadata
    content, the group name the SHA-256 of the hparams' JSON (keys sorted, as TensorBoard derives
    it), no experiment; an empty ``DT_FLOAT`` tensor of shape ``[0]`` as ``tf.summary`` writes
    next to it. Value types as for :func:`hparams_summaries` (None is refused here).

    Args:
        hparams: ``{name: value}``, values bool, str or real numbers (numpy scalars too).
        start_time_secs: the session's start, seconds since the epoch.

    Raises:
        TypeError: a key is not a str, or a value is not a bool, number or str.
    """
    normal: Dict[str, Any] = {}
    start_info = protos.SessionStartInfo()
    for key, value in hparams.items():
        if not isinstance(key, str):
            raise TypeError(f"hparams keys must be str, got {type(key).__name__}")
        if isinstance(value, np.generic):
            value = value.item()
        kind, python_value = _classify(value, f"hparams[{key!r}]")
        normal[key] = value if type(value) in (bool, int, float, str) else python_value  # ints stay ints in the JSON
        start_info.hparams[key].CopyFrom(_struct_value(kind, python_value))
    start_info.group_name = hashlib.sha256(json.dumps(normal, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()
    start_info.start_time_secs = float(start_time_secs)
    # deterministic: hparams map entries in key order, as for hparams_summaries
    content = protos.HParamsPluginData(session_start_info=start_info).SerializeToString(deterministic=True)
    value = protos.Summary.Value(
        tag=SESSION_START_INFO_TAG,
        tensor=tensor_proto(np.zeros(0, np.float32)),
        metadata=summary_metadata(PLUGIN_HPARAMS, content),
    )
    return protos.Summary(value=[value])


Metric = Tuple[str, float, Optional[int]]
"""A metric to log as a scalar: ``(tag, value, step)``."""


class RunHparams:
    """The run rules of ``add_hparams``: which summaries and metric scalars go into a run.

    One instance belongs to one writer's run. The writer does the writing; this class decides
    what is written, so the rules live next to the format they serve:

    * The writer's own run (``run_name=None``): TensorBoard takes a tag's metadata from its first
      occurrence in a run, so hparams written a second time would be ignored. The first call
      writes the three summaries; later calls only update the metrics, with a warning if
      ``hparam_dict`` differs.
    * A metric tag that already has history in the run is written at its latest step when no
      step is given: TensorBoard's default loader treats a step going back to 0 as a restart and
      would drop every later point of the curve.
    * A sub-run (``run_name="x"``, torch's layout): everything, at the given step.
    """

    def __init__(self) -> None:
        self.hparams: Optional[Dict[str, Any]] = None  # the run's first hparam_dict

    def own_run(
        self,
        hparam_dict: Dict[str, Any],
        metric_dict: Dict[str, Any],
        hparam_domain_discrete: Optional[Dict[str, List[Any]]],
        step: Optional[int],
        latest_step: Callable[[str], Optional[int]],
        latest_point: Optional[Callable[[str], Optional[Tuple[Optional[int], float]]]] = None,
    ) -> Tuple[Tuple["protos.Summary", ...], List[Metric]]:
        """What to write into the writer's own run: ``(summaries, metrics)``.

        A metric whose tag already holds the same value (as float32, what ``simple_value``
        stores) at the step it would be written at is not written again: a second point at one
        step would be a duplicate row for every reader that keeps both (TensorBoard's Python
        loaders, tbparse, ``frames``), and a wide table by step would have to pick one.

        Args:
            hparam_dict, metric_dict, hparam_domain_discrete: as for :func:`hparams_summaries`.
            step: the converted ``global_step`` (None: no step).
            latest_step: the latest step logged for a scalar tag of the run (None if never logged).
            latest_point: ``(step, value)`` of a tag's latest scalar (None if unknown).

        Raises:
            TypeError, ValueError: as for :func:`hparams_summaries`; a metric that is not a real
                number or a key that is not a str.
        """
        summaries = hparams_summaries(hparam_dict, metric_dict, hparam_domain_discrete)
        metrics = []
        for tag, value in _metric_values(metric_dict):
            at = step if step is not None else latest_step(tag)
            point = latest_point(tag) if latest_point is not None else None
            if point is not None and point[0] == at and float32_bytes(point[1]) == float32_bytes(value):
                continue  # already there: the same value at the same step
            metrics.append((tag, value, at))
        if self.hparams is None:
            self.hparams = dict(hparam_dict)
            return summaries, metrics
        if self.hparams != hparam_dict:
            warnings.warn(
                "add_hparams: this run already has hyperparameters and TensorBoard shows only the "
                "first set; only the metrics were updated. Pass run_name=... for a separate session.",
                stacklevel=3,  # the caller of SummaryWriter.add_hparams
            )
        return (), metrics

    @staticmethod
    def sub_run(
        hparam_dict: Dict[str, Any],
        metric_dict: Dict[str, Any],
        hparam_domain_discrete: Optional[Dict[str, List[Any]]],
        step: Optional[int],
    ) -> Tuple[Tuple["protos.Summary", ...], List[Metric]]:
        """What to write into a new sub-run: all three summaries and every metric at ``step``.

        Raises:
            TypeError, ValueError: as for :meth:`own_run`.
        """
        summaries = hparams_summaries(hparam_dict, metric_dict, hparam_domain_discrete)
        return summaries, [(tag, value, step) for tag, value in _metric_values(metric_dict)]


def _metric_values(metric_dict: Dict[str, Any]) -> List[Tuple[str, float]]:
    return [(check_tag(k, "metric_dict key"), scalar_value(v, f"metric_dict[{k!r}]")) for k, v in metric_dict.items()]
