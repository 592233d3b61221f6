"""A real ``tensorboard`` server on 127.0.0.1 for end-to-end tests, with bounded waits."""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from typing import Any, List, Sequence

from .serverproc import ServerProcess


class TensorBoardServer(ServerProcess):
    """``python -m tensorboard.main --logdir X --host 127.0.0.1 --port P`` started and stopped by a test.

    ``load_fast=True`` uses the default Rust data server; False the Python loader.
    """

    name = "tensorboard"

    def __init__(self, logdir: str, load_fast: bool = True, extra_args: Sequence[str] = ()) -> None:
        super().__init__()
        self.logdir = logdir
        self.load_fast = load_fast
        self.extra_args = list(extra_args)

    @property
    def base(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return self.endpoint

    def command(self) -> List[str]:
        """tensorboard on this port, reloading every second."""
        return [
            sys.executable, "-m", "tensorboard.main",
            "--logdir", self.logdir, "--host", "127.0.0.1", "--port", str(self.port),
            "--load_fast", "true" if self.load_fast else "false",
            "--reload_interval", "1",
        ] + self.extra_args

    def ready(self) -> bool:
        """True once the HTTP API answers."""
        try:
            self.get("/data/runs", timeout=2)
            return True
        except (urllib.error.URLError, ConnectionError, OSError):
            return False

    def start(self, timeout: float = 90.0) -> "TensorBoardServer":
        """Start the server and wait (at most ``timeout`` s) until its HTTP API answers."""
        super().start(timeout)
        return self

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
