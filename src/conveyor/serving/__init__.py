"""Model serving: Open Inference Protocol v2 (REST and gRPC), MLflow scoring payloads, adaptive
batching, deployments with route tables (canary, shadow, A/B), hot swap and telemetry."""
