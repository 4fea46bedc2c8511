"""A workspace whose blobs live in S3 (moto on loopback), configured by environment only."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

import conveyor
from conveyor.settings import get_settings
from conveyor.tracking import fluent
from tests.conftest import S3_BUCKET


def test_artifacts_go_to_s3_by_url(
    home: Path, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    prefix = uuid.uuid4().hex
    monkeypatch.setenv("CONVEYOR_BLOB_URL", f"s3://{S3_BUCKET}/{prefix}")
    monkeypatch.setenv("CONVEYOR_S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("CONVEYOR_CAPTURE_SYSTEM", "false")
    get_settings.cache_clear()
    fluent._reset_client()
    report = tmp_path / "report.html"
    report.write_text("<h1>ok</h1>")
    with conveyor.start_run(experiment="s3") as run:
        conveyor.log_artifact(report, "reports")
    client = conveyor.get_client()
    out = client.download_artifact(run.run_id, "reports/report.html", tmp_path / "out")
    assert out.read_text() == "<h1>ok</h1>"
    assert not (home / "blobs").exists()  # nothing fell back to the local directory

    import boto3

    keys = boto3.client("s3", endpoint_url=s3_endpoint).list_objects_v2(
        Bucket=S3_BUCKET, Prefix=prefix
    )["Contents"]
    assert len(keys) == 1
