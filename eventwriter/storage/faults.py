"""Which object-store errors are worth retrying, what to tell the user, and how long to wait between attempts.

Why one place: s3fs, gcsfs and adlfs each translate their SDK's errors differently (s3fs turns a
503 into ``OSError(EREMOTEIO)`` and a 403 into ``PermissionError``, adlfs lets azure-core's
``HttpResponseError`` through, aiohttp raises its own ``ClientError``...). The segment uploader,
the conditional writes and the maintenance commands only ask :func:`is_permanent` /
:func:`is_transient`, so a new store is taught here once.
"""

from __future__ import annotations

import random
from typing import Iterator, Optional

_TRANSIENT_CODES = {
    "SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "RequestTimeTooSkewed",
    "InternalError", "ServiceUnavailable", "ServerBusy", "OperationTimedOut", "RequestLimitExceeded",
    "TooManyRequests", "BadGateway", "GatewayTimeout",
    # 409s that only say "another request on this key was in progress": the next attempt decides.
    "ConditionalRequestConflict", "OperationAborted",
    # botocore refreshes refreshable credentials before the next attempt.
    "TokenRefreshRequired",
}
# Refusals that stay until someone changes something (creates the bucket, fixes the credentials
# or the policy): retrying them for a minute only delays the message the user needs.
_PERMANENT_CODES = {
    "NoSuchBucket", "AccessDenied", "AllAccessDisabled", "AccountProblem", "NotSignedUp",
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "InvalidSecurity",
    "InvalidBucketName", "AuthorizationHeaderMalformed", "InvalidBucketState", "InvalidObjectState",
    "MethodNotAllowed", "KeyTooLongError", "EntityTooLarge", "InvalidArgument", "InvalidRequest",
    "AuthenticationFailed", "AuthorizationFailure", "ContainerNotFound", "InsufficientAccountPermissions",
}
# Client-side refusals that no retry can change (missing credentials or region, a malformed call).
_PERMANENT_TYPES = {
    "NoCredentialsError", "PartialCredentialsError", "NoRegionError", "InvalidRegionError", "ParamValidationError",
    "ClientAuthenticationError", "DefaultCredentialsError", "RefreshError",
}
_TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}
_PERMANENT_STATUS = {400, 401, 403, 404, 405, 411, 413, 414}


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


def is_permanent(exc: BaseException) -> bool:
    """True if the store refused for good: a missing bucket, refused or expired credentials, access
    denied, a malformed request, a programming error. Retrying cannot help until someone changes
    something, so callers report it at once instead of retrying.

    Everything else counts as transient, unknown ``OSError``-s included (a retry costs little, and
    giving up loses nothing either, since the caller keeps the data).
    """
    for e in _chain(exc):
        status, code = _status_of(e), _error_code(e)
        if status in _TRANSIENT_STATUS or code in _TRANSIENT_CODES:
            return False
        if code in _PERMANENT_CODES or status in _PERMANENT_STATUS or type(e).__name__ in _PERMANENT_TYPES:
            return True
    if isinstance(exc, (PermissionError, FileNotFoundError, NotADirectoryError, IsADirectoryError)):
        return True
    return isinstance(exc, (TypeError, ValueError, AttributeError, KeyError, ImportError, NotImplementedError))


def is_transient(exc: BaseException) -> bool:
    """True for errors a later attempt may not meet: timeouts, lost connections, 5xx, throttling."""
    return not is_permanent(exc)


def remedy(exc: BaseException) -> str:
    """What the user should do about a permanent error, in a few words (empty if unknown)."""
    for e in _chain(exc):
        status, code = _status_of(e), _error_code(e)
        if type(e).__name__ in ("NoCredentialsError", "PartialCredentialsError", "DefaultCredentialsError"):
            return "no credentials found: pass them in storage_options or set the store's variables (AWS_ACCESS_KEY_ID...)"
        if code in ("NoSuchBucket", "ContainerNotFound") or (status == 404 and not code):
            return "the bucket does not exist: create it, or fix the URL"
        if code in ("ExpiredToken", "InvalidToken", "TokenRefreshRequired"):
            return "the credentials have expired: renew them"
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AuthenticationFailed") or status == 401:
            return "the credentials are not valid: check the key and secret (storage_options or AWS_* variables)"
        if code in ("AccessDenied", "AllAccessDisabled", "AuthorizationFailure", "InsufficientAccountPermissions") or status == 403:
            return "access denied: check the credentials and the bucket's policy"
    if isinstance(exc, FileNotFoundError):
        return "the bucket does not exist: create it, or fix the URL"
    if isinstance(exc, PermissionError):
        return "access denied: check the credentials and the bucket's policy"
    return ""


def describe(exc: BaseException) -> str:
    """``<store's error code or exception type>: <message>``, e.g. ``NoSuchBucket: The specified bucket does not exist``."""
    code = next((c for c in (_error_code(e) for e in _chain(exc)) if c), "")
    status = next((st for st in (_status_of(e) for e in _chain(exc)) if st), None)
    head = code or type(exc).__name__
    if status and code:
        head += f" (HTTP {status})"
    return f"{head}: {exc}"


def backoff_delays(first: float = 0.2, cap: float = 10.0) -> Iterator[float]:
    """Exponential backoff with full jitter: ``first``, doubling up to ``cap``, each drawn in [d/2, d]."""
    delay = first
    while True:
        yield random.uniform(delay / 2, delay)
        delay = min(delay * 2, cap)
