"""``eventwriter explain``: the annotated dump agrees with protobuf's own decoding, field by field.

The oracle for the framing is TensorBoard's CRC (its stub ``masked_crc32c``) and the raw bytes;
for the fields it is ``Message.FromString`` (TensorBoard's ``Event`` for torch's files). Every
field the dump shows must be a field protobuf decodes, with the same value, and vice versa.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys

import numpy as np
import pytest

from eventwriter import SummaryWriter, protos
from eventwriter.reader.explanation import explain, explain_records, render
from support.tbutil import write_both

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_CONTENT = {
    "scalars": protos.ScalarPluginData,
    "images": protos.ImagePluginData,
    "audio": protos.AudioPluginData,
    "histograms": protos.HistogramPluginData,
    "text": protos.TextPluginData,
    "pr_curves": protos.PrCurvePluginData,
    "mesh": protos.MeshPluginData,
    "hparams": protos.HParamsPluginData,
    "custom_scalars": protos.Layout,
}


def _tb_masked_crc(data: bytes) -> int:
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    return masked_crc32c(data)


def _cli(*args):
    env = dict(os.environ, PYTHONPATH=ROOT)
    cmd = [sys.executable, "-m", "eventwriter", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)


def _same(ours, theirs) -> bool:
    if isinstance(theirs, float) and np.isnan(theirs):
        return isinstance(ours, float) and np.isnan(ours)
    return ours == theirs


def assert_fields_match(fields, message, path="Event"):
    """Every field in ``fields`` (explain's tree) equals what protobuf decoded into ``message``."""
    known = [f for f in fields if f.name]
    for f in fields:
        if not f.name:  # not in eventwriter's schema: it must at least be a field protobuf knows
            assert f.number in message.DESCRIPTOR.fields_by_number, f"{path}: unknown field {f.number}"
    listed = message.ListFields()
    assert sorted({f.name for f in known}) == sorted(d.name for d, _ in listed), path
    for desc, value in listed:
        mine = [f for f in known if f.name == desc.name]
        assert all(f.number == desc.number for f in mine), path
        where = f"{path}.{desc.name}"
        if desc.message_type is not None and desc.message_type.GetOptions().map_entry:
            entries = {f.children[0].value: f for f in mine}
            assert sorted(entries) == sorted(value), where
            for key, entry in entries.items():
                val = [c for c in entry.children if c.name == "value"]
                if desc.message_type.fields_by_name["value"].message_type is not None:
                    assert_fields_match(val[0].children if val else [], value[key], f"{where}[{key}]")
                else:
                    assert val[0].value == value[key], where
        elif desc.message_type is not None:
            items = list(value) if _repeated(desc) else [value]
            assert len(mine) == len(items), where
            for f, item in zip(mine, items):
                assert f.wire_type == 2, where
                assert_fields_match(f.children, item, where)
        elif _repeated(desc):
            got = []
            for f in mine:
                got.extend(f.value if isinstance(f.value, list) else [f.value])
            assert len(got) == len(value) and all(map(_same, got, value)), where
        else:
            assert len(mine) == 1 and _same(mine[0].value, value), (where, mine[0].value, value)
        for f in mine:
            _check_embedded(f, message, where)


def _repeated(desc) -> bool:
    flag = getattr(desc, "is_repeated", None)
    return flag if flag is not None else desc.label == desc.LABEL_REPEATED


def _check_embedded(f, parent, where):
    """A bytes field explain decoded further must match the message protobuf decodes from it."""
    if not f.note or ": decoded as " not in f.note:
        return
    if f.name == "content":
        cls = _CONTENT[parent.plugin_name]
    elif f.name == "string_val":
        cls = protos.Layout
    elif f.name == "graph_def":
        cls = protos.GraphDef
    else:
        assert f.name == "run_metadata", where
        cls = protos.RunMetadata
    assert_fields_match(f.children, cls.FromString(f.body), f"{where}<{cls.__name__}>")


def _check_file(path, event_class):
    data = open(path, "rb").read()
    views = list(explain_records(data))
    offset = 0
    for index, view in enumerate(views):
        assert (view.index, view.offset) == (index, offset)
        (length,) = struct.unpack_from("<Q", data, offset)
        assert view.length == length
        assert view.length_crc_stored == struct.unpack_from("<I", data, offset + 8)[0]
        assert view.length_crc_computed == _tb_masked_crc(data[offset : offset + 8])
        payload = data[offset + 12 : offset + 12 + length]
        assert view.payload == payload
        assert view.data_crc_stored == struct.unpack_from("<I", data, offset + 12 + length)[0]
        assert view.data_crc_computed == _tb_masked_crc(payload)
        assert not view.damaged
        assert_fields_match(view.fields, event_class.FromString(payload))
        text = render(view)
        stored = [line for line in text.splitlines() if "stored 0x" in line]
        assert len(stored) == 2 and all("==" in line and "MISMATCH" not in line for line in stored)
        assert f"stored 0x{view.data_crc_stored:08x} == computed 0x{_tb_masked_crc(payload):08x}" in text
        offset += 16 + length
    assert offset == len(data)
    return views


def _write_every_kind(writer, tensor=None):
    if tensor is None:
        tensor = np.arange(6, dtype=np.int32).reshape(2, 3)
    rng = np.random.default_rng(0)
    writer.add_scalar("loss", 0.9, 3)
    writer.add_scalar("new", -2.5, 4, new_style=True)
    writer.add_text("notes", "hello *world*", 1)
    writer.add_tensor("t", tensor, 1)
    writer.add_histogram("h", rng.normal(size=100), 2)
    writer.add_histogram_raw("raw", 0, 3, 3, 3, 5, [1, 2, 3], [1, 1, 1], 2)
    writer.add_image("im", rng.random((3, 4, 5)), 2)
    writer.add_audio("a", np.sin(np.arange(200) / 10) * 0.5, 1, sample_rate=8000)
    writer.add_pr_curve("pr", np.array([0, 1, 1, 0]), np.array([0.1, 0.6, 0.9, 0.4]), 1, num_thresholds=5)
    vertices = rng.random((1, 4, 3)).astype(np.float32)
    colors = np.full((1, 4, 3), 200, dtype=np.uint8)
    writer.add_mesh("m", vertices, colors=colors, faces=np.array([[[0, 1, 2], [1, 2, 3]]]), global_step=1)
    writer.add_custom_scalars({"cat": {"lines": ["Multiline", ["loss", "new"]], "m": ["Margin", ["a", "b", "c"]]}})
    writer.add_hparams({"lr": 0.1, "opt": "sgd", "bn": True}, {"loss": 0.9}, run_name="hp")


def _event_files(logdir):
    return sorted(os.path.join(d, f) for d, _, files in os.walk(logdir) for f in files if "tfevents" in f)


def test_every_kind_written_by_eventwriter(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        _write_every_kind(writer)
    files = _event_files(tmp_path)
    assert len(files) == 2  # the run and the hparams sub-run
    plugins = set()
    for path in files:
        for view in _check_file(path, protos.Event):
            text = render(view)
            for line in text.splitlines():
                if "content of plugin" in line:
                    plugins.add(line.split("content of plugin '")[1].split("'")[0])
    assert {"audio", "pr_curves", "mesh", "hparams"} <= plugins
    text = explain(open(files[0], "rb").read()).text
    assert "2 simple_value (I32 float) = 0.9" in text
    assert '3 file_version (LEN string) = "brain.Event:2"' in text
    assert "[custom-scalar layout: decoded as Layout]" in text
    assert "3 margin (LEN MarginChartContent" in text
    assert "encoded_image_string (LEN bytes) = " in text and "PNG image" in text
    assert "4 data_class (VARINT DataClass) = DATA_CLASS_BLOB_SEQUENCE (3)" in text
    hp = explain(open(files[1], "rb").read()).text
    assert "4 bool_value (VARINT bool) = True" in hp
    assert "1 status (VARINT Status) = STATUS_SUCCESS (1)" in hp


def test_the_header_record_byte_by_byte(tmp_path):
    with SummaryWriter(tmp_path):
        pass
    data = open(_event_files(tmp_path)[0], "rb").read()
    (view,) = explain_records(data)
    assert [(f.number, f.wire_type, f.name) for f in view.fields] == [
        (1, 1, "wall_time"),
        (3, 2, "file_version"),
        (10, 2, "source_metadata"),
    ]
    assert view.fields[0].offset == 12 and view.fields[0].head == b"\x09"
    assert view.fields[1].head == b"\x1a\x0d" and view.fields[1].value == "brain.Event:2"
    (writer,) = view.fields[2].children
    assert (writer.number, writer.name, writer.value, writer.offset) == (1, "writer", "eventwriter", 12 + 9 + 15 + 2)
    lines = render(view).splitlines()
    assert lines[1].split()[:9] == ["00000000", *f"{view.length:02x} 00 00 00 00 00 00 00".split()]
    assert lines[6].split()[1:3] == ["52", "0d"] and "10 source_metadata (LEN SourceMetadata, 13 bytes)" in lines[6]
    assert lines[7].split()[1:4] == ["0a", "0b", "65"]  # the nested writer field: key, length, "e"…


@pytest.mark.torch
def test_files_written_by_torch(tmp_path):
    pytest.importorskip("torch")
    import torch
    from tensorboard.compat.proto import event_pb2

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(3, 2)

        def forward(self, x):
            return torch.relu(self.fc(x))

    def calls(writer):
        _write_every_kind(writer, torch.arange(6, dtype=torch.int32).reshape(2, 3))
        writer.add_scalar("double", 1.25, 5, new_style=True, double_precision=True)
        writer.add_graph(Net(), torch.zeros(1, 3))

    torch_dir, _ours = write_both(tmp_path, calls)
    files = _event_files(torch_dir)
    assert files
    seen = set()
    for path in files:
        for view in _check_file(path, event_pb2.Event):
            seen.update(f.name for f in view.fields)
    assert {"graph_def", "tagged_run_metadata", "summary", "file_version"} <= seen
    text = "".join(explain(open(p, "rb").read()).text for p in files)
    assert "serialized GraphDef: decoded as GraphDef" in text
    assert "serialized RunMetadata: decoded as RunMetadata" in text
    assert '"tensorboard.summary.writer.event_file_writer"' in text


def _two_record_file(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        writer.add_scalar("x", 1.5, 1)
    path = _event_files(tmp_path)[0]
    return path, open(path, "rb").read()


def test_damaged_data_crc_shows_the_mismatch(tmp_path):
    path, data = _two_record_file(tmp_path)
    first = 16 + struct.unpack_from("<Q", data)[0]
    broken = bytearray(data)
    broken[-5] ^= 0x01  # the last payload byte of record 1 (part of the float)
    result = explain(bytes(broken))
    assert result.damaged
    stored = struct.unpack_from("<I", broken, len(broken) - 4)[0]
    computed = _tb_masked_crc(bytes(broken[first + 12 : -4]))
    assert stored != computed
    assert f"stored 0x{stored:08x} != MISMATCH computed 0x{computed:08x}" in result.text
    assert "DAMAGE data CRC mismatch" in result.text
    open(path, "wb").write(broken)
    proc = _cli("explain", path, "--record", "1")
    assert proc.returncode == 1 and "MISMATCH" in proc.stdout and "record 0 " not in proc.stdout


def test_damaged_length_and_truncation(tmp_path):
    _path, data = _two_record_file(tmp_path)
    first = 16 + struct.unpack_from("<Q", data)[0]
    broken = bytearray(data)
    broken[first] ^= 0x40  # the length of record 1
    result = explain(bytes(broken))
    assert result.damaged and "DAMAGE length CRC mismatch" in result.text
    stored = struct.unpack_from("<I", broken, first + 8)[0]
    computed = _tb_masked_crc(bytes(broken[first : first + 8]))
    assert f"stored 0x{stored:08x} != MISMATCH computed 0x{computed:08x}" in result.text
    cut = explain(data[:-3])
    assert cut.damaged and "DAMAGE truncated" in cut.text and "record 1 " in cut.text
    assert not explain(data).damaged


def test_valid_crc_but_not_an_event():
    from eventwriter.record import encode_record

    result = explain(encode_record(b"\x0f\x00"))  # field 1, wire type 7: not protobuf
    assert result.damaged and "ERROR payload is not a valid Event" in result.text
    assert "stored 0x" in result.text and "MISMATCH" not in result.text


def test_cli_explain_record_selection(tmp_path):
    path, _data = _two_record_file(tmp_path)
    proc = _cli("explain", path, "--record", "1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("record 1 at offset ") and "record 0" not in proc.stdout
    assert "2 simple_value (I32 float) = 1.5" in proc.stdout
    proc = _cli("explain", path, "--record", "7")
    assert proc.returncode == 2 and "record 7 does not exist: the file has 2 records" in proc.stderr
    proc = _cli("explain", path)
    assert proc.returncode == 0 and proc.stdout.count("== computed") == 4
    with pytest.raises(ValueError, match="record must be 0 or more"):
        explain(b"", -1)
