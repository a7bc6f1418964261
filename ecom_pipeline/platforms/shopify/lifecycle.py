"""Keeping each Shopify integration on a supported API version: what was served, the warnings, the upgrade.

- :func:`record_served_version` stores the version the shop answered with (``X-Shopify-Api-Version``) and when,
  in ``integrations.settings["shopify"]`` (``served_version``, ``served_at``; no schema change), after every
  extract and upgrade;
- :func:`version_check` turns the integrations' states into the ``shopify_api_version`` asset check result
  (WARN: a pinned version within 90 days of retirement, or already falling forward);
- :func:`upgrade_integration` moves one integration to another version in one step, after checking the
  credentials and the granted scopes *on that version*, so a version the token cannot use is never saved.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg
from sqlalchemy import Engine, select, update

from ecom_pipeline.platforms.http import HttpOptions
from ecom_pipeline.platforms.shopify.client import ShopifyClient
from ecom_pipeline.platforms.shopify.connect import missing_scope_notes
from ecom_pipeline.platforms.shopify.credentials import provider_for
from ecom_pipeline.platforms.shopify.versions import (
    DEFAULT_API_VERSION,
    VersionStatus,
    integration_version_status,
    is_retired,
    parse_version,
    supported_versions,
    version_status,
)
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.schema import integrations
from ecom_pipeline.warehouse.types import utcnow

CHECK_API_VERSION = "shopify_api_version"


def _merge_settings(engine: Engine, integration_id: int, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Read-modify-write of one integration's settings JSON in one transaction (other keys are kept).

    The row is read ``FOR UPDATE``: this runs after every Shopify extract, and a ``settings`` edit or a webhook
    registration committed between a plain read and the write would be silently reverted.
    """
    with engine.begin() as conn:
        current = conn.execute(
            select(integrations.c.settings).where(integrations.c.id == integration_id).with_for_update()
        ).scalar()
        settings = dict(current or {})
        change(settings)
        conn.execute(
            update(integrations)
            .where(integrations.c.id == integration_id)
            .values(settings=settings, updated_at=utcnow())
        )
    return settings


def record_served_version(
    engine: Engine, integration_id: int, served: str | None, *, when: datetime | None = None
) -> dict[str, Any] | None:
    """Store ``served`` (the ``X-Shopify-Api-Version`` of the last response) and when; None when nothing served."""
    if not served:
        return None
    stamp = (when or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def change(settings: dict[str, Any]) -> None:
        facts = dict(settings.get("shopify") or {})
        facts.update({"served_version": served, "served_at": stamp})
        settings["shopify"] = facts

    return _merge_settings(engine, integration_id, change)


def version_check(
    statuses: Sequence[tuple[str, VersionStatus]], *, platform_title: str = "Shopify"
) -> dg.AssetCheckResult:
    """The ``shopify_api_version`` check: passes when every shop is on a version that is neither retiring within
    90 days nor falling forward; otherwise WARN with each shop's message."""
    problems = {name: status.message() for name, status in statuses if not status.ok}
    return dg.AssetCheckResult(
        check_name=CHECK_API_VERSION,
        passed=not problems,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            "; ".join(f"{name}: {message}" for name, message in problems.items())
            if problems
            else f"every {platform_title} shop is on a supported API version"
        ),
        metadata={
            "shops": dg.MetadataValue.json({name: status.as_metadata() for name, status in statuses}),
        },
    )


def version_check_from_reports(reports: Sequence[tuple[str, Any]]) -> dg.AssetCheckResult:
    """The check from this run's extract reports (each carries ``api_version``: pinned, served, state)."""
    statuses = []
    for label, report in reports:
        facts = getattr(report, "api_version", None) or {}
        pinned = facts.get("api_version_pinned")
        if pinned:
            statuses.append((label, version_status(str(pinned), facts.get("api_version_served"))))
    return version_check(statuses)


def integration_statuses(engine: Engine, integration_ids: Sequence[int], today: date | None = None) -> list:
    """(label, VersionStatus) of each integration, from what its settings hold (pinned and last served)."""
    found = []
    with engine.connect() as conn:
        for integration_id in integration_ids:
            integration = store.get_integration(conn, integration_id)
            label = f"{integration.name} (#{integration.id})"
            found.append((label, integration_version_status(integration.settings, today)))
    return found


class UpgradeError(Exception):
    """The integration cannot be moved to that version (not a supported version, or the shop refused it)."""


@dataclass
class UpgradeResult:
    integration_id: int
    previous: str | None
    version: str
    served: str | None
    notes: tuple[str, ...]


def choose_version(requested: str | None, today: date | None = None) -> str:
    """``requested`` if it is a supported stable version; default: :data:`DEFAULT_API_VERSION` when supported,
    else the newest supported one."""
    supported = supported_versions(today)
    if requested is None:
        return DEFAULT_API_VERSION if DEFAULT_API_VERSION in supported else supported[-1]
    if parse_version(requested) is None:
        raise UpgradeError(f"{requested!r} is not a stable Shopify API version (YYYY-01, -04, -07 or -10)")
    if is_retired(requested, today):
        raise UpgradeError(f"{requested} is retired; supported versions: {', '.join(supported)}")
    if requested not in supported:
        raise UpgradeError(f"{requested} is not released yet; supported versions: {', '.join(supported)}")
    return requested


def upgrade_integration(
    engine: Engine,
    integration_id: int,
    cipher: CredentialCipher,
    *,
    version: str | None = None,
    timeout: float = 20.0,
    today: date | None = None,
) -> UpgradeResult:
    """Check the integration's credentials and scopes on ``version``, then pin it (one transaction).

    Refused (nothing saved) when the shop answers with another version than asked, or refuses the token.
    """
    target = choose_version(version, today)
    with engine.connect() as conn:
        integration = store.get_integration(conn, integration_id)
        if integration.platform != "shopify":
            raise UpgradeError(f"integration #{integration_id} is a {integration.platform} shop, not Shopify")
        credentials = store.load_credentials(conn, integration_id, cipher)
    settings = integration.settings or {}
    options = HttpOptions.for_integration(integration, api_version=target, timeout=timeout, max_retries=2)
    client = ShopifyClient(
        options, provider_for(integration.base_url, credentials, verify=options.verify, timeout=timeout)
    )
    with client:
        facts = client.shop_and_scopes()
    served = client.served_version
    if served is not None and served != target:
        raise UpgradeError(f"the shop answered with version {served} when asked for {target}; nothing was changed")
    previous = settings.get("api_version")
    scopes = facts.get("scopes") or []

    def change(current: dict[str, Any]) -> None:
        current["api_version"] = target
        current["scopes"] = scopes
        facts_now = dict(current.get("shopify") or {})
        facts_now.update(
            {"served_version": served or target, "served_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        )
        current["shopify"] = facts_now

    _merge_settings(engine, integration_id, change)
    return UpgradeResult(integration_id, previous, target, served, missing_scope_notes(scopes))


__all__ = [
    "CHECK_API_VERSION",
    "UpgradeError",
    "UpgradeResult",
    "choose_version",
    "integration_statuses",
    "record_served_version",
    "upgrade_integration",
    "version_check",
    "version_check_from_reports",
]
