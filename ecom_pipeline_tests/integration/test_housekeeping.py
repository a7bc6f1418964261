"""The daily housekeeping job deletes only applied rows past their retention."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dagster as dg
from cryptography.fernet import Fernet
from sqlalchemy import select

from ecom_pipeline.definitions import defs
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import push_records, staging_records, webhook_inbox
from ecom_pipeline.warehouse.types import utcnow


def test_housekeeping_purges_old_applied_rows_and_keeps_pending_dead_and_recent(
    warehouse_url: str, dagster_home: Path
) -> None:
    """Prevents staging, the inbox and push lineage from growing forever, and the purge from deleting work or
    evidence."""
    now = utcnow()
    old, recent = now - timedelta(days=40), now - timedelta(hours=1)
    engine = shared_engine(warehouse_url)
    with engine.begin() as conn:
        iid = store.create_integration(
            conn,
            tenant_id="acme",
            platform="woocommerce",
            name="s",
            base_url="http://127.0.0.1:1/s",
            credentials={},
            settings={},
            cipher=CredentialCipher(Fernet.generate_key().decode()),
        )
        common = {"tenant_id": "acme", "integration_id": iid, "platform": "woocommerce", "entity": "product"}
        for external_id, applied_at in (("old", old), ("recent", recent), ("pending", None)):
            conn.execute(
                staging_records.insert().values(
                    **common, external_id=external_id, op="upsert", payload={}, fetched_at=old, applied_at=applied_at
                )
            )
        inbox = {"tenant_id": "acme", "integration_id": iid, "platform": "woocommerce", "topic": "product.updated"}
        for key, status, processed_at in (("old", "applied", old), ("dead", "dead", old), ("new", "applied", recent)):
            conn.execute(
                webhook_inbox.insert().values(
                    **inbox, delivery_key=key, headers={}, body="{}", received_at=old, status=status,
                    attempts=1, processed_at=processed_at,
                )
            )  # fmt: skip
        lineage = {"tenant_id": "acme", "integration_id": iid, "platform": "woocommerce", "entity": "variant",
                   "run_id": "cli-0", "outcome": "created"}  # fmt: skip
        for sku, at in (("OLD-LINEAGE", now - timedelta(days=100)), ("KEPT-LINEAGE", old)):  # default: 90 days
            conn.execute(push_records.insert().values(**lineage, sku=sku, recorded_at=at))
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        job = defs.resolve_job_def("housekeeping_job")
        result = job.execute_in_process(
            instance=instance,
            run_config={"resources": {"warehouse": {"config": {"url": warehouse_url}}}},
        )
    finally:
        instance.dispose()
    assert result.success
    with engine.connect() as conn:
        assert sorted(conn.execute(select(staging_records.c.external_id)).scalars()) == ["pending", "recent"]
        assert sorted(conn.execute(select(webhook_inbox.c.delivery_key)).scalars()) == ["dead", "new"]
        assert list(conn.execute(select(push_records.c.sku)).scalars()) == ["KEPT-LINEAGE"]
    [output] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_OUTPUT]
    assert output.event_specific_data.metadata["push_records_deleted"].value == 1  # type: ignore[union-attr]
