"""Fixed-size uniform samples of raw rows per window (reservoir sampling), stored as Parquet.

Sketches answer the per-column questions at a cost independent of traffic; the questions that
need whole rows — multivariate drift (domain classifier, PCA reconstruction), embedding drift
(MMD) and label-free regression performance (DLE needs each request's features) — run on a
uniform sample of at most ``SAMPLE_ROWS`` rows per window and source, which costs the same for
ten requests or ten million.

Reservoir sampling is Vitter's Algorithm R: the t-th row (0-based) replaces a random slot with
probability ``capacity / (t + 1)``, so after n rows every row is in the sample with the same
probability ``capacity / n``. Samples of several sources are merged by drawing from each in
proportion to the rows it stands for.
"""

from __future__ import annotations

import io
import zlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

SAMPLE_ROWS = 1_000
REFERENCE_SAMPLE_ROWS = 5_000


def seed_of(*parts: object) -> int:
    """A deterministic 32-bit seed from the sample's identity (window, source, rows seen)."""
    return zlib.crc32("|".join(map(str, parts)).encode())


def reservoir_update(
    sample: pd.DataFrame | None,
    seen: int,
    batch: pd.DataFrame,
    *,
    capacity: int = SAMPLE_ROWS,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Fold ``batch`` into a reservoir that has already seen ``seen`` rows; return it.

    ``sample`` and ``batch`` have the same columns (the caller reindexes). Which slot a row
    sits in does not matter for uniformity, only that an evicted row is a uniform pick; so
    replaced slots are dropped and their replacements appended, without per-row copies.
    """
    batch = batch.reset_index(drop=True)
    current = batch.iloc[:0] if sample is None else sample.reset_index(drop=True)
    if batch.empty:
        return current
    t = seen + np.arange(len(batch))
    fill = t < capacity
    rest = np.flatnonzero(~fill)
    slots = (rng.random(rest.size) * (t[rest] + 1)).astype(np.int64)
    keep = slots < capacity
    rows, slots = rest[keep], slots[keep]
    # Two rows aimed at one slot: the later one wins, as in the sequential algorithm.
    last = pd.Series(rows).groupby(slots).last() if rows.size else pd.Series(dtype=np.int64)
    filled = pd.concat([current, batch[fill]], ignore_index=True) if fill.any() else current
    if last.empty:
        return filled
    evicted = np.zeros(len(filled), dtype=bool)
    evicted[last.index.to_numpy(dtype=np.int64)] = True
    return pd.concat([filled[~evicted], batch.iloc[last.to_numpy()]], ignore_index=True)


def merge_samples(
    samples: list[tuple[pd.DataFrame, int]],
    *,
    capacity: int = SAMPLE_ROWS,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Merge (sample, rows it stands for) pairs into one uniform sample of at most ``capacity``.

    Each source contributes in proportion to its rows (largest remainders, capped at what it
    holds), drawn uniformly from its own sample.
    """
    usable = [(s, n) for s, n in samples if not s.empty and n > 0]
    if not usable:
        return pd.DataFrame()
    if sum(len(s) for s, _ in usable) <= capacity:
        return pd.concat([s for s, _ in usable], ignore_index=True)
    rows = np.array([n for _, n in usable], dtype=np.float64)
    held = np.array([len(s) for s, _ in usable])
    share = capacity * rows / rows.sum()
    counts = np.minimum(np.floor(share).astype(np.int64), held)
    for i in np.argsort(-(share - np.floor(share))):  # largest remainders first
        if counts.sum() >= capacity:
            break
        if counts[i] < held[i]:
            counts[i] += 1
    parts = [
        s.iloc[np.sort(rng.choice(len(s), size=int(k), replace=False))]
        for (s, _), k in zip(usable, counts, strict=True)
        if k
    ]
    return pd.concat(parts, ignore_index=True)


def _arrow_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns Arrow cannot type (mixed bools, numbers and strings) are kept as their text."""
    fixed = {}
    for name in frame.columns:
        try:
            pa.array(frame[name], from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            column = frame[name]
            fixed[name] = column.map(lambda v: v if v is None or v != v else str(v))  # noqa: PLR0124
    return frame.assign(**fixed) if fixed else frame


def to_bytes(frame: pd.DataFrame) -> bytes:
    """Parquet bytes of a sample (vector cells become list columns)."""
    frame = _arrow_safe(frame).rename(columns=str)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    out = io.BytesIO()
    pq.write_table(table, out, compression="zstd")
    return out.getvalue()


def from_bytes(data: bytes) -> pd.DataFrame:
    """Read a sample written by ``to_bytes``."""
    frame: pd.DataFrame = pq.read_table(io.BytesIO(data)).to_pandas()
    return frame


def is_vector_column(values: pd.Series) -> bool:
    """Whether the cells hold arrays (embeddings) rather than scalars."""
    if values.dtype != object:
        return False
    first = values.dropna().head(1)
    return not first.empty and isinstance(first.iloc[0], np.ndarray | list | tuple)
