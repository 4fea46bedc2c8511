"""House rules that keep the code base navigable (STYLE.md §3.1, §3.5)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "conveyor"
MODULES = sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.parts)
DOMAINS = ["blobs", "cli", "rollout", "server", "serving", "store", "testing", "tracking"]
BANNED_NAMES = {"utils.py", "helpers.py", "common.py", "misc.py"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_module_is_under_the_size_cap(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= 800


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_functions_are_under_the_size_cap(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            assert length <= 80, f"{path.name}:{node.name} is {length} lines"


def test_no_grab_bag_modules() -> None:
    assert not [p for p in MODULES if p.name in BANNED_NAMES]


@pytest.mark.parametrize("domain", DOMAINS)
def test_domain_surface_is_sorted(domain: str) -> None:
    module = importlib.import_module(f"conveyor.{domain}")
    names = getattr(module, "__all__", None)
    assert names is not None, f"conveyor.{domain} has no __all__"
    assert list(names) == sorted(names)


def test_store_and_blobs_import_no_higher_layer() -> None:
    higher = ("conveyor.tracking", "conveyor.server", "conveyor.cli")
    for package in ("store", "blobs"):
        for path in (SRC / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module:
                    assert not node.module.startswith(higher), f"{path}: {node.module}"


def test_tracking_does_not_import_server_or_cli() -> None:
    for path in (SRC / "tracking").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(("conveyor.server", "conveyor.cli")), path
