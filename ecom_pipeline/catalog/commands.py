"""``catalog import`` and ``catalog export``: the terminal side (what is printed, exit codes).

Exit codes follow the CLI's rule: 0 done, 1 something in the file or the hub the user can fix (every error is
printed with its row, column and reason), 2 a usage error.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError

from ecom_pipeline.catalog.columns import COLUMNS, ExportError
from ecom_pipeline.catalog.files import CatalogFileError, read_table, write_table
from ecom_pipeline.catalog.hub import ImportCounts, apply_import, export_rows, load_state
from ecom_pipeline.catalog.validate import RowError, Validation, cell_text, validate
from ecom_pipeline.warehouse.locks import TenantLockLost, TenantLockTimeout, command_lock
from ecom_pipeline.warehouse.types import utcnow

MAX_ERRORS_SHOWN = 50


def _summary(counts: ImportCounts) -> str:
    return (
        f"products: created {counts.products_created}, updated {counts.products_updated}, unchanged "
        f"{counts.products_unchanged}; variants: created {counts.variants_created}, updated "
        f"{counts.variants_updated}, unchanged {counts.variants_unchanged}"
    )


class Progress:
    """Progress of a long import on stderr: a line per ``PROGRESS_ROWS`` rows or ``PROGRESS_SECONDS``, whichever
    comes first, for each step (rows checked, rows written); nothing for a file smaller than ``PROGRESS_ROWS`` rows
    (it is done in a moment)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.start = time.monotonic()

    def step(self, what: str) -> Callable[[int], None]:
        """The callback of one step: told the rows done so far, it prints when a line is due."""
        if self.total < PROGRESS_ROWS:
            return lambda done: None
        last = {"done": 0, "time": time.monotonic()}

        def report(done: int) -> None:
            now = time.monotonic()
            if done < self.total and done - last["done"] < PROGRESS_ROWS and now - last["time"] < PROGRESS_SECONDS:
                return
            last.update(done=done, time=now)
            print(f"{what} {done:,} of {self.total:,} rows ({now - self.start:.1f} s)", file=sys.stderr, flush=True)

        return report


PROGRESS_ROWS = 10_000
PROGRESS_SECONDS = 5.0


def run_import(engine: Any, path: Path, *, tenant_id: str, dry_run: bool, partial: bool) -> int:
    """Validate every row, then write all of them, or (``partial``) the good ones, or (``dry_run``) nothing.

    The rows are checked before the tenant's lock is taken, so a long check keeps no sync or webhook apply of the
    tenant waiting; under the lock the hub rows the check read are read again, and checked again only if they
    changed meanwhile, so what is written is always checked against what the hub holds when it is written.
    """
    try:
        table = read_table(path)
    except CatalogFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for note in table.notes:
        print(f"note: {note}.")
    header, rows, numbers = table.header, table.rows, table.numbers
    progress = Progress(len(rows))
    skus, handles = _keys(rows, "sku"), _keys(rows, "handle")
    try:
        with engine.connect() as conn:
            state = load_state(conn, tenant_id, skus, handles)
        validation = validate(header, rows, state, numbers, progress=progress.step("checked"))
        if _refused(path, rows, validation, partial=partial):
            return 1
        if dry_run:  # writes nothing: no need to keep the tenant's syncs waiting
            counts = apply_import(None, validation, tenant_id=tenant_id, now=utcnow(), source=path.name,
                                  partial=partial)  # fmt: skip
            return _report(path, tenant_id, validation, counts, dry_run=True)
        # Under the tenant's lock, as every hub writer is: a sync's apply updates the same hub rows in its own
        # order, so without it the two could deadlock, or the import could overwrite what the apply wrote after
        # the import validated against its read. One transaction from the read below to the last write: the checks
        # hold for what is written.
        with command_lock(engine, tenant_id, f"ecom-pipeline catalog import {path.name}"), engine.begin() as conn:
            current = load_state(conn, tenant_id, skus, handles)
            if current != state:
                # A sync or an edit changed these rows between the check and the lock: check again against
                # what the hub holds now (the result is what checking under the lock would have given).
                print("note: the hub changed while the file was checked; checking it again.", file=sys.stderr)
                shown = validation.errors
                validation = validate(header, rows, current, numbers, progress=progress.step("checked"))
                if _refused(path, rows, validation, partial=partial, already_shown=shown):
                    return 1
            counts = apply_import(conn, validation, tenant_id=tenant_id, now=utcnow(), source=path.name,
                                  partial=partial, progress=progress.step("written"))  # fmt: skip
        return _report(path, tenant_id, validation, counts, dry_run=False)
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


def _refused(
    path: Path,
    rows: list[dict[str, Any]],
    validation: Validation,
    *,
    partial: bool,
    already_shown: list[RowError] | None = None,
) -> bool:
    """Print the validation's errors; True when nothing may be written (a column problem, or without --partial).

    ``already_shown``: the errors a first check printed (a re-check under the tenant's lock): the same list is not
    printed twice, and a different one is introduced as the re-check's, so the reader knows which list counts.
    """
    if not validation.errors:
        return False
    if already_shown is None or validation.errors != already_shown:
        if already_shown:
            print("The check against the hub as it is now found these errors instead:", file=sys.stderr)
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
        return True
    return False


def _report(path: Path, tenant_id: str, validation: Validation, counts: ImportCounts, *, dry_run: bool) -> int:
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
