"""``conveyor quickstart``: the closed loop on generated data, as far as it is built.

Today: generate a dataset, train a scikit-learn model over a parameter grid, track every run
(params, per-epoch metrics, artifacts, environment), search the results, register the best,
serve it, shadow and progressively roll out the runner-up, then monitor the served model on
simulated production traffic that drifts: windows, delayed labels, drift and estimated
accuracy, alerts in the event log, and an HTML report.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import typer

from conveyor.cli.output import console

EXPERIMENT = "quickstart"
GRID: list[dict[str, Any]] = [
    {"alpha": alpha, "penalty": penalty} for alpha in (1e-4, 1e-3, 1e-2) for penalty in ("l2", "l1")
]


def _dataset(seed: int) -> tuple[Any, Any, Any, Any]:
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split

    x, y = make_classification(
        n_samples=4000, n_features=20, n_informative=8, class_sep=0.8, random_state=seed
    )
    return tuple(train_test_split(x, y, test_size=0.25, random_state=seed))


def _train_one(
    params: dict[str, Any], data: tuple[Any, Any, Any, Any], epochs: int, seed: int
) -> Any:
    import numpy as np
    from sklearn.linear_model import SGDClassifier
    from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

    import conveyor

    x_train, x_val, y_train, y_val = data
    model = SGDClassifier(loss="log_loss", random_state=seed, **params)
    name = f"sgd-{params['penalty']}-alpha{params['alpha']:g}"
    with conveyor.start_run(experiment=EXPERIMENT, run_name=name):
        conveyor.log_params({**params, "epochs": epochs, "model": "SGDClassifier"})
        classes = np.unique(y_train)
        for epoch in range(epochs):
            model.partial_fit(x_train, y_train, classes=classes)
            proba = model.predict_proba(x_val)[:, 1]
            conveyor.log_metrics(
                {
                    "train_loss": log_loss(y_train, model.predict_proba(x_train)[:, 1]),
                    "val_loss": log_loss(y_val, proba),
                    "val_accuracy": accuracy_score(y_val, proba > 0.5),
                },
                step=epoch,
            )
        pred = model.predict(x_val)
        final = {
            "accuracy": float(accuracy_score(y_val, pred)),
            "f1": float(f1_score(y_val, pred)),
            "roc_auc": float(roc_auc_score(y_val, model.predict_proba(x_val)[:, 1])),
        }
        conveyor.log_metrics(final)
        # MLflow Model format with a signature; the training data as a versioned dataset
        # (identical data in every run: one version, one lineage edge per run)
        conveyor.log_model(model, "model", input_example=x_val[:5])
        conveyor.log_dataset(x_train, "quickstart-train", context="training")
        with tempfile.TemporaryDirectory() as tmp:
            report = Path(tmp) / "evaluation.json"
            report.write_text(json.dumps({"params": params, "metrics": final}, indent=2))
            conveyor.log_artifact(report)
    return model


def quickstart(
    epochs: int = typer.Option(15, "--epochs", min=1, max=1000, help="Training epochs per run."),
    seed: int = typer.Option(7, "--seed", help="Random seed for data and models."),
) -> None:
    """Train a model over a parameter grid on generated data and track every run."""
    from rich.progress import Progress

    from conveyor.cli.runs import runs_table
    from conveyor.settings import get_settings
    from conveyor.tracking.fluent import get_client

    settings = get_settings()
    where = settings.server or str(settings.home.resolve())
    console.print(f"[bold]Conveyor quickstart[/bold] · workspace: {where}")
    console.print("1. track: generating a classification dataset (4,000 rows x 20 features)")
    data = _dataset(seed)
    models: dict[str, Any] = {}
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("training", total=len(GRID))
        for params in GRID:
            progress.update(task, description=f"training {params}")
            model = _train_one(params, data, epochs, seed)
            models[f"sgd-{params['penalty']}-alpha{params['alpha']:g}"] = model
            progress.advance(task)
    client = get_client()
    experiment = client.get_or_create_experiment(EXPERIMENT)
    page = client.search_runs(
        [experiment.experiment_id], order_by=["metrics.accuracy DESC"], max_results=len(GRID)
    )
    console.print(f"   tracked {len(GRID)} runs in experiment {EXPERIMENT!r}:")
    console.print(
        runs_table(
            page.runs,
            param_keys=["alpha", "penalty"],
            metric_keys=["accuracy", "f1", "roc_auc"],
        )
    )
    best = page.runs[0]
    console.print(f"   best: {best.info.run_name} (accuracy {best.metrics['accuracy'].value:.3f})")
    from conveyor.cli.quickstart_monitor import monitor_step
    from conveyor.cli.quickstart_registry import MODEL_NAME, registry_step

    served = registry_step(best.run_id, data[1])
    if served is not None:
        from conveyor.cli.quickstart_serve import serve_step

        runner_up = page.runs[1].run_id if len(page.runs) > 1 else None
        serve_step(MODEL_NAME, runner_up, data[1], data[3])
    # the monitor watches the model as loaded from the registry by its alias
    model = served.get_raw_model() if served is not None else models[best.info.run_name or ""]
    report = monitor_step(model, data, seed)
    console.print(
        "\nWhere to look next:\n"
        f'  conveyor runs list -e {EXPERIMENT} --filter "metrics.accuracy > 0.8" '
        '--order-by "metrics.accuracy DESC"\n'
        f"  conveyor runs show {best.run_id}\n"
        f"  conveyor models show {MODEL_NAME}    # versions, aliases, approval policy\n"
        f"  conveyor lineage models:/{MODEL_NAME}@production\n"
        "  conveyor audit verify    # the hash-chained log of every change\n"
        "  conveyor deployments show quickstart  # routes, replicas, versions served\n"
        "  conveyor rollout status quickstart    # every step of the rollout and why\n"
        "  conveyor deployments report quickstart   # champion/challenger of a shadow\n"
        f"  conveyor serve models:/{MODEL_NAME}@production   # OIP v2 + MLflow /invocations\n"
        "  conveyor monitors show quickstart     # alert states, last window's signals\n"
        f"  open {report}   # drift, estimated vs realized accuracy\n"
        "  conveyor server        # REST API + MLflow-compatible API on http://127.0.0.1:5000\n"
        "  MLFLOW_TRACKING_URI=http://127.0.0.1:5000 mlflow ...   # any mlflow client works\n"
        "\nNot built yet (next issues): retraining triggered by alerts, pipelines."
    )
