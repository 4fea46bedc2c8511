"""Model signatures in MLflow's schema: column specs for frames, tensor specs for arrays.

A signature is stored in ``MLmodel`` as two JSON strings (``inputs``, ``outputs``), exactly as
MLflow writes them, so either tool reads the other's. Inference looks at an input example and
the model's output on it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from conveyor.errors import InvalidArgumentError

# MLflow's DataType names, and the numpy dtype each one means when data is converted.
COLUMN_TYPES: dict[str, str] = {
    "boolean": "bool",
    "integer": "int32",
    "long": "int64",
    "float": "float32",
    "double": "float64",
    "string": "object",
    "binary": "object",
    "datetime": "datetime64[ns]",
}


@dataclass(frozen=True)
class ColSpec:
    """One column: an MLflow ``DataType`` name, an optional name, required or not."""

    type: str
    name: str | None = None
    required: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Return MLflow's JSON form (key order as MLflow writes it)."""
        out: dict[str, Any] = {"type": self.type}
        if self.name is not None:
            out["name"] = self.name
        out["required"] = self.required
        return out


@dataclass(frozen=True)
class TensorSpec:
    """One tensor: a numpy dtype name and a shape where -1 is any size."""

    dtype: str
    shape: tuple[int, ...]
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return MLflow's JSON form."""
        spec = {"dtype": self.dtype, "shape": list(self.shape)}
        if self.name is None:
            return {"type": "tensor", "tensor-spec": spec}
        return {"name": self.name, "type": "tensor", "tensor-spec": spec}


@dataclass(frozen=True)
class Schema:
    """An ordered list of column specs, or of tensor specs (never both)."""

    specs: tuple[ColSpec | TensorSpec, ...]

    @property
    def is_tensor(self) -> bool:
        """True when the schema describes tensors rather than columns."""
        return bool(self.specs) and isinstance(self.specs[0], TensorSpec)

    @property
    def has_names(self) -> bool:
        """True when every spec is named (a named schema is matched by name)."""
        return bool(self.specs) and all(s.name is not None for s in self.specs)

    def to_json(self) -> str:
        """Return the JSON string MLflow stores in ``MLmodel``."""
        return json.dumps([s.to_dict() for s in self.specs])

    @classmethod
    def from_json(cls, text: str) -> Schema:
        """Parse MLflow's JSON form (column or tensor specs)."""
        return cls(tuple(_spec_from_dict(d) for d in json.loads(text)))


@dataclass(frozen=True)
class Signature:
    """Input and (optionally) output schema of a model."""

    inputs: Schema
    outputs: Schema | None = None
    params: Any = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        """Return the ``signature`` block of ``MLmodel``."""
        return {
            "inputs": self.inputs.to_json(),
            "outputs": self.outputs.to_json() if self.outputs is not None else None,
            "params": self.params,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signature:
        """Read the ``signature`` block of an ``MLmodel`` file."""
        outputs = data.get("outputs")
        return cls(
            inputs=Schema.from_json(data["inputs"]),
            outputs=Schema.from_json(outputs) if outputs else None,
            params=data.get("params"),
        )


def _spec_from_dict(d: Mapping[str, Any]) -> ColSpec | TensorSpec:
    if d.get("type") == "tensor":
        spec = d["tensor-spec"]
        return TensorSpec(spec["dtype"], tuple(int(x) for x in spec["shape"]), d.get("name"))
    return ColSpec(str(d["type"]), d.get("name"), bool(d.get("required", True)))


def column_type(dtype: Any) -> str:
    """Map a numpy or pandas dtype to MLflow's column type name."""
    import numpy as np

    kind = getattr(dtype, "kind", "O")
    size = getattr(dtype, "itemsize", 8)
    if kind == "b":
        return "boolean"
    if kind in "iu":
        return "integer" if size < 4 or (kind == "i" and size == 4) else "long"
    if kind == "f":
        return "float" if size <= 4 else "double"
    if kind == "M":
        return "datetime"
    if kind == "S":
        return "binary"
    if kind in "UOT" or str(dtype) in {"str", "string"}:
        return "string"
    msg = f"cannot describe dtype {np.dtype(dtype)!r} in a signature; convert the column first"
    raise InvalidArgumentError(msg, field="input_example")


def _series_type(column: Any) -> str:
    if getattr(column.dtype, "kind", "O") == "O":
        first = next((v for v in column if v is not None), "")
        return "binary" if isinstance(first, bytes | bytearray) else "string"
    return column_type(column.dtype)


def infer_schema(data: Any, *, like_frame: bool = False) -> Schema:
    """Describe ``data``: a DataFrame/Series becomes columns, arrays and dicts of arrays tensors.

    ``like_frame`` makes a 1-D array a single unnamed column (MLflow does this for the output
    of a model whose input is a frame).
    """
    import numpy as np

    module = type(data).__module__
    if module.startswith("pandas"):
        import pandas as pd

        if isinstance(data, pd.Series):
            name = None if data.name is None else str(data.name)
            return Schema((ColSpec(_series_type(data), name),))
        if isinstance(data, pd.DataFrame):
            return Schema(tuple(ColSpec(_series_type(c), str(n)) for n, c in data.items()))
    if isinstance(data, Mapping):
        return Schema(tuple(_tensor(np.asarray(v), str(k)) for k, v in data.items()))
    if isinstance(data, list) and data and isinstance(data[0], Mapping):
        import pandas as pd

        return infer_schema(pd.DataFrame(data))
    array = np.asarray(data)
    if like_frame and array.ndim == 1:
        return Schema((ColSpec(column_type(array.dtype)),))
    return Schema((_tensor(array, None),))


def _tensor(array: Any, name: str | None) -> TensorSpec:
    if array.dtype.kind in "OUS":
        msg = f"tensor {name or 'input'} has non-numeric dtype {array.dtype}; use a DataFrame"
        raise InvalidArgumentError(msg, field="input_example")
    shape = (-1, *array.shape[1:]) if array.ndim else ()
    return TensorSpec(array.dtype.name, tuple(int(s) for s in shape), name)


def infer_signature(model_input: Any, model_output: Any = None) -> Signature:
    """Infer a signature from an input example and, optionally, the model's output on it."""
    is_frame = type(model_input).__module__.startswith("pandas") or (
        isinstance(model_input, list) and bool(model_input) and isinstance(model_input[0], Mapping)
    )
    outputs = None if model_output is None else infer_schema(model_output, like_frame=is_frame)
    return Signature(infer_schema(model_input), outputs)
