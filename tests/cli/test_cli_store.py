"""The command line on an object store (a real moto_server): issue 16 items 7 and 10.

* ``export s3://...`` with stderr on a terminal sized files with ``os.path.getsize`` and failed.
* Every command that reads or writes a store takes its options one way, ``-s/--storage-option
  KEY=VALUE``; the maintenance commands' old ``-o KEY=VALUE`` still works, with a warning.

The store is reached through the options alone: the commands run with no AWS variables set.
Values are read back with TensorBoard's loader over ``s3://`` where it can (its boto3 layer).
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from eventwriter import SummaryWriter

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.store


def _bare_env(**extra):
    """The environment without any AWS setting: only the command line says where the store is."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
    env.update(PYTHONPATH=str(ROOT), AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, **extra)
    return env


def _cli(*args, env=None, stderr=subprocess.PIPE):
    return subprocess.run([sys.executable, "-m", "eventwriter", *map(str, args)], capture_output=stderr is subprocess.PIPE,
                          stdout=None if stderr is subprocess.PIPE else subprocess.PIPE, stderr=None if stderr is subprocess.PIPE else stderr,
                          text=True, cwd=ROOT, env=env or _bare_env(), timeout=180)


def _option_args(moto_s3):
    options = moto_s3.storage_options
    args = []
    for key, value in options.items():
        args += ["-s", f"{key}={json.dumps(value) if not isinstance(value, str) else value}"]
    return args


@pytest.fixture
def remote_run(moto_s3):
    """A run of two event files (two writers, one after the other) with an embedding."""
    import numpy as np

    url = f"s3://{moto_s3.bucket()}/exp/run1"
    for steps in (range(0, 15), range(15, 30)):
        with SummaryWriter(url, storage_options=moto_s3.storage_options) as writer:
            for step in steps:
                writer.add_scalar("loss", 1.0 / (step + 1), step)
    with SummaryWriter(url, storage_options=moto_s3.storage_options) as writer:
        writer.add_embedding(np.eye(3), metadata=["a", "b", "c"])
    return url


def _tb_scalars(url, moto_s3):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    saved = dict(os.environ)
    os.environ.update(moto_s3.env)
    try:
        acc = EventAccumulator(url, size_guidance={"scalars": 0})
        acc.Reload()
        return [(e.step, e.value) for e in acc.Scalars("loss")]
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_export_from_a_store_with_stderr_on_a_terminal(moto_s3, remote_run, tmp_path):
    """Item 7: the interactive case, stderr a terminal, so the progress bar is shown."""
    out = tmp_path / "loss.parquet"
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a real terminal has a size
    env = {**moto_s3.env, "PYTHONPATH": str(ROOT), "EVENTWRITER_PENDING_DIR": str(tmp_path / "pending")}
    env.update({k: v for k, v in os.environ.items() if k not in env and not k.startswith(("AWS_", "S3_"))})
    process = subprocess.Popen([sys.executable, "-m", "eventwriter", "export", remote_run, "-o", str(out)],
                               stdout=subprocess.PIPE, stderr=slave, cwd=ROOT, env=env)
    os.close(slave)
    terminal = b""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:  # drain the terminal so the child never blocks on it
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed its end
                break
            if not chunk:
                break
            terminal += chunk
        elif process.poll() is not None:
            break
    process.wait(timeout=30)
    os.close(master)
    text = terminal.decode("utf-8", "replace")
    assert process.returncode == 0, text
    assert "reading" in text and "wrote 30 rows" in text
    import pyarrow.parquet as pq

    table = pq.read_table(out).to_pandas()
    assert list(zip(table.step.tolist(), table.value.tolist())) == _tb_scalars(remote_run, moto_s3)


def test_every_command_takes_storage_options_the_same_way(moto_s3, remote_run, tmp_path):
    """Item 10: -s/--storage-option for inspect, dump, explain, verify, export, plot, compact,
    fetch-projector; nothing in the environment says where the store is."""
    pytest.importorskip("matplotlib")
    from eventwriter.reader import event_files

    options = _option_args(moto_s3)
    (first, *_) = event_files(remote_run, moto_s3.storage_options)

    without = _cli("inspect", remote_run)
    assert without.returncode != 0  # the options are needed: no AWS endpoint in the environment

    inspected = _cli("inspect", remote_run, *options)
    assert inspected.returncode == 0, inspected.stderr
    assert "loss" in inspected.stdout and "0..29" in inspected.stdout

    dumped = _cli("dump", first, *options)
    assert dumped.returncode == 0, dumped.stderr
    assert json.loads(dumped.stdout.splitlines()[0])["event"]["file_version"] == "brain.Event:2"

    explained = _cli("explain", first, "--record", "0", *options)
    assert explained.returncode == 0 and "file_version" in explained.stdout, explained.stderr

    verified = _cli("verify", remote_run, *options)
    assert verified.returncode == 0 and "ok" in verified.stdout, verified.stderr

    local_table = tmp_path / "loss.csv"
    exported = _cli("export", remote_run, "-o", local_table, *options)
    assert exported.returncode == 0, exported.stderr
    import pandas as pd

    assert pd.read_csv(local_table).value.tolist() == [v for _, v in _tb_scalars(remote_run, moto_s3)]

    # The output may be on the store too, through the same options.
    bucket = remote_run.split("/")[2]
    remote_table = f"s3://{bucket}/tables/loss.parquet"
    exported = _cli("export", remote_run, "--output", remote_table, "--storage-option", options[1], *options[2:])
    assert exported.returncode == 0, exported.stderr
    import fsspec

    fs = fsspec.filesystem("s3", **moto_s3.storage_options, skip_instance_cache=True)
    assert pd.read_parquet(io.BytesIO(fs.cat(remote_table))).step.tolist() == list(range(30))

    plotted = _cli("plot", remote_run, "--tag", "loss", "-o", f"s3://{bucket}/plots/loss.png", *options)
    assert plotted.returncode == 0, plotted.stderr
    assert fs.cat(f"s3://{bucket}/plots/loss.png").startswith(b"\x89PNG")

    fetched = _cli("fetch-projector", remote_run, tmp_path / "local", *options)
    assert fetched.returncode == 0, fetched.stderr

    compacted = _cli("compact", "--min-age", "0", remote_run, *options)
    assert compacted.returncode == 0, compacted.stderr
    assert [s for s, _ in _tb_scalars(remote_run, moto_s3)] == list(range(30))


def test_the_old_short_form_of_the_maintenance_commands_still_works(moto_s3, remote_run):
    legacy = []
    for key, value in moto_s3.storage_options.items():
        legacy += ["-o", f"{key}={json.dumps(value) if not isinstance(value, str) else value}"]
    compacted = _cli("compact", "--min-age", "0", remote_run, *legacy)
    assert compacted.returncode == 0, compacted.stderr
    assert "-o KEY=VALUE is deprecated; use -s/--storage-option KEY=VALUE" in compacted.stderr


def test_a_malformed_storage_option_is_a_usage_error(tmp_path):
    for command in (["inspect", tmp_path], ["compact", "s3://b/run"], ["export", tmp_path, "-o", tmp_path / "x.csv"]):
        done = _cli(*command, "-s", "novalue")
        assert done.returncode == 2 and "expected KEY=VALUE, got 'novalue'" in done.stderr
        assert "Traceback" not in done.stderr
