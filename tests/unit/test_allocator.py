from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys

import pytest

_SCRIPT = """
import resource, sys, numpy as np
from conveyor._allocator import retain_freed_memory
print(retain_freed_memory())
def work():  # four 16 MB temporaries alive at once, then freed: a merge's pattern
    arrays = [np.ones(2_000_000) for _ in range(4)]
    return sum(float(a.sum()) for a in arrays)
for _ in range(3):  # warm: the heap grows once
    work()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    work()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _run(env: dict[str, str]) -> tuple[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, env=env, check=True
    )
    tuned, faults = done.stdout.split()
    return tuned, int(faults)


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or ctypes.util.find_library("c") is None,
    reason="glibc's mallopt only",
)
def test_freed_arrays_are_reused_instead_of_page_faulted_anew() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    tuned, faults = _run(env)
    off, off_faults = _run({**env, "CONVEYOR_MALLOC_TUNING": "0"})
    assert (tuned, off) == ("True", "False")
    # untuned, glibc trims the freed 64 MB and faults it in again on every round
    assert faults < 100 < off_faults
