"""What Conveyor's inference app adds to one request, in process, without HTTP or a client.

Drives ``conveyor serve``'s ASGI app (``serving.factory.create_app``) directly with one-row
``/invocations`` requests (the serving benchmark's model and payload), one at a time, and
reports the median of each request's time minus its own model call (``Server-Timing``). Two
models: the real forest, and the same model whose ``predict`` is replaced by a stub that
returns at once, so the app's code is the same and only what runs between requests differs.
With ``--busy-ms``, the stub spins that long (touching almost no memory) before it returns.

On a shared VM the difference between the stub and the forest is the cost of running the
app's code cold (see ``host_warmth.py``), not more code: the same decode, plan, batching and
encode steps take 2-3x longer when a model call of several milliseconds ran in between.

Usage: ``.venv/bin/python benchmarks/serving_inprocess.py [--requests 1000] [--busy-ms 6]``
(uses a temporary workspace; nothing else needs to run).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).parent))
import _serving_setup
from _serving_model import columns, request_rows, train


def register(workdir: Path) -> str:
    """Train, log, register and alias the benchmark's forest in the workspace; its URI."""
    train(workdir)
    uri: str = _serving_setup.conveyor({"workdir": str(workdir)})["model_uri"]
    return uri


def stub_predict(busy_s: float) -> Callable[..., Any]:
    """A ``predict`` that answers class 0 for every row, after spinning ``busy_s``."""
    import numpy as np

    def predict(_model: Any, data: Any) -> Any:
        started = time.perf_counter()
        while time.perf_counter() - started < busy_s:
            pass
        return np.zeros(len(data), dtype=np.int64)

    return predict


async def drive(uri: str, requests: int) -> tuple[float, float]:
    """Median (total, total - model call) seconds over ``requests`` one-row requests."""
    from conveyor.serving.factory import ServeSpec, create_app

    app = create_app(ServeSpec(model_uris=[uri], trust_pickle=True, record=False))
    lifespan: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await lifespan.put({"type": "lifespan.startup"})
    started: list[dict[str, Any]] = []

    async def lifespan_send(message: dict[str, Any]) -> None:
        started.append(message)

    task = asyncio.create_task(app({"type": "lifespan"}, lifespan.get, lifespan_send))
    body = orjson.dumps({"dataframe_split": {"columns": columns(), "data": request_rows(1)}})
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    scope = {"type": "http", "method": "POST", "path": "/invocations", "headers": headers}
    scope |= {"query_string": b"", "http_version": "1.1", "scheme": "http", "root_path": ""}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    deadline = time.monotonic() + 60
    while True:  # until the model is loaded and answers
        sent.clear()
        await app(dict(scope), receive, send)
        if sent[0]["status"] == 200:
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"the app did not become ready: {sent}")
        await asyncio.sleep(0.1)
    totals, added = [], []
    for i in range(requests + 50):
        sent.clear()
        t0 = time.perf_counter()
        await app(dict(scope), receive, send)
        total = time.perf_counter() - t0
        timing = dict(sent[0]["headers"])[b"server-timing"]
        model_s = float(timing.split(b"dur=")[1]) / 1000
        if i >= 50:  # the first calls fit the batcher's latency model
            totals.append(total)
            added.append(total - model_s)
    await lifespan.put({"type": "lifespan.shutdown"})
    await task
    return statistics.median(totals), statistics.median(added)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--busy-ms", type=float, default=6.0, help="the busy stub's spin")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ["CONVEYOR_HOME"] = home
        uri = register(Path(home))
        from sklearn.ensemble import RandomForestClassifier

        real = RandomForestClassifier.predict
        cases: list[tuple[str, Callable[..., Any]]] = [
            ("forest (50 trees)", real),
            ("stub, returns at once", stub_predict(0.0)),
            (f"stub, busy {args.busy_ms:g} ms", stub_predict(args.busy_ms / 1000)),
        ]
        print(f"{args.requests} one-row /invocations requests, in process, one at a time")
        for name, predict in cases:
            RandomForestClassifier.predict = predict  # type: ignore[method-assign]
            total, added = asyncio.run(drive(uri, args.requests))
            print(f"  {name}: p50 {total * 1e3:.3f} ms, app's own share {added * 1e6:.0f} µs")
        RandomForestClassifier.predict = real  # type: ignore[method-assign]


if __name__ == "__main__":
    main()
