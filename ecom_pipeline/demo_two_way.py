"""The two-way part of ``ecom-pipeline demo``: the hub as master catalogue, end to end (issue 10, "Show it").

A dedicated tenant (``hooli``) has one empty emulated shop per platform, all connected ``bidirectional``:

1. a product created in the hub by a CSV import appears in Shopify, WooCommerce and PrestaShop (``sync_job``
   through Dagster: extract, hub, then each platform's export asset);
2. an order placed in the emulated Shopify reaches the webhook receiver (``orders/create``), then ``hub_orders``
   (``apply_webhooks_job``, what the inbox sensor starts when the daemon runs);
3. the same variant's price edited differently in the hub (an import) and in WooCommerce (its REST API) is a
   conflict, decided by the price policy (``newest``, the default: the later edit wins) and listed as
   ``ecom-pipeline conflicts list`` shows it; the winning price then reaches the tenant's other shops.

The emulated shops start empty at every ``make demo`` (the sandbox process is new), so the tenant's rows are
deleted first: a rerun shows the same flow instead of links to products the new shops never had. Everything goes
through the same CLI commands and Dagster jobs a user runs; only the shops' side (placing an order, editing a
price in WooCommerce) is done the way a shop owner or a buyer would, through the emulator.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

TENANT = "hooli"
# (platform, sandbox shop name): one empty shop per platform, served by ``ecom-pipeline sandbox --demo`` too, so
# `make dev` finds the shops the demo connected.
SHOPS: tuple[tuple[str, str], ...] = (
    ("shopify", "hooli-shopify"),
    ("woocommerce", "hooli-woo"),
    ("prestashop", "hooli-presta"),
)
# The shop whose orders reach the hub by webhook in this demo.
ORDER_PLATFORM = "shopify"
# The shop whose price edit meets the hub's.
CONFLICT_PLATFORM = "woocommerce"
PRICE_POLICY = "newest"  # the default for price; set explicitly so `status` and this text agree
CATALOGUE_COLUMNS = ("handle", "title", "description", "status", "product_type", "sku", "price", "currency", "weight")
# Two simple products: the PrestaShop writer needs the shop to have a variant's attribute values already, and the
# emulated shops start empty.
CATALOGUE: tuple[dict[str, str], ...] = (
    {
        "handle": "hooli-mug",
        "title": "Hooli mug",
        "description": "<p>Stoneware, 350 ml.</p>",
        "status": "active",
        "product_type": "simple",
        "sku": "HOOLI-MUG",
        "price": "24.00",
        "currency": "EUR",
        "weight": "0.4",
    },
    {
        "handle": "hooli-tote",
        "title": "Hooli tote bag",
        "description": "<p>Organic cotton.</p>",
        "status": "active",
        "product_type": "simple",
        "sku": "HOOLI-TOTE",
        "price": "15.50",
        "currency": "EUR",
        "weight": "0.2",
    },
)
CONFLICT_SKU = "HOOLI-MUG"
HUB_PRICE = "26.00"  # the hub's edit of CONFLICT_SKU
SHOP_PRICE = "27.50"  # WooCommerce's edit of the same price, made a moment later
ORDER_QUANTITY = 2
WAIT_S = 30.0
# What `connect` asks of a Shopify app (README), plus write_products for the push.
SHOPIFY_READ_SCOPES = (
    "read_products", "read_inventory", "read_locations", "read_orders", "read_all_orders", "read_customers",
)  # fmt: skip


def sandbox_options() -> dict[str, dict[str, Any]]:
    """Emulator options of the shops: Shopify grants ``write_products`` (the push checks it first) and sells in
    euros, the catalogue's currency."""
    return {dict(SHOPS)["shopify"]: {"scopes": [*SHOPIFY_READ_SCOPES, "write_products"], "currency": "EUR"}}


def sandbox_shop_names() -> list[str]:
    """The two-way demo's shops: served empty (no seeded products, orders or customers)."""
    return [shop for _, shop in SHOPS]


def sandbox_entries() -> list[str]:
    """``NAME:PLATFORM`` of each shop, as ``ecom-pipeline sandbox --shops`` takes them."""
    return [f"{shop}:{platform}" for platform, shop in SHOPS]


@dataclass
class TwoWayResult:
    """What the demo did, for its test: integration ids, the shops' product ids, the order and the conflict."""

    integrations: dict[str, int]
    created: dict[str, list[tuple[str, str]]]  # platform -> [(SKU, shop product id)]
    order_external_id: str | None
    inbox_s: float | None
    hub_orders_s: float | None
    conflict_ids: list[int]
    hub_price_after: Decimal | None


class DemoStepFailed(RuntimeError):
    """A step of the two-way demo did not do what it shows; the message says which and where to look."""


def reset_tenant(engine: Engine, tenant: str) -> dict[str, int]:
    """Delete every warehouse row of ``tenant`` (children first); rows deleted per table.

    Every table carries ``tenant_id``, so tables added later are emptied too. Only for the demo's own tenant: the
    emulated shops it connects are new at every run.
    """
    from ecom_pipeline.warehouse.schema import metadata

    deleted: dict[str, int] = {}
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            if "tenant_id" in table.c:
                result = conn.execute(delete(table).where(table.c.tenant_id == tenant))
                if result.rowcount:
                    deleted[table.name] = int(result.rowcount)
    return deleted


def _quiet(cli_main: Callable[[list[str]], int], argv: list[str]) -> tuple[int, str]:
    """Run a CLI command with its output captured (shown only when it fails): the demo prints one line instead."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = cli_main(argv)
    return code, out.getvalue()


def _run(cli_main: Callable[[list[str]], int], argv: list[str], what: str) -> str:
    code, output = _quiet(cli_main, argv)
    if code != 0:
        raise DemoStepFailed(f"{what} failed (exit {code}):\n{output}")
    return output


def write_catalogue(path: Path, rows: Sequence[Mapping[str, str]]) -> Path:
    """The CSV a merchant would import: one row per variant (docs/two-way-sync.md has the columns)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(CATALOGUE_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    return path


def connect_shops(
    cli_main: Callable[[list[str]], int],
    shops_info: Mapping[str, Any],
    *,
    webhook_url: str,
) -> dict[str, int]:
    """Connect the tenant's three shops ``bidirectional`` (Shopify with its webhooks), price policy set; returns
    platform -> integration id. Secrets go through the environment, as ``connect`` asks for them."""
    from ecom_pipeline.platforms.registry import get_platform
    from ecom_pipeline.warehouse import store
    from ecom_pipeline.warehouse.engine import default_warehouse_url, shared_engine

    for platform, shop in SHOPS:
        info = shops_info[shop]
        argv = ["connect", platform, "--tenant", TENANT, "--url", info["http_url"], "--name", shop,
                "--direction", "bidirectional"]  # fmt: skip
        env: dict[str, str]
        if platform == "shopify":
            # Client credentials: the stored client secret also verifies the shop's webhook signatures.
            argv += ["--client-id", info["client_id"], "--webhook-url", webhook_url]
            env = {"ECOM_SHOPIFY_CLIENT_SECRET": info["client_secret"]}
        else:
            demo = get_platform(platform).demo
            if demo is None:
                raise DemoStepFailed(f"{platform} has no DemoSpec: the demo does not know how to connect its shop")
            argv += demo.connect_args(info)
            env = demo.connect_env(info)
        saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        try:
            _run(cli_main, argv, f"connect {platform}")
        finally:  # the user's own values come back (the demo's shop secrets do not stay in the environment)
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    with shared_engine(default_warehouse_url()).connect() as conn:
        ids = {i.platform: i.id for i in store.list_integrations(conn, tenant_id=TENANT)}
    for platform, _ in SHOPS:
        _run(cli_main, ["integration", "set", "--integration", str(ids[platform]), "--policy",
                        f"price={PRICE_POLICY}"], "integration set")  # fmt: skip
    return ids


def created_in_shops(engine: Engine, integrations: Mapping[str, int]) -> dict[str, list[tuple[str, str]]]:
    """platform -> [(SKU, the shop's product id)] of the tenant's linked products, from ``entity_links``."""
    from ecom_pipeline.warehouse.schema import entity_links, hub_products, hub_variants

    by_id = {iid: platform for platform, iid in integrations.items()}
    created: dict[str, list[tuple[str, str]]] = {platform: [] for platform in integrations}
    query = (
        select(entity_links.c.integration_id, hub_variants.c.sku, entity_links.c.external_id)
        .select_from(
            entity_links.join(hub_products, hub_products.c.id == entity_links.c.hub_id).join(
                hub_variants, hub_variants.c.product_id == hub_products.c.id
            )
        )
        .where(
            entity_links.c.tenant_id == TENANT,
            entity_links.c.entity == "product",
            entity_links.c.deleted_at.is_(None),
        )
        .order_by(entity_links.c.integration_id, hub_variants.c.sku)
    )
    with engine.connect() as conn:
        for row in conn.execute(query):
            created[by_id[row.integration_id]].append((str(row.sku), str(row.external_id)))
    return created


def _sync(instance: Any, what: str) -> tuple[Any, float]:
    from ecom_pipeline.runner import run_sync

    started = time.monotonic()
    outcome = run_sync(TENANT, instance=instance, log_level="WARNING")
    elapsed = time.monotonic() - started
    if not outcome.success:
        raise DemoStepFailed(f"{what}: the sync run {outcome.run_id[:8]} failed: {outcome.failure}")
    return outcome, elapsed


def _export_counts(outcome: Any) -> str:
    """``shopify: created 2`` per export asset of a run, from its materialization metadata."""
    parts = []
    for key, meta in sorted(outcome.materializations.items()):
        if key.endswith("/export"):
            counts = [f"{k} {meta[k]}" for k in ("created", "updated", "failed") if meta.get(k)]
            parts.append(f"{key.split('/')[0]} {', '.join(counts) or 'nothing to push'}")
    return "; ".join(parts)


def place_order(http_url: str, shop: str, sku: str, quantity: int) -> dict[str, Any]:
    """Place an order in an emulated shop, as its checkout would (the shop then sends ``orders/create``)."""
    base = http_url.rsplit("/", 1)[0]
    response = requests.post(
        f"{base}/__sandbox/{shop}/orders",
        json={"line_items": [{"sku": sku, "quantity": quantity}], "presentment_currency": "EUR"},
        timeout=10,
    )
    response.raise_for_status()
    order: dict[str, Any] = response.json()
    return order


def _wait_for(probe: Callable[[], Any], timeout: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def hub_order(engine: Engine, integration_id: int, external_id: str) -> Any:
    """The hub row of a shop's order (found through its link), with its lines' count and hub SKUs; None if absent."""
    from ecom_pipeline.warehouse.schema import entity_links, hub_order_lines, hub_orders, hub_variants

    with engine.connect() as conn:
        order = conn.execute(
            select(hub_orders.c.id, hub_orders.c.total, hub_orders.c.currency)
            .select_from(hub_orders.join(entity_links, entity_links.c.hub_id == hub_orders.c.id))
            .where(
                entity_links.c.integration_id == integration_id,
                entity_links.c.entity == "order",
                entity_links.c.external_id == external_id,
                hub_orders.c.tenant_id == TENANT,
            )
        ).first()
        if order is None:
            return None
        skus = [
            str(sku)
            for sku in conn.execute(
                select(hub_variants.c.sku)
                .select_from(hub_order_lines.outerjoin(hub_variants, hub_variants.c.id == hub_order_lines.c.variant_id))
                .where(hub_order_lines.c.order_id == order.id)
            ).scalars()
        ]
    return OrderRow(order.id, order.total, order.currency, len(skus), ", ".join(skus))


@dataclass(frozen=True)
class OrderRow:
    """An order as the hub holds it: what the demo prints and its test checks."""

    hub_id: int
    total: Decimal
    currency: str
    lines: int
    skus: str  # the hub variants its lines point at ("None" for a line no hub variant matches)


def follow_order(
    engine: Engine, instance: Any, shops_info: Mapping[str, Any], integration_id: int, home: Path
) -> tuple[str | None, float | None, float | None]:
    """Place a Shopify order of a product the hub created there; time it into ``webhook_inbox``, then ``hub_orders``."""
    from ecom_pipeline.definitions import defs
    from ecom_pipeline.warehouse.schema import webhook_inbox

    shop = dict(SHOPS)[ORDER_PLATFORM]
    sku = CATALOGUE[1]["sku"]
    placed_at = time.monotonic()
    order = place_order(shops_info[shop]["http_url"], shop, sku, ORDER_QUANTITY)
    external_id = str(order["id"])
    print(f"  {ORDER_QUANTITY} x {sku} ordered in the emulated Shopify: order {external_id}")

    def in_inbox() -> Any:
        with engine.connect() as conn:
            return conn.execute(
                select(webhook_inbox.c.id).where(
                    webhook_inbox.c.integration_id == integration_id,
                    webhook_inbox.c.topic == "orders/create",
                    webhook_inbox.c.resource_id == external_id,
                )
            ).first()

    if _wait_for(in_inbox) is None:
        print(f"  no orders/create delivery within {WAIT_S:.0f}s (see {home / 'webhooks.log'})", file=sys.stderr)
        return external_id, None, None
    inbox_s = time.monotonic() - placed_at
    print(f"  orders/create delivered, signature checked, stored in webhook_inbox after {inbox_s:.2f}s")
    result = defs.resolve_job_def("apply_webhooks_job").execute_in_process(
        instance=instance,
        partition_key=TENANT,
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    row = hub_order(engine, integration_id, external_id)
    if row is None:
        print(f"  the order is not in hub_orders after apply_webhooks_job run {result.run_id[:8]}", file=sys.stderr)
        return external_id, inbox_s, None
    hub_s = time.monotonic() - placed_at
    print(
        f"  in hub_orders after {hub_s:.2f}s: total {row.total} {row.currency}, {row.lines} line(s) on hub variant "
        f"{row.skus} (applied by apply_webhooks_job run {result.run_id[:8]}, what webhook_inbox_sensor starts when "
        "the daemon runs)"
    )
    return external_id, inbox_s, hub_s


def edit_price_in_woocommerce(info: Mapping[str, Any], product_id: str, price: str) -> str:
    """Set a simple product's regular price through WooCommerce's REST API, as the shop owner would; returns the
    price it had."""
    from ecom_pipeline.platforms.woocommerce.client import WooCommerceClient

    with WooCommerceClient(info["http_url"], info["consumer_key"], info["consumer_secret"]) as client:
        before = client.get(f"products/{product_id}")
        client.put(f"products/{product_id}", {"regular_price": price, "sale_price": ""})
    return str(before.get("regular_price", ""))


def show_conflict(
    cli_main: Callable[[list[str]], int],
    engine: Engine,
    instance: Any,
    shops_info: Mapping[str, Any],
    created: Mapping[str, list[tuple[str, str]]],
    catalogue_path: Path,
) -> tuple[list[int], Decimal | None]:
    """Edit CONFLICT_SKU's price in the hub, then in WooCommerce, sync, and print the conflict as listed."""
    from ecom_pipeline.warehouse.schema import hub_variants, sync_conflicts

    original = next(r["price"] for r in CATALOGUE if r["sku"] == CONFLICT_SKU)
    edited = [{**r, "price": HUB_PRICE} if r["sku"] == CONFLICT_SKU else dict(r) for r in CATALOGUE]
    write_catalogue(catalogue_path, edited)
    _run(cli_main, ["catalog", "import", str(catalogue_path), "--tenant", TENANT], "catalog import (edit)")
    print(f"  hub: catalog import {catalogue_path.name} sets {CONFLICT_SKU} {original} -> {HUB_PRICE}")
    # WooCommerce keeps modification times to the second: the shop's edit must fall in a later second than the
    # hub's for `newest` to tell them apart (equal times go to the hub).
    time.sleep(1.1)
    shop = dict(SHOPS)[CONFLICT_PLATFORM]
    product_id = dict(created[CONFLICT_PLATFORM])[CONFLICT_SKU]
    before = edit_price_in_woocommerce(shops_info[shop], product_id, SHOP_PRICE)
    print(f"  WooCommerce: PUT /products/{product_id} regular_price {before} -> {SHOP_PRICE}, a second later")
    outcome, elapsed = _sync(instance, "the sync after both edits")
    print(f"  sync_job run {outcome.run_id[:8]} in {elapsed:.1f}s; pushed: {_export_counts(outcome)}")
    with engine.connect() as conn:
        ids = [
            int(i)
            for i in conn.execute(
                select(sync_conflicts.c.id).where(sync_conflicts.c.tenant_id == TENANT).order_by(sync_conflicts.c.id)
            ).scalars()
        ]
        price = conn.execute(
            select(hub_variants.c.price).where(hub_variants.c.tenant_id == TENANT, hub_variants.c.sku == CONFLICT_SKU)
        ).scalar_one_or_none()
    print(f"  $ ecom-pipeline conflicts list --tenant {TENANT}")
    listing = _run(cli_main, ["conflicts", "list", "--tenant", TENANT], "conflicts list")
    for line in listing.rstrip().splitlines():
        print(f"    {line}")
    others = ", ".join(p for p, _ in SHOPS if p != CONFLICT_PLATFORM)
    print(
        f"  policy {PRICE_POLICY}: WooCommerce's edit is the later one, so the hub takes it ({CONFLICT_SKU} price now "
        f"{price}) and pushes it to {others}"
    )
    return ids, price


def run_two_way_demo(shops_info: Mapping[str, Any], instance: Any, *, webhook_url: str, home: Path) -> TwoWayResult:
    """The two-way flow on the running emulated shops and receiver (see the module docstring)."""
    from ecom_pipeline.cli import main as cli_main
    from ecom_pipeline.warehouse.engine import default_warehouse_url, shared_engine
    from ecom_pipeline.warehouse.migrate import upgrade

    url = default_warehouse_url()
    upgrade(url)
    engine = shared_engine(url)
    print(f"Two-way sync (tenant {TENANT}: an empty Shopify, WooCommerce and PrestaShop shop, all bidirectional):")
    reset_tenant(engine, TENANT)
    integrations = connect_shops(cli_main, shops_info, webhook_url=webhook_url)
    print(
        "  connected "
        + ", ".join(f"{p} #{integrations[p]}" for p, _ in SHOPS)
        + f" (Shopify's webhooks to the receiver; price policy {PRICE_POLICY})"
    )

    catalogue_path = write_catalogue(home / f"{TENANT}-catalogue.csv", CATALOGUE)
    _run(cli_main, ["catalog", "import", str(catalogue_path), "--tenant", TENANT], "catalog import")
    skus = ", ".join(r["sku"] for r in CATALOGUE)
    print(f"  hub: catalog import {catalogue_path.name} creates {len(CATALOGUE)} products ({skus})")
    outcome, elapsed = _sync(instance, "the first sync")
    print(f"  sync_job run {outcome.run_id[:8]} (extract, hub, export) in {elapsed:.1f}s: {_export_counts(outcome)}")
    created = created_in_shops(engine, integrations)
    for platform, _ in SHOPS:
        listed = ", ".join(f"{sku} -> id {external}" for sku, external in created[platform]) or "nothing"
        print(f"    {platform:<12} {listed}")
    missing = [p for p, _ in SHOPS if len(created[p]) != len(CATALOGUE)]
    if missing:
        raise DemoStepFailed(
            f"the products did not reach {', '.join(missing)}; see `ecom-pipeline status` and rejected_records"
        )

    print("An order placed in Shopify, by webhook:")
    order_id, inbox_s, hub_s = follow_order(engine, instance, shops_info, integrations[ORDER_PLATFORM], home)

    print("The same price edited in the hub and in WooCommerce:")
    conflict_ids, price = show_conflict(
        cli_main, engine, instance, shops_info, created, home / f"{TENANT}-catalogue-edit.csv"
    )
    return TwoWayResult(
        integrations=dict(integrations),
        created=created,
        order_external_id=order_id,
        inbox_s=inbox_s,
        hub_orders_s=hub_s,
        conflict_ids=conflict_ids,
        hub_price_after=price,
    )
