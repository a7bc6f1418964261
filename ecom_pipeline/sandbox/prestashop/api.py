"""The PrestaShop 8.2.1 webservice of one emulated shop (an ASGI-like callable mounted under ``/<shop>``).

Order of checks follows the recordings: credentials (none: nginx-ish ``401 Unauthorized`` text; unknown key:
codes 20+21 with ``PSWS-Version: 0``), then the resource (unknown: 400 code 27 with a "Did you mean"; not allowed
for the key: 401 code 26), then parameters (bad ``display``: code 35, bad ``sort``: code 37, both as HTTP 500 because
PHP 8 warnings are appended), then the id (404 with an empty body and no Content-Type).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from defusedxml import ElementTree as SafeET

from ecom_pipeline.sandbox.faults import FaultSwitches
from ecom_pipeline.sandbox.prestashop.render import (
    Renderer,
    json_errors,
    ps_json,
    xml_document,
    xml_errors,
)
from ecom_pipeline.sandbox.prestashop.resources import (
    ALL_RESOURCES,
    KEY_RESOURCES,
    RESOURCES,
    Resource,
)
from ecom_pipeline.sandbox.prestashop.rows import Row, StoreError
from ecom_pipeline.sandbox.prestashop.schemas import SCHEMAS
from ecom_pipeline.sandbox.prestashop.store import PrestaStore
from ecom_pipeline.sandbox.shop import Receive, Scope, Send, read_body

API_PREFIX = "/api"
REALM = (
    'Basic realm="Welcome to PrestaShop Webservice, please enter the authentication key as the login. '
    'No password required."'
)
PHP_WARNINGS: list[tuple[int, str]] = [
    (
        3,
        "[PHP Warning #2] Trying to access array offset on value of type bool "
        f"(/var/www/prestashop/classes/webservice/WebserviceRequest.php, line {line})",
    )
    for line in (1333, 1334, 1335, 1336)
]
SORT_MESSAGE = (
    'The "sort" value has to be formed as this example: "field_ASC" or \'[field_1_DESC,field_2_ASC,field_3_ASC,...]\' '
    '("field" has to be an available field)'
)
FILTER_RE = re.compile(r"^filter\[(\w+)\]$")
PRICE_RE = re.compile(r"^price\[(\w+)\]\[(use_tax|use_reduction|product_attribute|only_reduction|quantity)\]$")
# Resources the webservice adds ``price[NAME][...]`` virtual fields to (WebserviceRequest::fetch:
# ``setVirtualField(.., 'specificPriceForCombination', 'combinations', ..)`` and ``'specificPriceForProduct',
# 'products'``).
PRICED_RESOURCES = ("products", "combinations")
NUMBER_RE = re.compile(r"^-?\d+(\.\d+)?$")
# ObjectModel field validators of the barcode fields (Validate::isEan13, isUpc, isIsbn), per written resource.
BARCODE_RULES = {
    "ean13": re.compile(r"[0-9]{0,13}"),
    "upc": re.compile(r"[0-9]{0,12}"),
    "isbn": re.compile(r"[0-9-]{0,32}"),
}
BARCODE_CLASSES = {"products": "Product", "combinations": "Combination"}
# The other validators of the fields a push writes (Product::$definition, Combination::$definition): name
# Validate::isCatalogName (none of ``<>;=#{}``), link_rewrite Validate::isLinkRewrite (ASCII letters, digits, ``_``
# and ``-``: PS_ALLOW_ACCENTED_CHARS_URL off, the default install), reference Validate::isReference (none of
# ``<>;={}``). WebserviceRequest::saveEntityFromXml checks the multilingual ones first (validateFieldsLang: error 84),
# then the others (validateFields: error 85), each with ObjectModel::validateField's "Property Class->field is not
# valid". An empty link_rewrite is not refused here: a POST fills it from the name (modifierWsLinkRewrite).
TEXT_RULES: dict[str, dict[str, tuple[re.Pattern[str], int]]] = {
    "products": {
        "name": (re.compile(r"[^<>;=#{}]*"), 84),
        "link_rewrite": (re.compile(r"[_a-zA-Z0-9\-]*"), 84),
        "reference": (re.compile(r"[^<>;={}]*"), 85),
    },
    "combinations": {"reference": (re.compile(r"[^<>;={}]*"), 85)},
}


def refused_text(resource: str, values: Row) -> StoreError | None:
    """The error the webservice answers a product or combination whose name, link_rewrite or reference its validator
    refuses (``TEXT_RULES``), multilingual fields first; None when every one passes."""
    rules = TEXT_RULES.get(resource, {})
    for name, (rule, code) in sorted(rules.items(), key=lambda item: item[1][1]):
        raw = values.get(name)
        texts = raw.values() if isinstance(raw, dict) else [raw]
        if any(not rule.fullmatch(str(t or "")) for t in texts):
            return StoreError(
                400, code, f'Validation error: "Property {BARCODE_CLASSES[resource]}->{name} is not valid"'
            )
    return None


@dataclass
class Reply:
    """A response before encoding. ``body`` None means an empty body without Content-Type."""

    status: int
    body: bytes | None = None
    content_type: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    ps_headers: bool = True
    version: str = "8.2.1"
    cookie: bool = False


@dataclass
class Request:
    """What a handler needs from one HTTP request."""

    method: str
    resource: str
    rid: str | None
    query: dict[str, str]
    json: bool
    api: str
    body: bytes


def levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _bracketed(value: str) -> str | None:
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):
        return value[1:-1]
    return None


class PrestaShopApi:
    """Answers ``/api/...`` requests for one store; returns the HTTP status (for request stats)."""

    def __init__(
        self,
        store: PrestaStore,
        api_key: str,
        faults: FaultSwitches,
        empty_json_list: str = "array",
        *,
        key_resources: dict[str, str] | None = None,
        api_rewrite: bool = True,
    ):
        self.store = store
        self.api_key = api_key
        self.faults = faults
        self.empty_json_list = empty_json_list
        self.key_resources = key_resources if key_resources is not None else KEY_RESOURCES
        # False: the web server has no rule sending /api/... to the webservice (friendly URLs off, .htaccess
        # missing): every /api/ URL is the shop's HTML 404 page.
        self.api_rewrite = api_rewrite
        self.cookie_name = "PrestaShop-" + hashlib.md5(store.name.encode()).hexdigest()
        self._late: list[tuple[str, float]] = []  # (``METHOD /path`` part, seconds): see :meth:`commit_late`
        self._late_lock = threading.Lock()
        self.late_in_flight = 0  # late writes taken and not applied yet (a test waits for 0 before it counts)
        self._after: list[tuple[str, dict[str, Any]]] = []  # ``after_write``: (METHOD /path, fault switches)

    def commit_late(self, path: str, delay_s: float, count: int = 1) -> None:
        """Fault (in-process): the next ``count`` write requests whose ``METHOD /path`` contains ``path`` (e.g.
        ``POST /api/products``) are held ``delay_s`` seconds, *then applied* and answered (to a client that may
        have given up by then). It plays PHP going on after the client's timeout: a real PrestaShop saves the
        record even though nobody reads the answer, and a look-up made right after the timeout finds nothing.
        ``late_in_flight`` counts those taken and not applied yet."""
        with self._late_lock:
            self._late.extend([(path, float(delay_s))] * max(0, count))

    def after_write(self, path: str, changes: dict[str, Any]) -> None:
        """Fault (in-process): once the next write request whose ``METHOD /path`` contains ``path`` has been applied
        (and answered with success), set the fault switches ``changes`` (``FaultSwitches.update``) before its answer
        goes out. A test makes the calls that follow one given write fail (the look-up a client makes right after
        its POST answered, say) and not the same calls before it."""
        with self._late_lock:
            self._after.append((path, dict(changes)))

    def _take_after(self, method: str, subpath: str, status: int) -> None:
        if method not in ("POST", "PUT", "PATCH", "DELETE") or status >= 400:
            return
        with self._late_lock:
            armed = next((i for i, (path, _) in enumerate(self._after) if path in f"{method} {subpath}"), None)
            if armed is None:
                return
            changes = self._after.pop(armed)[1]
        self.faults.update(changes)

    def _take_late(self, method: str, subpath: str) -> float:
        """Consume one late commit matching this request; its delay (0.0: none)."""
        if method not in ("POST", "PUT", "PATCH", "DELETE"):
            return 0.0
        with self._late_lock:
            for i, (path, delay) in enumerate(self._late):
                if path in f"{method} {subpath}":
                    del self._late[i]
                    self.late_in_flight += 1
                    return delay
        return 0.0

    # ------------------------------------------------------------------ ASGI entry

    async def __call__(self, scope: Scope, receive: Receive, send: Send, *, site: str, subpath: str) -> int:
        body = await read_body(receive)
        late = self._take_late(scope["method"].upper(), subpath)
        if late:
            await asyncio.sleep(late)  # the request "runs" this long; the write lands after it
        try:
            reply = self.dispatch(scope, body, site, subpath)
            self._take_after(scope["method"].upper(), subpath, reply.status)
        finally:
            if late:
                with self._late_lock:
                    self.late_in_flight -= 1
        if late:
            with contextlib.suppress(Exception):  # the client timed out and left
                await self.send_reply(send, reply, head=False)
            return reply.status
        return await self.send_reply(send, reply, head=scope["method"].upper() == "HEAD")

    async def rate_limited(self, send: Send, wait: int) -> None:
        """PrestaShop has no rate limiting of its own; hosts put one in front: a bare 429 with Retry-After."""
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [(b"content-type", b"text/html; charset=utf-8"), (b"retry-after", str(wait).encode())],
            }
        )
        await send({"type": "http.response.body", "body": b"429 Too Many Requests"})

    async def send_reply(self, send: Send, reply: Reply, head: bool = False) -> int:
        headers: list[tuple[str, str]] = []
        if reply.content_type:
            headers.append(("Content-Type", reply.content_type))
        headers += reply.headers
        if reply.ps_headers:
            headers += [
                ("Access-Time", str(self.store.now())),
                ("X-Powered-By", "PrestaShop Webservice"),
                ("PSWS-Version", reply.version),
                ("Execution-Time", "0" if reply.version == "0" else "0.005"),
            ]
            if reply.body and 200 <= reply.status < 300:
                headers.append(("Content-Sha1", hashlib.sha1(reply.body).hexdigest()))
        if reply.cookie:
            headers.append(
                ("Set-Cookie", f"{self.cookie_name}=sandbox; Max-Age=1728000; path=/; HttpOnly; SameSite=Lax")
            )
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
            }
        )
        await send({"type": "http.response.body", "body": b"" if head else (reply.body or b"")})
        return reply.status

    # ------------------------------------------------------------------ dispatch

    def dispatch(self, scope: Scope, body: bytes, site: str, subpath: str) -> Reply:
        method = scope["method"].upper()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        fmt = query.get("output_format") or headers.get("output-format") or "XML"
        as_json = fmt.upper() == "JSON"
        if subpath != API_PREFIX and not subpath.startswith(API_PREFIX + "/"):
            return Reply(404, b"", "text/html; charset=utf-8", ps_headers=False)
        if not self.api_rewrite:
            page = b"<!doctype html><html><head><title>404 Not Found</title></head><body>Page not found</body></html>"
            return Reply(404, page, "text/html; charset=utf-8", ps_headers=False)
        key = self._key(headers.get("authorization"), query)
        if not key:
            return Reply(
                401,
                b"401 Unauthorized",
                "text/html; charset=utf-8",
                [("WWW-Authenticate", REALM)],
                ps_headers=False,
                cookie=True,
            )
        if key != self.api_key:
            errors = [(20, "Authentification key is not active"), (21, "No permission for this authentication key")]
            reply = self._errors(401, errors, as_json)
            reply.headers.insert(0, ("WWW-Authenticate", REALM))
            reply.version = "0"
            return reply
        parts = [p for p in subpath[len(API_PREFIX) :].split("/") if p]
        if not parts:
            if as_json:  # PrestaShop#34794: TypeError in WebserviceOutputJSON under PHP 8
                return Reply(500, b"", "text/html; charset=utf-8", ps_headers=False, cookie=True)
            return self._xml(200, self._index_xml(site + API_PREFIX))
        resource = parts[0]
        rid = parts[1] if len(parts) > 1 else None
        if resource not in ALL_RESOURCES:
            best, shortest = "", -1
            for candidate in ALL_RESOURCES:  # PHP loop with "<=": among ties the last resource wins (recorded)
                distance = levenshtein(resource, candidate)
                if shortest < 0 or distance <= shortest:
                    best, shortest = candidate, distance
            full = ", ".join(f'"{r}"' for r in ALL_RESOURCES)
            message = f'Resource of type "{resource}" does not exists. Did you mean: "{best}"? The full list is: {full}'
            return self._errors(400, [(27, message)], as_json)
        if resource not in self.key_resources:
            message = f'Resource of type "{resource}" is not allowed with this authentication key'
            return self._errors(401, [(26, message)], as_json)
        req = Request(method, resource, rid, query, as_json, site + API_PREFIX, body)
        res = RESOURCES.get(resource)
        try:
            if res is None:  # allowed for the key but not emulated: behaves as an empty table
                if rid is not None:
                    return Reply(404)
                return self._list_reply(req, Resource(resource, resource.rstrip("s"), ("id",)), [], None)
            if method in ("GET", "HEAD"):
                return self.read(req, res)
            if method == "DELETE":
                return self.delete(req, res)
            if method in ("POST", "PUT", "PATCH"):
                return self.write(req, res)
            return self._errors(405, [(2, f"Method {method} is not valid")], as_json)
        except StoreError as exc:
            if not exc.errors:
                return Reply(exc.status)
            return self._errors(exc.status, exc.errors, as_json)

    @staticmethod
    def _key(authorization: str | None, query: dict[str, str]) -> str:
        if authorization and authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:].strip()).decode("utf-8", "replace")
            except ValueError:
                return ""
            return decoded.partition(":")[0]
        return query.get("ws_key", "")

    # ------------------------------------------------------------------ replies

    def _errors(self, status: int, errors: list[tuple[int, str]], as_json: bool) -> Reply:
        if as_json:
            return Reply(status, json_errors(errors), "application/json", cookie=True)
        return Reply(status, xml_errors(errors), "text/xml;charset=utf-8", cookie=True)

    @staticmethod
    def _xml(status: int, inner: str) -> Reply:
        return Reply(status, xml_document(inner), "text/xml;charset=utf-8")

    @staticmethod
    def _json(status: int, value: Any) -> Reply:
        return Reply(status, ps_json(value), "application/json")

    def _index_xml(self, api: str) -> str:
        perms = 'get="true" put="true" post="true" patch="true" delete="true" head="true"'
        out = ['<api shopName="Sandbox PS">\n']
        for name, description in self.key_resources.items():
            out.append(f'<{name} xlink:href="{api}/{name}" {perms}>\n')
            out.append(f'<description xlink:href="{api}/{name}" {perms}>\n{description}</description>\n')
            if name != "images":
                out.append(f'<schema xlink:href="{api}/{name}?schema=blank" type="blank"/>\n')
                out.append(f'<schema xlink:href="{api}/{name}?schema=synopsis" type="synopsis"/>\n')
            out.append(f"</{name}>\n")
        out.append("</api>\n")
        return "".join(out)

    def _renderer(self, req: Request | None = None) -> Renderer:
        language = None
        prices: dict[str, dict[str, str]] = {}
        if req is not None:
            raw = req.query.get("language", "")
            language = int(raw) if raw.isdigit() and int(raw) in self.store.language_ids else None
            if req.resource in PRICED_RESOURCES:
                prices = _price_params(req)
        return Renderer(self.store, set(self.faults.malformed_product_ids), language=language, prices=prices)

    # ------------------------------------------------------------------ reads

    def read(self, req: Request, res: Resource) -> Reply:
        schema = req.query.get("schema")
        if schema in ("blank", "synopsis"):
            return self._schema(req, res, schema)
        fields = self._display(req, res)
        if req.rid is not None:
            if not req.rid.isdigit():
                return Reply(404)
            with self.store.lock:
                row = self.store.tables[res.plural].get(int(req.rid))
                if row is None:
                    return Reply(404)
                if fields is not None:  # display on a single id answers in list shape (recorded)
                    return self._list_reply(req, res, [row], fields)
                renderer = self._renderer(req)
                if req.json:
                    return self._json(200, {res.singular: renderer.json_object(res, row, None, single=True)})
                return self._xml(200, renderer.xml_object(res, row, None, req.api))
        with self.store.lock:
            rows = list(self.store.tables[res.plural].values())
            rows = self._filter(req, res, rows)
            rows = self._sort(req, res, rows)
            rows = self._limit(req, rows)
            return self._list_reply(req, res, rows, fields)

    def _list_reply(self, req: Request, res: Resource, rows: list[Row], fields: tuple[str, ...] | None) -> Reply:
        display = req.query.get("display")
        renderer = self._renderer(req)
        if req.json:
            if not rows and self.empty_json_list == "array":
                return self._json(200, [])
            if display is None:
                items = [{"id": int(r["id"])} for r in rows]
            else:
                items = [renderer.json_object(res, r, fields, single=False) for r in rows]
            return self._json(200, {res.plural: items})
        if display is None:
            inner = "".join(renderer.xml_id_ref(res, r, req.api) for r in rows)
        else:
            inner = "".join(renderer.xml_object(res, r, fields, req.api) for r in rows)
        return self._xml(200, f"<{res.plural}>\n{inner}</{res.plural}>\n")

    def _display(self, req: Request, res: Resource) -> tuple[str, ...] | None:
        """``display=full`` -> None (all fields + associations); ``[a,b]`` -> those fields in definition order."""
        display = req.query.get("display")
        if display is None or display == "full":
            return None
        inner = _bracketed(display)
        names = [n.strip() for n in (inner if inner is not None else display).split(",") if n.strip()]
        # Any ``price[NAME]`` parameter makes NAME displayable on every resource (``setFieldsToDisplay`` checks
        # ``urlFragments['price'][NAME]``), but only products and combinations print it (their virtual fields).
        computed = set(_price_params(req))
        for name in names:
            if name not in res.fields and name not in computed:
                message = (
                    f'Unable to display this field "{name}". However, these are available: {", ".join(res.fields)}'
                )
                raise StoreError(500, 35, message, PHP_WARNINGS)
        printed = computed if res.plural in PRICED_RESOURCES else set()
        return tuple(f for f in res.fields if f in names) + tuple(
            n for n in names if n in printed and n not in res.fields
        )

    def _schema(self, req: Request, res: Resource, kind: str) -> Reply:
        recorded = SCHEMAS.get((res.plural, kind))
        if req.json:
            # Every scalar is empty and dropped by the JSON writer; only the associations skeleton survives.
            skeleton = {a.name: [dict.fromkeys(a.fields)] for a in res.associations}
            return self._json(200, {res.singular: {"associations": skeleton}} if skeleton else {res.singular: []})
        if recorded is not None:
            return Reply(200, recorded.replace("{API}", req.api).encode(), "text/xml;charset=utf-8")
        lines = [f"<{res.singular}>\n"]
        for name in res.fields:
            if kind == "synopsis" and name == "id":
                continue
            if name in res.multilang:
                lines.append(f'\t<{name}><language id="1"><![CDATA[]]></language></{name}>\n')
            else:
                lines.append(f"\t<{name}><![CDATA[]]></{name}>\n")
        lines.append(f"</{res.singular}>\n")
        return self._xml(200, "".join(lines))

    def _filter(self, req: Request, res: Resource, rows: list[Row]) -> list[Row]:
        renderer = self._renderer(req)
        for key, raw in req.query.items():
            m = FILTER_RE.match(key)
            if not m:
                continue
            name = m.group(1)
            if name not in res.fields:
                raise StoreError(400, 32, f'The field "{name}" is not available for filtering. Use one of: '
                                 f"{', '.join(res.fields)}")  # fmt: skip
            if name in res.dates and req.query.get("date") != "1":
                raise StoreError(
                    400, 33, f'The field "{name}" is a date: filtering or sorting by dates requires "date=1"'
                )
            test = self._predicate(raw)
            rows = [r for r in rows if test(str(renderer.scalar(res, r, name) if name != "id" else r["id"]))]
        return rows

    @staticmethod
    def _predicate(raw: str) -> Callable[[str], bool]:
        """PrestaShop filter syntax: ``[v]``, ``[a|b]``, ``[a,b]`` (interval), ``>[v]``, ``<[v]``, ``[v]%``..."""
        value = raw.strip()
        op = ""
        if value[:1] in (">", "<") and value[1:2] == "[":
            op, value = value[0], value[1:]
        prefix_like = value.startswith("%[")
        suffix_like = value.endswith("]%")
        if prefix_like:
            value = value[1:]
        if suffix_like:
            value = value[:-1]
        inner = _bracketed(value)
        if inner is None:  # no brackets: SQL LIKE with the raw value
            pattern = re.compile("^" + ".*".join(re.escape(p) for p in value.split("%")) + "$", re.IGNORECASE)
            return lambda v: bool(pattern.match(v))
        if prefix_like or suffix_like:
            needle = inner.lower()
            if prefix_like and suffix_like:
                return lambda v: needle in v.lower()
            if prefix_like:
                return lambda v: v.lower().endswith(needle)
            return lambda v: v.lower().startswith(needle)

        def cmp(v: str, other: str) -> int:
            if NUMBER_RE.match(v) and NUMBER_RE.match(other):
                try:
                    a, b = Decimal(v), Decimal(other)
                    return (a > b) - (a < b)
                except InvalidOperation:
                    pass
            a2, b2 = v.lower(), other.lower()
            return (a2 > b2) - (a2 < b2)

        if op == ">":
            return lambda v: cmp(v, inner) > 0
        if op == "<":
            return lambda v: cmp(v, inner) < 0
        if "," in inner and "|" not in inner:
            low, _, high = inner.partition(",")
            return lambda v: cmp(v, low) >= 0 and cmp(v, high) <= 0
        # ``[a|b|...]``: one set look-up per row (SQL ``IN`` in the real shop), not one comparison per value (a list
        # read of 100 ids among 3,000 rows made 300,000 Decimal comparisons). Same equality as ``cmp``: numbers by
        # value when both sides are numbers, else case-insensitive text.
        options = inner.split("|")
        numbers: set[Decimal] = set()
        for o in options:
            if NUMBER_RE.match(o):
                with contextlib.suppress(InvalidOperation):
                    numbers.add(Decimal(o))
        texts = {o.lower() for o in options if not NUMBER_RE.match(o)}
        all_texts = {o.lower() for o in options}

        def member(v: str) -> bool:
            if NUMBER_RE.match(v):
                try:
                    return Decimal(v) in numbers or v.lower() in texts
                except InvalidOperation:
                    pass
            return v.lower() in all_texts

        return member

    def _sort(self, req: Request, res: Resource, rows: list[Row]) -> list[Row]:
        raw = req.query.get("sort")
        if raw is None:
            if res.plural in ("order_states", "categories"):
                # Recorded: order states in table order (2..13, then 1, 10); categories level by level
                # (1, 2, 3, 6, 9, 4, 5, 7, 8), which is the order they are seeded in. Not by id.
                return rows
            return sorted(rows, key=lambda r: int(r["id"]))
        inner = _bracketed(raw)
        specs = [s.strip() for s in (inner if inner is not None else raw).split(",") if s.strip()]
        keys: list[tuple[str, bool]] = []
        for spec in specs:
            name, _, direction = spec.rpartition("_")
            if direction not in ("ASC", "DESC") or name not in res.fields:
                raise StoreError(500, 37, SORT_MESSAGE, PHP_WARNINGS)
            if name in res.dates and req.query.get("date") != "1":
                raise StoreError(
                    400, 33, f'The field "{name}" is a date: filtering or sorting by dates requires "date=1"'
                )
            keys.append((name, direction == "DESC"))
        renderer = self._renderer(req)
        out = sorted(rows, key=lambda r: int(r["id"]))  # ties keep id order (the real shop's tie order varies)
        for name, desc in reversed(keys):

            def key(r: Row, name: str = name) -> Any:
                v = r["id"] if name == "id" else renderer.scalar(res, r, name)
                s = "" if v is None else str(v)
                return (0, Decimal(s), "") if NUMBER_RE.match(s) else (1, Decimal(0), s.lower())

            out.sort(key=key, reverse=desc)
        return out

    @staticmethod
    def _limit(req: Request, rows: list[Row]) -> list[Row]:
        raw = req.query.get("limit")
        if raw is None:
            return rows
        parts = raw.split(",")
        try:
            nums = [int(p) for p in parts]
        except ValueError:
            nums = []
        if len(nums) not in (1, 2) or any(n < 0 for n in nums):
            message = 'The "limit" value has to be formed as this example: "5,25" or "10"'
            raise StoreError(500, 43, message, PHP_WARNINGS)
        offset, count = (0, nums[0]) if len(nums) == 1 else (nums[0], nums[1])
        return rows[offset : offset + count]

    # ------------------------------------------------------------------ writes

    def delete(self, req: Request, res: Resource) -> Reply:
        if req.rid is None or not req.rid.isdigit() or not res.writable:
            return Reply(404) if req.rid is not None else self._errors(400, [(66, "You have to set an id")], req.json)
        self.store.delete(res.plural, int(req.rid))
        return Reply(200)

    def write(self, req: Request, res: Resource) -> Reply:
        if not res.writable:
            return self._errors(405, [(2, f"Method {req.method} is not valid")], req.json)
        values, assoc, sent = self._parse_xml(req, res)
        for name in sorted(sent & res.read_only):
            raise StoreError(400, 93, f'parameter "{name}" not writable. Please remove this attribute of this XML')
        if res.plural in BARCODE_CLASSES:
            refused = refused_text(res.plural, values)  # name, link_rewrite (84), then reference: before barcodes
            if refused is not None:
                raise refused
            for name, rule in BARCODE_RULES.items():
                if name in values and not rule.fullmatch(str(values[name] or "")):
                    # WebserviceRequest::saveEntityFromXml: ObjectModel::validateFields failed (error 85).
                    message = f'Validation error: "Property {BARCODE_CLASSES[res.plural]}->{name} is not valid"'
                    raise StoreError(400, 85, message)
        if req.method == "POST":
            if req.rid is not None:
                return self._errors(400, [(66, "id is forbidden when adding a new resource")], req.json)
            values.pop("id", None)
            row = self.store.create(res.plural, values, assoc)
            status = 201
        else:
            if req.rid is None or not req.rid.isdigit():
                return self._errors(400, [(90, "Id is required when modifying a resource")], req.json)
            if "id" not in values:
                return self._errors(400, [(90, "Id is required when modifying a resource")], req.json)
            values.pop("id", None)
            if int(req.rid) not in self.store.tables[res.plural]:
                return Reply(404)
            row = self.store.replace(res.plural, int(req.rid), values, assoc, full=req.method == "PUT")
            status = 200
        renderer = self._renderer(req)
        echo = sent if req.method in ("POST", "PUT") else None
        if req.method == "POST" and res.plural == "specific_prices":
            # Recorded: the 201 echoes the values as sent (price "-1"), a later GET shows them as stored.
            row = {**row, **{k: v for k, v in values.items() if k in sent}}
        if req.json:
            return self._json(status, {res.singular: renderer.json_object(res, row, None, single=True)})
        return self._xml(status, renderer.xml_object(res, row, None, req.api, echo=echo))

    def _parse_xml(self, req: Request, res: Resource) -> tuple[Row, dict[str, list[dict[str, str]]], set[str]]:
        """Parse a write body (XML only, parsed with defusedxml); JSON or garbage gives PrestaShop's error 127."""
        text = req.body.decode("utf-8", "replace")
        try:
            root = SafeET.fromstring(req.body)
        except Exception as exc:  # any parse failure (incl. refused entities) is the same error
            message = f"XML error : String could not be parsed as XML\nXML length : {len(text)}\nOriginal XML : {text}"
            raise StoreError(500, 127, message) from exc
        node = root.find(res.singular) if root.tag == "prestashop" else None
        if node is None:
            raise StoreError(400, 127, f"XML error : the <{res.singular}> node is missing")
        values: Row = {}
        sent: set[str] = set()
        assoc: dict[str, list[dict[str, str]]] = {}
        for child in node:
            name = child.tag
            if name == "associations":
                for group in child:
                    assoc[group.tag] = [{sub.tag: (sub.text or "").strip() for sub in item} for item in group]
                continue
            if name not in res.fields:
                continue
            if name in res.multilang:
                sent.add(name)
                langs = child.findall("language")
                if not langs:
                    values[name] = (child.text or "").strip()
                elif self.store.multilingual:
                    # Every <language id="N"> as sent (recorded PUT: the other language is kept as sent).
                    values[name] = {int(n.get("id") or 0): n.text or "" for n in langs if (n.get("id") or "").isdigit()}
                else:
                    values[name] = langs[0].text or ""
                continue
            else:
                value = (child.text or "").strip()
            sent.add(name)
            if name in res.numeric:
                values[name] = int(value) if value.strip().isdigit() else 0
            elif name in res.dates and value in ("", "0000-00-00 00:00:00"):
                values[name] = None
            else:
                values[name] = value
        return values, assoc, sent


def _price_params(req: Request) -> dict[str, dict[str, str]]:
    """``price[NAME][KEY]=VALUE`` parameters by NAME, as PHP parses them into ``urlFragments['price']``."""
    prices: dict[str, dict[str, str]] = {}
    for key, value in req.query.items():
        m = PRICE_RE.match(key)
        if m:
            prices.setdefault(m.group(1), {})[m.group(2)] = value
    return prices
