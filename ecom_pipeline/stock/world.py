"""Three emulated shops selling one shelf: the stock tests', the benchmark's and the demo's world.

One WooCommerce, one Shopify and one PrestaShop emulator (``sandbox``) on 127.0.0.1, each with a simple product
whose SKU is the same (``SHARED_SKU``), connected to one tenant with ``stock_sync`` on. ``cycle`` is the hub's
stock step as the Dagster jobs run it, in process: the shops' orders and stock read (the real extractors over
HTTP) and applied to the hub, then ``run_stock`` (movements, reconcile, push through the real stock writers).
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, update

from ecom_pipeline.cli import main as cli_main
from ecom_pipeline.platforms.registry import platforms
from ecom_pipeline.sandbox.server import SandboxServer, ShopHandle, ShopSpec
from ecom_pipeline.sandbox.shopify.oauth import DEFAULT_SCOPES
from ecom_pipeline.stock.push import StockReport, run_stock
from ecom_pipeline.sync.apply import apply_staged
from ecom_pipeline.sync.extract import DEFAULT_LOOKBACK
from ecom_pipeline.sync.extract_run import ExtractOptions, extract_for_tenant
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import hub_variants, integrations

TENANT = "acme"
SHARED_SKU = "SHELF-1"
PLATFORMS = ("woocommerce", "shopify", "prestashop")
_LOG = logging.getLogger("ecom_pipeline.stock.world")


def sleep_into_next_second(margin: float = 0.05) -> None:
    """Sleep until the wall clock (which the emulators' clocks follow) is into its next whole second.

    The shops stamp changes to the second, and a change stamped in the same second as the last reading reads as no
    change: whatever happens after this call is stamped in a later second than anything before it. That is what a
    flat ``sleep(1.05)`` guaranteed too, in 0.55 s on average instead of 1.05 s.
    """
    now = time.time()
    time.sleep(math.floor(now) + 1 - now + margin)


def shop_specs(seed: int = 3, shopify_plan: str = "standard") -> list[ShopSpec]:
    """Small shops (a few simple products, no seeded orders): the shared item is what the world sells.

    ``shopify_plan`` sets the emulated Shopify's cost bucket (``standard``: 100 points/s). The tests use ``plus``
    (1,000 points/s): their rounds of reads otherwise drain the bucket and wait ~2.5 s a read for it to refill, a
    wait that proves nothing about the stock ledger (the cost governor has its own tests).
    """
    return [
        ShopSpec(name="stock-woo", seed=seed, products=3, variable_share=0.0, orders=0, customers=2),
        ShopSpec(
            name="stock-shopify",
            seed=seed,
            products=3,
            orders=0,
            customers=2,
            platform="shopify",
            # write_orders: the tests cancel orders as the merchant does (``orderCancel``)
            options={
                "scopes": [*DEFAULT_SCOPES, "write_inventory", "write_products", "write_orders"],
                "plan": shopify_plan,
            },
        ),
        ShopSpec(name="stock-ps", seed=seed, products=3, orders=0, customers=2, platform="prestashop"),
    ]


@dataclass
class Shelf:
    """Where the shared item lives in each shop (ids in the emulators)."""

    woo_product: int = 0
    shopify_variant: int = 0
    ps_product: int = 0


@dataclass
class StockWorld:
    """The three shops, the warehouse and the tenant (see the module doc)."""

    url: str
    sandbox: SandboxServer
    cipher: CredentialCipher
    shelf: Shelf = field(default_factory=Shelf)
    ids: dict[str, int] = field(default_factory=dict)  # platform -> integration id
    # How far back each read starts before its cursor (the sync's default: 5 minutes). The benchmark shortens it:
    # it reads every second or so, as a webhook-fed deployment does, not every few minutes.
    lookback: timedelta = DEFAULT_LOOKBACK

    @property
    def engine(self) -> Engine:
        return shared_engine(self.url)

    def shop(self, platform: str) -> ShopHandle:
        return self.sandbox.shop(
            {"woocommerce": "stock-woo", "shopify": "stock-shopify", "prestashop": "stock-ps"}[platform]
        )

    # -- what each shop shows ---------------------------------------------------------------------------------

    def shown(self) -> dict[str, int]:
        """The shared item's quantity in each shop, read from the emulators' own state."""
        woo = self.shop("woocommerce").store.products[self.shelf.woo_product].stock_quantity
        sh = self.shop("shopify").store
        levels = sh.levels[sh.variants[self.shelf.shopify_variant].inventory_item_id]
        ps = self.shop("prestashop").store
        row = ps.tables["stock_availables"][ps.stock_index[(self.shelf.ps_product, 0)]]
        return {
            "woocommerce": int(woo or 0),
            "shopify": int(next(iter(levels.values())).available),
            "prestashop": int(row["quantity"]),
        }

    # -- a buyer in a shop ------------------------------------------------------------------------------------

    def sell(self, platform: str, quantity: int = 1) -> str:
        """A paid order of the shared item placed in one shop (it takes the stock there); returns its id."""
        if platform == "woocommerce":
            s = self.shop(platform).store
            order = s.add_order(
                {"line_items": [{"product_id": self.shelf.woo_product, "quantity": quantity}], "set_paid": True}
            )
            return str(order.id)
        if platform == "shopify":
            s = self.shop(platform).store
            order = s.add_order({"line_items": [{"variant_id": self.shelf.shopify_variant, "quantity": quantity}]})
            return str(order.id)
        view = self.shop(platform).store.add_order(lines=[(self.shelf.ps_product, 0, quantity)])
        return str(view.row["id"] if hasattr(view, "row") else view)

    # -- the hub ----------------------------------------------------------------------------------------------

    def pull(self, entities: tuple[str, ...] = ("orders", "inventory")) -> None:
        """The extract and hub steps of a sync for these entities, in process (the same functions as the assets)."""
        specs = platforms()
        for entity_name in entities:
            for platform in PLATFORMS:
                spec = specs[platform]
                if entity_name not in spec.extract_entities:
                    continue
                extract_for_tenant(
                    self.engine,
                    self.cipher,
                    spec,
                    tenant=TENANT,
                    entity=spec.extract_entities[entity_name],
                    run_id=f"world-{uuid.uuid4().hex[:8]}",
                    options=ExtractOptions(lookback=self.lookback),
                    log=_LOG,
                )
            staged = {"products": "product", "inventory": "inventory", "orders": "order", "customers": "customer"}
            entity = staged[entity_name]
            transforms = {p: s.transforms[entity] for p, s in specs.items() if entity in s.transforms}
            apply_staged(self.engine, tenant_id=TENANT, entity=entity, transforms=transforms, run_id=None)

    def stock(self, **kwargs: Any) -> StockReport:
        """The stock step (movements, reconcile, push) for the tenant."""

        credentials_for = store.credentials_loader(lambda: self.cipher)
        return run_stock(self.engine, tenant_id=TENANT, credentials_for=credentials_for, **kwargs)

    def cycle(self) -> StockReport:
        """What follows a sale: the shops read, the ledger moved, the shops pushed."""
        self.pull()
        return self.stock()

    def variant_id(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(hub_variants.c.id).where(hub_variants.c.sku == SHARED_SKU)).scalar_one())

    def set_settings(self, platform: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            row = conn.execute(select(integrations.c.settings).where(integrations.c.id == self.ids[platform])).one()
            settings = {**(row.settings or {}), **values}
            conn.execute(update(integrations).where(integrations.c.id == self.ids[platform]).values(settings=settings))


def _shelve(world: StockWorld, quantity: int) -> None:
    """Give one simple product of each shop the shared SKU and ``quantity`` units (a merchant's setup)."""
    woo = world.shop("woocommerce").store
    pid = min(p.id for p in woo.products.values() if p.type == "simple")
    woo.update_product(pid, {"sku": SHARED_SKU, "manage_stock": True, "stock_quantity": quantity})
    world.shelf.woo_product = pid
    sh = world.shop("shopify").store
    product = min(sh.products.values(), key=lambda p: p.id)
    vid = product.variant_ids[0]
    sh.update_variant(vid, sku=SHARED_SKU)
    sh.set_stock(vid, quantity)
    world.shelf.shopify_variant = vid
    ps = world.shop("prestashop").store
    simple = sorted(pid for pid in ps.tables["products"] if not ps.combinations_of.get(pid))
    ps_pid = simple[0]
    ps.tables["products"][ps_pid]["reference"] = SHARED_SKU
    ps.set_stock(ps_pid, quantity)
    world.shelf.ps_product = ps_pid


@contextmanager
def stock_world(
    url: str,
    cert_dir: Path,
    home: Path,
    quantity: int = 10,
    webhook_url: str | None = None,
    shopify_plan: str = "standard",
) -> Iterator[StockWorld]:
    """The world, connected and pulled once (products, customers, inventory), stock not pushed yet.

    The environment must hold ``ECOM_SECRET_KEY`` (the CLI's ``connect`` encrypts credentials with it). With
    ``webhook_url`` (a running receiver), WooCommerce and Shopify are connected with their webhooks to it (Shopify
    then with client credentials: the stored client secret verifies its signatures); PrestaShop sends none.
    """
    import os

    with SandboxServer(shops=shop_specs(shopify_plan=shopify_plan), cert_dir=cert_dir) as sandbox:
        cipher = CredentialCipher.from_env(home)
        world = StockWorld(url, sandbox, cipher)
        _shelve(world, quantity)
        base = ["--warehouse-url", url, "connect"]
        woo = world.shop("woocommerce")
        assert (
            cli_main(
                [
                    *base,
                    "woocommerce",
                    "--tenant",
                    TENANT,
                    "--url",
                    woo.http_url,
                    "--consumer-key",
                    woo.consumer_key,
                    "--consumer-secret",
                    woo.consumer_secret,
                    "--timeout",
                    "5",
                    *(["--webhook-url", webhook_url, "--force-webhook-port"] if webhook_url else []),
                ]
            )
            == 0
        )
        shopify = world.shop("shopify")
        hooks: list[str] = []
        if webhook_url:
            os.environ["ECOM_SHOPIFY_CLIENT_SECRET"] = shopify.credentials["client_secret"]
            hooks = ["--client-id", shopify.credentials["client_id"], "--webhook-url", webhook_url]
        else:
            os.environ["ECOM_SHOPIFY_ACCESS_TOKEN"] = shopify.credentials["access_token"]
        assert (
            cli_main([*base, "shopify", "--tenant", TENANT, "--url", shopify.http_url, "--timeout", "5", *hooks]) == 0
        )
        os.environ["ECOM_PRESTASHOP_API_KEY"] = world.shop("prestashop").credentials["api_key"]
        assert (
            cli_main(
                [*base, "prestashop", "--tenant", TENANT, "--url", world.shop("prestashop").http_url, "--timeout", "5"]
            )
            == 0
        )
        with world.engine.connect() as conn:
            world.ids = {s.platform: int(s.id) for s in store.list_integrations(conn, tenant_id=TENANT)}
        for platform in PLATFORMS:
            world.set_settings(platform, stock_sync=True)
        world.pull(("products", "customers", "inventory"))
        sleep_into_next_second()  # shops stamp to the second: sales after this are clearly after the first readings
        yield world
