"""Push benchmark (issue 10): 1,000 new products (3,000 variants), then 1,000 price changes, then a no-change push,
to each emulated platform under its real limits, against the floor each platform's limits imply.

Set-up (untimed): one SQLite warehouse; the emulated REST shops (two WooCommerce, two PrestaShop 8.2.1) served
by another process (``benchmarks/push_shops.py``), so the shops' request handling does not share this process's
GIL with the push (it did until 2026-12-05: every call's server work then competed with our own, and with the
writer's worker threads once batches were in flight); the two Shopify shops (Standard plan, 100 points/s and a
2,000-point bucket) in this process (``SandboxServer``: the floor reads their cost meter and bulk operations). Each
is connected with ``ecom-pipeline connect --direction push``; the hub catalogue comes from ``ecom-pipeline catalog
import`` of a CSV (1,000 products with Size S/M/L). The two shops of each platform are identical and get the same
pushes: ``woo-1``/``presta-1`` with ``push_concurrency`` 1 (each call sent once the previous answer is processed),
``woo``/``presta`` with 4 (docs/two-way-sync.md, "Push concurrency"); ``--only woo`` runs both WooCommerce
shops. Each push is ``ecom-pipeline push --tenant T --integration N`` in this process, timed from the command's
start to its end (plan, writes, links). The price phase is a second import that changes the M variant's price of
every product (one variant per product, 1,000 changes).

Floors:

- **WooCommerce and PrestaShop: the fewest calls the API allows, each timed in the same run.** Every HTTP call of
  the run is timed (``requests.Session.send``, request sent to answer read, nothing else), grouped by kind
  (method and path with ids as ``{id}``); a kind's time is its median. Both rows of a platform take their call
  times from its 1-in-flight push of the same phase (``woo-1``, ``presta-1``): with 4 in flight each call waits behind
  the others in the shop (the emulator serves one request at a time), so its own call times would inflate the
  floor by the very concurrency being measured. The floor is thus what the calls cost sent one after another,
  with no client work between them; batches in flight can beat it only by overlapping our work with the shop's.
  WooCommerce creates: ``ceil(P/100)`` ``POST products/batch`` (100 items is the batch limit) plus P ``POST
  products/{id}/variations/batch`` (a variation batch is per product); price changes: P variation batches.
  PrestaShop has no batch writes: creates
  are P ``POST products`` plus 3P ``POST combinations``; a price change must PUT the whole combination document
  (a partial PUT blanks fields), read first: P ``PUT combinations/{id}`` plus ``ceil(P/100)`` list reads of 100
  documents (``display=full``, ``filter[id]``), timed by the benchmark after the phase with plain ``requests``.
  Look-ups by SKU (idempotency) and read-backs are not in the floor: they are what the ratio shows.
- **Shopify: cost / restore rate.** The floor is ``(actual cost of every call - points in the bucket at the
  start) / 100 points/s``. Actual, not requested: Shopify takes the requested cost when a call starts and refunds
  requested minus actual as soon as it answers, so the restore rate only has to pay for actual points (for the
  writer's mutations the two are equal, 10 points; they differ on the SKU and handle look-ups). The bucket's
  starting points are subtracted because they are spent before any restore is needed. The bulk shop's floor adds
  the bulk operations' own time: the emulated duration (start delay + lines / ``bulk_mutation_lines_per_s``, an
  assumption: Shopify publishes no bulk mutation throughput) or, when longer, the real time the emulator took to
  run the lines (it completes an operation only once every line ran).

Push CPU (the table's column): for a shop in the other process, this process's CPU time over the push (ours
alone, the writer's worker threads included); for the Shopify shops, whose emulator runs here, the CPU time of the
thread that ran the push.

CPU budget (a second table): over each push's window, ``benchmarks/cpu.py``'s readings of the shops' process
(``push_shops.py``; for Shopify, this process's CPU minus the push thread's), ours, and the time each waited for
a core; the bound max(shop, ours, (shop + ours) / cores) (the warehouse is SQLite: its work is in our process's
CPU, no PostgreSQL); and whose the time above 1.3x the floor is: our CPU, the shop's, the cores, serialisation
(the wall about shop + ours: the two took turns) or waits (``Row.verdict``).

Aims: wall time within 1.3x of the floor; 1,000 products created in under 5 minutes; the no-change push makes no
write call (WooCommerce/PrestaShop: no POST/PUT/PATCH/DELETE served by the shop; Shopify: no mutation executed).

    .venv/bin/python -m benchmarks.push_bench           # 1,000 products, prints the section
    .venv/bin/python -m benchmarks.push_bench --write   # and replaces its section in docs/benchmarks.md
    .venv/bin/python -m benchmarks.push_bench --quick   # 60 products: checks the script works
    .venv/bin/python -m benchmarks.push_bench --quick --only woo,presta --slow-ms 50   # a shop 50 ms away
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, select, update

from benchmarks import cpu
from benchmarks.docs_section import write_section

ROOT = Path(__file__).resolve().parents[1]
HEADING = "## Push: 1,000 products, 1,000 price changes, no-change push"
RATIO_AIM = 1.3
FIVE_MINUTES = 300.0
TENANT = "bench"
# PrestaShop has its own tenant: the same catalogue without options (its emulator has no attribute values, and a
# variant option the shop lacks is refused), the same number of calls.
PS_TENANT = "bench-ps"
SIZES = ("S", "M", "L")
WRITES = ("POST", "PUT", "PATCH", "DELETE")
STANDARD_RATE = 100.0
HEADER = (
    "handle,title,description,status,product_type,tags,categories,sku,variant_title,price,compare_at_price,"
    "currency,weight,options,position"
)

# What the first run showed wasted and what fixing it gave: history, kept in the section as written.
HISTORY = Path(__file__).with_name("push_history.md")

# -- every HTTP call of the run, timed -------------------------------------------------------------------------------

CALLS: list[tuple[str, str, float]] = []  # (method, url, seconds)
ANSWER_BYTES: dict[str, list[int]] = {}  # kind -> the size of each answer's body
_send = requests.Session.send


def _timed_send(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
    started = time.perf_counter()
    response = _send(self, request, **kwargs)
    CALLS.append((str(request.method), str(request.url), time.perf_counter() - started))
    ANSWER_BYTES.setdefault(kind_of(str(request.method), str(request.url)), []).append(len(response.content))
    return response


def kind_of(method: str, url: str) -> str:
    """``POST products/{id}/variations/batch``: the call's method and API path, numeric ids as ``{id}``."""
    path = urlsplit(url).path
    if path.endswith("/graphql.json"):
        return f"{method} graphql"
    for marker in ("/wp-json/wc/v3/", "/api/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{method} " + re.sub(r"/\d+(?=/|$)", "/{id}", "/" + path.strip("/")).lstrip("/")


def medians(calls: list[tuple[str, str, float]]) -> dict[str, tuple[int, float]]:
    """kind -> (calls, median seconds)."""
    groups: dict[str, list[float]] = {}
    for method, url, seconds in calls:
        groups.setdefault(kind_of(method, url), []).append(seconds)
    return {k: (len(v), statistics.median(v)) for k, v in groups.items()}


# -- rows ------------------------------------------------------------------------------------------------------------


@dataclass
class Row:
    shop: str
    phase: str
    wall_s: float
    calls: int
    writes: int
    created: int
    updated: int
    failed: int
    floor_s: float
    basis: str
    by_kind: dict[str, tuple[int, float]] = field(default_factory=dict)
    own_cpu_s: float = 0.0  # CPU time of the push's own thread (the emulator's threads excluded)
    # The CPU budget over the push window (benchmarks/cpu.py): the shop's CPU (its process; for the in-process
    # Shopify emulator, this process's CPU minus the push thread's), ours (= own_cpu_s), and the seconds our
    # process's and the shop's threads waited for a core. None: not measured.
    shop_cpu_s: float | None = None
    our_wait_s: float | None = None
    shop_wait_s: float | None = None
    shop_calls: int = 0  # HTTP calls the push made (the timed sends)
    answer_kb: dict[str, float] = field(default_factory=dict)  # kind -> median answer body, KiB

    def budget(self, cores: int) -> cpu.CpuBudget:
        return cpu.CpuBudget(
            wall_s=self.wall_s,
            shop_cpu_s=self.shop_cpu_s or 0.0,
            sync_cpu_s=self.own_cpu_s,
            pg_cpu_s=0.0,  # SQLite warehouse: its work is in our process's CPU
            cores=cores,
            floor_wall_s=self.floor_s,
            aim=RATIO_AIM,
        )

    def verdict(self, cores: int) -> str:
        """Whose is the time above the aim (``RATIO_AIM`` x floor): see ``_render``'s CPU budget paragraph."""
        if self.phase == "no change" or self.floor_s <= 0:
            return "-"
        b = self.budget(cores)
        aim = b.aim_wall_s
        if self.wall_s <= aim:
            return "met"
        if self.shop_cpu_s is None:
            return "not measured"
        if b.sync_cpu_s > aim:
            return f"**our CPU** ({b.sync_cpu_s:.1f} s > {aim:.1f} s)"
        if b.shop_cpu_s > aim:
            return f"**the shop's CPU** ({b.shop_cpu_s:.1f} s > {aim:.1f} s)"
        if b.total_cpu_s / max(1, cores) > aim:
            return f"**the {cores} cores** (shop + ours / {cores} = {b.total_cpu_s / cores:.1f} s > {aim:.1f} s)"
        serial = b.shop_cpu_s + b.sync_cpu_s
        waited = (self.our_wait_s or 0.0) + (self.shop_wait_s or 0.0)
        if self.wall_s <= 1.25 * serial:
            return f"**serialisation** (shop + ours = {serial:.1f} s ≈ the wall: taking turns)"
        return f"**waits** (shop + ours = {serial:.1f} s; {waited:.1f} s waiting for a core)"

    def budget_markdown(self, cores: int) -> str:
        b = self.budget(cores)

        def s(v: float | None) -> str:
            return "-" if v is None else f"{v:.1f} s"

        return (
            f"| {self.shop} | {self.phase} | {self.wall_s:.1f} s | {s(RATIO_AIM * self.floor_s)} | "
            f"{s(self.shop_cpu_s)} | {self.own_cpu_s:.1f} s | {s(b.total_cpu_s / max(1, cores))} | {b.bound_s:.1f} s | "
            f"{b.wall_over_bound:.2f}x | {s(self.our_wait_s)} / {s(self.shop_wait_s)} | {self.verdict(cores)} |"
        )

    @property
    def ratio(self) -> float:
        return self.wall_s / self.floor_s if self.floor_s > 0 else float("nan")

    def markdown(self) -> str:
        if self.phase == "no change":
            aim = "met" if self.writes == 0 else "**missed**"
            ratio = "-"
        else:
            ok = self.ratio <= RATIO_AIM
            aim = "met" if ok else "**missed**"
            if self.phase == "create":
                aim += "; < 5 min" if self.wall_s < FIVE_MINUTES else "; **≥ 5 min**"
            ratio = f"{self.ratio:.2f}x"
        return (
            f"| {self.shop} | {self.phase} | {self.wall_s:,.1f} s | {self.calls:,} | {self.writes:,} | "
            f"{self.created:,} / {self.updated:,} / {self.failed:,} | {self.floor_s:,.1f} s | {self.basis} | "
            f"{ratio} | {self.own_cpu_s:,.1f} s | {aim} |"
        )


# -- the world --------------------------------------------------------------------------------------------------------


def _catalogue(path: Path, products: int, bump: bool, options: bool = True) -> None:
    """The hub catalogue as a CSV: product i has S/M/L; with ``bump`` the M price is one more. Without ``options``
    the variants carry no Size option (the PrestaShop emulator has no attribute values to map them to)."""
    lines = [HEADER]
    for i in range(products):
        base = 10 + (i % 50)
        for n, size in enumerate(SIZES):
            price = base + n + (1 if bump and size == "M" else 0)
            first = n == 0
            lines.append(
                f"p{i:05d},{'Product ' + str(i) if first else ''},{'<p>Bench</p>' if first else ''},"
                f"{'active' if first else ''},{'variable' if first else ''},,,P{i:05d}-{size},Product {i} - {size},"
                f"{price}.00,,USD,0.5,{'Size=' + size if options else ''},"
            )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


class _ShopifyMeter:
    """Sums requested and actual cost of every Shopify call the writer makes (its client's governor sees them)."""

    def __init__(self) -> None:
        self.requested = 0.0
        self.actual = 0.0
        self.queries = 0  # calls that are not mutations (the look-ups before creates, bulk polls)
        self.query_actual = 0.0  # their actual cost

    def reset(self) -> None:
        self.requested = self.actual = self.query_actual = 0.0
        self.queries = 0

    def install(self) -> None:
        from ecom_pipeline.platforms.shopify import writer

        real: Callable[..., Any] = writer.make_client
        meter = self
        current = threading.local()  # whether the call this thread is making is a mutation

        def make_client(integration: Any, credentials: Mapping[str, Any]) -> Any:
            client = real(integration, credentials)
            observe = client.governor.observe

            def counting(key: str, cost: Mapping[str, Any] | None) -> None:
                if isinstance(cost, Mapping):
                    meter.requested += float(cost.get("requestedQueryCost") or 0)
                    meter.actual += float(cost.get("actualQueryCost") or 0)
                if not getattr(current, "mutation", False):
                    meter.queries += 1
                    if isinstance(cost, Mapping):
                        meter.query_actual += float(cost.get("actualQueryCost") or 0)
                observe(key, cost)

            client.governor.observe = counting
            execute = client.execute

            def executing(query: str, *args: Any, **kwargs: Any) -> Any:
                current.mutation = str(query).lstrip().startswith("mutation")
                return execute(query, *args, **kwargs)

            client.execute = executing
            return client

        writer.make_client = make_client


class RemoteShop:
    """An emulated REST shop served by ``benchmarks.push_shops`` in its own process: its URL and credentials, and
    the write calls it served (its ``/__sandbox/<shop>/stats``)."""

    def __init__(self, info: Mapping[str, Any], admin: str) -> None:
        self.name = str(info["name"])
        self.platform = str(info["platform"])
        self.http_url = str(info["http_url"])
        self.credentials = dict(info)
        self.consumer_key = str(info.get("consumer_key") or "")
        self.consumer_secret = str(info.get("consumer_secret") or "")
        self.admin = admin
        self.pid: int | None = None  # the shops' process (its CPU is the shop's in the budget)

    def writes(self) -> int:
        response = requests.get(f"{self.admin}/stats", timeout=30)
        response.raise_for_status()
        by_path = response.json().get("by_path", {})
        return sum(sum(counts.values()) for key, counts in by_path.items() if key.split(" ", 1)[0] in WRITES)


@contextlib.contextmanager
def _rest_shops(specs: list[Any], tmp: Path) -> Iterator[dict[str, RemoteShop]]:
    """The REST shops of ``specs`` served in their own process (``benchmarks.push_shops``), stopped at the end."""
    if not specs:
        yield {}
        return
    creds_file = tmp / "rest-shops.json"
    fields = [{"name": s.name, "seed": s.seed, "products": s.products, "orders": s.orders,
               "customers": s.customers, "platform": s.platform} for s in specs]  # fmt: skip
    cmd = [sys.executable, "-m", "benchmarks.push_shops", "--specs", json.dumps(fields)]
    cmd += ["--cert-dir", str(tmp / "rest-certs"), "--credentials-file", str(creds_file)]
    log = (tmp / "rest-shops.log").open("w")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not creds_file.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the shops' process did not start: {(tmp / 'rest-shops.log').read_text()[-2000:]}")
            time.sleep(0.1)
        creds = json.loads(creds_file.read_text())
        port = creds["http_port"]
        shops = {
            name: RemoteShop(info, f"http://127.0.0.1:{port}/__sandbox/{name}") for name, info in creds["shops"].items()
        }
        for shop in shops.values():
            shop.pid = proc.pid
        yield shops
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)
        log.close()


# The shops pushed one call at a time: their call times are the floor of both rows of their platform.
WOO_SEQUENTIAL = "woo-1"
PS_SEQUENTIAL = "presta-1"
SEQUENTIAL = {"woocommerce": WOO_SEQUENTIAL, "prestashop": PS_SEQUENTIAL}
CONCURRENCY = {WOO_SEQUENTIAL: 1, "woo": 4, PS_SEQUENTIAL: 1, "presta": 4}


def run(quick: bool = False, only: tuple[str, ...] = (), profile_dir: Path | None = None, slow_ms: int = 0) -> str:
    """Run the benchmark; return its markdown section (``benchmarks.run`` includes it in ``make bench``)."""
    from ecom_pipeline.cli import main as cli_main
    from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
    from ecom_pipeline.sandbox.shopify.oauth import DEFAULT_SCOPES
    from ecom_pipeline.warehouse.migrate import upgrade
    from ecom_pipeline.warehouse.schema import integrations, sync_runs

    products = 60 if quick else 1000
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    requests.Session.send = _timed_send  # type: ignore[method-assign]
    meter = _ShopifyMeter()
    meter.install()
    rows: list[Row] = []
    saved_env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="push_bench_") as tmp_name:
        tmp = Path(tmp_name)
        url = f"sqlite:///{tmp / 'hub.db'}"
        upgrade(url)
        os.environ.update(
            {
                "ECOM_WAREHOUSE_URL": url,
                "ECOM_PIPELINE_HOME": str(tmp / "home"),
                "ECOM_SECRET_KEY": Fernet.generate_key().decode(),
                "DAGSTER_HOME": str(tmp / "dagster"),
            }
        )
        (tmp / "dagster").mkdir()
        scopes = [*DEFAULT_SCOPES, "write_products"]
        specs = [
            # Pushed first in each phase, one batch at a time: the floor's call times (see the module docstring).
            ShopSpec(name=WOO_SEQUENTIAL, seed=1, products=0, orders=0, customers=0),
            ShopSpec(name="woo", seed=1, products=0, orders=0, customers=0),
            ShopSpec(name=PS_SEQUENTIAL, seed=2, products=0, orders=0, customers=0, platform="prestashop"),
            ShopSpec(name="presta", seed=2, products=0, orders=0, customers=0, platform="prestashop"),
            ShopSpec(
                name="shopify-calls",
                seed=3,
                products=0,
                orders=0,
                customers=0,
                platform="shopify",
                options={"plan": "standard", "scopes": scopes},
            ),
            ShopSpec(
                name="shopify-bulk",
                seed=4,
                products=0,
                orders=0,
                customers=0,
                platform="shopify",
                options={"plan": "standard", "scopes": scopes},
            ),
        ]
        if only:
            wanted = set(only) | {SEQUENTIAL[s.platform] for s in specs if s.name in only and s.platform in SEQUENTIAL}
            specs = [s for s in specs if s.name in wanted]
        engine = create_engine(url)

        def cli(*argv: str) -> int:
            with contextlib.redirect_stdout(io.StringIO()):
                return cli_main(["--warehouse-url", url, *argv])

        rest = [s for s in specs if s.platform != "shopify"]
        shopify = [s for s in specs if s.platform == "shopify"]
        with contextlib.ExitStack() as stack:
            remote = stack.enter_context(_rest_shops(rest, tmp))
            sandbox = stack.enter_context(SandboxServer(shops=shopify, cert_dir=tmp / "certs")) if shopify else None

            def shop_of(name: str) -> Any:
                if name in remote:
                    return remote[name]
                assert sandbox is not None
                return sandbox.shop(name)

            ids: dict[str, int] = {}
            for spec in specs:
                shop = shop_of(spec.name)
                tenant = PS_TENANT if spec.platform == "prestashop" else TENANT
                argv = ["connect", spec.platform, "--tenant", tenant, "--url", shop.http_url, "--name", spec.name]
                if spec.platform == "woocommerce":
                    argv += ["--consumer-key", shop.consumer_key, "--consumer-secret", shop.consumer_secret]
                elif spec.platform == "prestashop":
                    os.environ["ECOM_PRESTASHOP_API_KEY"] = shop.credentials["api_key"]
                else:
                    os.environ["ECOM_SHOPIFY_ACCESS_TOKEN"] = shop.credentials["access_token"]
                assert cli(*argv, "--timeout", "30", "--direction", "push") == 0, f"connect {spec.name} failed"
                with engine.connect() as conn:
                    newest = select(integrations.c.id).order_by(integrations.c.id.desc()).limit(1)
                    ids[spec.name] = int(conn.execute(newest).scalar_one())
                if spec.name in CONCURRENCY:
                    set_to = str(CONCURRENCY[spec.name])
                    assert (
                        cli("integration", "set", "--integration", str(ids[spec.name]), "--push-concurrency", set_to)
                        == 0
                    )
            for shop in remote.values():  # --slow-ms: every API answer of the REST shops delayed (FaultSwitches)
                requests.post(f"{shop.admin}/faults", json={"slow_ms": slow_ms}, timeout=30).raise_for_status()
            # The per-call shop never takes the bulk path; in a quick run the bulk shop takes it from 20 products
            # (the default threshold is 250).
            thresholds = {"shopify-calls": 10**9, **({"shopify-bulk": 20} if quick else {})}
            with engine.begin() as conn:
                for name, threshold in thresholds.items():
                    if name not in ids:
                        continue
                    shop_row = integrations.c.id == ids[name]
                    row = conn.execute(select(integrations.c.settings).where(shop_row)).one()
                    settings = {**(row.settings or {}), "bulk_mutation_threshold": threshold}
                    conn.execute(update(integrations).where(shop_row).values(settings=settings))

            csv = tmp / "catalogue.csv"
            for phase, bump in (("create", False), ("price", True), ("no change", True)):
                if phase != "no change":
                    for tenant, options in ((TENANT, True), (PS_TENANT, False)):
                        _catalogue(csv, products, bump, options)
                        assert cli("catalog", "import", str(csv), "--tenant", tenant) == 0
                # This phase's call times at 1 call in flight, per platform (the floor of both of its rows).
                sequential: dict[str, dict[str, tuple[int, float]]] = {}
                for spec in specs:
                    shop = shop_of(spec.name)
                    in_process = spec.platform == "shopify"
                    writes_before = _writes(shop, spec.platform)
                    bucket = shop.api.bucket.status()["currentlyAvailable"] if in_process else 0
                    clock_start = shop.store.clock.time() if in_process else 0.0
                    meter.reset()
                    CALLS.clear()
                    ANSWER_BYTES.clear()
                    tenant = PS_TENANT if spec.platform == "prestashop" else TENANT
                    # The profile's clock is the push thread's CPU, not the wall: on a loaded machine a socket's
                    # send or receive waits for a core, and a wall-clock profile would charge that wait to it.
                    profiler = cProfile.Profile(time.thread_time) if profile_dir else None
                    # Our CPU: the whole process for a shop served by another process (worker threads included),
                    # the push's thread when the emulator shares the process (Shopify).
                    cpu_clock = time.thread_time if in_process else time.process_time
                    shop_pid = None if in_process else shop.pid
                    reading = cpu.read(shop_pid, None)
                    t0 = time.perf_counter()
                    cpu0 = cpu_clock()
                    if profiler:
                        profiler.enable()
                    code = cli("push", "--tenant", tenant, "--integration", str(ids[spec.name]))
                    if profiler:
                        profiler.disable()
                    wall = time.perf_counter() - t0
                    own_cpu = cpu_clock() - cpu0
                    spent = cpu.window(reading, cpu.read_after(shop_pid, None))
                    if in_process:  # the emulator's threads: this process's CPU but the push thread's
                        shop_cpu: float | None = max(0.0, spent["self_cpu_s"] - own_cpu)  # type: ignore[operator]
                        shop_wait = None
                    else:
                        shop_cpu, shop_wait = spent["shop_cpu_s"], spent["shop_wait_s"]
                    if profiler and profile_dir:
                        profiler.dump_stats(profile_dir / f"{spec.name}-{phase.replace(' ', '-')}.prof")
                    calls = list(CALLS)
                    answer_kb = {k: statistics.median(v) / 1024 for k, v in ANSWER_BYTES.items()}
                    with engine.connect() as conn:
                        run_row = conn.execute(
                            select(sync_runs)
                            .where(sync_runs.c.integration_id == ids[spec.name], sync_runs.c.stage == "export")
                            .order_by(sync_runs.c.id.desc())
                        ).first()
                    assert run_row is not None and code in (0, 1), f"push to {spec.name} failed ({code})"
                    by_kind = medians(calls)
                    if spec.name == SEQUENTIAL.get(spec.platform):
                        sequential[spec.platform] = by_kind
                    floor_kinds = sequential.get(spec.platform) or by_kind
                    floor, basis = _floor(spec, shop, phase, products, floor_kinds, meter, bucket, clock_start, calls)
                    rows.append(
                        Row(
                            shop=_label(spec.name),
                            phase=phase,
                            wall_s=wall,
                            calls=int(run_row.api_calls or 0),
                            writes=_writes(shop, spec.platform) - writes_before,
                            created=int(run_row.created or 0),
                            updated=int(run_row.updated or 0),
                            failed=int(run_row.failed or 0),
                            floor_s=floor,
                            basis=basis,
                            by_kind=by_kind,
                            own_cpu_s=own_cpu,
                            shop_cpu_s=shop_cpu,
                            our_wait_s=spent["self_wait_s"],
                            shop_wait_s=shop_wait,
                            shop_calls=len(calls),
                            answer_kb=answer_kb,
                        )
                    )
                    print(rows[-1].markdown(), file=sys.stderr, flush=True)
                    print(rows[-1].budget_markdown(cpu.cores()), file=sys.stderr, flush=True)
        engine.dispose()
    os.environ.clear()
    os.environ.update(saved_env)
    requests.Session.send = _send  # type: ignore[method-assign]
    load = (load_before, os.getloadavg()[0])
    return _render(rows, products, time.perf_counter() - started, load, slow_ms)


def _label(name: str) -> str:
    return {
        WOO_SEQUENTIAL: "WooCommerce (1 in flight)",
        "woo": "WooCommerce (4 in flight)",
        PS_SEQUENTIAL: "PrestaShop (1 in flight)",
        "presta": "PrestaShop (4 in flight)",
        "shopify-calls": "Shopify (per call)",
        "shopify-bulk": "Shopify (bulk)",
    }[name]


def _writes(shop: Any, platform: str) -> int:
    """Write calls the shop served: HTTP writes (REST), or executed mutations (GraphQL: every call is a POST)."""
    if platform == "shopify":
        return sum(1 for kind, _roots in shop.api.operations if kind == "mutation")
    return int(shop.writes())


def _floor(
    spec: Any,
    shop: Any,
    phase: str,
    products: int,
    by_kind: dict[str, tuple[int, float]],
    meter: _ShopifyMeter,
    bucket: float,
    clock_start: float,
    calls: list[tuple[str, str, float]],
) -> tuple[float, str]:
    """(floor seconds, how it was computed) for one push; see the module docstring."""

    def t(kind: str) -> float:
        if kind not in by_kind:
            raise RuntimeError(f"no {kind!r} call was timed in this push (kinds: {sorted(by_kind)})")
        return by_kind[kind][1]

    if phase == "no change":
        return 0.0, "no write"
    if spec.platform == "woocommerce":
        batches = math.ceil(products / 100)
        if phase == "create":
            floor = batches * t("POST products/batch") + products * t("POST products/{id}/variations/batch")
            return floor, f"{batches + products:,} calls: {batches} product + {products:,} variation batches"
        return products * t("POST products/{id}/variations/batch"), f"{products:,} variation batches"
    if spec.platform == "prestashop":
        if phase == "create":
            floor = products * t("POST products") + 3 * products * t("POST combinations")
            return floor, f"{4 * products:,} calls: {products:,} product + {3 * products:,} combination POSTs"
        reads = math.ceil(products / 100)
        floor = products * t("PUT combinations/{id}") + reads * _list_read(shop, calls)
        return floor, f"{products + reads:,} calls: {products:,} combination PUTs + {reads} list reads of 100"
    rate = STANDARD_RATE
    cost_s = max(0.0, meter.actual - bucket) / rate
    if spec.name == "shopify-bulk":
        bulk = shop.api.bulk
        ops = [op for op in bulk.ops.values() if op.type == "MUTATION" and op.created_at >= clock_start]
        # An operation completes when its emulated time has passed and the emulator has run every line (its own
        # CPU time, in real seconds, which can be the longer of the two): that is the shop's own work.
        window = sum(bulk._times(op)[1] - op.created_at for op in ops)
        executed = sum(op.executed_s for op in ops)
        bulk_s = sum(max(bulk._times(op)[1] - op.created_at, op.executed_s) for op in ops)
        basis = (
            f"({meter.actual:,.0f} actual - {bucket:,.0f}) pts / {rate:.0f}/s ({meter.queries:,} queries, "
            f"{meter.query_actual:,.0f} pts) + {len(ops)} bulk op(s) {bulk_s:.1f} s "
            f"(emulated {window:.1f} s, lines run in {executed:.1f} s)"
        )
        return cost_s + bulk_s, basis
    return cost_s, (
        f"({meter.actual:,.0f} actual - {bucket:,.0f}) pts / {rate:.0f}/s (requested {meter.requested:,.0f}; "
        f"{meter.queries:,} queries, {meter.query_actual:,.0f} pts)"
    )


def _list_read(shop: Any, calls: list[tuple[str, str, float]]) -> float:
    """Median time of a PrestaShop list read of 100 combinations (``display=full``, ``filter[id]``), 3 samples: the
    first 100 the push PUT."""
    put = (
        urlsplit(u).path.rstrip("/").rsplit("/", 1)[-1] for m, u, _ in calls if kind_of(m, u) == "PUT combinations/{id}"
    )
    ids = sorted({int(i) for i in put if i.isdigit()})[:100]
    url = f"{shop.http_url}/api/combinations"
    params = {"display": "full", "filter[id]": "[" + "|".join(str(i) for i in ids) + "]", "output_format": "XML"}
    times = []
    with requests.Session() as session:
        session.auth = (shop.credentials["api_key"], "")
        for _ in range(3):
            started = time.perf_counter()
            response = _send(session, session.prepare_request(requests.Request("GET", url, params=params)))
            times.append(time.perf_counter() - started)
            response.raise_for_status()
    return statistics.median(times)


def _render(rows: list[Row], products: int, elapsed: float, load: tuple[float, float], slow_ms: int = 0) -> str:
    from benchmarks.run import machine

    info = machine()
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    out = [
        HEADING,
        "",
        f"Measured {day} on {info.get('CPU', '?')} ({info.get('cores', os.cpu_count())} cores, "
        f"{info.get('RAM', '?')}, Python {info.get('Python', '?')}; commit {info.get('commit', '?')}), "
        "SQLite warehouse; the emulated WooCommerce and PrestaShop shops served by another process "
        "(`benchmarks/push_shops.py`), the Shopify shops in the benchmark's. Two identical shops of each of "
        "WooCommerce and PrestaShop get the same pushes, one with `push_concurrency` 1 (each call sent after the "
        f"previous answer), one with 4 (4 calls in flight). {products:,} products of 3 variants (Size S/M/L) imported "
        "into the hub, pushed to each shop (`ecom-pipeline push --integration N`), then the M price of every "
        f"product changed (one variant per product: {products:,} price changes) and pushed, then a push with "
        "nothing to change. Wall = the push command, from start to end (plan, look-ups, writes, links). Floors "
        "as `benchmarks/push_bench.py` states: WooCommerce and PrestaShop, the fewest calls the API allows, each "
        "call kind timed in the same run (median; both rows of a platform with the call times of its 1-in-flight "
        "push of the phase, so the calls that wait behind each other at 4 in flight do not inflate the floor); "
        "Shopify, (actual cost - starting bucket) / 100 points/s, plus the bulk operations' own time for the "
        "bulk shop. The machine is shared: its 1-minute load average was "
        f"{load[0]:.1f} at the start and {load[1]:.1f} at the end (2 cores), which slows our own per-call work "
        "more than the floors' call times. Push CPU: the benchmark process's CPU time over the push for the "
        "shops served by the other process (our own work: planning, requests, encoding, transforms, links, "
        "worker threads included), the push thread's for Shopify (its emulator runs in the same process), which "
        "a busy machine inflates far less than the wall."
        + (
            f" **Every API answer of the WooCommerce and PrestaShop shops was delayed {slow_ms} ms** (`--slow-ms`, "
            "a shop farther away than the emulator on the same machine)."
            if slow_ms
            else ""
        ),
        "",
        "| shop | phase | wall | API calls | writes | created / updated / failed | floor | floor basis | "
        "wall/floor | push CPU | aim (≤ 1.3x; creates < 5 min; no-change: 0 writes) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *[r.markdown() for r in rows],
        "",
        "What lies above the floor, by design: the look-ups that make creates idempotent (SKUs, and on Shopify "
        "handles, before any create); the read-back that makes the links' bases echo-proof (WooCommerce: the "
        "parents, 100 per call; PrestaShop: the pull's own read of the written products, whose combinations' "
        "computed prices come on `combinations` rows, about 800 a call: 4 calls a push of 1,000); and on every "
        "platform our own per-call work (requests' preparation, WooCommerce's OAuth "
        "signature, XML and JSON encoding, transforms, link commits) on 2 cores shared with the emulator's process; "
        "with calls in flight (4) that work overlaps the shop's answers instead of adding to them.",
        "",
        "Calls per kind (count, median time, median answer body) in each push that wrote:",
        "",
    ]
    for r in rows:
        if r.phase == "no change":
            continue
        kinds = "; ".join(
            f"`{k}` {n:,} x {s * 1000:.1f} ms" + (f" ({r.answer_kb[k]:.1f} KiB)" if k in r.answer_kb else "")
            for k, (n, s) in sorted(r.by_kind.items())
        )
        out.append(f"- {r.shop}, {r.phase}: {kinds}")
    out += ["", *_budget(rows, load)]
    out += ["", f"Push benchmark took {elapsed:.0f} s.", "", HISTORY.read_text(encoding="utf-8")]
    return "\n".join(out)


def _budget(rows: list[Row], load: tuple[float, float]) -> list[str]:
    """The CPU budget of each push that wrote, and whose the time above the aim is."""
    n = cpu.cores()
    return [
        "### CPU budget of each push",
        "",
        f"Machine: {cpu.cpu_model()}, {n} cores, load average {load[0]:.1f} -> {load[1]:.1f}. CPU = user + system "
        "seconds from `/proc/<pid>/stat` over the push's window (`benchmarks/cpu.py`: `read`, `read_after`, "
        "`window`, `CpuBudget`). *Shop*: the process serving the WooCommerce and PrestaShop emulators "
        "(`push_shops.py`, one event loop: it serves one request at a time); for Shopify, whose emulator runs in "
        "the benchmark's process, that process's CPU minus the push thread's. *Ours*: the benchmark process's CPU "
        "(the push, its worker threads and SQLite: the warehouse is a SQLite file, so there is no PostgreSQL CPU; "
        "for Shopify the push thread's). **CPU bound** = max(shop, ours, (shop + ours) / cores): no overlap can "
        "make the wall shorter on this machine. *Waited for a core*: seconds the threads of our process / the "
        "shop's were runnable but not running (`schedstat`): the other work on the shared machine. **The miss "
        "is**, for a push above 1.3x its floor: *our CPU* when ours alone exceeds 1.3 x floor (no overlap could "
        "meet the aim), *the shop's CPU* likewise, *the cores* when the two together exceed what the cores give "
        "in that time, else *serialisation* when the wall is about shop + ours (the two took turns instead of "
        "overlapping), else *waits* (for a core, or idle).",
        "",
        "| shop | phase | wall | aim (1.3 x floor) | shop CPU | our CPU | (shop + ours) / cores | CPU bound | "
        "wall / bound | waited for a core: ours / shop | the miss is |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *[r.budget_markdown(n) for r in rows if r.phase != "no change"],
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="60 products, to check the script works")
    parser.add_argument("--write", action="store_true", help="replace the section in docs/benchmarks.md")
    parser.add_argument("--only", default="", help="comma-separated shops: woo,presta,shopify-calls,shopify-bulk")
    parser.add_argument("--profile", type=Path, default=None, help="cProfile each push into this folder")
    parser.add_argument(
        "--slow-ms", type=int, default=0, help="delay every WooCommerce/PrestaShop API answer (a distant shop)"
    )
    args = parser.parse_args()
    only = tuple(x for x in args.only.split(",") if x)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    section = run(args.quick, only, args.profile, args.slow_ms)
    print(section)
    if args.write:
        write_section(HEADING, section)


if __name__ == "__main__":
    main()
