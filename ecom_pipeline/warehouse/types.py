"""Column types that keep the hub's two promises on every backend: money is Decimal, time is UTC-aware.

SQLite has neither a decimal nor a time-zone-aware type: its NUMERIC affinity silently turns ``Decimal("0.10")``
into a binary float, and its DATETIME drops the offset. These decorators store money as canonical decimal text
and times as naive UTC on SQLite, and use NUMERIC / TIMESTAMPTZ on PostgreSQL, so Python code always sees
``Decimal`` and aware ``datetime`` whatever the backend.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class Money(TypeDecorator[Decimal]):
    """A Decimal amount: NUMERIC(20, 6) on PostgreSQL, exact decimal text on SQLite (never a float)."""

    impl = String(40)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(20, 6, asdecimal=True))
        return dialect.type_descriptor(String(40))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            # A float here means precision was already lost upstream; refuse rather than store a guess.
            raise TypeError(f"money must be Decimal or str, got float {value!r}")
        amount = Decimal(str(value))
        if dialect.name == "postgresql":
            return amount
        return format(amount, "f")

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp: TIMESTAMPTZ on PostgreSQL, naive-UTC text on SQLite.

    Binding a naive datetime is an error: a naive time from a shop is local time of unknown zone, and guessing
    is how hubs end up an hour off after a daylight-saving change.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected datetime, got {type(value).__name__}")
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given: hub timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, aware and in UTC (the only clock the hub uses)."""
    return datetime.now(UTC)
