"""``ReadOptions``: the read options as one named, picklable value, checked once (issue 18)."""

from __future__ import annotations

import inspect
import pickle

import pytest

from eventwriter.frames import dask_frame, file_reader, filepass, hparams_table, pool, reading
from eventwriter.frames.options import ReadOptions


def test_options_are_checked_once_and_name_the_argument():
    options = ReadOptions.of("scalars", runs="a", tags=["x", "y"], workers=2, storage_options={"anon": True})
    assert options.runs == frozenset({"a"}) and options.tags == frozenset({"x", "y"}) and options.workers == 2
    assert pickle.loads(pickle.dumps(options)) == options  # crosses to worker processes and Dask
    with pytest.raises(ValueError, match="kind"):
        ReadOptions.of("nope")
    with pytest.raises(ValueError, match="on_damage"):
        ReadOptions.of("scalars", on_damage="shout")
    with pytest.raises(TypeError, match="tags"):
        ReadOptions.of("scalars", tags=[1])
    with pytest.raises(TypeError, match="workers"):
        ReadOptions.of("scalars", workers="2")
    with pytest.raises(ValueError, match="workers"):
        ReadOptions.of("scalars", workers=-1)
    with pytest.raises(AttributeError):
        options.kind = "text"  # frozen


def test_no_reader_function_takes_the_options_one_by_one():
    for fn in (reading.read_columns, pool.read_jobs, pool.read_job, file_reader.read_file, filepass.read_chunk, dask_frame.read_partition):
        params = inspect.signature(fn).parameters
        assert "options" in params and not {"tags", "payload", "on_damage", "storage_options"} & set(params), fn.__name__
    source = inspect.getsource(hparams_table.hparams_table)
    assert "read_columns(logdir, options" in source
