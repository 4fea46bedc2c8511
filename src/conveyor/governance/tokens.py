"""Bearer tokens: created per user, shown once, stored as SHA-256, revocable, with expiry.

A token reads ``cvy_<token_id>_<secret>``: the id names the row (so a listing can show which
token is which without the secret), the secret is 32 random bytes. Only the SHA-256 of the whole
string is stored; a lookup is one unique-index probe.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, insert, select, update

from conveyor._ids import new_id
from conveyor._time import now_ms
from conveyor.errors import InvalidArgumentError, NotFoundError, UnauthenticatedError
from conveyor.governance.projects import roles_of
from conveyor.governance.roles import Principal
from conveyor.governance.users import get_user_row
from conveyor.store import read, schema, write
from conveyor.store.events import append

PREFIX = "cvy_"
TOUCH_INTERVAL_MS = 60_000  # last_used_time is written at most once a minute per token
_CACHE_MAX = 10_000


def hash_token(token: str) -> str:
    """Return the stored form of ``token`` (hex SHA-256)."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_id_of(token: str) -> str | None:
    """Return the id inside a well-formed token, or None."""
    if not token.startswith(PREFIX):
        return None
    token_id, sep, rest = token[len(PREFIX) :].partition("_")
    return token_id if sep and len(token_id) == 32 and rest else None


@dataclass(frozen=True)
class TokenInfo:
    """What is known about a token after its creation: never the secret."""

    token_id: str
    user: str
    description: str
    created_time: int
    expires_time: int | None
    revoked_time: int | None
    last_used_time: int | None

    @property
    def prefix(self) -> str:
        """The token's recognisable start (``cvy_<id>_``), safe to display."""
        return f"{PREFIX}{self.token_id}_"

    def to_dict(self) -> dict[str, Any]:
        """Render the token for JSON output (no secret)."""
        return {
            "token_id": self.token_id,
            "user": self.user,
            "prefix": self.prefix,
            "description": self.description,
            "created_time": self.created_time,
            "expires_time": self.expires_time,
            "revoked_time": self.revoked_time,
            "last_used_time": self.last_used_time,
        }


@dataclass(frozen=True)
class NewToken:
    """A freshly created token: the only time the secret is available."""

    info: TokenInfo
    token: str


_COLUMNS = (
    schema.tokens.c.token_id,
    schema.tokens.c.user_name,
    schema.tokens.c.description,
    schema.tokens.c.created_time,
    schema.tokens.c.expires_time,
    schema.tokens.c.revoked_time,
    schema.tokens.c.last_used_time,
)


class Tokens:
    """Token administration over one engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(
        self,
        user: str,
        *,
        expires_in_s: float | None = None,
        description: str = "",
        actor: str,
    ) -> NewToken:
        """Create a token for ``user``; the returned ``NewToken.token`` is shown only now."""
        if expires_in_s is not None and expires_in_s <= 0:
            msg = f"expires_in must be a positive number of seconds; got {expires_in_s}"
            raise InvalidArgumentError(msg, field="expires_in")
        token_id = new_id()
        token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        now = now_ms()
        expires = None if expires_in_s is None else now + int(expires_in_s * 1000)
        info = TokenInfo(token_id, user, description, now, expires, None, None)
        with write(self._engine) as conn:
            if not get_user_row(conn, user).active:
                msg = f"user {user!r} is disabled; it cannot receive tokens"
                raise InvalidArgumentError(msg, field="user")
            conn.execute(
                insert(schema.tokens).values(
                    token_id=token_id,
                    user_name=user,
                    token_hash=hash_token(token),
                    description=description,
                    created_time=now,
                    expires_time=expires,
                )
            )
            append(
                conn,
                action="token.created",
                subject=f"tokens:/{token_id}",
                payload={"token_id": token_id, "user": user, "expires_time": expires},
                actor=actor,
            )
        return NewToken(info, token)

    def get(self, token_id: str) -> TokenInfo:
        """Return one token's record."""
        with read(self._engine) as conn:
            row = conn.execute(
                select(*_COLUMNS).where(schema.tokens.c.token_id == token_id)
            ).first()
        if row is None:
            msg = f"no token with id {token_id!r}; see `conveyor tokens list`"
            raise NotFoundError(msg, field="token_id")
        return TokenInfo(*row)

    def list(self, *, user: str | None = None) -> list[TokenInfo]:
        """Return the tokens (of ``user`` when given), newest first."""
        t = schema.tokens
        stmt = select(*_COLUMNS).order_by(t.c.created_time.desc(), t.c.token_id)
        if user is not None:
            stmt = stmt.where(t.c.user_name == user)
        with read(self._engine) as conn:
            return [TokenInfo(*row) for row in conn.execute(stmt).all()]

    def revoke(self, token_id: str, *, actor: str) -> TokenInfo:
        """Revoke a token; servers stop accepting it within their cache TTL."""
        t = schema.tokens
        info = self.get(token_id)
        if info.revoked_time is not None:
            return info
        now = now_ms()
        with write(self._engine) as conn:
            conn.execute(
                update(t)
                .where((t.c.token_id == token_id) & t.c.revoked_time.is_(None))
                .values(revoked_time=now)
            )
            append(
                conn,
                action="token.revoked",
                subject=f"tokens:/{token_id}",
                payload={"token_id": token_id, "user": info.user},
                actor=actor,
            )
        return self.get(token_id)


class Authenticator:
    """Turn a presented token into a ``Principal``, with a short cache.

    A cache hit costs a dict lookup; entries live ``ttl_s`` seconds (default 2), so a revoked
    token, a disabled user or a changed role takes effect within that time.
    """

    def __init__(self, engine: Engine, *, ttl_s: float = 2.0) -> None:
        self._engine = engine
        self._ttl_s = ttl_s
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def cached(self, token: str) -> Principal | None:
        """Return the principal for ``token`` from the cache (no I/O), or None."""
        entry = self._cache.get(hash_token(token))
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def authenticate(self, token: str) -> Principal:
        """Return the principal for ``token``; ``UnauthenticatedError`` if it is not valid."""
        found = self.cached(token)
        if found is not None:
            return found
        if token_id_of(token) is None:
            msg = "the bearer token is malformed; create one with `conveyor tokens create USER`"
            raise UnauthenticatedError(msg)
        digest = hash_token(token)
        principal, token_id, last_used, expires = self._lookup(digest)
        now = now_ms()
        if last_used is None or now - last_used >= TOUCH_INTERVAL_MS:
            self._touch(token_id, now)
        with self._lock:
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            # Never cache past the token's own expiry.
            life_s = self._ttl_s if expires is None else min(self._ttl_s, (expires - now) / 1000)
            self._cache[digest] = (time.monotonic() + life_s, principal)
        return principal

    def _lookup(self, digest: str) -> tuple[Principal, str, int | None, int | None]:
        t, u = schema.tokens, schema.users
        stmt = (
            select(
                t.c.token_id,
                t.c.expires_time,
                t.c.revoked_time,
                t.c.last_used_time,
                u.c.name,
                u.c.is_admin,
                u.c.disabled_time,
            )
            .join(u, u.c.name == t.c.user_name)
            .where(t.c.token_hash == digest)
        )
        with read(self._engine) as conn:
            row = conn.execute(stmt).first()
            if row is None:
                raise UnauthenticatedError(
                    "the bearer token is not known; it may have been mistyped"
                )
            token_id, expires, revoked, last_used, name, is_admin, disabled = row
            if revoked is not None:
                raise UnauthenticatedError(f"token {token_id} was revoked; create a new one")
            if expires is not None and expires <= now_ms():
                raise UnauthenticatedError(f"token {token_id} has expired; create a new one")
            if disabled is not None:
                raise UnauthenticatedError(f"user {name!r} is disabled")
            roles = roles_of(conn, name)
        return Principal(name, bool(is_admin), roles), token_id, last_used, expires

    def _touch(self, token_id: str, now: int) -> None:
        t = schema.tokens
        stale = t.c.last_used_time.is_(None) | (t.c.last_used_time < now - TOUCH_INTERVAL_MS)
        with write(self._engine) as conn:
            conn.execute(
                update(t).where((t.c.token_id == token_id) & stale).values(last_used_time=now)
            )


__all__ = ["Authenticator", "NewToken", "TokenInfo", "Tokens", "hash_token", "token_id_of"]
