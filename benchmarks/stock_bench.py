"""Stock benchmark (issue 11): 1,000 stock changes over three emulated shops; how long until every shop shows the
right number, and how many shop writes each change costs.

The world is ``ecom_pipeline.stock.world``: a WooCommerce, a Shopify and a PrestaShop emulator on 127.0.0.1 selling
one shared SKU, a SQLite warehouse, one tenant with the three shops' stock managed by the hub. Sales arrive in bursts
(``--burst`` at a time, each in a random shop, as buyers would); after each burst the hub loop runs what the Dagster
sync and the stock step run (the shops' orders and stock read with the real extractors, applied, then
``run_stock``: movements, reconcile, push through the real stock writers) until every shop shows the ledger's
number. A change's latency is from its sale to the moment all three shops show the number that includes it.

Measured in process (the same functions the assets call; no Dagster daemon: its launch and sensor tick add a fixed
few seconds, measured in "Webhook end-to-end latency").

Second part, **Shopify stock push throughput**: ``SHOPIFY_SKUS`` changed quantities (one per variant of an emulated
Shopify shop on the Standard plan: 100 points/s, a 2,000-point bucket) pushed through the real stock writer
(``platforms/shopify/stock.py``: one read of the items' levels, then ``inventorySetQuantities`` with up to
``WRITE_BATCH`` quantities per call), against the cost floor: the actual cost of every call / 100 points per s (and
that minus the bucket's starting 2,000 points, spent before any restore is needed). Then the same push again with
nothing to change: reads only, no mutation.

    .venv/bin/python -m benchmarks.stock_bench            # 1,000 changes, bursts of 20; 1,000 Shopify SKUs
    .venv/bin/python -m benchmarks.stock_bench --quick    # 60 changes, 100 Shopify SKUs (~1 min)
    .venv/bin/python -m benchmarks.stock_bench --write    # also writes the section into docs/benchmarks.md

``make bench`` runs it as its ``stock`` section (``run(quick)``).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from ecom_pipeline.stock import ledger
from ecom_pipeline.stock.world import PLATFORMS, TENANT, stock_world

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
HEADING = "## Stock: a sale in one shop until every shop shows it (three emulated shops)"
AIM_P95_S = 15.0
# The reads start this far before their cursor (the sync's default is 5 minutes, for a poll every few minutes; here
# the loop reads every second or so, as a webhook-fed deployment's apply runs do).
LOOKBACK_S = 10
SHOPIFY_SKUS = 1000
QUICK_SHOPIFY_SKUS = 100
STANDARD_RATE = 100.0  # points/s restored on the Standard plan (the emulator's default)
STANDARD_BUCKET = 2000.0


def measure(changes: int, burst: int, seed: int = 11) -> dict[str, float]:
    """Run ``changes`` sales in bursts and return the figures."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        os.environ["ECOM_PIPELINE_HOME"] = str(home)
        os.environ["ECOM_SECRET_KEY"] = Fernet.generate_key().decode()
        url = f"sqlite:///{Path(tmp) / 'warehouse.db'}"
        os.environ["ECOM_WAREHOUSE_URL"] = url
        with stock_world(url, Path(tmp) / "certs", home, quantity=changes + 50) as world:
            world.lookback = timedelta(seconds=LOOKBACK_S)
            world.stock()
            variant = world.variant_id()
            latencies: list[float] = []
            step_s: list[float] = []  # the stock step alone (movements, reconcile, push), per loop pass
            writes = cycles = refusals = calls = 0
            sold = 0
            started = time.perf_counter()
            while sold < changes:
                n = min(burst, changes - sold)
                placed: list[float] = []
                for _ in range(n):
                    world.sell(rng.choice(PLATFORMS))
                    placed.append(time.perf_counter())
                sold += n
                want = changes + 50 - sold
                while True:
                    world.pull()
                    pulled = time.perf_counter()
                    report = world.stock()
                    step_s.append(time.perf_counter() - pulled)
                    cycles += 1
                    writes += report.writes
                    calls += report.api_calls
                    refusals += sum(s.outcome.refusals for s in report.shops if s.outcome)
                    with world.engine.connect() as conn:
                        hand = ledger.on_hand(conn, TENANT, [(variant, "main")])[(variant, "main")]
                    if hand == want and set(world.shown().values()) == {want}:
                        done = time.perf_counter()
                        latencies += [done - t for t in placed]
                        print(
                            f"{sold}/{changes} changes, {cycles} loop passes, {time.perf_counter() - started:.0f} s",
                            file=sys.stderr,
                        )
                        break
                    if cycles > 20 * (changes // burst + 1):
                        raise RuntimeError(f"shops did not converge: on hand {hand}, want {want}, {world.shown()}")
            total = time.perf_counter() - started
    latencies.sort()
    bursts = -(-changes // burst)
    return {
        "changes": changes,
        "burst": burst,
        "bursts": bursts,
        "p50_s": statistics.median(latencies),
        "p95_s": latencies[max(0, int(len(latencies) * 0.95) - 1)],
        "max_s": latencies[-1],
        "writes": writes,
        "writes_per_change": writes / changes,
        "writes_per_burst": writes / bursts,
        "cycles": cycles,
        "refusals": refusals,
        "api_calls": calls,
        "total_s": total,
        "step_p50_s": statistics.median(step_s),
        "step_p95_s": sorted(step_s)[max(0, int(len(step_s) * 0.95) - 1)],
    }


def section(f: dict[str, float]) -> str:
    met = "met" if f["p95_s"] < AIM_P95_S else "**missed**"
    return (
        f"{HEADING}\n\n"
        "`benchmarks/stock_bench.py`: one WooCommerce, one Shopify and one PrestaShop emulator on 127.0.0.1 selling "
        "one shared SKU, SQLite warehouse, in process (the functions the `hub/*` and `hub/stock_push` assets run: the "
        "shops' orders and stock read and applied, then movements, reconcile and push through the real stock "
        "writers; no Dagster daemon, whose launch and tick add the few seconds measured above; reads look back "
        f"{LOOKBACK_S} s before their cursor instead of the scheduled sync's 5 minutes). Sales come in bursts "
        f"of {int(f['burst'])}, each in a random shop; after each burst the loop runs until the three shops show "
        "the ledger's number. Latency: a sale until all three shops show the number that includes it.\n\n"
        "| changes | p50 | p95 (aim < 15 s) | max | shop writes | writes per change | writes per burst (3 shops) "
        "| loop passes | compare refusals | API calls | total |\n|---|---|---|---|---|---|---|---|---|---|---|\n"
        f"| {int(f['changes'])} | {f['p50_s']:.2f} s | {f['p95_s']:.2f} s ({met}) | {f['max_s']:.2f} s | "
        f"{int(f['writes'])} | {f['writes_per_change']:.2f} | {f['writes_per_burst']:.2f} | {int(f['cycles'])} | "
        f"{int(f['refusals'])} | {int(f['api_calls'])} | {f['total_s']:.0f} s |\n\n"
        f"Of a loop pass, the stock step itself (movements, reconcile, the three shops read and written) takes "
        f"p50 {f['step_p50_s']:.2f} s, p95 {f['step_p95_s']:.2f} s; the rest is reading the shops' orders and stock, "
        "where Shopify's cost bucket (Basic plan in the emulator) makes the orders query wait for points: with "
        "orders arriving by webhook instead, a sale reaches the other shops in about the stock step's time.\n\n"
        "A burst changes the number of every shop once, so the ideal is one write per shop whose number changed: "
        "at most 3 per burst (the selling shop already shows its own sales when it sold all of the burst's units). "
        "Every shop is read before it is written (WooCommerce and PrestaShop have no compare-and-swap; Shopify's "
        "read finds the inventory item in the same query).\n\n"
        f"Measured {datetime.now(UTC):%Y-%m-%d} with `.venv/bin/python -m benchmarks.stock_bench --write` on this "
        "machine (2 cores, shared with other work).\n"
    )


def measure_shopify_push(skus: int) -> dict[str, Any]:
    """Push ``skus`` changed quantities to an emulated Shopify shop through the stock writer; return the figures."""
    from ecom_pipeline.cli import main as cli_main
    from ecom_pipeline.platforms.shopify import stock as shopify_stock
    from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
    from ecom_pipeline.sandbox.shopify.oauth import DEFAULT_SCOPES
    from ecom_pipeline.stock.writers import Reading, StockWrite
    from ecom_pipeline.warehouse import store
    from ecom_pipeline.warehouse.credentials import CredentialCipher
    from ecom_pipeline.warehouse.engine import shared_engine

    saved = dict(os.environ)
    try:
        with tempfile.TemporaryDirectory(prefix="stock_bench_shopify_") as tmp:
            home = Path(tmp) / "home"
            os.environ["ECOM_PIPELINE_HOME"] = str(home)
            os.environ["ECOM_SECRET_KEY"] = Fernet.generate_key().decode()
            url = f"sqlite:///{Path(tmp) / 'warehouse.db'}"
            spec = ShopSpec(
                name="stock-throughput",
                seed=5,
                products=skus,
                variable_share=0.0,
                orders=0,
                customers=1,
                platform="shopify",
                options={"scopes": [*DEFAULT_SCOPES, "write_inventory", "write_products"]},
            )
            with SandboxServer(shops=[spec], cert_dir=Path(tmp) / "certs") as sandbox:
                shop = sandbox.shop(spec.name)
                os.environ["ECOM_SHOPIFY_ACCESS_TOKEN"] = shop.credentials["access_token"]
                argv = ["--warehouse-url", url, "connect", "shopify", "--tenant", TENANT, "--url", shop.http_url]
                if cli_main([*argv, "--timeout", "5"]) != 0:
                    raise RuntimeError("connect to the emulated Shopify shop failed")
                with shared_engine(url).connect() as conn:
                    [integration] = store.list_integrations(conn, tenant_id=TENANT)
                    credentials = store.load_credentials(conn, integration.id, CredentialCipher.from_env(home))
                items = []
                for n, variant in enumerate(sorted(shop.store.variants.values(), key=lambda v: v.id)[:skus]):
                    levels = shop.store.levels.get(variant.inventory_item_id) or {}
                    if not levels:
                        continue
                    location = min(levels)
                    current = levels[location].available
                    items.append(StockWrite(n, n, str(variant.id), str(location), current, current + 7))
                before = {i.link_id: int(i.expected) for i in items}

                def push(change: int) -> dict[str, float]:
                    client = shopify_stock.make_client(integration, credentials)
                    cost = {"actual": 0.0, "requested": 0.0}
                    observe = client.governor.observe

                    def counting(key: str, data: Mapping[str, Any] | None) -> None:
                        if isinstance(data, Mapping):
                            cost["requested"] += float(data.get("requestedQueryCost") or 0)
                            cost["actual"] += float(data.get("actualQueryCost") or 0)
                        observe(key, data)

                    client.governor.observe = counting  # type: ignore[method-assign]

                    def recompute(readings: list[Reading]) -> dict[int, int]:
                        return {r.link_id: r.quantity + change for r in readings}

                    mutations_before = sum(1 for kind, _ in shop.api.operations if kind == "mutation")
                    started = time.perf_counter()
                    outcome = shopify_stock.write_stock(client, items, recompute)  # type: ignore[arg-type]
                    wall = time.perf_counter() - started
                    mutations = sum(1 for kind, _ in shop.api.operations if kind == "mutation") - mutations_before
                    return {
                        "wall_s": wall,
                        "calls": outcome.api_calls,
                        "mutations": mutations,
                        "written": sum(1 for x in outcome.settled if x.written),
                        "failed": len(outcome.failed),
                        "actual": cost["actual"],
                        "requested": cost["requested"],
                        "throttle_wait_s": client.stats.throttle_wait_s,
                    }

                changed = push(7)
                wrong = sum(
                    1
                    for i in items
                    if shop.store.levels[shop.store.variants[int(i.external_item)].inventory_item_id][
                        int(i.shop_location)
                    ].available
                    != before[i.link_id] + 7
                )
                if wrong or changed["failed"]:
                    raise RuntimeError(f"{wrong} quantities not written, {changed['failed']} failed")
                unchanged = push(0)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return {"skus": len(items), "changed": changed, "unchanged": unchanged}


def shopify_section(f: Mapping[str, Any]) -> str:
    """The throughput subsection (markdown) for :func:`measure_shopify_push`'s figures."""
    c, u = f["changed"], f["unchanged"]
    floor = c["actual"] / STANDARD_RATE
    floor_bucket = max(0.0, c["actual"] - STANDARD_BUCKET) / STANDARD_RATE
    from ecom_pipeline.platforms.shopify.stock import LOOKUP_BATCH, WRITE_BATCH

    def ratio(wall: float, base: float) -> str:
        return f"{wall / base:.2f}x" if base > 0 else "-"

    return (
        f"### Shopify stock push throughput ({f['skus']:,} SKUs)\n\n"
        f"{f['skus']:,} changed quantities pushed to an emulated Shopify shop (Standard plan: 100 points/s, bucket "
        f"2,000, starting full) through `platforms/shopify/stock.py`: the items' levels read with up to "
        f"{LOOKUP_BATCH} `productVariant` aliases per query, then `inventorySetQuantities` with up to {WRITE_BATCH} "
        "quantities per call (compare values from the read, all or nothing per call). Floor: actual cost / 100 "
        "points per s; with the bucket: (actual cost - 2,000) / 100 points per s. Every quantity was checked in the "
        "emulator afterwards.\n\n"
        "| push | wall | API calls | mutations | quantities written | actual cost (requested) | floor: cost / 100 "
        "pts/s | wall / floor | floor minus bucket | wall / that | throttle waits |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|\n"
        f"| {f['skus']:,} changed | {c['wall_s']:.2f} s | {c['calls']} | {c['mutations']} | {c['written']:,} | "
        f"{c['actual']:,.0f} ({c['requested']:,.0f}) | {floor:.1f} s | {ratio(c['wall_s'], floor)} | "
        f"{floor_bucket:.1f} s | {ratio(c['wall_s'], floor_bucket)} | {c['throttle_wait_s']:.1f} s |\n"
        f"| nothing changed | {u['wall_s']:.2f} s | {u['calls']} | {u['mutations']} | {u['written']:,} | "
        f"{u['actual']:,.0f} ({u['requested']:,.0f}) | {u['actual'] / STANDARD_RATE:.1f} s | "
        f"{ratio(u['wall_s'], u['actual'] / STANDARD_RATE)} | - | - | {u['throttle_wait_s']:.1f} s |\n\n"
        f"Writes are {WRITE_BATCH} quantities per call ({c['mutations']} mutations for {c['written']:,} "
        f"quantities, {c['mutations'] * 10} of the {c['actual']:,.0f} points); the read that finds the items and "
        "their current numbers (the compare values) is most of the cost. Shopify documents no per-call cap on "
        "`inventorySetQuantities.input.quantities` in the pages searched (its 50,000 inventory quantities cap is "
        "for `productSet` and `productVariantsBulk*`), so the writer's 100 is kept. The no-change push runs right "
        "after the first, whose reads emptied the bucket, so its floor is its whole cost: at steady state a push "
        "of this many SKUs is paced by the reads (4 points per SKU: variant, inventory item, level, quantities), "
        "about 1 s per 25 SKUs on the Standard plan.\n\n"
        f"Measured {datetime.now(UTC):%Y-%m-%d} on this machine (2 cores, shared with other work).\n"
    )


def run(quick: bool = False) -> str:
    """Both parts as one markdown section (``benchmarks.run`` includes it in ``make bench`` as ``stock``)."""
    text = section(measure(60 if quick else 1000, 20))
    shopify = shopify_section(measure_shopify_push(QUICK_SHOPIFY_SKUS if quick else SHOPIFY_SKUS))
    if quick:
        text = "**`--quick` run: 60 changes, 100 Shopify SKUs; not the reference figures.**\n\n" + text
    return text.rstrip() + "\n\n" + shopify


def write_doc(text: str, heading: str = HEADING) -> None:
    """Replace the section under ``heading`` in docs/benchmarks.md with ``text`` (or append it)."""
    doc = DOC.read_text()
    if heading in doc:
        start = doc.index(heading)
        end = doc.find("\n## ", start + len(heading))
        doc = doc[:start] + text + (doc[end + 1 :] if end != -1 else "")
    else:
        doc = doc.rstrip("\n") + "\n\n" + text
    DOC.write_text(doc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="60 changes instead of 1,000")
    parser.add_argument("--changes", type=int, default=None)
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument("--write", action="store_true", help="write the section into docs/benchmarks.md")
    args = parser.parse_args()
    changes = args.changes or (60 if args.quick else 1000)
    text = section(measure(changes, args.burst)).rstrip() + "\n\n"
    text += shopify_section(measure_shopify_push(QUICK_SHOPIFY_SKUS if args.quick else SHOPIFY_SKUS))
    print(text)
    if args.write:
        write_doc(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
