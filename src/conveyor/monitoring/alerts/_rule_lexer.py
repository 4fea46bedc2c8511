"""Tokenizer for the alert rule language (internal to :mod:`conveyor.monitoring.alerts.rules`).

It knows the lexical rules (words, numbers, quoted column names, comparators, parentheses) and
how to word an error that points at a position; the grammar lives in ``rules.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from conveyor.errors import InvalidArgumentError, LimitExceededError

TokenKind = Literal["word", "number", "string", "op", "(", ")", "*", "end"]

MAX_RULE_LENGTH: Final = 1_000
"""Longest rule text accepted, in characters."""

BARE_LABEL: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_WORD: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_NUMBER: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?(?![\w.])")
_OP: Final = re.compile(r">=|<=|==|!=|>|<")
_STRING: Final = re.compile(r'"((?:\\[\s\S]|[^"\\])*)"|\'((?:\\[\s\S]|[^\'\\])*)\'')
_ESCAPE: Final = re.compile(r"\\([\s\S])")
_PATTERNS: Final[tuple[tuple[TokenKind, re.Pattern[str]], ...]] = (
    ("number", _NUMBER),
    ("op", _OP),
    ("word", _WORD),
)
_EXCERPT: Final = 80


@dataclass(frozen=True, slots=True)
class Token:
    """One lexical token: its kind, its text (unescaped for strings) and its offset."""

    kind: TokenKind
    text: str
    pos: int
    end: int

    def describe(self) -> str:
        """Name the token for an error message."""
        if self.kind == "end":
            return "the end of the rule"
        shown = self.text if len(self.text) <= 30 else self.text[:27] + "..."
        return repr(shown)


def quote_label(label: str) -> str:
    """Write a column label so that the lexer reads it back unchanged."""
    if BARE_LABEL.fullmatch(label):
        return label
    return '"' + label.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rule_error(text: str, pos: int, problem: str) -> InvalidArgumentError:
    """Build the parse error for ``problem`` at offset ``pos`` of ``text``, with a caret."""
    start = max(0, pos - _EXCERPT // 2)
    shown = text[start : start + _EXCERPT].replace("\n", " ").replace("\t", " ")
    prefix = "..." if start else ""
    caret = " " * (len(prefix) + pos - start) + "^"
    msg = f"invalid alert rule at column {pos + 1}: {problem}\n  {prefix}{shown}\n  {caret}"
    return InvalidArgumentError(msg, field="rule")


def tokenize(text: str) -> list[Token]:
    """Split rule ``text`` into tokens, ending with an ``end`` token.

    Raises:
        InvalidArgumentError: An unterminated string or a character the language has no use for.
        LimitExceededError: The text is longer than :data:`MAX_RULE_LENGTH`.
    """
    if len(text) > MAX_RULE_LENGTH:
        msg = f"alert rule is {len(text)} characters long; the limit is {MAX_RULE_LENGTH}"
        raise LimitExceededError(msg, field="rule")
    tokens: list[Token] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            tokens.append(Token("end", "", pos, pos))
            return tokens
        token = _read_token(text, pos)
        tokens.append(token)
        pos = token.end


def _read_token(text: str, pos: int) -> Token:
    char = text[pos]
    if char in "()*":
        kind: TokenKind = "(" if char == "(" else ")" if char == ")" else "*"
        return Token(kind, char, pos, pos + 1)
    if char in "\"'":
        match = _STRING.match(text, pos)
        if match is None:
            raise rule_error(text, pos, f"unterminated string; close it with {char}")
        body = match.group(1) if match.group(1) is not None else match.group(2)
        return Token("string", _ESCAPE.sub(r"\1", body), pos, match.end())
    for kind, pattern in _PATTERNS:
        match = pattern.match(text, pos)
        if match is not None:
            return Token(kind, match.group(0), pos, match.end())
    if char.isdigit() or char in "+-.":
        problem = "malformed number; write a decimal such as 0.25 or 1e-3"
    elif char == "=":
        problem = "unexpected '='; write == to test equality"
    else:
        problem = f"unexpected character {char!r}"
    raise rule_error(text, pos, problem)
