"""Which Admin API version the emulated shop serves for a requested one, as Shopify decides it.

Shopify releases a stable version each quarter (``YYYY-01/04/07/10``, on the first day of the month) and supports
it for 12 months. A request names its version in the URL:

- a supported version is served as itself;
- a retired one (older than 12 months) falls forward to the **oldest supported** version, and the response says
  which in ``X-Shopify-API-Version``; the request is not refused;
- the next quarter's version is served as a release candidate; ``unstable`` is served with every feature;
- anything else (a malformed name, a version further ahead) is 404.

"Today" is the real UTC date unless the shop sets ``ShopSpec.options["api_date"]`` (``YYYY-MM-DD``): the data
clock of a test often sits in the past, while the versions a client asks for are today's.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

VERSION_RE = re.compile(r"^(\d{4})-(01|04|07|10)$")
SUPPORT_MONTHS = 12


def _release(version: str) -> date | None:
    match = VERSION_RE.match(version)
    return date(int(match.group(1)), int(match.group(2)), 1) if match else None


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _name(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def supported(today: date) -> list[str]:
    """Stable versions served as themselves on ``today``, oldest first."""
    latest = date(today.year, ((today.month - 1) // 3) * 3 + 1, 1)
    found = [_add_months(latest, -3 * q) for q in range(SUPPORT_MONTHS // 3 + 1)]
    return sorted(_name(r) for r in found if _add_months(r, SUPPORT_MONTHS) > today)


def served_version(requested: str, today: date) -> str | None:
    """The version that answers a request for ``requested`` on ``today`` (None: 404)."""
    if requested == "unstable":
        return requested
    released = _release(requested)
    if released is None:
        return None
    versions = supported(today)
    if requested in versions:
        return requested
    if released <= today:
        return versions[0]  # retired: falls forward to the oldest supported version
    if released == _add_months(_release(versions[-1]) or today, 3):
        return requested  # the release candidate of the next quarter
    return None


def has_feature(version: str, since: str | None) -> bool:
    """Whether ``version`` (served) has what appeared in ``since`` (None: always)."""
    if since is None or version == "unstable":
        return True
    return version >= since


def calendar_date(option: str | date | None) -> date:
    """The emulated shop's idea of today for versioning (see module docstring)."""
    if isinstance(option, date):
        return option
    if option:
        return date.fromisoformat(str(option))
    return datetime.now(UTC).date()


__all__ = ["calendar_date", "has_feature", "served_version", "supported"]
