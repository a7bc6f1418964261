"""Id reconciliation: find the deletes nobody announces, with a cheap id-only listing, at a per-shop interval.

An incremental read cannot see a record that is gone, and webhooks do not cover every delete (WooCommerce sends
none for a permanent delete, only for the trash; deliveries are not guaranteed anywhere). So, for each entity a
platform can delete, the normal sync lists every id the shop still has (only ids: WooCommerce ``_fields=id``, a
Shopify ids-only GraphQL query, PrestaShop ``display=[id]``) when the last successful reconciliation of that shop
and entity (or, before the first one, its connection) is older than the shop's interval
(``settings["reconcile_interval_hours"]``, default 24, set with ``connect --reconcile-hours``; 0 means every
sync), and stages a tombstone for every live link the listing lacks.
Resolve applies them like any delete (the product archived, its variants' stock rows tombstoned).

Safety: nothing is tombstoned from a listing that failed (any error: the reconciliation is recorded as failed
and stays due), nor from one that looks partial: a listing that would tombstone more than half of the shop's
live links (and more than ``MASS_DELETE_FLOOR``) is refused with an error that says how to confirm (a full
refresh). Ids missing from a page-number listing (WooCommerce) are asked for again by id before they count as
gone, since a delete during the listing shifts later records onto pages already read.

With the reconciliation of its first entity, a platform may run its shop upkeep (``ReconcileSpec.upkeep``):
WooCommerce enables again the webhooks the store disabled after seven failed deliveries in a row (it never does so
itself).

Each reconciliation is one ``sync_runs`` row with stage ``reconcile``: ids listed (``rows_fetched``), tombstones
staged (``deleted``), the calls it cost, and the error when it failed or was refused. ``status`` shows the last
one per shop and entity. A full refresh skips it: its complete scan already tombstones what the shop lacks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from ecom_pipeline.sync.extract import ExtractContext, stage_tombstones
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.schema import sync_runs
from ecom_pipeline.warehouse.types import utcnow

SETTING = "reconcile_interval_hours"
DEFAULT_INTERVAL_HOURS = 24.0
STAGE = "reconcile"
# A listing that would tombstone more than this share of the live links (and more than the floor) is refused.
MASS_DELETE_SHARE = 0.5
MASS_DELETE_FLOOR = 20


@dataclass(frozen=True)
class ReconcileSpec:
    """How one platform lists ids: which entities (staging entity -> API resource) and with which client.

    ``make_client(ctx)`` returns a client (closed after use) with ``list_ids(resource) -> Iterable[id]`` and, where
    the listing pages by page number, ``present_ids(resource, ids) -> set[str]`` (``confirm_unlisted``).
    """

    resources: Mapping[str, str]
    make_client: Callable[[ExtractContext], Any]
    confirm_unlisted: bool = False
    # The platform keys its staged stock rows by product id (WooCommerce, PrestaShop): a product listing then also
    # closes the stock rejections of products the shop no longer has.
    stock_keyed_by_product: bool = False
    # (ctx) -> what it repaired, or None: the shop's upkeep run with the reconciliation of its first entity, at the
    # same interval (WooCommerce: webhooks the store disabled after failed deliveries are enabled again). Its errors
    # are logged, never fail the sync.
    upkeep: Callable[[ExtractContext], str | None] | None = None


@dataclass
class ReconcileReport:
    """What one reconciliation did (also its ``sync_runs`` row)."""

    entity: str
    listed: int = 0
    linked: int = 0
    deleted: int = 0
    rejections_closed: int = 0
    api_calls: int = 0
    retries: int = 0
    throttle_wait_s: float = 0.0
    error: str | None = None
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    def counts(self) -> dict[str, Any]:
        return {
            "rows_fetched": self.listed,
            "unchanged": max(self.linked - self.deleted, 0),
            "deleted": self.deleted,
            "api_calls": self.api_calls,
            "retries": self.retries,
            "throttle_wait_s": round(self.throttle_wait_s, 3),
        }

    def summary(self, shop: str) -> str:
        if self.error:
            return f"id reconciliation of {shop} {self.entity}s failed, nothing tombstoned: {self.error}"
        return (
            f"id reconciliation of {shop} {self.entity}s: {self.listed} ids listed, {self.linked} linked, "
            f"{self.deleted} gone from the shop (tombstones staged), {self.api_calls} API calls, {self.duration_s:.2f}s"
        )


def interval(settings: Mapping[str, Any] | None) -> timedelta:
    """The shop's reconciliation interval (default daily); a bad value falls back to the default, never to 'never'."""
    raw = (settings or {}).get(SETTING)
    try:
        hours = float(raw) if raw is not None else DEFAULT_INTERVAL_HOURS
    except (TypeError, ValueError):
        hours = DEFAULT_INTERVAL_HOURS
    return timedelta(hours=max(hours, 0.0))


def last_reconciled(conn: Connection, integration_ids: Iterable[int]) -> dict[tuple[int, str], datetime]:
    """When each (shop, entity) was last reconciled successfully."""
    ids = sorted(set(integration_ids))
    if not ids:
        return {}
    query = (
        select(sync_runs.c.integration_id, sync_runs.c.entity, func.max(sync_runs.c.finished_at))
        .where(sync_runs.c.stage == STAGE, sync_runs.c.status == "success", sync_runs.c.integration_id.in_(ids))
        .group_by(sync_runs.c.integration_id, sync_runs.c.entity)
    )
    return {(int(i), str(e)): at for i, e, at in conn.execute(query) if at is not None}


def is_due(conn: Connection, integration: store.IntegrationRecord, entity: str, now: datetime) -> bool:
    """Whether the shop's entity was not reconciled successfully within its interval.

    A shop never reconciled counts from its connection: its first sync reads everything anyway (and tombstones
    what it does not see), so the first listing is due one interval later (at once with an interval of 0).
    """
    last = last_reconciled(conn, [integration.id]).get((integration.id, entity)) or integration.created_at
    return now - last >= interval(integration.settings)


def reconcile_if_due(
    ctx: ExtractContext, entity: str, spec: ReconcileSpec | None, *, now: datetime | None = None
) -> ReconcileReport | None:
    """Reconcile ``entity`` of the context's shop when due; None when not due or not reconciled on this platform."""
    if spec is None or entity not in spec.resources or ctx.full_refresh:
        return None
    now = now or utcnow()
    with ctx.engine.connect() as conn:
        if not is_due(conn, ctx.integration, entity, now):
            return None
    report = reconcile(ctx, entity, spec)
    if spec.upkeep is not None and entity == next(iter(spec.resources)):
        _upkeep(ctx, spec.upkeep)
    return report


def _upkeep(ctx: ExtractContext, upkeep: Callable[[ExtractContext], str | None]) -> None:
    """Run the platform's upkeep of the shop; what it repaired is a warning (it means deliveries were lost)."""
    try:
        repaired = upkeep(ctx)
    except Exception as exc:  # upkeep is a courtesy of the sync: the next reconciliation tries again
        ctx.log.warning(f"{ctx.integration.name}: upkeep failed, tried again at the next reconciliation: {exc}")
        return
    if repaired:
        ctx.log.warning(f"{ctx.integration.name}: {repaired}")


def reconcile(ctx: ExtractContext, entity: str, spec: ReconcileSpec) -> ReconcileReport:
    """List the shop's ids of ``entity`` and stage a tombstone for every live link it lacks (module docstring)."""
    integration = ctx.integration
    report = ReconcileReport(entity=entity)
    started = time.monotonic()
    with ctx.engine.begin() as conn:
        sync_run_id = store.start_sync_run(
            conn,
            tenant_id=integration.tenant_id,
            integration_id=integration.id,
            platform=integration.platform,
            entity=entity,
            direction="pull",
            stage=STAGE,
            full_refresh=False,
            run_id=ctx.run_id,
            cursor_before=None,
        )
    resource = spec.resources[entity]
    try:
        client = spec.make_client(ctx)
        try:
            listed = {str(i) for i in client.list_ids(resource)}
            report.listed = len(listed)
            with ctx.engine.connect() as conn:
                linked = store.active_external_ids(conn, integration.id, entity)
            report.linked = len(linked)
            missing = sorted(linked - listed)
            if missing and spec.confirm_unlisted:
                alive = set(client.present_ids(resource, missing))
                listed |= alive
                missing = [i for i in missing if i not in alive]
            if len(missing) > max(MASS_DELETE_FLOOR, MASS_DELETE_SHARE * len(linked)):
                raise PartialListing(
                    f"the shop listed {report.listed} {resource} but {len(missing)} of the {len(linked)} the hub "
                    "links are not among them; refusing to tombstone so many from one listing (a partial answer?). "
                    "If the shop really deleted them, run `ecom-pipeline sync --full-refresh` for this tenant"
                )
            report.deleted = stage_tombstones(ctx, entity=entity, link_entity=entity, seen=listed)
            with ctx.engine.begin() as conn:
                # A rejected record the shop no longer has will never apply: close its rejection.
                report.rejections_closed = store.resolve_rejections_not_listed(conn, integration.id, entity, listed)
                if entity == "product" and spec.stock_keyed_by_product:
                    report.rejections_closed += store.resolve_rejections_not_listed(
                        conn, integration.id, "inventory", listed
                    )
        finally:
            stats = getattr(client, "stats", None)
            report.api_calls = int(getattr(stats, "api_calls", 0) or 0)
            report.retries = int(getattr(stats, "retries", 0) or 0)
            report.throttle_wait_s = float(getattr(stats, "throttle_wait_s", 0.0) or 0.0)
            close = getattr(client, "close", None)
            if callable(close):
                close()
    except Exception as exc:  # recorded and retried next sync; the extract that ran before it stands
        report.error = f"{type(exc).__name__}: {exc}"
    report.duration_s = time.monotonic() - started
    with ctx.engine.begin() as conn:
        store.finish_sync_run(
            conn,
            sync_run_id,
            status="success" if report.ok else "failed",
            counts=report.counts(),
            cursor_after=None,
            error=report.error,
        )
    return report


class PartialListing(RuntimeError):
    """An id listing too short to trust: tombstoning from it could mark live records deleted."""


__all__ = [
    "DEFAULT_INTERVAL_HOURS",
    "SETTING",
    "STAGE",
    "PartialListing",
    "ReconcileReport",
    "ReconcileSpec",
    "interval",
    "is_due",
    "last_reconciled",
    "reconcile",
    "reconcile_if_due",
]
