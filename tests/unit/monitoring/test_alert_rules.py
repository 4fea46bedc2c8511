"""The alert rule language: parsing, canonical text, validation and error messages."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.errors import InvalidArgumentError, LimitExceededError
from conveyor.monitoring.alerts import AlertRule, Comparator, parse_rule
from conveyor.monitoring.alerts.rules import MAX_FOR_WINDOWS
from conveyor.monitoring.alerts.signals import PER_COLUMN_SIGNALS, SIGNALS, suggest_signal

COMPARATORS: list[Comparator] = [">", ">=", "<", "<=", "==", "!="]
finite = st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def rules(draw: st.DrawFn) -> AlertRule:
    signal = draw(st.sampled_from(sorted(SIGNALS)))
    is_wildcard = draw(st.booleans())
    label = "" if is_wildcard else draw(st.text(min_size=1, max_size=12))
    if signal not in PER_COLUMN_SIGNALS and not is_wildcard:
        label = draw(st.sampled_from(["", label]))
    comparator = draw(st.sampled_from(COMPARATORS))
    threshold = draw(finite)
    clear = threshold
    if comparator in (">", ">="):
        clear = draw(st.floats(max_value=threshold, allow_nan=False, allow_infinity=False))
    elif comparator in ("<", "<="):
        clear = draw(st.floats(min_value=threshold, allow_nan=False, allow_infinity=False))
    return AlertRule(
        name=draw(st.text(min_size=1, max_size=20)),
        signal=signal,
        label=label,
        is_wildcard=is_wildcard,
        comparator=comparator,
        threshold=threshold,
        for_windows=draw(st.integers(1, MAX_FOR_WINDOWS)),
        clear=clear,
        severity=draw(st.sampled_from(["warning", "critical"])),
    )


FRAGMENTS = [
    "psi", "js", "estimated_accuracy", "(", ")", "*", "age", '"a b"', "'x'", ">", ">=", "<",
    "==", "!=", "=", "0.25", "-1e3", "3", "for", "windows", "window", "clear", "below", "above",
    "critical", "warning", "1e999", '"', "\\", "0x1", ".", "nan", "inf",
]  # fmt: skip


@given(rules())
def test_canonical_text_parses_back_to_the_same_rule(rule: AlertRule) -> None:
    assert parse_rule(str(rule), name=rule.name) == rule


@given(rules())
def test_rule_dict_round_trips(rule: AlertRule) -> None:
    assert AlertRule.from_dict(rule.to_dict()) == rule


@settings(max_examples=300)
@given(
    st.one_of(st.text(max_size=60), st.lists(st.sampled_from(FRAGMENTS), max_size=40).map(" ".join))
)
def test_garbage_raises_only_invalid_argument(text: str) -> None:
    error: InvalidArgumentError | None = None
    try:
        rule = parse_rule(text)
    except InvalidArgumentError as exc:
        error = exc
    if error is None:
        assert parse_rule(str(rule)) == rule
    else:
        assert error.field == "rule"
        assert "column" in error.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("psi(age) > 0.25 for 3 windows", ("psi", "age", ">", 0.25, 3, 0.25, "warning")),
        ("estimated_accuracy < 0.8", ("estimated_accuracy", "", "<", 0.8, 1, 0.8, "warning")),
        ("missing_rate(x) > 0.05", ("missing_rate", "x", ">", 0.05, 1, 0.05, "warning")),
        (
            "accuracy <= 0.8 for 1 window clear above 0.85 critical",
            ("accuracy", "", "<=", 0.8, 1, 0.85, "critical"),
        ),
        ("KS('my col') != 1E-2 WARNING", ("ks", "my col", "!=", 0.01, 1, 0.01, "warning")),
        ("psi(2019) >= -.5", ("psi", "2019", ">=", -0.5, 1, -0.5, "warning")),
    ],
)
def test_parse_reads_every_clause(text: str, expected: tuple[object, ...]) -> None:
    rule = parse_rule(text)
    got = (rule.signal, rule.label, rule.comparator, rule.threshold, rule.for_windows)
    assert (*got, rule.clear, rule.severity) == expected
    assert rule.name == str(rule)


def test_wildcard_is_distinct_from_a_column_named_star() -> None:
    wildcard, literal = parse_rule("js(*) >= 0.1 for 2 windows"), parse_rule('js("*") >= 0.1')
    assert wildcard.is_wildcard
    assert not wildcard.label
    assert (literal.is_wildcard, literal.label) == (False, "*")
    assert str(literal) == 'js("*") >= 0.1'


def test_canonical_text_omits_defaults_and_quotes_odd_labels() -> None:
    rule = parse_rule('psi("a \\"b\\"") > 0.25 for 1 window clear below 0.25 warning')
    assert rule.label == 'a "b"'
    assert str(rule) == 'psi("a \\"b\\"") > 0.25'


@pytest.mark.parametrize(
    ("comparator", "value", "breaches", "recovers"),
    [
        (">", 0.3, True, False),
        (">", 0.25, False, False),
        (">", 0.2, False, True),
        (">=", 0.25, True, False),
        ("<", 0.7, True, False),
        ("<", 0.85, False, True),
    ],
)
def test_breach_and_recovery_use_the_two_thresholds(
    comparator: str, value: float, breaches: bool, recovers: bool
) -> None:
    clear = "clear below 0.2" if comparator.startswith(">") else "clear above 0.85"
    threshold = 0.25 if comparator.startswith(">") else 0.8
    rule = parse_rule(f"accuracy {comparator} {threshold} {clear}")
    assert (rule.breaches(value), rule.recovers(value)) == (breaches, recovers)


def test_infinite_values_compare_as_extremes() -> None:
    rule = parse_rule("psi(age) > 0.25")
    assert rule.breaches(math.inf)
    assert rule.recovers(-math.inf)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pis(age) > 0.25", r"column 1: unknown signal 'pis'; did you mean 'psi'\?"),
        ("psi > 0.2", r"column 5: expected '\(' and a column .*psi\(\*\)"),
        ("psi(age) >> 0.2", r"column 11: expected a threshold number"),
        ("psi(age) = 0.2", r"column 10: unexpected '='; write =="),
        ("psi(age) > 0.25 for 0 windows", r"column 21: 'for 0 windows' is out of range"),
        ("psi(age) > 0.25 for 3", r"column 22: expected 'windows' after the count"),
        ("psi(age) > 0.25 for 2.5 windows", r"column 21: expected a whole number of windows"),
        ("psi(age) > 0.25 clear above 0.1", r"column 23: .*write 'clear below <number>'"),
        ("psi(age) > 0.25 clear below 0.3", r"column 29: clear threshold 0.3 must be at or below"),
        ("psi(age) == 0.25 clear below 0.3", r"'clear' does not apply to '=='"),
        ("psi(age) > 0.25 critical foo", r"column 26: expected the end of the rule"),
        ("psi(age) > 1e999", r"column 12: 1e999 is out of range"),
        ("", r"column 1: expected a signal name"),
        ('psi("age) > 1', r'column 5: unterminated string; close it with "'),
        ("psi(age > 1", r"column 9: expected '\)' to close the column name, found '>'"),
        ("psi(age) > 0.25x", r"column 12: malformed number"),
        ('psi("") > 1', r"column 5: empty column name"),
        ("psi(>) > 1", r"column 5: expected a column name"),
        ("psi(age) > 1 for 2 windows for 3 windows", r"expected 'clear', 'warning', 'critical'"),
        ("psi(age) ? 1", r"column 10: unexpected character '\?'"),
        ("0.5 > psi(age)", r"column 1: expected a signal name"),
    ],
)
def test_parse_errors_name_the_position_and_the_expectation(text: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message) as info:
        parse_rule(text)
    assert info.value.field == "rule"


@pytest.mark.parametrize("label", ["age", "a" * 200])
def test_error_excerpt_points_a_caret_at_the_fault(label: str) -> None:
    with pytest.raises(InvalidArgumentError, match="found 'or'") as info:
        parse_rule(f"psi({label}) > 0.25 or pis(x) > 1")
    lines = info.value.message.splitlines()
    assert lines[-1].index("^") == lines[-2].index(" or ") + 1


def test_overlong_rule_is_rejected_before_parsing() -> None:
    with pytest.raises(LimitExceededError, match="limit is 1000"):
        parse_rule("psi(" + "a" * 2000 + ") > 1")


def test_non_string_rule_is_rejected() -> None:
    with pytest.raises(InvalidArgumentError, match=r"must be a string.*got int"):
        parse_rule(42)  # type: ignore[arg-type]


def test_unknown_signal_far_from_any_lists_the_known_ones() -> None:
    assert suggest_signal("zzzzzz").startswith("known signals: accuracy, chi2,")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"signal": "psi", "label": ""}, "psi is measured per column"),
        ({"signal": "nope"}, "signal must be a known signal"),
        ({"threshold": math.nan}, "threshold must be a finite number"),
        ({"clear": 0.9}, r"clear=0.9 must be below the threshold"),
        ({"comparator": "==", "clear": 0.1}, "equal to the threshold"),
        ({"for_windows": 0}, "for_windows must be an integer from 1"),
        ({"for_windows": True}, "for_windows must be an integer from 1"),
        ({"name": ""}, "name must be a non-empty string"),
        ({"severity": "page"}, "severity must be 'warning' or 'critical'"),
        ({"is_wildcard": True}, "label must be empty when is_wildcard"),
    ],
)
def test_directly_built_rules_are_validated(fields: dict[str, object], message: str) -> None:
    base: dict[str, object] = {
        "name": "r",
        "signal": "psi",
        "label": "age",
        "comparator": ">",
        "threshold": 0.25,
    }
    with pytest.raises(InvalidArgumentError, match=message):
        AlertRule(**{**base, **fields})  # type: ignore[arg-type]


def test_invalid_name_is_reported_on_the_name_field() -> None:
    with pytest.raises(InvalidArgumentError, match="name must be") as info:
        parse_rule("accuracy < 0.8", name="")
    assert info.value.field == "name"


def test_from_dict_requires_rule_text_and_name() -> None:
    with pytest.raises(InvalidArgumentError, match="needs string 'rule' and 'name'"):
        AlertRule.from_dict({"rule": "accuracy < 0.8"})
