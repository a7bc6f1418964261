"""PrestaShop benchmark: full and no-change incremental sync of an emulated shop with combinations, vs the floor.

    .venv/bin/python -m benchmarks.prestashop_bench            # 5,000 products (60% with combinations)
    .venv/bin/python -m benchmarks.prestashop_bench --quick    # 500 products, to check that it works

Layout (same as the WooCommerce benchmark in ``benchmarks.run``): the PrestaShop emulator runs in its own process
(``--serve-shop`` mode of this module, ``serve_forever`` of the sandbox); the tenant is connected through the
real CLI (``ecom-pipeline connect prestashop``, untimed); each sync runs in its own subprocess (``--sync-child``
mode) that calls ``run_sync`` (the real ``sync_job`` on a real Dagster instance in a temporary ``DAGSTER_HOME``).

With ``ECOM_BENCH_PROFILE_DIR=DIR`` each sync child also writes a cProfile of its run (``DIR/<backend>-<run>.prof``;
its walls are then not the benchmark's).

The sync child records the method and URL of every HTTP request the pipeline sends (a wrapper around
``requests.Session.send`` that appends one tuple to a list: negligible next to a request). The **floor** replays
exactly those requests (products pages, combinations by parent, stock_availables, orders, customers, order
states, currencies, option values, id lists) with one plain ``requests`` session and the same Basic auth,
decoding the JSON and nothing else. Ratio = sync wall / floor.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
TENANT = "psbench"
RATIO_AIM = 1.5
PROFILE_ENV = "ECOM_BENCH_PROFILE_DIR"


@dataclass(frozen=True)
class PsSize:
    products: int
    variable_share: float
    orders: int
    customers: int


FULL = PsSize(5_000, 0.6, 10_000, 2_000)
QUICK = PsSize(500, 0.6, 1_000, 200)


def log(msg: str) -> None:
    print(f"[prestashop-bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def fmt_s(s: float) -> str:
    return f"{s:.1f} s" if s >= 10 else f"{s:.2f} s"


# ---------------------------------------------------------------------------------------------- child modes


def serve_shop(a: argparse.Namespace) -> None:
    from ecom_pipeline.sandbox.server import ShopSpec, serve_forever

    spec = ShopSpec(
        name=a.name,
        seed=a.seed,
        products=a.products,
        variable_share=a.variable_share,
        orders=a.orders,
        customers=a.customers,
        platform="prestashop",
    )
    serve_forever([spec], cert_dir=Path(a.cert_dir), credentials_file=Path(a.credentials_file))


def sync_child(a: argparse.Namespace) -> None:
    """One ``run_sync`` in this process, recording every request URL (see the module docstring)."""
    import dagster  # noqa: F401

    from benchmarks import cpu
    from benchmarks.sync_child import _proc_status_kb, snapshot
    from ecom_pipeline.definitions import defs
    from ecom_pipeline.runner import get_instance, run_sync

    urls: list[tuple[str, str]] = []
    original_send = requests.Session.send

    def recording_send(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> Any:
        urls.append((str(request.method), str(request.url)))
        return original_send(self, request, **kwargs)

    requests.Session.send = recording_send  # type: ignore[method-assign]
    before = snapshot(a.warehouse_url)
    instance = get_instance()
    rss_before = _proc_status_kb("VmRSS")
    database = cpu.database_of(a.warehouse_url)
    cpu_before = cpu.read(a.shop_pid, database)
    profiler = None
    if a.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0 = time.perf_counter()
    outcome = run_sync(a.tenant, instance=instance, full_refresh=a.full_refresh, defs=defs)
    wall = time.perf_counter() - t0
    cpu_after = cpu.read_after(a.shop_pid, database)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(a.profile)
    hwm = _proc_status_kb("VmHWM")
    after = snapshot(a.warehouse_url)
    instance.dispose()
    Path(a.out).write_text(
        json.dumps(
            {
                "success": outcome.success,
                "failure": outcome.failure,
                "wall_s": wall,
                "run_cpu": cpu.window(cpu_before, cpu_after),
                "rss_before_kb": rss_before,
                "peak_rss_kb": hwm,
                "materializations": outcome.materializations,
                "before": before,
                "after": after,
                "urls": urls,
            },
            default=str,
        )
    )


# ---------------------------------------------------------------------------------------------- parent side


class PsShop:
    def __init__(self, size: PsSize, workdir: Path) -> None:
        self.name = "psbench"
        creds_file = workdir / "ps-shop.json"
        self.log_file = workdir / "ps-shop.log"
        cmd = [sys.executable, "-m", "benchmarks.prestashop_bench", "--serve-shop", "--name", self.name]
        cmd += ["--products", str(size.products), "--variable-share", str(size.variable_share)]
        cmd += ["--orders", str(size.orders), "--customers", str(size.customers)]
        cmd += ["--cert-dir", str(workdir / "certs"), "--credentials-file", str(creds_file)]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self.log_file.open("w"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while not creds_file.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"emulator exited: {self.log_file.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("emulator did not start in 300 s")
            time.sleep(0.2)
        creds = json.loads(creds_file.read_text())
        info = creds["shops"][self.name]
        self.url = info["http_url"]
        self.api_key = info["api_key"]
        self.admin = f"http://127.0.0.1:{creds['http_port']}/__sandbox/{self.name}"

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
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(20)


def resource_of(url: str) -> str:
    """``products`` / ``combinations`` / ``stock_availables`` / ... from a webservice URL; ``products ids`` for
    an id listing (``display=[id]``)."""
    parts = urlsplit(url)
    path = parts.path.split("/api/", 1)[-1].strip("/") or "(index)"
    resource = path.split("/")[0]
    if "display=%5Bid%5D" in parts.query or "display=[id]" in parts.query:
        resource += " ids"
    return resource


def calls_by_resource(urls: list[tuple[str, str]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for _method, url in urls:
        key = resource_of(url)
        out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items()))


@dataclass
class Floor:
    wall_s: float = 0.0
    json_s: float = 0.0
    calls: int = 0
    bytes: int = 0
    items: dict[str, int] = field(default_factory=dict)
    shop_cpu_s: float | None = None  # the emulator's process during the replay (None: no pid given)
    client_cpu_s: float = 0.0  # this process during the replay
    shop_wait_s: float | None = None  # the shop's threads waited for a core (schedstat)
    client_wait_s: float | None = None  # this process's threads waited for a core


def replay(urls: list[tuple[str, str]], api_key: str, shop_pid: int | None = None) -> Floor:
    """The floor: the same GETs with a plain keep-alive session, JSON decoded, nothing else; with the shop's pid,
    also the CPU the shop and this client spent over the same window (``benchmarks.cpu``)."""
    from benchmarks import cpu

    session = requests.Session()
    session.auth = (api_key, "")
    res = Floor()
    ids: dict[str, set[str]] = {}
    before = cpu.read(shop_pid, None)
    t0 = time.perf_counter()
    for method, url in urls:
        r = session.request(method, url, timeout=60)
        if r.status_code >= 500:  # a 4xx the sync was given (a key refused a resource) is a call it made too
            r.raise_for_status()
        res.calls += 1
        res.bytes += len(r.content)
        t = time.perf_counter()
        data = r.json() if r.content.strip().startswith((b"{", b"[")) else None
        res.json_s += time.perf_counter() - t
        if isinstance(data, dict):
            for value in data.values():
                if isinstance(value, list):
                    # Distinct ids: the sync reads some records twice (listing, then computed prices or a
                    # customer's e-mail by id), and counting rows would count those twice.
                    label = resource_of(url)
                    seen = ids.setdefault(label, set())
                    seen.update(str(v.get("id")) if isinstance(v, dict) else repr(v) for v in value)
                    res.items[label] = len(seen)
    res.wall_s = time.perf_counter() - t0
    spent = cpu.window(before, cpu.read_after(shop_pid, None))
    res.shop_cpu_s = spent["shop_cpu_s"]
    res.client_cpu_s = spent["self_cpu_s"] or 0.0
    res.shop_wait_s = spent["shop_wait_s"]
    res.client_wait_s = spent["self_wait_s"]
    session.close()
    return res


def best_floor(urls: list[tuple[str, str]], api_key: str, passes: int = 2, shop_pid: int | None = None) -> Floor:
    best: Floor | None = None
    for _ in range(passes):
        f = replay(urls, api_key, shop_pid)
        if best is None or f.wall_s < best.wall_s:
            best = f
    assert best is not None
    return best


def connect(backend: Any, shop: PsShop, workdir: Path) -> None:
    env = dict(backend.env)
    env["ECOM_PRESTASHOP_API_KEY"] = shop.api_key
    cmd = [sys.executable, "-m", "ecom_pipeline.cli", "--warehouse-url", backend.url, "connect", "prestashop"]
    cmd += ["--tenant", TENANT, "--url", shop.url, "--timeout", "30"]
    exe = ROOT / ".venv" / "bin" / "ecom-pipeline"
    if exe.exists():
        cmd = [str(exe), *cmd[3:]]
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError(f"connect prestashop failed ({p.returncode}): {p.stdout[-2000:]}{p.stderr[-2000:]}")


def run_child(backend: Any, shop: PsShop, out: Path, *, timeout_s: float) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.prestashop_bench", "--sync-child", "--warehouse-url", backend.url]
    cmd += ["--tenant", TENANT, "--out", str(out), "--shop-pid", str(shop.proc.pid)]
    profile_dir = os.environ.get(PROFILE_ENV)
    if profile_dir:  # cProfile of each sync (it slows the run: walls are then not the benchmark's)
        cmd += ["--profile", str(Path(profile_dir) / f"{backend.kind}-{out.stem}.prof")]
    shop.reset_stats()
    log_path = out.with_suffix(".log")
    t0 = time.perf_counter()
    with log_path.open("w") as fh:
        try:
            subprocess.run(cmd, cwd=ROOT, env=backend.env, stdout=fh, stderr=subprocess.STDOUT, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"sync subprocess took over {timeout_s:.0f} s") from None
    process_wall = time.perf_counter() - t0
    if not out.exists():
        raise RuntimeError(f"sync subprocess failed:\n{log_path.read_text()[-4000:]}")
    result = json.loads(out.read_text())
    if not result["success"]:
        raise RuntimeError(f"sync run failed: {result['failure']}")
    result["process_wall_s"] = process_wall
    result["steps"] = step_walls(log_path.read_text(errors="replace"))
    result["shop_calls"] = int(shop.stats().get("total", 0))
    return result


STEP_DONE = re.compile(r'Finished execution of step "([^"]+)" in ([0-9.]+)(ms|s)\.')


def step_walls(log_text: str) -> dict[str, float]:
    """step -> seconds, from Dagster's STEP_SUCCESS lines in the sync child's log (what a step cost in all,
    against the ``duration_s`` its asset measured: the difference is Dagster's own work for the step)."""
    return {m.group(1): float(m.group(2)) / (1000 if m.group(3) == "ms" else 1) for m in STEP_DONE.finditer(log_text)}


def written(result: dict[str, Any]) -> int:
    return sum(
        int(m.get("created", 0)) + int(m.get("updated", 0))
        for k, m in result["materializations"].items()
        if k.startswith("hub/")
    )


def run(quick: bool) -> str:
    """Run the benchmark and return its markdown section."""
    from cryptography.fernet import Fernet

    from benchmarks.run import Backend

    size = QUICK if quick else FULL
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="ecom_bench_ps_"))
    secret_key = Fernet.generate_key().decode()
    log(f"workdir {workdir}; starting the PrestaShop emulator {size}")
    shop = PsShop(size, workdir)
    results: dict[str, dict[str, Any]] = {}
    created: list[Any] = []
    timeout_s = 300 if quick else 1800
    try:
        for kind in ("sqlite", "postgresql"):
            try:
                be = Backend(kind, "ps", workdir, secret_key)
            except Exception as exc:  # PostgreSQL missing: report, do not fail the whole benchmark
                log(f"{kind}: unavailable ({exc})")
                continue
            created.append(be)
            connect(be, shop, workdir)
            log(f"{kind}: full sync")
            full = run_child(be, shop, workdir / f"ps-{kind}-full.json", timeout_s=timeout_s)
            log(f"{kind}: full {full['wall_s']:.1f} s, {len(full['urls'])} requests")
            incr = run_child(be, shop, workdir / f"ps-{kind}-incr.json", timeout_s=timeout_s)
            log(f"{kind}: no-change {incr['wall_s']:.2f} s, {len(incr['urls'])} requests")
            results[kind] = {"full": full, "incr": incr}
            be.drop()
        if not results:
            return "## PrestaShop sync\n\nNo backend available.\n"
        first = next(iter(results.values()))
        log("floor: replaying the full sync's requests")
        floor_full = best_floor(first["full"]["urls"], shop.api_key, shop_pid=shop.proc.pid)
        floor_incr = best_floor(first["incr"]["urls"], shop.api_key, passes=3, shop_pid=shop.proc.pid)
        log(f"floor full {floor_full.wall_s:.1f} s, no-change {floor_incr.wall_s:.2f} s")
    finally:
        shop.stop()
        for be in created:
            try:
                be.drop()
            except Exception as exc:
                log(f"could not drop {be.pg_name}: {exc}")
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return render(size, results, floor_full, floor_incr, time.perf_counter() - started)


def cpu_budget(results: dict[str, dict[str, Any]], floor_full: Floor, floor_incr: Floor) -> list[str]:
    """The CPU budget table of the floors and the syncs (``benchmarks.cpu``); aim 1.5x for both syncs."""
    from benchmarks import cpu

    rows = [
        cpu.floor_row(label, f)
        for label, f in (("floor of the full sync", floor_full), ("floor of the no-change", floor_incr))
    ]
    for label, run, floor in (("full", "full", floor_full), ("no-change", "incr", floor_incr)):
        for kind, r in results.items():
            c = r[run].get("run_cpu")
            if c is None:
                continue
            rows.append(
                cpu.sync_row(
                    f"{kind} {label}",
                    r[run]["wall_s"],
                    c,
                    postgres=kind == "postgresql",
                    calls=r[run]["shop_calls"],
                    floor_wall_s=floor.wall_s,
                    aim=RATIO_AIM,
                )
            )
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"
    return cpu.render_budget(
        f"CPU budget of the PrestaShop syncs (aim: within {RATIO_AIM:g}x of the floor)",
        rows,
        n_cores=cpu.cores(),
        cpu=cpu.cpu_model(),
        load=load,
    )


def shop_idle(results: dict[str, dict[str, Any]]) -> list[str]:
    """``"<backend> <sync> N s"`` per run with CPU readings: the seconds the shop neither ran nor waited for a core
    (it had no call to answer), the hub step and Dagster's overhead included."""
    out: list[str] = []
    for kind, r in results.items():
        for label, run in (("full", "full"), ("no-change", "incr")):
            c = r[run].get("run_cpu") or {}
            shop, wait = c.get("shop_cpu_s"), c.get("shop_wait_s")
            if shop is None or wait is None:
                continue
            out.append(f"{kind} {label} {fmt_s(max(0.0, r[run]['wall_s'] - shop - wait))}")
    return out


def render(
    size: PsSize, results: dict[str, dict[str, Any]], floor_full: Floor, floor_incr: Floor, elapsed: float
) -> str:
    items = floor_full.items
    products = items.get("products", 0)
    combinations = items.get("combinations", 0)
    orders = items.get("orders", 0)
    customers = items.get("customers", 0)
    rows = products + combinations + orders + customers
    out = ["## PrestaShop: full and no-change incremental sync\n"]
    out.append(
        f"Emulated PrestaShop 8.2.1 webservice (`ecom-pipeline sandbox` emulator, its own process, plain HTTP with "
        f"the key as Basic user): {products:,} products ({size.variable_share:.0%} asked with combinations: "
        f"{combinations:,} combinations), {items.get('stock_availables', 0):,} stock rows, {orders:,} orders, "
        f"{customers:,} customers. Rows = products + combinations + orders + customers = {rows:,}. Tenant connected "
        "with `ecom-pipeline connect prestashop`; each sync is `run_sync` in its own subprocess on a real Dagster "
        "instance. **Floor** = the very requests the sync sent (recorded in the sync subprocess), replayed with "
        "one plain `requests` session, JSON decoded, nothing else; the best of 2 passes (3 for the no-change).\n"
    )
    out.append(
        f"Floor of the full sync: **{fmt_s(floor_full.wall_s)}** for {floor_full.calls:,} calls "
        f"({floor_full.bytes / 1e6:.0f} MB; JSON decoding {fmt_s(floor_full.json_s)} of it). Calls per resource: "
        + ", ".join(f"{k} {v:,}" for k, v in calls_by_resource(next(iter(results.values()))["full"]["urls"]).items())
        + ".\n"
    )
    out.append(
        "| backend | sync | wall (run_sync) | subprocess wall | rows/s | API calls | floor | ratio (aim ≤ 1.5x) "
        "| hub rows created + updated | peak RSS |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for kind, r in results.items():
        for label, res, floor in (("full", r["full"], floor_full), ("no-change", r["incr"], floor_incr)):
            ratio = res["wall_s"] / floor.wall_s if floor.wall_s else float("nan")
            mark = "" if ratio <= RATIO_AIM else " **missed**"
            rps = f"{rows / res['wall_s']:,.0f}" if label == "full" else "-"
            out.append(
                f"| {kind} | {label} | {fmt_s(res['wall_s'])} | {fmt_s(res['process_wall_s'])} | {rps} "
                f"| {len(res['urls']):,} (shop saw {res['shop_calls']:,}) | {fmt_s(floor.wall_s)} "
                f"| {ratio:.2f}x{mark} | {written(res):,} | {res['peak_rss_kb'] / 1024:.0f} MB |"
            )
    out.append("")
    out.extend(cpu_budget(results, floor_full, floor_incr))
    idle = shop_idle(results)
    if idle:
        out.append(
            "Shop idle (wall - shop CPU - the shop's wait for a core: the seconds it had no call to answer, the hub "
            "step and Dagster's overhead included, which stretch with our own wait for a core on a loaded machine): "
            + ", ".join(idle)
            + ".\n"
        )
    first = next(iter(results.values()))
    out.append(
        "No-change incremental calls per resource: "
        + ", ".join(f"{k} {v:,}" for k, v in calls_by_resource(first["incr"]["urls"]).items())
        + ".\n"
    )
    out.append("Row counts, shop vs hub after the full sync:\n")
    out.append("| entity | shop | " + " | ".join(f"hub ({k})" for k in results) + " |")
    out.append("|---|---|" + "---|" * len(results))
    pairs = (
        ("products", products, "hub_products_live"),
        ("orders", orders, "hub_orders"),
        ("customers", customers, "hub_customers"),
        ("variants (combinations + products without)", None, "hub_variants_live"),
        ("inventory rows", None, "hub_inventory"),
        ("rejected records", 0, "rejected_records"),
    )
    for label, shop_n, key in pairs:
        cells = []
        for r in results.values():
            hub_n = int(r["full"]["after"][key])
            bad = shop_n is not None and hub_n != shop_n
            cells.append(f"{hub_n:,}" + (" **≠**" if bad else ""))
        out.append(f"| {label} | {'-' if shop_n is None else f'{shop_n:,}'} | " + " | ".join(cells) + " |")
    out.append("")
    out.append(
        "Per-asset durations of the full and the no-change sync (materialization metadata; the rest of each wall "
        "is Dagster's own run and step overhead):\n"
    )
    assets = sorted({k for r in results.values() for run in ("full", "incr") for k in r[run]["materializations"]})
    columns = [(kind, run) for kind in results for run in ("full", "incr")]
    out.append(
        "| asset | "
        + " | ".join(f"{kind} {'full' if run == 'full' else 'no-change'}" for kind, run in columns)
        + " | API calls (full / no-change) |"
    )
    out.append("|---|" + "---|" * (len(columns) + 1))
    for asset in assets:
        row: list[str] = []
        calls = {"full": "", "incr": ""}
        for kind, run in columns:
            meta = results[kind][run]["materializations"].get(asset, {})
            d = meta.get("duration_s")
            row.append(fmt_s(float(d)) if d is not None else "-")
            if "api_calls" in meta:
                calls[run] = f"{int(meta['api_calls']):,}"
        out.append(f"| {asset} | " + " | ".join(row) + f" | {calls['full']} / {calls['incr']} |")
    for kind, r in results.items():
        for label, run in (("full", "full"), ("no-change", "incr")):
            res = r[run]
            total = sum(float(m.get("duration_s") or 0) for m in res["materializations"].values())
            steps = res.get("steps") or {}
            if len(steps) < len(res["materializations"]):  # a step line the pattern did not read: no split
                continue
            out.append(
                f"\n{kind} {label}: run_sync wall {fmt_s(res['wall_s'])} = assets' own durations {fmt_s(total)} "
                f"+ Dagster step overhead {fmt_s(sum(steps.values()) - total)} (steps {fmt_s(sum(steps.values()))}) "
                f"+ run overhead {fmt_s(res['wall_s'] - sum(steps.values()))}; steps: "
                + ", ".join(f"{k} {v:.2f}" for k, v in sorted(steps.items()))
            )
    out.append("")
    out.append(f"PrestaShop benchmark took {fmt_s(elapsed)}.\n")
    return "\n".join(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--serve-shop", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--sync-child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--name", default="psbench")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--products", type=int, default=FULL.products)
    p.add_argument("--variable-share", type=float, default=FULL.variable_share)
    p.add_argument("--orders", type=int, default=FULL.orders)
    p.add_argument("--customers", type=int, default=FULL.customers)
    p.add_argument("--cert-dir")
    p.add_argument("--credentials-file")
    p.add_argument("--warehouse-url")
    p.add_argument("--tenant", default=TENANT)
    p.add_argument("--full-refresh", action="store_true")
    p.add_argument("--out")
    p.add_argument("--profile", default=None, help=argparse.SUPPRESS)
    p.add_argument("--shop-pid", type=int, default=None)
    a = p.parse_args()
    if a.serve_shop:
        serve_shop(a)
        return 0
    if a.sync_child:
        sync_child(a)
        return 0
    print(run(a.quick))
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
