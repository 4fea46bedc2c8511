"""Keep freed memory in the process for reuse instead of returning it to the OS at once.

glibc serves allocations above its mmap threshold (128 KiB, raised on the fly up to 32 MiB)
with fresh ``mmap`` pages and trims the heap's free top above twice that. A NumPy workload that
allocates and frees arrays of a few MiB in a loop (a monitor merging 1,000 window sketches
touches about 35 MiB of temporaries) then page-faults on every array, every time: on this
project's 2-core VM that was 8,750 faults and 20-60 ms of system time per merge, as much as the
merge's own work. With the thresholds fixed at 32 MiB (mmap) and 128 MiB (trim), such arrays
come from the heap and freed ones are reused; the cost is up to 128 MiB of freed memory kept
by an idle process. The ``conveyor`` command calls this once at start; ``CONVEYOR_MALLOC_TUNING=0``
turns it off. Not glibc (macOS, Windows, musl): nothing to do.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

# mallopt parameters (glibc malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 128 * 1024 * 1024

_done = False


def retain_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds (once per process); return whether they were set.

    Skipped when ``CONVEYOR_MALLOC_TUNING`` is ``0``, off Linux, or when the C library has no
    ``mallopt`` (not glibc).
    """
    global _done  # noqa: PLW0603 - process-wide by nature, like the allocator it tunes
    if _done:
        return True
    if os.environ.get("CONVEYOR_MALLOC_TUNING", "1").strip().lower() in {"0", "false", "off"}:
        return False
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success; setting either threshold also stops glibc's own
    # adjustment of them, which is the point.
    ok = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    ok = bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)) and ok
    _done = ok
    return ok
