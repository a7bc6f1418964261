"""One sync in its own process (``python -m benchmarks.sync_child ...``): what ``benchmarks.run`` measures.

Optionally connects the emulated shop through the real CLI first (not timed), then runs ``sync_job`` with
``run_sync`` on a real Dagster instance (``DAGSTER_HOME`` from the environment) and writes a JSON result: wall time
of the run, peak RSS (VmHWM) of this process, RSS before the run, the materialization metadata, hub / staging
counts before and after, and the CPU seconds this process, the shop's process (``--shop-pid``) and PostgreSQL
spent during the run (``benchmarks.cpu``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any


def _proc_status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def snapshot(url: str) -> dict[str, Any]:
    from sqlalchemy import func, select

    from ecom_pipeline.warehouse.engine import shared_engine
    from ecom_pipeline.warehouse.schema import (
        hub_customers,
        hub_inventory,
        hub_order_lines,
        hub_orders,
        hub_products,
        hub_variants,
        rejected_records,
        staging_records,
    )

    out: dict[str, Any] = {}
    with shared_engine(url).connect() as conn:
        for name, table in (
            ("hub_products", hub_products),
            ("hub_variants", hub_variants),
            ("hub_orders", hub_orders),
            ("hub_order_lines", hub_order_lines),
            ("hub_customers", hub_customers),
            ("hub_inventory", hub_inventory),
            ("staging_records", staging_records),
            ("rejected_records", rejected_records),
        ):
            out[name] = conn.execute(select(func.count()).select_from(table)).scalar_one()
        for name, table in (("hub_products_live", hub_products), ("hub_variants_live", hub_variants)):
            out[name] = conn.execute(
                select(func.count()).select_from(table).where(table.c.deleted_at.is_(None))
            ).scalar_one()
        synced = {}
        for name, table in (
            ("hub_products", hub_products),
            ("hub_variants", hub_variants),
            ("hub_orders", hub_orders),
            ("hub_customers", hub_customers),
            ("hub_inventory", hub_inventory),
        ):
            value = conn.execute(select(func.max(table.c.synced_at))).scalar_one()
            synced[name] = None if value is None else str(value)
        out["max_synced_at"] = synced
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--warehouse-url", required=True)
    p.add_argument("--tenant", required=True)
    p.add_argument("--connect-json", default=None, help="JSON with shop url/key/secret: connect first (untimed)")
    p.add_argument("--full-refresh", action="store_true")
    p.add_argument("--profile", default=None, help="write cProfile stats of the run to this file")
    p.add_argument("--out", required=True)
    p.add_argument("--shop-pid", type=int, default=None, help="the emulator's pid, to read its CPU during the run")
    a = p.parse_args()

    t_start = time.perf_counter()
    import dagster  # noqa: F401

    from benchmarks import cpu
    from ecom_pipeline.cli import main as cli_main
    from ecom_pipeline.definitions import defs
    from ecom_pipeline.runner import get_instance, run_sync

    import_s = time.perf_counter() - t_start
    if a.connect_json:
        shop = json.loads(a.connect_json)
        argv = ["--warehouse-url", a.warehouse_url, "connect", "woocommerce", "--tenant", a.tenant]
        argv += ["--url", shop["url"], "--consumer-key", shop["consumer_key"]]
        argv += ["--consumer-secret", shop["consumer_secret"], "--name", shop["name"], "--timeout", "30"]
        code = cli_main(argv)
        if code != 0:
            raise SystemExit(f"connect failed with exit code {code}")
    before = snapshot(a.warehouse_url)
    instance = get_instance()
    rss_before_kb = _proc_status_kb("VmRSS")
    hwm_before_kb = _proc_status_kb("VmHWM")

    profiler = None
    if a.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    database = cpu.database_of(a.warehouse_url)
    cpu_before = cpu.read(a.shop_pid, database)
    t0 = time.perf_counter()
    outcome = run_sync(a.tenant, instance=instance, full_refresh=a.full_refresh, defs=defs)
    wall = time.perf_counter() - t0
    cpu_after = cpu.read_after(a.shop_pid, database)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(a.profile)
    hwm_kb = _proc_status_kb("VmHWM")
    after = snapshot(a.warehouse_url)
    instance.dispose()
    result = {
        "success": outcome.success,
        "failure": outcome.failure,
        "run_id": outcome.run_id,
        "wall_s": wall,
        # CPU seconds over the same window as wall_s (run_sync alone): this process, the shop, PostgreSQL.
        "run_cpu": cpu.window(cpu_before, cpu_after),
        "import_s": import_s,
        "rss_before_kb": rss_before_kb,
        "hwm_before_run_kb": hwm_before_kb,
        "peak_rss_kb": hwm_kb,
        "materializations": outcome.materializations,
        "before": before,
        "after": after,
    }
    Path(a.out).write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
