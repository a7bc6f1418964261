"""PrestaShop's shop-local wall-clock dates <-> aware UTC, correct across daylight-saving changes.

PrestaShop stores and filters every date as the shop's local wall time (``YYYY-MM-DD HH:MM:SS``, no offset; the
recorded store runs ``Europe/Paris``). Two wall times are special:

- **Ambiguous** (the autumn hour that happens twice): we read it as the *earlier* instant (``fold=0``, still on
  summer time). A record then looks up to one hour older than it is, never newer, so a cursor built from it errs
  towards re-reading (deduplicated downstream) rather than skipping.
- **Nonexistent** (the spring hour that is skipped): PHP/MySQL only produce it from bad input, but if it comes we
  shift it forward by the gap (02:30 on the spring-forward day in Paris reads as 03:30 CEST), which is what PHP's
  DateTime does too.

Filters go the other way (UTC cursor -> local wall time). Wall time is not monotonic: after an autumn change, a
later instant can have an earlier wall time. :func:`local_filter_floor` therefore returns the *smallest* wall time
of any instant at or after the cursor, so ``date_upd >= floor`` can never miss a record changed after the cursor.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PS_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
ZERO_DATES = frozenset({"", "0000-00-00", "0000-00-00 00:00:00"})
# Far enough to cover any DST offset change (the largest in use is 1 h; a few historic ones were 2 h).
_MAX_DST_JUMP = timedelta(hours=3)
_STEP = timedelta(minutes=1)


def shop_zone(name: str | None) -> ZoneInfo:
    """The IANA zone of a shop; a clear ValueError when it is missing or unknown (never a silent UTC)."""
    if not name:
        raise ValueError("the shop's time zone is not set (PrestaShop dates are shop-local; set settings.timezone)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}: expected an IANA name such as Europe/Paris") from None


def local_to_utc(value: str, zone: ZoneInfo) -> datetime | None:
    """``"2026-11-22 01:03:53"`` (shop-local) -> aware UTC; zero dates -> None. Raises ValueError on bad text.

    ``fold=0`` picks the earlier instant of an ambiguous wall time; for a nonexistent one Python applies the
    offset in force before the gap, which moves the time forward by the gap (see the module docstring).
    """
    text = value.strip()
    if text in ZERO_DATES or text.startswith("0000-00-00"):
        return None
    if len(text) == 10:
        text += " 00:00:00"
    naive = _fixed_width(text) or datetime.strptime(text, PS_DATETIME_FORMAT)
    return naive.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _fixed_width(text: str) -> datetime | None:
    """``YYYY-MM-DD HH:MM:SS`` exactly (ASCII digits, every field two digits, the year four), parsed as strptime
    parses it with :data:`PS_DATETIME_FORMAT`, 15 times faster (the hub step reads 50,000 dates for 10,000
    orders); None for any other text, which strptime reads (or refuses) as before."""
    if len(text) != 19 or not text.isascii() or text[4] != "-" or text[7] != "-" or text[10] != " ":
        return None
    if text[13] != ":" or text[16] != ":":
        return None
    parts = (text[0:4], text[5:7], text[8:10], text[11:13], text[14:16], text[17:19])
    if not all(part.isdigit() for part in parts):
        return None
    year, month, day, hour, minute, second = (int(part) for part in parts)
    return datetime(year, month, day, hour, minute, second)  # out-of-range fields: ValueError, as strptime


def utc_to_local(moment: datetime, zone: ZoneInfo) -> datetime:
    """Aware datetime -> naive shop-local wall time."""
    if moment.tzinfo is None:
        raise ValueError(f"utc_to_local needs a timezone-aware datetime, got naive {moment!r}")
    return moment.astimezone(zone).replace(tzinfo=None, fold=0)


def format_local(wall: datetime) -> str:
    return wall.strftime(PS_DATETIME_FORMAT)


def local_filter_floor(since: datetime, zone: ZoneInfo) -> datetime:
    """The smallest shop-local wall time of any instant at or after ``since`` (aware), to second resolution.

    Normally that is just ``since`` in local time. When an autumn change follows within the size of the jump
    (e.g. since = 02:30 CEST, and at 03:00 CEST the clocks go back to 02:00 CET), records changed after the cursor
    carry wall times as low as 02:00, so the floor is 02:00. Changes further away cannot produce a wall time below
    ``since``'s, which is why scanning a few hours is enough.
    """
    start = since.astimezone(UTC)
    floor = utc_to_local(start, zone)
    moment = start
    end = start + _MAX_DST_JUMP
    while moment < end:
        moment += _STEP
        wall = utc_to_local(moment, zone)
        if wall < floor:
            floor = wall
    return floor.replace(microsecond=0)


__all__ = [
    "PS_DATETIME_FORMAT",
    "ZERO_DATES",
    "format_local",
    "local_filter_floor",
    "local_to_utc",
    "shop_zone",
    "utc_to_local",
]
