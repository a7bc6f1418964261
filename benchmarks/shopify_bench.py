"""Shopify full sync against the emulator at Standard-plan limits (100 points/s, bucket 2,000), paginated and bulk.

What it measures, per entity: the wall time of the extract (GraphQL pages or a bulk operation, plus staging into a
SQLite warehouse) in **emulated seconds**, against the floor the shop's limits imply:

- paginated: the sum of ``actualQueryCost`` of every query / the restore rate (100 points/s). The bucket starts
  full (2,000 points), so a run may beat this floor by up to 20 s; a ratio near 1.0 means the governor kept the
  bucket busy without waiting more than the budget requires;
- bulk: the emulator's bulk duration (start delay + objects / ``bulk_objects_per_s``), the time Shopify itself
  takes to build the file.

It also counts THROTTLED answers (the aim is zero in steady state) and checks the ratio against 1.2. The emulator
clock runs ``time_scale`` times faster than real time (the client sleeps and reads the same scaled clock), so the
ratios do not depend on the scale; only the absolute run time does. At high scales the emulator's own CPU time
(executing GraphQL in Python) can become the bottleneck and shows as a ratio above 1: lower ``--time-scale``.

    .venv/bin/python -m benchmarks.shopify_bench           # 10,000 products (~50,000 variants), 20,000 orders
    .venv/bin/python -m benchmarks.shopify_bench --quick   # 600 products, 1,200 orders: checks the script works
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from ecom_pipeline.platforms.shopify.client import ShopifyClient
from ecom_pipeline.platforms.shopify.extract import extract_entity
from ecom_pipeline.sandbox.clock import SandboxClock
from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline.sandbox.shopify.bulk import START_DELAY_S
from ecom_pipeline.sync.extract import ExtractContext
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.migrate import upgrade

AIM_RATIO = 1.2
RESTORE_RATE = 100.0  # Standard plan
BULK_OBJECTS_PER_S = 2000.0


@dataclass
class Row:
    """One measured extract."""

    entity: str
    mode: str
    records: int
    queries: int
    points: float
    throttled: int
    elapsed_s: float  # emulated seconds
    floor_s: float
    real_s: float

    @property
    def ratio(self) -> float:
        return self.elapsed_s / self.floor_s if self.floor_s > 0 else float("nan")

    def markdown(self) -> str:
        ok = "yes" if self.throttled == 0 and self.ratio <= AIM_RATIO else "**no**"
        return (
            f"| {self.entity} | {self.mode} | {self.records:,} | {self.queries:,} | {self.points:,.0f} | "
            f"{self.elapsed_s:,.0f} | {self.floor_s:,.0f} | {self.ratio:.2f} | {self.throttled} | "
            f"{self.real_s:,.1f} | {ok} |"
        )


def _scaled_client(url: str, token: str, clock: SandboxClock) -> tuple[ShopifyClient, dict[str, float]]:
    """A client that sleeps and reads time on the emulator's clock, and sums each query's actual cost."""
    scale = clock.time_scale
    totals = {"points": 0.0, "queries": 0.0, "slept": 0.0}

    def sleep(seconds: float) -> None:
        totals["slept"] += max(0.0, seconds)
        time.sleep(max(0.0, seconds) / scale)

    client = ShopifyClient(
        url,
        token,
        sleep=sleep,
        clock=clock.time,
        bulk_poll_initial_s=1.0,
        bulk_poll_max_s=10.0,
        timeout=120.0,
    )
    observe: Callable[[str, Mapping[str, Any] | None], None] = client.governor.observe

    def counting(key: str, cost: Mapping[str, Any] | None) -> None:
        if isinstance(cost, Mapping):
            actual = cost.get("actualQueryCost")
            totals["queries"] += 1
            if isinstance(actual, int | float):
                totals["points"] += float(actual)
        observe(key, cost)

    client.governor.observe = counting  # type: ignore[method-assign]
    return client, totals


def _measure(sandbox: SandboxServer, engine: Any, integration: Any, token: str, entity: str, bulk: bool) -> Row:
    clock = sandbox.clock
    shop = sandbox.shop("bench")
    settings = {"bulk": "always" if bulk else "never", "currency": shop.store.currency}
    integration = dataclasses.replace(integration, settings=settings)  # settings only steer this extract
    client, totals = _scaled_client(shop.http_url, token, clock)
    ctx = ExtractContext(
        engine=engine, integration=integration, credentials={"access_token": token}, run_id="bench", full_refresh=True
    )
    start_clock, start_real = clock.time(), time.monotonic()
    with client:
        report = extract_entity(ctx, entity, client=client)
    elapsed = clock.time() - start_clock
    real = time.monotonic() - start_real
    if bulk:
        # Waiting for the bulk file runs on the emulated clock; reading and staging it is our own CPU time, which
        # the scaled clock would inflate x time_scale. Count the wait in emulated seconds and the rest in real
        # seconds: the wall time the same run would take at scale 1.
        waited = totals["slept"]
        elapsed = waited + max(0.0, real - waited / clock.time_scale)
        objects = report.rows_fetched
        if entity == "product":
            objects += sum(len(p.variant_ids) for p in shop.store.products.values())
        elif entity == "order":
            objects += sum(len(o.line_items) for o in shop.store.orders.values())
        floor = START_DELAY_S + objects / BULK_OBJECTS_PER_S
    else:
        floor = totals["points"] / RESTORE_RATE
    return Row(
        entity=entity,
        mode=report.mode,
        records=report.rows_fetched,
        queries=int(totals["queries"]),
        points=totals["points"],
        throttled=report.throttled,
        elapsed_s=elapsed,
        floor_s=floor,
        real_s=real,
    )


def run(quick: bool, time_scale: float | None = None) -> str:
    """Run the benchmark and return its markdown table (also what ``benchmarks.run`` includes)."""
    products, orders = (600, 1200) if quick else (10_000, 20_000)
    scale = time_scale or (20.0 if quick else 10.0)
    spec = ShopSpec(
        name="bench",
        platform="shopify",
        seed=42,
        products=products,
        variable_share=0.67,  # with 2..12 variants: about 5 variants per product on average
        orders=orders,
        customers=max(50, orders // 10),
        options={"plan": "standard", "bulk_objects_per_s": BULK_OBJECTS_PER_S},
    )
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = create_engine(url)
        clock = SandboxClock(time_scale=scale)
        with SandboxServer(shops=[spec], cert_dir=Path(tmp) / "certs", clock=clock) as sandbox:
            shop = sandbox.shop("bench")
            token = shop.credentials["access_token"]
            variants = sum(len(p.variant_ids) for p in shop.store.products.values())
            with engine.begin() as conn:
                integration_id = store.create_integration(
                    conn,
                    tenant_id="bench",
                    platform="shopify",
                    name="bench",
                    base_url=shop.http_url,
                    credentials={"access_token": token},
                    settings={},
                    cipher=CredentialCipher(CredentialCipher.generate_key()),
                )
                integration = store.get_integration(conn, integration_id)
            for bulk in (False, True):
                for entity in ("product", "order"):
                    sandbox.shop("bench").extra["bucket"].drain(2000.0)  # each run starts from a full bucket
                    rows.append(_measure(sandbox, engine, integration, token, entity, bulk))
        engine.dispose()
    header = (
        "## Shopify: full sync at Standard-plan limits, paginated and bulk\n\n"
        f"Shopify full sync, Standard plan (100 points/s, bucket 2,000): {products:,} products "
        f"({variants:,} variants), {orders:,} orders; emulator clock x{scale:g}; times in emulated seconds "
        "(bulk: waiting on the emulated clock plus reading and staging in real time).\n\n"
        "| entity | mode | records | queries | actual points | wall s | floor s | wall/floor | THROTTLED | "
        "real s | aim met |\n|---|---|---|---|---|---|---|---|---|---|---|"
    )
    return header + "\n" + "\n".join(r.markdown() for r in rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small shop, to check the script works")
    parser.add_argument("--time-scale", type=float, default=None, help="emulator clock speed (default 50, quick 20)")
    args = parser.parse_args()
    print(run(args.quick, args.time_scale))


if __name__ == "__main__":
    main()
