"""One schedule tick of many tenants through the Dagster daemon: wall time, CPU per tenant-run, connections.

Every tenant has one small emulated WooCommerce shop and has been fully synced once (in process, before the clock
starts), so the tick measures what every 30 minutes costs in steady state: a no-change incremental sync of every
tenant. The tick goes through the same path as the daemon's scheduler: ``incremental_sync_schedule`` is evaluated
(one RunRequest per tenant, each selecting only its platforms), each request becomes a run with
Dagster's own ``_submit_run_request`` (the scheduler daemon's function) and is submitted to the instance's
``QueuedRunCoordinator``; a real ``dagster-daemon run`` dequeues the runs (``max_concurrent_runs`` of the
instance) and launches each through the ``DefaultRunLauncher`` as a run worker process of its code server.

Figures: the time from the first submission until every run has finished; the CPU seconds of the daemon's
processes (daemon, code server, run workers and their step processes: :class:`CpuSampler`), minus what
they had used when the tick started, divided by the number of runs; the peak number of connections to the
warehouse database (``pg_stat_activity``) while the tick ran.

    .venv/bin/python -m benchmarks.tick_bench                 # 20 tenants, PostgreSQL when it answers
    .venv/bin/python -m benchmarks.tick_bench --tenants 20 --mode both     # one run per tenant, then batched
    .venv/bin/python -m benchmarks.tick_bench --tenants 100 --mode batched --batch-size 25
    .venv/bin/python -m benchmarks.tick_bench --tenants 1 --repeat 3  # one tenant's run, three ticks
    .venv/bin/python -m benchmarks.tick_bench --write         # and replace its section of docs/benchmarks.md

``run(quick) -> str`` gives the markdown section for ``benchmarks/run.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import NullPool, create_engine, text
from sqlalchemy.engine import make_url

from benchmarks.docs_section import write_section

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
PG_ADMIN_URL = os.environ.get("ECOM_BENCH_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
CLK_TCK = os.sysconf("SC_CLK_TCK")
HEADING = "## Schedule tick: many tenants through the Dagster daemon"


def log(msg: str) -> None:
    print(f"[tick {datetime.now().strftime('%H:%M:%S')}] {msg}", flush=True)


def pg_available() -> bool:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3}, poolclass=NullPool)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        return True
    except Exception:
        return False


def _pg_url(name: str) -> str:
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


@contextlib.contextmanager
def pg_databases(*names: str) -> Iterator[list[str]]:
    """Throwaway PostgreSQL databases, dropped afterwards (only the ones created here)."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    created: list[str] = []
    try:
        for name in names:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            created.append(name)
        yield [_pg_url(n) for n in created]
    finally:
        for name in created:
            with contextlib.suppress(Exception), admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


MARKER = "ECOM_TICK_BENCH_DAEMON"


class CpuSampler:
    """CPU seconds of every process started by the benchmark's daemon (its environment carries ``MARKER``).

    The daemon's code server, run workers and step processes are not all its descendants in one tree (the run
    launcher's processes outlive their parents), so they are found by the marker Dagster copies into every child's
    environment. Each process's own user+system time is sampled from /proc; the largest value seen per process
    (pid and start time) counts, so a process that ends between two samples loses at most one sampling interval.
    Reaped children's time (``cutime``, ``cstime``) is not added: every child carries the marker and is counted
    as itself, so adding it counted each run worker twice once the code server had reaped it (the figures
    before 2026-12-04 22:50 UTC were inflated by that, up to twice the truth: a 1,000-tenant tick "used" 2.87
    cores of a 2-core machine).
    """

    def __init__(self) -> None:
        self.seen: dict[tuple[int, str], float] = {}

    def sample(self) -> float:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if MARKER.encode() not in (entry / "environ").read_bytes():
                    continue
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2 :].split()
            key = (int(entry.name), fields[19])
            cpu = sum(int(x) for x in fields[11:13]) / CLK_TCK
            self.seen[key] = max(self.seen.get(key, 0.0), cpu)
        return self.total()

    def total(self) -> float:
        return sum(self.seen.values())


@dataclass
class TickResult:
    tenants: int
    backend: str
    runs: int
    succeeded: int
    wall_s: float
    cpu_s: float
    peak_warehouse_connections: int | None
    steps_per_run: float
    platforms_started: list[str]
    executor: str
    max_concurrent_runs: int
    daemon_cpu_before_s: float
    pool_limit: int | None = None
    pool_granularity: str = "op"
    batch_size: int | None = None  # tenants per launched run; None: one run per tenant
    launched_runs: int = 0  # runs the daemon launched (batch runs, or the tenants' runs)
    load_before: str = ""
    load_after: str = ""
    idle_cpu_per_s: float = 0.0  # CPU seconds per second the daemon's processes used with no run (sensors, queue)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def net_cpu_per_tenant_s(self) -> float:
        """CPU per tenant without what the idle daemon would have used over the tick's wall time anyway."""
        return max(self.cpu_s - self.idle_cpu_per_s * self.wall_s, 0.0) / max(self.runs, 1)

    @property
    def cpu_per_run_s(self) -> float:
        """CPU seconds per tenant (each tenant has one sync_job run, batched or not)."""
        return self.cpu_s / max(self.runs, 1)

    @property
    def mode(self) -> str:
        return "one run per tenant" if self.batch_size is None else f"batched, {self.batch_size} tenants per run"

    def at_1000(self) -> tuple[float, float]:
        """A 1,000-tenant tick extrapolated linearly from this one: (wall minutes, CPU minutes on 2 cores)."""
        scale = 1000 / max(self.tenants, 1)
        return self.wall_s * scale / 60, self.cpu_s * scale / 60 / 2


def _dagster_yaml(
    home: Path, dagster_pg_url: str | None, max_concurrent_runs: int, pool_limit: int | None, granularity: str | None
) -> None:
    import yaml

    config = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    if dagster_pg_url is not None:
        config["storage"] = {"postgres": {"postgres_url": dagster_pg_url}}
    config["concurrency"]["runs"]["max_concurrent_runs"] = max_concurrent_runs
    if pool_limit is not None:
        config["concurrency"]["pools"]["default_limit"] = pool_limit
    if granularity is not None:
        config["concurrency"]["pools"]["granularity"] = granularity
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))


def measure(
    tenants: int = 20,
    *,
    backend: str | None = None,
    max_concurrent_runs: int = 4,
    pool_limit: int | None = None,
    pool_granularity: str | None = None,
    repeat: int = 1,
    products: int = 20,
    orders: int = 20,
    keep: bool = False,
    modes: tuple[int | None, ...] = (None,),
    setup_in_batches: bool = False,
) -> list[TickResult]:
    """Set up ``tenants`` one-shop tenants, sync each once, then time ``repeat`` no-change ticks via the daemon for
    each of ``modes``: None is one run per tenant (``incremental_sync_schedule``), a number N is batches of N
    tenants per launched run (``incremental_sync_batches_schedule``), in that order, in the same session."""
    import dagster as dg

    from ecom_pipeline.cli import main as cli_main
    from ecom_pipeline.partitions import TENANTS_PARTITION_NAME
    from ecom_pipeline.runner import run_sync
    from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
    from ecom_pipeline.warehouse.migrate import upgrade

    backend = backend or ("postgresql" if pg_available() else "sqlite")
    work = Path(tempfile.mkdtemp(prefix="ecom-tick-"))
    home = work / "dagster_home"
    home.mkdir()
    suffix = uuid.uuid4().hex[:8]
    names = [f"ecom_tick_wh_{suffix}", f"ecom_tick_dg_{suffix}"] if backend == "postgresql" else []
    results: list[TickResult] = []
    with contextlib.ExitStack() as stack:
        if backend == "postgresql":
            warehouse_url, dagster_url = stack.enter_context(pg_databases(*names))
        else:
            warehouse_url, dagster_url = f"sqlite:///{work / 'warehouse.db'}", None
        _dagster_yaml(home, dagster_url, max_concurrent_runs, pool_limit, pool_granularity)
        pools = yaml_pool_limit(home)
        env = dict(os.environ)
        env.update(
            DAGSTER_HOME=str(home),
            ECOM_PIPELINE_HOME=str(work),
            ECOM_WAREHOUSE_URL=warehouse_url,
            ECOM_SECRET_KEY=Fernet.generate_key().decode(),
        )
        os.environ.update({k: env[k] for k in ("DAGSTER_HOME", "ECOM_PIPELINE_HOME", "ECOM_WAREHOUSE_URL")})
        os.environ["ECOM_SECRET_KEY"] = env["ECOM_SECRET_KEY"]
        upgrade(warehouse_url)
        specs = [
            ShopSpec(name=f"shop{i:04d}", seed=i, products=products, variable_share=0.3, orders=orders, customers=5)
            for i in range(tenants)
        ]
        sandbox = stack.enter_context(
            SandboxServer(shops=specs, host="127.0.0.1", http_port=0, https_port=0, cert_dir=work / "certs")
        )
        instance = stack.enter_context(dg.DagsterInstance.from_config(str(home)))
        where = "through the daemon, in batches" if setup_in_batches else "in process"
        log(f"{backend}: connecting {tenants} tenant(s), then fully syncing each once {where}")
        t0 = time.perf_counter()
        for spec in specs:
            info = sandbox.shop(spec.name)
            tenant = f"t{spec.name[4:]}"
            argv = ["--warehouse-url", warehouse_url, "connect", "woocommerce", "--tenant", tenant]
            argv += ["--url", info.http_url, "--consumer-key", info.consumer_key]
            argv += ["--consumer-secret", info.consumer_secret, "--name", spec.name, "--timeout", "10"]
            if cli_main(argv) != 0:
                raise RuntimeError(f"connect failed for {tenant}")
            if setup_in_batches:
                instance.add_dynamic_partitions(TENANTS_PARTITION_NAME, [tenant])
                continue
            outcome = run_sync(tenant, instance=instance, log_level="ERROR")
            if not outcome.success:
                raise RuntimeError(f"first sync of {tenant} failed: {outcome.failure}")
        if not setup_in_batches:
            log(f"set-up done in {time.perf_counter() - t0:.0f} s")
            in_process = _in_process_sync(instance)
        _stop_daemon_schedules(instance)
        log("starting dagster-daemon (its schedules stopped: the benchmark submits the ticks it times)")
        daemon = subprocess.Popen(
            [str(Path(PY).parent / "dagster-daemon"), "run", "-w", str(ROOT / "workspace.yaml")],
            env={**env, MARKER: "1"},
            cwd=ROOT,
            stdout=open(work / "daemon.log", "wb"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            time.sleep(20)  # the daemon starts its code server and first ticks its sensors
            if daemon.poll() is not None:
                raise RuntimeError(f"dagster-daemon exited: {(work / 'daemon.log').read_text()[-2000:]}")
            if setup_in_batches:
                # The first (full) syncs as one untimed batched tick: the daemon's processes run them side by side,
                # where the in-process set-up runs one tenant at a time in this process.
                _set_batching(DEFAULT_SETUP_BATCH)
                warm = _one_tick(
                    instance, warehouse_url, CpuSampler(), backend, tenants, max_concurrent_runs, DEFAULT_SETUP_BATCH
                )
                if warm.succeeded != tenants:
                    raise RuntimeError(f"first syncs: {warm.succeeded} of {tenants} tenant runs succeeded")
                log(f"set-up done in {time.perf_counter() - t0:.0f} s")
                in_process = _in_process_sync(instance)
            sampler = CpuSampler()
            for batch_size in modes:
                _set_batching(batch_size)
                for _ in range(repeat):
                    results.append(
                        _one_tick(instance, warehouse_url, sampler, backend, tenants, max_concurrent_runs, batch_size)
                    )
                    results[-1].extra["in_process_wall_s"], results[-1].extra["in_process_cpu_s"] = in_process
                    results[-1].pool_limit = pools
                    results[-1].pool_granularity = pool_granularity or "op"
        finally:
            os.killpg(daemon.pid, signal.SIGTERM)
            try:
                daemon.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
                daemon.wait()
    if keep:
        log(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return results


DEFAULT_SETUP_BATCH = 25
IDLE_SAMPLE_S = 20.0


def _stop_daemon_schedules(instance: Any) -> None:
    """Stop every schedule in the benchmark's instance before the daemon starts.

    The schedules are RUNNING by default, so a benchmark that crosses :00 or :30 would otherwise get the daemon's
    own tick (and the hourly KPI run at :07) on top of the one it times. Private Dagster API (the workspace
    objects), like ``ecom_pipeline_tests.dagster_tick``.
    """
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget

    target = WorkspaceFileTarget(paths=[str(ROOT / "workspace.yaml")])
    with WorkspaceProcessContext(instance, target) as workspace:
        for entry in workspace.create_request_context().get_code_location_entries().values():
            if entry.code_location is None:
                raise RuntimeError(f"the code location did not load: {entry.load_error}")
            for repository in entry.code_location.get_repositories().values():
                for schedule in repository.get_schedules():
                    instance.stop_schedule(schedule.get_remote_origin_id(), schedule.selector_id, schedule)


def _in_process_sync(instance: Any) -> tuple[float, float]:
    """The same no-change sync of one tenant in process (what `ecom-pipeline sync` does), for comparison."""
    from ecom_pipeline.runner import run_sync

    cpu0, t1 = time.process_time(), time.perf_counter()
    run_sync("t0000", instance=instance, log_level="ERROR")
    in_process = (time.perf_counter() - t1, time.process_time() - cpu0)
    log(f"in-process no-change sync of one tenant: {in_process[0]:.1f} s wall, {in_process[1]:.1f} s CPU")
    return in_process


def _set_batching(batch_size: int | None) -> None:
    """Make the next tick's schedules batch (``batch_size`` tenants per run) or not. The schedules are evaluated
    by the code server ``schedule_tick`` starts from this process, so its environment decides."""
    from ecom_pipeline.schedules import BATCH_ABOVE_ENV, BATCH_SIZE_ENV

    if batch_size is None:
        os.environ[BATCH_ABOVE_ENV] = str(10**9)
        os.environ.pop(BATCH_SIZE_ENV, None)
    else:
        os.environ[BATCH_ABOVE_ENV] = "1"
        os.environ[BATCH_SIZE_ENV] = str(batch_size)


def loadavg() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "?"


def executor_name(executor: Any) -> str:
    name = getattr(executor, "name", "?")
    config = getattr(executor, "_configured_config_or_config_fn", None)
    return f"{name} {config}" if config else str(name)


def _one_tick(
    instance: Any,
    warehouse_url: str,
    sampler: CpuSampler,
    backend: str,
    tenants: int,
    max_concurrent_runs: int,
    batch_size: int | None = None,
) -> TickResult:
    import dagster as dg

    from ecom_pipeline.jobs import SYNC_EXECUTOR
    from ecom_pipeline.sync_batches import TAG_BATCH_RUN
    from ecom_pipeline_tests.dagster_tick import schedule_tick

    schedule = "incremental_sync_schedule" if batch_size is None else "incremental_sync_batches_schedule"

    peak: list[int] = [0]
    stop = threading.Event()

    def watch_connections() -> None:
        if backend != "postgresql":
            return
        engine = create_engine(PG_ADMIN_URL, poolclass=NullPool)
        name = make_url(warehouse_url).database
        with engine.connect() as conn:
            while not stop.is_set():
                n = conn.execute(
                    text("select count(*) from pg_stat_activity where datname = :d and pid <> pg_backend_pid()"),
                    {"d": name},
                ).scalar_one()
                peak[0] = max(peak[0], int(n))
                stop.wait(0.2)
        engine.dispose()

    from ecom_pipeline.warehouse.engine import shared_engine

    # This process's own pooled connections (set-up syncs) would count as the tick's: close them first.
    shared_engine(warehouse_url).dispose()
    watcher = threading.Thread(target=watch_connections, daemon=True)
    # What the daemon's processes use with nothing to run (its sensors every few seconds, the run queue every
    # second, each a call to the code server): part of every tick's CPU, however the tick runs.
    idle_start, idle_t0 = sampler.sample(), time.perf_counter()
    time.sleep(IDLE_SAMPLE_S)
    idle_cpu_per_s = (sampler.sample() - idle_start) / (time.perf_counter() - idle_t0)
    load_before = loadavg()
    cpu_before = sampler.sample()
    busy_before = machine_busy_s()
    watcher.start()
    started = time.perf_counter()
    with schedule_tick(instance, schedule) as run_ids:  # queued: the daemon launches them
        log(f"submitted {len(run_ids)} run(s) in {time.perf_counter() - started:.1f} s")
    pending = set(run_ids)
    while pending:
        time.sleep(0.5)
        sampler.sample()
        for run_id in list(pending):
            run = instance.get_run_by_id(run_id)
            if run is not None and run.is_finished:
                pending.discard(run_id)
        if time.perf_counter() - started > 3600:
            raise RuntimeError(f"{len(pending)} run(s) still unfinished after an hour")
    wall = time.perf_counter() - started
    time.sleep(1.0)  # let the code server reap the last run workers
    cpu_after = sampler.sample()
    busy = machine_busy_s() - busy_before
    load_after = loadavg()
    stop.set()
    watcher.join(timeout=5)
    launched = len(run_ids)
    if batch_size is not None:
        # Each batch run executed its tenants' own sync_job runs: those are the tenant-runs.
        batches = list(run_ids)
        run_ids = [
            run.run_id
            for batch in batches
            for run in instance.get_runs(filters=dg.RunsFilter(tags={TAG_BATCH_RUN: batch}))
        ]
        failed_batches = [b for b in batches if instance.get_run_by_id(b).status != dg.DagsterRunStatus.SUCCESS]
        if failed_batches:
            log(f"{len(failed_batches)} batch run(s) did not succeed: {failed_batches}")
    succeeded = 0
    steps = 0
    platforms: set[str] = set()
    for run_id in run_ids:
        run = instance.get_run_by_id(run_id)
        succeeded += run.status == dg.DagsterRunStatus.SUCCESS
        for record in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_START).records:
            steps += 1
            step = record.event_log_entry.step_key or ""
            platforms.add(step.split("__", 1)[0])
    log(
        f"tick ({schedule}): {launched} launched run(s), {len(run_ids)} tenant runs, {succeeded} succeeded, "
        f"{wall:.1f} s, {(cpu_after - cpu_before) / max(len(run_ids), 1):.2f} CPU s per tenant, "
        f"peak warehouse connections {peak[0]}, load {load_before} -> {load_after}, "
        f"idle daemon {idle_cpu_per_s:.2f} CPU s/s, machine busy {busy / max(len(run_ids), 1):.2f} CPU s per tenant"
    )
    return TickResult(
        tenants=tenants,
        backend=backend,
        runs=len(run_ids),
        succeeded=succeeded,
        wall_s=wall,
        cpu_s=cpu_after - cpu_before,
        peak_warehouse_connections=peak[0] if backend == "postgresql" else None,
        steps_per_run=steps / max(len(run_ids), 1),
        platforms_started=sorted(platforms),
        executor=executor_name(SYNC_EXECUTOR),
        max_concurrent_runs=max_concurrent_runs,
        daemon_cpu_before_s=cpu_before,
        batch_size=batch_size,
        launched_runs=launched,
        load_before=load_before,
        load_after=load_after,
        idle_cpu_per_s=idle_cpu_per_s,
        extra={"machine_cpu_s": busy},
    )


def machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy since boot (/proc/stat: every process, PostgreSQL and the
    emulated shops included): a bound the daemon-side figure cannot exceed, and the cost with the database's."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def machine() -> str:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores ({cpu}), Python {sys.version.split()[0]}"


def render(results: list[TickResult]) -> str:
    """The markdown section for docs/benchmarks.md."""
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"{HEADING} (no-change incremental sync)",
        "",
        f"Measured {date} on {machine()} by `benchmarks/tick_bench.py` (`make bench-tick`). Each tenant has one "
        "small emulated WooCommerce shop and was fully synced once before the clock starts. One tick: "
        "`incremental_sync_schedule` (one `sync_job` run per tenant) or `incremental_sync_batches_schedule` "
        "(`sync_batch_job` runs, each executing its tenants' own `sync_job` runs in its process) is evaluated and "
        "each RunRequest submitted with the scheduler daemon's own `_submit_run_request` to the "
        "`QueuedRunCoordinator`; a real `dagster-daemon run` launches the runs (DefaultRunLauncher: one run worker "
        "process per launched run, from the code server). Wall time runs from the first submission until every run "
        "has finished; CPU is that of every process the daemon started (daemon, code server, run workers; sampled "
        "from /proc every 0.5 s, each process's own time), minus what they had used before the tick, per tenant; the "
        "whole machine's busy time (/proc/stat) over the tick bounds it and adds PostgreSQL and the emulated shops; "
        "connections are the peak "
        "of `pg_stat_activity` on the warehouse database. The 1,000-tenant column scales the tick linearly (aim: "
        "within the 30-minute interval).",
        "",
        "| tenants | warehouse | how the tick runs | max concurrent runs | pool limit | launched runs | tenant runs ok "
        "| steps per tenant-run | tick wall time | CPU per tenant (idle daemon's share taken out) | idle daemon "
        "| whole machine busy per tenant (PostgreSQL, emulator, all) "
        "| peak warehouse connections | 1,000 tenants (linear): wall, CPU on 2 cores | load average before; after |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        conns = "n/a (SQLite)" if r.peak_warehouse_connections is None else str(r.peak_warehouse_connections)
        wall_1000, cpu_1000 = r.at_1000()
        machine_per_tenant = float(r.extra.get("machine_cpu_s", 0.0)) / max(r.runs, 1)
        lines.append(
            f"| {r.tenants} | {r.backend} | {r.mode} | {r.max_concurrent_runs} | {r.pool_limit} "
            f"({r.pool_granularity}) | {r.launched_runs} | {r.succeeded}/{r.runs} | {r.steps_per_run:.1f} "
            f"| {r.wall_s:.1f} s | {r.cpu_per_run_s:.2f} s ({r.net_cpu_per_tenant_s:.2f} s) "
            f"| {r.idle_cpu_per_s:.2f} CPU s/s | {machine_per_tenant:.2f} s | {conns} "
            f"| {wall_1000:.1f} min, {cpu_1000:.1f} min "
            f"| {r.load_before}; {r.load_after} |"
        )
    commit = _commit()
    if commit:
        lines += ["", f"Commit `{commit}`; executor of the tenants' runs `{results[0].executor}`."]
    return "\n".join(lines) + "\n"


def _commit() -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        return out.stdout.strip()
    return ""


def yaml_pool_limit(home: Path) -> int | None:
    """The per-pool limit (``concurrency.pools.default_limit``) the benchmark's instance runs with."""
    import yaml

    config = yaml.safe_load((home / "dagster.yaml").read_text())
    return config.get("concurrency", {}).get("pools", {}).get("default_limit")


def run(quick: bool) -> str:
    """``benchmarks/run.py`` section: 20 tenants (5 with ``--quick``)."""
    return render(measure(5 if quick else 20, modes=(None, 25)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default=None)
    parser.add_argument("--max-concurrent-runs", type=int, default=4)
    parser.add_argument("--pool-limit", type=int, default=None, help="concurrency.pools.default_limit (dagster.yaml's)")
    parser.add_argument("--pool-granularity", choices=["op", "run"], default=None, help="concurrency.pools.granularity")
    parser.add_argument("--repeat", type=int, default=1, help="ticks to time one after another")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (daemon log)")
    parser.add_argument(
        "--mode",
        choices=["per-tenant", "batched", "both"],
        default="per-tenant",
        help="one run per tenant, batches of --batch-size tenants per launched run, or both in one session",
    )
    parser.add_argument("--batch-size", type=int, default=25, help="tenants per batch run (ECOM_TICK_BATCH_SIZE)")
    parser.add_argument(
        "--setup-in-batches",
        action="store_true",
        help="do the first full syncs as an untimed batched tick through the daemon (faster for many tenants)",
    )
    parser.add_argument("--write", action="store_true", help="replace the section in docs/benchmarks.md")
    args = parser.parse_args()
    results = measure(
        args.tenants,
        backend=args.backend,
        max_concurrent_runs=args.max_concurrent_runs,
        pool_limit=args.pool_limit,
        pool_granularity=args.pool_granularity,
        repeat=args.repeat,
        keep=args.keep,
        modes={"per-tenant": (None,), "batched": (args.batch_size,), "both": (None, args.batch_size)}[args.mode],
        setup_in_batches=args.setup_in_batches,
    )
    section = render(results)
    print(section)
    print("median tick wall time:", f"{statistics.median(r.wall_s for r in results):.1f} s")
    if args.write:
        write_section(HEADING, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
