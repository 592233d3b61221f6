"""Reading a remote run back for the fault tests: TensorBoard's loader and ``eventwriter.frames``,
both straight from the S3 server (not through the fault proxy), and the record count of every object.

The oracle for "nothing lost, nothing stored twice": the steps TensorBoard's ``EventAccumulator``
(size guidance 0) reads equal the steps logged, each once, and equal what ``eventwriter.frames``
reads; and the raw records carrying the tag, counted object by object, are as many as were logged.
"""

from __future__ import annotations

import io
from collections import Counter
from typing import Dict, Iterable, List, Optional

SCALARS = "scalars"
TEXT = "text"


def _fs(storage_options: Dict[str, object]):
    import s3fs

    return s3fs.S3FileSystem(skip_instance_cache=True, **storage_options)


def event_objects(url: str, storage_options: Dict[str, object]) -> List[str]:
    """Names of the event files directly in the run ``url`` (sorted)."""
    fs = _fs(storage_options)
    try:
        listing = fs.ls(url, detail=False, refresh=True)
    except FileNotFoundError:
        return []
    return sorted(p.rsplit("/", 1)[-1] for p in listing if "tfevents" in p.rsplit("/", 1)[-1])


def raw_steps(url: str, tag: str, storage_options: Dict[str, object]) -> List[int]:
    """The step of every record carrying ``tag``, object by object (duplicates kept)."""
    from eventwriter import protos
    from eventwriter.record import read_records

    fs = _fs(storage_options)
    steps = []
    for name in event_objects(url, storage_options):
        data = fs.cat_file(f"{url}/{name}")
        for record in read_records(io.BytesIO(data)):
            event = protos.Event.FromString(record.payload)
            if event.WhichOneof("what") == "summary" and any(v.tag == tag for v in event.summary.value):
                steps.append(event.step)
    return steps


def tensorboard_steps(url: str, tag: str, kind: str = SCALARS) -> List[int]:
    """Steps of ``tag`` as TensorBoard's EventAccumulator reads the run, straight from the server
    named by ``S3_ENDPOINT`` (never through the fault proxy)."""
    import os

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    # TensorBoard's S3 layer reads S3_ENDPOINT once, when it is imported (maybe before the test set
    # it); without one, boto3 takes AWS_ENDPOINT_URL_S3, which the fault tests point at the proxy.
    saved = os.environ.get("AWS_ENDPOINT_URL_S3")
    os.environ["AWS_ENDPOINT_URL_S3"] = os.environ.get("S3_ENDPOINT") or saved or ""
    try:
        acc = EventAccumulator(url, size_guidance={"scalars": 0, "tensors": 0})
        acc.Reload()
    finally:
        if saved is None:
            os.environ.pop("AWS_ENDPOINT_URL_S3", None)
        else:
            os.environ["AWS_ENDPOINT_URL_S3"] = saved
    if kind == SCALARS:
        return [e.step for e in acc.Scalars(tag)] if tag in acc.Tags()["scalars"] else []
    return [e.step for e in acc.Tensors(tag)] if tag in acc.Tags()["tensors"] else []


def frames_steps(url: str, tag: str, storage_options: Dict[str, object], kind: str = SCALARS) -> List[int]:
    """Steps of ``tag`` as ``eventwriter.frames`` reads the run."""
    from eventwriter import frames

    table = frames.scalars(url, storage_options=storage_options) if kind == SCALARS else frames.text(url, storage_options=storage_options)
    return sorted(int(s) for s in table[table["tag"] == tag]["step"])


def assert_exactly_once(url: str, tag: str, logged: Iterable[int], storage_options: Dict[str, object], kind: str = SCALARS,
                        context: Optional[str] = None) -> None:
    """Every logged step of ``tag`` is stored exactly once, by all three readings."""
    want = sorted(logged)
    where = f" ({context})" if context else ""
    raw = raw_steps(url, tag, storage_options)
    twice = sorted(s for s, n in Counter(raw).items() if n > 1)
    assert not twice, f"stored twice{where}: steps {twice[:20]}"
    missing = sorted(set(want) - set(raw))
    assert not missing, f"lost{where}: {len(missing)} of {len(want)} records, steps {missing[:20]}"
    assert sorted(raw) == want, f"records that were never logged{where}: {sorted(set(raw) - set(want))[:20]}"
    assert sorted(tensorboard_steps(url, tag, kind)) == want, f"TensorBoard reads something else{where}"
    assert frames_steps(url, tag, storage_options, kind) == want, f"eventwriter.frames reads something else{where}"
