"""Run-search filter and order-by parsing: examples, properties, and MLflow parity."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.errors import InvalidArgumentError, LimitExceededError
from conveyor.tracking.filters import (
    MAX_TEXT_LENGTH,
    Clause,
    OrderBy,
    format_filter,
    format_order_by,
    parse_filter,
    parse_order_by,
)
from tests.strategies import filter_clause_lists, order_by_lists


def one(text: str) -> Clause:
    clauses = parse_filter(text)
    assert len(clauses) == 1
    return clauses[0]


# --- examples: accepted grammar ---------------------------------------------------------------


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t "])
def test_blank_filter_is_empty(text: str | None) -> None:
    assert parse_filter(text) == []


@pytest.mark.parametrize(
    ("prefix", "entity"),
    [
        ("metric", "metric"),
        ("metrics", "metric"),
        ("param", "param"),
        ("params", "param"),
        ("parameter", "param"),
        ("parameters", "param"),
        ("tag", "tag"),
        ("tags", "tag"),
        ("`metrics`", "metric"),
        ("METRICS", "metric"),
    ],
)
def test_prefix_aliases(prefix: str, entity: str) -> None:
    value = "1" if entity == "metric" else "'1'"
    clause = one(f"{prefix}.k = {value}")
    assert (clause.entity, clause.key) == (entity, "k")


@pytest.mark.parametrize("prefix", ["attribute", "attributes", "attr", "run"])
def test_attribute_prefixes(prefix: str) -> None:
    assert one(f"{prefix}.status = 'FINISHED'") == Clause("attribute", "status", "=", "FINISHED")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("metrics.`my loss` < 1", "my loss"),
        ('metrics."my loss" < 1', "my loss"),
        ("metrics.'my loss' < 1", "my loss"),
        ("tags.\"mlflow.runName\" = 'x'", "mlflow.runName"),
        ("metrics.mlflow.runName < 1", "mlflow.runName"),
        ("metrics.a-b/c_d.e < 1", "a-b/c_d.e"),
        ("metrics.1a < 1", "1a"),
        ("metrics.`a``b` < 1", "a`b"),
        ('metrics."a\\"b" < 1', 'a"b'),
    ],
)
def test_keys_bare_and_quoted(text: str, key: str) -> None:
    assert one(text).key == key


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("1", 1.0),
        ("-2", -2.0),
        ("+3", 3.0),
        ("0.25", 0.25),
        (".5", 0.5),
        ("5.", 5.0),
        ("-1.5e-3", -0.0015),
        ("1E6", 1e6),
        ("1e400", float("inf")),
    ],
)
def test_metric_numbers_are_floats(literal: str, value: float) -> None:
    clause = one(f"metrics.loss <= {literal}")
    assert clause == Clause("metric", "loss", "<=", value)
    assert isinstance(clause.value, float)


def test_numeric_attributes_keep_integers() -> None:
    assert one("attributes.start_time > 1700000000000").value == 1700000000000
    assert isinstance(one("attributes.end_time < 5").value, int)
    assert one("attributes.end_time < 5.5").value == 5.5


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("'adam'", "adam"),
        ('"adam"', "adam"),
        ("''", ""),
        ("'it''s'", "it's"),
        ("'it\\'s'", "it's"),
        ('"say ""hi"""', 'say "hi"'),
        ('"say \\"hi\\""', 'say "hi"'),
        ('"it\'s"', "it's"),
        ("'C:\\temp'", "C:\\temp"),
        ("'a\\\\'", "a\\"),
        ("'a AND b'", "a AND b"),
        ("'multi\nline'", "multi\nline"),
    ],
)
def test_string_values_and_escapes(literal: str, value: str) -> None:
    assert one(f"params.opt = {literal}") == Clause("param", "opt", "=", value)


@pytest.mark.parametrize(
    ("text", "comparator"),
    [
        ("tags.x like 'a%'", "LIKE"),
        ("tags.x ILike 'a%'", "ILIKE"),
        ("tags.x != 'a'", "!="),
        ("params.x is null", "IS NULL"),
        ("params.x IS  NOT\tNULL", "IS NOT NULL"),
        ("tags.x IS NULL", "IS NULL"),
    ],
)
def test_string_comparators(text: str, comparator: str) -> None:
    assert one(text).comparator == comparator


def test_is_null_has_no_value() -> None:
    assert one("tags.reviewed IS NOT NULL") == Clause("tag", "reviewed", "IS NOT NULL", None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("attributes.run_id IN ('a', 'b')", Clause("attribute", "run_id", "IN", ("a", "b"))),
        ('run_id not in ("a",)', Clause("attribute", "run_id", "NOT IN", ("a",))),
        ("attributes.status IN('RUNNING')", Clause("attribute", "status", "IN", ("RUNNING",))),
        (
            "datasets.context IN ( 'train' , 'eval' )",
            Clause("dataset", "context", "IN", ("train", "eval")),
        ),
    ],
)
def test_in_lists(text: str, expected: Clause) -> None:
    assert one(text) == expected


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("attributes.created > 0", "start_time"),
        ("attributes.Created > 0", "start_time"),
        ("attributes.`run name` = 'x'", "run_name"),
        ("attributes.`Run Name` = 'x'", "run_name"),
        ("attributes.lifecycle_stage = 'active'", "lifecycle_stage"),
        ("start_time > 0", "start_time"),
        ("created > 0", "start_time"),
        ("run_id = 'x'", "run_id"),
        ("artifact_uri LIKE 's3://%'", "artifact_uri"),
        ("`run name` = 'x'", "run_name"),
    ],
)
def test_attribute_names_and_aliases(text: str, key: str) -> None:
    clause = one(text)
    assert (clause.entity, clause.key) == ("attribute", key)


@pytest.mark.parametrize("key", ["name", "digest", "context"])
def test_dataset_fields(key: str) -> None:
    assert one(f"dataset.{key} LIKE 'x%'") == Clause("dataset", key, "LIKE", "x%")


def test_clauses_joined_by_and_in_any_case() -> None:
    text = "metrics.loss<0.5 AND params.opt='adam'and tags.x LIKE 'a' And start_time >= 1"
    assert parse_filter(text) == [
        Clause("metric", "loss", "<", 0.5),
        Clause("param", "opt", "=", "adam"),
        Clause("tag", "x", "LIKE", "a"),
        Clause("attribute", "start_time", ">=", 1),
    ]


def test_filter_at_the_length_limit_is_accepted() -> None:
    head = "params.x = '"
    text = head + "a" * (MAX_TEXT_LENGTH - len(head) - 1) + "'"
    assert len(text) == MAX_TEXT_LENGTH
    assert one(text).value == "a" * (MAX_TEXT_LENGTH - len(head) - 1)


# --- examples: rejected filters ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metrics.loss < 'abc'", r"metrics\.loss expects a number, got 'abc'"),
        ("params.C < 1", r"params\.C is a string.*=, !=, LIKE, ILIKE.*quoted value"),
        ("params.C = 1", r"params\.C expects a quoted string, got '1'; write params\.C = '1'"),
        ("metrics.loss < 1 OR params.C = 'x'", r"position 17: OR is not supported; "),
        ("metrics.loss == 1", r"unknown comparator '=='"),
        ("metrics.loss RLIKE 'a'", r"unknown comparator 'RLIKE'"),
        ("loss < 1", r"'loss' has no entity prefix; write metrics\.loss"),
        ("foo.x = 'y'", r"unknown entity prefix 'foo'; use metrics\.<key>"),
        ("attributes.foo = 'x'", r"unknown attribute 'foo'; use one of artifact_uri"),
        ("dataset.foo = 'x'", r"unknown dataset field 'foo'; use one of name, digest, context"),
        ("metrics.loss IS NULL", r"IS NULL only works on params and tags"),
        ("metrics.loss LIKE '1%'", r"metrics\.loss is a number, so 'LIKE' does not apply"),
        ("params.C IN ('a')", r"params\.C is a string, so 'IN' does not apply"),
        ("attributes.start_time > 'x'", r"attributes\.start_time expects a number"),
        ("attributes.start_time > 1e3x", r"expects a number, got '1e3x'"),
        ("attributes.end_time > 99999999999999999999", r"out of range"),
        ("metrics.loss < 1 AND", r"position 20: expected a clause .*got end of filter"),
        ("metrics.loss < 1 AND AND tags.x = 'y'", r"expected a clause .*got 'AND'"),
        ("metrics.loss < 1;", r"position 16: expected AND between clauses, got ';'"),
        ("tags.x = 'a' 'b'", r"expected AND between clauses, got 'b'"),
        ("(metrics.loss < 1)", r"parentheses are not supported"),
        ("metrics.loss", r"expected a comparator after metrics\.loss, got end of filter"),
        ("metrics.", r"expected a key after 'metrics\.', got end of filter"),
        ("metrics. loss < 1", r"expected a key right after 'metrics\.'"),
        ("metrics.`` < 1", r"empty key"),
        ("params.x = 'abc", r"position 11: unterminated '\.\.\.' string"),
        ("params.x = y", r"params\.x expects a quoted string, got 'y'"),
        ("params.x = `y`", r"backticks quote keys, not values"),
        ("metrics.loss < NaN", r"expects a number, got 'NaN'"),
        ("attributes.run_id = ('a')", r"a parenthesized list needs IN or NOT IN, not ="),
        ("attributes.run_id IN 'a'", r"IN expects a parenthesized list of quoted strings"),
        ("attributes.run_id IN ()", r"expected a quoted string in the IN list, got '\)'"),
        ("attributes.run_id IN ('a' 'b')", r"expected ',' or '\)' in the IN list, got 'b'"),
        ("attributes.run_id IN ('a', 1)", r"expected a quoted string in the IN list, got '1'"),
        ("metrics.loss < 1AND tags.x = 'y'", r"expects a number, got '1AND'"),
    ],
)
def test_malformed_filters(text: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message) as caught:
        parse_filter(text)
    assert caught.value.field == "filter"
    assert f'invalid filter "{text}" at position ' in caught.value.message


def test_error_names_token_position_and_fix() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        parse_filter("metrics.loss <> 1")
    assert caught.value.message == (
        "invalid filter \"metrics.loss <> 1\" at position 13: unknown comparator '<>'; "
        "use one of =, !=, <, <=, >, >="
    )


def test_long_filter_errors_show_an_excerpt() -> None:
    text = "params.x = '" + "a" * 500 + "' AND metrics.y <> 1"
    with pytest.raises(InvalidArgumentError, match="position 528: unknown comparator") as caught:
        parse_filter(text)
    assert len(caught.value.message) < 400
    assert '"...aaa' in caught.value.message
    assert '<> 1" at' in caught.value.message


def test_filter_over_the_limit_is_rejected() -> None:
    text = "params.x = '" + "a" * MAX_TEXT_LENGTH + "'"
    with pytest.raises(LimitExceededError, match="limit is 10000") as caught:
        parse_filter(text)
    assert caught.value.field == "filter"


# --- examples: formatting -------------------------------------------------------------------


def test_format_filter_is_canonical() -> None:
    clauses = parse_filter(
        'metric.loss<.5 and parameter.`my key`="it\'s" AND run.created >= 7 '
        "AND tags.x is not null AND attr.run_id in ('a','b')"
    )
    assert format_filter(clauses) == (
        "metrics.loss < 0.5 AND params.`my key` = 'it''s' AND attributes.start_time >= 7 "
        "AND tags.x IS NOT NULL AND attributes.run_id IN ('a', 'b')"
    )
    assert format_filter([]) == ""


def test_format_writes_infinity_and_backslashes() -> None:
    assert format_filter([Clause("metric", "m", ">", float("-inf"))]) == "metrics.m > -1e999"
    assert format_filter([Clause("param", "a\\b", "=", "c\\")]) == "params.`a\\\\b` = 'c\\\\'"


@pytest.mark.parametrize(
    "clause",
    [Clause("metric", "m", "=", float("nan")), Clause("param", "p", "=", None)],
)
def test_format_rejects_unwritable_values(clause: Clause) -> None:
    with pytest.raises(InvalidArgumentError):
        format_filter([clause])


# --- order by -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("metrics.loss", OrderBy("metric", "loss", True)),
        ("metrics.loss DESC", OrderBy("metric", "loss", False)),
        ("metrics.loss desc", OrderBy("metric", "loss", False)),
        ("attributes.start_time ASC", OrderBy("attribute", "start_time", True)),
        ("params.`C`", OrderBy("param", "C", True)),
        ('tags."x"', OrderBy("tag", "x", True)),
        ("metrics.`my loss`\tDESC", OrderBy("metric", "my loss", False)),
        ("  start_time  ", OrderBy("attribute", "start_time", True)),
        ("created DESC", OrderBy("attribute", "start_time", False)),
        ("run_name", OrderBy("attribute", "run_name", True)),
    ],
)
def test_order_by_items(item: str, expected: OrderBy) -> None:
    assert parse_order_by([item]) == [expected]


def test_order_by_none_empty_and_single_string() -> None:
    assert parse_order_by(None) == []
    assert parse_order_by([]) == []
    assert parse_order_by("metrics.loss DESC") == [OrderBy("metric", "loss", False)]


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["metrics.loss up"], r"position 13: unknown direction 'up'; use ASC or DESC"),
        (["metrics.loss DESC ASC"], r"unexpected 'ASC' after the direction"),
        (["metrics.loss, params.x"], r"unknown direction ','"),
        ([""], r"empty order_by item"),
        (["loss"], r"'loss' has no entity prefix"),
        (["dataset.name"], r"cannot be ordered by dataset fields"),
        (["metrics.loss", "metric.loss DESC"], r"metrics\.loss is ordered by twice"),
        (["foo.bar"], r"unknown entity prefix 'foo'"),
    ],
)
def test_malformed_order_by(items: list[str], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message) as caught:
        parse_order_by(items)
    assert caught.value.field == "order_by"


def test_order_by_format() -> None:
    assert format_order_by(OrderBy("metric", "my loss", False)) == "metrics.`my loss` DESC"
    assert format_order_by(OrderBy("attribute", "start_time")) == "attributes.start_time ASC"


# --- properties --------------------------------------------------------------------------------


@given(filter_clause_lists())
def test_format_then_parse_round_trips(clauses: list[Clause]) -> None:
    assert parse_filter(format_filter(clauses)) == clauses


@given(order_by_lists())
def test_order_by_round_trips(orders: list[OrderBy]) -> None:
    assert parse_order_by([format_order_by(order) for order in orders]) == orders


_SOUP = st.sampled_from(
    [
        "metrics.loss", "params.x", "tags.`a b`", "attributes.run_id", "start_time", "dataset.name",
        "metrics.", "`", "'", '"', "\\", "(", ")", ",", "<", "<=", "=", "!=", "<>", "LIKE",
        "IN", "NOT", "IS", "NULL", "AND", "OR", "1", "-1.5e3", ".", "'a'", '"b"', "('a', 'b')",
        " ", "  ", "\t", "é", "1e", "+", "ASC", "DESC",
    ]
)  # fmt: skip


@st.composite
def _mutated_filters(draw: st.DrawFn) -> str:
    """Valid filter text with a few characters inserted, deleted or replaced."""
    text = format_filter(draw(filter_clause_lists()))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 2))
        text = (
            text[:at]
            + draw(st.sampled_from(["", "'", "`", " ", "(", "<", "AND ", "1"]))
            + text[at + cut :]
        )
    return text


@settings(max_examples=400)
@given(
    st.one_of(st.text(max_size=60), st.lists(_SOUP, max_size=12).map("".join), _mutated_filters())
)
def test_any_text_parses_or_raises_invalid_argument(text: str) -> None:
    fields = []
    try:
        clauses = parse_filter(text)
    except InvalidArgumentError as error:
        fields.append(error.field)
    else:
        assert parse_filter(format_filter(clauses)) == clauses
    try:
        parse_order_by([text])
    except InvalidArgumentError as error:
        fields.append(error.field)
    assert set(fields) <= {"filter", "order_by"}


# --- parity with MLflow's SearchUtils ------------------------------------------------------------


def _mlflow() -> Any:
    return pytest.importorskip("mlflow.utils.search_utils").SearchUtils


def _mlflow_view(text: str) -> list[tuple[Any, ...]]:
    search = _mlflow()
    out = []
    for parsed in search.parse_search_filter(text):
        entity = {"parameter": "param"}.get(parsed["type"], parsed["type"])
        value = float(parsed["value"]) if entity == "metric" else parsed["value"]
        key = search.translate_key_alias(parsed["key"])
        out.append((entity, key, parsed["comparator"].upper(), value))
    return out


def _mlflow_rejects(text: str) -> bool:
    search = _mlflow()
    try:
        for parsed in search.parse_search_filter(text):
            kind, op = parsed["type"], parsed["comparator"].upper()
            key = search.translate_key_alias(parsed["key"])
            search.is_metric(kind, op)
            search.is_param(kind, op)
            search.is_tag(kind, op)
            search.is_attribute(kind, key, op)
            search.is_dataset(kind, op)
    except Exception:  # noqa: BLE001 - MlflowException, imported lazily
        return True
    return False


@pytest.mark.parametrize(
    "text",
    [
        "metrics.loss < 1",
        "metrics.loss<1",
        "metrics.loss >= -1.5e-3",
        "metrics.acc = .5",
        "metrics.acc != 5.",
        "metrics.`my loss` <= 2",
        'metrics."my loss" > 0',
        "metrics.'my loss' > 0",
        "`metrics`.loss < 1",
        "metrics.a.b.c < 1",
        "metric.loss = 3",
        "params.C = 'x'",
        'params.C = "x"',
        "param.C != 'x'",
        "parameters.lr LIKE '0.%'",
        "parameter.lr ILIKE '%E-3'",
        "params.C IS NULL",
        "params.C is not null",
        "tag.x = ''",
        "tags.\"mlflow.runName\" = 'x'",
        "tags.mlflow.runName LIKE 'cv-%'",
        "tags.`mlflow.source.type` IS NOT NULL",
        'tags.x = "a\'b"',
        "attributes.run_id IN ('a', 'b')",
        "attributes.run_id NOT IN ('a', \"b\")",
        "attr.status = 'FINISHED'",
        "run.user_id LIKE 'al%'",
        "attributes.start_time > 5",
        "attributes.end_time <= 1700000000000",
        "attributes.start_time > 5.5",
        "attributes.created > 5",
        "attributes.`run name` = 'x'",
        "start_time > 5",
        "run_id = 'x'",
        "dataset.name = 'x'",
        "datasets.digest != 'abc'",
        "datasets.context IN ('train', 'eval')",
        "metrics.loss < 1 and params.C = 'x'",
        "metrics.loss >= 1 AND metrics.loss <= 2 AND tags.x LIKE '%a'",
    ],
)
def test_parse_matches_mlflow(text: str) -> None:
    expected = _mlflow_view(text)
    got = [(c.entity, c.key, c.comparator, c.value) for c in parse_filter(text)]
    assert got == expected
    assert [type(value) for *_, value in got] == [type(value) for *_, value in expected]


@pytest.mark.parametrize(
    "text",
    [
        "metrics.loss < 'abc'",
        "params.C = 1",
        "params.C < 'x'",
        "metrics.loss <> 1",
        "metrics.loss LIKE '%a'",
        "metrics.loss < 1 OR params.C = 'x'",
        "foo.x = 'y'",
        "loss < 1",
        "attributes.foo = 'x'",
        "dataset.foo = 'x'",
        "metrics.C IS NULL",
        "params.x = y",
        "params.x = `y`",
        "(metrics.loss < 1)",
        "metrics.loss < 1;",
        "tags.x = 'a' 'b'",
        "attributes.start_time > 'abc'",
        "metrics.loss",
        "metrics.loss < NaN",
    ],
)
def test_rejects_what_mlflow_rejects(text: str) -> None:
    assert _mlflow_rejects(text)
    with pytest.raises(InvalidArgumentError):
        parse_filter(text)
