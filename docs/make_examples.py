"""Generate the byte-level examples of docs/FORMAT.md with eventwriter itself, and refresh them.

Every example is written by :class:`eventwriter.SummaryWriter` (or computed by
``eventwriter.crc``) into a temporary directory, then annotated by ``eventwriter explain``'s
module. The clock is frozen at a fixed time while writing so the examples do not change from
run to run. In the guide each example sits between two HTML comments::

    <!-- example NAME -->
    ```text
    ...generated text...
    ```
    <!-- /example NAME -->

Usage (from the repository root)::

    python docs/make_examples.py           # rewrite the examples in docs/FORMAT.md
    python docs/make_examples.py --check   # exit 1 if the guide's examples are stale

``tests/project/test_docs.py`` runs the check, so a change in what eventwriter writes shows up as a
failing test until the guide is refreshed.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Sequence
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's eventwriter, also when it is installed elsewhere

import numpy as np  # noqa: E402

from eventwriter import SummaryWriter, crc, protos  # noqa: E402
from eventwriter.reader.explanation import explain_records, render  # noqa: E402

GUIDE = ROOT / "docs" / "FORMAT.md"
WALL_TIME = 1767225600.25  # 2026-01-01 00:00:00.25 UTC: any fixed time will do
T = WALL_TIME
_BLOCK = re.compile(r"(<!-- example (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /example (?P=name) -->)", re.S)


@contextmanager
def _frozen_clock() -> Iterator[None]:
    with mock.patch.object(time, "time", lambda: WALL_TIME):
        yield


def _records(write: Callable[[SummaryWriter], None], indices: Sequence[int], run: str = ".", **kwargs) -> str:
    """Write with a fresh SummaryWriter and annotate the records ``indices`` of ``run``'s file."""
    with tempfile.TemporaryDirectory() as logdir:
        with _frozen_clock():
            writer = SummaryWriter(logdir, **kwargs)
            write(writer)
            writer.close()
        run_dir = os.path.join(logdir, run)
        (name,) = [f for f in os.listdir(run_dir) if "tfevents" in f]
        data = Path(run_dir, name).read_bytes()
    views = {view.index: view for view in explain_records(data)}
    for i in indices:  # a call that read the clock some other way would make the guide change every run
        wall_time = [f.value for f in views[i].fields if f.name == "wall_time"]
        if wall_time != [WALL_TIME]:
            raise RuntimeError(f"record {i} has wall_time {wall_time}, not the frozen {WALL_TIME}")
    return "\n".join(render(views[i]) for i in indices)


def _crc_vectors() -> str:
    lines = [
        f"crc32c(b'123456789')          = 0x{crc.crc32c(b'123456789'):08x}",
        f"mask(0x{crc.crc32c(b'123456789'):08x})              = 0x{crc.mask(crc.crc32c(b'123456789')):08x}",
        f"masked_crc32c(b'')            = 0x{crc.masked_crc32c(b''):08x}",
    ]
    for length in (24, 39, 72):
        field = length.to_bytes(8, "little")
        stored = crc.masked_crc32c(field).to_bytes(4, "little")
        lines.append(
            f"length {length:>3}: {field.hex(' ')} -> masked CRC 0x{crc.masked_crc32c(field):08x}, "
            f"stored as {stored.hex(' ')}"
        )
    return "\n".join(lines) + "\n"


def _graph() -> "protos.GraphDef":
    graph = protos.GraphDef()
    x = graph.node.add(name="input/x", op="IO Node")
    x.attr["_output_shapes"].list.shape.add().dim.add(size=3)
    graph.node.add(name="Net/relu", op="aten::relu", input=["input/x"])
    graph.versions.producer = 22
    return graph


def _projector() -> str:
    with tempfile.TemporaryDirectory() as logdir:
        with _frozen_clock():
            writer = SummaryWriter(logdir)
            features = np.array([[0.5, -1.0], [2.0, 0.25], [0.1, 3.0]], dtype=np.float32)
            thumbnails = np.zeros((3, 1, 2, 2), dtype=np.float32)
            writer.add_embedding(features, metadata=["cat", "dog", "cat"], label_img=thumbnails, global_step=7)
            writer.close()
        out: List[str] = []
        for dirpath, _dirs, files in sorted(os.walk(logdir)):
            for name in sorted(files):
                if "tfevents" in name or name.endswith(".lock"):
                    continue
                path = Path(dirpath, name)
                rel = path.relative_to(logdir).as_posix()
                if name.endswith(".png"):
                    out.append(f"== {rel}: {path.stat().st_size} bytes, PNG\n")
                else:
                    out.append(f"== {rel}\n{path.read_text()}")
    return "".join(out)


# name -> a function returning the example's text. Keep the names stable: the guide refers to them.
EXAMPLES: Dict[str, Callable[[], str]] = {
    "crc-vectors": _crc_vectors,
    "header": lambda: _records(lambda w: None, [0]),
    "scalar": lambda: _records(lambda w: w.add_scalar("loss", 0.9, 3, walltime=T), [1]),
    "scalar-new-style": lambda: _records(lambda w: w.add_scalar("acc", 0.75, 3, T, new_style=True), [1]),
    "text": lambda: _records(lambda w: w.add_text("notes", "hi", 1, T), [1]),
    "tensor": lambda: _records(lambda w: w.add_tensor("t", np.array([[1, -2], [3, 4]], dtype=np.int16), 1, T), [1]),
    "histogram": lambda: _records(
        lambda w: w.add_histogram_raw("h", 0.0, 2.0, 3, 3.0, 5.0, [0.0, 1.0, 2.0], [0, 2, 1], 4, T), [1]
    ),
    "image": lambda: _records(lambda w: w.add_image("im", np.zeros((3, 2, 2)), 2, T), [1]),
    "audio": lambda: _records(lambda w: w.add_audio("a", np.array([0.0, 0.5, -0.5]), 1, 8000, T), [1]),
    "pr-curve": lambda: _records(
        lambda w: w.add_pr_curve("pr", np.array([0, 1]), np.array([0.2, 0.8]), 1, num_thresholds=3, walltime=T), [1]
    ),
    "mesh": lambda: _records(
        lambda w: w.add_mesh(
            "m", np.zeros((1, 3, 3), dtype=np.float32), faces=np.array([[[0, 1, 2]]]), global_step=1, walltime=T
        ),
        [1],
    ),
    "custom-scalars": lambda: _records(
        lambda w: w.add_custom_scalars({"losses": {"both": ["Multiline", ["loss/.*"]]}}), [1]
    ),
    "hparams": lambda: _records(lambda w: w.add_hparams({"lr": 0.1, "bn": True}, {"loss": 0.5}), [1, 2, 3]),
    "purge": lambda: _records(lambda w: None, [1, 2], purge_step=5),
    "graph": lambda: _records(lambda w: w.add_graph(_graph()), [1]),
    "projector": _projector,
}


def generate() -> Dict[str, str]:
    """The current text of every example, by name."""
    return {name: make() for name, make in EXAMPLES.items()}


def blocks(guide: str) -> Dict[str, str]:
    """The examples as they stand in ``guide``'s text (the fenced block's content), by name."""
    found = {}
    for match in _BLOCK.finditer(guide):
        body = match.group("body")
        if body.startswith("```text\n") and body.endswith("```\n"):
            body = body[len("```text\n") : -len("```\n")]
        found[match.group("name")] = body
    return found


def refresh(guide: str, examples: Dict[str, str]) -> str:
    """``guide`` with every example block replaced by ``examples[name]``.

    Raises:
        ValueError: the guide has a block with no such example, or lacks one of the examples.
    """
    names = [m.group("name") for m in _BLOCK.finditer(guide)]
    unknown = sorted(set(names) - set(examples))
    missing = sorted(set(examples) - set(names))
    if unknown or missing:
        raise ValueError(f"example blocks: unknown {unknown}, missing from the guide {missing}")

    def replace(match: "re.Match[str]") -> str:
        text = examples[match.group("name")]
        return f"{match.group(1)}```text\n{text}```\n{match.group(4)}"

    return _BLOCK.sub(replace, guide)


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite the examples in docs/FORMAT.md, or with ``--check`` report whether they are current."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if an example is stale")
    args = parser.parse_args(argv)
    guide = GUIDE.read_text()
    new = refresh(guide, generate())
    if args.check:
        stale = [n for n, text in blocks(new).items() if blocks(guide).get(n) != text]
        for name in stale:
            sys.stderr.write(f"docs/FORMAT.md: example {name!r} is stale; run python docs/make_examples.py\n")
        return 1 if stale else 0
    if new != guide:
        GUIDE.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
