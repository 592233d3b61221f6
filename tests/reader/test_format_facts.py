"""Each format fact is defined once (issue 18): a grep over the package finds its literal in one module.

The CRC's polynomial and mask delta live in ``crc.py``; protobuf field keys in ``wire.py`` (the
frames fast path names them from there); damage kinds are the reader's exception classes in
``record.py`` (frames carries the class, not a string to map back); plugin names and the hparams
and graph tags in ``metadata.py``; DataType and other enum values in ``protos.py``. The framework
adapters in ``integrations/`` encode nothing by hand: they call the builders of ``summaries/`` and,
for the per-batch scalar, ``wire.py``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "eventwriter"
SOURCES = {p.relative_to(PACKAGE).as_posix(): p.read_text() for p in PACKAGE.rglob("*.py") if "_proto" not in p.parts}


def _modules_with(pattern: str, flags: int = 0) -> list:
    return sorted(name for name, text in SOURCES.items() if re.search(pattern, text, flags))


def test_crc_constants_are_defined_in_crc_py_only():
    assert _modules_with(r"0x82F63B78", re.I) == ["crc.py"]
    assert _modules_with(r"0xA282EAD8", re.I) == ["crc.py"]


def test_field_keys_are_named_in_wire_py_and_not_written_as_bytes_in_frames():
    frames_sources = {name: text for name, text in SOURCES.items() if name.startswith("frames/")}
    bare = {name for name, text in frames_sources.items() if re.search(r"==\s*0x[0-9A-Fa-f]{2}\b", text)}
    assert bare == set()
    assert "KEY_SIMPLE_VALUE" in SOURCES["wire.py"] and "KEY_SIMPLE_VALUE" in SOURCES["frames/scalar_shape.py"]


def test_damage_kinds_are_the_readers_exception_classes():
    for kind in ("bad length CRC", "bad data CRC", "record too large", "invalid event"):
        assert _modules_with(re.escape(f'"{kind}"')) == ["record.py"], kind
    assert "_DAMAGE" not in SOURCES["frames/reading.py"]


def test_hparams_and_graph_tags_live_in_metadata_py():
    assert _modules_with(r'"_hparams_/') == ["metadata.py"]
    assert _modules_with(r'"__run_graph__"') == ["metadata.py"]
    for name in ("graph_tagged_run_metadata", "graph_run_metadata_graph", "graph_keras_model"):
        assert _modules_with(f'"{name}"') == ["metadata.py"], name


def test_protobuf_is_hand_encoded_in_wire_py_only():
    # a field key is ``number << 3 | wire type``; wire.field_key is the one place that computes one
    assert _modules_with(r"<<\s*3\b") == ["wire.py"]
    # encoders (reader/explanation.py has a varint *decoder*, which takes a buffer)
    assert _modules_with(r"^def _?varint\(value\b|^def _?(int_|double_)?field\(number\b", re.M) == ["wire.py"]


def test_datatype_values_are_defined_in_protos_py_only():
    # ``DT_FLOAT = ...`` or ``_DT_FLOAT, _DT_STRING = 1, 7``: an enum value given a name of its own
    assert _modules_with(r"^\s*_?DT_[A-Z0-9]+\s*[,=]", re.M) == ["protos.py"]
    assert _modules_with(r"^\s*_?(AUDIO_ENCODING_)?WAV\s*=", re.M) == ["protos.py"]


def test_integrations_encode_nothing_by_hand():
    """The adapters build summaries with summaries/ (and wire.py for the scalar), never with their own encoder."""
    adapters = {name: text for name, text in SOURCES.items() if name.startswith("integrations/")}
    assert {"integrations/keras.py", "integrations/clu.py", "integrations/flax.py", "integrations/_run.py"} <= set(adapters)
    for name, text in adapters.items():
        assert not re.search(r"^\s*(import struct|from struct import)", text, re.M), name  # hand-packed numbers
        assert not re.search(r"\\x[0-9a-fA-F]{2}", text), name  # field keys or lengths written as bytes
        assert "SerializeToString" not in text, name  # protobuf messages come from the builders
    plugins = _plugin_names()
    for name, text in adapters.items():
        literals = [node.value for node in ast.walk(ast.parse(text)) if isinstance(node, ast.Constant) and node.value in plugins]
        assert literals == [], name


def _plugin_names() -> set:
    tree = ast.parse(SOURCES["metadata.py"])
    return {
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and any(isinstance(t, ast.Name) and t.id.startswith("PLUGIN_") for t in node.targets)
    }


def test_frames_values_and_kinds_take_plugin_names_from_metadata():
    plugins = _plugin_names()
    assert {"scalars", "histograms", "images", "audio", "text", "pr_curves", "hparams"} <= plugins
    for module in ("frames/values.py", "frames/kinds.py", "frames/hparams_table.py", "frames/scalar_shape.py"):
        tree = ast.parse(SOURCES[module])
        kind_names = {  # Kind("scalars", ...), ReadOptions.of("scalars"): the name of a table kind, not a plugin
            id(node.args[0])
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and node.args and (getattr(node.func, "id", "") == "Kind" or getattr(node.func, "attr", "") == "of")
        }
        literals = [
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in plugins and id(node) not in kind_names
        ]
        allowed = {"text", "tensor", "audio"} if module in ("frames/kinds.py", "frames/values.py") else set()
        # "tensor", "text", "audio" are also field and column names there (Summary.Value.tensor, the text column)
        assert [v for v in literals if v not in allowed] == [], module
