"""The stock views' SQL (``stock/views.py``, migration 0015) against the Python it restates (``pools.load_pools``,
``ledger.on_hand``, ``levels.levels``), on SQLite and PostgreSQL, with hand-made rows: two WooCommerce shops whose
pools share a variant (one unit), a pool in a shop without its link (no unit), a movement at another location,
committed orders of a pooled variant with no link of its own, and a shop selling every size as its own item."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.engine import Connection

from ecom_pipeline.stock import ledger
from ecom_pipeline.stock.levels import levels
from ecom_pipeline.stock.links import stock_integrations
from ecom_pipeline.stock.pools import load_pools
from ecom_pipeline.stock.views import VIEWS, create_statements
from ecom_pipeline.warehouse.engine import make_engine
from ecom_pipeline.warehouse.schema import (
    hub_inventory,
    hub_order_lines,
    hub_orders,
    hub_products,
    hub_variants,
    integrations,
    stock_links,
    stock_movements,
)
from ecom_pipeline.warehouse.types import utcnow

TENANT = "t"


@dataclass
class Shelf:
    """The ids of the hand-made rows: shops by name, variants by letter."""

    shops: dict[str, int]
    variants: dict[str, int]


def build(conn: Connection) -> Shelf:
    """Variants A..E. Shop ``w1`` pools A, B, C (its link on B), ``w2`` pools C, D (link on C): one unit A-D, opened
    with 10 on B, D sold 1, a pending order of 2 C in ``w1`` (no link of its own there) and of 1 E in ``w2``. ``w2``
    also pools E in a pool it has no link for (E stays its own unit: 5 opened, 2 sold). A has 3 at ``north`` (not the
    pool's location). Shopify links every letter, with a 50% buffer on D."""
    now = utcnow()
    shops: dict[str, int] = {}
    for name, platform in (("w1", "woocommerce"), ("w2", "woocommerce"), ("sh", "shopify")):
        shops[name] = conn.execute(
            insert(integrations)
            .values(tenant_id=TENANT, platform=platform, name=name, base_url=f"https://{name}.example",
                    credentials_encrypted="x", settings={"stock_sync": True}, status="active", created_at=now,
                    updated_at=now, counts={})
            .returning(integrations.c.id)
        ).scalar_one()  # fmt: skip
    pid = conn.execute(
        insert(hub_products).values(tenant_id=TENANT, title="Beanie", status="active", synced_at=now)
        .returning(hub_products.c.id)
    ).scalar_one()  # fmt: skip
    variants = {
        letter: conn.execute(
            insert(hub_variants)
            .values(tenant_id=TENANT, product_id=pid, sku=f"B-{letter}", synced_at=now)
            .returning(hub_variants.c.id)
        ).scalar_one()
        for letter in "ABCDE"
    }

    def inventory(shop: str, letter: str, pool: str | None, deleted: bool = False) -> None:
        conn.execute(
            insert(hub_inventory).values(
                tenant_id=TENANT, variant_id=variants[letter], sku=f"B-{letter}",
                location=f"woocommerce:{shops[shop]}:default", integration_id=shops[shop], available=0, managed=True,
                stock_pool=pool, synced_at=now, deleted_at=now if deleted else None,
            )
        )  # fmt: skip

    def link(shop: str, letter: str, buffer: str | None = None) -> None:
        conn.execute(
            insert(stock_links).values(
                tenant_id=TENANT, integration_id=shops[shop], variant_id=variants[letter], hub_location="main",
                shop_location="default", external_item=f"{shop}-{letter}", base_quantity=0, unconfirmed=0,
                unmatched=0, buffer=buffer,
            )
        )  # fmt: skip

    for letter in "ABC":
        inventory("w1", letter, "product:10", deleted=letter == "A")  # a deleted variation's sales stay pooled
    for letter in "CD":
        inventory("w2", letter, "product:20")
    inventory("w2", "E", "product:30")
    link("w1", "B")
    link("w2", "C")
    for letter in "ABCDE":
        link("sh", letter, "50%" if letter == "D" else None)
    for key, (letter, location, delta, reason) in enumerate(
        (("B", "main", 10, "import"), ("D", "main", -1, "order"), ("E", "main", 5, "import"),
         ("E", "main", -2, "order"), ("A", "north", 3, "import"))
    ):  # fmt: skip
        conn.execute(
            insert(stock_movements).values(
                tenant_id=TENANT, variant_id=variants[letter], location=location, delta=delta, reason=reason,
                source_key=f"k{key}", occurred_at=now, created_at=now,
            )
        )  # fmt: skip
    for shop, letter, quantity in (("w1", "C", 2), ("w2", "E", 1)):
        oid = conn.execute(
            insert(hub_orders).values(tenant_id=TENANT, integration_id=shops[shop], status="pending", currency="EUR",
                                      total=Decimal("1.00"), synced_at=now)
            .returning(hub_orders.c.id)
        ).scalar_one()  # fmt: skip
        conn.execute(
            insert(hub_order_lines).values(
                tenant_id=TENANT, order_id=oid, variant_id=variants[letter], quantity=quantity
            )
        )
    return Shelf(shops, variants)


def view_rows(conn: Connection, view: str, columns: str) -> list[Any]:
    return list(conn.execute(text(f"SELECT {columns} FROM {view} WHERE tenant_id = :t"), {"t": TENANT}))


def test_the_views_count_pools_as_the_ledger_does_on_both_backends(backend_url: str) -> None:
    """Prevents the SQL of the stock views drifting from the ledger's units: pools that share a variant across
    shops are one unit (on hand 9 on A, B, C and D), a pool without its shop's link is none, a pooled variant's
    committed order counts at its pool link's location against the unit, and every row of ``stock_on_hand`` and
    ``stock_available`` equals ``ledger.on_hand`` and ``levels()``; summing one row per unit counts each once."""
    engine = make_engine(backend_url)
    try:
        with engine.begin() as conn:
            shelf = build(conn)
        v = shelf.variants
        with engine.connect() as conn:
            units = load_pools(conn, TENANT)
            hand = {
                (int(r.variant_id), str(r.location)): (int(r.on_hand), int(r.unit_variant_id), int(r.unit_variants),
                                                       int(r.own_on_hand))
                for r in view_rows(conn, "stock_on_hand", "*")
            }  # fmt: skip
            assert {key: row[0] for key, row in hand.items()} == ledger.on_hand(conn, TENANT, list(hand))
            assert {key: row[1] for key, row in hand.items()} == {key: units.unit(*key)[0] for key in hand}
            shops = {int(s.id): s for s in stock_integrations(conn, TENANT)}
            links = list(conn.execute(select(stock_links)))
            numbers = levels(conn, TENANT, links, shops)
            available = {
                int(r.link_id): (int(r.on_hand), int(r.committed), r.buffer, r.available, int(r.unit_variant_id))
                for r in view_rows(conn, "stock_available", "*")
            }
            members = sorted(
                (int(r[0]), int(r[1])) for r in view_rows(conn, "stock_pool_members", "variant_id, unit_variant_id")
            )
        assert {k: (n.on_hand, n.committed, n.buffer, n.available) for k, n in numbers.items()} == {
            k: row[:4] for k, row in available.items()
        }
        unit = (9, v["A"], 4)
        assert {letter: hand[(v[letter], "main")][:3] for letter in "ABCDE"} == {
            "A": unit, "B": unit, "C": unit, "D": unit, "E": (3, v["E"], 1)
        }  # fmt: skip
        assert hand[(v["A"], "north")] == (3, v["A"], 1, 3)
        assert {letter: hand[(v[letter], "main")][3] for letter in "ABCD"} == {"A": 0, "B": 10, "C": 0, "D": -1}
        # one unit per row where variant_id = unit_variant_id; or every row's own movements: the ledger once
        once = sum(row[0] for (vid, _), row in hand.items() if vid == row[1])
        assert once == sum(row[3] for row in hand.values()) == 9 + 3 + 3
        # A in w1 and w2's C are two pool links of one unit; E's w2 pool has no link: not listed
        assert members == sorted([(v[x], v["A"]) for x in "ABC"] + [(v[x], v["A"]) for x in "CD"])
        shopify = {row[4]: row[:4] for row in available.values() if row[4] != v["A"]}
        assert shopify == {v["E"]: (3, 1, 0, 2)}
        assert sorted(row[:4] for row in available.values() if row[4] == v["A"]) == sorted(
            [(9, 2, 0, 7)] * 5 + [(9, 2, 4, 3)]  # w1, w2, Shopify A B C; Shopify D holds back 50% of 7
        )
    finally:
        engine.dispose()


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_the_stock_available_view_knows_every_status_the_ledger_counts_as_committed(dialect: str) -> None:
    """Prevents a status added to the ledger's committed ones (``_NOT_TAKEN``) from being missed by the view, which
    restates them in SQL."""
    sql = create_statements(dialect)[-1]
    assert set(ledger._NOT_TAKEN) == {"woocommerce"} and "oi.platform = 'woocommerce'" in sql
    statuses = ", ".join(f"'{s}'" for s in sorted(ledger._NOT_TAKEN["woocommerce"]))
    assert f"LOWER(o.status) IN ({statuses})" in sql


@pytest.mark.parametrize("view", VIEWS)
def test_every_column_of_the_stock_views_is_documented_for_analysts(view: str, sqlite_warehouse_url: str) -> None:
    """Prevents a view column added (or dropped) without docs/tables.md saying what it means, as
    ``test_docs.py`` does for the tables."""
    from ecom_pipeline_tests.test_docs import _sections

    engine = make_engine(sqlite_warehouse_url)
    try:
        with engine.connect() as conn:
            columns = set(conn.execute(text(f"SELECT * FROM {view} WHERE 0 = 1")).keys())
    finally:
        engine.dispose()
    lines = _sections()[view].splitlines()
    start = lines.index("| column | meaning |") + 2  # the section's first table: its columns
    documented: set[str] = set()
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        documented.update(name.strip() for name in line.split("|")[1].split(","))
    assert columns == documented
