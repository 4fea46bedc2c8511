"""MLflow ``experiments/*`` routes.

``experiments/search`` filters and orders in Python: a workspace holds few experiments, and
the experiment filter grammar (``name``, ``creation_time``, ``last_update_time``,
``tags.<key>``) is MLflow's, not the run grammar the store compiles to SQL.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from conveyor.errors import InvalidArgumentError, NotFoundError
from conveyor.server.deps import ClientDep
from conveyor.server.mlflow_compat.convert import (
    Fields,
    experiment_json,
    reply,
    request_fields,
)
from conveyor.server.mlflow_compat.scope import PROJECT_TAG
from conveyor.server.project_scope import create_in_project, visible_experiment_ids
from conveyor.tracking import Experiment, LocalClient, ViewType
from conveyor.tracking._filter_tokens import BARE_KEY, Scanner
from conveyor.tracking.limits import MAX_RESULTS, check_max_results
from conveyor.tracking.search import decode_page_token, encode_page_token

router = APIRouter()
FieldsDep = Annotated[Fields, Depends(request_fields)]

_NUMERIC_KEYS = frozenset({"creation_time", "last_update_time"})
_STRING_OPS = ("=", "!=", "LIKE", "ILIKE")
_NUMERIC_OPS = ("=", "!=", "<", "<=", ">", ">=")
_PREFIX = re.compile(r"(?i)(attributes?|attr|tags?)\.")
_COMPARATOR = re.compile(r"(?i)(?:ilike|like)\b|!=|<=|>=|=|<|>")
_INTEGER = re.compile(r"[+-]?\d+(?![\w.])")
_AND = re.compile(r"(?i)and\b")
_ORDER = re.compile(
    r"(?i)\s*(?:(?:attributes?|attr)\.)?(name|experiment_id|creation_time|last_update_time)"
    r"(?:\s+(asc|desc))?\s*"
)
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "LIKE": lambda actual, pattern: _like(pattern, 0).fullmatch(actual) is not None,
    "ILIKE": lambda actual, pattern: _like(pattern, re.IGNORECASE).fullmatch(actual) is not None,
}


@dataclass(frozen=True, slots=True)
class _Clause:
    is_tag: bool
    key: str
    comparator: str
    value: str | int


def _like(pattern: str, flags: int) -> re.Pattern[str]:
    parts = [".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), flags | re.DOTALL)


def _read_clause(scanner: Scanner) -> _Clause:
    prefix = scanner.take(_PREFIX)
    quoted = scanner.take_quoted()
    bare = None if quoted else scanner.take(BARE_KEY)
    key = quoted[1] if quoted else bare[0] if bare else None
    is_tag = prefix is not None and prefix[1].lower().startswith("tag")
    if not key or (not is_tag and key not in _NUMERIC_KEYS | {"name"}):
        got = repr(key) if key else scanner.peek()
        raise scanner.error(
            f"expected name, creation_time, last_update_time or tags.<key>, got {got}"
        )
    numeric = not is_tag and key in _NUMERIC_KEYS
    allowed = _NUMERIC_OPS if numeric else _STRING_OPS
    found = scanner.take(_COMPARATOR)
    comparator = found[0].upper() if found else ""
    if comparator not in allowed:
        shown = comparator or scanner.peek()
        raise scanner.error(f"invalid comparator {shown} for {key!r}; use one of {allowed}")
    if numeric:
        number = scanner.take(_INTEGER)
        if number is None:
            raise scanner.error(f"{key} expects an integer, got {scanner.peek()}")
        return _Clause(is_tag, key, comparator, int(number[0]))
    value = scanner.take_quoted("'\"")
    if value is None:
        raise scanner.error(f"{key} expects a quoted string, got {scanner.peek()}")
    return _Clause(is_tag, key, comparator, value[1])


def parse_experiment_filter(text: str | None) -> list[_Clause]:
    """Parse an experiment-search filter such as ``name LIKE 'cv-%' AND tags.team = 'a'``."""
    if not text or not text.strip():
        return []
    scanner = Scanner(text, "filter")
    clauses = [_read_clause(scanner)]
    while not scanner.at_end():
        if scanner.take(_AND) is None:
            raise scanner.error(f"expected AND between clauses, got {scanner.peek()}")
        clauses.append(_read_clause(scanner))
    return clauses


def _matches(experiment: Experiment, clause: _Clause) -> bool:
    if clause.is_tag:
        actual: str | int | None = experiment.tags.get(clause.key)
    else:
        actual = getattr(experiment, clause.key)
    return actual is not None and _OPS[clause.comparator](actual, clause.value)


def sort_experiments(experiments: list[Experiment], order_by: Sequence[str]) -> None:
    """Sort in place by MLflow's experiment ``order_by`` items (creation_time DESC by default)."""
    keys: list[tuple[str, bool]] = []
    for item in order_by or ["creation_time DESC"]:
        match = _ORDER.fullmatch(item)
        if match is None:
            msg = (
                f"invalid order_by {item!r}: use name, experiment_id, creation_time or "
                "last_update_time, optionally followed by ASC or DESC"
            )
            raise InvalidArgumentError(msg, field="order_by")
        keys.append((match[1].lower(), (match[2] or "asc").lower() == "asc"))
    if all(key != "experiment_id" for key, _ in keys):
        keys.append(("experiment_id", True))
    for key, ascending in reversed(keys):
        experiments.sort(
            key=lambda e: int(e.experiment_id) if key == "experiment_id" else getattr(e, key),
            reverse=not ascending,
        )


def _all_experiments(client: LocalClient, view_type: ViewType) -> list[Experiment]:
    found: list[Experiment] = []
    more = True
    while more:
        page, more = client.workspace.experiments.list(
            view_type=view_type, max_results=MAX_RESULTS, offset=len(found)
        )
        found.extend(page)
    return found


@router.post("/experiments/create")
def create_experiment(fields: FieldsDep, client: ClientDep, request: Request) -> Response:
    """Create an experiment; ``artifact_location`` is ignored (artifacts go to the proxy).

    The tag ``conveyor.project`` names the experiment's project (default: ``default``).
    """
    fields.text("artifact_location")
    tags = dict(fields.pairs("tags"))
    experiment = create_in_project(
        request, client, fields.required("name"), tags, tags.get(PROJECT_TAG)
    )
    return reply({"experiment_id": experiment.experiment_id})


@router.get("/experiments/get")
def get_experiment(fields: FieldsDep, client: ClientDep) -> Response:
    """Return one experiment by id."""
    experiment = client.get_experiment(fields.required("experiment_id"))
    return reply({"experiment": experiment_json(experiment)})


@router.get("/experiments/get-by-name")
def get_experiment_by_name(fields: FieldsDep, client: ClientDep) -> Response:
    """Return one experiment by name."""
    name = fields.required("experiment_name")
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        msg = f"Could not find experiment with name '{name}'"
        raise NotFoundError(msg, field="experiment_name")
    return reply({"experiment": experiment_json(experiment)})


@router.api_route("/experiments/search", methods=["GET", "POST"])
def search_experiments(fields: FieldsDep, client: ClientDep, request: Request) -> Response:
    """Return one page of experiments matching ``filter`` in ``order_by`` order."""
    max_results = check_max_results(fields.integer("max_results", 1000))
    offset = decode_page_token(fields.text("page_token"))
    clauses = parse_experiment_filter(fields.text("filter"))
    order_by = fields.texts("order_by")
    experiments = [
        e
        for e in _all_experiments(client, fields.view_type("view_type"))
        if all(_matches(e, c) for c in clauses)
    ]
    visible = set(visible_experiment_ids(request, [e.experiment_id for e in experiments]))
    experiments = [e for e in experiments if e.experiment_id in visible]
    sort_experiments(experiments, order_by)
    end = offset + max_results
    payload: dict[str, Any] = {"experiments": [experiment_json(e) for e in experiments[offset:end]]}
    if end < len(experiments):
        payload["next_page_token"] = encode_page_token(end)
    return reply(payload)


@router.post("/experiments/delete")
def delete_experiment(fields: FieldsDep, client: ClientDep) -> Response:
    """Move an experiment to the trash."""
    client.delete_experiment(fields.required("experiment_id"))
    return reply()


@router.post("/experiments/restore")
def restore_experiment(fields: FieldsDep, client: ClientDep) -> Response:
    """Bring an experiment back from the trash."""
    client.restore_experiment(fields.required("experiment_id"))
    return reply()


@router.post("/experiments/update")
def update_experiment(fields: FieldsDep, client: ClientDep) -> Response:
    """Rename an experiment."""
    experiment_id = fields.required("experiment_id")
    client.workspace.experiments.rename(experiment_id, fields.required("new_name"))
    return reply()


@router.post("/experiments/delete-experiment-tag")
def delete_experiment_tag(fields: FieldsDep, client: ClientDep) -> Response:
    """Remove one tag from an experiment."""
    experiment_id = fields.required("experiment_id")
    client.workspace.experiments.delete_tag(experiment_id, fields.required("key"))
    return reply()


@router.post("/experiments/set-experiment-tag")
def set_experiment_tag(fields: FieldsDep, client: ClientDep) -> Response:
    """Set one tag on an experiment."""
    experiment_id = fields.required("experiment_id")
    value = fields.text("value", "") or ""
    client.workspace.experiments.set_tag(experiment_id, fields.required("key"), value)
    return reply()
