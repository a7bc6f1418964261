"""``catalog import`` and ``catalog export``: the terminal side (what is printed, exit codes).

Exit codes follow the CLI's rule: 0 done, 1 something in the file or the hub the user can fix (every error is
printed with its row, column and reason), 2 a usage error.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError

from ecom_pipeline.catalog.columns import COLUMNS, ExportError
from ecom_pipeline.catalog.files import CatalogFileError, read_table, write_table
from ecom_pipeline.catalog.hub import ImportCounts, apply_import, export_rows, load_state
from ecom_pipeline.catalog.validate import cell_text, validate
from ecom_pipeline.warehouse.locks import TenantLockLost, TenantLockTimeout, command_lock
from ecom_pipeline.warehouse.types import utcnow

MAX_ERRORS_SHOWN = 50


def _summary(counts: ImportCounts) -> str:
    return (
        f"products: created {counts.products_created}, updated {counts.products_updated}, unchanged "
        f"{counts.products_unchanged}; variants: created {counts.variants_created}, updated "
        f"{counts.variants_updated}, unchanged {counts.variants_unchanged}"
    )


def run_import(engine: Any, path: Path, *, tenant_id: str, dry_run: bool, partial: bool) -> int:
    """Validate every row, then write all of them, or (``partial``) the good ones, or (``dry_run``) nothing."""
    try:
        table = read_table(path)
    except CatalogFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for note in table.notes:
        print(f"note: {note}.")
    header, rows, numbers = table.header, table.rows, table.numbers
    try:
        if dry_run:  # writes nothing: no need to keep the tenant's syncs waiting
            return _import(engine, path, header, rows, numbers, tenant_id=tenant_id, dry_run=True, partial=partial)
        # Under the tenant's lock, as every hub writer is: a sync's apply updates the same hub rows in its own
        # order, so without it the two could deadlock, or the import could overwrite what the apply wrote after
        # the import validated against its read.
        with command_lock(engine, tenant_id, f"ecom-pipeline catalog import {path.name}"):
            return _import(engine, path, header, rows, numbers, tenant_id=tenant_id, dry_run=False, partial=partial)
    except TenantLockTimeout as exc:
        print(f"error: {exc}. Nothing was written; run the import again when that run has finished.", file=sys.stderr)
        return 1
    except TenantLockLost as exc:  # the import is one transaction: rolled back whole
        print(f"error: {exc} Nothing of {path.name} was written; run the import again.", file=sys.stderr)
        return 1
    except IntegrityError as exc:
        # A sync (or another import) wrote the same SKU between our read and our write: the transaction is rolled
        # back whole, so nothing of this import is in the hub.
        print(
            f"error: the hub changed while {path.name} was imported ({type(exc.orig).__name__}); nothing was "
            "written. Run the import again.",
            file=sys.stderr,
        )
        return 1
    except DBAPIError as exc:
        # The validation checks every value against the hub's columns, so this is a gap in it: still one message,
        # never a traceback, and the transaction is rolled back whole.
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
        print(f"error: the hub refused a value of {path.name} ({detail}); nothing was written.", file=sys.stderr)
        return 1


def _keys(rows: list[dict[str, Any]], column: str) -> list[str]:
    """The column's values as the validation reads them (a Parquet integer SKU 123 is the SKU "123")."""
    keys = []
    for row in rows:
        try:
            keys.append(cell_text(row.get(column), column))
        except ValueError:
            continue
    return keys


def _import(
    engine: Any, path: Path, header: list[str], rows: list[dict[str, Any]], numbers: list[int], *, tenant_id: str,
    dry_run: bool, partial: bool,
) -> int:  # fmt: skip
    # One transaction from the hub read to the last write: the checks hold for what is written.
    with engine.begin() as conn:
        state = load_state(conn, tenant_id, _keys(rows, "sku"), _keys(rows, "handle"))
        validation = validate(header, rows, state, numbers)
        if validation.errors:
            shown = validation.errors[:MAX_ERRORS_SHOWN]
            print(f"{path}: {len(validation.rejected_rows) or 'all'} of {len(rows)} rows have errors:", file=sys.stderr)
            for error in shown:
                print(f"  {error}", file=sys.stderr)
            if len(validation.errors) > len(shown):
                print(f"  ... and {len(validation.errors) - len(shown)} more errors", file=sys.stderr)
            if validation.file_errors or not partial:
                why = "the file's columns are wrong" if validation.file_errors else "the import is all-or-nothing"
                hint = "" if validation.file_errors else " (--partial writes the valid rows and rejects the others)"
                print(f"Nothing was written: {why}{hint}.", file=sys.stderr)
                return 1
        counts = apply_import(
            None if dry_run else conn,
            validation,
            tenant_id=tenant_id,
            now=utcnow(),
            source=path.name,
            partial=partial,
        )
    if dry_run:
        print(f"Dry run, nothing written. {path.name} for tenant {tenant_id} would change {_summary(counts)}.")
        for change in counts.changes[:200]:
            print(f"  {change}")
        if len(counts.changes) > 200:
            print(f"  ... and {len(counts.changes) - 200} more")
    else:
        print(f"Imported {path.name} into tenant {tenant_id}: {_summary(counts)}.")
    if validation.errors:
        where = "" if dry_run else " to rejected_records (stage import)"
        print(
            f"{counts.rows_rejected} rows rejected{where}; the other rows were {'checked' if dry_run else 'written'}."
        )
        return 1
    return 0


def run_export(engine: Any, path: Path, *, tenant_id: str) -> int:
    """Write the tenant's live catalogue to ``path`` with the columns ``catalog import`` reads."""
    try:
        with engine.connect() as conn:
            result = export_rows(conn, tenant_id)
        write_table(path, COLUMNS, result.rows)
    except (ExportError, CatalogFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"Exported {result.products} products ({len(result.rows)} variants) of tenant {tenant_id} to {path}.")
    if result.skipped_products_without_handle:
        print(f"warning: {result.skipped_products_without_handle} products without a handle were left out (import "
              "matches products by handle).")  # fmt: skip
    if result.skipped_variants_without_sku:
        print(f"warning: {result.skipped_variants_without_sku} variants without a SKU were left out (import matches "
              "variants by SKU).")  # fmt: skip
    return 0
