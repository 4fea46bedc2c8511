"""Silences: time-boxed matchers that mute an alert's notifications, not its state.

A silence matches an alert series by rule name and label, each a shell-style glob
(:func:`fnmatch.fnmatchcase`; a name without ``*``, ``?`` or ``[`` matches only itself), and is
active for ``starts_at <= at < ends_at`` (milliseconds since the epoch, Conveyor's clock unit).
This is Alertmanager's model: the alert still changes state and is recorded, its notifications
are suppressed and the event is marked ``silenced``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from conveyor._ids import new_id
from conveyor.errors import InvalidArgumentError


@dataclass(frozen=True, slots=True)
class Silence:
    """Mute notifications of the alerts whose rule and label match, between two times.

    Attributes:
        starts_at: First millisecond (since the epoch) the silence is active.
        ends_at: First millisecond it is no longer active; after ``starts_at``.
        rule: Glob over rule names; ``"*"`` matches every rule.
        label: Glob over labels (columns); ``"*"`` matches every label, ``""`` only the
            whole-window signals.
        comment: Why the alert is silenced (shown with the event).
        created_by: Who silenced it.
        silence_id: Identifier; a new random one by default.
    """

    starts_at: int
    ends_at: int
    rule: str = "*"
    label: str = "*"
    comment: str = ""
    created_by: str = ""
    silence_id: str = field(default_factory=new_id)

    def __post_init__(self) -> None:
        for name in ("starts_at", "ends_at"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                msg = f"silence {name} must be milliseconds since the epoch (int), got {value!r}"
                raise InvalidArgumentError(msg, field=name)
        if self.ends_at <= self.starts_at:
            msg = (
                f"silence ends_at ({self.ends_at}) must be after starts_at ({self.starts_at}); "
                "give the end of the maintenance window"
            )
            raise InvalidArgumentError(msg, field="ends_at")
        for name in ("rule", "label", "comment", "created_by", "silence_id"):
            if not isinstance(getattr(self, name), str):
                msg = f"silence {name} must be a string, got {getattr(self, name)!r}"
                raise InvalidArgumentError(msg, field=name)
        if not self.silence_id:
            msg = "silence silence_id must not be empty; omit it to get a generated one"
            raise InvalidArgumentError(msg, field="silence_id")

    def is_active(self, at: int) -> bool:
        """Tell whether the silence is in force at ``at`` (ms since the epoch)."""
        return self.starts_at <= at < self.ends_at

    def matches(self, rule: str, label: str, at: int) -> bool:
        """Tell whether the silence mutes the alert of ``rule`` on ``label`` at ``at``.

        Examples:
            >>> s = Silence(starts_at=0, ends_at=10, rule="psi*", label="age", silence_id="s1")
            >>> s.matches("psi(age) > 0.25", "age", 5), s.matches("psi(age) > 0.25", "age", 10)
            (True, False)
        """
        return (
            self.is_active(at) and fnmatchcase(rule, self.rule) and fnmatchcase(label, self.label)
        )

    def to_dict(self) -> dict[str, Any]:
        """Serialise the silence (the fields, by name)."""
        return {
            "silence_id": self.silence_id,
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "rule": self.rule,
            "label": self.label,
            "comment": self.comment,
            "created_by": self.created_by,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Silence:
        """Rebuild a silence from :meth:`to_dict` output.

        Raises:
            InvalidArgumentError: A field is missing, unknown or invalid.
        """
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        missing = sorted({"starts_at", "ends_at", "silence_id"} - set(data))
        if unknown or missing:
            msg = f"silence dict has unknown keys {unknown} / lacks {missing}; use to_dict() output"
            raise InvalidArgumentError(msg, field="silence")
        return cls(**data)


def find_silence(silences: Iterable[Silence], rule: str, label: str, at: int) -> Silence | None:
    """Return the first silence that mutes ``rule`` on ``label`` at ``at``, if any."""
    return next((s for s in silences if s.matches(rule, label, at)), None)
