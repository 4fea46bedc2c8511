"""Identifier generation."""

from __future__ import annotations

import uuid


def new_id() -> str:
    """Return a new 32-character lowercase hex identifier (MLflow's run id shape)."""
    return uuid.uuid4().hex
