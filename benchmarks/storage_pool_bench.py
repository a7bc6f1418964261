"""Dagster storage connections per tenant's sync: dagster-postgres's default (NullPool) against pooled engines.

dagster-postgres opens a connection for every storage call (each a PostgreSQL backend forked, authenticated and torn
down); a batch run (``ecom_pipeline.sync_batches``) syncs many tenants in one process, where
``storage_pool.pool_instance_storage`` keeps one connection per storage instead. This measures, in this process, ``N``
one-shop tenants' no-change syncs in a row (``run_sync``, what the batch op runs for each tenant), first with the
default engines, then pooled: wall time, this process's CPU and PostgreSQL's CPU (every ``postgres`` process, its
exited backends included, from /proc) per tenant. PostgreSQL storage and warehouse: throwaway databases, dropped.

    .venv/bin/python -m benchmarks.storage_pool_bench [--tenants 8] [--rounds 2]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
import uuid
from pathlib import Path

from cryptography.fernet import Fernet

from benchmarks.tick_bench import CLK_TCK, _dagster_yaml, pg_databases


def postgres_cpu_s() -> float:
    """CPU seconds of every ``postgres`` process, with its reaped children's (exited backends count)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if "(postgres)" not in stat:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        total += sum(int(x) for x in fields[11:15]) / CLK_TCK
    return total


def measure(tenants: int = 8, rounds: int = 2) -> list[dict[str, float | str]]:
    import dagster as dg

    from ecom_pipeline.cli import main as cli_main
    from ecom_pipeline.runner import run_sync
    from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
    from ecom_pipeline.storage_pool import pool_instance_storage
    from ecom_pipeline.warehouse.migrate import upgrade

    work = Path(tempfile.mkdtemp(prefix="ecom-storage-pool-"))
    home = work / "home"
    home.mkdir()
    suffix = uuid.uuid4().hex[:8]
    rows: list[dict[str, float | str]] = []
    with contextlib.ExitStack() as stack:
        warehouse, storage = stack.enter_context(pg_databases(f"ecom_sp_wh_{suffix}", f"ecom_sp_dg_{suffix}"))
        _dagster_yaml(home, storage, 4, None, None)
        os.environ.update(
            DAGSTER_HOME=str(home),
            ECOM_PIPELINE_HOME=str(work),
            ECOM_WAREHOUSE_URL=warehouse,
            ECOM_SECRET_KEY=Fernet.generate_key().decode(),
        )
        upgrade(warehouse)
        specs = [
            ShopSpec(name=f"shop{i:04d}", seed=i, products=20, variable_share=0.3, orders=20, customers=5)
            for i in range(tenants)
        ]
        sandbox = stack.enter_context(
            SandboxServer(shops=specs, host="127.0.0.1", http_port=0, https_port=0, cert_dir=work / "certs")
        )
        instance = stack.enter_context(dg.DagsterInstance.from_config(str(home)))
        names = []
        for spec in specs:
            info = sandbox.shop(spec.name)
            tenant = f"t{spec.name[4:]}"
            argv = ["--warehouse-url", warehouse, "connect", "woocommerce", "--tenant", tenant, "--url", info.http_url]
            argv += ["--consumer-key", info.consumer_key, "--consumer-secret", info.consumer_secret]
            if cli_main([*argv, "--name", spec.name, "--timeout", "10"]) != 0:
                raise RuntimeError(f"connect failed for {tenant}")
            if not run_sync(tenant, instance=instance, log_level="ERROR").success:
                raise RuntimeError(f"first sync of {tenant} failed")
            names.append(tenant)
        for mode in ("NullPool (dagster-postgres default)", "pooled (storage_pool.pool_instance_storage)"):
            if mode.startswith("pooled"):
                pool_instance_storage(instance)
            for _ in range(rounds):
                pg0, cpu0, wall0 = postgres_cpu_s(), time.process_time(), time.perf_counter()
                for tenant in names:
                    if not run_sync(tenant, instance=instance, log_level="ERROR").success:
                        raise RuntimeError(f"no-change sync of {tenant} failed")
                wall, cpu, pg = time.perf_counter() - wall0, time.process_time() - cpu0, postgres_cpu_s() - pg0
                rows.append(
                    {
                        "mode": mode,
                        "wall_s": wall / tenants,
                        "cpu_s": cpu / tenants,
                        "pg_cpu_s": pg / tenants,
                        "load": os.getloadavg()[0],
                    }
                )
                print(
                    f"{mode}: per tenant wall {wall / tenants:.2f} s, our CPU {cpu / tenants:.2f} s, "
                    f"PostgreSQL CPU {pg / tenants:.2f} s (load {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    measure(args.tenants, args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
