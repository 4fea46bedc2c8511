"""The model registry: registered models, versions, aliases, approvals and lineage.

``register_model("runs:/RUN_ID/model", "churn")`` makes the next version;
``models:/churn@production`` URIs resolve through ``resolve_model_uri``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.registry.entities import (
    ApprovalPolicy,
    ApprovalRequest,
    ModelVersion,
    Promotion,
    RegisteredModel,
)
from conveyor.registry.uris import ModelRef, parse_model_uri

if TYPE_CHECKING:
    from collections.abc import Mapping

    from conveyor.tracking.client import Client

__all__ = [
    "ApprovalPolicy",
    "ApprovalRequest",
    "ModelRef",
    "ModelVersion",
    "Promotion",
    "RegisteredModel",
    "parse_model_uri",
    "register_model",
    "resolve_model_uri",
]


def register_model(
    model_uri: str,
    name: str,
    *,
    tags: Mapping[str, str] | None = None,
    description: str = "",
    client: Client | None = None,
) -> ModelVersion:
    """Register the model at ``model_uri`` (``runs:/RUN_ID/model``) as the next version of ``name``.

    The registered model is created when it does not exist yet.
    """
    from conveyor.registry.client import registry_client

    return registry_client(client).create_version(
        name, model_uri, tags=tags, description=description, create_model=True
    )


def resolve_model_uri(uri: str, *, client: Client | None = None) -> str:
    """Return the source URI (``runs:/...`` or an artifact URI) a ``models:/`` URI points at.

    A file path after the reference (``models:/churn/3/MLmodel``) is appended to the source.
    """
    from conveyor.registry.client import registry_client

    ref = parse_model_uri(uri)
    version = registry_client(client).resolve(
        ModelRef(ref.name, ref.version, ref.alias, ref.stage, ref.latest).uri()
    )
    source = version.source.rstrip("/")
    return f"{source}/{ref.path}" if ref.path else source
