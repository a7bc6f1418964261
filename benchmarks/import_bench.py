"""``catalog import`` of a large catalogue: how long it checks, how long it writes, how long it holds the tenant lock.

A CSV of N products x 3 variants (every import column filled) is imported three times into a fresh warehouse:
``create`` (every row new), ``reimport`` (the same file again: nothing to write) and ``prices`` (every price
changed). Each runs the real command (``catalog.commands.run_import``, as ``ecom-pipeline catalog import`` does),
with its steps timed from outside: reading the file, reading the hub (``load_state``), checking the rows
(``validate``), writing (``apply_import``), and the time the tenant lock is held (``command_lock``).

PostgreSQL (a throwaway database on ECOM_TEST_PG_URL's server, created here and dropped afterwards) and SQLite
(a file in a temporary folder).

    .venv/bin/python -m benchmarks.import_bench                      # 1,000 and 16,667 products, both backends
    .venv/bin/python -m benchmarks.import_bench --products 1000 --backends sqlite
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from ecom_pipeline.catalog import commands
from ecom_pipeline.catalog.columns import COLUMNS
from ecom_pipeline.warehouse.engine import make_engine
from ecom_pipeline.warehouse.migrate import upgrade
from ecom_pipeline.warehouse.schema import hub_products, hub_variants

PG_ADMIN_URL = os.environ.get("ECOM_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
TENANT = "bench"
SIZES = (1000, 16667)


def catalogue_rows(products: int, *, price_step: int = 0) -> list[dict[str, str]]:
    """``products`` products of 3 variants each, every column given; ``price_step`` cents added to every price."""
    rows = []
    for p in range(products):
        for v, size in enumerate(("S", "M", "L")):
            cents = 1000 + (p * 7 + v * 100) % 9000 + price_step
            rows.append(
                {
                    "handle": f"product-{p:06d}",
                    "title": f"Product {p}",
                    "description": f"<p>Description of product {p}, a fine thing.</p>",
                    "status": ("active", "draft")[p % 7 == 0],
                    "product_type": "variable",
                    "vendor": f"Maker {p % 40}",
                    "shopify_product_type": "Shirts",
                    "tags": f"tag{p % 13};tag{p % 17}",
                    "categories": f"Clothes > Shirts;Sale {p % 5}",
                    "sku": f"SKU-{p:06d}-{size}",
                    "variant_title": size,
                    "price": f"{cents // 100}.{cents % 100:02d}",
                    "compare_at_price": "",
                    "sale_price": "",
                    "currency": "EUR",
                    "barcode": f"{4000000000000 + p * 3 + v}",
                    "weight": f"0.{200 + v * 50}",
                    "options": f"Size={size};Colour=Black",
                    "position": str(v + 1),
                }
            )
    return rows


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(rows)


class StepTimer:
    """Wraps the command's steps (module attributes of ``catalog.commands``) to add up the time spent in each."""

    STEPS = ("read_table", "load_state", "validate", "apply_import")

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._saved: dict[str, Any] = {}

    def _timed(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

        return run

    def _timed_lock(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @contextlib.contextmanager
        def run(*args: Any, **kwargs: Any) -> Iterator[Any]:
            with fn(*args, **kwargs) as lock:
                start = time.perf_counter()
                try:
                    yield lock
                finally:
                    self.seconds["lock held"] = self.seconds.get("lock held", 0.0) + time.perf_counter() - start

        return run

    @contextlib.contextmanager
    def installed(self) -> Iterator[StepTimer]:
        for name in (*self.STEPS, "command_lock"):
            if hasattr(commands, name):
                self._saved[name] = getattr(commands, name)
                wrapped = self._timed_lock(self._saved[name]) if name == "command_lock" else None
                setattr(commands, name, wrapped or self._timed(name, self._saved[name]))
        try:
            yield self
        finally:
            for name, fn in self._saved.items():
                setattr(commands, name, fn)


def run_one(url: str, path: Path) -> dict[str, Any]:
    engine = make_engine(url)
    timer = StepTimer()
    out = io.StringIO()
    try:
        with timer.installed(), contextlib.redirect_stdout(out):
            start = time.perf_counter()
            code = commands.run_import(engine, path, tenant_id=TENANT, dry_run=False, partial=False)
            total = time.perf_counter() - start
        with engine.connect() as conn:
            products = conn.execute(select(func.count()).select_from(hub_products)).scalar_one()
            variants = conn.execute(select(func.count()).select_from(hub_variants)).scalar_one()
    finally:
        engine.dispose()
    summary = next((line for line in out.getvalue().splitlines() if line.startswith("Imported")), out.getvalue())
    return {"code": code, "total": total, **timer.seconds, "summary": summary, "hub": (products, variants)}


@contextlib.contextmanager
def warehouse(backend: str, folder: Path) -> Iterator[str]:
    """A fresh migrated warehouse: a throwaway PostgreSQL database (dropped afterwards) or a SQLite file."""
    if backend == "sqlite":
        url = f"sqlite:///{folder / f'wh-{uuid.uuid4().hex[:8]}.db'}"
        upgrade(url)
        yield url
        return
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = f"ecom_importbench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        yield url
    finally:
        with contextlib.suppress(Exception), admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def measure(products: int, backend: str, folder: Path) -> list[tuple[str, dict[str, Any]]]:
    base, changed = folder / f"cat-{products}.csv", folder / f"cat-{products}-prices.csv"
    if not base.exists():
        write_csv(base, catalogue_rows(products))
        write_csv(changed, catalogue_rows(products, price_step=100))
    results = []
    with warehouse(backend, folder) as url:
        for scenario, path in (("create", base), ("reimport", base), ("prices", changed)):
            result = run_one(url, path)
            results.append((scenario, result))
            print(f"{backend:10} {products:6} x3 {scenario:9} {fmt(result)}", flush=True)
            assert result["code"] == 0, result["summary"]
    return results


def fmt(r: dict[str, Any]) -> str:
    check = r.get("load_state", 0.0) + r.get("validate", 0.0)
    return (
        f"total {r['total']:7.2f} s | read file {r.get('read_table', 0):5.2f} | read hub {r.get('load_state', 0):5.2f}"
        f" | check {check:6.2f} (with hub read) | write {r.get('apply_import', 0):7.2f} | lock held "
        f"{r.get('lock held', 0):7.2f} | hub {r['hub'][0]}/{r['hub'][1]} | {r['summary']}"
    )


def machine() -> str:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    load = os.getloadavg()
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, commit {commit}, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--backends", nargs="+", default=["postgresql", "sqlite"], choices=["postgresql", "sqlite"])
    args = parser.parse_args(argv)
    print(machine(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), flush=True)
    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
        for products in args.products:
            for backend in args.backends:
                measure(products, backend, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
