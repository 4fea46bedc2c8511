"""Registry service on both databases: models, versions, aliases, stages, events."""

from __future__ import annotations

import pytest

from conveyor.errors import (
    AlreadyExistsError,
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
)
from conveyor.registry.service import Registry
from conveyor.store import events
from conveyor.tracking import LocalClient, Workspace


@pytest.fixture
def registry(workspace: Workspace) -> Registry:
    return Registry(workspace.engine)


def _run(workspace: Workspace) -> str:
    client = LocalClient(workspace=workspace)
    exp = client.get_or_create_experiment("reg")
    return client.create_run(exp.experiment_id).info.run_id


def test_versions_count_up_and_carry_source_and_run(
    registry: Registry, workspace: Workspace
) -> None:
    run_id = _run(workspace)
    registry.create_model("churn", description="churn model", tags={"team": "growth"})
    v1 = registry.create_version("churn", f"runs:/{run_id}/model", tags={"k": "v"})
    v2 = registry.create_version("churn", f"runs:/{run_id}/model")
    assert (v1.version, v2.version) == (1, 2)
    assert v1.run_id == run_id
    assert v1.tags == {"k": "v"}
    model = registry.get_model("churn")
    assert model.latest_version == 2
    assert model.tags == {"team": "growth"}
    assert [v.version for v in registry.search_versions(name="churn").versions] == [2, 1]
    assert [v.version for v in registry.search_versions(run_id=run_id).versions] == [2, 1]


def test_create_version_can_create_the_model_and_checks_the_run(registry: Registry) -> None:
    v = registry.create_version("auto", "/models/model", create_model=True)
    assert v.version == 1
    with pytest.raises(NotFoundError) as err:
        registry.create_version("auto", "runs:/0123456789abcdef0123456789abcdef/model")
    assert err.value.field == "run_id"
    with pytest.raises(NotFoundError) as err:
        registry.create_version("missing", "/models/model")
    assert err.value.field == "name"


def test_duplicate_and_bad_names(registry: Registry) -> None:
    registry.create_model("a")
    with pytest.raises(AlreadyExistsError):
        registry.create_model("a")
    for bad in ("", "a/b", "x@y", " pad", "m:1"):
        with pytest.raises(InvalidArgumentError) as err:
            registry.create_model(bad)
        assert err.value.field == "name"
    with pytest.raises(NotFoundError) as err:
        registry.create_model("b", project="nope")
    assert err.value.field == "project"


def test_aliases_resolve_move_and_compare_and_set(registry: Registry) -> None:
    registry.create_version("m", "/p/1", create_model=True)
    registry.create_version("m", "/p/2")
    assert registry.set_alias("m", "production", 1) is None
    assert registry.resolve("models:/m@production").version == 1
    assert registry.set_alias("m", "production", 2) == 1
    assert registry.get_by_alias("m", "production").version == 2
    assert registry.get_model("m").aliases == {"production": 2}
    assert registry.get_version("m", 2).aliases == ["production"]
    with pytest.raises(ConflictError, match="changed concurrently"):
        registry.set_alias("m", "production", 1, expected=1)
    registry.set_alias("m", "production", 1, expected=2)
    assert registry.resolve("models:/m/latest").version == 2
    assert registry.resolve("models:/m/1").source == "/p/1"
    registry.delete_alias("m", "production")
    with pytest.raises(NotFoundError) as err:
        registry.resolve("models:/m@production")
    assert err.value.field == "alias"
    for bad in ("latest", "v3", "1abc", "has space"):
        with pytest.raises(InvalidArgumentError):
            registry.set_alias("m", bad, 1)
    with pytest.raises(NotFoundError) as err:
        registry.set_alias("m", "staging", 9)
    assert err.value.field == "version"


def test_deleting_a_version_drops_its_aliases(registry: Registry) -> None:
    registry.create_version("m", "/p/1", create_model=True)
    registry.set_alias("m", "champion", 1)
    registry.delete_version("m", 1)
    assert registry.get_model("m").aliases == {}
    with pytest.raises(NotFoundError):
        registry.get_version("m", 1)
    # numbers are never reused
    assert registry.create_version("m", "/p/2").version == 2


def test_stages_like_mlflow(registry: Registry) -> None:
    for i in range(3):
        registry.create_version("m", f"/p/{i}", create_model=True)
    registry.transition_stage("m", 1, "production")
    registry.transition_stage("m", 2, "Production", archive_existing=True)
    assert registry.get_version("m", 1).stage == "Archived"
    assert registry.resolve("models:/m/Production").version == 2
    latest = registry.latest_versions("m")
    assert {(v.stage, v.version) for v in latest} == {
        ("Archived", 1),
        ("Production", 2),
        ("None", 3),
    }
    with pytest.raises(InvalidArgumentError) as err:
        registry.transition_stage("m", 1, "prod")
    assert err.value.field == "stage"


def test_rename_tags_delete_and_audit_trail(registry: Registry, workspace: Workspace) -> None:
    registry.create_version("m", "/p/1", create_model=True, actor="alice")
    registry.set_model_tag("m", "owner", "ml")
    registry.set_version_tag("m", 1, "validated", "yes")
    registry.delete_version_tag("m", 1, "validated")
    with pytest.raises(NotFoundError):
        registry.delete_model_tag("m", "nope")
    registry.rename_model("m", "m2")
    assert registry.get_model("m2").latest_version == 1
    with pytest.raises(NotFoundError):
        registry.get_model("m")
    registry.delete_model("m2")
    trail = events.list_events(workspace.engine, subject="models:/m*")
    actions = [e.action for e in trail]
    assert actions[:2] == ["registry.model_created", "registry.version_created"]
    assert trail[1].actor == "alice"
    assert "registry.model_renamed" in actions
    assert events.verify(workspace.engine).ok


def test_search_models_pages(registry: Registry) -> None:
    for i in range(5):
        registry.create_model(f"model-{i}")
    page = registry.search_models(max_results=2)
    names = [m.name for m in page.models]
    while page.next_page_token:
        page = registry.search_models(max_results=2, page_token=page.next_page_token)
        names += [m.name for m in page.models]
    assert names == [f"model-{i}" for i in range(5)]
    assert [m.name for m in registry.search_models(name_like="%-3").models] == ["model-3"]
    with pytest.raises(InvalidArgumentError) as err:
        registry.search_models(page_token="abc")
    assert err.value.field == "page_token"
