"""Validation of user and project names (they appear in URLs, subjects and audit events)."""

from __future__ import annotations

import re

from conveyor.errors import InvalidArgumentError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")


def check_name(value: str, *, field: str) -> str:
    """Return ``value`` if it is a valid user or project name, else say what is allowed."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        msg = (
            f"{field} {value!r} is not a valid name: use 1-100 letters, digits, '.', '_', '@' "
            "or '-', starting with a letter or digit"
        )
        raise InvalidArgumentError(msg, field=field)
    return value
