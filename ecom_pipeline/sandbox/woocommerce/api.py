"""The wc/v3 REST surface of one emulated shop (an ASGI callable mounted under ``/<shop>``).

Order of checks follows WordPress: authentication errors first (before routing), then route matching
(``rest_no_route``), parameter validation (400 ``rest_invalid_param`` listing every bad parameter), permission
(anonymous → 401), then the handler (404 ``woocommerce_rest_*_invalid_id``). Headers and their order follow the
recordings; bodies are sent chunked without Content-Length and encoded like PHP's ``json_encode`` (``\\/`` and
``\\uXXXX`` escapes).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, quote

from ecom_pipeline.platforms.woocommerce import slugs
from ecom_pipeline.sandbox.faults import FaultSwitches
from ecom_pipeline.sandbox.shop import read_body
from ecom_pipeline.sandbox.woocommerce.auth import WooAuthenticator
from ecom_pipeline.sandbox.woocommerce.errors import StoreError
from ecom_pipeline.sandbox.woocommerce.more_routes import ANALYTICS_PREFIX, MoreRoutes
from ecom_pipeline.sandbox.woocommerce.render import (
    render_customer,
    render_order,
    render_product,
    render_variation,
)
from ecom_pipeline.sandbox.woocommerce.rest import (
    API_PREFIX,
    BATCH_ALLOW,
    BATCH_LIMIT,
    COLLECTION_ALLOW,
    CUSTOMER_ORDERBY,
    ITEM_ALLOW,
    ORDER_ORDERBY,
    ORDER_STATUS,
    PRODUCT_ORDERBY,
    PRODUCT_STATUS,
    WP_ROLES,
    ParamErrors,
    Reply,
    Validator,
    php_json,
    update_of_unknown_is_400,
    wp_list,
)
from ecom_pipeline.sandbox.woocommerce.store import WooStore
from ecom_pipeline.sandbox.woocommerce.webhooks import WooWebhooks

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class WooShopApi(MoreRoutes):
    """Serves one shop's ``/wp-json/wc/v3`` API from a :class:`WooStore`."""

    def __init__(
        self,
        store: WooStore,
        authenticator: WooAuthenticator,
        faults: FaultSwitches,
        webhooks: WooWebhooks | None = None,
    ) -> None:
        self.store = store
        self.auth = authenticator
        self.faults = faults
        self.webhooks = webhooks or WooWebhooks(store)
        self.routes: list[tuple[re.Pattern[str], str, dict[str, Callable[..., Reply]]]] = []
        self._collection(r"/products", self.list_products, self.create_product)
        self._batch_route(r"/products/batch", self.batch_products)
        self._item(r"/products/(?P<pid>\d+)", self.get_product, self.update_product, self.delete_product)
        self._collection(r"/products/(?P<pid>\d+)/variations", self.list_variations, self.create_variation)
        self._batch_route(r"/products/(?P<pid>\d+)/variations/batch", self.batch_variations)
        self._item(
            r"/products/(?P<pid>\d+)/variations/(?P<vid>\d+)",
            self.get_variation,
            self.update_variation,
            self.delete_variation,
        )
        self._collection(r"/orders", self.list_orders, self.create_order)
        self._item(r"/orders/(?P<oid>\d+)", self.get_order, self.update_order, self.delete_order)
        self._collection(r"/customers", self.list_customers, self.create_customer)
        self._collection(r"/webhooks", self.list_webhooks, self.create_webhook)
        self._item(r"/webhooks/(?P<wid>\d+)", self.get_webhook, self.update_webhook, self.delete_webhook)
        self._item(r"/customers/(?P<cid>\d+)", self.get_customer, self.update_customer, self.delete_customer)
        self._batch_route(r"/orders/batch", self.batch_orders)
        self._batch_route(r"/customers/batch", self.batch_customers)
        self.register_more_routes()

    def _route(self, pattern: str, allow: str, **handlers: Callable[..., Reply]) -> None:
        self.routes.append((re.compile(f"^{pattern}/?$"), allow, handlers))

    # WordPress registers a wc/v3 route as one of three kinds, and its Allow header follows from the kind: a
    # collection (READABLE + CREATABLE), an item (READABLE + EDITABLE + DELETABLE, EDITABLE being POST, PUT and
    # PATCH alike) or a batch (EDITABLE). Routes say their kind here instead of spelling the methods out each time.

    def _collection(self, pattern: str, list_: Callable[..., Reply], create: Callable[..., Reply]) -> None:
        self._route(pattern, COLLECTION_ALLOW, GET=list_, POST=create)

    def _item(
        self, pattern: str, get: Callable[..., Reply], update: Callable[..., Reply], delete: Callable[..., Reply]
    ) -> None:
        self._route(pattern, ITEM_ALLOW, GET=get, POST=update, PUT=update, PATCH=update, DELETE=delete)

    def _batch_route(self, pattern: str, batch: Callable[..., Reply]) -> None:
        self._route(pattern, BATCH_ALLOW, POST=batch, PUT=batch, PATCH=batch)

    # ------------------------------------------------------------------ ASGI entry

    async def __call__(self, scope: Scope, receive: Receive, send: Send, *, site: str, subpath: str) -> int:
        """Answer one request; ``site`` is the shop's site URL as the client addressed it. Returns the status."""
        body = await read_body(receive)
        reply, authenticated = self.dispatch(scope, body, site, subpath)
        return await self.send_reply(send, reply, site, authenticated)

    def dispatch(self, scope: Scope, body: bytes, site: str, subpath: str) -> tuple[Reply, bool]:
        method = scope["method"].upper()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        raw_query = scope.get("query_string", b"").decode("latin-1")
        https = scope.get("scheme") == "https"
        result = self.auth.authenticate(
            https=https,
            method=method,
            base_uri=f"{site}{subpath}",
            raw_query=raw_query,
            authorization=headers.get("authorization"),
            now=self.store.now(),
        )
        if result.error is not None:
            return Reply(result.error.status, result.error.body()), False
        authenticated = result.authenticated
        query_pairs = parse_qsl(raw_query, keep_blank_values=True)
        query = dict(query_pairs)
        if subpath.rstrip("/") in ("/wp-json", API_PREFIX):
            if method not in ("GET", "HEAD"):
                return self._no_route(), authenticated
            reply = self.api_index(site, root=subpath.rstrip("/") == "/wp-json")
            reply.allow = "GET" if authenticated else None
            return reply, authenticated
        if subpath.rstrip("/") == ANALYTICS_PREFIX + "/variations" and self.analytics_enabled:
            # WooCommerce core's cross-parent variations listing (a wc-analytics route: see list_analytics_variations)
            if method not in ("GET", "HEAD"):
                return self._no_route(), authenticated
            try:
                reply = self.list_analytics_variations(
                    query=query, query_pairs=query_pairs, site=site, authenticated=authenticated
                )
            except StoreError as exc:
                reply = Reply(exc.status, exc.body())
            reply.allow = "GET" if authenticated else None
            return reply, authenticated
        if not subpath.startswith(API_PREFIX + "/"):
            return self._no_route(), authenticated
        route = subpath[len(API_PREFIX) :]
        for pattern, allow, handlers in self.routes:
            m = pattern.match(route)
            if not m:
                continue
            handler = handlers.get("GET" if method == "HEAD" else method)
            if handler is None:
                return self._no_route(), authenticated
            try:
                data = self._body(body, headers.get("content-type", ""))
                reply = handler(
                    query=query,
                    query_pairs=query_pairs,
                    data=data,
                    site=site,
                    authenticated=authenticated,
                    method=method,
                    **{k: int(v) for k, v in m.groupdict().items()},
                )
            except StoreError as exc:
                reply = Reply(exc.status, exc.body())
            reply.allow = allow if authenticated else None
            return reply, authenticated
        return self._no_route(), authenticated

    @staticmethod
    def _no_route() -> Reply:
        return Reply(
            404,
            {
                "code": "rest_no_route",
                "message": "No route was found matching the URL and request method.",
                "data": {"status": 404},
            },
        )

    @staticmethod
    def _body(body: bytes, content_type: str) -> dict[str, Any]:
        if not body:
            return {}
        if "json" in content_type or body.lstrip()[:1] in (b"{", b"["):
            try:
                parsed = json.loads(body)
            except ValueError as exc:
                raise StoreError(
                    400,
                    "rest_invalid_json",
                    "Invalid JSON body passed.",
                    json_error_code=4,
                    json_error_message="Syntax error",
                ) from exc
            return parsed if isinstance(parsed, dict) else {"_list": parsed}
        return dict(parse_qsl(body.decode("utf-8", "replace")))

    async def send_reply(self, send: Send, reply: Reply, site: str, authenticated: bool) -> int:
        headers: list[tuple[str, str]] = [
            ("Content-Type", "application/json; charset=UTF-8"),
            ("X-Robots-Tag", "noindex"),
        ]
        paginated = any(name == "Link" for name, _ in reply.headers)
        if not paginated:
            headers.append(("Link", f'<{site}/wp-json/>; rel="https://api.w.org/"'))
        headers += [
            ("X-Content-Type-Options", "nosniff"),
            ("Access-Control-Expose-Headers", "X-WP-Total, X-WP-TotalPages, Link"),
            (
                "Access-Control-Allow-Headers",
                "Authorization, X-WP-Nonce, Content-Disposition, Content-MD5, Content-Type",
            ),
        ]
        headers += reply.headers
        if authenticated:
            if reply.allow:
                headers.append(("Allow", reply.allow))
            headers += [
                ("Expires", "Wed, 11 Jan 1984 05:00:00 GMT"),
                ("Cache-Control", "no-cache, must-revalidate, max-age=0, no-store, private"),
            ]
        else:
            headers.append(("Vary", "Origin"))
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
            }
        )
        await send({"type": "http.response.body", "body": php_json(reply.body), "more_body": False})
        return reply.status

    # ------------------------------------------------------------------ helpers

    def _require(self, authenticated: bool, action: str) -> None:
        if authenticated:
            return
        messages = {
            "list": ("woocommerce_rest_cannot_view", "Sorry, you cannot list resources."),
            "view": ("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource."),
            "create": ("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."),
            "edit": ("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource."),
            "delete": ("woocommerce_rest_cannot_delete", "Sorry, you are not allowed to delete this resource."),
            "batch": ("woocommerce_rest_cannot_batch", "Sorry, you are not allowed to batch manipulate this resource."),
        }
        code, message = messages[action]
        raise StoreError(401, code, message)

    def _fields(self, query: dict[str, str], obj: dict[str, Any]) -> dict[str, Any]:
        raw = query.get("_fields")
        if not raw:
            return obj
        wanted = {f.strip().split(".")[0] for f in raw.split(",") if f.strip()}
        return {k: v for k, v in obj.items() if k in wanted}

    def _malform(self, obj: dict[str, Any], pid: int) -> dict[str, Any]:
        if pid in self.faults.malformed_product_ids:
            obj = dict(obj)
            obj["price"] = "abc"
            obj["regular_price"] = "abc"
            obj.pop("name", None)
            if obj.get("manage_stock"):
                obj["stock_quantity"] = "lots"
        return obj

    def _product_json(self, p: Any, site: str) -> dict[str, Any]:
        return self._malform(render_product(p, self.store.variations_of(p), self.store.tz, site), p.id)

    def _product_edit_json(self, p: Any, site: str, rendered: dict[str, Any] | None = None) -> dict[str, Any]:
        """Write responses use context=edit, which adds permalink_template and generated_slug (as recorded)."""
        out = rendered if rendered is not None else self._product_json(p, site)
        links = out.pop("_links", None)
        out["permalink_template"] = f"{site}/product/%pagename%/"
        out["generated_slug"] = slugs.sanitize_title(p.name)
        if links is not None:
            out["_links"] = links
        return out

    def _variation_json(self, v: Any, site: str, edit: bool = False) -> dict[str, Any]:
        """``edit``: write responses use context=edit, where a variation's raw tax class "parent" shows (recorded)."""
        parent = self.store.products.get(v.parent_id)
        out = self._malform(render_variation(v, parent, self.store.tz, site), v.id)
        if edit and out.get("tax_class") == "":
            out["tax_class"] = "parent"
        return out

    def _list_reply(
        self,
        items: list[dict[str, Any]],
        total: int,
        page: int,
        per_page: int,
        site: str,
        route: str,
        query_pairs: list[tuple[str, str]],
        extra_params: list[tuple[str, str]] | None = None,
        prefix: str = API_PREFIX,
    ) -> Reply:
        """A list's reply with WordPress's paging headers; ``prefix`` is the route's namespace below the site."""
        pages = math.ceil(total / per_page) if total else 0
        headers = [("X-WP-Total", str(total)), ("X-WP-TotalPages", str(pages))]
        links = []
        base_pairs = list(query_pairs) + list(extra_params or [])

        def link(target: int) -> str:
            pairs = [(k, str(target) if k == "page" else v) for k, v in base_pairs]
            if not any(k == "page" for k, _ in pairs):
                pairs.append(("page", str(target)))
            qs = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)
            return f"{site}{prefix}{route}?{qs}"

        if page > 1:
            links.append(f'<{link(min(page - 1, max(pages, 1)))}>; rel="prev"')
        if pages > page:
            links.append(f'<{link(page + 1)}>; rel="next"')
        if links:
            headers.append(("Link", ", ".join(links)))
        return Reply(200, items, headers)

    def _paging(
        self, v: Validator, orderby_enum: list[str], default_orderby: str, default_order: str
    ) -> tuple[int, int, str, str]:
        page = v.integer("page", 1, minimum=1)
        per_page = v.integer("per_page", 10, minimum=1, maximum=100)
        order = v.enum("order", ["asc", "desc"], default_order)
        orderby = v.enum("orderby", orderby_enum, default_orderby)
        return page, per_page, order, orderby

    def _listed(
        self,
        kind: str,
        paging: tuple[int, int, str, str],
        render: Callable[[Any], dict[str, Any]],
        offset: int | None = None,
        **filters: Any,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of ``kind`` from the store (``paging`` as :meth:`_paging` reads it, ``offset`` as
        :meth:`_offset` does, ``filters`` as ``store.query`` takes them), each record rendered under the store's
        lock: (items, total) for :meth:`_list_reply`. Every post and user list reads its page this one way."""
        page, per_page, order, orderby = paging
        result = self.store.query(
            kind, orderby=orderby, order=order, page=page, per_page=per_page, offset=offset, **filters
        )
        with self.store.lock:
            return [render(r) for r in result.items], result.total

    @staticmethod
    def _offset(v: Validator, users: bool = False) -> int | None:
        """The ``offset`` argument of a post or user list (wc/v3 route index: "Offset the result set by a specific
        number of items.", integer), which replaces ``page`` when given.

        Posts (products, variations, orders): WooCommerce passes it to the query, which takes ``absint(offset)``
        for the LIMIT whenever it is numeric, 0 included. Users (customers): the controller uses it only when
        non-empty (``! empty( $request['offset'] )``), so ``offset=0`` pages by ``page`` again. X-WP-Total is the
        whole filtered list's count and X-WP-TotalPages its count divided by ``per_page``, whatever the offset.
        """
        if v.query.get("offset") in (None, ""):
            return None
        value = abs(v.integer("offset", 0))
        return None if users and value == 0 else value

    def _dates(self, v: Validator) -> tuple[int | None, int | None, int | None, int | None]:
        gmt = v.boolean("dates_are_gmt")
        tz = self.store.tz
        return (
            v.date("modified_after", gmt, tz),
            v.date("modified_before", gmt, tz),
            v.date("after", gmt, tz),
            v.date("before", gmt, tz),
        )

    # ------------------------------------------------------------------ products

    def list_products(
        self, *, query: dict[str, str], query_pairs: list[tuple[str, str]], site: str, authenticated: bool, **_: Any
    ) -> Reply:
        v = Validator(query)
        page, per_page, order, orderby = self._paging(v, PRODUCT_ORDERBY, "date", "desc")
        offset = self._offset(v)
        status = v.enum("status", PRODUCT_STATUS, "any")
        m_after, m_before, after, before = self._dates(v)
        include = v.int_list("include")
        exclude = v.int_list("exclude")
        v.enum("type", ["simple", "grouped", "external", "variable"], "") if "type" in query else None
        v.errors.raise_if_any()
        self._require(authenticated, "list")
        skus = {s.strip() for s in query["sku"].split(",")} if query.get("sku") else None
        ptype = query.get("type")
        search = query.get("search", "").lower()
        stock_status = query.get("stock_status")
        category = query.get("category")
        checks: list[Callable[[Any], bool]] = []
        if status == "any":
            checks.append(lambda p: p.status != "trash")
        else:
            checks.append(lambda p: p.status == status)
        if skus is not None:
            checks.append(lambda p: p.sku in skus)
        if ptype:
            checks.append(lambda p: p.type == ptype)
        slug = query.get("slug")
        if slug:  # wc/v3 ``slug`` (WP_Query ``name``): one post_name, the value as sanitize_title_for_query makes it
            wanted_slug = slugs.sanitize_title(slug, "query")
            checks.append(lambda p: p.slug == wanted_slug)
        if search:
            checks.append(lambda p: search in p.name.lower())
        if exclude:
            ex = set(exclude)
            checks.append(lambda p: p.id not in ex)
        checks += _created_between(after, before)
        if category:
            cats = {int(c) for c in category.split(",") if c.isdigit()}
            checks.append(lambda p: any(c["id"] in cats for c in p.categories))
        if stock_status:
            checks.append(
                lambda p: (
                    render_product(p, self.store.variations_of(p), self.store.tz, site)["stock_status"] == stock_status
                )
            )
        items, total = self._listed(
            "products",
            (page, per_page, order, orderby),
            lambda p: self._fields(query, self._product_json(p, site)),
            offset,
            predicate=_all(checks),
            modified_after=m_after,
            modified_before=m_before,
            include=include,
        )
        return self._list_reply(items, total, page, per_page, site, "/products", query_pairs)

    def get_product(self, *, pid: int, query: dict[str, str], site: str, authenticated: bool, **_: Any) -> Reply:
        self._require(authenticated, "view")
        with self.store.lock:
            p = self.store.products.get(pid)
            if p is None:
                # WooCommerce serves variations through /products/{id} too.
                var = self.store.variations.get(pid)
                if var is None:
                    raise StoreError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
                return Reply(200, self._fields(query, self._variation_json(var, site)))
            return Reply(200, self._fields(query, self._product_json(p, site)))

    def create_product(self, *, data: dict[str, Any], site: str, authenticated: bool, **_: Any) -> Reply:
        self._require(authenticated, "create")
        self._check_stock_type(data)
        with self.store.lock:
            p = self.store.create_product(data)
            return Reply(201, self._product_edit_json(p, site), [("Location", f"{site}{API_PREFIX}/products/{p.id}")])

    @staticmethod
    def _check_stock_type(data: dict[str, Any]) -> None:
        value = data.get("stock_quantity")
        bad_type = isinstance(value, bool) or not isinstance(value, int)
        if value is not None and bad_type and not (isinstance(value, str) and value.lstrip("-").isdigit()):
            errs = ParamErrors()
            errs.add(
                "stock_quantity",
                "rest_invalid_type",
                "stock_quantity is not of type integer.",
                {"param": "stock_quantity"},
            )
            errs.raise_if_any()

    def update_product(self, *, pid: int, data: dict[str, Any], site: str, authenticated: bool, **_: Any) -> Reply:
        self._check_stock_type(data)
        self._require(authenticated, "edit")
        with self.store.lock:
            if pid not in self.store.products and pid in self.store.variations:
                var = self.store.variations[pid]
                return Reply(
                    200, self._variation_json(self.store.update_variation(var.parent_id, pid, data), site, edit=True)
                )
            if pid not in self.store.products:
                raise StoreError(400, "woocommerce_rest_product_invalid_id", "Invalid ID.")
            return Reply(200, self._product_edit_json(self.store.update_product(pid, data), site))

    def delete_product(self, *, pid: int, query: dict[str, str], site: str, authenticated: bool, **_: Any) -> Reply:
        force = self._force(query)
        self._require(authenticated, "delete")
        with self.store.lock:
            if pid not in self.store.products:
                raise StoreError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
            before = self.store.delete_product(pid, force=force)
            return Reply(200, self._product_edit_json(before, site, render_product(before, [], self.store.tz, site)))

    def batch_products(self, *, data: dict[str, Any], site: str, authenticated: bool, **_: Any) -> Reply:
        self._require(authenticated, "batch")
        return self._batch(
            data,
            create=lambda d: self._product_edit_json(self.store.create_product(d), site),
            update=lambda d: self._product_edit_json(
                update_of_unknown_is_400(lambda: self.store.update_product(int(d.get("id") or 0), d)), site
            ),
            delete=lambda i: self._product_edit_json(
                self.store.get_product(i),
                site,
                render_product(self.store.delete_product(i, force=True), [], self.store.tz, site),
            ),
        )

    def _batch(
        self,
        data: dict[str, Any],
        create: Callable[[dict[str, Any]], Any],
        update: Callable[[dict[str, Any]], Any],
        delete: Callable[[int], Any],
    ) -> Reply:
        """``WC_REST_Controller::batch_items``: at most 100 items in all, then create, update, delete in order.

        Empty or missing operations are left out of the answer (a body with none gives ``[]``); a delete of id 0
        is skipped; each item that fails carries its error (``id`` 0 for creates, the id as sent for updates)
        instead of failing the batch. Deletes are forced.
        """
        ops: dict[str, list[Any]] = {
            k: v for k in ("create", "update", "delete") if isinstance(v := data.get(k), list) and v
        }
        total = sum(len(v) for v in ops.values())
        if total > BATCH_LIMIT:
            raise StoreError(
                413,
                "woocommerce_rest_request_entity_too_large",
                f"Unable to accept more than {BATCH_LIMIT} items for this request.",
            )
        out: dict[str, list[Any]] = {}
        with self.store.lock:
            for action, fn in (("create", create), ("update", update), ("delete", delete)):
                if action not in ops:
                    continue
                results = []
                for item in ops[action]:
                    if action == "delete":
                        try:
                            item_id: Any = int(item)
                        except (TypeError, ValueError):
                            item_id = 0
                        if item_id == 0:
                            continue
                    else:
                        item = item if isinstance(item, dict) else {}
                        item_id = 0 if action == "create" else item.get("id")
                    try:
                        if action == "create":
                            self._check_stock_type(item)
                        results.append(fn(item_id if action == "delete" else item))
                    except StoreError as exc:
                        body = exc.body()
                        results.append({"id": item_id, "error": {k: body[k] for k in ("code", "message", "data")}})
                if results:
                    out[action] = results
        return Reply(200, out if out else [])

    # ------------------------------------------------------------------ variations

    def list_variations(
        self,
        *,
        pid: int,
        query: dict[str, str],
        query_pairs: list[tuple[str, str]],
        site: str,
        authenticated: bool,
        **_: Any,
    ) -> Reply:
        v = Validator(query)
        page, per_page, order, orderby = self._paging(v, PRODUCT_ORDERBY, "date", "desc")
        offset = self._offset(v)
        m_after, m_before, _after, _before = self._dates(v)
        include = v.int_list("include")
        v.errors.raise_if_any()
        self._require(authenticated, "list")
        skus = {s.strip() for s in query["sku"].split(",")} if query.get("sku") else None
        items, total = self._listed(
            "variations",
            (page, per_page, order, orderby),
            lambda x: self._fields(query, self._variation_json(x, site)),
            offset,
            predicate=(lambda r: r.sku in skus) if skus else None,
            modified_after=m_after,
            modified_before=m_before,
            include=include,
            parent_id=pid,
        )
        return self._list_reply(items, total, page, per_page, site, f"/products/{pid}/variations", query_pairs)

    def get_variation(
        self, *, pid: int, vid: int, query: dict[str, str], site: str, authenticated: bool, **_: Any
    ) -> Reply:
        self._require(authenticated, "view")
        with self.store.lock:
            return Reply(200, self._fields(query, self._variation_json(self.store.get_variation(pid, vid), site)))

    def create_variation(self, *, pid: int, data: dict[str, Any], site: str, authenticated: bool, **_: Any) -> Reply:
        self._check_stock_type(data)
        self._require(authenticated, "create")
        with self.store.lock:
            var = self.store.create_variation(pid, data)
            return Reply(201, self._variation_json(var, site, edit=True))

    def update_variation(
        self, *, pid: int, vid: int, data: dict[str, Any], site: str, authenticated: bool, **_: Any
    ) -> Reply:
        self._check_stock_type(data)
        self._require(authenticated, "edit")
        with self.store.lock:
            return Reply(200, self._variation_json(self.store.update_variation(pid, vid, data), site, edit=True))

    def delete_variation(self, *, pid: int, vid: int, site: str, authenticated: bool, **_: Any) -> Reply:
        self._require(authenticated, "delete")
        with self.store.lock:
            parent = self.store.get_product(pid)
            before = render_variation(self.store.get_variation(pid, vid), parent, self.store.tz, site)
            self.store.delete_variation(pid, vid)
            return Reply(200, before)

    def batch_variations(self, *, pid: int, data: dict[str, Any], site: str, authenticated: bool, **_: Any) -> Reply:
        self._require(authenticated, "batch")
        self.store.get_product(pid)
        return self._batch(
            data,
            create=lambda d: self._variation_json(self.store.create_variation(pid, d), site, edit=True),
            update=lambda d: self._variation_json(
                self.store.update_variation(pid, int(d.get("id") or 0), d), site, edit=True
            ),
            delete=lambda i: self._delete_variation_json(pid, i, site),
        )

    def _delete_variation_json(self, pid: int, vid: int, site: str) -> dict[str, Any]:
        before = self._variation_json(self.store.get_variation(pid, vid), site)
        self.store.delete_variation(pid, vid)
        return before

    # ------------------------------------------------------------------ orders

    def list_orders(
        self, *, query: dict[str, str], query_pairs: list[tuple[str, str]], site: str, authenticated: bool, **_: Any
    ) -> Reply:
        v = Validator(query)
        page, per_page, order, orderby = self._paging(v, ORDER_ORDERBY, "date", "desc")
        offset = self._offset(v)
        statuses = v.enum_list("status", ORDER_STATUS, ["any"])
        m_after, m_before, after, before = self._dates(v)
        include = v.int_list("include")
        customer = v.integer("customer", 0) if "customer" in query else None
        v.errors.raise_if_any()
        self._require(authenticated, "list")
        checks: list[Callable[[Any], bool]] = []
        if "any" in statuses or not statuses:
            checks.append(lambda o: o.status != "trash")
        else:
            wanted = set(statuses)
            checks.append(lambda o: o.status in wanted)
        if customer is not None:
            checks.append(lambda o: o.customer_id == customer)
        checks += _created_between(after, before)
        items, total = self._listed(
            "orders",
            (page, per_page, order, orderby),
            lambda o: self._fields(query, render_order(o, self.store.tz, site)),
            offset,
            predicate=_all(checks),
            modified_after=m_after,
            modified_before=m_before,
            include=include,
        )
        # The orders controller echoes its normalised defaults in Link URLs (recorded: status%5B0%5D=any&dp=2...).
        pairs = [(k, val) for k, val in query_pairs if k not in ("status", "dp", "context")]
        extra = [(f"status[{i}]", s) for i, s in enumerate(statuses)]
        extra += [("dp", query.get("dp", "2")), ("context", query.get("context", "view"))]
        return self._list_reply(items, total, page, per_page, site, "/orders", pairs, extra)

    def get_order(self, *, oid: int, query: dict[str, str], site: str, authenticated: bool, **_: Any) -> Reply:
        self._require(authenticated, "view")
        with self.store.lock:
            return Reply(200, self._fields(query, render_order(self.store.get_order(oid), self.store.tz, site)))

    def create_order(self, *, data: dict[str, Any], site: str, authenticated: bool, **_: Any) -> Reply:
        self._require(authenticated, "create")
        _check_order_status(data)
        with self.store.lock:
            return Reply(201, render_order(self.store.add_order(data), self.store.tz, site))

    def update_order(self, *, oid: int, data: dict[str, Any], site: str, authenticated: bool, **_: Any) -> Reply:
        _check_order_status(data)
        self._require(authenticated, "edit")
        with self.store.lock:
            order = update_of_unknown_is_400(lambda: self.store.update_order(oid, data))
            return Reply(200, render_order(order, self.store.tz, site))

    def batch_orders(self, *, data: dict[str, Any], site: str, authenticated: bool, **_: Any) -> Reply:
        self._require(authenticated, "batch")

        def create(d: dict[str, Any]) -> dict[str, Any]:
            _check_order_status(d)
            return render_order(self.store.add_order(d), self.store.tz, site)

        def update(d: dict[str, Any]) -> dict[str, Any]:
            _check_order_status(d)
            order = update_of_unknown_is_400(lambda: self.store.update_order(int(d.get("id") or 0), d))
            return render_order(order, self.store.tz, site)

        return self._batch(
            data,
            create=create,
            update=update,
            delete=lambda i: render_order(self.store.delete_order(i, force=True), self.store.tz, site),
        )

    def delete_order(self, *, oid: int, query: dict[str, str], site: str, authenticated: bool, **_: Any) -> Reply:
        force = self._force(query)
        self._require(authenticated, "delete")
        with self.store.lock:
            return Reply(200, render_order(self.store.delete_order(oid, force=force), self.store.tz, site))

    # ------------------------------------------------------------------ customers

    def list_customers(
        self, *, query: dict[str, str], query_pairs: list[tuple[str, str]], site: str, authenticated: bool, **_: Any
    ) -> Reply:
        v = Validator(query)
        page, per_page, order, orderby = self._paging(v, CUSTOMER_ORDERBY, "name", "asc")
        offset = self._offset(v, users=True)
        include = v.int_list("include")
        # wc/v3 ``role``: default ``customer``, enum ``all`` + the site's role names; ``all`` drops the filter
        # (WC_REST_Customers_V2_Controller: ``if ( 'all' !== $request['role'] ) $prepared_args['role'] = ...``).
        with self.store.lock:
            roles = sorted({*WP_ROLES, *(c.role for c in self.store.customers.values())})
        role = v.enum("role", ["all", *roles], "customer")
        email = query.get("email")
        if email is not None and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
            v.errors.add("email", "rest_invalid_email", "Invalid email address.")
        v.errors.raise_if_any()
        self._require(authenticated, "list")
        checks: list[Callable[[Any], bool]] = []
        if role != "all":
            checks.append(lambda c: c.role == role)
        if email:
            checks.append(lambda c: c.email.lower() == email.lower())
        search = query.get("search", "").lower()
        if search:
            checks.append(lambda c: search in f"{c.email} {c.first_name} {c.last_name} {c.username}".lower())
        items, total = self._listed(
            "customers",
            (page, per_page, order, orderby),
            lambda c: self._fields(query, render_customer(c, self.store.tz, site)),
            offset,
            predicate=_all(checks),
            include=include,
        )
        if offset is not None:  # the users controller derives its Link page from the offset
            page = math.ceil(offset / per_page) + 1
        return self._list_reply(items, total, page, per_page, site, "/customers", query_pairs)

    def get_customer(self, *, cid: int, query: dict[str, str], site: str, authenticated: bool, **_: Any) -> Reply:
        self._require(authenticated, "view")
        with self.store.lock:
            return Reply(200, self._fields(query, render_customer(self.store.get_customer(cid), self.store.tz, site)))

    def create_customer(self, *, data: dict[str, Any], site: str, authenticated: bool, **_: Any) -> Reply:
        self._require(authenticated, "create")
        with self.store.lock:
            return Reply(201, render_customer(self.store.create_customer(data), self.store.tz, site))

    def delete_customer(self, *, cid: int, query: dict[str, str], site: str, authenticated: bool, **_: Any) -> Reply:
        """Customers are users: no trash, so ``force=true`` is required (501 otherwise)."""
        force = self._force(query)
        self._require(authenticated, "delete")
        with self.store.lock:
            customer = self.store.get_customer(cid)
            if not force:
                raise StoreError(501, "woocommerce_rest_trash_not_supported", "Customers do not support trashing.")
            before = render_customer(customer, self.store.tz, site)
            self.store.delete_customer(cid)
            return Reply(200, before)

    def batch_customers(self, *, data: dict[str, Any], site: str, authenticated: bool, **_: Any) -> Reply:
        self._require(authenticated, "batch")

        def delete(cid: int) -> dict[str, Any]:
            before = render_customer(self.store.get_customer(cid), self.store.tz, site)
            self.store.delete_customer(cid)
            return before

        return self._batch(
            data,
            create=lambda d: render_customer(self.store.create_customer(d), self.store.tz, site),
            update=lambda d: render_customer(
                update_of_unknown_is_400(lambda: self.store.update_customer(int(d.get("id") or 0), d)),
                self.store.tz,
                site,
            ),
            delete=delete,
        )

    def update_customer(self, *, cid: int, data: dict[str, Any], site: str, authenticated: bool, **_: Any) -> Reply:
        self._require(authenticated, "edit")
        with self.store.lock:
            customer = update_of_unknown_is_400(lambda: self.store.update_customer(cid, data))
            return Reply(200, render_customer(customer, self.store.tz, site))

    # ------------------------------------------------------------------ webhooks

    def list_webhooks(
        self, *, query: dict[str, str], query_pairs: list[tuple[str, str]], site: str, authenticated: bool, **_: Any
    ) -> Reply:
        v = Validator(query)
        page = v.integer("page", 1, minimum=1)
        per_page = v.integer("per_page", 10, minimum=1, maximum=100)
        status = v.enum("status", ["all", "active", "paused", "disabled"], "all")
        v.errors.raise_if_any()
        self._require(authenticated, "list")
        with self.store.lock:
            hooks = sorted(self.webhooks.hooks.values(), key=lambda h: h.id, reverse=query.get("order") != "asc")
            if status != "all":
                hooks = [h for h in hooks if h.status == status]
            total = len(hooks)
            items = [
                self._fields(query, self.webhooks.render(h, site))
                for h in hooks[(page - 1) * per_page : page * per_page]
            ]
        return self._list_reply(items, total, page, per_page, site, "/webhooks", query_pairs)

    def get_webhook(self, *, wid: int, query: dict[str, str], site: str, authenticated: bool, **_: Any) -> Reply:
        self._require(authenticated, "view")
        with self.store.lock:
            return Reply(200, self._fields(query, self.webhooks.render(self.webhooks.get(wid), site)))

    def create_webhook(self, *, data: dict[str, Any], site: str, authenticated: bool, **_: Any) -> Reply:
        self._require(authenticated, "create")
        hook = self.webhooks.create(data, site)  # sends the synchronous ping (outside the store lock)
        with self.store.lock:
            return Reply(
                201, self.webhooks.render(hook, site), [("Location", f"{site}{API_PREFIX}/webhooks/{hook.id}")]
            )

    def update_webhook(self, *, wid: int, data: dict[str, Any], site: str, authenticated: bool, **_: Any) -> Reply:
        self._require(authenticated, "edit")
        with self.store.lock:
            return Reply(200, self.webhooks.render(self.webhooks.update(wid, data), site))

    def delete_webhook(self, *, wid: int, query: dict[str, str], site: str, authenticated: bool, **_: Any) -> Reply:
        force = self._force(query)
        self._require(authenticated, "delete")
        with self.store.lock:
            return Reply(200, self.webhooks.render(self.webhooks.delete(wid, force), site))


def _created_between(after: int | None, before: int | None) -> list[Callable[[Any], bool]]:
    """The ``after`` / ``before`` list filters (exclusive bounds on the creation date) as checks, for every post
    list that takes them (products, orders)."""
    checks: list[Callable[[Any], bool]] = []
    if after is not None:
        checks.append(lambda r: r.created > after)
    if before is not None:
        checks.append(lambda r: r.created < before)
    return checks


def _check_order_status(data: dict[str, Any]) -> None:
    """An order written with a ``status`` must name a settable one (not ``any`` or ``trash``), as create, update
    and each batch item check alike: otherwise the 400 ``rest_invalid_param`` of the REST schema."""
    if data.get("status") and data["status"] not in ORDER_STATUS[2:]:
        errs = ParamErrors()
        errs.add("status", "rest_not_in_enum", f"status is not one of {wp_list(ORDER_STATUS[2:])}.")
        errs.raise_if_any()


def _all(checks: list[Callable[[Any], bool]]) -> Callable[[Any], bool] | None:
    if not checks:
        return None
    if len(checks) == 1:
        return checks[0]
    return lambda r: all(check(r) for check in checks)
