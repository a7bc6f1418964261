"""A hub step's read of pending staging does not grow with the applied rows staging retains (issue 12, migration 0013).

Every hub step of every run reads the tenant's unapplied rows of one entity (``store.pending_staging``); staging
keeps applied rows for 7 days. These tests explain the very statement ``pending_staging`` sends (captured from the
cursor) and require the partial index of the pending rows, and check what the read and ``has_pending_staging`` say.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event, insert, text, update

from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.schema import staging_records
from ecom_pipeline.warehouse.types import utcnow

INDEX = "ix_staging_records_unapplied"


def _shop(engine: Engine, tenant: str = "acme") -> int:
    with engine.begin() as conn:
        return store.create_integration(
            conn,
            tenant_id=tenant,
            platform="woocommerce",
            name="Shop",
            base_url=f"https://{tenant}.example",
            credentials={"key": "k"},
            settings={},
            cipher=CredentialCipher(CredentialCipher.generate_key()),
        )


def _stage(engine: Engine, integration_id: int, *, applied: int, pending: int, tenant: str = "acme") -> None:
    now = utcnow()
    rows = [
        {
            "tenant_id": tenant,
            "integration_id": integration_id,
            "platform": "woocommerce",
            "entity": ("product", "inventory", "order", "customer")[i % 4],
            "external_id": str(i),
            "op": "upsert",
            "payload": {"id": i, "name": "x" * 200},
            "payload_hash": None,
            "source_updated_at": now,
            "fetched_at": now,
            "dagster_run_id": "test",
            "applied_at": now if i < applied else None,
        }
        for i in range(applied + pending)
    ]
    with engine.begin() as conn:
        for start in range(0, len(rows), 1000):
            conn.execute(insert(staging_records), rows[start : start + 1000])
    with engine.connect() as conn:
        conn.execute(text("ANALYZE staging_records" if engine.dialect.name == "postgresql" else "ANALYZE"))
        conn.commit()


def _plan_of_pending_read(engine: Engine) -> str:
    """The plan of the statement ``store.pending_staging`` sends for a hub step (no shop filter)."""
    sent: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, _context: Any, _many: bool) -> None:
        sent.append((statement, params))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with engine.connect() as conn:
            store.pending_staging(conn, tenant_id="acme", entity="product", limit=500)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    [(statement, params)] = sent
    explain = "EXPLAIN " if engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(explain + statement, params).all()
    return "\n".join(str(row[-1]) for row in rows)


def test_the_pending_read_of_a_hub_step_uses_the_index_of_the_pending_rows_only(engine: Engine) -> None:
    """Prevents a no-change run from reading the tenant's whole retained staging (PostgreSQL went through the
    tenant_id index: ~43,000 rows after one 10,000-product full sync) to find that nothing is pending."""
    iid = _shop(engine)
    _stage(engine, iid, applied=4000, pending=8)
    plan = _plan_of_pending_read(engine)
    assert INDEX in plan, plan
    with engine.connect() as conn:
        rows = store.pending_staging(conn, tenant_id="acme", entity="product", limit=500)
    # 4000..4007 are pending; of those, the ids staged as products (i % 4 == 0): 4000 and 4004.
    assert [r.external_id for r in rows] == ["4000", "4004"]
    assert all(r.applied_at is None for r in rows)


def test_has_pending_staging_sees_only_the_tenants_unapplied_rows_of_the_entity(engine: Engine) -> None:
    """The hub step skips its lock and apply when this says no, so any unapplied row of the tenant's entity must
    make it say yes; applied rows and other tenants' rows must not."""
    iid = _shop(engine)
    other = _shop(engine, "other")
    _stage(engine, other, applied=0, pending=4, tenant="other")
    with engine.connect() as conn:
        assert not store.has_pending_staging(conn, tenant_id="acme", entity="product")
    _stage(engine, iid, applied=4, pending=4)
    with engine.connect() as conn:
        assert store.has_pending_staging(conn, tenant_id="acme", entity="product")
        assert store.has_pending_staging(conn, tenant_id="acme", entity="inventory")
    with engine.begin() as conn:
        conn.execute(update(staging_records).where(staging_records.c.tenant_id == "acme").values(applied_at=utcnow()))
    with engine.connect() as conn:
        assert not store.has_pending_staging(conn, tenant_id="acme", entity="product")
        assert store.has_pending_staging(conn, tenant_id="other", entity="product")
