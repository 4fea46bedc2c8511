"""Many windows' KLL items joined into one array, on two threads, in a buffer kept for reuse.

A merge of 1,000 stored windows reads its items from 1,000 separate buffers, one per blob, and
keeps about a fifth of them (``runs``). Gathering them needs the buffers joined first: a copy
of every item (49 MB at 1,000 rows per window), the merge's largest single cost. Two things
make it cheaper: NumPy copies without holding the GIL, so the join and the gather are split
between the caller and a worker thread; and the join buffer is kept for the next merge, since
a fresh array this large is mapped anew each time and the kernel zeroes every page of it (10
ms of system time per 1,000-window merge on the benchmark machine). Small merges stay on the
caller's thread: below ``PARALLEL_MIN_ITEMS`` the hand-offs cost more than they save.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

PARALLEL_MIN_ITEMS = 1 << 18
RETAIN_MAX_ITEMS = 1 << 23  # 64 MiB: the largest join buffer kept for the next merge
_WORKERS = 2

_pool: ThreadPoolExecutor | None = None
_pool_pid = 0
_pool_lock = threading.Lock()
_spare: FloatArray | None = None
_spare_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor | None:
    """The shared worker pool, or None on a single core; a forked child makes its own."""
    global _pool, _pool_pid  # noqa: PLW0603 - one pool per process, made on first use
    if (os.cpu_count() or 1) < 2:
        return None
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(_WORKERS, thread_name_prefix="conveyor-sketches")
            _pool_pid = os.getpid()
        return _pool


class Joined:
    """The items of many windows, back to back in one array, joined when first needed."""

    def __init__(self, items: Sequence[FloatArray]) -> None:
        sizes = np.fromiter((len(run) for run in items), dtype=np.int64, count=len(items))
        self.starts: IntArray = np.cumsum(sizes) - sizes  # each window's first item
        self._items: Sequence[FloatArray] | None = items
        self._total = int(sizes.sum())
        self._pool = _executor() if self._total >= PARALLEL_MIN_ITEMS else None
        self._buffer: FloatArray | None = None
        self._values = np.empty(0)

    def values(self) -> FloatArray:
        """Every item; the first call joins them (two halves on two threads when large)."""
        items, self._items = self._items, None
        if items is None:
            return self._values
        self._buffer = _borrow(self._total)
        self._values = self._buffer[: self._total]
        if self._pool is None:
            _join(items, self._values)
            return self._values
        half = len(items) // 2
        mid = int(self.starts[half]) if half < len(items) else self._total
        future = self._pool.submit(_join, items[:half], self._values[:mid])
        _join(items[half:], self._values[mid:])
        future.result()
        return self._values

    def take(self, index: IntArray) -> FloatArray:
        """Return ``values()[index]``, the gather split between this thread and a worker."""
        values = self.values()
        if self._pool is None or index.size < PARALLEL_MIN_ITEMS:
            return values[index]
        out = np.empty(index.size)
        half = index.size // 2
        future = self._pool.submit(np.take, values, index[:half], out=out[:half])
        np.take(values, index[half:], out=out[half:])
        future.result()
        return out

    def release(self) -> None:
        """Hand the join buffer back for the next merge (the values are not read after)."""
        buffer, self._buffer = self._buffer, None
        if buffer is not None:
            _give_back(buffer)

    def __enter__(self) -> Joined:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _borrow(items: int) -> FloatArray:
    """A buffer of at least ``items`` floats: the one kept from the last merge when it fits."""
    global _spare
    with _spare_lock:
        spare, _spare = _spare, None
    if spare is not None and spare.size >= items:
        return spare
    return np.empty(items)


def _give_back(buffer: FloatArray) -> None:
    """Keep ``buffer`` for the next merge, unless it is too large to hold on to, or smaller than
    the one kept already."""
    global _spare  # noqa: PLW0603 - one spare buffer per process
    if buffer.size > RETAIN_MAX_ITEMS:
        return
    with _spare_lock:
        if _spare is None or _spare.size < buffer.size:
            _spare = buffer


def _join(items: Sequence[FloatArray], out: FloatArray) -> None:
    if len(items):
        np.concatenate(items, out=out)
