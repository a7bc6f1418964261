"""CPU of the hub apply of a full sync, two checkouts alternated on the same staged shop (issue 12).

    .venv/bin/python -m benchmarks.apply_ab stage --products 3000 --dir /tmp/apply_ab
    .venv/bin/python -m benchmarks.apply_ab ab --dir /tmp/apply_ab --a /tmp/base --b . --rounds 3
    .venv/bin/python -m benchmarks.apply_ab apply --dir /tmp/apply_ab --backend sqlite --profile /tmp/a.prof

``stage`` reads an emulated WooCommerce shop (``benchmarks.run.Shop``) once with the real extract into a SQLite
file and a PostgreSQL database (products, inventory, customers, orders staged, nothing applied) and stops the
emulator. ``apply`` copies that staged warehouse (a file copy; ``CREATE DATABASE ... TEMPLATE``), applies every
entity as the hub assets do (``apply_staged``) and prints each entity's CPU seconds of this process
(``time.process_time``: the machine is shared, walls say more about the neighbours) and a digest of the hub it
left (hub rows, links with their base snapshots and hashes, rejections; our own clock's columns left out). ``ab``
runs ``apply`` in child processes with ``PYTHONPATH`` set to each checkout in turn, alternating, and prints the
medians and whether both checkouts left the same hub.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from benchmarks.run import PG_ADMIN_URL, Shop, Size
from benchmarks.woo_staging import ENTITIES, stage_woocommerce_shop

STAGED_DB = "ecom_apply_ab_staged"
# Columns written from our clock, not from the shop: they differ between two applies of the same staging.
CLOCK_COLUMNS = {"synced_at", "last_synced_at", "applied_at", "created_at", "updated_at", "rejected_at", "resolved_at"}
HUB_TABLES = (
    "hub_products",
    "hub_variants",
    "hub_inventory",
    "hub_customers",
    "hub_orders",
    "hub_order_lines",
    "entity_links",
    "rejected_records",
    "stock_movements",
    "stock_links",
)


def _pg_url(database: str) -> str:
    return make_url(PG_ADMIN_URL).set(database=database).render_as_string(hide_password=False)


def stage(args: argparse.Namespace) -> None:
    work = Path(args.dir)
    work.mkdir(parents=True, exist_ok=True)
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    (work / "key").write_text(key)
    os.environ.update({"ECOM_SECRET_KEY": key, "ECOM_PIPELINE_HOME": str(work), "DAGSTER_HOME": str(work)})
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{STAGED_DB}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{STAGED_DB}"'))
    admin.dispose()
    shop = Shop(Size("ab", args.products, 0.94, args.products * 2, args.products // 3), work)
    try:
        for url in (f"sqlite:///{work / 'staged.db'}", _pg_url(STAGED_DB)):
            engine = stage_woocommerce_shop(url, shop, key)
            with engine.connect() as conn:
                count = conn.execute(text("SELECT count(*) FROM staging_records")).scalar_one()
                if engine.dialect.name == "sqlite":  # into the file itself: ``apply`` copies the file alone
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            print(f"{url.split(':')[0]}: {count:,} staged rows", flush=True)
            engine.dispose()
    finally:
        shop.stop()


def _hub_digest(engine: Any) -> dict[str, str]:
    """One sha256 per table of its rows (our clock's columns left out), in id order."""
    out: dict[str, str] = {}
    with engine.connect() as conn:
        for table in HUB_TABLES:
            result = conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))
            keys = [k for k in result.keys() if k not in CLOCK_COLUMNS]  # noqa: SIM118 (a Result, not a dict)
            h = hashlib.sha256()
            n = 0
            for row in result.mappings():
                n += 1
                values = {k: row[k] for k in keys}
                for k in ("base_snapshot", "payload", "options", "tags", "categories"):
                    if isinstance(values.get(k), str):  # SQLite hands some JSON columns back as text
                        values[k] = json.loads(values[k])
                h.update(json.dumps(values, sort_keys=True, default=str).encode())
            out[table] = f"{n}:{h.hexdigest()[:16]}"
    return out


def apply(args: argparse.Namespace) -> None:
    work = Path(args.dir)
    os.environ.update(
        {"ECOM_SECRET_KEY": (work / "key").read_text(), "ECOM_PIPELINE_HOME": str(work), "DAGSTER_HOME": str(work)}
    )
    import ecom_pipeline
    from ecom_pipeline.platforms.registry import platforms
    from ecom_pipeline.sync.apply import apply_staged
    from ecom_pipeline.warehouse.engine import make_engine

    if args.heavy:
        # The objects a Dagster step process holds (every module of Dagster and the definitions): what each full
        # collection of the cyclic garbage collector walks there.
        import ecom_pipeline.definitions

    database = f"ecom_apply_ab_{os.getpid()}"
    if args.backend == "sqlite":
        copy = work / f"apply-{os.getpid()}.db"
        shutil.copyfile(work / "staged.db", copy)
        url = f"sqlite:///{copy}"
    else:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{database}" TEMPLATE "{STAGED_DB}"'))
        url = _pg_url(database)
    try:
        engine = make_engine(url)
        specs = platforms()
        transforms = {e: {p: s.transforms[e] for p, s in specs.items() if e in s.transforms} for e in ENTITIES}
        cpu: dict[str, float] = {}
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        for entity in ENTITIES:
            before = time.process_time()
            apply_staged(engine, tenant_id="ab", entity=entity, transforms=transforms[entity], run_id="ab")
            cpu[entity] = time.process_time() - before
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        cpu["total"] = sum(cpu.values())
        result = {"code": str(Path(ecom_pipeline.__file__).parent), "cpu": cpu, "hub": _hub_digest(engine)}
        engine.dispose()
        print(json.dumps(result), flush=True)
    finally:
        if args.backend == "sqlite":
            copy.unlink(missing_ok=True)
        else:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            admin.dispose()


def ab(args: argparse.Namespace) -> None:
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    loads = []
    for round_no in range(args.rounds):
        for backend in args.backends.split(","):
            order = ("a", "b") if round_no % 2 == 0 else ("b", "a")
            for side in order:
                checkout = Path(getattr(args, side)).resolve()
                env = dict(os.environ, PYTHONPATH=str(checkout))
                cmd = [sys.executable, "-m", "benchmarks.apply_ab", "apply", "--dir", args.dir, "--backend", backend]
                cmd += ["--heavy"] if args.heavy else []
                out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, cwd=checkout)
                result = json.loads(out.stdout.strip().splitlines()[-1])
                runs.setdefault((backend, side), []).append(result)
                load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
                loads.append(load)
                print(
                    f"round {round_no + 1} {backend} {side}: {result['cpu']['total']:.2f} s CPU, load {load}",
                    flush=True,
                )
    print(f"load averages seen: {loads[0]} ... {loads[-1]}")
    print("| backend | entity | A median CPU | B median CPU | B/A | A rounds | B rounds |")
    print("|---|---|---|---|---|---|---|")
    for backend in args.backends.split(","):
        a, b = runs[(backend, "a")], runs[(backend, "b")]
        for entity in (*ENTITIES, "total"):
            va = sorted(r["cpu"][entity] for r in a)
            vb = sorted(r["cpu"][entity] for r in b)
            ma, mb = va[len(va) // 2], vb[len(vb) // 2]
            ra = ", ".join(f"{r['cpu'][entity]:.2f}" for r in a)
            rb = ", ".join(f"{r['cpu'][entity]:.2f}" for r in b)
            print(f"| {backend} | {entity} | {ma:.2f} s | {mb:.2f} s | {mb / ma:.3f} | {ra} | {rb} |")
        hubs = {json.dumps(r["hub"], sort_keys=True) for r in a + b}
        print(f"{backend}: every apply left the same hub: {len(hubs) == 1}")
        if len(hubs) != 1:
            for r in a[:1] + b[:1]:
                print(f"  {r['code']}: {r['hub']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("stage")
    p.add_argument("--products", type=int, default=3000)
    p.add_argument("--dir", required=True)
    p = sub.add_parser("apply")
    p.add_argument("--dir", required=True)
    p.add_argument("--backend", choices=("sqlite", "postgresql"), required=True)
    p.add_argument("--profile")
    p.add_argument("--heavy", action="store_true", help="import the Dagster definitions first (a step's heap)")
    p = sub.add_parser("ab")
    p.add_argument("--dir", required=True)
    p.add_argument("--a", required=True, help="checkout A (its directory holds ecom_pipeline/)")
    p.add_argument("--b", required=True)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--heavy", action="store_true", help="each apply after importing the Dagster definitions")
    args = parser.parse_args()
    {"stage": stage, "apply": apply, "ab": ab}[args.command](args)


if __name__ == "__main__":
    main()
