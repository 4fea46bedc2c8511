"""The alert state machine: per-window values in, state transitions out.

For each rule and label (a *series*) the evaluator keeps a state and a count of consecutive
breaching windows:

* inactive/resolved + breach → pending, or firing once ``for N windows`` consecutive windows
  breached (directly when N = 1);
* pending + breach → firing at the N-th window; pending + no breach → inactive;
* firing → resolved only when the value recovers past the *clear* threshold (hysteresis): a value
  between the clear threshold and the threshold keeps it firing, so it does not flap;
* a window without a value for the series (no data, NaN) changes nothing and counts neither as a
  breach nor as a recovery: the series is reported in :attr:`WindowReport.no_data`.

The evaluator is pure and deterministic: time comes in as arguments (``at``, the window bounds,
all integer milliseconds since the epoch) and event ids are digests, so replaying the same windows
gives the same events. Its whole state round-trips through :meth:`AlertEvaluator.to_dict`.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.alerts.events import AlertEvent, AlertState, event_id
from conveyor.monitoring.alerts.rules import AlertRule, parse_rule
from conveyor.monitoring.alerts.silences import Silence, find_silence

WindowValues = Mapping[str, Mapping[str, float | None]]
"""Per-window signal values: ``{signal: {label: value}}``; label ``""`` for whole-window ones."""


@dataclass(slots=True)
class SeriesStatus:
    """The current state of one rule on one label (what ``/metrics`` exports).

    Attributes:
        rule: The rule's name.
        label: The label (column), ``""`` for a whole-window signal.
        state: Current state.
        breaches: Consecutive breaching windows up to the last window with data.
        value: The last value seen, ``None`` before the first.
        is_no_data: The last evaluated window had no value for this series.
        since: ``at`` of the last transition, ``None`` if it never changed state.
    """

    rule: str
    label: str
    state: AlertState = AlertState.INACTIVE
    breaches: int = 0
    value: float | None = None
    is_no_data: bool = False
    since: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Serialise the status (the fields, state as its name)."""
        return {
            "rule": self.rule,
            "label": self.label,
            "state": self.state.value,
            "breaches": self.breaches,
            "value": self.value,
            "is_no_data": self.is_no_data,
            "since": self.since,
        }


@dataclass(frozen=True, slots=True)
class Window:
    """One window's values, for :meth:`AlertEvaluator.run` (``at`` defaults to ``end``)."""

    start: int
    end: int
    values: WindowValues
    at: int | None = None


@dataclass(frozen=True, slots=True)
class WindowReport:
    """What evaluating one window produced.

    Attributes:
        events: The transitions, in rule order then label order.
        no_data: ``(rule, label)`` of the series that had no value in this window; label ``"*"``
            for a wildcard rule whose signal reported no label at all.
    """

    events: tuple[AlertEvent, ...]
    no_data: tuple[tuple[str, str], ...] = field(default=())


class AlertEvaluator:
    """Evaluate alert rules window after window, with hysteresis and silences.

    Args:
        rules: The rules (parsed :class:`AlertRule` or rule text); names must be unique.
        silences: Silences in force; more can be added with :meth:`add_silence`.

    Raises:
        InvalidArgumentError: Two rules share a name, or a rule text does not parse.

    Examples:
        >>> ev = AlertEvaluator(["psi(age) > 0.25 for 2 windows clear below 0.1"])
        >>> [e.state.value for e in ev.evaluate({"psi": {"age": 0.3}}, 0, 60, at=60).events]
        ['pending']
        >>> [e.state.value for e in ev.evaluate({"psi": {"age": 0.4}}, 60, 120, at=120).events]
        ['firing']
        >>> ev.evaluate({"psi": {"age": 0.2}}, 120, 180, at=180).events  # above clear: firing
        ()
        >>> ev.evaluate({}, 180, 240, at=240).no_data
        (('psi(age) > 0.25 for 2 windows clear below 0.1', 'age'),)
    """

    def __init__(
        self, rules: Iterable[AlertRule | str], *, silences: Iterable[Silence] = ()
    ) -> None:
        parsed = [parse_rule(r) if isinstance(r, str) else r for r in rules]
        names = [r.name for r in parsed]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            msg = f"alert rule names must be unique; rename the duplicates {duplicates}"
            raise InvalidArgumentError(msg, field="rules")
        if not all(isinstance(r, AlertRule) for r in parsed):
            msg = "alert rules must be AlertRule objects or rule text"
            raise InvalidArgumentError(msg, field="rules")
        self._rules = tuple(parsed)
        self._silences: list[Silence] = list(silences)
        self._series: dict[tuple[str, str], SeriesStatus] = {}
        self._last_window_end: int | None = None

    @property
    def rules(self) -> tuple[AlertRule, ...]:
        """The rules, in evaluation order."""
        return self._rules

    @property
    def silences(self) -> tuple[Silence, ...]:
        """The silences known to the evaluator (active or not)."""
        return tuple(self._silences)

    def add_silence(self, silence: Silence) -> None:
        """Add a silence; it applies from the next evaluated window on."""
        self._silences.append(silence)

    def remove_silence(self, silence_id: str) -> None:
        """Remove the silence with ``silence_id``.

        Raises:
            InvalidArgumentError: No silence has that id.
        """
        kept = [s for s in self._silences if s.silence_id != silence_id]
        if len(kept) == len(self._silences):
            msg = f"no silence with silence_id {silence_id!r}; list them with .silences"
            raise InvalidArgumentError(msg, field="silence_id")
        self._silences = kept

    def statuses(self) -> list[SeriesStatus]:
        """Return a copy of every series' status, sorted by rule order then label."""
        order = {r.name: i for i, r in enumerate(self._rules)}
        keys = sorted(self._series, key=lambda k: (order[k[0]], k[1]))
        return [dataclasses.replace(self._series[k]) for k in keys]

    def evaluate(
        self, values: WindowValues, window_start: int, window_end: int, *, at: int
    ) -> WindowReport:
        """Evaluate every rule on one window [window_start, window_end).

        Args:
            values: ``{signal: {label: value}}`` for the window; a missing entry, ``None`` or
                NaN is "no data" for that series.
            window_start: Window start, ms since the epoch.
            window_end: Window end, ms since the epoch; later than the previous window's end.
            at: Evaluation time (ms since the epoch); silences are matched at this time.

        Returns:
            The transitions and the series without data.

        Raises:
            InvalidArgumentError: Out-of-order or empty window, or a value that is not a number.
        """
        self._check_window(window_start, window_end, at)
        _check_values(values)
        events: list[AlertEvent] = []
        no_data: list[tuple[str, str]] = []
        for rule in self._rules:
            labels = self._labels(rule, values)
            if not labels:
                no_data.append((rule.name, "*"))
            for label in labels:
                value = _value(values, rule.signal, label)
                status = self._series.setdefault((rule.name, label), SeriesStatus(rule.name, label))
                status.is_no_data = value is None
                if value is None:
                    no_data.append((rule.name, label))
                    continue
                event = self._step(rule, status, value, (window_start, window_end, at))
                if event is not None:
                    events.append(event)
        self._last_window_end = window_end
        return WindowReport(tuple(events), tuple(no_data))

    def run(self, windows: Iterable[Window]) -> Iterator[AlertEvent]:
        """Evaluate ``windows`` in order and yield every transition."""
        for window in windows:
            at = window.end if window.at is None else window.at
            yield from self.evaluate(window.values, window.start, window.end, at=at).events

    def _labels(self, rule: AlertRule, values: WindowValues) -> list[str]:
        if not rule.is_wildcard:
            return [rule.label]
        seen = {label for name, label in self._series if name == rule.name}
        return sorted(seen | set(values.get(rule.signal, {})))

    def _step(
        self, rule: AlertRule, status: SeriesStatus, value: float, when: tuple[int, int, int]
    ) -> AlertEvent | None:
        previous = status.state
        status.value = value
        status.breaches = status.breaches + 1 if rule.breaches(value) else 0
        if previous is AlertState.FIRING:
            # Hysteresis: only a recovery past the clear threshold ends a firing alert.
            status.state = AlertState.RESOLVED if rule.recovers(value) else previous
        elif status.breaches:
            ready = status.breaches >= rule.for_windows
            status.state = AlertState.FIRING if ready else AlertState.PENDING
        elif previous is AlertState.PENDING:
            status.state = AlertState.INACTIVE
        if status.state is previous:
            return None
        status.since = when[2]
        return self._event(rule, status, previous, when)

    def _event(
        self,
        rule: AlertRule,
        status: SeriesStatus,
        previous: AlertState,
        when: tuple[int, int, int],
    ) -> AlertEvent:
        start, end, at = when
        silence = find_silence(self._silences, rule.name, status.label, at)
        resolved = status.state is AlertState.RESOLVED
        return AlertEvent(
            event_id=event_id(rule.name, status.label, start, end, status.state.value),
            rule=rule.name,
            signal=rule.signal,
            label=status.label,
            state=status.state,
            previous_state=previous,
            value=status.value if status.value is not None else math.nan,
            threshold=rule.clear_threshold if resolved else rule.threshold,
            severity=rule.severity,
            window_start=start,
            window_end=end,
            at=at,
            silenced=silence is not None,
            silence_id=None if silence is None else silence.silence_id,
        )

    def _check_window(self, window_start: int, window_end: int, at: int) -> None:
        for name, value in (("window_start", window_start), ("window_end", window_end), ("at", at)):
            if isinstance(value, bool) or not isinstance(value, int):
                msg = f"{name} must be milliseconds since the epoch (int), got {value!r}"
                raise InvalidArgumentError(msg, field=name)
        if window_end <= window_start:
            msg = f"window [{window_start}, {window_end}) is empty; window_end must be later"
            raise InvalidArgumentError(msg, field="window_end")
        last = self._last_window_end
        if last is not None and window_end <= last:
            msg = (
                f"window ending at {window_end} is not after the last evaluated window "
                f"(ending at {last}); evaluate windows in time order"
            )
            raise InvalidArgumentError(msg, field="window_end")

    def to_dict(self) -> dict[str, Any]:
        """Serialise rules, silences and every series' state."""
        return {
            "version": 1,
            "rules": [r.to_dict() for r in self._rules],
            "silences": [s.to_dict() for s in self._silences],
            "series": [s.to_dict() for s in self.statuses()],
            "last_window_end": self._last_window_end,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertEvaluator:
        """Rebuild an evaluator from :meth:`to_dict` output.

        Series of rules that are no longer in ``rules`` are dropped, so an edited rule set can
        be loaded over old state.

        Raises:
            InvalidArgumentError: The dict is not ``to_dict()`` output.
        """
        if not isinstance(data, Mapping) or data.get("version") != 1:
            msg = "alert evaluator state must be a dict with version 1, as to_dict() writes"
            raise InvalidArgumentError(msg, field="state")
        try:
            evaluator = cls(
                [AlertRule.from_dict(r) for r in data["rules"]],
                silences=[Silence.from_dict(s) for s in data["silences"]],
            )
            names = {r.name for r in evaluator.rules}
            for item in data["series"]:
                status = _status_from_dict(item)
                if status.rule in names:
                    evaluator._series[status.rule, status.label] = status
            last = data["last_window_end"]
        except (KeyError, TypeError, ValueError) as exc:
            msg = f"alert evaluator state is not to_dict() output: {exc!r}"
            raise InvalidArgumentError(msg, field="state") from None
        if last is not None and (isinstance(last, bool) or not isinstance(last, int)):
            msg = f"alert evaluator last_window_end must be an int or None, got {last!r}"
            raise InvalidArgumentError(msg, field="state")
        evaluator._last_window_end = last
        return evaluator


def _status_from_dict(item: Mapping[str, Any]) -> SeriesStatus:
    """Rebuild one series; raises TypeError/ValueError/KeyError, which ``from_dict`` rewords."""
    status = SeriesStatus(**{**item, "state": AlertState(item["state"])})
    checks: list[tuple[object, type | tuple[type, ...]]] = [
        (status.rule, str),
        (status.label, str),
        (status.breaches, int),
        (status.value, (int, float, type(None))),
        (status.is_no_data, bool),
        (status.since, (int, type(None))),
    ]
    if any(not isinstance(value, kind) for value, kind in checks) or status.breaches < 0:
        msg = f"series entry has a field of the wrong type: {item!r}"
        raise TypeError(msg)
    return status


def _check_values(values: object) -> None:
    if not isinstance(values, Mapping):
        msg = f"window values must be a mapping {{signal: {{label: value}}}}, got {values!r}"
        raise InvalidArgumentError(msg, field="values")
    for signal, by_label in cast("Mapping[object, object]", values).items():
        if not isinstance(by_label, Mapping):
            msg = f"values[{signal!r}] must map labels to numbers, e.g. {{'age': 0.3}}"
            raise InvalidArgumentError(msg, field=f"values.{signal}")
        for label, value in cast("Mapping[object, object]", by_label).items():
            if not isinstance(label, str):
                msg = f"values[{signal!r}] labels must be column names (str), got {label!r}"
                raise InvalidArgumentError(msg, field=f"values.{signal}")
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, numbers.Real)
            ):
                msg = f"values[{signal!r}][{label!r}] must be a number or None, got {value!r}"
                raise InvalidArgumentError(msg, field=f"values.{signal}.{label}")


def _value(values: WindowValues, signal: str, label: str) -> float | None:
    """Read one value; ``None`` and NaN mean no data, ±inf is a real (extreme) value."""
    value = values.get(signal, {}).get(label)
    if value is None or math.isnan(value):
        return None
    return float(value)
