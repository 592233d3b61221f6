"""A real ``tensorboard`` server on 127.0.0.1 for end-to-end tests, with bounded waits."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from typing import Any, Optional, Sequence


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TensorBoardServer:
    """``python -m tensorboard.main --logdir X --host 127.0.0.1 --port P`` started and stopped by a test.

    ``load_fast=True`` uses the default Rust data server; False the Python loader.
    """

    def __init__(self, logdir: str, load_fast: bool = True, extra_args: Sequence[str] = ()) -> None:
        self.logdir = logdir
        self.load_fast = load_fast
        self.extra_args = list(extra_args)
        self.port = 0
        self.proc: Optional[subprocess.Popen] = None
        self._log = tempfile.TemporaryFile()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> None:
        """Start the server and wait (at most ``timeout`` s) until it answers and has loaded the logdir."""
        self.port = free_port()
        cmd = [
            sys.executable, "-m", "tensorboard.main",
            "--logdir", self.logdir, "--host", "127.0.0.1", "--port", str(self.port),
            "--load_fast", "true" if self.load_fast else "false",
            "--reload_interval", "1",
        ] + self.extra_args
        env = dict(os.environ)
        env.pop("http_proxy", None)
        env.pop("HTTP_PROXY", None)
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tensorboard exited with {self.proc.returncode}:\n{self.output()}")
            try:
                self.get("/data/runs", timeout=2)
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.3)
        else:
            self.stop()
            raise TimeoutError(f"tensorboard did not answer within {timeout} s:\n{self.output()}")

    def wait_for(self, predicate, route: str, timeout: float = 60.0) -> Any:
        """Poll ``route`` (JSON) until ``predicate(data)`` is true; return the data or raise TimeoutError."""
        deadline = time.monotonic() + timeout
        data: Any = None
        while time.monotonic() < deadline:
            try:
                data = self.get_json(route)
                if predicate(data):
                    return data
            except urllib.error.HTTPError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"{route} never satisfied the condition; last answer: {str(data)[:500]}\n{self.output()}")

    def get(self, route: str, timeout: float = 30.0) -> bytes:
        """GET ``route`` and return the body."""
        with urllib.request.urlopen(self.base + route, timeout=timeout) as resp:
            return resp.read()

    def get_with_type(self, route: str, timeout: float = 30.0) -> tuple:
        """GET ``route`` and return ``(content_type, body)``."""
        with urllib.request.urlopen(self.base + route, timeout=timeout) as resp:
            return resp.headers.get("Content-Type"), resp.read()

    def get_json(self, route: str, timeout: float = 30.0) -> Any:
        """GET ``route`` and parse the body as JSON."""
        return json.loads(self.get(route, timeout))

    def query_json(self, route: str, request: Any, timeout: float = 30.0) -> Any:
        """GET ``route?request=<json>`` (how the HParams dashboard sends its requests)."""
        from urllib.parse import quote

        return self.get_json(f"{route}?request={quote(json.dumps(request))}", timeout)

    def output(self) -> str:
        """What the server printed so far (last 4 kB)."""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-4000:]

    def stop(self) -> None:
        """Terminate the server (kill after 10 s)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()
