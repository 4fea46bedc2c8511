"""NannyML workload, run with ``benchmarks/.venvs/nannyml-drift/bin/python``.

``python _peer_nannyml_drift.py drift JSON_PARAMS``: ``UnivariateDriftCalculator`` with its
default methods (Jensen-Shannon for continuous and categorical columns), one chunk for the
whole current data set; times ``fit(reference)`` + ``calculate(current)``.
"""

from __future__ import annotations

import resource
import warnings
from typing import Any

from _common import clock, run_main
from drift import load_frames


def drift(params: dict[str, Any]) -> dict[str, Any]:
    """Time NannyML's univariate drift on the benchmark data set."""
    import nannyml as nml

    reference, current, numeric, categorical = load_frames(params["data_dir"])
    baseline_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    warnings.simplefilter("ignore")  # "number of chunks is too low": one chunk on purpose
    with clock() as timer:
        calculator = nml.UnivariateDriftCalculator(
            column_names=numeric + categorical,
            treat_as_categorical=categorical,
            chunk_number=1,
        )
        calculator.fit(reference)
        result = calculator.calculate(current)
        frame = result.filter(period="analysis").to_df()
    alerts = sorted(
        {
            column
            for column, _method, field in frame.columns
            if field == "alert" and frame[(column, _method, field)].any()
        }
    )
    return {
        "seconds": timer.seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_after_load_mb": baseline_mb,
        "methods": {
            "continuous": calculator.continuous_method_names,
            "categorical": calculator.categorical_method_names,
        },
        "drifted": alerts,
    }


if __name__ == "__main__":
    run_main({"drift": drift})
