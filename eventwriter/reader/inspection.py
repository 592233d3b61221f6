"""What a logdir holds, run by run (``eventwriter inspect``): files, writers, and per-tag counts and ranges."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

from ..logdir import PathLike, run_files
from ..metadata import PLUGIN_GRAPH_TAGGED_RUN_METADATA, PLUGIN_GRAPHS, RUN_GRAPH_TAG, plugin_of
from ..record import CorruptRecordError
from .events import read_file_events


@dataclass
class TagInfo:
    """What a run holds for one tag (used by ``eventwriter inspect``)."""

    plugin: str
    count: int = 0
    first_step: Optional[int] = None
    last_step: Optional[int] = None
    first_wall_time: Optional[float] = None
    last_wall_time: Optional[float] = None

    def add(self, step: int, wall_time: float) -> None:
        """Count one more value at ``step``/``wall_time``."""
        self.count += 1
        if self.first_step is None:
            self.first_step, self.first_wall_time = step, wall_time
        self.last_step, self.last_wall_time = step, wall_time


@dataclass
class RunInfo:
    """Files, writers and tags of one run."""

    name: str
    files: List[str] = field(default_factory=list)
    writers: List[str] = field(default_factory=list)
    tags: Dict[str, TagInfo] = field(default_factory=dict)
    problems: List[str] = field(default_factory=list)


def describe(logdir: PathLike, storage_options: Optional[Mapping[str, Any]] = None) -> List[RunInfo]:
    """Summarise every run under ``logdir``: files, writer names and per-tag counts and ranges.

    A damaged file is summarised up to the damage, and ``RunInfo.problems`` says where it is
    (file, byte offset, kind), as TensorBoard would stop reading there too.
    """
    infos = []
    for run, files in run_files(logdir, storage_options).items():
        info = RunInfo(run, files=list(files))
        for file_path in files:
            try:
                _describe_file(info, file_path, storage_options)
            except CorruptRecordError as exc:
                info.problems.append(f"{file_path}: offset {exc.offset}: {exc.kind}: {exc.message}")
        infos.append(info)
    return infos


def _describe_file(info: RunInfo, file_path: str, storage_options: Optional[Mapping[str, Any]]) -> None:
    """Add one file's writer names and tag counts to ``info`` (raises at the first damaged record)."""
    for rec in read_file_events(file_path, storage_options=storage_options):
        event = rec.event
        what = event.WhichOneof("what")
        if what == "file_version":
            writer = event.source_metadata.writer or "(unnamed)"
            if writer not in info.writers:
                info.writers.append(writer)
        elif what == "summary":
            for value in event.summary.value:
                info.tags.setdefault(value.tag, TagInfo(plugin_of(value))).add(event.step, event.wall_time)
        elif what == "graph_def":
            info.tags.setdefault(RUN_GRAPH_TAG, TagInfo(PLUGIN_GRAPHS)).add(event.step, event.wall_time)
        elif what == "tagged_run_metadata":
            name = event.tagged_run_metadata.tag
            info.tags.setdefault(name, TagInfo(PLUGIN_GRAPH_TAGGED_RUN_METADATA)).add(event.step, event.wall_time)
