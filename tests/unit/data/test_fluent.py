"""``conveyor.log_dataset`` / ``load_dataset`` through the fluent API and the active run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import conveyor
from conveyor.data import load_dataset
from conveyor.tracking import fluent


def test_log_inside_a_run_records_the_input_and_loads_back(home: Path) -> None:
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    with conveyor.start_run() as run:
        v = conveyor.log_dataset(frame, name="churn-train")
    assert v.ref == "churn-train@1"
    client = fluent.get_client()
    inputs = client.run_inputs(run.run_id)
    assert [(i.dataset, i.version, i.context) for i in inputs] == [("churn-train", 1, "training")]
    pd.testing.assert_frame_equal(load_dataset("data:churn-train@1"), frame)
    pd.testing.assert_frame_equal(load_dataset("churn-train"), frame)


def test_a_directory_loads_as_a_cached_local_copy(home: Path, tmp_path: Path) -> None:
    src = tmp_path / "images"
    src.mkdir()
    (src / "cat.png").write_bytes(b"png")
    v = conveyor.log_dataset(src, name="images", context="evaluation")
    assert v.kind == "files"
    local = load_dataset("images@1")
    assert (local / "cat.png").read_bytes() == b"png"
    assert local == home / "cache" / "datasets" / v.digest
    assert load_dataset("images@1") == local  # served from the cache
    out = load_dataset("images", dst=tmp_path / "out")
    assert (out / "cat.png").exists()
