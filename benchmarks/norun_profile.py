"""What one no-change sync of one tenant costs, in process: CPU, Dagster events, SQL statements (issue 12).

A 1,000-tenant schedule tick must finish within its 30-minute interval on a 2-core machine, so a tenant's no-change
run must be cheap, and its cost must not grow with what the tenant accumulated (retained staging, hub size). This
script measures one tenant with one emulated WooCommerce shop (``SandboxServer``, in this process), fully synced
once, then ``--runs`` no-change ``runner.run_sync`` calls, on PostgreSQL (throwaway databases for the warehouse and
Dagster's storage) and SQLite (files in a temporary folder), in one session:

- CPU seconds per run: of the whole process (``process_time``: includes the emulator's thread answering the
  shop calls) and of the calling thread alone (``thread_time``: the in-process executor runs every step there, so
  this is the pipeline's own CPU).
- Dagster events per run: the run's event log entries (``instance.all_logs``), by type.
- SQL statements per run, counted with SQLAlchemy's ``before_cursor_execute`` on every engine, split into the
  warehouse engine (the URL the run writes to) and the rest (Dagster's own run/event storage). Connection
  pre-pings and SQLite pragmas are not statements SQLAlchemy executes, so they are not counted.
- Then ``--retained`` applied staging rows are added to the tenant (what 7 days of retained history of a large
  shop leave behind: a 10,000-product full sync stages ~43,000 rows), the no-change runs are timed again, and the
  hub's read of pending staging (``store.pending_staging``) is timed and its plan shown (``EXPLAIN ANALYZE`` on
  PostgreSQL, ``EXPLAIN QUERY PLAN`` on SQLite). When the pending-staging index (migration 0013) exists, the same
  is measured once more without it (dropped, then created again), so both plans come from one session.

    .venv/bin/python -m benchmarks.norun_profile                        # both backends, 5 runs, 5,000 retained rows
    .venv/bin/python -m benchmarks.norun_profile --backend sqlite --runs 3 --top 20

Figures are ratios within one session; absolute times depend on the machine's load (printed before and after).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import Engine, event, insert, select, text

from benchmarks.docs_section import write_section
from benchmarks.tick_bench import loadavg, machine, pg_available, pg_databases

ROOT = Path(__file__).resolve().parent.parent
TENANT = "norun"
OPEN_INDEX = "ix_staging_records_unapplied"  # migration 0013
# The retained rows are orders and customers: WooCommerce's inventory extract reads the staged products after its
# cursor, so made-up product rows would become (rejected) inventory work and the runs would no longer be no-change.
ENTITIES = ("order", "customer")
READ_ENTITY = "order"


def log(msg: str) -> None:
    print(f"[norun {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class StatementCounter:
    """SQL statements executed through SQLAlchemy, per engine kind, while ``counting`` is on.

    Listens on the ``Engine`` class, so it sees the warehouse's engines and Dagster's storage engines alike; an
    engine whose URL's database is the warehouse's counts as ``warehouse``, any other as ``dagster``.
    """

    def __init__(self, warehouse_db: str) -> None:
        self.warehouse_db = warehouse_db
        self.counts: Counter[str] = Counter()
        self.texts: Counter[str] = Counter()
        self.dagster_texts: Counter[str] = Counter()
        self.counting = False
        self._lock = threading.Lock()

    def __enter__(self) -> StatementCounter:
        event.listen(Engine, "before_cursor_execute", self._on_execute)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(Engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if not self.counting:
            return
        kind = "warehouse" if conn.engine.url.database == self.warehouse_db else "dagster"
        with self._lock:
            self.counts[kind] += 1
            (self.texts if kind == "warehouse" else self.dagster_texts)[" ".join(statement.split())[:110]] += 1

    @contextlib.contextmanager
    def window(self) -> Iterator[None]:
        self.counts.clear()
        self.texts.clear()
        self.dagster_texts.clear()
        self.counting = True
        try:
            yield
        finally:
            self.counting = False


@dataclass
class RunFigures:
    cpu_process_s: float
    cpu_thread_s: float
    wall_s: float
    events: int
    event_types: dict[str, int]
    warehouse_statements: int
    dagster_statements: int
    top_statements: list[tuple[str, int]] = field(default_factory=list)
    top_dagster_statements: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class PhaseFigures:
    label: str
    runs: list[RunFigures]
    pending_query_ms: float | None = None
    pending_plan: str = ""
    staging_rows: int = 0

    def median(self, name: str) -> float:
        return statistics.median(getattr(r, name) for r in self.runs)


@dataclass
class BackendFigures:
    backend: str
    phases: list[PhaseFigures]
    load_before: str
    load_after: str
    code: str


def _event_types(instance: Any, run_id: str) -> Counter[str]:
    types: Counter[str] = Counter()
    for entry in instance.all_logs(run_id):
        types[entry.dagster_event.event_type_value if entry.is_dagster_event else "LOG (context.log)"] += 1
    return types


def _one_run(instance: Any, counter: StatementCounter, top: int) -> RunFigures:
    from ecom_pipeline.runner import run_sync

    with counter.window():
        cpu0, thread0, t0 = time.process_time(), time.thread_time(), time.perf_counter()
        outcome = run_sync(TENANT, instance=instance, log_level="ERROR")
        wall = time.perf_counter() - t0
        cpu, thread_cpu = time.process_time() - cpu0, time.thread_time() - thread0
    if not outcome.success:
        raise RuntimeError(f"no-change run failed: {outcome.failure}")
    types = _event_types(instance, outcome.run_id)
    return RunFigures(
        cpu_process_s=cpu,
        cpu_thread_s=thread_cpu,
        wall_s=wall,
        events=sum(types.values()),
        event_types=dict(types),
        warehouse_statements=counter.counts["warehouse"],
        dagster_statements=counter.counts["dagster"],
        top_statements=counter.texts.most_common(top),
        top_dagster_statements=counter.dagster_texts.most_common(top),
    )


def pending_query(tenant: str, entity: str, limit: int = 500) -> Any:
    """The query ``store.pending_staging`` sends for a hub step (no ``integration_ids``), built here so the plan can
    be shown for code that predates any helper exposing it."""
    from ecom_pipeline.warehouse.schema import staging_records as s

    return (
        select(s)
        .where(s.c.tenant_id == tenant, s.c.entity == entity, s.c.applied_at.is_(None), s.c.id > 0)
        .order_by(s.c.id)
        .limit(limit)
    )


def _pending_read(engine: Engine, repeat: int = 20) -> tuple[float, str]:
    """Mean milliseconds of ``store.pending_staging`` (orders, first page) and the plan of its query."""
    from ecom_pipeline.warehouse import store

    with engine.connect() as conn:
        store.pending_staging(conn, tenant_id=TENANT, entity=READ_ENTITY, limit=500)  # warm the cache
        t0 = time.perf_counter()
        for _ in range(repeat):
            store.pending_staging(conn, tenant_id=TENANT, entity=READ_ENTITY, limit=500)
        ms = (time.perf_counter() - t0) / repeat * 1000
        compiled = pending_query(TENANT, READ_ENTITY).compile(engine, compile_kwargs={"literal_binds": True})
        if engine.dialect.name == "postgresql":
            rows = conn.execute(text(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {compiled}")).scalars()
            plan = "\n".join(str(r) for r in rows)
        else:
            plan = "\n".join(str(r[-1]) for r in conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
    return ms, plan


def _staging_rows(engine: Engine) -> int:
    from ecom_pipeline.warehouse.schema import staging_records

    with engine.connect() as conn:
        return int(conn.execute(select(text("count(*)")).select_from(staging_records)).scalar_one())


def _add_retained(engine: Engine, rows: int) -> None:
    """``rows`` applied staging rows of the tenant's shop (orders and customers), ~1 KB payload each."""
    from ecom_pipeline.warehouse.schema import integrations, staging_records
    from ecom_pipeline.warehouse.types import utcnow

    now = utcnow()
    payload = {"id": 0, "name": "retained", "description": "x" * 900}
    with engine.begin() as conn:
        integration_id = conn.execute(select(integrations.c.id).where(integrations.c.tenant_id == TENANT)).scalar_one()
        batch = []
        for i in range(rows):
            batch.append(
                {
                    "tenant_id": TENANT,
                    "integration_id": integration_id,
                    "platform": "woocommerce",
                    "entity": ENTITIES[i % len(ENTITIES)],
                    "external_id": f"retained-{i}",
                    "op": "upsert",
                    "payload": {**payload, "id": i},
                    "payload_hash": None,
                    "source_updated_at": now,
                    "fetched_at": now,
                    "dagster_run_id": "norun-retained",
                    "applied_at": now,
                }
            )
            if len(batch) == 1000:
                conn.execute(insert(staging_records), batch)
                batch = []
        if batch:
            conn.execute(insert(staging_records), batch)
    with engine.connect() as conn:
        conn.execute(text("ANALYZE staging_records" if engine.dialect.name == "postgresql" else "ANALYZE"))
        conn.commit()


def _cprofile(instance: Any, path: Path) -> None:
    """cProfile one more no-change run; the stats go to ``path`` and the top functions by own time to stdout."""
    import cProfile
    import pstats

    from ecom_pipeline.runner import run_sync

    profiler = cProfile.Profile()
    profiler.enable()
    run_sync(TENANT, instance=instance, log_level="ERROR")
    profiler.disable()
    profiler.dump_stats(str(path))
    stats = pstats.Stats(str(path))
    stats.sort_stats("cumulative").print_stats(40)
    log(f"  profile of one no-change run written to {path}")


def _has_open_index(engine: Engine) -> bool:
    from sqlalchemy import inspect

    return any(ix["name"] == OPEN_INDEX for ix in inspect(engine).get_indexes("staging_records"))


def _phase(label: str, instance: Any, engine: Engine, counter: StatementCounter, runs: int, top: int) -> PhaseFigures:
    figures = [_one_run(instance, counter, top) for _ in range(runs)]
    ms, plan = _pending_read(engine)
    phase = PhaseFigures(label, figures, ms, plan, _staging_rows(engine))
    log(
        f"  {label}: {phase.median('cpu_thread_s'):.2f} CPU s/run (thread; process "
        f"{phase.median('cpu_process_s'):.2f}), {phase.median('events'):.0f} events/run, "
        f"{phase.median('warehouse_statements'):.0f} warehouse + {phase.median('dagster_statements'):.0f} Dagster "
        f"statements/run, pending read {ms:.2f} ms over {phase.staging_rows} staging rows"
    )
    return phase


def profile(
    backend: str,
    *,
    runs: int,
    retained: int,
    products: int,
    orders: int,
    top: int,
    cprofile: Path | None = None,
) -> BackendFigures:
    """Set up one tenant with one emulated WooCommerce shop on ``backend``, sync it once, then measure."""
    import dagster as dg

    import ecom_pipeline
    from ecom_pipeline.cli import main as cli_main
    from ecom_pipeline.runner import run_sync
    from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
    from ecom_pipeline.warehouse.engine import shared_engine
    from ecom_pipeline.warehouse.migrate import upgrade

    work = Path(tempfile.mkdtemp(prefix="ecom-norun-"))
    home = work / "dagster_home"
    home.mkdir()
    suffix = uuid.uuid4().hex[:8]
    load_before = loadavg()
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, work, True)
        if backend == "postgresql":
            names = [f"ecom_norun_wh_{suffix}", f"ecom_norun_dg_{suffix}"]
            warehouse_url, dagster_url = stack.enter_context(pg_databases(*names))
            storage = f"storage:\n  postgres:\n    postgres_url: {dagster_url}\n"
            warehouse_db = names[0]
        else:
            warehouse_url = f"sqlite:///{work / 'warehouse.db'}"
            storage = ""
            warehouse_db = str(work / "warehouse.db")
        (home / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text() + "\n" + storage)
        os.environ.update(
            DAGSTER_HOME=str(home),
            ECOM_PIPELINE_HOME=str(work),
            ECOM_WAREHOUSE_URL=warehouse_url,
            ECOM_SECRET_KEY=Fernet.generate_key().decode(),
        )
        upgrade(warehouse_url)
        spec = ShopSpec(name="shop", seed=7, products=products, variable_share=0.3, orders=orders, customers=10)
        sandbox = stack.enter_context(
            SandboxServer(shops=[spec], host="127.0.0.1", http_port=0, https_port=0, cert_dir=work / "certs")
        )
        instance = stack.enter_context(dg.DagsterInstance.from_config(str(home)))
        info = sandbox.shop(spec.name)
        argv = ["--warehouse-url", warehouse_url, "connect", "woocommerce", "--tenant", TENANT]
        argv += ["--url", info.http_url, "--consumer-key", info.consumer_key]
        argv += ["--consumer-secret", info.consumer_secret, "--name", spec.name, "--timeout", "10"]
        if cli_main(argv) != 0:
            raise RuntimeError("connect failed")
        first = run_sync(TENANT, instance=instance, log_level="ERROR")
        if not first.success:
            raise RuntimeError(f"first sync failed: {first.failure}")
        engine = shared_engine(warehouse_url)
        phases: list[PhaseFigures] = []
        with StatementCounter(warehouse_db) as counter:
            _one_run(instance, counter, top)  # warm-up: first no-change run (caches, pool connections)
            log(f"{backend}: {runs} no-change runs of a {products}-product shop (code: {ecom_pipeline.__file__})")
            phases.append(_phase("after the full sync", instance, engine, counter, runs, top))
            if cprofile is not None:
                _cprofile(instance, cprofile.with_suffix(f".{backend}.prof"))
            _add_retained(engine, retained)
            phases.append(_phase(f"+{retained} applied staging rows", instance, engine, counter, runs, top))
            if _has_open_index(engine):
                with engine.begin() as conn:
                    conn.execute(text(f"DROP INDEX {OPEN_INDEX}"))
                phases.append(_phase(f"+{retained} rows, {OPEN_INDEX} dropped", instance, engine, counter, runs, top))
                from ecom_pipeline.warehouse.schema import staging_records

                index = next(ix for ix in staging_records.indexes if ix.name == OPEN_INDEX)
                index.create(engine)
        engine.dispose()
    return BackendFigures(backend, phases, load_before, loadavg(), str(Path(ecom_pipeline.__file__).parent))


HEADING = "## No-change run of one tenant: CPU, Dagster events, SQL statements"


def render(results: list[BackendFigures], top: int) -> str:
    """The markdown section for docs/benchmarks.md (figures, then the plans, event types and top statements)."""
    lines = [
        HEADING,
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine()} by "
        "`benchmarks/norun_profile.py`: one tenant with one emulated WooCommerce shop (in this process), fully "
        "synced once, then no-change `run_sync` calls (median of the runs of each phase). CPU: the calling "
        "thread's (every step runs there) and the whole process's (with the emulator's thread). Statements: "
        "SQLAlchemy `before_cursor_execute` on the warehouse engine and, apart, on Dagster's storage engines. "
        "The pending_staging read is `store.pending_staging` of a hub step (orders, first page); the retained "
        "rows are applied orders and customers.",
        "",
        "| warehouse | phase | staging rows | CPU s/run (thread; process) | wall s/run | Dagster events/run "
        "| warehouse statements/run | Dagster storage statements/run | pending_staging read (ms) "
        "| load before; after |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for b in results:
        for p in b.phases:
            lines.append(
                f"| {b.backend} | {p.label} | {p.staging_rows} | {p.median('cpu_thread_s'):.2f}; "
                f"{p.median('cpu_process_s'):.2f} | {p.median('wall_s'):.2f} | {p.median('events'):.0f} "
                f"| {p.median('warehouse_statements'):.0f} | {p.median('dagster_statements'):.0f} "
                f"| {p.pending_query_ms:.2f} | {b.load_before}; {b.load_after} |"
            )
    for b in results:
        for p in b.phases:
            lines += ["", f"### {b.backend}, {p.label}: pending_staging plan", "", "```", p.pending_plan, "```"]
        last = b.phases[0].runs[-1]
        lines += ["", f"### {b.backend}: event types of one no-change run", ""]
        lines += [f"- {k}: {v}" for k, v in sorted(last.event_types.items(), key=lambda kv: -kv[1])]
        if top:
            lines += ["", f"### {b.backend}: top {top} warehouse statements of one no-change run", ""]
            lines += [f"- {n} x `{s}`" for s, n in last.top_statements]
            lines += ["", f"### {b.backend}: top {top} Dagster storage statements of one no-change run", ""]
            lines += [f"- {n} x `{s}`" for s, n in last.top_dagster_statements]
    return "\n".join(lines) + "\n"


def run(quick: bool) -> str:
    """``benchmarks/run.py`` section: both warehouses (3 runs and 2,000 retained rows with ``quick``)."""
    backends = ["postgresql", "sqlite"] if pg_available() else ["sqlite"]
    runs, retained = (3, 2000) if quick else (5, 5000)
    results = [profile(b, runs=runs, retained=retained, products=20, orders=20, top=10) for b in backends]
    return render(results, 10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--runs", type=int, default=5, help="no-change runs per phase (median reported)")
    parser.add_argument("--retained", type=int, default=5000, help="applied staging rows added for the 2nd phase")
    parser.add_argument("--products", type=int, default=20)
    parser.add_argument("--orders", type=int, default=20)
    parser.add_argument("--top", type=int, default=15, help="most frequent warehouse statements to list")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw figures here")
    parser.add_argument("--write", action="store_true", help="replace the section in docs/benchmarks.md")
    parser.add_argument("--cprofile", type=Path, default=None, help="cProfile one run to <path>.<backend>.prof")
    args = parser.parse_args()
    backends = ["postgresql", "sqlite"] if args.backend == "both" else [args.backend]
    if "postgresql" in backends and not pg_available():
        log("PostgreSQL does not answer: SQLite only")
        backends = [b for b in backends if b != "postgresql"]
    results = [
        profile(
            b,
            runs=args.runs,
            retained=args.retained,
            products=args.products,
            orders=args.orders,
            top=args.top,
            cprofile=args.cprofile,
        )
        for b in backends
    ]
    section = render(results, args.top)
    print(section)
    if args.write:
        write_section(HEADING, section)
    if args.json:
        from dataclasses import asdict

        args.json.write_text(json.dumps([asdict(r) for r in results], indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
