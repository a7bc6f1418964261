"""Shops whose product categories the tests edit as a merchant would and read back through the pull (issue 10)."""

from __future__ import annotations

import html
from typing import Any

import requests
from sqlalchemy import select

from ecom_pipeline.runner import run_sync
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import hub_products
from ecom_pipeline_tests.integration.push_world import TENANT, PushWorld


def woo_rest(sandbox: Any, shop: Any, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """A merchant's edit through an emulated WooCommerce shop's REST API (real HTTPS); the answer's JSON."""
    reply = requests.request(
        method,
        f"{shop.https_url}/wp-json/wc/v3/{path}",
        params={"consumer_key": shop.consumer_key, "consumer_secret": shop.consumer_secret},
        json=body,
        verify=sandbox.ca_bundle,
        timeout=10,
    )
    assert reply.status_code in (200, 201), reply.text
    return reply.json()


def woo_category_steps(shop: Any, sku: str, *, unescape: bool = False) -> list[tuple[str, ...]]:
    """The categories of an emulated WooCommerce shop's product, each as the names of its steps from the top level,
    from the shop's own terms (parents followed), sorted. WooCommerce keeps a term's name HTML-escaped
    (``Kids &gt; 3 years``); ``unescape`` reads the names as the merchant typed them."""
    store = shop.store
    terms = store.catalog.terms
    [product] = [p for p in store.products.values() if p.sku == sku]
    out = []
    for named in product.categories:
        steps: list[str] = []
        cid = int(named["id"])
        while cid:
            steps.insert(0, html.unescape(terms[cid].name) if unescape else terms[cid].name)
            cid = int(terms[cid].parent)
        out.append(tuple(steps))
    return sorted(out)


def woo_category_paths(shop: Any, sku: str) -> list[str]:
    """The categories of an emulated WooCommerce shop's product as paths (the shop's names joined by `` > ``),
    sorted."""
    return sorted(" > ".join(steps) for steps in woo_category_steps(shop, sku))


def presta_category_path(store: Any, cid: int) -> str:
    """An emulated PrestaShop shop's category as ``Parent > Child`` from home (English names, language 1), from the
    shop's own tables; ``Home`` for home itself."""
    names: list[str] = []
    while cid > 2:
        row = store.tables["categories"][cid]
        names.insert(0, store.text(row["name"], 1))
        cid = int(row["id_parent"])
    return " > ".join(names) if names else "Home"


def presta_category_paths(shop: Any, reference: str) -> list[str]:
    """The categories of an emulated PrestaShop shop's product (found by its ``reference``) as paths from home,
    sorted."""
    store = shop.store
    [pid] = [p for p, row in store.tables["products"].items() if row.get("reference") == reference]
    return sorted(presta_category_path(store, int(cid)) for cid in store.product_categories[int(pid)])


class CategoryWorld(PushWorld):
    """A shop of the push world that the sync job pulls back, with the hub's categories of a product at hand."""

    def hub_categories(self, handle: str) -> list[str]:
        with shared_engine(self.url).connect() as conn:
            row = conn.execute(select(hub_products.c.categories).where(hub_products.c.handle == handle)).one()
        return sorted(row.categories or [])

    def pull(self) -> None:
        outcome = run_sync(TENANT, instance=self.instance)
        assert outcome.success, outcome.failure

    def quiet(self, handles: list[str], skus: list[str]) -> None:
        """A push, a pull, a push: no shop write and no hub change (no echo, no ping-pong)."""
        self.shop.stats.reset()
        assert self.push() == 0
        assert self.writes() == 0
        before = self.hub_rows_of(handles, skus)
        self.pull()
        assert self.hub_rows_of(handles, skus) == before
        self.shop.stats.reset()
        assert self.push() == 0
        assert self.writes() == 0


class WooWorld(CategoryWorld):
    """A WooCommerce shop the merchant edits through its REST API."""

    def rest(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """A merchant's edit through WooCommerce's REST API (real HTTPS)."""
        return woo_rest(self.sandbox, self.shop, method, path, body)

    def product_id(self, sku: str) -> int:
        [found] = [p for p in self.shop.store.products.values() if p.sku == sku]
        return int(found.id)


class PrestaWorld(CategoryWorld):
    """A PrestaShop shop the merchant edits in its back office (the emulator's tables)."""

    def product_id(self, reference: str) -> int:
        [pid] = [p for p, row in self.shop.store.tables["products"].items() if row.get("reference") == reference]
        return int(pid)

    def category(self, name: str, parent: str) -> str:
        """A category the merchant creates in the back office."""
        store = self.shop.store
        with store.lock:
            row = store.create(
                "categories", {"id_parent": parent, "name": {1: name}, "link_rewrite": {1: name.lower()}}, {}
            )
        return str(row["id"])

    def set_categories(self, reference: str, ids: list[str]) -> None:
        """The merchant files the product elsewhere in the back office (its ``date_upd`` moves)."""
        store = self.shop.store
        pid = self.product_id(reference)
        with store.lock:
            store.product_categories[pid] = list(ids)
        store.update_product(pid)
