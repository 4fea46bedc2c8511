"""What a run ran on: git commit and dirty flag, Python, platform and installed packages.

Computed once per process: a run started in a loop pays for it once.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path

GIT_TIMEOUT_S = 5.0


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


@lru_cache(maxsize=1)
def git_state() -> tuple[str, bool] | None:
    """Return (commit, is_dirty) of the working directory's repository, or None outside one."""
    commit = _git("rev-parse", "HEAD")
    if not commit:
        return None
    status = _git("status", "--porcelain", "--untracked-files=no")
    return commit, bool(status)


@lru_cache(maxsize=1)
def packages_text() -> str:
    """Return ``name==version`` lines for every installed distribution, sorted."""
    seen: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and name.lower() not in seen:
            seen[name.lower()] = f"{name}=={dist.version}"
    return "\n".join(seen[k] for k in sorted(seen)) + "\n"


def environment_tags() -> dict[str, str]:
    """Return the tags that describe where and from what code a run started."""
    tags = {
        "mlflow.source.name": Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "<stdin>",
        "mlflow.source.type": "LOCAL",
        "conveyor.python.version": platform.python_version(),
        "conveyor.platform": platform.platform(terse=True),
    }
    state = git_state()
    if state is not None:
        commit, dirty = state
        tags["mlflow.source.git.commit"] = commit
        tags["conveyor.git.dirty"] = "true" if dirty else "false"
    return tags
