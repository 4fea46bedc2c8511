"""Regex scanner shared by the run-search filter and order-by parsers.

Internal to :mod:`conveyor.tracking.filters`: it knows the lexical rules (whitespace, quoted
strings, numbers, ``<prefix>.<key>`` identifiers) and how to word an error, nothing about which
comparator goes with which entity.

Quoted text (``'...'``, ``"..."``, `````...`````) accepts two escapes for its own quote
character, a doubled quote (``'it''s'``) and a backslash (``'it\\'s'``); ``\\\\`` stands for one
backslash and any other backslash is kept as written (``'C:\\temp'`` is ``C:\\temp``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from conveyor.errors import InvalidArgumentError, LimitExceededError

EntityType = Literal["metric", "param", "tag", "attribute", "dataset"]

MAX_TEXT_LENGTH: Final = 10_000
"""Longest filter (or single order-by item) accepted, in characters."""

PREFIXES: Final[dict[str, EntityType]] = {
    "metric": "metric",
    "metrics": "metric",
    "param": "param",
    "params": "param",
    "parameter": "param",
    "parameters": "param",
    "tag": "tag",
    "tags": "tag",
    "attribute": "attribute",
    "attributes": "attribute",
    "attr": "attribute",
    "run": "attribute",
    "dataset": "dataset",
    "datasets": "dataset",
}
CANONICAL_PREFIX: Final[dict[EntityType, str]] = {
    "metric": "metrics",
    "param": "params",
    "tag": "tags",
    "attribute": "attributes",
    "dataset": "datasets",
}
NUMERIC_ATTRIBUTES: Final = frozenset({"start_time", "end_time"})
STRING_ATTRIBUTES: Final = frozenset(
    {"run_id", "run_name", "status", "artifact_uri", "user_id", "lifecycle_stage"}
)
ATTRIBUTE_ALIASES: Final = {"created": "start_time", "run name": "run_name"}
DATASET_KEYS: Final = ("name", "digest", "context")

_QUOTES: Final = ("'", '"', "`")
_QUOTED: Final = {q: re.compile(f"{q}((?:{q}{q}|\\\\[\\s\\S]|[^{q}\\\\])*){q}") for q in _QUOTES}
_UNESCAPE: Final = {q: re.compile(f"\\\\([\\s\\S])|{q}{q}") for q in _QUOTES}
_PREFIX: Final = re.compile(r"(?:`(\w+)`|([A-Za-z_]\w*))\.")
BARE_KEY: Final = re.compile(r"[\w.\-/]+")
NUMBER: Final = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?(?![\w.])")
_DISPLAY_TOKEN: Final = re.compile(r"[\w.\-/+]+|[<>=!]+|\S")
_EXCERPT: Final = 160
_ALL_ATTRIBUTES: Final = ", ".join(sorted(NUMERIC_ATTRIBUTES | STRING_ATTRIBUTES))
_PREFIX_HELP: Final = (
    "metrics.<key>, params.<key>, tags.<key>, datasets.<name|digest|context> "
    f"or attributes.<name> (attributes: {_ALL_ATTRIBUTES})"
)


def unquote(body: str, quote: str) -> str:
    """Resolve the escapes in the text between a pair of ``quote`` characters."""

    def replace(match: re.Match[str]) -> str:
        escaped = match.group(1)
        if escaped is None:
            return quote
        return escaped if escaped in (quote, "\\") else match.group(0)

    return _UNESCAPE[quote].sub(replace, body)


def quote(text: str, mark: str = "'") -> str:
    """Quote ``text`` with ``mark`` so that the scanner reads it back unchanged."""
    return mark + text.replace("\\", "\\\\").replace(mark, mark * 2) + mark


def format_identifier(entity: EntityType, key: str) -> str:
    """Render ``<prefix>.<key>``, backtick-quoting keys that are not bare words."""
    shown = key if BARE_KEY.fullmatch(key) else quote(key, "`")
    return f"{CANONICAL_PREFIX[entity]}.{shown}"


@dataclass(slots=True)
class Scanner:
    """A cursor over filter or order-by text that reads one regex at a time.

    Attributes:
        text: The whole text being parsed.
        what: ``"filter"`` or ``"order_by"``; names the text and the error's field.
        pos: Offset of the next unread character.
    """

    text: str
    what: str
    pos: int = 0

    def __post_init__(self) -> None:
        if len(self.text) > MAX_TEXT_LENGTH:
            raise LimitExceededError(
                f"{self.what} is {len(self.text)} characters long; the limit is {MAX_TEXT_LENGTH}",
                field=self.what,
            )

    def at_end(self) -> bool:
        """Skip whitespace and tell whether nothing is left."""
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1
        return self.pos >= len(self.text)

    def take(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        """Skip whitespace, then consume ``pattern`` if it matches here."""
        self.at_end()
        match = pattern.match(self.text, self.pos)
        if match is not None:
            self.pos = match.end()
        return match

    def take_quoted(self, quotes: str = "'\"`") -> tuple[str, str] | None:
        """Consume a quoted token, returning ``(quote mark, unescaped text)``.

        Raises:
            InvalidArgumentError: The quote is never closed.
        """
        if self.at_end() or self.text[self.pos] not in quotes:
            return None
        mark = self.text[self.pos]
        match = self.take(_QUOTED[mark])
        if match is None:
            raise self.error(f"unterminated {mark}...{mark} string; close it with {mark}")
        return mark, unquote(match.group(1), mark)

    def next_token(self) -> str | None:
        """Return the next token as written (cut to 40 characters), ``None`` at the end."""
        if self.at_end():
            return None
        mark = self.text[self.pos]
        found = _QUOTED[mark].match(self.text, self.pos) if mark in _QUOTES else None
        found = found or _DISPLAY_TOKEN.match(self.text, self.pos)
        token = found.group(0) if found else self.text[self.pos]
        return token if len(token) <= 40 else token[:37] + "..."

    def peek(self) -> str:
        """Describe the next token for an error message: ``'abc'``, ``'<>'``, ``end of ...``."""
        token = self.next_token()
        if token is None:
            return f"end of {self.what}"
        return token if len(token) > 1 and token[0] in _QUOTES else repr(token)

    def error(self, problem: str, at: int | None = None) -> InvalidArgumentError:
        """Build the error for ``problem`` found at ``at`` (default: the cursor)."""
        where = self.pos if at is None else at
        shown = self.text
        if len(shown) > _EXCERPT:
            start = max(0, min(where - _EXCERPT // 2, len(shown) - _EXCERPT))
            end = start + _EXCERPT
            shown = (
                ("..." if start else "") + shown[start:end] + ("..." if end < len(shown) else "")
            )
        return InvalidArgumentError(
            f'invalid {self.what} "{shown}" at position {where}: {problem}', field=self.what
        )


def read_identifier(scanner: Scanner) -> tuple[EntityType, str]:
    """Read ``<prefix>.<key>`` (or a bare attribute name) and resolve it.

    Returns:
        The entity type and the key; attribute keys come back canonical (``created`` is
        ``start_time``, ``run name`` is ``run_name``).

    Raises:
        InvalidArgumentError: Unknown prefix, missing or empty key, unknown attribute or
            dataset field.
    """
    scanner.at_end()
    start = scanner.pos
    prefix = scanner.take(_PREFIX)
    entity: EntityType | None = None
    if prefix is not None:
        name = prefix.group(1) or prefix.group(2)
        entity = PREFIXES.get(name.lower())
        if entity is None:
            raise scanner.error(f"unknown entity prefix {name!r}; use {_PREFIX_HELP}", start)
    key = _read_key(scanner, prefix.group(0) if prefix else None)
    if entity is None:
        return "attribute", _resolve_bare(scanner, key, start)
    return entity, _resolve_key(scanner, entity, key, start)


def _read_key(scanner: Scanner, prefix: str | None) -> str:
    if scanner.pos < len(scanner.text) and scanner.text[scanner.pos].isspace() and prefix:
        raise scanner.error(f"expected a key right after {prefix!r}, got whitespace")
    quoted = scanner.take_quoted()
    if quoted is not None:
        key = quoted[1]
    else:
        bare = scanner.take(BARE_KEY)
        if bare is None:
            wanted = f"a key after {prefix!r}" if prefix else "an identifier such as metrics.loss"
            raise scanner.error(f"expected {wanted}, got {scanner.peek()}")
        key = bare.group(0)
    if not key:
        raise scanner.error("empty key; name a metric, param, tag or attribute")
    return key


def _resolve_bare(scanner: Scanner, key: str, start: int) -> str:
    canonical = _canonical_attribute(key)
    if canonical is None:
        raise scanner.error(
            f"{key!r} has no entity prefix; write metrics.{key}, params.{key} or tags.{key} "
            f"(prefixes: {_PREFIX_HELP})",
            start,
        )
    return canonical


def _resolve_key(scanner: Scanner, entity: EntityType, key: str, start: int) -> str:
    if entity == "attribute":
        canonical = _canonical_attribute(key)
        if canonical is None:
            raise scanner.error(f"unknown attribute {key!r}; use one of {_ALL_ATTRIBUTES}", start)
        return canonical
    if entity == "dataset":
        if key.lower() not in DATASET_KEYS:
            raise scanner.error(
                f"unknown dataset field {key!r}; use one of {', '.join(DATASET_KEYS)}", start
            )
        return key.lower()
    return key


def _canonical_attribute(key: str) -> str | None:
    lowered = key.lower()
    lowered = ATTRIBUTE_ALIASES.get(lowered, lowered)
    if lowered in NUMERIC_ATTRIBUTES or lowered in STRING_ATTRIBUTES:
        return lowered
    return None
