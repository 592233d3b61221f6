"""A server subprocess for tests: a free port on 127.0.0.1, a bounded wait until it is ready, always stopped.

Subclasses say how to start it (:meth:`ServerProcess.command`) and, if a listening port is not
enough, when it is ready (:meth:`ServerProcess.ready`). Used by the tensorboard server
(``tbserver.py``) and the object-store emulators (``stores.py``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from typing import List, Optional


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """``start()`` runs :meth:`command` on a free port and waits until :meth:`ready`; ``stop()`` ends it."""

    name = "server"

    def __init__(self) -> None:
        self.port = 0
        self.proc: Optional[subprocess.Popen] = None
        self._log = tempfile.TemporaryFile()
        self._tmp = tempfile.mkdtemp(prefix=f"ew-{self.name}-")  # its working directory

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> List[str]:  # pragma: no cover - overridden
        """The command line (``self.port`` is already chosen)."""
        raise NotImplementedError

    def ready(self) -> bool:
        """True once the server serves; by default, once its port accepts a connection."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def start(self, timeout: float = 60.0) -> "ServerProcess":
        """Start the server and wait at most ``timeout`` s for it (then stop it and raise TimeoutError)."""
        self.port = free_port()
        env = dict(os.environ)
        for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
            env.pop(var, None)
        self.proc = subprocess.Popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=self._tmp)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.output()}")
            if self.ready():
                return self
            time.sleep(0.2)
        output = self.output()
        self.stop()
        raise TimeoutError(f"{self.name} on port {self.port} was not ready within {timeout} s:\n{output}")

    def output(self) -> str:
        """What the server printed so far (last 4 kB)."""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-4000:]

    def stop(self) -> None:
        """Terminate the server (kill after 10 s) and remove its working directory."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()
        shutil.rmtree(self._tmp, ignore_errors=True)
