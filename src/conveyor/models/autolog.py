"""``autolog()``: log params, training metrics, the model and its training data on ``fit``.

Like ``mlflow.sklearn.autolog``, every scikit-learn estimator class that defines ``fit`` gets a
wrapper. Only the outermost ``fit`` logs (a pipeline fitting its steps, or a subclass calling
``super().fit``, logs once). Logging never breaks training: a failure is logged and skipped.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

_log = logging.getLogger("conveyor.models.autolog")
_originals: dict[type, Callable[..., Any]] = {}
_state = threading.local()
_settings: dict[str, bool] = {"log_models": True, "log_datasets": True}


def autolog(*, disable: bool = False, log_models: bool = True, log_datasets: bool = True) -> None:
    """Patch scikit-learn estimators' ``fit`` to log to the active run (started if none).

    Args:
        disable: undo the patching.
        log_models: log the fitted model (with signature and input example) as ``model``.
        log_datasets: log the training data with ``conveyor.data.log_dataset`` when available.
    """
    if disable:
        for cls, original in _originals.items():
            cls.fit = original  # type: ignore[attr-defined]
        _originals.clear()
        return
    _settings.update(log_models=log_models, log_datasets=log_datasets)
    from sklearn.utils import all_estimators

    for _, cls in all_estimators():
        original = cls.__dict__.get("fit")
        if original is None or cls in _originals:
            continue
        _originals[cls] = original
        cls.fit = _wrap(original)


def _wrap(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(_state, "inside", False):
            return original(self, *args, **kwargs)
        _state.inside = True
        try:
            return _fit_and_log(original, self, args, kwargs)
        finally:
            _state.inside = False

    return fit


def _fit_and_log(original: Callable[..., Any], estimator: Any, args: Any, kwargs: Any) -> Any:
    from conveyor.tracking import fluent

    active = fluent.active_run()
    started = active is None
    run = active or fluent.start_run()
    try:
        result = original(estimator, *args, **kwargs)
    except BaseException:
        if started:
            fluent.end_run("FAILED")
        raise
    x = args[0] if args else kwargs.get("X")
    y = args[1] if len(args) > 1 else kwargs.get("y")
    try:
        _log_fit(run.client, run.run_id, estimator, x, y)
    except Exception:  # noqa: BLE001 - logging must never break training
        _log.exception("autolog could not log the fit of %s", type(estimator).__name__)
    if started:
        fluent.end_run()
    return result


def _log_fit(client: Any, run_id: str, estimator: Any, x: Any, y: Any) -> None:
    params = {k: str(v)[:6000] for k, v in estimator.get_params(deep=False).items()}
    now = int(time.time() * 1000)
    metrics = [(k, v, now, 0) for k, v in training_metrics(estimator, x, y).items()]
    client.log_batch(run_id, params=params, metrics=metrics)
    if _settings["log_datasets"] and x is not None:
        _log_dataset(x, f"{type(estimator).__name__}-train", run_id)
    if _settings["log_models"]:
        from conveyor.models.log import log_model

        example = x.iloc[:5] if hasattr(x, "iloc") else (x[:5] if x is not None else None)
        log_model(estimator, "model", input_example=example, run_id=run_id, client=client)


def training_metrics(estimator: Any, x: Any, y: Any) -> dict[str, float]:
    """MLflow's training metric names: accuracy/F1 for classifiers, R²/MSE for regressors."""
    if x is None or y is None or not hasattr(estimator, "predict"):
        return {}
    from sklearn import metrics
    from sklearn.base import is_classifier, is_regressor

    predicted = estimator.predict(x)
    if is_classifier(estimator):
        return {
            "training_accuracy_score": float(metrics.accuracy_score(y, predicted)),
            "training_f1_score": float(metrics.f1_score(y, predicted, average="weighted")),
        }
    if is_regressor(estimator):
        return {
            "training_r2_score": float(metrics.r2_score(y, predicted)),
            "training_mean_squared_error": float(metrics.mean_squared_error(y, predicted)),
        }
    return {}


def _log_dataset(x: Any, name: str, run_id: str) -> None:
    try:
        from conveyor.data import log_dataset  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return  # dataset versioning is not installed in this build
    log_dataset(x, name, context="training", run_id=run_id)
