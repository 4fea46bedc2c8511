"""Hypothesis strategies shared by the test suite."""

from __future__ import annotations

from hypothesis import strategies as st

from conveyor.tracking.filters import Clause, Comparator, EntityType, OrderBy

# --- run-search filters (conveyor.tracking.filters) ------------------------------------------

FILTER_NUMERIC_OPS: tuple[Comparator, ...] = ("=", "!=", "<", "<=", ">", ">=")
FILTER_KEY_VALUE_OPS: tuple[Comparator, ...] = (
    "=",
    "!=",
    "LIKE",
    "ILIKE",
    "IS NULL",
    "IS NOT NULL",
)
FILTER_STRING_OPS: tuple[Comparator, ...] = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
STRING_ATTRIBUTES = ("run_id", "run_name", "status", "artifact_uri", "user_id", "lifecycle_stage")
NUMERIC_ATTRIBUTES = ("start_time", "end_time")
DATASET_KEYS = ("name", "digest", "context")

_INT64 = 2**63


def filter_keys() -> st.SearchStrategy[str]:
    """Metric/param/tag keys: plain words, dotted names, and arbitrary text needing quotes."""
    return st.one_of(
        st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-/]{0,15}", fullmatch=True),
        st.sampled_from(["mlflow.runName", "my loss", "a`b", "it's", 'say "hi"', "C:\\x\\"]),
        st.text(min_size=1, max_size=12),
    )


def filter_strings() -> st.SearchStrategy[str]:
    """String values, including quotes, backslashes, ``%`` / ``_`` wildcards and blanks."""
    return st.one_of(
        st.text(max_size=12),
        st.sampled_from(["", "it's", "a''b", "\\", "\\'", '"', "%adam%", "x_1", " AND "]),
    )


def _numeric_clauses(entity: EntityType, keys: st.SearchStrategy[str]) -> st.SearchStrategy[Clause]:
    values: st.SearchStrategy[float] = st.floats(allow_nan=False)
    if entity == "attribute":
        values = st.one_of(
            st.integers(-_INT64, _INT64 - 1), st.floats(allow_nan=False, allow_infinity=False)
        )
    return st.builds(Clause, st.just(entity), keys, st.sampled_from(FILTER_NUMERIC_OPS), values)


@st.composite
def _string_clause(
    draw: st.DrawFn, entity: EntityType, keys: st.SearchStrategy[str], ops: tuple[Comparator, ...]
) -> Clause:
    key = draw(keys)
    comparator = draw(st.sampled_from(ops))
    value: str | tuple[str, ...] | None
    if comparator in ("IS NULL", "IS NOT NULL"):
        value = None
    elif comparator in ("IN", "NOT IN"):
        value = tuple(draw(st.lists(filter_strings(), min_size=1, max_size=4)))
    else:
        value = draw(filter_strings())
    return Clause(entity, key, comparator, value)


def filter_clauses() -> st.SearchStrategy[Clause]:
    """Valid clauses, shaped as ``parse_filter`` returns them, for every entity type."""
    return st.one_of(
        _numeric_clauses("metric", filter_keys()),
        _numeric_clauses("attribute", st.sampled_from(NUMERIC_ATTRIBUTES)),
        _string_clause("param", filter_keys(), FILTER_KEY_VALUE_OPS),
        _string_clause("tag", filter_keys(), FILTER_KEY_VALUE_OPS),
        _string_clause("attribute", st.sampled_from(STRING_ATTRIBUTES), FILTER_STRING_OPS),
        _string_clause("dataset", st.sampled_from(DATASET_KEYS), FILTER_STRING_OPS),
    )


def filter_clause_lists() -> st.SearchStrategy[list[Clause]]:
    """Non-empty lists of valid clauses (a whole filter)."""
    return st.lists(filter_clauses(), min_size=1, max_size=5)


def order_bys() -> st.SearchStrategy[OrderBy]:
    """Valid order-by items over metrics, params, tags and attributes."""
    attribute_keys = st.sampled_from(STRING_ATTRIBUTES + NUMERIC_ATTRIBUTES)
    return st.one_of(
        st.builds(
            OrderBy, st.sampled_from(["metric", "param", "tag"]), filter_keys(), st.booleans()
        ),
        st.builds(OrderBy, st.just("attribute"), attribute_keys, st.booleans()),
    )


def order_by_lists() -> st.SearchStrategy[list[OrderBy]]:
    """Lists of order-by items with no key repeated."""
    return st.lists(order_bys(), max_size=4, unique_by=lambda o: (o.entity, o.key))
