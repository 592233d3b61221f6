"""What a logdir holds, run by run (``eventwriter inspect``): files, writers, and per-tag counts and ranges.

Counts are given twice: the records written, and the values TensorBoard's default (Rust) loader
keeps, which is what its dashboards show. A tag logged again at a step it already passed (a
restart, torch's ``purge_step``) replaces that step and every later one (docs/FORMAT.md §5.6),
so a run that restarted holds more records than TensorBoard shows.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

from ..logdir import PathLike, run_files
from ..metadata import PLUGIN_GRAPH_TAGGED_RUN_METADATA, PLUGIN_GRAPHS, RUN_GRAPH_TAG, plugin_of
from ..record import CorruptRecordError
from .events import read_file_events


@dataclass
class TagInfo:
    """What a run holds for one tag (used by ``eventwriter inspect``).

    ``records`` counts every value written; ``count``, ``first_step`` and ``last_step`` describe
    the values TensorBoard keeps after its step rule (see the module docstring). Wall times are
    those of the first and last record.
    """

    plugin: str
    count: int = 0
    first_step: Optional[int] = None
    last_step: Optional[int] = None
    first_wall_time: Optional[float] = None
    last_wall_time: Optional[float] = None
    records: int = 0
    _kept: "array[int]" = field(default_factory=lambda: array("q"), repr=False, compare=False)

    def add(self, step: int, wall_time: float) -> None:
        """Count one more value at ``step``/``wall_time``."""
        self.records += 1
        kept = self._kept
        del kept[bisect_left(kept, step) :]  # this step and later ones are replaced (docs/FORMAT.md §5.6)
        kept.append(step)
        self.count = len(kept)
        self.first_step, self.last_step = kept[0], kept[-1]
        if self.first_wall_time is None:
            self.first_wall_time = wall_time
        self.last_wall_time = wall_time


@dataclass
class RunInfo:
    """Files, writers and tags of one run."""

    name: str
    files: List[str] = field(default_factory=list)
    writers: List[str] = field(default_factory=list)
    tags: Dict[str, TagInfo] = field(default_factory=dict)
    problems: List[str] = field(default_factory=list)
    unnamed_files: int = 0
    """Files whose first record names no writer: tensorboardX, older TensorFlow and plain
    TFRecord writers leave ``source_metadata`` out, and some write no ``file_version`` at all."""


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
    first = True
    for rec in read_file_events(file_path, storage_options=storage_options):
        event = rec.event
        what = event.WhichOneof("what")
        if first:
            # Only a file's first record names its writer: torch's purge_step writes a second,
            # unnamed file_version record mid-file, which is a restart marker, not a writer.
            first = False
            writer = event.source_metadata.writer if what == "file_version" else ""
            if not writer:
                info.unnamed_files += 1
            elif writer not in info.writers:
                info.writers.append(writer)
        if what == "summary":
            for value in event.summary.value:
                info.tags.setdefault(value.tag, TagInfo(plugin_of(value))).add(event.step, event.wall_time)
        elif what == "graph_def":
            info.tags.setdefault(RUN_GRAPH_TAG, TagInfo(PLUGIN_GRAPHS)).add(event.step, event.wall_time)
        elif what == "tagged_run_metadata":
            name = event.tagged_run_metadata.tag
            info.tags.setdefault(name, TagInfo(PLUGIN_GRAPH_TAGGED_RUN_METADATA)).add(event.step, event.wall_time)
