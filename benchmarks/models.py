"""Warm ``load_model("models:/churn@production")`` against ``joblib.load`` of the same file.

Target (issue 4): a scikit-learn model loaded through the registry with a warm cache takes
≤ 1.2x the time of ``joblib.load`` of the very file the registry resolves to; the registry
(alias resolution, MLmodel read, digest check) adds almost nothing. The model is a 100-tree
random forest on 10k x 20 rows (pickle serialization, the format ``joblib.load`` reads; the
safe default, skops, is reported beside it). Times alternate between the two, median of N.

    .venv/bin/python benchmarks/models.py [--repeat 40]
"""

from __future__ import annotations

import argparse
import os
import pickle
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _docs import replace_section


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-models-")
    os.environ["CONVEYOR_HOME"] = f"{tmp}/.conveyor"
    os.environ["CONVEYOR_CAPTURE_SYSTEM"] = "false"
    import joblib
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    import conveyor

    x, y = make_classification(n_samples=10_000, n_features=20, random_state=0)
    model = RandomForestClassifier(n_estimators=100, random_state=0).fit(x, y)
    with conveyor.start_run(experiment="bench-models"):
        pickled = conveyor.log_model(model, "model", input_example=x[:5], serialization="pickle")
        safe = conveyor.log_model(model, "model-skops", input_example=x[:5])
    for info, name in ((pickled, "churn"), (safe, "churn-skops")):
        version = conveyor.register_model(info.model_uri, name)
        from conveyor.registry.client import registry_client

        registry_client().set_alias(name, "production", version.version)
    uri = "models:/churn@production"
    first = conveyor.load_model(uri, trust_pickle=True)  # fills the cache: later loads are warm
    file = Path(first.path) / "model.pkl"
    size_mb = file.stat().st_size / 1e6
    joblib.load(file)
    conveyor.load_model("models:/churn-skops@production")
    registry_s, joblib_s, skops_s, pickle_s = [], [], [], []
    for _ in range(args.repeat):
        start = time.perf_counter()
        loaded = conveyor.load_model(uri, trust_pickle=True)
        registry_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        joblib.load(file)
        joblib_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        conveyor.load_model("models:/churn-skops@production")
        skops_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        with file.open("rb") as fh:
            pickle.load(fh)  # noqa: S301 - our own file
        pickle_s.append(time.perf_counter() - start)
    assert (loaded.predict(x[:100]) == model.predict(x[:100])).all()
    reg, job, sk = _median_ms(registry_s), _median_ms(joblib_s), _median_ms(skops_s)
    raw = _median_ms(pickle_s)
    ratio = reg / job
    print(f"registry {reg:.2f} ms, joblib {job:.2f} ms, pickle {raw:.2f} ms, ratio {ratio:.3f}")
    machine = f"{platform.machine()}, {platform.processor() or platform.platform()}"
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = "\n".join(
        [
            "## Model loading through the registry (issue 4)",
            "",
            f"{when}; {machine}; `.venv/bin/python benchmarks/models.py`.",
            "",
            f"| measure | median of {args.repeat} | target |",
            "|---|---|---|",
            f'| `load_model("models:/churn@production")`, warm cache, pickle ({size_mb:.1f} MB '
            f"forest) | {reg:.2f} ms | |",
            f"| `joblib.load` of the same file | {job:.2f} ms | |",
            f"| `pickle.load` of the same file (the floor: what the flavor itself calls) | "
            f"{raw:.2f} ms; registry / floor = {reg / raw:.3f}x | |",
            f"| ratio | {ratio:.3f}x | ≤ 1.2x: {'met' if ratio <= 1.2 else 'NOT met'} |",
            f"| the same model in the safe default format (skops), through the registry | "
            f"{sk:.2f} ms | - |",
        ]
    )
    replace_section("models", text)


if __name__ == "__main__":
    main()
