"""Alert rules: a small condition language, its hand-written parser, and the rule value type.

Grammar (keywords are case-insensitive; a column label keeps its case)::

    rule       := signal [ "(" label ")" ] comparator number
                  [ "for" integer ( "window" | "windows" ) ]
                  [ "clear" ( "below" | "above" ) number ]
                  [ "warning" | "critical" ]
    label      := word | number | quoted-string | "*"
    comparator := ">" | ">=" | "<" | "<=" | "==" | "!="

Examples: ``psi(age) > 0.25 for 3 windows``, ``estimated_accuracy < 0.8 clear above 0.85
critical``, ``js(*) >= 0.1 for 2 windows`` (``*`` fans out to every column the window reports).

Semantics: a window *breaches* when ``value <comparator> threshold`` holds; a firing alert
*recovers* once the same comparison no longer holds against the clear threshold (hysteresis, as
in Prometheus' ``keep_firing_for`` and Grafana's recovery threshold), which defaults to the
threshold itself. The parser never calls ``eval``: it reads tokens from ``_rule_lexer``.
"""

from __future__ import annotations

import dataclasses
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.alerts._rule_lexer import Token, quote_label, rule_error, tokenize
from conveyor.monitoring.alerts.signals import PER_COLUMN_SIGNALS, SIGNALS, suggest_signal

Comparator = Literal[">", ">=", "<", "<=", "==", "!="]
Severity = Literal["warning", "critical"]

MAX_FOR_WINDOWS: Final = 10_000
"""Largest ``for N windows`` accepted; a longer run is better expressed on a coarser window."""

_COMPARE: Final[dict[str, Callable[[float, float], bool]]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
_CLEAR_SIDE: Final[dict[str, str]] = {">": "below", ">=": "below", "<": "above", "<=": "above"}
_SEVERITIES: Final = frozenset(get_args(Severity))
_NAME_RULE: Final = "a non-empty string of at most 500 characters"
_COMPARATORS: Final[dict[str, Comparator]] = {c: c for c in get_args(Comparator)}


@dataclass(frozen=True, slots=True)
class AlertRule:
    """One alert condition over one signal, validated on construction.

    Attributes:
        name: Unique name of the rule (silences and events refer to it); defaults to the
            canonical rule text when parsed without one.
        signal: A name from :data:`~conveyor.monitoring.alerts.signals.SIGNALS`.
        label: The column (or segment) the rule watches; ``""`` for a whole-window signal.
        is_wildcard: ``True`` for ``signal(*)``: the rule fans out to every label reported.
        comparator: How the value is compared with ``threshold``.
        threshold: The breach threshold (finite).
        for_windows: Consecutive breaching windows needed before the alert fires.
        clear: The recovery threshold; equal to ``threshold`` when the rule has no ``clear``.
        severity: ``"warning"`` or ``"critical"``.
    """

    name: str
    signal: str
    comparator: Comparator
    threshold: float
    label: str = ""
    is_wildcard: bool = False
    for_windows: int = 1
    clear: float | None = None
    severity: Severity = "warning"

    def __post_init__(self) -> None:
        if self.clear is None:
            object.__setattr__(self, "clear", self.threshold)
        _validate(self)

    @property
    def clear_threshold(self) -> float:
        """The recovery threshold as a float (``clear`` is always set after construction)."""
        return self.threshold if self.clear is None else self.clear

    def breaches(self, value: float) -> bool:
        """Tell whether ``value`` breaches the rule."""
        return _COMPARE[self.comparator](value, self.threshold)

    def recovers(self, value: float) -> bool:
        """Tell whether ``value`` is back on the safe side of the clear threshold."""
        return not _COMPARE[self.comparator](value, self.clear_threshold)

    def __str__(self) -> str:
        """Render the canonical rule text, which :func:`parse_rule` reads back to this rule."""
        target = ""
        if self.is_wildcard:
            target = "(*)"
        elif self.label:
            target = f"({quote_label(self.label)})"
        parts = [f"{self.signal}{target} {self.comparator} {self.threshold!r}"]
        if self.for_windows != 1:
            parts.append(f"for {self.for_windows} windows")
        if self.clear_threshold != self.threshold:
            parts.append(f"clear {_CLEAR_SIDE[self.comparator]} {self.clear_threshold!r}")
        if self.severity != "warning":
            parts.append(self.severity)
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Serialise the rule; :meth:`from_dict` reads ``name`` and ``rule`` back."""
        return {
            "name": self.name,
            "rule": str(self),
            "signal": self.signal,
            "label": self.label,
            "is_wildcard": self.is_wildcard,
            "comparator": self.comparator,
            "threshold": self.threshold,
            "for_windows": self.for_windows,
            "clear": self.clear_threshold,
            "severity": self.severity,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertRule:
        """Rebuild a rule from :meth:`to_dict` output (the ``rule`` text is authoritative).

        Raises:
            InvalidArgumentError: ``rule`` or ``name`` is missing or invalid.
        """
        text, name = data.get("rule"), data.get("name")
        if not isinstance(text, str) or not isinstance(name, str):
            msg = "alert rule dict needs string 'rule' and 'name' entries, as to_dict() writes"
            raise InvalidArgumentError(msg, field="rule")
        return parse_rule(text, name=name)


def parse_rule(text: str, *, name: str | None = None) -> AlertRule:
    """Parse one rule written in the alert rule language.

    Args:
        text: The rule, e.g. ``"psi(age) > 0.25 for 3 windows clear below 0.2 critical"``.
        name: The rule's name; defaults to the canonical rule text.

    Returns:
        The validated rule; ``str(rule)`` is its canonical text.

    Raises:
        InvalidArgumentError: With ``field="rule"``, naming the position and what was expected.

    Examples:
        >>> rule = parse_rule("PSI(age) > 0.25 for 3 windows")
        >>> str(rule), rule.breaches(0.3), rule.recovers(0.25)
        ('psi(age) > 0.25 for 3 windows', True, True)
    """
    _require_text(text)
    fields = _Parser(text, tokenize(text)).parse()
    try:
        rule = AlertRule(name=name if name is not None else "-", **fields)
    except InvalidArgumentError as exc:
        # Only an invalid ``name`` gets here: the parser checks every other field itself.
        raise InvalidArgumentError(exc.message, field="name") from None
    return rule if name is not None else dataclasses.replace(rule, name=str(rule))


class _Parser:
    """Recursive-descent reader over the token list; one method per grammar clause."""

    def __init__(self, text: str, tokens: list[Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.index = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.current
        if token.kind != "end":
            self.index += 1
        return token

    def keyword(self, *words: str) -> str | None:
        """Consume the current token if it is one of ``words`` (case-insensitive)."""
        token = self.current
        if token.kind == "word" and token.text.lower() in words:
            self.advance()
            return token.text.lower()
        return None

    def fail(self, expected: str, token: Token | None = None) -> InvalidArgumentError:
        token = token or self.current
        return rule_error(self.text, token.pos, f"expected {expected}, found {token.describe()}")

    def parse(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"signal": self.signal()}
        fields["label"], fields["is_wildcard"] = self.target(fields["signal"])
        fields["comparator"] = self.comparator()
        fields["threshold"] = self.number("a threshold number such as 0.25")
        if self.keyword("for"):
            fields["for_windows"] = self.windows()
        if self.keyword("clear"):
            fields["clear"] = self.clear(fields["comparator"], fields["threshold"])
        severity = self.keyword(*_SEVERITIES)
        if severity is not None:
            fields["severity"] = severity
        if self.current.kind != "end":
            raise self.fail(self.expected_tail(fields))
        return fields

    def signal(self) -> str:
        token = self.current
        if token.kind != "word":
            raise self.fail("a signal name such as psi, missing_rate or estimated_accuracy")
        name = token.text.lower()
        if name not in SIGNALS:
            problem = f"unknown signal {token.text!r}; {suggest_signal(name)}"
            raise rule_error(self.text, token.pos, problem)
        self.advance()
        return name

    def target(self, signal: str) -> tuple[str, bool]:
        if self.current.kind != "(":
            if signal in PER_COLUMN_SIGNALS:
                hint = f"'(' and a column ({signal} is measured per column: {signal}(age)"
                raise self.fail(f"{hint}, or {signal}(*) for every column)")
            return "", False
        self.advance()
        token = self.advance()
        if token.kind not in ("word", "number", "string", "*"):
            raise self.fail("a column name, a quoted name or *", token)
        if token.kind == "string" and not token.text:
            raise rule_error(self.text, token.pos, 'empty column name ""; name a column')
        close = self.advance()
        if close.kind != ")":
            raise self.fail("')' to close the column name", close)
        return ("", True) if token.kind == "*" else (token.text, False)

    def comparator(self) -> Comparator:
        token = self.current
        if token.kind != "op":
            raise self.fail("a comparator: >, >=, <, <=, == or !=")
        self.advance()
        return _COMPARATORS[token.text]

    def number(self, what: str) -> float:
        token = self.current
        if token.kind != "number":
            raise self.fail(what)
        value = float(token.text)
        if not math.isfinite(value):
            raise rule_error(
                self.text, token.pos, f"{token.text} is out of range; use a finite number"
            )
        self.advance()
        return value

    def windows(self) -> int:
        token = self.current
        if token.kind != "number" or not token.text.isdigit():
            raise self.fail("a whole number of windows after 'for', as in 'for 3 windows'")
        count = int(token.text)
        if not 1 <= count <= MAX_FOR_WINDOWS:
            problem = f"'for {count} windows' is out of range; use 1 to {MAX_FOR_WINDOWS}"
            raise rule_error(self.text, token.pos, problem)
        self.advance()
        if self.keyword("window", "windows") is None:
            raise self.fail("'windows' after the count")
        return count

    def clear(self, comparator: Comparator, threshold: float) -> float:
        token = self.current
        side = self.keyword("below", "above")
        if side is None:
            raise self.fail("'below' or 'above' after 'clear'")
        expected = _CLEAR_SIDE.get(comparator)
        if expected is None:
            problem = f"'clear' does not apply to {comparator!r}; the alert clears when it is false"
            raise rule_error(self.text, token.pos, problem)
        if side != expected:
            problem = (
                f"a {comparator!r} rule clears when the value moves {expected} the threshold; "
                f"write 'clear {expected} <number>'"
            )
            raise rule_error(self.text, token.pos, problem)
        at = self.current
        clear = self.number(f"a number after 'clear {side}'")
        if (clear > threshold) if side == "below" else (clear < threshold):
            problem = f"clear threshold {at.text} must be at or {side} the threshold {threshold!r}"
            raise rule_error(self.text, at.pos, problem)
        return clear

    def expected_tail(self, fields: Mapping[str, Any]) -> str:
        if "severity" in fields:
            return "the end of the rule (the severity comes last)"
        options = [] if "for_windows" in fields or "clear" in fields else ["for"]
        options += [] if "clear" in fields else ["clear"]
        options += ["warning", "critical"]
        return ", ".join(f"'{o}'" for o in options) + " or the end of the rule"


def _require_text(text: object) -> None:
    if not isinstance(text, str):
        msg = f"alert rule must be a string such as 'psi(age) > 0.25', got {type(text).__name__}"
        raise InvalidArgumentError(msg, field="rule")


def _validate(rule: AlertRule) -> None:
    """Check a rule built directly (not parsed); the parser reports the same faults earlier."""
    checks: list[tuple[bool, str, str]] = [
        (isinstance(rule.name, str) and 0 < len(rule.name) <= 500, "name", _NAME_RULE),
        (rule.signal in SIGNALS, "signal", f"a known signal ({suggest_signal(rule.signal)})"),
        (rule.comparator in _COMPARE, "comparator", "one of >, >=, <, <=, ==, !="),
        (_finite(rule.threshold), "threshold", "a finite number"),
        (_finite(rule.clear), "clear", "a finite number"),
        (isinstance(rule.label, str), "label", "a string"),
        (not (rule.is_wildcard and rule.label), "label", "empty when is_wildcard is set"),
        (rule.severity in _SEVERITIES, "severity", "'warning' or 'critical'"),
    ]
    for ok, field, expected in checks:
        if not ok:
            msg = f"alert rule {field} must be {expected}, got {getattr(rule, field)!r}"
            raise InvalidArgumentError(msg, field=field)
    _validate_shape(rule)


def _validate_shape(rule: AlertRule) -> None:
    count = rule.for_windows
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_FOR_WINDOWS:
        msg = (
            f"alert rule for_windows must be an integer from 1 to {MAX_FOR_WINDOWS}, got {count!r}"
        )
        raise InvalidArgumentError(msg, field="for_windows")
    if rule.signal in PER_COLUMN_SIGNALS and not (rule.label or rule.is_wildcard):
        msg = f"{rule.signal} is measured per column; give a label (column) or is_wildcard=True"
        raise InvalidArgumentError(msg, field="label")
    clear, side = rule.clear_threshold, _CLEAR_SIDE.get(rule.comparator)
    wrong_side = (side == "below" and clear > rule.threshold) or (
        side == "above" and clear < rule.threshold
    )
    if wrong_side or (side is None and clear != rule.threshold):
        where = f"{side} the threshold" if side else "equal to the threshold (no hysteresis)"
        msg = (
            f"alert rule clear={clear!r} must be {where} {rule.threshold!r} for {rule.comparator!r}"
        )
        raise InvalidArgumentError(msg, field="clear")


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
