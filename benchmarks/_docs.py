"""One place that writes a benchmark's section into docs/benchmarks.md.

Each benchmark owns the text between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->``; writing
replaces only that block (or appends it), atomically, so benchmarks never erase each other.
"""

from __future__ import annotations

from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def replace_section(name: str, text: str, path: Path = DOCS, *, legacy_title: str = "") -> None:
    """Write ``text`` as the section ``name``.

    ``legacy_title`` is a "## ..." heading written before markers existed: when found (and no
    markers), the old section from that heading to the next "## " heading is replaced.
    """
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{text.strip()}\n{end}"
    old = path.read_text() if path.exists() else ""
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        new = head + block + rest.split(end, 1)[1]
    elif legacy_title and legacy_title in old:
        start = old.index(legacy_title)
        following = old.find("\n## ", start + len(legacy_title))
        tail = "" if following == -1 else old[following:]
        new = old[:start] + block + "\n" + tail
    else:
        new = old.rstrip("\n") + ("\n\n" if old else "") + block + "\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(new)
    tmp.replace(path)
