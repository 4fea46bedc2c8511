"""A disk spool for metric batches that could not be delivered, replayed in order later.

Each batch is one JSON file written atomically (temp + rename) and named so that lexical order
is delivery order. A batch keeps its id across replays, and the server skips ids it already
stored, so a batch whose response was lost is not stored twice.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson

from conveyor.tracking.metric_writes import Point

Sender = Callable[[str, list[Point], str], None]


def _encode_value(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _decode_value(value: float | str) -> float:
    return float(value) if not isinstance(value, str) else float(value.replace("inity", ""))


class Spool:
    """Undelivered batches under ``directory`` (one file per batch)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._seq = 0

    def put(self, run_id: str, points: list[Point], batch_id: str) -> Path:
        """Write a batch durably and return its file."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._seq += 1
        name = f"{time.time_ns():020d}-{os.getpid()}-{self._seq:06d}-{batch_id}.json"
        body = orjson.dumps(
            {
                "run_id": run_id,
                "batch_id": batch_id,
                "points": [(k, _encode_value(v), ts, s) for k, v, ts, s in points],
            }
        )
        tmp = self.directory / f".{name}.tmp"
        with tmp.open("wb") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        final = self.directory / name
        tmp.replace(final)
        return final

    def pending(self) -> Iterator[Path]:
        """Yield spooled batch files oldest first."""
        if self.directory.is_dir():
            yield from sorted(p for p in self.directory.glob("*.json"))

    def replay(self, send: Sender) -> int:
        """Send every spooled batch in order, deleting each once delivered; return how many.

        Stops at the first failure (raising it) so that order is kept.
        """
        sent = 0
        for path in self.pending():
            record = orjson.loads(path.read_bytes())
            points = [(k, _decode_value(v), ts, s) for k, v, ts, s in record["points"]]
            send(record["run_id"], points, record["batch_id"])
            path.unlink(missing_ok=True)
            sent += 1
        return sent

    def __len__(self) -> int:
        return sum(1 for _ in self.pending())
