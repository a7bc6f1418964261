"""Webhook receiver benchmark: throughput, acknowledgement latency and zero loss (kill -9 mid-load).

    .venv/bin/python -m benchmarks.webhooks_bench            # reference sizes
    .venv/bin/python -m benchmarks.webhooks_bench --quick    # small sizes (~1 min)

Processes: the receiver is ``ecom-pipeline serve-webhooks --warehouse-url ...`` (its default ``--workers``, or
``--workers N``: uvicorn in N forked processes on one socket) in its own
process group; the load comes from another process (``--load`` mode of this module): asyncio with raw HTTP/1.1 on
keep-alive connections and pre-built requests, so the client costs little CPU on this small machine. Every
delivery is a real signed WooCommerce ``product.updated`` delivery (the recorded simple-product body with its
id, SKU, name and dates changed; ``X-WC-Webhook-Signature`` = base64 HMAC-SHA256 of the raw body under the
integration's stored ``webhook_secret``).

Phases, per warehouse (SQLite file, PostgreSQL database ``ecom_bench_wh_*``):

On PostgreSQL, with the default ``--workers`` (2 processes there), the two throughput phases run a second time with
``--workers 1``, so the default is justified by a ratio measured in the same run. Each phase also reports the CPU
per delivery of the receiver, of the PostgreSQL backends and of the client (robust to a busy shared machine).

1. **Saturation**: closed loop, C connections each sending as soon as the previous answer came back: the most
   deliveries/s the receiver sustains, and the latency it has then.
2. **Paced at 1,000/s**: an open loop (each delivery has a scheduled send time; latency is measured from that
   time, so a stalled receiver cannot hide its queue: no coordinated omission).
3. **Zero loss**: unique good deliveries, exact duplicates of some, deliveries with a bad signature, sent paced and
   shuffled; ``kill -9`` of the receiver's process group at ~40% of the load, restart, the load goes on; then the
   good deliveries that never got a 2xx are resent (bounded rounds), as a shop would retry. Checks: every good
   delivery that got a 2xx is in ``webhook_inbox`` exactly once, no bad-signature delivery is, and after
   ``apply_inbox`` every inbox row is applied once (attempts = 1, one staging record per product, one hub
   product per delivered product id).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("ECOM_BENCH_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
SECRET = "bench-webhook-secret-2026"
RATE_AIM = 1000.0
P99_AIM_MS = 50.0
# The shared fixtures sit beside the checkout (../shared); ECOM_FIXTURES names the fixtures folder elsewhere.
FIXTURES = Path(os.environ.get("ECOM_FIXTURES") or Path(__file__).resolve().parents[2] / "shared" / "fixtures")
RECORDED = FIXTURES / "recorded" / "woocommerce-10.0.2" / "webhook-delivery-product-created-simple.json"
FALLBACK_PRODUCT: dict[str, Any] = {
    "id": 11,
    "name": "Classic Mug",
    "slug": "classic-mug",
    "permalink": "http://127.0.0.1:8080/product/classic-mug/",
    "date_created": "2026-11-22T01:07:59",
    "date_created_gmt": "2026-11-22T00:07:59",
    "date_modified": "2026-11-22T01:07:59",
    "date_modified_gmt": "2026-11-22T00:07:59",
    "type": "simple",
    "status": "publish",
    "description": "<p>Our everyday 300&nbsp;ml stoneware mug.</p>\n",
    "short_description": "<p>Everyday stoneware mug.</p>\n",
    "sku": "MUG-CLASSIC",
    "price": "9.90",
    "regular_price": "9.90",
    "sale_price": "",
    "manage_stock": True,
    "stock_quantity": 25,
    "stock_status": "instock",
    "categories": [{"id": 16, "name": "Mugs &amp; Cups", "slug": "mugs-cups"}],
    "tags": [{"id": 21, "name": "bestseller", "slug": "bestseller"}],
    "images": [],
    "attributes": [],
    "variations": [],
    "parent_id": 0,
    "meta_data": [],
}


@dataclass(frozen=True)
class Sizes:
    saturation: int
    concurrency: int
    paced_seconds: float
    loss_good: int
    loss_dups: int
    loss_bad: int
    loss_rate: float


FULL = Sizes(
    saturation=20_000, concurrency=32, paced_seconds=20, loss_good=5_000, loss_dups=1_000, loss_bad=500, loss_rate=800
)
QUICK = Sizes(
    saturation=3_000, concurrency=32, paced_seconds=5, loss_good=1_000, loss_dups=200, loss_bad=100, loss_rate=500
)


def log(msg: str) -> None:
    print(f"[webhooks-bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------------------------------------- deliveries


def template() -> dict[str, Any]:
    with contextlib.suppress(OSError, ValueError, KeyError):
        return json.loads(json.loads(RECORDED.read_text())["request"]["body_raw"])
    return dict(FALLBACK_PRODUCT)


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def make_delivery(base: dict[str, Any], product_id: int, *, bad: bool = False, stamp: int = 0) -> dict[str, Any]:
    """One WooCommerce product.updated delivery (headers + raw body) for ``product_id``."""
    item = dict(base)
    item.update(
        id=product_id,
        name=f"Bench product {product_id}",
        slug=f"bench-product-{product_id}",
        sku=f"BENCH-{product_id}",
        permalink=f"http://127.0.0.1:8080/product/bench-product-{product_id}/",
        date_modified=f"2026-11-22T01:{stamp // 60 % 60:02d}:{stamp % 60:02d}",
        date_modified_gmt=f"2026-11-22T00:{stamp // 60 % 60:02d}:{stamp % 60:02d}",
    )
    item.pop("_links", None)
    body = json.dumps(item, separators=(",", ":")).encode()
    signature = sign(body) if not bad else sign(body, "not-the-secret")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "WooCommerce/10.0.2 Hookshot (WordPress/6.8.8)",
        "X-WC-Webhook-Source": "http://127.0.0.1:8080/",
        "X-WC-Webhook-Topic": "product.updated",
        "X-WC-Webhook-Resource": "product",
        "X-WC-Webhook-Event": "updated",
        "X-WC-Webhook-Signature": signature,
        "X-WC-Webhook-ID": "1",
        "X-WC-Webhook-Delivery-ID": uuid.uuid4().hex,
    }
    return {"product_id": product_id, "bad": bad, "headers": headers, "body": body.decode()}


def delivery_key(integration_id: int, d: dict[str, Any]) -> str:
    from ecom_pipeline.platforms.woocommerce.deliveries import woocommerce_key

    return woocommerce_key(integration_id, "product", d["body"].encode())


# ---------------------------------------------------------------------------------------------- load process


def _request_bytes(d: dict[str, Any], port: int, integration_id: int) -> bytes:
    body = d["body"].encode()
    lines = [f"POST /webhooks/woocommerce/{integration_id} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{k}: {v}" for k, v in d["headers"].items()]
    lines += [f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(lines).encode() + body


async def _load(spec: dict[str, Any]) -> dict[str, Any]:
    """Send ``spec["deliveries"]`` (closed loop, or paced at ``rate``/s) and record status + latency of each."""
    port = int(spec["port"])
    reqs = [_request_bytes(d, port, int(spec["integration_id"])) for d in spec["deliveries"]]
    n = len(reqs)
    rate = spec.get("rate")
    concurrency = int(spec["concurrency"])
    deadline = time.monotonic() + float(spec.get("max_seconds", 120))
    status = [0] * n
    latency = [0.0] * n
    duplicate = [False] * n
    next_index = 0
    t0 = time.perf_counter()
    if spec.get("started_file"):
        Path(spec["started_file"]).write_text(str(time.time()))

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        while time.monotonic() < deadline:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                sock = writer.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return reader, writer
            except OSError:
                await asyncio.sleep(0.05)
        return None

    async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        writer.write(reqs[i])
        head = await reader.readuntil(b"\r\n\r\n")
        code = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        body = await reader.readexactly(length) if length else b""
        status[i] = code
        duplicate[i] = b'"duplicate":true' in body

    async def worker() -> None:
        nonlocal next_index
        conn = await connect()
        while next_index < n and time.monotonic() < deadline:
            i = next_index
            next_index += 1
            scheduled = t0 + i / rate if rate else None
            if scheduled is not None:
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            if conn is None:
                conn = await connect()
                if conn is None:
                    return
            start = scheduled if scheduled is not None else time.perf_counter()
            try:
                await asyncio.wait_for(one(conn[0], conn[1], i), timeout=10)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                status[i] = 0  # no answer: not acknowledged (the connection died, e.g. the receiver was killed)
                conn[1].close()
                conn = None
                await asyncio.sleep(0.02)
                continue
            latency[i] = time.perf_counter() - start
        if conn is not None:
            conn[1].close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {
        "status": status,
        "latency": latency,
        "duplicate": duplicate,
        "elapsed_s": time.perf_counter() - t0,
        "client_cpu_s": time.process_time(),
    }


def load_main(spec_path: str, out_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(_load(spec))
    Path(out_path).write_text(json.dumps(result))


def run_load(workdir: Path, name: str, spec: dict[str, Any]) -> subprocess.Popen[bytes]:
    spec_path = workdir / f"{name}.spec.json"
    spec_path.write_text(json.dumps(spec))
    cmd = [sys.executable, "-m", "benchmarks.webhooks_bench", "--load", str(spec_path), str(workdir / f"{name}.out")]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=(workdir / f"{name}.log").open("w"), stderr=subprocess.STDOUT)


def wait_load(proc: subprocess.Popen[bytes], workdir: Path, name: str, timeout_s: float) -> dict[str, Any]:
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
        raise RuntimeError(f"load {name} took over {timeout_s:.0f} s") from None
    out = workdir / f"{name}.out"
    if not out.exists():
        raise RuntimeError(f"load {name} failed: {(workdir / f'{name}.log').read_text()[-3000:]}")
    return json.loads(out.read_text())


# ---------------------------------------------------------------------------------------------- receiver process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ReceiverProc:
    """``ecom-pipeline serve-webhooks`` in its own process group (killed by pgid)."""

    def __init__(
        self, url: str, env: dict[str, str], port: int, workdir: Path, profile: Path | None = None, workers: int = 0
    ) -> None:
        self.url, self.env, self.port, self.workdir, self.profile = url, env, port, workdir, profile
        self.workers = workers  # 0: the command's default
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        if self.profile is not None:
            cmd = [sys.executable, "-m", "benchmarks.webhooks_bench", "--serve-profiled", str(self.profile)]
            cmd += ["--warehouse-url", self.url, "--port", str(self.port)]
        else:
            exe = ROOT / ".venv" / "bin" / "ecom-pipeline"
            base = [str(exe)] if exe.exists() else [sys.executable, "-m", "ecom_pipeline.cli"]
            cmd = [*base, "--warehouse-url", self.url, "serve-webhooks", "--port", str(self.port)]
            if self.workers:
                cmd += ["--workers", str(self.workers)]
        self.starts += 1
        logf = (self.workdir / f"receiver-{self.port}-{self.starts}.log").open("w")
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=self.env, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True
        )
        import requests

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"receiver exited: {logf.name}")
            with contextlib.suppress(Exception):
                if requests.get(f"http://127.0.0.1:{self.port}/webhooks/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        self.kill()
        raise RuntimeError("receiver did not answer in 60 s")

    def kill(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        self.proc = None

    def stop_gracefully(self) -> None:
        """SIGTERM (uvicorn exits cleanly, the profiled mode dumps its stats), then SIGKILL if needed."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(20)
        self.kill()


def serve_profiled(out: str, warehouse_url: str, port: int) -> None:
    """The receiver under cProfile in every thread (the event loop and the DB thread pool), stats to ``out``."""
    import cProfile
    import threading

    import uvicorn

    from ecom_pipeline.webhooks.app import create_app

    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()

    def start_thread_profile(*_: Any) -> None:
        sys.setprofile(None)
        p = cProfile.Profile()
        with lock:
            profiles.append(p)
        p.enable()

    main_profile = cProfile.Profile()
    profiles.append(main_profile)
    threading.setprofile(start_thread_profile)
    app = create_app(warehouse_url)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, server_header=False)
    )
    # uvicorn re-raises the SIGTERM it caught once it has shut down: a no-op handler lets the stats be written.
    signal.signal(signal.SIGTERM, lambda *_: None)
    main_profile.enable()
    server.run()
    main_profile.disable()
    import pstats

    stats = None
    for p in profiles:
        with contextlib.suppress(Exception):
            p.create_stats()
            stats = pstats.Stats(p) if stats is None else stats.add(p)
    if stats is not None:
        stats.dump_stats(out)


# ---------------------------------------------------------------------------------------------- warehouse


class Warehouse:
    def __init__(self, kind: str, workdir: Path, secret_key: str) -> None:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        self.kind = kind
        self.pg_name: str | None = None
        home = workdir / f"wh-{kind}"
        home.mkdir(parents=True, exist_ok=True)
        if kind == "sqlite":
            self.url = f"sqlite:///{home / 'warehouse.db'}"
        else:
            self.pg_name = f"ecom_bench_wh_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.pg_name}"'))
            admin.dispose()
            self.url = make_url(PG_ADMIN_URL).set(database=self.pg_name).render_as_string(hide_password=False)
        self.env = dict(os.environ)
        self.env.update(
            {"ECOM_WAREHOUSE_URL": self.url, "ECOM_PIPELINE_HOME": str(home), "ECOM_SECRET_KEY": secret_key}
        )
        from ecom_pipeline.warehouse.credentials import CredentialCipher
        from ecom_pipeline.warehouse.engine import make_engine
        from ecom_pipeline.warehouse.migrate import upgrade

        upgrade(self.url)
        self.cipher = CredentialCipher(secret_key)
        self.engine = make_engine(self.url)

    def add_integration(self, tenant: str) -> int:
        from ecom_pipeline.warehouse import store

        with self.engine.begin() as conn:
            return store.create_integration(
                conn,
                tenant_id=tenant,
                platform="woocommerce",
                name=f"bench-{tenant}",
                base_url=f"http://127.0.0.1:9/{tenant}",
                credentials={"consumer_key": "ck_bench", "consumer_secret": "cs_bench", "webhook_secret": SECRET},
                settings={},
                cipher=self.cipher,
            )

    def drop(self) -> None:
        self.engine.dispose()
        if self.pg_name is None:
            return
        from sqlalchemy import create_engine, text

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


# ---------------------------------------------------------------------------------------------- phases


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan"), "max": float("nan")}
    s = sorted(values)

    def q(p: float) -> float:
        return s[min(len(s) - 1, round(p * (len(s) - 1)))] * 1000

    return {"p50": q(0.50), "p95": q(0.95), "p99": q(0.99), "max": s[-1] * 1000}


def loadavg() -> str:
    """The 1/5/15-minute load averages (the machine is shared: figures mean little without them)."""
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "n/a"


def _cpu_of(pids: list[int]) -> float:
    """CPU seconds (user + system, all threads) the processes ``pids`` have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _session_pids(sid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[3]) == sid:
                    pids.append(int(entry.name))
    return pids


def phase_cpu(wh: Warehouse, rec: ReceiverProc) -> dict[str, float]:
    """CPU seconds used so far by the receiver (every process of its session: all workers) and by the
    PostgreSQL backends serving the benchmark's database: per-delivery costs that, unlike rates, do not depend
    on what else the shared machine is running."""
    out = {"receiver": _cpu_of(_session_pids(rec.proc.pid)) if rec.proc is not None else 0.0}
    if wh.pg_name is not None:
        from sqlalchemy import text

        with wh.engine.connect() as conn:
            pids = conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = :n AND pid <> pg_backend_pid()"),
                {"n": wh.pg_name},
            ).scalars()
            out["postgresql"] = _cpu_of(list(pids))
    return out


def summarize(
    result: dict[str, Any], cpu0: dict[str, float] | None = None, cpu1: dict[str, float] | None = None
) -> dict[str, Any]:
    ok = [lat for st, lat in zip(result["status"], result["latency"], strict=True) if 200 <= st < 300]
    n = max(1, len(result["status"]))
    cpu = {f"{k}_cpu_us": (cpu1[k] - cpu0.get(k, 0.0)) / n * 1e6 for k in (cpu1 or {}) if cpu0 is not None and cpu1}
    if "client_cpu_s" in result:
        cpu["client_cpu_us"] = result["client_cpu_s"] / n * 1e6
    return {
        **cpu,
        "sent": len(result["status"]),
        "ok": len(ok),
        "non_2xx": sum(1 for st in result["status"] if not 200 <= st < 300),
        "elapsed_s": result["elapsed_s"],
        "rate": len(ok) / result["elapsed_s"] if result["elapsed_s"] else 0.0,
        **percentiles(ok),
    }


def throughput_phases(
    wh: Warehouse, workdir: Path, sizes: Sizes, base: dict[str, Any], workers: int = 0
) -> dict[str, Any]:
    iid = wh.add_integration("whload")
    port = free_port()
    rec = ReceiverProc(wh.url, wh.env, port, workdir, workers=workers)
    rec.start()
    out: dict[str, Any] = {"loadavg_before": loadavg()}
    try:
        # warm-up (integration cache, connection pool, page cache)
        warm = [make_delivery(base, 900_000_000 + i) for i in range(300)]
        wait_load(
            run_load(
                workdir, f"{wh.kind}-warm", {"port": port, "integration_id": iid, "deliveries": warm, "concurrency": 8}
            ),
            workdir,
            f"{wh.kind}-warm",
            120,
        )
        sat = [make_delivery(base, 1_000_000 + i) for i in range(sizes.saturation)]
        spec = {
            "port": port,
            "integration_id": iid,
            "deliveries": sat,
            "concurrency": sizes.concurrency,
            "max_seconds": 240,
        }
        cpu0 = phase_cpu(wh, rec)
        res = wait_load(run_load(workdir, f"{wh.kind}-sat", spec), workdir, f"{wh.kind}-sat", 300)
        out["saturation"] = summarize(res, cpu0, phase_cpu(wh, rec))
        log(f"{wh.kind}: saturation {out['saturation']}")
        n = int(RATE_AIM * sizes.paced_seconds)
        paced = [make_delivery(base, 2_000_000 + i) for i in range(n)]
        spec = {
            "port": port,
            "integration_id": iid,
            "deliveries": paced,
            "concurrency": 64,
            "rate": RATE_AIM,
            "max_seconds": sizes.paced_seconds * 4 + 30,
        }
        cpu0 = phase_cpu(wh, rec)
        res = wait_load(
            run_load(workdir, f"{wh.kind}-paced", spec), workdir, f"{wh.kind}-paced", sizes.paced_seconds * 4 + 60
        )
        out["paced"] = summarize(res, cpu0, phase_cpu(wh, rec))
        out["loadavg_after"] = loadavg()
        out["processes"] = len(_session_pids(rec.proc.pid)) if rec.proc is not None else 0
        log(f"{wh.kind}: paced {out['paced']}")
    finally:
        rec.kill()
    return out


def loss_phase(wh: Warehouse, workdir: Path, sizes: Sizes, base: dict[str, Any], workers: int = 0) -> dict[str, Any]:
    from sqlalchemy import func, select

    from ecom_pipeline.warehouse.schema import entity_links, hub_products, staging_records, webhook_inbox
    from ecom_pipeline.webhooks.apply import apply_inbox

    tenant = "whloss"
    iid = wh.add_integration(tenant)
    rng = random.Random(7)
    good = [make_delivery(base, 10_000 + i, stamp=i) for i in range(sizes.loss_good)]
    bad = [make_delivery(base, 500_000 + i, bad=True, stamp=i) for i in range(sizes.loss_bad)]
    dups = [dict(d) for d in rng.sample(good, sizes.loss_dups)]
    sends = good + dups + bad
    rng.shuffle(sends)
    good_keys = {delivery_key(iid, d): d["product_id"] for d in good}
    bad_keys = {delivery_key(iid, d) for d in bad}
    key_of = [delivery_key(iid, d) for d in sends]

    port = free_port()
    rec = ReceiverProc(wh.url, wh.env, port, workdir, workers=workers)
    rec.start()
    started = workdir / f"{wh.kind}-loss.started"
    expected_s = len(sends) / sizes.loss_rate
    spec = {
        "port": port,
        "integration_id": iid,
        "deliveries": sends,
        "concurrency": 32,
        "rate": sizes.loss_rate,
        "max_seconds": expected_s * 4 + 60,
        "started_file": str(started),
    }
    proc = run_load(workdir, f"{wh.kind}-loss", spec)
    acked: set[str] = set()
    statuses: dict[str, int] = {}
    rounds = 0
    try:
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(expected_s * 0.4)
        log(f"{wh.kind}: kill -9 of the receiver (pgid {rec.proc.pid if rec.proc else '?'}) at ~40% of the load")
        killed_at = time.monotonic()
        rec.kill()
        time.sleep(1.0)
        rec.start()
        downtime = time.monotonic() - killed_at
        res = wait_load(proc, workdir, f"{wh.kind}-loss", expected_s * 4 + 90)
        first = summarize(res)
        dup_answers = sum(res["duplicate"])
        for k, st in zip(key_of, res["status"], strict=True):
            statuses[str(st)] = statuses.get(str(st), 0) + 1
            if 200 <= st < 300:
                acked.add(k)
        # The shop's retries: resend good deliveries that never got a 2xx (bounded rounds).
        resent = 0
        stored_before_ack = 0
        while rounds < 5:
            missing = [d for d in good if delivery_key(iid, d) not in acked]
            if not missing:
                break
            rounds += 1
            resent += len(missing)
            spec = {"port": port, "integration_id": iid, "deliveries": missing, "concurrency": 16, "max_seconds": 120}
            r2 = wait_load(
                run_load(workdir, f"{wh.kind}-resend{rounds}", spec), workdir, f"{wh.kind}-resend{rounds}", 180
            )
            dup_answers += sum(r2["duplicate"])
            # A resend of a delivery never acknowledged that answers "duplicate": it had been committed before
            # the kill, only the answer was lost.
            stored_before_ack += sum(r2["duplicate"])
            for d, st in zip(missing, r2["status"], strict=True):
                if 200 <= st < 300:
                    acked.add(delivery_key(iid, d))
    finally:
        rec.kill()
        if proc.poll() is None:
            proc.kill()

    with wh.engine.connect() as conn:
        rows = conn.execute(
            select(webhook_inbox.c.delivery_key, func.count())
            .where(webhook_inbox.c.integration_id == iid)
            .group_by(webhook_inbox.c.delivery_key)
        ).all()
    inbox_counts = {k: int(c) for k, c in rows}
    inbox_rows = sum(inbox_counts.values())
    acked_good = {k for k in acked if k in good_keys}
    lost = len([k for k in acked_good if k not in inbox_counts])
    twice = len([k for k, c in inbox_counts.items() if c > 1])
    bad_stored = len([k for k in inbox_counts if k in bad_keys])
    unknown_stored = len([k for k in inbox_counts if k not in good_keys and k not in bad_keys])
    never_acked = len(set(good_keys) - acked)

    t0 = time.perf_counter()
    applied = 0
    for _ in range(200):
        report = apply_inbox(wh.engine, tenant_id=tenant, run_id=None, limit=500, cipher=wh.cipher)
        applied += report.applied
        if report.read == 0:
            break
    apply_s = time.perf_counter() - t0
    with wh.engine.connect() as conn:
        by_status = dict(
            conn.execute(
                select(webhook_inbox.c.status, func.count())
                .where(webhook_inbox.c.integration_id == iid)
                .group_by(webhook_inbox.c.status)
            ).all()
        )
        attempts_not_1 = conn.execute(
            select(func.count())
            .select_from(webhook_inbox)
            .where(webhook_inbox.c.integration_id == iid, webhook_inbox.c.attempts != 1)
        ).scalar_one()
        staged = dict(
            conn.execute(
                select(staging_records.c.external_id, func.count())
                .where(staging_records.c.integration_id == iid, staging_records.c.entity == "product")
                .group_by(staging_records.c.external_id)
            ).all()
        )
        links = dict(
            conn.execute(
                select(entity_links.c.external_id, entity_links.c.hub_id).where(
                    entity_links.c.integration_id == iid, entity_links.c.entity == "product"
                )
            ).all()
        )
        hub_rows = conn.execute(
            select(func.count()).select_from(hub_products).where(hub_products.c.tenant_id == tenant)
        ).scalar_one()
    good_ids = {str(pid) for pid in good_keys.values()}
    bad_ids = {str(d["product_id"]) for d in bad}
    return {
        "sends": len(sends),
        "good": len(good),
        "dups": len(dups),
        "bad": len(bad),
        "first": first,
        "statuses": statuses,
        "downtime_s": downtime,
        "resend_rounds": rounds,
        "resent": resent,
        "acked_good": len(acked_good),
        "dup_answers": dup_answers,
        "inbox_rows": inbox_rows,
        "inbox_twice": twice,
        "lost": lost,
        "never_acked": never_acked,
        "bad_stored": bad_stored,
        "unknown_stored": unknown_stored,
        "stored_before_ack": stored_before_ack,
        "applied": applied,
        "apply_s": apply_s,
        "by_status": {str(k): int(v) for k, v in by_status.items()},
        "attempts_not_1": int(attempts_not_1),
        "staged_products": len(staged),
        "staged_twice": len([k for k, c in staged.items() if c > 1]),
        "linked_good": len(good_ids & set(links)),
        "linked_bad": len(bad_ids & set(links)),
        "hub_products": int(hub_rows),
    }


def profile_receiver(wh: Warehouse, workdir: Path, base: dict[str, Any], n: int) -> dict[str, Any] | None:
    """cProfile the receiver (all threads) under a saturation load; top functions by inclusive / self time."""
    import pstats

    iid = wh.add_integration("whprof")
    port = free_port()
    prof_path = workdir / f"{wh.kind}-receiver.prof"
    rec = ReceiverProc(wh.url, wh.env, port, workdir, profile=prof_path)
    rec.start()
    try:
        deliveries = [make_delivery(base, 3_000_000 + i) for i in range(n)]
        spec = {"port": port, "integration_id": iid, "deliveries": deliveries, "concurrency": 32, "max_seconds": 180}
        res = wait_load(run_load(workdir, f"{wh.kind}-prof", spec), workdir, f"{wh.kind}-prof", 240)
    finally:
        rec.stop_gracefully()
    if not prof_path.exists():
        return None
    raw = pstats.Stats(str(prof_path)).stats  # type: ignore[attr-defined]
    total_self = sum(v[2] for v in raw.values())

    def short(key: tuple[str, int, str]) -> str:
        f, line, func = key
        for marker in ("site-packages/", "/lib/python3.11/", f"{ROOT}/"):
            if marker in f:
                f = f.split(marker, 1)[1]
                break
        return f"{f}:{line}({func})" if f != "~" else func

    groups = {
        "SQLAlchemy (compile, execute, pool)": ("sqlalchemy/",),
        "DB driver (sqlite3 / psycopg2 execute, commit)": ("sqlite3", "psycopg2"),
        "uvicorn + httptools (HTTP parsing, transport)": ("uvicorn/", "httptools"),
        "starlette + anyio (routing, thread pool hand-off)": ("starlette/", "anyio/"),
        "ecom_pipeline.webhooks (verify, parse, key)": ("ecom_pipeline/webhooks",),
        "json (delivery parse, response)": ("/json/",),
    }
    by_group: dict[str, float] = {}
    for key, v in raw.items():
        for name, needles in groups.items():
            if any(nd in key[0] or nd in key[2] for nd in needles):
                by_group[name] = by_group.get(name, 0.0) + v[2]
                break
    top = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:12]
    return {
        "requests": n,
        "elapsed_s": res["elapsed_s"],
        "total_self_s": total_self,
        "groups": sorted(by_group.items(), key=lambda kv: -kv[1]),
        "top": [(short(k), v[1], v[2], v[3]) for k, v in top],
    }


# ---------------------------------------------------------------------------------------------- report


def run(
    quick: bool,
    warehouses: tuple[str, ...] = ("sqlite", "postgresql"),
    workers: int = 0,
    loss: bool = True,
    profile_on_miss: bool = True,
) -> str:
    """Run the receiver benchmark on SQLite and PostgreSQL; return its markdown section.

    ``workers`` is passed to ``serve-webhooks --workers`` (0: the command's default). ``loss`` and
    ``profile_on_miss`` off give a quick throughput-only comparison while tuning.
    """
    from cryptography.fernet import Fernet

    sizes = QUICK if quick else FULL
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="ecom_bench_wh_"))
    secret_key = Fernet.generate_key().decode()
    base = template()
    results: dict[str, dict[str, Any]] = {}
    profile: dict[str, Any] | None = None
    log(f"workdir {workdir}")
    try:
        for kind in warehouses:
            try:
                wh = Warehouse(kind, workdir, secret_key)
            except Exception as exc:
                log(f"{kind}: unavailable ({type(exc).__name__}: {exc})")
                continue
            try:
                r = throughput_phases(wh, workdir, sizes, base, workers)
                if kind == "postgresql" and workers == 0:
                    # The default runs 2 processes on PostgreSQL: show what one would do, in the same run.
                    r["one_worker"] = throughput_phases(wh, workdir, sizes, base, 1)
                if loss:
                    r["loss"] = loss_phase(wh, workdir, sizes, base, workers)
                    log(f"{kind}: zero-loss {r['loss']}")
                missed = r["saturation"]["rate"] < RATE_AIM or r["paced"]["p99"] > P99_AIM_MS
                if missed and profile is None and profile_on_miss:
                    log(f"{kind}: aim missed, profiling the receiver")
                    profile = profile_receiver(wh, workdir, base, 2_000 if quick else 6_000)
                    if profile is not None:
                        profile["backend"] = kind
                results[kind] = r
            finally:
                wh.drop()
    finally:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return render(sizes, results, profile, time.perf_counter() - started, workers)


def fmt_us(v: float | None) -> str:
    # Clamped at 0: a PostgreSQL backend that exits during a phase takes its CPU with it (a lower bound then).
    return "n/a" if v is None else f"{max(0.0, v):,.0f} µs"


def rows_for_load(results: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    rows = list(results.items())
    rows += [(f"{kind} --workers 1", r["one_worker"]) for kind, r in results.items() if "one_worker" in r]
    return rows


def fmt_ms(v: float) -> str:
    return f"{v:.1f} ms" if v < 100 else f"{v:,.0f} ms"


def render(
    sizes: Sizes, results: dict[str, dict[str, Any]], profile: dict[str, Any] | None, elapsed: float, workers: int = 0
) -> str:
    out = ["## Webhook receiver: throughput, acknowledgement latency, zero loss\n"]
    commit = "n/a"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    how = f"`--workers {workers}`" if workers else "default `--workers` (2 on PostgreSQL, 1 on SQLite)"
    out.append(
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit {commit}, {how}. Load average "
        "(1/5/15 min) before and after each warehouse's throughput phases: "
        + "; ".join(
            f"{kind} {r.get('loadavg_before', 'n/a')} -> {r.get('loadavg_after', 'n/a')} "
            f"({r.get('processes', '?')} receiver processes)"
            for kind, r in rows_for_load(results)
        )
        + ".\n"
    )
    out.append(
        f"Receiver: `ecom-pipeline serve-webhooks --warehouse-url ...` (its own process group) "
        f"on this {os.cpu_count()}-core machine; load from another process (asyncio, raw HTTP/1.1 keep-alive, "
        "pre-built requests) sending real signed WooCommerce `product.updated` deliveries (~2 KB bodies, "
        "`X-WC-Webhook-Signature` under the integration's stored `webhook_secret`). The client shares the 2 cores "
        "with the receiver (and PostgreSQL). Latency = time from send (saturation) or from the scheduled send time "
        "(paced, so a queue in the receiver shows) to the end of the answer. A 2xx is only sent once the row is "
        f"committed. Aim: {RATE_AIM:,.0f} deliveries/s with p99 ack < {P99_AIM_MS:.0f} ms.\n"
    )
    out.append(
        "| warehouse | load | deliveries | 2xx | non-2xx | deliveries/s | p50 | p95 | p99 | max | aim "
        "| CPU per delivery: receiver / PostgreSQL / client |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows = [(kind, r) for kind, r in results.items()]
    rows += [(f"{kind}, `--workers 1`", r["one_worker"]) for kind, r in results.items() if "one_worker" in r]
    for kind, r in rows:
        for label, key in (
            (f"saturation ({sizes.concurrency} connections)", "saturation"),
            (f"paced {RATE_AIM:,.0f}/s for {sizes.paced_seconds:.0f} s", "paced"),
        ):
            s = r[key]
            if key == "saturation":
                aim = "met" if s["rate"] >= RATE_AIM else "**missed** (rate)"
            else:
                aim = "met" if s["p99"] <= P99_AIM_MS and s["rate"] >= RATE_AIM * 0.97 else "**missed**"
            out.append(
                f"| {kind} | {label} | {s['sent']:,} | {s['ok']:,} | {s['non_2xx']:,} | {s['rate']:,.0f} "
                f"| {fmt_ms(s['p50'])} | {fmt_ms(s['p95'])} | {fmt_ms(s['p99'])} | {fmt_ms(s['max'])} | {aim} "
                f"| {fmt_us(s.get('receiver_cpu_us'))} / {fmt_us(s.get('postgresql_cpu_us'))} "
                f"/ {fmt_us(s.get('client_cpu_us'))} |"
            )
    out.append("")
    out.append(
        "CPU per delivery: user + system CPU of the receiver's processes (all workers, all threads), of the "
        "PostgreSQL backends serving the benchmark's database, and of the load client, over the phase, divided by "
        "its deliveries. Unlike rates and latencies it does not depend on what else the shared machine runs.\n"
    )
    losses = {kind: r["loss"] for kind, r in results.items() if "loss" in r}
    if losses:
        out.append(
            f"**Zero loss**: {sizes.loss_good:,} unique good deliveries + {sizes.loss_dups:,} exact duplicates + "
            f"{sizes.loss_bad:,} with a bad signature, shuffled, paced at {sizes.loss_rate:,.0f}/s; `kill -9` of the "
            "receiver's process group at ~40% of the load, restart; then the good deliveries without a 2xx are resent "
            "(as the shop's retries would). *Stored, answer lost* = committed before the kill but the client never "
            "saw the 2xx (the resend then answers `duplicate`). Then `apply_inbox` until nothing is due.\n"
        )
        out.append(
            "| warehouse | sends | 2xx / 401 / no answer (first pass) | receiver down | resent (rounds) "
            "| good acked | inbox rows | stored twice | duplicates answered | bad sig. stored | stored, answer lost "
            "| **lost** |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for kind, L in losses.items():
            st = L["statuses"]
            no_answer = sum(v for k, v in st.items() if not (k.startswith("2") or k == "401"))
            lost = L["lost"] + L["never_acked"]
            out.append(
                f"| {kind} | {L['sends']:,} | {sum(v for k, v in st.items() if k.startswith('2')):,} / "
                f"{st.get('401', 0):,} / {no_answer:,} | {L['downtime_s']:.1f} s "
                f"| {L['resent']:,} ({L['resend_rounds']}) | {L['acked_good']:,} of {L['good']:,} "
                f"| {L['inbox_rows']:,} | {L['inbox_twice']} | {L['dup_answers']:,} "
                f"| {L['bad_stored']} | {L['stored_before_ack']:,} | **{lost}**{'' if lost == 0 else ' **NOT ZERO**'} |"
            )
        out.append("")
        out.append("After `apply_inbox`:\n")
        out.append(
            "| warehouse | applied | inbox status | attempts ≠ 1 | products staged (twice) | good ids in hub "
            "| bad ids in hub | hub_products rows | apply time | applied once |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|---|")
        for kind, L in losses.items():
            once = (
                L["applied"] == L["inbox_rows"] == L["good"]
                and L["attempts_not_1"] == 0
                and L["staged_twice"] == 0
                and L["linked_good"] == L["good"]
                and L["linked_bad"] == 0
                and L["hub_products"] == L["good"]
            )
            status = ", ".join(f"{k} {v:,}" for k, v in sorted(L["by_status"].items()))
            out.append(
                f"| {kind} | {L['applied']:,} | {status} | {L['attempts_not_1']} | {L['staged_products']:,} "
                f"({L['staged_twice']}) | {L['linked_good']:,} of {L['good']:,} | {L['linked_bad']} "
                f"| {L['hub_products']:,} | {L['apply_s']:.1f} s ({L['applied'] / max(L['apply_s'], 1e-9):,.0f}/s) "
                f"| {'yes' if once else '**NO**'} |"
            )
        out.append("")
    if profile:
        out.append(
            f"Profile of the receiver ({profile['backend']}, cProfile in every thread, {profile['requests']:,} "
            f"deliveries at saturation, {profile['requests'] / profile['elapsed_s']:,.0f}/s under the profiler; "
            f"{profile['total_self_s']:.1f} s of profiled CPU, self time by group):\n"
        )
        out.append("| group | self time | share |")
        out.append("|---|---|---|")
        for name, t in profile["groups"]:
            out.append(f"| {name} | {t:.2f} s | {100 * t / profile['total_self_s']:.0f}% |")
        out.append("")
        out.append("| function (top by self time) | calls | self | cumulative |")
        out.append("|---|---|---|---|")
        for name, nc, tt, ct in profile["top"]:
            out.append(f"| `{name}` | {nc:,} | {tt:.2f} s | {ct:.2f} s |")
        out.append("")
    out.append(f"Webhook benchmark took {elapsed:.0f} s.\n")
    return "\n".join(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--warehouse", action="append", choices=("sqlite", "postgresql"), help="only these (default: both)")
    p.add_argument("--workers", type=int, default=0, help="serve-webhooks --workers (default: its own default)")
    p.add_argument("--no-loss", action="store_true", help="skip the kill -9 zero-loss phase")
    p.add_argument("--no-profile", action="store_true", help="do not profile the receiver when an aim is missed")
    p.add_argument("--load", nargs=2, metavar=("SPEC", "OUT"), help=argparse.SUPPRESS)
    p.add_argument("--serve-profiled", metavar="OUT", help=argparse.SUPPRESS)
    p.add_argument("--warehouse-url")
    p.add_argument("--port", type=int, default=0)
    a = p.parse_args()
    if a.load:
        load_main(*a.load)
        return 0
    if a.serve_profiled:
        serve_profiled(a.serve_profiled, a.warehouse_url, a.port)
        return 0
    warehouses = tuple(a.warehouse or ("sqlite", "postgresql"))
    print(run(a.quick, warehouses, a.workers, loss=not a.no_loss, profile_on_miss=not a.no_profile))
    return 0


if __name__ == "__main__":
    sys.exit(main())
