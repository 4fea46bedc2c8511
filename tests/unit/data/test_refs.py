"""Dataset references: NAME, NAME@V, data:NAME@V, NAME@A..B; errors say the accepted forms."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.data.refs import DatasetRef, parse_range, parse_ref, validate_name
from conveyor.errors import InvalidArgumentError

names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,40}", fullmatch=True)
versions = st.integers(min_value=1, max_value=10**9)


@given(names, st.none() | versions, st.booleans())
def test_a_ref_round_trips_through_its_text(name: str, version: int | None, scheme: bool) -> None:
    ref = DatasetRef(name, version)
    text = f"data:{ref}" if scheme else str(ref)
    assert parse_ref(text) == ref


@given(names, versions, versions)
def test_a_range_names_both_ends(name: str, low: int, high: int) -> None:
    assert parse_range(f"{name}@{low}..{high}") == (DatasetRef(name, low), DatasetRef(name, high))


@given(st.text(max_size=30))
def test_any_text_parses_or_fails_with_a_field_naming_error(text: str) -> None:
    try:
        ref = parse_ref(text)
    except InvalidArgumentError as exc:
        error: InvalidArgumentError | None = exc
    else:
        error = None
        assert validate_name(ref.name) == ref.name
        assert ref.version is None or ref.version >= 1
    if error is not None:
        assert error.field == "dataset"
        assert "e.g. churn-train" in error.message or "dataset name" in error.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "missing dataset reference"),
        ("churn@", "version after '@' must be an integer"),
        ("churn@0", "version after '@' must be an integer"),
        ("churn@v2", "version after '@' must be an integer"),
        ("churn@1@2", "use one '@'"),
        ("churn train@1", "invalid dataset name"),
        ("-churn", "invalid dataset name"),
        ("models:/churn/1", "invalid dataset name"),
    ],
)
def test_malformed_refs_say_how_to_fix_them(text: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        parse_ref(text)


def test_a_plain_ref_is_not_a_range() -> None:
    assert parse_range("churn@3") is None
    assert parse_range("churn") is None
    with pytest.raises(InvalidArgumentError, match="must be an integer"):
        parse_range("churn@2..x")
