"""Monitors over the store: windows, drift signals, labels, CBPE, alerts into the event log."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conveyor.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from conveyor.monitoring.service import Monitors
from conveyor.store import events
from conveyor.tracking import Workspace

MINUTE = 60_000


def _frame(rng: np.random.Generator, n: int, shift: float = 0.0) -> pd.DataFrame:
    age = rng.normal(40 + shift, 10, n)
    plan = rng.choice(["basic", "pro", "team"], n, p=[0.5, 0.3, 0.2])
    logit = (age - 40) / 10
    proba = 1 / (1 + np.exp(-logit))
    target = (rng.random(n) < proba).astype(int)
    return pd.DataFrame(
        {
            "age": age,
            "plan": plan,
            "proba": proba,
            "prediction": (proba >= 0.5).astype(int),
            "target": target,
        }
    )


@pytest.fixture
def monitors(workspace: Workspace) -> Monitors:
    return Monitors(workspace.engine, workspace.blobs)


def _create(monitors: Monitors, rules: list[str]) -> None:
    reference = _frame(np.random.default_rng(0), 4000)
    monitors.create(
        "churn",
        reference,
        window_s=60,
        rules=rules,
        prediction="prediction",
        target="target",
        task="classification",
        probability="proba",
    )


def test_drift_fires_after_n_windows_and_lands_in_the_event_log(
    monitors: Monitors, workspace: Workspace
) -> None:
    _create(monitors, ["psi(age) > 0.25 for 2 windows"])
    rng = np.random.default_rng(1)
    live = _frame(rng, 500).drop(columns=["target"])
    monitors.log("churn", live, at_ms=0 * MINUTE + 5)
    for minute in (1, 2):
        shifted = _frame(rng, 500, shift=15).drop(columns=["target"])
        half = len(shifted) // 2  # two sources (replicas) into one window
        monitors.log("churn", shifted[:half], at_ms=minute * MINUTE + 1, source="replica-a")
        monitors.log("churn", shifted[half:], at_ms=minute * MINUTE + 2, source="replica-b")
    result = monitors.evaluate("churn", until_ms=3 * MINUTE)
    assert [w.start_ms for w in result.windows] == [0, MINUTE, 2 * MINUTE]
    assert [w.rows for w in result.windows] == [500, 500, 500]
    psi = [w.signals["psi"]["age"] for w in result.windows]
    assert psi[0] < 0.1
    assert psi[1] > 0.25
    assert result.windows[0].signals["drift_share"][""] == 0.0
    states = [[e.state for e in w.events] for w in result.windows]
    assert states == [[], ["pending"], ["firing"]]
    logged = events.list_events(workspace.engine, subject="monitors:/churn", action_prefix="alert.")
    assert [e.action for e in logged] == ["alert.pending", "alert.firing"]
    assert events.verify(workspace.engine).ok
    # evaluated windows are not evaluated twice
    assert monitors.evaluate("churn", until_ms=3 * MINUTE).windows == []
    stored = monitors.values("churn", signal="psi")
    assert [(r["start_ms"], r["label"]) for r in stored if r["label"] == "age"] == [
        (0, "age"),
        (MINUTE, "age"),
        (2 * MINUTE, "age"),
    ]


def test_delayed_labels_give_realized_and_cbpe_estimated_accuracy(monitors: Monitors) -> None:
    _create(monitors, ["estimated_accuracy < 0.5"])
    live = _frame(np.random.default_rng(2), 800)
    ids = [f"req-{i}" for i in range(len(live))]
    monitors.log("churn", live.drop(columns=["target"]), at_ms=10, request_ids=ids)
    counts = monitors.log_labels("churn", [*ids[:400], "nope"], [*live["target"][:400], 1])
    assert counts == {"matched": 400, "unknown": 1}
    window = monitors.evaluate("churn", until_ms=MINUTE).windows[0]
    realized = (live["target"][:400] == live["prediction"][:400]).mean()
    assert window.signals["accuracy"][""] == pytest.approx(realized)
    assert abs(window.signals["estimated_accuracy"][""] - realized) < 0.05
    assert 0.5 < window.signals["roc_auc"][""] <= 1.0
    low, high = (window.signals[f"estimated_accuracy_{b}"][""] for b in ("lower", "upper"))
    assert low < window.signals["estimated_accuracy"][""] < high
    assert window.signals["target_psi"][""] < 0.1  # same population: the labels did not drift


def test_target_drift_when_the_labels_shift(monitors: Monitors) -> None:
    _create(monitors, ["target_psi > 0.25"])
    live = _frame(np.random.default_rng(3), 400)
    ids = [f"q{i}" for i in range(len(live))]
    monitors.log("churn", live.drop(columns=["target"]), at_ms=10, request_ids=ids)
    monitors.log_labels("churn", ids, [1] * 360 + [0] * 40)  # 90 % positives; reference ~50 %
    (window,) = monitors.evaluate("churn", until_ms=MINUTE).windows
    assert window.signals["target_psi"][""] > 0.25
    assert [e.state for e in window.events] == ["firing"]


def test_bad_input_is_a_clear_error(monitors: Monitors) -> None:
    _create(monitors, [])
    with pytest.raises(AlreadyExistsError, match="already exists"):
        _create(monitors, [])
    with pytest.raises(NotFoundError, match="no monitor named 'nope'"):
        monitors.log("nope", {"age": [1.0]})
    with pytest.raises(InvalidArgumentError, match="request_ids has 1 ids for 2 rows"):
        monitors.log("churn", {"age": [1.0, 2.0], "prediction": [0, 1]}, request_ids=["a"])
    monitors.log("churn", {"age": [1.0], "prediction": [0]}, request_ids=["a"], at_ms=1)
    with pytest.raises(AlreadyExistsError, match="already logged: a"):
        monitors.log("churn", {"age": [1.0], "prediction": [0]}, request_ids=["a"], at_ms=2)
    with pytest.raises(InvalidArgumentError, match="did you mean"):
        monitors.create("other", _frame(np.random.default_rng(0), 10), rules=["pssi(age) > 1"])
    with pytest.raises(InvalidArgumentError, match="window_s"):
        monitors.create("other", _frame(np.random.default_rng(0), 10), window_s=0)


def test_an_empty_window_has_no_signals_and_delete_removes_everything(
    monitors: Monitors,
) -> None:
    _create(monitors, [])
    monitors.log("churn", {"age": np.array([], dtype=float)}, at_ms=5)
    result = monitors.evaluate("churn", until_ms=MINUTE)
    assert [w.signals for w in result.windows] == [{}]
    monitors.delete("churn")
    with pytest.raises(NotFoundError):
        monitors.get("churn")
    assert monitors.list_monitors() == []


def test_concurrent_replicas_never_lose_a_row(monitors: Monitors) -> None:
    import threading

    _create(monitors, [])
    errors: list[BaseException] = []

    def replica(source: str) -> None:
        try:
            for _ in range(5):
                monitors.log("churn", {"age": np.ones(10)}, at_ms=7, source=source)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=replica, args=(s,)) for s in ("a", "a", "b", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    window = monitors.window("churn", 0, MINUTE)
    assert window is not None
    assert window.rows == 4 * 5 * 10


def test_silenced_alerts_change_state_but_are_not_sent(
    monitors: Monitors, workspace: Workspace
) -> None:
    _create(monitors, ["psi(age) > 0.25"])
    silence = monitors.silence("churn", duration_s=3600, rule="psi*", starts_at=0)
    assert [s.silence_id for s in monitors.silences("churn")] == [silence.silence_id]
    monitors.log("churn", {"age": np.full(200, 90.0)}, at_ms=5)
    window = monitors.evaluate("churn", until_ms=MINUTE).windows[0]
    # the event time is now, long after the silence (from t=0, one hour) ended
    assert [e.state for e in window.events] == ["firing"]
    monitors.unsilence("churn", silence.silence_id)
    assert monitors.silences("churn") == []
    with pytest.raises(NotFoundError, match="no silence"):
        monitors.unsilence("churn", silence.silence_id)
    actions = [e.action for e in events.list_events(workspace.engine, subject="monitors:/churn")]
    assert actions == [
        "monitor.created",
        "alert.silenced",
        "alert.firing",
        "alert.unsilenced",
    ]


def test_active_silence_marks_events_silenced(monitors: Monitors) -> None:
    _create(monitors, ["psi(age) > 0.25"])
    monitors.silence("churn", duration_s=3600, label="age")
    monitors.log("churn", {"age": np.full(200, 90.0)}, at_ms=5)
    (event,) = monitors.evaluate("churn", until_ms=MINUTE).windows[0].events
    assert event.state == "firing"
    assert event.silenced


def test_the_loop_evaluates_every_monitor(monitors: Monitors) -> None:
    import time

    from conveyor.monitoring.loop import MonitorLoop, evaluate_all

    _create(monitors, [])
    monitors.log("churn", {"age": np.ones(5)}, at_ms=5)
    assert [len(r.windows) for r in evaluate_all(monitors).values()] == [1]
    monitors.log("churn", {"age": np.ones(5)}, at_ms=MINUTE + 5)
    loop = MonitorLoop(lambda: monitors, interval_s=0.05, engine=monitors.engine).start()
    deadline = time.monotonic() + 20
    while monitors.get("churn").evaluated_until < 2 * MINUTE and time.monotonic() < deadline:
        time.sleep(0.05)
    loop.stop()
    assert monitors.get("churn").evaluated_until == 2 * MINUTE


def test_row_level_signals_from_window_samples(monitors: Monitors) -> None:
    rng = np.random.default_rng(4)

    def rows(n: int, shift: float) -> pd.DataFrame:
        x = rng.normal(shift, 1, (n, 3))
        return pd.DataFrame(
            {"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "emb": list(rng.normal(shift, 1, (n, 6)))}
        )

    monitors.create(
        "rows", rows(1000, 0.0), window_s=60, rules=["embedding_mmd_p_value(emb) < 0.01"]
    )
    monitors.log("rows", rows(400, 0.0), at_ms=1)
    monitors.log("rows", rows(300, 1.0), at_ms=MINUTE + 1, source="r1")
    monitors.log("rows", rows(300, 1.0), at_ms=MINUTE + 2, source="r2")
    quiet, drifted = monitors.evaluate("rows", until_ms=2 * MINUTE).windows
    assert quiet.signals["domain_classifier_auc"][""] < 0.65
    assert drifted.signals["domain_classifier_auc"][""] > 0.8
    assert quiet.signals["embedding_mmd_p_value"]["emb"] > 0.05
    assert drifted.signals["embedding_mmd_p_value"]["emb"] < 0.01
    assert "pca_reconstruction_error" in drifted.signals
    assert [e.state for e in drifted.events] == ["firing"]
    assert "emb" not in monitors.get("rows").columns  # vectors are sampled, not sketched


def test_regression_monitor_estimates_mae_without_labels(monitors: Monitors) -> None:
    rng = np.random.default_rng(6)

    def rows(n: int) -> pd.DataFrame:
        x = rng.normal(0, 1, (n, 2))
        noise = rng.normal(0, 0.2 + 0.8 * (x[:, 0] > 1), n)  # errors are larger for x0 > 1
        return pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "y": x.sum(1) + noise, "pred": x.sum(1)})

    monitors.create(
        "reg", rows(3000), window_s=60, prediction="pred", target="y", task="regression"
    )
    live = rows(600)
    monitors.log("reg", live.drop(columns=["y"]), at_ms=1)
    (window,) = monitors.evaluate("reg", until_ms=MINUTE).windows
    realized = (live["y"] - live["pred"]).abs().mean()
    assert abs(window.signals["estimated_mae"][""] - realized) < 0.1
