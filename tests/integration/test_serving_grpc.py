"""OIP v2 over gRPC: the real ``tritonclient.grpc`` client against ``GrpcInferenceServer``.

The server runs in a background thread's event loop on a port the OS picks, in front of a
small in-test backend: model "m" (version "1") answers every input ``x`` with ``x_out`` (numbers
doubled, BOOL negated, BYTES elements concatenated with themselves) plus ``n_inputs``.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from typing import Any

import grpc
import numpy as np
import pytest
import tritonclient.grpc as triton
import tritonclient.grpc.aio as triton_aio
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tritonclient.utils import InferenceServerException

from conveyor.errors import BackendUnavailableError, InvalidArgumentError, NotFoundError
from conveyor.serving.grpc import GrpcInferenceServer, serve_grpc
from conveyor.serving.grpc import inference_pb2 as pb
from conveyor.serving.grpc.inference_pb2_grpc import GRPCInferenceServiceStub
from conveyor.serving.grpc.messages import decode_infer_request
from conveyor.serving.grpc.tensor_codec import CONTENTS_FIELDS
from conveyor.serving.tensors import DATATYPES, InferRequest, InferResponse, Tensor

X_SHAPE = [-1, 2]


class FakeBackend:
    """Model "m" version "1"; "loading" is not loaded yet; "boom" fails unexpectedly."""

    def server_live(self) -> bool:
        return True

    def server_ready(self) -> bool:
        return True

    def server_metadata(self) -> dict[str, Any]:
        return {"name": "conveyor", "version": "0.1.0", "extensions": ["model_repository"]}

    def _check(self, name: str, version: str | None) -> None:
        if name == "loading":
            raise BackendUnavailableError("model 'loading' is still loading; retry shortly")
        if name not in {"m", "boom"}:
            raise NotFoundError(f"no model named {name!r} is served here", field="model_name")
        if version not in {None, "1"}:
            raise NotFoundError(f"model {name!r} has no version {version!r}", field="version")

    def model_ready(self, name: str, version: str | None = None) -> bool:
        self._check(name, version)
        return True

    def model_metadata(self, name: str, version: str | None = None) -> dict[str, Any]:
        self._check(name, version)
        return {
            "name": name,
            "versions": ["1"],
            "platform": "conveyor_pyfunc",
            "inputs": [{"name": "x", "datatype": "FP32", "shape": X_SHAPE}],
            "outputs": [
                {"name": "x_out", "datatype": "FP32", "shape": X_SHAPE},
                {"name": "n_inputs", "datatype": "INT64", "shape": [1]},
            ],
        }

    async def infer(self, name: str, version: str | None, request: InferRequest) -> InferResponse:
        self._check(name, version)
        if name == "boom":
            raise RuntimeError("secret stack detail")
        outputs = [_answer(tensor) for tensor in request.inputs]
        count = np.array([len(request.inputs)], dtype=np.int64)
        outputs.append(Tensor("n_inputs", "INT64", (1,), count))
        return InferResponse(
            model_name=name,
            model_version="1",
            id=request.id,
            outputs=outputs,
            parameters=request.parameters,
        )


def _answer(tensor: Tensor) -> Tensor:
    if tensor.name == "x" and (len(tensor.shape) != 2 or tensor.shape[1] != 2):
        msg = f"input 'x' has shape {list(tensor.shape)}; model 'm' takes {X_SHAPE}"
        raise InvalidArgumentError(msg, field="inputs.x")
    data = tensor.data
    if tensor.datatype == "BYTES":
        out = np.array([v + v for v in data.ravel()], dtype=object).reshape(data.shape)
    elif tensor.datatype == "BOOL":
        out = ~data
    else:
        out = data * 2
    return Tensor(f"{tensor.name}_out", tensor.datatype, tensor.shape, out)


class ServerThread:
    """A ``GrpcInferenceServer`` on a free loopback port, in its own thread's event loop."""

    def __init__(self, **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.server = GrpcInferenceServer(FakeBackend(), host="127.0.0.1", port=0, **options)
        self.port = self._run(self.server.start())
        self.url = f"127.0.0.1:{self.port}"

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    def close(self) -> None:
        self._run(self.server.stop(grace=None))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    running = ServerThread()
    yield running
    running.close()


@pytest.fixture
def client(server: ServerThread) -> Iterator[triton.InferenceServerClient]:
    with triton.InferenceServerClient(url=server.url) as connected:
        yield connected


def _input(name: str, array: np.ndarray[Any, Any], datatype: str) -> triton.InferInput:
    tensor = triton.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array)
    return tensor


def _status(excinfo: pytest.ExceptionInfo[InferenceServerException]) -> str:
    return str(excinfo.value.status())


# --- health and metadata ---------------------------------------------------------------------


def test_server_is_live_and_ready(client: triton.InferenceServerClient) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()


def test_model_ready_by_name_and_version(client: triton.InferenceServerClient) -> None:
    assert client.is_model_ready("m")
    assert client.is_model_ready("m", "1")


@pytest.mark.parametrize(
    ("name", "version", "status"),
    [("nope", "", "NOT_FOUND"), ("m", "7", "NOT_FOUND"), ("loading", "", "UNAVAILABLE")],
)
def test_model_ready_errors_carry_their_status(
    client: triton.InferenceServerClient, name: str, version: str, status: str
) -> None:
    with pytest.raises(InferenceServerException, match=name) as excinfo:
        client.is_model_ready(name, version)
    assert _status(excinfo) == f"StatusCode.{status}"


def test_server_metadata(client: triton.InferenceServerClient) -> None:
    metadata = client.get_server_metadata(as_json=True)
    assert metadata == {
        "name": "conveyor",
        "version": "0.1.0",
        "extensions": ["model_repository"],
    }


def test_model_metadata(client: triton.InferenceServerClient) -> None:
    metadata = client.get_model_metadata("m", "1")
    assert (metadata.name, list(metadata.versions), metadata.platform) == (
        "m",
        ["1"],
        "conveyor_pyfunc",
    )
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.inputs] == [
        ("x", "FP32", [-1, 2])
    ]
    assert [t.name for t in metadata.outputs] == ["x_out", "n_inputs"]


def test_model_metadata_of_unknown_model_is_not_found(
    client: triton.InferenceServerClient,
) -> None:
    with pytest.raises(InferenceServerException, match="no model named 'nope'") as excinfo:
        client.get_model_metadata("nope")
    assert _status(excinfo) == "StatusCode.NOT_FOUND"


def test_rpcs_outside_the_core_protocol_are_unimplemented(
    client: triton.InferenceServerClient,
) -> None:
    with pytest.raises(InferenceServerException) as excinfo:
        client.get_model_config("m")
    assert _status(excinfo) == "StatusCode.UNIMPLEMENTED"


# --- inference through tritonclient (raw contents both ways) ---------------------------------

CASES = [
    ("FP32", np.array([[1.5, -2.0], [3.25, 0.0]], dtype=np.float32)),
    ("FP64", np.array([[1e300, -2.5]], dtype=np.float64)),
    ("FP16", np.array([[0.5, -1.0], [2.0, 65504 / 2]], dtype=np.float16)),
    ("INT64", np.array([[2**61, -3]], dtype=np.int64)),
    ("INT8", np.array([[-64, 63]], dtype=np.int8)),
    ("UINT64", np.array([[2**62, 7]], dtype=np.uint64)),
    ("BOOL", np.array([[True, False], [False, True]])),
    ("BYTES", np.array([[b"ab", b""], ["\u00e9".encode(), b"\x00\xff"]], dtype=object)),
]


@pytest.mark.parametrize(("datatype", "array"), CASES, ids=[case[0] for case in CASES])
def test_infer_round_trips_each_datatype(
    client: triton.InferenceServerClient, datatype: str, array: np.ndarray[Any, Any]
) -> None:
    result = client.infer("m", [_input("x", array, datatype)], model_version="1")
    out = result.as_numpy("x_out")
    if datatype == "BYTES":
        expected = np.array([v + v for v in array.ravel()], dtype=object).reshape(array.shape)
    elif datatype == "BOOL":
        expected = ~array
    else:
        expected = array * 2
    assert out.dtype == expected.dtype
    np.testing.assert_array_equal(out, expected)
    assert result.get_output("x_out").datatype == datatype
    np.testing.assert_array_equal(result.as_numpy("n_inputs"), [1])


def test_infer_with_several_inputs_and_empty_tensor(client: triton.InferenceServerClient) -> None:
    inputs = [
        _input("x", np.ones((3, 2), dtype=np.float32), "FP32"),
        _input("y", np.array([[b"q"]], dtype=object), "BYTES"),
        _input("z", np.zeros((0, 4), dtype=np.int32), "INT32"),
    ]
    result = client.infer("m", inputs)
    np.testing.assert_array_equal(result.as_numpy("x_out"), np.full((3, 2), 2.0, np.float32))
    assert result.as_numpy("y_out").tolist() == [[b"qq"]]
    assert result.as_numpy("z_out").shape == (0, 4)
    np.testing.assert_array_equal(result.as_numpy("n_inputs"), [3])


def test_infer_returns_only_the_requested_outputs_in_order(
    client: triton.InferenceServerClient,
) -> None:
    inputs = [_input("x", np.ones((1, 2), dtype=np.float32), "FP32")]
    wanted = [triton.InferRequestedOutput("n_inputs"), triton.InferRequestedOutput("x_out")]
    response = client.infer("m", inputs, outputs=wanted).get_response()
    assert [output.name for output in response.outputs] == ["n_inputs", "x_out"]
    assert len(response.raw_output_contents) == 2


def test_infer_echoes_request_id_and_parameters(client: triton.InferenceServerClient) -> None:
    inputs = [_input("x", np.ones((1, 2), dtype=np.float32), "FP32")]
    parameters = {"threshold": 0.25, "label": "churn", "top_k": 3, "strict": True}
    result = client.infer("m", inputs, request_id="req-42", parameters=parameters)
    response = result.get_response()
    assert (response.id, response.model_name, response.model_version) == ("req-42", "m", "1")
    echoed = {
        key: getattr(value, value.WhichOneof("parameter_choice"))
        for key, value in response.parameters.items()
    }
    assert echoed == parameters


def test_unknown_requested_output_is_invalid(client: triton.InferenceServerClient) -> None:
    inputs = [_input("x", np.ones((1, 2), dtype=np.float32), "FP32")]
    with pytest.raises(InferenceServerException, match="no output 'nope'") as excinfo:
        client.infer("m", inputs, outputs=[triton.InferRequestedOutput("nope")])
    assert _status(excinfo) == "StatusCode.INVALID_ARGUMENT"


def test_infer_on_unknown_model_is_not_found(client: triton.InferenceServerClient) -> None:
    inputs = [_input("x", np.ones((1, 2), dtype=np.float32), "FP32")]
    with pytest.raises(InferenceServerException, match="no model named 'nope'") as excinfo:
        client.infer("nope", inputs)
    assert _status(excinfo) == "StatusCode.NOT_FOUND"


def test_infer_with_a_shape_the_model_refuses_is_invalid(
    client: triton.InferenceServerClient,
) -> None:
    inputs = [_input("x", np.ones((2, 3), dtype=np.float32), "FP32")]
    with pytest.raises(InferenceServerException, match=r"input 'x' has shape \[2, 3\]") as exc:
        client.infer("m", inputs)
    assert _status(exc) == "StatusCode.INVALID_ARGUMENT"


def test_unexpected_backend_failure_is_internal_and_reveals_nothing(
    client: triton.InferenceServerClient,
) -> None:
    inputs = [_input("x", np.ones((1, 2), dtype=np.float32), "FP32")]
    with pytest.raises(InferenceServerException, match="internal error") as excinfo:
        client.infer("boom", inputs)
    assert _status(excinfo) == "StatusCode.INTERNAL"
    assert "secret" not in str(excinfo.value)


def test_request_above_the_receive_limit_is_resource_exhausted() -> None:
    small = ServerThread(max_receive_message_bytes=256 * 1024)
    try:
        with triton.InferenceServerClient(url=small.url) as client:
            fits = np.ones((1000, 2), dtype=np.float32)  # 8 KB
            assert client.infer("m", [_input("x", fits, "FP32")]).as_numpy("x_out").shape == (
                1000,
                2,
            )
            too_big = np.ones((64 * 1024, 2), dtype=np.float32)  # 512 KiB
            with pytest.raises(InferenceServerException) as excinfo:
                client.infer("m", [_input("x", too_big, "FP32")])
            assert _status(excinfo) == "StatusCode.RESOURCE_EXHAUSTED"
            assert client.is_server_live()  # the connection and server survive
    finally:
        small.close()


def test_busy_port_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = GrpcInferenceServer(FakeBackend(), host="127.0.0.1", port=port)
        with pytest.raises(InvalidArgumentError, match=f"127.0.0.1:{port}") as excinfo:
            asyncio.run(server.start())
    assert excinfo.value.field == "port"


def test_serve_grpc_and_the_context_manager_run_in_the_callers_loop() -> None:
    async def scenario() -> None:
        server = await serve_grpc(FakeBackend(), "127.0.0.1", 0)
        async with triton_aio.InferenceServerClient(url=f"127.0.0.1:{server.port}") as client:
            assert await client.is_model_ready("m")
        await server.stop()
        async with GrpcInferenceServer(FakeBackend(), port=0) as scoped:
            url = f"127.0.0.1:{scoped.port}"
            async with triton_aio.InferenceServerClient(url=url) as client:
                inputs = [_input("x", np.ones((1, 2), dtype=np.float32), "FP32")]
                result = await client.infer("m", inputs)
        np.testing.assert_array_equal(result.as_numpy("x_out"), [[2.0, 2.0]])

    asyncio.run(scenario())


def test_receive_limit_must_be_positive() -> None:
    with pytest.raises(InvalidArgumentError, match="must be positive"):
        GrpcInferenceServer(FakeBackend(), max_receive_message_bytes=0)


# --- typed contents, built by hand through the generated stub --------------------------------


@pytest.fixture
def stub(server: ServerThread) -> Iterator[GRPCInferenceServiceStub]:
    with grpc.insecure_channel(server.url) as channel:
        yield GRPCInferenceServiceStub(channel)


def _typed(name: str, datatype: str, shape: list[int], **contents: Any) -> Any:
    return pb.ModelInferRequest.InferInputTensor(
        name=name, datatype=datatype, shape=shape, contents=pb.InferTensorContents(**contents)
    )


def test_typed_contents_are_decoded(stub: GRPCInferenceServiceStub) -> None:
    request = pb.ModelInferRequest(
        model_name="m",
        id="typed",
        inputs=[
            _typed("x", "FP32", [2, 2], fp32_contents=[1, 2, 3, 4.5]),
            _typed("i", "INT8", [3], int_contents=[-128, 0, 60]),
            _typed("u", "UINT32", [1], uint_contents=[2**31]),
            _typed("l", "INT64", [1], int64_contents=[-(2**40)]),
            _typed("d", "FP64", [1], fp64_contents=[0.1]),
            _typed("b", "BOOL", [2], bool_contents=[True, False]),
            _typed("s", "BYTES", [2], bytes_contents=[b"hi", b""]),
        ],
    )
    response = stub.ModelInfer(request, timeout=10)
    assert response.id == "typed"
    outputs = {
        out.name: (out.datatype, list(out.shape), raw)
        for out, raw in zip(response.outputs, response.raw_output_contents, strict=True)
    }
    assert not any(out.HasField("contents") for out in response.outputs)  # answered raw
    datatype, shape, raw = outputs["x_out"]
    assert (datatype, shape) == ("FP32", [2, 2])
    assert np.frombuffer(raw, "<f4").tolist() == [2, 4, 6, 9]
    assert np.frombuffer(outputs["i_out"][2], "i1").tolist() == [0, 0, 120]  # wraps like int8
    assert np.frombuffer(outputs["u_out"][2], "<u4").tolist() == [0]  # wraps
    assert np.frombuffer(outputs["l_out"][2], "<i8").tolist() == [-(2**41)]
    assert np.frombuffer(outputs["d_out"][2], "<f8").tolist() == [0.2]
    assert np.frombuffer(outputs["b_out"][2], "?").tolist() == [False, True]
    assert outputs["s_out"][2] == b"\x04\x00\x00\x00hihi\x00\x00\x00\x00"


def _raw_request(*, raw: list[bytes], **tensor: Any) -> Any:
    inputs = [pb.ModelInferRequest.InferInputTensor(**tensor)]
    return pb.ModelInferRequest(model_name="m", inputs=inputs, raw_input_contents=raw)


BAD_REQUESTS = {
    "raw size does not match shape": (
        _raw_request(name="x", datatype="FP32", shape=[2, 2], raw=[b"\x00" * 12]),
        "12 bytes of raw data",
        "inputs[0]",
    ),
    "negative dimension": (
        _raw_request(name="x", datatype="FP32", shape=[-1, 2], raw=[b""]),
        "negative dimension",
        "inputs[0].shape",
    ),
    "unknown datatype": (
        _raw_request(name="x", datatype="FP8", shape=[1], raw=[b"\x00"]),
        "unknown datatype 'FP8'",
        "inputs[0]",
    ),
    "BYTES length prefix overruns": (
        _raw_request(name="s", datatype="BYTES", shape=[1], raw=[b"\x09\x00\x00\x00abc"]),
        "runs past the end",
        "inputs[0]",
    ),
    "more raw entries than inputs": (
        _raw_request(name="x", datatype="FP32", shape=[1], raw=[b"\x00" * 4, b""]),
        "raw_input_contents has 2 entries",
        "raw_input_contents",
    ),
    "too few typed values": (
        pb.ModelInferRequest(
            model_name="m", inputs=[_typed("x", "FP32", [2, 2], fp32_contents=[1, 2, 3])]
        ),
        "holds 3 value",
        "inputs[0]",
    ),
    "typed values in the wrong field": (
        pb.ModelInferRequest(
            model_name="m", inputs=[_typed("x", "FP32", [2], fp64_contents=[1, 2])]
        ),
        "the data is in fp64_contents",
        "inputs[0]",
    ),
    "FP16 sent typed": (
        pb.ModelInferRequest(
            model_name="m", inputs=[_typed("h", "FP16", [1], fp32_contents=[1.0])]
        ),
        "send it in raw_input_contents",
        "inputs[0]",
    ),
    "INT8 value out of range": (
        pb.ModelInferRequest(model_name="m", inputs=[_typed("i", "INT8", [1], int_contents=[300])]),
        "outside the INT8 range",
        "inputs[0]",
    ),
    "no data at all": (
        pb.ModelInferRequest(
            model_name="m",
            inputs=[pb.ModelInferRequest.InferInputTensor(name="x", datatype="FP32", shape=[1])],
        ),
        "has no data",
        "inputs[0]",
    ),
    "duplicate input names": (
        pb.ModelInferRequest(
            model_name="m",
            inputs=[
                _typed("x", "FP32", [1], fp32_contents=[1]),
                _typed("x", "FP32", [1], fp32_contents=[2]),
            ],
        ),
        "appears twice",
        "inputs[1].name",
    ),
    "no model name": (
        pb.ModelInferRequest(inputs=[_typed("x", "FP32", [1], fp32_contents=[1])]),
        "model_name is empty",
        "model_name",
    ),
    "no inputs": (pb.ModelInferRequest(model_name="m"), "no inputs", "inputs"),
}


@pytest.mark.parametrize(
    ("request_message", "message", "field"), BAD_REQUESTS.values(), ids=list(BAD_REQUESTS)
)
def test_malformed_request_is_invalid_argument_naming_the_field(
    stub: GRPCInferenceServiceStub, request_message: Any, message: str, field: str
) -> None:
    with pytest.raises(grpc.RpcError) as excinfo:
        stub.ModelInfer(request_message, timeout=10)
    error: Any = excinfo.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in error.details()
    trailing = dict(error.trailing_metadata())
    assert trailing["conveyor-error-code"] == "INVALID_PARAMETER_VALUE"
    assert trailing["conveyor-error-field"] == field


# --- the request decoder on arbitrary tensors -------------------------------------------------

NUMERIC = sorted(set(DATATYPES) - {"BYTES"})


@st.composite
def tensors(draw: st.DrawFn) -> tuple[str, np.ndarray[Any, Any]]:
    datatype = draw(st.sampled_from([*NUMERIC, "BYTES"]))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4))
    if datatype == "BYTES":
        values = draw(
            st.lists(
                st.binary(max_size=8), min_size=int(np.prod(shape)), max_size=int(np.prod(shape))
            )
        )
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return datatype, array.reshape(shape)
    return datatype, draw(hnp.arrays(DATATYPES[datatype], shape))


@settings(max_examples=150, deadline=None)
@given(tensor=tensors(), raw=st.booleans())
def test_decoding_returns_the_tensor_sent(
    tensor: tuple[str, np.ndarray[Any, Any]], raw: bool
) -> None:
    datatype, array = tensor
    message = pb.ModelInferRequest(model_name="m", model_version="3")
    wire = message.inputs.add(name="t", datatype=datatype, shape=array.shape)
    if raw or datatype == "FP16":
        payload = (
            b"".join(len(v).to_bytes(4, "little") + v for v in array.ravel())
            if datatype == "BYTES"
            else array.astype(array.dtype.newbyteorder("<")).tobytes()
        )
        message.raw_input_contents.append(payload)
    else:
        getattr(wire.contents, CONTENTS_FIELDS[datatype]).extend(array.ravel().tolist())
    name, version, request = decode_infer_request(message)
    assert (name, version) == ("m", "3")
    (decoded,) = request.inputs
    assert (decoded.name, decoded.datatype, decoded.shape) == ("t", datatype, array.shape)
    assert decoded.data.dtype == array.dtype
    np.testing.assert_array_equal(decoded.data, array)


@settings(max_examples=200, deadline=None)
@given(
    payload=st.binary(max_size=64),
    datatype=st.sampled_from(sorted(DATATYPES)),
    shape=st.lists(st.integers(0, 5), min_size=1, max_size=3),
)
def test_arbitrary_raw_bytes_decode_or_fail_cleanly(
    payload: bytes, datatype: str, shape: list[int]
) -> None:
    message = pb.ModelInferRequest(model_name="m", raw_input_contents=[payload])
    message.inputs.add(name="t", datatype=datatype, shape=shape)
    try:
        _, _, request = decode_infer_request(message)
    except InvalidArgumentError as exc:
        field = exc.field
    else:
        assert request.inputs[0].data.shape == tuple(shape)
        return
    assert field is not None
    assert field.startswith("inputs[0]")
