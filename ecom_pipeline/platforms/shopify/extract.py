"""Shopify extraction: products (with every variant and inventory item id), orders, customers and stock levels.

Products, orders and customers are read incrementally with ``query: "updated_at:>='<cursor - lookback>'"`` and
``sortKey: UPDATED_AT`` (ascending), so the cursor ((updated_at, id), :class:`CursorKey`) advances page by page in the
same transaction as the staged records. A record the hub already holds in the same version (same ``updatedAt`` as
its link) is not staged. Nested connections that overflow their first page (products with more variants than the
page asks for, up to 2,048; orders with many lines) are completed with follow-up queries before staging, so a
staged payload is always whole.

Full scans (first sync or ``full_refresh``) of a shop with more records than ``settings["bulk_threshold"]``
(default 2,000) use a **bulk operation** instead (settings ``bulk``: ``auto`` | ``always`` | ``never``); a failed or
expired one falls back to paginated queries unless ``bulk_fallback`` is ``fail``. After a complete full scan,
records the hub links but the shop no longer lists are tombstoned.

Inventory (our design, cheapest faithful read): stock lives on inventory *levels* (item x location), so we list
each active location's ``inventoryLevels`` filtered by ``updated_at`` since the inventory cursor; an unchanged
level costs nothing, and a full read costs about 4 points per level (100 levels per 402-point page). Reading levels
through the products query instead would multiply the product page cost by the number of locations and re-read
every level of a product whenever any field of it changes. One staged row per (variant, location).

Orders without the ``read_all_orders`` scope: Shopify only returns the last 60 days. That is stated in the report's
``warnings`` (run metadata) and, because older orders are merely invisible, a full scan then tombstones nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ecom_pipeline.platforms.errors import ShopApiError
from ecom_pipeline.platforms.shopify import queries as q
from ecom_pipeline.platforms.shopify.auth import TokenProvider
from ecom_pipeline.platforms.shopify.client import ShopifyClient, updated_at_filter
from ecom_pipeline.platforms.shopify.credentials import persist_renewed_token, provider_for
from ecom_pipeline.platforms.shopify.errors import ShopifyBulkOperationError
from ecom_pipeline.platforms.shopify.lifecycle import record_served_version
from ecom_pipeline.platforms.shopify.transform import numeric_id, source_updated_at
from ecom_pipeline.platforms.shopify.versions import pinned_version, version_status
from ecom_pipeline.sync import extract as shared
from ecom_pipeline.sync.policies import shopify_collections_of
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.engine import default_home
from ecom_pipeline.warehouse.store import StagedRecord

DEFAULT_BULK_THRESHOLD = 2000
SIXTY_DAY_WARNING = (
    "the app lacks the read_all_orders scope: Shopify only returns orders of the last 60 days, so older orders are "
    "not synced (and not tombstoned). Grant read_all_orders (it needs Shopify's approval for public apps) and "
    "reconnect to sync them."
)


@dataclass
class PageSizes:
    """The pages we would like; the client shrinks the top-level one to the largest that fits under 1,000 points.

    Top-level sizes start at Shopify's maximum (250): a refused first query (``MAX_COST_EXCEEDED``, not charged)
    names its cost, and the client scales the page to fit (products with 20 variants: 9 a page; customers: 250), so
    shops with small nested pages (``variants_page_size``) get bigger pages without any setting. Nested sizes stay
    fixed: they decide how many records need follow-up queries.
    """

    products: int = 250
    variants: int = 20
    orders: int = 250
    lines: int = 5
    customers: int = 250
    levels: int = 250
    nested: int = 100

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> PageSizes:
        sizes = cls()
        for name in ("products", "variants", "orders", "lines", "customers", "levels"):
            value = settings.get(f"{name}_page_size")
            if isinstance(value, int) and 1 <= value <= 250:
                setattr(sizes, name, value)
        return sizes


@dataclass
class ShopifyExtractReport(shared.ExtractReport):
    """ExtractReport plus what is Shopify's own: THROTTLED answers, the mode used, and warnings for the run."""

    throttled: int = 0
    mode: str = "paginated"  # paginated | bulk | bulk->paginated (fallback)
    warnings: list[str] = field(default_factory=list)
    bulk_operations: int = 0
    # pinned / served version and its lifecycle state (versions.VersionStatus.as_metadata)
    api_version: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, Any]:
        return super().counts()

    def metadata(self) -> dict[str, Any]:
        """Extra run metadata (what ExtractReport.counts does not carry)."""
        return {
            "throttled": self.throttled,
            "mode": self.mode,
            "warnings": list(self.warnings),
            **self.api_version,
        }


def _store_renewed(ctx: shared.ExtractContext, renewed: dict[str, Any]) -> None:
    """Write a renewed token to the warehouse; a failure is logged, never fatal (the run has the token in memory)."""
    engine = getattr(ctx, "engine", None)
    integration = getattr(ctx, "integration", None)
    if engine is None or integration is None:
        return
    try:
        cipher = CredentialCipher.from_env(default_home())
        persist_renewed_token(engine, integration.id, cipher)(renewed)
    except Exception as exc:  # a missing key or a locked database must not fail the sync that renewed
        ctx.log.warning(f"{integration.name}: renewed Shopify token not stored ({type(exc).__name__}: {exc})")


def token_provider(ctx: shared.ExtractContext, *, verify: bool | str) -> TokenProvider:
    """The stored credentials as a token provider (client credentials renew themselves and report the new token)."""
    credentials = ctx.credentials

    def persist(renewed: dict[str, Any]) -> None:
        # Kept in memory for this run, and stored in the integration's encrypted credentials so the next run
        # (and webhook re-reads) start from the fresh token instead of renewing again.
        credentials["access_token"] = renewed["access_token"]
        credentials["expires_at"] = renewed["expires_at"]
        hook = getattr(ctx, "on_credentials_renewed", None)
        if callable(hook):
            hook(renewed)
        else:
            _store_renewed(ctx, renewed)
        ctx.log.info(f"{ctx.integration.name}: Shopify access token renewed (client credentials)")

    return provider_for(ctx.integration.base_url, credentials, verify=verify, timeout=ctx.timeout_s, on_renew=persist)


def make_client(ctx: shared.ExtractContext, *, sleep: Callable[[float], None] = time.sleep) -> ShopifyClient:
    """A client for the integration, with TLS settings and API version from the integration, limits from the run.

    The version is :func:`~.versions.pinned_version`: an integration stored before connect recorded one keeps the
    version it was synced with, not whatever the client's default is today.
    """
    options = ctx.http_options().replace(sleep=sleep, api_version=pinned_version(ctx.integration.settings))
    return ShopifyClient(options, token_provider(ctx, verify=options.verify))


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _node_id(node: dict[str, Any]) -> str | None:
    """A listed node's numeric id (``legacyResourceId``, or the tail of its gid), None when it has none."""
    return numeric_id(node.get("legacyResourceId") or node.get("id"))


def _record_time(payload: dict[str, Any]) -> datetime | None:
    try:
        return source_updated_at(payload)
    except ValueError:
        return None  # the transform rejects it with the field named; the extract stages it anyway


# entity -> (paginated query, connection path, link entity, page-size attribute)
ENTITIES: dict[str, tuple[str, tuple[str, ...], str, str]] = {
    "product": (q.PRODUCTS_QUERY, ("products",), "product", "products"),
    "order": (q.ORDERS_QUERY, ("orders",), "order", "orders"),
    "customer": (q.CUSTOMERS_QUERY, ("customers",), "customer", "customers"),
}


def _use_bulk(client: ShopifyClient, entity: str, settings: dict[str, Any], full_scan: bool) -> bool:
    mode = settings.get("bulk", "auto")
    if not full_scan or mode == "never":
        return False
    if mode == "always":
        return True
    threshold = int(settings.get("bulk_threshold", DEFAULT_BULK_THRESHOLD))
    try:
        count = client.count(entity)
    except ShopApiError:
        return False  # counting is an optimisation; paginated always works
    return count is not None and count > threshold


def first_variant(item: dict[str, Any]) -> dict[str, Any]:
    """The variant of an inventory item: ``variants(first: 1)`` (2026-01+), or a staged ``variant``."""
    variants = item.get("variants")
    nodes = variants.get("nodes") if isinstance(variants, dict) else None
    if isinstance(nodes, list) and nodes and isinstance(nodes[0], dict):
        return nodes[0]
    variant = item.get("variant")
    return variant if isinstance(variant, dict) else {}


def version_warnings(report: ShopifyExtractReport, client: ShopifyClient, ctx: shared.ExtractContext) -> None:
    """Record the version served and warn (run metadata) when the pinned one retires within 90 days or fell
    forward; the served version is stored in the integration's settings for ``status`` and the asset check."""
    status = version_status(client.api_version, client.served_version)
    report.api_version = status.as_metadata()
    message = status.message()
    if message:
        report.warnings.append(message.replace("<id>", str(ctx.integration.id)))
    engine = getattr(ctx, "engine", None)
    if engine is not None and client.served_version:
        try:
            record_served_version(engine, ctx.integration.id, client.served_version)
        except Exception as exc:  # bookkeeping only: never fail the read that learned it
            ctx.log.warning(f"{ctx.integration.name}: served API version not recorded ({type(exc).__name__})")


def order_link_warnings(options: dict[str, bool]) -> list[str]:
    """What the orders read leaves out because a nested link's scope is missing."""
    return [
        f"missing access scope {q.ORDER_LINK_SCOPES[link]}: {q.ORDER_LINK_LOSS[link]}. Grant it and reconnect."
        for link, allowed in options.items()
        if not allowed
    ]


def _complete(
    client: ShopifyClient,
    entity: str,
    node: dict[str, Any],
    sizes: PageSizes,
    options: dict[str, bool] | None = None,
    *,
    collections: bool = False,
) -> None:
    if entity == "product":
        client.complete_connection(
            node, "variants", q.PRODUCT_VARIANTS_QUERY, ("product", "variants"), page_size=sizes.nested
        )
        if collections:
            client.complete_connection(
                node, "collections", q.PRODUCT_COLLECTIONS_QUERY, ("product", "collections"), page_size=sizes.nested
            )
    elif entity == "order":
        lines_query = q.order_lines_query(variant=(options or {}).get("variant", True))
        client.complete_connection(node, "lineItems", lines_query, ("order", "lineItems"), page_size=sizes.nested)
        _add_refunds(client, node)


def _refunded(node: dict[str, Any]) -> bool:
    """Whether the order has refunds at all (``totalRefundedSet`` above zero, or cancelled: a cancel records its
    lines as a refund, with or without money, whose restock types say what it put back), so only those pay for
    the query."""
    if node.get("cancelledAt"):
        return True
    money = ((node.get("totalRefundedSet") or {}).get("shopMoney") or {}).get("amount")
    try:
        return money is not None and Decimal(str(money)) > 0
    except InvalidOperation:
        return False


def _add_refunds(client: ShopifyClient, node: dict[str, Any]) -> None:
    """Attach a refunded or cancelled order's refunds (lines and restock types) to its staged payload.

    The stock ledger books restocked units as ``refund_restock`` movements from them (``stock/refunds.py``); without
    them a polled shop's restock would read as an unexplained shop adjustment. Webhook bodies carry them already.
    """
    if "refunds" in node or not _refunded(node) or not node.get("id"):
        return
    data = client.execute(
        q.ORDER_REFUNDS_QUERY,
        {"id": node["id"], "first": q.REFUNDS_FIRST, "linesFirst": q.REFUND_LINES_FIRST},
        key="OrderRefunds",
    )
    order = data.get("order") or {}
    node["refunds"] = order.get("refunds") or []


def extract_entity(
    ctx: shared.ExtractContext, entity: str, client: ShopifyClient | None = None
) -> ShopifyExtractReport:
    """Stage changed products, orders or customers of one Shopify integration (or inventory levels)."""
    if entity == "inventory":
        return extract_inventory(ctx, client)
    query, path, link_entity, size_name = ENTITIES[entity]
    settings = ctx.integration.settings or {}
    sizes = PageSizes.from_settings(settings)
    # Custom collections as categories (opt-in, ``sync.policies.SHOPIFY_COLLECTIONS_KEY``). Off: 0 collections asked
    # a page, none in bulk, and the empty connection dropped before staging, so the payload (and its hash) is the
    # one staged before the feature and the transform reads no categories.
    collections = entity == "product" and shopify_collections_of(settings)
    client = client or make_client(ctx)
    report = ShopifyExtractReport(entity=entity)
    integration = ctx.integration
    with ctx.engine.connect() as conn:
        report.cursor_before = store.get_cursor(conn, integration.id, entity)
    cursor = shared.CursorKey.from_json(report.cursor_before)
    since = shared.since_for(cursor, ctx.lookback, ctx.full_refresh)
    full_scan = since is None
    scan_started = datetime.now(UTC)

    shop = client.shop_and_scopes()
    currency = shop.get("currency") or settings.get("currency")
    tombstones_allowed = True
    version_warnings(report, client, ctx)
    missing = [s for s in q.SCOPES_REQUIRED[entity] if s not in shop["scopes"]]
    if missing:
        report.warnings.append(f"missing access scopes {', '.join(missing)}: Shopify will refuse this read")
    options = q.order_options(shop["scopes"]) if entity == "order" else {}
    if entity == "order":
        query = q.orders_query(**options)
        report.warnings.extend(order_link_warnings(options))
        if q.ALL_ORDERS_SCOPE not in shop["scopes"]:
            report.warnings.append(SIXTY_DAY_WARNING)
            tombstones_allowed = False
    for warning in report.warnings:
        ctx.log.warning(f"{integration.name} {entity}s: {warning}")

    seen: set[str] = set()
    state = {"newest": cursor}

    def stage(nodes: list[dict[str, Any]], *, advance: bool) -> None:
        if entity == "product" and not collections:
            for node in nodes:
                node.pop("collections", None)
        changed, page_newest = shared.changed_items(
            ctx,
            report,
            link_entity=link_entity,
            items=nodes,
            seen=seen,
            record_time=_record_time,
            settled_before=shared.settled_before_of(report.cursor_before, ctx.lookback),
            external_id=_node_id,
        )
        state["newest"] = shared.later(state["newest"], page_newest)
        records: list[StagedRecord] = []
        for item in changed:
            # only changed records pay for nested pages
            _complete(client, entity, item.payload, sizes, options, collections=collections)
            payload = {"product": item.payload, "currency": currency} if entity == "product" else item.payload
            records.append(
                shared.staged_record(integration, entity, item.external_id, payload, source_updated_at=item.updated)
            )
        report.staged += len(records)
        shared.stage_page(ctx, entity=entity, records=records, cursor=state["newest"], advance_cursor=advance)

    def paginated() -> None:
        variables: dict[str, Any] = {"first": getattr(sizes, size_name)}
        if entity == "product":
            variables["variantsFirst"] = sizes.variants
            variables["collectionsFirst"] = q.COLLECTIONS_FIRST if collections else 0
        if entity == "order":
            variables["linesFirst"] = sizes.lines
        if since is not None:
            variables["query"] = updated_at_filter(_iso(since))
        for page in client.paginate(
            query, path, variables, key=query.split("(", 1)[0].removeprefix("query ").strip(), fit="first"
        ):
            # updated_at ascending: each page's cursor covers everything before it (incremental scans only; an
            # interrupted full scan restarts in full so its tombstones stay correct).
            stage(page.nodes, advance=not full_scan)

    use_bulk = _use_bulk(client, entity, settings, full_scan)
    if use_bulk and not client.supports_bulk_by_id():
        use_bulk = False
        report.warnings.append(
            f"bulk operations skipped: the served API version {client.served_version} has no bulkOperation(id:); "
            "paginated queries used instead"
        )
    if use_bulk:
        report.mode = "bulk"
        bulk_document = q.bulk_orders(**options) if entity == "order" else q.BULK_DOCUMENTS[entity]
        if collections:
            bulk_document = q.BULK_PRODUCTS_WITH_COLLECTIONS
        try:
            batch: list[dict[str, Any]] = []
            for record in client.run_bulk_query(
                bulk_document, on_in_progress=str(settings.get("bulk_in_progress", "wait"))
            ):
                if collections:
                    # The bulk document reads collections: a product in none has no child line, not "not read".
                    record.setdefault("collections", {"nodes": []})
                batch.append(record)
                if len(batch) >= 250:
                    stage(batch, advance=False)
                    batch = []
            if batch:
                stage(batch, advance=False)
        except ShopifyBulkOperationError as err:
            if settings.get("bulk_fallback", "paginate") == "fail":
                raise
            report.mode = "bulk->paginated"
            report.warnings.append(f"bulk operation failed ({err.message}); fell back to paginated queries")
            ctx.log.warning(f"{integration.name} {entity}s: {report.warnings[-1]}")
            paginated()
    else:
        paginated()

    report.complete_scan = True
    newest = state["newest"]
    if full_scan:
        newest = shared.cursor_after_full_scan(newest, scan_started)
        if newest is not None:
            shared.stage_page(ctx, entity=entity, records=[], cursor=newest, advance_cursor=True)
        if tombstones_allowed:
            report.tombstoned = shared.stage_tombstones(ctx, entity=entity, link_entity=link_entity, seen=seen)
    shared.finish_read(ctx, entity)  # complete: its start is the cursor's read_at
    report.cursor_after = newest.to_json() if newest else report.cursor_before
    _finish(report, client)
    return report


def _finish(report: ShopifyExtractReport, client: ShopifyClient) -> None:
    stats = client.stats
    shared.add_client_stats(report, stats)
    report.throttled = stats.throttled
    report.bulk_operations = stats.bulk_operations
    report.duration_s = time.monotonic() - report.started


def _locations(client: ShopifyClient) -> Iterator[dict[str, Any]]:
    for page in client.paginate(q.LOCATIONS_QUERY, ("locations",), {"first": 50}, key="Locations"):
        for node in page.nodes:
            if node.get("isActive", True):
                yield node


def extract_inventory(ctx: shared.ExtractContext, client: ShopifyClient | None = None) -> ShopifyExtractReport:
    """Stage inventory levels changed since the cursor, one row per (variant, location), every active location.

    The cursor is the newest level ``updatedAt`` seen; it is committed only after every location was read, because
    locations are read one after another from the same ``since``.
    """
    settings = ctx.integration.settings or {}
    sizes = PageSizes.from_settings(settings)
    client = client or make_client(ctx)
    report = ShopifyExtractReport(entity="inventory")
    integration = ctx.integration
    shop = client.shop_and_scopes()
    version_warnings(report, client, ctx)
    missing = [s for s in q.SCOPES_REQUIRED["inventory"] if s not in shop["scopes"]]
    if missing:
        report.warnings.append(f"missing access scopes {', '.join(missing)}: Shopify will refuse this read")
    for warning in report.warnings:
        ctx.log.warning(f"{integration.name} inventory: {warning}")
    with ctx.engine.connect() as conn:
        report.cursor_before = store.get_cursor(conn, integration.id, "inventory")
    cursor = shared.CursorKey.from_json(report.cursor_before)
    since = shared.since_for(cursor, ctx.lookback, ctx.full_refresh)
    newest = cursor
    for location in _locations(client):
        location_ref = {k: location.get(k) for k in ("id", "legacyResourceId", "name")}
        variables: dict[str, Any] = {"id": location["id"], "first": sizes.levels}
        if since is not None:
            variables["query"] = updated_at_filter(_iso(since))
        for page in client.paginate(
            q.LOCATION_LEVELS_QUERY, ("location", "inventoryLevels"), variables, key="LocationLevels", fit="first"
        ):
            report.pages += 1
            report.rows_fetched += len(page.nodes)
            records: list[StagedRecord] = []
            for level in page.nodes:
                item = level.get("item") or {}
                variant = first_variant(item)
                variant_id = numeric_id(variant.get("legacyResourceId") or variant.get("id"))
                if variant_id is None:
                    continue  # an inventory item without a variant (deleted): nothing in the hub to update
                updated = _record_time(level)
                if updated is not None:
                    key = shared.CursorKey(updated, int(variant_id))
                    newest = key if newest is None or key > newest else newest
                location_id = numeric_id(location.get("legacyResourceId") or location.get("id"))
                records.append(
                    shared.staged_record(
                        integration,
                        "inventory",
                        f"{variant_id}@{location_id}",
                        {"level": level, "location": location_ref},
                        source_updated_at=updated,
                    )
                )
            report.staged += len(records)
            shared.stage_page(ctx, entity="inventory", records=records, cursor=None, advance_cursor=False)
    if newest is not None:
        shared.stage_page(ctx, entity="inventory", records=[], cursor=newest, advance_cursor=True)
    report.complete_scan = True
    report.cursor_after = newest.to_json() if newest else report.cursor_before
    _finish(report, client)
    return report


__all__ = [
    "DEFAULT_BULK_THRESHOLD",
    "SIXTY_DAY_WARNING",
    "PageSizes",
    "ShopifyExtractReport",
    "extract_entity",
    "extract_inventory",
    "make_client",
    "token_provider",
]
