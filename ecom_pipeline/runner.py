"""Running the sync job on a real Dagster instance from scripts (CLI ``sync``, ``demo``, tests, benchmarks).

Runs go through ``DagsterInstance`` like runs launched from the UI, so they appear in the UI's run list with
their metadata, partitions and checks; ``execute_in_process`` only saves the process launch.

An in-process run has no run worker that Dagster's run monitoring could watch: if its process is killed, the run
stays STARTED and keeps the pool slots its steps held (with a pool limit of 2, two ``kill -9`` stall every later
sync of that platform, for every tenant). So each run records the process that executes it (``ecom/pid``,
``ecom/pid_started``, ``ecom/host``), and before each sync :func:`reap_dead_runs` fails the runs whose process on
this host is gone and frees their slots, plus the slots still held by runs that already ended.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine, make_url

from ecom_pipeline.assets.extract import extract_op_name
from ecom_pipeline.jobs import SYNC_JOB_NAME, tenant_sync_selection
from ecom_pipeline.partitions import TENANTS_PARTITION_NAME
from ecom_pipeline.platforms.registry import platforms
from ecom_pipeline.run_status import FINISHED_STATUSES
from ecom_pipeline.warehouse.engine import default_home, default_warehouse_url, shared_engine

TAG_LAUNCHED_BY = "ecom/launched_by"
TAG_PID = "ecom/pid"
TAG_PID_STARTED = "ecom/pid_started"
TAG_HOST = "ecom/host"
ENDED_RUN_SLOT_GRACE_S = 30
logger = logging.getLogger(__name__)
# Runs that may still be executing: the statuses a dead in-process run can be left in.
UNFINISHED = [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]

REPO_DAGSTER_YAML = Path(__file__).resolve().parent.parent / "dagster.yaml"
FALLBACK_DAGSTER_YAML = "telemetry:\n  enabled: false\n"


def ensure_dagster_home() -> Path:
    """Set ``DAGSTER_HOME`` (default: the embedded home folder) and give it a dagster.yaml if it has none."""
    home = Path(os.environ.get("DAGSTER_HOME") or default_home()).resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        if REPO_DAGSTER_YAML.exists():
            shutil.copyfile(REPO_DAGSTER_YAML, config)
        else:
            config.write_text(FALLBACK_DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def get_instance() -> dg.DagsterInstance:
    ensure_dagster_home()
    return dg.DagsterInstance.get()


def _sqlite_storage_places(instance: dg.DagsterInstance) -> tuple[set[str], set[str]]:
    """(files, folders) of the instance's SQLite storage: the run and schedule databases, and the folder of the
    event log's per-run shards; empty when the storage is not SQLite (PostgreSQL: nothing to tune)."""
    files: set[str] = set()
    folders: set[str] = set()
    for storage in (instance.run_storage, instance.schedule_storage, instance.event_log_storage):
        conn_string = getattr(storage, "_conn_string", None)
        if isinstance(conn_string, str) and conn_string.startswith("sqlite"):
            database = make_url(conn_string).database
            if database:
                files.add(os.path.realpath(database))
        base_dir = getattr(storage, "_base_dir", None)
        if isinstance(base_dir, str) and type(storage).__module__.startswith("dagster._core.storage.event_log.sqlite"):
            folders.add(os.path.realpath(base_dir))
    return files, folders


# How often the held Dagster SQLite databases' WAL is checkpointed (dagster_sqlite_tuned): the delay before a UI
# watching a run's shard sees its new events.
CHECKPOINT_EVERY_S = 0.5


@contextmanager
def dagster_sqlite_tuned(instance: dg.DagsterInstance) -> Iterator[dict[str, sqlite3.Connection]]:
    """While it is open, the Dagster instance's own SQLite databases (runs, schedules, event log shards; never the
    warehouse) commit without an fsync each, and stay open between Dagster's statements.

    Dagster's SQLite storage opens a new connection (``NullPool``) for every event it stores and commits each one:
    a run of ``sync_job`` is ~320 commits and ~360 connections. Its databases are in WAL mode with SQLite's default
    ``synchronous=FULL``, so each commit waits for an fsync, and closing the last connection to a database
    checkpoints the WAL, two more fsyncs: ~700 fsyncs a run, 1-3.5 ms each on this machine's disk, ~1-2 s of a
    no-change sync's 2 s of wall that is neither our CPU nor the shop's (docs/benchmarks.md, PrestaShop).

    Here every new connection to one of those databases in WAL mode gets ``PRAGMA synchronous=NORMAL`` (SQLite:
    "WAL mode is always consistent with synchronous=NORMAL"; a commit is durable once the WAL is checkpointed: a
    process crash loses nothing, a power cut or OS crash may roll back the events of the last moments, never
    corrupt the database), and one extra idle connection per database is held open (it holds no lock), so that
    closing Dagster's connections does not checkpoint the WAL each time; SQLite still checkpoints every 1,000
    pages, and on close of the last connection when this ends. A database not in WAL mode (a shard not yet created)
    is left as it is. Yields the held connections (path -> connection), for tests.

    The Dagster UI follows a run live by watching its shard file (``<run_id>.db``) for modifications; with the WAL
    never checkpointed, that file would not change until the run ends and a UI open on the run would show nothing
    new. So a thread checkpoints every held database's WAL (``PASSIVE``: it never blocks Dagster's writers) every
    ``CHECKPOINT_EVERY_S`` when it grew: the UI sees the run's events within that, and the fsyncs are off the run's
    path.
    """
    files, folders = _sqlite_storage_places(instance)
    held: dict[str, sqlite3.Connection] = {}
    if not files and not folders:
        yield held
        return
    lock = threading.Lock()

    def tune(dbapi_connection: Any, _record: Any) -> None:
        if not isinstance(dbapi_connection, sqlite3.Connection):
            return
        rows = dbapi_connection.execute("PRAGMA database_list").fetchall()
        path = next((str(r[2]) for r in rows if r[1] == "main" and r[2]), None)
        if path is None:
            return
        path = os.path.realpath(path)
        if path not in files and os.path.dirname(path) not in folders:
            return
        if str(dbapi_connection.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
            return
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")
        with lock:
            if path not in held:
                keeper = sqlite3.connect(path, check_same_thread=False)
                # A read opens the WAL for this connection too (a connection that never read does not count as one
                # of the WAL's), and ends at once: the connection holds no lock afterwards.
                keeper.execute("SELECT count(*) FROM sqlite_master").fetchone()
                held[path] = keeper

    stop = threading.Event()

    def checkpoint() -> None:
        while not stop.wait(CHECKPOINT_EVERY_S):
            with lock:
                for connection in held.values():
                    try:
                        # (busy, WAL frames, frames checkpointed): nothing to do when the WAL is empty.
                        connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    except sqlite3.Error as exc:  # a busy or vanished database: the next round tries again
                        logger.debug("checkpoint of Dagster's SQLite storage failed: %s", exc)

    checkpointer = threading.Thread(target=checkpoint, name="dagster-sqlite-checkpoint", daemon=True)
    sa_event.listen(Engine, "connect", tune)
    checkpointer.start()
    try:
        yield held
    finally:
        sa_event.remove(Engine, "connect", tune)
        stop.set()
        checkpointer.join()
        with lock:
            for connection in held.values():
                connection.close()
            held.clear()


@dataclass
class SyncOutcome:
    tenant: str
    run_id: str
    success: bool
    failure: str | None
    materializations: dict[str, dict[str, Any]]


def process_start_ticks(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), to tell it from a later process that
    reuses its pid; None where /proc is not available or the process does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: fields after the last ")" are fixed.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def process_tags() -> dict[str, str]:
    """Tags that identify the process executing an in-process run, for :func:`reap_dead_runs`."""
    pid = os.getpid()
    tags = {TAG_PID: str(pid), TAG_HOST: socket.gethostname()}
    started = process_start_ticks(pid)
    if started is not None:
        tags[TAG_PID_STARTED] = started
    return tags


def _process_gone(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # exists, owned by someone else
    if started is not None:
        now = process_start_ticks(pid)
        return now is not None and now != started  # the pid was reused by another process
    return False


def reap_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Fail the unfinished runs whose recorded process on this host is gone, and free their pool slots.

    Also frees the slots still held by runs that already ended (the daemon's run monitoring does the same after
    ``free_slots_after_run_end_seconds``, but the embedded default may have no daemon running). Returns the ids
    of the runs it failed. Runs of other hosts, and runs without process tags, are left alone: their process
    cannot be checked from here.
    """
    host = socket.gethostname()
    failed: list[str] = []
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=UNFINISHED, tags={TAG_HOST: host}))
    for run in runs:
        try:
            pid = int(run.tags.get(TAG_PID, ""))
        except ValueError:
            continue
        started = run.tags.get(TAG_PID_STARTED)
        if pid == os.getpid() and started == process_start_ticks(pid):
            continue  # a run of this very process (a sensor evaluated in process, a script's earlier run)
        if pid != os.getpid() and not _process_gone(pid, started):
            continue
        current = instance.get_run_by_id(run.run_id)
        if current is None or current.is_finished:
            continue
        instance.report_run_failed(
            current,
            f"The process that executed this run (pid {pid} on {host}) is gone: it was killed or crashed. "
            "Marked failed, and its pool slots freed, by ecom_pipeline's dead-run check (before a CLI sync, and in "
            "dead_runs_sensor). Whatever it had committed is kept; the next sync resumes from the stored cursors.",
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        failed.append(run.run_id)
        logger.warning(
            "run %s (tenant %s) was left STARTED by a process that is gone (pid %s on %s): marked failed, and its "
            "pool slots freed",
            run.run_id,
            run.tags.get("dagster/partition", "?"),
            pid,
            host,
        )
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        holders = storage.get_concurrency_run_ids()
        if holders:
            # The same grace as the daemon's free_slots_after_run_end_seconds: a run that just ended may still be
            # releasing its own slots.
            ended_before = datetime.now(UTC) - timedelta(seconds=ENDED_RUN_SLOT_GRACE_S)
            for record in instance.get_run_records(
                filters=dg.RunsFilter(
                    run_ids=list(holders), statuses=list(FINISHED_STATUSES), updated_before=ended_before
                )
            ):
                storage.free_concurrency_slots_for_run(record.dagster_run.run_id)
    return failed


def ensure_pools(instance: dg.DagsterInstance, pools: Sequence[str]) -> None:
    """Create the pools' limits (from the instance's default) before steps claim slots.

    Dagster creates a pool's limit on first use; two runs starting at once on a fresh PostgreSQL instance both
    insert it and one fails its step with a unique violation. Creating them here first (a lost race is fine: the
    winner's row is what we wanted) keeps concurrent first syncs from failing.
    """
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits or instance.global_op_concurrency_default_limit is None:
        return
    missing = set(pools) - storage.get_concurrency_keys()
    for pool in sorted(missing):
        try:
            storage.initialize_concurrency_limit_to_default(pool)
        except Exception:
            if pool not in storage.get_concurrency_keys():
                raise


def sync_run_config(
    defs: dg.Definitions,
    *,
    full_refresh: bool,
    lookback_seconds: int | None = None,
    log_level: str | None = None,
    asset_selection: Sequence[dg.AssetKey] | None = None,
) -> dict[str, Any]:
    """Run config that sets the extract steps' options (full refresh, lookback) and the console log level.

    The options go to each platform's extract step (``extract.extract_op_name``: one step per platform); with
    ``asset_selection``, only to the steps of the selected extract assets (config for an op outside the run's
    selection is an error).
    """
    extract_ops = {extract_op_name(name) for name in platforms()}
    if asset_selection is not None:
        extract_ops &= {defs.resolve_assets_def(key).op.name for key in asset_selection}
    job = defs.resolve_job_def(SYNC_JOB_NAME)
    ops: dict[str, Any] = {}
    for node in job.graph.node_defs:
        if node.name not in extract_ops:
            continue
        config: dict[str, Any] = {"full_refresh": full_refresh}
        if lookback_seconds is not None:
            config["lookback_seconds"] = lookback_seconds
        ops[node.name] = {"config": config}
    run_config: dict[str, Any] = {"ops": ops}
    if log_level:
        run_config["loggers"] = {"console": {"config": {"log_level": log_level}}}
    return run_config


def _warehouse_url(defs: dg.Definitions) -> str:
    """The URL of the warehouse resource the definitions run with (the default resolves it from the env)."""
    resource = (defs.resources or {}).get("warehouse")
    resolved = getattr(resource, "resolved_url", None)
    return resolved() if callable(resolved) else default_warehouse_url()


def run_sync(
    tenant: str,
    *,
    instance: dg.DagsterInstance | None = None,
    full_refresh: bool = False,
    lookback_seconds: int | None = None,
    defs: dg.Definitions | None = None,
    log_level: str | None = None,
    tags: Mapping[str, str] | None = None,
    reap: bool = True,
) -> SyncOutcome:
    """Run ``sync_job`` for one tenant partition and collect each asset's materialization metadata.

    The run selects the extract assets of the tenant's platforms only (see ``sync_asset_selection``); runs of
    this host whose process died are failed and their pool slots freed first (:func:`reap_dead_runs`; ``reap``
    False skips that, for a caller that already did it once for many tenants). ``tags`` are added to the run's
    (they may replace ``ecom/launched_by``, never the process tags the dead-run check relies on).
    """
    if defs is None:
        from ecom_pipeline.definitions import defs as default_defs

        defs = default_defs
    instance = instance or get_instance()
    with dagster_sqlite_tuned(instance):
        return _run_sync(
            tenant,
            instance=instance,
            full_refresh=full_refresh,
            lookback_seconds=lookback_seconds,
            defs=defs,
            log_level=log_level,
            tags=tags,
            reap=reap,
        )


def _run_sync(
    tenant: str,
    *,
    instance: dg.DagsterInstance,
    full_refresh: bool,
    lookback_seconds: int | None,
    defs: dg.Definitions,
    log_level: str | None,
    tags: Mapping[str, str] | None,
    reap: bool,
) -> SyncOutcome:
    if reap:
        reap_dead_runs(instance)
    if not instance.has_dynamic_partition(TENANTS_PARTITION_NAME, tenant):
        instance.add_dynamic_partitions(TENANTS_PARTITION_NAME, [tenant])
    # The tenant's platforms, read from the warehouse the run's own resource will write to.
    with shared_engine(_warehouse_url(defs)).connect() as conn:
        selection = tenant_sync_selection(conn, tenant)
    job = defs.resolve_job_def(SYNC_JOB_NAME)
    ensure_pools(
        instance,
        sorted({pool for key in selection if (pool := defs.resolve_assets_def(key).op.pool)}),
    )
    result = job.execute_in_process(
        instance=instance,
        partition_key=tenant,
        run_config=sync_run_config(
            defs,
            full_refresh=full_refresh,
            lookback_seconds=lookback_seconds,
            log_level=log_level,
            asset_selection=selection,
        ),
        raise_on_error=False,
        asset_selection=selection,
        tags={TAG_LAUNCHED_BY: "cli", **(tags or {}), **process_tags()},
    )
    materializations: dict[str, dict[str, Any]] = {}
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        materializations[mat.asset_key.to_user_string()] = {k: v.value for k, v in mat.metadata.items()}
    failure = None
    failed_checks = [
        f"{evaluation.asset_check_key.asset_key.to_user_string()}: {evaluation.description}"
        for event in result.all_events
        if event.event_type_value == "ASSET_CHECK_EVALUATION"
        and isinstance(evaluation := event.event_specific_data, dg.AssetCheckEvaluation)
        and not evaluation.passed
        and evaluation.severity == dg.AssetCheckSeverity.ERROR
    ]
    if failed_checks:
        # A shop that could not be read fails its platform's ERROR check rather than the run (the other shops
        # still reach the hub); for scripts, that still means the sync did not fully succeed.
        failure = "\n".join(failed_checks)
    if not result.success:
        messages = [
            str(e.event_specific_data.error.message).strip()  # type: ignore[union-attr]
            for e in result.all_events
            if e.is_step_failure and e.event_specific_data is not None
        ]
        failure = "\n".join([*messages, *failed_checks]) or "the run failed (see the Dagster UI for the logs)"
    return SyncOutcome(tenant, result.run_id, result.success and not failed_checks, failure, materializations)
