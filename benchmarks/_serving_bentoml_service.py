"""The BentoML side of the serving benchmark: an idiomatic BentoML 1.4 service.

Served by ``bentoml serve _serving_bentoml_service:Bench`` from the benchmarks directory, under
the BentoML peer virtualenv, with ``BENTOML_HOME`` pointing at the workspace where
``_serving_setup.py bentoml`` saved the model. ``BENCH_WORKERS`` sets the worker processes
(BentoML's docs: one per CPU core for CPU-bound models). The endpoint is batchable along
dimension 0: BentoML's adaptive batching (its own defaults, ``max_batch_size=100``,
``max_latency_ms=60000``) coalesces concurrent requests into one ``predict``. Access logs are
off, as on the other two servers.

Request: ``POST /predict`` with ``{"input": [[30 floats], ...]}``; response: a JSON list of
class labels.
"""

from __future__ import annotations

import os
import warnings

import bentoml
import numpy as np

# The model was fitted on a DataFrame; the array holds the same 30 columns in the same order.
warnings.filterwarnings("ignore", message="X does not have valid feature names")


@bentoml.service(
    workers=int(os.environ.get("BENCH_WORKERS", "1")),
    # One log line per request costs every server the same; all three run without access logs.
    logging={"access": {"enabled": False}},
)
class Bench:
    """One scikit-learn RandomForest, batched."""

    model_ref = bentoml.models.BentoModel("bench:latest")

    def __init__(self) -> None:
        self.model = bentoml.sklearn.load_model(self.model_ref)

    @bentoml.api(batchable=True)
    def predict(self, input: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict(input))
