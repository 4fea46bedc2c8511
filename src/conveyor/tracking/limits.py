"""Validation of names and sizes, with MLflow's limits so that MLflow clients see the same rules."""

from __future__ import annotations

import math
import re

from conveyor.errors import InvalidArgumentError, LimitExceededError

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_RUN_NAME_LENGTH = 250
# The native API takes large metric batches; MLflow's log-batch is held to MLflow's own limits.
MAX_BATCH_METRICS = 100_000
MAX_BATCH_PARAMS = 1_000
MAX_BATCH_TAGS = 1_000
MAX_RESULTS = 50_000

_KEY_RE = re.compile(r"^[\w.\-/ :]+$")


def check_key(key: object, *, field: str) -> str:
    """Return ``key`` if it is a valid param, metric or tag name."""
    if not isinstance(key, str) or not key:
        msg = f"{field} must be a non-empty string, got {key!r}"
        raise InvalidArgumentError(msg, field=field)
    if len(key) > MAX_KEY_LENGTH:
        msg = f"{field} {key[:40]!r}... is {len(key)} characters; the limit is {MAX_KEY_LENGTH}"
        raise LimitExceededError(msg, field=field)
    if not _KEY_RE.match(key) or ".." in key.split("/") or key.startswith("/"):
        msg = (
            f"invalid {field} {key!r}: names may contain letters, digits, '_', '-', '.', "
            "' ', ':' and '/', must not start with '/' and must not contain '..'"
        )
        raise InvalidArgumentError(msg, field=field)
    return key


def check_value(value: object, *, field: str, limit: int) -> str:
    """Return ``value`` as a string if it fits in ``limit`` characters."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        msg = f"{field} is {len(text)} characters; the limit is {limit}. Store it as an artifact"
        raise LimitExceededError(msg, field=field)
    return text


def check_metric_value(value: object, *, key: str) -> float:
    """Return ``value`` as a float, rejecting booleans, strings and other non-numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:
            if isinstance(value, bool | bytes) or value is None:
                raise TypeError
            return float(value)  # type: ignore[arg-type]  # numpy scalars and Decimals
        except (TypeError, ValueError):
            msg = f"metric {key!r} must be a number, got {value!r}"
            raise InvalidArgumentError(msg, field="value") from None
    return float(value)


def check_int(value: object, *, field: str) -> int:
    """Return ``value`` as an int (timestamps and steps)."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        if isinstance(value, str) and value.lstrip("-").isdigit():
            return int(value)
        msg = f"{field} must be an integer, got {value!r}"
        raise InvalidArgumentError(msg, field=field)
    if not -(2**63) <= value < 2**63:
        msg = f"{field} {value} does not fit in 64 bits"
        raise InvalidArgumentError(msg, field=field)
    return value


def check_name(name: object, *, field: str, limit: int) -> str:
    """Return ``name`` stripped if it is a non-empty string within ``limit`` characters."""
    if not isinstance(name, str) or not name.strip():
        msg = f"{field} must be a non-empty string, got {name!r}"
        raise InvalidArgumentError(msg, field=field)
    if len(name) > limit:
        msg = f"{field} is {len(name)} characters; the limit is {limit}"
        raise LimitExceededError(msg, field=field)
    return name


def check_max_results(value: int, *, limit: int = MAX_RESULTS) -> int:
    """Return ``value`` if it is a sensible page size."""
    if value < 1 or value > limit:
        msg = f"max_results must be between 1 and {limit}, got {value}"
        raise InvalidArgumentError(msg, field="max_results")
    return value
