"""A disk spool for metric batches that could not be delivered, replayed in order later.

Each batch is one JSON file written atomically (temp + rename) and named so that lexical order
is delivery order. A batch keeps its id across replays, and the server skips ids it already
stored, so a batch whose response was lost is not stored twice.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson

from conveyor.errors import BackendUnavailableError, ConveyorError
from conveyor.tracking.metric_writes import Point

logger = logging.getLogger("conveyor.tracking")

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
        self._maybe_pending: bool | None = None  # None: not looked yet

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
        self._maybe_pending = True
        return final

    def pending(self) -> Iterator[Path]:
        """Yield spooled batch files oldest first."""
        if self.directory.is_dir():
            yield from sorted(p for p in self.directory.glob("*.json"))

    def replay(self, send: Sender) -> int:
        """Send every spooled batch in order, deleting each once delivered; return how many.

        Stops at the first ``BackendUnavailableError`` (raising it) so that order is kept. A
        batch rejected for good is moved to ``rejected/`` and logged, so it cannot block the
        batches behind it.
        """
        sent = 0
        for path in self.pending():
            record = orjson.loads(path.read_bytes())
            points = [(k, _decode_value(v), ts, s) for k, v, ts, s in record["points"]]
            try:
                send(record["run_id"], points, record["batch_id"])
            except BackendUnavailableError:
                raise
            except ConveyorError as exc:
                self._set_aside(path, exc)
                continue
            path.unlink(missing_ok=True)
            sent += 1
        self._maybe_pending = False
        return sent

    def _set_aside(self, path: Path, exc: ConveyorError) -> None:
        rejected = self.directory / "rejected"
        rejected.mkdir(exist_ok=True)
        path.replace(rejected / path.name)
        logger.error(
            "conveyor: a spooled metric batch was rejected (%s); kept in %s", exc, rejected
        )

    def has_pending(self) -> bool:
        """Return whether batches may be waiting (cheap: remembered between calls)."""
        if self._maybe_pending is None:
            self._maybe_pending = any(True for _ in self.pending())
        return self._maybe_pending

    def __len__(self) -> int:
        return sum(1 for _ in self.pending())
