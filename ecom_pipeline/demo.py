"""``ecom-pipeline demo``: emulated shops, two tenants, real syncs through Dagster, and a summary.

Everything runs on the embedded default (SQLite warehouse and Dagster storage under ``.dagster_home``), so the
runs, their metadata and the synced tables are there to explore afterwards with ``make dev``. The emulated shops
run as a separate process, as a real shop would be, on fixed ports so the UI's Materialize works on the same
connections later.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from ecom_pipeline.demo_two_way import DemoStepFailed, run_two_way_demo
from ecom_pipeline.runner import ensure_dagster_home, get_instance, run_sync
from ecom_pipeline.warehouse.engine import default_home, default_warehouse_url, shared_engine


def demo_shops() -> list[tuple[str, str, str, str]]:
    """(tenant, sandbox shop, platform, transport) of every registered platform's demo shops (``DemoSpec``), in
    the order of their seeds: each tenant's shops, each platform's connection rule exercised."""
    from ecom_pipeline.platforms.registry import platforms

    shops = [(shop.seed, shop, name) for name, spec in platforms().items() if spec.demo for shop in spec.demo.shops]
    return [(shop.tenant, shop.shop, name, shop.transport) for _, shop, name in sorted(shops, key=lambda t: t[0])]


def demo_shop_options() -> dict[str, dict[str, Any]]:
    """Emulator options per demo shop (a plan, languages), from the platforms' ``DemoSpec``, and those of the
    two-way demo's shops."""
    from ecom_pipeline.demo_two_way import sandbox_options
    from ecom_pipeline.platforms.registry import platforms

    return {
        shop.shop: dict(shop.options)
        for spec in platforms().values()
        if spec.demo
        for shop in spec.demo.shops
        if shop.options
    } | sandbox_options()


WEBHOOK_PORT = int(os.environ.get("ECOM_WEBHOOK_PORT", "8712"))
HTTP_PORT = int(os.environ.get("ECOM_SANDBOX_HTTP_PORT", "8710"))
HTTPS_PORT = int(os.environ.get("ECOM_SANDBOX_HTTPS_PORT", "8711"))


def start_sandbox(home: Path, *, products: int, orders: int) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    """Start the emulated shops in their own process and wait until they are serving."""
    creds_file = home / "sandbox-shops.json"
    creds_file.unlink(missing_ok=True)
    log = open(home / "sandbox.log", "wb")  # noqa: SIM115 - the child keeps writing after we return
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "ecom_pipeline.cli", "sandbox",
            "--demo",
            "--http-port", str(HTTP_PORT), "--https-port", str(HTTPS_PORT),
            "--products", str(products), "--orders", str(orders),
            "--cert-dir", str(home / "sandbox-certs"), "--credentials-file", str(creds_file),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"the emulated shops exited (code {proc.returncode}); see {home / 'sandbox.log'}. "
                f"Is port {HTTP_PORT} or {HTTPS_PORT} taken? Set ECOM_SANDBOX_HTTP_PORT / ECOM_SANDBOX_HTTPS_PORT."
            )
        if creds_file.exists():
            try:
                return proc, json.loads(creds_file.read_text())
            except json.JSONDecodeError:
                pass  # half-written; try again
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError(f"the emulated shops did not start within 120 s; see {home / 'sandbox.log'}")


def available_shops() -> list[tuple[str, str, str, str]]:
    """The demo shops (tenant, shop, platform, transport): those of every registered platform."""
    return demo_shops()


def sandbox_entries() -> list[str]:
    """``NAME:PLATFORM`` of every shop ``sandbox --demo`` serves: the pull demo's, then the two-way demo's."""
    from ecom_pipeline.demo_two_way import sandbox_entries as two_way_entries

    return [f"{shop}:{platform}" for _, shop, platform, _ in available_shops()] + two_way_entries()


def empty_sandbox_shops() -> set[str]:
    """The shops ``sandbox --demo`` serves without seeded data: the two-way demo fills them from the hub."""
    from ecom_pipeline.demo_two_way import sandbox_shop_names

    return set(sandbox_shop_names())


def _demo_spec(platform: str) -> Any:
    from ecom_pipeline.platforms.registry import get_platform

    return get_platform(platform).demo


def webhook_demo_shop() -> tuple[str, str, str] | None:
    """(tenant, shop, platform) of the first demo shop whose webhooks the demo registers and whose platform can
    change a product through its API; None when no registered platform offers one."""
    from ecom_pipeline.platforms.registry import platforms

    for name, spec in platforms().items():
        if spec.demo is None or spec.demo.touch_product is None:
            continue
        for shop in spec.demo.shops:
            if shop.webhooks:
                return shop.tenant, shop.shop, name
    return None


def start_receiver(home: Path) -> subprocess.Popen[bytes]:
    """Start ``ecom-pipeline serve-webhooks`` in its own process, as in production."""
    log = open(home / "webhooks.log", "wb")  # noqa: SIM115 - the child keeps writing after we return
    proc = subprocess.Popen(
        [sys.executable, "-m", "ecom_pipeline.cli", "serve-webhooks", "--port", str(WEBHOOK_PORT)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    import requests

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the webhook receiver exited (code {proc.returncode}); see {home / 'webhooks.log'}")
        try:
            requests.get(f"http://127.0.0.1:{WEBHOOK_PORT}/", timeout=1)
            return proc
        except requests.ConnectionError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError(f"the webhook receiver did not start within 60 s; see {home / 'webhooks.log'}")


def webhook_demo(info: dict[str, Any], instance: Any) -> None:
    """Change a price in a shop through its API and follow the webhook into the hub."""
    from ecom_pipeline.definitions import defs
    from ecom_pipeline.warehouse.schema import hub_variants, webhook_inbox

    chosen = webhook_demo_shop()
    if chosen is None:
        return
    tenant, shop_name, platform = chosen
    shop = _shop_info(info, shop_name)
    engine = shared_engine(default_warehouse_url())
    with engine.connect() as conn:
        before = conn.execute(select(func.coalesce(func.max(webhook_inbox.c.id), 0))).scalar_one()
    print(f"A change arriving by webhook (tenant {tenant}):")
    changed_at = time.monotonic()
    sku, done = _demo_spec(platform).touch_product(shop)
    print(f"  {done}")
    row = None
    while time.monotonic() - changed_at < 30 and row is None:
        with engine.connect() as conn:
            row = conn.execute(
                select(webhook_inbox.c.topic, webhook_inbox.c.received_at).where(webhook_inbox.c.id > before).limit(1)
            ).first()
        time.sleep(0.05)
    if row is None:
        print(
            f"  no delivery reached the receiver within 30 s (see {default_home() / 'webhooks.log'})", file=sys.stderr
        )
        return
    print(f"  {row.topic} delivered, signed and stored in webhook_inbox after {time.monotonic() - changed_at:.2f}s")
    job = defs.resolve_job_def("apply_webhooks_job")
    result = job.execute_in_process(
        instance=instance,
        partition_key=tenant,
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    with engine.connect() as conn:
        price = conn.execute(
            select(hub_variants.c.price).where(hub_variants.c.tenant_id == tenant, hub_variants.c.sku == sku)
        ).scalar_one_or_none()
    print(
        f"  applied by apply_webhooks_job (run {result.run_id[:8]}, what the webhook_inbox_sensor starts when the "
        f"daemon runs): hub price of {sku} is now {price}"
    )
    print(f"  from the change in the shop to the hub row: {time.monotonic() - changed_at:.2f}s")


def _shop_info(info: dict[str, Any], shop: str) -> dict[str, Any]:
    shops = info.get("shops", info)
    return shops[shop]


def _hub_counts(tenant: str) -> dict[str, int]:
    from ecom_pipeline.warehouse.schema import (
        hub_customers,
        hub_inventory,
        hub_order_lines,
        hub_orders,
        hub_products,
        hub_variants,
    )

    engine = shared_engine(default_warehouse_url())
    counts = {}
    with engine.connect() as conn:
        for table in (hub_products, hub_variants, hub_inventory, hub_orders, hub_order_lines, hub_customers):
            counts[table.name] = conn.execute(
                select(func.count()).select_from(table).where(table.c.tenant_id == tenant)
            ).scalar_one()
    return counts


# (header, metadata key, width) of the demo's two asset tables; each also shows the asset's seconds.
_EXTRACT_COLUMNS = (
    ("fetched", "rows_fetched", 8),
    ("staged", "staged", 7),
    ("unchanged", "unchanged", 9),
    ("API calls", "api_calls", 9),
    ("retries", "retries", 7),
)
_HUB_COLUMNS = (
    ("read", "rows_read", 8),
    ("created", "created", 7),
    ("updated", "updated", 7),
    ("unchanged", "unchanged", 9),
    ("rejected", "rejected", 8),
)


def _is_read(key: str, meta: dict[str, Any]) -> bool:
    """An extract asset of a platform the tenant has a shop on."""
    return not key.startswith("hub/") and bool(meta.get("shops"))


def _print_assets(
    title: str, columns: tuple[tuple[str, str, int], ...], rows: list[tuple[str, str, dict[str, Any]]]
) -> None:
    """One table of the demo's summary: a line per (tenant, asset, metadata), the columns' counts then seconds."""
    print(title)
    print(f"  {'tenant':<8} {'asset':<24} " + " ".join(f"{h:>{w}}" for h, _, w in columns) + f" {'seconds':>8}")
    for tenant, key, meta in rows:
        counts = " ".join(f"{meta.get(k, 0):>{w}}" for _, k, w in columns)
        print(f"  {tenant:<8} {key:<24} {counts} {float(meta.get('duration_s', 0.0)):>8.2f}")


def run_demo(*, products: int = 60, orders: int = 150, keep_running: bool = False) -> int:
    """Run the demo end to end; returns the process exit code."""
    from ecom_pipeline.cli import main as cli_main

    home = default_home()
    home.mkdir(parents=True, exist_ok=True)
    ensure_dagster_home()
    print(f"ecom_pipeline demo: embedded default under {home}")
    print(f"  warehouse: {default_warehouse_url()}")
    print("Starting emulated shops (ecom-pipeline sandbox) ...")
    proc, info = start_sandbox(home, products=products, orders=orders)
    receiver = start_receiver(home)
    webhooks_shop = webhook_demo_shop()
    try:
        for tenant, shop, platform, transport in available_shops():
            shop_info = _shop_info(info, shop)
            url = shop_info["https_url"] if transport == "https" else shop_info["http_url"]
            argv = ["connect", platform, "--tenant", tenant, "--url", url, "--name", shop]
            if transport == "https":
                argv += ["--ca-bundle", info.get("ca_bundle") or shop_info["ca_bundle"]]
            if (tenant, shop, platform) == webhooks_shop:
                # The emulated shop delivers to any port; a real shop may deliver only to some (WooCommerce: 80,
                # 443 and 8080), which connect enforces unless told otherwise.
                argv += ["--webhook-url", f"http://127.0.0.1:{WEBHOOK_PORT}", "--force-webhook-port"]
            demo = _demo_spec(platform)
            env = demo.connect_env(shop_info)
            argv += demo.connect_args(shop_info)
            os.environ.update(env)
            try:
                if cli_main(argv) != 0:
                    return 1
            finally:
                for key in env:
                    os.environ.pop(key, None)
            print()
        tenants = list(dict.fromkeys(tenant for tenant, *_ in available_shops()))
        instance = get_instance()
        summary = []
        for tenant in tenants:
            print(f"Syncing tenant {tenant} through Dagster (job sync_job, partition {tenant}) ...")
            started = time.monotonic()
            outcome = run_sync(tenant, instance=instance, log_level="WARNING")
            elapsed = time.monotonic() - started
            if not outcome.success:
                print(f"  the run failed: {outcome.failure}", file=sys.stderr)
                return 1
            summary.append((tenant, outcome, elapsed))
        print()
        _print_assets(
            "Read from the shops (extract assets):",
            _EXTRACT_COLUMNS,
            # hub assets below; platforms this tenant has no shop on are not worth a line
            [(t, k, m) for t, o, _ in summary for k, m in sorted(o.materializations.items()) if _is_read(k, m)],
        )
        print()
        _print_assets(
            "Applied to the hub (hub assets):",
            _HUB_COLUMNS,
            [(t, k, m) for t, o, _ in summary for k, m in sorted(o.materializations.items()) if k.startswith("hub/")],
        )
        print()
        print("Rows in the hub:")
        for tenant, _outcome, elapsed in summary:
            counts = _hub_counts(tenant)
            print(f"  {tenant}: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + f"  (run {elapsed:.1f}s)")
        print()
        print("Second pass (incremental, nothing changed in the shops):")
        for tenant in tenants:
            outcome = run_sync(tenant, instance=instance, log_level="WARNING")
            calls = sum(int(m.get("api_calls", 0)) for m in outcome.materializations.values())
            written = sum(
                int(m.get("created", 0)) + int(m.get("updated", 0)) for m in outcome.materializations.values()
            )
            print(f"  {tenant}: {calls} API calls, {written} hub rows written (run {outcome.run_id[:8]})")
        print()
        webhook_demo(info, instance)
        print()
        try:
            run_two_way_demo(
                info.get("shops", info), instance, webhook_url=f"http://127.0.0.1:{WEBHOOK_PORT}", home=home
            )
        except DemoStepFailed as exc:
            print(f"  {exc}", file=sys.stderr)
            return 1
        print()
        print("Where to look next:")
        print("  make dev                         the Dagster UI on this instance, http://127.0.0.1:3000")
        print("  .venv/bin/ecom-pipeline status   shops, last syncs, errors, rejected records")
        print("  .venv/bin/ecom-pipeline conflicts list --tenant hooli   the two-way demo's conflict")
        print(f"  sqlite3 {home / 'warehouse.db'} 'select sku, price from hub_variants limit 5'")
        print("  docs/tables.md                   what every table and column means")
        return 0
    finally:
        receiver.terminate()
        if keep_running:
            print(f"The emulated shops keep running (pid {proc.pid}); stop them with: kill {proc.pid}")
        else:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
