"""Compact byte layout of a window (format version 2): a few contiguous little-endian arrays.

Layout::

    b"CVSK", version 2, a flags byte, 2 pad bytes, then four uint32: layout, extras, level
                   and item counts (flag 1: every KLL level is sorted; windows written
                   before the flag have 0 there, and readers that predate it skip it)
    layout JSON   (column names, kinds, edges, categories; the same for every window of a
                   monitor, so it is parsed once and cached by its bytes)
    extras JSON   (non-empty Misra-Gries records only, usually ``{}``)
    ints   int64  [start_ms, end_ms, rows] + per column its counters (see ``Layout``)
    floats float64 per numeric column: mean, M2, KLL variance, KLL min, KLL max
    levels int64  KLL level sizes, column after column (each column's height is in ints)
    items  float64 KLL items, column after column, level after level

Every section starts on an 8-byte boundary. Decoding for a merge reads the arrays with
``np.frombuffer`` and builds no per-column objects (``bulk.merge``).
"""

from __future__ import annotations

import functools
import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.sketches.categorical import CategoricalSketch
from conveyor.monitoring.sketches.frequent import FrequentItems
from conveyor.monitoring.sketches.numeric import NumericSketch

if TYPE_CHECKING:
    from conveyor.monitoring.sketches.window import ColumnSketch

MAGIC = b"CVSK"
VERSION = 2
PREFIX = struct.Struct("<4sBB2xIIII")
# Flag bits (the byte after the version).
SORTED_LEVELS = 1
# Per-column integer fields after the bin / category counts.
NUMERIC_INTS = (
    "missing",
    "inf_count",
    "type_mismatch",
    "absent",
    "moments",
    "kll",
    "state",
    "height",
)
CATEGORICAL_INTS = ("missing", "type_mismatch", "absent")
FLOATS = ("mean", "m2", "variance", "min", "max")
HEAD = 3  # start_ms, end_ms, rows
_I64 = np.dtype("<i8")
_F64 = np.dtype("<f8")


@dataclass(frozen=True)
class Layout:
    """A window's column layout and where each column's fields sit in the ``ints`` array.

    ``numeric[j]`` is the column index of the ``j``-th numeric column; ``counts[i]`` the slice of
    column ``i``'s bin or category counts in ``ints`` and ``fields[i]`` the offset of its first
    field after them (in ``NUMERIC_INTS`` / ``CATEGORICAL_INTS`` order).
    """

    raw: bytes
    prototypes: tuple[ColumnSketch, ...]
    names: tuple[str, ...]
    numeric: tuple[int, ...]
    counts: tuple[slice, ...]
    fields: tuple[int, ...]
    n_ints: int


@dataclass(frozen=True)
class Packed:
    """One window's arrays, read in place from its bytes (read-only views)."""

    layout: Layout
    ints: npt.NDArray[np.int64]
    floats: npt.NDArray[np.float64]
    levels: npt.NDArray[np.int64]
    items: npt.NDArray[np.float64]
    extras: dict[str, Any]
    is_sorted: bool


def encode(
    start_ms: int,
    end_ms: int,
    rows: int,
    unexpected: FrequentItems,
    columns: dict[str, ColumnSketch],
) -> bytes:
    """Return the version-2 bytes of a window's fields."""
    spec: list[list[Any]] = []
    ints: list[int] = [start_ms, end_ms, rows]
    floats: list[float] = []
    levels: list[int] = []
    items: list[npt.NDArray[np.float64]] = []
    extras: dict[str, Any] = {}
    if unexpected.total:
        extras["unexpected"] = unexpected.to_state()
    for i, (name, sketch) in enumerate(columns.items()):
        records = {"types": sketch.mismatch_types}
        if isinstance(sketch, NumericSketch):
            kll = sketch.quantiles.fit().parts()
            spec.append(["numeric", name, sketch.edges.tolist(), sketch.quantiles.k])
            ints += sketch.slot_counts.tolist()
            ints += [sketch.missing, sketch.inf_count, sketch.type_mismatch, sketch.absent]
            # The LCG state is an unsigned 64-bit number; stored as its int64 bit pattern.
            ints += [sketch.moments.count, kll.n, _signed(kll.state), len(kll.levels)]
            floats += [sketch.moments.mean, sketch.moments.m2, kll.variance]
            floats += [kll.low, kll.high]
            levels += [int(level.size) for level in kll.levels]
            items += kll.levels
        else:
            spec.append(
                [
                    "categorical",
                    name,
                    list(sketch.categories),
                    sketch.value_type,
                    sketch.unseen.capacity,
                ]
            )
            ints += sketch.counts.tolist()
            ints += [sketch.missing, sketch.type_mismatch, sketch.absent]
            records["unseen"] = sketch.unseen
        kept = {key: r.to_state() for key, r in records.items() if r.total}
        if kept:
            extras[str(i)] = kept
    sections = [
        json.dumps(spec, separators=(",", ":")).encode(),
        json.dumps(extras, separators=(",", ":"), allow_nan=False).encode(),
        np.asarray(ints, dtype=_I64).tobytes(),
        np.asarray(floats, dtype=_F64).tobytes(),
        np.asarray(levels, dtype=_I64).tobytes(),
        (np.concatenate(items) if items else np.empty(0)).astype(_F64).tobytes(),
    ]
    # ``KLLSketch.parts`` returns sorted levels: say so, so a merge can skip their sorts.
    prefix = PREFIX.pack(
        MAGIC,
        VERSION,
        SORTED_LEVELS,
        len(sections[0]),
        len(sections[1]),
        len(levels),
        len(sections[5]) // 8,
    )
    return prefix + b"".join(_pad8(s) for s in sections)


def _pad8(section: bytes) -> bytes:
    return section + b" " * (-len(section) % 8)


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def decode(blob: bytes, known: Layout | None = None) -> Packed:
    """Read a version-2 window's arrays in place (no copies, no per-column objects).

    ``known``: a layout that ``blob`` probably shares; reused when its bytes match, which
    spares copying and hashing them (see ``decode_many``).
    """
    if len(blob) < PREFIX.size:
        msg = f"sketch: {len(blob)} bytes is too short to be a serialised sketch"
        raise InvalidArgumentError(msg, field="data")
    magic, version, flags, n_layout, n_extras, n_levels, n_items = PREFIX.unpack_from(blob)
    if magic != MAGIC or version != VERSION:
        msg = f"sketch: not a version-{VERSION} Conveyor sketch (magic {magic!r}, version "
        msg += f"{version}); it was written by another format or is corrupt"
        raise InvalidArgumentError(msg, field="data")
    at = PREFIX.size
    if known is None or len(known.raw) != n_layout or not blob.startswith(known.raw, at):
        known = _layout(bytes(blob[at : at + n_layout]))
    at += n_layout + (-n_layout % 8)
    raw_extras = blob[at : at + n_extras]
    at += n_extras + (-n_extras % 8)
    # ints, floats, level sizes, items: one read, then views (8-byte values throughout)
    ints_end = known.n_ints
    floats_end = ints_end + len(FLOATS) * len(known.numeric)
    levels_end = floats_end + n_levels
    if at + 8 * (levels_end + n_items) > len(blob):
        msg = "sketch: an array runs past the end of the data; the data is truncated"
        raise InvalidArgumentError(msg, field="data")
    body = np.frombuffer(blob, dtype=_I64, count=levels_end + n_items, offset=at)
    extras = {} if raw_extras == b"{}" else _json(raw_extras)
    return Packed(
        known,
        body[:ints_end],
        body[ints_end:floats_end].view(_F64),
        body[floats_end:levels_end],
        body[levels_end:].view(_F64),
        extras,
        bool(flags & SORTED_LEVELS),
    )


def decode_many(blobs: Sequence[bytes]) -> list[Packed]:
    """Decode windows that mostly share one layout (a monitor's windows), each parsed once."""
    packs: list[Packed] = []
    known = None
    for blob in blobs:
        packs.append(decode(blob, known))
        known = packs[-1].layout
    return packs


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        msg = f"sketch: the header is not valid JSON ({exc}); the data is corrupt"
        raise InvalidArgumentError(msg, field="data") from exc


@functools.lru_cache(maxsize=64)
def _layout(raw: bytes) -> Layout:
    """Parse a layout once: every window of one monitor shares the same layout bytes."""
    spec = _json(raw)
    prototypes: list[ColumnSketch] = []
    numeric: list[int] = []
    counts: list[slice] = []
    fields: list[int] = []
    at = HEAD
    try:
        for i, column in enumerate(spec):
            if column[0] == "numeric":
                edges = np.asarray(column[2], dtype=np.float64)
                prototypes.append(NumericSketch(edges, k=int(column[3])))
                numeric.append(i)
                width, n_fields = edges.size + 1, len(NUMERIC_INTS)
            else:
                categories = tuple(str(c) for c in column[2])
                prototype = CategoricalSketch(
                    categories, value_type=str(column[3]), unseen_capacity=int(column[4])
                )
                prototypes.append(prototype)
                width, n_fields = len(categories) + 1, len(CATEGORICAL_INTS)
            counts.append(slice(at, at + width))
            fields.append(at + width)
            at += width + n_fields
    except (IndexError, TypeError, ValueError, InvalidArgumentError) as exc:
        msg = f"sketch: the column layout is malformed ({exc}); the data is corrupt"
        raise InvalidArgumentError(msg, field="data") from exc
    names = tuple(str(column[1]) for column in spec)
    return Layout(raw, tuple(prototypes), names, tuple(numeric), tuple(counts), tuple(fields), at)
