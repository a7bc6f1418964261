"""Alembic environment for the warehouse.

``ecom_pipeline.warehouse.migrate.upgrade`` passes an open connection in ``config.attributes["connection"]`` (it
holds the migration lock on that connection, so the migration must run on the same one). Running the ``alembic``
command by hand with the ``alembic.ini`` next to this file also works: the URL then comes from
``ECOM_WAREHOUSE_URL`` (or the embedded default) through ``make_engine``, which sets the SQLite pragmas.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from ecom_pipeline.warehouse.engine import default_warehouse_url, make_engine
from ecom_pipeline.warehouse.schema import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table, so future migrations work there.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or default_warehouse_url()
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported: run against a database")
run_migrations_online()
