"""The outage matrix: eleven ways a store fails a PUT, each mid-run and during close().

Against a real S3 API server (moto) behind the project's fault proxy, with short budgets
(``upload_secs`` 0.3 s, ``retry_secs`` 4 s) so each case takes seconds. After each, the run is
read back by TensorBoard's EventAccumulator, ``eventwriter.frames`` and a raw count of the records:
records stored = records logged, each once. Transient faults must heal by themselves (the writer
retries); permanent ones (403, expired token, deleted bucket) are raised by the writer's next
call, with the records kept on local disk, and ``eventwriter upload-pending`` stores them once the
store is fixed.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from eventwriter import SummaryWriter
from eventwriter.cli import main as cli_main
from eventwriter.storage.errors import UploadError

pytestmark = pytest.mark.store

# name -> (proxy rule arguments, permanent?)
MODES = {
    "500": (dict(action="error", status=500, code="InternalError"), False),
    "503": (dict(action="error", status=503, code="SlowDown"), False),
    "403": (dict(action="error", status=403, code="AccessDenied"), True),
    "expired-token": (dict(action="error", status=400, code="ExpiredToken"), True),
    "deleted-bucket": (dict(action="error", status=404, code="NoSuchBucket"), True),
    "connection-reset": (dict(action="reset"), False),
    "lost-answer": (dict(action="lost_answer"), False),
    "spurious-412": (dict(action="error", status=412, code="PreconditionFailed"), False),
    "stall-3s": (dict(action="stall", seconds=3.0), False),
    "503-every-method": (dict(action="error", method=None, status=503, code="ServiceUnavailable"), False),
    "hang": (dict(action="hang"), False),
}


def _add(proxy, spec):
    spec = dict(spec)
    action = spec.pop("action")
    method = spec.pop("method", "PUT")
    return proxy.add(action, method=method, path="tfevents", **spec)


def _writer(url, upload_secs=0.3):
    writer = SummaryWriter(url, upload_secs=upload_secs)
    policy = writer._storage.policy
    policy.retry_secs = 4.0
    policy.request_secs = 1.5
    return writer


def _upload_pending(error):
    assert error.spill_dir, str(error)
    assert cli_main(["upload-pending", error.spill_dir]) == 0


def _finish(url, logged, moto_s3, mode, when):
    from support.remote_check import assert_exactly_once

    assert_exactly_once(url, "s", logged, moto_s3.storage_options, context=f"{mode} {when}")
    pending = Path(os.environ["EVENTWRITER_PENDING_DIR"])
    assert not pending.exists() or not any(pending.iterdir()), f"records left on local disk ({mode} {when})"


@pytest.mark.parametrize("mode", list(MODES))
def test_fault_mid_run(mode, fault_proxy, moto_s3):
    spec, permanent = MODES[mode]
    url = f"s3://{moto_s3.bucket()}/run"
    writer = _writer(url)
    logged, refused = [], None
    rule = None
    for step in range(240):
        if step == 60:
            rule = _add(fault_proxy, spec)
        if step == 180 and rule is not None:
            fault_proxy.remove(rule)
        try:
            writer.add_scalar("s", float(step), step)
            logged.append(step)
        except UploadError as exc:
            refused = refused or exc
            assert exc.permanent and url in str(exc), str(exc)
        time.sleep(0.01)
    assert (refused is not None) == permanent, f"{mode}: refused={refused}"
    if permanent:
        with pytest.raises(UploadError) as info:
            writer.close()
        _upload_pending(info.value)
    else:
        writer.close()
    _finish(url, logged, moto_s3, mode, "mid-run")


@pytest.mark.parametrize("mode", list(MODES))
def test_fault_during_close(mode, fault_proxy, moto_s3):
    spec, permanent = MODES[mode]
    url = f"s3://{moto_s3.bucket()}/run"
    writer = _writer(url, upload_secs=60)  # everything is still to upload when close() starts
    for step in range(100):
        writer.add_scalar("s", float(step), step)
    rule = _add(fault_proxy, spec)
    healer = threading.Timer(1.0, fault_proxy.remove, args=(rule,))
    healer.start()
    start = time.monotonic()
    try:
        writer.close()
        error = None
    except UploadError as exc:
        error = exc
    secs = time.monotonic() - start
    healer.join()
    print(f"\n{mode}: close() took {secs:.2f} s (fault healed after 1 s, retry_secs 4)")
    if permanent:
        assert error is not None and error.permanent, f"{mode}: close() did not report a permanent refusal"
        _upload_pending(error)
    else:
        assert error is None, f"{mode}: close() failed on a fault that healed within its budget: {error}"
    _finish(url, list(range(100)), moto_s3, mode, "during close")
