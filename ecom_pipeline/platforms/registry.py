"""The platform registry: what the Dagster surface and the CLI need to know about each platform.

Adding a platform means adding its folder under ``platforms/`` and one ``PlatformSpec`` here; assets, hub
steps and CLI commands are generated from this list, so nothing else needs editing.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ecom_pipeline.platforms.connect import ConnectResult
from ecom_pipeline.sync.extract import ExtractContext, ExtractReport
from ecom_pipeline.sync.reconcile import ReconcileSpec


@dataclass(frozen=True)
class PlatformSpec:
    """One platform: its extract entities, its transforms and how to check a connection."""

    name: str
    title: str
    # asset name -> staging entity, in dependency order (inventory reads what products staged).
    extract_entities: Mapping[str, str]
    # staging entity -> callable(payload) -> canonical record(s)
    transforms: Mapping[str, Callable[[dict[str, Any]], Any]]
    extract: Callable[[ExtractContext, str], ExtractReport]
    # asset name -> asset names of this platform it must run after
    extract_deps: Mapping[str, tuple[str, ...]]
    # CLI/UI connect: platform-specific arguments, and the check that returns what to store.
    add_connect_arguments: Callable[[argparse.ArgumentParser], None]
    connect: Callable[[argparse.Namespace], ConnectResult]
    # Id-only listings that find deletes nobody announces (sync/reconcile.py); None: not reconciled.
    reconcile: ReconcileSpec | None = None


def _woocommerce() -> PlatformSpec:
    from ecom_pipeline.platforms.woocommerce import connect as wc_connect
    from ecom_pipeline.platforms.woocommerce import extract as wc_extract
    from ecom_pipeline.platforms.woocommerce import transform as wc

    def extract(ctx: ExtractContext, entity: str) -> ExtractReport:
        if entity == "inventory":
            return wc_extract.extract_inventory(ctx)
        return wc_extract.extract_entity(ctx, entity)

    return PlatformSpec(
        name="woocommerce",
        title="WooCommerce",
        extract_entities={"products": "product", "inventory": "inventory", "orders": "order", "customers": "customer"},
        transforms={
            "product": wc.product_to_canonical,
            "inventory": wc.inventory_from_product,
            "order": wc.order_to_canonical,
            "customer": wc.customer_to_canonical,
        },
        extract=extract,
        extract_deps={"inventory": ("products",), "customers": ("orders",)},
        add_connect_arguments=wc_connect.add_connect_arguments,
        connect=wc_connect.connect,
        # No webhook announces a permanent delete: list ids (page numbers, so unlisted ids are asked for again).
        reconcile=ReconcileSpec(
            resources={"product": "products", "order": "orders", "customer": "customers"},
            make_client=wc_extract.make_client,
            confirm_unlisted=True,
            stock_keyed_by_product=True,
        ),
    )


# Platforms whose package provides ``platform_spec() -> PlatformSpec`` (module path), in display order.
PLATFORM_MODULES: tuple[str, ...] = (
    "ecom_pipeline.platforms.shopify.spec",
    "ecom_pipeline.platforms.prestashop.spec",
)


def platforms() -> dict[str, PlatformSpec]:
    """Every registered platform by name."""
    specs = [_woocommerce()]
    for module_name in PLATFORM_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue  # that platform is not part of this build yet
            raise
        specs.append(module.platform_spec())
    return {spec.name: spec for spec in specs}


def get_platform(name: str) -> PlatformSpec:
    known = platforms()
    if name not in known:
        raise KeyError(f"unknown platform {name!r}; known platforms: {', '.join(sorted(known))}")
    return known[name]
