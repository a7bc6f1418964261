"""apply_staged over real staging rows: rejections, dedupe, deletes, and crash-safe reruns."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select

from ecom_pipeline.sync.apply import apply_staged
from ecom_pipeline.sync.canonical import CanonicalError, CanonicalProduct, CanonicalVariant
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.schema import entity_links, hub_products, hub_variants, rejected_records
from ecom_pipeline_tests.sync.helpers import T0, connect


def transform(payload: dict[str, Any]) -> CanonicalProduct:
    """A tiny stand-in for a platform transform: refuses malformed prices like a real one must."""
    price = payload["price"]
    if not isinstance(price, str):
        raise CanonicalError(f"price must be a decimal string, got {price!r}")
    return CanonicalProduct(
        external_id=str(payload["id"]),
        title=payload["name"],
        status="active",
        variants=(
            CanonicalVariant(external_id=str(payload["id"]), sku=payload.get("sku"), title=None, price=Decimal(price)),
        ),
        updated_at=T0 + timedelta(minutes=payload.get("minute", 0)),
    )


def _stage(engine: Engine, iid: int, payloads: list[dict[str, Any]], op: str = "upsert") -> None:
    with engine.begin() as conn:
        store.stage_records(
            conn,
            [
                store.StagedRecord(
                    "acme",
                    iid,
                    "woocommerce",
                    "product",
                    str(p["id"]),
                    None if op == "delete" else p,
                    op=op,
                    source_updated_at=T0 + timedelta(minutes=p.get("minute", 0)),
                )
                for p in payloads
            ],
            run_id="r1",
        )


def _product(i: int, **kw: Any) -> dict[str, Any]:
    return {"id": i, "name": f"P{i}", "price": "9.90", "sku": f"SKU-{i}", **kw}


def test_malformed_payload_is_rejected_with_reason_and_the_rest_applies(engine: Engine) -> None:
    """One bad record must neither stall the batch nor vanish: it becomes a rejected_records row with its reason."""
    with engine.begin() as conn:
        iid = connect(conn)
    _stage(engine, iid, [_product(1), _product(2, price=9.9), _product(3)])
    report = apply_staged(
        engine, tenant_id="acme", entity="product", transforms={"woocommerce": transform}, run_id="r1"
    )
    assert (report.created, report.rejected, report.rows_read) == (2, 1, 3)
    assert "price must be a decimal string" in report.rejection_reasons[0]
    assert report.per_integration[iid]["created"] == 2
    with engine.connect() as conn:
        rej = conn.execute(select(rejected_records)).one()
        assert (rej.external_id, rej.stage, rej.resolved_at) == ("2", "transform", None)
        assert rej.staging_id is not None and rej.payload["price"] == 9.9
        assert store.pending_staging(conn, tenant_id="acme", entity="product") == []
    # The shop fixes the record: the next apply resolves the rejection.
    _stage(engine, iid, [_product(2, minute=1)])
    report = apply_staged(
        engine, tenant_id="acme", entity="product", transforms={"woocommerce": transform}, run_id="r2"
    )
    assert report.created == 1
    with engine.connect() as conn:
        assert conn.execute(select(rejected_records.c.resolved_at)).scalar_one() is not None


def test_interrupted_apply_then_rerun_duplicates_nothing(engine: Engine) -> None:
    """A worker killed mid-apply must leave a state the rerun completes exactly, without duplicate hub rows."""
    with engine.begin() as conn:
        iid = connect(conn)
    _stage(engine, iid, [_product(i) for i in range(1, 21)])
    calls = {"n": 0}

    def dies_halfway(payload: dict[str, Any]) -> CanonicalProduct:
        calls["n"] += 1
        if calls["n"] > 12:
            raise RuntimeError("worker killed")  # not a ValueError: the batch transaction rolls back
        return transform(payload)

    with pytest.raises(RuntimeError):
        apply_staged(
            engine,
            tenant_id="acme",
            entity="product",
            transforms={"woocommerce": dies_halfway},
            run_id="r1",
            batch_size=5,
        )
    with engine.connect() as conn:
        assert store.count_rows(conn, hub_products) == 10  # two batches committed, the third rolled back
        assert len(store.pending_staging(conn, tenant_id="acme", entity="product")) == 10
    # The page is also re-extracted and staged again before the rerun (at-least-once delivery).
    _stage(engine, iid, [_product(i) for i in range(1, 21)])
    report = apply_staged(
        engine, tenant_id="acme", entity="product", transforms={"woocommerce": transform}, run_id="r2", batch_size=7
    )
    assert report.created == 10
    with engine.connect() as conn:
        assert store.count_rows(conn, hub_products) == 20
        assert store.count_rows(conn, hub_variants) == 20
        assert store.count_rows(conn, entity_links) == 40
        assert store.pending_staging(conn, tenant_id="acme", entity="product") == []


def test_duplicates_in_a_batch_keep_the_newest_and_deletes_tombstone(engine: Engine) -> None:
    """A webhook and a poll for the same record must apply once, newest version winning."""
    with engine.begin() as conn:
        iid = connect(conn)
    _stage(engine, iid, [_product(1, name="new", minute=5), _product(1, name="old", minute=1), _product(2)])
    report = apply_staged(
        engine, tenant_id="acme", entity="product", transforms={"woocommerce": transform}, run_id="r1"
    )
    assert (report.created, report.unchanged) == (2, 1)
    with engine.connect() as conn:
        assert conn.execute(select(hub_products.c.title).order_by(hub_products.c.id)).scalars().all() == ["new", "P2"]
    _stage(engine, iid, [{"id": 2}], op="delete")
    report = apply_staged(
        engine, tenant_id="acme", entity="product", transforms={"woocommerce": transform}, run_id="r2"
    )
    assert report.deleted == 1
    with engine.connect() as conn:
        deleted = conn.execute(select(hub_products.c.deleted_at).order_by(hub_products.c.id)).scalars().all()
        assert deleted[0] is None and deleted[1] is not None
        assert store.count_rows(conn, hub_products) == 2


def test_an_edit_then_a_deletion_in_one_batch_ends_deleted(engine: Engine) -> None:
    """Prevents a delete (which has no shop time) from losing to an earlier-staged edit of the same record."""
    with engine.begin() as conn:
        iid = connect(conn)
    _stage(engine, iid, [_product(1), _product(2)])
    apply_staged(engine, tenant_id="acme", entity="product", transforms={"woocommerce": transform}, run_id="r1")
    _stage(engine, iid, [_product(1, name="edited", minute=9)])
    _stage(engine, iid, [{"id": 1}], op="delete")
    report = apply_staged(
        engine, tenant_id="acme", entity="product", transforms={"woocommerce": transform}, run_id="r2"
    )
    assert report.deleted == 1
    with engine.connect() as conn:
        rows = conn.execute(select(hub_products.c.title, hub_products.c.deleted_at).order_by(hub_products.c.id)).all()
    assert rows[0].deleted_at is not None and rows[1].deleted_at is None


def test_unchanged_restaging_counts_unchanged_and_writes_nothing(engine: Engine) -> None:
    """Re-applying the same payloads (a full refresh) must count unchanged and leave hub rows untouched."""
    with engine.begin() as conn:
        iid = connect(conn)
    _stage(engine, iid, [_product(1), _product(2)])
    apply_staged(engine, tenant_id="acme", entity="product", transforms={"woocommerce": transform}, run_id="r1")
    with engine.connect() as conn:
        synced = conn.execute(select(hub_products.c.synced_at).order_by(hub_products.c.id)).scalars().all()
    _stage(engine, iid, [_product(1), _product(2)])
    report = apply_staged(
        engine, tenant_id="acme", entity="product", transforms={"woocommerce": transform}, run_id="r2"
    )
    assert (report.created, report.updated, report.unchanged) == (0, 0, 2)
    with engine.connect() as conn:
        assert conn.execute(select(hub_products.c.synced_at).order_by(hub_products.c.id)).scalars().all() == synced
