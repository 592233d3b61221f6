"""SummaryWriter, SummaryWriterLike and NullWriter agree on names, defaults *and* annotations.

A narrower annotation in the Protocol than in the writer (``bins: str`` where the writer takes
``str | int | Sequence[float]``) makes type-checked code fail through the Protocol for calls the
writer accepts, so the three are compared type by type, and mypy checks such calls.
"""

from __future__ import annotations

import collections.abc
import inspect
import os
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from eventwriter import NullWriter, SummaryWriter, SummaryWriterLike

ROOT = Path(__file__).resolve().parents[2]


def _normal(hint):
    """A hint in one spelling: ``Optional[int]`` and ``int | None``, ``Dict`` and ``dict`` alike."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is None:
        return hint
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", typing.Union)):
        return ("union", frozenset(_normal(a) for a in args))
    return (origin, tuple(_normal(a) for a in args))


def _methods(cls) -> dict:
    return {name: member for name, member in vars(cls).items() if callable(member) and not name.startswith("_")}


def _hints(function) -> dict:
    return {name: _normal(hint) for name, hint in typing.get_type_hints(function).items()}


def test_parameters_have_the_writers_annotations():
    protocol, null = _methods(SummaryWriterLike), _methods(NullWriter)
    assert set(protocol) == set(null) and set(null) <= set(dir(SummaryWriter))
    for name, method in protocol.items():
        ours = _hints(getattr(SummaryWriter, name))
        for other in (_hints(method), _hints(null[name])):
            ours_params = {k: v for k, v in ours.items() if k != "return"}
            assert {k: v for k, v in other.items() if k != "return"} == ours_params, name
        defaults = [(p.name, p.default) for p in inspect.signature(getattr(SummaryWriter, name)).parameters.values()][1:]
        assert [(p.name, p.default) for p in inspect.signature(method).parameters.values()][1:] == defaults, name


def test_return_annotations_agree():
    for name, method in _methods(SummaryWriterLike).items():
        expected = _hints(method)["return"]
        assert _hints(getattr(NullWriter, name))["return"] == expected, name
        writer = typing.get_type_hints(getattr(SummaryWriter, name))["return"]
        # The writer may promise more than the Protocol (get_logdir: str where a NullWriter may give None).
        if _normal(writer) != expected:
            assert expected == ("union", frozenset({writer, type(None)})), name


def test_writer_only_arguments_pass_mypy_through_the_protocol(tmp_path):
    pytest.importorskip("mypy", reason="mypy comes with the test extra")
    program = tmp_path / "uses_protocol.py"
    program.write_text(
        "import numpy as np\n"
        "from eventwriter import NullWriter, SummaryWriter, SummaryWriterLike\n"
        "def log(writer: SummaryWriterLike) -> None:\n"
        "    writer.add_histogram('h', np.zeros(3), 0, bins=30)\n"
        "    writer.add_histogram('h', np.zeros(3), 0, bins=[0.0, 0.5, 1.0])\n"
        "    writer.add_image_with_boxes('i', np.zeros((3, 4, 4)), np.zeros((1, 4)), rescale=0.5)\n"
        "    writer.add_video('v', np.zeros((1, 2, 3, 4, 4)), fps=2.5)\n"
        "    writer.add_histogram_raw('r', 0, 1, 2, 1, 1, np.array([0.5, 1.0]), np.array([1, 1]))\n"
        "    writer.add_custom_scalars({'c': {'chart': ['Multiline', ['a']]}})\n"
        "log(SummaryWriter('x'))\n"
        "log(NullWriter())\n"
    )
    out = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--ignore-missing-imports", str(program)],
                         capture_output=True, text=True, cwd=ROOT, timeout=300,
                         env={**os.environ, "MYPYPATH": str(ROOT)})
    assert out.returncode == 0, out.stdout + out.stderr


def test_normalising_spots_a_narrower_annotation():
    assert _normal(typing.Optional[int]) == _normal(int | None)
    assert _normal(typing.Dict[str, typing.List[int]]) == _normal(dict[str, list[int]])
    assert _normal(str) != _normal(typing.Union[str, int, typing.Sequence[float]])
    assert _normal(typing.Sequence[float]) == _normal(collections.abc.Sequence[float])
