"""Store operations on a real warehouse: integrations lifecycle, cursors, staging, runs, rejections."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, select

from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.engine import make_engine
from ecom_pipeline.warehouse.schema import entity_links, rejected_records, staging_records, sync_runs
from ecom_pipeline.warehouse.types import utcnow
from ecom_pipeline_tests.sync.helpers import connect, link


@pytest.fixture
def engine(warehouse_url: str) -> Iterator[Engine]:
    eng = make_engine(warehouse_url)
    yield eng
    eng.dispose()


@pytest.fixture
def cipher() -> CredentialCipher:
    return CredentialCipher(CredentialCipher.generate_key())


def _connect(
    conn: Connection, cipher: CredentialCipher, *, tenant: str = "acme", url: str = "https://shop.example", **kw: Any
) -> int:
    return store.create_integration(
        conn,
        tenant_id=tenant,
        platform=kw.get("platform", "woocommerce"),
        name=kw.get("name", "Shop"),
        base_url=url,
        credentials=kw.get("credentials", {"key": "k1"}),
        settings=kw.get("settings", {"currency": "EUR"}),
        cipher=cipher,
    )


def test_reconnecting_a_disconnected_shop_reuses_its_row_and_history(engine: Engine, cipher: CredentialCipher) -> None:
    """Reconnect must not orphan links (which would re-create the whole catalogue in the hub)."""
    with engine.begin() as conn:
        iid = _connect(conn, cipher)
        link(conn, iid, now=utcnow())
        store.disconnect_integration(conn, iid)
        record = store.get_integration(conn, iid)
        assert record.status == "disconnected" and not record.active
        assert store.list_integrations(conn, tenant_id="acme") == []
        assert [r.id for r in store.list_integrations(conn, tenant_id="acme", include_disconnected=True)] == [iid]
        assert store.active_tenants(conn) == []
        again = _connect(conn, cipher, credentials={"key": "k2"}, url="https://shop.example/")
        assert again == iid
        assert store.get_integration(conn, iid).status == "active"
        assert store.load_credentials(conn, iid, cipher)["key"].reveal() == "k2"
        assert store.active_external_ids(conn, iid, "product") == {"1"}
        assert store.active_tenants(conn) == ["acme"]


def test_unknown_integration_raises_a_clear_error(engine: Engine) -> None:
    """A stale id from a CLI flag must say which id is missing, not fail with a NoneType error."""
    with engine.connect() as conn, pytest.raises(store.IntegrationNotFound, match="integration 999"):
        store.get_integration(conn, 999)


def test_active_tenants_sorted_and_sync_result_recorded(engine: Engine, cipher: CredentialCipher) -> None:
    """Sensors partition by active tenant; status pages read the last sync/error from the integration row."""
    with engine.begin() as conn:
        b = _connect(conn, cipher, tenant="bravo")
        _connect(conn, cipher, tenant="alpha")
        _connect(conn, cipher, tenant="alpha", url="https://second.example")
        assert store.active_tenants(conn) == ["alpha", "bravo"]
        store.mark_sync_result(conn, b, ok=False, error="HTTP 401", counts=None)
        rec = store.get_integration(conn, b)
        assert rec.status == "error" and rec.last_error == "HTTP 401" and rec.last_error_at is not None
        assert store.active_tenants(conn) == ["alpha", "bravo"]  # an erroring shop is still synced
        store.mark_sync_result(conn, b, ok=True, error=None, counts={"product": 3})
        rec = store.get_integration(conn, b)
        assert rec.status == "active" and rec.last_success_at is not None and rec.counts == {"product": 3}


def test_cursor_upsert_replaces_instead_of_duplicating(engine: Engine, cipher: CredentialCipher) -> None:
    """A second set_cursor must update (a duplicate key error would fail every incremental sync after the first)."""
    with engine.begin() as conn:
        iid = _connect(conn, cipher)
        assert store.get_cursor(conn, iid, "product") is None
        store.set_cursor(conn, integration_id=iid, tenant_id="acme", entity="product", cursor={"id": 1})
        store.set_cursor(conn, integration_id=iid, tenant_id="acme", entity="product", cursor={"id": 2})
        assert store.get_cursor(conn, iid, "product") == {"id": 2}
        assert store.get_cursor(conn, iid, "order") is None


def test_staging_pending_applied_and_purge(engine: Engine, cipher: CredentialCipher) -> None:
    """Pending rows page by id, applied rows leave the queue, and purge keeps anything not yet applied."""
    with engine.begin() as conn:
        iid = _connect(conn, cipher)
        records = [
            store.StagedRecord("acme", iid, "woocommerce", "product", str(i), {"id": i, "name": f"P{i}"})
            for i in range(5)
        ]
        assert store.stage_records(conn, records, run_id="run-1") == 5
        first = store.pending_staging(conn, tenant_id="acme", entity="product", limit=3)
        assert [r.external_id for r in first] == ["0", "1", "2"]
        assert first[0].payload_hash and len(first[0].payload_hash) == 64
        rest = store.pending_staging(conn, tenant_id="acme", entity="product", after_id=first[-1].id)
        assert [r.external_id for r in rest] == ["3", "4"]
        store.mark_applied(conn, [r.id for r in first])
        assert len(store.pending_staging(conn, tenant_id="acme", entity="product")) == 2
        assert store.pending_staging(conn, tenant_id="acme", entity="product", integration_ids=[iid + 1]) == []
        assert store.purge_applied_staging(conn, utcnow() + timedelta(seconds=1)) == 3
        assert store.count_rows(conn, staging_records) == 2


def test_sync_run_lifecycle_records_counts_and_duration(engine: Engine, cipher: CredentialCipher) -> None:
    """Analysts read sync_runs to see what ran and what changed; counts must land in their columns."""
    with engine.begin() as conn:
        iid = _connect(conn, cipher)
        run = store.start_sync_run(
            conn,
            tenant_id="acme",
            integration_id=iid,
            platform="woocommerce",
            entity="product",
            direction="pull",
            stage="extract",
            full_refresh=False,
            run_id="dg-1",
            cursor_before=None,
        )
        store.finish_sync_run(
            conn,
            run,
            status="success",
            counts={
                "rows_fetched": 10,
                "created": 4,
                "updated": 1,
                "unchanged": 5,
                "api_calls": 2,
                "throttle_wait_s": 0.5,
                "bogus": 1,
            },
            cursor_after={"id": 10},
            error=None,
        )
        row = conn.execute(select(sync_runs).where(sync_runs.c.id == run)).one()
        assert (row.status, row.rows_fetched, row.created, row.unchanged, row.api_calls) == ("success", 10, 4, 5, 2)
        assert row.throttle_wait_s == 0.5 and row.duration_s is not None and row.duration_s >= 0
        assert row.cursor_after == {"id": 10} and row.dagster_run_id == "dg-1"


def test_rejections_are_resolved_when_the_record_later_applies(engine: Engine, cipher: CredentialCipher) -> None:
    """An open rejection for a record that has since applied would page someone for nothing."""
    with engine.begin() as conn:
        iid = _connect(conn, cipher)
        store.reject_record(
            conn,
            tenant_id="acme",
            integration_id=iid,
            platform="woocommerce",
            entity="product",
            external_id="7",
            stage="transform",
            reason="bad price",
            payload={"price": "x"},
            staging_id=None,
            run_id=None,
        )
        assert store.resolve_rejections(conn, iid, "product", "7") == 1
        row = conn.execute(select(rejected_records)).one()
        assert row.resolved_at is not None and row.reason == "bad price"


def test_upsert_links_batch_updates_existing_and_clears_deleted(engine: Engine, cipher: CredentialCipher) -> None:
    """Link upserts run as one executemany per page; a reappearing record must come back to life."""
    now = utcnow()
    with engine.begin() as conn:
        iid = _connect(conn, cipher)
        link(conn, iid, hub_id=10, now=now, base_hash="a")
        store.mark_links_deleted(conn, iid, "product", ["1"], now)
        assert store.active_external_ids(conn, iid, "product") == set()
        link(conn, iid, hub_id=10, now=now, base_hash="b")
        links = store.get_links(conn, iid, "product", ["1", "2"])
        assert set(links) == {"1"} and links["1"].base_hash == "b" and links["1"].deleted_at is None
        assert store.count_rows(conn, entity_links) == 1


def test_embedded_sqlite_store_works_too(sqlite_warehouse_url: str, cipher: CredentialCipher, tmp_path: Path) -> None:
    """The embedded default (SQLite) must support the same upserts as PostgreSQL."""
    engine = make_engine(sqlite_warehouse_url)
    with engine.begin() as conn:
        iid = _connect(conn, cipher)
        store.set_cursor(conn, integration_id=iid, tenant_id="acme", entity="order", cursor={"a": 1})
        store.set_cursor(conn, integration_id=iid, tenant_id="acme", entity="order", cursor={"a": 2})
        assert store.get_cursor(conn, iid, "order") == {"a": 2}
    engine.dispose()


def test_a_nul_character_in_a_payload_does_not_block_staging(warehouse_url: str) -> None:
    """Prevents one U+0000 in a shop payload from failing the staging transaction on PostgreSQL on every run."""
    from ecom_pipeline.warehouse.schema import staging_records as _staging

    engine = make_engine(warehouse_url)
    with engine.begin() as conn:
        iid = connect(conn)
        store.stage_records(
            conn,
            [
                store.StagedRecord(
                    tenant_id="acme",
                    integration_id=iid,
                    platform="woocommerce",
                    entity="product",
                    external_id="1",
                    payload={"product": {"id": 1, "description": "bad\x00byte"}, "variations": []},
                )
            ],
            run_id="r",
        )
    with engine.connect() as conn:
        payload = conn.execute(select(_staging.c.payload)).scalar_one()
    assert payload["product"]["description"] == "bad\ufffdbyte"
    engine.dispose()


def test_staged_payload_is_stored_as_the_hashed_text(engine: Engine, cipher: CredentialCipher) -> None:
    """Staging encodes a payload once: what it stores reads back equal, its hash is the one ``payload_hash``
    gives (no-change detection compares them across versions), and a delete stores no payload and no hash."""
    from decimal import Decimal

    from ecom_pipeline.sync.hashing import payload_hash

    payload = {"b": [1, 2.5, None, True], "a": {"z": "é \\u0000 literal", "y": "ü"}, "c": '\n\t"'}
    odd = {"price": Decimal("1.10")}  # not plain JSON: the canonical form, as before
    with engine.begin() as conn:
        iid = _connect(conn, cipher)
        store.stage_records(
            conn,
            [
                store.StagedRecord("acme", iid, "woocommerce", "product", "1", payload),
                store.StagedRecord("acme", iid, "woocommerce", "product", "2", odd),
                store.StagedRecord("acme", iid, "woocommerce", "product", "3", None, op="delete"),
            ],
            run_id="r",
        )
        rows = store.pending_staging(conn, tenant_id="acme", entity="product")
    assert [r.payload for r in rows] == [payload, {"price": "1.10"}, None]
    assert [r.payload_hash for r in rows] == [payload_hash(payload), payload_hash(odd), None]


def test_staged_payloads_read_back_exactly_through_the_fast_decoder(engine: Engine, cipher: CredentialCipher) -> None:
    """JSON columns are decoded by ``jsoncodec.loads`` (orjson where it agrees with ``json``): integers beyond 64
    bits stay exact ints (orjson alone would read them as floats), non-ASCII text and floats read back equal."""
    payload = {"id": 2**70, "neg": -(2**64) - 1, "n": "Caf\u00e9 \U0001f600 \u4e2d", "w": 0.5, "x": None, "e": 1e-7}
    with engine.begin() as conn:
        iid = _connect(conn, cipher)
        store.stage_records(conn, [store.StagedRecord("acme", iid, "woocommerce", "product", "1", payload)], run_id="r")
        stored = store.pending_staging(conn, tenant_id="acme", entity="product")[0].payload
    assert stored == payload
    assert [type(stored[k]) for k in ("id", "neg", "w", "e")] == [int, int, float, float]


def test_large_staged_payloads_are_lz4_compressed_on_postgresql(engine: Engine, cipher: CredentialCipher) -> None:
    """Staging compresses its payloads with lz4 where the server has it (faster to write and to read back than
    pglz), only for its own transaction: other writes keep the server's default."""
    from sqlalchemy import text

    if engine.dialect.name != "postgresql":
        pytest.skip("TOAST compression is PostgreSQL's")
    with engine.connect() as conn:
        has_lz4 = conn.execute(
            text("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
        ).scalar()
        default = conn.execute(text("SHOW default_toast_compression")).scalar()
    if not has_lz4:
        pytest.skip("this PostgreSQL was built without lz4")
    big = {"description": " ".join(f"word{i}" for i in range(3000))}
    with engine.begin() as conn:
        iid = _connect(conn, cipher)
        store.stage_records(conn, [store.StagedRecord("acme", iid, "woocommerce", "product", "1", big)], run_id="r")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT pg_column_compression(payload) FROM staging_records")).scalar() == "lz4"
        assert conn.execute(text("SHOW default_toast_compression")).scalar() == default
        assert store.pending_staging(conn, tenant_id="acme", entity="product")[0].payload == big


def test_staging_keeps_separators_and_backslashes_in_every_text_column(
    engine: Engine, cipher: CredentialCipher
) -> None:
    """Staging on PostgreSQL streams rows with COPY, whose text format gives tab, newline and backslash a meaning:
    values carrying them (ids, run ids, payload strings) must read back exactly as given, and times stay UTC."""
    from datetime import UTC, datetime, timedelta, timezone

    odd_id = "a\tb\\c\nd\re"
    payload = {"text": "tab\there\\back\nline", "nested": [{"k": "\\N"}], "empty": ""}
    updated = datetime(2026, 11, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    with engine.begin() as conn:
        iid = _connect(conn, cipher)
        store.stage_records(
            conn,
            [
                store.StagedRecord("acme", iid, "woocommerce", "product", odd_id, payload, source_updated_at=updated),
                store.StagedRecord("acme", iid, "woocommerce", "product", "\\N", None, op="delete"),
            ],
            run_id="run\twith\\odd",
        )
        rows = store.pending_staging(conn, tenant_id="acme", entity="product")
    assert [r.external_id for r in rows] == [odd_id, "\\N"]
    assert [r.payload for r in rows] == [payload, None]
    assert [r.dagster_run_id for r in rows] == ["run\twith\\odd"] * 2
    assert rows[0].source_updated_at == datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    assert rows[1].source_updated_at is None and rows[1].payload_hash is None
    assert rows[0].op == "upsert" and rows[1].op == "delete" and rows[0].applied_at is None


def _stored_text(conn: Connection, table: Any, key: str, pattern: str) -> list[list[Any]]:
    """The rows whose ``key`` is LIKE ``pattern``, every column but the id as the database's own text of it."""
    from sqlalchemy import Text, cast

    query = select(*[cast(c, Text) for c in table.c if c.name != "id"]).where(table.c[key].like(pattern))
    return [list(row) for row in conn.execute(query.order_by(table.c[key]))]


def test_staging_stores_the_same_bytes_by_either_path(
    engine: Engine, cipher: CredentialCipher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Staging writes by COPY on PostgreSQL and by the driver's executemany on SQLite: the stored row, read as the
    database holds it, is the one SQLAlchemy's INSERT stores (payload text, hash, times, NULLs)."""
    from datetime import UTC, datetime, timedelta, timezone

    fixed = datetime(2026, 12, 5, 4, 0, 0, 123456, tzinfo=UTC)
    monkeypatch.setattr(store, "utcnow", lambda: fixed)
    updated = datetime(2026, 11, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    payload = {"b": [1, 2.5, None, True, 2**70], "a": {"z": "é \t\\ x", "y": "ü 中"}, "c": '\n\t"'}
    with engine.begin() as conn:
        iid = _connect(conn, cipher)
    for tag, fast in (("slow", False), ("fast", True)):
        monkeypatch.setattr(store, "STAGING_COPY", fast)
        monkeypatch.setattr(store, "SQLITE_RAW", fast)
        with engine.begin() as conn:
            store.stage_records(
                conn,
                [
                    store.StagedRecord(
                        "acme", iid, "woocommerce", "product", f"{tag}-1", payload, source_updated_at=updated
                    ),
                    store.StagedRecord("acme", iid, "woocommerce", "product", f"{tag}-2", None, op="delete"),
                ],
                run_id="r\t1",
            )
    with engine.connect() as conn:
        raw = {tag: _stored_text(conn, staging_records, "external_id", f"{tag}-%") for tag in ("slow", "fast")}
    assert len(raw["fast"]) == 2
    assert [[v if v is None else v.replace("slow", "fast") for v in r] for r in raw["slow"]] == raw["fast"]


def test_staging_refuses_a_naive_time(engine: Engine, cipher: CredentialCipher) -> None:
    """A naive shop time is refused as the column type refuses it, whichever way the rows are sent."""
    from datetime import datetime

    from sqlalchemy.exc import StatementError

    with pytest.raises(StatementError, match="naive datetime"), engine.begin() as conn:
        iid = _connect(conn, cipher)
        store.stage_records(
            conn,
            [
                store.StagedRecord(
                    "acme", iid, "woocommerce", "product", "1", {}, source_updated_at=datetime(2026, 1, 1)
                )
            ],
            run_id="r",
        )


def test_times_repeated_in_a_batch_are_stored_as_each_alone(engine: Engine, cipher: CredentialCipher) -> None:
    """Bulk writes convert each distinct time of a batch once (``store._time_memo``): the same instant given in
    two zones is stored as the same UTC text, and a naive time after an aware one of the same wall time is still
    refused."""
    from datetime import UTC, datetime, timedelta, timezone

    from sqlalchemy.exc import StatementError

    utc = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    plus2 = datetime(2026, 11, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    with engine.begin() as conn:
        iid = _connect(conn, cipher)
        store.stage_records(
            conn,
            [
                store.StagedRecord("acme", iid, "woocommerce", "product", str(n), {}, source_updated_at=when)
                for n, when in enumerate([utc, plus2, utc, plus2])
            ],
            run_id="r",
        )
        stored = _stored_text(conn, staging_records, "external_id", "%")
    assert len({row[8] for row in stored}) == 1  # source_updated_at, as the database holds it
    assert len({row[9] for row in stored}) == 1  # fetched_at: the batch's one time
    with pytest.raises(StatementError, match="naive datetime"), engine.begin() as conn:
        store.stage_records(
            conn,
            [
                store.StagedRecord("acme", iid, "woocommerce", "product", str(n), {}, source_updated_at=when)
                for n, when in enumerate([utc, utc.replace(tzinfo=None)])
            ],
            run_id="r",
        )


def test_bulk_insert_by_copy_stores_what_an_insert_stores(
    engine: Engine, cipher: CredentialCipher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL ``bulk_insert`` streams rows with COPY, on SQLite it hands them to the driver's executemany:
    every column type (JSON with None, money, aware times, booleans, text with separators) must read back, at the
    SQL level too (the stored text on SQLite), as the same rows sent by SQLAlchemy's INSERT."""
    from datetime import UTC, datetime, timedelta, timezone
    from decimal import Decimal

    from sqlalchemy import text

    from ecom_pipeline.warehouse.schema import hub_inventory, hub_order_lines, hub_orders, hub_products, hub_variants

    when = datetime(2026, 11, 1, 12, 0, tzinfo=timezone(timedelta(hours=-5)))
    with engine.begin() as conn:
        iid = _connect(conn, cipher)
        product = conn.execute(
            hub_products.insert()
            .values(tenant_id="acme", title="p", status="active", synced_at=when)
            .returning(hub_products.c.id)
        ).scalar_one()
        variant = conn.execute(
            hub_variants.insert()
            .values(tenant_id="acme", product_id=product, sku="S", price=Decimal("1"), synced_at=when)
            .returning(hub_variants.c.id)
        ).scalar_one()
        order = conn.execute(
            hub_orders.insert()
            .values(
                tenant_id="acme",
                integration_id=iid,
                status="processing",
                currency="EUR",
                total=Decimal("3"),
                synced_at=when,
            )
            .returning(hub_orders.c.id)
        ).scalar_one()

    def rows(tag: str) -> dict[str, list[dict[str, Any]]]:
        link = {
            "tenant_id": "acme",
            "integration_id": iid,
            "entity": "variant",
            "external_id": f"{tag}\tid\\1",
            "external_parent_id": None,
            "external_gid": None,
            "hub_id": variant,
            "sku": "a\nb",
            "base_snapshot": {"price": "1.10", "t": "x\\y\tz", "none": None},
            "base_hash": "h",
            "external_updated_at": when,
            "last_synced_at": when,
            "deleted_at": None,
        }
        null_snapshot = {**link, "external_id": f"{tag}-null", "base_snapshot": None}
        line = {
            "tenant_id": "acme",
            "order_id": order,
            "external_line_id": f"{tag}-line",
            "variant_id": None,
            "sku": None,
            "title": "T\\itle",
            "quantity": 2,
            "unit_price": Decimal("1.100000"),
            "subtotal": "2.2",
            "total": Decimal("2.2"),
            "tax": None,
        }
        stock = {
            "tenant_id": "acme",
            "variant_id": variant,
            "location": f"woocommerce:{iid}:{tag}",
            "integration_id": iid,
            "available": 3,
            "managed": False,
            "stock_status": "instock",
            "stock_pool": None,
            "sku": "S",
            "source_updated_at": when,
            "synced_at": when,
            "deleted_at": None,
        }
        return {"links": [link, null_snapshot], "lines": [line], "stock": [stock]}

    for tag, copy in (("insert", False), ("copy", True)):
        monkeypatch.setattr(store, "BULK_COPY", copy)
        monkeypatch.setattr(store, "SQLITE_RAW", copy)
        with engine.begin() as conn:
            batch = rows(tag)
            store.bulk_insert(conn, entity_links, batch["links"])
            store.bulk_insert(conn, hub_order_lines, batch["lines"])
            store.bulk_insert(conn, hub_inventory, batch["stock"])

    def read(conn: Connection, table: Any, key: str, tag: str) -> list[tuple[Any, ...]]:
        result = conn.execute(select(table).where(table.c[key].like(f"{tag}%")).order_by(table.c[key])).all()
        return [tuple(v for k, v in row._mapping.items() if k not in ("id",)) for row in result]

    with engine.connect() as conn:
        for table, key in ((entity_links, "external_id"), (hub_order_lines, "external_line_id")):
            by_insert = read(conn, table, key, "insert")
            by_copy = read(conn, table, key, "copy")
            assert len(by_insert) == len(by_copy) > 0
            for a, b in zip(by_insert, by_copy, strict=True):
                assert [str(v).replace("insert", "copy") for v in a] == [str(v) for v in b]
        for table, key in (
            (entity_links, "external_id"),
            (hub_order_lines, "external_line_id"),
            (hub_inventory, "location"),
        ):
            raw = [*_stored_text(conn, table, key, "%insert%"), *_stored_text(conn, table, key, "%copy%")]
            half = len(raw) // 2
            assert (
                half > 0
                and [[v if v is None else v.replace("insert", "copy") for v in r] for r in raw[:half]] == raw[half:]
            )
        stock = conn.execute(select(hub_inventory).order_by(hub_inventory.c.location)).all()
        assert [(r.managed, r.available, r.source_updated_at) for r in stock] == [
            (False, 3, when.astimezone(UTC)),
            (False, 3, when.astimezone(UTC)),
        ]
        if conn.dialect.name != "postgresql":
            return
        null_kinds = conn.execute(
            text(
                "SELECT external_id, base_snapshot IS NULL, jsonb_typeof(base_snapshot) FROM entity_links"
                " WHERE external_id LIKE '%-null' ORDER BY external_id"
            )
        ).all()
        by_insert_kind, by_copy_kind = (tuple(r)[1:] for r in null_kinds)
        assert by_insert_kind == by_copy_kind


def test_the_two_instants_of_a_repeated_dst_hour_are_stored_apart(engine: Engine, cipher: CredentialCipher) -> None:
    """Prevents the per-batch time memo from storing the second 01:30 of a night the clocks go back as the first:
    the two aware times differ only in ``fold``, compare and hash equal, and are an hour apart."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    first = datetime(2026, 11, 1, 1, 30, tzinfo=ZoneInfo("America/New_York"))
    second = first.replace(fold=1)
    assert first == second and hash(first) == hash(second)  # what fooled a memo keyed on the time alone
    with engine.begin() as conn:
        iid = _connect(conn, cipher)
        store.stage_records(
            conn,
            [
                store.StagedRecord("acme", iid, "woocommerce", "product", str(n), {}, source_updated_at=when)
                for n, when in enumerate([first, second])
            ],
            run_id="r",
        )
        stored = conn.execute(
            select(staging_records.c.external_id, staging_records.c.source_updated_at).order_by(
                staging_records.c.external_id
            )
        ).all()
    assert [row.source_updated_at.hour for row in stored] == [5, 6]  # 05:30 and 06:30 UTC
