"""Shopify Admin API versions: the release calendar as a rule, and what it means for a pinned integration.

The rule (shopify.dev, "API versioning"): a stable version is released every quarter, on the first day of January,
April, July and October, named ``YYYY-MM``, and is supported for 12 months. A request to a retired version is not
refused: Shopify answers it with the **oldest supported** version and says so in the ``X-Shopify-Api-Version``
response header ("falling forward"). A version that falls forward silently changes behaviour (e.g. 2026-01 made
``bulkOperationRunQuery(groupObjects:)`` default to false), so an integration keeps its pinned version in
``settings["api_version"]``, records the version actually served in ``settings["shopify"]`` on every sync, and
says so (``status``, run metadata, the ``shopify_api_version`` asset check) 90 days before retirement and after.

The features table names the version in which each behaviour the connector depends on appeared; the client reads
it for the version the shop *served* (not the one asked for).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

DEFAULT_API_VERSION = "2026-04"
SUPPORT_MONTHS = 12
WARN_DAYS = 90
RELEASE_MONTHS = (1, 4, 7, 10)
VERSION_RE = re.compile(r"^(\d{4})-(01|04|07|10)$")

# Behaviour that appeared in a version (inclusive). Read with ``has_feature(served_version, name)``.
FEATURES: dict[str, str] = {
    # bulkOperationRunQuery(groupObjects:) exists (default true) ...
    "group_objects_argument": "2025-10",
    # ... and defaults to false: the JSONL is no longer parent-then-children unless asked for.
    "group_objects_default_false": "2026-01",
    # bulkOperation(id:) and up to five concurrent bulk query operations per app and shop.
    "bulk_operation_by_id": "2026-01",
    # webhookSubscriptions(uri:) and WebhookSubscription.uri (before: callbackUrl).
    "webhook_uri": "2025-10",
    # The writer's bulk path: productSet runs in bulkOperationRunMutation since productSet itself (2024-04), and the
    # writer polls its operation with bulkOperation(id:) (2026-01): so 2026-01. Older versions (all retired) push
    # one call per product.
    "bulk_product_set": "2026-01",
}


def parse_version(version: str) -> date | None:
    """``2026-04`` -> its release date (2026-04-01); None for ``unstable`` or anything not a stable version."""
    match = VERSION_RE.match(version or "")
    if not match:
        return None
    return date(int(match.group(1)), int(match.group(2)), 1)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def retirement_date(version: str) -> date | None:
    """The day ``version`` stops being served (12 months after its release), or None for a non-stable name."""
    released = parse_version(version)
    return _add_months(released, SUPPORT_MONTHS) if released else None


def _today(today: date | None) -> date:
    return today or datetime.now(UTC).date()


def supported_versions(today: date | None = None) -> tuple[str, ...]:
    """Stable versions served as themselves on ``today``, oldest first (2026-12-03: 2026-01 .. 2026-10)."""
    day = _today(today)
    latest = date(day.year, max(m for m in RELEASE_MONTHS if m <= day.month), 1)
    found = []
    for quarter in range(SUPPORT_MONTHS // 3 + 1):
        release = _add_months(latest, -3 * quarter)
        if _add_months(release, SUPPORT_MONTHS) > day:
            found.append(f"{release.year:04d}-{release.month:02d}")
    return tuple(sorted(found))


def oldest_supported(today: date | None = None) -> str:
    return supported_versions(today)[0]


def is_retired(version: str, today: date | None = None) -> bool:
    retires = retirement_date(version)
    return retires is not None and retires <= _today(today)


def has_feature(version: str | None, feature: str) -> bool:
    """Whether ``version`` (as served) has ``feature``; ``unstable`` has every feature, an unknown name none."""
    if not version:
        return False
    if version == "unstable":
        return True
    return VERSION_RE.match(version) is not None and version >= FEATURES[feature]


@dataclass(frozen=True)
class VersionStatus:
    """Where a pinned version stands on a given day, and what (if anything) to tell the user."""

    pinned: str
    served: str | None
    retires_on: date | None
    days_left: int | None
    state: str  # ok | retiring | falling_forward | unknown

    @property
    def ok(self) -> bool:
        return self.state == "ok"

    def message(self) -> str | None:
        """One sentence for ``status``/metadata/checks, or None when there is nothing to say."""
        upgrade = "run `ecom-pipeline shopify-upgrade --integration <id>` to move to a supported version"
        if self.state == "falling_forward":
            served = self.served or "the oldest supported version"
            return (
                f"Shopify API version {self.pinned} is retired (since {self.retires_on}); Shopify answers with "
                f"{served} instead, whose behaviour differs; {upgrade}"
            )
        if self.state == "retiring":
            return (
                f"Shopify API version {self.pinned} retires on {self.retires_on} ({self.days_left} days); after that "
                f"Shopify answers with a newer version; {upgrade}"
            )
        if self.state == "unknown":
            return f"{self.pinned!r} is not a stable Shopify API version (YYYY-01/04/07/10); {upgrade}"
        return None

    def as_metadata(self) -> dict[str, Any]:
        return {
            "api_version_pinned": self.pinned,
            "api_version_served": self.served,
            "api_version_retires_on": self.retires_on.isoformat() if self.retires_on else None,
            "api_version_state": self.state,
        }


def version_status(pinned: str, served: str | None = None, today: date | None = None) -> VersionStatus:
    """The lifecycle state of ``pinned``: falling forward (retired, or the shop served another version), retiring
    within :data:`WARN_DAYS`, or ok. ``unstable`` is reported as unknown: it changes without notice."""
    day = _today(today)
    retires = retirement_date(pinned)
    if retires is None:
        return VersionStatus(pinned, served, None, None, "unknown")
    days_left = (retires - day).days
    if days_left <= 0 or (served is not None and served != pinned):
        state = "falling_forward"
    elif days_left <= WARN_DAYS:
        state = "retiring"
    else:
        state = "ok"
    return VersionStatus(pinned, served, retires, days_left, state)


def pinned_version(settings: Mapping[str, Any] | None) -> str:
    """The version an integration asks for (connect stores it; older integrations default to the old default)."""
    value = (settings or {}).get("api_version")
    return str(value) if value else LEGACY_DEFAULT_VERSION


def served_facts(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """``settings["shopify"]``: ``served_version`` and ``served_at`` as last recorded by a sync or an upgrade."""
    facts = (settings or {}).get("shopify")
    return dict(facts) if isinstance(facts, Mapping) else {}


def integration_version_status(settings: Mapping[str, Any] | None, today: date | None = None) -> VersionStatus:
    facts = served_facts(settings)
    served = facts.get("served_version")
    return version_status(pinned_version(settings), str(served) if served else None, today)


# Integrations connected before versions were per integration settings kept no api_version and used this one.
LEGACY_DEFAULT_VERSION = "2025-10"

__all__ = [
    "DEFAULT_API_VERSION",
    "FEATURES",
    "LEGACY_DEFAULT_VERSION",
    "VersionStatus",
    "has_feature",
    "integration_version_status",
    "is_retired",
    "oldest_supported",
    "parse_version",
    "pinned_version",
    "retirement_date",
    "served_facts",
    "supported_versions",
    "version_status",
]
