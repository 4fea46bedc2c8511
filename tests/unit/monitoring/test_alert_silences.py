"""Silences: matching by rule and label globs inside a time range; validation; round trip."""

from __future__ import annotations

import pytest

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.alerts import AlertEvent, Silence, find_silence


@pytest.mark.parametrize(
    ("rule", "label", "at", "expected"),
    [
        ("psi(*) > 0.25", "age", 100, True),
        ("psi(*) > 0.25", "income", 100, False),
        ("ks(*) > 0.1", "age", 100, False),
        ("psi(*) > 0.25", "age", 99, False),
        ("psi(*) > 0.25", "age", 200, False),
    ],
)
def test_silence_matches_rule_and_label_globs_within_its_time_range(
    rule: str, label: str, at: int, expected: bool
) -> None:
    silence = Silence(starts_at=100, ends_at=200, rule="psi*", label="a?e", silence_id="s")
    assert silence.matches(rule, label, at) is expected


def test_rule_names_without_glob_characters_match_only_themselves() -> None:
    silence = Silence(starts_at=0, ends_at=1, rule="age-drift")
    assert silence.matches("age-drift", "", 0)
    assert not silence.matches("age-drift-2", "", 0)


def test_find_silence_returns_the_first_match() -> None:
    silences = [
        Silence(starts_at=0, ends_at=5, rule="other", silence_id="a"),
        Silence(starts_at=0, ends_at=5, silence_id="b"),
        Silence(starts_at=0, ends_at=5, silence_id="c"),
    ]
    found = find_silence(silences, "r", "x", 1)
    assert found is not None
    assert found.silence_id == "b"
    assert find_silence(silences, "r", "x", 5) is None


def test_silence_round_trips_and_gets_a_generated_id() -> None:
    silence = Silence(starts_at=1, ends_at=2, comment="deploy", created_by="ana")
    assert len(silence.silence_id) == 32
    assert Silence.from_dict(silence.to_dict()) == silence


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"starts_at": 5, "ends_at": 5}, r"ends_at \(5\) must be after starts_at \(5\)"),
        ({"starts_at": 1.5, "ends_at": 5}, "starts_at must be milliseconds"),
        ({"starts_at": 0, "ends_at": True}, "ends_at must be milliseconds"),
        ({"starts_at": 0, "ends_at": 5, "rule": None}, "rule must be a string"),
        ({"starts_at": 0, "ends_at": 5, "silence_id": ""}, "silence_id must not be empty"),
    ],
)
def test_invalid_silences_are_rejected(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        Silence(**fields)  # type: ignore[arg-type]


def test_from_dict_rejects_unknown_or_missing_keys() -> None:
    with pytest.raises(InvalidArgumentError, match=r"unknown keys \['until'\]"):
        Silence.from_dict({"starts_at": 0, "ends_at": 1, "silence_id": "s", "until": 3})
    with pytest.raises(InvalidArgumentError, match=r"lacks \['silence_id'\]"):
        Silence.from_dict({"starts_at": 0, "ends_at": 1})


def test_alert_event_from_dict_rejects_foreign_dicts() -> None:
    with pytest.raises(InvalidArgumentError, match="not to_dict"):
        AlertEvent.from_dict({"state": "firing"})
