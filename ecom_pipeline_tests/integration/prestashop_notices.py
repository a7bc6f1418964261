"""What the PrestaShop change-notice end-to-end tests share: a module's signed notice posted to the receiver, and
the hub's view of one product (its variants' price, whether it is deleted), read through the integration's link.

PrestaShop has no webhooks in core; a module on the shop posts ``{"resource", "id", "action"}`` signed with the
integration's webhook secret (``platforms/prestashop/deliveries.py``)."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import requests
from sqlalchemy import select

from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import entity_links, hub_products, hub_variants
from ecom_pipeline.webhooks.signatures import generic_signature

#: What the notice tests' tenant connects with: PrestaShop's connect reads the shop's key from this variable.
PRESTASHOP_SECRET_ENV = {"ECOM_PRESTASHOP_API_KEY": "api_key"}


def post_notice(url: str, body: dict, secret: str, timestamp: str | None = None) -> requests.Response:
    """POST ``body`` as the shop's module does, signed with ``secret`` at ``timestamp`` (default: now, whole
    seconds, as the module sends it)."""
    raw = json.dumps(body).encode()
    stamp = timestamp if timestamp is not None else str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Ecom-Timestamp": stamp,
        "X-Ecom-Signature": generic_signature(secret, stamp, raw),
    }
    return requests.post(url, data=raw, headers=headers, timeout=10)


def hub_product(warehouse_url: str, integration_id: int, pid: int) -> tuple[list[Decimal], bool]:
    """(prices of the hub variants of shop product ``pid``, in id order; whether the hub product is deleted)."""
    with shared_engine(warehouse_url).connect() as conn:
        hub_id = conn.execute(
            select(entity_links.c.hub_id).where(
                entity_links.c.integration_id == integration_id,
                entity_links.c.entity == "product",
                entity_links.c.external_id == str(pid),
            )
        ).scalar_one()
        deleted = conn.execute(select(hub_products.c.deleted_at).where(hub_products.c.id == hub_id)).scalar_one()
        prices = conn.execute(
            select(hub_variants.c.price).where(hub_variants.c.product_id == hub_id).order_by(hub_variants.c.id)
        ).scalars()
        return [Decimal(p) for p in prices if p is not None], deleted is not None


def hub_price(warehouse_url: str, integration_id: int, pid: int) -> Decimal:
    """The price of simple shop product ``pid``'s one hub variant (fails if it has more or none)."""
    prices, _ = hub_product(warehouse_url, integration_id, pid)
    assert len(prices) == 1, prices
    return prices[0]
