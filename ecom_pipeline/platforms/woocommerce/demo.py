"""WooCommerce in ``ecom-pipeline demo``: how its demo shops are connected, and the change the webhook part makes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ecom_pipeline.platforms.woocommerce.client import WooCommerceClient


def connect_args(info: Mapping[str, Any]) -> list[str]:
    return ["--consumer-key", info["consumer_key"]]


def connect_env(info: Mapping[str, Any]) -> dict[str, str]:
    return {"ECOM_CONSUMER_SECRET": info["consumer_secret"]}


def touch_product(info: Mapping[str, Any]) -> tuple[str, str]:
    """Raise a simple product's regular price by 1.11 through the REST API (the shop then sends its webhook)."""
    client = WooCommerceClient(info["http_url"], info["consumer_key"], info["consumer_secret"])
    with client:
        product = next(p for p in client.get("products", {"type": "simple", "per_page": 5}) if p.get("sku"))
        new_price = f"{float(product.get('regular_price') or 10) + 1.11:.2f}"
        client.put(f"products/{product['id']}", {"regular_price": new_price, "sale_price": ""})
    return str(product["sku"]), (
        f"PUT /products/{product['id']} regular_price {product.get('regular_price')} -> {new_price} in the shop"
    )
