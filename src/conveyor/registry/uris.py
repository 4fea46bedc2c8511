"""Model names, aliases and ``models:/`` URIs.

``models:/churn/3`` names a version, ``models:/churn@production`` an alias, ``models:/churn/latest``
the newest version and ``models:/churn/Production`` the newest version in a legacy MLflow stage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from conveyor.errors import InvalidArgumentError

MODEL_NAME_MAX = 250
_NAME = re.compile(r"[^/@:\x00-\x1f]{1,250}")
_ALIAS = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,249}")
_RESERVED_ALIAS = re.compile(r"(?i)latest|v\d+")
STAGES = ("None", "Staging", "Production", "Archived")


def check_name(name: object, *, field: str = "name") -> str:
    """Return a valid registered-model name or raise, naming ``field``."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name != name.strip():
        msg = (
            f"{field} must be 1-{MODEL_NAME_MAX} characters without '/', '@', ':' or leading/"
            f"trailing spaces; got {name!r}"
        )
        raise InvalidArgumentError(msg, field=field)
    return name


def check_alias(alias: object, *, field: str = "alias") -> str:
    """Return a valid alias (``production``, ``champion``...) or raise, naming ``field``."""
    if not isinstance(alias, str) or not _ALIAS.fullmatch(alias):
        msg = (
            f"{field} must start with a letter or '_' and contain only letters, digits, '_' and "
            f"'-' (at most 250); got {alias!r}"
        )
        raise InvalidArgumentError(msg, field=field)
    if _RESERVED_ALIAS.fullmatch(alias):
        msg = f"{field} {alias!r} is reserved ('latest' and 'v<number>' name versions)"
        raise InvalidArgumentError(msg, field=field)
    return alias


def check_version(version: object, *, field: str = "version") -> int:
    """Return a positive version number (ints or digit strings) or raise."""
    if isinstance(version, bool):
        version = None
    if isinstance(version, str) and version.isdigit():
        version = int(version)
    if not isinstance(version, int) or not 1 <= version < 2**31:
        msg = f"{field} must be a positive integer; got {version!r}"
        raise InvalidArgumentError(msg, field=field)
    return version


def check_stage(stage: object, *, field: str = "stage") -> str:
    """Return the canonical spelling of a legacy stage (case-insensitive) or raise."""
    if isinstance(stage, str):
        for known in STAGES:
            if stage.lower() == known.lower():
                return known
    msg = f"{field} must be one of {', '.join(STAGES)}; got {stage!r}"
    raise InvalidArgumentError(msg, field=field)


@dataclass(frozen=True)
class ModelRef:
    """A parsed ``models:/`` URI: exactly one of version, alias, stage or latest is set."""

    name: str
    version: int | None = None
    alias: str | None = None
    stage: str | None = None
    latest: bool = False
    path: str = ""  # a file inside the model directory, after the reference

    def uri(self) -> str:
        """Render the reference back as a URI."""
        if self.alias is not None:
            base = f"models:/{self.name}@{self.alias}"
        elif self.version is not None:
            base = f"models:/{self.name}/{self.version}"
        elif self.stage is not None:
            base = f"models:/{self.name}/{self.stage}"
        else:
            base = f"models:/{self.name}/latest"
        return f"{base}/{self.path}" if self.path else base


_URI_HELP = (
    "use models:/NAME/VERSION, models:/NAME@ALIAS, models:/NAME/latest or models:/NAME/STAGE"
)


def parse_model_uri(uri: object, *, field: str = "model_uri") -> ModelRef:
    """Parse a ``models:/`` URI; a malformed one raises an error that shows the accepted forms."""
    if not isinstance(uri, str) or not uri.startswith("models:/"):
        msg = f"{field} {uri!r} is not a models:/ URI: {_URI_HELP}"
        raise InvalidArgumentError(msg, field=field)
    rest = uri[len("models:/") :].lstrip("/")
    head, _, tail = rest.partition("/")
    if "@" in head:
        name, _, alias = head.partition("@")
        if not name or not alias:
            msg = f"{field} {uri!r} is malformed: {_URI_HELP}"
            raise InvalidArgumentError(msg, field=field)
        return ModelRef(
            check_name(name, field=field), alias=check_alias(alias, field=field), path=tail
        )
    name = head
    selector, _, path = tail.partition("/")
    if not name or not selector:
        msg = f"{field} {uri!r} names no version: {_URI_HELP}"
        raise InvalidArgumentError(msg, field=field)
    check_name(name, field=field)
    if selector.isdigit():
        return ModelRef(name, version=check_version(selector, field=field), path=path)
    if selector.lower() == "latest":
        return ModelRef(name, latest=True, path=path)
    try:
        return ModelRef(name, stage=check_stage(selector, field=field), path=path)
    except InvalidArgumentError:
        msg = f"{field} {uri!r}: {selector!r} is not a version, 'latest' or a stage; {_URI_HELP}"
        raise InvalidArgumentError(msg, field=field) from None
