"""Docs that analysts rely on stay true: every table and column of the schema is described in docs/tables.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ecom_pipeline.warehouse.schema import metadata

TABLES_MD = Path(__file__).resolve().parent.parent / "docs" / "tables.md"


def _sections() -> dict[str, str]:
    text = TABLES_MD.read_text()
    parts = re.split(r"^### (\w+)\s*$", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


@pytest.mark.parametrize("table", sorted(metadata.tables))
def test_every_column_is_documented_for_analysts(table: str) -> None:
    """Prevents a schema change from leaving docs/tables.md describing columns that are not there (or missing)."""
    sections = _sections()
    assert table in sections, f"docs/tables.md has no section for table {table}"
    documented: set[str] = set()
    for line in sections[table].splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            first_cell = line.split("|")[1]
            documented.update(name.strip() for name in first_cell.split(","))
    missing = [c.name for c in metadata.tables[table].columns if c.name not in documented]
    assert not missing, f"docs/tables.md does not describe {table}.{', '.join(missing)}"
    extra = documented - {c.name for c in metadata.tables[table].columns} - {"column"}
    assert not extra, f"docs/tables.md describes columns {table} does not have: {sorted(extra)}"
