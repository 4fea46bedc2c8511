"""Render result dataclasses as JSON-ready dicts: infinities and NaN become ``None``."""

from __future__ import annotations

import dataclasses
import math
from typing import Any


def json_safe(value: Any) -> Any:
    """Return ``value`` with dataclasses as dicts, tuples as lists and non-finite floats as None.

    Strict JSON (and orjson) has no infinity; a statistic that is infinite (an exact
    difference between two zero-variance arms) is reported as ``None`` beside a note.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: json_safe(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [json_safe(item) for item in value]
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
