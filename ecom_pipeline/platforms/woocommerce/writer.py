"""WooCommerce writer: applies an export plan with ``POST /products/batch`` and ``/products/{id}/variations/batch``.

- At most 100 items per batch call (``WC_REST_Controller::batch_items`` refuses more with a 413).
- A 200 answer can carry per-item errors (``{"id": 0, "error": {"code", "message", "data"}}``): the other items
  are applied; each failing item becomes a rejection (stage ``export``) with the shop's message, and since its
  link is not written, the next run plans it again (retried).
- Idempotent creates: the SKUs about to be created are looked up first (``GET /products?sku=A,B,...``, 100 per
  call), and a product found with one is linked and updated instead of created; a create refused with
  ``product_invalid_sku`` (recorded in ``errors-400-duplicate-sku.json``: "Invalid or duplicated SKU.", with
  ``data.resource_id`` naming the owner) links that owner the same way. So a process killed between the shop's
  create and our link does not create a duplicate on the rerun. A variable parent has no SKU (nor has a simple
  product whose variant lacks one: ``unkeyed``, looked up the same way): its create carries
  our mark (``meta_data`` ``OWN_MARK_KEY``: tenant, shop, hub product), and a rerun after an interrupted push, or
  a batch whose answer was lost, looks it up by slug (``<slug>``, then ``<slug>-2``, ...: WordPress suffixes a
  taken slug) and links only the product with that mark, never a merchant's product with the same slug or name
  (``_Writer._lost_parent``). The slug is sent and looked up in the form WordPress saves it (``slugs.py``: a port
  of ``sanitize_title``; ``tee.shirt`` is saved ``tee-shirt``), and a variable product without a hub handle gets a
  deterministic one, ``<title's slug>-h<hub id>`` (``create_slug``; never written to the hub handle).
- Echo suppression: a link's new base is the canonical snapshot of the record as the shop answered the write
  (the same transform the pull uses), so the poll or webhook that brings our own write back hashes the same and
  changes nothing. For a variable product whose variations were written, the parent and its variations are read
  back (their times and the variant positions move with the write): the parents 100 per call
  (``GET products?include=...``) once their variation batches are answered (with batches in flight, while the
  later batches are: ``_variations``), the variations listed only when the batch
  answers do not hold all of them (a parent created by this push has exactly the variations it answered; an
  update of existing variations keeps each one's position from its base, as an update does not move it). The
  links of new parents are committed once per products batch, the bare links of new variations with SKUs 300 at a
  time (one created but not linked when the push dies is answered "duplicated SKU" on the rerun and linked; one
  without a SKU is linked right after its batch), the relinks once per 100 parents. When the answer
  shows the shop also changed fields we did not push (an edit the hub has not pulled yet), the base is not marked
  as agreed (no hash), so the next pull still brings that edit in instead of it being silently absorbed.

- Categories, tags and options (``taxonomy.py``): a create names the shop's categories and tags by id (found by
  name, created when missing; a nested hub category ``Parent > Child`` under its parent) and a variable
  product's options as global attributes (created by name, their values as terms); new variations
  name the parent's attributes (by id, or by name for a parent made with local attributes), and
  an option value the parent lacks is first added to its attribute options.

Known limits (docs/two-way-sync.md): a killed variable-product create made before the mark existed (an older
version) is not found (created again); nor one whose slug sits above a lower one deleted for good since (the
look-up stops at the first free slug). A linked product's categories and tags are written when the hub's differ
from its base (the plan's ``categories``/``tags`` change; the whole list, by id).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from ecom_pipeline.platforms.errors import (
    ShopApiError,
    ShopRateLimitedError,
    ShopResponseError,
    ShopServerError,
    ShopUnreachableError,
)
from ecom_pipeline.platforms.http import HttpOptions
from ecom_pipeline.platforms.woocommerce import slugs
from ecom_pipeline.platforms.woocommerce.client import MAX_PER_PAGE, WooCommerceClient
from ecom_pipeline.platforms.woocommerce.taxonomy import CategoryTree, TaxonomyError, WooTaxonomy, name_key
from ecom_pipeline.platforms.woocommerce.transform import product_to_canonical
from ecom_pipeline.sync.canonical import CanonicalProduct, CanonicalVariant
from ecom_pipeline.sync.export import (
    CATEGORIES,
    CREATE_UNCERTAIN,
    PARTIAL_OUTCOME,
    TAGS,
    ExportPlan,
    FieldUpdate,
    IntegrationRef,
    ProductCreate,
    VariantDelete,
    VariantValues,
    WriteOutcome,
    deleted_variant_row,
    link_row,
)
from ecom_pipeline.sync.hashing import stable_hash
from ecom_pipeline.sync.merge import FIELDS
from ecom_pipeline.sync.policies import DEFAULT_PUSH_CONCURRENCY, push_concurrency_of
from ecom_pipeline.sync.resolve.products import product_snapshot, variant_snapshot
from ecom_pipeline.warehouse.credentials import reveal
from ecom_pipeline.warehouse.types import utcnow

BATCH_LIMIT = 100
# Bare links of created variations (each with a SKU) committed together: a transaction per 300, not per parent.
FRESH_LINKS = 300
DUPLICATE_SKU_CODES = frozenset({"product_invalid_sku", "woocommerce_rest_product_not_created"})
# A variation delete answered "no such variation" is done already (a push killed after the delete, before the link).
GONE_VARIATION_CODES = frozenset({"woocommerce_rest_product_variation_invalid_id", "woocommerce_rest_invalid_id"})
# Failures after which a write may or may not have been applied (5xx, a cut or lost answer, a throttle): a batch
# holding an unkeyed create is looked up before it is sent again (``_send_products``), never resent blindly.
_TRANSIENT = (ShopServerError, ShopUnreachableError, ShopResponseError, ShopRateLimitedError)
_STATUS = {"active": "publish", "draft": "draft", "archived": "draft"}
# The meta key a variable create carries (value ``<tenant>/<integration id>/<hub product id>``): the parent has no
# SKU, so this mark, written by the create itself, is what tells our own unlinked create from a merchant's product
# with the same slug or name (``_Writer._lost_parent``). A leading underscore keeps it out of WordPress's custom
# fields box; WooCommerce answers it in ``meta_data`` like any non-internal key.
OWN_MARK_KEY = "_ecom_pipeline_ref"
# What the look-up of a lost variable create reads of each product holding a slug, and how many slugs it reads at
# most (``<slug>``, ``<slug>-2``, ...): past that many products sharing a handle's slug, the create is sent again.
_LOST_FIELDS = "id,type,slug,meta_data,attributes"
MAX_SLUG_PROBES = 50
_TIME_FIELDS = frozenset({"created_at", "updated_at"})
# The fields a push writes to WooCommerce (sync/export.py plans no other): all of them; the sale price is
# WooCommerce's own ``sale_price``, the barcode its ``global_unique_id`` (GTIN/UPC/EAN/ISBN, WooCommerce 9.2+).
# Every merged field, and a linked product's categories (by name: found or created by ``taxonomy.py``).
PUSH_FIELDS: frozenset[str] = frozenset(FIELDS) | {CATEGORIES, TAGS}
_PRICES = ("price", "compare_at_price", "sale_price")
# Canonical fields each pushed field shows up as in a snapshot (the three prices are written together).
_SNAPSHOT_FIELDS = {name: _PRICES for name in _PRICES}

LinksCallback = Callable[[list[dict[str, Any]]], None]


def make_client(integration: Any, credentials: Mapping[str, Any]) -> WooCommerceClient:
    """A client for a stored integration (its URL, TLS settings and API version), carrying the integration's
    ``push_concurrency`` setting for :func:`apply_plan`."""
    client = WooCommerceClient(
        HttpOptions.for_integration(integration, timeout=30.0),
        reveal(credentials["consumer_key"]),
        reveal(credentials["consumer_secret"]),
    )
    client.push_concurrency = push_concurrency_of(integration.settings)  # type: ignore[attr-defined]
    return client


# --- payloads ----------------------------------------------------------------------------------------------------


def _money(value: Decimal | None) -> str:
    return "" if value is None else format(value, "f")


def product_fields(values: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """WooCommerce product fields for the canonical ``names``."""
    out: dict[str, Any] = {}
    for name in names:
        if name == "title":
            out["name"] = values["title"]
        elif name == "description":
            out["description"] = values.get("description") or ""
        elif name == "status":
            out["status"] = _STATUS.get(values["status"], "draft")
    return out


def variant_fields(values: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """WooCommerce price/SKU/barcode/weight fields for the canonical ``names``.

    The prices go together: a compare-at above the price is the regular price with the price as the sale price
    (how WooCommerce shows a sale in force); else the price is the regular price and the sale price is the hub's
    (a sale not in force: WooCommerce keeps it scheduled when the product has sale dates, set in the shop) or
    empty. The barcode is ``global_unique_id``.
    """
    names = set(names)
    out: dict[str, Any] = {}
    if names & set(_PRICES):
        price, compare = values.get("price"), values.get("compare_at_price")
        if compare is not None and price is not None and compare > price:
            out["regular_price"], out["sale_price"] = _money(compare), _money(price)
        else:
            out["regular_price"], out["sale_price"] = _money(price), _money(values.get("sale_price"))
    if "sku" in names:
        out["sku"] = values.get("sku") or ""
    if "barcode" in names:
        out["global_unique_id"] = values.get("barcode") or ""
    if "weight" in names:
        out["weight"] = values.get("weight") or ""
    return out


# What a create writes of each variant (the price stands for the three prices).
_CREATE_VARIANT_FIELDS = ("sku", "price", "barcode", "weight")


def create_slug(create: ProductCreate) -> str | None:
    """The slug a product is created with, in the form WordPress saves it (:func:`slugs.sanitize_title`), so the
    look-up of a lost create (:meth:`_Writer._lost_parent`) asks for what the shop holds: ``tee.shirt`` is saved
    ``tee-shirt``, ``Tee`` ``tee``.

    The hub handle's slug; for a variable product without a handle (or whose handle leaves nothing, say ``!!``) a
    deterministic one, ``<title's slug>-h<hub id>`` (``product-h<id>`` for a title leaving nothing), so a rerun
    after a kill or a lost batch answer finds that create too; it is never written back to the hub handle (hub
    handles are shared by every shop). The ``h`` keeps it apart from WordPress's ``-2``, ``-3`` of a taken slug. A
    simple product without a SKU is made the same way (nothing else finds it again: :func:`unkeyed`); one with a SKU
    and without a handle sends none (WordPress takes its name's): it is found again by its SKU."""
    if create.handle:
        saved = slugs.sanitize_title(create.handle)
        if saved:
            return saved
    if not unkeyed(create):
        return None
    suffix = f"-h{int(create.hub_id)}"
    base = slugs.sanitize_title(str(create.values.get("title") or ""))
    base = slugs.truncate_post_slug(base, slugs.SLUG_LENGTH - len(suffix)) or "product"
    return base + suffix


def unkeyed(create: ProductCreate) -> bool:
    """A create that no SKU finds again: a variable parent (it has no SKU of its own) or a simple product whose
    variant has none. Its create carries our mark and a rerun looks it up by slug (``_Writer._lost_parent``)."""
    return create.kind == "variable" or not (create.variants and create.variants[0].sku)


def _slug_note(handle: str, slug: Any) -> str:
    """The push report's note of a handle WordPress would not keep as it is (``create_slug``)."""
    if slug and slugs.sanitize_title(handle) == slug:
        return f"handle {handle!r} written as the URL slug {slug!r} (WordPress's sanitize_title)"
    return f"handle {handle!r} leaves no URL slug in WordPress: written as {slug!r}"


def _create_payload(create: ProductCreate) -> dict[str, Any]:
    body = {"type": create.kind, **product_fields(create.values, ("title", "description", "status"))}
    slug = create_slug(create)
    if slug:
        body["slug"] = slug
    if create.kind == "simple":
        body.update(variant_fields(create.variants[0].values, _CREATE_VARIANT_FIELDS))
    else:
        attributes: dict[str, list[str]] = {}
        for v in create.variants:
            for name, option in v.options.items():
                if option not in attributes.setdefault(name, []):
                    attributes[name].append(option)
        body["attributes"] = [
            {"name": name, "options": options, "variation": True, "visible": True}
            for name, options in attributes.items()
        ]
    return body


def _variation_payload(v: VariantValues) -> dict[str, Any]:
    body = variant_fields(v.values, _CREATE_VARIANT_FIELDS)
    body["attributes"] = [{"name": name, "option": option} for name, option in v.options.items()]
    return body


# --- bases after a write -----------------------------------------------------------------------------------------


def _pushed_snapshot_fields(names: Iterable[str]) -> set[str]:
    return {s for n in names for s in _SNAPSHOT_FIELDS.get(n, (n,))}


def base_after(
    old: Mapping[str, Any] | None, snapshot: dict[str, Any], pushed: Iterable[str]
) -> tuple[dict[str, Any], str | None]:
    """The base to store after a write and its hash (None when the shop also changed fields we did not push)."""
    if not old:  # no base yet (a create, or a link written before its record was read back)
        return snapshot, stable_hash(snapshot)
    skip = _TIME_FIELDS | _pushed_snapshot_fields(pushed)
    keys = (set(old) | set(snapshot)) - skip
    if all(old.get(k) == snapshot.get(k) for k in keys):
        return snapshot, stable_hash(snapshot)
    merged = dict(old)
    for k in _pushed_snapshot_fields(pushed):
        merged[k] = snapshot.get(k)
    return merged, None


def own_mark(integration: IntegrationRef, hub_id: int) -> str:
    """The mark a create carries (WooCommerce: meta :data:`OWN_MARK_KEY`; Shopify: an app metafield): which hub
    product of which tenant and shop (integration) asked for it, ``<tenant>/<integration id>/<hub product id>``."""
    return f"{integration.tenant_id}/{integration.id}/{int(hub_id)}"


def _attribute_key(attribute: Mapping[str, Any]) -> str:
    """How a variation's attribute is told to be one a create sent: a global attribute by its id (the writer names
    the parent's global attributes by id, and WooCommerce answers them under the attribute's own name, which the
    hub's may differ from in what ``taxonomy.name_key`` folds), a local one by its name as ``name_key`` folds it
    (the taxonomy's own matching of names)."""
    try:
        aid = int(attribute.get("id") or 0)
    except (TypeError, ValueError):
        aid = 0
    return f"#{aid}" if aid else f"name:{name_key(attribute.get('name'))}"


def _attribute_values(attributes: Any) -> dict[str, str]:
    """Attribute key (:func:`_attribute_key`) -> value folded by ``name_key`` (terms are matched that way). An "any"
    attribute (an empty value) is left out: WooCommerce saves it as "any" and its answer lists only the attributes a
    variation sets (``get_attributes``: ``if ( empty( $attribute ) && '0' !== $attribute ) continue;``)."""
    return {
        _attribute_key(a): name_key(a.get("option"))
        for a in (attributes if isinstance(attributes, list) else [])
        if isinstance(a, Mapping) and name_key(a.get("option"))
    }


def _same_options(variation: Mapping[str, Any], sent: Sequence[Mapping[str, Any]]) -> bool:
    """Whether a shop variation's attribute values are exactly those a create sent (``sent``: the ``attributes`` of
    its body, by id or by name), compared with the key and folding the writer used to name them
    (:func:`_attribute_key`), not the hub's option names. "Any" attributes count on neither side, so a variation of
    "any" value for every attribute matches one that sets none (the look-ups only ever consider variations without
    SKU that the parent did not have before the create, or of a parent carrying our mark)."""
    return _attribute_values(variation.get("attributes") or []) == _attribute_values(list(sent))


def _resend_wait(http: Any, attempt: int, err: BaseException) -> float | None:
    """How long to wait before resending a batch sent without the transport's retries (after the look-up): the
    transport's backoff for that attempt (without its jitter), or what the shop's ``Retry-After`` asks (a 429 or a
    503) when longer, as the transport's own retry would wait. None when the shop asks for more than the transport
    accepts to wait (``max_retry_after_s``): the caller gives up, as the transport does.

    The ``Retry-After`` is read from the error's ``retry_after`` (seconds), which the HTTP layer sets from the last
    attempt's header (``platforms/http.py``); an error without one (a 500, a timeout) waits only the backoff."""
    backoff = float(min(http.max_backoff_s, http.backoff_base_s * (2**attempt)))
    retry_after = getattr(err, "retry_after", None)
    if isinstance(retry_after, int | float) and not isinstance(retry_after, bool) and retry_after > 0:
        if retry_after > float(getattr(http, "max_retry_after_s", float("inf"))):
            return None
        return max(backoff, float(retry_after))
    return backoff


def _answered(
    chunk: list[tuple[str, Any, dict[str, Any]]], answer: Mapping[str, Any]
) -> Iterator[tuple[str, Any, dict[str, Any], Any, Mapping[str, Any] | None]]:
    """Each ``(kind, item, body)`` of a batch with its answer item and that item's error: a batch answers its
    creates, its updates (and adopts, sent as updates) and its deletes in three lists, each in request order."""
    answers = {kind: iter(answer.get(kind) or []) for kind in ("create", "update", "delete")}
    for kind, item, body in chunk:
        result = next(answers[kind if kind in answers else "update"], None)
        yield kind, item, body, result, _error_of(result)


class _Writer:
    """One plan's writes against one shop, collecting links and rejections."""

    def __init__(
        self, client: WooCommerceClient, plan: ExportPlan, on_links: LinksCallback, concurrency: int = 1
    ) -> None:
        self.client = client
        self.plan = plan
        self.on_links = on_links
        self.concurrency = max(1, concurrency)  # variation batches in flight at once (see _variations)
        self.out = WriteOutcome()
        self.integration = IntegrationRef.of(plan)
        # parent external id -> [(variant values or update, payload)] for the variations phase
        self.variation_creates: dict[str, list[VariantValues]] = {}
        self.variation_updates: dict[str, list[FieldUpdate]] = {}
        self.variation_deletes: dict[str, list[VariantDelete]] = {}
        self.parent_hub_ids: dict[str, int] = {}
        self.new_parents: set[str] = set()
        self.parent_bases: dict[str, Mapping[str, Any] | None] = {}
        self.product_pushed: dict[str, tuple[str, ...]] = {}
        self.taxonomy = WooTaxonomy(client)  # categories, global attributes and terms by name (taxonomy.py)
        self.tree = CategoryTree(lambda: client)  # nested categories read back as paths, as the pull reads them
        self.parent_attributes: dict[str, list[Any]] = {}  # a parent's attributes as its create answered them
        # Links of variable parents created by the current products batch (no base yet), committed once per batch.
        self.parent_links: list[dict[str, Any]] = []
        # Bare links of variations just created with a SKU, committed FRESH_LINKS at a time (see _variations).
        self.fresh_links: list[dict[str, Any]] = []
        # Parents whose variations were written, relinked MAX_PER_PAGE at a time (see _relink_parents): with batches
        # in flight, each full chunk as soon as its parents' batches are answered, overlapping the later batches;
        # ``relinked``: how many of ``to_relink`` are read (or being read) already; ``relink_later``: chunks left
        # for the end, with their read-back when it was made (None: the overlapped read failed, read again then).
        self.to_relink: list[_Relink] = []
        self.relinked = 0
        self.relink_later: list[tuple[list[_Relink], Any]] = []
        # Hub product id -> the variation entries of the uncertain-create marker this push left so far
        # (``_uncertain_payload``): every rejection of that product's variations carries them all.
        self.new_marks: dict[int, list[dict[str, Any]]] = {}

    # -- links --------------------------------------------------------------------------------------------------

    def _link_after(
        self,
        canonical: CanonicalProduct,
        external_id: str,
        hub_id: int,
        old: Mapping[str, Any] | None,
        pushed: Iterable[str],
        now: datetime,
        *,
        variant: CanonicalVariant | None = None,
        parent: str | None = None,
        sku_from_shop: bool = False,
    ) -> dict[str, Any]:
        """A product's (``variant`` None) or a variant's link after a write, every write path's one way: the new base
        (see :func:`base_after`) and, when that base is whole, the shop's ``updated_at`` (a variant's falling back
        on its product's). A variant's SKU is the new base's, or with ``sku_from_shop`` what the shop answered (a
        simple product's link, as it always was)."""
        shop_snapshot = product_snapshot(canonical) if variant is None else variant_snapshot(variant)
        snap, digest = base_after(old, shop_snapshot, pushed)
        if variant is None:
            entity, sku, updated_at = "product", None, canonical.updated_at
        else:
            entity, updated_at = "variant", variant.updated_at or canonical.updated_at
            sku = shop_snapshot["sku"] if sku_from_shop else snap.get("sku")
        return link_row(
            self.integration,
            entity=entity,
            external_id=external_id,
            hub_id=hub_id,
            snapshot=snap,
            digest=digest,
            sku=sku,
            parent=parent,
            updated_at=updated_at if digest else None,
            now=now,
        )

    def _canonical(self, product: Mapping[str, Any], variations: list[Any]) -> Any:
        """A written product as the pull reads it (nested categories as ``Parent > Child`` paths), so its link's
        base is what the next pull computes and that pull changes nothing."""
        return product_to_canonical(self.tree.stage({"product": product, "variations": variations}))

    def _link_simple(
        self,
        product: Mapping[str, Any],
        product_hub_id: int,
        variant_hub_id: int,
        pushed: Iterable[str],
        old_product: Mapping[str, Any] | None,
        old_variant: Mapping[str, Any] | None,
    ) -> None:
        canonical = self._canonical(product, [])
        pushed = set(pushed)
        variant = canonical.variants[0]
        now = utcnow()
        ext = canonical.external_id
        self.on_links(
            [
                self._link_after(canonical, ext, product_hub_id, old_product, pushed, now),
                self._link_after(
                    canonical,
                    variant.external_id,
                    variant_hub_id,
                    old_variant,
                    pushed,
                    now,
                    variant=variant,
                    parent=ext,
                    sku_from_shop=True,
                ),
            ]
        )

    # -- products -----------------------------------------------------------------------------------------------

    def lookup_skus(self, skus: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Products of the shop that already carry one of ``skus`` (``GET /products?sku=A,B``, 100 per call)."""
        found: dict[str, dict[str, Any]] = {}
        unique = sorted(set(skus))
        for start in range(0, len(unique), MAX_PER_PAGE):
            chunk = unique[start : start + MAX_PER_PAGE]
            items = self.client.get("products", {"sku": ",".join(chunk), "per_page": MAX_PER_PAGE, "status": "any"})
            for item in items if isinstance(items, list) else []:
                if isinstance(item, Mapping) and item.get("sku"):
                    found[str(item["sku"])] = dict(item)
        return found

    def run(self) -> WriteOutcome:
        plan = self.plan
        simple_skus = [c.variants[0].sku for c in plan.creates if c.kind == "simple" and c.variants[0].sku]
        existing = self.lookup_skus([s for s in simple_skus if s]) if simple_skus else {}
        creates: list[tuple[ProductCreate, dict[str, Any]]] = []
        adopt: list[tuple[ProductCreate, dict[str, Any]]] = []
        for c in plan.creates:
            sku = c.variants[0].sku if c.kind == "simple" else None
            if sku and sku in existing:
                adopt.append((c, existing[sku]))
            elif unkeyed(c) and (plan.resume or c.hub_id in plan.uncertain_creates) and self._adopt_lost(c, adopt):
                continue
            else:
                body = self._taxonomy_body(c)
                if body is not None:
                    creates.append((c, body))
                    if c.handle and body.get("slug") != c.handle:  # said, not only done (PrestaShop does too)
                        self.out.warn("product", c.handle, _slug_note(c.handle, body.get("slug")), c.hub_id)
        updates: dict[str, list[FieldUpdate]] = {}
        for u in [*plan.updates, *plan.deletes]:
            if u.entity == "product" or u.is_simple_variant:
                updates.setdefault(u.external_id, []).append(u)
            else:
                self.variation_updates.setdefault(str(u.parent_external_id), []).append(u)
                if u.product_hub_id is not None:
                    self.parent_hub_ids.setdefault(str(u.parent_external_id), u.product_hub_id)
                    self.parent_bases.setdefault(str(u.parent_external_id), u.product_base)
        for vc in plan.variant_creates:
            self.variation_creates.setdefault(vc.product_external_id, []).append(vc.variant)
            self.parent_hub_ids[vc.product_external_id] = vc.product_hub_id
        for vd in plan.variant_deletes:
            self.variation_deletes.setdefault(vd.product_external_id, []).append(vd)
            self.parent_hub_ids.setdefault(vd.product_external_id, vd.product_hub_id)
            self.parent_bases.setdefault(vd.product_external_id, vd.product_base)
        for u in plan.updates:
            if u.entity == "product":
                self.parent_hub_ids.setdefault(u.external_id, u.hub_id)
                self.parent_bases.setdefault(u.external_id, u.base)
                self.product_pushed[u.external_id] = tuple(u.changes)
        self._product_batches(creates, adopt, updates)
        parents = set(self.variation_creates) | set(self.variation_updates) | set(self.variation_deletes)
        try:
            self._variations(sorted(parents, key=str))
        finally:  # also when a batch fails for good: what the shop created is linked
            self._flush_fresh_links()
        self._relink_parents()
        self.out.api_calls = self.client.http.stats.api_calls
        return self.out

    def _product_batches(
        self,
        creates: list[tuple[ProductCreate, dict[str, Any]]],
        adopt: list[tuple[ProductCreate, dict[str, Any]]],
        updates: dict[str, list[FieldUpdate]],
    ) -> None:
        ops: list[tuple[str, Any, dict[str, Any]]] = [("create", c, body) for c, body in creates]
        for c, found in adopt:
            self.plan.adopt("product", c.hub_id)  # lineage: linked, not created (sync/lineage.py)
            self.plan.adopt("variant", c.variants[0].hub_id)
            adopt_body = {"id": found["id"], **_create_payload(c)}
            adopt_body.pop("type", None)
            adopt_body.pop("slug", None)
            ops.append(("adopt", c, adopt_body))
        for ext, group in sorted(updates.items()):
            body: dict[str, Any] = {"id": int(ext) if ext.isdigit() else ext}
            for u in group:
                fields = product_fields if u.entity == "product" else variant_fields
                body.update(fields(u.values, u.changes))
                if u.entity != "product":
                    continue
                for field, resolve in ((CATEGORIES, self.taxonomy.category_ids), (TAGS, self.taxonomy.tag_ids)):
                    if field not in u.changes:
                        continue
                    try:
                        ids = resolve(u.changes[field][1])
                    except TaxonomyError as err:  # rejected with the reason; planned again on the next push
                        self.out.reject("product", u.external_id, str(err), u.changes[field][1])
                        self.product_pushed[u.external_id] = tuple(
                            c for c in self.product_pushed.get(u.external_id, tuple(u.changes)) if c != field
                        )
                        continue
                    body[field] = [{"id": i} for i in ids]  # the whole list: WooCommerce replaces it
            if len(body) > 1:
                ops.append(("update", group, body))
        retry_adopt: list[tuple[ProductCreate, dict[str, Any]]] = []
        for start in range(0, len(ops), BATCH_LIMIT):
            chunk = ops[start : start + BATCH_LIMIT]
            chunk, answer = self._send_products(chunk)
            for kind, item, body, result, error in _answered(chunk, answer):
                if kind == "create":
                    self._after_create(item, body, result, error, retry_adopt)
                elif kind == "adopt":
                    self._after_adopt(item, body, result, error)
                else:
                    self._after_update(item, body, result, error)
            self._flush_parent_links()  # one transaction per batch, not one per variable product
        if retry_adopt:
            self._product_batches([], retry_adopt, {})

    def _send_products(
        self, chunk: list[tuple[str, Any, dict[str, Any]]]
    ) -> tuple[list[tuple[str, Any, dict[str, Any]]], Mapping[str, Any]]:
        """POST one products batch; the chunk actually sent and the answer.

        A batch that creates variable products (or simple ones without SKU: ``unkeyed``) is sent without the
        transport's automatic retry: a lost answer (dropped connection, 5xx) may hide a create the shop applied, and
        a blind resend would create the SKU-less product twice. Instead, each such create is looked up by its slug
        and our mark (:meth:`_lost_parent`: a merchant's product with that slug, made before or after, is never
        taken for it), the ones found are linked, and the rest of the batch is sent again (simple products with a
        SKU are safe: their resend is answered "duplicated SKU" and linked), again without the transport's retries
        while it holds an unkeyed create: send, look up, send the rest, up to the configured ``max_retries`` times
        with the transport's backoff (before, the resend went with the retries on, and its own lost answer was
        resent blindly: the SKU-less product made twice). Only a failure that may hide an applied write
        (``_TRANSIENT``: a 5xx, a 429, a cut or lost answer) is looked up; a 4xx is raised. The retries are off
        for this thread's call only (``HttpSession.without_retries``): any other thread of the session keeps its
        own, and they are on again after the block whatever other threads do meanwhile.
        """
        http = self.client.http
        attempts = http.max_retries  # the configured count: each send below goes with the transport's retries off
        for attempt in range(attempts + 1):
            if not any(kind == "create" and unkeyed(item) for kind, item, _ in chunk):
                return chunk, self._post_products(chunk) if chunk else {}
            try:
                with http.without_retries():
                    return chunk, self._post_products(chunk)
            except _TRANSIENT as err:
                wait = _resend_wait(http, attempt, err)
                if attempt >= attempts or wait is None:
                    raise
            # Backoff as the transport's (without its jitter) or the shop's Retry-After, then the look-up: a create
            # applied late is found.
            getattr(http, "_sleep", time.sleep)(wait)
            chunk = [op for op in chunk if not (op[0] == "create" and unkeyed(op[1])
                                                and self._adopt_lost(op[1], None))]  # fmt: skip
        return chunk, {}  # not reached: the last attempt returns or raises

    def _post_products(self, chunk: list[tuple[str, Any, dict[str, Any]]]) -> Mapping[str, Any]:
        request = {
            "create": [body for kind, _, body in chunk if kind == "create"],
            "update": [body for kind, _, body in chunk if kind != "create"],
        }
        answer = self.client.post("products/batch", {k: v for k, v in request.items() if v})
        return answer if isinstance(answer, Mapping) else {}

    def _after_create(
        self,
        c: ProductCreate,
        body: dict[str, Any],
        result: Any,
        error: Mapping[str, Any] | None,
        retry_adopt: list[tuple[ProductCreate, dict[str, Any]]],
    ) -> None:
        key = c.variants[0].sku if c.kind == "simple" and c.variants[0].sku else (c.handle or f"hub#{c.hub_id}")
        if error is not None:
            owner = (error.get("data") or {}).get("resource_id") if isinstance(error.get("data"), Mapping) else None
            if error.get("code") in DUPLICATE_SKU_CODES and owner and c.kind == "simple":
                found = self._adoptable(owner, c.variants[0].sku)
                if found is not None:
                    retry_adopt.append((c, found))  # the SKU is the shop's product already: link and update it
                    return
                error = {**error, "message": f"{error.get('message')} (the SKU belongs to shop record {owner}, "
                         "which is not a product: give one of them another SKU)"}  # fmt: skip
            self.out.reject("product", key, _reason(error), body)
            return
        if c.kind == "simple":
            self._link_simple(result, c.hub_id, c.variants[0].hub_id, (), None, None)
            self.out.created += 1
            return
        ext = str(result["id"])
        self.parent_links.append(
            link_row(
                self.integration,
                entity="product",
                external_id=ext,
                hub_id=c.hub_id,
                snapshot=None,
                digest=None,
                updated_at=None,
                now=utcnow(),
            )
        )
        self.parent_hub_ids[ext] = c.hub_id
        self.new_parents.add(ext)
        self.parent_attributes[ext] = list(result.get("attributes") or [])
        self.variation_creates.setdefault(ext, []).extend(c.variants)
        self.out.created += 1

    def _taxonomy_body(self, c: ProductCreate) -> dict[str, Any] | None:
        """The create body with the shop's category and global attribute ids (created when missing); None when the
        shop refused one of them: the product is rejected with the reason, and planned again on the next push."""
        body = _create_payload(c)
        if unkeyed(c):  # no SKU to find it by: the mark is how a rerun tells our lost create (_lost_parent)
            body["meta_data"] = [{"key": OWN_MARK_KEY, "value": self._own_mark(c.hub_id)}]
        try:
            return self.taxonomy.create_body(c, body)
        except TaxonomyError as err:
            key = c.variants[0].sku if c.kind == "simple" and c.variants[0].sku else (c.handle or f"hub#{c.hub_id}")
            self.out.reject("product", key, str(err), body)
            return None

    def _variation_attributes(self, parent: str, creates: list[VariantValues]) -> dict[int, list[dict[str, Any]]]:
        """New variations' attributes (hub id -> list), the parent's options extended first; {} and a rejection
        per variation when the shop refused an attribute or value."""
        try:
            return self.taxonomy.variation_attributes_for(parent, creates, self.parent_attributes.get(parent))
        except TaxonomyError as err:
            for v in creates:
                self.out.reject("variant", v.sku or f"hub#{v.hub_id}", str(err), _variation_payload(v))
            return {}

    def _own_mark(self, hub_id: int) -> str:
        """The value of :data:`OWN_MARK_KEY` a variable create carries (:func:`own_mark`)."""
        return own_mark(self.integration, hub_id)

    def _lost_parent(self, c: ProductCreate) -> Mapping[str, Any] | None:
        """The product (of ``c``'s type: a variable parent, or a simple product without SKU) an earlier request of
        ours created for ``c`` and never linked (a push killed between the shop's create and our link, or a batch
        answer lost), or None.

        Ours is told by the mark its create carried (``meta_data`` :data:`OWN_MARK_KEY`, this tenant, shop and hub
        product): a merchant's product with the same slug or name never has it, whenever it was made, so no id
        floor (which a push killed before its link could not hand to the rerun) is needed. It is found by the slug
        its create sent (:func:`create_slug`: the handle as WordPress saves it, or ``<title>-h<hub id>``):
        WordPress saves a create whose slug another product holds as ``<slug>-2``, ``-3``, ... (the first free one,
        ``wp_unique_post_slug``; a draft keeps the slug even when taken), so ``<slug>``, ``<slug>-2``, ... are read
        in turn (one call each) until ours is found or a slug no product holds: ours cannot be above the first
        free one (but for a reserved slug, ``feed``, whose bare form is free yet never given: read past it). Any
        type and status (trash aside, which holds ``<slug>__trashed``) takes a slug, so the reads filter neither.
        Left: a product holding a lower slug deleted for good between our create and the rerun hides ours (then
        created again)."""
        mark = self._own_mark(c.hub_id)
        slug = create_slug(c)
        if not slug:
            return None
        # A reserved slug (``feed``, ``embed``: slugs.RESERVED_FLAT_SLUGS) is never saved as it is but by a draft:
        # a published create of ``feed`` is ``feed-2`` even when no product holds ``feed``, so a free bare slug
        # does not end the look-up there.
        reserved = slug in slugs.RESERVED_FLAT_SLUGS
        ours: list[Mapping[str, Any]] = []
        for suffix in range(1, MAX_SLUG_PROBES + 1):
            wanted = slug if suffix == 1 else slugs.suffixed_slug(slug, suffix)
            items = self.client.get(
                "products", {"slug": wanted, "status": "any", "per_page": MAX_PER_PAGE, "_fields": _LOST_FIELDS}
            )
            # Only products that do hold the slug count: a shop ignoring the filter must not keep the loop going.
            # Compared in WordPress's saved form (lower-case, octets lower-case), never the hub handle as typed.
            found = [
                i
                for i in (items if isinstance(items, list) else [])
                if isinstance(i, Mapping) and slugs.sanitize_title(str(i.get("slug") or ""), "query") == wanted
            ]
            ours.extend(i for i in found if i.get("type") == c.kind and _marked(i, mark))
            if not found and not (reserved and suffix == 1):
                break
        return self._one_of_ours(c, ours)

    def _one_of_ours(self, c: ProductCreate, ours: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
        """The one product carrying ``c``'s mark, of those the slug look-up met (every slug up to the first free
        one, not only up to the first marked: a copy may sit on a lower slug than ours).

        WooCommerce's "Duplicate" admin action copies every meta key to the copy (``WC_Admin_Duplicate_Product::
        product_duplicate``; only keys named by the ``woocommerce_duplicate_product_exclude_meta`` filter are left
        out), our mark included, so two shop products can carry one mark. A marked product already linked to another
        hub product of this shop (the pull took the merchant's copy in as a product of its own) is not ours to take.
        Of the others, one is ours; two or more cannot be told apart: :class:`_AmbiguousMark`, and the create is
        refused rather than guessed (the lowest id was taken before) or sent again."""
        linked = self.plan.linked_products
        free = [i for i in ours if linked.get(str(i.get("id")), c.hub_id) == c.hub_id]
        if len(free) > 1:
            raise _AmbiguousMark(sorted(int(i.get("id") or 0) for i in free))
        return free[0] if free else None

    def _adopt_lost(self, c: ProductCreate, adopt: list[tuple[ProductCreate, dict[str, Any]]] | None) -> bool:
        """After an interrupted push or a lost batch answer: link the product an earlier request of ours created for
        ``c`` (:meth:`_lost_parent`) instead of creating it again. True when found. A variable parent is linked with
        its variations (:meth:`_adopt_parent`); a simple product without SKU is adopted like one found by SKU (added
        to ``adopt``: updated with the create's fields and linked from the answer) on a rerun, or, after a lost
        answer of this push's own create (``adopt`` None), read back and linked as created."""
        try:
            if c.kind == "variable":
                return self._adopt_parent(c)
            lost = self._lost_parent(c)
        except _AmbiguousMark as err:
            key = c.variants[0].sku if c.kind == "simple" and c.variants[0].sku else (c.handle or f"hub#{c.hub_id}")
            self.out.reject(
                "product",
                key,
                f"shop products {', '.join(map(str, err.ids))} all carry the mark ({OWN_MARK_KEY} "
                f"{self._own_mark(c.hub_id)!r}) of this hub product's own create (a copy made with WooCommerce's "
                "Duplicate keeps it): not created again, and none is linked by guess; delete the copy or its "
                f"{OWN_MARK_KEY} custom field, then push again",
                # The marker (sync.export.uncertain_creates): the push after this one looks the create up again,
                # resume or not, and refuses again while the copies stand, instead of creating a third product.
                {
                    "ids": err.ids,
                    "slug": create_slug(c),
                    CREATE_UNCERTAIN: {"hub_id": int(c.hub_id), "slug": create_slug(c)},
                },
            )
            return True
        if lost is None:
            return False
        if adopt is not None:
            adopt.append((c, dict(lost)))
            return True
        product = self.client.get(f"products/{int(lost['id'])}")
        self.plan.adopt("product", c.hub_id)
        self.plan.adopt("variant", c.variants[0].hub_id)
        self._link_simple(product, c.hub_id, c.variants[0].hub_id, (), None, None)
        self.out.created += 1
        return True

    def _adopt_parent(self, c: ProductCreate) -> bool:
        """After an interrupted push or a lost batch answer: link the variable product an earlier request of ours
        created (:meth:`_lost_parent`: by the mark its create carried, never a merchant's product with that slug)
        and its variations (by SKU; one without SKU by its attribute values) instead of creating it again. True when
        found."""
        lost = self._lost_parent(c)
        if lost is None:
            return False
        ext = str(lost["id"])
        self.plan.adopt("product", c.hub_id)
        self.parent_hub_ids[ext] = c.hub_id
        self.new_parents.add(ext)
        variations = list(self.client.list_variations(ext))
        by_sku = {str(v.get("sku")): v for v in variations if v.get("sku")}
        # A variation without SKU is ours by its attribute values (the parent carries our mark), each taken once.
        skuless = [x for x in variations if not x.get("sku")]
        # Compared with the attributes a create of it would send (by id for the parent's global attributes), never
        # creating an attribute for a look-up.
        own = [dict(a) for a in lost.get("attributes") or [] if isinstance(a, Mapping)]
        for v in c.variants:
            if v.sku:
                existing = by_sku.get(v.sku)
            else:
                sent = self.taxonomy.variation_attributes(own, v.options, create=False)
                existing = next((x for x in skuless if _same_options(x, sent)), None)
                if existing is not None:
                    skuless.remove(existing)
            if existing is None:
                self.variation_creates.setdefault(ext, []).append(v)
                continue
            self.plan.adopt("variant", v.hub_id)
            changes = {name: (None, v.values.get(name)) for name in ("sku", *_PRICES, "barcode", "weight")}
            self.variation_updates.setdefault(ext, []).append(
                FieldUpdate("variant", v.hub_id, str(existing["id"]), ext, changes, v.values, {})
            )
        self.out.created += 1
        return True

    def _adoptable(self, owner: Any, sku: str | None) -> dict[str, Any] | None:
        """The shop product that owns ``sku`` (from a duplicate-SKU answer), or None when the owner is a variation
        or another record: only a product with exactly that SKU is linked."""
        try:
            found = self.client.get(f"products/{int(owner)}")
        except (ShopApiError, ValueError, TypeError):
            return None
        if isinstance(found, Mapping) and found.get("type") != "variation" and found.get("sku") == sku:
            return dict(found)
        return None

    def _after_adopt(
        self, c: ProductCreate, body: dict[str, Any], result: Any, error: Mapping[str, Any] | None
    ) -> None:
        if error is not None:
            self.out.reject("product", c.variants[0].sku or f"hub#{c.hub_id}", _reason(error), body)
            return
        self._link_simple(result, c.hub_id, c.variants[0].hub_id, (), None, None)
        self.out.updated += 1

    def _after_update(
        self, group: list[FieldUpdate], body: dict[str, Any], result: Any, error: Mapping[str, Any] | None
    ) -> None:
        if error is not None:
            for u in group:
                self.out.reject(u.entity, str(u.values.get("sku") or u.external_id), _reason(error), body)
            return
        canonical = self._canonical(result, [])
        now = utcnow()
        rows = []
        written = {u.external_id for u in group if u.entity == "variant"}
        for u in group:
            if u.entity == "product":
                rows.append(self._link_after(canonical, u.external_id, u.hub_id, u.base, u.changes, now))
                # A simple product's variant is the product: the write moved its modification time too.
                for v in canonical.variants:
                    known = u.variant_bases.get(v.external_id)
                    if known is not None and v.external_id not in written:
                        hub_id, base = known
                        rows.append(
                            self._link_after(canonical, v.external_id, hub_id, base, u.changes, now, variant=v,
                                             parent=u.external_id)
                        )  # fmt: skip
            elif canonical.variants:
                if u.product_hub_id is not None and not any(x.entity == "product" for x in group):
                    parent_id = u.parent_external_id or u.external_id
                    rows.append(self._link_after(canonical, parent_id, u.product_hub_id, u.product_base, (), now))
                v = canonical.variants[0]
                rows.append(
                    self._link_after(
                        canonical,
                        u.external_id,
                        u.hub_id,
                        u.base,
                        u.changes,
                        now,
                        variant=v,
                        parent=u.parent_external_id,
                    )
                )
        self.on_links(rows)
        self.out.updated += 1

    # -- variations ---------------------------------------------------------------------------------------------

    def _variations(self, parents: Sequence[str]) -> None:
        """Every parent's variation batches, up to ``concurrency`` parents' batches in flight at once.

        Only the POSTs run in worker threads: each parent's ops are built here (taxonomy look-ups included) and its
        answers processed here, in parent order, exactly as one batch at a time would (links, counters,
        rejections). Parents are independent in the shop. A parent with a variation to create without a SKU is
        sent alone, once every batch in flight is answered and processed, and its links are committed before the
        next batch goes (see ``_take``): a rerun could not find that variation by SKU. Concurrency 1 sends each
        batch from this thread after the previous one's answer was processed: the behaviour before concurrency.
        """
        if self.concurrency <= 1 or len(parents) <= 1:
            for parent in parents:
                push = self._prepare(parent)
                self._send_alone(push)
            return
        pending: deque[tuple[_ParentPush, Future[_Answers]]] = deque()
        # Read-backs in flight: each MAX_PER_PAGE parents whose batches are all answered are read back (one GET,
        # in a worker, counted in the calls in flight) while later batches are sent, and relinked here when read.
        reading: deque[tuple[list[_Relink], Future[Any]]] = deque()
        error: BaseException | None = None

        def settle_oldest() -> None:
            nonlocal error
            push, future = pending.popleft()
            answers, failure = future.result()
            for chunk, answer in zip(push.chunks, answers, strict=False):
                self._take(push, chunk, answer)
            if failure is not None:
                error = error or failure  # the first failure is raised once what is in flight was processed
                self._abandon(push)
            else:
                self._finish(push)

        def relink_oldest() -> None:
            chunk, future = reading.popleft()
            try:
                items = future.result()
            except Exception:  # read again at the end (_relink_parents), where a failure fails the push as before
                self.relink_later.append((chunk, None))
                return
            if _needs_calls(chunk, items):  # its further reads go at the end, alone (push_concurrency holds)
                self.relink_later.append((chunk, items))
                return
            self._relink_chunk(chunk, items)

        def settle_one() -> None:
            if reading and (reading[0][1].done() or not pending):
                relink_oldest()
            else:
                settle_oldest()

        def read_ready(pool: ThreadPoolExecutor) -> None:
            while error is None and len(self.to_relink) - self.relinked >= MAX_PER_PAGE:
                chunk = self.to_relink[self.relinked : self.relinked + MAX_PER_PAGE]
                self.relinked += len(chunk)
                while len(pending) + len(reading) >= self.concurrency:
                    settle_one()
                if error is not None:  # the wait settled a batch that failed for good: nothing more is sent
                    return
                reading.append((chunk, pool.submit(self._read_parents, chunk)))

        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="woo-push") as pool:
            try:
                for parent in parents:
                    if error is not None:
                        break
                    read_ready(pool)
                    if error is not None:  # settled while waiting for a read-back's slot (review 4)
                        break
                    if self.variation_creates.get(parent):
                        # Building new variations' ops calls the shop from this thread (the parent read, a new
                        # option's term, the parent's PUT): it takes a slot of its own first, so that at most
                        # ``concurrency`` calls are ever in flight, this thread's included (before: N + 1).
                        while len(pending) + len(reading) >= self.concurrency:
                            settle_one()
                        if error is not None:
                            break
                    push = self._prepare(parent)
                    if not push.chunks:
                        while pending:
                            settle_oldest()
                        self._finish(push)
                        continue
                    if not push.adoptable:  # a SKU-less create: alone, after everything in flight
                        while pending or reading:
                            settle_one()
                        if error is not None:
                            break
                        self._send_alone(push)
                        continue
                    while len(pending) + len(reading) >= self.concurrency:
                        settle_one()
                    if error is not None:
                        break
                    pending.append((push, pool.submit(self._post_chunks, parent, push.chunks)))
                while pending or reading:
                    settle_one()
                    read_ready(pool)
            finally:
                # Something in this thread failed (a link commit): what is still in flight is answered and dropped;
                # variations it created have SKUs, linked by the rerun ("duplicated SKU"), as after a kill.
                for _push, future in pending:
                    future.cancel()
                for _chunk, future in reading:
                    future.cancel()
        if error is not None:
            raise error

    def _send_alone(self, push: _ParentPush) -> None:
        """A parent's batches from this thread, each sent after the previous answer was processed."""
        try:
            for chunk in push.chunks:
                self._take(push, *self._send_variation_chunk(push.parent, chunk))
        except BaseException:
            self._abandon(push)
            raise
        self._finish(push)

    def _abandon(self, push: _ParentPush) -> None:
        """A parent whose batches stopped on a failure: what its answered batches did is still recorded (its
        refusals, and the tombstones of the variations the shop deleted: a rerun would find nothing to delete)."""
        self._replay_early(push)
        if push.gone:
            gone, push.gone = push.gone, []
            self.on_links(gone)

    def _post_chunks(self, parent: str, chunks: list[_Chunk]) -> _Answers:
        """(Worker thread.) POST a parent's batches in turn; the answers, and the failure that stopped them."""
        answers: list[Mapping[str, Any]] = []
        for chunk in chunks:
            try:
                answers.append(self._post_variations(parent, chunk))
            except Exception as exc:  # raised in the main thread, after the answers before it are processed
                return answers, exc
        return answers, None

    def _send_variation_chunk(self, parent: str, chunk: _Chunk) -> tuple[_Chunk, Mapping[str, Any]]:
        """POST one variation batch from this thread; the chunk as answered and its answer.

        A batch creating a variation without SKU goes without the transport's retries: its lost answer (a 5xx, a
        cut body) may hide variations the shop made, which no SKU finds again, and a blind resend would make them
        twice. Instead the parent's variations are listed and each SKU-less create is matched by its attribute
        values (a SKU-less variation of this parent with exactly those options, not taken by another create of
        the batch): the ones found are answered as created, the rest of the batch is sent again (same way, up to
        the configured retries, with backoff). Creates with a SKU are safe: a resend is answered "duplicated SKU".

        Only a variation the parent did not have before the first send can be such a late create: the parent's
        variation ids are listed once before it (one call, only for a batch holding a SKU-less create). Review 6
        reproduced both ways a variation already there was taken: a merchant's own SKU-less variation with the same
        options (linked to the hub variant, ours never made) and the variation the same batch deletes (matched, then
        deleted by the resend: the shop left without that option).

        When every attempt went unanswered, the SKU-less creates still in the batch may exist in the shop all the
        same (the last attempt applied, its answer lost): each is refused with an uncertain-create marker
        (:meth:`_reject_uncertain_variations`) before the failure is raised, and the next push, finding the marker,
        looks it up among the parent's variations made since the first send before creating it
        (:meth:`_marked_variations`). Before, the rerun created it a second time. Any failure after an answer was
        lost (the resend of the rest, the look-up's listing) marks the same way every SKU-less create of the batch,
        the ones found late included (their answer is dropped with the failure: not linked)."""
        http = self.client.http
        attempts = http.max_retries
        found: list[tuple[tuple[str, Any, dict[str, Any]], Mapping[str, Any]]] = []
        existing: set[str] | None = None
        marks = self._variation_marks(parent)
        if marks and any(kind == "create" and item.hub_id in marks for kind, item, _ in chunk):
            listed = list(self.client.list_variations(parent))
            existing = {str(v.get("id")) for v in listed}
            chunk, adopted = self._marked_variations(parent, chunk, listed, marks)
            found.extend(adopted)
        before: set[str] = set()  # the parent's variation ids before the first send: the marker's floor
        lost = 0  # sends whose answer was lost (each may have been applied)
        try:
            for attempt in range(attempts + 1):
                if not any(kind == "create" and not item.sku for kind, item, _ in chunk):
                    answer = self._post_variations(parent, chunk) if chunk else {}
                    break
                if existing is None:
                    existing = {str(v.get("id")) for v in self.client.list_variations(parent)}
                if not lost:
                    before = set(existing)
                try:
                    with http.without_retries():
                        answer = self._post_variations(parent, chunk)
                    break
                except _TRANSIENT as err:
                    lost += 1
                    wait = _resend_wait(http, attempt, err)
                    if attempt >= attempts or wait is None:
                        raise
                getattr(http, "_sleep", time.sleep)(wait)
                chunk, late = self._late_variations(parent, chunk, existing)
                found.extend(late)
                existing |= {str(v.get("id")) for _, v in late}  # each taken once, across attempts too
        except Exception as err:
            if lost:
                # An answer was lost, so any SKU-less create of the batch may be in the shop unlinked: the ones
                # still in it, and the ones found late (or by the marker) whose answer is dropped with this
                # failure. Each is marked (floor: before the first send), so the next push looks it up; before,
                # a failure after the look-up (the resend of the rest, the listing itself) left no marker.
                self._reject_uncertain_variations(parent, [op for op, _ in found] + list(chunk), before, lost, err)
            raise
        if not found:
            return chunk, answer
        merged = {**answer, "create": [v for _, v in found] + list(answer.get("create") or [])}
        return [op for op, _ in found] + list(chunk), merged

    def _variation_marks(self, parent: str) -> dict[int, dict[str, Any]]:
        """Hub variant id -> the uncertain-create entry an earlier push left for a variation create under ``parent``
        that got no answer (``plan.uncertain_creates`` of the parent's hub product, its ``variations``)."""
        hub = self.parent_hub_ids.get(parent)
        marker = self.plan.uncertain_creates.get(int(hub)) if hub is not None else None
        entries = marker.get("variations") if isinstance(marker, Mapping) else None
        return {
            int(e["hub_id"]): dict(e)
            for e in (entries if isinstance(entries, list) else [])
            if isinstance(e, Mapping) and str(e.get("parent")) == parent and str(e.get("hub_id", "")).isdigit()
        }

    def _marked_variations(
        self, parent: str, chunk: _Chunk, listed: Sequence[Mapping[str, Any]], marks: Mapping[int, Mapping[str, Any]]
    ) -> tuple[_Chunk, list[tuple[tuple[str, Any, dict[str, Any]], Mapping[str, Any]]]]:
        """The creates of ``chunk`` an earlier push sent without an answer (``marks``), looked up before they are
        sent again: among the parent's variations (``listed``) made since that push's first send (id above the
        marker's ``floor``), without SKU, with the options that push sent. One found: adopted (answered as created,
        linked; a hub value that differs is pushed on the next run). Several: refused with their ids and what to do,
        the marker kept (none is linked by guess, none is created). None: sent (created) as planned."""
        taken: set[str] = set()
        ambiguous: set[str] = set()
        rest: _Chunk = []
        adopted: list[tuple[tuple[str, Any, dict[str, Any]], Mapping[str, Any]]] = []
        for op in chunk:
            kind, item, body = op
            entry = marks.get(item.hub_id) if kind == "create" else None
            if entry is None:
                rest.append(op)
                continue
            floor = int(entry.get("floor") or 0)
            sent = [o for o in entry.get("sent") or [] if isinstance(o, list)] or [list(body.get("attributes") or [])]
            linked = self.plan.linked_variants
            candidates = [
                v
                for v in listed
                if str(v.get("id")).isdigit()
                and int(v["id"]) > floor
                and not v.get("sku")
                and int(linked.get(str(v["id"]), item.hub_id)) == int(item.hub_id)  # not another variant's
                and any(_same_options(v, options) for options in sent)
            ]
            matches = [v for v in candidates if str(v.get("id")) not in taken]
            # A candidate another marked create of the batch was refused over (same options): this one is as
            # ambiguous. Before, the first was refused, its candidates taken, and the second created again.
            shared = {int(v["id"]) for v in candidates if str(v["id"]) in ambiguous}
            if not matches and not shared:
                rest.append(op)
                continue
            if len(matches) > 1 or shared:
                ids = sorted({int(v["id"]) for v in matches} | shared)
                ambiguous.update(str(i) for i in ids)
                self.out.reject(
                    "variant",
                    item.sku or f"hub#{item.hub_id}",
                    f"an earlier push's create of this variation got no answer, and product {parent} has "
                    f"{len(ids)} variations without SKU with its options made since ({', '.join(map(str, ids))}): any "
                    "may be that create's late record, so none is linked by guess and it is not created again. In "
                    "WooCommerce keep one of them and delete the others (or give the hub variant a SKU and the shop's "
                    "variation the same), then push again: the one left is linked",
                    self._uncertain_payload(parent, item, body, None, {"candidates": ids}),
                )
                taken.update(str(i) for i in ids)
                continue
            taken.add(str(matches[0]["id"]))
            self.plan.adopt("variant", item.hub_id)  # lineage: linked, not created (an earlier push made it)
            adopted.append((op, matches[0]))
        return rest, adopted

    def _reject_uncertain_variations(
        self, parent: str, chunk: _Chunk, existing: set[str], attempts: int, err: Exception
    ) -> None:
        """Every attempt of a batch holding SKU-less creates went unanswered: each of those creates may be in the
        shop (the last attempt applied, its answer lost), and nothing would find it again. Each is refused with an
        uncertain-create marker: the parent, its highest variation id before the first send (``floor``: a variation
        above it was made since) and the options sent; the next push reads the marker back
        (``sync.export.uncertain_creates``) and looks the create up before sending it (:meth:`_marked_variations`).
        The creates with a SKU are left out: the rerun's create is answered "duplicated SKU" and linked."""
        floor = max((int(i) for i in existing if i.isdigit()), default=0)
        for kind, item, body in chunk:
            if kind != "create" or item.sku:
                continue
            options = ", ".join(f"{k}={v}" for k, v in item.options.items()) or "no options"
            self.out.reject(
                "variant",
                f"hub#{item.hub_id}",
                f"the variation create ({options}) under product {parent} got no answer after {attempts} attempts "
                f"({type(err).__name__}): the shop may have made it all the same. The next push looks it up among "
                f"the product's variations made since (id above {floor}, same options, no SKU) and links it instead "
                "of creating it again",
                self._uncertain_payload(parent, item, body, floor),
            )

    def _uncertain_payload(
        self, parent: str, item: VariantValues, body: Mapping[str, Any], floor: int | None, extra: Any = None
    ) -> dict[str, Any]:
        """A variation rejection's payload with the uncertain-create marker of its parent's hub product: this
        push's new entry (``floor`` not None) merged with the open marker of an earlier push, every entry kept (the
        marker is read per hub product: the last rejection read wins, so each carries them all), the lower floor
        and every set of options sent kept per variant, so a late record of any earlier attempt is still found."""
        hub = self.parent_hub_ids.get(parent)
        payload: dict[str, Any] = {"attributes": list(body.get("attributes") or []), **(extra or {})}
        if hub is None:
            return payload
        old = self.plan.uncertain_creates.get(int(hub)) or {}
        entries: dict[tuple[str, int], dict[str, Any]] = {}
        for e in [*(old.get("variations") or []), *self.new_marks.get(int(hub), [])]:
            if isinstance(e, Mapping) and str(e.get("hub_id", "")).isdigit():
                entries[(str(e.get("parent")), int(e["hub_id"]))] = dict(e)
        if floor is not None:
            key = (parent, int(item.hub_id))
            entry = entries.get(key) or {"parent": parent, "hub_id": int(item.hub_id), "floor": floor, "sent": []}
            entry["floor"] = min(int(entry.get("floor") or 0), floor) if key in entries else floor
            sent = [o for o in entry.get("sent") or [] if isinstance(o, list)]
            attributes = [dict(a) for a in body.get("attributes") or [] if isinstance(a, Mapping)]
            if attributes not in sent:
                sent.append(attributes)  # the attributes sent (by id or name): what the look-up compares
            entry["sent"] = sent
            entries[key] = entry
            self.new_marks[int(hub)] = list(entries.values())
        if not entries:
            return payload
        return {**payload, CREATE_UNCERTAIN: {**old, "hub_id": int(hub), "variations": list(entries.values())}}

    def _late_variations(
        self, parent: str, chunk: _Chunk, existing: set[str]
    ) -> tuple[_Chunk, list[tuple[tuple[str, Any, dict[str, Any]], Mapping[str, Any]]]]:
        """After a lost variation batch answer: the chunk without the SKU-less creates the shop made anyway, and
        those creates each with the variation found for it (by attribute values, see ``_send_variation_chunk``),
        never one of ``existing`` (the parent's variations before the first send, and those already taken)."""
        taken: set[str] = set()
        candidates = [
            v for v in self.client.list_variations(parent) if not v.get("sku") and str(v.get("id")) not in existing
        ]
        rest: list[tuple[str, Any, dict[str, Any]]] = []
        late: list[tuple[tuple[str, Any, dict[str, Any]], Mapping[str, Any]]] = []
        for op in chunk:
            kind, item, _body = op
            match = None
            if kind == "create" and not item.sku:
                sent = list(_body.get("attributes") or [])
                match = next(
                    (v for v in candidates if str(v.get("id")) not in taken and _same_options(v, sent)),
                    None,
                )
            if match is None:
                rest.append(op)
                continue
            taken.add(str(match.get("id")))
            late.append((op, match))
        return rest, late

    def _post_variations(self, parent: str, chunk: _Chunk) -> Mapping[str, Any]:
        """POST one variation batch (at most BATCH_LIMIT ops) and return its answer; no state is touched here, so
        worker threads may call it."""
        request = {
            "create": [body for kind, _, body in chunk if kind == "create"],
            "update": [body for kind, _, body in chunk if kind == "update"],
            "delete": [body["id"] for kind, _, body in chunk if kind == "delete"],
        }
        answer = self.client.post(f"products/{parent}/variations/batch", {k: v for k, v in request.items() if v})
        return answer if isinstance(answer, Mapping) else {}

    def _prepare(self, parent: str) -> _ParentPush:
        """A parent's variation ops, in batches of BATCH_LIMIT. A refusal met here (an attribute the shop would not
        create) is kept with the parent and recorded when its answers are processed, in the order of today's."""
        creates = self.variation_creates.get(parent, [])
        updates = self.variation_updates.get(parent, [])
        out, self.out = self.out, WriteOutcome()
        try:
            attributes = self._variation_attributes(parent, creates) if creates else {}
        finally:
            early, self.out = self.out, out
        ops: list[tuple[str, Any, dict[str, Any]]] = [
            ("create", v, {**_variation_payload(v), "attributes": attributes[v.hub_id]})
            for v in creates
            if v.hub_id in attributes
        ]
        for u in updates:
            vid = int(u.external_id) if u.external_id.isdigit() else u.external_id
            ops.append(("update", u, {"id": vid, **variant_fields(u.values, u.changes)}))
        for vd in self.variation_deletes.get(parent, []):
            ops.append(("delete", vd, {"id": int(vd.external_id) if vd.external_id.isdigit() else vd.external_id}))
        chunks = [ops[start : start + BATCH_LIMIT] for start in range(0, len(ops), BATCH_LIMIT)]
        return _ParentPush(parent, creates, updates, chunks, early, self._variation_marks(parent))

    def _replay_early(self, push: _ParentPush) -> None:
        if push.early is not None:
            self.out.rejections.extend(push.early.rejections)
            self.out.failed += push.early.failed
            push.early = None

    def _take(self, push: _ParentPush, chunk: _Chunk, answer: Mapping[str, Any]) -> None:
        """Process one variation batch's answer (main thread): counters, rejections, links."""
        self._replay_early(push)
        parent = push.parent
        fresh: list[dict[str, Any]] = []  # bare links of the variations this batch created (see below)
        for kind, item, body, result, error in _answered(chunk, answer):
            if kind == "delete":
                if error is not None and error.get("code") not in GONE_VARIATION_CODES:
                    self.out.reject("variant", item.sku or item.external_id, _reason(error), body)
                    continue
                push.gone.append(deleted_variant_row(self.integration, item, utcnow()))
                self.out.deleted += 1
            elif kind == "create":
                if error is not None and error.get("code") in DUPLICATE_SKU_CODES and item.sku:
                    push.duplicates.append((item, body, error))  # ours already? decided once the parent is read
                    continue
                if error is not None:
                    self.out.reject("variant", item.sku or f"hub#{item.hub_id}", _reason(error), body)
                    continue
                assert isinstance(result, Mapping)  # _error_of reports a missing item as an error
                push.answered.append(result)
                push.written[str(result["id"])] = (item.hub_id, None, ())
                fresh.append(
                    link_row(
                        self.integration,
                        entity="variant",
                        external_id=str(result["id"]),
                        hub_id=item.hub_id,
                        snapshot=None,
                        digest=None,
                        updated_at=None,
                        sku=item.sku,
                        parent=parent,
                        now=utcnow(),
                    )
                )
                if parent not in self.new_parents:
                    self.out.created += 1
            else:
                if error is not None:
                    self.out.reject("variant", str(item.values.get("sku") or item.external_id), _reason(error), body)
                    continue
                push.written[item.external_id] = (item.hub_id, item.base or None, item.changes)
                if isinstance(result, Mapping):
                    push.updated[item.external_id] = result
                self.out.updated += 1
        if fresh:
            # Linked soon, based later (the parents' read-back at the end of the push), so a push that dies in
            # between does not create them again on the rerun. With a SKU each, they are committed with the next
            # ones (one transaction per FRESH_LINKS rows, not one per parent): one created but not yet linked when
            # the push dies is answered "duplicated SKU" on the rerun and linked then (see ``_relink_variable``).
            # One without a SKU could not be found that way: committed now (and, with batches in flight, its batch
            # went alone: see ``_variations``).
            self.fresh_links.extend(fresh)
            if len(self.fresh_links) >= FRESH_LINKS or not all(row["sku"] for row in fresh):
                self._flush_fresh_links()

    def _finish(self, push: _ParentPush) -> None:
        """After a parent's last batch: tombstones, and what its relink needs."""
        self._replay_early(push)
        parent, written, duplicates, updated = push.parent, push.written, push.duplicates, push.updated
        if push.gone:
            self.on_links(push.gone)  # tombstoned as soon as the shop answered (a rerun would find nothing to delete)
        # A parent created by this push whose variations were all created here (none refused as a duplicate, none
        # updated) has exactly the variations the batches answered: no need to list them again. Nor when only
        # existing variations were updated (a price edit): each answered one keeps the position its base has (an
        # update does not move a variation), and the others are not relinked. A delete may move them: read back.
        complete = parent in self.new_parents and not push.updates and not duplicates and bool(push.answered)
        positions: dict[str, int] = {}
        if not push.creates and not duplicates and not push.gone and written and set(updated) == set(written):
            for vid, (_hub, old, _pushed) in written.items():
                position = (old or {}).get("position")
                if isinstance(position, int):
                    positions[vid] = position
        if positions and len(positions) == len(written):
            self.to_relink.append(_Relink(parent, written, duplicates, list(updated.values()), positions))
        else:
            self.to_relink.append(_Relink(parent, written, duplicates, push.answered if complete else None))

    def _relink_parents(self) -> None:
        """Relink every parent whose variations were written and not relinked yet (``_variations`` relinks each
        full chunk while later batches are in flight): the parents are read back 100 per call
        (``GET products?include=...``), their variations listed only when the batches did not answer all of them,
        and the links of each 100 parents committed together."""
        chunks, self.relink_later = self.relink_later, []
        chunks += [
            (self.to_relink[start : start + MAX_PER_PAGE], None)
            for start in range(self.relinked, len(self.to_relink), MAX_PER_PAGE)
        ]
        self.relinked = len(self.to_relink)
        for chunk, items in chunks:
            self._relink_chunk(chunk, self._read_parents(chunk) if items is None else items)

    def _read_parents(self, chunk: Sequence[_Relink]) -> Any:
        """The parents of ``chunk`` as the shop has them now (one ``GET products?include=...``); no state is
        touched here, so a worker thread may call it."""
        ids = ",".join(r.parent for r in chunk)
        return self.client.get("products", {"include": ids, "per_page": MAX_PER_PAGE, "status": "any"})

    def _relink_chunk(self, chunk: Sequence[_Relink], items: Any) -> None:
        """The links of ``chunk``'s parents and written variations from their read-back, committed together, after
        the variations' bare links (a bare link committed later would drop the new base)."""
        parents = {str(p.get("id")): p for p in items if isinstance(p, Mapping)} if isinstance(items, list) else {}
        rows: list[dict[str, Any]] = []
        for r in chunk:
            product = parents.get(r.parent) or self.client.get(f"products/{r.parent}")
            rows.extend(self._relink_variable(r.parent, r.written, r.duplicates, product, r.variations, r.positions))
        if rows:
            self._flush_fresh_links()
            self.on_links(rows)

    def _flush_fresh_links(self) -> None:
        if self.fresh_links:
            rows, self.fresh_links = self.fresh_links, []
            self.on_links(rows)

    def _flush_parent_links(self) -> None:
        if self.parent_links:
            self.on_links(self.parent_links)
            self.parent_links = []

    def _relink_variable(
        self,
        parent: str,
        written: dict[str, tuple[int, Mapping[str, Any] | None, Any]],
        duplicates: Sequence[tuple[VariantValues, dict[str, Any], Mapping[str, Any]]] = (),
        product: Any = None,
        variations: Sequence[Mapping[str, Any]] | None = None,
        positions: Mapping[str, int] | None = None,
    ) -> list[dict[str, Any]]:
        """The links of a parent and its written variations, from the parent and its variations as the shop has
        them after the write (their times and positions moved): read back here unless given. With ``positions``,
        ``variations`` are only the updated ones, each at the position given (its base's).

        A variation create refused as a duplicated SKU that this parent already has is ours from a push killed
        before its links: it is linked (its base is the shop's state, so a hub value that differs is pushed next
        run); a SKU held elsewhere in the shop is a rejection.
        """
        if product is None:
            product = self.client.get(f"products/{parent}")
        variations = list(variations) if variations is not None else list(self.client.list_variations(parent))
        by_sku = {str(v.get("sku")): str(v.get("id")) for v in variations if isinstance(v, Mapping) and v.get("sku")}
        for item, body, error in duplicates:
            own = by_sku.get(item.sku or "")
            if own is None:
                self.out.reject("variant", str(item.sku), _reason(error), body)
            else:
                self.plan.adopt("variant", item.hub_id)
                written[own] = (item.hub_id, None, ())
        canonical = self._canonical(product, variations)
        if positions:
            canonical = replace(
                canonical,
                variants=tuple(
                    replace(v, position=positions.get(v.external_id, v.position)) for v in canonical.variants
                ),
            )
        now = utcnow()
        rows: list[dict[str, Any]] = []
        hub_id = self.parent_hub_ids.get(parent)
        if hub_id is not None:
            pushed = self.product_pushed.get(parent, ())
            rows.append(self._link_after(canonical, parent, hub_id, self.parent_bases.get(parent), pushed, now))
        for v in canonical.variants:
            if v.external_id not in written:
                continue
            vhub, old, pushed = written[v.external_id]
            rows.append(self._link_after(canonical, v.external_id, vhub, old, pushed, now, variant=v, parent=parent))
        return rows


class _AmbiguousMark(Exception):
    """Two or more shop products carry one create's mark (:meth:`_Writer._one_of_ours`)."""

    def __init__(self, ids: list[int]) -> None:
        super().__init__(f"products {ids} carry one mark")
        self.ids = ids


_Chunk = list[tuple[str, Any, dict[str, Any]]]
# A worker's answers to a parent's batches, and the failure that stopped it (None: all were answered).
_Answers = tuple[list[Mapping[str, Any]], Exception | None]


class _ParentPush:
    """One parent's variation batches and what their answers said, collected in the main thread."""

    def __init__(
        self,
        parent: str,
        creates: list[VariantValues],
        updates: list[FieldUpdate],
        chunks: list[_Chunk],
        early: WriteOutcome,
        marked: Collection[int] = (),
    ) -> None:
        self.parent = parent
        self.creates = creates
        self.updates = updates
        self.chunks = chunks
        self.early: WriteOutcome | None = early  # refusals met while building the ops, recorded with the answers
        # Every create carries a SKU: one created but not linked when the push dies is found on the rerun. A create
        # an earlier push left an uncertain-create marker for (``marked``) is not, whatever its SKU now: it goes
        # through the marker's look-up (``_send_variation_chunk``), or the SKU-less one that push made is doubled.
        self.adoptable = all(
            item.sku and item.hub_id not in marked for chunk in chunks for kind, item, _ in chunk if kind == "create"
        )
        self.written: dict[str, tuple[int, Mapping[str, Any] | None, Iterable[str]]] = {}
        self.gone: list[dict[str, Any]] = []
        self.duplicates: list[tuple[VariantValues, dict[str, Any], Mapping[str, Any]]] = []
        self.answered: list[Mapping[str, Any]] = []
        self.updated: dict[str, Mapping[str, Any]] = {}  # variation id -> the variation as its update answered it


class _Relink:
    """A parent whose variations were written: what was written, and its variations when the answers hold all."""

    def __init__(
        self,
        parent: str,
        written: dict[str, tuple[int, Mapping[str, Any] | None, Any]],
        duplicates: Sequence[tuple[VariantValues, dict[str, Any], Mapping[str, Any]]],
        variations: list[Mapping[str, Any]] | None,
        positions: dict[str, int] | None = None,
    ) -> None:
        self.parent = parent
        self.written = written
        self.duplicates = duplicates
        self.variations = variations
        self.positions = positions


def _needs_calls(chunk: Sequence[_Relink], items: Any) -> bool:
    """Whether relinking ``chunk`` from its parents' read-back ``items`` takes more calls: a parent the read-back
    lacks (read on its own), or one whose variations the batch answers did not all hold (listed)."""
    found = {str(p.get("id")) for p in items if isinstance(p, Mapping)} if isinstance(items, list) else set()
    return any(r.variations is None or r.parent not in found for r in chunk)


def _marked(product: Mapping[str, Any], mark: str) -> bool:
    """Whether a shop product carries our create's mark (:data:`OWN_MARK_KEY`) with this value."""
    meta = product.get("meta_data")
    return isinstance(meta, list) and any(
        isinstance(m, Mapping) and m.get("key") == OWN_MARK_KEY and str(m.get("value")) == mark for m in meta
    )


def _error_of(result: Any) -> Mapping[str, Any] | None:
    if not isinstance(result, Mapping):
        return {"code": "missing_answer", "message": "the batch answer has no item for this request"}
    error = result.get("error")
    return error if isinstance(error, Mapping) else None


def _reason(error: Mapping[str, Any]) -> str:
    return f"{error.get('code')}: {error.get('message')}"


def apply_plan(
    client: WooCommerceClient, plan: ExportPlan, on_links: LinksCallback, *, concurrency: int | None = None
) -> WriteOutcome:
    """Apply ``plan`` to the shop behind ``client``; links are handed to ``on_links`` as each batch is answered.

    ``concurrency``: variation batches in flight at once; None takes the client's ``push_concurrency`` (set by
    :func:`make_client` from the integration's setting), else ``DEFAULT_PUSH_CONCURRENCY``."""
    if concurrency is None:
        concurrency = getattr(client, "push_concurrency", None) or DEFAULT_PUSH_CONCURRENCY
    writer = _Writer(client, plan, on_links, concurrency)
    try:
        return writer.run()
    except Exception as exc:
        # What was refused before the failure (among them the markers of variation creates that got no answer) is
        # recorded by ``run_push`` all the same: dropped, the next push had no marker and created them again.
        setattr(exc, PARTIAL_OUTCOME, writer.out)
        raise
