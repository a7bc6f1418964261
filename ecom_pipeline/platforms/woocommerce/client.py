"""WooCommerce REST API (wc/v3) client: credentials check, paging, incremental listing, single reads.

It returns raw WooCommerce payloads (dicts) on purpose: extract assets stage them verbatim and the transform is
the only code that interprets fields. Everything about transport (retries, Retry-After, budget, error mapping)
lives in :class:`~ecom_pipeline.platforms.http.HttpSession`; this module adds WooCommerce's auth rules, its error
body shape, its pagination headers and its ``modified_after`` semantics.

Incremental listing and page-number instability
-----------------------------------------------
WooCommerce only pages by page number. While a scan runs, records can change. With ``orderby=modified&order=asc``
a record modified mid-scan moves to the end of the ordering, so it is seen again later (a duplicate, deduplicated
downstream by (id, date_modified)) rather than missed. But moving it also shifts every later record one slot
towards the start, so the record that was first on the next page would slide onto a page already read and be
skipped. ``iter_modified`` therefore pages by *keyset* on the modification time: after each full page it restarts
at page 1 with ``modified_after`` = (last modification second seen - 1 s), because the filter is strictly-after with
one-second resolution. The window always starts at a time already reached, so a shift cannot hide a record.
Records of the boundary second come back twice; the iterator drops the ones it already yielded. When a whole page
shares one modification second (a bulk update), the keyset cannot advance, and only then do we fall back to page
numbers inside that window. Page numbers inside one second are as unstable as any: a record of that second edited
during the read leaves it and shifts the next one onto a page already read, and a real store has no tie-break on
``post_modified`` (the order of equal times may change between two requests). So once the read leaves a second it
had to page by number, it lists that second's ids again (``modified_after=S-1``, ``modified_before=S+1``,
``_fields=id``) and fetches the ones it did not see with ``include=`` (pages marked ``recovered``).

Full scans: overlapping pages by offset
---------------------------------------
A full scan (``iter_id_scan``) reads ``orderby=id&order=asc``: ids never change and a new record is appended at the
end. Paging by number is still unsafe: a record trashed or deleted below the read position shifts every later one
a slot towards the start, and one slides onto a page already read. So each page is asked for by ``offset`` (which
WordPress takes instead of ``page``) and starts on the previous page's last record (steps of ``per_page - 1``). The
listing is sorted by id, so a page whose first id is at most the highest id read so far (``covered``) holds every
record between that id and its own last one: nothing was skipped. A page whose first id is above it (or an empty
one) means records were removed below it, and some may have slid past the read position: the scan steps back
(re-reads from an earlier offset: first by as many records as X-WP-Total dropped, capped at a page, then doubling)
until a page overlaps again. A single removal costs one call more, several removals in the gap the same; a
removal of the overlap record itself too. Records a step-back finds that no earlier page had are counted as
recovered (``Page.recovered_count``), and every id is yielded once (re-read records are dropped).
A record inserted below the read position (a product restored from the trash, a draft order placed: ids below the
position that were not listed before) only shifts later records further (ids repeat: dropped), but the scan has
passed it; ``iter_modified`` therefore ends a full scan with a read of the records modified since the scan began
(``changed_since``), which such a change stamps. User ids only ever grow, so customers need no such read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ecom_pipeline.platforms.errors import ShopApiError, ShopAuthError, ShopResponseError
from ecom_pipeline.platforms.http import ApiResponse, ErrorInfo, HttpOptions, HttpSession, ShopClient
from ecom_pipeline.platforms.woocommerce.auth import auth_for

PLATFORM = "woocommerce"
DEFAULT_API_VERSION = "wc/v3"
MAX_PER_PAGE = 100
# The roles of WordPress's and WooCommerce's staff. Customers are listed with ``role=all`` (see ``iter_pages``), and
# in wc/v3 that is every WordPress user: the API key's owner (an administrator), shop managers, editors, authors and
# contributors come with the buyers. They are not buyers, and their personal data has no place in hub_customers: the
# customers extract stages none of them (``staff_skipped`` in its metadata). Any other role is a buyer's:
# ``customer``, ``subscriber`` (WordPress's default for a new account), a plugin's (``wholesale_customer``). The
# payload's ``role`` is one string, the user's first role (recorded 10.0.2 shop: ``"role": "customer"``).
STAFF_ROLES: frozenset[str] = frozenset({"administrator", "editor", "author", "contributor", "shop_manager"})
# Collections whose list endpoint has no modified_after / orderby=modified (WC_REST_Customers_Controller).
NO_MODIFIED_FILTER: frozenset[str] = frozenset({"customers"})
_WC_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


@dataclass(frozen=True)
class Page:
    """One page of a list endpoint. ``total``/``total_pages`` come from X-WP-Total(Pages) when sent."""

    items: list[dict[str, Any]]
    page: int
    total: int | None
    total_pages: int | None
    next_url: str | None  # sanitized (no oauth_* params): for logs and run metadata, not to be requested
    # True for the records of a tied second that paging by number skipped, fetched again by ``include=``, and for
    # the records a full scan's closing read of the records modified meanwhile found (all its items are recovered)
    recovered: bool = False
    # How many of ``items`` only a recovery brought: a full scan's step-back (see ``iter_id_scan``), or all of a
    # ``recovered`` page
    recovered_count: int = 0


def format_wc_datetime(dt: datetime) -> str:
    """UTC, second resolution, no offset: the form ``modified_after`` expects with ``dates_are_gmt=true``.

    Naive datetimes are refused: guessing their zone is exactly the one-hour shift this project forbids.
    Sub-second parts are truncated, which is safe because the store compares at one-second resolution.
    """
    if dt.tzinfo is None:
        raise ValueError(f"format_wc_datetime needs a timezone-aware datetime, got naive {dt!r}")
    return dt.astimezone(UTC).strftime(_WC_DATETIME_FORMAT)


def parse_wc_gmt(value: str | None) -> datetime | None:
    """``2026-11-22T00:09:21`` (a ``*_gmt`` field) -> aware UTC datetime."""
    if not value:
        return None
    return datetime.strptime(value[:19], _WC_DATETIME_FORMAT).replace(tzinfo=UTC)


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def wc_error_parser(status: int, body: Any, text: str) -> ErrorInfo:
    """Turn WooCommerce/WordPress ``{"code","message","data":{...}}`` into code, message and a useful hint."""
    if not isinstance(body, dict) or "code" not in body:
        return ErrorInfo(message=None)
    code = str(body.get("code"))
    message = str(body.get("message") or "").strip()
    raw_data = body.get("data")
    data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
    details: dict[str, Any] = {}
    params = data.get("params")
    if isinstance(params, dict) and params:
        # "Invalid parameter(s): per_page" alone hides the reason; the per-param messages carry it.
        reasons = "; ".join(f"{name}: {reason}" for name, reason in params.items())
        message = f"{message.rstrip('.')} ({reasons})"
        details["params"] = params
    for key in ("resource_id", "unique_sku"):
        if key in data:
            details[key] = data[key]
    hint: str | None = None
    if code == "woocommerce_rest_cannot_view" or code.startswith("woocommerce_rest_cannot_"):
        hint = (
            "The consumer key is unknown to the store, was revoked, or lacks Read permission (WooCommerce treats an "
            "unknown key as an anonymous request). Create a key with Read (or Read/Write) access under WooCommerce > "
            "Settings > Advanced > REST API and reconnect. Over plain HTTP, WooCommerce ignores HTTP Basic auth and "
            "needs OAuth 1.0a, which this client uses; if you see this over HTTP, the key itself is the problem."
        )
    elif code == "woocommerce_rest_authentication_error":
        hint = (
            "Wrong consumer secret or bad OAuth signature. Check the consumer secret; over plain HTTP also check that "
            "the shop URL matches the store's Site Address exactly (scheme, host, port, path) since it is signed, "
            "and that this machine's clock is right (timestamps older than 15 minutes are refused)."
        )
    elif code == "rest_no_route":
        hint = (
            "The route does not exist: check that WooCommerce is active, the API version (wc/v3) and that the shop URL "
            "is the WordPress site root."
        )
    elif code.endswith("_invalid_id"):
        hint = "The record does not exist (it may have been deleted permanently)."
    elif code == "product_invalid_sku":
        hint = "The SKU is already used by another product (see details.resource_id); link to it instead of creating."
    return ErrorInfo(code=code, message=message or None, hint=hint, details=details)


class WooCommerceClient(ShopClient):
    """Read access to one WooCommerce store's wc/v3 API (plus thin write helpers for export)."""

    platform = PLATFORM

    def __init__(
        self,
        shop: HttpOptions | str,
        consumer_key: str,
        consumer_secret: str,
        *,
        per_page: int = 100,
        **overrides: Any,
    ) -> None:
        """``shop`` is the store's :class:`HttpOptions` (or its URL, with ``overrides`` such as ``timeout=`` or
        ``max_retries=``: any HttpOptions field). ``options.api_version`` defaults to wc/v3."""
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise ValueError(
                f"per_page must be between 1 and {MAX_PER_PAGE} (WooCommerce refuses more), got {per_page}"
            )
        options = HttpOptions.of(shop, **overrides)
        self.site_url = options.base_url.rstrip("/")
        self.api_root = f"{self.site_url}/wp-json/{(options.api_version or DEFAULT_API_VERSION).strip('/')}"
        self.per_page = per_page
        self.http = HttpSession(
            self.api_root,
            platform=PLATFORM,
            auth=auth_for(self.site_url, consumer_key, consumer_secret),
            options=options,
            error_parser=wc_error_parser,
            secrets=(consumer_key, consumer_secret),
        )

    def __repr__(self) -> str:
        return f"WooCommerceClient(site_url={self.site_url!r})"

    # -- single calls -----------------------------------------------------------------------------------------

    def request(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json_body: Any = None
    ) -> ApiResponse:
        """Any call relative to the API root (``products/12``), with retries and error mapping."""
        return self.http.request(method, path, params=params, json_body=json_body)

    def get(self, resource_path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET one resource (``orders/33``); 404 raises ShopNotFoundError."""
        return self.request("GET", resource_path, params=params).data

    def post(self, resource_path: str, body: Any) -> Any:
        return self.request("POST", resource_path, json_body=body).data

    def put(self, resource_path: str, body: Any) -> Any:
        return self.request("PUT", resource_path, json_body=body).data

    def delete(self, resource_path: str, *, force: bool = False) -> Any:
        return self.request("DELETE", resource_path, params={"force": "true"} if force else None).data

    def check_credentials(self) -> dict[str, Any]:
        """One cheap authenticated call; returns shop facts. Raises ShopAuthError with an actionable message.

        ``products?per_page=1`` needs read permission on products and its X-WP-Total gives the catalogue size for
        free, which is what ``connect`` shows the user.
        """
        try:
            response = self.request("GET", "products", params={"per_page": 1})
        except ShopAuthError as err:
            if err.code == "woocommerce_rest_cannot_view":
                err.message = (
                    f"{err.message.rstrip('.')}: the consumer key is unknown to the store or lacks read permission"
                )
            elif err.code == "woocommerce_rest_authentication_error":
                err.message = f"{err.message.rstrip('.')}: wrong consumer secret or bad signature"
            raise
        if not isinstance(response.data, list):
            raise response.unexpected(PLATFORM, f"expected a JSON list of products, got {type(response.data).__name__}")
        return {
            "platform": PLATFORM,
            "site_url": self.site_url,
            "api_root": self.api_root,
            "auth": "basic" if self.site_url.lower().startswith("https://") else "oauth1",
            "total_products": _int_header(response.headers, "X-WP-Total"),
        }

    # -- lists -------------------------------------------------------------------------------------------------

    def iter_pages(self, resource: str, params: Mapping[str, Any] | None = None) -> Iterator[Page]:
        """Stream the pages of a list endpoint by ``page=`` number.

        Stops after the page X-WP-TotalPages names, or on a short or empty page, whichever comes first (a short
        page ends the list even if records were added meanwhile: the next incremental run picks them up).
        Only one page is held at a time. ``customers`` are listed with ``role=all`` unless ``params`` name a role.
        """
        query = dict(params or {})
        if resource.strip("/") == "customers":
            # wc/v3 lists only users with the ``customer`` role unless asked otherwise (its ``role`` parameter
            # defaults to ``customer``): a buyer a plugin made ``wholesale_customer`` would never be pulled, and one
            # linked by a webhook would be tombstoned by the id scan. ``role=all`` drops the filter, and so lists the
            # shop's staff too: the customers extract skips them (STAFF_ROLES).
            query.setdefault("role", "all")
        per_page = int(query.setdefault("per_page", self.per_page))
        page = int(query.pop("page", 1))
        while True:
            listed = self._list_call(resource, {**query, "page": page}, page)
            yield listed
            if len(listed.items) < per_page or (listed.total_pages is not None and page >= listed.total_pages):
                return
            page += 1

    def _list_call(self, resource: str, params: Mapping[str, Any], number: int) -> Page:
        """One call of a list endpoint, as a :class:`Page` numbered ``number``."""
        response = self.request("GET", resource, params=params)
        items = response.data
        if not isinstance(items, list):
            kind = type(items).__name__
            raise response.unexpected(PLATFORM, f"expected a JSON list from a list endpoint, got {kind}")
        return Page(
            items=items,
            page=number,
            total=_int_header(response.headers, "X-WP-Total"),
            total_pages=_int_header(response.headers, "X-WP-TotalPages"),
            next_url=response.links.get("next"),
        )

    def iter_id_scan(self, resource: str, params: Mapping[str, Any] | None = None) -> Iterator[Page]:
        """Every record of a list endpoint, ordered by id, read by ``offset`` in pages that overlap by one record
        (see the module docstring): a record removed during the scan cannot hide a live one.

        Each id is yielded once; ``Page.recovered_count`` says how many of a page's records only a step-back
        brought. ``params`` are the list's filters (``page``, ``offset``, ``orderby`` and ``order`` are the scan's).
        ``per_page`` is at least 2 here (a one-record overlap needs a second record to advance). Ends on a page
        that overlaps and is short (never on X-WP-Total alone); an empty page past the first is a gap (records
        removed), not the end, and its X-WP-Total is not used (WordPress counts no rows for an offset past the end).
        ``customers`` are listed with ``role=all`` unless ``params`` name a role, as in :meth:`iter_pages`.
        """
        query = {k: v for k, v in (params or {}).items() if k not in ("page", "offset")}
        if resource.strip("/") == "customers":
            query.setdefault("role", "all")  # see iter_pages
        per_page = max(2, int(query.get("per_page", self.per_page)))
        query.update({"orderby": "id", "order": "asc", "per_page": per_page})
        yielded: set[int] = set()
        covered: int | None = None  # every record up to this id that lived through the scan was read
        last_total: int | None = None  # X-WP-Total of the last page that overlapped
        offset = 0
        forward = 0  # the offset of the page that found a gap, while stepping back from it
        back = 0  # how far behind ``forward`` the read is (0: reading forward)
        # The page that found the gap: (its first id, last id, next offset, whether it reached the end). It is a
        # true picture of its own id range, so once a step-back page reaches its first id the gap is closed.
        island: tuple[int, int, int, bool] | None = None
        calls = 0
        while True:
            calls += 1
            page = self._list_call(resource, {**query, "offset": offset}, calls)
            ids = [_scan_id(resource, item) for item in page.items]
            overlaps = offset == 0 or (bool(ids) and covered is not None and ids[0] <= covered)
            # Only a short page ends the scan. X-WP-Total may be counted by a second query after the page's (HPOS
            # orders count apart), so a record trashed between the two lowers the total below a full page already
            # read and "offset + len >= total" would stop one record short; a full last page costs one more call,
            # which answers just the overlap record.
            ends = len(ids) < per_page
            fresh = [item for item, i in zip(page.items, ids, strict=True) if i not in yielded]
            # Recovered: what a step-back brings, and ids at or below ``covered`` first seen now (inserted below).
            recovered = sum(1 for i in ids if i not in yielded and (back > 0 or (covered is not None and i <= covered)))
            yielded.update(ids)
            yield Page(fresh, calls, page.total, page.total_pages, page.next_url, recovered_count=recovered)
            if overlaps:
                if ids:
                    covered = ids[-1] if covered is None else max(covered, ids[-1])
                last_total = page.total
                next_offset = offset + len(ids) - 1
                if island is not None and ids and ids[-1] >= island[0] and island[1] > ids[-1]:
                    # The gap is read: go on from the page that found it rather than re-walk its records.
                    covered, next_offset, ends = island[1], island[2], island[3]
                island, back = None, 0
                if ends:
                    return
                offset = next_offset
                continue
            # A gap before this page: records were removed below it. Step back until a page overlaps again.
            if back == 0:
                forward = offset
                dropped = (last_total - page.total) if ids and last_total is not None and page.total is not None else 0
                back = min(max(1, dropped), per_page - 1)
                island = (ids[0], ids[-1], offset + len(ids) - 1, ends) if ids else None
            else:
                back *= 2
            offset = max(0, forward - back)

    def iter_modified(
        self,
        resource: str,
        since: datetime | None,
        extra_params: Mapping[str, Any] | None = None,
        *,
        changed_since: datetime | None = None,
    ) -> Iterator[Page]:
        """Records modified strictly after ``since`` (UTC, one-second resolution), oldest first; all when None.

        ``since=None`` is a full scan (:meth:`iter_id_scan`: by id, in pages overlapping by one record, stepping
        back when a removal opened a gap; ``Page.recovered_count`` counts what a step-back brought). With
        ``changed_since`` (the scan's start minus the caller's lookback) it ends with a keyset read of the records
        modified since then, and yields those the scan did not (pages marked ``recovered``): a record restored from
        the trash, or a draft order placed, while the scan ran appears below the read position, where the scan
        has already been.
        Otherwise keyset paging on ``date_modified_gmt`` (see the module docstring for why). The caller applies
        any lookback and its own (modified, id) tie-break; duplicates across pages are possible only for records
        modified during the scan and are deduplicated downstream.

        Collections without a modified filter (customers) are scanned in full by id and filtered here with the
        same strictly-after rule, so callers see one behaviour (and need no closing read: user ids only grow).
        """
        extra = {k: v for k, v in (extra_params or {}).items() if k not in ("page", "offset")}
        base_resource = resource.strip("/").split("/")[0]
        if since is None or base_resource in NO_MODIFIED_FILTER:
            pages = self.iter_id_scan(resource, extra)
            if since is None:
                seen: set[str] = set()
                for page in pages:
                    seen.update(str(item.get("id")) for item in page.items if isinstance(item, Mapping))
                    yield page
                if changed_since is not None and base_resource not in NO_MODIFIED_FILTER:
                    for page in self._iter_keyset(resource, changed_since, extra):
                        unseen = [i for i in page.items if isinstance(i, Mapping) and str(i.get("id")) not in seen]
                        seen.update(str(i.get("id")) for i in unseen)
                        if unseen:
                            yield Page(unseen, page.page, page.total, page.total_pages, None, True, len(unseen))
                return
            floor = since.astimezone(UTC).replace(microsecond=0)
            for page in pages:
                kept = [item for item in page.items if (modified := _modified(item)) is None or modified > floor]
                yield Page(kept, page.page, page.total, page.total_pages, page.next_url)
            return
        yield from self._iter_keyset(resource, since, extra)

    def _iter_keyset(self, resource: str, since: datetime, extra: Mapping[str, Any]) -> Iterator[Page]:
        per_page = int(extra.get("per_page", self.per_page))
        window = since.astimezone(UTC).replace(microsecond=0)
        page_no = 1  # page number inside the current window (only >1 while stuck in one second)
        sequence = 0  # pages yielded so far, reported as Page.page
        boundary_second: datetime | None = None
        seen_in_boundary: set[tuple[Any, str | None]] = set()
        tied_second: datetime | None = None  # the second being paged by number, if any
        tied_seen: set[str] = set()  # ids read in it
        while True:
            params = {
                **extra,
                "per_page": per_page,
                "modified_after": format_wc_datetime(window),
                "dates_are_gmt": "true",
                "orderby": "modified",
                "order": "asc",
            }
            page = next(self.iter_pages(resource, {**params, "page": page_no}))
            fresh: list[dict[str, Any]] = []
            for item in page.items:
                key = (item.get("id"), item.get("date_modified_gmt"))
                if key in seen_in_boundary:
                    continue
                fresh.append(item)
            sequence += 1
            yield Page(fresh, sequence, page.total, page.total_pages, page.next_url)
            if tied_second is not None:
                tied_seen.update(str(i.get("id")) for i in page.items if _modified(i) == tied_second)
            if len(page.items) < per_page or (page.total_pages is not None and page_no >= page.total_pages):
                if tied_second is not None:
                    yield from self._recover_second(resource, tied_second, tied_seen, extra)
                return
            last = _modified(page.items[-1])
            if last is None:
                raise ShopResponseError(
                    f"{resource} item {page.items[-1].get('id')} has no date_modified_gmt; cannot page by modification",
                    platform=PLATFORM,
                )
            if last == boundary_second:
                seen_in_boundary.update((i.get("id"), i.get("date_modified_gmt")) for i in page.items)
            else:
                boundary_second = last
                seen_in_boundary = {
                    (i.get("id"), i.get("date_modified_gmt")) for i in page.items if _modified(i) == last
                }
            if last - timedelta(seconds=1) <= window:
                # The whole page sits in the window's first second (a bulk update): the keyset cannot advance
                # without skipping records of that second, so page by number inside this window.
                if tied_second is None:
                    tied_second = last
                    tied_seen = {str(i.get("id")) for i in page.items if _modified(i) == last}
                page_no += 1
            else:
                if tied_second is not None:
                    yield from self._recover_second(resource, tied_second, tied_seen, extra)
                    tied_second, tied_seen = None, set()
                window = last - timedelta(seconds=1)
                page_no = 1

    def _recover_second(
        self, resource: str, second: datetime, seen: set[str], extra: Mapping[str, Any]
    ) -> Iterator[Page]:
        """The records modified in ``second`` that a read paging by number inside it did not see (``include=``)."""
        listing = {
            **{k: v for k, v in extra.items() if k != "per_page"},
            "modified_after": format_wc_datetime(second - timedelta(seconds=1)),
            "modified_before": format_wc_datetime(second + timedelta(seconds=1)),
            "dates_are_gmt": "true",
            "_fields": "id",
            "orderby": "id",
            "order": "asc",
            "per_page": MAX_PER_PAGE,
        }
        listed = [str(item.get("id")) for page in self.iter_pages(resource, listing) for item in page.items]
        unseen = sorted({i for i in listed if i.isdigit() and i not in seen}, key=int)
        yield from self._include_pages(resource, unseen, {k: v for k, v in extra.items() if k != "per_page"})

    def list_variations(self, product_id: int | str, params: Mapping[str, Any] | None = None) -> Iterator[dict]:
        """Every variation of a variable product, streamed (``products/{id}/variations``)."""
        for page in self.iter_pages(
            f"products/{product_id}/variations", {"orderby": "id", "order": "asc", **(params or {})}
        ):
            yield from page.items

    def iter_variations_of(self, parent_ids: list[int]) -> Iterator[Page]:
        """Pages of the variations of several variable products at once: ``GET /wp-json/wc-analytics/variations``
        with ``parent=<ids>``, 100 a page, by id ascending.

        A route of WooCommerce core (``Automattic\\WooCommerce\\Admin\\API\\ProductVariations``, marked @internal):
        the wc/v3 variations controller registered under the ``wc-analytics`` namespace plus a ``/variations`` route
        whose ``prepare_objects_query`` drops ``post_parent``, so the inherited collection parameters apply:
        ``parent`` (ids, ``wp_parse_id_list``) becomes ``post_parent__in`` (``WC_REST_CRUD_Controller``). Consumer
        keys are accepted for any ``wc-`` namespace (``WC_REST_Authentication::is_request_to_rest_api``). The
        bodies differ from ``products/{id}/variations``: ``name`` is the variation's post title, ``_links`` point at
        ``wc-analytics/products/0/...`` (see ``extract.VariationFetcher`` for how the wc/v3 form is rebuilt). The
        route is absent (404 ``rest_no_route``) when WooCommerce's analytics are disabled.
        """
        params = {
            "parent": ",".join(str(int(i)) for i in parent_ids),
            "per_page": MAX_PER_PAGE,
            "orderby": "id",
            "order": "asc",
        }
        yield from self.iter_pages(f"{self.site_url}/wp-json/wc-analytics/variations", params)

    # -- id listings (deletion reconciliation) -------------------------------------------------------------------

    def list_ids(self, resource: str) -> Iterator[str]:
        """Every id of a collection (``products``, ``orders``, ``customers``), 100 per call with ``_fields=id``.

        WooCommerce announces no permanent delete (no webhook, and an incremental read cannot see a record that is
        gone), so the hub compares these ids with its links. The default listing leaves the trash out, as a
        full scan does. Page numbers shift when a record is deleted during the listing, so a caller that turns
        unlisted ids into tombstones confirms them with :meth:`present_ids` first.

        ``customers`` leaves the shop's staff out (:data:`STAFF_ROLES`; the listing asks for ``role`` too): the
        customers extract stages none of them, so the listing is the shop's buyers, the total the reconciliation
        records (``rows_fetched``) and the zero-data-loss KPI compares with the hub's rows. Counting the
        administrator would show every WooCommerce shop as losing data. A customer linked before being made staff is
        not listed, and :meth:`present_ids` (no role filter) confirms it is still there: it is not tombstoned.
        """
        staff_aware = resource == "customers"
        fields = "id,role" if staff_aware else "id"
        params = {"_fields": fields, "orderby": "id", "order": "asc", "per_page": MAX_PER_PAGE}
        for page in self.iter_pages(resource, params):
            for item in page.items:
                value = item.get("id") if isinstance(item, Mapping) else None
                if value in (None, "") or isinstance(value, bool) or (staff_aware and is_staff(item)):
                    continue
                yield str(value)

    def _include_pages(self, resource: str, ids: list[str], filters: Mapping[str, Any]) -> Iterator[Page]:
        for start in range(0, len(ids), MAX_PER_PAGE):
            chunk = ids[start : start + MAX_PER_PAGE]
            params = {**filters, "include": ",".join(chunk), "per_page": len(chunk), "orderby": "id", "order": "asc"}
            for page in self.iter_pages(resource, params):
                yield Page(page.items, page.page, page.total, page.total_pages, page.next_url, True, len(page.items))

    def present_ids(self, resource: str, ids: list[str]) -> set[str]:
        """Which of ``ids`` the shop still lists (``include=``, 100 ids per call, ``_fields=id``)."""
        numeric = sorted({i for i in ids if i.isdigit()}, key=int)
        found: set[str] = set()
        for start in range(0, len(numeric), MAX_PER_PAGE):
            chunk = numeric[start : start + MAX_PER_PAGE]
            params = {"include": ",".join(chunk), "per_page": len(chunk), "_fields": "id", "orderby": "id"}
            for page in self.iter_pages(resource, params):
                found.update(str(item.get("id")) for item in page.items if isinstance(item, Mapping))
        return found


def is_staff(customer: Any) -> bool:
    """A wc/v3 customers payload of a staff user (its ``role`` is one of :data:`STAFF_ROLES`)."""
    role = customer.get("role") if isinstance(customer, Mapping) else None
    return isinstance(role, str) and role.strip().lower() in STAFF_ROLES


def _scan_id(resource: str, item: Any) -> int:
    """The integer id a scan by id orders on; a record without one cannot be placed, so the scan cannot go on."""
    value = item.get("id") if isinstance(item, Mapping) else None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise ShopResponseError(f"{resource} item without an integer id ({value!r}); cannot scan by id", platform=PLATFORM)


def _modified(item: Mapping[str, Any]) -> datetime | None:
    try:
        return parse_wc_gmt(item.get("date_modified_gmt"))
    except (TypeError, ValueError):
        return None


__all__ = [
    "MAX_PER_PAGE",
    "PLATFORM",
    "STAFF_ROLES",
    "Page",
    "ShopApiError",
    "WooCommerceClient",
    "format_wc_datetime",
    "is_staff",
    "parse_wc_gmt",
    "wc_error_parser",
]
