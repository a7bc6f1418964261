"""The page loop the WooCommerce and PrestaShop extracts share (``sync.extract.changed_items``), and the one
staging-row constructor.

Failures prevented: a record the hub already holds in this version staged again on every sync, a shop edit made
in the second of the link's reading skipped for its equal time, a record without
an id dropped (instead of staged for the transform to reject with its payload visible), an id not noted as seen
(it would become a tombstone), the cursor not moving to the page's newest (modified, id), and a staging row
carrying another shop's tenant.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from ecom_pipeline.sync.extract import (
    CursorKey,
    ExtractContext,
    ExtractReport,
    changed_items,
    cursor_json,
    finish_read,
    read_started_at,
    settled_before_of,
    stage_page,
    staged_record,
)
from ecom_pipeline.warehouse import store
from ecom_pipeline_tests.sync.helpers import T0, connect, link


def _context(engine: Engine, *, full_refresh: bool = False) -> ExtractContext:
    with engine.begin() as conn:
        integration_id = connect(conn)
        link(conn, integration_id, external_updated_at=T0)
        integration = store.get_integration(conn, integration_id)
    return ExtractContext(
        engine=engine, integration=integration, credentials={}, run_id=None, full_refresh=full_refresh
    )


ITEMS: list[dict[str, Any]] = [
    {"id": 1, "modified": T0},  # the hub holds this version
    {"id": "2", "modified": T0 + timedelta(minutes=1)},
    {"name": "no id", "modified": T0 + timedelta(hours=1)},
    {"id": 3, "modified": None},  # a time the transform will refuse
]


def test_the_page_loop_stages_what_changed_and_keeps_records_without_an_id(engine: Engine) -> None:
    ctx = _context(engine)
    report = ExtractReport(entity="product")
    seen: set[str] = set()
    changed, newest = changed_items(
        ctx, report, link_entity="product", items=ITEMS, seen=seen, record_time=lambda item: item["modified"],
        settled_before=T0 + timedelta(seconds=1),
    )  # fmt: skip
    assert [(c.external_id, c.updated) for c in changed] == [
        ("2", T0 + timedelta(minutes=1)),
        ("missing-id-4-2", T0 + timedelta(hours=1)),
        ("3", None),
    ]
    assert newest == CursorKey(T0 + timedelta(minutes=1), 2)  # a record without an id has no cursor position
    assert seen == {"1", "2", "3"}
    assert (report.pages, report.rows_fetched, report.unchanged) == (1, 4, 1)


def test_a_full_refresh_stages_even_the_versions_the_hub_holds(engine: Engine) -> None:
    ctx = _context(engine, full_refresh=True)
    report = ExtractReport(entity="product")
    changed, _ = changed_items(
        ctx, report, link_entity="product", items=ITEMS[:1], seen=set(), record_time=lambda item: item["modified"],
        settled_before=T0 + timedelta(seconds=1),
    )  # fmt: skip
    assert [c.external_id for c in changed] == ["1"] and report.unchanged == 0


@pytest.mark.parametrize("settled_before", [T0, None])
def test_an_equal_time_not_settled_when_last_read_is_staged_again(
    engine: Engine, settled_before: datetime | None
) -> None:
    """Prevents a shop edit made in the second of the link's reading (our push's read-back, or a poll that read
    the record in its own second) from being skipped: times have whole seconds, so the second edit keeps the time.
    Only a time before ``settled_before`` (the last read's start minus the lookback) is trusted; without one none."""
    ctx = _context(engine)
    report = ExtractReport(entity="product")
    changed, _ = changed_items(
        ctx, report, link_entity="product", items=ITEMS[:1], seen=set(), record_time=lambda item: item["modified"],
        settled_before=settled_before,
    )  # fmt: skip
    assert [c.external_id for c in changed] == ["1"] and report.unchanged == 0


def test_the_settled_time_is_the_last_reads_start_minus_the_lookback(engine: Engine) -> None:
    """Prevents a cursor without the read's start (a first read, or stored before the rule) from trusting times,
    and the stored cursor from losing when its read began."""
    lookback = timedelta(minutes=5)
    assert settled_before_of(None, lookback) is None
    assert settled_before_of({"modified": T0.isoformat(), "id": 1}, lookback) is None
    read_at = T0 + timedelta(hours=1)
    assert (
        settled_before_of({"modified": T0.isoformat(), "read_at": read_at.isoformat()}, lookback) == read_at - lookback
    )
    ctx = _context(engine)
    ctx.read_started = read_at
    stored = cursor_json(ctx, CursorKey(T0, 7), read_at=read_started_at(ctx))
    assert settled_before_of(stored, lookback) == read_at - lookback
    assert CursorKey.from_json(stored) == CursorKey(T0, 7)


def test_a_read_that_stops_partway_keeps_the_last_complete_reads_start(engine: Engine) -> None:
    """Prevents a read that died or hit its request budget after its first pages from storing its own start: the
    next read would trust the equal time of a recent record it never reached, and a merchant's edit made in that
    record's second would never be pulled. Page cursors carry the previous complete read's start; only a read that
    got to its end (``finish_read``) stores its own."""
    first = _context(engine)
    first.read_started = T0
    stage_page(first, entity="product", records=[], cursor=CursorKey(T0, 1), advance_cursor=True)
    finish_read(first, "product")
    with engine.connect() as conn:
        assert (store.get_cursor(conn, first.integration.id, "product") or {})["read_at"] == T0.isoformat()
    partial = _context(engine)
    partial.read_started = T0 + timedelta(hours=1)
    later = CursorKey(T0 + timedelta(minutes=50), 9)
    stage_page(partial, entity="product", records=[], cursor=later, advance_cursor=True)
    with engine.connect() as conn:
        cursor = store.get_cursor(conn, partial.integration.id, "product") or {}
    assert cursor["read_at"] == T0.isoformat()  # not the partial read's start
    assert CursorKey.from_json(cursor) == later  # the position still advances
    finish_read(partial, "product")
    with engine.connect() as conn:
        assert (store.get_cursor(conn, partial.integration.id, "product") or {})["read_at"] == (
            T0 + timedelta(hours=1)
        ).isoformat()


def test_a_staging_row_takes_tenant_integration_and_platform_from_its_shop(engine: Engine) -> None:
    integration = _context(engine).integration
    row = staged_record(integration, "order", "7", {"id": 7}, source_updated_at=T0)
    assert (row.tenant_id, row.integration_id, row.platform, row.entity, row.external_id, row.op) == (
        "acme",
        integration.id,
        "woocommerce",
        "order",
        "7",
        "upsert",
    )
    delete = staged_record(integration, "order", "7", None, op="delete")
    assert delete.payload is None and delete.op == "delete" and delete.source_updated_at is None


def test_a_lookback_of_zero_still_leaves_the_reads_own_seconds_unsettled() -> None:
    """Prevents ``lookback_seconds: 0`` from trusting the equal time of a record stamped in the very second the
    last read began (it was read within that second, and an edit later in it keeps the time)."""
    read_at = T0 + timedelta(hours=1)
    settled = settled_before_of({"read_at": read_at.isoformat()}, timedelta(0))
    assert settled is not None and settled <= read_at - timedelta(seconds=2)
