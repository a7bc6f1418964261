"""Product and variation writes of an emulated WooCommerce shop (POST/PUT/DELETE, SKU checks, trash)."""

from __future__ import annotations

import re
from typing import Any

from ecom_pipeline.platforms.woocommerce import slugs
from ecom_pipeline.sandbox.woocommerce.catalog import sanitize_title
from ecom_pipeline.sandbox.woocommerce.errors import StoreError
from ecom_pipeline.sandbox.woocommerce.records import Product, Variation, money, slugify
from ecom_pipeline.sandbox.woocommerce.state import copy_record
from ecom_pipeline.sandbox.woocommerce.stock import WooStock

# WordPress statuses whose post_name is kept as given, taken or not (``wp_unique_post_slug`` returns early).
_SLUG_KEPT_STATUSES = frozenset({"draft", "pending", "auto-draft"})
_TRASHED = "__trashed"


def _truncate_slug(slug: str, length: int) -> str:
    """WordPress ``_truncate_post_slug``: cut to ``length`` (whole encoded characters), trailing dashes dropped."""
    return slugs.truncate_post_slug(slug, length)


def _post_name(given: Any, name: str, status: str, pid: int) -> str:
    """The ``post_name`` ``wp_insert_post`` computes: a given slug as ``sanitize_title`` saves it (``tee.shirt``
    is ``tee-shirt``, ``Tee`` ``tee``: slugs.py); when none is given or nothing is left of it, a post that is not
    a draft or pending takes its title's, or its id when nothing is left of that either."""
    wanted = slugs.sanitize_title(str(given)) if given else ""
    if not wanted and status not in _SLUG_KEPT_STATUSES:
        wanted = slugs.sanitize_title(name) or str(pid)
    return wanted


def _gtin(value: Any) -> str:
    """What WooCommerce keeps of a given ``global_unique_id``: digits, hyphens and X (the ISBN-10 check digit)."""
    return re.sub(r"[^0-9Xx\-]", "", str(value or ""))


class WooProducts(WooStock):
    """POST/PUT/DELETE /products and /products/{id}/variations, with WooCommerce's checks and side effects."""

    def _unique_slug(self, slug: str, own_id: int | None, status: str) -> str:
        """WordPress ``wp_unique_post_slug`` for a product (a flat post type): a draft, pending or auto-draft keeps
        its slug even when another product has it; any other status (publish, private, future, trash) gets
        ``<slug>-2``, ``-3``, ... (the first free one) when another product of any status holds it, or when it is a
        feed name or ``embed``. Trashed products hold ``<slug>__trashed``, so they do not reserve ``<slug>``."""
        if not slug or status in _SLUG_KEPT_STATUSES:
            return slug
        if slug not in slugs.RESERVED_FLAT_SLUGS and not self._slug_held(slug, own_id):
            return slug
        suffix = 2
        while True:
            candidate = f"{_truncate_slug(slug, 200 - (len(str(suffix)) + 1))}-{suffix}"
            if not self._slug_held(candidate, own_id):
                return candidate
            suffix += 1

    def _claim_slug(self, slug: str, own_id: int | None, status: str) -> str:
        """The slug a product written with ``status`` gets (``wp_insert_post``): a trashed product still holding the
        wanted slug is renamed ``<slug>__trashed`` first (``wp_add_trashed_suffix_to_post_name_for_trashed_posts``,
        for a status other than trash), then the slug is made unique (:meth:`_unique_slug`)."""
        if slug and status != "trash":
            for pid in list(self._slug_index().get(slug, ())):
                other = self.products.get(pid)
                if other is not None and pid != own_id and other.status == "trash" and other.slug == slug:
                    other.pre_trash_slug = other.pre_trash_slug or other.slug
                    self._set_slug(other, _truncate_slug(other.slug, 191) + _TRASHED)
        return self._unique_slug(slug, own_id, status)

    # Products by slug, so a create does not read every product (a first push creates thousands in a shop of
    # thousands). Built on first use and again whenever the number of products moved behind these methods' back
    # (the seed, a test adding one); every slug this class writes goes through _set_slug. Entries are checked
    # against the product before use, so a stale one is never taken for a holder.
    _slugs: dict[str, set[int]] | None = None
    _slugs_size = -1

    def _slug_index(self) -> dict[str, set[int]]:
        if self._slugs is None or self._slugs_size != len(self.products):
            index: dict[str, set[int]] = {}
            for p in self.products.values():
                index.setdefault(p.slug, set()).add(p.id)
            self._slugs, self._slugs_size = index, len(self.products)
        return self._slugs

    def _slug_held(self, slug: str, own_id: int | None) -> bool:
        """Whether a product other than ``own_id`` holds ``slug`` (any status: trashed ones hold their __trashed)."""
        for pid in self._slug_index().get(slug, ()):
            p = self.products.get(pid)
            if pid != own_id and p is not None and p.slug == slug:
                return True
        return False

    def _set_slug(self, p: Product, slug: str) -> None:
        index = self._slug_index()
        index.get(p.slug, set()).discard(p.id)
        p.slug = slug
        index.setdefault(slug, set()).add(p.id)

    def _check_sku(self, sku: str, own_id: int | None) -> None:
        if not sku:
            return
        owner = self.sku_index.get(sku)
        if owner is not None and owner != own_id:
            raise StoreError(
                400,
                "product_invalid_sku",
                "Invalid or duplicated SKU.",
                resource_id=owner,
                unique_sku=self._unique_sku(f"{sku}-1"),
            )

    def _check_global_unique_id(self, value: str, own_id: int) -> None:
        """WooCommerce 9.2+ (``WC_Product::set_global_unique_id``): the GTIN/UPC/EAN/ISBN is unique across
        products and variations; a taken one is refused with the owner in ``data.resource_id``."""
        if not value:
            return
        records: list[Product | Variation] = [*self.products.values(), *self.variations.values()]
        owner = next((r.id for r in records if r.global_unique_id == value and r.id != own_id), None)
        if owner is not None:
            raise StoreError(
                400, "product_invalid_global_unique_id", "Invalid or duplicated GTIN, UPC, EAN or ISBN.",
                resource_id=owner,
            )  # fmt: skip

    def create_product(self, data: dict[str, Any]) -> Product:
        """POST /products: simple or variable, ``status`` defaults to publish."""
        with self.lock:
            sku = str(data.get("sku") or "")
            self._check_sku(sku, None)
            self._check_global_unique_id(_gtin(data.get("global_unique_id")), 0)
            ts = self.now()
            pid = self._post_id()
            status = data.get("status", "publish")
            name = str(data.get("name", "Product"))
            ptype = data.get("type", "simple")
            # WordPress keeps a post_name given on create (made unique unless a draft or pending: _claim_slug); else
            # only a post that is not a draft gets one, from its name.
            wanted = _post_name(data.get("slug"), name, status, pid)
            p = Product(
                id=pid,
                name=name,
                slug=self._claim_slug(wanted, pid, status),
                type=ptype,
                status=status,
                sku=sku,
                regular_price="",
                sale_price="",
                created=ts,
                modified=ts,
                manage_stock=False,
                stock_quantity=None,
            )
            if ptype == "variable":
                p.attributes = [self._product_attribute(a, i) for i, a in enumerate(data.get("attributes") or [])]
            slugs = self._slug_index()  # (before the insert: it would count as a product added behind its back)
            self.products[pid] = p
            slugs.setdefault(p.slug, set()).add(pid)
            self._slugs_size = len(self.products)
            if sku:
                self.sku_index[sku] = pid
            self._apply_product_fields(p, {k: v for k, v in data.items() if k not in ("attributes", "sku", "slug")})
            p.modified = ts
            self._touch("products")
            self._emit("product", "created", p.id)
            return p

    def _product_attribute(self, a: dict[str, Any], position: int) -> dict[str, Any]:
        """A product's attribute entry: global ones (by id) take the taxonomy's name and create missing terms."""
        aid = int(a.get("id") or 0)
        attr = self.catalog.attributes.get(aid) if aid else None
        if attr is not None:
            name, slug = attr.name, attr.taxonomy
            self.catalog.ensure_terms(attr, list(a.get("options") or []))
        else:
            aid = 0
            name, slug = a.get("name", ""), a.get("name", "")
        return {
            "id": aid,
            "name": name,
            "slug": slug,
            "position": position,
            "visible": a.get("visible", True),
            "variation": a.get("variation", True),
            "options": list(a.get("options") or []),
        }

    def _apply_product_fields(self, p: Product | Variation, data: dict[str, Any]) -> None:
        if "stock_quantity" in data and data["stock_quantity"] is not None:
            value = data["stock_quantity"]
            if isinstance(value, bool) or not (
                isinstance(value, int) or (isinstance(value, str) and value.lstrip("-").isdigit())
            ):
                raise StoreError(
                    400,
                    "rest_invalid_param",
                    "Invalid parameter(s): stock_quantity",
                    params={"stock_quantity": "stock_quantity is not of type integer."},
                    details={
                        "stock_quantity": {
                            "code": "rest_invalid_type",
                            "message": "stock_quantity is not of type integer.",
                            "data": {"param": "stock_quantity"},
                        }
                    },
                )
        if "sku" in data:
            sku = str(data["sku"] or "")
            self._check_sku(sku, p.id)
            if p.sku:
                self.sku_index.pop(p.sku, None)
            p.sku = sku
            if sku:
                self.sku_index[sku] = p.id
        if "global_unique_id" in data:
            # WooCommerce keeps only digits, hyphens and X (the ISBN-10 check digit) of what it is given.
            value = _gtin(data["global_unique_id"])
            self._check_global_unique_id(value, p.id)
            p.global_unique_id = value
        for key in ("regular_price", "sale_price"):
            if key in data:
                setattr(p, key, money(data[key]) if data[key] not in ("", None) else "")
        if "manage_stock" in data:
            p.manage_stock = data["manage_stock"] if data["manage_stock"] == "parent" else bool(data["manage_stock"])
        if data.get("stock_quantity") is not None:
            # A variation whose stock the parent manages keeps the number in its own (hidden) ``_stock`` and the
            # pool does not move: WooCommerce's variations controller calls ``set_stock_quantity`` on the variation
            # (``get_manage_stock()`` is "parent", truthy), and the answer shows the parent's quantity
            # (``get_stock_quantity`` in view context; ``render.variation_stock``). The pool is written on the parent.
            p.stock_quantity = int(data["stock_quantity"])
        for key in ("description", "weight", "status", "backorders"):
            if key in data:
                setattr(p, key, data[key])
        if isinstance(p, Product):
            for key in ("name", "short_description", "featured"):
                if key in data:
                    setattr(p, key, data[key])
            if "categories" in data:
                p.categories = self.catalog.product_categories(list(data["categories"] or []))
            if "tags" in data:  # by id, unknown ids dropped, the whole list replaced (as categories)
                p.tags = self.catalog.product_tags(list(data["tags"] or []))
            if "attributes" in data:  # an update replaces the whole list (WC_Product::set_attributes)
                p.attributes = [self._product_attribute(a, i) for i, a in enumerate(data["attributes"] or [])]
            if "dimensions" in data:
                p.dimensions = {**p.dimensions, **data["dimensions"]}
            if "slug" in data or "status" in data:
                # wp_update_post: a slug given (or the one kept) is made unique for the product's status, so a draft
                # that shared its slug gets ``-2`` when published; an empty one takes the name unless a draft.
                wanted = _post_name(data.get("slug", p.slug), p.name, p.status, p.id)
                if p.status != "trash":
                    self._set_slug(p, self._claim_slug(wanted, p.id, p.status))
        if "meta_data" in data:
            for m in data["meta_data"]:
                existing = next((x for x in p.meta_data if x["key"] == m.get("key")), None)
                if existing:
                    existing["value"] = m.get("value")
                else:
                    p.meta_data.append({"id": self._meta_id(), "key": m.get("key"), "value": m.get("value")})

    def update_product(self, pid: int, data: dict[str, Any]) -> Product:
        """PUT /products/{id}: partial update; bumps ``date_modified``."""
        with self.lock:
            p = self.get_product(pid)
            self._apply_product_fields(p, data)
            p.modified = max(p.modified, self.now())
            self._touch("products")
            self._emit("product", "updated", p.id)
            return p

    def untrash_product(self, pid: int) -> Product:
        """Out of the trash (WordPress ``wp_untrash_post``, the admin's Restore): the status and slug it had before,
        a new date_modified, and ``untrashed_post``, which product.restored listens to. No-op when not trashed."""
        with self.lock:
            p = self.get_product(pid)
            if p.status == "trash":
                p.status = p.pre_trash_status or "publish"
                # The slug it had (``_wp_desired_post_slug``), made unique again: another product may have taken it.
                desired = p.pre_trash_slug if p.pre_trash_status else p.slug.removesuffix(_TRASHED)
                self._set_slug(p, self._claim_slug(desired, p.id, p.status))
                p.modified = max(p.modified, self.now())
                self._touch("products")
                self._emit("product", "restored", pid)
            return p

    def delete_product(self, pid: int, force: bool = False) -> Product:
        """DELETE /products/{id}: trash (slug ``__trashed``, new date_modified) or permanent delete.

        Returns a snapshot of the product as it was before the operation, like the real response.
        """
        with self.lock:
            p = self.get_product(pid)
            before = copy_record(p)
            if force:
                slugs = self._slug_index()
                del self.products[pid]
                slugs.get(p.slug, set()).discard(pid)
                self._slugs_size = len(self.products)
                self.sku_index.pop(p.sku, None)
                for vid in p.variation_ids:
                    v = self.variations.pop(vid, None)
                    if v is not None:
                        self.sku_index.pop(v.sku, None)
                self._touch("variations")
                # As a real store reports old orders afterwards (issue 8): the line names no product (product_id
                # 0) and no SKU (wc/v3 reads the SKU from the product, null when it is gone); the order's
                # date_modified does not move, so only a full read sees it.
                for o in self.orders.values():
                    for li in o.line_items:
                        if li.product_id == pid:
                            li.product_id, li.variation_id, li.sku = 0, 0, None  # type: ignore[assignment]
            elif p.status != "trash":
                # wp_add_trashed_suffix_to_post_name_for_post (WordPress 4.5+): the slug is kept aside and the post
                # holds ``<slug>__trashed`` (``__trashed`` when it had none), made unique among products, so a
                # trashed product never reserves its slug.
                p.pre_trash_slug = p.slug
                p.pre_trash_status = p.status
                trashed = p.slug if p.slug.endswith(_TRASHED) else _truncate_slug(p.slug, 191) + _TRASHED
                self._set_slug(p, self._unique_slug(trashed, p.id, "trash"))
                p.status = "trash"
                p.modified = max(p.modified, self.now())
                self._emit("product", "deleted", pid)  # product.deleted listens to the trash action only
            self._touch("products")
            return before

    def create_variation(self, parent_id: int, data: dict[str, Any]) -> Variation:
        with self.lock:
            parent = self.get_product(parent_id)
            sku = str(data.get("sku") or "")
            self._check_sku(sku, None)
            self._check_global_unique_id(_gtin(data.get("global_unique_id")), 0)
            ts = self.now()
            attrs = self._variation_attributes(parent, data.get("attributes") or [])
            v = Variation(
                id=self._post_id(),
                parent_id=parent_id,
                sku=sku,
                regular_price="",
                sale_price="",
                created=ts,
                modified=ts,
                manage_stock="parent" if parent.manage_stock else False,
                stock_quantity=None,
                attributes=attrs,
            )
            self.variations[v.id] = v
            if sku:
                self.sku_index[sku] = v.id
            self._apply_product_fields(v, {k: val for k, val in data.items() if k not in ("attributes", "sku")})
            parent.variation_ids.append(v.id)
            self._touch("variations")
            self._touch("products")
            self._emit("variation", "created", v.id)  # product.created fires for variations too (recorded)
            return v

    def _variation_attributes(self, parent: Product, sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A variation's attributes as WooCommerce keeps them (``parse_attributes_field``): each one sent by ``id``
        (a global attribute, ``pa_<slug>``) or by ``name`` (a local one, keyed by its sanitized name) is kept only
        when the parent has that attribute for variations; anything else is silently dropped (a by-name attribute
        under a parent whose attribute is global among them)."""
        own: dict[str, dict[str, Any]] = {}
        for pa in parent.attributes:
            global_attr = self.catalog.attributes.get(int(pa.get("id") or 0))
            own[global_attr.taxonomy if global_attr is not None else sanitize_title(str(pa.get("name") or ""))] = pa
        attrs = []
        for a in sent:
            aid = int(a.get("id") or 0)
            attr = self.catalog.attributes.get(aid) if aid else None
            if aid:
                key = attr.taxonomy if attr is not None else ""
            elif a.get("name"):
                key = sanitize_title(str(a["name"]))
            else:
                continue
            found = own.get(key)
            if found is None or not found.get("variation", True):
                continue
            if attr is not None:
                attrs.append({"id": aid, "name": attr.name, "slug": attr.taxonomy, "option": a.get("option", "")})
            else:
                name = str(found.get("name") or "")
                attrs.append({"id": 0, "name": name, "slug": slugify(name), "option": a.get("option", "")})
        return attrs

    def update_variation(self, parent_id: int, vid: int, data: dict[str, Any]) -> Variation:
        """PUT /products/{parent}/variations/{id}; bumps the variation's and the parent's ``date_modified``."""
        with self.lock:
            v = self.get_variation(parent_id, vid)
            self._apply_product_fields(v, data)
            ts = self.now()
            v.modified = max(v.modified, ts)
            self._bump(v, ts)  # emits product.updated for the variation
            return v

    def delete_variation(self, parent_id: int, vid: int) -> Variation:
        with self.lock:
            v = self.get_variation(parent_id, vid)
            del self.variations[vid]
            self.sku_index.pop(v.sku, None)
            parent = self.products[parent_id]
            parent.variation_ids.remove(vid)
            parent.modified = max(parent.modified, self.now())
            self._touch("variations")
            self._touch("products")
            return v
