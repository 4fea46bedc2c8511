"""A resolved route table: concrete model versions with weights, as a replica serves them.

Choosing a route is a weighted draw; with a sticky key the draw is a hash of the key, so one
caller always lands on the same route for as long as the weights stay the same.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any

from conveyor.serving.policy import Batching

_SCALE = 1 << 32


@dataclass(frozen=True, slots=True)
class ResolvedRoute:
    """A live route: ``weight`` % of traffic to ``version`` of the deployment's model."""

    name: str
    version: int
    weight: float
    ref: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "weight": self.weight, "ref": self.ref}


@dataclass(frozen=True, slots=True)
class ResolvedShadow:
    """A shadow: ``percent`` % of requests are copied to ``version``."""

    version: int
    percent: float
    ref: str

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "percent": self.percent, "ref": self.ref}


@dataclass(frozen=True, slots=True)
class RouteTable:
    """What one deployment serves at one moment; replicas swap whole tables atomically."""

    deployment: str
    model_name: str
    revision: int
    routes: tuple[ResolvedRoute, ...]
    shadows: tuple[ResolvedShadow, ...] = ()
    sticky: str | None = None
    batching: Batching = field(default_factory=Batching)
    _bounds: tuple[int, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        total = sum(r.weight for r in self.routes) or 1.0
        acc, bounds = 0.0, []
        for r in self.routes:
            acc += r.weight
            bounds.append(round(acc / total * _SCALE))
        object.__setattr__(self, "_bounds", tuple(bounds))

    @property
    def key(self) -> tuple[Any, ...]:
        """What a replica compares to decide whether anything changed."""
        return (self.revision, self.routes, self.shadows, self.sticky, self.batching)

    @property
    def versions(self) -> set[int]:
        """Every version the table needs loaded (routes with weight and shadows)."""
        live = {r.version for r in self.routes if r.weight > 0}
        return live | {s.version for s in self.shadows if s.percent > 0}

    @property
    def primary(self) -> ResolvedRoute:
        return self.routes[0]

    def allows(self, version: int) -> bool:
        """True when a live request may be answered by ``version``."""
        return any(r.version == version and r.weight > 0 for r in self.routes)

    def choose(self, sticky_key: str | None = None) -> ResolvedRoute:
        """Pick the route for one request: a hash of ``sticky_key`` when given, else random."""
        if len(self.routes) == 1:
            return self.routes[0]
        if sticky_key is not None:
            digest = hashlib.blake2b(sticky_key.encode(), digest_size=4).digest()
            point = int.from_bytes(digest, "big")
        else:
            point = random.getrandbits(32)
        for route, bound in zip(self.routes, self._bounds, strict=True):
            if point < bound and route.weight > 0:
                return route
        return next(r for r in reversed(self.routes) if r.weight > 0)

    def shadows_for(self, draw: float | None = None) -> list[ResolvedShadow]:
        """The shadows that get a copy of this request."""
        roll = random.random() * 100 if draw is None else draw * 100  # noqa: S311
        return [s for s in self.shadows if s.percent >= 100 or roll < s.percent]

    def to_dict(self) -> dict[str, Any]:
        return {
            "deployment": self.deployment,
            "model": self.model_name,
            "revision": self.revision,
            "routes": [r.to_dict() for r in self.routes],
            "shadows": [s.to_dict() for s in self.shadows],
            "sticky": self.sticky,
            "batching": self.batching.to_dict(),
        }
