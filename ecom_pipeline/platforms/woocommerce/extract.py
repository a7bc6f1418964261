"""WooCommerce extraction: pages of products (with variations), orders and customers into staging.

Products and orders are read incrementally with ``modified_after`` (GMT) ordered by modification time, from the
stored cursor minus a lookback; customers have no modification filter in the REST API, so every sync lists them
and only changed ones are staged. Stock lives on products and variations in WooCommerce, so the inventory
extract costs no API call: it reads the stock fields of the product payloads staged before it.

A record the hub already holds in the same version (same ``date_modified_gmt`` as its link) is not staged, and a
variable product in that state does not even cost its variations call: a no-change sync makes one list call per
entity and writes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from ecom_pipeline.platforms.connect import verify_from_settings
from ecom_pipeline.platforms.woocommerce.client import WooCommerceClient
from ecom_pipeline.platforms.woocommerce.transform import source_updated_at
from ecom_pipeline.sync.extract import (
    CursorKey,
    ExtractContext,
    ExtractReport,
    is_unchanged,
    since_for,
    stage_page,
    stage_tombstones,
)
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import reveal
from ecom_pipeline.warehouse.schema import staging_records
from ecom_pipeline.warehouse.store import StagedRecord

# Fields of a product or variation that carry stock; the inventory staging rows keep only these.
STOCK_FIELDS = (
    "id",
    "parent_id",
    "sku",
    "type",
    "status",
    "manage_stock",
    "stock_quantity",
    "stock_status",
    "date_modified_gmt",
)

# entity -> (REST resource, link entity, supports modified_after)
RESOURCES: dict[str, tuple[str, str, bool]] = {
    "product": ("products", "product", True),
    "order": ("orders", "order", True),
    "customer": ("customers", "customer", False),
}


def make_client(ctx: ExtractContext) -> WooCommerceClient:
    """A client for the integration, with TLS settings from the integration and limits from the run."""
    settings = ctx.integration.settings or {}
    verify = verify_from_settings(settings)
    return WooCommerceClient(
        ctx.integration.base_url,
        reveal(ctx.credentials["consumer_key"]),
        reveal(ctx.credentials["consumer_secret"]),
        verify=verify,
        timeout=ctx.timeout_s,
        api_version=settings.get("api_version", "wc/v3"),
        max_retries=ctx.max_retries,
        request_budget=ctx.request_budget,
        per_page=ctx.per_page,
    )


def _record_time(payload: dict[str, Any]) -> datetime | None:
    try:
        return source_updated_at(payload)
    except ValueError:
        # A malformed date is the transform's to report (it rejects the record with the field named); the
        # extract stages the payload anyway so nothing is dropped.
        return None


def _external_id(payload: dict[str, Any]) -> str | None:
    value = payload.get("id")
    return None if value in (None, "") else str(value)


def extract_entity(ctx: ExtractContext, entity: str, client: WooCommerceClient | None = None) -> ExtractReport:
    """Stage changed products, orders or customers of one WooCommerce integration."""
    resource, link_entity, incremental = RESOURCES[entity]
    client = client or make_client(ctx)
    report = ExtractReport(entity=entity)
    with ctx.engine.connect() as conn:
        report.cursor_before = store.get_cursor(conn, ctx.integration.id, entity)
    cursor = CursorKey.from_json(report.cursor_before)
    since = since_for(cursor, ctx.lookback, ctx.full_refresh) if incremental else None
    full_scan = since is None
    pages: Iterator[Any] = (
        client.iter_modified(resource, since, {})
        if incremental
        else client.iter_pages(resource, {"orderby": "id", "order": "asc"})
    )
    seen: set[str] = set()
    newest = cursor
    integration = ctx.integration
    for page in pages:
        report.pages += 1
        items = page.items
        report.rows_fetched += len(items)
        ids = [i for i in (_external_id(item) for item in items) if i is not None]
        with ctx.engine.connect() as conn:
            links = store.get_links(conn, integration.id, link_entity, ids)
        records: list[StagedRecord] = []
        for item in items:
            external_id = _external_id(item)
            updated = _record_time(item)
            if external_id is None:
                # Kept (staged under a placeholder id) so the transform rejects it with its payload visible.
                external_id = f"missing-id-{report.rows_fetched}-{len(records)}"
            else:
                seen.add(external_id)
            if updated is not None and external_id.isdigit():
                key = CursorKey(updated, int(external_id))
                newest = key if newest is None or key > newest else newest
            if not ctx.full_refresh and is_unchanged(links.get(external_id), updated):
                report.unchanged += 1
                continue
            payload: dict[str, Any]
            if entity == "product":
                variations: list[dict[str, Any]] = []
                if item.get("type") == "variable" and external_id.isdigit():
                    variations = list(client.list_variations(int(external_id)))
                payload = {"product": item, "variations": variations}
            else:
                payload = item
            records.append(
                StagedRecord(
                    tenant_id=integration.tenant_id,
                    integration_id=integration.id,
                    platform=integration.platform,
                    entity=entity,
                    external_id=external_id,
                    payload=payload,
                    source_updated_at=updated,
                )
            )
        report.staged += len(records)
        # A modified-ascending scan may advance the cursor page by page; an id-ordered full scan only at the end.
        stage_page(ctx, entity=entity, records=records, cursor=newest, advance_cursor=not full_scan or not incremental)
        ctx.log.debug(f"{integration.name} {resource}: page {report.pages}, {report.rows_fetched} read")
    report.complete_scan = True
    if full_scan:
        if incremental and newest is not None:
            stage_page(ctx, entity=entity, records=[], cursor=newest, advance_cursor=True)
        report.tombstoned = stage_tombstones(ctx, entity=entity, link_entity=link_entity, seen=seen)
    report.cursor_after = newest.to_json() if newest else report.cursor_before
    stats = client.stats
    report.api_calls = stats.api_calls
    report.retries = stats.retries
    report.throttle_wait_s = stats.throttle_wait_s
    report.duration_s = time.monotonic() - report.started
    return report


def extract_inventory(ctx: ExtractContext) -> ExtractReport:
    """Stage stock rows from product payloads staged since the last inventory cursor (no API calls).

    The cursor is the last ``staging_records.id`` of a product payload already turned into stock rows; it is
    advanced in the same transaction as the rows it covers.
    """
    report = ExtractReport(entity="inventory")
    integration = ctx.integration
    with ctx.engine.connect() as conn:
        report.cursor_before = store.get_cursor(conn, integration.id, "inventory")
    after_id = int((report.cursor_before or {}).get("staging_id", 0))
    batch = 500
    while True:
        with ctx.engine.connect() as conn:
            rows = conn.execute(
                select(staging_records.c.id, staging_records.c.external_id, staging_records.c.payload)
                .where(
                    staging_records.c.integration_id == integration.id,
                    staging_records.c.entity == "product",
                    staging_records.c.op == "upsert",
                    staging_records.c.id > after_id,
                )
                .order_by(staging_records.c.id)
                .limit(batch)
            ).all()
        if not rows:
            break
        records = []
        for row in rows:
            payload = row.payload or {}
            product = payload.get("product") or {}
            stock = {
                "product": {k: product.get(k) for k in STOCK_FIELDS},
                "variations": [{k: v.get(k) for k in STOCK_FIELDS} for v in payload.get("variations") or []],
            }
            records.append(
                StagedRecord(
                    tenant_id=integration.tenant_id,
                    integration_id=integration.id,
                    platform=integration.platform,
                    entity="inventory",
                    external_id=row.external_id,
                    payload=stock,
                    source_updated_at=_record_time(product),
                )
            )
        after_id = rows[-1].id
        report.rows_fetched += len(rows)
        report.staged += len(records)
        report.pages += 1
        with ctx.engine.begin() as conn:
            store.stage_records(conn, records, run_id=ctx.run_id)
            store.set_cursor(
                conn,
                integration_id=integration.id,
                tenant_id=integration.tenant_id,
                entity="inventory",
                cursor={"staging_id": after_id, "at": datetime.now(UTC).isoformat()},
            )
        if len(rows) < batch:
            break
    report.cursor_after = {"staging_id": after_id} if report.pages else report.cursor_before
    report.complete_scan = True
    report.duration_s = time.monotonic() - report.started
    return report
