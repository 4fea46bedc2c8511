"""A deployment's traffic policy: which model versions get which share of requests.

The policy is stored as JSON on the deployment row. Routes name a *reference* — an alias
(``@production``) or a version number (``8``) — and a weight; replicas resolve references to
versions on every poll, so moving an alias moves traffic without touching the policy.

Modes:

* ``single``: every request goes to the deployment's target;
* ``canary``: ``percent`` % to a candidate, the rest to the target;
* ``ab``: named arms with weights (the first arm is the control).

Shadows get an asynchronous copy of a share of requests; their answers are recorded, never
returned. ``sticky`` (``header:NAME``) pins a caller to one route by hashing that header.
``log_sample`` is the share of requests (0-1, decided by a hash of the request id) that replicas
write to the request log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from conveyor.errors import InvalidArgumentError
from conveyor.registry.uris import check_alias, check_version

Mode = Literal["single", "canary", "ab"]
MODES: tuple[str, ...] = ("single", "canary", "ab")
PRIMARY = "primary"
CANARY = "canary"
_ARM = re.compile(r"[A-Za-z0-9_\-]{1,50}")
_STICKY = re.compile(r"header:[A-Za-z0-9\-_]{1,100}")
MAX_BATCH_SIZE_LIMIT = 100_000


def check_ref(ref: object, *, field: str = "ref") -> str:
    """Return a normalised reference: ``@alias`` or a version number as a string."""
    if isinstance(ref, int) and not isinstance(ref, bool):
        return str(check_version(ref, field=field))
    if isinstance(ref, str):
        text = ref.strip()
        if text.startswith("@"):
            return "@" + check_alias(text[1:], field=field)
        if text.isdigit():
            return str(check_version(text, field=field))
    msg = f"{field} must be an alias ('@production') or a version number ('8'); got {ref!r}"
    raise InvalidArgumentError(msg, field=field)


def _check_weight(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        msg = f"{field} must be a percentage between 0 and 100; got {value!r}"
        raise InvalidArgumentError(msg, field=field)
    return float(value)


@dataclass(frozen=True, slots=True)
class Route:
    """A share of live traffic: ``weight`` % of requests go to the version ``ref`` names."""

    name: str
    ref: str
    weight: float

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ref": self.ref, "weight": self.weight}


@dataclass(frozen=True, slots=True)
class Shadow:
    """A challenger that gets a copy of ``percent`` % of requests; its answers are recorded."""

    ref: str
    percent: float = 100.0

    def to_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, "percent": self.percent}


@dataclass(frozen=True, slots=True)
class Batching:
    """Adaptive batching limits for every version this deployment serves."""

    max_batch_size: int = 256
    max_latency_ms: float = 10.0
    enabled: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_batch_size": self.max_batch_size,
            "max_latency_ms": self.max_latency_ms,
            "enabled": self.enabled,
        }


@dataclass(frozen=True, slots=True)
class TrafficPolicy:
    """How a deployment splits, mirrors and batches its traffic."""

    mode: Mode = "single"
    routes: tuple[Route, ...] = ()  # besides the primary (canary: one; ab: every arm)
    shadows: tuple[Shadow, ...] = ()
    sticky: str | None = None
    batching: Batching = field(default_factory=Batching)
    log_sample: float = 0.0  # share of requests written to the request log (0: off)
    auto_promote: dict[str, Any] | None = None  # A/B: promote a significant winner (None: off)

    def live_routes(self, target: str) -> list[Route]:
        """The weighted routes, the primary (``target``) included, weights summing to 100."""
        if self.mode == "single":
            return [Route(PRIMARY, target, 100.0)]
        if self.mode == "canary":
            canary = self.routes[0]
            return [Route(PRIMARY, target, 100.0 - canary.weight), canary]
        return list(self.routes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "routes": [r.to_dict() for r in self.routes],
            "shadows": [s.to_dict() for s in self.shadows],
            "sticky": self.sticky,
            "batching": self.batching.to_dict(),
            "log_sample": self.log_sample,
            "auto_promote": self.auto_promote,
        }

    @classmethod
    def from_dict(cls, data: Any) -> TrafficPolicy:
        """Parse and validate a stored or submitted policy; errors name the field."""
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise InvalidArgumentError("policy must be a JSON object", field="policy")
        known = {"mode", "routes", "shadows", "sticky", "batching", "log_sample", "auto_promote"}
        unknown = sorted(set(data) - known)
        if unknown:
            msg = f"unknown policy field {unknown[0]!r}; use {', '.join(sorted(known))}"
            raise InvalidArgumentError(msg, field=f"policy.{unknown[0]}")
        mode = data.get("mode", "single")
        if mode not in MODES:
            msg = f"policy.mode must be one of {list(MODES)}; got {mode!r}"
            raise InvalidArgumentError(msg, field="policy.mode")
        routes = tuple(
            _route(r, f"policy.routes[{i}]") for i, r in enumerate(_list(data, "routes"))
        )
        shadows = tuple(
            _shadow(s, f"policy.shadows[{i}]") for i, s in enumerate(_list(data, "shadows"))
        )
        policy = cls(
            mode=mode,
            routes=routes,
            shadows=shadows,
            sticky=_sticky(data.get("sticky")),
            batching=_batching(data.get("batching")),
            log_sample=check_log_sample(data.get("log_sample", 0.0), field="policy.log_sample"),
            auto_promote=check_auto_promote(data.get("auto_promote")),
        )
        policy.check()
        return policy

    def check(self) -> None:
        """Raise when the routes do not fit the mode."""
        if self.mode == "single" and self.routes:
            msg = "policy.routes must be empty in single mode (the target takes every request)"
            raise InvalidArgumentError(msg, field="policy.routes")
        if self.mode == "canary" and len(self.routes) != 1:
            msg = "a canary policy has exactly one route: the candidate and its percentage"
            raise InvalidArgumentError(msg, field="policy.routes")
        if self.mode == "ab":
            if len(self.routes) < 2:
                raise InvalidArgumentError(
                    "an A/B policy needs two arms or more", field="policy.routes"
                )
            names = [r.name for r in self.routes]
            if len(set(names)) != len(names):
                raise InvalidArgumentError("A/B arm names must be unique", field="policy.routes")
            total = sum(r.weight for r in self.routes)
            if abs(total - 100.0) > 1e-6:
                msg = f"A/B arm weights must add up to 100; they add up to {total:g}"
                raise InvalidArgumentError(msg, field="policy.routes")

    def with_canary(self, ref: str, percent: float, sticky: str | None = None) -> TrafficPolicy:
        route = Route(CANARY, check_ref(ref, field="candidate"), _check_weight(percent, "percent"))
        return replace(self, mode="canary", routes=(route,), sticky=_sticky(sticky) or self.sticky)

    def with_arms(self, arms: list[dict[str, Any]], sticky: str | None = None) -> TrafficPolicy:
        """A/B mode over ``arms`` (``{"name", "ref", "weight"}``), checked like a stored policy."""
        spec = {**self.to_dict(), "mode": "ab", "routes": arms}
        if sticky is not None:
            spec["sticky"] = sticky
        return TrafficPolicy.from_dict(spec)

    def with_shadows(self, shadows: list[dict[str, Any]]) -> TrafficPolicy:
        """Replace the shadows (``{"ref", "percent"}``; an empty list stops mirroring)."""
        return TrafficPolicy.from_dict({**self.to_dict(), "shadows": shadows})

    def with_batching(self, **limits: Any) -> TrafficPolicy:
        """Change the batching limits given (``None`` keeps a limit as it is)."""
        batching = self.batching.to_dict()
        batching.update({k: v for k, v in limits.items() if v is not None})
        return TrafficPolicy.from_dict({**self.to_dict(), "batching": batching})

    def single(self) -> TrafficPolicy:
        return replace(self, mode="single", routes=(), auto_promote=None)

    def with_log_sample(self, share: float) -> TrafficPolicy:
        """Write ``share`` (0-1) of requests to the request log; 0 turns the log off."""
        return replace(self, log_sample=check_log_sample(share, field="log_sample"))


def check_log_sample(value: object, *, field: str = "log_sample") -> float:
    """Return a request-log share: a number from 0 (off) to 1 (every request)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        msg = f"{field} must be between 0 and 1 (0.05 logs 5 % of requests); got {value!r}"
        raise InvalidArgumentError(msg, field=field)
    return float(value)


AUTO_PROMOTE_TESTS = ("sequential", "z", "welch")


def check_auto_promote(data: Any, *, field: str = "policy.auto_promote") -> dict[str, Any] | None:
    """Validate A/B auto-promotion settings: test, alpha, min_samples, higher_is_better."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise InvalidArgumentError(f"{field} must be an object or null", field=field)
    allowed = {"test", "alpha", "min_samples", "higher_is_better"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        msg = f"unknown {field} field {unknown[0]!r}; use {', '.join(sorted(allowed))}"
        raise InvalidArgumentError(msg, field=f"{field}.{unknown[0]}")
    test = data.get("test", "sequential")
    if test not in AUTO_PROMOTE_TESTS:
        msg = f"{field}.test must be one of {list(AUTO_PROMOTE_TESTS)}; got {test!r}"
        raise InvalidArgumentError(msg, field=f"{field}.test")
    alpha = data.get("alpha", 0.05)
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha <= 0.5:
        msg = f"{field}.alpha must be a significance level above 0 and at most 0.5; got {alpha!r}"
        raise InvalidArgumentError(msg, field=f"{field}.alpha")
    samples = data.get("min_samples", 200)
    if isinstance(samples, bool) or not isinstance(samples, int) or not 2 <= samples <= 10**9:
        msg = f"{field}.min_samples must be an integer >= 2 (outcomes per arm); got {samples!r}"
        raise InvalidArgumentError(msg, field=f"{field}.min_samples")
    higher = data.get("higher_is_better", True)
    if not isinstance(higher, bool):
        raise InvalidArgumentError(
            f"{field}.higher_is_better must be true or false", field=f"{field}.higher_is_better"
        )
    return {"test": test, "alpha": float(alpha), "min_samples": samples, "higher_is_better": higher}


def _list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise InvalidArgumentError(f"policy.{key} must be a list", field=f"policy.{key}")
    return value


def _route(data: Any, where: str) -> Route:
    if not isinstance(data, dict):
        raise InvalidArgumentError(f"{where} must be an object", field=where)
    name = data.get("name", CANARY)
    if not isinstance(name, str) or not _ARM.fullmatch(name) or name == PRIMARY:
        msg = f"{where}.name must be 1-50 letters, digits, '_' or '-' (not 'primary'); got {name!r}"
        raise InvalidArgumentError(msg, field=f"{where}.name")
    return Route(
        name,
        check_ref(data.get("ref"), field=f"{where}.ref"),
        _check_weight(data.get("weight"), f"{where}.weight"),
    )


def _shadow(data: Any, where: str) -> Shadow:
    if not isinstance(data, dict):
        raise InvalidArgumentError(f"{where} must be an object", field=where)
    percent = _check_weight(data.get("percent", 100.0), f"{where}.percent")
    return Shadow(check_ref(data.get("ref"), field=f"{where}.ref"), percent)


def _sticky(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _STICKY.fullmatch(value):
        msg = f"sticky must look like 'header:X-User-Id'; got {value!r}"
        raise InvalidArgumentError(msg, field="sticky")
    return "header:" + value.split(":", 1)[1].lower()


def _batching(data: Any) -> Batching:
    if data is None:
        return Batching()
    if not isinstance(data, dict):
        raise InvalidArgumentError("policy.batching must be an object", field="policy.batching")
    size = data.get("max_batch_size", 256)
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_BATCH_SIZE_LIMIT:
        msg = f"max_batch_size must be an integer from 1 to {MAX_BATCH_SIZE_LIMIT}; got {size!r}"
        raise InvalidArgumentError(msg, field="policy.batching.max_batch_size")
    latency = data.get("max_latency_ms", 10.0)
    if (
        isinstance(latency, bool)
        or not isinstance(latency, int | float)
        or not 0 <= latency <= 10_000
    ):
        msg = f"max_latency_ms must be between 0 and 10000; got {latency!r}"
        raise InvalidArgumentError(msg, field="policy.batching.max_latency_ms")
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        msg = "policy.batching.enabled must be true or false"
        raise InvalidArgumentError(msg, field="policy.batching.enabled")
    return Batching(size, float(latency), enabled)
