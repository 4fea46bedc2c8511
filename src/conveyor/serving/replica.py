"""A serving replica: the deployments one process serves, kept in sync with the store.

The replica polls the store every ``poll_s`` seconds (one small read per deployment): when a
deployment's resolved route table changed (an alias moved, a policy changed) its host loads what
is missing in the background and swaps. The replica shares nothing with other replicas but the
store: a restarted one reads the same rows and serves the same policy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from conveyor import __version__
from conveyor.errors import NotFoundError
from conveyor.registry.uris import parse_model_uri
from conveyor.serving.host import DeploymentHost
from conveyor.serving.routes import RouteTable

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ServeTarget:
    """What a replica serves: a named deployment, or a ``models:/`` URI without one."""

    deployment: str | None = None
    model_uri: str | None = None
    name: str | None = None  # the served name for a URI (default: the model's name)

    @property
    def served_name(self) -> str:
        if self.deployment is not None:
            return self.deployment
        assert self.model_uri is not None  # noqa: S101 - one of the two is set
        return self.name or parse_model_uri(self.model_uri, field="model").name


def deployment_source(engine: Engine, name: str) -> Callable[[], RouteTable]:
    from conveyor.serving.deployments import Deployments

    service = Deployments(engine)
    return lambda: service.route_table(name)


def uri_source(engine: Engine, model_uri: str, served_name: str) -> Callable[[], RouteTable]:
    """Follow a ``models:/`` URI: an alias is re-resolved on every poll (hot swap on moves)."""
    from conveyor.registry.service import Registry
    from conveyor.serving.deployments import static_table

    registry = Registry(engine)
    ref = parse_model_uri(model_uri, field="model")

    def source() -> RouteTable:
        version = registry.resolve(ref).version
        return static_table(served_name, ref, version)

    return source


class Replica:
    """Hosts for every served deployment, a poll loop, and the replica's observed state."""

    def __init__(
        self,
        engine: Engine,
        hosts: dict[str, DeploymentHost],
        *,
        poll_s: float = 1.0,
        record: bool = True,
        discover: Callable[[], list[str]] | None = None,
        host_factory: Callable[[str], DeploymentHost] | None = None,
    ) -> None:
        self.engine = engine
        self.hosts = hosts
        self.poll_s = poll_s
        self.replica_id = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.started_ms = int(time.time() * 1000)
        self._record = record
        self._discover = discover
        self._host_factory = host_factory
        self._task: asyncio.Task[None] | None = None
        self._beat_at = 0.0

    @property
    def ready(self) -> bool:
        return all(h.ready for h in self.hosts.values())

    def host(self, name: str) -> DeploymentHost:
        host = self.hosts.get(name)
        if host is None:
            served = sorted(self.hosts)
            msg = f"no model or deployment named {name!r} is served here (serving: {served})"
            raise NotFoundError(msg, field="model_name")
        return host

    def single(self) -> DeploymentHost:
        """The one host, for routes without a model name (``/invocations``, ``/predict``)."""
        if len(self.hosts) != 1:
            msg = (
                f"this server serves {len(self.hosts)} deployments; name one: "
                f"/deployments/NAME/invocations or /v2/models/NAME/infer"
            )
            raise NotFoundError(msg, field="deployment")
        return next(iter(self.hosts.values()))

    async def start(self) -> None:
        """Load everything once (errors logged, the host stays unready), then poll."""
        await self.sync()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for host in self.hosts.values():
            await host.close()
        if self._record:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._forget)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                await self.sync()
            except Exception:  # keep serving what we have; the next poll retries
                log.exception("serving: reconcile failed")

    async def sync(self) -> None:
        """One reconcile pass over every deployment (and discovery of new ones)."""
        if self._discover is not None and self._host_factory is not None:
            names = set(await asyncio.to_thread(self._discover))
            for name in names - set(self.hosts):
                self.hosts[name] = self._host_factory(name)
            for name in set(self.hosts) - names:
                await self.hosts.pop(name).close()
        swapped = []
        for host in list(self.hosts.values()):
            try:
                if await host.reconcile():
                    swapped.append(host)
            except Exception as exc:
                host.last_error = str(exc)
                log.exception("serving: could not load deployment %s", host.name)
        if self._record:
            beat = time.monotonic() - self._beat_at > max(5.0, self.poll_s * 5)
            if swapped or beat:
                await asyncio.to_thread(self._report, swapped, beat)

    def _report(self, swapped: list[DeploymentHost], beat: bool) -> None:
        from conveyor.serving.deployments import Deployments

        service = Deployments(self.engine)
        for host in self.hosts.values():
            table = host.table
            if table is None or table.revision == 0:  # a URI, not a deployment row
                continue
            try:
                if host in swapped:
                    service.record_served(table)
                service.heartbeat(self.replica_id, table, self.started_ms)
            except NotFoundError:  # deleted meanwhile; the next discovery drops it
                continue
        if beat:
            self._beat_at = time.monotonic()

    def _forget(self) -> None:
        from conveyor.serving.deployments import Deployments

        Deployments(self.engine).forget_replica(self.replica_id)

    def server_metadata(self) -> dict[str, Any]:
        return {"name": "conveyor", "version": __version__, "extensions": ["binary_tensor_data"]}
