"""A/B of the PostgreSQL write paths on real emulator payloads, the two paths alternating in one process.

    .venv/bin/python -m benchmarks.pg_write_ab --products 1000 --rounds 3

An emulated WooCommerce shop (``benchmarks.run.Shop``) is read once by the real extract into a throwaway PostgreSQL
database. Then each round: every staged page is staged again with the multi-row INSERT and then with COPY
(``store.STAGING_COPY``); the hub is emptied and everything re-applied with INSERTs (``store.BULK_COPY`` off: new
hub rows by INSERT ... RETURNING, links and lines by insertmanyvalues) and then with COPY. Each measurement gives the
wall time, this process's CPU and the CPU of the database's PostgreSQL backends (read from ``/proc``): on a shared
machine, paths measured side by side and alternated say more than two full benchmark runs minutes apart.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from benchmarks.run import PG_ADMIN_URL, Shop, Size
from benchmarks.woo_staging import ENTITIES, stage_woocommerce_shop

Measure = tuple[float, float, float]  # wall, our CPU, PostgreSQL backends' CPU


def _backends_cpu(admin: Engine, database: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend connected to ``database`` (the server runs on this host)."""
    tick = os.sysconf("SC_CLK_TCK")
    with admin.connect() as conn:
        pids = [
            int(r[0])
            for r in conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = :d"), {"d": database})
        ]
    found: dict[int, float] = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / tick
    return found


def _measure(admin: Engine, database: str, work: Callable[[], None]) -> Measure:
    server_before = _backends_cpu(admin, database)
    cpu_before, started = time.process_time(), time.perf_counter()
    work()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_before
    server_after = _backends_cpu(admin, database)
    return wall, cpu, sum(v - server_before.get(pid, 0.0) for pid, v in server_after.items())


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    work_dir = Path(tempfile.mkdtemp(prefix="pg_write_ab_"))
    key = Fernet.generate_key().decode()
    os.environ.update({"ECOM_SECRET_KEY": key, "ECOM_PIPELINE_HOME": str(work_dir), "DAGSTER_HOME": str(work_dir)})

    from ecom_pipeline.platforms.registry import platforms
    from ecom_pipeline.sync.apply import apply_staged
    from ecom_pipeline.warehouse import store
    from ecom_pipeline.warehouse.schema import staging_records

    shop = Shop(Size("ab", args.products, 0.94, args.products * 2, args.products // 3), work_dir)
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    database = f"ecom_bench_ab_{uuid.uuid4().hex[:6]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    url = make_url(PG_ADMIN_URL).set(database=database).render_as_string(hide_password=False)
    try:
        engine = stage_woocommerce_shop(url, shop, key)
        specs = platforms()
        with engine.connect() as conn:
            staged = [
                store.StagedRecord(
                    r.tenant_id,
                    r.integration_id,
                    r.platform,
                    r.entity,
                    r.external_id,
                    r.payload,
                    r.op,
                    r.source_updated_at,
                )
                for r in conn.execute(
                    staging_records.select()
                    .where(staging_records.c.entity != "inventory")
                    .order_by(staging_records.c.id)
                )
            ]
        transforms = {e: {p: s.transforms[e] for p, s in specs.items() if e in s.transforms} for e in ENTITIES}

        def stage_all() -> None:
            for start in range(0, len(staged), 100):
                with engine.begin() as conn:
                    store.stage_records(conn, staged[start : start + 100], run_id="ab")

        def apply_all() -> None:
            for entity in ENTITIES:
                apply_staged(engine, tenant_id="ab", entity=entity, transforms=transforms[entity], run_id="ab")

        def reset_hub() -> None:
            with engine.begin() as conn:
                conn.execute(
                    text(
                        "TRUNCATE entity_links, hub_inventory, hub_order_lines, hub_orders, hub_customers,"
                        " hub_variants, hub_products, rejected_records CASCADE"
                    )
                )
                conn.execute(text("UPDATE staging_records SET applied_at = NULL"))

        results: dict[tuple[str, str], list[Measure]] = {}
        for round_no in range(args.rounds):
            for path in ("insert", "copy"):
                store.STAGING_COPY = path == "copy"
                results.setdefault(("staging", path), []).append(_measure(admin, database, stage_all))
                with engine.begin() as conn:
                    conn.execute(text("DELETE FROM staging_records WHERE dagster_run_id = 'ab'"))
            for path in ("insert", "copy"):
                store.BULK_COPY = path == "copy"
                reset_hub()
                results.setdefault(("apply", path), []).append(_measure(admin, database, apply_all))
            print(f"round {round_no + 1}: load {' '.join(Path('/proc/loadavg').read_text().split()[:3])}", flush=True)
        print(f"{args.products:,} products, {len(staged):,} staged rows (products, orders, customers)")
        print("| what | path | median wall | median our CPU | median PostgreSQL CPU | rounds (wall) |")
        print("|---|---|---|---|---|---|")
        for (what, path), values in results.items():
            walls = ", ".join(f"{w:.2f}" for w, _, _ in values)
            wall, cpu, server = (_median([v[i] for v in values]) for i in range(3))
            print(f"| {what} | {path} | {wall:.2f} s | {cpu:.2f} s | {server:.2f} s | {walls} |")
        engine.dispose()
    finally:
        shop.stop()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
