"""Test session set-up: a throwaway warehouse database (and Dagster storage) per test, copied from a template.

Under ``CI=true`` the warehouse and Dagster's storage are PostgreSQL, and a missing server is a failure, not a
skip. Off CI, PostgreSQL is used when it answers on ``ECOM_TEST_PG_URL`` (default 127.0.0.1:5432, user postgres)
and SQLite otherwise, and the session header says which. Only databases this session created are dropped.

Every test still gets its own database, but migrating one from scratch (Alembic, every revision) and letting
dagster-postgres create its tables cost seconds per test. So each session migrates one template database per
kind, once, and every test gets a copy: ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL, a file copy on SQLite.
A copy is byte-for-byte the migrated database, so a test sees exactly what ``upgrade()`` produces. A released
copy is dropped in the background, ``DROP_BATCH`` at a time, while the session goes on.

The ``dagster_home`` instances on PostgreSQL keep one connection per storage (``pooled_dagster_storage.py``)
instead of dagster-postgres's connection per call; tests about that pooling itself opt out with
``@pytest.mark.dagster_unpooled_storage``.

Tests that run a real Dagster instance (they ask for ``dagster_home``), everything under ``integration/`` and the
stock world's end-to-end tests are marked ``slow``: ``make test-fast`` skips them for the inner loop, ``make test``
runs everything.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, NullPool, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

PG_ADMIN_URL = os.environ.get("ECOM_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
DROP_ATTEMPTS = 15
# Connections that drop the session's databases at its end (drops waiting together share one checkpoint).
DROP_WORKERS = 8
# Released test databases are dropped in the background, this many at a time (one shared checkpoint), while the
# session goes on; ECOM_TEST_DROP_BATCH=0 keeps them all for the session's end instead (for comparison).
DROP_BATCH = int(os.environ.get("ECOM_TEST_DROP_BATCH", "12"))


def _pg_available() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any driver/network error means "not available"
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"


_PG_PROBLEM = _pg_available()
if os.environ.get("ECOM_TEST_BACKEND") == "sqlite" and not ON_CI:
    BACKEND = "sqlite"
elif _PG_PROBLEM is None:
    BACKEND = "postgresql"
elif ON_CI:
    BACKEND = "missing-postgresql"
else:
    BACKEND = "sqlite"


def pytest_report_header(config: pytest.Config) -> list[str]:
    if BACKEND == "postgresql":
        return [f"ecom_pipeline: warehouse and Dagster storage on PostgreSQL ({make_url(PG_ADMIN_URL).host})"]
    if BACKEND == "sqlite":
        why = f" (PostgreSQL unavailable: {_PG_PROBLEM})" if _PG_PROBLEM else ""
        return [f"ecom_pipeline: falling back to SQLite for warehouse and Dagster storage{why}"]
    return [f"ecom_pipeline: CI=true but PostgreSQL is unavailable: {_PG_PROBLEM}"]


def _admin_engine() -> Engine:
    """An AUTOCOMMIT engine on the admin database (CREATE/DROP DATABASE cannot run in a transaction)."""
    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)


def _pg_url(name: str) -> str:
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


class PgDatabases:
    """Creates throwaway PostgreSQL databases named after this session and drops only those."""

    def __init__(self) -> None:
        self.prefix = f"ecom_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.created: list[str] = []
        self.admin = _admin_engine()
        self._released: list[str] = []  # released, not yet handed to the background drop
        self._dropping: list[tuple[str, Future[bool]]] = []
        self._background: ThreadPoolExecutor | None = None

    def new(self, label: str, *, template: str | None = None) -> str:
        """The URL of a new database ``<prefix>_<label>``, empty or a copy of ``template`` (a database name)."""
        name = f"{self.prefix}_{label}"
        sql = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
        with self.admin.connect() as conn:
            if template:
                # A template must have no other session; ours are closed, but a backend may still be exiting.
                self._terminate(conn, template)
            conn.execute(text(sql))
        self.created.append(name)
        return _pg_url(name)

    def release(self, url: str) -> None:
        """Close every connection to a test's database once the test is done, keeping the database itself.

        Test code caches engines per URL (``shared_engine``) and Dagster keeps its own pool, so without this each
        finished test would hold a few server connections until the session ends, and a long session (or a few
        sessions side by side) runs into PostgreSQL's ``max_connections``. Dropping the database here instead
        would cost a forced checkpoint per test (seconds on a busy server); the session drops them all at the end.
        """
        from ecom_pipeline.warehouse.engine import shared_engine
        from ecom_pipeline_tests.pooled_dagster_storage import dispose_all

        shared_engine(url).dispose()
        dispose_all()
        try:
            with self.admin.connect() as conn:
                self._terminate(conn, str(make_url(url).database))
        except OperationalError:
            pass  # the server is full right now: the session-end drop closes them anyway; not this test's failure
        self._drop_in_background(str(make_url(url).database))

    def _drop_in_background(self, name: str) -> None:
        """Queue a released database for dropping; every ``DROP_BATCH`` of them are dropped together meanwhile.

        A ``DROP DATABASE`` waits for a forced checkpoint, and drops waiting together share one; batching keeps that
        to one checkpoint per batch. Dropping during the session rather than at its end takes the drops off the
        end of every worker's run (60 drops cost 14-29 s there on a loaded server, 2026-12-05), runs them while
        the tests run (they wait on the server's disk, the tests on the CPU), and lets the server discard a
        dropped database's dirty pages instead of writing them at a later checkpoint.
        """
        if DROP_BATCH <= 0:
            return
        self._released.append(name)
        if len(self._released) < DROP_BATCH:
            return
        if self._background is None:
            self._background = ThreadPoolExecutor(DROP_BATCH, thread_name_prefix="drop-db-bg")
        batch, self._released = self._released, []
        self._dropping += [(n, self._background.submit(self._drop, n)) for n in batch]

    @staticmethod
    def _terminate(conn: Connection, name: str) -> None:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n AND pid <> pg_backend_pid()"
            ),
            {"n": name},
        )

    def drop_all(self) -> None:
        """Drop what this session created, several at a time, waiting out a server that is momentarily at
        ``max_connections`` (other sessions on the same server) instead of leaving every database behind.

        On PostgreSQL 15 every ``DROP DATABASE`` waits for a forced checkpoint; one after the other, the ~1,200
        databases of a whole-suite run cost 273 and 287 s of teardown on the two workers of ``-n 2`` (2026-12-04,
        a loaded machine: 2.4 s a drop; charged to whichever test ran last). Drops that wait at the same time share
        a checkpoint: 30 drops over 12 connections took 5.6 s there, 12 over 6 took 1.5 s, against 28.5 s for 12
        one after the other. So ``DROP_WORKERS`` connections drop them.
        """
        if self._background is not None:
            self._background.shutdown(wait=True)
        done = {name for name, future in self._dropping if future.result()}
        names = [name for name in self.created if name not in done]
        with ThreadPoolExecutor(DROP_WORKERS, thread_name_prefix="drop-db") as pool:
            dropped = list(pool.map(self._drop, names))
        self.created = [name for name, ok in zip(names, dropped, strict=True) if not ok]
        self.admin.dispose()
        if self.created:
            raise RuntimeError(f"could not drop {len(self.created)} test database(s), e.g. {self.created[0]}")

    def _drop(self, name: str) -> bool:
        """Drop one database (closing its sessions), retrying while the server has no free connection."""
        for attempt in range(DROP_ATTEMPTS):
            try:
                with self.admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                return True
            except OperationalError:
                if attempt < DROP_ATTEMPTS - 1:
                    time.sleep(2)
        return False


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PgDatabases | None]:
    if BACKEND == "missing-postgresql":
        pytest.fail(f"CI=true requires PostgreSQL at {PG_ADMIN_URL}: {_PG_PROBLEM}", pytrace=False)
    if BACKEND != "postgresql":
        yield None
        return
    dbs = PgDatabases()
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def session_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ecom")


def _copy_sqlite(template: Path, target: Path) -> str:
    """Copy a migrated SQLite file (WAL already checkpointed into it) and return the copy's URL."""
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


@pytest.fixture(scope="session")
def sqlite_warehouse_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite warehouse migrated to head once per session, fully checkpointed so a file copy is complete."""
    from ecom_pipeline.warehouse.migrate import upgrade

    path = tmp_path_factory.mktemp("templates") / "warehouse.db"
    upgrade(f"sqlite:///{path}")
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture(scope="session")
def pg_warehouse_template(pg_databases: PgDatabases | None) -> str | None:
    """The name of a PostgreSQL warehouse migrated to head once per session (None off PostgreSQL)."""
    from ecom_pipeline.warehouse.migrate import upgrade

    if pg_databases is None:
        return None
    url = pg_databases.new("whtemplate")
    upgrade(url)
    return make_url(url).database


@pytest.fixture
def warehouse_url(pg_databases: PgDatabases | None, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated warehouse of its own for one test (PostgreSQL under CI, else maybe SQLite)."""
    if pg_databases is None:
        yield _copy_sqlite(request.getfixturevalue("sqlite_warehouse_template"), tmp_path / "warehouse.db")
        return
    template = request.getfixturevalue("pg_warehouse_template")
    url = pg_databases.new(f"wh{uuid.uuid4().hex[:8]}", template=template)
    yield url
    pg_databases.release(url)


@pytest.fixture
def sqlite_warehouse_url(sqlite_warehouse_template: Path, tmp_path: Path) -> str:
    """A migrated SQLite warehouse whatever the backend: the embedded default must keep working too."""
    return _copy_sqlite(sqlite_warehouse_template, tmp_path / "embedded.db")


@pytest.fixture(params=["warehouse_url", "sqlite_warehouse_url"])
def backend_url(request: pytest.FixtureRequest) -> str:
    """A fresh warehouse on each backend in turn: the suite's backend (``warehouse_url``), then embedded SQLite.

    SQL that only one dialect accepts must fail a test whatever backend the session runs on, so the store and sync
    tests run on both. The ids stay ``[warehouse_url]`` / ``[sqlite_warehouse_url]``."""
    return str(request.getfixturevalue(request.param))


@pytest.fixture
def engine(backend_url: str) -> Iterator[Engine]:
    """An engine on ``backend_url`` (so a test asking for it runs on both backends), disposed after the test.

    A module that needs another engine (one backend only, or the shared engine) defines its own ``engine``."""
    from ecom_pipeline.warehouse.engine import make_engine

    eng = make_engine(backend_url)
    yield eng
    eng.dispose()


# The tests' Dagster instances keep a connection per storage (``pooled_dagster_storage``) instead of dagster-postgres's
# connect-per-statement; ECOM_TEST_DAGSTER_POOL=0 gives them dagster-postgres's own classes (for comparison).
DAGSTER_POOL = os.environ.get("ECOM_TEST_DAGSTER_POOL", "1") != "0"
_POOLED_STORAGES = {
    "run_storage": "PooledPostgresRunStorage",
    "event_log_storage": "PooledPostgresEventLogStorage",
    "schedule_storage": "PooledPostgresScheduleStorage",
}


def _pg_dagster_yaml(url: str, *, pooled: bool = DAGSTER_POOL) -> str:
    parsed = make_url(url)
    db = (
        "postgres_db:\n"
        "  scheme: postgresql+psycopg2\n"
        f"  username: {parsed.username}\n"
        f"  hostname: {parsed.host}\n"
        f"  port: {parsed.port or 5432}\n"
        f"  db_name: {parsed.database}\n" + (f"  password: {parsed.password}\n" if parsed.password else "")
    )
    if not pooled:
        storage = "storage:\n  postgres:\n" + "".join(f"    {line}\n" for line in db.splitlines())
    else:
        storage = "".join(
            f"{key}:\n  module: ecom_pipeline_tests.pooled_dagster_storage\n  class: {cls}\n  config:\n"
            + "".join(f"    {line}\n" for line in db.splitlines())
            for key, cls in _POOLED_STORAGES.items()
        )
    return storage + "telemetry:\n  enabled: false\n"


@pytest.fixture(scope="session")
def pg_dagster_template(pg_databases: PgDatabases | None, tmp_path_factory: pytest.TempPathFactory) -> str | None:
    """The name of a PostgreSQL database holding Dagster's storage tables, created once per session."""
    import dagster as dg

    if pg_databases is None:
        return None
    url = pg_databases.new("dgtemplate")
    home = tmp_path_factory.mktemp("dagster_template")
    (home / "dagster.yaml").write_text(_pg_dagster_yaml(url))
    # Opening an instance creates and stamps the run, event log and schedule storage tables.
    dg.DagsterInstance.from_config(str(home)).dispose()
    return make_url(url).database


@pytest.fixture
def dagster_home(pg_databases: PgDatabases | None, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """A DAGSTER_HOME whose dagster.yaml points at PostgreSQL storage under CI, else local SQLite storage."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    if pg_databases is None:
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        yield home
        return
    template = request.getfixturevalue("pg_dagster_template")
    url = pg_databases.new(f"dg{uuid.uuid4().hex[:8]}", template=template)
    # A test about how our code copes with dagster-postgres's own connect-per-call storage gets that storage.
    pooled = DAGSTER_POOL and request.node.get_closest_marker("dagster_unpooled_storage") is None
    (home / "dagster.yaml").write_text(_pg_dagster_yaml(url, pooled=pooled))
    yield home
    pg_databases.release(url)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark as ``slow`` every test that runs a Dagster instance (asks for ``dagster_home``) or is end-to-end: under
    ``integration/``, or in ``stock/`` on the three-shop stock world (its ``world`` fixture: three emulators over
    HTTP, connected and pulled, 1.5-5 s a test). Other heavy tests carry ``@pytest.mark.slow`` themselves."""
    tests_root = Path(__file__).resolve().parent
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        try:
            top = item.path.resolve().relative_to(tests_root).parts[0]
        except ValueError:
            top = ""
        end_to_end = top == "integration" or (top == "stock" and "world" in fixtures)
        if "dagster_home" in fixtures or end_to_end:
            item.add_marker(pytest.mark.slow)
