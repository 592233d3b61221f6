"""CRC vectors, TFRecord framing, and damage detection (docs/FORMAT.md §2)."""

from __future__ import annotations

import io
import os
import random
import struct
import subprocess
import sys

import pytest

from eventwriter import crc, wire
from eventwriter.record import (
    BadDataCrcError,
    BadLengthCrcError,
    RecordTooLargeError,
    TruncatedRecordError,
    encode_record,
    read_records,
)
from support.tbutil import loader_events


def test_crc32c_check_value_native_and_python():
    assert crc.crc32c(b"123456789") == 0xE3069283
    assert crc.crc32c_python(b"123456789") == 0xE3069283
    assert crc.NATIVE  # the wheel is a declared dependency; the fallback must not be in use


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"123456789", 0xC78AB0E5),
        (struct.pack("<Q", 24), 0x224B7FA3),
        (struct.pack("<Q", 72), 0x9D4892FE),
        (b"", 0xA282EAD8),
    ],
)
def test_masked_crc_vectors(data, expected):
    assert crc.masked_crc32c(data) == expected
    assert crc.mask(crc.crc32c_python(data)) == expected


def test_python_fallback_matches_native_on_random_data():
    rng = random.Random(7)
    for size in [0, 1, 2, 3, 7, 8, 15, 16, 255, 1000, 4097]:
        data = bytes(rng.getrandbits(8) for _ in range(size))
        assert crc.crc32c_python(data) == crc.crc32c(data)


def test_fallback_used_when_wheel_missing(tmp_path):
    """With the crc32c wheel unavailable the package still imports, warns, and writes valid files."""
    code = (
        "import sys, warnings; sys.modules['crc32c'] = None\n"
        "warnings.simplefilter('error')\n"
        "try:\n import eventwriter.crc\nexcept RuntimeWarning as w: print('warned', w)\n"
        "warnings.simplefilter('ignore')\n"
        "import importlib, eventwriter.crc as c; importlib.reload(c)\n"
        "assert not c.NATIVE and c.masked_crc32c(b'123456789') == 0xC78AB0E5\n"
        "from eventwriter import SummaryWriter\n"
        f"w = SummaryWriter({str(tmp_path)!r}); w.add_scalar('x', 1.5, 3); w.close()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=os.getcwd())
    assert out.returncode == 0, out.stderr
    assert "warned" in out.stdout and "crc32c" in out.stdout
    (path,) = tmp_path.iterdir()
    # EventFileLoader migrates simple_value to a rank-0 tensor
    tensors = [v.tensor.float_val[0] for e in loader_events(path) for v in e.summary.value]
    assert tensors == [1.5]


def test_first_record_bytes_match_format_doc():
    # docs/FORMAT.md §1.3/§2: a 72-byte header event has length CRC bytes fe 92 48 9d.
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c as tb_masked_crc32c

    payload = wire.file_version_event(1.0, "tensorboard.summary.writer.event_file_writer")
    assert len(payload) == 72
    framed = encode_record(payload)
    assert framed[:8] == struct.pack("<Q", 72)
    assert framed[8:12] == bytes.fromhex("fe92489d")
    assert framed[12:-4] == payload and len(framed) == 72 + 16
    # the data CRC against TensorBoard's own (pure-Python) implementation, not against ours
    assert framed[-4:] == struct.pack("<I", tb_masked_crc32c(payload))
    assert tb_masked_crc32c(b"\x00" * 72) == struct.unpack("<I", encode_record(b"\x00" * 72)[-4:])[0]


def _sample_file() -> bytes:
    events = [wire.file_version_event(1.0, "eventwriter")]
    for step in range(4):
        value = wire.simple_value_entry("loss") + wire.float32_bytes(step / 3)
        events.append(wire.event_prefix(2.0 + step, step) + wire.summary_field(value))
    return b"".join(encode_record(e) for e in events)


def test_round_trip_offsets():
    data = _sample_file()
    records = list(read_records(io.BytesIO(data)))
    assert len(records) == 5
    assert records[0].offset == 0
    for prev, cur in zip(records, records[1:]):
        assert cur.offset == prev.offset + prev.size
    assert records[-1].offset + records[-1].size == len(data)


def test_truncation_at_every_offset(tmp_path):
    """Cut the file at every byte: complete records are read, the tail is 'truncated', never 'corrupt'.
    TensorBoard's EventFileLoader must agree on how many events survive."""
    data = _sample_file()
    ends = []
    offset = 0
    for rec in read_records(io.BytesIO(data)):
        offset += rec.size
        ends.append(offset)
    for cut in range(len(data) + 1):
        complete = sum(1 for end in ends if end <= cut)
        got = []
        try:
            for rec in read_records(io.BytesIO(data[:cut])):
                got.append(rec)
            assert cut in ends or cut == 0
        except TruncatedRecordError as exc:
            assert exc.offset == (ends[complete - 1] if complete else 0)
        assert len(got) == complete
        path = tmp_path / f"events.out.tfevents.cut{cut}"
        path.write_bytes(data[:cut])
        assert len(loader_events(path)) == complete


def test_flipped_bytes_are_reported_with_kind_and_offset():
    data = bytearray(_sample_file())
    records = list(read_records(io.BytesIO(bytes(data))))
    target = records[2]
    for index in range(target.offset, target.offset + target.size):
        damaged = bytearray(data)
        damaged[index] ^= 0x01
        with pytest.raises((BadLengthCrcError, BadDataCrcError, RecordTooLargeError, TruncatedRecordError)) as info:
            list(read_records(io.BytesIO(bytes(damaged))))
        err = info.value
        assert err.offset == target.offset
        relative = index - target.offset
        if relative < 12:
            assert isinstance(err, BadLengthCrcError)
        else:
            assert isinstance(err, BadDataCrcError)


def test_absurd_length_with_valid_crc_is_too_large():
    length = struct.pack("<Q", 1 << 40)
    data = length + struct.pack("<I", crc.masked_crc32c(length)) + b"x" * 10
    with pytest.raises(RecordTooLargeError) as info:
        list(read_records(io.BytesIO(data)))
    assert info.value.offset == 0 and "1099511627776" in str(info.value)


def test_crc_valid_unparsable_payload_is_invalid_event(tmp_path):
    from eventwriter.reader import read_file_events
    from eventwriter.record import InvalidEventError

    path = tmp_path / "events.out.tfevents.bad"
    path.write_bytes(_sample_file() + encode_record(b"\xff\xff\xff"))
    with pytest.raises(InvalidEventError) as info:
        list(read_file_events(path))
    assert info.value.offset == len(_sample_file())
