"""What the push tests share: one tenant, an emulated shop, a Dagster instance, and the CLI driving the hub.

Each push test file (one per platform, plus the export assets and the kill -9 test) subclasses ``PushWorld`` (or
``ShopifyWorld``, which reads the mutations a Shopify shop executed) with the readings of its own shop, and opens it
with the ``open_push_world`` fixture (integration/conftest.py): the emulated shop on 127.0.0.1, a Dagster instance,
and the shop connected to the tenant through ``ecom-pipeline connect``, secrets through the environment as a
merchant passes them. The shop specs the files share are built here too (``shopify_spec``, ``prestashop_spec``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import dagster as dg
import pytest
from sqlalchemy import delete, select, update

from ecom_pipeline.cli import main as cli_main
from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline.sandbox.shopify.oauth import DEFAULT_SCOPES
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import (
    entity_links,
    hub_products,
    hub_variants,
    push_records,
    rejected_records,
    sync_runs,
)

TENANT = "acme"
CATALOGUE_HEADER = (
    "handle,title,description,status,product_type,tags,categories,sku,variant_title,price,compare_at_price,"
    "currency,weight,options,position"
)
# The same with the columns added by migration 0008, for the tests of barcode and sale price pushes.
FIELDS_HEADER = f"{CATALOGUE_HEADER},sale_price,barcode"
WRITES = ("POST", "PUT", "PATCH", "DELETE")
# The environment variable each platform's ``connect`` reads its secret from, and the shop credential it holds
# (WooCommerce's keys go on the command line, as its connect takes them).
SECRET_ENV = {
    "shopify": ("ECOM_SHOPIFY_ACCESS_TOKEN", "access_token"),
    "prestashop": ("ECOM_PRESTASHOP_API_KEY", "api_key"),
}


@dataclass
class TenantWorld:
    """One test's warehouse, emulated shops and Dagster instance, driven through the CLI as a merchant does; the
    push worlds, the three-shop worlds and the merge world build on it."""

    url: str
    sandbox: SandboxServer
    instance: dg.DagsterInstance
    tmp: Path

    def cli(self, *argv: str) -> int:
        return cli_main(["--warehouse-url", self.url, *argv])

    def import_csv(self, *lines: str, header: str = CATALOGUE_HEADER) -> None:
        """``ecom-pipeline catalog import`` of a CSV of ``header`` and ``lines`` into the tenant's hub."""
        path = self.tmp / "catalogue.csv"
        path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
        assert self.cli("catalog", "import", str(path), "--tenant", TENANT) == 0


@dataclass
class PushWorld(TenantWorld):
    shop_name: str

    @property
    def shop(self) -> Any:
        return self.sandbox.shop(self.shop_name)

    def connect_argv(self) -> list[str]:
        """``connect <platform>`` of this shop to the tenant (secrets that go through the environment excluded)."""
        shop = self.shop
        argv = ["connect", shop.spec.platform, "--tenant", TENANT, "--url", shop.http_url, "--timeout", "5"]
        if shop.spec.platform == "woocommerce":
            argv += ["--consumer-key", shop.consumer_key, "--consumer-secret", shop.consumer_secret]
        return argv

    def connect(self, direction: str) -> None:
        """Connect the shop to the tenant with this sync direction (the secret must be in the environment)."""
        assert self.cli(*self.connect_argv(), "--direction", direction) == 0

    def push(self, *extra: str) -> int:
        return self.cli("push", "--tenant", TENANT, *extra)

    def writes(self) -> int:
        """HTTP write calls the shop served (REST shops; GraphQL writes are all POSTs, see the Shopify tests)."""
        return sum(self.shop.stats.count(method=m) for m in WRITES)

    def export_runs(self) -> list[Any]:
        with shared_engine(self.url).connect() as conn:
            return list(conn.execute(select(sync_runs).where(sync_runs.c.stage == "export").order_by(sync_runs.c.id)))

    def last_push_outcomes(self) -> dict[tuple[str, int], str]:
        """(entity, hub id) -> outcome of the ``push_records`` rows of the last push (lineage)."""
        run = self.export_runs()[-1]
        with shared_engine(self.url).connect() as conn:
            rows = conn.execute(select(push_records).where(push_records.c.sync_run_id == run.id)).all()
        return {(r.entity, int(r.hub_id)): r.outcome for r in rows if r.hub_id is not None}

    def set_hub(self, handle: str, **values: Any) -> None:
        """Edit a hub product in SQL, as a merchant may (docs/tables.md)."""
        with shared_engine(self.url).begin() as conn:
            conn.execute(update(hub_products).where(hub_products.c.handle == handle).values(**values))

    def unlink(self, handle: str, *skus: str) -> tuple[int, list[int]]:
        """Delete the links of hub product ``handle`` and of its variants (of ``skus`` only, when given): what a push
        killed between the shop's create and our link leaves. Returns the product's and the variants' hub ids."""
        with shared_engine(self.url).begin() as conn:
            product = conn.execute(select(hub_products.c.id).where(hub_products.c.handle == handle)).scalar_one()
            which = hub_variants.c.sku.in_(skus) if skus else hub_variants.c.product_id == product
            variants = list(conn.execute(select(hub_variants.c.id).where(which)).scalars().all())
            conn.execute(
                delete(entity_links).where(
                    ((entity_links.c.entity == "product") & (entity_links.c.hub_id == product))
                    | ((entity_links.c.entity == "variant") & (entity_links.c.hub_id.in_(variants)))
                )
            )
        return product, variants

    def hub_tags(self, handle: str) -> list[str]:
        with shared_engine(self.url).connect() as conn:
            return list(conn.execute(select(hub_products.c.tags).where(hub_products.c.handle == handle)).scalar_one())

    def rejected(self) -> list[Any]:
        """The push's rejected records (stage ``export``)."""
        with shared_engine(self.url).connect() as conn:
            return conn.execute(select(rejected_records).where(rejected_records.c.stage == "export")).all()

    def linked_variant_skus(self) -> list[str]:
        """SKUs of the hub variants with a live link to the shop, sorted."""
        with shared_engine(self.url).connect() as conn:
            linked = conn.execute(
                select(hub_variants.c.sku)
                .join(entity_links, (entity_links.c.hub_id == hub_variants.c.id) & (entity_links.c.entity == "variant"))
                .where(entity_links.c.deleted_at.is_(None))
            ).scalars()
            return sorted(linked)

    def kill_push_at_write(self, write: int) -> None:
        """Start ``ecom-pipeline push`` in its own process, SIGKILL it once the shop has applied its ``write``-th
        write and holds the answer back, then let the answer go (to nobody)."""
        self.shop.faults.update({"hold_after_writes": write, "hold_timeout_s": 120})
        proc = subprocess.Popen(
            [sys.executable, "-m", "ecom_pipeline.cli", "--warehouse-url", self.url, "push", "--tenant", TENANT],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=dict(os.environ),
        )
        try:
            held = self.shop.faults.held.wait(timeout=120)
            assert held, (
                f"the push never reached write {write}: {proc.poll()} {proc.stdout.read() if proc.stdout else ''}"
            )
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
            self.shop.faults.release_held()
        assert proc.returncode == -signal.SIGKILL

    def hub_rows_of(self, handles: Iterable[str], skus: Iterable[str]) -> dict[str, tuple[Any, ...]]:
        """The hub rows of these products and variants, every column (synced_at included): a write shows here."""
        with shared_engine(self.url).connect() as conn:
            products = conn.execute(select(hub_products).where(hub_products.c.handle.in_(list(handles)))).all()
            variants = conn.execute(select(hub_variants).where(hub_variants.c.sku.in_(list(skus))))
            return {f"p:{r.handle}": tuple(r) for r in products} | {f"v:{r.sku}": tuple(r) for r in variants}


class ShopifyWorld(PushWorld):
    """A push world on the Shopify emulator: every GraphQL request is the same POST, so reads and writes are told
    apart by the emulator's log of executed operations."""

    @property
    def ops(self) -> list[tuple[str, tuple[str, ...]]]:
        return self.shop.api.operations

    def mutations(self) -> list[str]:
        """Root fields of every mutation the shop executed since the last ``clear``."""
        return [name for kind, roots in self.ops if kind == "mutation" for name in roots]

    def clear(self) -> None:
        self.ops.clear()

    def variants_by_sku(self) -> dict[str, list[Any]]:
        """Every shop variant per SKU: a duplicate shows as two."""
        found: dict[str, list[Any]] = {}
        for v in self.shop.store.variants.values():
            found.setdefault(v.sku, []).append(v)
        return found

    def product(self, sku: str) -> Any:
        """The shop product carrying ``sku`` (None when the shop has none)."""
        store = self.shop.store
        found = [store.products[v.product_id] for v in store.variants.values() if v.sku == sku]
        assert len(found) <= 1, f"{sku} is on {len(found)} shop products"
        return found[0] if found else None


def shopify_spec(
    name: str, *, seed: int, products: int, variable_share: float = ShopSpec.variable_share, **options: Any
) -> ShopSpec:
    """A Shopify shop the push can write to (``write_products`` granted), without orders or customers; ``options``
    are the emulator's (e.g. ``bulk_mutation_lines_per_s``)."""
    scopes = {"scopes": [*DEFAULT_SCOPES, "write_products"]}
    return ShopSpec(name=name, seed=seed, products=products, variable_share=variable_share, orders=0, customers=0,
                    platform="shopify", options=scopes | options)  # fmt: skip


def prestashop_spec(name: str, *, languages: list[str], seed: int = 5, products: int = 3) -> ShopSpec:
    """A PrestaShop shop in ``languages`` with simple products only, without orders or customers."""
    return ShopSpec(name=name, seed=seed, products=products, variable_share=0.0, orders=0, customers=0,
                    platform="prestashop", options={"languages": languages})  # fmt: skip


# The WooCommerce push tests' world (test_push_woocommerce_e2e.py), reused by the lineage tests through the
# ``woocommerce_push_world`` fixture of integration/conftest.py.
WOOCOMMERCE_SHOP = "push-shop"
WOOCOMMERCE_CATALOGUE = [
    "tee,T-Shirt,<p>Soft</p>,active,variable,,,TEE-S,T-Shirt - S,19.90,24.90,EUR,0.2,Size=S,",
    "tee,,,,,,,TEE-M,T-Shirt - M,19.90,,EUR,0.2,Size=M,",
    "mug,Mug,,active,simple,,,MUG-1,,8.00,,EUR,0.35,,",
]


class WooCommerceWorld(PushWorld):
    def shop_by_sku(self) -> dict[str, list[Any]]:
        """Every shop record (product or variation) per SKU: a duplicate shows as two."""
        store = self.shop.store
        found: dict[str, list[Any]] = {}
        for record in [*store.products.values(), *store.variations.values()]:
            if record.sku and getattr(record, "status", "publish") != "trash":
                found.setdefault(record.sku, []).append(record)
        return found

    def hub_rows(self) -> dict[str, tuple[Any, ...]]:
        """Our catalogue's hub rows, every column (synced_at included): a pull that writes them shows here."""
        return self.hub_rows_of(["tee", "mug"], ["TEE-S", "TEE-M", "MUG-1"])

    def variations_of(self, parent_id: int) -> list[tuple[int, str, Any]]:
        """The shop's variations of one parent as (id, SKU, attributes), in the emulator's order: a duplicate shows."""
        return [(v.id, v.sku, v.attributes) for v in self.shop.store.variations.values() if v.parent_id == parent_id]

    def set_hub_variant(self, key: str, /, **values: Any) -> None:
        """Edit the hub variant whose SKU is ``key`` in SQL (e.g. ``sku=None``: SKU-less), as a merchant may."""
        with shared_engine(self.url).begin() as conn:
            conn.execute(update(hub_variants).where(hub_variants.c.sku == key).values(**values))


# Faults of the emulated WooCommerce shop for the variation batches of the SKU-less create tests.
VARIATION_BATCH = "/variations/batch"
# The batch applied, its answer cut: the push must look the create up, not send it again.
LOST_VARIATION_ANSWER = {"cut_after_bytes": 10, "cut_responses": 1, "cut_path": VARIATION_BATCH}
# max_retries is 5: six sends. The first five are refused before the shop applies them (a proxy's 502), the sixth is
# applied and its answer cut: no look-up follows the last attempt, the push fails with the variation in the shop.
EVERY_VARIATION_ANSWER_LOST = {
    "server_errors": 5,
    "server_error_path": VARIATION_BATCH,
    "server_error_statuses": [502],
    **LOST_VARIATION_ANSWER,
}


def woocommerce_spec() -> ShopSpec:
    """The WooCommerce push tests' shop: a few products, half of them variable, no orders or customers."""
    return ShopSpec(name=WOOCOMMERCE_SHOP, seed=11, products=4, variable_share=0.5, orders=0, customers=0)


W = TypeVar("W", bound=PushWorld)


@contextlib.contextmanager
def push_world(
    world_type: type[W],
    spec: ShopSpec,
    *,
    warehouse_url: str,
    dagster_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    direction: str | None = "push",
) -> Iterator[W]:
    """The shop of ``spec`` running, a Dagster instance, and (unless ``direction`` is None) the shop connected to
    the tenant with that direction; the platform's secret is put in the environment, where its connect reads it."""
    from ecom_pipeline_tests.integration.conftest import running_shop  # conftest imports this module

    shop = running_shop(
        spec, warehouse_url=warehouse_url, dagster_home=dagster_home, tmp_path=tmp_path, monkeypatch=monkeypatch
    )
    with shop as (sb, instance):
        world = world_type(warehouse_url, sb, instance, tmp_path, spec.name)
        if spec.platform in SECRET_ENV:
            variable, credential = SECRET_ENV[spec.platform]
            monkeypatch.setenv(variable, world.shop.credentials[credential])
        if direction is not None:
            world.connect(direction)
        yield world


class OpenPushWorld(Protocol):
    """The ``open_push_world`` fixture: ``push_world`` bound to the test's warehouse, instance and temp folder."""

    def __call__(
        self, world_type: type[W], spec: ShopSpec, *, direction: str | None = "push"
    ) -> contextlib.AbstractContextManager[W]: ...
