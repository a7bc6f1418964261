"""Test session set-up: a throwaway warehouse database (and Dagster storage) per session.

Under ``CI=true`` the warehouse and Dagster's storage are PostgreSQL, and a missing server is a failure, not a
skip. Off CI, PostgreSQL is used when it answers on ``ECOM_TEST_PG_URL`` (default 127.0.0.1:5432, user postgres)
and SQLite otherwise, and the session header says which. Only databases this session created are dropped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_ADMIN_URL = os.environ.get("ECOM_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


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


def _create_pg_database(name: str) -> str:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _drop_pg_database(name: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n AND pid <> pg_backend_pid()"
            ),
            {"n": name},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


class PgDatabases:
    """Creates throwaway PostgreSQL databases named after this session and drops only those."""

    def __init__(self) -> None:
        self.prefix = f"ecom_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.created: list[str] = []

    def new(self, label: str) -> str:
        name = f"{self.prefix}_{label}"
        url = _create_pg_database(name)
        self.created.append(name)
        return url

    def drop_all(self) -> None:
        for name in self.created:
            _drop_pg_database(name)


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


@pytest.fixture
def warehouse_url(pg_databases: PgDatabases | None, tmp_path: Path) -> str:
    """A fresh, empty, migrated warehouse for one test (PostgreSQL under CI, else maybe SQLite)."""
    from ecom_pipeline.warehouse.migrate import upgrade

    if pg_databases is not None:
        url = pg_databases.new(f"wh{uuid.uuid4().hex[:8]}")
    else:
        url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    upgrade(url)
    return url


@pytest.fixture
def sqlite_warehouse_url(tmp_path: Path) -> str:
    """A migrated SQLite warehouse whatever the backend: the embedded default must keep working too."""
    from ecom_pipeline.warehouse.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'embedded.db'}"
    upgrade(url)
    return url


@pytest.fixture
def dagster_home(pg_databases: PgDatabases | None, tmp_path: Path) -> Path:
    """A DAGSTER_HOME whose dagster.yaml points at PostgreSQL storage under CI, else local SQLite storage."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    if pg_databases is not None:
        url = make_url(pg_databases.new(f"dg{uuid.uuid4().hex[:8]}"))
        (home / "dagster.yaml").write_text(
            "storage:\n"
            "  postgres:\n"
            "    postgres_db:\n"
            "      scheme: postgresql+psycopg2\n"
            f"      username: {url.username}\n"
            f"      hostname: {url.host}\n"
            f"      port: {url.port or 5432}\n"
            f"      db_name: {url.database}\n"
            + (f"      password: {url.password}\n" if url.password else "")
            + "telemetry:\n  enabled: false\n"
        )
    else:
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return home
