"""Approval policies and promotion requests.

A policy on (model, alias) — or (model, ``*``) for every alias — says how many approvals from
holders of which role moving the alias needs. ``promote`` moves an alias at once when no policy
applies, otherwise it opens a request; the approval that completes the request moves the alias in
the same transaction, so the alias moves exactly when the last approval is recorded, or not at all.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from conveyor._ids import new_id
from conveyor._time import now_ms
from conveyor.errors import (
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
)
from conveyor.registry.entities import ApprovalDecision, ApprovalPolicy, ApprovalRequest, Promotion
from conveyor.registry.service import UNSET, Registry
from conveyor.registry.uris import check_alias, check_version
from conveyor.store import events, read, schema, write

_pol = schema.approval_policies
_req = schema.approval_requests
_dec = schema.approval_decisions
_al = schema.model_aliases
ROLES = ("viewer", "editor", "approver", "admin")
_RANK = {r: i for i, r in enumerate(ROLES)}


def check_role(role: object, *, field: str = "role") -> str:
    """Return a known role name or raise naming the allowed ones."""
    if role not in _RANK:
        msg = f"{field} must be one of {', '.join(ROLES)}; got {role!r}"
        raise InvalidArgumentError(msg, field=field)
    return str(role)


def holds_role(conn: Connection, user: str, project: str, role: str) -> bool:
    """Whether ``user`` holds ``role`` (or a higher one) in ``project``.

    A workspace without any user is the zero-config single-user mode: everyone holds every role
    (but still cannot approve their own request).
    """
    users = schema.users
    if conn.execute(select(func.count()).select_from(users)).scalar_one() == 0:
        return True
    row = conn.execute(select(users).where(users.c.name == user)).first()
    if row is None or row.disabled_time is not None:
        return False
    if row.is_admin:
        return True
    rb = schema.role_bindings
    held = conn.execute(
        select(rb.c.role).where(rb.c.user_name == user, rb.c.project == project)
    ).scalar()
    return held is not None and _RANK.get(held, -1) >= _RANK[role]


class Approvals:
    """Policies, promotion requests and decisions over a ``Registry``."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._engine = registry.engine

    # -- policies --------------------------------------------------------------------------
    def set_policy(
        self,
        name: str,
        alias: str,
        *,
        required: int = 1,
        role: str = "approver",
        actor: str | None = None,
    ) -> ApprovalPolicy:
        """Require ``required`` approvals by holders of ``role`` to move ``alias`` (or ``*``)."""
        if alias != "*":
            alias = check_alias(alias)
        check_role(role)
        if isinstance(required, bool) or not isinstance(required, int) or not 1 <= required <= 20:
            msg = f"required must be an integer from 1 to 20; got {required!r}"
            raise InvalidArgumentError(msg, field="required")
        at = now_ms()
        with write(self._engine) as conn:
            model = self._registry._model_row(conn, name, lock=True)
            conn.execute(
                delete(_pol).where(_pol.c.model_id == model.model_id, _pol.c.alias == alias)
            )
            conn.execute(
                insert(_pol).values(
                    model_id=model.model_id,
                    alias=alias,
                    required=required,
                    role=role,
                    created_time=at,
                )
            )
            events.append(
                conn,
                action="registry.policy_set",
                subject=f"models:/{name}",
                payload={
                    "project": model.project,
                    "alias": alias,
                    "required": required,
                    "role": role,
                },
                actor=actor,
            )
        return ApprovalPolicy(name=name, alias=alias, required=required, role=role, created_time=at)

    def delete_policy(self, name: str, alias: str, *, actor: str | None = None) -> None:
        """Remove the policy on ``alias``; ``NotFoundError`` if there is none."""
        with write(self._engine) as conn:
            model = self._registry._model_row(conn, name, lock=True)
            gone = conn.execute(
                delete(_pol).where(_pol.c.model_id == model.model_id, _pol.c.alias == alias)
            ).rowcount
            if not gone:
                msg = f"registered model {name!r} has no approval policy on {alias!r}"
                raise NotFoundError(msg, field="alias")
            events.append(
                conn,
                action="registry.policy_deleted",
                subject=f"models:/{name}",
                payload={"project": model.project, "alias": alias},
                actor=actor,
            )

    def policies(self, name: str) -> list[ApprovalPolicy]:
        """Return the approval policies of a registered model."""
        with read(self._engine) as conn:
            model = self._registry._model_row(conn, name)
            rows = conn.execute(
                select(_pol).where(_pol.c.model_id == model.model_id).order_by(_pol.c.alias)
            ).all()
        return [
            ApprovalPolicy(
                name=name,
                alias=r.alias,
                required=r.required,
                role=r.role,
                created_time=r.created_time,
            )
            for r in rows
        ]

    # -- requests --------------------------------------------------------------------------
    def _request(self, conn: Connection, row: Any, name: str) -> ApprovalRequest:
        decisions = [
            ApprovalDecision(
                approver=d.approver, decision=d.decision, comment=d.comment, time=d.time
            )
            for d in conn.execute(
                select(_dec).where(_dec.c.request_id == row.request_id).order_by(_dec.c.time)
            )
        ]
        policy = self._registry._policy(conn, row.model_id, row.alias)
        return ApprovalRequest(
            request_id=row.request_id,
            name=name,
            version=row.version,
            alias=row.alias,
            requester=row.requester,
            state=row.state,
            comment=row.comment,
            required=policy.required if policy is not None else 1,
            role=policy.role if policy is not None else "approver",
            created_time=row.created_time,
            updated_time=row.updated_time,
            decisions=decisions,
        )

    def promote(
        self,
        name: str,
        version: int | str,
        alias: str,
        *,
        requester: str | None = None,
        comment: str = "",
        expected: Any = UNSET,
    ) -> Promotion:
        """Move ``alias`` to ``version``, or open an approval request when a policy applies.

        Without ``expected`` the alias must still point where it pointed when the call started,
        so of two concurrent promotions exactly one wins and the other gets ``ConflictError``.
        """
        alias = check_alias(alias)
        number = check_version(version)
        requester = requester or events.current_actor()
        if expected is UNSET:
            with read(self._engine) as conn:
                model = self._registry._model_row(conn, name)
                expected = conn.execute(
                    select(_al.c.version).where(
                        _al.c.model_id == model.model_id, _al.c.alias == alias
                    )
                ).scalar()
        with write(self._engine) as conn:
            model = self._registry._model_row(conn, name, lock=True)
            self._registry._version_row(conn, model, number)
            policy = self._registry._policy(conn, model.model_id, alias)
            if policy is None:
                previous = self._registry.move_alias(
                    conn, model, alias, number, expected=expected, actor=requester
                )
                return Promotion(
                    state="applied",
                    name=name,
                    alias=alias,
                    version=number,
                    previous_version=previous,
                )
            request = self._open_request(conn, model, number, alias, requester, comment)
        return Promotion(state="pending", name=name, alias=alias, version=number, request=request)

    def _open_request(
        self, conn: Connection, model: Any, number: int, alias: str, requester: str, comment: str
    ) -> ApprovalRequest:
        """Record a pending request (one per alias at a time) and its event."""
        pending = conn.execute(
            select(_req.c.request_id, _req.c.version).where(
                _req.c.model_id == model.model_id,
                _req.c.alias == alias,
                _req.c.state == "pending",
            )
        ).first()
        if pending is not None:
            msg = (
                f"@{alias} of {model.name!r} already has a pending request "
                f"{pending.request_id} (version {pending.version}); approve, reject or "
                f"cancel it first"
            )
            raise ConflictError(msg, field="alias")
        request_id, at = new_id(), now_ms()
        conn.execute(
            insert(_req).values(
                request_id=request_id,
                model_id=model.model_id,
                version=number,
                alias=alias,
                requester=requester,
                state="pending",
                comment=comment,
                created_time=at,
                updated_time=at,
            )
        )
        events.append(
            conn,
            action="registry.approval_requested",
            subject=f"models:/{model.name}/{number}",
            payload={
                "project": model.project,
                "request_id": request_id,
                "alias": alias,
                "comment": comment,
            },
            actor=requester,
        )
        row = conn.execute(select(_req).where(_req.c.request_id == request_id)).one()
        return self._request(conn, row, model.name)

    def _locked_request(self, conn: Connection, request_id: str) -> tuple[Any, Any]:
        row = conn.execute(select(_req).where(_req.c.request_id == request_id)).first()
        if row is None:
            msg = (
                f"approval request {request_id!r} does not exist; "
                "list them with `conveyor models requests`"
            )
            raise NotFoundError(msg, field="request_id")
        model = conn.execute(
            select(schema.registered_models)
            .where(schema.registered_models.c.model_id == row.model_id)
            .with_for_update()
        ).one()
        row = conn.execute(select(_req).where(_req.c.request_id == request_id)).one()
        return row, model

    def get_request(self, request_id: str) -> ApprovalRequest:
        """Return a request with its decisions."""
        with read(self._engine) as conn:
            row = conn.execute(select(_req).where(_req.c.request_id == request_id)).first()
            if row is None:
                msg = f"approval request {request_id!r} does not exist"
                raise NotFoundError(msg, field="request_id")
            name = conn.execute(
                select(schema.registered_models.c.name).where(
                    schema.registered_models.c.model_id == row.model_id
                )
            ).scalar_one()
            return self._request(conn, row, name)

    def requests(
        self, *, name: str | None = None, state: str | None = None, limit: int = 100
    ) -> list[ApprovalRequest]:
        """List requests, newest first, by model and state."""
        rm = schema.registered_models
        stmt = (
            select(_req, rm.c.name.label("model_name"))
            .join(rm, rm.c.model_id == _req.c.model_id)
            .order_by(_req.c.created_time.desc())
            .limit(limit)
        )
        if name is not None:
            stmt = stmt.where(rm.c.name == name)
        if state is not None:
            if state not in ("pending", "applied", "rejected", "cancelled"):
                msg = f"state must be pending, applied, rejected or cancelled; got {state!r}"
                raise InvalidArgumentError(msg, field="state")
            stmt = stmt.where(_req.c.state == state)
        with read(self._engine) as conn:
            return [self._request(conn, r, r.model_name) for r in conn.execute(stmt).all()]

    def decide(
        self,
        request_id: str,
        *,
        approver: str,
        approve: bool,
        comment: str = "",
    ) -> ApprovalRequest:
        """Record a decision; the approval that completes the request moves the alias."""
        at = now_ms()
        with write(self._engine) as conn:
            row, model = self._locked_request(conn, request_id)
            if row.state != "pending":
                msg = f"approval request {request_id} is already {row.state}; nothing to decide"
                raise ConflictError(msg, field="request_id")
            if approver == row.requester:
                msg = (
                    f"{approver!r} requested this promotion and cannot approve or reject it; "
                    "ask another approver"
                )
                raise PermissionDeniedError(msg, field="approver")
            policy = self._registry._policy(conn, model.model_id, row.alias)
            role = policy.role if policy is not None else "approver"
            required = policy.required if policy is not None else 1
            if not holds_role(conn, approver, model.project, role):
                msg = f"{approver!r} does not hold the {role!r} role in project {model.project!r}"
                raise PermissionDeniedError(msg, field="approver")
            if conn.execute(
                select(_dec.c.decision).where(
                    _dec.c.request_id == request_id, _dec.c.approver == approver
                )
            ).first():
                msg = f"{approver!r} already decided on request {request_id}"
                raise ConflictError(msg, field="approver")
            decision = "approve" if approve else "reject"
            conn.execute(
                insert(_dec).values(
                    request_id=request_id,
                    approver=approver,
                    decision=decision,
                    comment=comment,
                    time=at,
                )
            )
            subject = f"models:/{model.name}/{row.version}"
            events.append(
                conn,
                action=f"registry.approval_{'granted' if approve else 'rejected'}",
                subject=subject,
                payload={
                    "project": model.project,
                    "request_id": request_id,
                    "alias": row.alias,
                    "comment": comment,
                },
                actor=approver,
            )
            state = row.state
            if not approve:
                state = "rejected"
            else:
                granted = conn.execute(
                    select(func.count()).where(
                        _dec.c.request_id == request_id, _dec.c.decision == "approve"
                    )
                ).scalar_one()
                if granted >= required:
                    self._registry.move_alias(
                        conn, model, row.alias, row.version, actor=approver, via=request_id
                    )
                    state = "applied"
            if state != row.state:
                conn.execute(
                    update(_req)
                    .where(_req.c.request_id == request_id)
                    .values(state=state, updated_time=at)
                )
            fresh = conn.execute(select(_req).where(_req.c.request_id == request_id)).one()
            return self._request(conn, fresh, model.name)

    def cancel(self, request_id: str, *, actor: str | None = None) -> ApprovalRequest:
        """Withdraw a pending request (its requester does this)."""
        at = now_ms()
        actor = actor or events.current_actor()
        with write(self._engine) as conn:
            row, model = self._locked_request(conn, request_id)
            if row.state != "pending":
                msg = f"approval request {request_id} is already {row.state}"
                raise ConflictError(msg, field="request_id")
            if actor != row.requester and not holds_role(conn, actor, model.project, "admin"):
                msg = f"only the requester ({row.requester!r}) or an admin can cancel this request"
                raise PermissionDeniedError(msg, field="request_id")
            conn.execute(
                update(_req)
                .where(_req.c.request_id == request_id)
                .values(state="cancelled", updated_time=at)
            )
            events.append(
                conn,
                action="registry.approval_cancelled",
                subject=f"models:/{model.name}/{row.version}",
                payload={"project": model.project, "request_id": request_id, "alias": row.alias},
                actor=actor,
            )
            fresh = conn.execute(select(_req).where(_req.c.request_id == request_id)).one()
            return self._request(conn, fresh, model.name)
