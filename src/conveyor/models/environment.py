"""The environment files MLflow writes next to a model: requirements, conda and virtualenv."""

from __future__ import annotations

import platform
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import yaml

CONDA_FILE = "conda.yaml"
PYTHON_ENV_FILE = "python_env.yaml"
REQUIREMENTS_FILE = "requirements.txt"


def pin(distributions: Sequence[str]) -> list[str]:
    """Pin each distribution to its installed version (left unpinned when not installed)."""
    out: list[str] = []
    for name in dict.fromkeys(distributions):
        try:
            out.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(name)
    return out


def write_environment(path: Path, requirements: Sequence[str]) -> dict[str, str]:
    """Write ``requirements.txt``, ``conda.yaml`` and ``python_env.yaml``; return the env block."""
    python = platform.python_version()
    pip_version = _version("pip")
    (path / REQUIREMENTS_FILE).write_text("".join(f"{r}\n" for r in requirements))
    conda = {
        "channels": ["conda-forge"],
        "dependencies": [f"python={python}", f"pip<={pip_version}", {"pip": list(requirements)}],
        "name": "mlflow-env",
    }
    (path / CONDA_FILE).write_text(yaml.safe_dump(conda, default_flow_style=False))
    python_env = {
        "python": python,
        "build_dependencies": [
            f"pip=={pip_version}",
            f"setuptools=={_version('setuptools')}",
            "wheel",
        ],
        "dependencies": [f"-r {REQUIREMENTS_FILE}"],
    }
    (path / PYTHON_ENV_FILE).write_text(yaml.safe_dump(python_env, sort_keys=False))
    return {"conda": CONDA_FILE, "virtualenv": PYTHON_ENV_FILE}


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "0"


def read_requirements(path: Path) -> list[str]:
    """Return the requirement lines of a saved model (comments and blanks skipped)."""
    file = path / REQUIREMENTS_FILE
    if not file.is_file():
        return []
    lines = (line.strip() for line in file.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]
