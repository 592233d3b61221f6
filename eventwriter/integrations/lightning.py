"""PyTorch Lightning: a ``TensorBoardLogger`` that writes through eventwriter.

``from eventwriter.integrations.lightning import TensorBoardLogger`` replaces
``from lightning.pytorch.loggers import TensorBoardLogger``: the same constructor, the same
directory layout (``save_dir/name/version_N[/sub_dir]``, ``hparams.yaml``), the same tags and
steps, and ``logger.experiment`` is an :class:`eventwriter.SummaryWriter` with torch's methods.
It needs neither ``tensorboard`` nor tensorboardX (Lightning's own logger needs one of them, and
``log_graph`` needs ``tensorboard``).

What is written, call by call (Lightning's logger writes the same; differences below):

* ``log_metrics(metrics, step)``: one scalar per key, tag ``prefix-key`` (``LOGGER_JOIN_CHAR``),
  at ``step``; a dict value goes through ``add_scalars`` (one run per key, torch's layout).
* ``log_hyperparams(params, metrics, step)``: ``params`` (a dict or ``Namespace``) is flattened
  (nested dicts, dataclasses and lists of dicts become ``a/b`` keys) and every value that is not a
  bool, int, float or str becomes its ``str()``. If there are metrics (``{"hp_metric": -1}`` with
  ``default_hp_metric`` when none are given), the HParams dashboard's three summaries and the
  metrics as scalars go into the run itself, through ``SummaryWriter.add_hparams``.
* ``log_graph(model, input_array)`` with ``log_graph=True``: ``add_graph`` of the model traced on
  ``model.example_input_array`` (or ``input_array``).
* ``save()`` (Lightning calls it after every ``log_metrics``): writes ``hparams.yaml`` (every
  ``params`` passed so far, unflattened) if the run has none yet; ``finalize`` at the end of
  ``fit`` closes the writer.

Differences from Lightning's logger, each on purpose:

* Booleans stay booleans in the HParams dashboard (torch's helper stores 1.0/0.0).
* With a ``prefix``, the HParams experiment names the prefixed metric tags, the tags the scalars
  really have (Lightning names the unprefixed keys, so the dashboard finds no values).
* A tensor or array hyperparameter with more than one element is logged as its ``str()``
  (torch's helper logs its first element); an empty list stays a value (``"[]"``).
* ``save()`` does not flush (Lightning's flushes torch's writer after every ``log_metrics``):
  records reach the OS within about 0.2 s anyway (``upload_secs`` on a store), and
  eventwriter's ``flush()`` is an ``fsync``. The logger flushes after each checkpoint instead.
* A second ``log_hyperparams`` in the same run updates the metrics only: TensorBoard shows the
  first hyperparameters of a run anyway (``SummaryWriter.add_hparams`` warns if they differ).
* ``trainer.log_dir`` is ``save_dir`` for this logger, as for every logger that is not one of
  Lightning's own classes (the Trainer tests for them by type); ``logger.log_dir`` is the run.

Multi-process training (DDP): the rank is Lightning's (``rank_zero_only.rank``, which the
Trainer sets from its strategy). Every method that writes runs on rank 0 only, and
``experiment`` is made by :func:`eventwriter.distributed.rank_zero_writer`: a writer on rank 0,
a :class:`eventwriter.NullWriter` (same methods, no files) on every other rank, so
``self.logger.experiment.add_histogram(...)`` in a ``LightningModule`` is safe on all ranks.

Remote ``save_dir`` (``s3://``, ``gs://``, ``az://``, any fsspec URL): event files, the version
listing and ``hparams.yaml`` all go through eventwriter's storage seam, with
``storage_options=`` (or the store's usual environment) and ``upload_secs=``.

Works with the ``lightning`` package (``lightning.pytorch``) and with ``pytorch-lightning``
(``pytorch_lightning``); when both are installed, the logger subclasses ``lightning.pytorch``'s
``Logger`` (the Trainers of both accept it: they do not check a logger's class).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import sys
import warnings
from argparse import Namespace
from collections.abc import Mapping, MutableMapping
from enum import Enum
from typing import Any, Dict, Optional, Union

from lightning_utilities.core.rank_zero import rank_zero_only

from eventwriter import SummaryWriterLike
from eventwriter.distributed import rank_zero_writer
from eventwriter.storage import Storage, is_url, storage_for

# The Trainers of both packages take any logger (no class check), so one base serves both; the
# rank they set lives in lightning_utilities, which both share.
if importlib.util.find_spec("lightning") is not None:
    from lightning.pytorch.loggers.logger import Logger as _LightningLogger
else:  # pragma: no cover - exercised by a test that hides the lightning package
    from pytorch_lightning.loggers.logger import Logger as _LightningLogger  # type: ignore[assignment,no-redef]

__all__ = ["TensorBoardLogger"]

# SummaryWriter keyword arguments the logger passes on (torch's, plus eventwriter's own).
_WRITER_KWARGS = frozenset({"comment", "purge_step", "max_queue", "flush_secs", "filename_suffix", "max_file_bytes", "lock_timeout"})


def _global_rank() -> int:
    """Lightning's global rank: set by the Trainer's strategy, read from the launcher's environment before."""
    return int(getattr(rank_zero_only, "rank", 0) or 0)


def _join(base: str, *parts: str) -> str:
    """Join path parts: ``/`` for URLs (empty parts skipped), ``os.path.join`` for local paths (as Lightning)."""
    if is_url(base):
        return "/".join([base.rstrip("/")] + [p.strip("/") for p in parts if p])
    return os.path.join(base, *parts)


def _expand(path: str) -> str:
    """``~`` and ``$VAR`` expanded in a local path, as Lightning does for its log_dir; URLs as given."""
    return path if is_url(path) else os.path.expanduser(os.path.expandvars(path))


def _as_dict(params: Any) -> Dict[str, Any]:
    """``params`` as a plain dict: a ``Namespace`` becomes ``vars()``, None ``{}``, an OmegaConf config a container."""
    if params is None:
        return {}
    if isinstance(params, Namespace):
        return dict(vars(params))
    omegaconf = sys.modules.get("omegaconf")  # only if the user already uses it
    if omegaconf is not None and omegaconf.OmegaConf.is_config(params):
        params = omegaconf.OmegaConf.to_container(params, resolve=True)
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict or argparse.Namespace, got {type(params).__name__}")
    return dict(params)


def _flatten(params: Mapping[Any, Any], parent: str = "") -> Dict[str, Any]:
    """``{"a": {"b": 1}}`` → ``{"a/b": 1}``; dataclasses, Namespaces and non-empty lists of dicts too."""
    flat: Dict[str, Any] = {}
    for key, value in params.items():
        name = f"{parent}/{key}" if parent else str(key)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = dataclasses.asdict(value)
        elif isinstance(value, Namespace):
            value = vars(value)
        if isinstance(value, MutableMapping):
            flat.update(_flatten(value, name))
        elif isinstance(value, list) and value and all(isinstance(item, MutableMapping) for item in value):
            for index, item in enumerate(value):
                flat.update(_flatten(item, f"{name}/{index}"))
        else:
            flat[name] = value
    return flat


def _hparam_value(value: Any) -> Union[bool, int, float, str]:
    """A value the HParams dashboard can show: bool, int, float or str (else its ``str()``, as Lightning)."""
    if type(value) in (bool, int, float, str):
        return value  # type: ignore[no-any-return]
    # numpy scalars, 0-d arrays and one-element tensors are numbers; bigger ones are shown as text
    item = getattr(value, "item", None)
    numel = getattr(value, "numel", None)  # torch; numpy has .size (an int)
    count = numel() if callable(numel) else getattr(value, "size", None)
    if callable(item) and count == 1:
        plain = item()
        if type(plain) in (bool, int, float):
            return plain  # type: ignore[no-any-return]
    return str(value)


def _number(value: Any) -> Any:
    """A tensor's Python number (``.item()``, as Lightning does before logging); anything else as given."""
    if type(value) is float or type(value) is int:
        return value
    item = getattr(value, "item", None)
    return item() if callable(item) and not isinstance(value, (Mapping, str)) else value


def _hparams_yaml(hparams: Mapping[str, Any]) -> bytes:
    """``hparams.yaml`` as Lightning writes it without OmegaConf: ``yaml.dump`` of every value it can dump.

    Values ``yaml.dump`` refuses are left out with a warning (Lightning does the same); an Enum is
    written as its name.
    """
    import yaml  # a dependency of Lightning

    kept: Dict[str, Any] = {}
    for key, value in hparams.items():
        value = value.name if isinstance(value, Enum) else value
        try:
            yaml.dump(value)
        except (TypeError, ValueError):
            warnings.warn(f"hparams.yaml: left out {key!r}: a {type(value).__name__} cannot be written as YAML", stacklevel=3)
            continue
        kept[key] = value
    return yaml.dump(kept).encode("utf-8")


class TensorBoardLogger(_LightningLogger):
    r"""Lightning logger writing TensorBoard event files through :class:`eventwriter.SummaryWriter`.

    The constructor is that of Lightning's ``TensorBoardLogger``; runs go to
    ``save_dir/name/version_N`` (or ``save_dir/name/<version>`` for a str ``version``), plus
    ``sub_dir`` when given. See the module docstring for what is written and how it differs.

    Args:
        save_dir: the directory (or ``s3://...``-style URL) that holds the experiments.
        name: experiment name (a directory level); None or ``""`` for none.
        version: an int (``version_<n>``), a str (the directory name as is), or None for the next
            free ``version_<n>`` in ``save_dir/name``.
        log_graph: log the model's graph at the start of ``fit`` (needs ``example_input_array``).
        default_hp_metric: log ``hp_metric = -1`` with the hyperparameters when no metric is
            given, so the HParams dashboard lists the run (otherwise such a call writes no
            TensorBoard record, only ``hparams.yaml``).
        prefix: put ``prefix-`` before every metric tag.
        sub_dir: a directory below the version, e.g. to split ``train``/``val`` runs.
        storage_options: fsspec options for a URL ``save_dir`` (credentials, endpoint...).
        upload_secs: for a URL ``save_dir``, the longest time a record waits before it is uploaded.
        **kwargs: ``SummaryWriter`` arguments: ``comment``, ``purge_step``, ``max_queue``,
            ``flush_secs``, ``filename_suffix``, ``max_file_bytes``, ``lock_timeout``.

    Raises:
        TypeError: an argument of the wrong type, or an unknown keyword argument.
    """

    NAME_HPARAMS_FILE = "hparams.yaml"
    LOGGER_JOIN_CHAR = "-"

    def __init__(
        self,
        save_dir: Union[str, "os.PathLike[str]"],
        name: Optional[str] = "lightning_logs",
        version: Optional[Union[int, str]] = None,
        log_graph: bool = False,
        default_hp_metric: bool = True,
        prefix: str = "",
        sub_dir: Optional[Union[str, "os.PathLike[str]"]] = None,
        *,
        storage_options: Optional[Dict[str, Any]] = None,
        upload_secs: Optional[float] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if not isinstance(save_dir, (str, os.PathLike)):
            raise TypeError(f"save_dir must be a str or path, got {type(save_dir).__name__}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str or None, got {type(name).__name__}")
        if version is not None and (isinstance(version, bool) or not isinstance(version, (int, str))):
            raise TypeError(f"version must be an int, a str or None, got {type(version).__name__}")
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, got {type(prefix).__name__}")
        if sub_dir is not None and not isinstance(sub_dir, (str, os.PathLike)):
            raise TypeError(f"sub_dir must be a str, a path or None, got {type(sub_dir).__name__}")
        if storage_options is not None and not isinstance(storage_options, Mapping):
            raise TypeError(f"storage_options must be a dict or None, got {type(storage_options).__name__}")
        unknown = sorted(set(kwargs) - _WRITER_KWARGS)
        if unknown:
            raise TypeError(f"unknown keyword argument(s) {', '.join(map(repr, unknown))}; SummaryWriter takes {sorted(_WRITER_KWARGS)}")
        self._save_dir = os.fspath(save_dir)
        self._name = name or ""
        self._version = version
        self._sub_dir = None if sub_dir is None else os.fspath(sub_dir)
        self._log_graph = bool(log_graph)
        self._default_hp_metric = bool(default_hp_metric)
        self._prefix = prefix
        self._storage_options = None if storage_options is None else dict(storage_options)
        self._upload_secs = upload_secs
        self._writer_kwargs = kwargs
        self._experiment: Optional[SummaryWriterLike] = None  # the rank-0 writer, once made
        self._null_experiment: Optional[SummaryWriterLike] = None  # what the other ranks get
        self._storage: Optional[Storage] = None
        self._hparams_yaml_written = False  # written, or found there: never looked for again
        self.hparams: Dict[str, Any] = {}
        """Every ``params`` given to :meth:`log_hyperparams`, merged: the content of ``hparams.yaml``."""

    # -- where --------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The experiment name (``""`` when none)."""
        return self._name

    @property
    def version(self) -> Union[int, str]:
        """The version given, else the next free ``version_<n>`` number in :attr:`root_dir`, decided on first use."""
        if self._version is None:
            self._version = self._next_version()
        return self._version

    @property
    def save_dir(self) -> str:
        """The directory (or URL) given as ``save_dir``."""
        return self._save_dir

    @property
    def root_dir(self) -> str:
        """``save_dir/name``: where the versions of this experiment are."""
        return _join(self._save_dir, self._name)

    @property
    def sub_dir(self) -> Optional[str]:
        """The ``sub_dir`` given, or None."""
        return self._sub_dir

    @property
    def log_dir(self) -> str:
        """This run's directory: ``save_dir/name/version_<n>[/sub_dir]``, with ``~`` and ``$VAR`` expanded."""
        version = self.version if isinstance(self.version, str) else f"version_{self.version}"
        parts = (version, self._sub_dir) if self._sub_dir else (version,)
        return _expand(_join(self.root_dir, *parts))

    def _get_storage(self) -> Storage:
        if self._storage is None:
            self._storage = storage_for(_expand(self._save_dir), self._storage_options)
        return self._storage

    def _next_version(self) -> int:
        """One more than the largest ``version_<n>`` directory in :attr:`root_dir` (0 if none)."""
        root = _expand(self.root_dir)
        storage = self._get_storage()
        versions = []
        for entry in storage.list_names(root):
            parts = entry.split("_")
            # Lightning's rule: "version_<digits>[_anything]" counts, and only directories
            if parts[0] == "version" and len(parts) > 1 and parts[1].isdigit() and storage.kind(_join(root, entry)) == "dir":
                versions.append(int(parts[1]))
        return max(versions) + 1 if versions else 0

    # -- the writer ---------------------------------------------------------------------------

    @property
    def experiment(self) -> SummaryWriterLike:
        """The run's writer: an :class:`eventwriter.SummaryWriter` on rank 0, a ``NullWriter`` elsewhere.

        Made on first use (this creates the run directory on rank 0). Use it for anything
        beyond scalars: ``logger.experiment.add_histogram(...)``.
        """
        if _global_rank() != 0:
            # not cached as the writer: the Trainer may still set this process's rank to 0 later
            if self._null_experiment is None:
                self._null_experiment = rank_zero_writer(self.log_dir, rank=_global_rank())
            return self._null_experiment
        if self._experiment is None:
            self._experiment = rank_zero_writer(
                self.log_dir, rank=0, storage_options=self._storage_options, upload_secs=self._upload_secs,
                **self._writer_kwargs,
            )
        return self._experiment

    # -- logging ------------------------------------------------------------------------------

    def _tag(self, key: str) -> str:
        return f"{self._prefix}{self.LOGGER_JOIN_CHAR}{key}" if self._prefix else key

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: Optional[int] = None) -> None:
        """Log each metric as a scalar at ``step`` (a dict value through ``add_scalars``).

        Raises:
            TypeError, ValueError: a value is not a real number (or a dict of them); the message
                names its key.
        """
        # called every step: the common case (a made writer, float/int values) takes the short path
        writer = self._experiment if self._experiment is not None else self.experiment
        prefix = self._prefix
        for key, value in metrics.items():
            tag = f"{prefix}{self.LOGGER_JOIN_CHAR}{key}" if prefix else key
            kind = type(value)
            try:
                if kind is float or kind is int:
                    writer.add_scalar(tag, value, step)
                elif isinstance(value, Mapping):
                    writer.add_scalars(tag, {k: _number(v) for k, v in value.items()}, step)
                else:
                    writer.add_scalar(tag, _number(value), step)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"metrics[{key!r}]: {exc}") from exc

    @rank_zero_only
    def log_hyperparams(  # type: ignore[override]
        self, params: Union[Dict[str, Any], Namespace], metrics: Optional[Any] = None, step: Optional[int] = None
    ) -> None:
        """Record hyperparameters for ``hparams.yaml`` and, with metrics, the HParams dashboard.

        Args:
            params: a dict or ``argparse.Namespace`` (nested values allowed).
            metrics: ``{name: value}``, or one value (logged as ``hp_metric``); None logs
                ``hp_metric = -1`` when ``default_hp_metric`` is on, and nothing otherwise.
            step: the step of the metric scalars.

        Raises:
            TypeError: ``params`` is not a dict or Namespace, or a metric is not a real number.
        """
        params = _as_dict(params)
        self.hparams.update(params)
        if metrics is None:
            metrics = {"hp_metric": -1} if self._default_hp_metric else None
        elif not isinstance(metrics, Mapping):
            metrics = {"hp_metric": metrics}
        if not metrics:
            return
        # dict-valued metrics are curves of their own (add_scalars), not a dashboard column
        grouped = {k: v for k, v in metrics.items() if isinstance(v, Mapping)}
        if grouped:
            self.log_metrics(grouped, step)
        values = {self._tag(k): _number(v) for k, v in metrics.items() if k not in grouped}
        hparams = {k: _hparam_value(v) for k, v in _flatten(params).items()}
        # Lightning writes these summaries into the run itself (not a sub-run); add_hparams does
        # the same by default, with the metrics as scalars of the run.
        self.experiment.add_hparams(hparams, values, global_step=step)

    @rank_zero_only
    def log_graph(self, model: Any, input_array: Any = None) -> None:
        """With ``log_graph=True``: ``add_graph(model, input_array or model.example_input_array)``.

        Warns (as Lightning does) and logs nothing when there is no example input or it is
        neither a tensor nor a tuple.
        """
        if not self._log_graph:
            return
        if input_array is None:
            input_array = getattr(model, "example_input_array", None)
        if input_array is None:
            warnings.warn(
                "Could not log the computational graph: set `model.example_input_array` or pass `input_array`.", stacklevel=2
            )
            return
        if not _is_tensor_or_tuple(input_array):
            warnings.warn(
                f"Could not log the computational graph: the example input is a {type(input_array).__name__}; "
                "pass a tensor or a tuple of the forward() arguments.", stacklevel=2
            )
            return
        # a LightningModule moves the example to its device through its own hooks
        before = getattr(model, "_on_before_batch_transfer", None)
        transfer = getattr(model, "_apply_batch_transfer_handler", None)
        if callable(before) and callable(transfer):
            input_array = transfer(before(input_array))
        self.experiment.add_graph(model, input_array)

    # -- end of an epoch / of training --------------------------------------------------------

    @rank_zero_only
    def save(self) -> None:
        """Open the run if nothing was logged yet, and write ``hparams.yaml`` if the run has none.

        Lightning calls this after every ``log_metrics``, so it does not flush: eventwriter's
        ``flush()`` is an ``fsync`` barrier (an upload on a store), and records reach the OS
        within about 0.2 s without it. :meth:`after_save_checkpoint` flushes, so the logs are
        on disk whenever a checkpoint is; :meth:`finalize` closes the writer.
        """
        if self._experiment is None:
            self.experiment  # noqa: B018 - creates the run directory, as Lightning's save() does
        if not self._hparams_yaml_written:
            self._write_hparams_yaml()

    @rank_zero_only
    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        """Flush (``fsync``, or upload to a store) everything logged, once a checkpoint is saved."""
        if self._experiment is not None:
            self._experiment.flush()

    @rank_zero_only
    def finalize(self, status: str) -> None:
        """Close the writer; after a successful run, also write ``hparams.yaml`` if it is missing."""
        if self._experiment is not None:
            self._experiment.close()
        if status == "success" and not self._hparams_yaml_written:
            self._write_hparams_yaml()

    def _write_hparams_yaml(self) -> None:
        log_dir = self.log_dir
        storage = self._get_storage()
        path = _join(log_dir, self.NAME_HPARAMS_FILE)
        # Locally only into an existing run (Lightning's rule); an object store has no directories.
        if not is_url(log_dir) and storage.kind(log_dir) != "dir":
            return
        # checked once: Lightning never rewrites an existing file either, and save() comes every step
        if storage.kind(path) == "missing":
            storage.write_atomic(path, [_hparams_yaml(self.hparams)])
        self._hparams_yaml_written = True

    def __getstate__(self) -> Dict[str, Any]:
        """Pickled without the open writer and storage (spawned DDP workers make their own)."""
        state = self.__dict__.copy()
        state["_experiment"] = state["_null_experiment"] = state["_storage"] = None
        return state


def _is_tensor_or_tuple(value: Any) -> bool:
    if isinstance(value, tuple):
        return True
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)
