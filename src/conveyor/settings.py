"""Settings: every one has an environment variable (``CONVEYOR_<NAME>``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where the workspace lives and how Conveyor behaves; read from ``CONVEYOR_*``."""

    model_config = SettingsConfigDict(env_prefix="CONVEYOR_", extra="ignore")

    home: Path = Field(default=Path(".conveyor"), description="workspace directory")
    db_url: str | None = Field(default=None, description="SQLAlchemy URL of the metadata store")
    blob_url: str | None = Field(default=None, description="fsspec URL of the blob store")
    server: str | None = Field(default=None, description="log through this server instead")
    capture_system: bool = Field(default=True, description="system metrics + environment")
    system_metrics_interval_s: float = Field(default=10.0, gt=0)
    flush_interval_s: float = Field(default=1.0, gt=0)
    flush_max_points: int = Field(default=20_000, gt=0)
    http_timeout_s: float = Field(default=30.0, gt=0)
    max_request_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    monitor_interval_s: float = Field(
        default=30.0, ge=0, description="server: evaluate monitors this often (0: never)"
    )
    auth: bool = Field(default=False, description="server: require bearer tokens (--auth)")
    serve_deployments: bool = Field(
        default=True, description="server: also serve every deployment (off: --no-serving)"
    )
    auth_cache_ttl_s: float = Field(
        default=2.0, ge=0, le=2.0, description="server: how long a checked token is trusted"
    )
    user: str | None = Field(default=None, description="local user name (default: OS user)")
    token: str | None = Field(
        default=None, description="bearer token sent to CONVEYOR_SERVER (servers with --auth)"
    )
    webhook_interval_s: float = Field(
        default=1.0, ge=0, description="server: dispatch webhooks this often (0: never)"
    )
    webhook_max_attempts: int = Field(default=6, ge=1, description="webhook delivery attempts")
    webhook_backoff_s: float = Field(default=1.0, gt=0, description="first retry delay")
    webhook_backoff_cap_s: float = Field(default=300.0, gt=0, description="longest retry delay")
    webhook_timeout_s: float = Field(default=10.0, gt=0, description="webhook POST timeout")

    def resolved_db_url(self) -> str:
        """Return the metadata URL, defaulting to SQLite inside the workspace."""
        if self.db_url:
            return self.db_url
        return f"sqlite:///{(self.home / 'conveyor.db').resolve()}"

    def resolved_blob_url(self) -> str:
        """Return the blob URL, defaulting to ``blobs/`` inside the workspace."""
        if self.blob_url:
            return self.blob_url
        return str((self.home / "blobs").resolve())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings (read once; ``get_settings.cache_clear()`` re-reads)."""
    return Settings()
