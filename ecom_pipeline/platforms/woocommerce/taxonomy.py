"""WooCommerce categories, tags and global attributes, found by name and created when missing (export).

Why: a hub product names its categories and its variants' options ("Size=M") as text, while WooCommerce wants
term and attribute ids, and a variation of a *global* attribute must name the attribute by id (WooCommerce's
variations controller matches a ``name`` against the parent's local attributes only, so ``{"name": "Size"}``
under a ``pa_size`` parent is silently dropped). This module turns names into ids, creating what the shop lacks,
and keeps every step safe to repeat:

- **Categories**: ``GET /products/categories?search=NAME`` (every page), matched by name without case and HTML
  escapes (WordPress stores ``Mugs & Cups`` as ``Mugs &amp; Cups``); a top-level category wins over a nested one
  of the same name. Missing: ``POST /products/categories {"name"}``. An answer ``term_exists`` (WordPress's
  ``wp_insert_term``: "A term with the name provided already exists with this parent.", the existing id in
  ``data.resource_id``) is adopted: that is also what a retried POST whose first answer was lost gets, so a lost
  answer never makes a second category. A nested hub category ``Parent > Child`` is found (``&parent=ID``) or
  created (``{"name", "parent"}``) one step at a time from the top level, so ``Child`` lands under ``Parent``
  and a ``Child`` under another parent is not taken for it.
- **Tags**: ``GET /products/tags?search=NAME`` (every page), matched as categories; missing ones ``POST
  /products/tags {"name"}``, ``term_exists`` ("A term with the name provided already exists in this taxonomy.")
  adopted. Products name both by id (WooCommerce reads only ``id`` from a product's ``categories``/``tags``).
- **Global attributes**: ``GET /products/attributes`` (WooCommerce always answers the whole list), matched by name
  or by slug (``pa_<slug>``). Missing: ``POST /products/attributes {"name", "slug"}``. WooCommerce refuses slugs
  longer than 28 characters and reserved WordPress query vars (``wc_check_if_attribute_name_is_reserved``:
  ``type``, ``name``, ``order``, ``year``...) with ``woocommerce_rest_cannot_create`` "Slug "type" is not allowed
  because it is a reserved term."; the create is then retried with ``<slug>-attr``. "Slug ... is already in use"
  (an attribute created by a request whose answer was lost, or renamed since) re-reads the list and adopts the
  attribute holding that slug.
- **Terms** of a global attribute: ``GET /products/attributes/{id}/terms`` (every page), missing ones
  ``POST``-ed by name, ``term_exists`` adopted as above.
- **Parents of new variations**: before variations are created under a product the shop already has, the
  product's attributes are read; an option value it lacks (or a whole attribute) is added to its attribute
  options with one ``PUT /products/{id}`` of the full attribute list (WooCommerce replaces the list on update),
  so the new variation is a purchasable choice of the parent. A parent created by an earlier push with local
  (by-name) attributes keeps them: its variations then name those attributes by name.

Everything is cached for one writer run, so each name costs its look-up once per push. A refusal (a 4xx answer)
is a :class:`TaxonomyError`, which the writer turns into a rejection of the product or variations concerned;
transport failures (5xx after retries, unreachable, credentials) propagate and fail the push as any other call.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ecom_pipeline.platforms.errors import ShopApiError, ShopBadRequestError
from ecom_pipeline.platforms.woocommerce.client import MAX_PER_PAGE, WooCommerceClient
from ecom_pipeline.platforms.woocommerce.transform import category_paths
from ecom_pipeline.sync.category_paths import split_path
from ecom_pipeline.sync.export import ProductCreate, VariantValues

MAX_ATTRIBUTE_SLUG = 28  # wc_create_attribute: 'Slug "%s" is too long (28 characters max).'
RESERVED_SUFFIX = "-attr"
TERM_EXISTS = "term_exists"


class TaxonomyError(Exception):
    """A category, attribute or term the shop would not give us; the message says which and why."""


def name_key(name: Any) -> str:
    """How two names are the same term: HTML escapes undone, spaces trimmed, case folded."""
    return " ".join(html.unescape(str(name or "")).split()).casefold()


def attribute_slug(name: str) -> str:
    """WooCommerce's slug for an attribute name (``wc_sanitize_taxonomy_name``), within the 28-character limit."""
    text = unicodedata.normalize("NFKD", html.unescape(name)).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[^a-z0-9_\s-]", "", text)
    slug = re.sub(r"[\s-]+", "-", text).strip("-") or "attribute"
    return slug[:MAX_ATTRIBUTE_SLUG].rstrip("-")


def category_path(name: str) -> list[str]:
    """A hub category name as its steps from the top level: ``"Home > Kitchen"`` -> ``["Home", "Kitchen"]``
    (the hub's notation for a nested category, ``sync.category_paths.split_path``: a ``>`` escaped ``\\>`` is
    part of a category's own name, ``Kids \\> 3 years`` one category); empty steps dropped."""
    return split_path(html.unescape(str(name))) or [str(name).strip()]


def _reserved_retry(slug: str) -> str:
    return slug[: MAX_ATTRIBUTE_SLUG - len(RESERVED_SUFFIX)].rstrip("-") + RESERVED_SUFFIX


def _resource_id(err: ShopApiError) -> int | None:
    """The existing term's id of a ``term_exists`` refusal (WordPress puts it in ``data.resource_id``)."""
    if err.code != TERM_EXISTS:
        return None
    try:
        return int(err.details.get("resource_id"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


class CategoryTree:
    """The shop's product categories (``id``, ``name``, ``parent``), to read a product's nested categories as the
    hub writes them, ``Parent > Child`` (a product lists its categories as ``{id, name, slug}``, without parents).

    Read whole (``GET /products/categories``, 100 a page) the first time a product names a category, and again
    when a product names one the last read did not have (created since; an id still unknown after a fresh read is
    not asked for twice). Used by the extract (with a client of its own: the page thread must not share the
    paging thread's session) and by the writer (its read-back of written products), so both store the same paths.
    """

    def __init__(self, client: Callable[[], WooCommerceClient], *, owns_client: bool = True) -> None:
        # ``owns_client``: the factory makes a client for this tree, kept and closed by it; False: the factory
        # hands out someone else's client (the webhook apply's), asked for at each read and never kept.
        self._client_factory = client
        self._owns_client = owns_client
        self._client: WooCommerceClient | None = None
        self._terms: dict[str, Mapping[str, Any]] | None = None
        self._unknown: set[str] = set()

    @property
    def client(self) -> WooCommerceClient:
        if not self._owns_client:
            return self._client_factory()
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def _read(self) -> dict[str, Mapping[str, Any]]:
        return {
            str(t.get("id")): t
            for page in self.client.iter_pages("products/categories", {"per_page": MAX_PER_PAGE})
            for t in page.items
            if isinstance(t, Mapping)
        }

    def paths(self, products: Iterable[Mapping[str, Any]]) -> dict[str, str]:
        """``{category id: "Parent > Child"}`` of the nested categories these products name (none: no call)."""
        ids = {
            str(c.get("id"))
            for product in products
            for c in (product.get("categories") or [] if isinstance(product, Mapping) else [])
            if isinstance(c, Mapping) and c.get("id") is not None
        }
        if not ids:
            return {}
        if self._terms is None or (ids - set(self._terms) - self._unknown):
            self._terms = self._read()
            self._unknown |= ids - set(self._terms)
        return category_paths(self._terms.values(), ids)

    def close(self, report: Any = None) -> None:
        """Close the client this tree made, adding its calls to an extract ``report`` (``sync.extract``)."""
        if self._client is not None:
            if report is not None:
                report.api_calls += self._client.stats.api_calls
                report.retries += self._client.stats.retries
                report.throttle_wait_s += self._client.stats.throttle_wait_s
            self._client.close()
            self._client = None

    def stage(self, record: dict[str, Any]) -> dict[str, Any]:
        """A ``{"product", "variations"}`` record with the ``category_paths`` of its nested categories, if any."""
        paths = self.paths([record.get("product") or {}])
        return {**record, "category_paths": paths} if paths else record


class WooTaxonomy:
    """Name -> id resolution against one shop, for one writer run (see the module docstring)."""

    def __init__(self, client: WooCommerceClient) -> None:
        self.client = client
        self._categories: dict[tuple[str, int | None], int] = {}  # (name, parent or None for any) -> id
        self._tags: dict[str, int] = {}
        self._attributes: list[dict[str, Any]] | None = None
        self._terms: dict[int, set[str]] = {}

    # -- categories ---------------------------------------------------------------------------------------------

    def category_ids(self, names: Iterable[str]) -> list[int]:
        """The shop's category ids for hub category names, in order, creating missing ones."""
        ids: list[int] = []
        for name in names:
            if not name_key(name):
                continue
            cid = self.category_id(str(name).strip())
            if cid not in ids:
                ids.append(cid)
        return ids

    def category_id(self, name: str) -> int:
        """The category a hub name stands for: ``Child`` (any parent, a top-level one first) or a path
        ``Parent > Child`` (each step under the one before, from the top level), created step by step."""
        steps = category_path(name)
        if len(steps) == 1:
            return self._category_step(steps[0], None)
        parent = 0
        for step in steps:
            parent = self._category_step(step, parent)
        return parent

    def _category_step(self, name: str, parent: int | None) -> int:
        """One category by name: under ``parent`` (0 the top level), or anywhere when ``parent`` is None."""
        cache_key = (name_key(name), parent)
        if cache_key not in self._categories:
            found = self._find_category(name, parent)
            self._categories[cache_key] = found if found is not None else self._create_category(name, parent or 0)
        return self._categories[cache_key]

    def _find_category(self, name: str, parent: int | None = None) -> int | None:
        key = name_key(name)
        matches: list[Mapping[str, Any]] = []
        # WordPress stores names escaped ("Mugs &amp; Cups") and searches them with LIKE: send the escaped form.
        params: dict[str, Any] = {"search": html.escape(html.unescape(name), quote=False), "per_page": MAX_PER_PAGE}
        if parent is not None:
            params["parent"] = parent  # a same-named category under another parent is another category
        for page in self.client.iter_pages("products/categories", params):
            matches += [
                c
                for c in page.items
                if isinstance(c, Mapping)
                and name_key(c.get("name")) == key
                and (parent is None or int(c.get("parent") or 0) == parent)
            ]
        if not matches:
            return None
        best = min(matches, key=lambda c: (int(c.get("parent") or 0) != 0, int(c.get("id") or 0)))
        return int(best["id"])

    def _create_category(self, name: str, parent: int = 0) -> int:
        body: dict[str, Any] = {"name": name}
        if parent:
            body["parent"] = parent
        try:
            created = self.client.post("products/categories", body)
        except ShopBadRequestError as err:
            existing = _resource_id(err)
            if existing is not None:
                return existing  # WordPress has it (maybe from our own request whose answer was lost)
            raise TaxonomyError(f"category {name!r} could not be created: {err.message}") from None
        return int(created["id"])

    # -- tags ---------------------------------------------------------------------------------------------------

    def tag_ids(self, names: Iterable[str]) -> list[int]:
        """The shop's tag ids for hub tag names, in order, creating missing ones (``/products/tags``)."""
        ids: list[int] = []
        for name in names:
            if not name_key(name):
                continue
            tid = self.tag_id(str(name).strip())
            if tid not in ids:
                ids.append(tid)
        return ids

    def tag_id(self, name: str) -> int:
        key = name_key(name)
        if key not in self._tags:
            found = self._find_tag(name)
            self._tags[key] = found if found is not None else self._create_tag(name)
        return self._tags[key]

    def _find_tag(self, name: str) -> int | None:
        key = name_key(name)
        params = {"search": html.escape(html.unescape(name), quote=False), "per_page": MAX_PER_PAGE}
        ids = [
            int(t["id"])
            for page in self.client.iter_pages("products/tags", params)
            for t in page.items
            if isinstance(t, Mapping) and name_key(t.get("name")) == key
        ]
        return min(ids) if ids else None

    def _create_tag(self, name: str) -> int:
        try:
            created = self.client.post("products/tags", {"name": name})
        except ShopBadRequestError as err:
            existing = _resource_id(err)
            if existing is not None:
                return existing  # "A term with the name provided already exists in this taxonomy."
            raise TaxonomyError(f"tag {name!r} could not be created: {err.message}") from None
        return int(created["id"])

    # -- global attributes --------------------------------------------------------------------------------------

    def _all_attributes(self, refresh: bool = False) -> list[dict[str, Any]]:
        if self._attributes is None or refresh:
            items = self.client.get("products/attributes")
            self._attributes = [dict(a) for a in items if isinstance(a, Mapping)] if isinstance(items, list) else []
        return self._attributes

    def _match_attribute(self, name: str, slugs: Sequence[str]) -> dict[str, Any] | None:
        key = name_key(name)
        taxonomies = {f"pa_{s}" for s in slugs}
        by_name = [a for a in self._all_attributes() if name_key(a.get("name")) == key]
        by_slug = [a for a in self._all_attributes() if str(a.get("slug")) in taxonomies]
        found = by_name or by_slug
        return min(found, key=lambda a: int(a.get("id") or 0)) if found else None

    def attribute_id(self, name: str) -> int:
        """The global attribute named ``name`` (case and HTML escapes aside), created when the shop has none."""
        slug = attribute_slug(name)
        found = self._match_attribute(name, (slug, _reserved_retry(slug)))
        if found is not None:
            return int(found["id"])
        for candidate in (slug, _reserved_retry(slug)):
            body = {"name": name, "slug": candidate, "type": "select", "order_by": "menu_order", "has_archives": False}
            try:
                created = self.client.post("products/attributes", body)
            except ShopBadRequestError as err:
                message = err.message or ""
                if "reserved term" in message and candidate == slug:
                    continue  # e.g. "Type": WooCommerce refuses the slug "type", so "type-attr"
                if "already in use" in message:
                    self._all_attributes(refresh=True)  # created by a request whose answer was lost
                    again = self._match_attribute(name, (candidate,))
                    if again is not None:
                        return int(again["id"])
                raise TaxonomyError(f"attribute {name!r} could not be created: {message}") from None
            self._all_attributes().append(dict(created))
            return int(created["id"])
        raise TaxonomyError(f"attribute {name!r} could not be created")  # pragma: no cover - loop always returns

    def ensure_terms(self, attribute_id: int, options: Iterable[str]) -> None:
        """Every option exists as a term of the global attribute (created by name when missing)."""
        known = self._terms.get(attribute_id)
        if known is None:
            known = set()
            for page in self.client.iter_pages(f"products/attributes/{attribute_id}/terms", {"per_page": MAX_PER_PAGE}):
                known |= {name_key(t.get("name")) for t in page.items if isinstance(t, Mapping)}
            self._terms[attribute_id] = known
        for option in options:
            key = name_key(option)
            if not key or key in known:
                continue
            try:
                self.client.post(f"products/attributes/{attribute_id}/terms", {"name": str(option).strip()})
            except ShopBadRequestError as err:
                if _resource_id(err) is None:
                    raise TaxonomyError(f"value {option!r} of attribute {attribute_id} could not be created: "
                                        f"{err.message}") from None  # fmt: skip
            known.add(key)

    def global_attributes(self, options_by_name: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
        """A create body's ``attributes``: each option name as a global attribute (by id) with its terms."""
        out = []
        for position, (name, options) in enumerate(options_by_name.items()):
            aid = self.attribute_id(name)
            self.ensure_terms(aid, options)
            out.append({"id": aid, "position": position, "options": list(options), "variation": True, "visible": True})
        return out

    # -- variations and their parent -----------------------------------------------------------------------------

    def variation_attributes(
        self, parent_attributes: Sequence[Mapping[str, Any]], options: Mapping[str, str], *, create: bool = True
    ) -> list[dict[str, Any]]:
        """A variation's ``attributes`` against its parent: by id for the parent's global attributes, by name for
        its local ones (a parent made with local attributes keeps them), by global id when the parent has neither.
        ``create`` False (a look-up, which must not write): a global attribute the shop lacks is named by name."""
        out: list[dict[str, Any]] = []
        for name, option in options.items():
            own = _parent_attribute(parent_attributes, name)
            if own is not None and int(own.get("id") or 0) == 0:
                out.append({"name": own.get("name") or name, "option": option})
            elif own is not None or create:
                aid = int(own["id"]) if own is not None else self.attribute_id(name)
                out.append({"id": aid, "option": option})
            else:
                slug = attribute_slug(name)
                found = self._match_attribute(name, (slug, _reserved_retry(slug)))
                out.append({"id": int(found["id"]), "option": option} if found else {"name": name, "option": option})
        return out

    def create_body(self, create: ProductCreate, body: dict[str, Any]) -> dict[str, Any]:
        """A product create body with the hub's categories as the shop's category ids and, for a variable
        product, its options as global attributes (by id, their values existing as terms)."""
        out = dict(body)
        if create.categories:
            out["categories"] = [{"id": cid} for cid in self.category_ids(create.categories)]
        if create.tags:
            out["tags"] = [{"id": tid} for tid in self.tag_ids(create.tags)]
        if create.kind == "variable":
            out["attributes"] = self.global_attributes(options_by_name(v.options for v in create.variants))
        return out

    def variation_attributes_for(
        self,
        parent_id: str,
        variants: Sequence[VariantValues],
        parent_attributes: Sequence[Mapping[str, Any]] | None = None,
    ) -> dict[int, list[dict[str, Any]]]:
        """Each new variation's ``attributes`` (by hub id), after the parent was given the options it lacked."""
        attributes = self.extend_parent(parent_id, [v.options for v in variants], parent_attributes)
        return {v.hub_id: self.variation_attributes(attributes, v.options) for v in variants}

    def extend_parent(
        self,
        parent_id: str,
        variants_options: Iterable[Mapping[str, str]],
        parent_attributes: Sequence[Mapping[str, Any]] | None = None,
    ) -> list[dict[str, Any]]:
        """The parent's attributes once every option of ``variants_options`` is among them: missing values (and
        missing attributes, as global ones) are added with one PUT of the whole list; nothing is sent when the
        parent already offers them all. ``parent_attributes``, when the caller has them fresh (the parent's create
        answer), saves the read. Returns the parent's attribute list as the shop now has it."""
        if parent_attributes is None:
            product = self.client.get(f"products/{parent_id}")
            parent_attributes = (product.get("attributes") or []) if isinstance(product, Mapping) else []
        attributes = [dict(a) for a in parent_attributes if isinstance(a, Mapping)]
        changed = False
        for options in variants_options:
            for name, option in options.items():
                if not name_key(option):
                    continue  # "any" value: no option for the parent to offer (WooCommerce saves the variation "any")
                own = _parent_attribute(attributes, name)
                if own is None:
                    aid = self.attribute_id(name)
                    own = next((a for a in attributes if int(a.get("id") or 0) == aid), None)
                    if own is None:
                        own = {"id": aid, "name": name, "options": [], "variation": True, "visible": True,
                               "position": len(attributes)}  # fmt: skip
                        attributes.append(own)
                if int(own.get("id") or 0):
                    self.ensure_terms(int(own["id"]), [option])
                current = [str(o) for o in own.get("options") or []]
                if name_key(option) not in {name_key(o) for o in current}:
                    own["options"] = [*current, option]
                    own["variation"] = True
                    changed = True
        if changed:
            body = [_attribute_body(a) for a in attributes]
            answer = self.client.put(f"products/{parent_id}", {"attributes": body})
            if isinstance(answer, Mapping) and isinstance(answer.get("attributes"), list):
                return [dict(a) for a in answer["attributes"] if isinstance(a, Mapping)]
        return attributes


def _parent_attribute(attributes: Sequence[Any], name: str) -> Any:
    key = name_key(name)
    return next((a for a in attributes if name_key(a.get("name")) == key), None)


def _attribute_body(attribute: Mapping[str, Any]) -> dict[str, Any]:
    """One entry of a product update's ``attributes`` (global by id, local by name), every setting kept."""
    body: dict[str, Any] = (
        {"id": int(attribute["id"])} if int(attribute.get("id") or 0) else {"name": attribute["name"]}
    )
    body.update(
        position=attribute.get("position", 0),
        visible=attribute.get("visible", True),
        variation=attribute.get("variation", True),
        options=[html.unescape(str(o)) for o in attribute.get("options") or []],
    )
    return body


def options_by_name(variants_options: Iterable[Mapping[str, str]]) -> dict[str, list[str]]:
    """Each option name with its values in first-seen order (the create body's attribute options)."""
    out: dict[str, list[str]] = {}
    for options in variants_options:
        for name, option in options.items():
            if name_key(option) and option not in out.setdefault(name, []):  # "any" (empty) is no option
                out[name].append(option)
    return out
