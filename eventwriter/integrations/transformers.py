"""Hugging Face Trainer: a ``TensorBoardCallback`` that writes through eventwriter.

``Trainer(..., args=TrainingArguments(..., report_to="none"), callbacks=[TensorBoardCallback()])``
logs what ``transformers.integrations.TensorBoardCallback`` (``report_to="tensorboard"``) logs,
without ``tensorboard``, tensorboardX or TensorFlow:

* at the start of training: the text ``args`` (``args.to_json_string()``) and, if the model has
  a config, ``model_config`` (its JSON), both at step 0, in tags ``args/text_summary`` and
  ``model_config/text_summary`` (torch's ``add_text`` suffix);
* every ``on_log``: each number as a scalar at ``state.global_step``, tagged ``train/<key>``,
  ``eval/<key>`` (for ``eval_<key>``) or ``test/<key>`` (for ``test_<key>``); each string as text.

The run directory is, first found: ``log_dir=``, ``$TENSORBOARD_LOGGING_DIR`` (as in transformers
5), ``args.logging_dir`` (transformers 4), else ``<output_dir>/runs/<Mon DD_HH-MM-SS>_<host>``.
In a hyperparameter search each trial gets ``<that directory>/<trial name>``.

Differences from transformers' callback, each on purpose:

* ``log_hparams=True`` (the default) also writes the training arguments
  (``args.to_sanitized_dict()``) to the HParams dashboard, without metric columns. transformers
  4.x did that too but dropped it (huggingface/transformers#23999) because torch's
  ``add_hparams`` made a second, timestamped run; eventwriter writes them into the run itself.
  ``log_hparams=False`` writes exactly transformers' tags.
* No ``flush()`` after each ``on_log``: eventwriter hands every record to the OS within about
  0.2 s anyway, and its ``flush()`` is an ``fsync`` barrier, far too slow for every step.
  The writer is closed (everything written) at the end of training.
* numpy numbers (``np.float32``...) are logged as scalars; transformers drops them with a warning.
  Values of other types are dropped with one warning per key (transformers: one per call).

Multi-process training (``torchrun``, ``accelerate launch``): only the process transformers
calls world process zero logs; the writer comes from
:func:`eventwriter.distributed.rank_zero_writer` with ``rank=args.process_index``, so another
process never creates a directory or a file.

Remote runs: ``log_dir="s3://bucket/run"`` (or ``gs://``, ``az://``, any fsspec URL, also through
``TENSORBOARD_LOGGING_DIR``) writes through eventwriter's storage seam, with
``storage_options=`` or the store's usual environment, and ``upload_secs=``.
"""

from __future__ import annotations

import numbers
import os
import warnings
from typing import TYPE_CHECKING, Any, Dict, Optional, Set

from transformers.trainer_callback import TrainerCallback

from eventwriter import SummaryWriterLike
from eventwriter.distributed import rank_zero_writer
from eventwriter.logdir import default_run_dir
from eventwriter.storage import is_url

if TYPE_CHECKING:
    from transformers.trainer_callback import TrainerControl, TrainerState
    from transformers.training_args import TrainingArguments

__all__ = ["TensorBoardCallback", "default_logdir", "rewrite_logs"]

LOGGING_DIR_ENV = "TENSORBOARD_LOGGING_DIR"


def default_logdir() -> str:
    """``runs/<Mon DD_HH-MM-SS>_<hostname>``: torch's and transformers' default run name (local time)."""
    return default_run_dir()


def rewrite_logs(logs: Dict[str, Any]) -> Dict[str, Any]:
    """transformers' tag names: ``eval_x`` → ``eval/x``, ``test_x`` → ``test/x``, anything else → ``train/x``."""
    out = {}
    for key, value in logs.items():
        if key.startswith("eval_"):
            out["eval/" + key[5:]] = value
        elif key.startswith("test_"):
            out["test/" + key[5:]] = value
        else:
            out["train/" + key] = value
    return out


def _join(base: str, *parts: str) -> str:
    if is_url(base):
        return "/".join([base.rstrip("/")] + [p.replace(os.sep, "/").strip("/") for p in parts])
    return os.path.join(base, *parts)


class TensorBoardCallback(TrainerCallback):
    """A ``TrainerCallback`` logging to TensorBoard as transformers' ``TensorBoardCallback`` does.

    Use it with ``report_to="none"`` (otherwise transformers adds its own TensorBoard callback
    too, which needs ``tensorboard``).

    Args:
        tb_writer: a writer to use (any object with ``SummaryWriter``'s methods); made on
            first use when None.
        log_dir: the run directory or URL (see the module docstring for the default).
        log_hparams: also write the training arguments to the HParams dashboard.
        storage_options: fsspec options for a URL ``log_dir`` (credentials, endpoint...).
        upload_secs: for a URL ``log_dir``, the longest time a record waits before it is uploaded.

    Raises:
        TypeError: an argument of the wrong type.
    """

    def __init__(
        self,
        tb_writer: Optional[SummaryWriterLike] = None,
        *,
        log_dir: Optional[str | os.PathLike[str]] = None,
        log_hparams: bool = True,
        storage_options: Optional[Dict[str, Any]] = None,
        upload_secs: Optional[float] = None,
    ) -> None:
        if log_dir is not None and not isinstance(log_dir, (str, os.PathLike)):
            raise TypeError(f"log_dir must be a str, a path or None, got {type(log_dir).__name__}")
        if not isinstance(log_hparams, bool):
            raise TypeError(f"log_hparams must be a bool, got {type(log_hparams).__name__}")
        if storage_options is not None and not isinstance(storage_options, dict):
            raise TypeError(f"storage_options must be a dict or None, got {type(storage_options).__name__}")
        self.tb_writer = tb_writer
        if log_dir is None:
            log_dir = os.environ.get(LOGGING_DIR_ENV) or None
        self.logging_dir: Optional[str] = None if log_dir is None else os.path.expanduser(os.fspath(log_dir))
        self.log_hparams = log_hparams
        self._storage_options = storage_options
        self._upload_secs = upload_secs
        self._warned_keys: Set[str] = set()

    def _base_dir(self, args: TrainingArguments) -> str:
        if self.logging_dir is not None:
            return self.logging_dir
        legacy = getattr(args, "logging_dir", None)  # transformers 4.x had TrainingArguments.logging_dir
        if legacy:
            return str(legacy)
        return _join(args.output_dir or ".", default_logdir())

    def _init_summary_writer(self, args: TrainingArguments, log_dir: Optional[str] = None) -> None:
        """Make ``self.tb_writer``: a ``SummaryWriter`` on process 0, a ``NullWriter`` elsewhere."""
        if log_dir is None:
            # kept: an evaluate() after train() logs into the same run, not a new timestamped one
            self.logging_dir = log_dir = self._base_dir(args)
        self.tb_writer = rank_zero_writer(
            log_dir, rank=args.process_index,
            storage_options=self._storage_options, upload_secs=self._upload_secs,
        )

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        """Open the run and log ``args``, the model's config and (``log_hparams``) the hyperparameters."""
        if not state.is_world_process_zero:
            return
        if state.is_hyper_param_search and state.trial_name is not None:
            # one run per trial, as transformers does (its writer is closed at each trial's end)
            self._init_summary_writer(args, _join(self._base_dir(args), state.trial_name))
        elif self.tb_writer is None:
            self._init_summary_writer(args)
        writer = self.tb_writer
        if writer is None:
            return
        writer.add_text("args", args.to_json_string())
        model = kwargs.get("model")
        config = getattr(model, "config", None)
        if config is not None:
            writer.add_text("model_config", config.to_json_string())
        if self.log_hparams:
            writer.add_hparams(args.to_sanitized_dict(), {})

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
               logs: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        """Log every number in ``logs`` as a scalar and every string as text, at ``state.global_step``."""
        if not state.is_world_process_zero or not logs:
            return
        if self.tb_writer is None:
            self._init_summary_writer(args)
        writer = self.tb_writer
        if writer is None:
            return
        step = state.global_step
        for key, value in rewrite_logs(logs).items():
            if type(value) is float or type(value) is int or isinstance(value, numbers.Real):
                writer.add_scalar(key, value, step)
            elif isinstance(value, str):
                writer.add_text(key, value, step)
            elif key not in self._warned_keys:
                self._warned_keys.add(key)
                warnings.warn(f"TensorBoardCallback: {key!r} is a {type(value).__name__}, not a number or a str; "
                              "it is not logged", stacklevel=2)

    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        """Close the writer (everything is written); a later ``train()`` or ``evaluate()`` opens a new one."""
        if self.tb_writer is not None:
            self.tb_writer.close()
            self.tb_writer = None
