"""What every command shares: how failures are reported, how warnings are shown, storage options,
and the message for a missing optional dependency."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, Iterable, List, Optional, Tuple

STORAGE_OPTION_HELP = "fsspec storage option for a URL, KEY=VALUE (VALUE parsed as JSON when it can be); repeatable"

# The pip extra that brings each optional package (pyproject.toml's [project.optional-dependencies]).
EXTRAS = {
    "pandas": "frames",
    "pyarrow": "frames",
    "polars": "frames",
    "dask": "dask",
    "distributed": "dask",
    "matplotlib": "figures",
    "s3fs": "s3",
    "gcsfs": "gcs",
    "adlfs": "azure",
}
# For fsspec itself, the extra follows the URL's scheme.
_SCHEME_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "az": "azure", "abfs": "azure", "abfss": "azure", "adl": "azure"}


def no_event_files(path: str) -> str:
    """The message for a path that holds no event file."""
    return f"no event files under {path} (no file name contains 'tfevents')"


def fail(message: str, code: int = 1) -> int:
    """Write ``eventwriter: message`` to stderr and return ``code`` (the command's exit code)."""
    sys.stderr.write(f"eventwriter: {message}\n")
    return code


def show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    """Warnings (skipped files, malformed values) as one plain line each, without source lines."""
    sys.stderr.write(f"eventwriter: warning: {message}\n")


def _option_pair(text: str) -> Tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def add_storage_options(parser: argparse.ArgumentParser, legacy_short: bool = False) -> None:
    """Give ``parser`` the one spelling of storage options: ``-s/--storage-option KEY=VALUE``.

    ``legacy_short`` also accepts ``-o KEY=VALUE``, the deprecated spelling of the maintenance
    commands (which have no ``-o/--output``, so it cannot be mistaken for one).
    """
    parser.add_argument("-s", "--storage-option", dest="storage_option", type=_option_pair, action="append", default=[],
                        metavar="KEY=VALUE", help=STORAGE_OPTION_HELP)
    if legacy_short:
        parser.add_argument("-o", dest="legacy_storage_option", type=_option_pair, action="append", default=[],
                            help=argparse.SUPPRESS)


def storage_options(args: argparse.Namespace) -> Optional[Dict[str, Any]]:
    """The storage options given on the command line (None when there are none)."""
    pairs = list(getattr(args, "storage_option", None) or [])
    legacy = list(getattr(args, "legacy_storage_option", None) or [])
    if legacy and not getattr(args, "warned_legacy_storage_option", False):
        args.warned_legacy_storage_option = True  # main() and the command both ask
        sys.stderr.write(f"eventwriter: warning: {args.command} -o KEY=VALUE is deprecated; use -s/--storage-option KEY=VALUE\n")
    options = dict(legacy + pairs)
    return options or None


def missing_dependency(exc: ImportError, command: str, paths: Iterable[str]) -> Optional[str]:
    """One line naming the extra to install for the package ``exc`` says is missing, or None
    when ``exc`` is not about an optional package of eventwriter."""
    names: List[str] = []
    cause: Optional[BaseException] = exc
    while cause is not None:  # fsspec and eventwriter re-raise the import error with a message
        if isinstance(cause, ImportError) and cause.name:
            names.append(cause.name.split(".")[0])
        cause = cause.__cause__ or cause.__context__
    names += [name for name in (*EXTRAS, "fsspec") if name in str(exc)]
    known = [name for name in names if name in EXTRAS or name == "fsspec"]
    if not known:
        return None
    package = known[0]
    if package == "fsspec":  # the store's extra brings fsspec: which one follows the URL
        scheme = next((p.split("://", 1)[0] for p in paths if "://" in p), "")
        extra = _SCHEME_EXTRAS.get(scheme, "s3")
    else:
        extra = EXTRAS[package]
    return (f"{command} needs {package}, which is not installed: install eventwriter's [{extra}] extra "
            f"(pip install \".[{extra}]\" in the eventwriter checkout)")
