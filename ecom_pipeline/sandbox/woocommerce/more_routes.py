"""wc/v3 route families beyond products/orders/customers/webhooks: taxonomies, coupons, notes, refunds, index.

Mixed into :class:`~ecom_pipeline.sandbox.woocommerce.api.WooShopApi`. Each handler follows the order in which
WordPress answers: parameter validation (400 ``rest_invalid_param``), then the permission callback -- which for
terms and attributes first checks that the taxonomy/term exists, so an unknown id is a 404 even without
credentials -- then the handler. Bodies, status codes and headers follow the recordings
(``product-categories-*``, ``product-attribute*``, ``coupons-*``, ``orders-notes-*``, ``orders-refunds-*``,
``system-status``, ``api-index-wc-v3``); where no error was recorded, WooCommerce 10.0.2's own messages are used.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecom_pipeline.sandbox.woocommerce.catalog import COUPON_TYPES, Term, WooCatalog
from ecom_pipeline.sandbox.woocommerce.errors import StoreError
from ecom_pipeline.sandbox.woocommerce.records import WC_VERSION, WP_VERSION
from ecom_pipeline.sandbox.woocommerce.render import as_analytics_variation, render_note, render_refund
from ecom_pipeline.sandbox.woocommerce.rest import (
    API_PREFIX,
    PRODUCT_ORDERBY,
    ParamErrors,
    Reply,
    Validator,
    update_of_unknown_is_400,
    wp_list,
)

if TYPE_CHECKING:
    from ecom_pipeline.sandbox.woocommerce.store import WooStore

TERM_ORDERBY = ["id", "include", "name", "slug", "term_group", "description", "count"]
COUPON_ORDERBY = ["date", "id", "include", "title", "slug", "modified"]
NOTE_ITEM_ALLOW = "GET, DELETE"
INDEX_FILE = Path(__file__).with_name("data") / "wc_v3_index.json"
# The namespace of WooCommerce's admin/analytics REST routes (only ``/variations`` is emulated there).
ANALYTICS_PREFIX = "/wp-json/wc-analytics"
_ANALYTICS_SORT: dict[str, Callable[[Any], Any]] = {
    "id": lambda r: 0,
    "modified": lambda r: r.modified,
    "title": lambda r: r.name.lower(),
    "slug": lambda r: r.sku,
}


@cache
def _recorded_index() -> dict[str, Any]:
    return json.loads(INDEX_FILE.read_text())


def _route_methods(name: str) -> list[str]:
    if name.endswith("/batch"):
        return ["POST", "PUT", "PATCH"]
    if ("/notes/" in name or "/refunds/" in name) and name.endswith("(?P<id>[\\d]+)"):
        return ["GET", "DELETE"]
    if name.endswith("(?P<id>[\\d]+)") or name.endswith("(?P<instance_id>[\\d]+)"):
        return ["GET", "POST", "PUT", "PATCH", "DELETE"]
    tail = name.rsplit("/", 1)[-1]
    collections = {
        "products",
        "orders",
        "customers",
        "coupons",
        "webhooks",
        "attributes",
        "terms",
        "categories",
        "tags",
        "brands",
        "reviews",
        "shipping_classes",
        "notes",
        "refunds",
        "taxes",
        "zones",
        "methods",
        "variations",
    }
    return ["GET", "POST"] if tail in collections else ["GET"]


@dataclass(frozen=True)
class _Terms:
    """One term taxonomy as its routes see it: where it lives, how its terms are counted and rendered."""

    taxonomy: str
    route: str  # the collection route below the API prefix (item routes add ``/<id>``)
    hierarchical: bool
    counts: Callable[[], Mapping[Any, int]]  # published products per key, counted when called
    count_key: Callable[[Term], Any]  # the term's key in ``counts`` (its id; an attribute term's name)
    render: Callable[[Term, int], dict[str, Any]]  # (term, count) -> the term's JSON

    def json(self, term: Term, counts: Mapping[Any, int] | None = None) -> dict[str, Any]:
        """The term as the API answers it; ``counts`` given by a listing, else counted now (after a write)."""
        counts = counts if counts is not None else self.counts()
        return self.render(term, counts.get(self.count_key(term), 0))


# (site=, the route's id groups, **ignored) -> the taxonomy a term route's request is about
_TermScope = Callable[..., _Terms]


class MoreRoutes:
    """Handlers for the taxonomy, coupon, note, refund, system-status and index routes."""

    store: WooStore
    _route: Callable[..., None]
    _collection: Callable[..., None]
    _item: Callable[..., None]
    _batch_route: Callable[..., None]
    _require: Callable[[bool, str], None]
    _fields: Callable[[dict[str, str], dict[str, Any]], dict[str, Any]]
    _list_reply: Callable[..., Reply]
    _paging: Callable[[Validator, list[str], str, str], tuple[int, int, str, str]]
    _batch: Callable[..., Reply]
    _variation_json: Callable[..., dict[str, Any]]
    # ``GET /wp-json/wc-analytics/variations`` is served (WooCommerce's default); False answers 404 rest_no_route, as
    # a shop whose WooCommerce analytics are disabled does (``woocommerce_analytics_enabled`` off): tests of the
    # extract's fallback set ``shop.api.analytics_enabled = False``.
    analytics_enabled: bool = True

    @property
    def catalog(self) -> WooCatalog:
        return self.store.catalog

    def register_more_routes(self) -> None:
        self._term_routes(r"/products/categories", self._category_terms)
        self._term_routes(r"/products/tags", self._tag_terms)
        self._collection(r"/products/attributes", self.list_attributes, self.create_attribute)
        self._batch_route(r"/products/attributes/batch", self.batch_attributes)
        self._item(
            r"/products/attributes/(?P<aid>\d+)", self.get_attribute, self.update_attribute, self.delete_attribute
        )
        self._term_routes(r"/products/attributes/(?P<aid>\d+)/terms", self._attribute_terms)
        self._collection(r"/coupons", self.list_coupons, self.create_coupon)
        self._batch_route(r"/coupons/batch", self.batch_coupons)
        self._item(r"/coupons/(?P<cid>\d+)", self.get_coupon, self.update_coupon, self.delete_coupon)
        self._collection(r"/orders/(?P<oid>\d+)/notes", self.list_notes, self.create_note)
        r = self._route
        r(r"/orders/(?P<oid>\d+)/notes/(?P<nid>\d+)", NOTE_ITEM_ALLOW, GET=self.get_note, DELETE=self.delete_note)
        self._collection(r"/orders/(?P<oid>\d+)/refunds", self.list_refunds, self.create_refund)
        r(
            r"/orders/(?P<oid>\d+)/refunds/(?P<rid>\d+)",
            NOTE_ITEM_ALLOW,
            GET=self.get_refund,
            DELETE=self.delete_refund,
        )
        r(r"/system_status", "GET", GET=self.system_status)

    # ------------------------------------------------------------------ wc-analytics

    def list_analytics_variations(
        self, *, query: dict[str, str], query_pairs: list[tuple[str, str]], site: str, authenticated: bool, **_: Any
    ) -> Reply:
        """``GET /wp-json/wc-analytics/variations``: variations across parents (WooCommerce core's
        ``Automattic\\WooCommerce\\Admin\\API\\ProductVariations``, which drops ``post_parent`` for this route so
        the wc/v3 collection parameters apply). Emulated: ``parent`` (ids, comma-separated, as ``post_parent__in``;
        none lists every variation), ``include``, ``modified_after``/``modified_before``, ``orderby``/``order``,
        ``page``/``per_page`` (max 100), ``_fields``; the same auth and permission as wc/v3 (WooCommerce accepts
        consumer keys for any ``wc-`` namespace), the same paging headers; bodies as ``as_analytics_variation``."""
        v = Validator(query)
        page, per_page, order, orderby = self._paging(v, PRODUCT_ORDERBY, "date", "desc")
        gmt = v.boolean("dates_are_gmt")
        m_after = v.date("modified_after", gmt, self.store.tz)
        m_before = v.date("modified_before", gmt, self.store.tz)
        parents = v.int_list("parent")
        include = v.int_list("include")
        v.errors.raise_if_any()
        self._require(authenticated, "list")
        with self.store.lock:
            if parents:
                wanted = dict.fromkeys(parents)
                products = [self.store.products[p] for p in wanted if p in self.store.products]
                rows = [var for p in products for var in self.store.variations_of(p)]
            else:
                rows = [var for var in self.store.variations.values() if var.parent_id in self.store.products]
            if include:
                rows = [r for r in rows if r.id in set(include)]
            if m_after is not None:
                rows = [r for r in rows if r.modified > m_after]
            if m_before is not None:
                rows = [r for r in rows if r.modified < m_before]
            key = _ANALYTICS_SORT.get(orderby, lambda r: r.created)
            rows.sort(key=lambda r: (key(r), r.id), reverse=order == "desc")
            total = len(rows)
            start = (page - 1) * per_page
            items = [
                self._fields(
                    query,
                    as_analytics_variation(
                        self._variation_json(r, site), r, self.store.products.get(r.parent_id), site
                    ),
                )
                for r in rows[start : start + per_page]
            ]
        return self._list_reply(items, total, page, per_page, site, "/variations", query_pairs, prefix=ANALYTICS_PREFIX)

    # ------------------------------------------------------------------ shared term listing

    def _term_list(
        self,
        terms: list[Term],
        counts: Callable[[Term], int],
        query: dict[str, str],
        query_pairs: list[tuple[str, str]],
        site: str,
        route: str,
        render: Callable[[Term], dict[str, Any]],
        authenticated: bool,
        hierarchical: bool,
    ) -> Reply:
        v = Validator(query)
        page, per_page, order, orderby = self._paging(v, TERM_ORDERBY, "name", "asc")
        hide_empty = v.boolean("hide_empty")
        include = v.int_list("include")
        exclude = v.int_list("exclude")
        parent = v.integer("parent", -1) if "parent" in query else None
        offset = v.integer("offset", 0) if "offset" in query else None
        v.errors.raise_if_any()
        self._require(authenticated, "list")
        rows = list(terms)
        if include:
            rows = [t for t in rows if t.id in set(include)]
        if exclude:
            rows = [t for t in rows if t.id not in set(exclude)]
        if hierarchical and parent is not None:
            rows = [t for t in rows if t.parent == parent]
        if query.get("slug"):
            slugs = {s.strip() for s in query["slug"].split(",")}
            rows = [t for t in rows if t.slug in slugs]
        if query.get("search"):
            needle = query["search"].lower()
            rows = [t for t in rows if needle in t.name.lower() or needle in t.slug]
        if hide_empty:
            rows = [t for t in rows if counts(t) > 0]
        keys: dict[str, Callable[[Term], Any]] = {
            "id": lambda t: t.id,
            "name": lambda t: t.name.lower(),
            "slug": lambda t: t.slug,
            "description": lambda t: t.description,
            "count": counts,
            "term_group": lambda t: 0,
        }
        if orderby == "include" and include:
            rows.sort(key=lambda t: include.index(t.id))
        else:
            rows.sort(key=lambda t: (keys.get(orderby, keys["name"])(t), t.id), reverse=order == "desc")
        start = offset if offset is not None else (page - 1) * per_page
        total = len(rows)
        items = [self._fields(query, render(t)) for t in rows[start : start + per_page]] if start < total else []
        shown_page = math.ceil(start / per_page) + 1
        return self._list_reply(items, total, shown_page, per_page, site, route, query_pairs)

    # ------------------------------------------------------------------ attributes

    def list_attributes(self, *, query: dict[str, str], site: str, authenticated: bool, **_: Any) -> Reply:
        """All attributes, by slug; WooCommerce sends X-WP-Total/X-WP-TotalPages (always 1) but no paging Link."""
        self._require(authenticated, "list")
        with self.store.lock:
            attrs = sorted(self.catalog.attributes.values(), key=lambda a: (a.slug, a.id))
            items = [self._fields(query, self.catalog.render_attribute(a, site)) for a in attrs]
        return Reply(200, items, [("X-WP-Total", str(len(items))), ("X-WP-TotalPages", "1")])

    def get_attribute(self, *, aid: int, query: dict[str, str], site: str, authenticated: bool, **_: Any) -> Reply:
        with self.store.lock:
            attr = self.catalog.get_attribute(aid)
            self._require(authenticated, "view")
            return Reply(200, self._fields(query, self.catalog.render_attribute(attr, site)))

    def create_attribute(self, *, data: dict[str, Any], site: str, authenticated: bool, **_: Any) -> Reply:
        self._check_attribute_params(data)
        self._require_name(data)
        self._require(authenticated, "create")
        with self.store.lock:
            attr = self.catalog.create_attribute(data)
            location = f"{site}{API_PREFIX}/products/attributes/{attr.id}"
            return Reply(201, self.catalog.render_attribute(attr, site), [("Location", location)])

    def update_attribute(self, *, aid: int, data: dict[str, Any], site: str, authenticated: bool, **_: Any) -> Reply:
        self._check_attribute_params(data)
        with self.store.lock:
            self.catalog.get_attribute(aid)
            self._require(authenticated, "edit")
            return Reply(200, self.catalog.render_attribute(self.catalog.update_attribute(aid, data), site))

    def delete_attribute(self, *, aid: int, query: dict[str, str], site: str, authenticated: bool, **_: Any) -> Reply:
        """Attributes cannot be trashed: ``force`` defaults to true here (unlike terms)."""
        v = Validator(query)
        force = v.boolean("force", default=True)
        v.errors.raise_if_any()
        with self.store.lock:
            self.catalog.get_attribute(aid)
            self._require(authenticated, "delete")
            if not force:
                raise StoreError(501, "woocommerce_rest_trash_not_supported", "Resource does not support trashing.")
            return Reply(200, self.catalog.render_attribute(self.catalog.delete_attribute(aid), site))

    def batch_attributes(self, *, data: dict[str, Any], site: str, authenticated: bool, **_: Any) -> Reply:
        self._require(authenticated, "batch")

        def create(d: dict[str, Any]) -> dict[str, Any]:
            self._require_name(d)
            return self.catalog.render_attribute(self.catalog.create_attribute(d), site)

        return self._batch(
            data,
            create=create,
            update=lambda d: self.catalog.render_attribute(
                self.catalog.update_attribute(int(d.get("id") or 0), d), site
            ),
            delete=lambda i: self.catalog.render_attribute(self.catalog.delete_attribute(i), site),
        )

    @staticmethod
    def _check_attribute_params(data: dict[str, Any]) -> None:
        errs = ParamErrors()
        if "type" in data and data["type"] not in ("select",):
            errs.add("type", "rest_not_in_enum", "type is not one of select.")
        if "order_by" in data and data["order_by"] not in ("menu_order", "name", "name_num", "id"):
            errs.add(
                "order_by",
                "rest_not_in_enum",
                f"order_by is not one of {wp_list(['menu_order', 'name', 'name_num', 'id'])}.",
            )
        if "has_archives" in data and not isinstance(data["has_archives"], bool):
            errs.add(
                "has_archives", "rest_invalid_type", "has_archives is not of type boolean.", {"param": "has_archives"}
            )
        errs.raise_if_any()

    # ------------------------------------------------------------------ terms (categories, tags, attribute terms)
    # The three term taxonomies answer alike (WordPress' WC_REST_Terms_Controller): one set of handlers serves
    # them, each bound to a ``scope`` that says which taxonomy a request is about (see ``_Terms``).

    def _category_terms(self, *, site: str, **_: Any) -> _Terms:
        return _Terms(
            "product_cat",
            "/products/categories",
            True,
            self.catalog.category_counts,
            lambda t: t.id,
            lambda t, n: self.catalog.render_category(t, site, n),
        )

    def _tag_terms(self, *, site: str, **_: Any) -> _Terms:
        return _Terms(
            "product_tag",
            "/products/tags",
            False,
            self.catalog.tag_counts,
            lambda t: t.id,
            lambda t, n: self.catalog.render_tag(t, site, n),
        )

    def _attribute_terms(self, *, site: str, aid: int, **_: Any) -> _Terms:
        """An attribute's terms: the attribute must exist (a 404 worded for ``/terms`` routes otherwise)."""
        attr = self.catalog.attribute_for_terms(aid)
        return _Terms(
            attr.taxonomy,
            f"/products/attributes/{aid}/terms",
            False,
            lambda: self.catalog.term_counts(attr.taxonomy),
            lambda t: t.name,
            lambda t, n: self.catalog.render_term(attr, t, site, n),
        )

    def _term_routes(self, pattern: str, scope: _TermScope) -> None:
        """Register the collection, batch and item routes of one term taxonomy under ``pattern``."""
        self._collection(pattern, partial(self._list_terms, scope), partial(self._create_term, scope))
        self._batch_route(f"{pattern}/batch", partial(self._batch_terms, scope))
        self._item(
            rf"{pattern}/(?P<tid>\d+)",
            partial(self._get_term, scope),
            partial(self._update_term, scope),
            partial(self._delete_term, scope),
        )

    def _list_terms(
        self,
        scope: _TermScope,
        *,
        query: dict[str, str],
        query_pairs: list[tuple[str, str]],
        site: str,
        authenticated: bool,
        **kw: Any,
    ) -> Reply:
        with self.store.lock:
            terms = scope(site=site, **kw)
            counts = terms.counts()
            return self._term_list(
                self.catalog.taxonomy_terms(terms.taxonomy),
                lambda t: counts.get(terms.count_key(t), 0),
                query,
                query_pairs,
                site,
                terms.route,
                lambda t: terms.json(t, counts),
                authenticated,
                hierarchical=terms.hierarchical,
            )

    def _get_term(
        self, scope: _TermScope, *, tid: int, query: dict[str, str], site: str, authenticated: bool, **kw: Any
    ) -> Reply:
        with self.store.lock:
            terms = scope(site=site, **kw)
            term = self.catalog.get_term(terms.taxonomy, tid)
            self._require(authenticated, "view")
            return Reply(200, self._fields(query, terms.json(term)))

    def _create_term(
        self, scope: _TermScope, *, data: dict[str, Any], site: str, authenticated: bool, **kw: Any
    ) -> Reply:
        self._require_name(data)
        with self.store.lock:
            terms = scope(site=site, **kw)
            self._require(authenticated, "create")
            term = self.catalog.create_term(terms.taxonomy, data, hierarchical=terms.hierarchical)
            location = f"{site}{API_PREFIX}{terms.route}/{term.id}"
            return Reply(201, terms.json(term), [("Location", location)])

    def _update_term(
        self, scope: _TermScope, *, tid: int, data: dict[str, Any], site: str, authenticated: bool, **kw: Any
    ) -> Reply:
        with self.store.lock:
            terms = scope(site=site, **kw)
            self.catalog.get_term(terms.taxonomy, tid)
            self._require(authenticated, "edit")
            term = self.catalog.update_term(terms.taxonomy, tid, data, hierarchical=terms.hierarchical)
            return Reply(200, terms.json(term))

    def _delete_term(
        self, scope: _TermScope, *, tid: int, query: dict[str, str], site: str, authenticated: bool, **kw: Any
    ) -> Reply:
        force = self._force(query)
        with self.store.lock:
            terms = scope(site=site, **kw)
            term = self.catalog.get_term(terms.taxonomy, tid)
            self._require(authenticated, "delete")
            self._term_force(force)
            before = terms.json(term)
            self.catalog.delete_term(terms.taxonomy, tid)
            return Reply(200, before)

    def _batch_terms(
        self, scope: _TermScope, *, data: dict[str, Any], site: str, authenticated: bool, **kw: Any
    ) -> Reply:
        with self.store.lock:
            terms = scope(site=site, **kw)
        self._require(authenticated, "batch")

        def create(d: dict[str, Any]) -> dict[str, Any]:
            self._require_name(d)
            return terms.json(self.catalog.create_term(terms.taxonomy, d, hierarchical=terms.hierarchical))

        def update(d: dict[str, Any]) -> dict[str, Any]:
            tid = int(d.get("id") or 0)
            self.catalog.get_term(terms.taxonomy, tid)
            return terms.json(self.catalog.update_term(terms.taxonomy, tid, d, hierarchical=terms.hierarchical))

        def delete(tid: int) -> dict[str, Any]:
            before = terms.json(self.catalog.get_term(terms.taxonomy, tid))
            self.catalog.delete_term(terms.taxonomy, tid)
            return before

        return self._batch(data, create=create, update=update, delete=delete)

    # ------------------------------------------------------------------ coupons

    def list_coupons(
        self, *, query: dict[str, str], query_pairs: list[tuple[str, str]], site: str, authenticated: bool, **_: Any
    ) -> Reply:
        v = Validator(query)
        page, per_page, order, orderby = self._paging(v, COUPON_ORDERBY, "date", "desc")
        include = v.int_list("include")
        exclude = v.int_list("exclude")
        v.errors.raise_if_any()
        self._require(authenticated, "list")
        with self.store.lock:
            rows = [c for c in self.catalog.coupons.values() if c.status != "trash"]
            if query.get("code"):
                found = self.catalog.coupon_by_code(query["code"])
                rows = [c for c in rows if found is not None and c.id == found.id]
            if include:
                rows = [c for c in rows if c.id in set(include)]
            if exclude:
                rows = [c for c in rows if c.id not in set(exclude)]
            if query.get("search"):
                needle = query["search"].lower()
                rows = [c for c in rows if needle in c.code]
            keys: dict[str, Callable[[Any], Any]] = {
                "date": lambda c: c.created,
                "id": lambda c: c.id,
                "title": lambda c: c.code,
                "slug": lambda c: c.code,
                "modified": lambda c: c.modified,
            }
            if orderby == "include" and include:
                rows.sort(key=lambda c: include.index(c.id))
            else:
                rows.sort(key=lambda c: (keys.get(orderby, keys["date"])(c), c.id), reverse=order == "desc")
            total = len(rows)
            chunk = rows[(page - 1) * per_page : page * per_page]
            items = [self._fields(query, self.catalog.render_coupon(c, site)) for c in chunk]
        return self._list_reply(items, total, page, per_page, site, "/coupons", query_pairs)

    def get_coupon(self, *, cid: int, query: dict[str, str], site: str, authenticated: bool, **_: Any) -> Reply:
        with self.store.lock:
            coupon = self.catalog.get_coupon(cid)
            self._require(authenticated, "view")
            return Reply(200, self._fields(query, self.catalog.render_coupon(coupon, site)))

    def create_coupon(self, *, data: dict[str, Any], site: str, authenticated: bool, **_: Any) -> Reply:
        self._check_coupon_params(data, creating=True)
        self._require(authenticated, "create")
        with self.store.lock:
            coupon = self.catalog.create_coupon(data)
            location = f"{site}{API_PREFIX}/coupons/{coupon.id}"
            return Reply(201, self.catalog.render_coupon(coupon, site), [("Location", location)])

    def update_coupon(self, *, cid: int, data: dict[str, Any], site: str, authenticated: bool, **_: Any) -> Reply:
        self._check_coupon_params(data, creating=False)
        with self.store.lock:
            coupon = update_of_unknown_is_400(lambda: self.catalog.get_coupon(cid))
            self._require(authenticated, "edit")
            return Reply(200, self.catalog.render_coupon(self.catalog.update_coupon(coupon.id, data), site))

    def delete_coupon(self, *, cid: int, query: dict[str, str], site: str, authenticated: bool, **_: Any) -> Reply:
        force = self._force(query)
        with self.store.lock:
            self.catalog.get_coupon(cid)
            self._require(authenticated, "delete")
            return Reply(200, self.catalog.render_coupon(self.catalog.delete_coupon(cid, force), site))

    def batch_coupons(self, *, data: dict[str, Any], site: str, authenticated: bool, **_: Any) -> Reply:
        self._require(authenticated, "batch")

        def create(d: dict[str, Any]) -> dict[str, Any]:
            self._check_coupon_params(d, creating=True)
            return self.catalog.render_coupon(self.catalog.create_coupon(d), site)

        def update(d: dict[str, Any]) -> dict[str, Any]:
            self._check_coupon_params(d, creating=False)
            coupon = update_of_unknown_is_400(lambda: self.catalog.update_coupon(int(d.get("id") or 0), d))
            return self.catalog.render_coupon(coupon, site)

        return self._batch(
            data,
            create=create,
            update=update,
            delete=lambda i: self.catalog.render_coupon(self.catalog.delete_coupon(i, True), site),
        )

    @staticmethod
    def _check_coupon_params(data: dict[str, Any], creating: bool) -> None:
        """``code`` is a required argument of the create route; ``discount_type`` an enum."""
        if creating and "code" not in data:
            raise StoreError(400, "rest_missing_callback_param", "Missing parameter(s): code", params=["code"])
        errs = ParamErrors()
        if "discount_type" in data and data["discount_type"] not in COUPON_TYPES:
            errs.add("discount_type", "rest_not_in_enum", f"discount_type is not one of {wp_list(list(COUPON_TYPES))}.")
        for key in ("usage_limit", "usage_limit_per_user", "limit_usage_to_x_items"):
            value = data.get(key)
            if value is not None and (isinstance(value, bool) or not str(value).lstrip("-").isdigit()):
                errs.add(key, "rest_invalid_type", f"{key} is not of type integer.", {"param": key})
        errs.raise_if_any()

    # ------------------------------------------------------------------ order notes

    def list_notes(self, *, oid: int, query: dict[str, str], site: str, authenticated: bool, **_: Any) -> Reply:
        """Not paginated: no X-WP-Total headers (recorded). An unknown order: 404 ``..._shop_order_invalid_id``."""
        v = Validator(query)
        kind = v.enum("type", ["any", "customer", "internal"], "any")
        v.errors.raise_if_any()
        self._require(authenticated, "list")
        with self.store.lock:
            if oid not in self.store.orders:
                raise StoreError(404, "woocommerce_rest_shop_order_invalid_id", "Invalid order ID.")
            notes = self.store.order_notes(oid)
            if kind == "customer":
                notes = [n for n in notes if n.customer_note]
            elif kind == "internal":
                notes = [n for n in notes if not n.customer_note]
            return Reply(200, [self._fields(query, render_note(n, self.store.tz, site)) for n in notes])

    def create_note(self, *, oid: int, data: dict[str, Any], site: str, authenticated: bool, **_: Any) -> Reply:
        if "note" not in data:
            raise StoreError(400, "rest_missing_callback_param", "Missing parameter(s): note", params=["note"])
        self._require(authenticated, "create")
        with self.store.lock:
            if oid not in self.store.orders:
                # The create path words the code differently from the list path (WooCommerce's own inconsistency).
                raise StoreError(404, "woocommerce_rest_order_invalid_id", "Invalid order ID.")
            author = "admin" if data.get("added_by_user") is True else "WooCommerce"
            note = self.store.add_note(oid, str(data.get("note") or ""), bool(data.get("customer_note")), author)
            location = f"{site}{API_PREFIX}/orders/{oid}/notes/{note.id}"
            return Reply(201, render_note(note, self.store.tz, site), [("Location", location)])

    def _note(self, oid: int, nid: int) -> Any:
        if oid not in self.store.orders:
            raise StoreError(404, "woocommerce_rest_order_invalid_id", "Invalid order ID.")
        note = next((n for n in self.store.notes.get(oid, []) if n.id == nid), None)
        if note is None:
            raise StoreError(404, "woocommerce_rest_invalid_id", "Invalid resource ID.")
        return note

    def get_note(self, *, oid: int, nid: int, query: dict[str, str], site: str, authenticated: bool, **_: Any) -> Reply:
        with self.store.lock:
            if oid in self.store.orders:
                self._require(authenticated, "view")
            return Reply(200, self._fields(query, render_note(self._note(oid, nid), self.store.tz, site)))

    def delete_note(
        self, *, oid: int, nid: int, query: dict[str, str], site: str, authenticated: bool, **_: Any
    ) -> Reply:
        force = self._force(query)
        with self.store.lock:
            if oid in self.store.orders:
                self._require(authenticated, "delete")
            if not force:
                # WooCommerce's message really says "Webhooks" here.
                raise StoreError(501, "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.")
            note = self._note(oid, nid)
            self.store.delete_note(oid, nid)
            return Reply(200, render_note(note, self.store.tz, site))

    # ------------------------------------------------------------------ refunds

    def list_refunds(
        self,
        *,
        oid: int,
        query: dict[str, str],
        query_pairs: list[tuple[str, str]],
        site: str,
        authenticated: bool,
        **_: Any,
    ) -> Reply:
        v = Validator(query)
        page = v.integer("page", 1, minimum=1)
        per_page = v.integer("per_page", 10, minimum=1, maximum=100)
        v.errors.raise_if_any()
        self._require(authenticated, "list")
        with self.store.lock:
            rows = self.store.order_refunds(oid)
            chunk = rows[(page - 1) * per_page : page * per_page]
            items = [self._fields(query, render_refund(r, self.store.tz, site)) for r in chunk]
        return self._list_reply(items, len(rows), page, per_page, site, f"/orders/{oid}/refunds", query_pairs)

    def get_refund(
        self, *, oid: int, rid: int, query: dict[str, str], site: str, authenticated: bool, **_: Any
    ) -> Reply:
        with self.store.lock:
            if rid in self.store.refunds:
                self._require(authenticated, "view")
            refund = self.store.get_refund(oid, rid)
            return Reply(200, self._fields(query, render_refund(refund, self.store.tz, site)))

    def create_refund(self, *, oid: int, data: dict[str, Any], site: str, authenticated: bool, **_: Any) -> Reply:
        """201; the recorded ``Location`` keeps the route's regex: ``orders/(?P<order_id>[\\d]+)/refunds/41``."""
        self._require(authenticated, "create")
        with self.store.lock:
            refund = self.store.create_refund(oid, data)
            location = f"{site}{API_PREFIX}/orders/(?P<order_id>[\\d]+)/refunds/{refund.id}"
            return Reply(201, render_refund(refund, self.store.tz, site), [("Location", location)])

    def delete_refund(
        self, *, oid: int, rid: int, query: dict[str, str], site: str, authenticated: bool, **_: Any
    ) -> Reply:
        """Refunds cannot be trashed; ``force`` defaults to true on this route."""
        v = Validator(query)
        force = v.boolean("force", default=True)
        v.errors.raise_if_any()
        with self.store.lock:
            if rid in self.store.refunds:
                self._require(authenticated, "delete")
            if not force:
                raise StoreError(
                    501, "woocommerce_rest_trash_not_supported", "The shop_order_refund does not support trashing."
                )
            before = render_refund(self.store.get_refund(oid, rid), self.store.tz, site)
            self.store.delete_refund(oid, rid)
            return Reply(200, before)

    # ------------------------------------------------------------------ system status and index

    def system_status(self, *, query: dict[str, str], site: str, authenticated: bool, **_: Any) -> Reply:
        """The parts of GET /system_status a client reads: versions, store settings (currency), HPOS, counts."""
        self._require(authenticated, "list")
        with self.store.lock:
            store = self.store
            counts = [
                ("attachment", 0),
                ("page", 7),
                ("product", len(store.products)),
                ("product_variation", len(store.variations)),
                ("shop_coupon", len(self.catalog.coupons)),
                ("shop_order_placehold", len(store.orders) + len(store.refunds)),
            ]
            body = _system_status(site, store.name, counts)
        return Reply(200, self._fields(query, body))

    def api_index(self, site: str, root: bool) -> Reply:
        """GET /wp-json/wc/v3 (the namespace index) or GET /wp-json/ (the site index, wc/v3 routes only)."""
        recorded = _recorded_index()
        routes: dict[str, Any] = {}
        for name in recorded["route_names"]:
            if name in recorded["routes"]:
                routes[name] = json.loads(json.dumps(recorded["routes"][name]).replace("{site}", site))
                continue
            methods = _route_methods(name)
            entry: dict[str, Any] = {
                "namespace": "wc/v3",
                "methods": methods,
                "endpoints": [{"methods": methods, "args": {}}],
            }
            if "(?P<" not in name:
                entry["_links"] = {"self": [{"href": f"{site}/wp-json{name}"}]}
            routes[name] = entry
        if not root:
            return Reply(
                200, {"namespace": "wc/v3", "routes": routes, "_links": {"up": [{"href": f"{site}/wp-json/"}]}}
            )
        body = {
            "name": f"{self.store.name}",
            "description": "",
            "url": site,
            "home": site,
            "gmt_offset": "0",
            "timezone_string": str(self.store.tz),
            "page_for_posts": 0,
            "page_on_front": 0,
            "show_on_front": "posts",
            "namespaces": ["oembed/1.0", "wc/v1", "wc/v2", "wc/v3", "wc-telemetry", "wp/v2", "wp-site-health/v1"],
            "authentication": [],
            "routes": {"/": {"namespace": "", "methods": ["GET"], "endpoints": [], "_links": {}}, **routes},
            "site_logo": 0,
            "site_icon": 0,
            "site_icon_url": "",
            "_links": {"help": [{"href": "https://developer.wordpress.org/rest-api/"}]},
        }
        return Reply(200, body)

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _force(query: dict[str, str]) -> bool:
        v = Validator(query)
        force = v.boolean("force")
        v.errors.raise_if_any()
        return force

    @staticmethod
    def _term_force(force: bool) -> None:
        if not force:
            raise StoreError(501, "woocommerce_rest_trash_not_supported", "Resource does not support trashing.")

    @staticmethod
    def _require_name(data: dict[str, Any]) -> None:
        """``name`` is a required argument of the create routes (checked before the credentials)."""
        if "name" not in data:
            raise StoreError(400, "rest_missing_callback_param", "Missing parameter(s): name", params=["name"])


def _system_status(site: str, shop: str, counts: list[tuple[str, int]]) -> dict[str, Any]:
    """The sandbox's system status, with the recorded keys (system-status.json) and values of its kind."""
    return {
        "environment": {
            "home_url": site,
            "site_url": site,
            "store_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox:{shop}")),
            "version": WC_VERSION,
            "log_directory": "/var/www/wordpress/wp-content/uploads/wc-logs/",
            "log_directory_writable": True,
            "wp_version": WP_VERSION,
            "wp_multisite": False,
            "wp_memory_limit": 134217728,
            "wp_debug_mode": False,
            "wp_cron": False,
            "language": "en_US",
            "external_object_cache": None,
            "server_info": "nginx/1.22.1",
            "server_architecture": "Linux x86_64",
            "php_version": "8.2.36",
            "php_post_max_size": 8388608,
            "php_max_execution_time": 30,
            "php_max_input_vars": 1000,
            "curl_version": "7.88.1, OpenSSL/3.0.22",
            "suhosin_installed": False,
            "max_upload_size": 2097152,
            "mysql_version": "10.11.19",
            "mysql_version_string": "10.11.19-MariaDB-0+deb12u1",
            "default_timezone": "UTC",
            "fsockopen_or_curl_enabled": True,
            "soapclient_enabled": True,
            "domdocument_enabled": True,
            "gzip_enabled": True,
            "mbstring_enabled": True,
            "remote_post_successful": False,
            "remote_post_response": False,
            "remote_get_successful": False,
            "remote_get_response": False,
        },
        "database": {
            "wc_database_version": WC_VERSION,
            "database_prefix": "wp_",
            "maxmind_geoip_database": "",
            "database_tables": {"woocommerce": {}, "other": {}},
            "database_size": {"data": 1.3, "index": 1.74},
        },
        "active_plugins": [
            {
                "plugin": "woocommerce/woocommerce.php",
                "name": "WooCommerce",
                "version": WC_VERSION,
                "version_latest": WC_VERSION,
                "url": "https://woocommerce.com/",
                "author_name": "Automattic",
                "author_url": "https://woocommerce.com",
                "network_activated": False,
            }
        ],
        "inactive_plugins": [],
        "dropins_mu_plugins": {"dropins": [], "mu_plugins": []},
        "theme": {
            "name": "Twenty Twenty-Five",
            "version": "1.3",
            "version_latest": 0,
            "author_url": "https://wordpress.org",
            "is_child_theme": False,
            "is_block_theme": True,
            "has_woocommerce_support": False,
            "has_woocommerce_file": False,
            "has_outdated_templates": False,
            "overrides": [],
            "parent_name": "",
            "parent_version": "",
            "parent_version_latest": "",
            "parent_author_url": "",
        },
        "settings": {
            "api_enabled": False,
            "force_ssl": False,
            "currency": "EUR",
            "currency_symbol": "&euro;",
            "currency_position": "left",
            "thousand_separator": ",",
            "decimal_separator": ".",
            "number_of_decimals": 2,
            "geolocation_enabled": False,
            "taxonomies": {"external": "external", "grouped": "grouped", "simple": "simple", "variable": "variable"},
            "product_visibility_terms": {
                "exclude-from-catalog": "exclude-from-catalog",
                "exclude-from-search": "exclude-from-search",
                "featured": "featured",
                "outofstock": "outofstock",
                "rated-1": "rated-1",
                "rated-2": "rated-2",
                "rated-3": "rated-3",
                "rated-4": "rated-4",
                "rated-5": "rated-5",
            },
            "woocommerce_com_connected": "no",
            "enforce_approved_download_dirs": True,
            "order_datastore": "Automattic\\WooCommerce\\Internal\\DataStores\\Orders\\OrdersTableDataStore",
            "HPOS_enabled": True,
            "HPOS_sync_enabled": False,
            "enabled_features": ["analytics", "marketplace", "order_attribution", "custom_order_tables"],
        },
        "security": {"secure_connection": site.startswith("https://"), "hide_errors": True},
        "pages": [],
        "post_type_counts": [{"type": t, "count": str(n)} for t, n in counts],
        "logging": {
            "logging_enabled": True,
            "default_handler": "Automattic\\WooCommerce\\Internal\\Admin\\Logging\\LogHandlerFileV2",
            "retention_period_days": 30,
            "level_threshold": "",
            "log_directory_size": "0 B",
        },
    }
