"""Engines for the warehouse: one function so every caller gets the same SQLite safety settings.

The embedded default is a single SQLite file shared by the Dagster run workers, the webhook receiver and the
CLI, all in different processes. WAL lets readers proceed during a write, and a busy timeout makes a writer wait
for the lock instead of failing with "database is locked". PostgreSQL needs neither.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from ecom_pipeline import jsoncodec

ENV_WAREHOUSE_URL = "ECOM_WAREHOUSE_URL"
SQLITE_BUSY_TIMEOUT_MS = 30_000


# Where the home folder comes from, first match wins. DAGSTER_HOME counts because the embedded default keeps the
# warehouse next to Dagster's storage: a daemon started with only DAGSTER_HOME must see the CLI's warehouse.
HOME_ENV_VARS: tuple[str, ...] = ("ECOM_PIPELINE_HOME", "DAGSTER_HOME")
USER_HOME_DIRNAME = ".ecom_pipeline"


def _source_checkout() -> Path | None:
    """The project checkout this package runs from (editable install or source tree), None for an installed copy."""
    root = Path(__file__).resolve().parents[2]
    if "site-packages" in root.parts or "dist-packages" in root.parts:
        return None
    try:
        pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return None
    return root if 'name = "ecom_pipeline"' in pyproject else None


def home_and_source() -> tuple[Path, str]:
    """The home folder and where that choice came from (``status`` prints both).

    Never relative to the current folder: a command run from another folder used to create an empty warehouse
    there and report "no integrations" as if the real one were empty.
    """
    for name in HOME_ENV_VARS:
        value = os.environ.get(name)
        if value:
            return Path(value).expanduser().resolve(), f"${name}"
    checkout = _source_checkout()
    if checkout is not None:
        return checkout / ".dagster_home", "the project checkout (ECOM_PIPELINE_HOME and DAGSTER_HOME unset)"
    return Path.home() / USER_HOME_DIRNAME, f"~/{USER_HOME_DIRNAME} (ECOM_PIPELINE_HOME and DAGSTER_HOME unset)"


def default_home() -> Path:
    """The folder that holds the embedded default (SQLite warehouse, Dagster home, secret key)."""
    return home_and_source()[0]


def default_warehouse_url() -> str:
    """The warehouse URL from ``ECOM_WAREHOUSE_URL``, else the embedded SQLite file under the home folder."""
    url = os.environ.get(ENV_WAREHOUSE_URL)
    if url:
        return url
    return f"sqlite:///{default_home() / 'warehouse.db'}"


def normalize_url(url: str) -> str:
    """Pin PostgreSQL URLs to psycopg2, the driver we ship (plain postgresql:// may pick psycopg 3)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(url: str, **pool_options: Any) -> Engine:
    """A new engine for ``url`` with the settings the warehouse relies on.

    ``pool_options`` override the PostgreSQL pool settings below (the webhook receiver sizes its own pool and
    skips the pre-ping round trip; see ``webhooks.app``); SQLite ignores them.
    """
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, json_deserializer=jsoncodec.loads
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # psycopg2 runs executemany() as one round trip per row; batch mode sends updates in pages instead
    # (inserts already use SQLAlchemy's insertmanyvalues).
    options: dict[str, Any] = {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 5, **pool_options}
    # libpq's own keepalive probes: a client whose server vanished gets an error instead of waiting for the OS's
    # two hours in the middle of a query.
    # Defaults only: a keepalive set in the URL's query (``?keepalives_idle=120``) or by the caller is kept.
    defaults = {k: v for k, v in CLIENT_KEEPALIVE.items() if k not in parsed.query}
    options["connect_args"] = {**defaults, **options.get("connect_args", {})}
    # JSON columns (staged payloads read back by the apply: ~140 MB for a 10,000-product shop) are decoded by
    # jsoncodec.loads: json.loads' values in about 60% of its time.
    engine = create_engine(url, executemany_mode="values_plus_batch", json_deserializer=jsoncodec.loads, **options)
    event.listen(engine, "connect", _server_keepalive)
    return engine


# How soon the server ends the session of a client host that vanished (no FIN: power loss, a lost node, a network
# partition), for every warehouse session, as ``locks.LOCK_KEEPALIVE`` does for the lock's own: probe after 30 s
# idle, every 10 s, 3 unanswered. Without it such a session keeps its open transaction, and the row locks and the
# tenant fence key it holds (``locks._barrier``), for the OS's two hours. Set with SET on each new connection rather
# than as a startup ``options`` parameter, which some poolers (PgBouncer) refuse.
WAREHOUSE_KEEPALIVE = {"tcp_keepalives_idle": 30, "tcp_keepalives_interval": 10, "tcp_keepalives_count": 3}
CLIENT_KEEPALIVE = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}


def _server_keepalive(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("; ".join(f"SET {name} = {value}" for name, value in WAREHOUSE_KEEPALIVE.items()))
    cur.close()
    # psycopg2 opened a transaction for the SETs (they stay: SET outside a rolled-back transaction is kept only
    # once committed).
    dbapi_conn.commit()


@cache
def shared_engine(url: str) -> Engine:
    """One engine per URL per process, so resources and CLI commands reuse a connection pool."""
    return make_engine(url)
