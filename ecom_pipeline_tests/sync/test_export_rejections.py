"""The shop's open export rejections are what the last push saw refused: one row per distinct refusal."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from ecom_pipeline.sync.export import Rejection, record_export_rejections
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.schema import integrations, rejected_records
from ecom_pipeline_tests.sync.helpers import CIPHER


def _push(engine: Engine, iid: int, run: str, *refused: tuple[str, str]) -> list[Any]:
    with engine.begin() as conn:
        shop = conn.execute(select(integrations).where(integrations.c.id == iid)).one()
        record_export_rejections(
            conn, tenant_id="acme", shop=shop, run_id=run,
            refused=[Rejection("variant", key, reason, {"sku": key}) for key, reason in refused],
        )  # fmt: skip
        return list(conn.execute(select(rejected_records).order_by(rejected_records.c.id)))


def test_a_refusal_seen_again_keeps_its_row_a_new_reason_gets_one_and_an_accepted_item_closes(engine: Engine) -> None:
    """Prevents rejected_records from growing by one row per refused item per push (every sync and webhook apply
    pushes), while keeping what a person needs: every distinct refusal open until the shop accepts the item."""
    with engine.begin() as conn:
        iid = store.create_integration(
            conn, tenant_id="acme", platform="woocommerce", name="w", base_url="https://w.example",
            credentials={"k": "v"}, settings={"sync_direction": "push"}, cipher=CIPHER,
        )  # fmt: skip
    rows = _push(engine, iid, "run-1", ("A", "dup sku"), ("B", "bad price"))
    assert [(r.external_id, r.dagster_run_id, r.resolved_at) for r in rows] == [
        ("A", "run-1", None),
        ("B", "run-1", None),
    ]
    for run in ("run-2", "run-3"):
        rows = _push(engine, iid, run, ("A", "dup sku"), ("B", "bad price"))
    assert [(r.external_id, r.dagster_run_id, r.resolved_at) for r in rows] == [
        ("A", "run-3", None),
        ("B", "run-3", None),
    ]
    rows = _push(engine, iid, "run-4", ("A", "name too long"))  # A refused for another reason, B accepted
    assert [(r.external_id, r.reason, r.resolved_at is None) for r in rows] == [
        ("A", "dup sku", False),
        ("B", "bad price", False),
        ("A", "name too long", True),
    ]
    assert [r.dagster_run_id for r in rows if r.resolved_at is None] == ["run-4"]
