"""The receiver's re-opening of PrestaShop notice copies against an apply holding inbox rows: never a deadlock.

Failure prevented: ``INSERT .. ON CONFLICT DO UPDATE .. WHERE`` on PostgreSQL locks every conflicting row even when
its WHERE is false, in the group's key order, while the apply marks its rows applied in id order: a group holding
copies of two deliveries whose ids run against their keys deadlocked with the apply, and PostgreSQL failed the
receiver's whole group (a 5xx for every delivery of it), WooCommerce copies included as soon as the group also held
one PrestaShop notice, possibly another tenant's. Now a WooCommerce copy takes no lock on an existing row at all
(like any unique insert it waits for a transaction that is changing the conflicting row, as before the re-opening
existed, but holds nothing the apply needs), and PrestaShop rows are locked in id order, as the apply locks them.

The apply side below is a transaction that locks the rows in ascending id order in two statements (the order in
which ``apply._lock_rows`` takes them, with a pause between), which is the interleaving that deadlocked. On SQLite
(no row locks) the same interleaving must simply serialise: the receiver waits for the apply's commit.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import select, update

from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import webhook_inbox
from ecom_pipeline.warehouse.types import utcnow
from ecom_pipeline.webhooks import inbox


@pytest.mark.parametrize(
    ("platform", "mixed"),
    [("prestashop", False), ("woocommerce", False), ("woocommerce", True)],
    ids=["prestashop", "woocommerce", "woocommerce-with-a-prestashop-notice"],
)
def test_copies_against_an_apply_locking_in_id_order_never_deadlock(
    warehouse_url: str, platform: str, mixed: bool
) -> None:
    engine = shared_engine(warehouse_url)
    cipher = CredentialCipher(CredentialCipher.generate_key())
    with engine.begin() as conn:
        iid = store.create_integration(
            conn, tenant_id="t", platform=platform, name="s", base_url="http://127.0.0.1:1", credentials={},
            settings={}, cipher=cipher,
        )  # fmt: skip
        other = store.create_integration(
            conn, tenant_id="u", platform="prestashop", name="p", base_url="http://127.0.0.1:2", credentials={},
            settings={}, cipher=cipher,
        )  # fmt: skip

    def row(key: str, integration: int = iid, kind: str = platform) -> dict[str, Any]:
        delivery = inbox.Delivery(
            delivery_key=key, topic="product.update", resource_id="5", event_id=None, webhook_id=None,
            triggered_at=None, headers={},
        )  # fmt: skip
        return {"tenant_id": "t", "integration_id": integration, "platform": kind, "delivery": delivery,
                "body": b"{}", "received_at": utcnow()}  # fmt: skip

    key_a, key_b = f"{platform}:{iid}:a", f"{platform}:{iid}:b"
    with engine.begin() as conn:  # b stored first: its id is the lower one, its key the higher
        inbox.insert_deliveries(conn, [row(key_b)])
        inbox.insert_deliveries(conn, [row(key_a)])
        ids = dict(conn.execute(select(webhook_inbox.c.delivery_key, webhook_inbox.c.id)).all())
    id_a, id_b = ids[key_a], ids[key_b]
    assert id_b < id_a

    group = [row(key_a), row(key_b)] + ([row(f"prestashop:{other}:zz", other, "prestashop")] if mixed else [])
    outcome: dict[str, Any] = {}

    def receiver() -> None:
        try:
            with engine.begin() as conn:
                outcome["receiver"] = inbox.insert_deliveries(conn, group)
        except Exception as exc:
            outcome["receiver"] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        outcome["receiver_done"] = time.monotonic()

    def mark(conn: Any, row_id: int) -> None:
        conn.execute(
            update(webhook_inbox)
            .where(webhook_inbox.c.id == row_id, webhook_inbox.c.status == "pending")
            .values(status="applied", processed_at=utcnow(), attempts=webhook_inbox.c.attempts + 1)
        )

    with engine.connect() as apply_conn:
        tx = apply_conn.begin()
        mark(apply_conn, id_b)  # the apply's first lock: the lower id
        thread = threading.Thread(target=receiver)
        thread.start()
        time.sleep(0.5)  # the receiver reaches the rows
        try:
            mark(apply_conn, id_a)  # ... then the higher id, which the old receiver held while waiting on b
            tx.commit()
            outcome["apply"] = "committed"
        except Exception as exc:
            tx.rollback()
            outcome["apply"] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        committed = time.monotonic()
        thread.join(30)
    assert outcome["apply"] == "committed", outcome
    assert not isinstance(outcome["receiver"], str), outcome
    with engine.connect() as conn:
        rows = dict(conn.execute(select(webhook_inbox.c.delivery_key, webhook_inbox.c.status)).all())
    if platform == "prestashop":
        # Waited for the apply, then found both rows applied and re-opened them.
        assert outcome["receiver"] == [True, True]
        assert outcome["receiver_done"] >= committed
        assert rows == {key_a: "pending", key_b: "pending"}
    else:
        # Plain duplicates, left as the apply marked them.
        assert outcome["receiver"] == [False, False] + ([True] if mixed else [])
        assert {rows[key_a], rows[key_b]} == {"applied"}
