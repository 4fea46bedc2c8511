"""One registry API, two transports: the local workspace or a server's ``/api/v1``.

``registry_client(client)`` follows the tracking client's transport, so
``CONVEYOR_SERVER=http://...`` sends registry calls to the server like everything else.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from conveyor.registry.entities import (
    ApprovalPolicy,
    ApprovalRequest,
    ModelPage,
    ModelVersion,
    Promotion,
    RegisteredModel,
    VersionPage,
)
from conveyor.registry.uris import check_name, parse_model_uri

if TYPE_CHECKING:
    from conveyor.tracking.client import Client
    from conveyor.tracking.remote import HttpClient
    from conveyor.tracking.service import Workspace


def local_actor() -> str:
    """The acting user in embedded mode: ``CONVEYOR_USER`` or the OS user."""
    from conveyor.store.events import current_actor

    return current_actor()


class RegistryClient(ABC):
    """Registry operations shared by the SDK and the CLI."""

    @abstractmethod
    def create_model(
        self,
        name: str,
        *,
        description: str = "",
        project: str = "default",
        tags: Mapping[str, str] | None = None,
    ) -> RegisteredModel:
        """Create a registered model."""

    @abstractmethod
    def get_model(self, name: str) -> RegisteredModel:
        """Return a registered model."""

    @abstractmethod
    def search_models(
        self, *, name_like: str | None = None, max_results: int = 100, page_token: str | None = None
    ) -> ModelPage:
        """List registered models."""

    @abstractmethod
    def delete_model(self, name: str) -> None:
        """Delete a registered model and its versions."""

    @abstractmethod
    def create_version(
        self,
        name: str,
        source: str,
        *,
        run_id: str | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        create_model: bool = True,
    ) -> ModelVersion:
        """Register ``source`` as the next version of ``name``."""

    @abstractmethod
    def get_version(self, name: str, version: int) -> ModelVersion:
        """Return one model version."""

    @abstractmethod
    def search_versions(
        self,
        *,
        name: str | None = None,
        run_id: str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> VersionPage:
        """List versions of a model or a run."""

    @abstractmethod
    def delete_version(self, name: str, version: int) -> None:
        """Delete a model version."""

    @abstractmethod
    def set_alias(self, name: str, alias: str, version: int) -> int | None:
        """Point an alias at a version (refused under an approval policy)."""

    @abstractmethod
    def delete_alias(self, name: str, alias: str) -> None:
        """Remove an alias."""

    @abstractmethod
    def transition_stage(
        self, name: str, version: int, stage: str, *, archive_existing: bool = False
    ) -> ModelVersion:
        """Move a version to a legacy stage."""

    @abstractmethod
    def resolve(self, uri: str) -> ModelVersion:
        """Return the version a ``models:/`` URI names."""

    @abstractmethod
    def promote(self, name: str, version: int, alias: str, *, comment: str = "") -> Promotion:
        """Move an alias now, or request approval when a policy applies."""

    @abstractmethod
    def decide(self, request_id: str, *, approve: bool, comment: str = "") -> ApprovalRequest:
        """Approve or reject a promotion request."""

    @abstractmethod
    def cancel_request(self, request_id: str) -> ApprovalRequest:
        """Withdraw a pending promotion request."""

    @abstractmethod
    def requests(
        self, *, name: str | None = None, state: str | None = None
    ) -> list[ApprovalRequest]:
        """List promotion requests."""

    @abstractmethod
    def set_policy(
        self, name: str, alias: str, *, required: int = 1, role: str = "approver"
    ) -> ApprovalPolicy:
        """Require approvals to move an alias."""

    @abstractmethod
    def delete_policy(self, name: str, alias: str) -> None:
        """Remove an approval policy."""

    @abstractmethod
    def policies(self, name: str) -> list[ApprovalPolicy]:
        """List a model's approval policies."""

    @abstractmethod
    def lineage(self, uri: str) -> dict[str, Any]:
        """The lineage graph around a model version, dataset version or run."""


class LocalRegistryClient(RegistryClient):
    """The registry of a local workspace; actions are recorded as ``local_actor()``."""

    def __init__(self, workspace: Workspace, *, actor: str | None = None) -> None:
        from conveyor.registry.approvals import Approvals
        from conveyor.registry.lineage import Lineage
        from conveyor.registry.service import Registry

        self.registry = Registry(workspace.engine)
        self.approvals = Approvals(self.registry)
        self._lineage = Lineage(workspace.engine)
        self.actor = actor or local_actor()

    def create_model(
        self,
        name: str,
        *,
        description: str = "",
        project: str = "default",
        tags: Mapping[str, str] | None = None,
    ) -> RegisteredModel:
        return self.registry.create_model(
            name, description=description, project=project, tags=tags, actor=self.actor
        )

    def get_model(self, name: str) -> RegisteredModel:
        return self.registry.get_model(name)

    def search_models(
        self, *, name_like: str | None = None, max_results: int = 100, page_token: str | None = None
    ) -> ModelPage:
        return self.registry.search_models(
            name_like=name_like, max_results=max_results, page_token=page_token
        )

    def delete_model(self, name: str) -> None:
        self.registry.delete_model(name, actor=self.actor)

    def create_version(
        self,
        name: str,
        source: str,
        *,
        run_id: str | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        create_model: bool = True,
    ) -> ModelVersion:
        return self.registry.create_version(
            name,
            source,
            run_id=run_id,
            description=description,
            tags=tags,
            create_model=create_model,
            actor=self.actor,
        )

    def get_version(self, name: str, version: int) -> ModelVersion:
        return self.registry.get_version(name, version)

    def search_versions(
        self,
        *,
        name: str | None = None,
        run_id: str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> VersionPage:
        return self.registry.search_versions(
            name=name, run_id=run_id, max_results=max_results, page_token=page_token
        )

    def delete_version(self, name: str, version: int) -> None:
        self.registry.delete_version(name, version, actor=self.actor)

    def set_alias(self, name: str, alias: str, version: int) -> int | None:
        return self.registry.set_alias(name, alias, version, actor=self.actor)

    def delete_alias(self, name: str, alias: str) -> None:
        self.registry.delete_alias(name, alias, actor=self.actor)

    def transition_stage(
        self, name: str, version: int, stage: str, *, archive_existing: bool = False
    ) -> ModelVersion:
        return self.registry.transition_stage(
            name, version, stage, archive_existing=archive_existing, actor=self.actor
        )

    def resolve(self, uri: str) -> ModelVersion:
        return self.registry.resolve(uri)

    def promote(self, name: str, version: int, alias: str, *, comment: str = "") -> Promotion:
        return self.approvals.promote(name, version, alias, requester=self.actor, comment=comment)

    def decide(self, request_id: str, *, approve: bool, comment: str = "") -> ApprovalRequest:
        return self.approvals.decide(
            request_id, approver=self.actor, approve=approve, comment=comment
        )

    def cancel_request(self, request_id: str) -> ApprovalRequest:
        return self.approvals.cancel(request_id, actor=self.actor)

    def requests(
        self, *, name: str | None = None, state: str | None = None
    ) -> list[ApprovalRequest]:
        return self.approvals.requests(name=name, state=state)

    def set_policy(
        self, name: str, alias: str, *, required: int = 1, role: str = "approver"
    ) -> ApprovalPolicy:
        return self.approvals.set_policy(
            name, alias, required=required, role=role, actor=self.actor
        )

    def delete_policy(self, name: str, alias: str) -> None:
        self.approvals.delete_policy(name, alias, actor=self.actor)

    def policies(self, name: str) -> list[ApprovalPolicy]:
        return self.approvals.policies(name)

    def lineage(self, uri: str) -> dict[str, Any]:
        return self._lineage.of(uri)


def _q(part: str) -> str:
    return quote(part, safe="")


class HttpRegistryClient(RegistryClient):
    """The registry of a Conveyor server, over ``/api/v1/models`` and friends."""

    def __init__(self, http: HttpClient) -> None:
        self._http = http

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http._request(method, path, **kwargs)
        return response.json() if response.content else None

    def _m(self, name: str) -> str:
        return f"/models/{_q(check_name(name))}"

    def create_model(
        self,
        name: str,
        *,
        description: str = "",
        project: str = "default",
        tags: Mapping[str, str] | None = None,
    ) -> RegisteredModel:
        body = {
            "name": name,
            "description": description,
            "project": project,
            "tags": dict(tags or {}),
        }
        return RegisteredModel.model_validate(self._call("POST", "/models", json=body))

    def get_model(self, name: str) -> RegisteredModel:
        return RegisteredModel.model_validate(self._call("GET", self._m(name)))

    def search_models(
        self, *, name_like: str | None = None, max_results: int = 100, page_token: str | None = None
    ) -> ModelPage:
        params: dict[str, Any] = {"max_results": max_results}
        if name_like:
            params["name_like"] = name_like
        if page_token:
            params["page_token"] = page_token
        return ModelPage.model_validate(self._call("GET", "/models", params=params))

    def delete_model(self, name: str) -> None:
        self._call("DELETE", self._m(name))

    def create_version(
        self,
        name: str,
        source: str,
        *,
        run_id: str | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        create_model: bool = True,
    ) -> ModelVersion:
        body = {
            "source": source,
            "run_id": run_id,
            "description": description,
            "tags": dict(tags or {}),
            "create_model": create_model,
        }
        return ModelVersion.model_validate(
            self._call("POST", f"{self._m(name)}/versions", json=body)
        )

    def get_version(self, name: str, version: int) -> ModelVersion:
        return ModelVersion.model_validate(
            self._call("GET", f"{self._m(name)}/versions/{int(version)}")
        )

    def search_versions(
        self,
        *,
        name: str | None = None,
        run_id: str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> VersionPage:
        given = (("name", name), ("run_id", run_id), ("page_token", page_token))
        params: dict[str, Any] = {"max_results": max_results, **{k: v for k, v in given if v}}
        return VersionPage.model_validate(self._call("GET", "/model-versions", params=params))

    def delete_version(self, name: str, version: int) -> None:
        self._call("DELETE", f"{self._m(name)}/versions/{int(version)}")

    def set_alias(self, name: str, alias: str, version: int) -> int | None:
        out = self._call("PUT", f"{self._m(name)}/aliases/{_q(alias)}", json={"version": version})
        return out.get("previous_version") if out else None

    def delete_alias(self, name: str, alias: str) -> None:
        self._call("DELETE", f"{self._m(name)}/aliases/{_q(alias)}")

    def transition_stage(
        self, name: str, version: int, stage: str, *, archive_existing: bool = False
    ) -> ModelVersion:
        body = {"stage": stage, "archive_existing": archive_existing}
        return ModelVersion.model_validate(
            self._call("POST", f"{self._m(name)}/versions/{int(version)}/stage", json=body)
        )

    def resolve(self, uri: str) -> ModelVersion:
        parse_model_uri(uri)  # fail fast, locally, on a malformed URI
        return ModelVersion.model_validate(
            self._call("GET", "/models-resolve", params={"uri": uri})
        )

    def promote(self, name: str, version: int, alias: str, *, comment: str = "") -> Promotion:
        body = {"version": version, "alias": alias, "comment": comment}
        return Promotion.model_validate(self._call("POST", f"{self._m(name)}/promote", json=body))

    def decide(self, request_id: str, *, approve: bool, comment: str = "") -> ApprovalRequest:
        verb = "approve" if approve else "reject"
        return ApprovalRequest.model_validate(
            self._call("POST", f"/approvals/{_q(request_id)}/{verb}", json={"comment": comment})
        )

    def cancel_request(self, request_id: str) -> ApprovalRequest:
        return ApprovalRequest.model_validate(
            self._call("POST", f"/approvals/{_q(request_id)}/cancel", json={})
        )

    def requests(
        self, *, name: str | None = None, state: str | None = None
    ) -> list[ApprovalRequest]:
        params = {k: v for k, v in (("name", name), ("state", state)) if v}
        out = self._call("GET", "/approvals", params=params)
        return [ApprovalRequest.model_validate(r) for r in out["requests"]]

    def set_policy(
        self, name: str, alias: str, *, required: int = 1, role: str = "approver"
    ) -> ApprovalPolicy:
        body = {"required": required, "role": role}
        return ApprovalPolicy.model_validate(
            self._call("PUT", f"{self._m(name)}/policies/{_q(alias)}", json=body)
        )

    def delete_policy(self, name: str, alias: str) -> None:
        self._call("DELETE", f"{self._m(name)}/policies/{_q(alias)}")

    def policies(self, name: str) -> list[ApprovalPolicy]:
        out = self._call("GET", f"{self._m(name)}/policies")
        return [ApprovalPolicy.model_validate(p) for p in out["policies"]]

    def lineage(self, uri: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/lineage", params={"uri": uri})
        return result


def registry_client(client: Client | None = None) -> RegistryClient:
    """The registry over ``client``'s transport (the fluent API's client by default)."""
    if client is None:
        from conveyor.tracking.fluent import get_client

        client = get_client()
    from conveyor.tracking.remote import HttpClient

    if isinstance(client, HttpClient):
        return HttpRegistryClient(client)
    workspace = client.workspace  # type: ignore[attr-defined]
    return LocalRegistryClient(workspace)
