"""SQLite's bulk writes bind aware times by ``isoformat`` (issue 12): the very text ``UTCDateTime`` gave.

A time stored as another text would sort and compare differently in SQL (``source_updated_at`` decides which
staged version is newest, ``synced_at`` which rows a run wrote), so the fast path must give byte for byte the text
of the column type's own bind processing, and refuse what it refused, with the same error.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.dialects import sqlite

from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.schema import entity_links, hub_orders, staging_records
from ecom_pipeline.warehouse.types import UTCDateTime

ZONES = [
    UTC,
    timezone(timedelta(0)),
    ZoneInfo("UTC"),
    timezone(timedelta(hours=5, minutes=30)),
    timezone(-timedelta(hours=11, minutes=15, seconds=7)),
    ZoneInfo("Europe/Paris"),
    ZoneInfo("America/New_York"),
    ZoneInfo("Australia/Lord_Howe"),
]
EDGES: list[Any] = [
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))),  # before year 1 in UTC: both overflow
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 0, tzinfo=timezone(-timedelta(hours=2))),
    datetime(5, 3, 1, 2, 3, 4, tzinfo=UTC),
    datetime(2026, 3, 29, 2, 30, tzinfo=ZoneInfo("Europe/Paris")),  # a time that does not exist
    datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Paris")),  # the repeated hour
    datetime(2026, 1, 2, 3, 4, 5),  # naive: refused
    date(2026, 1, 2),
    "2026-01-02 03:04:05",
    None,
]


def _outcome(process: Any, value: Any) -> Any:
    try:
        return process(value)
    except Exception as exc:  # the very error is what is compared
        return (type(exc), str(exc))


@pytest.mark.parametrize(
    "column", [staging_records.c.fetched_at, entity_links.c.external_updated_at, hub_orders.c.placed_at]
)
def test_the_fast_time_text_is_the_column_types_text(column: Any) -> None:
    dialect = sqlite.dialect()
    assert isinstance(column.type, UTCDateTime)
    own = column.type._cached_bind_processor(dialect)
    fast = store._bind_processor(column.type, dialect)
    rng = random.Random(7)
    values = [
        (datetime(1970, 1, 1) + timedelta(seconds=rng.randint(-6 * 10**10, 6 * 10**10), microseconds=micro)).replace(
            tzinfo=rng.choice(ZONES), fold=rng.randint(0, 1)
        )
        for micro in (rng.choice([0, rng.randint(0, 999_999)]) for _ in range(50_000))
    ]
    for value in [*values, *EDGES]:
        assert _outcome(fast, value) == _outcome(own, value), value


def test_an_aware_time_skips_the_type_decorator(monkeypatch: pytest.MonkeyPatch) -> None:
    """The saving itself: an aware time does not go through ``UTCDateTime.process_bind_param``."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("process_bind_param called")

    monkeypatch.setattr(UTCDateTime, "process_bind_param", refuse)
    fast = store._bind_processor(UTCDateTime(), sqlite.dialect())  # a new type: its processor is built patched
    assert fast(datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)) == "2026-01-02 03:04:05.000006"
    paris = datetime(2026, 7, 1, 12, tzinfo=ZoneInfo("Europe/Paris"))
    assert fast(paris) == "2026-07-01 10:00:00.000000"
