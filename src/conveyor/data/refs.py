"""Dataset references: ``NAME``, ``NAME@V``, ``data:NAME@V`` and ranges ``NAME@A..B``.

A reference names a dataset and, optionally, one of its versions (none: the latest)::

    >>> parse_ref("data:churn-train@3")
    DatasetRef(name='churn-train', version=3)
    >>> str(parse_ref("churn-train"))
    'churn-train'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from conveyor.errors import InvalidArgumentError

SCHEME = "data:"
MAX_NAME_LENGTH = 250  # datasets.name is String(250)
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_EXAMPLE = "e.g. churn-train, churn-train@3 or data:churn-train@3"


@dataclass(frozen=True)
class DatasetRef:
    """A dataset name and an optional version (``None``: the latest)."""

    name: str
    version: int | None = None

    def __str__(self) -> str:
        return self.name if self.version is None else f"{self.name}@{self.version}"


def validate_name(name: object, *, field: str = "name") -> str:
    """Return ``name`` if it can name a dataset: letters, digits, ``.``, ``_`` and ``-``.

    Raises:
        InvalidArgumentError: the name is empty, too long or has other characters.
    """
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or len(name) > MAX_NAME_LENGTH:
        msg = (
            f"invalid dataset name {name!r}: use 1-{MAX_NAME_LENGTH} letters, digits, '.', '_' "
            "or '-', starting with a letter or digit (e.g. churn-train)"
        )
        raise InvalidArgumentError(msg, field=field)
    return name


def validate_version(version: object, *, field: str = "version") -> int:
    """Return ``version`` if it is a version number (an integer from 1)."""
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        msg = f"invalid dataset version {version!r}: versions are integers from 1"
        raise InvalidArgumentError(msg, field=field)
    return version


def _version(text: str, ref: str, field: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        msg = (
            f"invalid dataset reference {ref!r}: the version after '@' must be an integer "
            f"from 1 ({_EXAMPLE}); leave out '@' for the latest version"
        )
        raise InvalidArgumentError(msg, field=field)
    return int(text)


def _split(text: object, field: str) -> tuple[str, str | None]:
    if not isinstance(text, str) or not text.strip():
        msg = f"missing dataset reference: give one, {_EXAMPLE}"
        raise InvalidArgumentError(msg, field=field)
    body = text.strip().removeprefix(SCHEME)
    name, at, rest = body.partition("@")
    if "@" in rest:
        msg = f"invalid dataset reference {text!r}: use one '@' between name and version"
        raise InvalidArgumentError(msg, field=field)
    try:
        validate_name(name, field=field)
    except InvalidArgumentError as exc:
        msg = f"invalid dataset reference {text!r}: {exc.message}"
        raise InvalidArgumentError(msg, field=field) from exc
    return name, (rest if at else None)


def parse_ref(text: object, *, field: str = "dataset") -> DatasetRef:
    """Parse ``NAME``, ``NAME@V`` or ``data:NAME@V``.

    Raises:
        InvalidArgumentError: the reference is malformed; the message shows the accepted forms.
    """
    name, version = _split(text, field)
    if version is None:
        return DatasetRef(name)
    return DatasetRef(name, _version(version, str(text), field))


def parse_range(text: object, *, field: str = "dataset") -> tuple[DatasetRef, DatasetRef] | None:
    """Parse ``NAME@A..B`` into two references; ``None`` when ``text`` is not a range."""
    name, version = _split(text, field)
    if version is None or ".." not in version:
        return None
    low, _, high = version.partition("..")
    return (
        DatasetRef(name, _version(low, str(text), field)),
        DatasetRef(name, _version(high, str(text), field)),
    )
