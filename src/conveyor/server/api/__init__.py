"""Native REST API routers (``/api/v1``), one module per domain."""
