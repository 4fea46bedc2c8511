"""Input examples in MLflow's files: ``input_example.json`` and ``serving_input_example.json``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

EXAMPLE_FILE = "input_example.json"
SERVING_FILE = "serving_input_example.json"


def normalize(example: Any) -> Any:
    """A list of records becomes a DataFrame; anything else is kept."""
    if isinstance(example, list) and example and isinstance(example[0], Mapping):
        import pandas as pd

        return pd.DataFrame.from_records(example)
    return example


def write_example(path: Path, example: Any) -> dict[str, Any]:
    """Write the example files; return ``saved_input_example_info`` for ``MLmodel``."""
    import numpy as np

    info: dict[str, Any] = {"artifact_path": EXAMPLE_FILE, "serving_input_path": SERVING_FILE}
    if type(example).__module__.startswith("pandas"):
        frame = example.to_frame() if example.ndim == 1 else example
        split = json.loads(frame.to_json(orient="split", index=False, date_format="iso"))
        body: Any = {"columns": split["columns"], "data": split["data"]}
        serving: Any = {"dataframe_split": body}
        info.update(type="dataframe", pandas_orient="split")
    elif isinstance(example, Mapping):
        body = {str(k): np.asarray(v).tolist() for k, v in example.items()}
        serving = {"inputs": body}
        info["type"] = "ndarray"
    else:
        body = np.asarray(example).tolist()
        serving = {"inputs": body}
        info["type"] = "ndarray"
    (path / EXAMPLE_FILE).write_text(json.dumps(body))
    (path / SERVING_FILE).write_text(json.dumps(serving, indent=2))
    return info


def read_example(path: Path, info: Mapping[str, Any] | None) -> Any:
    """Load a saved example back (a DataFrame or arrays), or None when there is none."""
    if not info:
        return None
    file = path / str(info.get("artifact_path") or EXAMPLE_FILE)
    if not file.is_file():
        return None
    body = json.loads(file.read_text())
    if info.get("type") == "dataframe":
        import pandas as pd

        if info.get("pandas_orient", "split") == "records":
            return pd.DataFrame.from_records(body)
        return pd.DataFrame(body["data"], columns=body["columns"])
    import numpy as np

    if isinstance(body, dict):
        return {k: np.asarray(v) for k, v in body.items()}
    return np.asarray(body)
