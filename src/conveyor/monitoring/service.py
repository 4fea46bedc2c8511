"""Monitors over the store: reference profiles, live windows, labels, evaluation and alerts.

A monitor is a row: a reference profile (a blob), a window length, alert rules and notification
targets. Traffic is folded into fixed-size window sketches (one row per window and source:
serving replicas, the ingest API), merged on read; ``evaluate`` turns each closed window into
signals (``window_signals``), realized performance from joined labels, estimated performance
(CBPE) from prediction scores, stores them, runs the alert rules and appends every alert
transition to the event log in the same transaction; notifications go out after the commit and
every delivery attempt is recorded.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import orjson
import pandas as pd
from sqlalchemy import Connection, Engine, and_, delete, func, insert, select, update

from conveyor._time import now_ms
from conveyor.blobs import BlobStore, put_bytes, read_bytes
from conveyor.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from conveyor.monitoring import prediction_log, samples
from conveyor.monitoring.alerts import AlertEvaluator, AlertEvent, Silence, parse_rule
from conveyor.monitoring.alerts.notify import Delivery, dispatch
from conveyor.monitoring.notifiers import NotifierConfig, build_notifiers
from conveyor.monitoring.records import Evaluation, Monitor, WindowResult
from conveyor.monitoring.reference import ReferenceProfile
from conveyor.monitoring.sample_signals import SampleSignals
from conveyor.monitoring.sketches import WindowSketch
from conveyor.monitoring.sketches.values import category_key
from conveyor.monitoring.window_signals import window_signals
from conveyor.store import events, is_sqlite, read, schema, write
from conveyor.tracking import limits

DEFAULT_WINDOW_S = 3600
MAX_REFERENCE_SCORES = 200_000  # rows of (label, score, prediction) kept to fit CBPE
MAX_REQUEST_ID_LENGTH = prediction_log.MAX_REQUEST_ID_LENGTH


def _check_name(name: object) -> str:
    return limits.check_name(name, field="name", limit=250)


def _window_start(at_ms: int, window_ms: int) -> int:
    return at_ms - at_ms % window_ms


class Monitors:
    """Monitor operations over one engine and one blob store."""

    def __init__(self, engine: Engine, blobs: BlobStore) -> None:
        self._engine = engine
        self._blobs = blobs
        self._profiles: dict[str, ReferenceProfile] = {}

    @property
    def engine(self) -> Engine:
        """The metadata engine (the event log is read through it)."""
        return self._engine

    # --- definitions ---------------------------------------------------------------------

    def create(
        self,
        name: str,
        reference: pd.DataFrame | ReferenceProfile,
        *,
        deployment: str | None = None,
        window_s: int = DEFAULT_WINDOW_S,
        rules: Sequence[str] = (),
        notifiers: Sequence[NotifierConfig | Mapping[str, Any]] = (),
        prediction: str | None = None,
        target: str | None = None,
        task: str | None = None,
        probability: str | None = None,
        categorical: Sequence[str] | None = None,
    ) -> Monitor:
        """Create a monitor from a reference DataFrame (profiled here) or a ready profile.

        With a DataFrame holding ``target``, ``probability`` and ``prediction`` of a binary
        classifier, the monitor also keeps those columns (up to 200k rows) to estimate accuracy,
        F1 and ROC AUC of unlabeled windows with CBPE.
        """
        name = _check_name(name)
        if not isinstance(window_s, int) or isinstance(window_s, bool) or window_s < 1:
            msg = f"window_s must be a whole number of seconds >= 1, got {window_s!r}"
            raise InvalidArgumentError(msg, field="window_s")
        parsed_rules = [str(parse_rule(rule)) for rule in rules]
        configs = tuple(
            n if isinstance(n, NotifierConfig) else NotifierConfig.from_dict(n) for n in notifiers
        )
        stored: dict[str, Any] = {"vector_columns": []}
        if isinstance(reference, ReferenceProfile):
            profile = reference
        else:
            profile, stored = self._profile(
                reference, prediction, target, task, probability, categorical
            )
        digest = put_bytes(self._blobs, profile.to_json().encode())
        config = {
            "window_s": window_s,
            "rules": parsed_rules,
            "notifiers": [c.to_dict() for c in configs],
            **stored,
        }
        now = now_ms()
        row = {
            "name": name,
            "deployment": deployment,
            "reference_digest": digest,
            "config": orjson.dumps(config).decode(),
            "alert_state": orjson.dumps(AlertEvaluator(parsed_rules).to_dict()).decode(),
            "evaluated_until": 0,
            "created_time": now,
            "updated_time": now,
        }
        m = schema.monitors
        with write(self._engine) as conn:
            if conn.execute(select(m.c.monitor_id).where(m.c.name == name)).first() is not None:
                msg = f"a monitor named {name!r} already exists; pick another name or delete it"
                raise AlreadyExistsError(msg, field="name")
            conn.execute(insert(m).values(row))
            events.append(
                conn,
                action="monitor.created",
                subject=f"monitors:/{name}",
                payload={"reference_digest": digest, "rules": parsed_rules, "window_s": window_s},
            )
        self._profiles[digest] = profile
        return self.get(name)

    def _profile(
        self,
        reference: pd.DataFrame,
        prediction: str | None,
        target: str | None,
        task: str | None,
        probability: str | None,
        categorical: Sequence[str] | None,
    ) -> tuple[ReferenceProfile, dict[str, Any]]:
        """Profile a reference frame; keep its sample (and scores, for CBPE) as blobs."""
        vectors = [c for c in reference.columns if samples.is_vector_column(reference[c])]
        sample_digest = self._store_reference_sample(reference)
        reference = reference.drop(columns=vectors)
        if task == "classification":  # classes are categories, not quantile bins
            categorical = [*(categorical or []), *(c for c in (target, prediction) if c)]
        profile = ReferenceProfile.from_frame(
            reference,
            prediction=prediction,
            target=target,
            task=task,  # type: ignore[arg-type]  # validated by from_frame
            categorical=categorical,
            probabilities=probability,
        )
        stored = {
            "scores_digest": self._store_scores(reference, prediction, target, probability, task),
            "sample_digest": sample_digest,
            "vector_columns": vectors,
        }
        return profile, stored

    def _store_reference_sample(self, frame: pd.DataFrame) -> str:
        sample = frame
        if len(frame) > samples.REFERENCE_SAMPLE_ROWS:
            sample = frame.sample(samples.REFERENCE_SAMPLE_ROWS, random_state=0)
        return put_bytes(self._blobs, samples.to_bytes(sample.reset_index(drop=True)))

    def _store_scores(
        self,
        frame: pd.DataFrame,
        prediction: str | None,
        target: str | None,
        probability: str | None,
        task: str | None,
    ) -> str | None:
        if task != "classification" or not (prediction and target and probability):
            return None
        data = frame[[target, probability, prediction]].dropna()
        if len(data) > MAX_REFERENCE_SCORES:
            data = data.sample(MAX_REFERENCE_SCORES, random_state=0)
        buffer = io.BytesIO()
        np.savez(
            buffer,
            y_true=data[target].to_numpy(),
            score=data[probability].to_numpy(dtype=np.float64),
            y_pred=data[prediction].to_numpy(),
        )
        return put_bytes(self._blobs, buffer.getvalue())

    def _row(self, conn: Connection, name: str, *, lock: bool = False) -> Any:
        """Read a monitor's row; ``lock`` holds it until the transaction ends (PostgreSQL).

        Writers that read-modify-write a monitor's window or alert state lock its row, so two
        replicas (or evaluators) never overwrite each other's update. SQLite needs no row lock:
        its write transactions are serialised already.
        """
        m = schema.monitors
        stmt = select(m).where(m.c.name == name)
        if lock and not is_sqlite(conn.engine):
            stmt = stmt.with_for_update()
        row = conn.execute(stmt).first()
        if row is None:
            msg = f"no monitor named {name!r}; see `conveyor monitors list`"
            raise NotFoundError(msg, field="name")
        return row

    def _monitor(self, row: Any) -> Monitor:
        config = orjson.loads(row.config)
        profile = self.profile_of(row.reference_digest)
        return Monitor(
            name=row.name,
            deployment=row.deployment,
            window_s=int(config["window_s"]),
            rules=tuple(config["rules"]),
            notifiers=tuple(NotifierConfig.from_dict(n) for n in config["notifiers"]),
            reference_digest=row.reference_digest,
            evaluated_until=int(row.evaluated_until),
            created_time=int(row.created_time),
            columns=tuple(profile.columns),
            task=profile.task,
        )

    def profile_of(self, digest: str) -> ReferenceProfile:
        """Return the reference profile stored under ``digest`` (cached: blobs never change)."""
        profile = self._profiles.get(digest)
        if profile is None:
            text = read_bytes(self._blobs, digest).decode()
            profile = self._profiles[digest] = ReferenceProfile.from_json(text)
        return profile

    def get(self, name: str) -> Monitor:
        """Return one monitor."""
        with read(self._engine) as conn:
            return self._monitor(self._row(conn, _check_name(name)))

    def list_monitors(self, *, deployment: str | None = None) -> list[Monitor]:
        """Return every monitor (of one deployment), by name."""
        m = schema.monitors
        stmt = select(m).order_by(m.c.name)
        if deployment is not None:
            stmt = stmt.where(m.c.deployment == deployment)
        with read(self._engine) as conn:
            rows = conn.execute(stmt).all()
        return [self._monitor(r) for r in rows]

    def delete(self, name: str) -> None:
        """Delete a monitor with its windows, predictions, values and deliveries."""
        name = _check_name(name)
        with write(self._engine) as conn:
            monitor_id = self._row(conn, name).monitor_id
            for table in (
                schema.monitor_windows,
                schema.monitor_predictions,
                schema.monitor_values,
                schema.notification_deliveries,
            ):
                conn.execute(delete(table).where(table.c.monitor_id == monitor_id))
            conn.execute(delete(schema.monitors).where(schema.monitors.c.monitor_id == monitor_id))
            events.append(conn, action="monitor.deleted", subject=f"monitors:/{name}")

    # --- silences ------------------------------------------------------------------------

    def _update_alert_state(self, name: str, change: Any) -> AlertEvaluator:
        with write(self._engine) as conn:
            row = self._row(conn, _check_name(name), lock=True)
            evaluator = AlertEvaluator.from_dict(orjson.loads(row.alert_state))
            payload = change(evaluator)
            conn.execute(
                update(schema.monitors)
                .where(schema.monitors.c.monitor_id == row.monitor_id)
                .values(
                    alert_state=orjson.dumps(evaluator.to_dict()).decode(), updated_time=now_ms()
                )
            )
            events.append(conn, subject=f"monitors:/{row.name}", **payload)
        return evaluator

    def silence(
        self,
        name: str,
        *,
        duration_s: int,
        rule: str = "*",
        label: str = "*",
        comment: str = "",
        created_by: str = "local",
        starts_at: int | None = None,
    ) -> Silence:
        """Silence notifications of matching alerts (globs over rule and label) for a while.

        Silenced alerts still change state and are recorded; only notifications stop.
        """
        if not isinstance(duration_s, int) or duration_s < 1:
            msg = f"duration_s must be a whole number of seconds >= 1, got {duration_s!r}"
            raise InvalidArgumentError(msg, field="duration_s")
        start = now_ms() if starts_at is None else starts_at
        silence = Silence(
            starts_at=start,
            ends_at=start + duration_s * 1000,
            rule=rule,
            label=label,
            comment=comment,
            created_by=created_by,
        )

        def add(evaluator: AlertEvaluator) -> dict[str, Any]:
            evaluator.add_silence(silence)
            return {"action": "alert.silenced", "payload": silence.to_dict(), "actor": created_by}

        self._update_alert_state(name, add)
        return silence

    def unsilence(self, name: str, silence_id: str) -> None:
        """Remove a silence."""

        def remove(evaluator: AlertEvaluator) -> dict[str, Any]:
            if all(s.silence_id != silence_id for s in evaluator.silences):
                msg = f"monitor {name!r} has no silence {silence_id!r}; see its silences"
                raise NotFoundError(msg, field="silence_id")
            evaluator.remove_silence(silence_id)
            return {"action": "alert.unsilenced", "payload": {"silence_id": silence_id}}

        self._update_alert_state(name, remove)

    def silences(self, name: str) -> list[Silence]:
        """Return a monitor's silences (active or not)."""
        with read(self._engine) as conn:
            row = self._row(conn, _check_name(name))
        return list(AlertEvaluator.from_dict(orjson.loads(row.alert_state)).silences)

    # --- traffic -------------------------------------------------------------------------

    def log(
        self,
        name: str,
        batch: pd.DataFrame | Mapping[str, Any],
        *,
        at_ms: int | None = None,
        request_ids: Sequence[str] | None = None,
        source: str = "api",
        strict_ids: bool = True,
    ) -> int:
        """Fold a batch of inputs (and predictions) into its window; return the window start.

        With ``request_ids``, the batch's predictions (and first probability column) are kept
        so that labels posted later (``log_labels``) can be joined to them. ``strict_ids=False``
        (serving replicas): a row whose id is empty, too long, repeated or logged before keeps
        no prediction (the first one logged stays) instead of failing the batch; the sketch
        counts every row either way.
        """
        name = _check_name(name)
        at = now_ms() if at_ms is None else limits.check_int(at_ms, field="at_ms")
        frame = batch if isinstance(batch, pd.DataFrame) else pd.DataFrame(dict(batch))
        if request_ids is not None and len(request_ids) != len(frame):
            msg = f"request_ids has {len(request_ids)} ids for {len(frame)} rows; give one per row"
            raise InvalidArgumentError(msg, field="request_ids")
        with write(self._engine) as conn:
            row = self._row(conn, name, lock=True)
            profile = self.profile_of(row.reference_digest)
            config = orjson.loads(row.config)
            window_ms = int(config["window_s"]) * 1000
            start = _window_start(at, window_ms)
            vectors = [c for c in config.get("vector_columns", []) if c in frame.columns]
            w = schema.monitor_windows
            key = and_(
                w.c.monitor_id == row.monitor_id, w.c.start_ms == start, w.c.source == source
            )
            stored = conn.execute(select(w.c.sketch, w.c.sample).where(key)).first()
            sketch = (
                WindowSketch.from_bytes(stored.sketch)
                if stored is not None
                else WindowSketch.for_profile(profile, start, start + window_ms)
            )
            seen = sketch.rows
            sketch.update(frame.drop(columns=vectors))
            sample = None
            if config.get("sample_digest"):
                previous = None if stored is None else stored.sample
                sample = self._sampled(
                    previous, seen, frame, profile, vectors, (row.monitor_id, start, source)
                )
            values = {
                "rows": sketch.rows,
                "sketch": sketch.to_bytes(),
                "sample": sample,
                "updated_time": now_ms(),
            }
            if stored is None:
                conn.execute(
                    insert(w).values(
                        monitor_id=row.monitor_id,
                        start_ms=start,
                        end_ms=start + window_ms,
                        source=source,
                        **values,
                    )
                )
            else:
                conn.execute(update(w).where(key).values(values))
            if request_ids is not None and profile.prediction in frame.columns:
                self._keep_predictions(
                    conn, row.monitor_id, profile, frame, request_ids, at, strict=strict_ids
                )
        return start

    @staticmethod
    def _sampled(
        previous: bytes | None,
        seen: int,
        frame: pd.DataFrame,
        profile: ReferenceProfile,
        vectors: list[str],
        identity: tuple[object, ...],
    ) -> bytes:
        """Fold the batch into the window's reservoir sample of raw rows."""
        columns = [n for n, c in profile.columns.items() if c.role != "target"] + vectors
        rng = np.random.default_rng(samples.seed_of(*identity, seen))
        updated = samples.reservoir_update(
            None if previous is None else samples.from_bytes(previous),
            seen,
            frame.reindex(columns=columns),
            rng=rng,
        )
        return samples.to_bytes(updated)

    def _keep_predictions(
        self,
        conn: Connection,
        monitor_id: int,
        profile: ReferenceProfile,
        frame: pd.DataFrame,
        request_ids: Sequence[str],
        at: int,
        *,
        strict: bool = True,
    ) -> None:
        assert profile.prediction is not None  # noqa: S101 - checked by the caller
        score_column = profile.probabilities[-1] if profile.probabilities else None
        rows = prediction_log.prediction_rows(
            prediction_log.category_keys(frame[profile.prediction].to_numpy()),
            prediction_log.scores(frame, score_column),
            request_ids,
            at,
            strict=strict,
        )
        prediction_log.insert_predictions(conn, monitor_id, rows, strict=strict)

    def log_labels(
        self, name: str, request_ids: Sequence[str], labels: Sequence[object]
    ) -> dict[str, int]:
        """Attach delayed labels to logged predictions; return matched and unknown counts."""
        name = _check_name(name)
        if len(request_ids) != len(labels):
            msg = f"{len(request_ids)} request_ids but {len(labels)} labels; give one label per id"
            raise InvalidArgumentError(msg, field="labels")
        if not request_ids:
            msg = "no labels given; send request_ids and labels of the same length"
            raise InvalidArgumentError(msg, field="labels")
        p = schema.monitor_predictions
        now = now_ms()
        matched = 0
        with write(self._engine) as conn:
            monitor_id = self._row(conn, name).monitor_id
            for request_id, label in zip(request_ids, labels, strict=True):
                if label is None or (isinstance(label, float) and math.isnan(label)):
                    msg = f"label for request {request_id!r} is missing; send a value"
                    raise InvalidArgumentError(msg, field="labels")
                result = conn.execute(
                    update(p)
                    .where(p.c.monitor_id == monitor_id, p.c.request_id == str(request_id))
                    .values(label=category_key(label), label_time=now)
                )
                matched += result.rowcount
        return {"matched": matched, "unknown": len(request_ids) - matched}

    # --- evaluation ----------------------------------------------------------------------

    def window(self, name: str, start_ms: int, end_ms: int) -> WindowSketch | None:
        """Return the merged sketch of every window (all sources) starting in [start, end)."""
        with read(self._engine) as conn:
            monitor_id = self._row(conn, _check_name(name)).monitor_id
        return self._merged_window(monitor_id, start_ms, end_ms)

    def _merged_window(self, monitor_id: int, start_ms: int, end_ms: int) -> WindowSketch | None:
        w = schema.monitor_windows
        with read(self._engine) as conn:
            blobs = conn.execute(
                select(w.c.sketch).where(
                    w.c.monitor_id == monitor_id,
                    w.c.start_ms >= start_ms,
                    w.c.start_ms < end_ms,
                )
            ).all()
        return WindowSketch.merge_bytes([b.sketch for b in blobs]) if blobs else None

    def window_sample(self, monitor_id: int, start_ms: int) -> pd.DataFrame:
        """Return the merged uniform sample of one window across its sources."""
        w = schema.monitor_windows
        with read(self._engine) as conn:
            rows = conn.execute(
                select(w.c.sample, w.c.rows).where(
                    w.c.monitor_id == monitor_id,
                    w.c.start_ms == start_ms,
                    w.c.sample.is_not(None),
                )
            ).all()
        parts = [(samples.from_bytes(r.sample), int(r.rows)) for r in rows]
        rng = np.random.default_rng(samples.seed_of(monitor_id, start_ms))
        return samples.merge_samples(parts, rng=rng)

    def evaluate(self, name: str, *, until_ms: int | None = None) -> Evaluation:
        """Evaluate every window that closed since the last evaluation (up to ``until_ms``)."""
        name = _check_name(name)
        until = now_ms() if until_ms is None else limits.check_int(until_ms, field="until_ms")
        with read(self._engine) as conn:
            row = self._row(conn, name)
            w = schema.monitor_windows
            starts = [
                int(r.start_ms)
                for r in conn.execute(
                    select(w.c.start_ms)
                    .where(
                        w.c.monitor_id == row.monitor_id,
                        w.c.start_ms >= row.evaluated_until,
                        w.c.end_ms <= until,
                    )
                    .group_by(w.c.start_ms)
                    .order_by(w.c.start_ms)
                )
            ]
        monitor = self._monitor(row)
        profile = self.profile_of(row.reference_digest)
        config = orjson.loads(row.config)
        from conveyor.monitoring.performance_signals import PerformanceSignals

        performance = PerformanceSignals(profile, self._scores(config.get("scores_digest")))
        sample_digest = config.get("sample_digest")
        row_level = SampleSignals(
            profile,
            samples.from_bytes(read_bytes(self._blobs, sample_digest)) if sample_digest else None,
            list(config.get("vector_columns", [])),
        )
        results: list[WindowResult] = []
        for start in starts:
            end = start + monitor.window_s * 1000
            sketch = self._merged_window(row.monitor_id, start, end)
            if sketch is None:
                continue
            signals = window_signals(profile, sketch)
            signals.update(performance.signals(self._predictions(row.monitor_id, start, end)))
            if sample_digest:
                signals.update(row_level.signals(self.window_sample(row.monitor_id, start)))
            results.append(WindowResult(start, end, sketch.rows, signals))
        deliveries: list[Delivery] = []
        for result in results:
            result.events = self._record(name, result)
            if result.events:
                deliveries.extend(self._notify(name, monitor, result.events))
        return Evaluation(results, deliveries)

    def _scores(self, digest: str | None) -> dict[str, np.ndarray[Any, Any]] | None:
        if not digest:
            return None
        with np.load(io.BytesIO(read_bytes(self._blobs, digest)), allow_pickle=False) as data:
            return {k: data[k] for k in data.files}

    def _predictions(self, monitor_id: int, start: int, end: int) -> pd.DataFrame:
        p = schema.monitor_predictions
        with read(self._engine) as conn:
            rows = conn.execute(
                select(p.c.prediction, p.c.score, p.c.label).where(
                    p.c.monitor_id == monitor_id, p.c.time >= start, p.c.time < end
                )
            ).all()
        return pd.DataFrame(rows, columns=["prediction", "score", "label"])

    def _record(self, name: str, result: WindowResult) -> list[AlertEvent]:
        """Store the window's values, run the rules and log transitions, in one transaction."""
        v = schema.monitor_values
        m = schema.monitors
        with write(self._engine) as conn:
            row = self._row(conn, name, lock=True)
            if result.start_ms < int(row.evaluated_until):
                return []  # another evaluator got here first
            evaluator = AlertEvaluator.from_dict(orjson.loads(row.alert_state))
            report = evaluator.evaluate(result.signals, result.start_ms, result.end_ms, at=now_ms())
            value_rows = [
                {
                    "monitor_id": row.monitor_id,
                    "start_ms": result.start_ms,
                    "end_ms": result.end_ms,
                    "signal": signal,
                    "label": label,
                    "value": value if math.isfinite(value) else None,
                }
                for signal, by_label in result.signals.items()
                for label, value in by_label.items()
            ]
            if value_rows:
                conn.execute(insert(v), value_rows)
            for event in report.events:
                events.append(
                    conn,
                    action=f"alert.{event.state}",
                    subject=f"monitors:/{name}",
                    payload=event.to_dict(),
                    actor="monitor",
                )
            conn.execute(
                update(m)
                .where(m.c.monitor_id == row.monitor_id)
                .values(
                    alert_state=orjson.dumps(evaluator.to_dict()).decode(),
                    evaluated_until=result.end_ms,
                    updated_time=now_ms(),
                )
            )
        return list(report.events)

    def _notify(
        self, name: str, monitor: Monitor, alert_events: list[AlertEvent]
    ) -> list[Delivery]:
        deliveries = dispatch(alert_events, build_notifiers(monitor.notifiers))
        if not deliveries:
            return deliveries
        with write(self._engine) as conn:
            monitor_id = self._row(conn, name).monitor_id
            conn.execute(
                insert(schema.notification_deliveries),
                [
                    {
                        "monitor_id": monitor_id,
                        "event_seq": None,
                        "channel": d.notifier,
                        "target": d.target,
                        "attempts": d.attempt,
                        "ok": int(d.outcome == "delivered"),
                        "status": d.status_code,
                        "error": d.error,
                        "time": now_ms(),
                    }
                    for d in deliveries
                ],
            )
        return deliveries

    # --- reading -------------------------------------------------------------------------

    def values(
        self,
        name: str,
        *,
        signal: str | None = None,
        since_ms: int = 0,
        limit: int = 100_000,
    ) -> list[dict[str, Any]]:
        """Return stored signal values in time order."""
        v = schema.monitor_values
        with read(self._engine) as conn:
            monitor_id = self._row(conn, _check_name(name)).monitor_id
            stmt = (
                select(v.c.start_ms, v.c.end_ms, v.c.signal, v.c.label, v.c.value)
                .where(v.c.monitor_id == monitor_id, v.c.start_ms >= since_ms)
                .order_by(v.c.start_ms, v.c.signal, v.c.label)
                .limit(limit)
            )
            if signal is not None:
                stmt = stmt.where(v.c.signal == signal)
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def alert_statuses(self, name: str) -> list[dict[str, Any]]:
        """Return the current state of every (rule, label) series."""
        with read(self._engine) as conn:
            row = self._row(conn, _check_name(name))
        evaluator = AlertEvaluator.from_dict(orjson.loads(row.alert_state))
        return [s.to_dict() for s in evaluator.statuses()]

    def latest(self) -> list[dict[str, Any]]:
        """Return every monitor's signal values of its last evaluated window, and alert states.

        One row per (monitor, signal, label): what ``/metrics`` exports.
        """
        m, v = schema.monitors, schema.monitor_values
        last = (
            select(v.c.monitor_id, func.max(v.c.start_ms).label("start_ms"))
            .group_by(v.c.monitor_id)
            .subquery()
        )
        stmt = (
            select(m.c.name, v.c.signal, v.c.label, v.c.value, v.c.start_ms)
            .join(v, v.c.monitor_id == m.c.monitor_id)
            .join(
                last,
                and_(last.c.monitor_id == v.c.monitor_id, last.c.start_ms == v.c.start_ms),
            )
            .order_by(m.c.name, v.c.signal, v.c.label)
        )
        with read(self._engine) as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def all_alert_statuses(self) -> dict[str, list[dict[str, Any]]]:
        """Return the alert series states of every monitor, by monitor name."""
        m = schema.monitors
        with read(self._engine) as conn:
            rows = conn.execute(select(m.c.name, m.c.alert_state).order_by(m.c.name)).all()
        return {
            r.name: [
                s.to_dict()
                for s in AlertEvaluator.from_dict(orjson.loads(r.alert_state)).statuses()
            ]
            for r in rows
        }
