"""log_model / load_model against a real ``conveyor server`` through the HTTP client."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import conveyor
from conveyor.models.load import cache_root
from conveyor.tracking import LocalClient, Workspace
from conveyor.tracking.remote import HttpClient
from tests.servers import ThreadServer


def test_log_and_load_through_the_server(sqlite_workspace: Workspace, home: Path) -> None:
    frame = pd.DataFrame({"a": np.linspace(0, 1, 20), "b": np.arange(20, dtype=np.float64)})
    labels = (frame["b"] > 9).astype(np.int64)
    model = LogisticRegression().fit(frame, labels)
    with ThreadServer(sqlite_workspace) as server:
        client = HttpClient(server.url)
        try:
            experiment = client.get_or_create_experiment("models")
            run = client.create_run(experiment.experiment_id)
            info = conveyor.log_model(
                model, "churn", input_example=frame.head(3), run_id=run.run_id, client=client
            )
            shutil.rmtree(cache_root())  # force a real download through the server
            loaded = conveyor.load_model(info.model_uri, client=client)
            assert loaded.digest == info.digest
            assert (loaded.predict(frame) == model.predict(frame)).all()
            with pytest.raises(conveyor.ConveyorError, match="missing column 'b'"):
                loaded.predict(frame[["a"]])
        finally:
            client.close()
    # the server stored the files in the workspace: the local transport reads the same model
    local = LocalClient(workspace=sqlite_workspace)
    assert conveyor.load_model(info.model_uri, client=local).digest == info.digest
