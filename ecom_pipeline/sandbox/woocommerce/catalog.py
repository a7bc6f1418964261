"""Taxonomies and coupons of the emulated WooCommerce shop: categories, tags, global attributes with their terms,
coupons.

What WordPress/WooCommerce 10.0.2 does and this copies (recordings ``product-categories-*``,
``product-attributes-*``, ``product-attribute-terms-create``, ``coupons-*``):

- Term ids come from one sequence shared by every taxonomy (``wp_terms``): Uncategorized is 15, the seeded
  categories 16-19, attribute terms follow. Attribute ids are their own sequence (1 Size, 2 Colour).
- Names and descriptions are stored HTML-escaped (``"Mugs & Cups"`` comes back ``"Mugs &amp; Cups"``).
- A global attribute's ``slug`` is its taxonomy name: ``size`` is stored and answered as ``pa_size``.
- A term whose name already exists in the taxonomy is refused with ``term_exists`` and the existing id in
  ``data.resource_id``; categories (hierarchical) only clash with siblings under the same parent, tags
  (``product_tag``, not hierarchical: a ``parent`` is refused) with any tag of that name. A name longer than
  ``wp_terms.name`` (200 characters) is refused by the database: ``db_insert_error``.
- Products name their categories and tags by id on write (``{"id": N}``; unknown ids dropped) and answer
  ``{"id", "name", "slug"}`` for each.
- Coupon codes are stored lower-cased and are unique among published coupons
  (``woocommerce_rest_coupon_code_already_exists``). Money fields are strings with 2 decimals.
- Category ``count`` is the number of published products in it; attribute term ``count`` the number of
  products using the term.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from ecom_pipeline.sandbox.woocommerce.errors import StoreError, found, invalid_id
from ecom_pipeline.sandbox.woocommerce.records import ITEM_ALLOW, money, wp_date

if TYPE_CHECKING:
    from ecom_pipeline.sandbox.woocommerce.store import WooStore

UNCATEGORIZED_ID = 15
MAX_TERM_NAME = 200  # wp_terms.name is varchar(200)
ATTRIBUTE_TYPES = ("select",)
ATTRIBUTE_ORDER_BY = ("menu_order", "name", "name_num", "id")
COUPON_TYPES = ("percent", "fixed_cart", "fixed_product")
# Reserved WordPress query vars an attribute slug may not take: wc_check_if_attribute_name_is_reserved's list.
RESERVED_SLUGS = frozenset(
    {
        "attachment",
        "attachment_id",
        "author",
        "author_name",
        "calendar",
        "cat",
        "category",
        "category__and",
        "category__in",
        "category__not_in",
        "category_name",
        "comments_per_page",
        "comments_popup",
        "cpage",
        "day",
        "debug",
        "error",
        "exact",
        "feed",
        "hour",
        "link_category",
        "m",
        "minute",
        "monthnum",
        "more",
        "name",
        "nav_menu",
        "nopaging",
        "offset",
        "order",
        "orderby",
        "p",
        "page",
        "page_id",
        "paged",
        "pagename",
        "pb",
        "perm",
        "post",
        "post__in",
        "post__not_in",
        "post_format",
        "post_mime_type",
        "post_status",
        "post_tag",
        "post_type",
        "posts",
        "posts_per_archive_page",
        "posts_per_page",
        "preview",
        "robots",
        "s",
        "search",
        "second",
        "sentence",
        "showposts",
        "static",
        "subpost",
        "subpost_id",
        "tag",
        "tag__and",
        "tag__in",
        "tag__not_in",
        "tag_id",
        "tag_slug__and",
        "tag_slug__in",
        "taxonomy",
        "tb",
        "term",
        "type",
        "w",
        "withcomments",
        "withoutcomments",
        "year",
    }
)


def esc_html(text: str) -> str:
    """How WordPress stores a term name/description: ``&``, ``<``, ``>`` escaped, quotes kept."""
    return html.escape(html.unescape(text), quote=False)


def sanitize_title(text: str) -> str:
    """WordPress ``sanitize_title`` for slugs: accents folded, lower-case, dashes, ``&amp;`` dropped."""
    text = html.unescape(text)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-z0-9_\s-]", "", text.lower())
    return re.sub(r"[\s-]+", "-", text).strip("-")


@dataclass(slots=True)
class Term:
    """A term of ``product_cat`` or of an attribute taxonomy (``pa_<slug>``)."""

    id: int
    taxonomy: str
    name: str
    slug: str
    description: str = ""
    parent: int = 0
    menu_order: int = 0
    display: str = "default"
    image: dict[str, Any] | None = None


@dataclass(slots=True)
class Attribute:
    """A global product attribute (``woocommerce_attribute_taxonomies`` row); ``slug`` without ``pa_``."""

    id: int
    name: str
    slug: str
    type: str = "select"
    order_by: str = "menu_order"
    has_archives: bool = False

    @property
    def taxonomy(self) -> str:
        return f"pa_{self.slug}"


@dataclass(slots=True)
class Coupon:
    """A ``shop_coupon`` post."""

    id: int
    code: str
    created: int
    modified: int
    amount: str = "0.00"
    status: str = "publish"
    discount_type: str = "fixed_cart"
    description: str = ""
    date_expires: int | None = None
    usage_count: int = 0
    individual_use: bool = False
    product_ids: list[int] = field(default_factory=list)
    excluded_product_ids: list[int] = field(default_factory=list)
    usage_limit: int | None = None
    usage_limit_per_user: int | None = None
    limit_usage_to_x_items: int | None = None
    free_shipping: bool = False
    product_categories: list[int] = field(default_factory=list)
    excluded_product_categories: list[int] = field(default_factory=list)
    exclude_sale_items: bool = False
    minimum_amount: str = "0.00"
    maximum_amount: str = "0.00"
    email_restrictions: list[str] = field(default_factory=list)
    used_by: list[str] = field(default_factory=list)
    meta_data: list[dict[str, Any]] = field(default_factory=list)


def _links(self_href: str, collection: str, up: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "self": [{"href": self_href, "targetHints": {"allow": list(ITEM_ALLOW)}}],
        "collection": [{"href": collection}],
    }
    if up is not None:
        out["up"] = [{"href": up}]
    return out


class WooCatalog:
    """Categories, attributes, terms and coupons of one :class:`WooStore` (guarded by the store's lock)."""

    def __init__(self, store: WooStore) -> None:
        self.store = store
        self.terms: dict[int, Term] = {}
        self.attributes: dict[int, Attribute] = {}
        self.coupons: dict[int, Coupon] = {}
        self._next_term = UNCATEGORIZED_ID - 1
        self._next_attribute = 0

    # ------------------------------------------------------------------ seeding

    def seed(self, categories: list[dict[str, Any]], attributes: dict[str, list[str]]) -> None:
        """Uncategorized (15), the seeded categories (16-19), then each attribute and its terms."""
        self._add_term("product_cat", "Uncategorized", "uncategorized")
        for cat in categories:
            term = self._add_term("product_cat", html.unescape(cat["name"]), cat["slug"])
            term.description = f"Category {term.name}"
            assert term.id == cat["id"], "seeded category ids must follow Uncategorized"
        for name, values in attributes.items():
            attr = self._add_attribute(name, sanitize_title(name))
            for value in values:
                self._add_term(attr.taxonomy, value, sanitize_title(value))

    def _add_term(self, taxonomy: str, name: str, slug: str, **extra: Any) -> Term:
        self._next_term += 1
        term = Term(self._next_term, taxonomy, esc_html(name), slug, **extra)
        self.terms[term.id] = term
        return term

    def _add_attribute(self, name: str, slug: str, **extra: Any) -> Attribute:
        self._next_attribute += 1
        attr = Attribute(self._next_attribute, name, slug, **extra)
        self.attributes[attr.id] = attr
        return attr

    # ------------------------------------------------------------------ terms (categories and attribute terms)

    def taxonomy_terms(self, taxonomy: str) -> list[Term]:
        return [t for t in self.terms.values() if t.taxonomy == taxonomy]

    def get_term(self, taxonomy: str, term_id: int) -> Term:
        """The term, or WooCommerce's permission-check 404 (given before the credentials are even looked at)."""
        term = self.terms.get(term_id)
        if term is None or term.taxonomy != taxonomy:
            raise StoreError(404, "woocommerce_rest_term_invalid", "Resource does not exist.")
        return term

    def create_term(self, taxonomy: str, data: dict[str, Any], hierarchical: bool) -> Term:
        """``wp_insert_term``: name required, clash on an existing name, unique slug, parent must exist."""
        name = str(data.get("name") or "").strip()
        if not name:
            raise StoreError(400, "empty_term_name", "A name is required for this term.")
        if len(name) > MAX_TERM_NAME:
            # wpdb refuses a value longer than its column (wp_terms.name varchar(200)): wp_insert_term's error.
            raise StoreError(400, "db_insert_error", "Could not insert term into the database.")
        parent = int(data.get("parent") or 0) if hierarchical else 0
        if "parent" in data and not hierarchical:
            raise StoreError(
                400,
                "woocommerce_rest_taxonomy_not_hierarchical",
                "Can not set resource parent, taxonomy is not hierarchical.",
            )
        if parent and (parent not in self.terms or self.terms[parent].taxonomy != taxonomy):
            raise StoreError(400, "missing_parent", "Parent term does not exist.")
        slug_given = bool(data.get("slug"))
        slug = sanitize_title(str(data.get("slug") or name)) or sanitize_title(name)
        escaped = esc_html(name)
        for term in self.taxonomy_terms(taxonomy):
            same_name = term.name.lower() == escaped.lower() and (not hierarchical or term.parent == parent)
            if same_name and (not slug_given or term.slug == slug or self._slug_taken(taxonomy, slug)):
                message = (
                    "A term with the name provided already exists with this parent."
                    if hierarchical
                    else "A term with the name provided already exists in this taxonomy."
                )
                raise StoreError(400, "term_exists", message, resource_id=term.id)
        slug = self._unique_slug(taxonomy, slug)
        term = self._add_term(
            taxonomy,
            name,
            slug,
            description=esc_html(str(data.get("description") or "")),
            parent=parent,
            menu_order=int(data.get("menu_order") or 0),
            display=str(data.get("display") or "default"),
            image=data.get("image") if isinstance(data.get("image"), dict) else None,
        )
        self.store.touch_catalog()
        return term

    def _slug_taken(self, taxonomy: str, slug: str, own_id: int | None = None) -> bool:
        return any(t.slug == slug and t.id != own_id for t in self.taxonomy_terms(taxonomy))

    def _unique_slug(self, taxonomy: str, slug: str, own_id: int | None = None) -> str:
        candidate, n = slug, 1
        while self._slug_taken(taxonomy, candidate, own_id):
            n += 1
            candidate = f"{slug}-{n}"
        return candidate

    def update_term(self, taxonomy: str, term_id: int, data: dict[str, Any], hierarchical: bool) -> Term:
        term = self.get_term(taxonomy, term_id)
        if "parent" in data and not hierarchical:
            raise StoreError(
                400,
                "woocommerce_rest_taxonomy_not_hierarchical",
                "Can not set resource parent, taxonomy is not hierarchical.",
            )
        if data.get("slug"):
            slug = sanitize_title(str(data["slug"]))
            if self._slug_taken(taxonomy, slug, term.id):
                raise StoreError(
                    400, "duplicate_term_slug", f"The slug \u201c{slug}\u201d is already in use by another term."
                )
            term.slug = slug
        if "name" in data and str(data["name"]).strip():
            term.name = esc_html(str(data["name"]).strip())
        if "description" in data:
            term.description = esc_html(str(data["description"] or ""))
        if "parent" in data:
            parent = int(data["parent"] or 0)
            if parent and (parent not in self.terms or self.terms[parent].taxonomy != taxonomy):
                raise StoreError(400, "missing_parent", "Parent term does not exist.")
            term.parent = parent
        for key in ("menu_order",):
            if key in data:
                term.menu_order = int(data[key] or 0)
        if "display" in data:
            term.display = str(data["display"])
        if "image" in data:
            term.image = data["image"] if isinstance(data["image"], dict) else None
        if taxonomy in ("product_cat", "product_tag"):
            self._rename_in_products(term)
        self.store.touch_catalog()
        return term

    def delete_term(self, taxonomy: str, term_id: int) -> Term:
        """``wp_delete_term``; products left without a category fall back to Uncategorized (as WooCommerce does)."""
        term = self.get_term(taxonomy, term_id)
        if taxonomy == "product_cat" and term_id == UNCATEGORIZED_ID:
            raise StoreError(500, "woocommerce_rest_cannot_delete", "Default product category cannot be deleted.")
        del self.terms[term_id]
        for child in self.taxonomy_terms(taxonomy):
            if child.parent == term_id:
                child.parent = term.parent
        store = self.store
        if taxonomy == "product_cat":
            fallback = self.terms[UNCATEGORIZED_ID]
            for p in store.products.values():
                if any(c.get("id") == term_id for c in p.categories):
                    p.categories = [c for c in p.categories if c.get("id") != term_id] or [self.category_ref(fallback)]
        elif taxonomy == "product_tag":
            for p in store.products.values():
                p.tags = [t for t in p.tags if t.get("id") != term_id]
        else:
            name = html.unescape(term.name)
            for p in store.products.values():
                for a in p.attributes:
                    if a.get("slug") == taxonomy and name in a.get("options", []):
                        a["options"] = [o for o in a["options"] if o != name]
        store.touch_catalog()
        return term

    @staticmethod
    def category_ref(term: Term) -> dict[str, Any]:
        """How a product lists its category: ``{"id", "name", "slug"}``."""
        return {"id": term.id, "name": term.name, "slug": term.slug}

    def _rename_in_products(self, term: Term) -> None:
        for p in self.store.products.values():
            for c in p.categories if term.taxonomy == "product_cat" else p.tags:
                if c.get("id") == term.id:
                    c["name"], c["slug"] = term.name, term.slug

    def _published_term_counts(self, attr: str) -> dict[int, int]:
        """Published products carrying each term of their ``attr`` list (``categories`` or ``tags``), by term id."""
        counts: dict[int, int] = {}
        for p in self.store.products.values():
            if p.status != "publish":
                continue
            for t in getattr(p, attr):
                counts[t.get("id", 0)] = counts.get(t.get("id", 0), 0) + 1
        return counts

    def category_counts(self) -> dict[int, int]:
        return self._published_term_counts("categories")

    def term_counts(self, taxonomy: str) -> dict[str, int]:
        """Products using each term (by stored name) of an attribute taxonomy."""
        counts: dict[str, int] = {}
        for p in self.store.products.values():
            if p.status != "publish":
                continue
            for a in p.attributes:
                if a.get("slug") == taxonomy:
                    for option in a.get("options", []):
                        key = esc_html(str(option))
                        counts[key] = counts.get(key, 0) + 1
        return counts

    def product_categories(self, refs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Resolve ``[{"id": N}]`` from a product write; unknown ids are dropped, as ``wp_set_object_terms`` does."""
        out = []
        for ref in refs:
            try:
                term = self.terms.get(int(ref.get("id") or 0))
            except (TypeError, ValueError):
                term = None
            if term is not None and term.taxonomy == "product_cat":
                out.append(self.category_ref(term))
        return out

    def tag_counts(self) -> dict[int, int]:
        """Published products carrying each tag."""
        return self._published_term_counts("tags")

    def product_tags(self, refs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Resolve ``[{"id": N}]`` from a product write (WooCommerce's ``save_taxonomy_terms`` reads only ids);
        unknown ids are dropped."""
        out: list[dict[str, Any]] = []
        for ref in refs:
            try:
                term = self.terms.get(int(ref.get("id") or 0)) if isinstance(ref, dict) else None
            except (TypeError, ValueError):
                term = None
            if term is not None and term.taxonomy == "product_tag" and all(t["id"] != term.id for t in out):
                out.append(self.category_ref(term))
        return out

    def render_tag(self, term: Term, site: str, count: int) -> dict[str, Any]:
        """A ``product_tag`` term as ``/products/tags`` answers it (no parent, display or image)."""
        api = f"{site}/wp-json/wc/v3/products/tags"
        return {
            "id": term.id,
            "name": term.name,
            "slug": term.slug,
            "description": term.description,
            "count": count,
            "_links": _links(f"{api}/{term.id}", api),
        }

    def render_category(self, term: Term, site: str, count: int) -> dict[str, Any]:
        api = f"{site}/wp-json/wc/v3/products/categories"
        links = _links(f"{api}/{term.id}", api)
        if term.parent and term.parent in self.terms:
            links["up"] = [{"href": f"{api}/{term.parent}"}]
        return {
            "id": term.id,
            "name": term.name,
            "slug": term.slug,
            "parent": term.parent,
            "description": term.description,
            "display": term.display,
            "image": term.image,
            "menu_order": term.menu_order,
            "count": count,
            "_links": links,
        }

    def render_term(self, attr: Attribute, term: Term, site: str, count: int) -> dict[str, Any]:
        api = f"{site}/wp-json/wc/v3/products/attributes/{attr.id}/terms"
        return {
            "id": term.id,
            "name": term.name,
            "slug": term.slug,
            "description": term.description,
            "menu_order": term.menu_order,
            "count": count,
            "_links": _links(f"{api}/{term.id}", api),
        }

    # ------------------------------------------------------------------ attributes

    def get_attribute(self, attribute_id: int) -> Attribute:
        return found(
            self.attributes,
            attribute_id,
            StoreError(404, "woocommerce_rest_taxonomy_invalid", "Resource does not exist."),
        )

    def attribute_for_terms(self, attribute_id: int) -> Attribute:
        """Attribute of a ``/terms`` route; the terms controller words its 404 differently."""
        return found(
            self.attributes,
            attribute_id,
            StoreError(404, "woocommerce_rest_taxonomy_invalid", "Taxonomy does not exist."),
        )

    def _check_attribute(self, data: dict[str, Any], own: Attribute | None) -> tuple[str, str]:
        """``wc_create_attribute`` validation; errors surface as ``woocommerce_rest_cannot_create|edit``."""
        name = str(data.get("name") if data.get("name") is not None else (own.name if own else "")).strip()
        if not name:
            raise ValueError("Please, provide an attribute name.")
        raw_slug = data.get("slug") if data.get("slug") else (own.slug if own and "slug" not in data else name)
        slug = re.sub(r"^pa_", "", sanitize_title(str(raw_slug)).replace("-", "-"))
        if len(slug) > 28:
            raise ValueError(f'Slug "{slug}" is too long (28 characters max). Shorten it, please.')
        if slug in RESERVED_SLUGS:
            raise ValueError(f'Slug "{slug}" is not allowed because it is a reserved term. Change it, please.')
        taken = any(a.slug == slug and (own is None or a.id != own.id) for a in self.attributes.values())
        if taken:
            raise ValueError(f'Slug "{slug}" is already in use. Change it, please.')
        return name, slug

    def create_attribute(self, data: dict[str, Any]) -> Attribute:
        try:
            name, slug = self._check_attribute(data, None)
        except ValueError as exc:
            raise StoreError(400, "woocommerce_rest_cannot_create", str(exc)) from exc
        attr = self._add_attribute(
            name,
            slug,
            type=data.get("type") if data.get("type") in ATTRIBUTE_TYPES else "select",
            order_by=data.get("order_by") if data.get("order_by") in ATTRIBUTE_ORDER_BY else "menu_order",
            has_archives=data.get("has_archives") is True,
        )
        self.store.touch_catalog()
        return attr

    def update_attribute(self, attribute_id: int, data: dict[str, Any]) -> Attribute:
        attr = self.get_attribute(attribute_id)
        try:
            name, slug = self._check_attribute(data, attr)
        except ValueError as exc:
            raise StoreError(400, "woocommerce_rest_cannot_edit", str(exc)) from exc
        old_taxonomy = attr.taxonomy
        attr.name, attr.slug = name, slug
        if data.get("type") in ATTRIBUTE_TYPES:
            attr.type = data["type"]
        if data.get("order_by") in ATTRIBUTE_ORDER_BY:
            attr.order_by = data["order_by"]
        if "has_archives" in data:
            attr.has_archives = bool(data["has_archives"])
        if attr.taxonomy != old_taxonomy:
            for term in self.terms.values():
                if term.taxonomy == old_taxonomy:
                    term.taxonomy = attr.taxonomy
        for p in self.store.products.values():
            for a in p.attributes:
                if a.get("id") == attr.id:
                    a["name"], a["slug"] = attr.name, attr.taxonomy
        self.store.touch_catalog()
        return attr

    def delete_attribute(self, attribute_id: int) -> Attribute:
        """``wc_delete_attribute``: the row and every term of its taxonomy go."""
        attr = self.get_attribute(attribute_id)
        del self.attributes[attribute_id]
        for term_id in [t.id for t in self.taxonomy_terms(attr.taxonomy)]:
            del self.terms[term_id]
        self.store.touch_catalog()
        return attr

    def ensure_terms(self, attr: Attribute, options: list[Any]) -> None:
        """``wp_set_object_terms`` creates the missing terms a product write names."""
        existing = {t.name.lower() for t in self.taxonomy_terms(attr.taxonomy)}
        for option in options:
            name = str(option).strip()
            if name and esc_html(name).lower() not in existing:
                self._add_term(attr.taxonomy, name, self._unique_slug(attr.taxonomy, sanitize_title(name)))
                existing.add(esc_html(name).lower())

    @staticmethod
    def render_attribute(attr: Attribute, site: str) -> dict[str, Any]:
        api = f"{site}/wp-json/wc/v3/products/attributes"
        return {
            "id": attr.id,
            "name": attr.name,
            "slug": attr.taxonomy,
            "type": attr.type,
            "order_by": attr.order_by,
            "has_archives": attr.has_archives,
            "_links": _links(f"{api}/{attr.id}", api),
        }

    # ------------------------------------------------------------------ coupons

    def get_coupon(self, coupon_id: int) -> Coupon:
        return found(self.coupons, coupon_id, invalid_id("shop_coupon"))

    def coupon_by_code(self, code: str, exclude_id: int = 0) -> Coupon | None:
        """``wc_get_coupon_id_by_code``: published coupons only, code compared lower-cased."""
        wanted = code.strip().lower()
        for coupon in self.coupons.values():
            if coupon.code == wanted and coupon.status == "publish" and coupon.id != exclude_id:
                return coupon
        return None

    def create_coupon(self, data: dict[str, Any]) -> Coupon:
        code = str(data.get("code") or "").strip()
        if not code:
            raise StoreError(400, "woocommerce_rest_empty_coupon_code", "The coupon code cannot be empty.")
        if self.coupon_by_code(code) is not None:
            raise StoreError(400, "woocommerce_rest_coupon_code_already_exists", "The coupon code already exists")
        ts = self.store.now()
        coupon = Coupon(id=self.store.next_post_id(), code=code.lower(), created=ts, modified=ts)
        self._apply_coupon(coupon, {k: v for k, v in data.items() if k != "code"})
        self.coupons[coupon.id] = coupon
        self.store.touch_catalog()
        self.store.emit("coupon", "created", coupon.id)
        return coupon

    def update_coupon(self, coupon_id: int, data: dict[str, Any]) -> Coupon:
        coupon = self.get_coupon(coupon_id)
        if "code" in data:
            code = str(data.get("code") or "").strip()
            if self.coupon_by_code(code, exclude_id=coupon.id) is not None:
                raise StoreError(400, "woocommerce_rest_coupon_code_already_exists", "The coupon code already exists")
            if code:
                coupon.code = code.lower()
        self._apply_coupon(coupon, {k: v for k, v in data.items() if k != "code"})
        coupon.modified = max(coupon.modified, self.store.now())
        self.store.touch_catalog()
        self.store.emit("coupon", "updated", coupon.id)
        return coupon

    def delete_coupon(self, coupon_id: int, force: bool) -> Coupon:
        """Coupons are posts: trash first (status ``trash``), ``force`` deletes; trashing twice is a 410."""
        import copy

        coupon = self.get_coupon(coupon_id)
        before = copy.deepcopy(coupon)
        if force:
            del self.coupons[coupon_id]
        else:
            if coupon.status == "trash":
                raise StoreError(410, "woocommerce_rest_already_trashed", "The coupon has already been deleted.")
            coupon.status = "trash"
            coupon.modified = max(coupon.modified, self.store.now())
            self.store.emit("coupon", "deleted", coupon_id)
        self.store.touch_catalog()
        return before

    @staticmethod
    def _apply_coupon(coupon: Coupon, data: dict[str, Any]) -> None:
        for key in ("amount", "minimum_amount", "maximum_amount"):
            if key in data and data[key] is not None:
                try:
                    setattr(coupon, key, money(Decimal(str(data[key] or 0))))
                except InvalidOperation:
                    setattr(coupon, key, "0.00")
        for key in ("discount_type", "description", "status"):
            if key in data and data[key] is not None:
                setattr(coupon, key, str(data[key]))
        for key in ("individual_use", "free_shipping", "exclude_sale_items"):
            if key in data and data[key] is not None:
                setattr(coupon, key, bool(data[key]))
        for key in ("usage_limit", "usage_limit_per_user", "limit_usage_to_x_items"):
            if key in data:
                setattr(coupon, key, int(data[key]) if data[key] else None)
        for key in ("product_ids", "excluded_product_ids", "product_categories", "excluded_product_categories"):
            if key in data and isinstance(data[key], list):
                setattr(coupon, key, [int(x) for x in data[key]])
        if "email_restrictions" in data and isinstance(data["email_restrictions"], list):
            coupon.email_restrictions = [str(x).lower() for x in data["email_restrictions"]]
        if "meta_data" in data and isinstance(data["meta_data"], list):
            for m in data["meta_data"]:
                if isinstance(m, dict) and m.get("key"):
                    coupon.meta_data.append({"id": len(coupon.meta_data) + 1, "key": m["key"], "value": m.get("value")})

    def render_coupon(self, c: Coupon, site: str) -> dict[str, Any]:
        tz = self.store.tz
        api = f"{site}/wp-json/wc/v3/coupons"
        return {
            "id": c.id,
            "code": c.code,
            "amount": c.amount,
            "status": c.status,
            "date_created": wp_date(c.created, tz),
            "date_created_gmt": wp_date(c.created, UTC),
            "date_modified": wp_date(c.modified, tz),
            "date_modified_gmt": wp_date(c.modified, UTC),
            "discount_type": c.discount_type,
            "description": c.description,
            "date_expires": wp_date(c.date_expires, tz),
            "date_expires_gmt": wp_date(c.date_expires, UTC),
            "usage_count": c.usage_count,
            "individual_use": c.individual_use,
            "product_ids": list(c.product_ids),
            "excluded_product_ids": list(c.excluded_product_ids),
            "usage_limit": c.usage_limit,
            "usage_limit_per_user": c.usage_limit_per_user,
            "limit_usage_to_x_items": c.limit_usage_to_x_items,
            "free_shipping": c.free_shipping,
            "product_categories": list(c.product_categories),
            "excluded_product_categories": list(c.excluded_product_categories),
            "exclude_sale_items": c.exclude_sale_items,
            "minimum_amount": c.minimum_amount,
            "maximum_amount": c.maximum_amount,
            "email_restrictions": list(c.email_restrictions),
            "used_by": list(c.used_by),
            "meta_data": [dict(m) for m in c.meta_data],
            "_links": _links(f"{api}/{c.id}", api),
        }
