"""Catalogue files in and out through pandas: CSV (UTF-8) and Parquet (through pyarrow).

Everything is read as text or as the exact type the file declares: CSV cells are never parsed by pandas (no
``12.50`` turned into the float 12.5, no SKU ``00123`` turned into 123, no ``NA`` turned into a missing value);
Parquet decimals stay Decimal and a float column is reported by the validation, not silently accepted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


class CatalogFileError(ValueError):
    """The file cannot be read or written at all (unknown type, unreadable content)."""


def file_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise CatalogFileError(f"{path}: unknown file type {path.suffix!r}: use .csv or .parquet")
    return fmt


def _cell(value: Any) -> Any:
    """A pandas cell as a plain Python value; missing values (None, NaN, NA) as None."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        value = value.item()
    return value


def read_table(path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """The header and the rows (cells by column) of a CSV or Parquet file."""
    fmt = file_format(path)
    try:
        if fmt == "csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig")
        else:
            frame = pd.read_parquet(path)
    except FileNotFoundError:
        raise CatalogFileError(f"{path}: no such file") from None
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise CatalogFileError(f"{path}: cannot be read as {fmt}: {exc}") from None
    header = [str(c) for c in frame.columns]
    rows = [
        {column: _cell(value) for column, value in zip(header, values, strict=True)}
        for values in frame.itertuples(index=False, name=None)
    ]
    return header, rows


def write_table(path: Path, header: Sequence[str], rows: Sequence[Mapping[str, str]]) -> None:
    """Write text cells to CSV or Parquet (every column a string column, so nothing is re-typed)."""
    fmt = file_format(path)
    frame = pd.DataFrame([[row.get(c, "") for c in header] for row in rows], columns=list(header), dtype=object)
    frame = frame.astype("string")
    tmp = path.with_name(f".{path.name}.tmp")
    if fmt == "csv":
        frame.to_csv(tmp, index=False, encoding="utf-8")
    else:
        frame.to_parquet(tmp, index=False, engine="pyarrow")
    tmp.replace(path)  # a failed export never leaves half a file where the previous one was
