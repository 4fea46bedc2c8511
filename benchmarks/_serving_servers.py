"""Model servers as child processes: started on a free port, polled until ready, always killed.

Each server runs in its own session (``start_new_session``). Stopping it sends SIGTERM to that
process group, then SIGKILL to the group, and finally kills every descendant recorded while it
ran: BentoML's process manager puts each worker in a session of its own, so the group alone
does not hold them. ``stop_all`` (registered with ``atexit`` and called from the SIGTERM
handler of ``serving.py``) stops whatever is still running when the benchmark exits.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psutil
from tracking import free_port, log

START_TIMEOUT_S = 180.0
POLL_INTERVAL_S = 0.25
STOP_TIMEOUT_S = 20.0

_RUNNING: list[ServerProcess] = []


class ServerError(RuntimeError):
    """A server that did not start, or answered wrongly."""


class ServerProcess:
    """One server: ``argv`` with ``{port}`` replaced, ready once ``ready_path`` answers 200."""

    def __init__(
        self, name: str, argv: list[str], *, env: dict[str, str], cwd: Path, ready_path: str
    ) -> None:
        self.name = name
        self.port = free_port()
        self.argv = [a.replace("{port}", str(self.port)) for a in argv]
        self.env = env
        self.cwd = cwd
        self.ready_path = ready_path
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = cwd / f"{name}-server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._family: dict[int, psutil.Process] = {}

    def __enter__(self) -> ServerProcess:
        log(f"  starting {self.name}: {' '.join(self.argv)}")
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _RUNNING.append(self)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        self.remember_children()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _wait_ready(self) -> None:
        assert self.proc is not None
        started = time.monotonic()
        while time.monotonic() - started < START_TIMEOUT_S:
            if self.proc.poll() is not None:
                msg = f"{self.name} exited at start (status {self.proc.returncode}):\n"
                raise ServerError(msg + self.log_tail())
            self.remember_children()
            if http_status(self.url + self.ready_path) == 200:
                log(f"  {self.name} ready in {time.monotonic() - started:.1f} s on {self.url}")
                return
            time.sleep(POLL_INTERVAL_S)
        msg = f"{self.name} not ready after {START_TIMEOUT_S:.0f} s:\n{self.log_tail()}"
        raise ServerError(msg)

    def remember_children(self) -> None:
        """Record the server's descendants now, so that they can be killed even if orphaned."""
        if self.proc is None:
            return
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                self._family.setdefault(child.pid, child)

    def processes(self) -> int:
        """Return how many processes the server runs (itself and its descendants)."""
        self.remember_children()
        return 1 + sum(1 for p in self._family.values() if p.is_running())

    def log_tail(self, chars: int = 3000) -> str:
        """Return the end of the server's log."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the server and everything it started; idempotent."""
        if self in _RUNNING:
            _RUNNING.remove(self)
        if self.proc is None:
            return
        self.remember_children()
        if self.proc.poll() is None:
            _signal_group(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                _signal_group(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        _gone, alive = psutil.wait_procs(list(self._family.values()), timeout=5)
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(alive, timeout=5)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def stop_all() -> None:
    """Stop every server still running (at exit, or on SIGTERM)."""
    for server in _RUNNING:
        server.stop()


def http_status(url: str) -> int | None:
    """Return the status of a GET on ``url``, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback URL
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return None


def get_json(url: str) -> Any:
    """GET ``url`` and return its JSON body (raises on a non-2xx status)."""
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback URL
        return json.loads(response.read())


def post_json(url: str, body: bytes) -> tuple[int, Any]:
    """POST a JSON ``body``; return the status and the decoded response (text if not JSON)."""
    request = urllib.request.Request(  # noqa: S310 - loopback URL
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            status, raw = int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        status, raw = int(exc.code), exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")
