"""PrestaShop extraction without webhooks: poll ``date_upd``, list ids for deletions, diff stock quantities.

PrestaShop core sends no webhooks, so every change is found by polling, at a per-integration frequency
(``settings["poll_interval_s"]``): a scheduled run that comes sooner than that after the entity's last successful
poll is skipped without a call (the skip and its reason are logged and reported in ``cursor_after.poll_skipped``).

Products, orders, customers
    Read with ``filter[date_upd]=[from,to]&date=1&sort=[date_upd_ASC,id_ASC]`` from the stored cursor minus the
    lookback. The cursor is kept in UTC; the filter is built in shop-local time by
    :func:`~ecom_pipeline.platforms.prestashop.dates.local_filter_floor`, which stays right across DST changes.
    A record whose ``date_upd`` equals its link's is not staged (and a product in that state costs no
    combinations call). Each page is staged atomically with the cursor covering it.

Deletions
    PrestaShop deletes for real (404 afterwards) and says nothing. Every sync lists all ids (``display=[id]``,
    1,000 per call, keyset by id) and stages a tombstone for every linked id that is gone. A full scan uses the
    ids it read instead.

Stock
    ``stock_availables`` have no date, and the recorded store proves that a stock change does NOT bump the
    product's ``date_upd`` (``products-date-upd-after-stock-put.json``, ``products-filter-date-upd-range.json``),
    so polling products cannot see stock. Every inventory sync therefore reads
    ``stock_availables?display=[id,id_product,id_product_attribute,quantity]`` (1,000 rows per call, keyset by
    id: about 30 calls for 5,000 products with 5 combinations each), computes a short digest of each product's
    (attribute, quantity) pairs and compares it with the digests stored in the inventory cursor. Only products
    whose digest changed (or is new) are staged, with all their rows, in one transaction with the new digests.
    Why per product and not per row: the product-level row (attribute 0) is the sum of its combinations and is
    only meaningful together with them (the transform drops it when combinations exist).
    Why not compare with ``hub_inventory``: the hub row is the merge of every shop and the hub's own edits;
    what we must detect is a change *in this shop* since we last looked.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ecom_pipeline.platforms.connect import verify_from_settings
from ecom_pipeline.platforms.prestashop import transform as ps
from ecom_pipeline.platforms.prestashop.client import NARROW_PAGE_SIZE, Page, PrestaShopClient
from ecom_pipeline.platforms.prestashop.errors import PrestaShopPermissionError
from ecom_pipeline.sync.extract import (
    CursorKey,
    ExtractContext,
    ExtractReport,
    cursor_after_full_scan,
    is_unchanged,
    since_for,
    stage_page,
    stage_tombstones,
)
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import reveal
from ecom_pipeline.warehouse.store import StagedRecord

# entity -> (webservice resource, key of the object in the staged payload)
RESOURCES: dict[str, tuple[str, str]] = {
    "product": ("products", "product"),
    "order": ("orders", "order"),
    "customer": ("customers", "customer"),
}
STOCK_DISPLAY = "[id,id_product,id_product_attribute,quantity]"
DEFAULT_POLL_INTERVAL_S = 0


@dataclass
class PrestaShopExtractReport(ExtractReport):
    """The shared report plus the poll-interval skip (the extract asset shows ``cursor_after``)."""

    skipped: bool = False
    skip_reason: str | None = None


def make_client(ctx: ExtractContext) -> PrestaShopClient:
    """A client for the integration: TLS and shop id from its settings, limits from the run."""
    settings = ctx.integration.settings or {}
    shop_id = settings.get("shop_id")
    return PrestaShopClient(
        ctx.integration.base_url,
        reveal(ctx.credentials["api_key"]),
        verify=verify_from_settings(settings),
        timeout=ctx.timeout_s,
        max_retries=ctx.max_retries,
        request_budget=ctx.request_budget,
        page_size=int(settings.get("page_size") or ctx.per_page),
        shop_id=int(shop_id) if shop_id not in (None, "") else None,
    )


def _timezone(ctx: ExtractContext) -> str:
    zone = (ctx.integration.settings or {}).get("timezone")
    if not zone:
        raise ValueError(
            f"integration {ctx.integration.id} has no timezone setting; PrestaShop dates are shop-local, so "
            "reconnect with `ecom-pipeline connect prestashop --timezone <IANA name>`"
        )
    return str(zone)


def poll_skip_reason(ctx: ExtractContext, cursor: dict[str, Any] | None, now: datetime) -> str | None:
    """Why this run should not poll (the last successful poll is more recent than the interval), else None."""
    if ctx.full_refresh or not cursor or not cursor.get("polled_at"):
        return None
    interval = float((ctx.integration.settings or {}).get("poll_interval_s") or DEFAULT_POLL_INTERVAL_S)
    if interval <= 0:
        return None
    last = datetime.fromisoformat(str(cursor["polled_at"]))
    age = (now - last).total_seconds()
    if age < interval:
        return f"last successful poll {age:.0f}s ago, poll interval {interval:.0f}s"
    return None


def _skipped(ctx: ExtractContext, report: PrestaShopExtractReport, reason: str) -> PrestaShopExtractReport:
    report.skipped = True
    report.skip_reason = reason
    report.complete_scan = False
    report.cursor_after = {**(report.cursor_before or {}), "poll_skipped": reason}
    report.duration_s = time.monotonic() - report.started
    ctx.log.info(f"{ctx.integration.name} {report.entity}: skipped ({reason})")
    return report


def _finish(report: PrestaShopExtractReport, client: PrestaShopClient) -> PrestaShopExtractReport:
    stats = client.stats
    report.api_calls = stats.api_calls
    report.retries = stats.retries
    report.throttle_wait_s = stats.throttle_wait_s
    report.duration_s = time.monotonic() - report.started
    return report


def _now() -> datetime:
    return datetime.now(UTC)


class _Lookups:
    """Small reference lists read once per run, only when needed (order states, currencies, option values)."""

    def __init__(self, client: PrestaShopClient, settings: dict[str, Any]) -> None:
        self.client = client
        self.settings = settings
        self._states: dict[str, dict[str, Any]] | None = None
        self._currencies: dict[str, str] | None = None
        self._options: dict[str, dict[str, str]] | None = None

    @property
    def language_id(self) -> int | None:
        value = self.settings.get("language_id")
        return int(value) if value not in (None, "") else None

    def states(self) -> dict[str, dict[str, Any]]:
        if self._states is None:
            items = self.client.list("order_states", {"display": "[id,name,paid,shipped,delivery]"})
            self._states = {str(s.get("id")): s for s in items}
        return self._states

    def currencies(self) -> dict[str, str]:
        if self._currencies is None:
            items = self.client.list("currencies", {"display": "[id,iso_code]"})
            self._currencies = {str(c.get("id")): str(c.get("iso_code")) for c in items if c.get("iso_code")}
        return self._currencies

    def default_currency(self) -> str | None:
        return self.settings.get("currency")

    def options(self) -> dict[str, dict[str, str]]:
        if self._options is None:
            try:
                values = self.client.list("product_option_values", {"display": "[id,id_attribute_group,name]"})
                groups = self.client.list("product_options", {"display": "[id,name]"})
            except PrestaShopPermissionError:
                values, groups = [], []  # options are descriptive; the key may not read them
            self._options = ps.option_value_index(values, groups, self.language_id)
        return self._options


def _external_id(item: dict[str, Any]) -> str | None:
    value = item.get("id")
    return None if value in (None, "") else str(value)


def _record_time(item: dict[str, Any], timezone: str) -> datetime | None:
    try:
        return ps.source_updated_at(item, timezone)
    except ValueError:
        return None  # the transform rejects it with the field named; the extract stages it anyway


def extract_entity(
    ctx: ExtractContext, entity: str, client: PrestaShopClient | None = None, *, now: datetime | None = None
) -> PrestaShopExtractReport:
    """Stage changed products (with combinations), orders or customers, then tombstones for deleted ids."""
    resource, key = RESOURCES[entity]
    integration = ctx.integration
    settings = dict(integration.settings or {})
    report = PrestaShopExtractReport(entity=entity)
    with ctx.engine.connect() as conn:
        report.cursor_before = store.get_cursor(conn, integration.id, entity)
    now = now or _now()
    reason = poll_skip_reason(ctx, report.cursor_before, now)
    if reason:
        return _skipped(ctx, report, reason)
    timezone = _timezone(ctx)
    client = client or make_client(ctx)
    lookups = _Lookups(client, settings)
    cursor = CursorKey.from_json(report.cursor_before)
    since = since_for(cursor, ctx.lookback, ctx.full_refresh)
    full_scan = since is None
    pages: Iterator[Page] = (
        client.iter_all(resource) if since is None else client.iter_modified(resource, since, timezone, now=now)
    )
    seen: set[str] = set()
    newest = cursor
    for page in pages:
        report.pages += 1
        report.rows_fetched += len(page.items)
        ids = [i for i in (_external_id(item) for item in page.items) if i is not None]
        with ctx.engine.connect() as conn:
            links = store.get_links(conn, integration.id, entity, ids)
        changed: list[tuple[str, dict[str, Any], datetime | None]] = []
        for index, item in enumerate(page.items):
            external_id = _external_id(item)
            updated = _record_time(item, timezone)
            if external_id is None:
                external_id = f"missing-id-{report.rows_fetched}-{index}"
            else:
                seen.add(external_id)
            if updated is not None and external_id.isdigit():
                position = CursorKey(updated, int(external_id))
                newest = position if newest is None or position > newest else newest
            if not ctx.full_refresh and is_unchanged(links.get(external_id), updated):
                report.unchanged += 1
                continue
            changed.append((external_id, item, updated))
        payloads = _payloads(entity, key, changed, client, lookups, timezone)
        records = [
            StagedRecord(
                tenant_id=integration.tenant_id,
                integration_id=integration.id,
                platform=integration.platform,
                entity=entity,
                external_id=external_id,
                payload=payload,
                source_updated_at=updated,
            )
            for (external_id, _, updated), payload in zip(changed, payloads, strict=True)
        ]
        report.staged += len(records)
        # A date_upd-ascending scan advances the cursor page by page; an id-ordered full scan only at the end.
        stage_page(ctx, entity=entity, records=records, cursor=newest, advance_cursor=not full_scan)
        ctx.log.debug(f"{integration.name} {resource}: page {report.pages}, {report.rows_fetched} read")
    if not full_scan:
        seen = {str(i) for i in client.list_ids(resource)}
    report.complete_scan = True
    report.tombstoned = stage_tombstones(ctx, entity=entity, link_entity=entity, seen=seen)
    if full_scan:
        newest = cursor_after_full_scan(newest, now)
    final = {**(newest.to_json() if newest else {}), "polled_at": now.isoformat()}
    with ctx.engine.begin() as conn:
        store.set_cursor(
            conn, integration_id=integration.id, tenant_id=integration.tenant_id, entity=entity, cursor=final
        )
    report.cursor_after = final
    return _finish(report, client)


def _payloads(
    entity: str,
    key: str,
    changed: list[tuple[str, dict[str, Any], datetime | None]],
    client: PrestaShopClient,
    lookups: _Lookups,
    timezone: str,
) -> list[dict[str, Any]]:
    """The staged payloads: the raw object plus the context its transform needs (module docstring of transform)."""
    base = {"timezone": timezone}
    if entity == "customer":
        return [{key: item, "context": base} for _, item, _ in changed]
    if entity == "order":
        payloads = []
        for _, item, _ in changed:
            state = lookups.states().get(str(item.get("current_state")))
            currency = lookups.currencies().get(str(item.get("id_currency"))) or lookups.default_currency()
            payloads.append({key: item, "context": {**base, "currency": currency, "state": state}})
        return payloads
    # products: fetch the combinations of every changed product that has some, in one filtered scan.
    parents = [int(eid) for eid, item, _ in changed if eid.isdigit() and _safe_has_combinations(item)]
    by_product: dict[str, list[dict[str, Any]]] = {}
    for combination in client.list_by_parent("combinations", "id_product", parents):
        by_product.setdefault(str(combination.get("id_product")), []).append(combination)
    options = lookups.options() if by_product else {}
    currency = lookups.default_currency()
    payloads = []
    for external_id, item, _ in changed:
        combinations = by_product.get(external_id, [])
        wanted: set[str] = set()
        for combination in combinations:
            try:
                wanted.update(ps.combination_option_ids(combination))
            except ValueError:
                continue  # malformed: the transform names it
        context = {
            **base,
            "language_id": lookups.language_id,
            "currency": currency,
            "option_values": {vid: options[vid] for vid in sorted(wanted) if vid in options},
        }
        payloads.append({key: item, "combinations": combinations, "context": context})
    return payloads


def _safe_has_combinations(item: dict[str, Any]) -> bool:
    try:
        return ps.has_combinations(item)
    except ValueError:
        return False


# -- stock ------------------------------------------------------------------------------------------------------


def stock_digest(rows: list[dict[str, Any]]) -> str:
    """A short fingerprint of one product's (id_product_attribute, quantity) pairs, order-independent."""
    pairs = sorted(f"{r.get('id_product_attribute')}:{r.get('quantity')}" for r in rows)
    return hashlib.sha1(",".join(pairs).encode(), usedforsecurity=False).hexdigest()[:12]


def extract_inventory(
    ctx: ExtractContext, client: PrestaShopClient | None = None, *, now: datetime | None = None
) -> PrestaShopExtractReport:
    """Stage the stock rows of products whose quantities changed since the last poll (module docstring)."""
    integration = ctx.integration
    report = PrestaShopExtractReport(entity="inventory")
    with ctx.engine.connect() as conn:
        report.cursor_before = store.get_cursor(conn, integration.id, "inventory")
    now = now or _now()
    reason = poll_skip_reason(ctx, report.cursor_before, now)
    if reason:
        return _skipped(ctx, report, reason)
    client = client or make_client(ctx)
    by_product: dict[str, list[dict[str, Any]]] = {}
    for page in client.iter_by_id("stock_availables", display=STOCK_DISPLAY, page_size=NARROW_PAGE_SIZE):
        report.pages += 1
        report.rows_fetched += len(page.items)
        for row in page.items:
            by_product.setdefault(str(row.get("id_product")), []).append(row)
    previous: dict[str, str] = {} if ctx.full_refresh else dict((report.cursor_before or {}).get("digests") or {})
    digests = {pid: stock_digest(rows) for pid, rows in by_product.items()}
    observed = now.isoformat()
    records = [
        StagedRecord(
            tenant_id=integration.tenant_id,
            integration_id=integration.id,
            platform=integration.platform,
            entity="inventory",
            external_id=pid,
            payload={"id_product": pid, "rows": rows, "context": {"observed_at": observed}},
            source_updated_at=now,
        )
        for pid, rows in sorted(by_product.items(), key=lambda kv: (len(kv[0]), kv[0]))
        if previous.get(pid) != digests[pid]
    ]
    report.unchanged = len(by_product) - len(records)
    report.staged = len(records)
    cursor = {"digests": digests, "polled_at": observed, "products": len(digests)}
    with ctx.engine.begin() as conn:  # the rows and the digests that cover them commit together
        for start in range(0, len(records), 500):
            store.stage_records(conn, records[start : start + 500], run_id=ctx.run_id)
        store.set_cursor(
            conn, integration_id=integration.id, tenant_id=integration.tenant_id, entity="inventory", cursor=cursor
        )
    report.cursor_after = {"polled_at": observed, "products": len(digests), "changed_products": len(records)}
    report.complete_scan = True
    return _finish(report, client)


def extract(ctx: ExtractContext, entity: str) -> ExtractReport:
    """The registry's entry point: ``entity`` is a staging entity (product, inventory, order, customer)."""
    if entity == "inventory":
        return extract_inventory(ctx)
    return extract_entity(ctx, entity)


__all__ = [
    "PrestaShopExtractReport",
    "extract",
    "extract_entity",
    "extract_inventory",
    "make_client",
    "poll_skip_reason",
    "stock_digest",
]
