"""Model serving: Open Inference Protocol v2 (REST and gRPC), MLflow scoring payloads, adaptive
batching, deployments with route tables (canary, shadow, A/B), hot swap and telemetry.

Only the deployment model is imported here (no NumPy), so `conveyor deployments` stays light;
the inference app lives in ``conveyor.serving.app`` / ``factory``.
"""

from conveyor.serving.deployments import Deployment, Deployments
from conveyor.serving.policy import Batching, Route, Shadow, TrafficPolicy
from conveyor.serving.routes import RouteTable

__all__ = [
    "Batching",
    "Deployment",
    "Deployments",
    "Route",
    "RouteTable",
    "Shadow",
    "TrafficPolicy",
]
