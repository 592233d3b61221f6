"""Which object-store errors are worth retrying, and how long to wait between attempts.

Why one place: s3fs, gcsfs and adlfs each translate their SDK's errors differently (s3fs turns a
503 into ``OSError(EREMOTEIO)``, adlfs lets azure-core's ``HttpResponseError`` through, aiohttp
raises its own ``ClientError``...). The segment uploader and the conditional writes only ask
:func:`is_transient`, so a new store is taught here once.
"""

from __future__ import annotations

import random
from typing import Iterator, Optional

_TRANSIENT_CODES = {
    "SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "RequestTimeTooSkewed",
    "InternalError", "ServiceUnavailable", "ServerBusy", "OperationTimedOut", "RequestLimitExceeded",
    "TooManyRequests", "BadGateway", "GatewayTimeout",
}
_TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}
_PERMANENT_STATUS = {400, 401, 403, 404, 405, 409, 411, 413}


def _status_of(exc: BaseException) -> Optional[int]:
    """The HTTP status an SDK exception carries, if any (botocore, azure-core, gcsfs, aiohttp)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):  # botocore ClientError
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if isinstance(status, int):
            return status
    for attr in ("status_code", "status", "code"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and 100 <= value < 600:
            return value
    return None


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return str(getattr(exc, "error_code", "") or "")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen = set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def precondition_failed(exc: BaseException) -> bool:
    """True if ``exc`` (or its cause) is an HTTP 412 / ``PreconditionFailed`` / ``ConditionNotMet``."""
    for e in _chain(exc):
        if _status_of(e) == 412 or _error_code(e) in ("PreconditionFailed", "ConditionNotMet"):
            return True
        if type(e).__name__ in ("ResourceModifiedError",):
            return True
    return False


def is_transient(exc: BaseException) -> bool:
    """True for errors a later attempt may not meet: timeouts, lost connections, 5xx, throttling.

    Permanent: missing bucket or credentials, access denied, bad requests, programming errors.
    Unknown ``OSError``-s count as transient (a retry costs little; giving up loses nothing either,
    since the caller keeps the data).
    """
    for e in _chain(exc):
        status = _status_of(e)
        if status in _TRANSIENT_STATUS or _error_code(e) in _TRANSIENT_CODES:
            return True
        if status in _PERMANENT_STATUS:
            return False
    if isinstance(exc, (PermissionError, FileNotFoundError, NotADirectoryError, IsADirectoryError)):
        return False
    if isinstance(exc, (TypeError, ValueError, AttributeError, KeyError, ImportError)):
        return False
    return True


def backoff_delays(first: float = 0.2, cap: float = 10.0) -> Iterator[float]:
    """Exponential backoff with full jitter: ``first``, doubling up to ``cap``, each drawn in [d/2, d]."""
    delay = first
    while True:
        yield random.uniform(delay / 2, delay)
        delay = min(delay * 2, cap)
