"""PrestaShop extraction without webhooks: poll ``date_upd``, list ids for deletions, diff stock quantities.

PrestaShop core sends no webhooks, so every change is found by polling, at a per-integration frequency
(``settings["poll_interval_s"]``): a scheduled run that comes sooner than that after the entity's last successful
poll is skipped without a call (the skip and its reason are logged and reported in ``cursor_after.poll_skipped``).

Products, orders, customers
    Read with ``filter[date_upd]=[from,to]&date=1&sort=[date_upd_ASC,id_ASC]`` from the stored cursor minus the
    lookback. The cursor is kept in UTC; the filter is built in shop-local time by
    :func:`~ecom_pipeline.platforms.prestashop.dates.local_filter_floor`, which stays right across DST changes.
    A record whose ``date_upd`` equals its link's is not staged (and a product in that state costs no combinations
    call) when that time is more than the lookback before the last poll began (the cursor's ``read_at``); a more
    recent one is staged again and resolve compares values: ``date_upd`` has whole seconds, so a back-office edit
    in the second of our own write (or of the last poll's reading) keeps the time (``sync.extract.is_unchanged``).
    Each page is staged atomically with the cursor covering it.
    Customers and orders are staged without their secret fields (``SECRET_FIELDS``: password hash, secure keys,
    password-reset token), on the poll and the change-notice re-read alike (both through ``_payloads``).

Prices that change without ``date_upd`` (the price watch, products only)
    A combination's ``price`` impact, reference, weight or barcode is written on the combination, and a specific
    price (a reduction, or a fixed price) on ``specific_prices``: neither moves the product's ``date_upd``
    (PrestaShop's ``Combination::update`` and ``SpecificPrice::add`` only touch their own row and the product's
    ``cache_default_attribute``), and a specific price with a ``from``/``to`` window changes the computed price
    when the window opens or closes without any write at all. So every product poll also reads
    ``combinations?display=[id,id_product,price,reference,weight,ean13,upc,isbn]`` and
    ``specific_prices?display=full`` (1,000 rows per call, keyset by id: about 10 + 1 calls for 5,000 products
    with 9,000 combinations), keeps a digest per product in the ``product_prices`` cursor, and re-reads (by id,
    then with combinations and computed prices as usual) only the products whose digest changed, whose specific
    price window opened or closed since the last poll, or every live product when a catalogue-wide specific price
    (``id_product`` 0) changed. Without a stored baseline (first poll after an upgrade) every product that has
    combinations or specific prices is re-read once. A key that may not read ``specific_prices`` watches the
    combinations only, and is asked again once a day (and on every full scan), not on every poll.

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

Calls in flight
    The shop answers calls while we build and stage pages, not one after the other (issue 12): a poll is three
    stages in their own threads, each first in, first out (list calls and the choice of changed records; each
    page's look-up calls, ``_fetch``, for up to ``LOOKUP_WINDOW`` pages at once; payloads built, ``_build``, and
    staged in the calling thread), so the staged records and their order are those of a one-thread read. Reads
    that do not depend on the scan (the incremental id listing, the price watch, the first stock poll's product
    ids) run alongside it in threads of their own. Every stage is bounded (a few pages).
    Errors: a list call's error fails the run after the pages listed before it are staged (as one thread would
    have); a page's look-up error fails it at once, nothing after the page before it staged (the cursor stays
    there); a staging error fails it at that page. Either way every other thread stops at its next check, between
    two calls (one stop flag: before each list call, between a page's look-ups, between the id listing's and the
    price watch's pages), look-ups not started are dropped, and the run returns once the calls in flight have
    answered.
    What reading alongside changes, and how it is made up for: the id listing (for the tombstones) and the first
    stock poll's product ids may be older than a record created during the scan. The tombstones take the ids the
    scan read too, and linked ids in neither list are asked for by id (``filter[id]``, ``_present_checker``)
    before they are tombstoned; apparent stock orphans are asked for the same way before they are left out.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from ecom_pipeline.platforms.prestashop import transform as ps
from ecom_pipeline.platforms.prestashop.client import NARROW_PAGE_SIZE, Page, PrestaShopClient, filter_chunks
from ecom_pipeline.platforms.prestashop.dates import local_to_utc, shop_zone
from ecom_pipeline.platforms.prestashop.errors import PrestaShopBadParameterError, PrestaShopPermissionError
from ecom_pipeline.platforms.prestashop.shops import ShopStock
from ecom_pipeline.sync import extract as shared
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import reveal

# entity -> (webservice resource, key of the object in the staged payload)
RESOURCES: dict[str, tuple[str, str]] = {
    "product": ("products", "product"),
    "order": ("orders", "order"),
    "customer": ("customers", "customer"),
}
STOCK_DISPLAY = "[id,id_product,id_product_attribute,id_shop,id_shop_group,quantity]"
ADDRESS_DISPLAY = "[id,id_customer,id_country,company,city,phone,phone_mobile,deleted,date_upd]"
# The computed prices asked for every product: (name, use_tax, use_reduction or None for the default).
PRICE_VARIANTS: tuple[tuple[str, str, str | None], ...] = (
    ("final", "1", None),
    ("final_ht", "0", None),
    ("final_no_reduction", "1", "0"),
)
PRICE_FIELDS = tuple(name for name, _, _ in PRICE_VARIANTS)
PRICE_DISPLAY = "[id," + ",".join(PRICE_FIELDS) + "]"
# Combinations' computed prices are read on ``combinations`` (``_Lookups.prices``): as many ids per call as fit
# this many characters of encoded ``filter[id]`` (the request line stays under the 8 KB limit of common web servers,
# nginx and Apache: about 800 five-digit ids), and at most this many rows a call (3 prices each for the shop to
# compute, like a 1,000-row page of the narrow lists).
PRICE_FILTER_CHARS = 6500
COMBINATIONS_PER_PRICE_CALL = 1000
COMBINATION_PRICE_DISPLAY = "[id,id_product," + ",".join(PRICE_FIELDS) + "]"
PRICE_PARAMS: dict[str, str] = {
    key: value
    for name, use_tax, reduction in PRICE_VARIANTS
    for key, value in (
        (f"price[{name}][use_tax]", use_tax),
        *(((f"price[{name}][use_reduction]", reduction),) if reduction is not None else ()),
    )
}
DEFAULT_POLL_INTERVAL_S = 0
# Price watch (module docstring): the cursor entity of its digests, and the combination fields the transform reads.
PRICE_WATCH_ENTITY = "product_prices"
COMBINATION_WATCH_DISPLAY = "[id,id_product,price,reference,weight,ean13,upc,isbn]"
ZERO_DATE = "0000-00-00 00:00:00"
# Pages whose look-up calls (combinations, prices, e-mails, addresses) may be in flight at once, in as many threads:
# with the list calls running ahead too, the shop always has a call to answer while we build and stage a page.
LOOKUP_WINDOW = 2
# Products re-read per call when the price watch finds some changed.
WATCH_REREAD_BATCH = 100
# Shop and pipeline clocks differ a little: a window edge this close before the last poll is checked again.
WINDOW_SLACK = timedelta(minutes=5)
# How long a key's refusal of specific_prices is believed before asking again.
SPECIFIC_PRICES_RETRY = timedelta(days=1)


@dataclass
class PrestaShopExtractReport(shared.ExtractReport):
    """The shared report plus the poll-interval skip (the extract asset shows ``cursor_after``)."""

    skipped: bool = False
    skip_reason: str | None = None


def make_client(ctx: shared.ExtractContext) -> PrestaShopClient:
    """A client for the integration: TLS and shop id from its settings, limits from the run."""
    settings = ctx.integration.settings or {}
    shop_id = settings.get("shop_id")
    return PrestaShopClient(
        ctx.http_options(),
        reveal(ctx.credentials["api_key"]),
        page_size=int(settings.get("page_size") or ctx.per_page),
        shop_id=int(shop_id) if shop_id not in (None, "") else None,
    )


def _timezone(ctx: shared.ExtractContext) -> str:
    zone = (ctx.integration.settings or {}).get("timezone")
    if not zone:
        raise ValueError(
            f"integration {ctx.integration.id} has no timezone setting; PrestaShop dates are shop-local, so "
            "reconnect with `ecom-pipeline connect prestashop --timezone <IANA name>`"
        )
    return str(zone)


def poll_skip_reason(ctx: shared.ExtractContext, cursor: dict[str, Any] | None, now: datetime) -> str | None:
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


def _skipped(ctx: shared.ExtractContext, report: PrestaShopExtractReport, reason: str) -> PrestaShopExtractReport:
    report.skipped = True
    report.skip_reason = reason
    report.complete_scan = False
    report.cursor_after = {**(report.cursor_before or {}), "poll_skipped": reason}
    report.duration_s = time.monotonic() - report.started
    ctx.log.info(f"{ctx.integration.name} {report.entity}: skipped ({reason})")
    return report


def _finish(report: PrestaShopExtractReport, client: PrestaShopClient) -> PrestaShopExtractReport:
    shared.add_client_stats(report, client.stats)
    report.duration_s = time.monotonic() - report.started
    return report


def _now() -> datetime:
    return datetime.now(UTC)


class _Lookups:
    """Small reference lists read once per run, only when needed (order states, currencies, option values,
    category names, country codes), and the batched look-ups a page needs (customers' e-mails, addresses, prices).
    """

    def __init__(self, client: PrestaShopClient, settings: dict[str, Any]) -> None:
        self.client = client
        self.settings = settings
        self._states: dict[str, dict[str, Any]] | None = None
        self._currencies: dict[str, str] | None = None
        self._options: dict[str, dict[str, str]] | None = None
        self._categories: dict[str, Any] | None = None
        self._category_parents: dict[str, str] = {}
        self._tags: dict[str, dict[str, Any]] | None = None
        self._countries: dict[str, str] = {}
        # Pages' look-ups may run in several threads (``extract_entity``): a reference list is read once, by the
        # first thread that needs it, while the others wait for it.
        self._lock = threading.RLock()

    @property
    def language_id(self) -> int | None:
        value = self.settings.get("language_id")
        return int(value) if value not in (None, "") else None

    def states(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            if self._states is None:
                items = self.client.list("order_states", {"display": "[id,name,paid,shipped,delivery]"})
                self._states = {str(s.get("id")): s for s in items}
            return self._states

    def currencies(self) -> dict[str, str]:
        with self._lock:
            if self._currencies is None:
                items = self.client.list("currencies", {"display": "[id,iso_code]"})
                self._currencies = {str(c.get("id")): str(c.get("iso_code")) for c in items if c.get("iso_code")}
            return self._currencies

    def default_currency(self) -> str | None:
        return self.settings.get("currency")

    def options(self) -> dict[str, dict[str, str]]:
        with self._lock:
            if self._options is None:
                try:
                    values = self.client.list("product_option_values", {"display": "[id,id_attribute_group,name]"})
                    groups = self.client.list("product_options", {"display": "[id,name]"})
                except PrestaShopPermissionError:
                    values, groups = [], []  # options are descriptive; the key may not read them
                self._options = ps.option_value_index(values, groups, self.language_id)
            return self._options

    def categories(self) -> dict[str, Any]:
        """Category id -> name as the shop gives it (all languages); empty when the key may not read categories
        (the hub then has no category names rather than ids in their place). Their parents (``category_parents``)
        are read by the same call: a nested category is its path in the hub."""
        with self._lock:
            if self._categories is None:
                try:
                    items = self.client.list("categories", {"display": "[id,id_parent,name]"})
                except PrestaShopPermissionError:
                    items = []
                self._category_parents = {str(c.get("id")): str(c.get("id_parent")) for c in items}
                self._categories = {str(c.get("id")): c.get("name") for c in items}
            return self._categories

    def tags(self) -> dict[str, dict[str, Any]]:
        """Tag id -> ``{"id_lang", "name"}`` (a tag belongs to one language); empty when the key may not read tags
        (the recorded key may not: the hub then has no tags from this shop, as before they were read)."""
        with self._lock:
            if self._tags is None:
                try:
                    items = self.client.list("tags", {"display": "[id,id_lang,name]"})
                except PrestaShopPermissionError:
                    items = []
                self._tags = {str(t.get("id")): {"id_lang": t.get("id_lang"), "name": t.get("name")} for t in items}
            return self._tags

    def emails(self, customer_ids: list[int]) -> dict[str, str]:
        """id_customer -> e-mail, read in batches of ids (``filter[id]=[1|2|3]``), not one call per order."""
        if not customer_ids:
            return {}
        items = self.client.list_by_ids("customers", customer_ids, display="[id,email]")
        return {str(c.get("id")): str(c["email"]) for c in items if isinstance(c.get("email"), str) and c["email"]}

    def addresses(self, customer_ids: list[int]) -> dict[str, dict[str, Any]]:
        """id_customer -> the customer's most recently updated live address, with its country's ISO code.

        Addresses and countries are read in batches (``filter[id_customer]=[1|2|...]``, ``filter[id]=[...]``).
        A key that may not read them leaves phone, city and country empty.
        """
        if not customer_ids:
            return {}
        try:
            rows = self.client.list_by_parent(
                "addresses", "id_customer", sorted(set(customer_ids)), display=ADDRESS_DISPLAY
            )
        except PrestaShopPermissionError:
            return {}
        best: dict[str, dict[str, Any]] = {}
        for row in rows:
            owner = str(row.get("id_customer") or "0")
            if owner == "0" or str(row.get("deleted") or "0") == "1":
                continue  # a supplier's or manufacturer's address, or a deleted one
            current = best.get(owner)
            key = (str(row.get("date_upd") or ""), int(row.get("id") or 0))
            if current is None or key > (str(current.get("date_upd") or ""), int(current.get("id") or 0)):
                best[owner] = row
        wanted = sorted({int(r["id_country"]) for r in best.values() if str(r.get("id_country") or "").isdigit()})
        with self._lock:
            missing = [c for c in wanted if str(c) not in self._countries and int(c) > 0]
            if missing:
                try:
                    for country in self.client.list_by_ids("countries", missing, display="[id,iso_code]"):
                        self._countries[str(country.get("id"))] = str(country.get("iso_code") or "")
                except PrestaShopPermissionError:
                    pass
        return {
            owner: {
                "id": str(row.get("id")),
                "phone": row.get("phone") or None,
                "phone_mobile": row.get("phone_mobile") or None,
                "city": row.get("city") or None,
                "company": row.get("company") or None,
                "country_iso": self._countries.get(str(row.get("id_country"))) or None,
            }
            for owner, row in best.items()
        }

    def prices(
        self, products: list[tuple[int, list[int]]], *, stop: threading.Event | None = None
    ) -> dict[str, dict[str, str]]:
        """Variant id -> the shop's computed prices (``final``, ``final_ht``, ``final_no_reduction``).

        PrestaShop computes them on request (``price[NAME][use_tax]=0|1``, ``[use_reduction]=0``): tax of the
        shop's default country, specific prices in force, combination impact. Products without combinations are
        read on ``products`` in batches of ids. Combinations are read on ``combinations``, hundreds a call
        (``filter[id]=[1|2|...]``, ``client.filter_chunks``): PrestaShop 8's webservice adds the same virtual fields
        to combination rows (``WebserviceRequest::specificPriceForCombination``: ``Product::priceCalculation``
        of the row's ``id_product`` with ``product_attribute`` forced to the row's own id), the very price a
        ``products/{id}?price[..][product_attribute]=ID`` read gives, which priced one product per call. A
        combination deleted between the two reads has no price (its variant keeps the stored one until the next
        pull drops it). A shop that refuses the parameters leaves the prices as stored (tax excluded, flagged so
        in the hub). Once ``stop`` is set (the run failed) it ends before its next combinations call (``_Stopped``).
        """
        out: dict[str, dict[str, str]] = {}
        simple = [pid for pid, combos in products if not combos]
        owner = {cid: pid for pid, combos in products for cid in combos}
        # Products and combinations are refused apart: a shop (or key) that refuses the fields on one resource
        # keeps the other's computed prices, each variant flagged by what it got.
        try:
            if simple:
                params: dict[str, str] = {**PRICE_PARAMS}
                for item in self.client.list_by_ids("products", simple, display=PRICE_DISPLAY, params=params):
                    out[ps.variant_id(item["id"], 0)] = {k: str(item.get(k) or "") for k in PRICE_FIELDS}
        except (PrestaShopBadParameterError, PrestaShopPermissionError):
            out.clear()
        combination_prices: dict[str, dict[str, str]] = {}
        try:
            batches = filter_chunks(sorted(owner), max_chars=PRICE_FILTER_CHARS, max_items=COMBINATIONS_PER_PRICE_CALL)
            for batch in batches:
                if stop is not None and stop.is_set():
                    raise _Stopped
                query = {**PRICE_PARAMS, "display": COMBINATION_PRICE_DISPLAY, "filter[id]": _id_list(batch)}
                for item in self.client.list("combinations", query):
                    cid = int(str(item.get("id") or 0))
                    pid = owner.get(cid)
                    if pid is None or str(item.get("id_product")) != str(pid):
                        continue
                    combination_prices[ps.variant_id(pid, cid)] = {k: str(item.get(k) or "") for k in PRICE_FIELDS}
        except (PrestaShopBadParameterError, PrestaShopPermissionError):
            combination_prices.clear()
        out.update(combination_prices)
        return out


R = TypeVar("R")
T = TypeVar("T")


@contextmanager
def _closing(items: Iterator[T]) -> Iterator[Iterator[T]]:
    """``items``, closed on leaving (a generator's ``close``: a prefetch stops its thread, a page iterator its
    paging), also when the block fails."""
    try:
        yield items
    finally:
        close = getattr(items, "close", None)
        if callable(close):
            close()


# How long a failing run waits for a background read to end (it ends at its next page; a call being retried against
# a struggling shop may take longer: the thread then ends on its own, having read and written nothing more).
STOP_WAIT_S = 5.0


class _Background(Generic[R]):
    """``work(stop)`` in a thread of its own, started at once; :meth:`result` waits for its value (or raises its
    error, as the call would have in this thread). :meth:`stop` asks it to end early (``work`` checks ``stop``
    between its calls) and waits for it: a read abandoned because the run failed does not go on calling the shop."""

    def __init__(self, work: Callable[[threading.Event], R], *, name: str, stop: threading.Event | None = None) -> None:
        # ``stop``: the run's own (``extract_entity``'s ``halt``), set as soon as any stage fails.
        self._stop = stop if stop is not None else threading.Event()
        self._value: R | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(work,), name=name, daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[threading.Event], R]) -> None:
        try:
            self._value = work(self._stop)
        except BaseException as exc:  # handed to result()
            self._error = exc

    def result(self) -> R:
        self._thread.join()
        if self._error is not None:
            raise self._error
        if self._stop.is_set():
            raise RuntimeError("the background read was stopped")
        return self._value  # type: ignore[return-value]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=STOP_WAIT_S)


class _Stopped(Exception):
    """A background read stopped early (its result is never used)."""


def _list_ids(client: PrestaShopClient, resource: str, stop: threading.Event) -> list[int]:
    """``client.list_ids(resource)``, ending between two pages once ``stop`` is set."""
    ids: list[int] = []
    pages = client.iter_by_id(resource, display="[id]", page_size=NARROW_PAGE_SIZE)
    with _closing(pages):
        for page in pages:
            if stop.is_set():
                raise _Stopped
            for item in page.items:
                value = item.get("id")
                if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
                    ids.append(int(value))
    return ids


def _present_checker(client: PrestaShopClient, resource: str) -> Callable[[list[str]], set[str]]:
    """Asks the shop which of some unseen ids still exist (``filter[id]=[..]&display=[id]``, 120 ids a call)."""

    def present(ids: list[str]) -> set[str]:
        wanted = [int(i) for i in ids if i.isdigit()]
        if not wanted:
            return set()
        return {str(item.get("id")) for item in client.list_by_ids(resource, wanted, display="[id]")}

    return present


@contextmanager
def _halt_on_error(halt: threading.Event) -> Iterator[None]:
    """Sets ``halt`` when the block fails (inside a ``_closing`` of a prefetch: before its threads are waited for)."""
    try:
        yield
    except BaseException:
        halt.set()
        raise


def _id_list(ids: list[int]) -> str:
    return "[" + "|".join(str(i) for i in ids) + "]"


def _record_time(item: dict[str, Any], timezone: str) -> datetime | None:
    try:
        return ps.source_updated_at(item, timezone)
    except ValueError:
        return None  # the transform rejects it with the field named; the extract stages it anyway


def extract_entity(
    ctx: shared.ExtractContext, entity: str, client: PrestaShopClient | None = None, *, now: datetime | None = None
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
    cursor = shared.CursorKey.from_json(report.cursor_before)
    since = shared.since_for(cursor, ctx.lookback, ctx.full_refresh)
    full_scan = since is None
    pages: Iterator[Page] = (
        client.iter_all(resource) if since is None else client.iter_modified(resource, since, timezone, now=now)
    )
    seen: set[str] = set()
    staged_ids: set[str] = set()
    newest = cursor
    # Set once the run fails: look-ups in flight end at their next call (``_fetch``), not after every call of
    # their page, so a failed run stops calling the shop.
    halt = threading.Event()

    def scanned() -> Iterator[tuple[list[shared.PageItem], shared.CursorKey | None]]:
        # Stage 1 (a thread of its own): the list calls, each page's changed records picked (``changed_items``,
        # which needs the pages in order), up to two pages ahead of stage 2. No list call once the run failed.
        while not halt.is_set():
            page = next(pages, None)
            if page is None:
                return
            yield shared.changed_items(
                ctx,
                report,
                link_entity=entity,
                items=page.items,
                seen=seen,
                record_time=lambda item: _record_time(item, timezone),
                settled_before=shared.settled_before_of(report.cursor_before, ctx.lookback),
            )
        raise _Stopped  # never a scan's end: the run failed in another stage

    def page_fetches() -> Iterator[tuple[list[shared.PageItem], shared.CursorKey | None, _Fetched]]:
        # Stage 2 (a thread of its own): each page's look-up calls (combinations, computed prices, e-mails,
        # addresses: ``_fetch``) in up to LOOKUP_WINDOW worker threads, handed on in page order, up to two pages
        # ahead of stage 3, the loop below, which builds the payloads (``_build``) and stages them.
        with ThreadPoolExecutor(max_workers=LOOKUP_WINDOW, thread_name_prefix="ps-lookups") as pool:
            pending: deque[tuple[list[shared.PageItem], shared.CursorKey | None, Future[_Fetched]]] = deque()
            try:
                with _closing(shared.prefetch(scanned())) as listed:
                    while True:
                        try:
                            items, page_newest = next(listed)
                        except StopIteration:
                            break
                        except Exception:
                            # A list call failed: the pages listed before it are staged first, as one thread would
                            # have staged them before making that call (a look-up error of theirs comes first too).
                            # Only here: a page's look-up error (``future.result()`` below) fails the run at once,
                            # with no later page staged (the cursor stays before the page that failed).
                            while pending:
                                done_items, done_newest, future = pending.popleft()
                                yield done_items, done_newest, future.result()
                            raise
                        changed = [(item.external_id, item.payload, item.updated) for item in items]
                        look_up = pool.submit(_fetch, entity, changed, client, lookups, stop=halt)
                        pending.append((items, page_newest, look_up))
                        while len(pending) > LOOKUP_WINDOW:
                            done_items, done_newest, future = pending.popleft()
                            yield done_items, done_newest, future.result()
                while pending:
                    done_items, done_newest, future = pending.popleft()
                    yield done_items, done_newest, future.result()
            except BaseException:
                halt.set()  # look-ups in flight end at their next call
                raise
            finally:
                for _items, _newest, future in pending:
                    future.cancel()  # leaving on an error: look-ups not started are dropped (before the pool waits)

    # An incremental read lists every id for the tombstones: that listing does not depend on the scan, so it is
    # read meanwhile (a thread of its own, stopped if the scan fails) and the shop answers it while we stage.
    ids = None if full_scan else _Background(lambda stop: _list_ids(client, resource, stop), name="ps-ids", stop=halt)
    # The price watch (products only) is read meanwhile too (``_start_price_watch``).
    watching = _start_price_watch(ctx, client, full_scan=full_scan, now=now, stop=halt) if entity == "product" else None
    progress = shared.ProgressLog(ctx.log)
    try:
        with _closing(shared.prefetch(page_fetches())) as fetched_pages, _halt_on_error(halt):
            for items, page_newest, fetched in fetched_pages:
                changed = [(item.external_id, item.payload, item.updated) for item in items]
                payloads = _build(entity, key, changed, fetched, lookups, timezone)
                records = [
                    shared.staged_record(integration, entity, item.external_id, payload, source_updated_at=item.updated)
                    for item, payload in zip(items, payloads, strict=True)
                ]
                newest = shared.later(newest, page_newest)
                report.staged += len(records)
                staged_ids.update(r.external_id for r in records)
                # A date_upd-ascending scan advances the cursor page by page; an id-ordered full scan only at the end.
                shared.stage_page(ctx, entity=entity, records=records, cursor=newest, advance_cursor=not full_scan)
                progress.page(f"{integration.name} {resource}: page {report.pages}, {report.rows_fetched} read")
        if watching is not None:
            before, ask, job = watching
            watch = job.result()
            _price_watch(
                ctx,
                report,
                client,
                lookups,
                timezone,
                staged_ids=staged_ids,
                full_scan=full_scan,
                now=now,
                before=before,
                ask=ask,
                watch=watch,
            )
        if ids is not None:
            # Listed when the scan began: an id the scan read later (created meanwhile) is kept too.
            seen |= {str(i) for i in ids.result()}
    finally:
        if ids is not None:
            ids.stop()
        if watching is not None:
            watching[2].stop()
    report.complete_scan = True
    # A record created in the shop after the id listing and linked meanwhile (a change notice applied by another
    # run, an export's create) is in neither list: the unseen ids are asked for by id before they are tombstoned.
    report.tombstoned = shared.stage_tombstones(
        ctx, entity=entity, link_entity=entity, seen=seen, still_present=_present_checker(client, resource)
    )
    if full_scan:
        newest = shared.cursor_after_full_scan(newest, now)
    # The read got to its end: its start is the cursor's read_at (shared.cursor_json).
    final = {
        **(shared.cursor_json(ctx, newest, read_at=shared.read_started_at(ctx)) if newest else {}),
        "polled_at": now.isoformat(),
    }
    with ctx.engine.begin() as conn:
        store.set_cursor(
            conn, integration_id=integration.id, tenant_id=integration.tenant_id, entity=entity, cursor=final
        )
    report.cursor_after = final
    return _finish(report, client)


# Fields of a customer or order that are secrets, not data: dropped before staging (``without_secrets``).
# ``display=full`` returns them (recorded, prestashop-8.2.1 customers-list-full and orders-list-full, and the
# multilang store's customers-get-single-for-order): the password's bcrypt hash and when it was last generated, the
# key that signs the customer's guest-tracking and order links (``secure_key``, on customers and on each order,
# the customer's), the password-reset token and its validity. No transform reads them; staged, they landed in
# ``staging_records.payload`` (and a rejection's copy), readable by analysts.
SECRET_FIELDS: dict[str, frozenset[str]] = {
    "customer": frozenset(
        {"passwd", "secure_key", "reset_password_token", "reset_password_validity", "last_passwd_gen"}
    ),
    "order": frozenset({"secure_key"}),
}


def without_secrets(entity: str, item: Mapping[str, Any]) -> dict[str, Any]:
    """The shop's record without its ``SECRET_FIELDS`` (a copy; every other field as read), for the poll and the
    change-notice paths alike (both build payloads here)."""
    secret = SECRET_FIELDS.get(entity, frozenset())
    return {k: v for k, v in item.items() if k not in secret}


@dataclass
class _Fetched:
    """What a page's payloads need from the shop beyond the page itself, read by :func:`_fetch` (every call of the
    page), used by :func:`_build` (no call): the split lets the next page's calls run while this one is built."""

    addresses: dict[str, dict[str, Any]] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    currencies: dict[str, str] = field(default_factory=dict)
    by_product: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    options: dict[str, dict[str, str]] = field(default_factory=dict)
    categories: dict[str, Any] = field(default_factory=dict)
    category_parents: dict[str, str] = field(default_factory=dict)
    tags: dict[str, dict[str, Any]] = field(default_factory=dict)
    prices: dict[str, dict[str, str]] = field(default_factory=dict)


def _payloads(
    entity: str,
    key: str,
    changed: list[tuple[str, dict[str, Any], datetime | None]],
    client: PrestaShopClient,
    lookups: _Lookups,
    timezone: str,
) -> list[dict[str, Any]]:
    """The staged payloads: the raw object plus the context its transform needs (module docstring of transform)."""
    return _build(entity, key, changed, _fetch(entity, changed, client, lookups), lookups, timezone)


def _fetch(
    entity: str,
    changed: list[tuple[str, dict[str, Any], datetime | None]],
    client: PrestaShopClient,
    lookups: _Lookups,
    *,
    stop: threading.Event | None = None,
) -> _Fetched:
    """Every call ``changed``'s payloads need, in the order a page always made them; nothing is built here. Once
    ``stop`` is set (the run failed meanwhile) it ends before its next call (``_Stopped``)."""

    def check() -> None:
        if stop is not None and stop.is_set():
            raise _Stopped

    out = _Fetched()
    check()
    if entity == "customer":
        out.addresses = lookups.addresses([int(eid) for eid, _, _ in changed if eid.isdigit()])
        return out
    if entity == "order":
        customer_ids = [
            int(c) for _, item, _ in changed if (c := str(item.get("id_customer") or "")).isdigit() and int(c) > 0
        ]
        out.emails = lookups.emails(customer_ids)
        if changed:  # read once a run, on the first page with an order
            check()
            out.states = lookups.states()
            check()
            out.currencies = lookups.currencies()
        return out
    # products: fetch the combinations of every changed product that has some, in one filtered scan.
    parents = [int(eid) for eid, item, _ in changed if eid.isdigit() and _safe_has_combinations(item)]
    for combination in client.list_by_parent("combinations", "id_product", parents):
        out.by_product.setdefault(str(combination.get("id_product")), []).append(combination)
    check()
    out.options = lookups.options() if out.by_product else {}
    if changed:
        check()
        out.categories = lookups.categories()
        out.category_parents = lookups._category_parents
    check()
    out.tags = lookups.tags() if any(_tag_ids(item) for _, item, _ in changed) else {}
    check()
    priced = [
        (int(eid), sorted(int(c["id"]) for c in out.by_product.get(eid, []) if str(c.get("id", "")).isdigit()))
        for eid, _, _ in changed
        if eid.isdigit()
    ]
    out.prices = lookups.prices(priced, stop=stop) if priced else {}
    return out


def _build(
    entity: str,
    key: str,
    changed: list[tuple[str, dict[str, Any], datetime | None]],
    fetched: _Fetched,
    lookups: _Lookups,
    timezone: str,
) -> list[dict[str, Any]]:
    """``changed``'s payloads from what :func:`_fetch` read (no call: ``lookups`` gives settings only)."""
    base: dict[str, Any] = {"timezone": timezone, "language_id": lookups.language_id}
    if entity == "customer":
        addresses = fetched.addresses
        return [
            {
                key: without_secrets(entity, item),
                "context": {**base, "address": addresses.get(eid)} if eid in addresses else base,
            }
            for eid, item, _ in changed
        ]
    if entity == "order":
        emails = fetched.emails
        payloads: list[dict[str, Any]] = []
        for _, item, _ in changed:
            state = fetched.states.get(str(item.get("current_state")))
            currency = fetched.currencies.get(str(item.get("id_currency"))) or lookups.default_currency()
            context: dict[str, Any] = {**base, "currency": currency, "state": state}
            email = emails.get(str(item.get("id_customer")))
            if email:
                context["email"] = email
            payloads.append({key: without_secrets(entity, item), "context": context})
        return payloads
    by_product, options, categories, tags = fetched.by_product, fetched.options, fetched.categories, fetched.tags
    currency = lookups.default_currency()
    # Computed prices grouped by product once (filtering all of them for each product was quadratic: 4 million
    # string splits for a read-back of 1,000 products with 3 combinations each).
    prices_of: dict[str, dict[str, Any]] = {}
    for vid, price in fetched.prices.items():
        prices_of.setdefault(vid.split("-", 1)[0], {})[vid] = price
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
            "currency": currency,
            "option_values": {vid: options[vid] for vid in sorted(wanted) if vid in options},
        }
        context.update(ps.category_context(categories, fetched.category_parents, _category_ids(item)))
        if _tag_ids(item):
            context["tags"] = {tid: tags[tid] for tid in _tag_ids(item) if tid in tags}
        product_prices = prices_of.get(external_id, {})
        if product_prices:
            context["prices"] = product_prices
        payloads.append({key: item, "combinations": combinations, "context": context})
    return payloads


def _category_ids(item: dict[str, Any]) -> list[str]:
    associations = item.get("associations")
    rows = associations.get("categories") if isinstance(associations, dict) else None
    if not isinstance(rows, list):
        return []
    return [str(r.get("id")) for r in rows if isinstance(r, dict) and r.get("id") is not None]


def _tag_ids(item: dict[str, Any]) -> list[str]:
    associations = item.get("associations")
    rows = associations.get("tags") if isinstance(associations, dict) else None
    if not isinstance(rows, list):
        return []
    return [str(r.get("id")) for r in rows if isinstance(r, dict) and r.get("id") is not None]


def _safe_has_combinations(item: dict[str, Any]) -> bool:
    try:
        return ps.has_combinations(item)
    except ValueError:
        return False


# -- price watch ------------------------------------------------------------------------------------------------


@dataclass
class PriceWatch:
    """What the price watch read: a digest per product, the catalogue-wide digest, and the specific-price windows."""

    digests: dict[str, str]
    global_digest: str
    windows: list[tuple[str, str, str]]  # (id_product, from, to) of every dated specific price, shop-local
    readable_specific_prices: bool = True


def read_price_watch(
    client: PrestaShopClient, *, specific_prices: bool = True, stop: threading.Event | None = None
) -> PriceWatch:
    """Read combinations (narrow) and, unless told not to, specific prices; digest them per product (module
    docstring). ``readable_specific_prices`` on the answer says whether the key could read them. Once ``stop`` is
    set (the run failed meanwhile) it ends between two calls."""
    rows_of: dict[str, list[str]] = {}
    for page in client.iter_by_id("combinations", display=COMBINATION_WATCH_DISPLAY, page_size=NARROW_PAGE_SIZE):
        if stop is not None and stop.is_set():
            raise _Stopped
        for row in page.items:
            rows_of.setdefault(str(row.get("id_product")), []).append("c" + json.dumps(row, sort_keys=True))
    catalogue: list[str] = []
    windows: list[tuple[str, str, str]] = []
    readable = specific_prices
    try:
        pages = (
            client.iter_by_id("specific_prices", display="full", page_size=NARROW_PAGE_SIZE)
            if specific_prices
            else iter(())
        )
        for page in pages:
            if stop is not None and stop.is_set():
                raise _Stopped
            for row in page.items:
                pid = str(row.get("id_product") or "0")
                text = "s" + json.dumps(row, sort_keys=True)
                (catalogue if pid == "0" else rows_of.setdefault(pid, [])).append(text)
                start, end = str(row.get("from") or ZERO_DATE), str(row.get("to") or ZERO_DATE)
                if start != ZERO_DATE or end != ZERO_DATE:
                    windows.append((pid, start, end))
    except PrestaShopPermissionError:
        readable = False  # the key may not read specific prices: combinations are still watched
    return PriceWatch(
        digests={pid: _digest(rows) for pid, rows in rows_of.items()},
        global_digest=_digest(catalogue),
        windows=windows,
        readable_specific_prices=readable,
    )


def _digest(rows: list[str]) -> str:
    return hashlib.sha1("\n".join(sorted(rows)).encode(), usedforsecurity=False).hexdigest()[:12]


def watched_changes(
    watch: PriceWatch, before: dict[str, Any] | None, timezone: str, now: datetime
) -> tuple[set[str], bool]:
    """(ids of products to re-read, whether every product must be re-read) against the stored watch ``before``."""
    if not before or not isinstance(before.get("digests"), dict):
        return set(watch.digests), False  # no baseline: everything that could have changed silently
    previous: dict[str, str] = before["digests"]
    changed = {pid for pid in watch.digests.keys() | previous.keys() if watch.digests.get(pid) != previous.get(pid)}
    everything = watch.global_digest != before.get("global")
    last = before.get("polled_at")
    if last:
        since = datetime.fromisoformat(str(last))
        zone = shop_zone(timezone)
        for pid, start, end in watch.windows:
            # A window that opened, or closed, between the last poll and now changed the computed price. Bounds are
            # inclusive (a spare re-read costs one row; a missed one a wrong price until the next edit).
            for edge in (start, end):
                try:
                    moment = local_to_utc(edge, zone)
                except ValueError:
                    moment = now  # unreadable: re-read the product rather than fail the poll or guess
                if moment is not None and since - WINDOW_SLACK <= moment <= now:
                    if pid == "0":
                        everything = True
                    else:
                        changed.add(pid)
    return changed, everything


def _ask_specific_prices(before: dict[str, Any] | None, *, full_scan: bool, now: datetime) -> bool:
    """Whether to read specific prices: a key that refused them is asked again once a day (or on a full scan),
    not on every poll."""
    refused_at = (before or {}).get("specific_prices_refused_at")
    return full_scan or not refused_at or now - datetime.fromisoformat(str(refused_at)) >= SPECIFIC_PRICES_RETRY


def _start_price_watch(
    ctx: shared.ExtractContext,
    client: PrestaShopClient,
    *,
    full_scan: bool,
    now: datetime,
    stop: threading.Event | None = None,
) -> tuple[dict[str, Any] | None, bool, _Background[PriceWatch]]:
    """The stored watch, whether specific prices are asked, and the watch's read, started in its own thread.

    Why alongside the product scan rather than after it: the watch's calls do not depend on the scan, so the shop
    answers them while we stage the scan's pages. Nothing is lost by it: a price changed (without ``date_upd``)
    before the watch reads the product is seen by it; one changed after is seen by the next poll's watch. The
    case that stays (as when the watch was read after the scan, where it was more likely): a change after the scan
    read a product and before the watch read it is stored in the digests without a re-read (the product is in
    ``staged_ids``), so it waits for the product's next edit."""
    with ctx.engine.connect() as conn:
        before = store.get_cursor(conn, ctx.integration.id, PRICE_WATCH_ENTITY)
    ask = _ask_specific_prices(before, full_scan=full_scan, now=now)
    job = _Background(
        lambda halt: read_price_watch(client, specific_prices=ask, stop=halt), name="ps-price-watch", stop=stop
    )
    return before, ask, job


def _price_watch(
    ctx: shared.ExtractContext,
    report: PrestaShopExtractReport,
    client: PrestaShopClient,
    lookups: _Lookups,
    timezone: str,
    *,
    staged_ids: set[str],
    full_scan: bool,
    now: datetime,
    before: dict[str, Any] | None,
    ask: bool,
    watch: PriceWatch,
) -> None:
    """Re-stage the products whose prices changed without ``date_upd`` (module docstring), then store the watch
    (``watch``, read by :func:`_start_price_watch` from ``before`` and ``ask``)."""
    integration = ctx.integration
    refused_at = (before or {}).get("specific_prices_refused_at")
    wanted: list[int] = []
    if not full_scan:
        changed, everything = watched_changes(watch, before, timezone, now)
        if everything:
            changed = {str(i) for i in client.list_ids("products")}
        wanted = sorted(int(pid) for pid in changed - staged_ids if pid.isdigit() and int(pid) > 0)
    for start in range(0, len(wanted), WATCH_REREAD_BATCH):
        items = client.list_by_ids("products", wanted[start : start + WATCH_REREAD_BATCH], display="full")
        changed_items = [
            (str(item.get("id")), item, _record_time(item, timezone)) for item in items if item.get("id") is not None
        ]
        payloads = _payloads("product", "product", changed_items, client, lookups, timezone)
        records = [
            shared.staged_record(integration, "product", eid, payload, source_updated_at=updated)
            for (eid, _, updated), payload in zip(changed_items, payloads, strict=True)
        ]
        report.staged += len(records)
        report.rows_fetched += len(items)
        shared.stage_page(ctx, entity="product", records=records, cursor=None, advance_cursor=False)
    if wanted:
        ctx.log.info(f"{integration.name} products: {len(wanted)} re-read for a price change without date_upd")
    state: dict[str, Any] = {"digests": watch.digests, "global": watch.global_digest, "polled_at": now.isoformat()}
    if not watch.readable_specific_prices:
        state["specific_prices_refused_at"] = now.isoformat() if ask else refused_at
    with ctx.engine.begin() as conn:
        store.set_cursor(
            conn,
            integration_id=integration.id,
            tenant_id=integration.tenant_id,
            entity=PRICE_WATCH_ENTITY,
            cursor=state,
        )


# -- stock ------------------------------------------------------------------------------------------------------


def stock_digest(rows: list[dict[str, Any]]) -> str:
    """A short fingerprint of one product's (id_product_attribute, quantity) pairs, order-independent."""
    pairs = sorted(f"{r.get('id_product_attribute')}:{r.get('quantity')}" for r in rows)
    return hashlib.sha1(",".join(pairs).encode(), usedforsecurity=False).hexdigest()[:12]


def extract_inventory(
    ctx: shared.ExtractContext, client: PrestaShopClient | None = None, *, now: datetime | None = None
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
    previous: dict[str, str] = {} if ctx.full_refresh else dict((report.cursor_before or {}).get("digests") or {})
    # Without stored digests (the first poll, a full refresh) every product with stock is new, so the product id
    # list below will be needed: it is read meanwhile, in a thread of its own, while the stock pages download.
    ids = None if previous else _Background(lambda stop: _list_ids(client, "products", stop), name="ps-ids")
    try:
        listed: list[dict[str, Any]] = []
        for page in client.iter_by_id("stock_availables", display=STOCK_DISPLAY, page_size=NARROW_PAGE_SIZE):
            report.pages += 1
            report.rows_fetched += len(page.items)
            listed.extend(page.items)
        by_product: dict[str, list[dict[str, Any]]] = {}
        for row in ShopStock(client, integration.settings or {}).select(listed):  # multishop: this shop's rows only
            by_product.setdefault(str(row.get("id_product")), []).append(row)
        digests = {pid: stock_digest(rows) for pid, rows in by_product.items()}
        changed = [pid for pid, digest in digests.items() if previous.get(pid) != digest]
        live_ids = (ids.result() if ids is not None else client.list_ids("products")) if changed else []
    finally:
        if ids is not None:
            ids.stop()
    # Deleting a product leaves ONE new product-level row behind for the deleted id (quantity 0; recorded:
    # stock-availables-orphans-after-product-delete.json). It belongs to no product: staging it would be rejected
    # on every full refresh ("sync products first"), so rows of ids the shop no longer lists are left out.
    # Only a product whose stock changed (or is new) can be such an orphan, so the id list is read only then: a
    # poll in which no quantity moved costs the stock pages and nothing else. An orphan's digest stays in the
    # cursor (PrestaShop never reuses a product id), so the same orphan does not ask for the id list again.
    live = {str(i) for i in live_ids}
    orphans = sorted((pid for pid in changed if pid not in live), key=lambda p: (len(p), p))
    if orphans and ids is not None:
        # Listed alongside the stock pages, the ids may predate a product created meanwhile, whose stock rows the
        # pages did read: asked for by id (one call per 120), such a product is no orphan.
        created = _present_checker(client, "products")(orphans)
        orphans = [pid for pid in orphans if pid not in created]
    if orphans:
        ctx.log.info(
            f"{integration.name} stock: {len(orphans)} row set(s) of deleted products left out: {orphans[:10]}"
        )
    staged = sorted(set(changed) - set(orphans), key=lambda p: (len(p), p))
    observed = now.isoformat()
    records = [
        shared.staged_record(
            integration,
            "inventory",
            pid,
            {"id_product": pid, "rows": by_product[pid], "context": {"observed_at": observed}},
            source_updated_at=now,
        )
        for pid in staged
    ]
    report.unchanged = len(by_product) - len(changed)
    report.staged = len(records)
    cursor = {"digests": digests, "polled_at": observed, "products": len(digests) - len(orphans)}
    with ctx.engine.begin() as conn:  # the rows and the digests that cover them commit together
        for start in range(0, len(records), 500):
            store.stage_records(conn, records[start : start + 500], run_id=ctx.run_id)
        store.set_cursor(
            conn, integration_id=integration.id, tenant_id=integration.tenant_id, entity="inventory", cursor=cursor
        )
    report.cursor_after = {
        "polled_at": observed,
        "products": len(digests) - len(orphans),
        "changed_products": len(records),
        "orphan_stock_products": len(orphans),
    }
    report.complete_scan = True
    return _finish(report, client)


def extract(ctx: shared.ExtractContext, entity: str) -> shared.ExtractReport:
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
