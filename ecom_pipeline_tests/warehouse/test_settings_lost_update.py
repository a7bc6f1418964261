"""Writers of ``integrations.settings`` read the row FOR UPDATE, so two concurrent writers both keep their keys.

PostgreSQL only: SQLite has one writer, and a transaction that read before another's commit fails to write
instead of overwriting it.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select, update

from ecom_pipeline.platforms.shopify.lifecycle import record_served_version
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.engine import make_engine
from ecom_pipeline.warehouse.schema import integrations
from ecom_pipeline_tests.sync.helpers import CIPHER


def test_a_settings_edit_committed_while_an_extract_records_the_served_version_is_kept(warehouse_url: str) -> None:
    """Prevents the Shopify extract's bookkeeping (which runs after every extract) from silently undoing a
    `settings --direction` edit committed between its read and its write."""
    engine = make_engine(warehouse_url)
    if engine.dialect.name != "postgresql":
        engine.dispose()
        pytest.skip("row locks are PostgreSQL's; SQLite serializes writers (this test runs under CI=true)")
    with engine.begin() as conn:
        iid = store.create_integration(
            conn, tenant_id="acme", platform="shopify", name="s", base_url="https://s.example",
            credentials={"k": "v"}, settings={"sync_direction": "pull"}, cipher=CIPHER,
        )  # fmt: skip
    done = threading.Event()
    with engine.begin() as conn:  # the CLI's settings edit, holding the row while it writes
        shop = store.get_integration(conn, iid, for_update=True)
        worker = threading.Thread(
            target=lambda: (record_served_version(engine, iid, "2026-04"), done.set()), daemon=True
        )
        worker.start()
        time.sleep(0.5)
        assert not done.is_set()  # the extract's write waits for the edit's transaction
        conn.execute(
            update(integrations)
            .where(integrations.c.id == iid)
            .values(settings={**dict(shop.settings or {}), "sync_direction": "bidirectional"})
        )
    worker.join(10)
    with engine.connect() as conn:
        settings = conn.execute(select(integrations.c.settings).where(integrations.c.id == iid)).scalar_one()
    engine.dispose()
    assert settings["sync_direction"] == "bidirectional"
    assert settings["shopify"]["served_version"] == "2026-04"
