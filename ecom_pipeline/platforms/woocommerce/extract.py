"""WooCommerce extraction: pages of products (with variations), orders and customers into staging.

Products and orders are read incrementally with ``modified_after`` (GMT) ordered by modification time, from the
stored cursor minus a lookback; customers have no modification filter in the REST API, so their incremental read
is assembled from new ids and the customers of changed orders, with a periodic complete scan (see
``extract_customers``). Stock lives on products and variations in WooCommerce, so the inventory
extract costs no API call: it reads the stock fields of the product payloads staged before it.

A record the hub already holds in the same version (same ``date_modified_gmt`` as its link) is not staged, and a
variable product in that state does not even cost its variations call: a no-change sync makes one list call per
entity and writes nothing.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar
from urllib.parse import unquote

from sqlalchemy import func, literal_column, select, type_coerce

from ecom_pipeline.platforms.errors import (
    RequestBudgetExceeded,
    ShopAuthError,
    ShopBadRequestError,
    ShopNotFoundError,
    ShopRedirectError,
    ShopResponseError,
    ShopServerError,
    sanitize_url,
)
from ecom_pipeline.platforms.woocommerce.client import Page, WooCommerceClient, is_staff
from ecom_pipeline.platforms.woocommerce.taxonomy import CategoryTree
from ecom_pipeline.platforms.woocommerce.transform import source_updated_at
from ecom_pipeline.sync import extract as shared
from ecom_pipeline.sync.apply import gc_paused
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import reveal
from ecom_pipeline.warehouse.schema import JsonType, staging_records
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

# Concurrent variation requests per shop (settings["concurrency"]).
DEFAULT_CONCURRENCY = 4
# Hours between complete customer scans (settings["customers_full_scan_hours"]).
DEFAULT_CUSTOMER_SCAN_HOURS = 24.0

# entity read with modified_after -> (REST resource, link entity); customers have their own read (extract_customers)
RESOURCES: dict[str, tuple[str, str]] = {
    "product": ("products", "product"),
    "order": ("orders", "order"),
}


@dataclass
class WooExtractReport(shared.ExtractReport):
    """The shared report plus what WooCommerce's page-number paging needs to say.

    ``recovered_after_scan``: records of a full scan that only a recovery brought. The scan reads by id in pages
    overlapping by one record (``WooCommerceClient.iter_id_scan``); records removed during it open a gap before a
    page, and the records the scan then finds by stepping back (those that slid past the read position) are
    counted, as are records of products and orders that the closing read of what was modified during the scan
    found (restored from the trash below the read position). A single removal below the read position is absorbed
    by the overlap itself (the step-back re-reads, but nothing had slid past): 0. Until the overlapping scan, this
    counted the ids an id listing at the end of the scan found unseen, fetched by ``include=``.
    ``recovered_in_tied_second``: the records an incremental read that had to page by number inside one
    modification second skipped, fetched again (see ``WooCommerceClient.iter_modified``).
    """

    recovered_after_scan: int = 0
    recovered_in_tied_second: int = 0
    # Customers only: users the shop listed whose role is a staff role (client.STAFF_ROLES), not staged.
    staff_skipped: int = 0
    # Products only: how variations were read (``VariationFetcher.add_stats``).
    variations_listing: dict[str, Any] | None = None

    def metadata(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "recovered_after_scan": self.recovered_after_scan,
            "recovered_in_tied_second": self.recovered_in_tied_second,
        }
        if self.entity == "customer":
            data["staff_skipped"] = self.staff_skipped
        if self.variations_listing is not None:
            data["variations_listing"] = self.variations_listing
        return data


_P = ParamSpec("_P")
_R = TypeVar("_R")


def collector_paused(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """``fn`` run with Python's cyclic garbage collector paused (``apply.gc_paused``), then back as it was.

    A read decodes every page into a million short-lived dicts, lists and strings (a mid shop's 42 MB of JSON), in
    the page and variation threads, while the staging of earlier pages keeps theirs alive: the collector walked
    them every 700 allocations and promoted them into full collections of the whole heap (in a sync, every Dagster
    module's objects too), and freed next to nothing: a read makes almost no reference cycles. Measured on whole
    mid-shop syncs with the collector off: 13-22% less CPU of the sync process. The step's threads all end before
    ``fn`` returns, so the pause covers exactly the read; what cycles it made are collected once it is back on.
    """

    @functools.wraps(fn)
    def paused(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with gc_paused():
            return fn(*args, **kwargs)

    return paused


def make_client(ctx: shared.ExtractContext) -> WooCommerceClient:
    """A client for the integration, with TLS settings from the integration and limits from the run."""
    credentials = ctx.credentials
    return WooCommerceClient(
        ctx.http_options(),
        reveal(credentials["consumer_key"]),
        reveal(credentials["consumer_secret"]),
        per_page=ctx.per_page,
    )


def _record_time(payload: dict[str, Any]) -> datetime | None:
    try:
        return source_updated_at(payload)
    except ValueError:
        # A malformed date is the transform's to report (it rejects the record with the field named); the
        # extract stages the payload anyway so nothing is dropped.
        return None


class VariationFetcher:
    """Fetches the variations of a page's changed variable products, one client per worker thread.

    Variations were one call per variable product (``GET products/{id}/variations``: 97% of a full sync's calls,
    most of its time against a real shop). WooCommerce core also lists variations across parents:
    ``GET /wp-json/wc-analytics/variations?parent=<ids>`` (``WooCommerceClient.iter_variations_of``), 100 a call,
    so a page of 100 products costs ~3 calls instead of ~94. That route is used unless the integration setting
    ``variations_listing`` is ``"per_product"``; its bodies are made exactly what ``products/{id}/variations``
    gives (``_as_wc_v3_variation``), so staged payloads, their hashes, change detection and transforms do not
    depend on the route.

    Soundness: each product's payload lists its variation ids (``variations``, the v3 product body's children). A
    product whose listed ids are not exactly those the listing returned (a variation created or deleted between the
    two reads, a page shifted meanwhile, a status the two reads filter differently, a plugin) is read alone, the old
    way; so is one whose listed variation cannot be turned into the wc/v3 form. Variations returned for a parent not
    asked are ignored. If the route is missing (404 ``rest_no_route``: WooCommerce's analytics disabled; it is
    @internal), refused (400, 401, 403) or answers something other than a list of objects with ``parent_id``, the
    rest of the run reads per product, with one log line saying why (``listing`` and ``fallback_reason`` go to the
    run's metadata as ``variations_listing``).

    The listing's calls and the per-product ones share the pool (``concurrency`` setting, default 4, which keeps a
    PHP shop comfortable while hiding most of the latency): the parents are cut into groups of about 100 listed
    variations, one call each, fetched concurrently. Each thread has its own client (requests sessions are not meant
    to be shared across threads); their stats are summed at the end.
    """

    def __init__(self, ctx: shared.ExtractContext, concurrency: int) -> None:
        self._ctx = ctx
        self._concurrency = max(1, concurrency)
        self._local = threading.local()
        self._clients: list[WooCommerceClient] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=self._concurrency, thread_name_prefix="wc-variations")
        setting = str((ctx.integration.settings or {}).get("variations_listing") or LISTING_ANALYTICS)
        # "analytics" until the route fails in a way that says it is unusable; then "per_product" for the run.
        self.listing = LISTING_PER_PRODUCT if setting == LISTING_PER_PRODUCT else LISTING_ANALYTICS
        self.fallback_reason: str | None = None
        self._route_answered = False
        # Variable products whose variations the listing gave, and those read alone after it (completeness check).
        self.listed_products = 0
        self.read_alone = 0

    def _client(self) -> WooCommerceClient:
        client = getattr(self._local, "client", None)
        if client is None:
            client = make_client(self._ctx)
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def _fetch(self, product_id: int) -> list[dict[str, Any]]:
        return list(self._client().list_variations(product_id))

    def _map(self, fn: Callable[[Any], Any], args: list[Any]) -> list[Any]:
        if len(args) == 1 or self._concurrency == 1:
            return [fn(a) for a in args]
        return list(self._pool.map(fn, args))

    def fetch(self, product_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        """Variations of each product, one call each; raises the first error (after the client's own retries)."""
        if not product_ids:
            return {}
        return dict(zip(product_ids, self._map(self._fetch, product_ids), strict=True))

    def fetch_for(self, products: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
        """Variations of each of these variable products (v3 product payloads with a numeric ``id``), as
        ``products/{id}/variations`` gives them: by the cross-parent listing, or per product (see the class)."""
        by_id = {int(p["id"]): p for p in products}
        if not by_id:
            return {}
        if self.listing == LISTING_ANALYTICS:
            try:
                return self._fetch_listed(by_id)
            except _ListingUnusable as exc:
                self.listing = LISTING_PER_PRODUCT
                self.fallback_reason = str(exc)
                self._ctx.log.warning(
                    "%s: variations are read per product for the rest of this run: %s",
                    self._ctx.integration.name,
                    exc,
                )
        return self.fetch(list(by_id))

    def _list_group(self, parent_ids: list[int]) -> list[Any]:
        """Every variation the listing returns for these parents; raises _ListingUnusable when the route is not
        there, refused, does not answer a list (the client raises ShopResponseError for that), still fails with a
        5xx after the client's retries (the route is internal to WooCommerce Admin: a plugin's fatal error there
        must not stop every products extract while the per-product route works), or redirects."""
        try:
            return [item for page in self._client().iter_variations_of(parent_ids) for item in page.items]
        except (
            ShopNotFoundError,
            ShopAuthError,
            ShopBadRequestError,
            ShopResponseError,
            ShopServerError,
            ShopRedirectError,
        ) as exc:
            what = f"HTTP {exc.status} {exc.code}" if exc.status is not None else type(exc).__name__
            raise _ListingUnusable(f"GET wc-analytics/variations answered {what}: {exc.message}") from exc

    def _fetch_listed(self, by_id: dict[int, dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
        found: dict[int, dict[int, dict[str, Any]]] = {pid: {} for pid in by_id}
        groups = _listing_groups(by_id)
        if not self._route_answered:
            # The run's first listing call goes alone: a shop without the route answers one 404, not one per group.
            answers = [self._list_group(groups[0])]
            self._route_answered = True
            answers += self._map(self._list_group, groups[1:]) if len(groups) > 1 else []
        else:
            answers = self._map(self._list_group, groups)
        for items in answers:
            for item in items:
                if not isinstance(item, dict) or not _is_id(item.get("id")) or not _is_id(item.get("parent_id")):
                    raise _ListingUnusable("GET wc-analytics/variations answered items without an id and parent_id")
                if item["parent_id"] in found:  # a parent not asked is ignored
                    found[item["parent_id"]][item["id"]] = item
        out: dict[int, list[dict[str, Any]]] = {}
        alone: list[int] = []
        for pid, product in by_id.items():
            listed = product.get("variations")
            got = found[pid]
            variations = [_as_wc_v3_variation(got[vid], product) for vid in sorted(got)]
            complete = isinstance(listed, list) and all(_is_id(v) for v in listed) and set(listed) == set(got)
            if complete and all(v is not None for v in variations):
                out[pid] = [v for v in variations if v is not None]
            else:
                alone.append(pid)
        self.listed_products += len(out)
        self.read_alone += len(alone)
        out.update(self.fetch(alone))
        return {pid: out[pid] for pid in by_id}

    def add_stats(self, report: shared.ExtractReport) -> None:
        for client in self._clients:
            shared.add_client_stats(report, client.stats)
        if isinstance(report, WooExtractReport):
            report.variations_listing = {
                "listing": self.listing,
                "fallback_reason": self.fallback_reason,
                "listed_products": self.listed_products,
                "read_alone": self.read_alone,
            }

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        for client in self._clients:
            client.close()


# VariationFetcher.listing: the cross-parent listing, or one call per variable product.
LISTING_ANALYTICS = "analytics"
LISTING_PER_PRODUCT = "per_product"
# Variations a listing call returns at most (per_page=100): a group of parents is cut to list about that many.
_LISTING_PAGE = 100


class _ListingUnusable(Exception):
    """The cross-parent variations listing cannot be used with this shop (the message says why)."""


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _listing_groups(by_id: dict[int, dict[str, Any]]) -> list[list[int]]:
    """The parents cut into groups listing at most ~100 variations each (by the ids their payloads list), in page
    order: one listing call per group, so the groups can be fetched concurrently. A product listing more than 100
    variations is a group of its own (its listing pages)."""
    groups: list[list[int]] = []
    size = 0
    for pid, product in by_id.items():
        listed = product.get("variations")
        count = max(1, len(listed) if isinstance(listed, list) else 1)
        if groups and size + count <= _LISTING_PAGE and len(groups[-1]) < _LISTING_PAGE:
            groups[-1].append(pid)
            size += count
        else:
            groups.append([pid])
            size = count
    return groups


def _as_wc_v3_variation(item: dict[str, Any], product: dict[str, Any]) -> dict[str, Any] | None:
    """A wc-analytics variation as ``GET wc/v3/products/{parent}/variations`` gives it, or None if it cannot be
    rebuilt with certainty (the product is then read alone).

    ``ProductVariations::prepare_object_for_response`` calls the wc/v3 one and then overwrites three keys that the
    v3 body already has (PHP keeps their positions): ``type`` (the same ``get_type()``, "variation"),
    ``parent_id`` (the same id), and ``name``: the post title (``get_name()``, "T-Shirt - S, Black") where v3 gives
    ``wc_get_formatted_variation($variation, true, false, false)``: the variation's attribute values, term names for
    taxonomy attributes, empty ones skipped, ``rawurldecode``d, joined by ", " ("S, Black"). The v3 ``attributes``
    carry those values (``option``: the term name, or the value), so ``name`` is rebuilt from them.
    ``_links`` come from the v2 controller's ``prepare_links``, which builds them from the request's
    ``product_id``: absent on this route, so they name ``wc-analytics/products/0/variations/<id>``, and WordPress's
    ``targetHints`` of that self link differ too (the update permission check refuses parent 0). The wc/v3 links
    are rebuilt from the parent product's own self link, read with the same key moments before: the same REST base,
    and the same allowed methods (a variation's capabilities are its product's, ``capability_type`` product).
    """
    pid, vid = product["id"], item["id"]
    if item.get("type") != "variation" or item.get("parent_id") != pid:
        return None
    attributes = item.get("attributes")
    if not isinstance(attributes, list) or not all(
        isinstance(a, dict) and isinstance(a.get("option"), str) for a in attributes
    ):
        return None
    own_links = item.get("_links")
    product_self = _first_link(product, "self")
    item_self = _first_link(item, "self")
    if not isinstance(own_links, dict) or product_self is None or item_self is None:
        return None
    href = product_self.get("href")
    tail = f"/products/{pid}"
    if (
        not isinstance(href, str)
        or not href.endswith(tail)
        or ("targetHints" in product_self) != ("targetHints" in item_self)
    ):
        return None
    api = href[: -len(tail)]
    self_link: dict[str, Any] = {"href": f"{api}/products/{pid}/variations/{vid}"}
    if "targetHints" in product_self:
        self_link["targetHints"] = product_self["targetHints"]
    out = dict(item)
    out["name"] = ", ".join(
        unquote(a["option"]) if "%" in a["option"] else a["option"] for a in attributes if a["option"] != ""
    )
    out["_links"] = {
        "self": [self_link],
        "collection": [{"href": f"{api}/products/{pid}/variations"}],
        "up": [{"href": f"{api}/products/{pid}"}],
    }
    return out


def _first_link(payload: dict[str, Any], rel: str) -> dict[str, Any] | None:
    links = payload.get("_links")
    found = links.get(rel) if isinstance(links, dict) else None
    first = found[0] if isinstance(found, list) and found else None
    return first if isinstance(first, dict) else None


def _records_for_page(
    ctx: shared.ExtractContext,
    entity: str,
    link_entity: str,
    items: list[dict[str, Any]],
    report: shared.ExtractReport,
    seen: set[str],
    fetcher: VariationFetcher | None,
    tree: CategoryTree | None = None,
) -> tuple[list[StagedRecord], shared.CursorKey | None]:
    """The staging records of one page (unchanged ones skipped) and the page's newest (modified, id)."""
    changed, newest = shared.changed_items(
        ctx, report, link_entity=link_entity, items=items, seen=seen, record_time=_record_time,
        settled_before=shared.settled_before_of(report.cursor_before, ctx.lookback),
    )  # fmt: skip
    variations: dict[int, list[dict[str, Any]]] = {}
    if entity == "product" and fetcher is not None:
        variable = [c.payload for c in changed if c.payload.get("type") == "variable" and c.external_id.isdigit()]
        variations = fetcher.fetch_for(variable)
    # Nested categories as their paths (one read of the category tree when a changed product names a category).
    paths = tree.paths([c.payload for c in changed]) if entity == "product" and tree is not None else {}
    records = []
    for item in changed:
        payload: Any = item.payload
        if entity == "product":
            found = variations.get(int(item.external_id), []) if item.external_id.isdigit() else []
            payload = {"product": item.payload, "variations": found}
            own = {str(c.get("id")) for c in item.payload.get("categories") or [] if isinstance(c, dict)}
            if own & set(paths):
                payload["category_paths"] = {cid: paths[cid] for cid in sorted(own & set(paths))}
        records.append(
            shared.staged_record(ctx.integration, entity, item.external_id, payload, source_updated_at=item.updated)
        )
    return records, newest


@collector_paused
def extract_entity(
    ctx: shared.ExtractContext, entity: str, client: WooCommerceClient | None = None
) -> shared.ExtractReport:
    """Stage changed products, orders or customers of one WooCommerce integration."""
    if entity == "customer":
        return extract_customers(ctx, client)
    if client is None:
        with make_client(ctx) as own:
            return extract_entity(ctx, entity, own)
    resource, link_entity = RESOURCES[entity]
    report = WooExtractReport(entity=entity)
    scan_started = datetime.now(UTC)
    with ctx.engine.connect() as conn:
        report.cursor_before = store.get_cursor(conn, ctx.integration.id, entity)
    cursor = shared.CursorKey.from_json(report.cursor_before)
    since = shared.since_for(cursor, ctx.lookback, ctx.full_refresh)
    full_scan = since is None
    seen: set[str] = set()
    newest = cursor
    concurrency = int((ctx.integration.settings or {}).get("concurrency", DEFAULT_CONCURRENCY))
    fetcher = VariationFetcher(ctx, concurrency) if entity == "product" else None
    tree = CategoryTree(lambda: make_client(ctx)) if entity == "product" else None

    def page_records() -> Iterator[tuple[list[StagedRecord], shared.CursorKey | None]]:
        # Runs in the prefetch thread: a page's variations (97% of a full sync's calls) are fetched while the
        # page before it is being staged, so staging no longer adds its time to the download's.
        # A full scan ends with the records modified since it started (minus the lookback) that it did not read.
        changed_since = scan_started - ctx.lookback if full_scan else None
        for page in shared.prefetch(client.iter_modified(resource, since, {}, changed_since=changed_since)):
            if full_scan:
                report.recovered_after_scan += page.recovered_count
            elif page.recovered:
                report.recovered_in_tied_second += page.recovered_count
            yield _records_for_page(ctx, entity, link_entity, page.items, report, seen, fetcher, tree)
            _check_budget(ctx, client, fetcher)

    progress = shared.ProgressLog(ctx.log)
    try:
        for records, page_newest in shared.prefetch(page_records()):
            newest = shared.later(newest, page_newest)
            report.staged += len(records)
            # A modified-ascending scan advances the cursor page by page; an id-ordered full scan only at the end.
            shared.stage_page(ctx, entity=entity, records=records, cursor=newest, advance_cursor=not full_scan)
            progress.page(f"{ctx.integration.name} {resource}: page {report.pages}, {report.rows_fetched} read")
            _check_budget(ctx, client, fetcher)
    finally:
        if fetcher is not None:
            fetcher.add_stats(report)
            fetcher.close()
        if tree is not None:
            tree.close(report)
    report.complete_scan = True
    if full_scan:
        newest = shared.cursor_after_full_scan(newest, scan_started)
        if newest is not None:
            shared.stage_page(ctx, entity=entity, records=[], cursor=newest, advance_cursor=True)
        report.tombstoned = shared.stage_tombstones(
            ctx, entity=entity, link_entity=link_entity, seen=seen, still_present=_present_checker(client, resource)
        )
    shared.finish_read(ctx, entity)  # complete: its start is the cursor's read_at
    report.cursor_after = newest.to_json() if newest else report.cursor_before
    shared.add_client_stats(report, client.stats)
    report.duration_s = time.monotonic() - report.started
    return report


def _present_checker(client: WooCommerceClient, resource: str) -> Callable[[list[str]], set[str]]:
    """Asks the shop which of some unseen ids still exist (``include=``, 100 per call).

    A trashed product is not listed without ``status=trash`` and counts as gone, as WooCommerce's own
    product.deleted webhook (fired on trash) says.
    """

    def present(ids: list[str]) -> set[str]:
        return {str(item.get("id")) for page in _iter_included(client, resource, ids) for item in page.items}

    return present


def _iter_included(client: WooCommerceClient, resource: str, ids: list[str]) -> Iterator[Page]:
    """Pages of the records with these ids (``include=``, 100 ids per call; non-numeric ids are skipped)."""
    numeric = [i for i in ids if i.isdigit()]
    for chunk in store.chunked(numeric, 100):
        params = {"include": ",".join(chunk), "per_page": len(chunk), "orderby": "id", "order": "asc"}
        yield from client.iter_pages(resource, params)


def _check_budget(ctx: shared.ExtractContext, client: WooCommerceClient, fetcher: VariationFetcher | None) -> None:
    """Enforce the run's request budget across the page client and the variation workers (page granularity)."""
    if ctx.request_budget is None:
        return
    spent = shared.ExtractReport(entity="")
    shared.add_client_stats(spent, client.stats)
    if fetcher is not None:
        fetcher.add_stats(spent)
    if spent.api_calls > ctx.request_budget:
        raise RequestBudgetExceeded(
            f"the budget of {ctx.request_budget} requests for this run is spent ({spent.api_calls} made)",
            platform="woocommerce",
            url=sanitize_url(ctx.integration.base_url),
        )


@collector_paused
def extract_customers(ctx: shared.ExtractContext, client: WooCommerceClient | None = None) -> shared.ExtractReport:
    """Stage new and changed customers without listing every customer on every sync.

    WooCommerce's customers endpoint has no modification filter, so an incremental read is assembled from what
    does change cheaply: new customers (ids above the highest one seen, newest first: usually one call), and the
    customers of orders staged since the last run (fetched by ``include=``; a purchase is what changes most
    customer records). A complete scan (which also turns customers gone from the shop into tombstones) runs on the
    first sync, on a full refresh, and every ``customers_full_scan_hours`` (setting, default 24) to catch profile
    edits made without an order; webhooks (customer.updated) make those fresh in between.

    The shop's staff (administrators, shop managers...: ``client.STAFF_ROLES``), which ``role=all`` lists with the
    buyers, are not staged and counted in ``staff_skipped``. They count as seen all the same: a full scan does not
    fetch them again as records it missed, nor turns one linked before (a customer since made shop manager) into a
    tombstone; that hub row stays as it was. Their orders are pulled as any order.
    """
    if client is None:
        with make_client(ctx) as own:
            return extract_customers(ctx, own)
    integration = ctx.integration
    report = WooExtractReport(entity="customer")
    with ctx.engine.connect() as conn:
        report.cursor_before = store.get_cursor(conn, integration.id, "customer")
    state = dict(report.cursor_before or {})
    max_id = int(state.get("max_id", 0))
    orders_after = int(state.get("orders_staging_id", 0))
    hours = float((integration.settings or {}).get("customers_full_scan_hours", DEFAULT_CUSTOMER_SCAN_HOURS))
    last_full = state.get("full_scan_at")
    now = datetime.now(UTC)
    due = last_full is None or now - datetime.fromisoformat(last_full) >= timedelta(hours=hours)
    seen: set[str] = set()
    with ctx.engine.connect() as conn:
        newest_order_staging = conn.execute(
            select(func.max(staging_records.c.id)).where(
                staging_records.c.integration_id == integration.id, staging_records.c.entity == "order"
            )
        ).scalar_one()
    newest_order_staging = int(newest_order_staging or orders_after)

    def stage(items: list[dict[str, Any]]) -> None:
        nonlocal max_id
        staff = [x for x in items if is_staff(x)]
        if staff:
            # Seen (no recovery, no tombstone) and fetched, but not staged: see the docstring.
            seen.update(i for i in (shared.default_external_id(x) for x in staff) if i is not None)
            report.staff_skipped += len(staff)
            report.rows_fetched += len(staff)
            items = [x for x in items if not is_staff(x)]
        records, _ = _records_for_page(ctx, "customer", "customer", items, report, seen, None)
        report.staged += len(records)
        ids = [shared.default_external_id(x) for x in [*items, *staff]]
        max_id = max([max_id, *(int(i) for i in ids if i and i.isdigit())])
        shared.stage_page(ctx, entity="customer", records=records, cursor=None, advance_cursor=False)

    full_scan = ctx.full_refresh or due or max_id == 0
    if full_scan:
        for page in client.iter_id_scan("customers"):  # overlapping pages: a deletion cannot hide a customer
            stage(page.items)
            report.recovered_after_scan += page.recovered_count
        report.tombstoned = shared.stage_tombstones(
            ctx,
            entity="customer",
            link_entity="customer",
            seen=seen,
            still_present=_present_checker(client, "customers"),
        )
        state["full_scan_at"] = now.isoformat()
    else:
        known_max = max_id
        for page in client.iter_pages("customers", {"orderby": "id", "order": "desc"}):
            fresh = [x for x in page.items if int(shared.default_external_id(x) or 0) > known_max]
            if fresh:
                stage(fresh)
            if len(fresh) < len(page.items):
                break  # reached customers we already know
        wanted = sorted(_order_customer_ids(ctx, orders_after, newest_order_staging) - seen, key=int)
        for page in _iter_included(client, "customers", wanted):
            stage(page.items)
    # The read is complete: its start is read_at (shared.cursor_json), so the next complete scan trusts equal times
    # of customers modified before it (minus the lookback).
    state.update({"max_id": max_id, "orders_staging_id": newest_order_staging, "read_at": shared.read_started_at(ctx)})
    with ctx.engine.begin() as conn:
        store.set_cursor(
            conn, integration_id=integration.id, tenant_id=integration.tenant_id, entity="customer", cursor=state
        )
    report.complete_scan = True
    report.cursor_after = state
    shared.add_client_stats(report, client.stats)
    report.duration_s = time.monotonic() - report.started
    return report


def _order_customer_ids(ctx: shared.ExtractContext, after_id: int, up_to_id: int) -> set[str]:
    """Registered customers (id > 0) of the orders staged in (after_id, up_to_id]."""
    if up_to_id <= after_id:
        return set()
    with ctx.engine.connect() as conn:
        payloads = conn.execute(
            select(staging_records.c.payload).where(
                staging_records.c.integration_id == ctx.integration.id,
                staging_records.c.entity == "order",
                staging_records.c.id > after_id,
                staging_records.c.id <= up_to_id,
            )
        ).scalars()
        ids = {str(p.get("customer_id")) for p in payloads if isinstance(p, dict) and p.get("customer_id")}
    return {i for i in ids if i.isdigit() and i != "0"}


@collector_paused
def extract_inventory(ctx: shared.ExtractContext) -> shared.ExtractReport:
    """Stage stock rows from product payloads staged since the last inventory cursor (no API calls).

    The cursor is the last ``staging_records.id`` of a product payload already turned into stock rows; it is
    advanced in the same transaction as the rows it covers.
    """
    report = shared.ExtractReport(entity="inventory")
    integration = ctx.integration
    with ctx.engine.connect() as conn:
        report.cursor_before = store.get_cursor(conn, integration.id, "inventory")
    after_id = int((report.cursor_before or {}).get("staging_id", 0))
    batch = 500
    while True:
        with ctx.engine.connect() as conn:
            stock_column = _stock_of_payload(conn.dialect.name)
            rows = conn.execute(
                select(staging_records.c.id, staging_records.c.external_id, stock_column)
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
            stock = row.stock if stock_column.key == "stock" else _stock_fields(row.payload)
            records.append(
                shared.staged_record(
                    integration, "inventory", row.external_id, stock, source_updated_at=_record_time(stock["product"])
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


def _stock_fields(payload: Any) -> dict[str, Any]:
    """The stock rows' payload: the ``STOCK_FIELDS`` of a staged product payload and of each of its variations."""
    payload = payload or {}
    product = payload.get("product") or {}
    return {
        "product": {k: product.get(k) for k in STOCK_FIELDS},
        "variations": [{k: v.get(k) for k in STOCK_FIELDS} for v in payload.get("variations") or []],
    }


def _stock_of_payload(dialect: str) -> Any:
    """A column of the staged product payload cut down to ``_stock_fields`` by the database itself.

    A product payload is ~7 KB of JSON (descriptions, images, every variation's attributes) and the stock rows
    keep ~0.3 KB of it: reading only that part spares the transfer and the JSON decoding of the rest (a tenth of
    the extract's time on PostgreSQL). The result equals ``_stock_fields`` (key order aside, which hashing and
    JSON ignore); on a SQLite without the ``->`` operator (before 3.38) the whole payload is read and cut here.
    """
    if dialect == "postgresql":
        # The column is ``json`` (text, migration 0016), whose every ``->`` parses the whole text again: the payload
        # is cast to ``jsonb`` once per row (``j.p``) and cut from that. ``OFFSET 0`` keeps the planner from pulling
        # the one-row subquery up, which would put the cast back in each of the ~12 places ``j.p`` is read (measured:
        # 3 to 4 times the server time of the cut on 3,000 product payloads).
        fields = ", ".join(f"'{k}'" for k in STOCK_FIELDS)
        sql = (
            "(SELECT jsonb_build_object("
            "'product', (SELECT jsonb_object_agg(k, j.p->'product'->k)"
            f" FROM unnest(ARRAY[{fields}]) AS k), "
            "'variations', CASE WHEN jsonb_typeof(j.p->'variations') = 'array' THEN"
            " (SELECT coalesce(jsonb_agg("
            f"(SELECT jsonb_object_agg(k, e.v->k) FROM unnest(ARRAY[{fields}]) AS k) ORDER BY e.n), '[]'::jsonb)"
            " FROM jsonb_array_elements(j.p->'variations') WITH ORDINALITY AS e(v, n))"
            " ELSE '[]'::jsonb END)"
            " FROM (SELECT staging_records.payload::jsonb AS p OFFSET 0) AS j)"
        )
        return type_coerce(literal_column(sql), JsonType).label("stock")
    if dialect == "sqlite" and sqlite3.sqlite_version_info >= (3, 38, 0):
        # json() around a subquery's result: SQLite drops the JSON subtype at a subquery boundary, and the array
        # would be embedded as a string.
        product = ", ".join(f"'{k}', json(staging_records.payload -> '$.product.{k}')" for k in STOCK_FIELDS)
        variation = ", ".join(f"'{k}', json(e.value -> '$.{k}')" for k in STOCK_FIELDS)
        sql = (
            f"json_object('product', json_object({product}), "
            "'variations', json(CASE WHEN json_type(staging_records.payload, '$.variations') = 'array' THEN"
            f" (SELECT json_group_array(json_object({variation}))"
            " FROM json_each(staging_records.payload, '$.variations') AS e)"
            " ELSE '[]' END))"
        )
        return type_coerce(literal_column(sql), JsonType).label("stock")
    return staging_records.c.payload
