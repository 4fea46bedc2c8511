"""How much slower the same small Python work runs when it does not run back to back.

A served request's own work (decode, plan, batching, encode: ~0.2 ms when repeated in a tight
loop) runs after a model call of several milliseconds, or after waiting for the network. On a
shared VM that work can run much slower than in a tight loop: caches, branch predictors and
TLBs are no longer warm, whoever else used the core in between. This probe measures it with
nothing of Conveyor's: a fixed piece of work (parsing a small JSON document 20 times), timed
back to back, after spinning for a few milliseconds, and after sleeping as long.

Usage: ``.venv/bin/python benchmarks/host_warmth.py [--gap-ms 6] [--repeats 500]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

DOCUMENT = json.dumps({"columns": [f"f{i}" for i in range(30)], "data": [[0.5] * 30]})


def work() -> float:
    """The fixed piece of work; returns the seconds it took."""
    started = time.perf_counter()
    for _ in range(20):
        json.loads(DOCUMENT)
    return time.perf_counter() - started


def spin(seconds: float) -> None:
    """Keep the core busy (with almost no memory touched) for ``seconds``."""
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        pass


def measure(mode: str, gap_s: float, repeats: int) -> float:
    """Median seconds of ``work`` after each ``mode`` gap: none, spin or sleep."""
    times = []
    for _ in range(repeats):
        if mode == "spin":
            spin(gap_s)
        elif mode == "sleep":
            time.sleep(gap_s)
        times.append(work())
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gap-ms", type=float, default=6.0, help="spin or sleep before each")
    parser.add_argument("--repeats", type=int, default=500)
    args = parser.parse_args()
    gap_s = args.gap_ms / 1000
    hot = measure("hot", gap_s, args.repeats)
    print(f"back to back: {hot * 1e6:.1f} µs")
    for mode in ("spin", "sleep"):
        seconds = measure(mode, gap_s, args.repeats)
        print(f"after a {args.gap_ms:g} ms {mode}: {seconds * 1e6:.1f} µs (x{seconds / hot:.2f})")


if __name__ == "__main__":
    main()
