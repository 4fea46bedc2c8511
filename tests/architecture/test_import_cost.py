"""``import conveyor`` and ``conveyor --help`` stay light: no pandas, sklearn, server stack."""

from __future__ import annotations

import subprocess
import sys

import conveyor

HEAVY = (
    "pandas",
    "sklearn",
    "ray",
    "torch",
    "onnxruntime",
    "fastapi",
    "uvicorn",
    "sqlalchemy",
    "conveyor.server",
    "mlflow",
    "s3fs",
    "boto3",
)


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


def test_import_conveyor_loads_nothing_heavy() -> None:
    loaded = _loaded_after("import conveyor")
    assert not {m for m in loaded for h in HEAVY if m == h or m.startswith(f"{h}.")}


def test_cli_help_loads_nothing_heavy() -> None:
    loaded = _loaded_after(
        "import sys\nfrom conveyor.cli.app import run\nsys.argv=['conveyor']\n"
        "import contextlib, io\nwith contextlib.redirect_stdout(io.StringIO()):\n"
        "    run(['--help'])"
    )
    heavy = ("pandas", "sklearn", "ray", "torch", "fastapi", "uvicorn", "mlflow", "conveyor.server")
    assert not {m for m in loaded for h in heavy if m == h or m.startswith(f"{h}.")}


def test_all_is_sorted_and_resolvable() -> None:
    assert conveyor.__all__ == sorted(conveyor.__all__)
    for name in conveyor.__all__:
        assert getattr(conveyor, name) is not None
