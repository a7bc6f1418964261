"""The briefs' KPIs per tenant and shop, computed from what the pipeline already records.

The briefs promise three things; each is measured from rows the pipeline writes anyway, so measuring costs a few
queries and no call to any shop:

- **Sync success above 98 %**: of a shop's runs in the window (its ``sync_runs`` rows grouped by Dagster run:
  every entity and stage, extract, resolve, reconcile, export, webhook apply), the share in which every row ended
  ``success``. A run with a row still ``running`` long after it started (``STALE_RUNNING``) died and counts as
  failed; one still in flight is not counted yet. Counting runs, not rows, keeps a busy webhook apply (a row per
  entity every few seconds) from diluting a shop whose scheduled syncs all fail.
- **Webhook processing under 1 s**: for deliveries received in the window and applied, the time from
  ``webhook_inbox.received_at`` to ``processed_at`` (p50, p95, max; on PostgreSQL exact in SQL, on SQLite over the
  newest ``LATENCY_SAMPLE`` deliveries). Deliveries pending longer than ``MAX_PENDING_S`` (nothing is applying
  the inbox: no applied time can show it yet) break the promise too; dead letters are counted beside it.
- **Zero data loss**: a count reconciliation per shop and entity. The shop's total is the last successful id
  listing (``sync_runs`` stage ``reconcile``: ``rows_fetched`` = ids the shop listed; sync/reconcile.py runs it
  daily by default, ``connect --reconcile-hours``); the hub's count is the live ``entity_links`` of that shop whose
  hub row is live. ``missing`` = shop total - hub rows (never below 0): records the shop has that the hub does
  not. Open ``rejected_records`` of that shop and entity explain as many of them: a rejection is recorded with its
  reason and payload (status lists it), not lost. ``unexplained`` (missing beyond the open rejections) is the loss
  the check fails on.
  Shops or entities never listed (a full refresh skips the listing; inventory is not listed) have no shop total
  and are shown as not counted rather than guessed.

Both the ``ops`` assets (assets/ops.py) and ``ecom-pipeline status`` call :func:`compute_kpis`, so the UI and the
CLI show the same figures.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import String, and_, case, cast, func, select
from sqlalchemy.engine import Connection

from ecom_pipeline.warehouse.schema import (
    entity_links,
    hub_customers,
    hub_orders,
    hub_products,
    integrations,
    rejected_records,
    sync_runs,
    webhook_inbox,
)
from ecom_pipeline.warehouse.types import utcnow

# The briefs' promises (the checks' default thresholds).
MIN_SUCCESS_RATE = 0.98
MAX_WEBHOOK_LATENCY_S = 1.0
MAX_MISSING_RECORDS = 0
# A delivery still pending this long means nothing is applying the inbox (the sensor ticks every 5 s): its latency
# is already far over the promise, though no applied time says so yet.
MAX_PENDING_S = 300.0
DEFAULT_WINDOW = timedelta(hours=24)
# A sync_runs row still `running` this long after it started belongs to a run that died (no sync takes this long
# without finishing a row: each row is one shop, entity and stage).
STALE_RUNNING = timedelta(hours=6)
# On SQLite, latency is computed in Python from at most this many of the window's newest applied deliveries (the
# embedded warehouse serves one box; PostgreSQL computes the percentiles over the whole window in SQL).
LATENCY_SAMPLE = 100_000
# Hub table of each reconciled entity (entity_links.entity -> table).
HUB_TABLES = {"product": hub_products, "order": hub_orders, "customer": hub_customers}


@dataclass(frozen=True)
class Thresholds:
    """The promises a KPI is checked against (configurable in the ops assets' config)."""

    min_success_rate: float = MIN_SUCCESS_RATE
    max_webhook_latency_s: float = MAX_WEBHOOK_LATENCY_S
    max_missing_records: int = MAX_MISSING_RECORDS
    max_pending_s: float = MAX_PENDING_S


@dataclass
class SyncSuccess:
    """Runs of one shop in the window, by outcome (each run: that shop's rows of one Dagster run)."""

    tenant_id: str
    integration_id: int
    platform: str
    succeeded: int = 0
    failed: int = 0
    died: int = 0
    last_error: str | None = None

    @property
    def finished(self) -> int:
        return self.succeeded + self.failed + self.died

    @property
    def rate(self) -> float | None:
        """Share of finished runs that succeeded; None when the shop ran nothing in the window."""
        return self.succeeded / self.finished if self.finished else None


@dataclass
class WebhookLatency:
    """Webhook deliveries of one shop received in the window."""

    tenant_id: str
    integration_id: int
    platform: str
    applied: int = 0
    p50_s: float | None = None
    p95_s: float | None = None
    max_s: float | None = None
    over_promise: int = 0
    pending_overdue: int = 0
    dead: int = 0


@dataclass
class CountCheck:
    """One shop's entity: the shop's last listed total against the hub's rows."""

    tenant_id: str
    integration_id: int
    platform: str
    entity: str
    shop_total: int | None
    counted_at: datetime | None
    hub_rows: int
    rejected_open: int

    @property
    def missing(self) -> int | None:
        """Records the shop listed that the hub lacks; None when the shop's total was never listed."""
        return None if self.shop_total is None else max(self.shop_total - self.hub_rows, 0)

    @property
    def unexplained(self) -> int | None:
        """Missing records beyond the open rejections of this shop and entity: lost without a trace."""
        return None if self.missing is None else max(self.missing - self.rejected_open, 0)


@dataclass
class KpiReport:
    """Every KPI of every shop, with the window and thresholds they were computed for."""

    now: datetime
    window: timedelta
    thresholds: Thresholds
    sync: list[SyncSuccess] = field(default_factory=list)
    webhooks: list[WebhookLatency] = field(default_factory=list)
    counts: list[CountCheck] = field(default_factory=list)

    # -- overall figures (the plotted series) --------------------------------------------------------------------
    @property
    def success_rate(self) -> float | None:
        finished = sum(s.finished for s in self.sync)
        return sum(s.succeeded for s in self.sync) / finished if finished else None

    @property
    def webhook_p95_s(self) -> float | None:
        """The worst shop's p95 (a fleet-wide p95 would hide one slow shop behind many fast ones)."""
        values = [w.p95_s for w in self.webhooks if w.p95_s is not None]
        return max(values) if values else None

    @property
    def missing_records(self) -> int:
        """Records lost without a trace (missing beyond open rejections), over every shop entity counted."""
        return sum(c.unexplained or 0 for c in self.counts)

    # -- what breaks a promise ------------------------------------------------------------------------------------
    def sync_below(self) -> list[SyncSuccess]:
        return [s for s in self.sync if s.rate is not None and s.rate < self.thresholds.min_success_rate]

    def webhooks_over(self) -> list[WebhookLatency]:
        limit = self.thresholds.max_webhook_latency_s
        return [w for w in self.webhooks if (w.p95_s is not None and w.p95_s > limit) or w.pending_overdue]

    def counts_missing(self) -> list[CountCheck]:
        return [c for c in self.counts if (c.unexplained or 0) > self.thresholds.max_missing_records]

    def sync_verdict(self) -> str:
        """One line per shop below the promise, or what was measured."""
        below = sorted(self.sync_below(), key=lambda s: (s.rate or 0.0, s.integration_id))
        if below:
            return _worst_first(
                [
                    f"{s.tenant_id} shop #{s.integration_id} ({s.platform}): sync success {pct(s.rate)} "
                    f"({s.succeeded} of {s.finished} runs succeeded), below {pct(self.thresholds.min_success_rate)}"
                    + (f"; last error: {s.last_error[:300]}" if s.last_error else "")
                    for s in below
                ]
            )
        return (
            f"sync success {pct(self.success_rate)} over {sum(s.finished for s in self.sync)} shop runs in the "
            f"last {hours(self.window)}, every shop at or above {pct(self.thresholds.min_success_rate)}"
        )

    def webhook_verdict(self) -> str:
        over = sorted(self.webhooks_over(), key=lambda w: (-(w.p95_s or 0.0), w.integration_id))
        limit = self.thresholds.max_webhook_latency_s
        if over:
            return _worst_first(
                [
                    f"{w.tenant_id} shop #{w.integration_id} ({w.platform}): webhook p95 {secs(w.p95_s)}"
                    f"{' over' if (w.p95_s or 0.0) > limit else ', within'} {secs(limit)} ({w.over_promise} of "
                    f"{w.applied} deliveries over, max {secs(w.max_s)})"
                    + (
                        f"; {w.pending_overdue} deliveries pending for over {self.thresholds.max_pending_s:g} s"
                        if w.pending_overdue
                        else ""
                    )
                    for w in over
                ]
            )
        applied = sum(w.applied for w in self.webhooks)
        return f"webhook p95 {secs(self.webhook_p95_s)} (worst shop) over {applied} deliveries, within {secs(limit)}"

    def count_verdict(self) -> str:
        missing = sorted(self.counts_missing(), key=lambda c: (-(c.unexplained or 0), c.integration_id, c.entity))
        if missing:
            return _worst_first(
                [
                    f"{c.tenant_id} shop #{c.integration_id} ({c.platform}) {c.entity}s: shop listed {c.shop_total}, "
                    f"hub has {c.hub_rows}, {c.missing} missing, {c.unexplained} without an open rejection"
                    for c in missing
                ]
            )
        counted = [c for c in self.counts if c.shop_total is not None]
        explained = sum(c.missing or 0 for c in counted)
        return f"{len(counted)} shop entities counted, no record missing from the hub" + (
            f" beyond {explained} with an open rejection (rejected_records)" if explained else ""
        )


def _worst_first(lines: list[str], keep: int = 5) -> str:
    """The worst ``keep`` lines (already sorted), then how many more: a check description stays readable."""
    more = f"; and {len(lines) - keep} more" if len(lines) > keep else ""
    return "; ".join(lines[:keep]) + more


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} s"


def hours(window: timedelta) -> str:
    return f"{window.total_seconds() / 3600:g} h"


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..1) of already sorted values; None for none."""
    if not values:
        return None
    rank = max(math.ceil(q * len(values)), 1)
    return values[rank - 1]


def compute_kpis(
    conn: Connection,
    *,
    tenant: str | None = None,
    window: timedelta = DEFAULT_WINDOW,
    thresholds: Thresholds | None = None,
    now: datetime | None = None,
) -> KpiReport:
    """Every KPI for every shop (of ``tenant`` when given; disconnected shops included while they have rows)."""
    now = now or utcnow()
    report = KpiReport(now=now, window=window, thresholds=thresholds or Thresholds())
    query = select(integrations.c.id, integrations.c.tenant_id, integrations.c.platform).order_by(integrations.c.id)
    if tenant is not None:
        query = query.where(integrations.c.tenant_id == tenant)
    shops = {int(r.id): (str(r.tenant_id), str(r.platform)) for r in conn.execute(query)}
    if not shops:
        return report
    since = now - window
    report.sync = _sync_success(conn, shops, since=since, now=now)
    t = report.thresholds
    report.webhooks = _webhook_latency(
        conn, shops, since=since, now=now, limit_s=t.max_webhook_latency_s, pending_s=t.max_pending_s
    )
    report.counts = _count_checks(conn, shops)
    return report


def _sync_success(
    conn: Connection, shops: dict[int, tuple[str, str]], *, since: datetime, now: datetime
) -> list[SyncSuccess]:
    # One outcome per shop and run (its rows: every entity and stage of that shop in that Dagster run), then the
    # outcomes counted per shop. A row without a run id (older CLI pushes) is a run of its own.
    is_stale = sync_runs.c.started_at < now - STALE_RUNNING
    running = sync_runs.c.status == "running"
    per_run = (
        select(
            sync_runs.c.integration_id.label("integration_id"),
            func.max(case((sync_runs.c.status == "failed", 1), else_=0)).label("failed"),
            func.max(case((and_(running, is_stale), 1), else_=0)).label("died"),
            func.max(case((and_(running, ~is_stale), 1), else_=0)).label("in_flight"),
        )
        .where(sync_runs.c.integration_id.in_(list(shops)), sync_runs.c.started_at >= since)
        .group_by(sync_runs.c.integration_id, func.coalesce(sync_runs.c.dagster_run_id, cast(sync_runs.c.id, String)))
        .subquery()
    )
    failed = per_run.c.failed == 1
    died = and_(per_run.c.failed == 0, per_run.c.died == 1)
    succeeded = and_(per_run.c.failed == 0, per_run.c.died == 0, per_run.c.in_flight == 0)
    rows = conn.execute(
        select(
            per_run.c.integration_id,
            func.sum(case((succeeded, 1), else_=0)),
            func.sum(case((failed, 1), else_=0)),
            func.sum(case((died, 1), else_=0)),
        ).group_by(per_run.c.integration_id)
    ).all()
    out: dict[int, SyncSuccess] = {}
    for integration_id, n_ok, n_failed, n_died in rows:
        tenant_id, platform = shops[int(integration_id)]
        out[int(integration_id)] = SyncSuccess(
            tenant_id, int(integration_id), platform, int(n_ok or 0), int(n_failed or 0), int(n_died or 0)
        )
    errors = _last_errors(conn, [i for i, s in out.items() if s.failed], since=since)
    for integration_id, error in errors.items():
        out[integration_id].last_error = error
    return [out[i] for i in sorted(out)]


def _last_errors(conn: Connection, ids: Iterable[int], *, since: datetime) -> dict[int, str]:
    ids = sorted(ids)
    if not ids:
        return {}
    newest = (
        select(func.max(sync_runs.c.id))
        .where(sync_runs.c.integration_id.in_(ids), sync_runs.c.status == "failed", sync_runs.c.started_at >= since)
        .group_by(sync_runs.c.integration_id)
    )
    rows = conn.execute(select(sync_runs.c.integration_id, sync_runs.c.error).where(sync_runs.c.id.in_(newest)))
    return {int(i): str(e or "") for i, e in rows}


def _webhook_latency(
    conn: Connection,
    shops: dict[int, tuple[str, str]],
    *,
    since: datetime,
    now: datetime,
    limit_s: float,
    pending_s: float,
) -> list[WebhookLatency]:
    in_window = and_(webhook_inbox.c.integration_id.in_(list(shops)), webhook_inbox.c.received_at >= since)
    out: dict[int, WebhookLatency] = {}

    def entry(integration_id: int) -> WebhookLatency:
        tenant_id, platform = shops[integration_id]
        return out.setdefault(integration_id, WebhookLatency(tenant_id, integration_id, platform))

    late = (webhook_inbox.c.received_at < now - timedelta(seconds=pending_s)).label("late")
    for integration_id, status, is_late, n in conn.execute(
        select(webhook_inbox.c.integration_id, webhook_inbox.c.status, late, func.count())
        .where(in_window, webhook_inbox.c.status.in_(["pending", "dead"]))
        .group_by(webhook_inbox.c.integration_id, webhook_inbox.c.status, late)
    ):
        e = entry(int(integration_id))
        if status == "dead":
            e.dead += int(n)
        elif is_late:
            e.pending_overdue += int(n)
    applied = and_(in_window, webhook_inbox.c.status == "applied", webhook_inbox.c.processed_at.is_not(None))
    if conn.dialect.name == "postgresql":
        # Exact over the whole window, computed where the rows are (nearest rank, like ``percentile``).
        seconds = func.extract("epoch", webhook_inbox.c.processed_at - webhook_inbox.c.received_at)
        for integration_id, n, p50, p95, top, over in conn.execute(
            select(
                webhook_inbox.c.integration_id,
                func.count(),
                func.percentile_disc(0.5).within_group(seconds),
                func.percentile_disc(0.95).within_group(seconds),
                func.max(seconds),
                func.count().filter(seconds > limit_s),
            )
            .where(applied)
            .group_by(webhook_inbox.c.integration_id)
        ):
            e = entry(int(integration_id))
            e.applied, e.over_promise = int(n), int(over)
            e.p50_s, e.p95_s, e.max_s = (max(float(v), 0.0) for v in (p50, p95, top))
        return [out[i] for i in sorted(out)]
    # SQLite (the embedded, single-box warehouse): the newest deliveries of the window, measured here.
    latencies: dict[int, list[float]] = {}
    for integration_id, received, processed in conn.execute(
        select(webhook_inbox.c.integration_id, webhook_inbox.c.received_at, webhook_inbox.c.processed_at)
        .where(applied)
        .order_by(webhook_inbox.c.id.desc())
        .limit(LATENCY_SAMPLE)
    ):
        latencies.setdefault(int(integration_id), []).append(max((processed - received).total_seconds(), 0.0))
    for integration_id, values in latencies.items():
        values.sort()
        e = entry(integration_id)
        e.applied = len(values)
        e.p50_s = percentile(values, 0.50)
        e.p95_s = percentile(values, 0.95)
        e.max_s = values[-1]
        e.over_promise = sum(1 for v in values if v > limit_s)
    return [out[i] for i in sorted(out)]


def _count_checks(conn: Connection, shops: dict[int, tuple[str, str]]) -> list[CountCheck]:
    ids = list(shops)
    newest = (
        select(func.max(sync_runs.c.id))
        .where(sync_runs.c.integration_id.in_(ids), sync_runs.c.stage == "reconcile", sync_runs.c.status == "success")
        .group_by(sync_runs.c.integration_id, sync_runs.c.entity)
    )
    listed = {
        (int(r.integration_id), str(r.entity)): (int(r.rows_fetched or 0), r.finished_at)
        for r in conn.execute(
            select(
                sync_runs.c.integration_id, sync_runs.c.entity, sync_runs.c.rows_fetched, sync_runs.c.finished_at
            ).where(sync_runs.c.id.in_(newest))
        )
    }
    hub: dict[tuple[int, str], int] = {}
    for entity, table in HUB_TABLES.items():
        rows = conn.execute(
            select(entity_links.c.integration_id, func.count())
            .join(table, table.c.id == entity_links.c.hub_id)
            .where(
                entity_links.c.integration_id.in_(ids),
                entity_links.c.entity == entity,
                entity_links.c.deleted_at.is_(None),
                table.c.deleted_at.is_(None),
            )
            .group_by(entity_links.c.integration_id)
        )
        hub.update({(int(i), entity): int(n) for i, n in rows})
    rejected = {
        (int(i), str(e)): int(n)
        for i, e, n in conn.execute(
            select(rejected_records.c.integration_id, rejected_records.c.entity, func.count())
            .where(rejected_records.c.integration_id.in_(ids), rejected_records.c.resolved_at.is_(None))
            .group_by(rejected_records.c.integration_id, rejected_records.c.entity)
        )
        if i is not None
    }
    keys = sorted(set(listed) | set(hub))
    out = []
    for integration_id, entity in keys:
        tenant_id, platform = shops[integration_id]
        total, at = listed.get((integration_id, entity), (None, None))
        out.append(
            CountCheck(
                tenant_id=tenant_id,
                integration_id=integration_id,
                platform=platform,
                entity=entity,
                shop_total=total,
                counted_at=at,
                hub_rows=hub.get((integration_id, entity), 0),
                rejected_open=rejected.get((integration_id, entity), 0),
            )
        )
    return out


__all__ = [
    "DEFAULT_WINDOW",
    "MAX_MISSING_RECORDS",
    "MAX_WEBHOOK_LATENCY_S",
    "MIN_SUCCESS_RATE",
    "CountCheck",
    "KpiReport",
    "SyncSuccess",
    "Thresholds",
    "WebhookLatency",
    "compute_kpis",
    "percentile",
]
