"""Push lineage (``sync/lineage.py``) on a real migrated warehouse: each link a push writes gets its
``push_records`` row, in the link's transaction, classified from the plan; refusals find their hub record."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select, update

from ecom_pipeline.sync.export import Rejection, link_row, load_plan
from ecom_pipeline.sync.lineage import PushLineage, history, last_pushes, purge_push_records
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.engine import make_engine
from ecom_pipeline.warehouse.schema import (
    entity_links,
    hub_products,
    hub_variants,
    integrations,
    push_records,
    sync_conflicts,
)
from ecom_pipeline.warehouse.types import utcnow
from ecom_pipeline_tests.sync.helpers import connect

TENANT = "acme"


@pytest.fixture
def engine(warehouse_url: str) -> Iterator[Engine]:
    engine = make_engine(warehouse_url)
    yield engine
    engine.dispose()


def _product(conn: Any, handle: str, title: str) -> int:
    values = {"tenant_id": TENANT, "title": title, "status": "active", "handle": handle, "synced_at": utcnow()}
    return int(conn.execute(insert(hub_products).values(**values).returning(hub_products.c.id)).scalar_one())


def _variant(conn: Any, product_id: int, sku: str, price: str, options: dict[str, str] | None = None) -> int:
    values = {"tenant_id": TENANT, "product_id": product_id, "sku": sku, "price": Decimal(price),
              "options": options or {}, "synced_at": utcnow()}  # fmt: skip
    return int(conn.execute(insert(hub_variants).values(**values).returning(hub_variants.c.id)).scalar_one())


class World:
    """A push shop with: ``mug`` (new, simple), ``tee`` (new, two variants), ``cap`` (linked; its title and its
    variant's price changed in the hub), and ``hat`` (linked, unchanged)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        now = utcnow()
        with engine.begin() as conn:
            self.shop = connect(conn, TENANT)
            conn.execute(
                update(integrations).where(integrations.c.id == self.shop).values(settings={"sync_direction": "push"})
            )
            self.mug = _product(conn, "mug", "Mug")
            self.mug_1 = _variant(conn, self.mug, "MUG-1", "8.00")
            self.tee = _product(conn, "tee", "Tee")
            self.tee_s = _variant(conn, self.tee, "TEE-S", "19.90", {"Size": "S"})
            self.tee_m = _variant(conn, self.tee, "TEE-M", "19.90", {"Size": "M"})
            self.cap = _product(conn, "cap", "Cap v2")
            self.cap_1 = _variant(conn, self.cap, "CAP-1", "6.00")
            self.hat = _product(conn, "hat", "Hat")
            self.hat_1 = _variant(conn, self.hat, "HAT-1", "4.00")
            integration = store.get_integration(conn, self.shop)
            rows = []
            for hub_id, ext, title in ((self.cap, "700", "Cap"), (self.hat, "800", "Hat")):
                rows.append(
                    link_row(
                        integration,
                        entity="product",
                        external_id=ext,
                        hub_id=hub_id,
                        snapshot={"title": title, "description": None, "status": "active"},
                        digest=None,
                        updated_at=None,
                        now=now,
                    )
                )
            for hub_id, ext, sku, price in ((self.cap_1, "700", "CAP-1", "5.00"), (self.hat_1, "800", "HAT-1", "4.00")):
                rows.append(link_row(integration, entity="variant", external_id=ext, hub_id=hub_id, snapshot={
                    "sku": sku, "price": price, "compare_at_price": None, "weight": None}, digest=None,
                    updated_at=None, sku=sku, parent=ext, now=now))  # fmt: skip
            store.upsert_links(conn, rows)
            self.run = store.start_sync_run(conn, tenant_id=TENANT, integration_id=self.shop, platform="woocommerce",
                                            entity="product", direction="push", stage="export", full_refresh=False,
                                            run_id=None, cursor_before=None)  # fmt: skip
            self.plan = load_plan(conn, integration)
        self.lineage = PushLineage(self.plan, self.run, "cli-0123456789ab")
        self.integration = integration

    def link(self, entity: str, hub_id: int, ext: str, sku: str | None = None) -> dict[str, Any]:
        return link_row(self.integration, entity=entity, external_id=ext, hub_id=hub_id, snapshot=None, digest=None,
                        updated_at=None, sku=sku, now=utcnow())  # fmt: skip

    def on_links(self, rows: list[dict[str, Any]]) -> None:
        """What ``run_push`` does with each batch of links a writer hands over."""
        with self.engine.begin() as conn:
            store.upsert_links(conn, rows)
            self.lineage.record_links(conn, rows)

    def records(self) -> dict[tuple[str, int | None], Any]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(push_records).order_by(push_records.c.id)).all()
        return {(r.entity, r.hub_id): r for r in rows}


@pytest.fixture
def world(engine: Engine) -> World:
    return World(engine)


def test_the_plan_is_what_the_lineage_classifies(world: World) -> None:
    """Guards the test set-up: a wrong plan would make every outcome below meaningless."""
    plan = world.plan
    assert sorted(c.handle or "" for c in plan.creates) == ["mug", "tee"]
    assert sorted((u.entity, u.hub_id, tuple(u.changes)) for u in plan.updates) == sorted(
        [("product", world.cap, ("title",)), ("variant", world.cap_1, ("price",))]
    )
    assert plan.unchanged == 2  # hat and HAT-1


def test_each_written_record_has_one_row_with_its_outcome_run_shop_id_fields_and_hub_keys(world: World) -> None:
    """Prevents lineage that cannot answer "which run wrote this shop record, and what": a missing shop id, run,
    field list or hub key, or a record written twice in one push (create, then read-back base) counted twice."""
    world.on_links([world.link("product", world.mug, "901"), world.link("variant", world.mug_1, "901", "MUG-1")])
    world.on_links([world.link("product", world.tee, "902")])
    world.on_links(
        [
            world.link("product", world.tee, "902"),  # again, with its read-back base: no second row
            world.link("variant", world.tee_s, "903", "TEE-S"),
            world.link("variant", world.tee_m, "904", "TEE-M"),
        ]
    )
    world.on_links([world.link("product", world.cap, "700"), world.link("variant", world.cap_1, "700", "CAP-1")])
    records = world.records()
    assert len(records) == 7
    shown = {k: (r.outcome, r.external_id, r.handle, r.sku, r.fields) for k, r in records.items()}
    assert shown == {
        ("product", world.mug): ("created", "901", "mug", None, ["handle", "status", "title"]),
        ("variant", world.mug_1): ("created", "901", "mug", "MUG-1", ["price", "sku"]),
        ("product", world.tee): ("created", "902", "tee", None, ["handle", "status", "title"]),
        ("variant", world.tee_s): ("created", "903", "tee", "TEE-S", ["options", "price", "sku"]),
        ("variant", world.tee_m): ("created", "904", "tee", "TEE-M", ["options", "price", "sku"]),
        ("product", world.cap): ("updated", "700", "cap", None, ["title"]),
        ("variant", world.cap_1): ("updated", "700", "cap", "CAP-1", ["price"]),
    }
    assert {(r.tenant_id, r.integration_id, r.platform, r.sync_run_id, r.run_id) for r in records.values()} == {
        (TENANT, world.shop, "woocommerce", world.run, "cli-0123456789ab")
    }
    assert world.lineage.written == 7 and len(world.lineage.sample) == 7


def test_a_product_relinked_after_a_variant_write_is_a_refresh_and_a_found_create_is_adopted(world: World) -> None:
    """Prevents a product whose base was only re-read from showing as updated, and a record a rerun found in the
    shop (a push killed before its links) from showing as created by this run."""
    world.plan.adopt("product", world.mug)
    world.plan.adopt("variant", world.mug_1)
    world.on_links([world.link("product", world.mug, "901"), world.link("variant", world.mug_1, "901", "MUG-1")])
    world.on_links([world.link("product", world.hat, "800"), world.link("variant", world.hat_1, "800", "HAT-1")])
    records = world.records()
    assert records[("product", world.mug)].outcome == "adopted"
    assert records[("variant", world.mug_1)].outcome == "adopted"
    assert records[("product", world.hat)].outcome == "refresh"  # not in the plan: its link was re-read
    assert records[("variant", world.hat_1)].outcome == "refresh"
    assert records[("product", world.hat)].fields is None
    assert world.lineage.written == 2


def test_refusals_are_failed_rows_on_their_hub_record_with_the_shops_message(world: World) -> None:
    """Prevents a refused item from vanishing from lineage, or being recorded against no record: writers name a
    refusal by SKU (even a product's), handle, shop id or hub id, and each must lead back to the hub record."""
    with world.engine.begin() as conn:
        n = world.lineage.record_failures(
            conn,
            [
                Rejection("product", "MUG-1", "product_invalid_sku: Invalid or duplicated SKU.", {}),
                Rejection("product", "tee", "OPTIONS_OVER_LIMIT: too many options", {}),
                Rejection("variant", "700", "woocommerce_rest_invalid: bad price", {}),
                Rejection("variant", "NOPE-9", "not ours", {}),
            ],
        )
    assert n == 4
    records = world.records()
    mug = records[("product", world.mug)]
    assert (mug.outcome, mug.handle, mug.external_id) == ("failed", "mug", None)
    assert mug.message == "product_invalid_sku: Invalid or duplicated SKU."
    assert records[("product", world.tee)].message == "OPTIONS_OVER_LIMIT: too many options"
    cap_1 = records[("variant", world.cap_1)]
    assert (cap_1.outcome, cap_1.sku, cap_1.external_id, cap_1.fields) == ("failed", "CAP-1", "700", ["price"])
    unknown = records[("variant", None)]
    assert unknown.message == "[NOPE-9] not ours"
    assert world.lineage.counts["failed"] == 4 and world.lineage.written == 0


def test_a_link_and_its_lineage_commit_together_or_not_at_all(world: World) -> None:
    """Prevents a kill between the two writes from leaving a link without its lineage (or the reverse): the row is
    written on the link's own connection, inside its transaction."""
    with pytest.raises(RuntimeError), world.engine.begin() as conn:
        rows = [world.link("product", world.mug, "901")]
        store.upsert_links(conn, rows)
        world.lineage.record_links(conn, rows)
        raise RuntimeError("killed before the commit")
    with world.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(push_records)).scalar_one() == 0
        links = select(func.count()).select_from(entity_links).where(entity_links.c.external_id == "901")
        assert conn.execute(links).scalar_one() == 0


def test_history_by_sku_and_handle_last_push_counts_and_purge(world: World) -> None:
    """Prevents `lineage --sku` from missing the product rows of that variant (or every row once the SKU is renamed),
    `status` from counting another push's records or skipping the unchanged and held-conflict counts, and
    housekeeping from keeping rows forever."""
    world.on_links([world.link("product", world.tee, "902"), world.link("variant", world.tee_s, "903", "TEE-S")])
    world.on_links([world.link("variant", world.tee_m, "904", "TEE-M")])
    world.on_links([world.link("product", world.cap, "700")])
    with world.engine.begin() as conn:
        world.lineage.record_failures(conn, [Rejection("variant", "700", "refused", {})])
        store.finish_sync_run(conn, world.run, status="success", cursor_after=None, error=None,
                              counts={"created": 3, "updated": 1, "unchanged": 2, "failed": 1})  # fmt: skip
        conn.execute(
            insert(sync_conflicts).values(
                tenant_id=TENANT,
                integration_id=world.shop,
                entity="variant",
                hub_id=world.hat_1,
                field="price",
                policy="manual",
                resolution="held",
                decided_at=utcnow(),
            )
        )
        by_sku = history(conn, TENANT, sku="TEE-S")
        by_handle = history(conn, TENANT, handle="tee")
        pushes = last_pushes(conn, [world.shop])
    assert [(r.entity, r.sku) for r in by_sku] == [("product", None), ("variant", "TEE-S")]
    assert sorted((r.entity, r.sku or "") for r in by_handle) == [("product", ""), ("variant", "TEE-M"),
                                                                  ("variant", "TEE-S")]  # fmt: skip
    with world.engine.begin() as conn:  # a SKU renamed in the hub keeps its history (found by hub id)
        conn.execute(update(hub_variants).where(hub_variants.c.sku == "TEE-S").values(sku="TEE-SMALL"))
        renamed = history(conn, TENANT, sku="TEE-SMALL")
    assert [(r.entity, r.sku) for r in renamed] == [("product", None), ("variant", "TEE-S")]
    push = pushes[world.shop]
    assert push.run.id == world.run
    assert {k: v for k, v in push.counts.items() if v} == {"created": 3, "updated": 1, "failed": 1, "unchanged": 2}
    assert push.conflicts == 1
    with pytest.raises(ValueError):
        history(world.engine.connect(), TENANT)
    with world.engine.begin() as conn:
        assert purge_push_records(conn, utcnow() - timedelta(days=1)) == 0
        assert purge_push_records(conn, utcnow() + timedelta(seconds=1)) == 5
