"""One extract step of one tenant: every shop of a platform, one entity, with its ``sync_runs`` bookkeeping.

This is the plain function the Dagster extract asset wraps (``assets/extract.py``), kept free of Dagster so it can
be called and tested on its own. For each active integration of the tenant on the platform it opens a
``sync_runs`` row, loads the shop's credentials, runs the platform's extractor, closes the row with the counts (or
the error), records the shop's health on ``integrations`` and reconciles deleted ids when due. One shop failing
never stops the others: its error is sorted into the result, which says whether Dagster should retry the step.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from ecom_pipeline.platforms.errors import ShopApiError
from ecom_pipeline.platforms.registry import PlatformSpec
from ecom_pipeline.sync.extract import DEFAULT_LOOKBACK, ExtractContext, ExtractReport
from ecom_pipeline.sync.reconcile import reconcile_if_due
from ecom_pipeline.warehouse import checks, store
from ecom_pipeline.warehouse.credentials import CredentialCipher

# Shop errors are not retried by Dagster and do not fail the asset: the HTTP layer already retried transient ones
# (429, 5xx, timeouts) with backoff, retrying at the asset level would multiply the waits against a struggling shop,
# and failing the asset would stop the tenant's healthy shops from reaching the hub. The next scheduled run resumes
# from the cursor. Anything else (a worker crash, a warehouse error) fails the asset and Dagster's RetryPolicy
# applies.
NOT_RETRIED_BY_DAGSTER: tuple[type[Exception], ...] = (ShopApiError,)


@dataclass(frozen=True)
class ExtractOptions:
    """How to read: the run's choices, and how shops are talked to (``client``: the ``ExtractContext`` client
    fields, e.g. ``timeout_s``, ``max_retries``, ``request_budget``, ``per_page``)."""

    full_refresh: bool = False
    lookback: timedelta = DEFAULT_LOOKBACK
    client: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class TenantExtract:
    """What one extract step did for one tenant: a report per shop read, an error per shop that failed."""

    tenant: str
    platform_title: str
    entity: str
    shops: int = 0
    reports: list[tuple[str, ExtractReport]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    # False once any failure is a shop error (retrying the step would only hammer the shop again).
    retryable: bool = True

    @property
    def fail_step(self) -> bool:
        """Whether the step must fail (and be retried by Dagster): some shop failed for a reason not the shop's."""
        return bool(self.errors) and self.retryable

    def summary(self) -> str:
        """One line naming every shop that failed, for the log, the failure and the check."""
        if not self.errors:
            return f"every {self.platform_title} shop of {self.tenant} was read"
        failed = "; ".join(f"{k}: {v}" for k, v in self.errors.items())
        return (
            f"{len(self.errors)} of {self.shops} {self.platform_title} shop(s) of tenant {self.tenant} failed to "
            f"extract {self.entity}: {failed}"
        )


def extract_for_tenant(
    engine: Engine,
    cipher: CredentialCipher,
    spec: PlatformSpec,
    *,
    tenant: str,
    entity: str,
    run_id: str,
    options: ExtractOptions,
    log: logging.Logger | Any,
    label: str | None = None,
) -> TenantExtract:
    """Extract ``entity`` from every active shop of ``tenant`` on ``spec``'s platform (see the module docstring).

    ``label`` names the step in messages (the asset name, e.g. ``products``; default the entity).
    """
    what = label or entity
    platform, platform_title = spec.name, spec.title
    with engine.connect() as conn:
        integrations = store.list_integrations(conn, tenant_id=tenant, platform=platform)
    result = TenantExtract(tenant=tenant, platform_title=platform_title, entity=what, shops=len(integrations))
    if not integrations:
        log.info(f"tenant {tenant} has no active {platform_title} shop; nothing to extract")
    for integration in integrations:
        name = f"{integration.name} (#{integration.id})"
        with engine.begin() as conn:
            cursor_before = store.get_cursor(conn, integration.id, entity)
            sync_run_id = store.start_sync_run(
                conn,
                tenant_id=tenant,
                integration_id=integration.id,
                platform=platform,
                entity=entity,
                direction="pull",
                stage="extract",
                full_refresh=options.full_refresh,
                run_id=run_id,
                cursor_before=cursor_before,
            )
        try:
            with engine.connect() as conn:
                credentials = store.load_credentials(conn, integration.id, cipher)
            ctx = ExtractContext(
                engine,
                integration,
                credentials,
                run_id,
                full_refresh=options.full_refresh,
                lookback=options.lookback,
                log=log,
                **options.client,
            )
            report = spec.extract(ctx, entity)
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            result.errors[name] = message
            result.retryable = result.retryable and not isinstance(exc, NOT_RETRIED_BY_DAGSTER)
            log.error(f"{platform_title} {what} of {name} failed: {message}")
            with engine.begin() as conn:
                store.finish_sync_run(conn, sync_run_id, status="failed", counts={}, cursor_after=None, error=message)
                store.mark_sync_result(conn, integration.id, ok=False, error=message, counts=None)
            continue
        counts = report.counts()
        with engine.begin() as conn:
            report.missed_by_webhooks = _missed_by_webhooks(conn, spec, integration, entity, run_id, options)
            if report.missed_by_webhooks is not None:
                counts["missed_by_webhooks"] = report.missed_by_webhooks
            store.finish_sync_run(
                conn, sync_run_id, status="success", counts=counts, cursor_after=report.cursor_after, error=None
            )
            # A successful exchange with the shop clears a previous error and moves last_success_at, even when
            # nothing changed. Steps that did not talk to the shop (an inventory step that reads what the product
            # step staged) say nothing about its health.
            if report.api_calls:
                store.mark_sync_result(conn, integration.id, ok=True, error=None, counts=None)
        result.reports.append((name, report))
        # Deletes nobody announces: an id-only listing when the shop's interval is due (sync/reconcile.py).
        reconciled = reconcile_if_due(ctx, entity, spec.reconcile)
        if reconciled is not None:
            (log.info if reconciled.ok else log.warning)(reconciled.summary(name))
        log.info(
            f"{platform_title} {what} of {name}: fetched {report.rows_fetched}, staged {report.staged}, "
            f"unchanged {report.unchanged}, tombstoned {report.tombstoned}, {report.api_calls} API calls, "
            f"{report.retries} retries, {report.throttle_wait_s:.1f}s throttled, {report.duration_s:.2f}s"
        )
    return result


def _missed_by_webhooks(
    conn: Any,
    spec: PlatformSpec,
    integration: store.IntegrationRecord,
    entity: str,
    run_id: str,
    options: ExtractOptions,
) -> int | None:
    """Changes this incremental extract staged that no webhook had delivered; None when it does not apply.

    Only meaningful for shops with webhooks registered (``settings["webhook_url"]``) and for incremental reads:
    a steady non-zero figure means deliveries are being lost (a disabled webhook, a receiver that was down).
    """
    if options.full_refresh or not (integration.settings or {}).get("webhook_url") or entity == "inventory":
        return None
    topics = spec.webhooks.deliveries.TOPIC_ENTITIES if spec.webhooks is not None else {}
    return checks.count_missed_by_webhooks(
        conn,
        integration_id=integration.id,
        topic_prefixes=topics.get(entity, (f"{entity}.", f"{entity}s/")),
        records=checks.staged_upserts(conn, run_id=run_id, integration_id=integration.id, entity=entity),
    )
