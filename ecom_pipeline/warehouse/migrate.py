"""Bring a warehouse database to the current schema, safely from several processes at once.

Every entry point (Dagster resources, the CLI, the webhook receiver, tests) calls ``upgrade(url)`` before it
touches the warehouse, so in production several run workers may call it at the same moment. Without a lock two
of them would both see an empty ``alembic_version`` and both try ``CREATE TABLE``. On PostgreSQL a transaction
level advisory lock serializes them (DDL is transactional there, so the loser waits, then finds the schema at
head and does nothing); on SQLite an exclusive lock on a file next to the database does the same job.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import make_url

from ecom_pipeline.warehouse.engine import make_engine, normalize_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# A fixed 64-bit key for pg_advisory_xact_lock; derived from a name so it is stable and unlikely to clash.
_PG_LOCK_KEY = zlib.crc32(b"ecom_pipeline.warehouse.migrate")


def alembic_config() -> Config:
    """An Alembic config pointing at the packaged migrations, with no ini file needed at the repo root."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    """The newest revision shipped with this code."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations packaged"
    return head


@contextlib.contextmanager
def _sqlite_file_lock(url: str) -> Iterator[None]:
    """Hold an exclusive lock on ``<database>.migrate.lock`` (SQLite has no advisory locks)."""
    database = make_url(url).database
    if not database or database == ":memory:":
        yield
        return
    lock_path = Path(database).with_name(Path(database).name + ".migrate.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: single-user embedded use, no cross-process lock available here
        yield
        return
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the warehouse at ``url`` to ``revision``; a no-op when it is already there (safe to call always)."""
    url = normalize_url(url)
    engine = make_engine(url)
    cfg = alembic_config()
    try:
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                # Released at commit/rollback, so a crashed migrator never leaves the lock held.
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
        else:
            with _sqlite_file_lock(url), engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
    finally:
        engine.dispose()


def current(url: str) -> str | None:
    """The revision the database at ``url`` is at, or None when it has never been migrated."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
