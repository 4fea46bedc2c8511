"""Registry entities shared by the service, the REST API and the remote client."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class ModelVersion(_Model):
    """One version of a registered model: where its files are and where it is used."""

    name: str
    version: int
    source: str
    run_id: str | None = None
    status: str = "READY"
    stage: str = "None"
    description: str = ""
    user_id: str = ""
    created_time: int
    updated_time: int
    tags: dict[str, str] = Field(default_factory=dict)
    aliases: list[str] = Field(default_factory=list)

    @property
    def uri(self) -> str:
        """``models:/NAME/VERSION``."""
        return f"models:/{self.name}/{self.version}"


class RegisteredModel(_Model):
    """A named model with versions, aliases and tags."""

    name: str
    project: str = "default"
    description: str = ""
    created_time: int
    updated_time: int
    tags: dict[str, str] = Field(default_factory=dict)
    aliases: dict[str, int] = Field(default_factory=dict)
    latest_version: int | None = None


class ModelPage(_Model):
    """A page of registered models."""

    models: list[RegisteredModel]
    next_page_token: str | None = None


class VersionPage(_Model):
    """A page of model versions."""

    versions: list[ModelVersion]
    next_page_token: str | None = None


class ApprovalPolicy(_Model):
    """Moving ``alias`` of ``name`` needs ``required`` approvals from holders of ``role``."""

    name: str
    alias: str
    required: int = 1
    role: str = "approver"
    created_time: int


class ApprovalDecision(_Model):
    """One approver's decision on a request."""

    approver: str
    decision: Literal["approve", "reject"]
    comment: str = ""
    time: int


class ApprovalRequest(_Model):
    """A request to move an alias to a version, waiting for (or done with) approvals."""

    request_id: str
    name: str
    version: int
    alias: str
    requester: str
    state: Literal["pending", "applied", "rejected", "cancelled"]
    comment: str = ""
    required: int = 1
    role: str = "approver"
    created_time: int
    updated_time: int
    decisions: list[ApprovalDecision] = Field(default_factory=list)


class Promotion(_Model):
    """The outcome of a promotion: applied now, or a pending approval request."""

    state: Literal["applied", "pending"]
    name: str
    alias: str
    version: int
    previous_version: int | None = None
    request: ApprovalRequest | None = None
