"""Every rollout module's docstring examples run and print what they claim."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "abtest",
    "accumulators",
    "analysis",
    "champion",
    "latency",
    "prediction_shift",
    "sequential",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(f"conveyor.rollout.{name}")
    result = doctest.testmod(module, raise_on_error=False)
    assert result.failed == 0
    assert result.attempted > 0
