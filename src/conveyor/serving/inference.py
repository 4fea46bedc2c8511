"""The inference path between transports and models: decode → plan → batch → encode.

``prepare`` turns a freshly loaded model version into what a host keeps (its input plan and its
batcher); the other functions are what the REST app and the gRPC backend call per request.
"""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from conveyor.errors import ConveyorError, InvalidArgumentError
from conveyor.serving.batching import AdaptiveBatcher
from conveyor.serving.host import DeploymentHost, LoadedVersion, Pick
from conveyor.serving.http_protocol import lone_connection
from conveyor.serving.payloads import (
    InputPlan,
    Payload,
    PlannedInput,
    decode_infer_request,
    decode_invocations,
    decode_predict,
    encode_infer_response,
    encode_mlflow_predictions,
    encode_predict_response,
    predictions_to_tensors,
)
from conveyor.serving.payloads.model_plan import plan_for_model
from conveyor.serving.policy import Batching
from conveyor.serving.replica import Replica
from conveyor.serving.telemetry import BatchMetrics, ServingMetrics
from conveyor.serving.tensors import InferRequest, InferResponse, oip_datatype

# The matrix fast path hands scikit-learn an array in the signature's column order; a model
# fitted on a DataFrame then warns on every call that the array has no column names.
warnings.filterwarnings("ignore", message="X does not have valid feature names")


def prepare(
    model: Any, batching: Batching, metrics: ServingMetrics, deployment: str, version: int
) -> tuple[InputPlan, AdaptiveBatcher]:
    """Build the input plan and the batcher of one loaded model version."""
    plan = plan_for_model(model)  # the matrix fast path only where it predicts the same
    flavor, raw = model.flavor, model.get_raw_model()

    def predict(data: Any) -> Any:  # input already checked by the plan
        return flavor.predict(raw, data)

    batcher = AdaptiveBatcher(
        predict,
        max_batch_size=batching.max_batch_size if batching.enabled else 1,
        max_latency_ms=batching.max_latency_ms if batching.enabled else 0.0,
        observer=BatchMetrics(metrics, deployment, str(version)),
        lone_caller=lone_connection,
    )
    return plan, batcher


async def predict(loaded: LoadedVersion, planned: PlannedInput) -> Any:
    """Predict one request's rows (batched with concurrent requests when it can be)."""
    # fixed-size tensors cannot be concatenated: they run alone, on the model's own thread
    try:
        return await loaded.batcher.submit(planned.data, alone=not planned.is_batchable)
    except (ValueError, TypeError) as exc:
        # the input fits the signature but not the model (a value too large for its float32
        # trees, a category it never saw): the caller's to fix, as MLflow's scoring server says
        msg = f"the model could not predict on this input: {exc}"
        raise InvalidArgumentError(msg, field="inputs") from None


# -- Open Inference Protocol ---------------------------------------------------------------------
def decode_oip(body: bytes, header_length: int | None) -> InferRequest:
    return decode_infer_request(body, header_length)


def build(loaded: LoadedVersion, payload: Payload) -> PlannedInput:
    """Check a decoded request against one version's signature and build its model input."""
    planned: PlannedInput = loaded.plan.build(payload)
    return planned


def oip_response(
    name: str, version: int, request_id: str | None, predictions: Any
) -> InferResponse:
    return InferResponse(
        model_name=name,
        model_version=str(version),
        outputs=predictions_to_tensors(predictions),
        id=request_id,
    )


def encode_oip(
    name: str, version: int, request_id: str | None, request: InferRequest, predictions: Any
) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    body, headers = encode_infer_response(
        oip_response(name, version, request_id, predictions), request
    )
    return body, [(k.lower().encode(), v.encode()) for k, v in headers.items()]


def model_ready(host: DeploymentHost, version: int | None) -> bool:
    table = host.table
    if table is None:
        return False
    if version is None:
        return True
    return any(r.version == version for r in table.routes) and version in host.versions


def model_metadata(host: DeploymentHost, version: int | None) -> dict[str, Any]:
    """OIP model metadata from the served version's signature."""
    pick = host.pick(None, version) if version is not None else None
    table = host.table
    if table is None:
        host.pick()  # raises "not ready" with the reason
    assert table is not None  # noqa: S101
    loaded = pick.loaded if pick is not None else host.versions[table.primary.version]
    signature = loaded.model.signature
    inputs = _specs(signature.inputs if signature is not None else None, "input")
    outputs = _specs(signature.outputs if signature is not None else None, "predict")
    return {
        "name": host.name,
        "versions": sorted({str(r.version) for r in table.routes}),
        "platform": f"conveyor_{loaded.model.flavor.name}",
        "inputs": inputs,
        "outputs": outputs or [{"name": "predict", "datatype": "FP64", "shape": [-1]}],
        "parameters": {"model": table.model_name, "deployment": table.deployment},
    }


_COLUMN_DATATYPES = {
    "double": "FP64",
    "float": "FP32",
    "long": "INT64",
    "integer": "INT32",
    "boolean": "BOOL",
    "string": "BYTES",
    "binary": "BYTES",
    "datetime": "BYTES",
}


def _specs(schema: Any, unnamed: str) -> list[dict[str, Any]]:
    if schema is None:
        return []
    out = []
    for i, spec in enumerate(schema.specs):
        if hasattr(spec, "shape"):  # TensorSpec
            import numpy as np

            out.append(
                {
                    "name": spec.name or (unnamed if i == 0 else f"{unnamed}-{i}"),
                    "datatype": oip_datatype(np.dtype(spec.dtype)),
                    "shape": list(spec.shape),
                }
            )
        else:
            out.append(
                {
                    "name": spec.name or (unnamed if i == 0 else f"{unnamed}-{i}"),
                    "datatype": _COLUMN_DATATYPES.get(spec.type, "BYTES"),
                    "shape": [-1, 1],
                }
            )
    return out


# -- MLflow scoring and simple JSON ----------------------------------------------------------------
def decode_mlflow(body: bytes, content_type: str) -> Payload:
    request = decode_invocations(body, content_type)
    if request.params:
        msg = "params are not supported by this model server; send the data only"
        raise InvalidArgumentError(msg, field="params")
    return request.data


def decode_simple(body: bytes) -> Payload:
    return decode_predict(body)


def encode_mlflow(predictions: Any) -> bytes:
    return encode_mlflow_predictions(predictions)


def encode_simple(predictions: Any) -> bytes:
    return encode_predict_response(predictions)


# -- the gRPC transport's backend ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Outcome:
    """How one request ended, for metrics and the traffic recorder."""

    protocol: str
    status: int
    seconds: float
    request_id: str
    rows: int = 0
    inputs: Any = None
    predictions: Any = None


Observe = Callable[[Pick, Outcome], None]


class ReplicaBackend:
    """``InferenceBackend`` over a replica, for the gRPC server."""

    def __init__(self, replica: Replica, on_request: Observe | None = None) -> None:
        self._replica = replica
        self._on_request = on_request  # metrics and the traffic recorder, as for REST

    def server_live(self) -> bool:
        return True

    def server_ready(self) -> bool:
        return self._replica.ready

    def server_metadata(self) -> dict[str, Any]:
        return self._replica.server_metadata()

    def model_ready(self, name: str, version: str | None = None) -> bool:
        return model_ready(self._replica.host(name), _int_version(version))

    def model_metadata(self, name: str, version: str | None = None) -> dict[str, Any]:
        return model_metadata(self._replica.host(name), _int_version(version))

    async def infer(self, name: str, version: str | None, request: InferRequest) -> InferResponse:
        started = time.perf_counter()
        host = self._replica.host(name)
        pick = host.pick(None, _int_version(version))
        planned: PlannedInput | None = None
        predictions: Any = None
        status = 500
        try:
            planned = build(pick.loaded, request)
            predictions = await predict(pick.loaded, planned)
            status = 200
        except ConveyorError as exc:
            status = exc.status_code
            raise
        finally:
            if self._on_request is not None:
                self._on_request(
                    pick,
                    Outcome(
                        protocol="grpc",
                        status=status,
                        seconds=time.perf_counter() - started,
                        request_id=request.id or uuid.uuid4().hex,
                        rows=planned.n_rows if planned is not None else 0,
                        inputs=planned.data if planned is not None else None,
                        predictions=predictions,
                    ),
                )
        return oip_response(host.name, pick.route.version, request.id, predictions)


def _int_version(version: str | None) -> int | None:
    if version is None or version == "":
        return None
    if not version.isdigit() or not 0 < int(version) < 2**31:
        msg = f"model version must be a positive integer; got {version!r}"
        raise InvalidArgumentError(msg, field="model_version")
    return int(version)
