"""Build a loaded model's ``InputPlan``, checking once that the matrix fast path suits it.

A numeric signature does not prove a model takes a bare array: a scikit-learn pipeline that
selects columns by name (``ColumnTransformer(["age", ...])``) fails on one. So, when the plan
would use the matrix path, the model predicts its input example (or a row of zeros) both as the
matrix and as the DataFrame ``enforce`` makes; unless both succeed and agree, the plan keeps
DataFrames. This runs once per loaded model version.
"""

from __future__ import annotations

import logging
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.serving.payloads.forms import Frame
from conveyor.serving.payloads.input_plan import InputPlan

if TYPE_CHECKING:
    from conveyor.models.pyfunc import PyFuncModel

logger = logging.getLogger(__name__)


def plan_for_model(model: PyFuncModel) -> InputPlan:
    """Return the input plan of a loaded model (see the module docstring)."""
    flavor = model.flavor.name
    plan = InputPlan(model.signature, flavor)
    if plan.path != "matrix" or _agrees_on_matrix(model, plan):
        return plan
    logger.info("model %s takes DataFrames: its input stays off the matrix fast path", model)
    return InputPlan(model.signature, flavor, accepts_matrix=False)


def _agrees_on_matrix(model: PyFuncModel, plan: InputPlan) -> bool:
    from conveyor.models.enforcement import enforce

    schema, columns = plan.schema, plan.columns
    if schema is None or columns is None:
        return False
    example = _example(model, columns)
    raw = model.get_raw_model()
    # a model fitted on a DataFrame may warn that an array has no feature names
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            matrix = plan.build(Frame(example)).data
            frame = enforce(example, schema)
            on_matrix = np.asarray(model.flavor.predict(raw, matrix))
            on_frame = np.asarray(model.flavor.predict(raw, frame))
        except Exception:  # noqa: BLE001 - any failure means: give this model DataFrames
            return False
    if on_matrix.shape != on_frame.shape or on_matrix.dtype != on_frame.dtype:
        return False
    if on_matrix.dtype.kind in "fc":
        return bool(np.allclose(on_matrix, on_frame, equal_nan=True))
    return bool((on_matrix == on_frame).all())


def _example(model: PyFuncModel, columns: tuple[str, ...]) -> Any:
    import pandas as pd

    example = None
    try:
        example = model.input_example
    except (OSError, ValueError):
        example = None
    if isinstance(example, pd.DataFrame) and set(columns) <= {str(c) for c in example.columns}:
        return example.rename(columns=str).head(5)
    return pd.DataFrame([[0] * len(columns)], columns=list(columns))
