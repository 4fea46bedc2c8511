"""``PyFuncModel``: a loaded model whose ``predict`` checks its input against the signature."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conveyor.models.enforcement import enforce
from conveyor.models.flavors.base import Flavor
from conveyor.models.mlmodel import MLModel
from conveyor.models.signature import Signature


class PyFuncModel:
    """A model loaded from the MLflow Model format, with one ``predict`` for every flavor."""

    def __init__(
        self, mlmodel: MLModel, model: Any, flavor: Flavor, path: Path, digest: str
    ) -> None:
        self.metadata = mlmodel
        self.flavor = flavor
        self.path = path
        self.digest = digest
        self._model = model

    @property
    def signature(self) -> Signature | None:
        """The model's signature, when it was saved with one."""
        return self.metadata.signature

    @property
    def input_example(self) -> Any:
        """The saved input example (read on first use), or None."""
        from conveyor.models.examples import read_example

        return read_example(self.path, self.metadata.saved_input_example_info)

    def get_raw_model(self) -> Any:
        """Return the flavor's native object (estimator, ONNX session, ...)."""
        return self._model

    def predict(self, data: Any) -> Any:
        """Predict on a DataFrame, array, dict of columns/tensors or list of records.

        Input is checked against the signature first: a missing column or a dtype that cannot
        be converted safely raises ``InvalidArgumentError`` naming the column.
        """
        signature = self.metadata.signature
        if signature is not None and signature.inputs.specs:
            data = enforce(data, signature.inputs)
        return self.flavor.predict(self._model, data)

    def __repr__(self) -> str:
        return f"PyFuncModel(flavor={self.flavor.name!r}, path={str(self.path)!r})"
