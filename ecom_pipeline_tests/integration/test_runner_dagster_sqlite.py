"""The runner's tuning of the Dagster instance's own SQLite storage (``runner.dagster_sqlite_tuned``): no fsync per
commit and no WAL checkpoint per closed connection during a run, on Dagster's databases only, and a run still fully
recorded."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine

from ecom_pipeline.runner import dagster_sqlite_tuned, get_instance, run_sync
from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline_tests.integration.conftest import OpenTenant

TENANT = "initech"
SYNC_NORMAL, SYNC_FULL = 1, 2


@pytest.fixture
def sqlite_instance(dagster_home: Path, monkeypatch: pytest.MonkeyPatch) -> dg.DagsterInstance:
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    instance = get_instance()
    if not type(instance.event_log_storage).__module__.startswith("dagster._core.storage.event_log.sqlite"):
        pytest.skip("the test instance's storage is not SQLite")
    return instance


def _synchronous(conn: Any) -> int:
    return int(conn.execute(text("PRAGMA synchronous")).scalar_one())


def test_dagster_storage_commits_without_fsync_and_keeps_its_wal_only_while_tuned(
    sqlite_instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    """Prevents each of Dagster's ~700 storage commits and connection closes of a run from waiting for the disk
    (fsync), and prevents the tuning from reaching any other SQLite database (the warehouse) or outliving the run."""
    storage = sqlite_instance.event_log_storage
    index_db = Path(storage._base_dir) / "index.db"  # type: ignore[attr-defined]
    other = create_engine(f"sqlite:///{tmp_path / 'warehouse.db'}")
    with other.connect() as conn:
        conn.execute(text("PRAGMA journal_mode=WAL"))
    with storage.index_connection() as conn:
        assert _synchronous(conn) == SYNC_FULL
    assert not Path(f"{index_db}-wal").exists()  # the last connection's close checkpointed and removed the WAL

    with dagster_sqlite_tuned(sqlite_instance) as held:
        with storage.index_connection() as conn:
            assert _synchronous(conn) == SYNC_NORMAL
        with sqlite_instance.run_storage.connect() as conn:  # type: ignore[attr-defined]
            assert _synchronous(conn) == SYNC_NORMAL
        assert os.path.realpath(index_db) in held
        # Dagster's connection is closed, the held one is not: no checkpoint, the WAL stays for the next event.
        assert Path(f"{index_db}-wal").exists()
        with other.connect() as conn:
            assert _synchronous(conn) == SYNC_FULL  # not Dagster's: left alone
        connections = list(held.values())

    assert held == {}
    for connection in connections:
        with pytest.raises(sqlite3.ProgrammingError):
            connection.execute("SELECT 1")  # closed
    with storage.index_connection() as conn:
        assert _synchronous(conn) == SYNC_FULL
    assert not Path(f"{index_db}-wal").exists()
    other.dispose()


@pytest.fixture
def presta(open_tenant: OpenTenant) -> Iterator[tuple[SandboxServer, dg.DagsterInstance]]:
    spec = ShopSpec(name="presta", seed=3, products=6, variable_share=0.5, orders=5, customers=3, platform="prestashop")
    with open_tenant(spec, tenant=TENANT, secret_env={"ECOM_PRESTASHOP_API_KEY": "api_key"}) as connected:
        yield connected


def test_run_sync_writes_dagster_storage_without_fsync_and_the_run_is_fully_recorded(
    presta: tuple[SandboxServer, dg.DagsterInstance],
) -> None:
    """Prevents run_sync from paying an fsync per Dagster event again, and the tuning from losing what the UI
    shows of a run: its record, status, partition, tags and every asset materialization."""
    _, instance = presta
    if not type(instance.event_log_storage).__module__.startswith("dagster._core.storage.event_log.sqlite"):
        pytest.skip("the test instance's storage is not SQLite")
    base = os.path.realpath(instance.event_log_storage._base_dir)  # type: ignore[attr-defined]
    seen: list[int] = []

    def checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if not isinstance(dbapi_connection, sqlite3.Connection):
            return
        path = next(str(r[2]) for r in dbapi_connection.execute("PRAGMA database_list") if r[1] == "main")
        if path and os.path.dirname(os.path.realpath(path)) == base and path.endswith("index.db"):
            seen.append(int(dbapi_connection.execute("PRAGMA synchronous").fetchone()[0]))

    sa_event.listen(Engine, "checkout", checkout)
    try:
        outcome = run_sync(TENANT, instance=instance)
    finally:
        sa_event.remove(Engine, "checkout", checkout)
    assert outcome.success, outcome.failure
    assert seen and set(seen) == {SYNC_NORMAL}, seen

    fresh = dg.DagsterInstance.get()  # a new instance reads what was committed, as the UI does
    run = fresh.get_run_by_id(outcome.run_id)
    assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
    assert run.tags["dagster/partition"] == TENANT and run.tags["ecom/launched_by"] == "cli"
    records = fresh.get_records_for_run(outcome.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
    recorded = {r.event_log_entry.asset_materialization.asset_key.to_user_string() for r in records}  # type: ignore[union-attr]
    assert recorded == set(outcome.materializations)
    assert "prestashop/products" in recorded and "hub/orders" in recorded


def test_a_ui_watching_the_run_sees_its_events_while_tuned(sqlite_instance: dg.DagsterInstance) -> None:
    """Prevents the tuning from freezing a Dagster UI open on a run launched by the CLI: the UI follows a run by
    watching its shard file (``<run_id>.db``) for modifications, which a WAL never checkpointed would not make until
    the run ends (review 2, h-psoverlap). The held databases are checkpointed every ``CHECKPOINT_EVERY_S``."""
    import logging
    import time

    from dagster._core.events.log import EventLogEntry
    from dagster._core.utils import make_new_run_id

    def entry(run_id: str, message: str) -> EventLogEntry:
        return EventLogEntry(
            error_info=None,
            level=logging.INFO,
            user_message=message,
            run_id=run_id,
            timestamp=time.time(),
            step_key=None,
            job_name="sync_job",
            dagster_event=None,
        )

    storage = sqlite_instance.event_log_storage
    run_id = make_new_run_id()
    storage.store_event(entry(run_id, "first"))  # the run's shard exists (the run has started)
    seen: list[str | None] = []

    def handler(event: EventLogEntry, _cursor: Any) -> None:
        seen.append(event.user_message)

    storage.watch(run_id, None, handler)
    try:
        time.sleep(0.5)
        with dagster_sqlite_tuned(sqlite_instance):
            storage.store_event(entry(run_id, "second"))
            deadline = time.monotonic() + 5
            while "second" not in seen and time.monotonic() < deadline:
                time.sleep(0.1)
            during = list(seen)
    finally:
        storage.end_watch(run_id, handler)
    assert "second" in during, f"a watcher of the run saw {during} up to 5 s after the event was stored"
