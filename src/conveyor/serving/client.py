"""Deployments over either transport: the store directly, or a Conveyor server's REST API.

Traffic changes (canary, A/B, shadows, batching) are read-modify-write of the whole policy
with a compare-and-set on the revision, so two operators changing one deployment at once never
silently overwrite each other: the second gets a 409 and retries on the new revision.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from conveyor.errors import ConflictError, NotFoundError
from conveyor.serving.deployments import Deployment, Deployments, check_deployment_name
from conveyor.serving.policy import TrafficPolicy
from conveyor.serving.rollout_record import DEFAULT_INTERVAL_S, DEFAULT_STEPS, Rollout
from conveyor.serving.rollouts import Rollouts

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
    def feedback(
        self, name: str, request_ids: Sequence[str], values: Sequence[Any]
    ) -> dict[str, Any]: ...
    def report(self, name: str, **options: Any) -> dict[str, Any]: ...
    def start_rollout(
        self,
        name: str,
        to: str | int,
        *,
        steps: list[float] | tuple[float, ...] = DEFAULT_STEPS,
        interval_s: float = DEFAULT_INTERVAL_S,
        thresholds: dict[str, Any] | None = None,
    ) -> Rollout: ...
    def get_rollout(
        self, name: str, rollout_id: int | None = None, *, progress: bool = False
    ) -> Rollout: ...
    def list_rollouts(
        self, name: str | None = None, *, status: str | None = None
    ) -> list[Rollout]: ...
    def abort_rollout(self, name: str, *, reason: str = "") -> Rollout: ...
    def tick_rollouts(self) -> None: ...


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

    # -- experiments (conveyor.serving.experiments) --
    def feedback(
        self, name: str, request_ids: Sequence[str], values: Sequence[Any]
    ) -> dict[str, Any]:
        """Record outcomes or labels by request id (any number: sent in chunks)."""
        from conveyor.serving.experiments import record_feedback

        received = 0
        for ids, vals in _chunks(request_ids, values, 100_000):
            received += record_feedback(self._s._engine, name, ids, vals)["received"]
        return {"deployment": name, "received": received}

    def report(self, name: str, **options: Any) -> dict[str, Any]:
        """The experiment report (``options``: since_ms, until_ms, task, test, alpha, ...)."""
        from conveyor.serving.experiments import ABOptions, experiment_report

        ab = {
            k: options.pop(k)
            for k in ("test", "alpha", "min_samples", "higher_is_better")
            if k in options
        }
        return experiment_report(self._s._engine, name, options=ABOptions(**ab), **options)

    # -- progressive rollouts (conveyor.serving.rollouts) --
    def start_rollout(
        self,
        name: str,
        to: str | int,
        *,
        steps: list[float] | tuple[float, ...] = DEFAULT_STEPS,
        interval_s: float = DEFAULT_INTERVAL_S,
        thresholds: dict[str, Any] | None = None,
    ) -> Rollout:
        return self._r.start(name, to, steps=steps, interval_s=interval_s, thresholds=thresholds)

    def get_rollout(
        self, name: str, rollout_id: int | None = None, *, progress: bool = False
    ) -> Rollout:
        if rollout_id is None:
            return self._r.current(name, progress=progress)
        found = self._r.get(rollout_id, progress=progress)
        if found.deployment != name:
            msg = f"rollout {rollout_id} does not belong to deployment {name!r}"
            raise NotFoundError(msg, field="rollout_id")
        return found

    def list_rollouts(self, name: str | None = None, *, status: str | None = None) -> list[Rollout]:
        return self._r.list_rollouts(deployment=name, status=status)

    def abort_rollout(self, name: str, *, reason: str = "") -> Rollout:
        return self._r.abort(name, reason=reason)

    def tick_rollouts(self) -> None:
        """Drive the rollouts here (CAS-safe beside a server's controller)."""
        self._r.tick()

    @property
    def _r(self) -> Rollouts:
        return Rollouts(self._s._engine)


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

    # -- experiments (/deployments/{name}/feedback, /report) --
    def feedback(
        self, name: str, request_ids: Sequence[str], values: Sequence[Any]
    ) -> dict[str, Any]:
        received = 0
        for ids, vals in _chunks(request_ids, values, 10_000):
            body = {"request_ids": ids, "values": vals}
            received += self._call("POST", self._d(name) + "/feedback", json=body)["received"]
        return {"deployment": name, "received": received}

    def report(self, name: str, **options: Any) -> dict[str, Any]:
        params = {k: v for k, v in options.items() if v is not None}
        return dict(self._call("GET", self._d(name) + "/report", params=params))

    # -- progressive rollouts (/deployments/{name}/rollouts) --
    def start_rollout(
        self,
        name: str,
        to: str | int,
        *,
        steps: list[float] | tuple[float, ...] = DEFAULT_STEPS,
        interval_s: float = DEFAULT_INTERVAL_S,
        thresholds: dict[str, Any] | None = None,
    ) -> Rollout:
        body = {"to": to, "steps": list(steps), "interval_s": interval_s, "thresholds": thresholds}
        return Rollout.model_validate(self._call("POST", self._d(name) + "/rollouts", json=body))

    def get_rollout(
        self, name: str, rollout_id: int | None = None, *, progress: bool = False
    ) -> Rollout:
        if rollout_id is None:
            rollout_id = self._latest(name).rollout_id
        path = f"{self._d(name)}/rollouts/{rollout_id}"
        return Rollout.model_validate(self._call("GET", path, params={"progress": progress}))

    def list_rollouts(self, name: str | None = None, *, status: str | None = None) -> list[Rollout]:
        path = "/rollouts" if name is None else self._d(name) + "/rollouts"
        params = {} if status is None else {"status": status}
        data = self._call("GET", path, params=params)
        return [Rollout.model_validate(r) for r in data["rollouts"]]

    def abort_rollout(self, name: str, *, reason: str = "") -> Rollout:
        path = f"{self._d(name)}/rollouts/{self._latest(name).rollout_id}/abort"
        return Rollout.model_validate(self._call("POST", path, json={"reason": reason}))

    def tick_rollouts(self) -> None:
        """Nothing to do: the server's controller drives rollouts."""

    def _latest(self, name: str) -> Rollout:
        data = self._call("GET", self._d(name) + "/rollouts", params={"limit": 1})
        if not data["rollouts"]:
            msg = (
                f"deployment {name!r} has no rollout; start one with "
                f"`conveyor rollout start {name} --to VERSION`"
            )
            raise NotFoundError(msg, field="name")
        return Rollout.model_validate(data["rollouts"][0])


def _chunks(
    request_ids: Sequence[Any], values: Sequence[Any], size: int
) -> Iterator[tuple[list[Any], list[Any]]]:
    """Ids and values in slices of ``size`` (the server validates that their lengths match)."""
    ids, vals = list(request_ids), list(values)
    if len(ids) != len(vals) or not ids:
        yield ids, vals  # let the service's validation name the problem
        return
    for start in range(0, len(ids), size):
        yield ids[start : start + size], vals[start : start + size]


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
