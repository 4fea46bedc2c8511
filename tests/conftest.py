"""Shared fixtures: workspaces on SQLite and PostgreSQL, clients over both transports."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from sqlalchemy import create_engine, text

from conveyor.settings import get_settings
from conveyor.store import schema
from conveyor.tracking import Client, LocalClient, Workspace, fluent
from conveyor.tracking.remote import HttpClient
from tests.servers import ThreadServer

PG_ADMIN_URL = os.environ.get(
    "CONVEYOR_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_PG = os.environ.get("CONVEYOR_REQUIRE_PG") == "1"
S3_BUCKET = "conveyor-contract"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """Serve a fake S3 (moto) on a free loopback port, with one bucket, for the whole session."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mp.delenv("AWS_PROFILE", raising=False)  # a developer's profile must not leak in
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            endpoint = f"http://{host}:{port}"
            boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=S3_BUCKET)
            yield endpoint
        finally:
            server.stop()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    name = f"conveyor_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        if REQUIRE_PG:
            raise
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL}: {exc}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_workspace_template(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """One migrated PostgreSQL workspace, emptied before each test that uses it."""
    return Workspace(pg_url, str(tmp_path_factory.mktemp("pg-blobs")))


def _empty(workspace: Workspace) -> None:
    tables = ", ".join(t.name for t in schema.metadata.sorted_tables)
    with workspace.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        # migration 0003 seeds the default project; the truncate removed it
        conn.execute(text("INSERT INTO projects VALUES ('default', '', 0)"))
    workspace.experiments.ensure_default()


@pytest.fixture(params=["sqlite", "postgres"])
def workspace(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workspace]:
    """A fresh workspace on each database."""
    if request.param == "sqlite":
        ws = Workspace(f"sqlite:///{tmp_path}/conveyor.db", str(tmp_path / "blobs"))
        yield ws
        ws.close()
    else:
        ws = request.getfixturevalue("pg_workspace_template")
        _empty(ws)
        yield ws


@pytest.fixture
def sqlite_workspace(tmp_path: Path) -> Iterator[Workspace]:
    """A fresh SQLite workspace."""
    ws = Workspace(f"sqlite:///{tmp_path}/conveyor.db", str(tmp_path / "blobs"))
    yield ws
    ws.close()


@pytest.fixture(params=["local", "http"])
def client(request: pytest.FixtureRequest, workspace: Workspace) -> Iterator[Client]:
    """A client over each transport, each database."""
    if request.param == "local":
        yield LocalClient(workspace=workspace)
        return
    with ThreadServer(workspace) as server:
        http = HttpClient(server.url)
        yield http
        http.close()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the fluent API at a fresh ``.conveyor`` workspace in a temp directory."""
    path = tmp_path / ".conveyor"
    monkeypatch.setenv("CONVEYOR_HOME", str(path))
    monkeypatch.setenv("CONVEYOR_FLUSH_INTERVAL_S", "0.05")
    monkeypatch.delenv("CONVEYOR_SERVER", raising=False)
    monkeypatch.delenv("CONVEYOR_DB_URL", raising=False)
    monkeypatch.delenv("CONVEYOR_BLOB_URL", raising=False)
    get_settings.cache_clear()
    fluent._reset_client()
    yield path
    while fluent.active_run() is not None:
        fluent.end_run()
    fluent._reset_client()
    get_settings.cache_clear()
