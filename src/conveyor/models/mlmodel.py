"""The ``MLmodel`` file: MLflow's YAML description of a saved model, read and written here.

Keys are the ones MLflow writes (``artifact_path``, ``flavors``, ``model_uuid``, ``run_id``,
``utc_time_created``, ``signature``, ``saved_input_example_info``, ...). Conveyor adds
``conveyor_files``, the SHA-256 of every other file of the model, so the digest of ``MLmodel``
alone identifies the whole directory (the download cache is keyed by it) and a download can be
checked file by file. MLflow keeps unknown keys as attributes and ignores them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conveyor.errors import InvalidArgumentError
from conveyor.models.signature import Signature

MLMODEL = "MLmodel"
_KNOWN = {
    "artifact_path",
    "flavors",
    "model_uuid",
    "run_id",
    "utc_time_created",
    "signature",
    "saved_input_example_info",
    "conveyor_files",
}
_parsed: dict[str, MLModel] = {}  # digest -> parsed file; MLmodel files never change
_PARSED_LIMIT = 256


@dataclass
class MLModel:
    """A parsed ``MLmodel`` file."""

    flavors: dict[str, dict[str, Any]]
    model_uuid: str | None = None
    run_id: str | None = None
    artifact_path: str | None = None
    utc_time_created: str | None = None
    signature: Signature | None = None
    saved_input_example_info: dict[str, Any] | None = None
    conveyor_files: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the mapping written to YAML."""
        out: dict[str, Any] = {**self.extra, "flavors": self.flavors}
        for key in ("artifact_path", "model_uuid", "run_id", "utc_time_created"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.signature is not None:
            out["signature"] = self.signature.to_dict()
        if self.saved_input_example_info is not None:
            out["saved_input_example_info"] = self.saved_input_example_info
        if self.conveyor_files:
            out["conveyor_files"] = self.conveyor_files
        return out

    def to_yaml(self) -> str:
        """Render the file as MLflow does (block style, sorted keys)."""
        import yaml

        return str(yaml.safe_dump(self.to_dict(), default_flow_style=False, sort_keys=True))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MLModel:
        """Build from a parsed YAML mapping."""
        flavors = data.get("flavors")
        if not isinstance(flavors, Mapping) or not flavors:
            msg = "MLmodel has no flavors; it is not a saved model"
            raise InvalidArgumentError(msg, field="MLmodel")
        signature = data.get("signature")
        return cls(
            flavors={str(k): dict(v or {}) for k, v in flavors.items()},
            model_uuid=data.get("model_uuid"),
            run_id=data.get("run_id"),
            artifact_path=data.get("artifact_path"),
            utc_time_created=_text(data.get("utc_time_created")),
            signature=Signature.from_dict(signature) if signature else None,
            saved_input_example_info=data.get("saved_input_example_info"),
            conveyor_files=dict(data.get("conveyor_files") or {}),
            extra={k: v for k, v in data.items() if k not in _KNOWN},
        )

    @classmethod
    def parse(cls, raw: bytes) -> tuple[MLModel, str]:
        """Parse ``MLmodel`` bytes; return the model and the file's SHA-256 (parsed once)."""
        digest = hashlib.sha256(raw).hexdigest()
        found = _parsed.get(digest)
        if found is None:
            found = cls.from_dict(_load_yaml(raw))
            if len(_parsed) >= _PARSED_LIMIT:
                _parsed.pop(next(iter(_parsed)))
            _parsed[digest] = found
        return found, digest

    @classmethod
    def read(cls, directory: Path) -> tuple[MLModel, str]:
        """Read ``directory/MLmodel``."""
        file = directory / MLMODEL
        try:
            raw = file.read_bytes()
        except FileNotFoundError:
            msg = f"no MLmodel file in {directory}; is this a saved model directory?"
            raise InvalidArgumentError(msg, field="model_uri") from None
        return cls.parse(raw)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _load_yaml(raw: bytes) -> Mapping[str, Any]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C parser is ~10x faster
    try:
        data = yaml.load(raw, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        msg = f"MLmodel is not valid YAML: {exc}"
        raise InvalidArgumentError(msg, field="MLmodel") from exc
    if not isinstance(data, Mapping):
        msg = "MLmodel must be a YAML mapping"
        raise InvalidArgumentError(msg, field="MLmodel")
    return data


def file_digest(path: Path) -> str:
    """Return the SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def directory_digest(directory: Path) -> str:
    """Return one SHA-256 over every file's relative path and content digest."""
    h = hashlib.sha256()
    for file in sorted(p for p in directory.rglob("*") if p.is_file()):
        rel = file.relative_to(directory).as_posix()
        h.update(f"{rel}\0{file_digest(file)}\n".encode())
    return h.hexdigest()
