"""Catalogue files in and out through pandas: CSV and Parquet (through pyarrow).

CSV is written as UTF-8 with a BOM (so Excel opens it as UTF-8) and read as UTF-8 (BOM or not), else as
Windows-1252 with a note; its separator is taken from the header line (``,``, or ``;`` as French Excel saves).

Everything is read as text or as the exact type the file declares: CSV cells are never parsed by pandas (no
``12.50`` turned into the float 12.5, no SKU ``00123`` turned into 123, no ``NA`` turned into a missing value);
Parquet decimals stay Decimal and a float column is reported by the validation, not silently accepted.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
FIRST_ROW = 2  # the header is row 1, as a spreadsheet shows the file


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


@dataclass
class CatalogTable:
    """A file's header, its rows (cells by column), each row's number as a spreadsheet shows it, and notes on how
    the file was read (an encoding or separator other than the default) for the user to check."""

    header: list[str]
    rows: list[dict[str, Any]]
    numbers: list[int]
    notes: list[str] = field(default_factory=list)


_SEPARATORS = {",": "commas", ";": "semicolons", "\t": "tabs"}


def _decode(path: Path, data: bytes, notes: list[str]) -> str:
    """The file's text: UTF-8 (with or without a BOM), UTF-16 with a BOM (Excel's "Unicode text"), else Windows-1252
    (what Excel saves as "CSV" on a French or other Western Windows), said in a note so a wrong guess is seen."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise CatalogFileError(f"{path}: starts as UTF-16 but is not: {exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        raise CatalogFileError(
            f'{path}: is neither UTF-8 nor Windows-1252 (cp1252) text: save it as "CSV UTF-8"'
        ) from None
    notes.append(
        f'{path.name} is not UTF-8: read as Windows-1252 (cp1252), Excel\'s "CSV" encoding; check accented '
        'letters in the dry run, or save it as "CSV UTF-8"'
    )
    return text


def _separator(text: str, notes: list[str]) -> str:
    """The separator of the header line: ``,``, or ``;`` (French Excel's CSV) or a tab when the header has more of
    them. No column name contains any of the three, so the header line tells."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    counts = {sep: header.count(sep) for sep in _SEPARATORS}
    sep = max(counts, key=lambda s: (counts[s], s == ","))
    if sep != "," and counts[sep] > 0:
        notes.append(f"columns separated by {_SEPARATORS[sep]}")
        return sep
    return ","


def _blank(cells: Sequence[Any]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def _read_csv(path: Path, notes: list[str]) -> CatalogTable:
    """A CSV file through the csv module, numbered as a spreadsheet shows it.

    A row's number is its record's place in the file (a quoted cell spanning lines is one row, as in a
    spreadsheet), so a blank line does not shift the numbers of the rows after it. Blank and all-empty rows
    (Excel's ``,,,,`` after the data) are skipped. A duplicated column name is kept twice in the header, for the
    validation to name it (pandas would rename it ``price.1``).
    """
    text = _decode(path, path.read_bytes(), notes)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_separator(text, notes), strict=True)
    try:
        records = list(reader)
    except csv.Error as exc:  # strict: a stray quote is refused, never read as something else
        raise CatalogFileError(f"{path}: cannot be read as csv (line {reader.line_num}): {exc}") from None
    numbered = [(number, cells) for number, cells in enumerate(records, start=1) if not _blank(cells)]
    if not numbered:
        raise CatalogFileError(f"{path}: is empty (no header row)")
    (_, header_cells), data = numbered[0], numbered[1:]
    header = [c.strip() for c in header_cells]
    # Trailing columns with no name and no value (a spreadsheet's formatted but empty columns) are not columns.
    while header and not header[-1] and all(len(c) < len(header) or not c[len(header) - 1].strip() for _, c in data):
        header.pop()
    rows, numbers = [], []
    for number, cells in data:
        extra = cells[len(header) :]
        if not _blank(extra):
            raise CatalogFileError(
                f"{path}: row {number} has {len(cells)} cells but the header (row {numbered[0][0]}) has "
                f"{len(header)} columns"
            )
        padded = [*cells[: len(header)], *([""] * (len(header) - len(cells)))]
        rows.append(dict(zip(header, padded, strict=True)))
        numbers.append(number)
    return CatalogTable(header, rows, numbers, notes)


def read_table(path: Path) -> CatalogTable:
    """The header and the rows (cells by column) of a CSV or Parquet file, each with its row number."""
    fmt = file_format(path)
    notes: list[str] = []
    try:
        if fmt == "csv":
            return _read_csv(path, notes)
        frame = pd.read_parquet(path)
    except FileNotFoundError:
        raise CatalogFileError(f"{path}: no such file") from None
    except CatalogFileError:
        raise
    except (ValueError, OSError) as exc:
        raise CatalogFileError(f"{path}: cannot be read as {fmt}: {exc}") from None
    header = [str(c) for c in frame.columns]
    rows, numbers = [], []
    for index, values in enumerate(frame.itertuples(index=False, name=None)):
        cells = [_cell(v) for v in values]
        if not _blank(cells):
            rows.append(dict(zip(header, cells, strict=True)))
            numbers.append(FIRST_ROW + index)
    return CatalogTable(header, rows, numbers, notes)


def write_table(path: Path, header: Sequence[str], rows: Sequence[Mapping[str, str]]) -> None:
    """Write text cells to CSV or Parquet (every column a string column, so nothing is re-typed)."""
    fmt = file_format(path)
    frame = pd.DataFrame([[row.get(c, "") for c in header] for row in rows], columns=list(header), dtype=object)
    frame = frame.astype("string")
    tmp = path.with_name(f".{path.name}.tmp")
    if fmt == "csv":
        # With a BOM: Excel opens a CSV without one as the machine's ANSI code page (mojibake for é, 日本) and
        # saves it back so; import reads the BOM.
        frame.to_csv(tmp, index=False, encoding="utf-8-sig")
    else:
        frame.to_parquet(tmp, index=False, engine="pyarrow")
    tmp.replace(path)  # a failed export never leaves half a file where the previous one was
