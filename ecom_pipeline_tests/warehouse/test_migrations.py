"""Migrations: the migrated database is exactly ``schema.metadata`` on both backends, and upgrade is re-runnable."""

from __future__ import annotations

import multiprocessing
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, insert, inspect, select

from ecom_pipeline.warehouse import migrate
from ecom_pipeline.warehouse.engine import make_engine
from ecom_pipeline.warehouse.schema import hub_products, hub_variants, metadata
from ecom_pipeline.warehouse.types import utcnow


def _diffs(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(ctx, metadata))
    finally:
        engine.dispose()


def _hub_product(conn: Connection, title: str, now: datetime) -> int:
    """A hub product of tenant ``t``; its id."""
    return int(
        conn.execute(
            insert(hub_products)
            .values(tenant_id="t", title=title, status="active", synced_at=now)
            .returning(hub_products.c.id)
        ).scalar_one()
    )


def test_migrated_schema_equals_metadata_so_code_and_tables_never_drift(backend_url: str) -> None:
    """A migration that forgot a column/index/type (e.g. Money as float) would show up here as a diff."""
    url = backend_url
    assert _diffs(url) == []
    assert migrate.current(url) == migrate.head_revision()
    names = set(inspect(make_engine(url)).get_table_names())
    assert set(metadata.tables) <= names


def test_upgrade_twice_is_a_no_op_so_every_entry_point_can_call_it(backend_url: str) -> None:
    """Every process calls upgrade on start; a second call must not fail on existing tables or lose data."""
    url = backend_url
    engine = make_engine(url)
    with engine.begin() as conn:
        pid = _hub_product(conn, "Kept", utcnow())
    migrate.upgrade(url)
    migrate.upgrade(url)
    with engine.connect() as conn:
        assert conn.execute(select(hub_products.c.title).where(hub_products.c.id == pid)).scalar_one() == "Kept"
    engine.dispose()
    assert _diffs(url) == []


def test_current_is_none_before_the_first_migration(tmp_path: Path) -> None:
    """``current`` lets the CLI tell an empty database from a migrated one."""
    assert migrate.current(f"sqlite:///{tmp_path / 'empty.db'}") is None


def _upgrade_in_child(url: str) -> None:
    migrate.upgrade(url)


@pytest.mark.slow  # four spawned processes migrating one fresh database at once, on SQLite and on PostgreSQL
def test_concurrent_upgrades_do_not_both_create_tables(warehouse_url: str, tmp_path: Path) -> None:
    """Two workers starting at once must serialize on the migration lock instead of failing on CREATE TABLE."""
    urls = [f"sqlite:///{tmp_path / 'race.db'}"]
    if make_engine(warehouse_url).dialect.name == "postgresql":
        # A second fresh PostgreSQL database: the session fixture made the first one already migrated.
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        admin = create_engine(warehouse_url, isolation_level="AUTOCOMMIT")
        name = make_url(warehouse_url).database + "_race"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        urls.append(make_url(warehouse_url).set(database=name).render_as_string(hide_password=False))
    try:
        for url in urls:
            ctx = multiprocessing.get_context("spawn")
            procs = [ctx.Process(target=_upgrade_in_child, args=(url,)) for _ in range(4)]
            for p in procs:
                p.start()
            for p in procs:
                p.join(120)
            assert [p.exitcode for p in procs] == [0, 0, 0, 0], url
            assert migrate.current(url) == migrate.head_revision()
    finally:
        if len(urls) > 1:
            from sqlalchemy import create_engine, text
            from sqlalchemy.engine import make_url

            admin = create_engine(warehouse_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(urls[1]).database}"'))
            admin.dispose()


def test_money_round_trips_exactly_and_naive_times_are_refused(backend_url: str) -> None:
    """SQLite's NUMERIC would turn 0.10 into a binary float; a naive time would be silently shifted."""
    url = backend_url
    engine = make_engine(url)
    now = utcnow()
    with engine.begin() as conn:
        pid = _hub_product(conn, "P", now)
        conn.execute(
            insert(hub_variants).values(
                tenant_id="t",
                product_id=pid,
                sku="S",
                price=Decimal("0.10"),
                compare_at_price=Decimal("19.99"),
                synced_at=now,
            )
        )
    with engine.connect() as conn:
        price, compare_at, synced = conn.execute(
            select(hub_variants.c.price, hub_variants.c.compare_at_price, hub_variants.c.synced_at)
        ).one()
    assert isinstance(price, Decimal) and price == Decimal("0.10")
    assert compare_at == Decimal("19.99")
    assert (price * 3) == Decimal("0.30")  # would be 0.30000000000000004 had it gone through a float
    assert synced.tzinfo is not None and synced == now.replace(microsecond=synced.microsecond)
    with pytest.raises(Exception, match="naive datetime"), engine.begin() as conn:
        conn.execute(
            insert(hub_products).values(tenant_id="t", title="P", status="active", synced_at=now.replace(tzinfo=None))
        )
    with pytest.raises(Exception, match="float"), engine.begin() as conn:
        conn.execute(insert(hub_variants).values(tenant_id="t", product_id=pid, price=0.1, synced_at=now))
    engine.dispose()
