"""The HTTP server: native API, MLflow-compatible API, health."""

from conveyor.server.app import create_app

__all__ = ["create_app"]
