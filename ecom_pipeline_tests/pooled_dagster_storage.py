"""dagster-postgres storage classes that keep one connection per storage instead of reconnecting per statement.

dagster-postgres builds its engines with ``NullPool`` (so a long-lived instance holds no connection), so every
storage call opens a new PostgreSQL connection: ~5,000 connects (17.6 s of 57 s, with a backend process started on
the server for each) in one run of ``test_demo.py``. Dagster's own webserver swaps in a ``pool_size=1`` engine
(``optimize_for_webserver``); these classes do the same from the start, for the tests' instances only (the
``dagster.yaml`` the ``dagster_home`` fixture writes). The SQL each storage runs is unchanged; only the connection
is reused. Overflow is unbounded (``max_overflow=-1``) so concurrent threads never wait on the pool, and a
connection inherited across ``fork`` is never reused by the child (it opens its own).

Every engine made here is remembered (weakly) so the conftest can close them all when a test ends, as it closes
the warehouse's: instances the CLI opens and never disposes would otherwise hold their connection until collected.
"""

from __future__ import annotations

import os
import weakref
from typing import Any

from dagster._serdes import ConfigurableClassData
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.run_storage import PostgresRunStorage
from dagster_postgres.schedule_storage import PostgresScheduleStorage
from dagster_postgres.utils import create_pg_engine, get_token_provider_from_config, pg_url_from_config
from sqlalchemy import Engine, event, exc

_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def _pooled_engine(url: str, token_provider: Any) -> Engine:
    """An AUTOCOMMIT engine holding one idle connection, that never hands a parent's connection to a child."""
    engine = create_pg_engine(url, token_provider, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=-1)

    @event.listens_for(engine, "connect")
    def _remember_pid(dbapi_connection: Any, record: Any) -> None:
        record.info["pid"] = os.getpid()

    @event.listens_for(engine, "checkout")
    def _refuse_inherited(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if record.info.get("pid") != os.getpid():
            record.dbapi_connection = proxy.dbapi_connection = None  # the parent's socket: never touch it
            raise exc.DisconnectionError("connection inherited across fork; reconnecting")

    _ENGINES.add(engine)
    return engine


def dispose_all() -> None:
    """Close the idle connections of every pooled engine of this process (the engines stay usable)."""
    for engine in list(_ENGINES):
        engine.dispose()


def _kwargs(config_value: Any) -> dict[str, Any]:
    return {
        "postgres_url": pg_url_from_config(config_value),
        "should_autocreate_tables": config_value.get("should_autocreate_tables", True),
        "token_provider": get_token_provider_from_config(config_value),
    }


class _Pooled:
    """What the three pooled storages share: their engine replaced by a pooled one, built from config, disposed."""

    postgres_url: str
    _token_provider: Any
    _engine: Engine

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._engine = _pooled_engine(self.postgres_url, self._token_provider)

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Any) -> Any:
        return cls(inst_data=inst_data, **_kwargs(config_value))

    def dispose(self) -> None:
        super().dispose()  # type: ignore[misc]
        self._engine.dispose()


class PooledPostgresRunStorage(_Pooled, PostgresRunStorage):
    """``PostgresRunStorage`` on one pooled connection."""


class PooledPostgresEventLogStorage(_Pooled, PostgresEventLogStorage):
    """``PostgresEventLogStorage`` on one pooled connection."""


class PooledPostgresScheduleStorage(_Pooled, PostgresScheduleStorage):
    """``PostgresScheduleStorage`` on one pooled connection."""
