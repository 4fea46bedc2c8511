"""Progressive rollouts: a candidate version moved through traffic steps, judged at each one.

A rollout is a row (``rollouts``): the candidate, the primary it replaces, its steps, interval
and analysis thresholds, the step it is at and one history entry per decision. ``tick`` is the
controller's move: for each active rollout whose step has run ``interval_s`` it reads the step's
traffic summaries (``serving_windows``), runs ``conveyor.rollout.analyze_step`` and then goes to
the next step, promotes the candidate after the 100 % step, or rolls back. Every decision is a
compare-and-set on (rollout, step, status) together with its ``rollout.*`` audit event, so the
server's controller and a ``conveyor rollout start`` in the foreground never both act on one
step. Traffic changes go through ``Deployments`` (audited there too).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, insert, select, update

from conveyor._time import now_ms
from conveyor.errors import ConflictError, ConveyorError, InvalidArgumentError, NotFoundError
from conveyor.serving.deployments import Deployments, check_deployment_name
from conveyor.serving.policy import CANARY, check_ref
from conveyor.serving.rollout_record import (
    ABORTED,
    DEFAULT_INTERVAL_S,
    DEFAULT_STEPS,
    FAILED,
    PENDING_APPROVAL,
    PROMOTING,
    RUNNING,
    STALE_MS,
    STARTING,
    STATUSES,
    SUCCEEDED,
    TIMEOUT_INTERVALS,
    Judged,
    Rollout,
    baseline_window,
    check_interval,
    check_steps,
    check_thresholds,
    failing_early,
    from_row,
    history_entry,
    history_json,
    request_approval,
    starved_reason,
)
from conveyor.store import events, read, schema, write

if TYPE_CHECKING:
    from conveyor.rollout import AnalysisThresholds

log = logging.getLogger(__name__)


_ro = schema.rollouts
_dep = schema.deployments
_SELECT = select(_ro, _dep.c.name.label("deployment"), _dep.c.project).join(
    _dep, _dep.c.deployment_id == _ro.c.deployment_id
)


class Rollouts:
    """Start, follow, abort and advance progressive rollouts."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._deployments = Deployments(engine)

    # -- reads -----------------------------------------------------------------------------
    def get(self, rollout_id: int, *, progress: bool = False) -> Rollout:
        """One rollout by id; ``progress`` adds the current step's live figures."""
        with read(self._engine) as conn:
            row = conn.execute(_SELECT.where(_ro.c.rollout_id == rollout_id)).first()
        if row is None:
            raise NotFoundError(f"rollout {rollout_id} does not exist", field="rollout_id")
        return self._with_progress(from_row(row)) if progress else from_row(row)

    def current(self, deployment: str, *, progress: bool = False) -> Rollout:
        """The deployment's newest rollout (running or not)."""
        found = self.list_rollouts(deployment=deployment, limit=1)
        if not found:
            msg = (
                f"deployment {deployment!r} has no rollout; start one with "
                f"`conveyor rollout start {deployment} --to VERSION`"
            )
            raise NotFoundError(msg, field="name")
        return self._with_progress(found[0]) if progress else found[0]

    def list_rollouts(
        self,
        *,
        deployment: str | None = None,
        status: str | None = None,
        projects: Iterable[str] | None = None,
        limit: int = 100,
    ) -> list[Rollout]:
        """Rollouts, newest first, of one deployment / in one status / of ``projects``."""
        query = _SELECT.order_by(_ro.c.rollout_id.desc()).limit(limit)
        if deployment is not None:
            self._deployments.get(deployment, resolve=False)  # 404 for an unknown name
            query = query.where(_dep.c.name == deployment)
        if status is not None:
            if status not in STATUSES:
                msg = f"status must be one of {list(STATUSES)}; got {status!r}"
                raise InvalidArgumentError(msg, field="status")
            query = query.where(_ro.c.status == status)
        if projects is not None:
            query = query.where(_dep.c.project.in_(list(projects)))
        with read(self._engine) as conn:
            return [from_row(r) for r in conn.execute(query)]

    # -- writes ----------------------------------------------------------------------------
    def start(
        self,
        deployment: str,
        to: str | int,
        *,
        steps: Sequence[float] = DEFAULT_STEPS,
        interval_s: float = DEFAULT_INTERVAL_S,
        thresholds: AnalysisThresholds | dict[str, Any] | None = None,
        actor: str | None = None,
    ) -> Rollout:
        """Send the first step's share of ``deployment``'s traffic to ``to`` (version or @alias).

        Raises:
            ConflictError: a rollout is already running there, or ``to`` is the primary.
            InvalidArgumentError: steps, interval or thresholds are out of range (naming which).
        """
        config = {
            "steps": check_steps(steps),
            "interval_s": check_interval(interval_s),
            "thresholds": dataclasses.asdict(check_thresholds(thresholds)),
        }
        dep = self._deployments.get(deployment, resolve=False)
        if dep.policy.get("mode") == "ab":
            msg = (
                f"deployment {deployment!r} runs an A/B split; end it with "
                f"`conveyor deployments single {deployment}` before a rollout"
            )
            raise ConflictError(msg, field="name")
        primary = self._deployments.route_table(deployment).primary.version
        candidate = self._version_of(dep.model_name, to)
        if candidate == primary:
            msg = (
                f"version {candidate} is already the primary of {deployment!r}; nothing to roll out"
            )
            raise ConflictError(msg, field="to")
        actor = actor or events.current_actor()
        rollout_id = self._insert(deployment, candidate, primary, config, actor)
        try:
            return self._begin(self.get(rollout_id))
        except ConveyorError as exc:
            why = f"could not route the first step: {exc.message}"
            self._finish(self.get(rollout_id), now_ms(), FAILED, why, "rollout.rolled_back", {})
            raise

    def abort(
        self,
        deployment: str,
        *,
        rollout_id: int | None = None,
        reason: str = "",
        actor: str | None = None,
    ) -> Rollout:
        """Stop the deployment's active rollout and send every request to the primary again."""
        rollout = self.current(deployment) if rollout_id is None else self.get(rollout_id)
        if rollout.deployment != deployment:
            msg = f"rollout {rollout_id} does not belong to deployment {deployment!r}"
            raise NotFoundError(msg, field="rollout_id")
        if not rollout.is_active:
            msg = (
                f"rollout {rollout.rollout_id} of {deployment!r} has {rollout.status}; "
                f"there is nothing to abort"
            )
            raise ConflictError(msg, field="rollout_id")
        actor = actor or events.current_actor()
        why = f"aborted by {actor}" + (f": {reason}" if reason else "")
        if not self._finish(rollout, now_ms(), ABORTED, why, "rollout.aborted", {}, actor=actor):
            msg = f"rollout {rollout.rollout_id} changed while aborting it; read it again"
            raise ConflictError(msg, field="rollout_id")
        self._deployments.clear_traffic(deployment, actor=actor)
        return self.get(rollout.rollout_id)

    def tick(self, now: int | None = None) -> list[Rollout]:
        """Judge every active rollout once; return the ones that moved (safe to run anywhere)."""
        at = now_ms() if now is None else now
        with read(self._engine) as conn:
            rows = conn.execute(
                _SELECT.where(_ro.c.finished_time.is_(None)).order_by(_ro.c.rollout_id)
            ).all()
        moved = []
        for row in rows:
            rollout = from_row(row)
            try:
                done = self._tick_one(rollout, at)
            except ConveyorError as exc:  # e.g. a version deleted mid-rollout: log, go on
                log.warning("rollout %s of %s: %s", rollout.rollout_id, rollout.deployment, exc)
            except Exception:  # one broken rollout must not stop the others
                log.exception("rollout %s of %s failed", rollout.rollout_id, rollout.deployment)
            else:
                if done is not None:
                    moved.append(done)
        return moved

    # -- one decision ----------------------------------------------------------------------
    def _tick_one(self, r: Rollout, at: int) -> Rollout | None:
        if r.status != RUNNING:
            if at - r.step_started_time < STALE_MS:
                return None  # another process is routing or promoting it right now
            return self._begin(r) if r.status == STARTING else self._finish_promotion(r, at)
        stopped = self._check_routes(r, at)
        if stopped is not None:
            return stopped
        return self._decide(r, at, self._judge(r, at))

    def _decide(self, r: Rollout, at: int, judged: Judged) -> Rollout | None:
        """Wait, roll back, go to the next step or promote, on the step's analysis."""
        elapsed = at - r.step_started_time
        verdict = judged.analysis.verdict
        if elapsed < r.interval_ms:
            early = failing_early(judged.analysis)
            return self._roll_back(r, at, judged) if early else None
        if verdict == "wait" and elapsed >= TIMEOUT_INTERVALS * r.interval_ms:
            return self._roll_back(r, at, judged, starved_reason(r, judged, elapsed))
        if verdict == "fail":
            return self._roll_back(r, at, judged)
        if verdict == "wait":
            return None
        if r.step_index + 1 < len(r.steps):
            return self._advance(r, at, judged)
        return self._promote(r, at, judged)

    def _judge(self, r: Rollout, at: int) -> Judged:
        """Analyse the candidate's traffic since the step began against the primary's."""
        from conveyor.rollout import analyze_step
        from conveyor.serving.windows import read_traffic, rollout_windows

        did = r.deployment_id
        traffic = read_traffic(self._engine, did, r.step_started_time, at, by_route=False)
        candidate = traffic.get((r.candidate_version, "*"))
        baseline = None
        if r.percent < 100:
            primary = traffic.get((r.primary_version, "*"))
        else:  # the primary serves nothing now: compare with what it served before
            baseline = baseline_window(r)
            earlier = read_traffic(self._engine, did, *baseline, by_route=False)
            primary = earlier.get((r.primary_version, "*"))
        windows = rollout_windows(candidate, primary)
        analysis = analyze_step(*windows, check_thresholds(r.thresholds))
        return Judged(analysis, windows[0].requests, windows[1].requests, baseline)

    def _with_progress(self, r: Rollout) -> Rollout:
        if r.status != RUNNING:
            return r
        at = now_ms()
        judged = self._judge(r, at)
        elapsed_ms = at - r.step_started_time
        progress = {
            "at": at,
            "elapsed_s": elapsed_ms / 1000,
            "remaining_s": max(0.0, (r.interval_ms - elapsed_ms) / 1000),
            "candidate_requests": judged.candidate_requests,
            "primary_requests": judged.primary_requests,
            "verdict": judged.analysis.verdict,
            "reason": judged.analysis.reason,
        }
        return r.model_copy(update={"progress": progress})

    def _check_routes(self, r: Rollout, at: int) -> Rollout | None:
        """Stop when someone changed the traffic by hand; restore a step a crash left behind."""
        table = self._deployments.route_table(r.deployment)
        canary = next((x for x in table.routes if x.name == CANARY), None)
        if canary is None or canary.version != r.candidate_version:
            problem = f"the canary route to v{r.candidate_version} was removed"  # not ours now
        elif table.primary.version != r.primary_version:
            problem = f"the primary moved from v{r.primary_version} to v{table.primary.version}"
        else:
            if abs(canary.weight - r.percent) > 1e-9:
                self._route(r, r.percent)  # claimed, then the process died before routing
            return None
        why = f"stopped: {problem} outside the rollout"
        if not self._finish(r, at, ABORTED, why, "rollout.aborted", {}):
            return None
        if canary is not None and canary.version == r.candidate_version:
            self._deployments.clear_traffic(r.deployment, actor=r.created_by)  # still our canary
        return self.get(r.rollout_id)

    def _advance(self, r: Rollout, at: int, judged: Judged) -> Rollout | None:
        nxt = r.step_index + 1
        entry = history_entry(r, at, judged, "next")
        values = {"step_index": nxt, "step_started_time": at, "history": history_json(r, entry)}
        payload = {
            "step": nxt + 1,
            "percent": r.steps[nxt],
            "passed": entry,
            "analysis": judged.analysis.to_dict(),
        }
        if not self._claim(r, values, "rollout.step", payload):
            return None
        self._route(self.get(r.rollout_id), r.steps[nxt])
        return self.get(r.rollout_id)

    def _roll_back(
        self, r: Rollout, at: int, judged: Judged, why: str | None = None
    ) -> Rollout | None:
        detail = why or judged.analysis.reason.removeprefix("fail: ")
        reason = (
            f"rolled back to v{r.primary_version} at step {r.step_index + 1}/{len(r.steps)} "
            f"({r.percent:g} %): {detail}"
        )
        entry = history_entry(r, at, judged, "rolled_back", reason)
        payload = {"analysis": judged.analysis.to_dict(), "step": r.step_index + 1}
        if not self._finish(r, at, FAILED, reason, "rollout.rolled_back", payload, entry=entry):
            return None
        self._deployments.clear_traffic(r.deployment, actor=r.created_by)
        return self.get(r.rollout_id)

    def _promote(self, r: Rollout, at: int, judged: Judged) -> Rollout | None:
        entry = history_entry(r, at, judged, "promote")
        values = {"status": PROMOTING, "step_started_time": at, "history": history_json(r, entry)}
        if not self._claim(r, values, None, {}):
            return None
        return self._finish_promotion(self.get(r.rollout_id), at)

    def _finish_promotion(self, r: Rollout, at: int) -> Rollout | None:
        """Move the alias (or re-pin) to the candidate; a refusal (approvals) rolls back."""
        steps = ", ".join(f"{p:g}" for p in r.steps)
        try:
            self._deployments.promote(
                r.deployment,
                r.candidate_version,
                reason=f"rollout {r.rollout_id}: every step passed ({steps} %)",
                actor=r.created_by,
            )
        except ConveyorError as exc:
            dep = self._deployments.get(r.deployment, resolve=False)
            request_id = request_approval(self._engine, dep, r, exc)
            if request_id is not None:
                status, action = PENDING_APPROVAL, "rollout.approval_requested"
                why = (
                    f"every step passed; moving the alias needs approval: request {request_id} "
                    f"is open (`conveyor models approve {request_id}`); traffic is back on "
                    f"v{r.primary_version} until it is approved"
                )
            else:
                status, action = FAILED, "rollout.rolled_back"
                why = (
                    f"every step passed but the promotion was refused: {exc.message}; traffic "
                    f"went back to v{r.primary_version}"
                )
            payload = {"approval_request": request_id} if request_id else {}
            if not self._finish(r, at, status, why, action, payload):
                return None
            self._deployments.clear_traffic(r.deployment, actor=r.created_by)
            return self.get(r.rollout_id)
        self._deployments.record_served(self._deployments.route_table(r.deployment))
        why = f"promoted v{r.candidate_version}: every step passed ({steps} %)"
        if not self._finish(r, at, SUCCEEDED, why, "rollout.promoted", {}):
            return None
        return self.get(r.rollout_id)

    # -- store -----------------------------------------------------------------------------
    def _version_of(self, model_name: str, to: str | int) -> int:
        from conveyor.registry.service import Registry

        ref = check_ref(to, field="to")
        registry = Registry(self._engine)
        try:
            if ref.startswith("@"):
                return registry.get_by_alias(model_name, ref[1:]).version
            return registry.get_version(model_name, int(ref)).version
        except NotFoundError as exc:
            raise NotFoundError(exc.message, field="to") from None

    def _insert(
        self, deployment: str, candidate: int, primary: int, config: dict[str, Any], actor: str
    ) -> int:
        check_deployment_name(deployment)
        at = now_ms()
        with write(self._engine) as conn:
            # Locking the deployment row serialises two starts on PostgreSQL (SQLite: one writer).
            dep = conn.execute(
                select(_dep.c.deployment_id, _dep.c.project)
                .where(_dep.c.name == deployment)
                .with_for_update()
            ).one()
            running = conn.execute(
                select(_ro.c.rollout_id, _ro.c.candidate_version).where(
                    _ro.c.deployment_id == dep.deployment_id, _ro.c.finished_time.is_(None)
                )
            ).first()
            if running is not None:
                msg = (
                    f"deployment {deployment!r} already has rollout {running.rollout_id} to "
                    f"v{running.candidate_version} running; wait for it or stop it with "
                    f"`conveyor rollout abort {deployment}`"
                )
                raise ConflictError(msg, field="name")
            inserted = conn.execute(
                insert(_ro).values(
                    deployment_id=dep.deployment_id,
                    candidate_version=candidate,
                    primary_version=primary,
                    config=json.dumps(config),
                    step_index=0,
                    status=STARTING,
                    reason="",
                    history="[]",
                    created_by=actor,
                    started_time=at,
                    step_started_time=at,
                )
            ).inserted_primary_key
            rollout_id = int(inserted[0]) if inserted is not None else 0
            events.append(
                conn,
                action="rollout.started",
                subject=f"deployments:/{deployment}",
                payload={
                    "project": dep.project,
                    "rollout_id": rollout_id,
                    "candidate": candidate,
                    "primary": primary,
                    **config,
                },
                actor=actor,
            )
        return int(rollout_id)

    def _begin(self, r: Rollout) -> Rollout:
        """Route the first step, then mark the rollout running (its step starts now)."""
        self._route(r, r.percent)
        self._claim(r, {"status": RUNNING, "step_started_time": now_ms()}, None, {})
        return self.get(r.rollout_id)

    def _route(self, r: Rollout, percent: float) -> None:
        """Send ``percent`` % to the candidate and record the lineage edge at once."""
        self._deployments.set_canary(
            r.deployment, str(r.candidate_version), percent, actor=r.created_by
        )
        self._deployments.record_served(self._deployments.route_table(r.deployment))
        if not self.get(r.rollout_id).is_active:  # aborted meanwhile: do not leave a canary
            self._deployments.clear_traffic(r.deployment, actor=r.created_by)

    def _finish(
        self,
        r: Rollout,
        at: int,
        status: str,
        reason: str,
        action: str,
        payload: dict[str, Any],
        *,
        entry: dict[str, Any] | None = None,
        actor: str | None = None,
    ) -> bool:
        values: dict[str, Any] = {"status": status, "reason": reason, "finished_time": at}
        if entry is not None:
            values["history"] = history_json(r, entry)
        return self._claim(r, values, action, {"reason": reason, **payload}, actor=actor)

    def _claim(
        self,
        r: Rollout,
        values: dict[str, Any],
        action: str | None,
        payload: dict[str, Any],
        *,
        actor: str | None = None,
    ) -> bool:
        """Apply ``values`` if the rollout is still where ``r`` saw it; audit in the same commit."""
        with write(self._engine) as conn:
            done = conn.execute(
                update(_ro)
                .where(
                    _ro.c.rollout_id == r.rollout_id,
                    _ro.c.step_index == r.step_index,
                    _ro.c.status == r.status,
                )
                .values(**values)
            ).rowcount
            if done != 1:
                return False
            if action is not None:
                events.append(
                    conn,
                    action=action,
                    subject=f"deployments:/{r.deployment}",
                    payload={
                        "project": r.project,
                        "rollout_id": r.rollout_id,
                        "candidate": r.candidate_version,
                        "primary": r.primary_version,
                        "percent": r.percent,
                        **payload,
                    },
                    actor=actor or r.created_by,
                )
        return True
