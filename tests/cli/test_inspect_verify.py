"""inspect and verify on odd logdirs: absurd wall times, broken links, non-event files, empty directories."""

from __future__ import annotations

import math
import os

import pytest

from eventwriter import SummaryWriter, protos
from eventwriter.event_file import EventFileWriter
from eventwriter.reader import SkippedFileWarning, run_files
from support.processes import run_cli


def test_inspect_of_huge_and_nan_wall_times_is_a_table_not_a_traceback(tmp_path):
    w = SummaryWriter(tmp_path)
    w.add_scalar("far", 1.0, 1, walltime=1e20)
    w.close()
    nan_file = EventFileWriter(str(tmp_path))
    event = protos.Event(wall_time=math.nan, step=2)
    event.summary.value.add(tag="nan", simple_value=2.0)
    nan_file.add_event(event)
    nan_file.close()
    done = run_cli("inspect", tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "1e+20 (not a date)" in done.stdout and "nan (not a date)" in done.stdout
    import json

    as_json = run_cli("inspect", "--json", tmp_path)
    runs = json.loads(as_json.stdout, parse_constant=lambda c: pytest.fail(f"not JSON: {c}"))
    tags = {name: tag for run in runs for name, tag in run["tags"].items()}
    assert tags["nan"]["first_wall_time"] == "nan" and tags["far"]["first_wall_time"] == 1e20
    verify = run_cli("verify", "--all", tmp_path)
    assert verify.returncode == 1 and "wall_time is nan" in verify.stdout and "Traceback" not in verify.stderr


@pytest.mark.parametrize("kind", ["dangling", "looping"])
def test_verify_and_inspect_of_a_broken_link_named_like_an_event_file(tmp_path, kind):
    name = tmp_path / "events.out.tfevents.1.host.1.00000"
    if kind == "dangling":
        os.symlink(tmp_path / "gone", name)
    else:
        os.symlink(name.name, name)  # points at itself: ELOOP
    for command in (["verify", name], ["dump", name], ["verify", tmp_path], ["inspect", tmp_path]):
        done = run_cli(*command)
        assert "Traceback" not in done.stderr, (command, done.stderr)
        assert done.returncode in (0, 1), (command, done.returncode, done.stderr)
        assert "not a regular file" in done.stderr or "no such file" in done.stderr or "no event files" in done.stderr, (command, done.stderr)
    assert run_cli("verify", name).returncode == 1
    with pytest.warns(SkippedFileWarning):
        assert run_files(tmp_path) == {}


def test_verify_of_a_file_that_is_not_an_event_file_says_so(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# A project\n\nSome words that are long enough to fill a record header.\n")
    done = run_cli("verify", readme)
    assert done.returncode == 1
    assert "not an event file" in done.stdout
    assert "not an event file" in run_cli("dump", readme).stderr


def test_empty_directory_both_commands_say_no_event_files(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    inspect = run_cli("inspect", tmp_path)
    verify = run_cli("verify", tmp_path)
    assert (inspect.returncode, verify.returncode) == (0, 1)
    assert f"no event files under {tmp_path}" in inspect.stderr
    assert f"no event files under {tmp_path}" in verify.stderr
    assert f"no event files under {tmp_path}" in run_cli("inspect", "--json", tmp_path).stderr
