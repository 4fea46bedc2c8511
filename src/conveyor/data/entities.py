"""What the data domain returns: datasets, their versions, lineage edges and diffs."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Kind = Literal["parquet", "files"]
StatValue = float | int | str | bool | None


class Dataset(BaseModel):
    """A named, versioned dataset."""

    name: str
    project: str = "default"
    description: str = ""
    created_time: int
    updated_time: int
    latest_version: int | None = None
    version_count: int = 0


class DatasetVersion(BaseModel):
    """One immutable, content-addressed version of a dataset.

    ``digest`` is the SHA-256 of the content: the Parquet snapshot of a frame, or the canonical
    JSON manifest of a path's files; it is also the blob holding that snapshot or manifest.
    """

    name: str
    version: int
    digest: str
    kind: Kind
    columns: dict[str, str] = Field(default_factory=dict)  # column -> Arrow type
    row_count: int | None = None
    size_bytes: int
    profile_digest: str | None = None
    source: str = ""
    run_id: str | None = None
    created_time: int

    @property
    def ref(self) -> str:
        """The reference ``NAME@V``."""
        return f"{self.name}@{self.version}"


class ManifestFile(BaseModel):
    """One file of a ``files`` version: its relative path, size and SHA-256 (its blob)."""

    path: str
    size: int
    sha256: str


class RunInput(BaseModel):
    """A lineage edge: the run consumed the dataset version in a context (training, ...)."""

    run_id: str
    dataset: str
    version: int
    context: str
    created_time: int


class DtypeChange(BaseModel):
    """A column whose type changed between two versions."""

    column: str
    old: str
    new: str


class StatChange(BaseModel):
    """One statistic of one column, side by side."""

    column: str
    stat: str
    old: StatValue
    new: StatValue


class DatasetDiff(BaseModel):
    """What changed from ``old`` to ``new``: rows, schema, files and column statistics.

    ``rows_added`` / ``rows_removed`` count rows present in one version and not the other
    (as a multiset, on the columns both share with the same type); ``None`` when not computed
    (file manifests, or versions too large to hash in memory).
    """

    old: str
    new: str
    kind: Kind
    old_row_count: int | None
    new_row_count: int | None
    row_delta: int | None
    rows_added: int | None = None
    rows_removed: int | None = None
    columns_added: list[str] = Field(default_factory=list)
    columns_removed: list[str] = Field(default_factory=list)
    dtype_changes: list[DtypeChange] = Field(default_factory=list)
    stat_changes: list[StatChange] = Field(default_factory=list)
    files_added: list[str] = Field(default_factory=list)
    files_removed: list[str] = Field(default_factory=list)
    files_changed: list[str] = Field(default_factory=list)

    @property
    def identical(self) -> bool:
        """Whether nothing at all differs."""
        return not (
            self.row_delta
            or self.rows_added
            or self.rows_removed
            or self.columns_added
            or self.columns_removed
            or self.dtype_changes
            or self.stat_changes
            or self.files_added
            or self.files_removed
            or self.files_changed
        )
