"""The load generator: ``wrk`` (Debian's package) driven by a generated Lua script.

The script sets the method, headers and body once (wrk then sends the same pre-built request on
every keep-alive connection) and, in ``done()``, prints one ``WRK_RESULT {json}`` line with the
request count, every error counter and exact latency percentiles from wrk's histogram. wrk
counts a response with status >= 400 as a ``status`` error; socket errors are ``connect``,
``read``, ``write`` and ``timeout``. Any of them makes the measurement fail.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tracking import log

RESULT_PREFIX = "WRK_RESULT "
# Slow servers are measured, not cut off: wrk's default 2 s timeout would turn mlflow's ~1 s
# queueing at 64 connections into socket timeouts.
REQUEST_TIMEOUT_S = 30

LUA_TEMPLATE = """\
wrk.method = "{method}"
wrk.headers["Content-Type"] = "application/json"
{body_line}
{timing}
done = function(summary, latency, requests)
  local e = summary.errors
  local p50, n = timing_p50()
  io.write(string.format(
    '{prefix}{{"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, '
    .. '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, '
    .. '"max_us": %d, "mean_us": %.1f, "server_predict_p50_us": %.1f, '
    .. '"server_predict_n": %d}}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, p50, n))
end
"""
# With ``server_timing``: every response's ``Server-Timing: predict;dur=MS`` (the model call
# inside the server) is kept per wrk thread, and ``done`` prints their median, so the server's
# added latency is told from the model's in the very same requests.
TIMING_ON = """\
local threads = {}
setup = function(thread) table.insert(threads, thread) end
init = function(args) durations = {} end
response = function(status, headers, body)
  local value = headers["server-timing"] or headers["Server-Timing"]
  if value then
    local ms = value:match("dur=([%d%.]+)")
    if ms then table.insert(durations, tonumber(ms)) end
  end
end
timing_p50 = function()
  local all = {}
  for _, thread in ipairs(threads) do
    for _, ms in ipairs(thread:get("durations") or {}) do table.insert(all, ms) end
  end
  if #all == 0 then return -1, 0 end
  table.sort(all)
  return all[math.floor((#all + 1) / 2)] * 1000, #all
end"""
TIMING_OFF = "timing_p50 = function() return -1, 0 end"


@dataclass
class Load:
    """One wrk measurement."""

    connections: int
    threads: int
    duration_s: float
    requests: int = 0
    rps: float = 0.0
    p50_ms: float = float("nan")
    p90_ms: float = float("nan")
    p99_ms: float = float("nan")
    max_ms: float = float("nan")
    mean_ms: float = float("nan")
    server_predict_p50_ms: float | None = None  # median Server-Timing predict, when collected
    errors: dict[str, int] = field(default_factory=dict)
    failure: str | None = None

    @property
    def error_count(self) -> int:
        """All errors: status >= 400 plus socket errors."""
        return sum(self.errors.values())

    @property
    def ok(self) -> bool:
        """True when wrk ran, completed requests, and saw no error at all."""
        return self.failure is None and self.requests > 0 and self.error_count == 0

    def as_dict(self) -> dict[str, object]:
        """The JSON form, with ``ok`` and ``error_count``."""
        return {**asdict(self), "ok": self.ok, "error_count": self.error_count}


def wrk_path() -> str | None:
    """Return the wrk executable, or None."""
    return shutil.which("wrk")


def ensure_wrk() -> str:
    """Return wrk's path, installing Debian's ``wrk`` package with apt-get when missing."""
    found = wrk_path()
    if found:
        return found
    log("wrk not found: installing Debian's wrk package (apt-get)")
    apt = shutil.which("apt-get")
    if apt is None:
        msg = (
            "wrk is not installed and there is no apt-get: install wrk (Debian: `apt install wrk`)"
        )
        raise RuntimeError(msg)
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    install = [apt, "install", "-y", "-qq", "wrk"]
    if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:
        subprocess.run([apt, "update", "-qq"], env=env, capture_output=True, check=False)
        subprocess.run(install, env=env, capture_output=True, check=True)
    found = wrk_path()
    if found is None:
        msg = "apt-get installed wrk but it is not on PATH"
        raise RuntimeError(msg)
    return found


def lua_script(method: str, body: bytes | None, *, server_timing: bool = False) -> str:
    """Return the Lua script that sends ``body`` (a Lua long string: JSON never holds ']==]')."""
    body_line = ""
    if body is not None:
        text = body.decode()
        if "]==]" in text:
            msg = "request body contains the Lua long-string terminator ']==]'"
            raise ValueError(msg)
        body_line = f"wrk.body = [==[{text}]==]"
    timing = TIMING_ON if server_timing else TIMING_OFF
    return LUA_TEMPLATE.format(
        method=method, body_line=body_line, timing=timing, prefix=RESULT_PREFIX
    )


def run(
    url: str,
    *,
    connections: int,
    duration_s: float,
    body: bytes | None = None,
    method: str = "POST",
    server_timing: bool = False,
) -> Load:
    """Load ``url`` for ``duration_s`` seconds over ``connections`` keep-alive connections.

    wrk runs one thread per connection up to two (this machine's cores are shared with the
    servers under test; the load generator is a separate process either way).
    """
    threads = min(connections, 2)
    load = Load(connections=connections, threads=threads, duration_s=duration_s)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua_script(method, body, server_timing=server_timing))
    argv = [
        ensure_wrk(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration_s:g}s",
        f"--timeout={REQUEST_TIMEOUT_S}s",
        "--latency",
        "-s",
        script.name,
        url,
    ]
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=duration_s + 60, check=False
        )
    except subprocess.TimeoutExpired:
        load.failure = "wrk did not finish"
        return load
    finally:
        Path(script.name).unlink(missing_ok=True)
    return _parse(load, proc)


def _parse(load: Load, proc: subprocess.CompletedProcess[str]) -> Load:
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if proc.returncode != 0 or not lines:
        load.failure = f"wrk exit status {proc.returncode}: {(proc.stderr or proc.stdout)[-500:]}"
        return load
    raw = json.loads(lines[-1].removeprefix(RESULT_PREFIX))
    seconds = raw["duration_us"] / 1e6
    load.requests = raw["requests"]
    load.rps = raw["requests"] / seconds if seconds > 0 else 0.0
    for key in ("p50", "p90", "p99", "max", "mean"):
        setattr(load, f"{key}_ms", raw[f"{key}_us"] / 1000)
    if raw.get("server_predict_n", 0) > 0:
        load.server_predict_p50_ms = raw["server_predict_p50_us"] / 1000
    load.errors = {k: raw[k] for k in ("connect", "read", "write", "status", "timeout") if raw[k]}
    return load
