"""The inventory extract cuts staged product payloads down to their stock fields in SQL; it must give exactly what
the Python cut gives, or stock rows would differ by backend (and their hashes, so no-change syncs would write)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from ecom_pipeline.platforms.woocommerce import extract as wc
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.engine import make_engine
from ecom_pipeline.warehouse.schema import staging_records
from ecom_pipeline_tests.sync.helpers import connect

PAYLOADS: list[Any] = [
    {
        "product": {
            "id": 7,
            "parent_id": 0,
            "sku": 'Ä-1 "q"',
            "type": "variable",
            "status": "publish",
            "manage_stock": False,
            "stock_quantity": None,
            "stock_status": "instock",
            "date_modified_gmt": "2026-01-02T03:04:05",
            "description": "long text that is not kept",
            "images": [{"id": 1}],
        },
        "variations": [
            {"id": 8, "parent_id": 7, "sku": "", "manage_stock": True, "stock_quantity": 3, "attributes": [1]},
            {"id": 9, "manage_stock": "parent", "stock_quantity": 1.5, "stock_status": "onbackorder"},
        ],
    },
    {"product": {"id": 10, "type": "simple", "manage_stock": True, "stock_quantity": 0}, "variations": []},
    {"product": {"id": 11}},
    {"product": {"id": 12, "sku": {"odd": ["nested"]}}, "variations": None},
    {"product": None, "variations": [{"id": 1}]},
    {"variations": "not a list"},
    {},
]


@pytest.mark.parametrize("backend", ["warehouse", "sqlite"])
def test_stock_cut_in_sql_equals_the_python_cut(backend: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("warehouse_url" if backend == "warehouse" else "sqlite_warehouse_url")
    engine = make_engine(url)
    with engine.begin() as conn:
        iid = connect(conn)
        store.stage_records(
            conn,
            [
                store.StagedRecord("acme", iid, "woocommerce", "product", str(n), payload)
                for n, payload in enumerate(PAYLOADS)
            ],
            run_id="r",
        )
    with engine.connect() as conn:
        column = wc._stock_of_payload(conn.dialect.name)
        assert column.key == "stock"  # the SQL path, not the fallback
        got = [
            row.stock
            for row in conn.execute(select(column).select_from(staging_records).order_by(staging_records.c.id))
        ]
    engine.dispose()
    expected = [
        wc._stock_fields({} if p is None else p) if p.get("variations") != "not a list" else None for p in PAYLOADS
    ]
    # A non-list "variations" would crash the Python cut (it iterates a string); SQL keeps no variations there.
    expected[5] = {"product": dict.fromkeys(wc.STOCK_FIELDS), "variations": []}
    assert got == expected


def test_postgresql_casts_each_staged_payload_to_jsonb_once(warehouse_url: str) -> None:
    """Prevents the cut from parsing each product payload's text again at every ``->`` (the column is ``json``
    since migration 0016): the plan must hold the payload's cast to ``jsonb`` once, not once per place it is read
    (the planner pulls a plain one-row subquery up and copies the cast into each of them: 3-4 times the time)."""
    engine = make_engine(warehouse_url)
    if engine.dialect.name != "postgresql":
        pytest.skip("the cut is SQLite's json functions there")
    query = select(staging_records.c.id, wc._stock_of_payload("postgresql"))
    with engine.connect() as conn:
        sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
        plan = "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN (VERBOSE) {sql}"))
    engine.dispose()
    assert plan.count("payload)::jsonb") == 1, plan
