"""Deployments over either transport: the store directly, or a Conveyor server's REST API.

Traffic changes (canary, A/B, shadows, batching) are read-modify-write of the whole policy
with a compare-and-set on the revision, so two operators changing one deployment at once never
silently overwrite each other: the second gets a 409 and retries on the new revision.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from conveyor.errors import ConflictError
from conveyor.serving.deployments import Deployment, Deployments, check_deployment_name
from conveyor.serving.policy import TrafficPolicy

if TYPE_CHECKING:
    from conveyor.tracking.client import Client


class DeploymentsClient(Protocol):
    def create(
        self,
        name: str,
        model_uri: str,
        *,
        policy: dict[str, Any] | None = None,
        description: str = "",
    ) -> Deployment: ...
    def get(self, name: str) -> Deployment: ...
    def list_deployments(self) -> list[Deployment]: ...
    def set_policy(
        self, name: str, policy: dict[str, Any], *, expected_revision: int | None = None
    ) -> Deployment: ...
    def set_target(self, name: str, model_uri: str) -> Deployment: ...
    def delete(self, name: str) -> None: ...
    def replicas(self, name: str) -> dict[str, Any]: ...


class LocalDeploymentsClient:
    """Deployments in the local workspace's store."""

    def __init__(self, service: Deployments) -> None:
        self._s = service

    def create(
        self,
        name: str,
        model_uri: str,
        *,
        policy: dict[str, Any] | None = None,
        description: str = "",
    ) -> Deployment:
        return self._s.create(name, model_uri, policy=policy, description=description)

    def get(self, name: str) -> Deployment:
        return self._s.get(name)

    def list_deployments(self) -> list[Deployment]:
        return self._s.list_deployments()

    def set_policy(
        self, name: str, policy: dict[str, Any], *, expected_revision: int | None = None
    ) -> Deployment:
        return self._s.set_policy(name, policy, expected_revision=expected_revision)

    def set_target(self, name: str, model_uri: str) -> Deployment:
        return self._s.set_target(name, model_uri)

    def delete(self, name: str) -> None:
        self._s.delete(name)

    def replicas(self, name: str) -> dict[str, Any]:
        return {
            "replicas": self._s.replicas(name),
            "served_versions": self._s.served_versions(name),
        }


class HttpDeploymentsClient:
    """Deployments of a Conveyor server, over ``/api/v1/deployments``."""

    def __init__(self, http: Any) -> None:
        self._http = http

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http._request(method, path, **kwargs)
        return response.json() if response.content else None

    @staticmethod
    def _d(name: str) -> str:
        return f"/deployments/{quote(check_deployment_name(name), safe='')}"

    def create(
        self,
        name: str,
        model_uri: str,
        *,
        policy: dict[str, Any] | None = None,
        description: str = "",
    ) -> Deployment:
        body = {"name": name, "model": model_uri, "policy": policy, "description": description}
        return Deployment.model_validate(self._call("POST", "/deployments", json=body))

    def get(self, name: str) -> Deployment:
        return Deployment.model_validate(self._call("GET", self._d(name)))

    def list_deployments(self) -> list[Deployment]:
        data = self._call("GET", "/deployments")
        return [Deployment.model_validate(d) for d in data["deployments"]]

    def set_policy(
        self, name: str, policy: dict[str, Any], *, expected_revision: int | None = None
    ) -> Deployment:
        body = {"policy": policy, "expected_revision": expected_revision}
        return Deployment.model_validate(self._call("PUT", self._d(name) + "/policy", json=body))

    def set_target(self, name: str, model_uri: str) -> Deployment:
        body = {"model": model_uri}
        return Deployment.model_validate(self._call("PUT", self._d(name) + "/target", json=body))

    def delete(self, name: str) -> None:
        self._call("DELETE", self._d(name))

    def replicas(self, name: str) -> dict[str, Any]:
        return dict(self._call("GET", self._d(name) + "/replicas"))


def deployments_client(client: Client | None = None) -> DeploymentsClient:
    """Deployments over ``client``'s transport (the fluent API's client by default)."""
    if client is None:
        from conveyor.tracking.fluent import get_client

        client = get_client()
    from conveyor.tracking.remote import HttpClient

    if isinstance(client, HttpClient):
        return HttpDeploymentsClient(client)
    return LocalDeploymentsClient(Deployments(client.workspace.engine))  # type: ignore[attr-defined]


def change_policy(
    client: DeploymentsClient,
    name: str,
    change: Callable[[TrafficPolicy], TrafficPolicy],
    *,
    attempts: int = 5,
) -> Deployment:
    """Read the policy, apply ``change``, write it back if nobody changed it meanwhile."""
    for attempt in range(attempts):
        current = client.get(name)
        policy = change(TrafficPolicy.from_dict(current.policy))
        try:
            return client.set_policy(name, policy.to_dict(), expected_revision=current.revision)
        except ConflictError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
