"""The three-way merge in resolve, on a real warehouse: a bidirectional shop's edits reach the hub without
overwriting the hub's own edits, conflicts are recorded and decided by policy, a person's decision is applied once,
and a pull shop still overwrites the hub as before."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, select, update

from ecom_pipeline.cli import main as cli_main
from ecom_pipeline.sync import resolve
from ecom_pipeline.sync.export import load_plan
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.schema import entity_links, hub_products, hub_variants, integrations, sync_conflicts
from ecom_pipeline.warehouse.types import utcnow
from ecom_pipeline_tests.sync.helpers import CIPHER, T0, conflicts, product, variant


def _connect(conn: Connection, direction: str, policies: dict[str, str] | None = None) -> int:
    settings: dict[str, Any] = {"sync_direction": direction}
    if policies:
        settings["field_policies"] = policies
    return store.create_integration(
        conn, tenant_id="acme", platform="woocommerce", name=f"{direction}-shop", base_url="https://a.example",
        credentials={"k": "v"}, settings=settings, cipher=CIPHER,
    )  # fmt: skip


def _pull(engine: Engine, iid: int, *, price: str = "10.00", title: str = "Tee", at: Any = T0, run: str = "run-1"):
    page = [product("1", variant("11", "TEE-S", price=price, updated_at=at), title=title, updated=at)]
    with engine.begin() as conn:
        return resolve.resolve_products(
            conn, tenant_id="acme", integration_id=iid, products=page, now=utcnow(), run_id=run
        )


def _hub_edit(engine: Engine, *, title: str | None = None, price: str | None = None, at: Any = None) -> None:
    """A merchant's edit of the hub (plain SQL), with ``at`` as the hub row's modification time."""
    with engine.begin() as conn:
        if title is not None:
            values: dict[str, Any] = {"title": title}
            if at is not None:
                values["synced_at"] = at
            conn.execute(update(hub_products).values(values))
        if price is not None:
            values = {"price": Decimal(price)}
            if at is not None:
                values["synced_at"] = at
            conn.execute(update(hub_variants).values(values))


def _hub(engine: Engine) -> tuple[str, Decimal]:
    with engine.connect() as conn:
        title = conn.execute(select(hub_products.c.title)).scalar_one()
        price = conn.execute(select(hub_variants.c.price)).scalar_one()
    return title, price


def test_a_bidirectional_shops_price_edit_reaches_the_hub_and_a_hub_title_edit_survives(engine: Engine) -> None:
    """Prevents a pull from a bidirectional shop from overwriting the merchant's hub edit (shop wins everything)."""
    with engine.begin() as conn:
        iid = _connect(conn, "bidirectional")
    _pull(engine, iid)
    _hub_edit(engine, title="Organic tee")
    counts = _pull(engine, iid, price="12.50", at=T0 + timedelta(hours=1))
    assert counts.updated == 1
    assert _hub(engine) == ("Organic tee", Decimal("12.50"))
    assert conflicts(engine) == []
    with engine.connect() as conn:
        bases = {r.entity: r.base_snapshot for r in conn.execute(select(entity_links))}
        plan = load_plan(conn, conn.execute(select(integrations).where(integrations.c.id == iid)).one())
    # The base is the shop as it is now: export still sees the hub's title as a change to push, and nothing else.
    assert bases["product"]["title"] == "Tee" and bases["variant"]["price"] == "12.50"
    assert [(u.entity, dict(u.changes)) for u in plan.updates] == [("product", {"title": ("Tee", "Organic tee")})]


def test_a_pull_shop_still_overwrites_the_hub_with_the_shops_values(engine: Engine) -> None:
    """Prevents the merge from changing what an existing (pull) integration does."""
    with engine.begin() as conn:
        iid = _connect(conn, "pull")
    _pull(engine, iid)
    _hub_edit(engine, title="Organic tee", price="11.00")
    _pull(engine, iid, price="12.50", at=T0 + timedelta(hours=1))
    assert _hub(engine) == ("Tee", Decimal("12.50"))
    assert conflicts(engine) == []


def test_a_push_shops_own_edit_is_neither_pulled_nor_overwritten_by_the_next_push(engine: Engine) -> None:
    """Prevents a push-only shop's edit from leaking into the hub, or from being reverted by export."""
    with engine.begin() as conn:
        iid = _connect(conn, "push")
    _pull(engine, iid)
    _pull(engine, iid, price="12.50", at=T0 + timedelta(hours=1))
    assert _hub(engine) == ("Tee", Decimal("10.00"))
    with engine.connect() as conn:
        plan = load_plan(conn, conn.execute(select(integrations).where(integrations.c.id == iid)).one())
    assert plan.updates == []


@pytest.mark.parametrize(
    ("policy", "shop_later", "resolution", "hub_price"),
    [
        ("newest", True, "shop", "12.50"),
        ("newest", False, "hub", "11.00"),
        ("hub", True, "hub", "11.00"),
        ("shop", False, "shop", "12.50"),
        ("manual", True, "held", "11.00"),
    ],
)
def test_a_price_edited_differently_on_both_sides_is_a_conflict_decided_by_the_policy(
    engine: Engine, policy: str, shop_later: bool, resolution: str, hub_price: str
) -> None:
    """Prevents a conflicting edit from being silently lost (no row), or decided against the shop's policy."""
    with engine.begin() as conn:
        iid = _connect(conn, "bidirectional", {"price": policy})
    _pull(engine, iid)
    hub_at, shop_at = T0 + timedelta(hours=2), T0 + timedelta(hours=1)
    if shop_later:
        hub_at, shop_at = shop_at, hub_at
    _hub_edit(engine, price="11.00", at=hub_at)
    _pull(engine, iid, price="12.50", at=shop_at, run="run-42")
    assert _hub(engine) == ("Tee", Decimal(hub_price))
    [row] = conflicts(engine)
    assert (row.entity, row.field, row.policy, row.resolution) == ("variant", "price", policy, resolution)
    assert (row.base_value, row.hub_value, row.shop_value, row.dagster_run_id) == ("10.00", "11.00", "12.50", "run-42")
    with engine.connect() as conn:
        plan = load_plan(conn, conn.execute(select(integrations).where(integrations.c.id == iid)).one())
    pushed = {name: new for u in plan.updates for name, (_, new) in u.changes.items()}
    # The hub's value is pushed when the hub won; the shop's value already is in the shop; a held one waits.
    assert pushed == ({"price": Decimal("11.00")} if resolution == "hub" else {})
    # The same pull again records nothing new: the conflict is reported once.
    _pull(engine, iid, price="12.50", at=shop_at, run="run-43")
    assert len(conflicts(engine)) == 1


def test_a_held_conflict_decided_take_shop_is_applied_on_the_next_sync_exactly_once(
    engine: Engine, backend_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents a person's decision from never reaching the hub, or from being applied again over later edits."""
    with engine.begin() as conn:
        iid = _connect(conn, "bidirectional", {"price": "manual"})
    _pull(engine, iid)
    _hub_edit(engine, price="11.00")
    _pull(engine, iid, price="12.50", at=T0 + timedelta(hours=1))
    [held] = conflicts(engine)
    assert held.resolution == "held" and _hub(engine)[1] == Decimal("11.00")
    assert cli_main(["--warehouse-url", backend_url, "conflicts", "resolve", str(held.id), "--take", "shop"]) == 0
    capsys.readouterr()
    assert _hub(engine)[1] == Decimal("11.00")  # recorded, not applied yet

    _pull(engine, iid, price="12.50", at=T0 + timedelta(hours=1))  # nothing new from the shop
    [row] = conflicts(engine)
    assert row.applied_at is not None and _hub(engine)[1] == Decimal("12.50")
    with engine.connect() as conn:
        plan = load_plan(conn, conn.execute(select(integrations).where(integrations.c.id == iid)).one())
    assert plan.updates == []  # the shop already has 12.50

    applied_at = row.applied_at
    _hub_edit(engine, price="13.00")  # a later hub edit is not overwritten by the decision again
    _pull(engine, iid, price="12.50", at=T0 + timedelta(hours=1))
    [row] = conflicts(engine)
    assert row.applied_at == applied_at and _hub(engine)[1] == Decimal("13.00")


def test_a_product_deleted_in_the_hub_stays_deleted_when_a_bidirectional_shop_edits_it(engine: Engine) -> None:
    """Prevents a shop edit (or the echo of the draft our push made) from reviving a product the merchant deleted."""
    with engine.begin() as conn:
        iid = _connect(conn, "bidirectional")
    _pull(engine, iid)
    with engine.begin() as conn:
        conn.execute(update(hub_products).values(deleted_at=utcnow()))
    _pull(engine, iid, title="Tee (old stock)", price="9.00", at=T0 + timedelta(hours=1))
    with engine.connect() as conn:
        row = conn.execute(select(hub_products)).one()
    assert row.deleted_at is not None and row.title == "Tee (old stock)"
    assert _hub(engine)[1] == Decimal("9.00")


def test_a_decided_sku_another_variant_has_is_not_applied_and_the_sync_does_not_fail(engine: Engine) -> None:
    """Prevents a person's SKU decision from breaking the tenant's unique SKUs and failing every later sync."""
    with engine.begin() as conn:
        iid = _connect(conn, "bidirectional")
    with engine.begin() as conn:
        resolve.resolve_products(
            conn, tenant_id="acme", integration_id=iid, now=utcnow(),
            products=[product("1", variant("11", "TEE-S")), product("2", variant("21", "MUG"))],
        )  # fmt: skip
        tee = conn.execute(select(hub_variants.c.id).where(hub_variants.c.sku == "TEE-S")).scalar_one()
        conn.execute(
            sync_conflicts.insert().values(
                tenant_id="acme", integration_id=iid, entity="variant", hub_id=tee, field="sku", base_value="TEE-S",
                hub_value="TEE-S1", shop_value="MUG", policy="manual", resolution="held", decided_at=utcnow(),
                resolved_at=utcnow(), resolved_by="ana", resolved_take="shop", resolved_value="MUG",
            )
        )  # fmt: skip
    _pull(engine, iid)  # must not raise
    [row] = conflicts(engine)
    assert row.applied_at is None
    with engine.connect() as conn:
        assert conn.execute(select(hub_variants.c.sku).where(hub_variants.c.id == tee)).scalar_one() == "TEE-S"


def test_barcode_and_sale_price_are_merged_like_every_policy_field(engine: Engine) -> None:
    """Prevents the issue-10 fields from bypassing the merge: a shop's barcode edit reaches the hub, a hub sale price
    edit survives the pull (and is what export plans), and both sides changing the barcode is a recorded conflict."""
    with engine.begin() as conn:
        iid = _connect(conn, "bidirectional", {"barcode": "manual"})

    def pull(barcode: str | None, at: Any) -> None:
        page = [product("1", variant("11", "TEE-S", barcode=barcode, updated_at=at), updated=at)]
        with engine.begin() as conn:
            resolve.resolve_products(conn, tenant_id="acme", integration_id=iid, products=page, now=utcnow())

    pull("4006381333931", T0)
    with engine.begin() as conn:
        conn.execute(update(hub_variants).values(sale_price=Decimal("8.00")))
    pull("5901234123457", T0 + timedelta(hours=1))
    with engine.connect() as conn:
        row = conn.execute(select(hub_variants)).one()
        plan = load_plan(conn, conn.execute(select(integrations).where(integrations.c.id == iid)).one())
    assert (row.barcode, row.sale_price) == ("5901234123457", Decimal("8.00"))
    assert [dict(u.changes) for u in plan.updates] == [{"sale_price": (None, Decimal("8.00"))}]

    with engine.begin() as conn:
        conn.execute(update(hub_variants).values(barcode="0012345678905"))
    pull("9780306406157", T0 + timedelta(hours=2))
    held = [(c.field, c.hub_value, c.shop_value, c.resolution) for c in conflicts(engine)]
    assert held == [("barcode", "0012345678905", "9780306406157", "held")]
    with engine.connect() as conn:
        assert conn.execute(select(hub_variants.c.barcode)).scalar_one() == "0012345678905"
