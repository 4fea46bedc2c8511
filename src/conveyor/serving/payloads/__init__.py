"""Wire formats of the inference API: decoders, the input plan, and encoders.

Decoders turn a body into a ``Payload`` (``decode_infer_request``, ``decode_invocations``,
``decode_predict``). An ``InputPlan``, built once per loaded model version (``plan_for_model``),
turns any payload into checked model input. Encoders write predictions back:
``predictions_to_tensors`` then ``encode_infer_response`` for OIP, ``encode_mlflow_predictions``
for ``/invocations``, ``encode_predict_response`` for ``/predict``. Every malformed request
raises ``InvalidArgumentError`` naming the field, and nothing else.
"""

from conveyor.serving.payloads.errors import UnsupportedMediaTypeError
from conveyor.serving.payloads.forms import Columns, Frame, Payload, Records, Rows
from conveyor.serving.payloads.input_plan import InputPlan, PlannedInput
from conveyor.serving.payloads.json_encoding import dumps
from conveyor.serving.payloads.mlflow_scoring import (
    ScoringRequest,
    decode_csv,
    decode_invocations,
    decode_json,
)
from conveyor.serving.payloads.model_plan import plan_for_model
from conveyor.serving.payloads.oip_request import HEADER_LENGTH, decode_infer_request
from conveyor.serving.payloads.oip_response import (
    encode_error,
    encode_infer_response,
    select_outputs,
)
from conveyor.serving.payloads.predictions import (
    encode_mlflow_predictions,
    encode_predict_response,
    predictions_to_tensors,
)
from conveyor.serving.payloads.simple_json import decode_predict

__all__ = [
    "HEADER_LENGTH",
    "Columns",
    "Frame",
    "InputPlan",
    "Payload",
    "PlannedInput",
    "Records",
    "Rows",
    "ScoringRequest",
    "UnsupportedMediaTypeError",
    "decode_csv",
    "decode_infer_request",
    "decode_invocations",
    "decode_json",
    "decode_predict",
    "dumps",
    "encode_error",
    "encode_infer_response",
    "encode_mlflow_predictions",
    "encode_predict_response",
    "plan_for_model",
    "predictions_to_tensors",
    "select_outputs",
]
