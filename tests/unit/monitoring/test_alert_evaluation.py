"""The alert state machine: for-N windows, hysteresis, no data, fan-out, silences, persistence."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.alerts import (
    AlertEvaluator,
    AlertEvent,
    AlertState,
    Silence,
    Window,
    WindowValues,
    parse_rule,
)

MINUTE = 60_000
PSI = "psi(age) > 0.25 for 3 windows clear below 0.1"


def feed(evaluator: AlertEvaluator, series: list[float | None], signal: str = "psi") -> list[str]:
    """Evaluate one value per one-minute window on label ``age``; return 'prev>state' per window."""
    seen = []
    for i, value in enumerate(series):
        report = evaluator.evaluate({signal: {"age": value}}, i * MINUTE, (i + 1) * MINUTE, at=i)
        seen.append(",".join(f"{e.previous_state}>{e.state}" for e in report.events))
    return seen


def test_fires_only_after_n_consecutive_breaching_windows() -> None:
    got = feed(AlertEvaluator([PSI]), [0.3, 0.3, 0.3, 0.3])
    assert got == ["inactive>pending", "", "pending>firing", ""]


def test_a_single_window_rule_fires_at_once() -> None:
    got = feed(AlertEvaluator(["psi(age) > 0.25"]), [0.1, 0.3, 0.2])
    assert got == ["", "inactive>firing", "firing>resolved"]


def test_a_recovered_window_resets_a_pending_alert() -> None:
    got = feed(AlertEvaluator([PSI]), [0.3, 0.3, 0.2, 0.3, 0.3, 0.3])
    assert got == [
        "inactive>pending",
        "",
        "pending>inactive",
        "inactive>pending",
        "",
        "pending>firing",
    ]


def test_hysteresis_keeps_firing_between_clear_and_threshold() -> None:
    # Values oscillating around the threshold: one firing, no flapping until below 0.1.
    got = feed(AlertEvaluator(["psi(age) > 0.25 clear below 0.1"]), [0.3, 0.2, 0.3, 0.24, 0.1])
    assert got == ["inactive>firing", "", "", "", "firing>resolved"]


def test_without_clear_the_alert_resolves_when_the_breach_ends() -> None:
    got = feed(AlertEvaluator(["psi(age) > 0.25"]), [0.3, 0.25])
    assert got == ["inactive>firing", "firing>resolved"]


def test_resolved_alert_fires_again_after_n_new_breaches() -> None:
    got = feed(AlertEvaluator(["psi(age) > 0.25 for 2 windows"]), [0.3, 0.3, 0.0, 0.0, 0.3, 0.3])
    assert got == [
        "inactive>pending",
        "pending>firing",
        "firing>resolved",
        "",
        "resolved>pending",
        "pending>firing",
    ]


def test_lower_bound_rule_clears_above() -> None:
    evaluator = AlertEvaluator(["estimated_accuracy < 0.8 clear above 0.85"])
    got = []
    for i, value in enumerate([0.9, 0.79, 0.83, 0.86]):
        events = evaluator.evaluate({"estimated_accuracy": {"": value}}, i, i + 1, at=i).events
        got.append([(e.state.value, e.threshold) for e in events])
    assert got == [[], [("firing", 0.8)], [], [("resolved", 0.85)]]


def test_missing_values_keep_the_state_and_are_reported_as_no_data() -> None:
    evaluator = AlertEvaluator([PSI])
    got = feed(evaluator, [0.3, None, math.nan, 0.3, 0.3, None, 0.0])
    # The gaps neither break the run of breaches nor resolve the firing alert.
    assert got == ["inactive>pending", "", "", "", "pending>firing", "", "firing>resolved"]
    report = evaluator.evaluate({}, 100 * MINUTE, 101 * MINUTE, at=0)
    assert report.no_data == ((PSI, "age"),)
    assert evaluator.statuses()[0].is_no_data


def test_infinite_value_is_a_breach_not_missing_data() -> None:
    assert feed(AlertEvaluator(["psi(age) > 0.25"]), [math.inf]) == ["inactive>firing"]


def test_wildcard_fans_out_per_column_and_tracks_vanished_columns() -> None:
    evaluator = AlertEvaluator(["js(*) >= 0.1"])
    first = evaluator.evaluate({"js": {"b": 0.2, "a": 0.05, "c": 0.3}}, 0, 1, at=1)
    assert [(e.label, e.state.value) for e in first.events] == [("b", "firing"), ("c", "firing")]
    second = evaluator.evaluate({"js": {"a": 0.0}}, 1, 2, at=2)
    assert second.events == ()
    assert second.no_data == (("js(*) >= 0.1", "b"), ("js(*) >= 0.1", "c"))
    assert [(s.label, s.state.value) for s in evaluator.statuses()] == [
        ("a", "inactive"),
        ("b", "firing"),
        ("c", "firing"),
    ]


def test_wildcard_with_no_labels_at_all_is_no_data() -> None:
    report = AlertEvaluator(["js(*) >= 0.1"]).evaluate({"psi": {"a": 1.0}}, 0, 1, at=1)
    assert report.no_data == (("js(*) >= 0.1", "*"),)


def test_event_carries_the_window_and_a_deterministic_id() -> None:
    rule = parse_rule("missing_rate(x) > 0.05 critical", name="x-missing")

    def first_event() -> AlertEvent:
        evaluator = AlertEvaluator([rule])
        return evaluator.evaluate({"missing_rate": {"x": 0.5}}, 1_000, 2_000, at=2_500).events[0]

    event = first_event()
    assert event.to_dict() == {
        "event_id": event.event_id,
        "rule": "x-missing",
        "signal": "missing_rate",
        "label": "x",
        "state": "firing",
        "previous_state": "inactive",
        "value": 0.5,
        "threshold": 0.05,
        "severity": "critical",
        "window_start": 1_000,
        "window_end": 2_000,
        "at": 2_500,
        "silenced": False,
        "silence_id": None,
    }
    assert len(event.event_id) == 32
    assert first_event().event_id == event.event_id
    assert AlertEvent.from_dict(event.to_dict()) == event
    assert event.is_notifiable


def test_silenced_alert_changes_state_but_is_marked_silenced() -> None:
    silence = Silence(starts_at=0, ends_at=3, rule="psi*", label="age", silence_id="s1")
    evaluator = AlertEvaluator(["psi(age) > 0.25"], silences=[silence])
    events = [
        evaluator.evaluate({"psi": {"age": v}}, i, i + 1, at=i).events[0]
        for i, v in enumerate([0.3, 0.0, 0.3, 0.0])
    ]
    assert [(e.state.value, e.silenced, e.silence_id) for e in events] == [
        ("firing", True, "s1"),
        ("resolved", True, "s1"),
        ("firing", True, "s1"),
        ("resolved", False, None),
    ]
    assert not events[0].is_notifiable
    assert events[3].is_notifiable


def test_silences_can_be_added_and_removed() -> None:
    evaluator = AlertEvaluator(["psi(age) > 0.25"])
    evaluator.add_silence(Silence(starts_at=0, ends_at=10, silence_id="all"))
    assert evaluator.evaluate({"psi": {"age": 0.3}}, 0, 1, at=1).events[0].silenced
    evaluator.remove_silence("all")
    assert evaluator.silences == ()
    assert not evaluator.evaluate({"psi": {"age": 0.0}}, 1, 2, at=2).events[0].silenced
    with pytest.raises(InvalidArgumentError, match="no silence with silence_id 'all'"):
        evaluator.remove_silence("all")


def test_pending_and_back_to_inactive_are_recorded_but_not_notified() -> None:
    events = list(
        AlertEvaluator([PSI]).run(
            [Window(0, 1, {"psi": {"age": 0.3}}), Window(1, 2, {"psi": {"age": 0.0}}, at=5)]
        )
    )
    assert [(e.state.value, e.at, e.is_notifiable) for e in events] == [
        ("pending", 1, False),
        ("inactive", 5, False),
    ]


WINDOWS = [
    {"psi": {"age": 0.3, "income": 0.01}, "estimated_accuracy": {"": 0.7}},
    {"psi": {"age": 0.3, "income": 0.4}, "estimated_accuracy": {"": 0.9}},
    {"psi": {"age": 0.3}},
    {"psi": {"age": 0.05, "income": 0.5}, "estimated_accuracy": {"": 0.7}},
    {"psi": {"age": 0.5, "income": 0.5}, "estimated_accuracy": {"": 0.95}},
]
RULES = ["psi(*) > 0.25 for 2 windows clear below 0.1", "estimated_accuracy < 0.8 critical"]


def test_state_survives_to_dict_from_dict_mid_stream() -> None:
    straight = AlertEvaluator(RULES, silences=[Silence(starts_at=2, ends_at=4, silence_id="s")])
    expected = [straight.evaluate(v, i, i + 1, at=i).events for i, v in enumerate(WINDOWS)]
    resumed = AlertEvaluator(RULES, silences=[Silence(starts_at=2, ends_at=4, silence_id="s")])
    got = []
    for i, values in enumerate(WINDOWS):
        resumed = AlertEvaluator.from_dict(resumed.to_dict())
        got.append(resumed.evaluate(values, i, i + 1, at=i).events)
    assert got == expected
    assert resumed.to_dict() == straight.to_dict()


def test_from_dict_drops_series_of_removed_rules() -> None:
    evaluator = AlertEvaluator(RULES)
    evaluator.evaluate(WINDOWS[0], 0, 1, at=0)
    state = evaluator.to_dict()
    state["rules"] = state["rules"][1:]
    assert {s.rule for s in AlertEvaluator.from_dict(state).statuses()} == {RULES[1]}


@pytest.mark.parametrize(
    "state",
    [
        {},
        {"version": 2},
        {"version": 1, "rules": [], "silences": []},
        {"version": 1, "rules": [{"rule": "bad"}], "silences": [], "series": []},
        {
            "version": 1,
            "rules": [],
            "silences": [],
            "series": [{"rule": "r", "label": "a", "state": "boiling"}],
            "last_window_end": None,
        },
        {"version": 1, "rules": [], "silences": [], "series": [], "last_window_end": "x"},
        {
            "version": 1,
            "rules": [],
            "silences": [],
            "series": [{"rule": "r", "label": "a", "state": "firing", "breaches": "2"}],
            "last_window_end": None,
        },
    ],
)
def test_from_dict_rejects_foreign_state(state: dict[str, object]) -> None:
    with pytest.raises(InvalidArgumentError, match=r"to_dict\(\)|last_window_end|name"):
        AlertEvaluator.from_dict(state)


def test_duplicate_rule_names_are_rejected() -> None:
    with pytest.raises(InvalidArgumentError, match=r"unique; rename the duplicates \['a'\]"):
        AlertEvaluator([parse_rule("f1 < 0.5", name="a"), parse_rule("mae > 3", name="a")])


@pytest.mark.parametrize(
    ("values", "window", "message"),
    [
        ({"psi": {"age": "high"}}, (0, 1), r"values\['psi'\]\['age'\] must be a number"),
        ({"psi": {"age": True}}, (0, 1), "must be a number or None, got True"),
        ({"psi": [0.3]}, (0, 1), r"values\['psi'\] must map labels to numbers"),
        ({"psi": {1: 0.3}}, (0, 1), "labels must be column names"),
        ([("psi", 0.3)], (0, 1), "window values must be a mapping"),
        ({}, (5, 5), r"window \[5, 5\) is empty"),
        ({}, (0.0, 1), "window_start must be milliseconds"),
    ],
)
def test_bad_window_input_is_rejected(
    values: object, window: tuple[int, int], message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        AlertEvaluator([PSI]).evaluate(values, *window, at=0)  # type: ignore[arg-type]


def test_windows_must_come_in_order() -> None:
    evaluator = AlertEvaluator([PSI])
    evaluator.evaluate({}, 60, 120, at=0)
    with pytest.raises(InvalidArgumentError, match="not after the last evaluated window"):
        evaluator.evaluate({}, 0, 60, at=0)


@given(
    st.lists(st.one_of(st.none(), st.floats(-1, 1)), max_size=40),
    st.integers(1, 4),
    st.floats(-1, 1),
    st.floats(0, 1),
)
def test_transitions_follow_the_rules_for_any_series(
    series: list[float | None], n: int, threshold: float, gap: float
) -> None:
    rule = parse_rule(f"psi(age) > {threshold!r} for {n} windows clear below {threshold - gap!r}")
    evaluator = AlertEvaluator([rule])
    state, data = AlertState.INACTIVE, []
    for i, value in enumerate(series):
        values: WindowValues = {"psi": {"age": value}}
        events = evaluator.evaluate(values, i, i + 1, at=i).events
        if value is not None:
            data.append(value)
        assert len(events) <= 1
        assert (value is None) <= (not events)  # no data never causes a transition
        for event in events:
            assert event.previous_state == state
            state = event.state
            if state is AlertState.FIRING:
                assert all(rule.breaches(v) for v in data[-n:])
                assert len(data) >= n
            if state is AlertState.RESOLVED:
                assert event.value <= rule.clear_threshold
    assert evaluator.statuses()[0].state == state if series else not evaluator.statuses()
