"""A fault-injecting HTTP reverse proxy in front of a real S3 API server (moto), for tests.

Point s3fs at :attr:`FaultProxy.endpoint` (``endpoint_url`` or ``AWS_ENDPOINT_URL_S3``); every
request is forwarded to the upstream server unless a rule matches it. Rules are set from the
test, in Python::

    proxy.add("error", method="PUT", path=r"tfevents", status=503, code="SlowDown")
    proxy.add("hang", method="PUT")               # accept the request, never answer
    proxy.add("lost_answer", method="PUT", times=1)  # forward it, then drop the answer
    proxy.clear()                                 # healthy again (hanging requests are cut)

Actions: ``error`` (an S3 XML error body with ``status``/``code``/``message``), ``reset`` (the
connection is reset before forwarding), ``lost_answer`` (forwarded, then the connection is
reset instead of answering), ``stall`` (``seconds`` of delay, then forwarded), ``hang`` (never
answered until the rule is cleared or the proxy stops; then reset), ``trickle`` (forwarded; the
answer is sent one byte every ``seconds``). A rule applies to requests whose method and path
(a regex searched in the request path) match, after letting the first ``after`` of them through,
at most ``times`` times (None: every time).

Nothing here mocks s3fs or botocore: they talk HTTP to a real server, and the faults are what a
network or a store does to them.
"""

from __future__ import annotations

import http.client
import re
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional, Tuple

_HOP = {"transfer-encoding", "connection", "keep-alive", "proxy-connection", "content-length", "expect"}


class _Dropped(Exception):
    """The handler reset the connection on purpose."""


class Rule:
    """One fault: which requests it applies to and what happens to them."""

    def __init__(self, action: str, method: Optional[str], path: Optional[str], times: Optional[int], after: int,
                 status: int = 503, code: str = "ServiceUnavailable", message: str = "injected fault",
                 seconds: float = 0.0) -> None:
        if action not in ("error", "reset", "lost_answer", "stall", "hang", "trickle"):
            raise ValueError(f"unknown action {action!r}")
        self.action = action
        self.method = method.upper() if method else None
        self.path = re.compile(path) if path else None
        self.times = times
        self.after = after
        self.status, self.code, self.message, self.seconds = status, code, message, seconds
        self.seen = 0  # matching requests so far
        self.applied = 0
        self.released = threading.Event()

    def take(self, method: str, path: str) -> bool:
        """True if this request gets the fault (counts it)."""
        if self.method is not None and method != self.method:
            return False
        if self.path is not None and not self.path.search(path):
            return False
        self.seen += 1
        if self.seen <= self.after or (self.times is not None and self.applied >= self.times):
            return False
        self.applied += 1
        return True


class FaultProxy:
    """The proxy (see the module docstring). ``start()`` listens on a free port of 127.0.0.1."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.rules: List[Rule] = []
        self.lock = threading.Lock()
        self.requests: List[Tuple[str, str, str]] = []  # (method, path, what happened)
        self.upload_bytes = 0  # request-body bytes of PUT and POST requests (what a writer uploads)
        self.stopping = threading.Event()
        self.server: Optional[ThreadingHTTPServer] = None
        self.port = 0

    # -- control ------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:<port>``: give it to s3fs as ``endpoint_url``."""
        return f"http://127.0.0.1:{self.port}"

    def add(self, action: str, method: Optional[str] = "PUT", path: Optional[str] = None, *, times: Optional[int] = None,
            after: int = 0, **params) -> Rule:
        """Add a rule (see the module docstring); the newest matching rule wins."""
        rule = Rule(action, method, path, times, after, **params)
        with self.lock:
            self.rules.append(rule)
        return rule

    def remove(self, rule: Rule) -> None:
        """Drop one rule; requests it holds (hang, trickle) are cut."""
        with self.lock:
            if rule in self.rules:
                self.rules.remove(rule)
        rule.released.set()

    def clear(self) -> None:
        """Drop every rule: the store is healthy again. Requests held by a rule are cut."""
        with self.lock:
            rules, self.rules = self.rules, []
        for rule in rules:
            rule.released.set()

    def count(self, method: Optional[str] = None, path: Optional[str] = None, what: Optional[str] = None) -> int:
        """Requests seen so far with this method / path regex / outcome (``forwarded`` or an action)."""
        pattern = re.compile(path) if path else None
        with self.lock:
            return sum(
                1 for m, p, w in self.requests
                if (method is None or m == method) and (pattern is None or pattern.search(p)) and (what is None or w == what)
            )

    def uploads(self) -> Tuple[int, int]:
        """``(PUT and POST requests, their body bytes)`` so far: what writers sent to the store."""
        with self.lock:
            return sum(1 for m, _, _ in self.requests if m in ("PUT", "POST")), self.upload_bytes

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> "FaultProxy":
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def handle(self) -> None:
                try:
                    super().handle()
                except (_Dropped, ConnectionError, OSError):
                    pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    parts = []
                    while True:
                        size = int(self.rfile.readline().strip().split(b";")[0], 16)
                        chunk = self.rfile.read(size)
                        self.rfile.readline()
                        if size == 0:
                            break
                        parts.append(chunk)
                    return b"".join(parts)
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _reset(self) -> None:
                self.close_connection = True
                try:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                finally:
                    raise _Dropped()

            def _forward(self, body: bytes) -> Tuple[int, List[Tuple[str, str]], bytes, Optional[str]]:
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                    headers["Content-Length"] = str(len(body))
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    kept = [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP]
                    return resp.status, kept, data, resp.getheader("Content-Length")
                finally:
                    conn.close()

            def _answer(self, status: int, headers: List[Tuple[str, str]], data: bytes, length: Optional[str] = None) -> None:
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                # A HEAD answer has no body but the object's length.
                self.send_header("Content-Length", length if length is not None and self.command == "HEAD" else str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def _trickle(self, status: int, headers: List[Tuple[str, str]], data: bytes, length: Optional[str], rule: Rule) -> None:
                """The whole answer, status line first, one byte every ``rule.seconds``."""
                lines = [f"HTTP/1.1 {status} {http.client.responses.get(status, '')}"]
                size = length if length is not None and self.command == "HEAD" else str(len(data))
                lines += [f"{k}: {v}" for k, v in headers] + [f"Content-Length: {size}", "", ""]
                raw = "\r\n".join(lines).encode("latin-1") + (data if self.command != "HEAD" else b"")
                for i in range(len(raw)):
                    if proxy.stopping.is_set() or rule.released.is_set():
                        self._reset()
                    self.wfile.write(raw[i:i + 1])
                    self.wfile.flush()
                    rule.released.wait(rule.seconds or 60.0)

            def _serve(self) -> None:
                body = self._body()
                with proxy.lock:
                    rule = next((r for r in reversed(proxy.rules) if r.take(self.command, self.path)), None)
                    proxy.requests.append((self.command, self.path, rule.action if rule else "forwarded"))
                    if self.command in ("PUT", "POST"):
                        proxy.upload_bytes += len(body)
                if rule is None:
                    self._answer(*self._forward(body))
                elif rule.action == "error":
                    xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{rule.code}</Code>'
                           f"<Message>{rule.message}</Message>"
                           + ("<Condition>If-None-Match</Condition>" if rule.status == 412 else "")
                           + "<RequestId>FAULTPROXY</RequestId></Error>").encode()
                    self._answer(rule.status, [("Content-Type", "application/xml")], xml)
                elif rule.action == "reset":
                    self._reset()
                elif rule.action == "lost_answer":
                    self._forward(body)
                    self._reset()
                elif rule.action == "stall":
                    rule.released.wait(rule.seconds)
                    self._answer(*self._forward(body))
                elif rule.action == "hang":
                    while not rule.released.wait(0.2) and not proxy.stopping.is_set():
                        pass
                    self._reset()
                elif rule.action == "trickle":
                    self._trickle(*self._forward(body), rule=rule)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _serve

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: object, client_address: object) -> None:  # quiet: resets are on purpose
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, name="faultproxy", daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving and cut every held request."""
        self.stopping.set()
        self.clear()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    # -- for tests ------------------------------------------------------------------------------

    def env(self, upstream_env: Dict[str, str]) -> Dict[str, str]:
        """The AWS environment of ``upstream_env`` with the S3 endpoint pointing at this proxy
        (``S3_ENDPOINT``, TensorBoard's, still reads the store directly)."""
        env = dict(upstream_env)
        env["AWS_ENDPOINT_URL_S3"] = self.endpoint
        return env
