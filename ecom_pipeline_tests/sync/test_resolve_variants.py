"""The variant set merge in resolve and export, on a real warehouse: a variant removed in a bidirectional shop
leaves the hub and then the other shops; removed while the hub edited it, it is a conflict under the ``variants``
policy; deleted in the hub while the shop edited it, the policy decides whether it comes back; a first link in a
bidirectional shop merges against an empty base instead of taking the shop's values."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from ecom_pipeline.sync import resolve
from ecom_pipeline.sync.conflicts import resolve_conflict
from ecom_pipeline.sync.export import load_plan
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.schema import entity_links, hub_products, hub_variants, integrations
from ecom_pipeline.warehouse.types import utcnow
from ecom_pipeline_tests.sync.helpers import CIPHER, T0, conflicts, product, variant

LATER = T0 + timedelta(hours=1)


def _connect(conn: Connection, name: str, direction: str, policies: dict[str, str] | None = None) -> int:
    settings: dict[str, Any] = {"sync_direction": direction}
    if policies:
        settings["field_policies"] = policies
    return store.create_integration(
        conn, tenant_id="acme", platform="woocommerce", name=name, base_url=f"https://{name}.example",
        credentials={"k": "v"}, settings=settings, cipher=CIPHER,
    )  # fmt: skip


def _pull(engine: Engine, iid: int, *variants: Any, ext: str = "1", at: Any = T0, title: str = "Tee") -> Any:
    with engine.begin() as conn:
        return resolve.resolve_products(
            conn, tenant_id="acme", integration_id=iid, products=[product(ext, *variants, title=title, updated=at)],
            now=utcnow(), run_id="run-1",
        )  # fmt: skip


def _plan(engine: Engine, iid: int) -> Any:
    with engine.connect() as conn:
        shop = conn.execute(select(integrations).where(integrations.c.id == iid)).one()
        return load_plan(conn, shop)


def _deleted(engine: Engine) -> dict[str, bool]:
    with engine.connect() as conn:
        return {sku: at is not None for sku, at in conn.execute(select(hub_variants.c.sku, hub_variants.c.deleted_at))}


def _live_links(engine: Engine, iid: int) -> set[str]:
    with engine.connect() as conn:
        return store.active_external_ids(conn, iid, "variant")


def _two_shops(engine: Engine, policies: dict[str, str] | None = None) -> tuple[int, int]:
    """Shops A and B (bidirectional) both selling the T-Shirt in S and M, linked to one hub product."""
    with engine.begin() as conn:
        a = _connect(conn, "a", "bidirectional", policies)
        b = _connect(conn, "b", "bidirectional", policies)
    _pull(engine, a, variant("11", "TEE-S"), variant("12", "TEE-M"))
    _pull(engine, b, variant("21", "TEE-S"), variant("22", "TEE-M"), ext="2")
    return a, b


def test_a_variant_removed_in_one_bidirectional_shop_leaves_the_hub_then_the_other_shop(engine: Engine) -> None:
    """Prevents a variant a merchant removed in one shop from staying on sale in the others (the pull-only rule
    kept a hub variant another shop still links)."""
    a, b = _two_shops(engine)
    _pull(engine, a, variant("11", "TEE-S"), at=LATER)
    assert _deleted(engine) == {"TEE-S": False, "TEE-M": True}
    assert _live_links(engine, a) == {"11"} and _live_links(engine, b) == {"21", "22"}
    plan = _plan(engine, b)
    assert [(d.external_id, d.sku) for d in plan.variant_deletes] == [("22", "TEE-M")]
    assert not plan.variant_creates and not plan.updates
    assert _plan(engine, a).is_empty
    assert conflicts(engine) == []


def test_a_variant_removed_in_the_shop_while_the_hub_edited_it_is_a_conflict_the_policy_decides(
    engine: Engine,
) -> None:
    """Prevents losing a hub edit to a shop's removal (or the reverse) without a trace: the hub winning puts the
    variant back in the shop with the hub's price; the shop winning removes it from the hub."""
    a, _ = _two_shops(engine, {"variants": "hub"})
    with engine.begin() as conn:
        conn.execute(update(hub_variants).where(hub_variants.c.sku == "TEE-M").values(price=Decimal("12.00")))
    _pull(engine, a, variant("11", "TEE-S"), at=LATER)
    [conflict] = conflicts(engine)
    assert (conflict.field, conflict.resolution, conflict.shop_value) == ("variants", "hub", None)
    assert conflict.hub_value["price"] == "12.00" and conflict.base_value["price"] == "10.00"
    assert _deleted(engine)["TEE-M"] is False and _live_links(engine, a) == {"11"}
    assert [(vc.variant.sku, vc.variant.values["price"]) for vc in _plan(engine, a).variant_creates] == [
        ("TEE-M", Decimal("12.00"))
    ]


def test_the_shop_winning_a_removal_conflict_removes_the_variant_from_the_hub(engine: Engine) -> None:
    """Prevents the ``shop`` policy from keeping a variant the shop removed just because the hub edited it."""
    a, b = _two_shops(engine, {"variants": "shop"})
    with engine.begin() as conn:
        conn.execute(update(hub_variants).where(hub_variants.c.sku == "TEE-M").values(price=Decimal("12.00")))
    _pull(engine, a, variant("11", "TEE-S"), at=LATER)
    assert [c.resolution for c in conflicts(engine)] == ["shop"]
    assert _deleted(engine)["TEE-M"] is True
    assert [d.sku for d in _plan(engine, b).variant_deletes] == ["TEE-M"]


def test_a_held_removal_conflict_sends_nothing_until_decided_then_the_decision_applies_once(engine: Engine) -> None:
    """Prevents a held ``variants`` conflict from being pushed (a create or an update of a variant the shop no
    longer has) and a decision from being lost: taking the hub's side lets the next push create it again."""
    a, _ = _two_shops(engine, {"variants": "manual"})
    with engine.begin() as conn:
        conn.execute(update(hub_variants).where(hub_variants.c.sku == "TEE-M").values(price=Decimal("12.00")))
    _pull(engine, a, variant("11", "TEE-S"), at=LATER)
    [conflict] = conflicts(engine)
    assert conflict.resolution == "held"
    assert _plan(engine, a).is_empty
    with engine.begin() as conn:
        resolve_conflict(conn, int(conflict.id), take="hub", value=None, by="test", now=utcnow())
    _pull(engine, a, variant("11", "TEE-S"), at=LATER)  # the next resolve applies the decision
    assert _deleted(engine)["TEE-M"] is False
    assert [vc.variant.sku for vc in _plan(engine, a).variant_creates] == ["TEE-M"]


def test_a_variant_deleted_in_the_hub_and_edited_in_the_shop_comes_back_only_when_the_shop_wins(
    engine: Engine,
) -> None:
    """Prevents a shop edit from silently resurrecting a variant the merchant deleted in the hub (hub policy: it
    stays deleted and the push removes it), and a newer shop edit from being thrown away (newest: it comes back)."""
    with engine.begin() as conn:
        a = _connect(conn, "a", "bidirectional", {"variants": "hub"})
    _pull(engine, a, variant("11", "TEE-S"), variant("12", "TEE-M"))
    with engine.begin() as conn:
        conn.execute(update(hub_variants).where(hub_variants.c.sku == "TEE-M").values(deleted_at=utcnow()))
    _pull(engine, a, variant("11", "TEE-S"), variant("12", "TEE-M", price="11.00"), at=LATER)
    assert [(c.field, c.resolution) for c in conflicts(engine)] == [("variants", "hub")]
    assert _deleted(engine)["TEE-M"] is True
    assert [d.sku for d in _plan(engine, a).variant_deletes] == ["TEE-M"]

    with engine.begin() as conn:
        conn.execute(update(integrations).where(integrations.c.id == a).values(
            settings={"sync_direction": "bidirectional", "field_policies": {"variants": "shop"}}))  # fmt: skip
    _pull(engine, a, variant("11", "TEE-S"), variant("12", "TEE-M", price="11.50"), at=LATER + timedelta(hours=1))
    assert _deleted(engine)["TEE-M"] is False
    with engine.connect() as conn:
        price = conn.execute(select(hub_variants.c.price).where(hub_variants.c.sku == "TEE-M")).scalar_one()
    assert price == Decimal("11.50")
    assert _plan(engine, a).is_empty


def test_a_first_link_in_a_bidirectional_shop_merges_against_an_empty_base(engine: Engine) -> None:
    """Prevents a shop connected later from overwriting the hub with its own values just because it is linked for
    the first time: values differing on both sides are conflicts (newest: the hub's later edit wins and is pushed),
    a value only the shop has flows to the hub."""
    with engine.begin() as conn:
        a = _connect(conn, "a", "pull")
        b = _connect(conn, "b", "bidirectional")
    _pull(engine, a, variant("11", "TEE-S", price="10.00"), title="Tee")
    with engine.begin() as conn:  # the merchant's hub edit, after the shop's records were last modified
        conn.execute(update(hub_products).values(title="Organic tee", synced_at=LATER + timedelta(days=1)))
        conn.execute(update(hub_variants).values(price=Decimal("14.00"), synced_at=LATER + timedelta(days=1)))
    shop_variant = variant("21", "TEE-S", price="9.00", updated_at=LATER, weight="0.2")
    _pull(engine, b, shop_variant, ext="2", at=LATER, title="Shop tee")
    with engine.connect() as conn:
        title = conn.execute(select(hub_products.c.title)).scalar_one()
        price, weight = conn.execute(select(hub_variants.c.price, hub_variants.c.weight)).one()
    assert (title, price, weight) == ("Organic tee", Decimal("14.00"), "0.2")
    assert sorted((c.field, c.resolution) for c in conflicts(engine)) == [("price", "hub"), ("title", "hub")]
    plan = _plan(engine, b)
    assert sorted((u.entity, tuple(sorted(u.changes))) for u in plan.updates) == [
        ("product", ("title",)),
        ("variant", ("price",)),
    ]
    with engine.connect() as conn:
        links = conn.execute(select(entity_links.c.external_id).where(entity_links.c.integration_id == b)).scalars()
        assert sorted(links) == ["2", "21"]


def test_a_variant_a_push_shop_adds_is_left_in_the_shop_and_one_it_removes_stays_in_the_hub(engine: Engine) -> None:
    """Prevents a push shop (the hub is the master) from adding variants to the hub or deleting hub variants: the
    set merge leaves its own additions and removals in the shop, and nothing is pushed back over them."""
    with engine.begin() as conn:
        a = _connect(conn, "a", "push")
    _pull(engine, a, variant("11", "TEE-S"), variant("12", "TEE-M"))
    _pull(engine, a, variant("11", "TEE-S"), variant("13", "TEE-XL"), at=LATER)
    assert _deleted(engine) == {"TEE-S": False, "TEE-M": False}
    assert _live_links(engine, a) == {"11", "12"}
    assert conflicts(engine) == []
    assert _plan(engine, a).is_empty
    _pull(engine, a, variant("11", "TEE-S"), variant("13", "TEE-XL"), at=LATER)  # again: still nothing
    assert _deleted(engine) == {"TEE-S": False, "TEE-M": False} and _plan(engine, a).is_empty


def test_a_repeated_shop_sku_is_pushed_through_its_oldest_link_on_every_run(engine: Engine) -> None:
    """Prevents the push from comparing and writing against whichever of two live links to one hub variant the
    database returned last (a shop that repeats a SKU links both items to one hub variant; PostgreSQL's row order
    moves when a link row is updated). The oldest link is the one planned, before and after either row changes."""
    with engine.begin() as conn:
        a = _connect(conn, "a", "push")
    _pull(engine, a, variant("11", "TEE-S"), variant("19", "TEE-S"))
    with engine.connect() as conn:
        links = conn.execute(
            select(entity_links.c.id, entity_links.c.external_id, entity_links.c.hub_id)
            .where(entity_links.c.entity == "variant", entity_links.c.deleted_at.is_(None))
            .order_by(entity_links.c.id)
        ).all()
    assert [r.external_id for r in links] == ["11", "19"] and links[0].hub_id == links[1].hub_id
    with engine.begin() as conn:
        conn.execute(update(hub_variants).values(price=Decimal("12.00")))
    for touched in (links[1].id, links[0].id, links[1].id):  # each update moves that row last in PostgreSQL's heap
        with engine.begin() as conn:
            conn.execute(update(entity_links).where(entity_links.c.id == touched).values(last_synced_at=utcnow()))
        planned = [(u.entity, u.external_id) for u in _plan(engine, a).updates if u.entity == "variant"]
        assert planned == [("variant", "11")]
