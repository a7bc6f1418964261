"""PrestaShop Webservice client (1.7 and 8.x): key auth, JSON reads, offset paging, date filters, XML writes.

It returns raw webservice payloads (dicts) on purpose: the extract stages them verbatim and the transform is the
only code that interprets fields. Transport (retries, budget, pacing, credential scrubbing) is the shared
:class:`~ecom_pipeline.platforms.http.HttpSession`; this module adds what the recorded 8.2.1 store showed
(fixtures/recorded/prestashop-8.2.1):

- Auth is HTTP Basic with the key as user name and an empty password, over HTTP or HTTPS.
- JSON is asked with ``output_format=JSON``; ``display=full`` returns every field plus associations (ids of
  combinations, stock_availables, order_rows...). Lists are ``{"<plural>": [...]}``; PHP's JSON writer returns
  ``[]`` for an empty list, which we accept too.
- Paging is ``limit=offset,count`` with no total and no next link: a page shorter than ``count`` ends the list.
- Dates filter as shop-local wall time: ``filter[date_upd]=[from,to]&date=1`` (inclusive). Sorting
  ``sort=[date_upd_ASC,id_ASC]`` gives a total order; the recorded store shows ``date_upd`` ties are otherwise
  returned in an unstable order.
- Writes are XML only (``put_xml`` / ``post_xml``), parsed with defusedxml. PUT replaces the whole document, so
  the usual pattern is GET the XML, change it, drop read-only fields, PUT it back (see ``READ_ONLY_FIELDS``).
- Errors: ``{"errors":[{"code","message"}]}``; PHP 8 appends warnings (code 3) that turn a 400 into a 500. The
  session below turns such a 500 back into a 400 so it is not retried five times and is reported as the bad
  request it is; errors become the subclasses of :mod:`ecom_pipeline.platforms.prestashop.errors`.

Incremental listing and offset instability
------------------------------------------
Offset paging over ``date_upd`` shifts when a record is modified mid-scan (it moves to the end, and every later
record slides one slot towards the start, so one would be skipped). :meth:`PrestaShopClient.iter_modified`
therefore pages by *keyset*: after a full page it restarts at offset 0 with the window starting at the last
``date_upd`` seen (the range is inclusive), dropping the records of that boundary second it already yielded. Only
when a whole page shares one second does it fall back to offsets inside that second.
"""

from __future__ import annotations

import builtins
import json
import pyexpat
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote
from xml.etree.ElementTree import Element, ElementTree, tostring

import defusedxml.ElementTree as SafeET
import requests
from requests.auth import HTTPBasicAuth

from ecom_pipeline.platforms.errors import ShopApiError, ShopAuthError, ShopResponseError
from ecom_pipeline.platforms.http import (
    ApiResponse,
    ErrorInfo,
    HttpOptions,
    HttpSession,
    RawBody,
    ShopClient,
    pin_environment_proxies,
)
from ecom_pipeline.platforms.prestashop.dates import format_local, local_filter_floor, shop_zone, utc_to_local
from ecom_pipeline.platforms.prestashop.errors import (
    PHP_WARNING_CODE,
    PrestaShopApiRewriteMissingError,
    PrestaShopNotFoundError,
    PrestaShopPermissionError,
    specialize,
)

PLATFORM = "prestashop"
DEFAULT_PAGE_SIZE = 100
# Narrow lists (ids, stock quantities) are a few bytes a row: bigger pages cost the shop little.
NARROW_PAGE_SIZE = 1000
# Ids per ``filter[id]=[1|2|...]`` call: about 120 keeps the request line well under common 8 KB limits.
ID_BATCH = 120
V = TypeVar("V", int, str)


def filter_chunks(values: Iterable[V], *, max_chars: int, max_items: int) -> Iterator[list[V]]:
    """``values`` in runs whose percent-encoded webservice filter (``[a|b|...]``: ``%5B``, ``%7C`` between values,
    ``%5D``) fits ``max_chars`` characters, at most ``max_items`` each: as few calls as the request line allows
    (common web servers refuse one over 8 KB)."""
    chunk: list[V] = []
    size = 6  # "%5B" and "%5D"
    for value in values:
        cost = len(quote(str(value), safe="")) + 3  # and its "%7C"
        if chunk and (size + cost > max_chars or len(chunk) >= max_items):
            yield chunk
            chunk, size = [], 6
        chunk.append(value)
        size += cost
    if chunk:
        yield chunk


# Fields the webservice returns but refuses (or silently mishandles) on PUT: drop them from a GET-modify-PUT.
READ_ONLY_FIELDS: dict[str, tuple[str, ...]] = {
    "products": ("manufacturer_name", "quantity"),
    "combinations": (),
    "stock_availables": (),
}
# Resources a sync reads: connect reports the missing ones.
READ_RESOURCES: tuple[str, ...] = (
    "products",
    "combinations",
    "stock_availables",
    "orders",
    "order_states",
    "customers",
    "currencies",
)
OPTIONAL_RESOURCES: tuple[str, ...] = (
    "configurations",
    "product_options",
    "product_option_values",
    "languages",
    "categories",
    "addresses",
    "countries",
)
XLINK = "http://www.w3.org/1999/xlink"


XML_CONTENT_TYPE = "text/xml; charset=utf-8"  # the type of the XML documents we send


class PrestaShopBasicAuth(HTTPBasicAuth):
    """The key as Basic user name, empty password; a repr that never prints the key."""

    def __init__(self, api_key: str) -> None:
        super().__init__(api_key, "")

    def __repr__(self) -> str:
        return "PrestaShopBasicAuth(<redacted>)"


class _PrestaShopSession(requests.Session):
    """A requests session that un-does PHP 8's 400-to-500 promotion.

    Why here: ``HttpSession`` decides retries from the status. A 500 whose body is a webservice error with a real
    code (not only PHP warnings, code 3) is deterministic, so it becomes a 400 (the original status is kept in
    ``X-Ecom-Original-Status``) and is neither retried nor reported as a server outage. In ``send``, the one step
    every call takes (``HttpSession`` sends a prepared call through it, ``Session.request`` ends in it); the XML
    bodies are ``http.RawBody``.
    """

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        response = super().send(request, **kwargs)
        if response.status_code == 500:
            codes = [code for code, _ in _errors_of(response.text)]
            if any(code != PHP_WARNING_CODE for code in codes):
                response.headers["X-Ecom-Original-Status"] = "500"
                response.status_code = 400
        return response


def _errors_of(text: str) -> list[tuple[str, str]]:
    """(code, message) pairs of a JSON or XML webservice error body; [] when it is neither."""
    stripped = text.strip()
    if not stripped:
        return []
    if stripped.startswith("{"):
        try:
            body = json.loads(stripped)
        except ValueError:
            return []
        errors = body.get("errors") if isinstance(body, dict) else None
        if not isinstance(errors, list):
            return []
        return [
            (str(e.get("code")), str(e.get("message") or "")) for e in errors if isinstance(e, dict) and "code" in e
        ]
    if stripped.startswith("<"):
        try:
            root = SafeET.fromstring(stripped)
        except Exception:  # defusedxml raises several types; any failure means "not an error document"
            return []
        return [((e.findtext("code") or "").strip(), (e.findtext("message") or "").strip()) for e in root.iter("error")]
    return []


def ps_error_parser(status: int, body: Any, text: str) -> ErrorInfo:
    """The first real error (PHP warnings, code 3, are counted, not shown) as code + message."""
    errors = _errors_of(text)
    if not errors:
        return ErrorInfo()
    real = [e for e in errors if e[0] != PHP_WARNING_CODE] or errors
    code, message = real[0]
    others = [m for c, m in real[1:]]
    if others:
        message = f"{message.rstrip('.')}; {'; '.join(others)}"
    warnings = len(errors) - len([e for e in errors if e[0] != PHP_WARNING_CODE])
    if warnings and real[0][0] != PHP_WARNING_CODE:
        message = f"{message} (+{warnings} PHP warnings from the shop)"
    return ErrorInfo(code=code, message=message, details={"codes": [c for c, _ in errors]})


@dataclass(frozen=True)
class Page:
    """One page of a list: ``offset`` is where it started; a page shorter than ``count`` was the last."""

    items: list[dict[str, Any]]
    offset: int
    count: int
    number: int


def _list_items(resource: str, response: ApiResponse) -> list[dict[str, Any]]:
    data = response.data
    if data == [] or data == {}:
        return []  # PHP's JSON writer renders an empty result as []
    items = data.get(resource) if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise response.unexpected(
            PLATFORM,
            f"expected {{{resource!r}: [...]}} from a list, got {type(data).__name__}",
            hint="A module or proxy may be altering webservice answers; check /api/ in a browser with the key.",
        )
    return items


def _bracket(values: list[str] | tuple[str, ...]) -> str:
    return "[" + ",".join(values) + "]"


class PrestaShopClient(ShopClient):
    """Read access to one PrestaShop shop's webservice, plus XML document writes for export."""

    platform = PLATFORM

    def __init__(
        self,
        shop: HttpOptions | str,
        api_key: str,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        shop_id: int | None = None,
        **overrides: Any,
    ) -> None:
        """``shop`` is the shop's :class:`HttpOptions` (or its URL, with ``overrides`` such as ``timeout=`` or
        ``max_retries=``: any HttpOptions field). The webservice has no API version to choose."""
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        if not api_key:
            raise ValueError("a PrestaShop webservice key is required")
        options = HttpOptions.of(shop, **overrides)
        base = options.base_url.rstrip("/")
        if base.endswith("/api"):
            base = base[: -len("/api")]
        self.site_url = base
        self.api_root = f"{base}/api"
        self.page_size = page_size
        self.shop_id = shop_id
        self.http = HttpSession(
            self.api_root,
            platform=PLATFORM,
            auth=PrestaShopBasicAuth(api_key),
            options=options,
            error_parser=ps_error_parser,
            secrets=(api_key,),
            session=pin_environment_proxies(_PrestaShopSession(), options.base_url),
        )

    def __repr__(self) -> str:
        return f"PrestaShopClient(site_url={self.site_url!r})"

    @contextmanager
    def without_retries(self) -> Iterator[None]:
        """No automatic retry for the calls this thread makes inside the block (creates: ``options.create_once``);
        other threads' calls keep theirs (:meth:`HttpSession.without_retries`)."""
        with self.http.without_retries():
            yield

    # -- raw calls ----------------------------------------------------------------------------------------------

    def _params(self, params: Mapping[str, Any] | None, *, json_output: bool = True) -> dict[str, Any]:
        query: dict[str, Any] = {}
        if json_output:
            query["output_format"] = "JSON"
        query.update(params or {})
        if self.shop_id is not None:
            query.setdefault("id_shop", self.shop_id)  # multishop: read/write in this shop's context
        return query

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        xml_body: str | None = None,
        json_output: bool = True,
    ) -> ApiResponse:
        """One call relative to ``/api/`` with PrestaShop's error forms mapped to their subclasses."""
        try:
            return self.http.request(
                method,
                path,
                params=self._params(params, json_output=json_output),
                json_body=RawBody(xml_body, XML_CONTENT_TYPE) if xml_body is not None else None,
                expect_json=json_output and method.upper() not in ("DELETE", "HEAD"),
            )
        except ShopApiError as err:
            raise specialize(err) from None

    def get(self, resource: str, resource_id: int | str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """One record as JSON (the inner object). Falsy top-level fields are omitted by PrestaShop here."""
        response = self.request("GET", f"{resource}/{resource_id}", params=params)
        data = response.data
        if isinstance(data, dict) and len(data) == 1:
            inner = next(iter(data.values()))
            if isinstance(inner, dict):
                return inner
        raise response.unexpected(
            PLATFORM, f"expected {{<resource>: {{...}}}} for {resource}/{resource_id}, got {str(data)[:80]!r}"
        )

    def get_listed(
        self, resource: str, resource_id: int | str, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """One id with ``display=[...]``: PrestaShop answers in the LIST shape ``{"products": [{...}]}``."""
        response = self.request("GET", f"{resource}/{resource_id}", params=params)
        return _list_items(resource, response)

    def list(self, resource: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """One list call (no paging of its own)."""
        response = self.request("GET", resource, params=params)
        return _list_items(resource, response)

    # -- lists ----------------------------------------------------------------------------------------------------

    def iter_pages(
        self, resource: str, params: Mapping[str, Any] | None = None, *, page_size: int | None = None
    ) -> Iterator[Page]:
        """Pages of ``limit=offset,count`` until a short (or empty) page: the webservice sends no total."""
        count = page_size or self.page_size
        query = {k: v for k, v in (params or {}).items() if k != "limit"}
        offset = 0
        number = 0
        while True:
            items = self.list(resource, {**query, "limit": f"{offset},{count}"})
            number += 1
            yield Page(items=items, offset=offset, count=count, number=number)
            if len(items) < count:
                return
            offset += count

    def iter_by_id(
        self,
        resource: str,
        *,
        display: str = "full",
        params: Mapping[str, Any] | None = None,
        page_size: int | None = None,
    ) -> Iterator[Page]:
        """Every record by ascending id, keyset-paged with ``filter[id]=>[last id]``.

        Why not offsets: a record deleted mid-scan would shift every later one a slot back and one would be
        skipped; a keyset on the id cannot skip. A page shorter than the count ends the scan.
        """
        count = page_size or self.page_size
        extra = {k: v for k, v in (params or {}).items() if k not in ("limit", "sort", "filter[id]")}
        last = 0
        number = 0
        while True:
            query = {**extra, "display": display, "filter[id]": f">[{last}]", "sort": "[id_ASC]", "limit": count}
            items = self.list(resource, query)
            number += 1
            yield Page(items=items, offset=0, count=count, number=number)
            if len(items) < count:
                return
            ids = [int(i["id"]) for i in items if str(i.get("id", "")).isdigit()]
            if not ids or max(ids) <= last:
                raise ShopResponseError(
                    f"{resource}: a full page did not advance past id {last}; the id filter is not honoured",
                    platform=PLATFORM,
                )
            last = max(ids)

    def iter_all(
        self, resource: str, *, display: str = "full", params: Mapping[str, Any] | None = None
    ) -> Iterator[Page]:
        """Every record by ascending id (see :meth:`iter_by_id`)."""
        return self.iter_by_id(resource, display=display, params=params)

    def list_ids(self, resource: str, *, page_size: int = NARROW_PAGE_SIZE) -> builtins.list[int]:
        """Every id of a resource (``display=[id]``): the cheap listing that detects deletions."""
        ids: list[int] = []
        for page in self.iter_by_id(resource, display="[id]", page_size=page_size):
            for item in page.items:
                value = item.get("id")
                if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
                    ids.append(int(value))
        return ids

    def iter_modified(
        self,
        resource: str,
        since: datetime,
        timezone: str,
        *,
        display: str = "full",
        params: Mapping[str, Any] | None = None,
        page_size: int | None = None,
        now: datetime | None = None,
    ) -> Iterator[Page]:
        """Records with ``date_upd`` at or after ``since`` (aware), oldest first, keyset-paged (module docstring).

        The filter is built in shop-local time with :func:`local_filter_floor`, so an autumn clock change right
        after the cursor cannot hide a record. The upper bound is one day past now (shop-local), which tolerates a
        shop clock running ahead.
        """
        zone = shop_zone(timezone)
        count = page_size or self.page_size
        floor = format_local(local_filter_floor(since, zone))
        upper = format_local(utc_to_local((now or datetime.now(UTC)) + timedelta(days=1), zone))
        extra = {k: v for k, v in (params or {}).items() if k not in ("limit", "sort", "date")}
        offset = 0
        number = 0
        seen_at_boundary: set[tuple[Any, Any]] = set()
        boundary: str | None = None
        while True:
            query = {
                **extra,
                "display": display,
                "filter[date_upd]": f"[{floor},{upper}]",
                "date": "1",
                "sort": "[date_upd_ASC,id_ASC]",
                "limit": f"{offset},{count}",
            }
            items = self.list(resource, query)
            number += 1
            fresh = [i for i in items if (i.get("id"), i.get("date_upd")) not in seen_at_boundary]
            yield Page(items=fresh, offset=offset, count=count, number=number)
            if len(items) < count:
                return
            last = items[-1].get("date_upd")
            if not isinstance(last, str) or not last:
                raise ShopResponseError(
                    f"{resource} item {items[-1].get('id')} has no date_upd; cannot page by modification",
                    platform=PLATFORM,
                )
            if last == boundary:
                seen_at_boundary.update((i.get("id"), i.get("date_upd")) for i in items)
            else:
                boundary = last
                seen_at_boundary = {(i.get("id"), i.get("date_upd")) for i in items if i.get("date_upd") == last}
            if last <= floor:
                offset += count  # a whole page inside one second: the keyset cannot advance, page by offset
            else:
                floor = last
                offset = 0

    def list_by_parent(
        self, resource: str, field: str, parent_ids: builtins.list[int], *, display: str = "full"
    ) -> builtins.list[dict[str, Any]]:
        """Children of many parents in one paged scan: ``filter[field]=[1|2|3]`` (the webservice's OR)."""
        if not parent_ids:
            return []
        found: list[dict[str, Any]] = []
        # Bound the URL length: about 120 ids per query keeps it well under common 8 KB request-line limits.
        for start in range(0, len(parent_ids), ID_BATCH):
            chunk = parent_ids[start : start + ID_BATCH]
            params = {f"filter[{field}]": "[" + "|".join(str(i) for i in chunk) + "]"}
            for page in self.iter_by_id(resource, display=display, params=params, page_size=NARROW_PAGE_SIZE):
                found.extend(page.items)
        return found

    def list_by_ids(
        self, resource: str, ids: builtins.list[int], *, display: str = "full", params: Mapping[str, Any] | None = None
    ) -> builtins.list[dict[str, Any]]:
        """Records by id in batches: ``filter[id]=[1|2|3]``, at most 120 ids a call (one call, not one per id)."""
        found: list[dict[str, Any]] = []
        unique = sorted(set(ids))
        for start in range(0, len(unique), ID_BATCH):
            chunk = unique[start : start + ID_BATCH]
            query = {**(params or {}), "display": display, "filter[id]": "[" + "|".join(str(i) for i in chunk) + "]"}
            found.extend(self.list(resource, query))
        return found

    # -- shop facts ---------------------------------------------------------------------------------------------

    def resource_permissions(self) -> dict[str, dict[str, bool]]:
        """resource -> {"get": bool, "put": ...} from the XML index (the JSON index is broken: PrestaShop#34794)."""
        response = self.request("GET", "", json_output=False)
        try:
            root = SafeET.fromstring(response.text.encode("utf-8"))
        except Exception as exc:  # any XML error (defusedxml wraps several types)
            raise ShopResponseError(
                f"the resource index is not XML: {exc}", platform=PLATFORM, method="GET", url=response.url
            ) from None
        api = root.find("api")
        if api is None:
            raise ShopResponseError("the resource index has no <api> element", platform=PLATFORM, url=response.url)
        return {
            child.tag: {op: child.get(op) == "true" for op in ("get", "put", "post", "patch", "delete", "head")}
            for child in api
        }

    def configuration(self, name: str) -> str | None:
        """A ``configurations`` value (PS_TIMEZONE, PS_LANG_DEFAULT...); None when absent or not readable."""
        try:
            items = self.list("configurations", {"display": "[name,value]", "filter[name]": f"[{name}]"})
        except PrestaShopPermissionError:
            return None
        for item in items:
            if item.get("name") == name:
                value = item.get("value")
                return str(value) if value not in (None, "") else None
        return None

    def check_credentials(self) -> dict[str, Any]:
        """One cheap authenticated call (one product id); raises a PrestaShop auth error with what to do.

        A list never answers 404 on a working webservice (an empty one is ``[]``): a 404 here means the web server
        did not route ``/api/...`` to the webservice, i.e. the rewrite rule is missing, not a deleted record.
        """
        try:
            response = self.request("GET", "products", params={"display": "[id]", "limit": "0,1"})
        except PrestaShopNotFoundError as err:
            raise PrestaShopApiRewriteMissingError(
                f"{self.api_root}/products answered 404: the /api rewrite is missing",
                platform=PLATFORM,
                method="GET",
                url=err.url,
                status=404,
            ) from None
        _list_items("products", response)
        version = response.headers.get("PSWS-Version")
        return {"platform": PLATFORM, "site_url": self.site_url, "api_root": self.api_root, "psws_version": version}

    # -- XML documents (writes) ---------------------------------------------------------------------------------

    def xml_by_ids(self, resource: str, ids: builtins.list[int]) -> dict[str, ElementTree]:
        """id -> the record's XML document as :meth:`get_xml` gives it, read ``ID_BATCH`` a call
        (``display=full&filter[id]=[1|2|...]``) instead of one GET per id; an id the shop lacks is absent.

        Why: a GET-modify-PUT of many records (1,000 combination prices) paid one GET per record; the list's
        records are the same documents (every field and association), each wrapped back in ``<prestashop>``."""
        out: dict[str, ElementTree] = {}
        unique = sorted(set(ids))
        for start in range(0, len(unique), ID_BATCH):
            chunk = unique[start : start + ID_BATCH]
            params = {"display": "full", "filter[id]": "[" + "|".join(str(i) for i in chunk) + "]"}
            root = _root(_parse_xml(self.request("GET", resource, params=params, json_output=False)))
            for container in root:
                for record in list(container):
                    node = record.find("id")
                    rid = (node.text or "").strip() if node is not None else ""
                    if rid:
                        document = Element(root.tag, dict(root.attrib))
                        document.append(record)
                        out[rid] = ElementTree(document)
        return out

    def get_xml(self, resource: str, resource_id: int | str) -> ElementTree:
        """The record as the XML document the webservice accepts back (``<prestashop><product>...``)."""
        response = self.request("GET", f"{resource}/{resource_id}", json_output=False)
        return _parse_xml(response)

    def put_xml(self, resource: str, resource_id: int | str, tree: ElementTree | Element) -> ElementTree:
        """PUT a whole document (PUT replaces every field: send what GET returned, changed). Returns the result.

        Read-only fields of ``resource`` are removed first: PrestaShop refuses or mis-stores them on PUT.
        """
        return _parse_xml(self._put_xml(resource, resource_id, tree))

    def put_xml_checked(self, resource: str, resource_id: int | str, tree: ElementTree | Element) -> None:
        """:meth:`put_xml` for a caller that does not read the answer: the answer is checked to be an XML document,
        as :meth:`put_xml` checks it, without building its tree.

        Why: the push's 1,000 combination PUTs each parsed their whole answer (defusedxml, 74 us) only to drop it;
        expat alone checks it in 7 us. An answer that check does not accept (not well-formed, or with a DOCTYPE or
        entity declarations, which defusedxml may refuse) is parsed as :meth:`put_xml` parses it, with its error."""
        response = self._put_xml(resource, resource_id, tree)
        if not _well_formed(response.text):
            _parse_xml(response)

    def _put_xml(self, resource: str, resource_id: int | str, tree: ElementTree | Element) -> ApiResponse:
        root = _root(tree)
        for record in root:
            for name in READ_ONLY_FIELDS.get(resource, ()):
                node = record.find(name)
                if node is not None:
                    record.remove(node)
        body = tostring(root, encoding="unicode")
        return self.request("PUT", f"{resource}/{resource_id}", xml_body=body, json_output=False)

    def post_xml(self, resource: str, tree: ElementTree | Element) -> ElementTree:
        """POST a new record (201 with the created record as XML)."""
        root = _root(tree)
        response = self.request("POST", resource, xml_body=tostring(root, encoding="unicode"), json_output=False)
        return _parse_xml(response)

    def post_xml_id(self, resource: str, tree: ElementTree | Element) -> str:
        """POST a new record and return only its id (the answer's first ``<id>``, the record's own).

        Why not :meth:`post_xml`: a create of 1,000 products with 3,000 combinations parsed 4,000 whole answers
        (defusedxml) to read one number each. The id is matched in the text; an answer it does not match is
        parsed whole and its record's ``<id>`` read, so an odd answer is still read, or refused, as before."""
        root = _root(tree)
        response = self.request("POST", resource, xml_body=tostring(root, encoding="unicode"), json_output=False)
        match = _FIRST_ID.search(response.text)
        if match:
            return match.group(1)
        record = next(iter(_root(_parse_xml(response))), None)
        node = record.find("id") if record is not None else None
        return (node.text or "").strip() if node is not None else ""

    def delete(self, resource: str, resource_id: int | str) -> None:
        """DELETE (200 with an empty body)."""
        self.request("DELETE", f"{resource}/{resource_id}", json_output=False)


# The record's own id in a create's answer: ``<prestashop ...><combination><id><![CDATA[12]]></id>`` (recorded),
# the first <id> of the document (associations come after the record's fields).
_FIRST_ID = re.compile(
    r"^\s*(?:<\?xml[^>]*\?>\s*)?<prestashop\b[^>]*>\s*<\w+>\s*<id>\s*<!\[CDATA\[\s*(\d+)\s*\]\]>\s*</id>"
)


def _root(tree: ElementTree | Element) -> Element:
    """The record-holding root element; an ElementTree built without one is a caller's bug, said plainly."""
    root = tree.getroot() if isinstance(tree, ElementTree) else tree
    if root is None:
        raise ValueError("PrestaShop XML document has no root element")
    return root


def _parse_xml(response: ApiResponse) -> ElementTree:
    try:
        return ElementTree(SafeET.fromstring(response.text.encode("utf-8")))
    except Exception as exc:  # ParseError or a defusedxml refusal (entities): both mean "not a usable document"
        raise response.unexpected(PLATFORM, f"expected an XML document, got {type(exc).__name__}: {exc}") from None


def _refuse(*_args: Any) -> Any:
    raise ValueError("not checked here")


def _well_formed(text: str) -> bool:
    """``text`` (as UTF-8, as :func:`_parse_xml` reads it) is a well-formed XML document with no DOCTYPE, entity
    declaration or skipped entity: one that :func:`_parse_xml` would parse. False says nothing either way."""
    parser = pyexpat.ParserCreate()
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.UnparsedEntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse
    parser.SkippedEntityHandler = _refuse
    try:
        parser.Parse(text.encode("utf-8"), True)
    except Exception:  # ExpatError, or a refusal above
        return False
    return True


def set_xml_field(tree: ElementTree | Element, field: str, value: str, *, language_id: int | None = None) -> None:
    """Set ``<field>`` of the document's record (or its ``<language id=...>`` child for multilingual fields)."""
    root = _root(tree)
    record = next(iter(root))
    node = record.find(field)
    if node is None:
        raise KeyError(f"<{record.tag}> has no <{field}>")
    languages = node.findall("language")
    if languages:
        targets = [n for n in languages if language_id is None or n.get("id") == str(language_id)]
        for target in targets:
            target.text = value
        return
    node.text = value


__all__ = [
    "DEFAULT_PAGE_SIZE",
    "ID_BATCH",
    "NARROW_PAGE_SIZE",
    "OPTIONAL_RESOURCES",
    "PLATFORM",
    "READ_ONLY_FIELDS",
    "READ_RESOURCES",
    "Page",
    "PrestaShopBasicAuth",
    "PrestaShopClient",
    "ShopAuthError",
    "ps_error_parser",
    "set_xml_field",
]
