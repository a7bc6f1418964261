"""A large catalogue import writes in batches, checks the file before taking the tenant lock, and says how far it is,
on a real warehouse (both backends): the same hub rows as one statement per row, never a statement per row."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, insert, select, update
from sqlalchemy.engine import Connection, Engine

from ecom_pipeline.catalog import commands, hub
from ecom_pipeline.catalog.files import read_table
from ecom_pipeline.catalog.hub import (
    ImportCounts,
    _close_rejections,
    _product_values,
    _reject,
    _same,
    _variant_changes,
    apply_import,
    load_state,
)
from ecom_pipeline.catalog.validate import ProductGroup, Validation, validate
from ecom_pipeline.sync.merge import json_value
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.locks import tenant_lock
from ecom_pipeline.warehouse.schema import hub_products, hub_variants, rejected_records

FULL = (
    "handle,title,description,status,product_type,vendor,shopify_product_type,tags,categories,sku,variant_title,"
    "price,compare_at_price,sale_price,currency,barcode,weight,options,position"
)
NOW = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)
EARLIER = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _csv(path: Path, *lines: str, header: str = FULL) -> Path:
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def _seed(conn: Connection) -> None:
    """Existing hub rows the file meets: a live product, a tombstoned one, a variant whose price excludes tax."""
    base = {"tenant_id": "acme", "synced_at": EARLIER, "deleted_at": None}
    tee = conn.execute(
        insert(hub_products)
        .values(**base, handle="tee", title="Tee", status="active", tags=["a"], categories=["Shirts"])
        .returning(hub_products.c.id)
    ).scalar_one()
    old = conn.execute(
        insert(hub_products)
        .values(**{**base, "deleted_at": EARLIER}, handle="old", title="Old", status="draft")
        .returning(hub_products.c.id)
    ).scalar_one()
    variant = {**base, "currency": "EUR", "options": {}, "price_includes_tax": None}
    conn.execute(
        insert(hub_variants),
        [
            {**variant, "product_id": tee, "sku": "TEE-S", "price": Decimal("10.00"), "position": 1,
             "price_includes_tax": False},
            {**variant, "product_id": tee, "sku": "TEE-M", "price": Decimal("10.00"), "position": 2},
            {**variant, "product_id": old, "sku": "OLD-1", "price": Decimal("5.00"), "position": 1,
             "deleted_at": EARLIER},
        ],
    )  # fmt: skip


def _file(tmp_path: Path) -> Path:
    lines = [
        # existing product: title changed; a price changed (tax-free price follows), one unchanged, one new variant
        "tee,Tee shirt,,active,,,,a,Shirts,TEE-S,,12.00,,,EUR,,,,1",
        "tee,,,,,,,,,TEE-M,,10.00,,,EUR,,,,2",
        "tee,,,,,,,,,TEE-L,Large,10.00,,,EUR,4006381333931,0.3,Size=L,",
        # tombstoned product and variant brought back
        "old,Old,,draft,,,,,,OLD-1,,5.00,,,EUR,,,,1",
        # a bad row (rejected with --partial)
        "bad,Bad,,active,,,,,,BAD-1,,abc,,,EUR,,,,",
    ]
    # new products of several variants, split across write batches
    for p in range(7):
        for size in "SML":
            title, description, status = (f"Product {p}", "<p>x</p>", "active") if size == "S" else ("", "", "")
            lines.append(
                f"p{p},{title},{description},{status},"
                f"variable,Maker,Shirts,t1;t2,Clothes > Shirts,P{p}-{size},{size},{p + 1}.50,,,EUR,,0.2,"
                f"Size={size},"
            )
    return _csv(tmp_path / "cat.csv", *lines)


def _one_by_one(conn: Connection, validation: Validation, *, partial: bool) -> ImportCounts:
    """The import's write as it was before batching (one INSERT or UPDATE per row): the reference."""
    counts = ImportCounts()
    rejected = validation.rejected_rows

    def product(group: ProductGroup) -> int:
        values = _product_values(group)
        if group.hub is None:
            counts.products_created += 1
            counts.changes.append(f"{group.handle}: new product")
            return int(
                conn.execute(
                    insert(hub_products)
                    .values(tenant_id="acme", handle=group.handle, synced_at=NOW, deleted_at=None, **values)
                    .returning(hub_products.c.id)
                ).scalar_one()
            )
        changes = {k: v for k, v in values.items() if not _same(group.hub.values.get(k), v)}
        if group.hub.deleted:
            changes["deleted_at"] = None
        if changes:
            counts.products_updated += 1
            counts.changes.append(
                f"{group.handle}: "
                + ", ".join(f"{k} {json_value(group.hub.values.get(k))!r} -> {v!r}" for k, v in changes.items())
            )
            conn.execute(update(hub_products).where(hub_products.c.id == group.hub.id).values(synced_at=NOW, **changes))
        else:
            counts.products_unchanged += 1
        return group.hub.id

    for group in validation.groups:
        if not [v for v in group.rows if v.row not in rejected]:
            continue
        product_id = product(group)
        for position, variant in enumerate(group.rows, start=1):
            if variant.row in rejected:
                continue
            label = f"{group.handle}/{variant.values['sku']}"
            if variant.hub is None:
                counts.variants_created += 1
                counts.changes.append(f"{label}: new variant")
                values = dict(variant.values)
                values["position"] = values["position"] if values["position"] is not None else position
                conn.execute(
                    insert(hub_variants).values(
                        tenant_id="acme", product_id=product_id, synced_at=NOW, deleted_at=None, **values
                    )
                )
                continue
            changes = _variant_changes(variant)
            if variant.hub.deleted:
                changes["deleted_at"] = None
            if not changes:
                counts.variants_unchanged += 1
                continue
            counts.variants_updated += 1
            counts.changes.append(
                f"{label}: "
                + ", ".join(
                    f"{k} {json_value(variant.hub.values.get(k))!r} -> {json_value(v)!r}"
                    for k, v in changes.items()
                    if k != "price_tax_excl"
                )
            )
            conn.execute(
                update(hub_variants).where(hub_variants.c.id == variant.hub.id).values(synced_at=NOW, **changes)
            )
    _close_rejections(conn, validation, tenant_id="acme")
    if partial:
        counts.rows_rejected = len(rejected)
        _reject(conn, validation, tenant_id="acme", now=NOW, source="cat.csv")
    return counts


def _hub(conn: Connection) -> dict[str, Any]:
    """Every hub row and rejection, ids replaced by keys (sequences are not rolled back on PostgreSQL)."""
    products = {r.id: r._asdict() for r in conn.execute(select(hub_products))}
    handle = {i: p["handle"] for i, p in products.items()}
    variants = {}
    for row in conn.execute(select(hub_variants)):
        values = row._asdict()
        values["product_id"] = handle[values["product_id"]]
        variants[values.pop("sku")] = {k: v for k, v in values.items() if k != "id"}
    rejections = sorted(
        ({k: v for k, v in r._asdict().items() if k != "id"} for r in conn.execute(select(rejected_records))),
        key=lambda r: r["payload"]["row"],
    )
    return {
        "products": {p["handle"]: {k: v for k, v in p.items() if k != "id"} for p in products.values()},
        "variants": variants,
        "rejections": rejections,
        # the order the ids were given in (an INSERT per row numbers them in file order)
        "product_order": [handle[i] for i in sorted(products)],
        "variant_order": [r.sku for r in conn.execute(select(hub_variants.c.sku).order_by(hub_variants.c.id))],
    }


@pytest.mark.parametrize("update_copy_from", [1, 10**9], ids=["updates-by-copy", "updates-by-executemany"])
def test_batched_write_gives_the_same_hub_rows_as_one_statement_per_row(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, update_copy_from: int
) -> None:
    """Prevents the batched write from diverging from what one INSERT/UPDATE per row wrote: every column of every
    hub product and variant (new, changed, tax-free price, revived, unchanged), the id order, the rejections of
    --partial and the counts and change lines, with batches that split the file (a batch closes once it has 5
    rows), changed rows written by COPY and UPDATE ... FROM (PostgreSQL) and by executemany."""
    monkeypatch.setattr(hub, "WRITE_BATCH", 5)
    monkeypatch.setattr(store, "UPDATE_COPY_FROM", update_copy_from)
    with engine.begin() as conn:
        _seed(conn)
    table = read_table(_file(tmp_path))
    skus = [str(r["sku"]) for r in table.rows]
    handles = [str(r["handle"]) for r in table.rows]

    def checked(conn: Connection) -> Validation:
        validation = validate(table.header, table.rows, load_state(conn, "acme", skus, handles), table.numbers)
        assert [str(e) for e in validation.errors] == [
            "row 6, column price: 'abc' is not a decimal amount (write e.g. 12.50)"
        ]
        return validation

    with engine.connect() as conn, conn.begin() as transaction:
        expected_counts = _one_by_one(conn, checked(conn), partial=True)
        expected = _hub(conn)
        transaction.rollback()
    batches: list[int] = []
    with engine.begin() as conn:
        counts = apply_import(
            conn, checked(conn), tenant_id="acme", now=NOW, source="cat.csv", partial=True, progress=batches.append
        )
    with engine.connect() as conn:
        assert _hub(conn) == expected
    assert counts == expected_counts
    assert (counts.products_created, counts.products_updated, counts.variants_created, counts.variants_updated) == (
        7,
        2,
        22,
        2,
    )
    assert batches == [7, 13, 19, 25]  # a product's rows stay in one batch


def _statements(engine: Engine) -> contextlib.AbstractContextManager[list[str]]:
    @contextlib.contextmanager
    def counting() -> Iterator[list[str]]:
        seen: list[str] = []

        def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", before)
        try:
            yield seen
        finally:
            event.remove(engine, "before_cursor_execute", before)

    return counting()


def test_import_of_many_rows_sends_a_few_statements_not_one_per_row(
    engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents the import from writing one INSERT per new row and one UPDATE per changed row (50,000 variants
    took minutes on PostgreSQL, all under the tenant lock): 600 rows to create, then 600 prices to change, each in
    a few statements."""
    header = "handle,title,status,sku,price"
    path = _csv(tmp_path / "c.csv", *[f"h{i // 3},T{i // 3},active,S{i},{i}.00" for i in range(600)], header=header)
    changed = _csv(tmp_path / "p.csv", *[f"h{i // 3},T{i // 3},active,S{i},{i}.50" for i in range(600)], header=header)
    for file in (path, changed):
        with _statements(engine) as seen:
            assert commands.run_import(engine, file, tenant_id="acme", dry_run=False, partial=False) == 0
        writes = [s for s in seen if s.lstrip().upper().startswith(("INSERT", "UPDATE"))]
        assert len(writes) <= 4, writes[:5]
    out = capsys.readouterr().out
    assert "products: created 200" in out and "variants: created 0, updated 600" in out
    with engine.connect() as conn:
        prices = conn.execute(select(hub_variants.c.price).order_by(hub_variants.c.id)).scalars().all()
    assert prices == [Decimal(f"{i}.50") for i in range(600)]


def test_a_bad_file_is_refused_without_waiting_for_the_tenant_lock(
    engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prevents the check of a file from running under the tenant's lock: a file with errors is refused with its
    errors while a sync holds the lock, instead of waiting for the sync (and keeping the tenant's next ones
    waiting while it checks)."""
    monkeypatch.setenv("ECOM_TENANT_LOCK_TIMEOUT_S", "1")
    path = _csv(tmp_path / "c.csv", "tee,Tee,active,TEE-S,abc", header="handle,title,status,sku,price")
    with tenant_lock(engine, "acme", purpose="a sync"):
        assert commands.run_import(engine, path, tenant_id="acme", dry_run=False, partial=False) == 1
    err = capsys.readouterr().err
    assert "row 2, column price: 'abc' is not a decimal amount" in err
    assert "waiting" not in err and "Nothing was written: the import is all-or-nothing" in err


def test_a_hub_change_between_the_check_and_the_lock_is_checked_again(
    engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prevents an import checked before the lock from writing what the hub no longer allows: a price with 3
    decimals is accepted only as the hub's current value, and a sync changes that value between the check and
    the lock; the import checks again under the lock and refuses, writing nothing."""
    with engine.begin() as conn:
        _seed(conn)
        conn.execute(update(hub_variants).where(hub_variants.c.sku == "TEE-S").values(price=Decimal("23.976")))
    path = _csv(
        tmp_path / "c.csv", "tee,Tee,active,TEE-S,23.976", "tee,,,TEE-M,11.00", header="handle,title,status,sku,price"
    )
    real_lock = commands.command_lock

    @contextlib.contextmanager
    def lock_after_a_sync(*args: Any, **kwargs: Any) -> Iterator[Any]:
        with engine.begin() as conn:  # the sync that ran while the file was checked
            conn.execute(update(hub_variants).where(hub_variants.c.sku == "TEE-S").values(price=Decimal("20.00")))
        with real_lock(*args, **kwargs) as held:
            yield held

    monkeypatch.setattr(commands, "command_lock", lock_after_a_sync)
    assert commands.run_import(engine, path, tenant_id="acme", dry_run=False, partial=False) == 1
    err = capsys.readouterr().err
    assert "the hub changed while the file was checked; checking it again" in err
    assert "row 2, column price: '23.976' has more than 2 decimals for EUR" in err
    with engine.connect() as conn:
        prices = {r.sku: r.price for r in conn.execute(select(hub_variants.c.sku, hub_variants.c.price))}
    assert prices["TEE-S"] == Decimal("20.00") and prices["TEE-M"] == Decimal("10.00")  # nothing written


def test_a_partial_import_checked_again_prints_its_errors_once(
    engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prevents a --partial import whose hub changed during the check from printing the same row errors twice
    (once per check), which reads as twice as many bad rows: the re-check's list is printed only when it differs."""
    with engine.begin() as conn:
        _seed(conn)
    path = _csv(
        tmp_path / "c.csv", "tee,Tee,active,TEE-S,abc", "tee,,,TEE-M,11.00", header="handle,title,status,sku,price"
    )
    real_lock = commands.command_lock

    @contextlib.contextmanager
    def lock_after_a_sync(*args: Any, **kwargs: Any) -> Iterator[Any]:
        with engine.begin() as conn:  # a sync changed a row the file names, but not so as to change its errors
            conn.execute(update(hub_variants).where(hub_variants.c.sku == "TEE-M").values(price=Decimal("10.50")))
        with real_lock(*args, **kwargs) as held:
            yield held

    monkeypatch.setattr(commands, "command_lock", lock_after_a_sync)
    assert commands.run_import(engine, path, tenant_id="acme", dry_run=False, partial=True) == 1
    err = capsys.readouterr().err
    assert "the hub changed while the file was checked; checking it again" in err
    assert err.count("row 2, column price: 'abc' is not a decimal amount") == 1, err
    assert err.count("rows have errors") == 1 and "instead" not in err
    with engine.connect() as conn:
        prices = {r.sku: r.price for r in conn.execute(select(hub_variants.c.sku, hub_variants.c.price))}
    assert prices["TEE-M"] == Decimal("11.00")  # the valid row was written


def test_a_long_import_prints_progress_without_flooding(
    engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prevents a large import from sitting silent for minutes, or printing a line per row: rows checked and
    written every PROGRESS_ROWS rows (here 1,000 of a 2,500-row file), on stderr; a small file prints none."""
    monkeypatch.setattr(commands, "PROGRESS_ROWS", 1000)
    monkeypatch.setattr(hub, "WRITE_BATCH", 500)
    header = "handle,title,status,sku,price"
    path = _csv(tmp_path / "c.csv", *[f"h{i},T{i},active,S{i},1.00" for i in range(2500)], header=header)
    assert commands.run_import(engine, path, tenant_id="acme", dry_run=False, partial=False) == 0
    err = [line.split(" (")[0] for line in capsys.readouterr().err.splitlines()]
    assert err == [
        "checked 1,000 of 2,500 rows",
        "checked 2,000 of 2,500 rows",
        "checked 2,500 of 2,500 rows",
        "written 1,000 of 2,500 rows",
        "written 2,000 of 2,500 rows",
        "written 2,500 of 2,500 rows",
    ]
    small = _csv(tmp_path / "s.csv", *[f"h{i},T{i},active,S{i},2.00" for i in range(999)], header=header)
    assert commands.run_import(engine, small, tenant_id="acme", dry_run=False, partial=False) == 0
    assert capsys.readouterr().err == ""


def test_a_large_files_hub_read_by_one_scan_finds_what_the_key_lists_find(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prevents the one-scan read of a large file's hub rows (``SCAN_FROM`` keys or more) from finding other rows
    than the read by lists of SKUs and handles: untrimmed hub SKUs ('TEE-L ' for 'TEE-L'), SKUs several variants
    have once trimmed, tombstones, other tenants' rows and a variant whose product has another handle."""
    with engine.begin() as conn:
        _seed(conn)
        other = conn.execute(
            insert(hub_products)
            .values(tenant_id="acme", handle="cap", title="Cap", status="active", synced_at=EARLIER)
            .returning(hub_products.c.id)
        ).scalar_one()
        globex = conn.execute(
            insert(hub_products)
            .values(tenant_id="globex", handle="tee", title="Tee", status="active", synced_at=EARLIER)
            .returning(hub_products.c.id)
        ).scalar_one()
        variant = {"synced_at": EARLIER, "currency": "EUR", "price": Decimal("1.00")}
        conn.execute(
            insert(hub_variants),
            [
                {**variant, "tenant_id": "acme", "product_id": other, "sku": "TEE-L "},
                {**variant, "tenant_id": "acme", "product_id": other, "sku": " CAP-1"},
                {**variant, "tenant_id": "acme", "product_id": other, "sku": "CAP-1"},
                {**variant, "tenant_id": "globex", "product_id": globex, "sku": "TEE-S"},
            ],
        )
    skus = ["TEE-S", "TEE-M", "TEE-L", "OLD-1", "CAP-1", "NEW-1"]
    handles = ["tee", "old", "new"]
    with engine.connect() as conn:
        by_keys = load_state(conn, "acme", skus, handles)
        monkeypatch.setattr(hub, "SCAN_FROM", 1)
        by_scan = load_state(conn, "acme", skus, handles)
    assert by_scan == by_keys
    assert set(by_keys.variants) == {"TEE-S", "TEE-M", "TEE-L", "OLD-1"}
    assert by_keys.ambiguous_skus == {"CAP-1": [" CAP-1", "CAP-1"]}
    assert sorted(p.handle for p in by_keys.products.values()) == ["cap", "old", "tee"]
