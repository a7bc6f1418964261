"""The apply's CPU savings (issue 12) leave the hub exactly as the code before them left it.

A small WooCommerce shop is read over real HTTP from the emulator by the real extract into a real warehouse (both
backends), then applied twice from the same staging: once with a saving turned back into the code it replaced,
once as it is now. Every hub row, link (base snapshot and hash included) and rejection must be the same, value
for value; only our own clock's columns (``synced_at`` and the like) may differ.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, Table, func, insert, select, text

from ecom_pipeline.platforms.registry import platforms
from ecom_pipeline.platforms.woocommerce import transform as wc
from ecom_pipeline.sandbox.server import SandboxServer, ShopHandle, ShopSpec
from ecom_pipeline.sync import apply as apply_module
from ecom_pipeline.sync.apply import apply_staged
from ecom_pipeline.sync.canonical import with_tax_flag
from ecom_pipeline.sync.extract_run import ExtractOptions, extract_for_tenant
from ecom_pipeline.sync.hashing import HashedSnapshot, canonical_json, hashed_snapshot, jsonable_hash, stable_hash
from ecom_pipeline.sync.resolve import core as resolve_core
from ecom_pipeline.sync.resolve import products as resolve_products
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.engine import make_engine
from ecom_pipeline.warehouse.schema import (
    entity_links,
    hub_customers,
    hub_inventory,
    hub_order_lines,
    hub_orders,
    hub_products,
    hub_variants,
    rejected_records,
    staging_records,
)
from ecom_pipeline_tests.sync.helpers import T0, connect, link

ENTITIES = ("product", "inventory", "customer", "order")
HUB_TABLES: tuple[Table, ...] = (
    hub_products,
    hub_variants,
    hub_inventory,
    hub_customers,
    hub_orders,
    hub_order_lines,
    entity_links,
    rejected_records,
)
# Written from our clock, not from the shop: two applies of one staging differ there and nowhere else.
CLOCK_COLUMNS = frozenset({"synced_at", "last_synced_at", "created_at", "updated_at", "rejected_at", "resolved_at"})
CIPHER = CredentialCipher(CredentialCipher.generate_key())


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShopHandle]:
    spec = ShopSpec(name="wc-cpu", platform="woocommerce", seed=3, products=40, variable_share=0.6, orders=60,
                    customers=20)  # fmt: skip
    with SandboxServer(shops=[spec], cert_dir=tmp_path_factory.mktemp("certs")) as server:
        yield server.shops["wc-cpu"]


def _stage_shop(engine: Engine, shop: ShopHandle) -> None:
    """Read the whole shop with the real extract (staged, nothing applied)."""
    with engine.begin() as conn:
        store.create_integration(
            conn,
            tenant_id="acme",
            platform="woocommerce",
            name="wc-cpu",
            base_url=shop.http_url,
            credentials={"consumer_key": shop.consumer_key, "consumer_secret": shop.consumer_secret},
            settings={},
            cipher=CIPHER,
        )
    for entity in ENTITIES:
        done = extract_for_tenant(
            engine,
            CIPHER,
            platforms()["woocommerce"],
            tenant="acme",
            entity=entity,
            run_id="extract",
            options=ExtractOptions(full_refresh=False, lookback=timedelta(seconds=300), client={}),
            log=logging.getLogger("apply_cpu"),
        )
        assert not done.errors


def _reset_hub(engine: Engine) -> None:
    """Empty the hub (ids restarting at 1, as in a fresh warehouse) and mark every staged row pending again."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(t.name for t in HUB_TABLES)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(HUB_TABLES):
                conn.execute(table.delete())
            has_sequences = conn.execute(
                text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_sequence'")
            ).scalar_one()
            if has_sequences:
                conn.execute(text("DELETE FROM sqlite_sequence"))
        conn.execute(text("UPDATE staging_records SET applied_at = NULL"))


def _hub_state(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    with engine.connect() as conn:
        return {
            table.name: [
                {k: v for k, v in row._mapping.items() if k not in CLOCK_COLUMNS}
                for row in conn.execute(select(table).order_by(table.c.id))
            ]
            for table in HUB_TABLES
        }


def _apply_all(engine: Engine) -> dict[str, dict[str, int]]:
    specs = platforms()
    reports = {}
    for entity in ENTITIES:
        transforms = {p: s.transforms[entity] for p, s in specs.items() if entity in s.transforms}
        reports[entity] = apply_staged(engine, tenant_id="acme", entity=entity, transforms=transforms, run_id="r")
    return {entity: report.counts for entity, report in reports.items()}


def _old_and_new(
    engine: Engine, shop: ShopHandle, monkeypatch: pytest.MonkeyPatch, old: Callable[[pytest.MonkeyPatch], None]
) -> None:
    """Apply the staged shop with ``old`` (patches restoring the code a saving replaced), then as the code is now:
    the same counts and the same hub, value for value."""
    _stage_shop(engine, shop)
    with monkeypatch.context() as patched:
        old(patched)
        old_counts = _apply_all(engine)
    old_state = _hub_state(engine)
    _reset_hub(engine)
    new_counts = _apply_all(engine)
    new_state = _hub_state(engine)
    assert new_counts == old_counts
    assert old_counts["product"]["created"] == 40 and old_counts["order"]["created"] > 0
    assert len(old_state["entity_links"]) > 100
    for table in HUB_TABLES:
        assert new_state[table.name] == old_state[table.name], table.name


def test_apply_pauses_the_cyclic_collector_per_batch_and_restores_it(
    engine: Engine, shop: ShopHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each batch runs with the collector off (a fifth of the apply's CPU was the collector walking the batch's
    decoded payloads), and it is back on after the apply, after a failed batch, and left off if it was off."""
    _stage_shop(engine, shop)
    seen: list[bool] = []
    woo = platforms()["woocommerce"].transforms["product"]

    def watching(payload: dict[str, Any]) -> Any:
        seen.append(gc.isenabled())
        return woo(payload)

    assert gc.isenabled()
    apply_staged(engine, tenant_id="acme", entity="product", transforms={"woocommerce": watching}, run_id="r")
    assert len(seen) == 40 and not any(seen)
    assert gc.isenabled()

    def failing(payload: dict[str, Any]) -> Any:
        raise RuntimeError("a bug, not a bad payload")

    _reset_hub(engine)
    with pytest.raises(RuntimeError):
        apply_staged(engine, tenant_id="acme", entity="product", transforms={"woocommerce": failing}, run_id="r")
    assert gc.isenabled()

    gc.disable()
    try:
        apply_staged(engine, tenant_id="acme", entity="customer", transforms={}, run_id="r")
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_collector_paused_leaves_the_same_hub(
    engine: Engine, shop: ShopHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    _old_and_new(engine, shop, monkeypatch, lambda p: p.setattr(apply_module, "gc_paused", contextlib.nullcontext))


def test_reset_hub_gives_the_ids_of_a_fresh_warehouse(engine: Engine, shop: ShopHandle, tmp_path: Path) -> None:
    """The comparison above relies on a re-apply numbering rows as the first apply did."""
    _stage_shop(engine, shop)
    _apply_all(engine)
    first = _hub_state(engine)
    _reset_hub(engine)
    _apply_all(engine)
    assert _hub_state(engine) == first


def test_sqlite_new_hub_rows_by_one_executemany_leave_the_same_hub(
    engine: Engine, shop: ShopHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New hub rows on SQLite: one driver executemany numbered by ``last_insert_rowid()`` (was one INSERT ...
    RETURNING a row); PostgreSQL keeps its COPY, so there both runs take the same path."""
    _old_and_new(engine, shop, monkeypatch, lambda p: p.setattr(store, "sqlite_insert_ids", lambda *a: None))


def _hub_product_rows(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "tenant_id": "acme",
            "title": f"P{start + n}",
            "status": "active",
            "tags": [],
            "categories": [],
            "synced_at": T0,
            "source_updated_at": T0,
            "deleted_at": None,
        }
        for n in range(count)
    ]


@pytest.mark.parametrize("gap", [False, True])
def test_sqlite_insert_ids_are_the_ids_one_row_inserts_give(sqlite_warehouse_url: str, gap: bool) -> None:
    """The ids returned are the rows' own, in row order, and the ones one-row INSERTs would have given (after
    the table's largest row was deleted too: SQLite reuses its id, and so do both paths)."""
    engine = make_engine(sqlite_warehouse_url)
    try:
        with engine.begin() as conn:
            store.bulk_insert(conn, hub_products, _hub_product_rows(5, 100))
            if gap:
                conn.execute(hub_products.delete().where(hub_products.c.id == 5))
        rows = _hub_product_rows(7)
        with engine.connect() as conn:
            with conn.begin() as tx:
                one_row = insert(hub_products).returning(hub_products.c.id)
                one_by_one = [int(conn.execute(one_row, row).scalar_one()) for row in rows]
                tx.rollback()
            with conn.begin():
                ids = store.sqlite_insert_ids(conn, hub_products, rows)
                titles = dict(conn.execute(select(hub_products.c.id, hub_products.c.title)).all())
        assert ids == one_by_one == list(range(5 if gap else 6, (5 if gap else 6) + 7))
        assert [titles[i] for i in ids] == [r["title"] for r in rows]
    finally:
        engine.dispose()


def test_sqlite_insert_ids_declines_near_the_largest_rowid(sqlite_warehouse_url: str) -> None:
    """Near 2**63-1 SQLite numbers new rows at random: nothing is sent and the caller takes the one-row path."""
    engine = make_engine(sqlite_warehouse_url)
    try:
        with engine.begin() as conn:
            store.bulk_insert(conn, hub_products, [{"id": 2**63 - 3, **_hub_product_rows(1)[0]}])
            assert store.sqlite_insert_ids(conn, hub_products, _hub_product_rows(3)) is None
            assert conn.execute(select(func.count()).select_from(hub_products)).scalar_one() == 1
            assert store.sqlite_insert_ids(conn, hub_products, _hub_product_rows(2)) == [2**63 - 2, 2**63 - 1]
    finally:
        engine.dispose()


def test_reference_lookups_read_no_snapshots_and_leave_the_same_hub(
    engine: Engine, shop: ShopHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Orders and inventory look their variants and customers up by link for the hub id (and the stock's SKU and
    deletion) only: the links' base snapshots are no longer read for it. Old path: every column."""
    full = store.get_links

    def every_column(*args: Any, columns: Any = None) -> Any:
        return full(*args)

    _old_and_new(engine, shop, monkeypatch, lambda p: p.setattr(store, "get_links", every_column))


def test_get_links_reads_only_the_columns_asked_for(engine: Engine) -> None:
    with engine.begin() as conn:
        iid = connect(conn)
        link(
            conn,
            iid,
            entity="variant",
            external_id="7",
            hub_id=3,
            sku="S-7",
            base_snapshot={"title": "x"},
            base_hash="h",
        )
        whole = store.get_links(conn, iid, "variant", ["7", "8"])
        narrow = store.get_links(conn, iid, "variant", ["7", "8"], columns=("hub_id", "sku", "deleted_at"))
    assert list(narrow) == list(whole) == ["7"]
    assert narrow["7"]._fields == ("external_id", "hub_id", "sku", "deleted_at")
    assert (narrow["7"].hub_id, narrow["7"].sku, narrow["7"].deleted_at) == (3, "S-7", None)
    assert whole["7"].base_snapshot == {"title": "x"}


def test_bulk_writes_column_by_column_leave_the_hub_sqlalchemy_inserts_leave(
    engine: Engine, shop: ShopHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Old path: SQLAlchemy's own INSERTs (no COPY, no driver executemany), the reference both fast paths must
    equal; new: COPY fields and driver parameters built a column at a time."""

    def sqlalchemy_inserts(p: pytest.MonkeyPatch) -> None:
        p.setattr(store, "BULK_COPY", False)
        p.setattr(store, "SQLITE_RAW", False)

    _old_and_new(engine, shop, monkeypatch, sqlalchemy_inserts)


@pytest.mark.parametrize("table", [entity_links, hub_variants, hub_order_lines, hub_inventory, hub_orders])
def test_processed_columns_equal_the_row_by_row_values(engine: Engine, table: Table) -> None:
    """Every column type of the tables the apply bulk-writes, NULL or not, through each dialect's bind processing
    and COPY's text form: the same value as one value at a time."""
    samples: dict[str, Any] = {
        "Money": Decimal("12.50"),
        "UTCDateTime": T0,
        "JSON": {"b": [1, "é"], "a": None},
        "Boolean": True,
        "Integer": 7,
        "BigInteger": 2**40,
        "String": "tab\there\\ and é",
        "Text": "line\nbreak",
    }
    rows: list[dict[str, Any]] = []
    for n in range(6):
        row: dict[str, Any] = {}
        for column in table.c:
            kind = type(column.type).__name__
            value = next((v for name, v in samples.items() if name in kind or name in repr(column.type)), "x")
            row[column.key] = None if (n + len(column.key)) % 3 == 0 else value
        rows.append(row)
    keys = [c.key for c in table.c]
    dialect = engine.dialect
    for make in (store._bind_processor, store._copy_writer):
        processors = [make(table.c[k].type, dialect) for k in keys]
        pairs = zip(keys, processors, strict=True)
        expected = [[v if p is None else p(v) for v in (row[k] for row in rows)] for k, p in pairs]
        assert store.processed_columns(rows, keys, processors) == expected


def test_snapshots_carrying_their_hashed_text_leave_the_same_hub(
    engine: Engine, shop: ShopHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New: each snapshot keeps the canonical JSON text its digest was computed over, and PostgreSQL's COPY of the
    links sends that text to the JSONB column. Old: plain dicts, encoded again by the column's bind processing."""

    def plain(data: dict[str, Any]) -> tuple[dict[str, Any], str]:
        return data, jsonable_hash(data)

    def old(p: pytest.MonkeyPatch) -> None:
        p.setattr(resolve_core, "hashed_snapshot", plain)
        p.setattr(resolve_products, "hashed_snapshot", plain)

    _old_and_new(engine, shop, monkeypatch, old)


def test_hashed_snapshot_is_the_digest_and_text_of_jsonable_hash_and_read_only() -> None:
    data = {"title": 'Tée \u2028 "q"', "price": "9.90", "options": {"b": "1", "a": "2"}, "tags": ["x"], "n": None}
    snapshot, digest = hashed_snapshot(dict(data))
    assert isinstance(snapshot, HashedSnapshot) and snapshot == data
    assert digest == jsonable_hash(data) == stable_hash(data)
    assert snapshot.json_text == canonical_json(data)
    # SQLite (and every non-COPY path) encodes it exactly as the plain dict it was.
    assert json.dumps(snapshot) == json.dumps(data)
    with pytest.raises(TypeError):
        snapshot["title"] = "changed"
    with pytest.raises(TypeError):
        snapshot.pop("n")
    assert dict(snapshot) == data and type(dict(snapshot)) is dict


def test_copy_sends_the_snapshot_text_to_jsonb_and_reads_back_the_value(engine: Engine) -> None:
    snapshot, digest = hashed_snapshot({"title": "Tée", "price": "1.50", "options": {"z": "1", "a": "2"}})
    kind = entity_links.c.base_snapshot.type
    if engine.dialect.name == "postgresql":
        assert store._copy_writer(kind, engine.dialect)(snapshot) == snapshot.json_text
        assert store._copy_writer(kind, engine.dialect)(dict(snapshot)) != snapshot.json_text  # re-encoded
    with engine.begin() as conn:
        iid = connect(conn)
        link(conn, iid, base_snapshot=snapshot, base_hash=digest)
        assert store.get_links(conn, iid, "product", ["1"])["1"].base_snapshot == dict(snapshot)


def test_sqlite_snapshot_text_bind_leaves_the_same_hub(
    engine: Engine, shop: ShopHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New: SQLite's bulk inserts store a snapshot as the text its digest was computed over. Old: the JSON column's
    bind processing encoded the dict again. The same values read back, in every table."""
    _old_and_new(engine, shop, monkeypatch, lambda p: p.setattr(store, "_snapshot_text", lambda process: process))


def test_sqlite_time_bind_by_isoformat_leaves_the_same_hub(
    engine: Engine, shop: ShopHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New: SQLite's bulk writes bind aware times by ``isoformat``. Old: ``UTCDateTime``'s bind processing."""
    _old_and_new(engine, shop, monkeypatch, lambda p: p.setattr(store, "_sqlite_time", lambda process: process))


def test_sqlite_links_store_the_text_their_base_hash_was_computed_over(engine: Engine, shop: ShopHandle) -> None:
    """On SQLite (whose JSON column is text) every link's stored ``base_snapshot`` text hashes to its
    ``base_hash``: the snapshot's own canonical text was stored, not a second encoding of the dict."""
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's JSONB keeps the value, not the text")
    _stage_shop(engine, shop)
    _apply_all(engine)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT base_snapshot, base_hash FROM entity_links WHERE base_snapshot IS NOT NULL"
        ).all()
    assert len(rows) > 100
    for text_, digest in rows:
        assert hashlib.sha256(text_.encode("utf-8")).hexdigest() == digest


def _staged_products(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(staging_records.c.payload).where(staging_records.c.entity == "product")).scalars()
        return [dict(payload) for payload in rows]


@pytest.mark.parametrize("flag", [None, True, False])
def test_woocommerce_variants_flagged_as_built_equal_the_replaced_ones(
    sqlite_warehouse_url: str, shop: ShopHandle, flag: bool | None
) -> None:
    """WooCommerce variants take the tax flag as they are built (was: built, then each replaced by
    ``with_tax_flag``, a second validated dataclass per variant): the same products, variant for variant."""
    engine = make_engine(sqlite_warehouse_url)
    try:
        _stage_shop(engine, shop)
        records = _staged_products(engine)
    finally:
        engine.dispose()
    assert len(records) == 40
    for record in records:
        record = {**record, "prices_include_tax": flag}
        product, variations = wc._split_record(record)
        if product.get("type") == "variable":
            unflagged = tuple(
                wc.variant_from_variation(variation, product, position=index)
                for index, variation in enumerate(wc._sorted_variations(variations))
            )
        else:
            unflagged = (wc._simple_variant(product, str(product["id"]), None),)
        expected = with_tax_flag(unflagged, wc._prices_include_tax(record, product))
        assert wc.product_to_canonical(record).variants == expected
        for variation, variant in zip(variations or [], unflagged, strict=False):
            flagged = wc.variant_from_variation(variation, product, includes_tax=flag)
            assert flagged == with_tax_flag((wc.variant_from_variation(variation, product),), flag)[0]
            assert variant.price_includes_tax is None
