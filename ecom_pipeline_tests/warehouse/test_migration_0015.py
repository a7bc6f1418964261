"""Migration 0015: the stock views count a shared pool as one unit, and a downgrade gives back 0009/0010's views."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from ecom_pipeline.warehouse import migrate
from ecom_pipeline.warehouse.engine import make_engine
from ecom_pipeline_tests.stock.test_stock_views_sql import TENANT, Shelf, build


def _to(url: str, revision: str, *, down: bool) -> None:
    cfg = migrate.alembic_config()
    engine = make_engine(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)
    engine.dispose()


def _numbers(url: str, shelf: Shelf) -> tuple[dict[str, int | None], dict[str, int], bool]:
    """``stock_on_hand`` at ``main`` per letter (None: no row), Shopify's ``stock_available`` on hand per letter,
    and whether ``stock_pool_members`` exists."""
    engine = make_engine(url)
    with engine.connect() as conn:
        hand = dict(
            conn.execute(
                text("SELECT variant_id, on_hand FROM stock_on_hand WHERE tenant_id = :t AND location = 'main'"),
                {"t": TENANT},
            ).all()
        )
        shopify = dict(
            conn.execute(
                text("SELECT variant_id, on_hand FROM stock_available WHERE tenant_id = :t AND integration_id = :s"),
                {"t": TENANT, "s": shelf.shops["sh"]},
            ).all()
        )
        members = "stock_pool_members" in inspect(conn).get_view_names()
    engine.dispose()
    by_letter = shelf.variants.items()
    return (
        {letter: (int(hand[vid]) if vid in hand else None) for letter, vid in by_letter},
        {letter: int(shopify[vid]) for letter, vid in by_letter},
        members,
    )


def test_upgrade_counts_pools_once_per_unit_and_downgrade_gives_the_old_views_back(backend_url: str) -> None:
    """Prevents an upgraded hub's views showing a pooled variant's own movements (B 10, C none, D -1 for a pool
    of 10 that sold 1), and a downgrade leaving the new views behind: at 0014 the views are per variant, at 0015
    per unit (9 on A to D), back at 0014 per variant again, and up again; on both backends."""
    url = backend_url
    _to(url, "0014", down=True)
    engine = make_engine(url)
    with engine.begin() as conn:
        shelf = build(conn)
    engine.dispose()
    old = ({"A": None, "B": 10, "C": None, "D": -1, "E": 3}, {"A": 0, "B": 10, "C": 0, "D": -1, "E": 3}, False)
    assert _numbers(url, shelf) == old
    migrate.upgrade(url)
    assert _numbers(url, shelf) == (
        {"A": 9, "B": 9, "C": 9, "D": 9, "E": 3},
        {"A": 9, "B": 9, "C": 9, "D": 9, "E": 3},
        True,
    )
    _to(url, "0014", down=True)
    assert _numbers(url, shelf) == old
    migrate.upgrade(url)
    assert migrate.current(url) == migrate.head_revision()


# What migration 0015 executes, as sha256 of its statements (drop, then create) per dialect.
_MIGRATION_0015_SQL = {
    "sqlite": "b6a912e53072aad05fa335fa8fff7d9554eb2b98c8dcd198ea40ccb52f833607",
    "postgresql": "7d66d9eedc0141dc8606877eaeee8c7b60e066b4253b961d7c755191981eb665",
}


def test_the_sql_migration_0015_runs_is_frozen() -> None:
    """Prevents an edit of ``stock/views.py`` from silently changing what migration 0015 (which imports it) creates
    on a new warehouse while existing warehouses keep the old views: a change of a view is a new migration, with
    0015's text kept (the module's docstring says how). Update these digests only together with such a migration."""
    import hashlib

    from ecom_pipeline.stock.views import create_statements, drop_statements

    for dialect, digest in _MIGRATION_0015_SQL.items():
        sql = "\n;\n".join([*drop_statements(), *create_statements(dialect)])
        assert hashlib.sha256(sql.encode()).hexdigest() == digest, dialect
