"""eventwriter.frames against TensorBoard's Python data layer (plugin_event_accumulator, size guidance 0).

Every table is compared row by row with what the accumulator stores for the same logdir: files by
eventwriter (every kind), torch and tensorboardX, restarts with purge_step, files without a
file_version (out-of-order purging), and damaged or truncated files.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")

from eventwriter import SummaryWriter, frames, wire  # noqa: E402
from eventwriter.frames.batch_crc import crc32c_columns, crc32c_rows  # noqa: E402
from eventwriter.frames.framing import frame  # noqa: E402
from eventwriter.record import BadDataCrcError, encode_record, read_records  # noqa: E402
from eventwriter.reader import run_files  # noqa: E402
from support.kinds import write_everything  # noqa: E402
from support.processes import ROOT  # noqa: E402
from support.frames_oracle import assert_same  # noqa: E402  (the oracle: plugin_event_accumulator's rows)



# ---- vector CRC and framing ---------------------------------------------------------------------


def test_batch_crc_matches_crc32c_package_on_random_data():
    crc32c = pytest.importorskip("crc32c")
    rng = np.random.default_rng(7)
    for length in (0, 1, 3, 4, 7, 8, 31, 64, 257):
        rows = rng.integers(0, 256, (200, length), dtype=np.uint8)
        expected = np.array([crc32c.crc32c(r.tobytes()) for r in rows], np.uint32)
        assert np.array_equal(crc32c_rows(rows), expected)
        assert np.array_equal(crc32c_columns(np.ascontiguousarray(rows.T)), expected)
    assert int(crc32c_rows(np.frombuffer(b"123456789", np.uint8)[None])[0]) == 0xE3069283


def test_framing_matches_the_record_reader_on_irregular_files(tmp_path):
    rng = np.random.default_rng(3)
    # Long regular stretches (the vector path), bursts of random lengths (the walk), a period-3 cycle.
    lengths = [20] * 500 + rng.integers(0, 300, 200).tolist() + [5, 9, 11] * 300 + [40, 41] * 50 + [0] * 30
    payloads = [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in lengths]
    data = b"".join(encode_record(p) for p in payloads)
    framing, groups = frame(np.frombuffer(data, np.uint8))
    path = tmp_path / "f"
    path.write_bytes(data)
    with open(path, "rb") as fh:
        expected = [(r.offset, len(r.payload)) for r in read_records(fh)]
    assert list(zip(framing.offsets.tolist(), framing.lengths.tolist())) == expected
    assert framing.end == len(data) and not framing.truncated and framing.damage is None
    assert sum(len(i) for _, i, _ in groups) == len(payloads)
    # Cut inside the last record: a live file, the rest is intact.
    framing, _ = frame(np.frombuffer(data[:-3], np.uint8))
    assert framing.truncated and framing.damage is None and len(framing.offsets) == len(payloads) - 1


# ---- differential tests -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["scalars", "histograms", "text", "pr_curves", "images", "audio", "tensors"])
def test_every_kind_written_by_eventwriter_equals_the_data_layer(tmp_path, kind):
    write_everything(str(tmp_path / "a"))
    with SummaryWriter(str(tmp_path / "b" / "sub")) as w:
        for step in range(40):
            w.add_scalar("loss", 1 / (step + 1), step)
            w.add_scalar("lr", 0.1, step, new_style=True)
            w.add_scalar("lr64", 0.1, step, new_style=True, double_precision=True)
            w.add_text("note", f"step {step}", step)
        w.add_histogram_raw("raw", 0, 10, 3, 12, 50, [0, 1, 5, 10], [0, 1, 2, 0], 2)
    got = assert_same(tmp_path, kind)
    assert got, "the logdir holds rows of every kind"


def test_scalars_with_filters_and_formats(tmp_path):
    write_everything(str(tmp_path / "a"))
    with SummaryWriter(str(tmp_path / "b")) as w:
        for step in range(5):
            w.add_scalar("loss", step, step)
            w.add_scalar("acc", -step, step)
    full = frames.scalars(tmp_path)
    only = frames.scalars(tmp_path, runs="b", tags=["acc"])
    assert set(only.run) == {"b"} and set(only.tag) == {"acc"}
    assert only.value.tolist() == [0.0, -1.0, -2.0, -3.0, -4.0]
    arrow = frames.scalars(tmp_path, format="arrow")
    assert isinstance(arrow, pa.Table) and arrow.num_rows == len(full)
    assert arrow.column("value").to_pylist() == full.value.tolist()
    pl = pytest.importorskip("polars")
    polars = frames.scalars(tmp_path, format="polars")
    assert isinstance(polars, pl.DataFrame) and polars["step"].to_list() == full.step.tolist()
    with pytest.raises(ValueError, match="format"):
        frames.scalars(tmp_path, format="excel")
    with pytest.raises(TypeError, match="tags"):
        frames.scalars(tmp_path, tags=[1])


def test_large_logdir_in_worker_processes_equals_in_process(tmp_path):
    for r in range(3):
        with SummaryWriter(str(tmp_path / f"r{r}")) as w:
            for step in range(20000):
                w.add_scalar("a/loss", np.float32(np.sin(step)), step)
                w.add_scalar("b", step * 0.5, step)
    serial = frames.scalars(tmp_path, workers=0)
    parallel = frames.scalars(tmp_path, workers=2)
    pd.testing.assert_frame_equal(serial, parallel)
    assert len(serial) == 120000
    assert_same(tmp_path, "scalars", workers=2)


def test_torch_written_logdir_equals_the_data_layer(tmp_path):
    torch = pytest.importorskip("torch")
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    w = TorchWriter(str(tmp_path / "t"))
    for step in range(300):  # steps cross the one-byte varint boundary
        w.add_scalar("loss/train", 1.0 / (step + 1), step)
        w.add_scalar("x", step, step, new_style=True)
    w.add_scalars("group", {"a": 1.0, "b": 2.0}, 3)
    w.add_histogram("h", torch.randn(1000), 1)
    w.add_text("t", "hello", 1)
    w.add_pr_curve("pr", torch.tensor([0, 1, 1, 0]), torch.tensor([0.1, 0.9, 0.6, 0.4]), 1)
    w.add_image("img", torch.rand(3, 8, 8), 1)
    w.close()
    for kind in ("scalars", "histograms", "text", "pr_curves", "images"):
        assert_same(tmp_path, kind)


def test_tensorboardx_written_logdir_equals_the_data_layer(tmp_path):
    tbx = pytest.importorskip("tensorboardX")
    w = tbx.SummaryWriter(str(tmp_path / "x"))
    for step in range(200):
        w.add_scalar("loss", 2.0**-step, step)
    w.add_histogram("h", np.random.default_rng(0).normal(size=500), 1)
    w.close()
    got = assert_same(tmp_path, "scalars")
    assert len(got[("x", "loss")]) == 200
    assert_same(tmp_path, "histograms")


def test_tbparse_agrees_on_old_style_scalars_and_misses_new_style(tmp_path):
    tbparse = pytest.importorskip("tbparse")
    with SummaryWriter(str(tmp_path / "r")) as w:
        for step in range(50):
            w.add_scalar("old", step / 7, step)
            w.add_scalar("new", step / 7, step, new_style=True)
    theirs = tbparse.SummaryReader(str(tmp_path), extra_columns={"dir_name", "wall_time"}).scalars
    mine = frames.scalars(tmp_path)
    old = mine[mine.tag == "old"]
    assert set(theirs.tag) == {"old"}  # tbparse leaves new-style scalars out of .scalars
    assert np.allclose(theirs.sort_values("step").value.to_numpy(), old.value.to_numpy(), rtol=0, atol=1e-7)
    assert theirs.sort_values("step").step.tolist() == old.step.tolist()
    assert set(mine.tag) == {"old", "new"}


# ---- restarts and purges ------------------------------------------------------------------------


def test_purge_step_restarts_match_the_data_layer(tmp_path):
    run = str(tmp_path / "r")
    with SummaryWriter(run) as w:
        for step in range(10):
            w.add_scalar("loss", step, step)
            w.add_text("t", f"a{step}", step)
    with SummaryWriter(run, purge_step=5) as w:  # first START of the run: the data layer ignores it
        for step in range(5, 8):
            w.add_scalar("loss", 100 + step, step)
    with SummaryWriter(run, purge_step=6) as w:  # second START: drops every earlier row with step >= 6
        for step in range(6, 9):
            w.add_scalar("loss", 200 + step, step)
    got = assert_same(tmp_path, "scalars")
    steps = [r[0] for r in got[("r", "loss")]]
    assert steps == [0, 1, 2, 3, 4, 5, 5, 6, 7, 8]
    assert_same(tmp_path, "text")
    # The Dask path reads files separately and does not apply purges spanning files.
    pytest.importorskip("torch")
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    for purge in (None, 3, 2):
        w = TorchWriter(str(tmp_path / "t"), purge_step=purge)
        for step in range(purge or 0, (purge or 0) + 4):
            w.add_scalar("loss", step, step)
        w.close()
    assert_same(tmp_path, "scalars")


def _event(step, tag, value, wall=1.0):
    return encode_record(wire.event_prefix(wall, step) + wire.simple_value_prefix(tag) + wire.float32_bytes(value))


def test_files_without_file_version_purge_out_of_order_steps_by_tag(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    records = [_event(s, "a", s) for s in range(6)] + [_event(s, "b", s) for s in range(6)]
    records += [_event(3, "a", 33.0)]  # step goes back: a's steps >= 3 are dropped, b's kept
    records += [_event(s, "b", 10 + s) for s in (6, 7)]
    (run / "events.out.tfevents.1.host").write_bytes(b"".join(records))
    got = assert_same(tmp_path, "scalars")
    assert [r[0] for r in got[("r", "a")]] == [0, 1, 2, 3]


# ---- damage -------------------------------------------------------------------------------------


def _scalar_file(tmp_path, n=50):
    with SummaryWriter(str(tmp_path / "r")) as w:
        for step in range(n):
            w.add_scalar("loss", step, step)
    return run_files(tmp_path)["r"][0]


def test_truncated_tail_is_skipped_quietly(tmp_path):
    path = _scalar_file(tmp_path)
    data = open(path, "rb").read()
    with open(path, "wb") as fh:
        fh.write(data[:-10])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = assert_same(tmp_path, "scalars")
    assert len(got[("r", "loss")]) == 49


def test_corrupt_record_keeps_rows_before_it_and_warns(tmp_path):
    path = _scalar_file(tmp_path)
    with open(path, "rb") as fh:
        offsets = [r.offset for r in read_records(fh)]
    data = bytearray(open(path, "rb").read())
    data[offsets[21] + 14] ^= 0xFF  # a payload byte of the 21st scalar
    open(path, "wb").write(bytes(data))
    with pytest.warns(frames.DamagedFileWarning, match="bad data CRC"):
        got = assert_same(tmp_path, "scalars")
    assert [r[0] for r in got[("r", "loss")]] == list(range(20))
    with pytest.raises(BadDataCrcError):
        frames.scalars(tmp_path, on_damage="raise")


def test_valid_crc_but_not_an_event_stops_the_file(tmp_path):
    path = _scalar_file(tmp_path, 5)
    with open(path, "ab") as fh:
        fh.write(encode_record(b"\xff\xff\xff"))
        fh.write(_event(99, "loss", 1.0))
    with pytest.warns(frames.DamagedFileWarning, match="invalid event"):
        table = frames.scalars(tmp_path)
    assert table.step.tolist() == [0, 1, 2, 3, 4]


# ---- follower -----------------------------------------------------------------------------------


def test_follower_returns_only_new_rows_across_files_runs_and_truncated_tails(tmp_path):
    follower = frames.Follower(tmp_path, "scalars")
    assert len(follower.poll()) == 0
    w = SummaryWriter(str(tmp_path / "a"))
    for step in range(3):
        w.add_scalar("loss", step, step)
    w.flush()
    assert follower.poll().step.tolist() == [0, 1, 2]
    assert len(follower.poll()) == 0
    for step in range(3, 5):
        w.add_scalar("loss", step, step)
    w.flush()
    assert follower.poll().step.tolist() == [3, 4]
    w.close()
    w2 = SummaryWriter(str(tmp_path / "a"))  # rotation: a new file in the same run
    w2.add_scalar("loss", 5.0, 5)
    w3 = SummaryWriter(str(tmp_path / "b"))  # a new run
    w3.add_scalar("acc", 1.0, 0)
    w2.flush()
    w3.flush()
    new = follower.poll()
    assert list(zip(new.run, new.step)) == [("a", 5), ("b", 0)]
    # Half a record at the end of a live file: nothing now, the whole record once it is complete.
    path = run_files(tmp_path)["b"][-1]
    record = _event(1, "acc", 2.0, wall=5.0)
    with open(path, "ab") as fh:
        fh.write(record[:9])
    assert len(follower.poll()) == 0
    with open(path, "ab") as fh:
        fh.write(record[9:])
    assert follower.poll().value.tolist() == [2.0]
    w2.close()
    w3.close()
    total = frames.scalars(tmp_path)
    assert len(total) == 8


def test_follower_records_restarts(tmp_path):
    follower = frames.Follower(tmp_path, "scalars")
    with SummaryWriter(str(tmp_path / "r"), purge_step=0) as w:
        for step in range(4):
            w.add_scalar("x", step, step)
    assert len(follower.poll()) == 4
    with SummaryWriter(str(tmp_path / "r"), purge_step=2) as w:
        w.add_scalar("x", 9.0, 2)
    assert follower.poll().step.tolist() == [2]
    assert follower.restarts == [("r", 2)]


# ---- hparams, dask, export, import weight -------------------------------------------------------


def test_hparams_one_row_per_session(tmp_path):
    write_everything(str(tmp_path / "a"))
    table = frames.hparams(tmp_path)
    assert len(table) == 1
    row = table.iloc[0].to_dict()
    assert (row["run"], row["hparam/lr"], row["hparam/optimizer"]) == ("a", 0.1, "sgd")
    # A kept boolean, not torch's 1.0: the column's dtype and the value's type both say so.
    assert table["hparam/batchnorm"].dtype == bool and isinstance(row["hparam/batchnorm"], (bool, np.bool_)) and row["hparam/batchnorm"]
    assert row["metric/hp/accuracy"] == pytest.approx(0.9)


@pytest.mark.slow
def test_dask_partitions_on_a_local_cluster(tmp_path):
    pytest.importorskip("dask.dataframe")
    distributed = pytest.importorskip("distributed")
    for r in range(3):
        with SummaryWriter(str(tmp_path / f"r{r}")) as w:
            for step in range(100):
                w.add_scalar("loss", step * r, step)
        with SummaryWriter(str(tmp_path / f"r{r}")) as w:
            w.add_scalar("loss", -1.0, 100)
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None)
    client = distributed.Client(cluster, timeout=60)
    try:
        ddf = frames.scalars(tmp_path, format="dask")
        assert ddf.npartitions == 6  # one per event file
        result = ddf.compute().astype({"run": object, "tag": object}).sort_values(["run", "step"]).reset_index(drop=True)
    finally:
        client.close(timeout=30)
        cluster.close(timeout=30)
    expected = frames.scalars(tmp_path).astype({"run": object, "tag": object}).sort_values(["run", "step"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(result, expected)


def test_export_parquet_has_every_row_and_other_formats_read_back(tmp_path):
    write_everything(str(tmp_path / "logs" / "a"))
    with SummaryWriter(str(tmp_path / "logs" / "b")) as w:
        for step in range(1000):
            w.add_scalar("loss", step / 3, step)
    logs = str(tmp_path / "logs")
    env = dict(os.environ, PYTHONPATH=ROOT)
    expected = frames.scalars(logs)
    out = str(tmp_path / "s.parquet")
    done = subprocess.run(
        [sys.executable, "-m", "eventwriter", "export", logs, "-o", out, "--progress"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "reading" in done.stderr and f"wrote {len(expected)} rows" in done.stderr
    import pyarrow.parquet as pq

    table = pq.read_table(out).to_pandas()
    assert table.step.tolist() == expected.step.tolist() and table.value.tolist() == expected.value.tolist()
    readers = (
        (".csv", lambda p: pd.read_csv(p, float_precision="round_trip")),
        (".jsonl", lambda p: pd.read_json(p, lines=True, precise_float=True)),
        (".feather", pd.read_feather),
    )
    for ext, read in readers:
        path = str(tmp_path / f"s{ext}")
        done = subprocess.run(
            [sys.executable, "-m", "eventwriter", "export", logs, "-o", path, "--tags", "loss"], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        back = read(path)
        assert back.value.tolist() == expected[expected.tag == "loss"].value.tolist()
    hist = str(tmp_path / "h.parquet")
    done = subprocess.run(
        [sys.executable, "-m", "eventwriter", "export", logs, "-o", hist, "--kind", "histograms"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert pq.read_table(hist).column("count").to_pylist() == frames.histograms(logs).loc[:, "count"].tolist()
    bad = subprocess.run(
        [sys.executable, "-m", "eventwriter", "export", logs, "-o", str(tmp_path / "x.xlsx")], env=env, capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2 and ".parquet" in bad.stderr


def test_plot_draws_every_run(tmp_path):
    pytest.importorskip("matplotlib")
    from PIL import Image

    for run in ("a", "b"):
        with SummaryWriter(str(tmp_path / run)) as w:
            for step in range(20):
                w.add_scalar("loss", step if run == "a" else -step, step)
    out = str(tmp_path / "loss.png")
    env = dict(os.environ, PYTHONPATH=ROOT)
    done = subprocess.run(
        [sys.executable, "-m", "eventwriter", "plot", str(tmp_path), "--tag", "loss", "-o", out], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "2 run(s)" in done.stderr
    assert Image.open(out).size == (800, 450)
    missing = subprocess.run(
        [sys.executable, "-m", "eventwriter", "plot", str(tmp_path), "--tag", "nope", "-o", out], env=env, capture_output=True, text=True, timeout=120
    )
    assert missing.returncode == 1


def test_import_eventwriter_does_not_import_table_libraries():
    code = "import sys, eventwriter; print(sorted(m for m in ('pandas', 'pyarrow', 'polars', 'dask', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


def test_fast_scalar_path_edge_shapes_equal_the_data_layer(tmp_path):
    # Negative steps (ten-byte varints), huge steps, an empty tag, a tag too long for one-byte
    # lengths and non-ASCII tags, each repeated enough to be decoded in numpy batches.
    run = tmp_path / "r"
    run.mkdir()
    records = [encode_record(wire.file_version_event(1.0, "t"))]
    for i in range(40):
        for step in (-5 - i, 2**40 + i, i):
            for tag in ("", "é/ü", "x" * 200, "loss"):
                records.append(_event(step, tag, i * 0.25, wall=100.0 + i))
    (run / "events.out.tfevents.2.host").write_bytes(b"".join(records))
    got = assert_same(tmp_path, "scalars")
    assert len(got[("r", "x" * 200)]) == 120 and len(got[("r", "")]) == 120
