"""The quickstart's deploy step: a deployment of ``@production``, served, shadowed, rolled out.

The deployment ``quickstart`` follows ``models:/quickstart@production``; an inference server
(the same app as ``conveyor serve``) runs in this process on a free loopback port and answers
Open Inference Protocol v2 and MLflow scoring requests; the runner-up run's model is registered,
shadowed and rolled out progressively (``quickstart_rollout``).
"""

from __future__ import annotations

import socket
import statistics
import threading
import time
from typing import Any

from conveyor.cli.output import console

DEPLOYMENT = "quickstart"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve_step(model_name: str, runner_up_run_id: str | None, x_val: Any, y_val: Any) -> None:
    """Deploy ``@production``, serve it, send traffic, shadow and roll out the runner-up."""
    import httpx
    import uvicorn

    from conveyor.serving.deployments import Deployments
    from conveyor.serving.factory import ServeSpec, create_app
    from conveyor.tracking.fluent import get_client
    from conveyor.tracking.service import LocalClient

    console.print("\n3. deploy: serve @production, shadow the runner-up, roll it out")
    client = get_client()
    if not isinstance(client, LocalClient):
        console.print("   (skipped against a remote server: run `conveyor serve` next to it)")
        return
    ws = client.workspace
    deployments = Deployments(ws.engine)
    if not any(d.name == DEPLOYMENT for d in deployments.list_deployments()):
        deployments.create(DEPLOYMENT, f"models:/{model_name}@production")
    deployments.clear_traffic(DEPLOYMENT)
    deployments.set_shadows(DEPLOYMENT, [])
    port = _free_port()
    spec = ServeSpec(deployments=[DEPLOYMENT], poll_s=0.2, grace_s=0.5, window_s=0.5)
    app = create_app(spec, ws)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url)
        rows = x_val[:1].tolist()
        with httpx.Client(base_url=url) as http:
            latencies = []
            for _ in range(200):
                started = time.perf_counter()
                r = http.post("/invocations", json={"inputs": rows})
                latencies.append((time.perf_counter() - started) * 1000)
                r.raise_for_status()
            version = r.headers["x-conveyor-model-version"]
            console.print(
                f"   deployment {DEPLOYMENT!r} serves models:/{model_name}@production (v{version})"
                f" on {url}: 200 requests, p50 {statistics.median(latencies):.2f} ms"
            )
            oip = {
                "inputs": [
                    {
                        "name": "input",
                        "shape": [3, len(rows[0])],
                        "datatype": "FP64",
                        "data": x_val[:3].ravel().tolist(),
                    }
                ]
            }
            out = http.post(f"/v2/models/{DEPLOYMENT}/infer", json=oip).json()["outputs"][0]
            console.print(f"   Open Inference Protocol v2: {out['name']} = {out['data']}")
            if runner_up_run_id is not None:
                from conveyor.cli.quickstart_rollout import delivery_step

                delivery_step(
                    http, ws, DEPLOYMENT, model_name, runner_up_run_id, x_val=x_val, y_val=y_val
                )
            metrics = http.get("/metrics").text
            total = sum(
                float(line.rsplit(" ", 1)[1])
                for line in metrics.splitlines()
                if line.startswith("conveyor_serving_requests_total{")
            )
            console.print(f"   /metrics: conveyor_serving_requests_total = {total:.0f}")
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _wait_ready(url: str, timeout_s: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/v2/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    msg = f"the inference server at {url} did not become ready in {timeout_s:.0f}s"
    raise TimeoutError(msg)
