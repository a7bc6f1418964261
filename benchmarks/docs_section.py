"""Writing one benchmark's figures into docs/benchmarks.md (the ``--write`` option of the stand-alone benchmarks)."""

from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def write_section(heading: str, section: str, path: Path = DOC) -> None:
    """Replace the section that starts with ``heading`` (up to the next ``## `` heading) by ``section``, or append
    ``section`` when the document has no such heading yet; the rest of the document is left as it is."""
    doc = path.read_text(encoding="utf-8")
    start = doc.find(heading)
    if start < 0:
        path.write_text(doc.rstrip() + "\n\n" + section.rstrip() + "\n", encoding="utf-8")
        return
    nxt = doc.find("\n## ", start + len(heading))
    rest = "" if nxt < 0 else "\n" + doc[nxt + 1 :]
    path.write_text(doc[:start] + section.rstrip() + "\n" + rest, encoding="utf-8")
