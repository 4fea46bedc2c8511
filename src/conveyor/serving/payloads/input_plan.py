"""``InputPlan``: built once per loaded model version, it turns decoded requests into model input.

Four paths, chosen from the signature when the plan is built, not per request:

* **matrix** (fast): every input column is a required, named number (``double``, ``float``,
  ``long``, ``integer``, ``boolean``) and the flavor takes arrays: one C-contiguous 2-D array in
  signature order, of the columns' common dtype, built without pandas;
* **frame**: other column signatures: a DataFrame checked by ``enforce``;
* **tensors**: tensor signatures: an array or a dict of arrays checked by ``enforce``;
* **unsigned**: no signature: a numeric matrix when the input is one, else a DataFrame (or a
  dict of arrays for tensor flavors), as MLflow would pass it.

Every result has its row count on the first axis so the batcher can concatenate requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from conveyor.errors import InvalidArgumentError
from conveyor.models.signature import Schema, Signature, TensorSpec
from conveyor.serving.payloads.forms import Payload
from conveyor.serving.payloads.frame_input import build_frame
from conveyor.serving.payloads.matrix_input import MatrixLayout, build_matrix
from conveyor.serving.payloads.tensor_input import build_tensors, build_unsigned

# custom Python models get a DataFrame, as MLflow gives them, even for numeric columns
FRAME_FLAVORS = frozenset({"python_function", "mlflow_python_model"})

Path = Literal["matrix", "frame", "tensors", "unsigned"]


@dataclass(frozen=True, slots=True)
class PlannedInput:
    """One request's model input.

    Attributes:
        data: an ndarray, a DataFrame, or a dict of arrays (the contract's ``ModelInput``).
        n_rows: its length along the first axis.
        is_matrix: True for a 2-D numeric array whose columns are the model's features (the fast
            path): requests with this flag set concatenate with ``numpy.concatenate``.
        is_batchable: False when the model's tensors have a fixed first dimension, so requests
            must not be concatenated.
    """

    data: Any
    n_rows: int
    is_matrix: bool
    is_batchable: bool = True


class InputPlan:
    """How to turn a model's requests into its input; build one per loaded model version.

    Args:
        signature: the model's signature, or None.
        flavor: the loaded flavor's name (``model.flavor.name``); custom Python models
            (``python_function``, ``mlflow_python_model``) always get DataFrames for columns.
        accepts_matrix: False to keep numeric column signatures on the DataFrame path, for
            models that select columns by name (a scikit-learn ``ColumnTransformer``).
    """

    def __init__(
        self, signature: Signature | None, flavor: str | None = None, *, accepts_matrix: bool = True
    ) -> None:
        schema = signature.inputs if signature is not None else None
        self.schema: Schema | None = schema if schema is not None and schema.specs else None
        self.flavor = flavor
        self.layout: MatrixLayout | None = None
        if self.schema is not None and accepts_matrix and flavor not in FRAME_FLAVORS:
            self.layout = MatrixLayout.of(self.schema)
        self._has_fixed_batch = self.schema is not None and any(
            isinstance(s, TensorSpec) and (not s.shape or s.shape[0] != -1)
            for s in self.schema.specs
        )

    @property
    def path(self) -> Path:
        """Which path requests take (see the module docstring)."""
        if self.layout is not None:
            return "matrix"
        if self.schema is None:
            return "unsigned"
        return "tensors" if self.schema.is_tensor else "frame"

    @property
    def columns(self) -> tuple[str, ...] | None:
        """The matrix's column names, in order, on the matrix path."""
        return self.layout.names if self.layout is not None else None

    def build(self, payload: Payload) -> PlannedInput:
        """Turn a decoded request into model input, checked against the signature.

        Raises:
            InvalidArgumentError: a missing column or tensor, a value or dtype that does not
                fit, a wrong shape, or no rows; naming the column or tensor.
        """
        if self.layout is not None:
            matrix = build_matrix(payload, self.layout)
            return PlannedInput(matrix, _rows(matrix), is_matrix=True)
        if self.schema is None:
            data, is_matrix = build_unsigned(payload, self.flavor)
            return PlannedInput(data, _rows(data), is_matrix, is_batchable=_batchable(data))
        if self.schema.is_tensor:
            data = build_tensors(payload, self.schema)
            batchable = not self._has_fixed_batch and _batchable(data)
            return PlannedInput(data, _rows(data), is_matrix=False, is_batchable=batchable)
        frame = build_frame(payload, self.schema)
        return PlannedInput(frame, _rows(frame), is_matrix=False)


def _rows(data: Any) -> int:
    if isinstance(data, dict):
        rows = _length(next(iter(data.values()))) if data else 0
    else:
        rows = _length(data)
    if rows == 0:
        msg = "the input has no rows; send at least one"
        raise InvalidArgumentError(msg, field="data")
    return rows


def _length(value: Any) -> int:
    shape = getattr(value, "shape", None)
    if shape is None:
        return len(value) if hasattr(value, "__len__") else 1
    return int(shape[0]) if len(shape) else 1


def _batchable(data: Any) -> bool:
    """Arrays concatenate along axis 0 only when each has that axis, all of one length."""
    arrays = list(data.values()) if isinstance(data, dict) else [data]
    if any(len(getattr(a, "shape", (0,))) == 0 for a in arrays):
        return False
    return len({_length(a) for a in arrays}) == 1
