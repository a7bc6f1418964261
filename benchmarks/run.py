"""``make bench``: full sync, memory vs shop size, and no-change incremental sync; writes docs/benchmarks.md.

Every sync runs in its own subprocess (``benchmarks.sync_child``) so its peak RSS and wall time are its own; the
emulated shop runs in another process (``benchmarks.shop``) so shop and pipeline do not share a GIL. The floor
(``benchmarks.floor``) downloads the same pages with plain ``requests`` from this process.

    .venv/bin/python -m benchmarks.run            # the full set (10,000 products / 20,000 orders), ~15-25 min
    .venv/bin/python -m benchmarks.run --quick    # small sizes, to check the script works (~2 min)
    .venv/bin/python -m benchmarks.run --profile  # also cProfile a mid-size sync (always done when an aim is missed)
    .venv/bin/python -m benchmarks.run --sections woocommerce --size mid --no-memory --output /tmp/b.md
                                                  # the full sync alone at 3,000 products (a before/after pair)
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from benchmarks import cpu
from benchmarks.floor import FloorResult, download

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
PG_ADMIN_URL = os.environ.get("ECOM_BENCH_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
TENANT = "bench"
# Issue 12's aim for the full WooCommerce pull (sync wall / floor), used by the CPU budget table: the sync CPU it
# allows on this machine.
FULL_PULL_AIM = 1.2
MEMORY_AIM = 1.3  # big/small peak RSS above this reads as "memory grows with shop size"


@dataclass(frozen=True)
class Size:
    label: str
    products: int
    variable_share: float
    orders: int
    customers: int


# variable_share 0.94 with the emulator's seeded 2-5 variations per variable product gives ~30,000 variations
# for 10,000 products (the exact counts are measured and printed).
BIG = Size("big", 10_000, 0.94, 20_000, 3_000)
SMALL = Size("small", 2_000, 0.94, 4_000, 600)
MID = Size("mid", 3_000, 0.94, 6_000, 900)
QUICK_BIG = Size("big", 500, 0.94, 1_000, 150)
QUICK_SMALL = Size("small", 100, 0.94, 200, 30)
QUICK_MID = Size("mid", 300, 0.94, 600, 90)
SIZES = {"big": BIG, "mid": MID, "small": SMALL}


def load_average() -> str:
    """The 1/5/15-minute load averages (the machine is shared: figures are read against them)."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def log(msg: str) -> None:
    print(f"[bench {datetime.now().strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------------------------------------- machine


def machine() -> dict[str, str]:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    pg = "?"
    try:
        engine = create_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            pg = conn.execute(text("show server_version")).scalar_one()
        engine.dispose()
    except Exception as exc:  # reported, not fatal here
        pg = f"unavailable ({type(exc).__name__})"
    commit = "?"
    with contextlib.suppress(Exception):
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    import dagster
    import sqlalchemy

    return {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "RAM": ram,
        "Python": platform.python_version(),
        "OS": platform.platform(),
        "PostgreSQL": pg,
        "Dagster": dagster.__version__,
        "SQLAlchemy": sqlalchemy.__version__,
        "commit": commit,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


# ---------------------------------------------------------------------------------------------- shop process


class Shop:
    """The emulator in its own process (started here, stopped by its pid)."""

    def __init__(self, size: Size, workdir: Path) -> None:
        self.size = size
        self.name = f"bench-{size.label}"
        self.creds_file = workdir / f"shop-{size.label}.json"
        self.log_file = workdir / f"shop-{size.label}.log"
        cmd = [sys.executable, "-m", "benchmarks.shop", "--name", self.name, "--products", str(size.products)]
        cmd += ["--variable-share", str(size.variable_share), "--orders", str(size.orders)]
        cmd += ["--customers", str(size.customers), "--cert-dir", str(workdir / "certs")]
        cmd += ["--credentials-file", str(self.creds_file)]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self.log_file.open("w"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while not self.creds_file.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"emulator exited: {self.log_file.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("emulator did not start in 300 s")
            time.sleep(0.2)
        creds = json.loads(self.creds_file.read_text())
        info = creds["shops"][self.name]
        self.url = info["http_url"]
        self.consumer_key = info["consumer_key"]
        self.consumer_secret = info["consumer_secret"]
        self.admin = f"http://127.0.0.1:{creds['http_port']}/__sandbox/{self.name}"

    def connect_json(self) -> str:
        return json.dumps(
            {
                "url": self.url,
                "consumer_key": self.consumer_key,
                "consumer_secret": self.consumer_secret,
                "name": self.name,
            }
        )

    def reset_stats(self) -> None:
        requests.delete(f"{self.admin}/stats", timeout=30).raise_for_status()

    def stats(self) -> dict[str, Any]:
        r = requests.get(f"{self.admin}/stats", timeout=30)
        r.raise_for_status()
        return r.json()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)


def calls_by_entity(stats: dict[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, counts in stats.get("by_path", {}).items():
        _method, _, path = key.partition(" ")
        rest = path.split("/wp-json/wc/v3/", 1)[-1]
        parts = rest.strip("/").split("/")
        if path.rstrip("/").endswith("/wp-json/wc-analytics/variations") or (
            parts[0] == "products" and len(parts) >= 3 and parts[2] == "variations"
        ):  # the cross-parent listing, or one product's variations
            entity = "variation"
        else:
            entity = parts[0].rstrip("s") if parts[0] else "?"
        out[entity] = out.get(entity, 0) + sum(counts.values())
    return out


# ---------------------------------------------------------------------------------------------- backends


class Backend:
    """A throwaway warehouse (SQLite file or PostgreSQL database ``ecom_bench_*``) and its Dagster home."""

    def __init__(self, kind: str, label: str, workdir: Path, secret_key: str) -> None:
        self.kind = kind
        self.home = workdir / f"{kind}-{label}"
        self.home.mkdir(parents=True)
        self.dagster_home = self.home / "dagster"
        self.dagster_home.mkdir()
        self.pg_name: str | None = None
        if kind == "sqlite":
            self.url = f"sqlite:///{self.home / 'warehouse.db'}"
        else:
            self.pg_name = f"ecom_bench_{os.getpid()}_{label}_{uuid.uuid4().hex[:6]}"
            admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.pg_name}"'))
            admin.dispose()
            self.url = make_url(PG_ADMIN_URL).set(database=self.pg_name).render_as_string(hide_password=False)
        self.env = dict(os.environ)
        self.env.update(
            {
                "ECOM_WAREHOUSE_URL": self.url,
                "ECOM_PIPELINE_HOME": str(self.home),
                "DAGSTER_HOME": str(self.dagster_home),
                "ECOM_SECRET_KEY": secret_key,
            }
        )

    def drop(self) -> None:
        if self.pg_name is None:
            return
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": self.pg_name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.pg_name}"'))
        admin.dispose()
        self.pg_name = None


def run_child(backend: Backend, shop: Shop, *, connect: bool, out: Path, profile: Path | None = None) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.sync_child", "--warehouse-url", backend.url, "--tenant", TENANT]
    cmd += ["--out", str(out), "--shop-pid", str(shop.proc.pid)]
    if connect:
        cmd += ["--connect-json", shop.connect_json()]
    if profile is not None:
        cmd += ["--profile", str(profile)]
    shop.reset_stats()
    t0 = time.perf_counter()
    log_path = out.with_suffix(".log")
    with log_path.open("w") as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=backend.env, stdout=fh, stderr=subprocess.STDOUT)
        _pid, status, rusage = os.wait4(proc.pid, 0)
    process_wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    if code != 0 or not out.exists():
        raise RuntimeError(f"sync subprocess failed ({code}):\n{log_path.read_text()[-4000:]}")
    result = json.loads(out.read_text())
    if not result["success"]:
        raise RuntimeError(f"sync run failed: {result['failure']}")
    result["process_wall_s"] = process_wall
    result["rusage_maxrss_kb"] = rusage.ru_maxrss
    # CPU seconds of the whole sync subprocess (ours; not the shop's or PostgreSQL's): far less sensitive to a
    # busy machine than wall time, so a before/after pair reads on it too.
    result["cpu_s"] = rusage.ru_utime + rusage.ru_stime
    result["shop_stats"] = shop.stats()
    result["shop_calls"] = calls_by_entity(result["shop_stats"])
    return result


# ---------------------------------------------------------------------------------------------- checks


def hub_matches(floor: FloorResult, after: dict[str, Any]) -> dict[str, tuple[int, int, bool]]:
    pairs = {
        "products": (floor.products, after["hub_products_live"]),
        "variants (variations + simple)": (floor.expected_variants, after["hub_variants_live"]),
        "orders": (floor.orders, after["hub_orders"]),
        "order lines": (floor.order_lines, after["hub_order_lines"]),
        "customers": (floor.customers, after["hub_customers"]),
    }
    return {k: (shop, hub, shop == hub) for k, (shop, hub) in pairs.items()}


def mb(kb: int) -> str:
    return f"{kb / 1024:.0f} MB"


def api_calls_of(result: dict[str, Any]) -> int:
    return sum(
        int(m.get("api_calls", 0)) for k, m in result["materializations"].items() if k.startswith("woocommerce/")
    )


# ---------------------------------------------------------------------------------------------- profile


# Inclusive time per stage: the cumulative time on call edges entering the stage's files (or functions) from
# outside them, so nesting inside a stage is not counted twice. Stages can nest in one another (staging insert
# includes hashing and JSON encoding; the HTTP client includes OAuth signing and JSON decoding).
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("HTTP client (platforms/http.py: requests, OAuth, response decode)", ("ecom_pipeline/platforms/http.py",)),
    ("  of which OAuth 1.0a signing (oauthlib)", ("oauthlib/",)),
    ("JSON encode + decode (stdlib json, anywhere)", ("/json/",)),
    ("staging insert (warehouse/store.py stage_records)", ("ecom_pipeline/warehouse/store.py:stage_records",)),
    ("link lookups (warehouse/store.py get_links)", ("ecom_pipeline/warehouse/store.py:get_links",)),
    ("payload / snapshot hashing (sync/hashing.py)", ("ecom_pipeline/sync/hashing.py",)),
    ("inventory extract (from staged payloads)", ("ecom_pipeline/platforms/woocommerce/extract.py:extract_inventory",)),
    ("apply (sync/apply.py apply_staged, incl. transform + resolve)", ("ecom_pipeline/sync/apply.py:apply_staged",)),
    (
        "  transform (woocommerce/transform.py, canonical.py)",
        ("ecom_pipeline/platforms/woocommerce/transform.py", "ecom_pipeline/sync/canonical.py"),
    ),
    ("  resolve (sync/resolve/)", ("ecom_pipeline/sync/resolve/",)),
    ("SQLAlchemy + DB drivers (warehouse and Dagster storage)", ("sqlalchemy/",)),
]
ASSET_BODIES = ("ecom_pipeline/assets/extract.py:_extract", "ecom_pipeline/assets/hub.py:_hub")


def _matches(key: tuple[str, int, str], needles: tuple[str, ...]) -> bool:
    filename, _line, func = key
    for n in needles:
        if ":" in n:
            path, name = n.split(":", 1)
            if filename.endswith(path) and func == name:
                return True
        elif n in filename:
            return True
    return False


def _inclusive(raw: dict, needles: tuple[str, ...]) -> float:
    total = 0.0
    for key, (_cc, _nc, _tt, _ct, callers) in raw.items():
        if not _matches(key, needles):
            continue
        for caller, edge in callers.items():
            if not _matches(caller, needles):
                total += edge[3]
    return total


def _short(key: tuple[str, int, str]) -> str:
    filename, line, func = key
    if filename == "~":
        return func
    for marker in ("site-packages/", "/ecom_pipeline/", "/lib/python3.11/"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            if marker == "/ecom_pipeline/":
                filename = "ecom_pipeline/" + filename
            break
    return f"{filename}:{line}({func})"


def profile_summary(path: Path, top: int = 25) -> dict[str, Any]:
    stats = pstats.Stats(str(path))
    raw = stats.stats  # type: ignore[attr-defined]
    run_total = max((v[3] for k, v in raw.items() if k[2] == "run_sync"), default=0.0)
    stages = [(name, _inclusive(raw, needles)) for name, needles in STAGES]
    bodies = sum(_inclusive(raw, (b,)) for b in ASSET_BODIES)
    stages.append(("Dagster overhead (run_sync minus the asset bodies)", run_total - bodies))
    by_self = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    ours = sorted(
        ((k, v) for k, v in raw.items() if "/ecom_pipeline/" in k[0] and "sandbox" not in k[0]),
        key=lambda kv: kv[1][3],
        reverse=True,
    )[:top]
    return {
        "run_total_s": run_total,
        "stages": stages,
        "top_self": [(_short(k), v[1], v[2], v[3]) for k, v in by_self],
        "top_cum_ours": [(_short(k), v[1], v[3]) for k, v in ours],
    }


# ---------------------------------------------------------------------------------------------- report


INTRO = """# Benchmarks

Measured by `make bench` (`.venv/bin/python -m benchmarks.run`, code in `benchmarks/`); this file is regenerated
on each run, only this introduction is written by hand. Everything runs on one machine: the emulated WooCommerce
shop (`benchmarks/shop.py`, the `ecom-pipeline sandbox` emulator with a chosen share of variable products) in its
own process, and each sync in its own subprocess (`benchmarks/sync_child.py`) that calls `run_sync` (the real
`sync_job` through `execute_in_process` on a real Dagster instance in a temporary `DAGSTER_HOME`). The shop is
read over plain HTTP, so every request is signed with OAuth 1.0a, as for a real shop without TLS.

How to read the figures:

- **Full sync**: the first sync of a shop into an empty warehouse (no cursor, so a full scan), on a SQLite file
  and on PostgreSQL. *Wall* is the time of `run_sync` alone (Python imports, `connect` and Dagster start-up of the
  subprocess are left out; the whole subprocess time is shown too). *Rows/s* is (products + variations + orders +
  customers of the shop, all checked to be in the hub) / wall. *Peak RSS* is the sync subprocess's high-water
  mark (VmHWM), which includes the ~interpreter, Dagster and SQLAlchemy baseline shown as *RSS before run*.
  *Subprocess CPU* is that subprocess's user + system CPU seconds (not the shop's, not PostgreSQL's): on a busy
  machine it moves far less than wall time. *API calls* are the calls the shop saw.
- **Floor**: the time to download exactly the same pages (same OAuth 1.0a auth, `per_page=100`, product pages,
  the variations of each page's variable products by the cross-parent listing `wc-analytics/variations?parent=`
  as the sync reads them, order pages, customer pages) with plain `requests` in one process,
  doing nothing with them but decoding the JSON. It is what the network and the emulator cost; the rest of the
  sync's wall is the pipeline's own work. **Ratio = sync wall / floor**; the aim is at most 1.2x (issue 12). A
  ratio of 3x means the pipeline spends twice as long on its own work (staging, transform, resolve, Dagster) as on
  reading the shop. The shop process is single-threaded and the machine has few cores, so pipeline and shop compete for
  CPU: that is the same for the floor.
- **CPU budget**: the CPU seconds (user + system, from `/proc`) the emulator, the sync process and PostgreSQL
  spent over the same window as each wall, the least wall that CPU allows on this machine (max(shop, sync,
  sum / cores)), and the sync CPU the aim allows (aim x floor); with the time each process waited for a core, as
  the machine is shared.
- **Memory vs shop size**: the same full sync on a shop 5x smaller. Pages are streamed, so the peak RSS should
  be about flat: the ratio big/small should be close to 1 (aim: at most 1.3), far below the 5x of the data.
- **No-change incremental sync**: a second sync right after the full one, nothing changed in the shop. Expected:
  at most one list call per entity, no variations call, 0 hub rows created or updated, `max(synced_at)` and the
  staging row count unchanged.
- **PrestaShop** (`benchmarks/prestashop_bench.py`): full and no-change sync of an emulated PrestaShop shop with
  combinations; its floor replays the very requests the sync sent (recorded in the sync subprocess).
- **Webhook receiver** (`benchmarks/webhooks_bench.py`): `ecom-pipeline serve-webhooks` under load from another
  process (saturation, then paced at 1,000/s), and a zero-loss run with duplicates, bad signatures and a
  `kill -9` of the receiver mid-load, checked in `webhook_inbox` and the hub after `apply_inbox`.
- **Webhook end-to-end** (`benchmarks/webhooks_e2e.py`): a change in an emulated shop until the hub row shows
  it, with the receiver and `dagster-daemon` running (sensor, queued run launched as a subprocess); aim p95 < 30 s.
- **Shopify** (`benchmarks/shopify_bench.py`, when present).
- **Push** (`benchmarks/push_bench.py`, also `make bench-push`): 1,000 products (3,000 variants), 1,000 price
  changes and a no-change push to each emulated platform, against the floor its limits allow.
- **Stock** (`benchmarks/stock_bench.py`): 1,000 sales over three emulated shops until every shop shows the
  ledger's number, and a Shopify stock push of 1,000 changed quantities against its cost floor (`--quick`: 60
  sales, 100 SKUs).
- **Stock with the daemon** (`benchmarks/stock_daemon_bench.py`): 100 sales by webhook (WooCommerce, Shopify) until
  the three emulated shops show the number, with the receiver and `dagster-daemon` in their own processes; shop
  writes per change, Dagster runs (`--quick`: 20 sales).

Each of these sections comes from its module's `run(quick)`; `--sections` picks a subset.
"""


def fmt_s(s: float) -> str:
    return f"{s:.1f} s" if s >= 10 else f"{s:.2f} s"


def cpu_budget(data: dict[str, Any]) -> list[str]:
    """Section 1's CPU budget table: the floor, then each full and no-change sync (``benchmarks.cpu``)."""
    floor: FloorResult = data["floor"]
    rows = [cpu.floor_row("floor (plain `requests`)", floor)]
    for label, key, aim in (("full", "full", FULL_PULL_AIM), ("no-change", "incremental", None)):
        for kind in data["backends"]:
            r = data[key].get(kind)
            if r is None or "run_cpu" not in r:
                continue
            rows.append(
                cpu.sync_row(
                    f"{kind} {label}",
                    r["wall_s"],
                    r["run_cpu"],
                    postgres=kind == "postgresql",
                    # what the shop saw from the subprocess (a full sync's also includes connect's few calls)
                    calls=sum(r["shop_calls"].values()),
                    floor_wall_s=floor.wall_s if aim else None,
                    aim=aim,
                )
            )
    return cpu.render_budget(
        f"CPU budget of the full pull (aim: within {FULL_PULL_AIM:g}x of the floor)",
        rows,
        n_cores=int(data.get("cores") or cpu.cores()),
        cpu=data["machine"].get("CPU", "?"),
        load=data.get("load_after_syncs", "?"),
    )


def render(data: dict[str, Any]) -> str:
    out = [INTRO]
    m = data["machine"]
    out.append("## Machine\n")
    out.append("| | |\n|---|---|")
    for k, v in m.items():
        out.append(f"| {k} | {v} |")
    out.append("")
    if data.get("quick"):
        out.append("**`--quick` run: small sizes, to check the script works; not the reference figures.**\n")
    if "floor" not in data:
        out.append("WooCommerce sections (1-3) not run this time (`--sections`).\n")
        out.extend(data.get("extra_sections", []))
        out.append(f"Whole benchmark took {fmt_s(data['elapsed_s'])}.\n")
        return "\n".join(out)
    big: Size = data["big_size"]
    floor: FloorResult = data["floor"]
    out.append("## 1. Full sync\n")
    out.append(
        f"Load average (1/5/15 min) before the run: {data.get('load_before', '?')}; after the syncs: "
        f"{data.get('load_after_syncs', '?')}.\n"
    )
    out.append(
        f"Shop: {floor.products:,} products ({floor.variable_products:,} variable, {floor.variations:,} variations), "
        f"{floor.orders:,} orders ({floor.order_lines:,} lines), {floor.customers:,} customers "
        f"(emulator seed 1, variable_share {big.variable_share}). Rows = {floor.rows:,}.\n"
    )
    out.append(
        f"Floor (plain `requests`): **{fmt_s(floor.wall_s)}** for {floor.calls:,} calls "
        f"({floor.bytes / 1e6:.0f} MB of JSON; decoding it took {fmt_s(floor.json_s)} of that); calls per entity: "
        + ", ".join(f"{k} {v:,}" for k, v in floor.calls_by_entity.items())
        + ".\n"
    )
    out.append(
        "| backend | wall (run_sync) | subprocess wall | subprocess CPU | rows/s | floor "
        f"| ratio (aim ≤ {FULL_PULL_AIM:g}x) | peak RSS | RSS before run | API calls | hub = shop |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for kind in data["backends"]:
        r = data["full"][kind]
        ratio = r["wall_s"] / floor.wall_s
        checks = data["checks"][kind]
        ok = all(c[2] for c in checks.values())
        mark = "" if ratio <= FULL_PULL_AIM else " **missed**"
        out.append(
            f"| {kind} | {fmt_s(r['wall_s'])} | {fmt_s(r['process_wall_s'])} | {fmt_s(r.get('cpu_s', 0.0))} "
            f"| {floor.rows / r['wall_s']:,.0f} "
            f"| {fmt_s(floor.wall_s)} | {ratio:.2f}x{mark} | {mb(r['peak_rss_kb'])} | {mb(r['rss_before_kb'])} "
            f"| {sum(r['shop_calls'].values()):,} | {'yes' if ok else '**NO**'} |"
        )
    out.append("")
    out.extend(cpu_budget(data))
    out.append("Per-asset durations and API calls of the full sync (from the materialization metadata):\n")
    assets = sorted({k for kind in data["backends"] for k in data["full"][kind]["materializations"]})
    out.append("| asset | " + " | ".join(f"{k} duration" for k in data["backends"]) + " | API calls |")
    out.append("|---|" + "---|" * (len(data["backends"]) + 1))
    for asset in assets:
        cells = []
        calls = ""
        for kind in data["backends"]:
            meta = data["full"][kind]["materializations"].get(asset, {})
            d = meta.get("duration_s")
            cells.append(fmt_s(float(d)) if d is not None else "-")
            if "api_calls" in meta:
                calls = f"{int(meta['api_calls']):,}"
        out.append(f"| {asset} | " + " | ".join(cells) + f" | {calls} |")
    out.append("")
    out.append("Row counts, shop vs hub:\n")
    out.append("| entity | shop | " + " | ".join(f"hub ({k})" for k in data["backends"]) + " |")
    out.append("|---|---|" + "---|" * len(data["backends"]))
    first = data["backends"][0]
    for entity, (shop_n, _hub_n, _ok) in data["checks"][first].items():
        cells = []
        for kind in data["backends"]:
            _s, hub_n, ok = data["checks"][kind][entity]
            cells.append(f"{hub_n:,}" + ("" if ok else " **≠**"))
        out.append(f"| {entity} | {shop_n:,} | " + " | ".join(cells) + " |")
    out.append("")

    if "small_floor" not in data:
        out.append("## 2. Peak memory vs shop size\n\nNot run this time (`--no-memory`).\n")
    else:
        small: Size = data["small_size"]
        out.append("## 2. Peak memory vs shop size\n")
        out.append(
            f"Small shop: {data['small_floor'].products:,} products ({data['small_floor'].variations:,} variations), "
            f"{data['small_floor'].orders:,} orders, {data['small_floor'].customers:,} customers "
            f"(variable_share {small.variable_share}); big shop as above "
            f"({floor.rows / data['small_floor'].rows:.1f}x the rows).\n"
        )
        out.append("| backend | peak RSS small | peak RSS big | big / small (aim ≤ 1.3) | growth per 1,000 rows |")
        out.append("|---|---|---|---|---|")
        for kind in data["backends"]:
            s = data["small"][kind]["peak_rss_kb"]
            b = data["full"][kind]["peak_rss_kb"]
            ratio = b / s
            mark = "" if ratio <= MEMORY_AIM else " **missed**"
            per = (b - s) / 1024 / max(1, (floor.rows - data["small_floor"].rows) / 1000)
            out.append(f"| {kind} | {mb(s)} | {mb(b)} | {ratio:.2f}x{mark} | {per:.2f} MB |")
        out.append("")

    out.append("## 3. No-change incremental sync (right after the full sync)\n")
    out.append(
        "| backend | wall (run_sync) | API calls: products / variations / orders / customers "
        "| hub rows created + updated | staging rows before → after | max(synced_at) unchanged |"
    )
    out.append("|---|---|---|---|---|---|")
    for kind in data["backends"]:
        r = data["incremental"][kind]
        calls = r["shop_calls"]
        written = sum(
            int(m.get("created", 0)) + int(m.get("updated", 0))
            for k, m in r["materializations"].items()
            if k.startswith("hub/")
        )
        same = r["before"]["max_synced_at"] == r["after"]["max_synced_at"]
        stg = f"{r['before']['staging_records']:,} → {r['after']['staging_records']:,}"
        out.append(
            f"| {kind} | {fmt_s(r['wall_s'])} | {calls.get('product', 0)} / {calls.get('variation', 0)} / "
            f"{calls.get('order', 0)} / {calls.get('customer', 0)} | {written} | {stg} "
            f"| {'yes' if same else '**no**'} |"
        )
    out.append("")
    per_asset = data["incremental"][data["backends"][0]]["materializations"]
    out.append(
        "Per asset ("
        + data["backends"][0]
        + "): "
        + "; ".join(
            f"{k} {fmt_s(float(m['duration_s']))}"
            for k, m in sorted(per_asset.items())
            if m.get("duration_s") is not None
        )
        + ".\n"
    )

    prof = data.get("profile")
    if prof:
        out.append("## Profile of a full sync\n")
        out.append(
            f"cProfile of one full sync ({prof['backend']}, {prof['size']}) in its subprocess; wall "
            f"{fmt_s(prof['wall_s'])} under the profiler (cProfile slows pure-Python code more than I/O). "
            "Time per stage, inclusive of what it calls (stages overlap where indented or noted):\n"
        )
        out.append("| stage (inclusive) | time | share of run_sync |")
        out.append("|---|---|---|")
        total = prof["summary"]["run_total_s"] or 1.0
        for name, t in prof["summary"]["stages"]:
            out.append(f"| {name} | {fmt_s(t)} | {100 * t / total:.0f}% |")
        out.append("")
        out.append("Top functions by self time:\n")
        out.append("| function | calls | self | cumulative |")
        out.append("|---|---|---|---|")
        for name, nc, tt, ct in prof["summary"]["top_self"][:15]:
            out.append(f"| `{name}` | {nc:,} | {fmt_s(tt)} | {fmt_s(ct)} |")
        out.append("")
        out.append("ecom_pipeline functions by cumulative time:\n")
        out.append("| function | calls | cumulative |")
        out.append("|---|---|---|")
        for name, nc, ct in prof["summary"]["top_cum_ours"][:20]:
            out.append(f"| `{name}` | {nc:,} | {fmt_s(ct)} |")
        out.append("")
    out.extend(data.get("extra_sections", []))
    out.append(f"Whole benchmark took {fmt_s(data['elapsed_s'])}.\n")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------- other sections

# Modules exposing ``run(quick: bool) -> str`` (a markdown section), run after the WooCommerce benchmark.
SECTIONS = (
    "woocommerce",
    "prestashop",
    "webhooks",
    "webhooks_e2e",
    "shopify",
    "push",
    "stock",
    "stock_daemon",
    "tick",
)
SECTION_MODULES = {
    "prestashop": "benchmarks.prestashop_bench",
    "webhooks": "benchmarks.webhooks_bench",
    "webhooks_e2e": "benchmarks.webhooks_e2e",
    "shopify": "benchmarks.shopify_bench",
    "push": "benchmarks.push_bench",
    "stock": "benchmarks.stock_bench",
    "tick": "benchmarks.tick_bench",
    "stock_daemon": "benchmarks.stock_daemon_bench",
}


def run_section(name: str, quick: bool) -> str:
    """One section's markdown; a missing module or a failure becomes a note instead of stopping the others."""
    import importlib
    import importlib.util
    import traceback

    module_name = SECTION_MODULES[name]
    if importlib.util.find_spec(module_name) is None:
        log(f"{name}: {module_name} does not exist, skipped")
        return f"## {name.capitalize()}\n\nSkipped: `{module_name}` does not exist yet.\n"
    log(f"{name}: running {module_name}")
    t0 = time.perf_counter()
    try:
        section = importlib.import_module(module_name).run(quick)
    except Exception as exc:
        log(f"{name}: failed: {exc!r}")
        tb = traceback.format_exc()[-1500:]
        return f"## {name.capitalize()}\n\n**Failed** after {fmt_s(time.perf_counter() - t0)}:\n\n```\n{tb}\n```\n"
    log(f"{name}: done in {time.perf_counter() - t0:.0f} s")
    return section.rstrip() + "\n"


# ---------------------------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, to check that the script works")
    ap.add_argument("--profile", action="store_true", help="cProfile a mid-size sync even if every aim is met")
    ap.add_argument("--no-profile", action="store_true", help="never profile")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument(
        "--size", choices=sorted(SIZES), default="big", help="shop of sections 1 and 3 (big: 10,000 products)"
    )
    ap.add_argument("--no-memory", action="store_true", help="skip section 2 (the small shop's peak memory)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, profiles)")
    ap.add_argument("--output", default=str(DOC))
    ap.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated subset of {','.join(SECTIONS)} (default: all)",
    )
    args = ap.parse_args()
    sections = [s for s in args.sections.split(",") if s]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        ap.error(f"unknown sections: {', '.join(unknown)}")
    started = time.perf_counter()
    big, small, mid = (QUICK_BIG, QUICK_SMALL, QUICK_MID) if args.quick else (SIZES[args.size], SMALL, MID)
    # Each emulator writes its credentials under its label: the profiled shop must not read the big one's file.
    mid = dataclasses.replace(mid, label="profile")
    backends = [b for b in args.backends.split(",") if b]
    workdir = Path(tempfile.mkdtemp(prefix="ecom_bench_"))
    secret_key = Fernet.generate_key().decode()
    data: dict[str, Any] = {
        "machine": machine(),
        "quick": args.quick,
        "big_size": big,
        "small_size": small,
        "backends": backends,
        "full": {},
        "incremental": {},
        "small": {},
        "checks": {},
        "load_before": load_average(),
        "cores": cpu.cores(),
    }
    log(f"workdir {workdir}")
    if "woocommerce" in sections:
        created: list[Backend] = []
        shops: list[Shop] = []
        try:
            # ---- big shop: floor, full sync, no-change sync per backend
            log(f"starting emulator: {big}")
            shop = Shop(big, workdir)
            shops.append(shop)
            floor_best: FloorResult | None = None
            for attempt in range(2):  # the first pass also warms the emulator's sorted-list caches
                f = download(shop.url, shop.consumer_key, shop.consumer_secret, shop_pid=shop.proc.pid)
                log(
                    f"floor pass {attempt + 1}: {f.wall_s:.1f} s, {f.calls} calls, {f.rows} rows, "
                    f"shop CPU {f.shop_cpu_s or 0:.1f} s, client CPU {f.client_cpu_s:.1f} s"
                )
                if floor_best is None or f.wall_s < floor_best.wall_s:
                    floor_best = f
            assert floor_best is not None
            data["floor"] = floor_best
            for kind in backends:
                be = Backend(kind, "big", workdir, secret_key)
                created.append(be)
                log(f"{kind}: full sync")
                r = run_child(be, shop, connect=True, out=workdir / f"{kind}-big-full.json")
                data["full"][kind] = r
                data["checks"][kind] = hub_matches(floor_best, r["after"])
                log(
                    f"{kind}: full sync {r['wall_s']:.1f} s (ratio {r['wall_s'] / floor_best.wall_s:.2f}x), "
                    f"subprocess CPU {r['cpu_s']:.1f} s, run CPU {r['run_cpu']}, "
                    f"peak {mb(r['peak_rss_kb'])}, calls {r['shop_calls']}, checks {data['checks'][kind]}"
                )
                log(f"{kind}: no-change sync")
                r2 = run_child(be, shop, connect=False, out=workdir / f"{kind}-big-incr.json")
                data["incremental"][kind] = r2
                log(f"{kind}: no-change sync {r2['wall_s']:.1f} s, calls {r2['shop_calls']}, run CPU {r2['run_cpu']}")
                be.drop()
            shop.stop()

            # ---- small shop: peak memory vs size
            if not args.no_memory:
                sshop = Shop(small, workdir)
                log(f"started emulator: {small}")
                shops.append(sshop)
                data["small_floor"] = download(sshop.url, sshop.consumer_key, sshop.consumer_secret)
                for kind in backends:
                    be = Backend(kind, "small", workdir, secret_key)
                    created.append(be)
                    log(f"{kind}: small full sync")
                    r = run_child(be, sshop, connect=True, out=workdir / f"{kind}-small-full.json")
                    data["small"][kind] = r
                    log(f"{kind}: small full sync {r['wall_s']:.1f} s, peak {mb(r['peak_rss_kb'])}")
                    be.drop()
                sshop.stop()
            data["load_after_syncs"] = load_average()

            # ---- profile when an aim is missed (or asked for)
            missed = [kind for kind in backends if data["full"][kind]["wall_s"] / floor_best.wall_s > FULL_PULL_AIM] + [
                kind
                for kind in backends
                if kind in data["small"]
                and data["full"][kind]["peak_rss_kb"] / data["small"][kind]["peak_rss_kb"] > MEMORY_AIM
            ]
            if (missed or args.profile) and not args.no_profile:
                kind = "postgresql" if "postgresql" in backends else backends[0]
                log(f"aims missed by {sorted(set(missed))}: profiling a {mid.label} full sync on {kind}")
                mshop = Shop(mid, workdir)
                shops.append(mshop)
                be = Backend(kind, "mid", workdir, secret_key)
                created.append(be)
                prof_path = workdir / f"{kind}-mid.prof"
                r = run_child(be, mshop, connect=True, out=workdir / f"{kind}-mid-full.json", profile=prof_path)
                data["profile"] = {
                    "backend": kind,
                    "size": f"{mid.products:,} products / {mid.orders:,} orders / {mid.customers:,} customers",
                    "wall_s": r["wall_s"],
                    "summary": profile_summary(prof_path),
                    "path": str(prof_path),
                }
                be.drop()
                mshop.stop()
                if True:  # kept for a closer look: .venv/bin/python -m pstats benchmarks/.last-profile.prof
                    keep_prof = ROOT / "benchmarks" / ".last-profile.prof"
                    shutil.copyfile(prof_path, keep_prof)
                    log(f"profile kept at {keep_prof}")
        finally:
            for s in shops:
                s.stop()
            for be in created:
                try:
                    be.drop()
                except Exception as exc:
                    log(f"could not drop {be.pg_name}: {exc}")
            if not args.keep:
                shutil.rmtree(workdir, ignore_errors=True)
    extra = [run_section(name, args.quick) for name in sections if name != "woocommerce"]
    data["extra_sections"] = extra
    data["elapsed_s"] = time.perf_counter() - started
    Path(args.output).write_text(render(data))
    log(f"wrote {args.output} in {data['elapsed_s']:.0f} s")
    print(render(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
