"""What the push tests share: one tenant, an emulated shop, a Dagster instance, and the CLI driving the hub.

Each push test file (one per platform, plus the export assets) subclasses ``PushWorld`` with the readings of its own
shop (records by SKU or reference, the mutations it executed) and opens the shop with ``running_shop``
(integration/conftest.py, which ``one_shop_tenant`` uses too).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
from sqlalchemy import select

from ecom_pipeline.cli import main as cli_main
from ecom_pipeline.sandbox.server import SandboxServer
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import hub_products, hub_variants, push_records, sync_runs

TENANT = "acme"
CATALOGUE_HEADER = (
    "handle,title,description,status,product_type,tags,categories,sku,variant_title,price,compare_at_price,"
    "currency,weight,options,position"
)
# The same with the columns added by migration 0008, for the tests of barcode and sale price pushes.
FIELDS_HEADER = f"{CATALOGUE_HEADER},sale_price,barcode"
WRITES = ("POST", "PUT", "PATCH", "DELETE")


@dataclass
class PushWorld:
    url: str
    sandbox: SandboxServer
    instance: dg.DagsterInstance
    tmp: Path
    shop_name: str

    @property
    def shop(self) -> Any:
        return self.sandbox.shop(self.shop_name)

    def cli(self, *argv: str) -> int:
        return cli_main(["--warehouse-url", self.url, *argv])

    def push(self, *extra: str) -> int:
        return self.cli("push", "--tenant", TENANT, *extra)

    def import_csv(self, *lines: str, header: str = CATALOGUE_HEADER) -> None:
        path = self.tmp / "catalogue.csv"
        path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
        assert self.cli("catalog", "import", str(path), "--tenant", TENANT) == 0

    def writes(self) -> int:
        """HTTP write calls the shop served (REST shops; GraphQL writes are all POSTs, see the Shopify tests)."""
        return sum(self.shop.stats.count(method=m) for m in WRITES)

    def export_runs(self) -> list[Any]:
        with shared_engine(self.url).connect() as conn:
            return conn.execute(select(sync_runs).where(sync_runs.c.stage == "export").order_by(sync_runs.c.id)).all()

    def last_push_outcomes(self) -> dict[tuple[str, int], str]:
        """(entity, hub id) -> outcome of the ``push_records`` rows of the last push (lineage)."""
        run = self.export_runs()[-1]
        with shared_engine(self.url).connect() as conn:
            rows = conn.execute(select(push_records).where(push_records.c.sync_run_id == run.id)).all()
        return {(r.entity, int(r.hub_id)): r.outcome for r in rows if r.hub_id is not None}

    def hub_rows_of(self, handles: Iterable[str], skus: Iterable[str]) -> dict[str, tuple[Any, ...]]:
        """The hub rows of these products and variants, every column (synced_at included): a write shows here."""
        with shared_engine(self.url).connect() as conn:
            products = conn.execute(select(hub_products).where(hub_products.c.handle.in_(list(handles)))).all()
            variants = conn.execute(select(hub_variants).where(hub_variants.c.sku.in_(list(skus))))
            return {f"p:{r.handle}": tuple(r) for r in products} | {f"v:{r.sku}": tuple(r) for r in variants}
