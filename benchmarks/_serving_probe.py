"""A closed-loop HTTP/1.1 load generator that records every request (for the hot-swap row).

wrk reports percentiles only; the hot-swap target needs each request's latency and start time
(to find the requests that ran while the alias moved) and which model version answered it
(``x-conveyor-model-version``). Each of ``connections`` keep-alive connections sends the same
pre-built request again as soon as the previous answer is read (wrk's model), over raw asyncio
streams, so the client adds little latency of its own. Run as a separate process::

    python benchmarks/_serving_probe.py URL BODY_FILE CONNECTIONS DURATION_S OUT_JSON

Writes ``{"start": [...], "latency_s": [...], "status": [...], "version": [...]}`` (``start``:
wall-clock seconds, so that another process's timestamps line up).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

Record = tuple[float, float, int, str]


def request_bytes(url: str, body: bytes) -> tuple[str, int, bytes]:
    """The host, port and the raw POST request for ``url``."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = (
        f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return host, port, head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, str]:
    """Read one response; return its status and ``x-conveyor-model-version``."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("x-conveyor-model-version", "")


async def connection(
    host: str, port: int, request: bytes, stop_at: float, out: list[Record]
) -> None:
    """Send ``request`` over one keep-alive connection until ``stop_at`` (perf_counter)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < stop_at:
            wall, started = time.time(), time.perf_counter()
            writer.write(request)
            status, version = await read_response(reader)
            out.append((wall, time.perf_counter() - started, status, version))
    finally:
        writer.close()


async def run(url: str, body: bytes, connections: int, duration_s: float) -> list[Record]:
    """Load ``url`` for ``duration_s`` over ``connections`` connections; every request."""
    host, port, request = request_bytes(url, body)
    out: list[Record] = []
    stop_at = time.perf_counter() + duration_s
    await asyncio.gather(
        *(connection(host, port, request, stop_at, out) for _ in range(connections))
    )
    return out


def main(argv: list[str]) -> int:
    """Run the probe and write its records as JSON."""
    url, body_file, connections, duration, out = argv
    records = asyncio.run(run(url, Path(body_file).read_bytes(), int(connections), float(duration)))
    records.sort()
    columns = ("start", "latency_s", "status", "version")
    Path(out).write_text(json.dumps({c: [r[i] for r in records] for i, c in enumerate(columns)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
