"""Shopify writer: applies an export plan with GraphQL ``productSet`` and ``productVariantsBulkUpdate``.

- Creates and product-field updates go through ``productSet`` (built for syncing from an external source, run
  synchronously: the answer is the product as written, so its base needs no read-back). A create carries the
  product's options and all its variants; an update carries only the changed product fields (``productSet``
  leaves out what it is not given, and a missing ``variants`` list leaves the variants alone).
- Variant changes (price, compare-at price, SKU, barcode, weight) of one product are one
  ``productVariantsBulkUpdate`` with ``allowPartialUpdates``: a variant the shop refuses does not hold back the others.
- Hub variants added to a product the shop already has are one ``productVariantsBulkCreate`` per product (Shopify
  creates them all or none: a refused one holds back its siblings, each rejected with the reason).
- Hub variants deleted under a product the shop has are one ``productVariantsBulkDelete`` per product (all or
  none); a variant the shop no longer has (a push killed after the delete, before its link was tombstoned) is
  found by deleting one by one after an ``AT_LEAST_ONE_VARIANT_DOES_NOT_BELONG_TO_THE_PRODUCT`` answer.
- **Bulk** above ``bulk_mutation_threshold`` (integration setting, default 250): when one push has more
  ``productSet`` writes than that (or more products with variant changes), the same per-product inputs become the
  lines of a JSONL file (``stagedUploadsCreate``, a multipart upload, ``bulkOperationRunMutation`` with the very
  document the per-call path sends, ``bulkOperation(id:)`` polled at a pace
  taken from the time waited and the operation's ``objectCount``), and each result line (matched by
  ``__lineNumber``) goes through the same result handler as a per-call answer: links, or a rejection with the
  line's ``userErrors``. Only for API versions that take it (``versions.FEATURES["bulk_product_set"]``, 2026-01+);
  older ones push per call. The bulk operation's own calls are cheap (10 points each, polls 1-2), so a large push
  leaves the cost bucket to the extracts.
- Every call runs under the client's cost governor (``ShopifyClient.execute``), so a large push paces itself to
  the bucket instead of meeting THROTTLED.
- ``userErrors`` are per item: each refused product or variant becomes a rejection (stage ``export``) with the
  shop's code, message and field, its link is not written, and the next push plans it again (retried).
- Idempotent creates: the SKUs about to be created are looked up first (``productVariants(query: "sku:...")``); a
  product found with one is adopted instead of created (``productSet`` with ``identifier: {id}`` and the product's
  fields only: a ``variants`` list would delete the shop's variants the hub lacks; then the variants matched by SKU, see
  ``_on_adopted``). Every other create is ``productSet`` with ``identifier: {handle}``, which Shopify treats as
  "create, or update the product with that handle", so a resend after a lost answer, or the rerun of a process killed
  between the shop's create and our link, writes the same product. The handle is the hub's, put in the form Shopify
  stores (``shopify_handle``: lowercase, hyphens; sent verbatim, ``T-Shirt_Bio`` was stored ``t-shirt_bio`` and a
  rerun's look-up by the verbatim key missed it), else ``generated_handle`` (the title's slug and ``-h<hub id>``:
  deterministic, unique per hub product, within Shopify's handle characters). No two creates of a push share one
  (``_create_handles``: two ``productSet`` with one handle write one product, the second replacing the first): of
  repeated hub handles one is created and the others rejected, a hub handle that is the product of another hub
  product's link is rejected, and a generated handle either takes goes to ``-2``, ``-3``. It is not written back to
  the hub (the hub handle is every shop's slug and the catalogue
  file's key; the pull does not bring it back either, the link's base holding it). The SKU look-up is a search, and
  Shopify's search index lags writes, so right after a kill it may not see the product the killed push made: the
  handles are therefore looked up too, by key (``productByIdentifier``, which sees a write at once; never a
  ``products(query: "handle:...")`` search). A product found by handle is read by id for its SKUs
  (``_owned_by_handle``): carrying one of ours, it is adopted as if the SKU search had found it. Every create
  without SKUs also carries our mark (a create with SKUs is told by them, and a metafield adds 0.4 to productSet's
  cost), an app metafield (``$app:ecom_pipeline``/``ref``: tenant, shop, hub product; only our app can
  write an app-reserved namespace), read with the handle look-up: a product with the mark of this hub product is
  the create of a push killed before its link, written again by handle and linked (SKUs or not). Any other product
  with the handle is a merchant's own that merely has it and is refused (not overwritten), after an interrupted
  push (``plan.resume``) too, also for a hub product without SKUs. A product created by a version before the mark
  is taken back only when the hub's lineage says a push to this shop created (or adopted) this hub product as
  exactly that Shopify id (``plan.pushed_products``, from ``push_records``; Shopify never reuses an id), e.g. its
  link lost since; otherwise it is refused the same way, the rejection naming the handle and the shop's product and
  how to link it (the same SKUs on both sides) or have it created anew (delete it in Shopify). The writes that are not
  idempotent (``collectionCreate``, ``productVariantsBulkCreate``) go through ``_write_once``: no blind resend by
  the HTTP layer, a look-up of what they meant to create before each resend.
- A hub delete is a ``DRAFT`` product, not ``ARCHIVED``: the export plan (shared by every platform) states a
  deleted or archived hub product as ``draft``, and the link's base is compared with that value; writing
  ARCHIVED would read back as ``archived`` and be planned (and written) again on every push. Draft also keeps
  the product editable and off every sales channel, which is what a delete in the hub means.
- Echo suppression: a link's new base is the canonical snapshot of the product as the mutation answered it (the
  pull's own transform, with the shop currency the pull stages), so the pull or webhook that brings our write
  back hashes the same and changes nothing.
- Fields (``PUSH_FIELDS``): all but the sale price (Shopify has a price and a compare-at price only). The weight is
  the inventory item's ``measurement.weight``, written in KILOGRAMS (the pull reads it in kg whatever the unit);
  the barcode is the variant's own.

- Tags: a create carries the hub's tag names (``tags``); a linked product whose hub tags differ from its base (the
  plan's ``tags`` change: a set of names without case, an empty hub list changing nothing) is a ``productSet`` with
  the whole hub list, which replaces the shop's (so a tag removed in the hub leaves the shop). Shopify trims tags and
  drops empty and repeated ones; a tag it refuses (over 255 characters) is a ``userError`` of that product only.

- Vendor and product type (the hub's ``vendor`` and ``shopify_product_type``, Shopify's ``vendor`` and
  ``productType``): on create when the hub has them, and in a linked product's ``productSet`` when the hub's differ
  from the link's base (merged fields with a policy, like the title); the answer's values become the base, so the
  pull that reads them back changes nothing. Only Shopify takes them (``merge.SHOPIFY_PRODUCT_FIELDS``): the hub's
  ``product_type``, WooCommerce's simple/variable kind, is never sent here, nor Shopify's type to WooCommerce.

- Categories are custom (manual) collections when the integration opts in (``shopify_collections``, off by default:
  then no category is written and no collection read or created, as before the feature): a hub category is the
  collection titled like its leaf (``Kitchen > Mugs`` is the collection ``Mugs``; Shopify collections are flat), the
  pull reads a product's custom collections'
  titles back (``transform._categories``), and ``sync.category_paths`` takes a one-step name as agreeing with any
  path of its leaf, so neither side echoes and the hub keeps its paths. A create carries its categories, a linked
  product whose hub categories differ from its base (the plan's ``categories`` change; an empty hub list changes
  nothing) gets them, as ``productSet``'s ``collections`` (collection ids; a list field: the product's custom
  collections become exactly these, so one removed in the hub is left; smart ones follow their rules). The shop's
  collections are read once per push that has categories to write (``collections``, 250 a page) and a missing one
  is created with ``collectionCreate`` (custom: no ruleSet), each at most once per push. A title Shopify refuses,
  or one that is a smart collection's, rejects that product only. The base's categories are the titles written
  (the mutation answer does not select collections), which is what the pull reads back.

Known limits (docs/two-way-sync.md): new variants under linked products (``productVariantsBulkCreate``) always go
one call per product.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

from ecom_pipeline.platforms.errors import (
    ShopRateLimitedError,
    ShopResponseError,
    ShopServerError,
    ShopUnreachableError,
    TransformError,
)
from ecom_pipeline.platforms.http import HttpOptions
from ecom_pipeline.platforms.shopify import queries as q
from ecom_pipeline.platforms.shopify.client import ShopifyClient, gid_tail
from ecom_pipeline.platforms.shopify.credentials import provider_for
from ecom_pipeline.platforms.shopify.transform import collection_titles, product_to_canonical
from ecom_pipeline.platforms.shopify.versions import pinned_version
from ecom_pipeline.platforms.woocommerce.writer import base_after, own_mark
from ecom_pipeline.sync.canonical import CanonicalProduct
from ecom_pipeline.sync.category_paths import escape_name, split_path
from ecom_pipeline.sync.export import (
    CATEGORIES,
    TAGS,
    ExportPlan,
    FieldUpdate,
    IntegrationRef,
    ProductCreate,
    VariantCreate,
    VariantDelete,
    VariantValues,
    WriteOutcome,
    deleted_variant_row,
    link_row,
)
from ecom_pipeline.sync.hashing import stable_hash
from ecom_pipeline.sync.merge import FIELDS, SHOPIFY_PRODUCT_FIELDS, normalize
from ecom_pipeline.sync.policies import BULK_THRESHOLD_KEY, parse_bulk_threshold, shopify_collections_of
from ecom_pipeline.sync.resolve.products import product_snapshot, variant_snapshot
from ecom_pipeline.warehouse.types import utcnow

_log = logging.getLogger(__name__)

LinksCallback = Callable[[list[dict[str, Any]]], None]
# The fields a push writes to Shopify (sync/export.py plans no other): not the sale price (Shopify has a price and
# a compare-at price only: a sale is the price with a compare-at above it); and a linked product's tags (the plan's
# ``tags`` change, sent as the whole list: ``productSet`` replaces the product's tags with it); and Shopify's own
# product fields, ``vendor`` and ``shopify_product_type`` (``productType``).
PUSH_FIELDS: frozenset[str] = (frozenset(FIELDS) - {"sale_price"}) | {TAGS} | frozenset(SHOPIFY_PRODUCT_FIELDS)
# With ``shopify_collections`` on, a linked product's categories too (the plan's ``categories`` change, as custom
# collections: see the docstring).
COLLECTIONS_PUSH_FIELDS: frozenset[str] = PUSH_FIELDS | {CATEGORIES}
# Failures the HTTP layer would retry, where the shop may have written before the answer was lost (a non-idempotent
# write is looked up before it is sent again: ``_Writer._write_once``).
LOST_ANSWER_ERRORS = (ShopServerError, ShopUnreachableError, ShopResponseError, ShopRateLimitedError)
# The fields of an adopted product's matched variant compared with the hub's and written where they differ (its SKU
# is the hub's by definition: that is how it was found).
ADOPTED_VARIANT_FIELDS = ("price", "compare_at_price", "barcode", "weight")
COLLECTIONS_PAGE = 250  # collections per page of the once-per-push look-up
SKU_LOOKUP_CHUNK = 50  # SKUs per look-up query (the search string stays short; 250 results per page at most)
HANDLE_MAX = 255  # characters of a handle (the hub's ``handle`` column is as long)
SKUS_PAGE = 250  # variants per page when a product found by handle is read for its SKUs
MUTATION_ESTIMATE = 10.0  # a mutation field costs 10 points before its selection
_STATUS = {"active": "ACTIVE", "draft": "DRAFT", "archived": "ARCHIVED"}
DEFAULT_OPTION = ("Title", "Default Title")  # what Shopify names the option of a product without options
WRITE_SCOPE = "write_products"
DEFAULT_BULK_MUTATION_THRESHOLD = 250  # more writes of one kind than this in one push: a bulk mutation
# A bulk mutation's staged file is kept at most this size (a conservative bound; a larger push runs several
# operations one after the other).
BULK_FILE_MAX_BYTES = 20 * 1024 * 1024


class ShopifyWriteError(RuntimeError):
    """A push that cannot start (the app lacks the write scope): the whole push fails with what to do."""


def push_fields(settings: Mapping[str, Any] | None) -> frozenset[str]:
    """The fields a push to an integration with these settings writes (``sync.export.push_fields_for``): categories
    only when it opted in to custom collections."""
    return COLLECTIONS_PUSH_FIELDS if shopify_collections_of(settings) else PUSH_FIELDS


def make_client(integration: Any, credentials: Mapping[str, Any]) -> ShopifyClient:
    """A client for a stored integration (URL, TLS settings, pinned API version, token or client credentials)."""
    options = HttpOptions.for_integration(integration, api_version=pinned_version(integration.settings), timeout=30.0)
    client = ShopifyClient(options, provider_for(integration.base_url, credentials, verify=options.verify))
    # Checked as `integration set` checks it (a bad value stored by hand fails here, naming the setting).
    threshold = (integration.settings or {}).get(BULK_THRESHOLD_KEY)
    client.bulk_mutation_threshold = parse_bulk_threshold(threshold) if threshold is not None else None
    client.shopify_collections = shopify_collections_of(integration.settings)
    return client


def _gid(kind: str, external_id: str) -> str:
    return external_id if external_id.startswith("gid://") else f"gid://shopify/{kind}/{external_id}"


def _money(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _reason(error: Mapping[str, Any]) -> str:
    field = ".".join(str(f) for f in error.get("field") or [])
    return f"{error.get('code') or 'INVALID'}: {error.get('message')}" + (f" (field {field})" if field else "")


def _tail(external_id: Any) -> str:
    """A product's id as links keep it (``gid://shopify/Product/7`` and ``7`` are both ``7``)."""
    return gid_tail(external_id) or str(external_id)


def _named(c: ProductCreate) -> str:
    """A hub product as a rejection names it: ``#7 'Mug'`` and its hub handle when it has one."""
    title = c.values.get("title")
    return f"#{c.hub_id} {title!r}" + (f" (hub handle {c.handle!r})" if c.handle else " (no hub handle)")


def product_input(values: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """``ProductSetInput`` fields for the canonical product ``names`` (title, description, status, vendor, product
    type; tags are the caller's: a create's are ``ProductCreate.tags``, an update's the plan's change). A vendor or
    product type the hub cleared is sent as "" (Shopify's "none"; the pull reads it back as NULL)."""
    out: dict[str, Any] = {}
    for name in names:
        if name == "title":
            out["title"] = values["title"]
        elif name == "description":
            out["descriptionHtml"] = values.get("description") or ""
        elif name == "status":
            out["status"] = _STATUS.get(values["status"], "DRAFT")
        elif name == "vendor":
            out["vendor"] = values.get("vendor") or ""
        elif name == "shopify_product_type":
            out["productType"] = values.get("shopify_product_type") or ""
    return out


def weight_input(weight: Any) -> dict[str, Any]:
    """``InventoryItemInput.measurement`` for a hub weight (kg text; none is 0, how Shopify shows no weight)."""
    value = float(Decimal(str(weight))) if weight not in (None, "") else 0.0
    return {"weight": {"value": value, "unit": "KILOGRAMS"}}


def variant_input(values: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """``ProductVariantsBulkInput`` fields for the canonical variant ``names``; price and compare-at travel together
    so a compare-at at or below the price is cleared. SKU and weight are the inventory item's (``measurement``,
    written in kilograms)."""
    names = set(names)
    out: dict[str, Any] = {}
    if names & {"price", "compare_at_price"}:
        out["price"] = _money(values.get("price"))
        out["compareAtPrice"] = _money(values.get("compare_at_price"))
    if "barcode" in names:
        out["barcode"] = values.get("barcode") or ""
    item: dict[str, Any] = {}
    if "sku" in names:
        item["sku"] = values.get("sku") or ""
    if "weight" in names:
        item["measurement"] = weight_input(values.get("weight"))
    if item:
        out["inventoryItem"] = item
    return out


def collection_title(category: Any) -> str:
    """The Shopify collection of a hub category: its leaf (``Kitchen > Mugs`` -> ``Mugs``), spaces collapsed.
    Collections are flat; the leaf is what a merchant names a collection, and a leaf read back agrees with the
    hub's path (``sync.category_paths``), so the pull of our write changes nothing. An escaped ``\\>`` is part of
    the leaf's name (``Kids \\> 3 years`` is the collection ``Kids > 3 years``)."""
    parts = split_path(category)
    return parts[-1] if parts else ""


def slug(text: str) -> str:
    """``text`` as a Shopify handle: ASCII letters (accents dropped, lowercased), digits and single hyphens.

    shopify.dev, ``ProductSetInput.handle``: "A handle can contain letters, hyphens (-), and numbers, but no
    spaces"; ``productByHandle``: handles "are always lowercase. Whitespace and special characters are replaced with
    a hyphen", runs of them by one, none at the start. Letters outside ASCII are left out: the Admin API does not
    take them in a handle (shopify.dev community, "Cannot update product handle with unicode characters")."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", folded).strip("-")


# Characters Shopify removes from a handle rather than turning them into a hyphen (measured against the Admin API:
# stackoverflow.com "What characters are allowed in Shopify product handles?").
_HANDLE_DROPPED = re.compile(r"[\"'()\[\]]")


def shopify_handle(value: Any) -> str:
    """A hub handle as the Shopify handle it is sent, looked up and compared as ("" when nothing of it is left).

    Shopify does not keep a handle as it is given: it stores it lowercase, with "whitespace and special characters
    replaced with a hyphen", runs of them by one, none at the ends (shopify.dev ``productByHandle``,
    https://shopify.dev/docs/api/admin-graphql/2026-01/queries/productByHandle, and
    https://shopify.dev/docs/api/liquid/basics#handles). Sent verbatim, a hub handle such as PrestaShop's
    ``T-Shirt_Bio`` was created as ``t-shirt_bio``, and the look-up by key of the rerun or the resend (``T-Shirt_Bio``)
    found nothing: the create was sent again and refused (the handle taken) or duplicated. So every handle is put in
    this form first, one Shopify stores unchanged whatever it does with the characters its docs leave open: a
    WooCommerce slug's percent-escapes decoded (``caf%c3%a9`` is ``café``), ``" ' ( ) [ ]`` removed as Shopify
    removes them, then ``slug`` (accents folded, anything but ASCII letters and digits one hyphen: ``_`` too, which
    the docs do not list; ``cafe``, ``t-shirt-bio``), at most ``HANDLE_MAX`` characters."""
    text = _HANDLE_DROPPED.sub("", unquote(str(value or ""), errors="replace"))
    return slug(text)[:HANDLE_MAX].strip("-")


def generated_handle(hub_id: int, title: Any, attempt: int = 1) -> str:
    """The handle a hub product without one is created with: the slug of its title and ``-h<hub id>``, at most
    ``HANDLE_MAX`` characters (``product-h<id>`` when the title has no ASCII letter or digit).

    Deterministic (the same hub product gives the same handle on every push, so a rerun after a kill looks up the
    handle it created with, by key: ``productByIdentifier``), and unique per hub product (two hub products titled
    ``Mug`` are ``mug-h7`` and ``mug-h8``). The ``h`` keeps it apart from the ``-1``, ``-2`` Shopify appends to the
    handle of a duplicate title, so a merchant's own ``mug-7`` is not our ``mug-h7``. ``attempt`` 2, 3, ... adds
    ``-2``, ``-3``: taken when another hub product's own handle is ``mug-h7`` (``_Writer._create_handles``)."""
    suffix = f"-h{int(hub_id)}" + (f"-{int(attempt)}" if attempt > 1 else "")
    base = slug(str(title or ""))[: HANDLE_MAX - len(suffix)].strip("-") or "product"
    return base + suffix


def create_input(
    create: ProductCreate,
    variant_ids: Mapping[str, str] | None = None,
    *,
    handle: str | None = None,
    mark: str | None = None,
) -> dict[str, Any]:
    """The whole ``ProductSetInput`` of a hub product: fields, options and variants (with ``id`` where adopted);
    ``handle`` (default: the hub's, as ``shopify_handle`` puts it) is the product's handle; ``mark`` (``own_mark``:
    tenant, shop, hub product) is written as our app metafield (``queries.OWN_MARK_NAMESPACE``/``OWN_MARK_KEY``),
    which the rerun of a push killed before its link reads to tell its own create (``_Writer.run``)."""
    body = product_input(create.values, ("title", "description", "status"))
    # Vendor and product type only when the hub has them: left out, the shop keeps its own (an adopted product's).
    body.update(product_input(create.values, [n for n in SHOPIFY_PRODUCT_FIELDS if create.values.get(n)]))
    handle = handle or shopify_handle(create.handle)
    if handle:
        body["handle"] = handle
    if create.tags:  # the hub's tag names (Shopify trims them and drops empties and repeats)
        body["tags"] = list(create.tags)
    names: list[str] = []
    values: dict[str, list[str]] = {}
    for v in create.variants:
        for name, option in v.options.items():
            if name not in values:
                names.append(name)
                values[name] = []
            if option not in values[name]:
                values[name].append(option)
    if not names:
        names, values = [DEFAULT_OPTION[0]], {DEFAULT_OPTION[0]: [DEFAULT_OPTION[1]]}
    body["productOptions"] = [{"name": n, "values": [{"name": o} for o in values[n]]} for n in names]
    variants = []
    for v in create.variants:
        options = dict(v.options) or {DEFAULT_OPTION[0]: DEFAULT_OPTION[1]}
        spec: dict[str, Any] = {
            "optionValues": [{"optionName": n, "name": options[n]} for n in names if n in options],
            "sku": v.sku or "",
            "price": _money(v.values.get("price")),
            "compareAtPrice": _money(v.values.get("compare_at_price")),
            "barcode": v.values.get("barcode") or "",
            "inventoryItem": {"measurement": weight_input(v.values.get("weight"))},
        }
        found = (variant_ids or {}).get(v.sku or "")
        if found:
            spec["id"] = found
        variants.append(spec)
    body["variants"] = variants
    if mark:
        body["metafields"] = [
            {"namespace": q.OWN_MARK_NAMESPACE, "key": q.OWN_MARK_KEY, "type": q.OWN_MARK_TYPE, "value": mark}
        ]
    return body


# -- bulk mutation files --------------------------------------------------------------------------------------------


def jsonl_files(
    lines: Sequence[Mapping[str, Any]], max_bytes: int = BULK_FILE_MAX_BYTES
) -> Iterator[tuple[int, bytes]]:
    """The variables of ``lines`` as JSONL files of at most ``max_bytes`` each: ``(index of the first line, file)``.

    One line per mutation call, in order, so result line ``__lineNumber`` n of a file is input ``start + n``. A single
    line larger than ``max_bytes`` still gets a file of its own (the shop decides whether it takes it)."""
    start, size = 0, 0
    chunk: list[bytes] = []
    for i, variables in enumerate(lines):
        raw = json.dumps(variables, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        if chunk and size + len(raw) > max_bytes:
            yield start, b"".join(chunk)
            start, size, chunk = i, 0, []
        chunk.append(raw)
        size += len(raw)
    if chunk:
        yield start, b"".join(chunk)


def bulk_results(
    records: Iterable[Mapping[str, Any]], root: str, count: int
) -> list[tuple[Mapping[str, Any] | None, list[Mapping[str, Any]]]]:
    """Per input line (``count`` of them): ``(payload of the mutation field root, errors)`` from a bulk mutation's
    result lines. A line the GraphQL layer refused has ``errors`` (kept as errors of that line); an input line with
    no result line (the shop did not run it) gets an error saying so, so it is rejected and retried, never lost."""
    found: dict[int, tuple[Mapping[str, Any] | None, list[Mapping[str, Any]]]] = {}
    for record in records:
        number = record.get("__lineNumber")
        if not isinstance(number, int) or not 0 <= number < count:
            continue
        errors: list[Mapping[str, Any]] = [
            {"code": "GRAPHQL_ERROR", "message": str(e.get("message") if isinstance(e, Mapping) else e)}
            for e in record.get("errors") or []
        ]
        data = record.get("data")
        payload = data.get(root) if isinstance(data, Mapping) else None
        found[number] = (payload if isinstance(payload, Mapping) else None, errors)
    missing: list[Mapping[str, Any]] = [
        {"code": "NO_RESULT", "message": "the bulk operation's result has no line for this input"}
    ]
    return [found.get(i, (None, missing)) for i in range(count)]


@dataclass
class _SetRequest:
    """One ``productSet`` the plan needs, built once for either path: its variables and what its answer records."""

    key: str  # the rejection's external_id: SKU, handle or shop id
    identifier: dict[str, Any] | None
    body: dict[str, Any]
    create: ProductCreate | None = None
    adopted: bool = False  # a create that found the product by SKU: counted as an update
    adopted_variants: tuple[int, ...] = ()  # the hub variants whose SKU the shop already had (lineage: adopted)
    update: FieldUpdate | None = None
    categories: tuple[str, ...] | None = None  # the collection titles sent (``collections``), None: not sent

    def variables(self) -> dict[str, Any]:
        out: dict[str, Any] = {"input": self.body}
        if self.identifier:
            out["identifier"] = self.identifier
        return out


@dataclass
class _VariantsRequest:
    """One ``productVariantsBulkUpdate`` (one product's changed variants), for either path."""

    parent: str
    group: list[FieldUpdate]
    sendable: list[tuple[FieldUpdate, dict[str, Any]]]

    def variables(self) -> dict[str, Any]:
        return {
            "productId": _gid("Product", self.parent),
            "variants": [{"id": _gid("ProductVariant", u.external_id), **body} for u, body in self.sendable],
        }


class _Writer:
    """One plan's writes against one shop, collecting links and rejections."""

    def __init__(
        self, client: ShopifyClient, plan: ExportPlan, on_links: LinksCallback, bulk_threshold: int | None = None
    ) -> None:
        self.client = client
        self.plan = plan
        threshold = bulk_threshold if bulk_threshold is not None else client.bulk_mutation_threshold
        self.bulk_threshold = DEFAULT_BULK_MUTATION_THRESHOLD if threshold is None else int(threshold)
        self.bulk_used = 0  # bulk operations run by this push
        self.on_links = on_links
        self.out = WriteOutcome()
        self.integration = IntegrationRef.of(plan)
        self.currency: str | None = None
        # casefolded title -> (gid, title, smart), read once per push that writes categories (None: not yet read)
        self.collections: dict[str, tuple[str, str, bool]] | None = None
        self.collection_refusals: dict[str, str] = {}  # casefolded title -> why it could not be created
        # Adopted products' variants (``_on_adopted``): matched ones whose values differ, written with the variant
        # updates, and hub ones the shop lacks, created with the new variants.
        self.adopted_updates: list[FieldUpdate] = []
        self.adopted_creates: list[VariantCreate] = []
        # The integration opted in to collections as categories (``shopify_collections``); off: none written.
        self.with_categories = bool(client.shopify_collections)
        # Create handles (``_create_handles``): every one given or claimed by a hub handle, and the generated
        # attempt each create without a hub handle is at.
        self.handles_taken: set[str] = set()
        self.attempts: dict[int, int] = {}
        # Product gid -> the mark (``own_mark``) of a product found by handle, None when it carries none.
        self.marks: dict[str, str | None] = {}

    def run(self) -> WriteOutcome:
        shop = self.client.shop_and_scopes()
        if WRITE_SCOPE not in shop.get("scopes", ()):
            raise ShopifyWriteError(
                f"the Shopify app of integration {self.plan.integration_id} lacks the {WRITE_SCOPE} scope: add it "
                "to the app's access scopes, reinstall or re-approve the app, then push again"
            )
        self.currency = shop.get("currency")
        existing = self.lookup_skus([v.sku for c in self.plan.creates for v in c.variants if v.sku])
        # Every create has a handle (the hub's, else ``generated_handle``), one no other create of the plan has
        # (``_create_handles``), and is looked up by it, by key: the SKU look-up above is a search, which lags
        # writes, so right after a push killed between Shopify's create and our link it may not find the product
        # that push made; ``productByIdentifier`` does.
        handles = self._create_handles(existing)
        found = self._lookup_create_handles(handles, existing)
        self._owned_by_handle(found, handles, existing)
        sets: list[_SetRequest] = []
        for c in self.plan.creates:
            if c.hub_id not in handles:
                continue  # refused for its handle (rejected above)
            handle = handles[c.hub_id]
            taken = found.get(handle)
            # A product with this handle is ours only when it carries this create's SKUs (Shopify makes a product
            # with all its variants or none, and the SKUs of a product found by its handle were read above,
            # ``_owned_by_handle``, search lag or not) or the mark this hub product's own create wrote (our app's
            # metafield: a merchant's product never has it, whatever its handle). Any other is the merchant's: never
            # overwritten, on the rerun of an interrupted push (``plan.resume``) too, SKUs or not; before the mark a
            # SKU-less create took whatever product held its handle (``Tee_Shirt`` and ``TEE SHIRT`` both mean
            # ``tee-shirt``). Owned by *this* create's SKUs: a product carrying another create's SKU (that create
            # adopted by id) is not this one's to overwrite (it replaced the other's variants; review 4).
            owned = {existing[v.sku][1] for v in c.variants if v.sku and v.sku in existing}
            marked = taken is not None and self.marks.get(taken) == own_mark(self.integration, c.hub_id)
            # Without the mark (a SKU-less product a push made before creates carried it): ours only when this
            # create has no SKU (the mark's own case: a SKU'd create is told by its SKUs) and the hub's lineage says
            # a push to this shop *created* this hub product as exactly that Shopify id; taken back like a marked
            # one, its metafields untouched (``_create_request``). Never for an *adopted* one: that is a merchant's
            # product taken by its SKUs, whose other variants a take-back would delete (review 1).
            marked = marked or (
                taken is not None
                and not any(v.sku for v in c.variants)
                and taken not in owned
                and self.marks.get(taken) is None
                and _tail(taken) in {_tail(x) for x in self.plan.pushed_products.get(c.hub_id, ())}
            )
            if taken is not None and taken not in owned and not marked:
                made = "" if c.handle else " (made from its title, as the hub product has no handle)"
                skus = "SKUs" if any(v.sku for v in c.variants) else "SKUs (it has none)"
                unmarked = (
                    " If it is this hub product's own, made by an earlier version of the push (before creates "
                    "carried our mark) that stopped before linking it: give its variants in Shopify the same SKUs as "
                    "the hub's variants (set them in the hub too if they have none) and push again, it is linked; or "
                    "delete it in Shopify and push again, it is created anew"
                    if self.marks.get(taken) is None
                    else ""
                )
                self.out.reject(
                    "product",
                    self._key(c),
                    f"the Shopify shop already has a product with handle {handle!r} ({taken}) that carries none of "
                    f"this product's {skus} and was not created by this hub product's push: it is not overwritten; "
                    f"give one of them another handle{made}, or the same SKUs to link them.{unmarked}",
                    {"handle": handle},
                )
                continue
            if marked and taken not in owned:
                # Ours, from a push killed between Shopify's create and our link: written again by handle (the
                # same product, its variants replaced by the hub's), linked, not created twice.
                self.plan.adopt("product", c.hub_id)
            request = self._create_request(c, existing, handle, marked=marked and taken not in owned)
            if (
                request is not None
                and self.with_categories
                and c.categories
                and not self._with_collections(request, c.categories)
            ):
                continue
            if request is not None:
                sets.append(request)
        for u in [*self.plan.updates, *self.plan.deletes]:
            if u.entity == "product":
                body = product_input(u.values, [c for c in u.changes if c not in (TAGS, CATEGORIES)])
                if TAGS in u.changes:  # the hub's whole list: Shopify replaces the product's tags with it
                    body["tags"] = list(u.changes[TAGS][1])
                request = _SetRequest(u.external_id, {"id": _gid("Product", u.external_id)}, body, update=u)
                if (
                    self.with_categories
                    and CATEGORIES in u.changes
                    and not self._with_collections(request, u.changes[CATEGORIES][1] or ())
                ):
                    continue
                sets.append(request)
        if self._use_bulk(len(sets)):
            self._run_bulk(q.PRODUCT_SET_MUTATION, "productSet", sets, self._on_product_set)
        else:
            for request in sets:
                # By id or by handle (every create has one): sent twice, it writes the same product, so the HTTP
                # layer may resend it after a lost answer.
                data = self.client.execute(
                    q.PRODUCT_SET_MUTATION, request.variables(), key="ProductSet", estimate=MUTATION_ESTIMATE
                )
                self._links(self._handled(self._on_product_set, request, data.get("productSet"), []))
        by_parent: dict[str, list[FieldUpdate]] = {}
        for u in [*self.plan.updates, *self.adopted_updates]:
            if u.entity == "variant":
                by_parent.setdefault(str(u.parent_external_id), []).append(u)
        variant_requests = []
        for parent, group in sorted(by_parent.items()):
            sendable = [(u, variant_input(u.values, u.changes)) for u in group]
            sendable = [(u, body) for u, body in sendable if body]  # changes Shopify takes none of: no call
            if sendable:
                variant_requests.append(_VariantsRequest(parent, group, sendable))
        if self._use_bulk(len(variant_requests)):
            self._run_bulk(
                q.VARIANTS_BULK_UPDATE_MUTATION,
                "productVariantsBulkUpdate",
                variant_requests,
                self._on_variants_updated,
            )
        else:
            for vr in variant_requests:
                data = self.client.execute(
                    q.VARIANTS_BULK_UPDATE_MUTATION,
                    vr.variables(),
                    key="VariantsBulkUpdate",
                    estimate=MUTATION_ESTIMATE,
                )
                self._links(self._handled(self._on_variants_updated, vr, data.get("productVariantsBulkUpdate"), []))
        added: dict[str, list[Any]] = {}
        for vc in [*self.plan.variant_creates, *self.adopted_creates]:
            added.setdefault(vc.product_external_id, []).append(vc)
        for parent, creates in sorted(added.items()):
            self._create_variants(parent, creates)
        removed: dict[str, list[VariantDelete]] = {}
        for vd in self.plan.variant_deletes:
            removed.setdefault(vd.product_external_id, []).append(vd)
        for parent, doomed in sorted(removed.items()):
            self._delete_variants(parent, doomed)
        self.out.api_calls = self.client.stats.api_calls
        return self.out

    # -- writes that are not idempotent ------------------------------------------------------------------------------

    def _write_once(
        self,
        document: str,
        variables: Mapping[str, Any],
        key: str,
        find: Callable[[], dict[str, Any] | None],
    ) -> dict[str, Any]:
        """``data`` of a mutation that would create a second record if sent twice (``collectionCreate``,
        ``productVariantsBulkCreate``; a product create is a ``productSet`` by handle, which is not one).

        The HTTP layer retries every failed POST, and an answer lost on the way back (cut, timed out, a 502 after
        the shop wrote) is a write done: resending it blindly made a duplicate (a second collection ``mugs-1``,
        a variant refused as already there). So it is sent with ``retry=False``, and before each resend ``find``
        looks up what it meant to create (by title, by SKU): found, that is the answer (``data`` in the mutation's
        shape); not found, it is sent again, as many times as the HTTP layer would have."""
        attempts = max(1, int(self.client.http.max_retries) + 1)
        for attempt in range(attempts):
            if attempt:
                found = find()
                if found is not None:
                    return found
            try:
                return self.client.execute(document, variables, key=key, estimate=MUTATION_ESTIMATE, retry=False)
            except LOST_ANSWER_ERRORS:
                if attempt + 1 >= attempts:
                    raise
                self.client.retry_wait(attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _read_product(self, product_gid: str) -> dict[str, Any] | None:
        """A product as a mutation answer carries it (its fields and all its variants), read after a lost answer."""
        data = self.client.execute(
            q.PRODUCT_BY_ID_QUERY,
            {"id": product_gid, "variantsFirst": 100, "collectionsFirst": 0},
            key="ProductById",
        )
        product = data.get("product")
        if not isinstance(product, Mapping):
            return None
        product = self._whole(product)
        product.pop("collections", None)  # not in a mutation answer: the writer knows what it wrote
        return product

    # -- look-ups -------------------------------------------------------------------------------------------------

    def lookup_skus(self, skus: Sequence[str]) -> dict[str, tuple[str, str]]:
        """SKU -> (variant gid, product gid) of the shop's variants carrying one of ``skus``."""
        found: dict[str, tuple[str, str]] = {}
        unique = sorted(set(skus))
        for start in range(0, len(unique), SKU_LOOKUP_CHUNK):
            chunk = unique[start : start + SKU_LOOKUP_CHUNK]
            search = " OR ".join('sku:"{}"'.format(s.replace('"', '\\"')) for s in chunk)
            data = self.client.execute(q.VARIANTS_BY_SKU_QUERY, {"first": 250, "query": search}, key="VariantsBySku")
            for node in (data.get("productVariants") or {}).get("nodes") or []:
                sku = node.get("sku")
                if sku in chunk and sku not in found and node.get("product"):
                    found[sku] = (str(node["id"]), str(node["product"]["id"]))
        return found

    def lookup_handles(self, handles: Sequence[str]) -> dict[str, str]:
        """Handle -> product gid of the shop's products with one of ``handles``.

        By ``productByIdentifier(identifier: {handle})`` with our mark (``self.marks``), ``HANDLE_LOOKUP_CHUNK``
        aliases a call (2 points each), not by a ``products(query: "handle:...")`` search: a read by key sees a
        product created a moment ago, which the search index may not have yet (the rerun of a push killed after
        its create would create it again)."""
        found: dict[str, str] = {}
        unique = sorted({shopify_handle(h) for h in handles} - {""})
        for start in range(0, len(unique), q.HANDLE_LOOKUP_CHUNK):
            chunk = unique[start : start + q.HANDLE_LOOKUP_CHUNK]
            document = (
                q.PRODUCTS_BY_HANDLE_QUERY
                if len(chunk) == q.HANDLE_LOOKUP_CHUNK
                else q.products_by_handle_query(len(chunk))
            )
            data = self.client.execute(
                document,
                {f"h{i}": handle for i, handle in enumerate(chunk)},
                key=f"ProductsByHandle{len(chunk)}",
                estimate=float(2 * len(chunk)),
            )
            for i, handle in enumerate(chunk):
                node = data.get(f"p{i}")
                if isinstance(node, Mapping) and node.get("id") and shopify_handle(node.get("handle")) == handle:
                    found[handle] = str(node["id"])
                    mark = node.get("mark")
                    value = mark.get("value") if isinstance(mark, Mapping) else None
                    self.marks[str(node["id"])] = str(value) if value is not None else None
        return found

    def _create_handles(self, existing: Mapping[str, tuple[str, str]]) -> dict[int, str]:
        """Hub product id -> the handle each create of the plan is looked up and created with, no two the same.

        Two ``productSet(identifier: {handle})`` with one handle write one product: the second replaced the first
        one's fields and variants (its variants deleted) and the push ended well. Handles are compared as Shopify
        stores them (``shopify_handle``: ``Tee`` and ``tee`` are one). A hub handle wins over a generated one: a
        generated handle another create's hub handle has (``mug-h7``, the hub handle of another product) takes the
        next ``attempt`` (``mug-h7-2``), deterministic for the same hub. Of creates whose hub handles are the same
        (hub handles are not unique: a pull may bring a merchant's product of the handle), the lowest hub id keeps
        it and the others are rejected, naming it, until a person gives one of them another handle; a create found
        by SKU (``existing``) is adopted by id, its handle never sent, so it is neither refused nor the keeper."""
        creates = sorted(self.plan.creates, key=lambda c: c.hub_id)
        # Every hub handle of the tenant is taken for generated ones, not only the plan's creates': the same hub
        # gives the same generated handle on a rerun even if a product holding one of them got linked meanwhile
        # (review 4: it fell back to the unbumped handle, found nothing while the search lagged, made a second one).
        self.handles_taken.update(h for h in (shopify_handle(x) for x in self.plan.hub_handles) if h)
        by_sku = {c.hub_id for c in creates if any(v.sku in existing for v in c.variants)}
        keeper: dict[str, ProductCreate] = {}
        out: dict[int, str] = {}
        for c in creates:
            handle = shopify_handle(c.handle)
            if not handle:
                continue
            self.handles_taken.add(handle)
            first = c if c.hub_id in by_sku else keeper.setdefault(handle, c)
            if first is c:
                out[c.hub_id] = handle
                continue
            self._reject_handle(
                c,
                handle,
                f"hub products {_named(first)} and {_named(c)} would both be the Shopify product of handle "
                f"{handle!r} (Shopify handles are unique and stored lowercase, other characters as hyphens), and the "
                f"second write would replace the first: {_named(first)} is created with it, this one is not; give "
                "one of them another handle in the hub (or merge them), then push again",
            )
        for c in creates:
            if not shopify_handle(c.handle):
                out[c.hub_id] = self._next_generated(c)
        return out

    def _next_generated(self, c: ProductCreate) -> str:
        """The next generated handle of ``c`` (its first, then ``-2``, ``-3``, ...) no hub handle of the plan and
        no handle tried before has; taken, so no other create gets it."""
        attempt = self.attempts.get(c.hub_id, 0)
        while True:
            attempt += 1
            handle = generated_handle(c.hub_id, c.values.get("title"), attempt)
            if handle not in self.handles_taken:
                break
        self.attempts[c.hub_id] = attempt
        self.handles_taken.add(handle)
        return handle

    def _lookup_create_handles(
        self, handles: dict[int, str], existing: Mapping[str, tuple[str, str]]
    ) -> dict[str, str]:
        """Handle -> product gid of the shop's products with the handles of the creates not found by SKU; a create
        whose handle is the product of another hub product (this integration's live link) is taken out of
        ``handles``: rejected, naming that hub product, when the handle is the hub's; given its next generated
        handle (and that one looked up) when it was generated. So a rerun after a kill tries the handles in the
        same order and finds what the killed push created."""
        linked = {_tail(external_id): int(hub_id) for external_id, hub_id in self.plan.linked_products.items()}
        pending = [
            c
            for c in sorted(self.plan.creates, key=lambda c: c.hub_id)
            if c.hub_id in handles and not any(v.sku in existing for v in c.variants)
        ]
        found: dict[str, str] = {}
        looked: set[str] = set()
        while pending:
            wanted = [handles[c.hub_id] for c in pending if handles[c.hub_id] not in looked]
            found.update(self.lookup_handles(wanted))
            looked.update(wanted)
            again: list[ProductCreate] = []
            for c in pending:
                handle = handles[c.hub_id]
                product = found.get(handle)
                owner = linked.get(_tail(product)) if product is not None else None
                if owner is None or owner == c.hub_id:
                    continue
                if shopify_handle(c.handle):
                    del handles[c.hub_id]
                    self._reject_handle(
                        c,
                        handle,
                        f"the Shopify handle {handle!r} of hub product {_named(c)} is that of Shopify product "
                        f"{product}, already linked to hub product #{owner}: it is not overwritten; give one of "
                        "them another handle in the hub (or merge them), then push again",
                    )
                    continue
                handles[c.hub_id] = self._next_generated(c)
                again.append(c)
            pending = again
        return found

    def _reject_handle(self, c: ProductCreate, handle: str, reason: str) -> None:
        self.out.reject("product", self._key(c), reason, {"handle": handle})

    def _owned_by_handle(
        self,
        found: Mapping[str, str],
        handles: Mapping[int, str],
        existing: dict[str, tuple[str, str]],
    ) -> None:
        """Add to ``existing`` (SKU -> (variant gid, product gid)) the SKUs of each create that the product found by
        its handle carries: that product is then adopted as if the SKU search had found it (ours from a push that
        died before its link, while the search still lags; or the merchant's with our SKUs). Each such product is
        read by id (``PRODUCT_VARIANT_SKUS_QUERY``, 250 variants a page), never searched."""
        owned = {ids[1] for ids in existing.values()}
        read: dict[str, dict[str, str]] = {}
        for c in self.plan.creates:
            product = found.get(handles[c.hub_id]) if c.hub_id in handles else None
            ours = [v.sku for v in c.variants if v.sku and v.sku not in existing]
            if product is None or product in owned or not ours:
                continue
            if product not in read:
                skus: dict[str, str] = {}
                for page in self.client.paginate(
                    q.PRODUCT_VARIANT_SKUS_QUERY,
                    ("product", "variants"),
                    {"id": product, "first": SKUS_PAGE},
                    key="ProductVariantSkus",
                    estimate=float(SKUS_PAGE + 3),
                ):
                    for node in page.nodes:
                        if node.get("sku"):
                            skus.setdefault(str(node["sku"]), str(node["id"]))
                read[product] = skus
            for sku in ours:
                if sku in read[product]:
                    existing[sku] = (read[product][sku], product)

    # -- categories (custom collections) ----------------------------------------------------------------------------

    def _with_collections(self, request: _SetRequest, categories: Iterable[Any]) -> bool:
        """Put the collections of ``categories`` into ``request`` (``collections``, the product's whole list of
        custom collections); False, with that product rejected, when one cannot be had."""
        ids: list[str] = []
        titles: list[str] = []
        for category in categories:
            title = collection_title(category)
            if not title or title.casefold() in (t.casefold() for t in titles):
                continue
            found = self._collection(title)
            if isinstance(found, str):
                self.out.reject("product", request.key, found, {**request.body, "categories": list(categories)})
                return False
            ids.append(found[0])
            titles.append(found[1])
        request.body["collections"] = ids
        request.categories = collection_titles(escape_name(t) for t in titles)  # as the pull reads them
        return True

    def _collection_index(self) -> dict[str, tuple[str, str, bool]]:
        """The shop's collections, read once (``self.collections``: casefolded title -> (gid, title, smart))."""
        if self.collections is not None:
            return self.collections
        index: dict[str, tuple[str, str, bool]] = {}
        self.collections = index
        for page in self.client.paginate(
            q.COLLECTIONS_QUERY, ("collections",), {"first": COLLECTIONS_PAGE}, key="Collections"
        ):
            for node in page.nodes:
                key = " ".join(str(node.get("title") or "").split()).casefold()
                smart = node.get("ruleSet") is not None
                if key and (key not in index or (index[key][2] and not smart)):
                    index[key] = (str(node["id"]), str(node.get("title")), smart)
        return index

    def _collection(self, title: str) -> tuple[str, str] | str:
        """The custom collection titled ``title`` (without case): ``(gid, its title)``, created when missing; or
        why it cannot be used (a smart collection of that title, or Shopify's refusal of the create)."""
        collections = self._collection_index()
        key = title.casefold()
        if key in self.collection_refusals:
            return self.collection_refusals[key]
        found = collections.get(key)
        if found is not None and found[2]:
            return (
                f"category {title!r}: the Shopify collection {found[1]!r} is a smart (automated) collection, whose "
                "products follow its rules: rename the hub category or make the collection a custom one"
            )
        if found is not None:
            return found[0], found[1]
        data = self._write_once(
            q.COLLECTION_CREATE_MUTATION, {"input": {"title": title}}, "CollectionCreate", lambda: self._made(key)
        )
        answer = data.get("collectionCreate") or {}
        made = answer.get("collection")
        errors = answer.get("userErrors") or []
        if errors or not isinstance(made, Mapping) or not made.get("id"):
            reason = f"category {title!r}: Shopify refused the collection: " + (
                "; ".join(_reason(e) for e in errors) or "no collection in the answer"
            )
            self.collection_refusals[key] = reason
            return reason
        index = self._collection_index()  # read again when the answer was lost (``_made``)
        index[key] = (str(made["id"]), str(made.get("title") or title), False)
        return index[key][0], index[key][1]

    def _made(self, key: str) -> dict[str, Any] | None:
        """After a lost ``collectionCreate`` answer: the custom collection of that title if the shop made it (the
        collections are read again), as the mutation's answer; None to send it again."""
        self.collections = None
        found = self._collection_index().get(key)
        if found is None or found[2]:
            return None
        return {"collectionCreate": {"collection": {"id": found[0], "title": found[1]}, "userErrors": []}}

    # -- creates --------------------------------------------------------------------------------------------------

    def _key(self, c: ProductCreate) -> str:
        return c.variants[0].sku if len(c.variants) == 1 and c.variants[0].sku else (c.handle or f"hub#{c.hub_id}")

    def _create_request(
        self, c: ProductCreate, existing: Mapping[str, tuple[str, str]], handle: str, *, marked: bool = False
    ) -> _SetRequest | None:
        """The ``productSet`` of a hub product to create (``identifier: {handle}``: "create, or update the product
        with that handle", so a resend or a rerun writes the same product) or to adopt (the shop has it by SKU), or
        None when it is refused before any write.

        Our mark (an app metafield) goes only on a create without SKUs: one with a SKU is told apart by its SKUs
        (``_owned_by_handle``), and each metafield adds 0.4 to ``productSet``'s cost (10 -> 11 for a 1-2 variant
        create). Never on the product found by handle with the mark already (``marked``): ``metafields`` is a
        list field of ``productSet`` ("deletes existing entries that aren't included"), so sending the mark alone
        would delete the merchant's own metafields of that product; left out, the list is not touched."""
        owners = {existing[v.sku][1] for v in c.variants if v.sku and v.sku in existing}
        if len(owners) > 1:
            self.out.reject(
                "product",
                self._key(c),
                f"the SKUs of this hub product belong to {len(owners)} different Shopify products "
                f"({', '.join(sorted(owners))}): merge or rename them in one place, then push again",
                {"handle": c.handle},
            )
            return None
        if owners:  # ours from a push killed before its links (or the merchant's): adopt it, never duplicate it
            # The product's fields only: a ``variants`` list would replace the shop's variants, deleting the
            # merchant's own that the hub lacks. The matched variants are written after it (``_on_adopted``).
            body = create_input(c)
            for name in ("handle", "productOptions", "variants"):
                body.pop(name, None)
            return _SetRequest(
                self._key(c),
                {"id": next(iter(owners))},
                body,
                create=c,
                adopted=True,
                adopted_variants=tuple(v.hub_id for v in c.variants if v.sku and v.sku in existing),
            )
        mark = None if marked or any(v.sku for v in c.variants) else own_mark(self.integration, c.hub_id)
        return _SetRequest(self._key(c), {"handle": handle}, create_input(c, handle=handle, mark=mark), create=c)

    # -- results (one handler per mutation, for a per-call answer and a bulk result line alike) ------------------

    def _handled(
        self,
        handle: Callable[[Any, Mapping[str, Any] | None, list[Mapping[str, Any]]], list[dict[str, Any]]],
        request: _SetRequest | _VariantsRequest,
        answer: Mapping[str, Any] | None,
        errors: list[Mapping[str, Any]],
    ) -> list[dict[str, Any]]:
        """``handle``'s links for one answer; an answer the pull's transform cannot read (``TransformError``) is
        that item's rejection (no link: planned again next push), never the end of the push, so the items after it
        are still written and linked."""
        counts = (self.out.created, self.out.updated, self.out.deleted)
        try:
            return handle(request, answer, errors)
        except TransformError as exc:
            self.out.created, self.out.updated, self.out.deleted = counts
            reason = f"written, but the shop's answer could not be read ({exc}): not linked, planned again"
            if isinstance(request, _SetRequest):
                self.out.reject("product", request.key, reason, request.body)
            else:
                for u, body in request.sendable:
                    self.out.reject("variant", str(u.values.get("sku") or u.external_id), reason, body)
            return []

    def _whole(self, product: Mapping[str, Any]) -> dict[str, Any]:
        """A mutation answer's product with all its variants: the answer reads the first 100 (``variants(first:
        100)``) and a product may have up to 2,048, so the rest is paged in (``PRODUCT_VARIANTS_QUERY``, one call a
        100) before its base is built; the transform refuses an incomplete connection."""
        whole = dict(product)
        self.client.complete_connection(whole, "variants", q.PRODUCT_VARIANTS_QUERY, ("product", "variants"))
        return whole

    def _on_product_set(
        self, r: _SetRequest, answer: Mapping[str, Any] | None, errors: list[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """Links for a written product (and its variants, for a create), or a rejection with the shop's reasons."""
        errors = [*errors, *((answer or {}).get("userErrors") or [])]
        product = (answer or {}).get("product")
        if errors or not product:
            self.out.reject("product", r.key, "; ".join(_reason(e) for e in errors) or "no product", r.body)
            return []
        if r.categories is not None:
            categories: Sequence[str] = r.categories
        else:  # not written: the base's (an update), or none (a create without categories)
            categories = list((r.update.base or {}).get(CATEGORIES) or []) if r.update is not None else []
        canonical = self._canonical(self._whole(product), categories)
        if r.update is not None:
            self.out.updated += 1
            return [self._product_row(canonical, r.update.hub_id, r.update.base, r.update.changes)]
        c = r.create
        assert c is not None, "a productSet request is a create or an update"
        by_sku = {v.sku: v for v in canonical.variants if v.sku}
        # A vendor or product type the hub has none of was left out of the input, so the shop kept its own (an
        # adopted product's, or a default Shopify fills in): the base says "not agreed" (None) for it, so the next
        # pull brings the shop's value into the hub rather than the next push reading the hub's None as an edit
        # and clearing the shop's value.
        left_out = [n for n in SHOPIFY_PRODUCT_FIELDS if not c.values.get(n)]
        rows = [self._product_row(canonical, c.hub_id, None, (), unset=left_out)]
        if r.adopted:
            return self._on_adopted(c, canonical, rows)
        for position, v in enumerate(c.variants):
            shop_variant = by_sku.get(v.sku or "") or (
                canonical.variants[position] if position < len(canonical.variants) else None
            )
            if shop_variant is not None:
                rows.append(self._variant_row(shop_variant, v.hub_id, canonical.external_id, None, ()))
        self.out.created += 1
        return rows

    def _on_adopted(
        self, c: ProductCreate, canonical: CanonicalProduct, rows: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """An adopted product (found by SKU): its link, and its variants matched by SKU only, never by position.

        A matched variant whose shop values are the hub's is linked as it is; one that differs is written with the
        variant updates (``productVariantsBulkUpdate`` of the differing fields, after the ``productSet`` phase, on
        the per-call or bulk path); a hub variant the shop lacks is created (``productVariantsBulkCreate``). The
        shop's variants the hub does not have are left as they are (the merchant's: never deleted), named in a
        warning; the next pull brings them into the hub like any variant made in the shop."""
        self.plan.adopt("product", c.hub_id)  # lineage: linked, not created (sync/lineage.py)
        self.out.updated += 1
        parent = canonical.external_id
        product_base = rows[0]["base_snapshot"]
        shop = {v.sku: v for v in canonical.variants if v.sku}
        for v in c.variants:
            shop_variant = shop.get(v.sku or "") if v.sku else None
            if shop_variant is None:
                self.adopted_creates.append(VariantCreate(c.hub_id, parent, v, product_base))
                continue
            self.plan.adopt("variant", v.hub_id)
            current = variant_snapshot(shop_variant)
            changes = {
                n: (current.get(n), v.values.get(n))
                for n in ADOPTED_VARIANT_FIELDS
                if normalize(n, v.values.get(n)) != normalize(n, current.get(n))
            }
            if changes and variant_input(v.values, changes):
                update = FieldUpdate(
                    "variant", v.hub_id, shop_variant.external_id, parent, changes, v.values, {}, c.hub_id, product_base
                )
                self.adopted_updates.append(update)
            else:
                rows.append(self._variant_row(shop_variant, v.hub_id, parent, None, ()))
        hub_skus = {v.sku for v in c.variants if v.sku}
        extra = [v.sku or f"#{v.external_id}" for v in canonical.variants if not v.sku or v.sku not in hub_skus]
        if extra:
            warning = (
                f"adopted Shopify product {parent} keeps {len(extra)} variant(s) the hub does not have, left as they "
                f"are (never deleted; the next pull brings them into the hub): {', '.join(extra[:20])}"
                + (" ..." if len(extra) > 20 else "")
            )
            self.out.warn("product", c.handle or f"#{c.hub_id}", warning, c.hub_id)  # the merchant's report
            _log.warning("hub product %s: %s", c.handle or c.hub_id, warning)
        return rows

    def _on_variants_updated(
        self, r: _VariantsRequest, answer: Mapping[str, Any] | None, line_errors: list[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """Links for the variants written, a rejection per variant refused (its index in ``field``)."""
        answer = answer or {}
        refused: dict[int, list[Mapping[str, Any]]] = {}
        general: list[Mapping[str, Any]] = list(line_errors)
        for error in answer.get("userErrors") or []:
            path = error.get("field") or []
            if len(path) >= 2 and path[0] == "variants" and str(path[1]).isdigit():
                refused.setdefault(int(path[1]), []).append(error)
            else:
                general.append(error)
        written = {str(gid_tail(v.get("id"))): v for v in answer.get("productVariants") or [] if v.get("id")}
        rows: list[dict[str, Any]] = []
        product_node = answer.get("product")
        first = r.group[0]
        if product_node and first.product_hub_id is not None and written:
            canonical = self._canonical(
                {**product_node, "variants": {"nodes": []}}, list((first.product_base or {}).get(CATEGORIES) or [])
            )
            rows.append(self._product_row(canonical, first.product_hub_id, first.product_base, ()))
        for i, (u, body) in enumerate(r.sendable):
            node = written.get(u.external_id)
            errors = refused.get(i) or ([] if node is not None else general)
            if errors or node is None:
                reason = "; ".join(_reason(e) for e in errors) or "the answer has no variant for this request"
                self.out.reject("variant", str(u.values.get("sku") or u.external_id), reason, body)
                continue
            canonical = self._canonical(
                {**(product_node or {"id": _gid("Product", r.parent)}), "variants": {"nodes": [node]}}
            )
            rows.append(self._variant_row(canonical.variants[0], u.hub_id, r.parent, u.base, u.changes))
            self.out.updated += 1
        return rows

    # -- bulk -----------------------------------------------------------------------------------------------------

    def _use_bulk(self, writes: int) -> bool:
        return writes > self.bulk_threshold and self.client.supports_bulk_product_set()

    def _run_bulk(
        self,
        mutation: str,
        root: str,
        requests: Sequence[Any],
        handle: Callable[[Any, Mapping[str, Any] | None, list[Mapping[str, Any]]], list[dict[str, Any]]],
    ) -> None:
        """``requests`` as bulk mutations (one file of at most ``BULK_FILE_MAX_BYTES`` per operation, one after the
        other); each result line goes to ``handle``, the links of a file are handed over once it is read."""
        for start, data in jsonl_files([r.variables() for r in requests]):
            count = data.count(b"\n")
            path = self.client.stage_upload(data, f"{root}-{start}.jsonl")
            operation = self.client.start_bulk_mutation(mutation, path, client_identifier=f"ecom-pipeline-{root}")
            self.bulk_used += 1
            final = self.client.wait_for_bulk(operation, expected_objects=count)
            url = final.get("url")
            records = self.client.iter_jsonl(str(url)) if url else iter(())
            rows: list[dict[str, Any]] = []
            for request, (answer, errors) in zip(
                requests[start : start + count], bulk_results(records, root, count), strict=True
            ):
                rows.extend(self._handled(handle, request, answer, errors))
            self._links(rows)

    # -- new variants under linked products -----------------------------------------------------------------------

    def _create_variants(self, parent: str, creates: list[Any]) -> None:
        """Hub variants missing under a product the shop has: one ``productVariantsBulkCreate`` per product. Shopify
        creates all of them or none, so a refused variant holds back the others of its product (each is rejected
        with the reason, and all are retried on the next push)."""
        bodies = []
        for vc in creates:
            v: VariantValues = vc.variant
            options = dict(v.options) or {DEFAULT_OPTION[0]: DEFAULT_OPTION[1]}
            bodies.append(
                {
                    "optionValues": [{"optionName": n, "name": o} for n, o in options.items()],
                    "price": _money(v.values.get("price")),
                    "compareAtPrice": _money(v.values.get("compare_at_price")),
                    "barcode": v.values.get("barcode") or "",
                    "inventoryItem": {"sku": v.sku or "", "measurement": weight_input(v.values.get("weight"))},
                }
            )
        variables = {"productId": _gid("Product", parent), "variants": bodies}
        skus = [vc.variant.sku for vc in creates if vc.variant.sku]
        data = self._write_once(
            q.VARIANTS_BULK_CREATE_MUTATION,
            variables,
            "VariantsBulkCreate",
            lambda: self._variants_made(parent, skus, len(creates)),
        )
        answer = data.get("productVariantsBulkCreate") or {}
        errors = list(answer.get("userErrors") or [])
        nodes = list(answer.get("productVariants") or [])
        if errors or len(nodes) != len(creates):
            by_index: dict[int, list[Mapping[str, Any]]] = {}
            for error in errors:
                path = error.get("field") or []
                if len(path) >= 2 and path[0] == "variants" and str(path[1]).isdigit():
                    by_index.setdefault(int(path[1]), []).append(error)
            summary = "; ".join(_reason(e) for e in errors) or "the answer has no variant for this request"
            for i, (vc, body) in enumerate(zip(creates, bodies, strict=True)):
                own = by_index.get(i)
                reason = (
                    "; ".join(_reason(e) for e in own)
                    if own
                    else f"not created: Shopify creates a product's new variants all or none ({summary})"
                )
                self.out.reject("variant", vc.variant.sku or f"hub#{vc.variant.hub_id}", reason, body)
            return
        product_node = answer.get("product") or {"id": _gid("Product", parent)}
        try:
            canonical = self._canonical(
                {**product_node, "variants": {"nodes": nodes}}, list(creates[0].product_base.get(CATEGORIES) or [])
            )
        except TransformError as exc:  # created but unreadable: rejected (not linked), never the end of the push
            for vc, body in zip(creates, bodies, strict=True):
                reason = f"written, but the shop's answer could not be read ({exc}): not linked, planned again"
                self.out.reject("variant", vc.variant.sku or f"hub#{vc.variant.hub_id}", reason, body)
            return
        # The product's base as ``old``, as the variant-update path does: with collections off, the base keeps the
        # categories last agreed (the answer says nothing of them), instead of resetting them to [].
        rows = [self._product_row(canonical, creates[0].product_hub_id, creates[0].product_base or None, ())]
        by_sku = {v.sku: v for v in canonical.variants if v.sku}
        for i, vc in enumerate(creates):
            shop_variant = by_sku.get(vc.variant.sku or "") or canonical.variants[i]
            rows.append(self._variant_row(shop_variant, vc.variant.hub_id, parent, None, ()))
            self.out.created += 1
        self.on_links(rows)

    def _variants_made(self, parent: str, skus: list[str], count: int) -> dict[str, Any] | None:
        """After a lost ``productVariantsBulkCreate`` answer: the product read again; when it has every SKU sent
        (Shopify creates all or none), that is the answer; else None, to send it again. Variants without a SKU
        cannot be told apart from the merchant's: sent again."""
        if len(skus) != count:
            return None
        product = self._read_product(_gid("Product", parent))
        if product is None:
            return None
        nodes = {n.get("sku"): n for n in (product.get("variants") or {}).get("nodes") or []}
        if not all(sku in nodes for sku in skus):
            return None
        made = [nodes[sku] for sku in skus]
        return {"productVariantsBulkCreate": {"product": product, "productVariants": made, "userErrors": []}}

    def _delete_variants(self, parent: str, group: list[VariantDelete], *, one_by_one: bool = False) -> None:
        """Hub variants deleted under a product the shop has: one ``productVariantsBulkDelete`` (all or none).

        A variant already gone (``AT_LEAST_ONE_VARIANT_DOES_NOT_BELONG_TO_THE_PRODUCT``) makes the others wait:
        they are sent one by one, and the one the shop does not have is taken as deleted (its link tombstoned).
        """
        variables = {
            "productId": _gid("Product", parent),
            "variantsIds": [_gid("ProductVariant", vd.external_id) for vd in group],
        }
        data = self.client.execute(
            q.VARIANTS_BULK_DELETE_MUTATION, variables, key="VariantsBulkDelete", estimate=MUTATION_ESTIMATE
        )
        answer = data.get("productVariantsBulkDelete") or {}
        errors = list(answer.get("userErrors") or [])
        codes = {e.get("code") for e in errors}
        if errors and codes == {"AT_LEAST_ONE_VARIANT_DOES_NOT_BELONG_TO_THE_PRODUCT"}:
            if len(group) > 1 and not one_by_one:
                for vd in group:
                    self._delete_variants(parent, [vd], one_by_one=True)
                return
            errors = []  # this one variant is not there any more: deleted by an earlier, interrupted push
        if errors:
            reason = "; ".join(_reason(e) for e in errors)
            for vd in group:
                self.out.reject("variant", vd.sku or vd.external_id, reason, variables)
            return
        now = utcnow()
        rows = [deleted_variant_row(self.integration, vd, now) for vd in group]
        product_node = answer.get("product")
        if product_node:  # its updatedAt moved: the product's echo must find its base
            try:
                canonical = self._canonical(
                    {**product_node, "variants": {"nodes": []}}, list(group[0].product_base.get(CATEGORIES) or [])
                )
            except TransformError as exc:  # the variants are gone all the same: only the product's base waits
                _log.warning("product %s: answer not read after deleting variants (%s)", parent, exc)
            else:
                rows.append(self._product_row(canonical, group[0].product_hub_id, group[0].product_base or None, ()))
        self.on_links(rows)
        self.out.deleted += len(group)

    # -- helpers --------------------------------------------------------------------------------------------------

    def _links(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.on_links(rows)

    def _canonical(self, product: Mapping[str, Any], categories: Sequence[str] | None = None) -> CanonicalProduct:
        """The pull's reading of a mutation answer; ``categories`` (the collection titles written, or the base's)
        stand in for the collections the answer does not select, so the base is what the next pull reads. Off
        (``shopify_collections``), the pull reads no categories and neither does this: none, as before."""
        canonical = product_to_canonical({"product": product, "currency": self.currency})
        if self.with_categories and categories is not None and "collections" not in product:
            canonical = dataclasses.replace(canonical, categories=collection_titles(categories))
        return canonical

    def _product_row(
        self,
        canonical: CanonicalProduct,
        hub_id: int,
        old: Mapping[str, Any] | None,
        pushed: Iterable[str],
        *,
        unset: Iterable[str] = (),
    ) -> dict[str, Any]:
        snapshot = product_snapshot(canonical)
        kept = [name for name in unset if snapshot.get(name)]
        for name in kept:
            snapshot[name] = None
        # Collections off: the answer (like the pull's reading) says nothing of categories (unknown, not empty,
        # ``CanonicalProduct.unread``): the base keeps the categories last agreed, and the digest is the
        # reading's, so the pull of this write is its echo (the merge skips categories as well).
        reading = snapshot.get(CATEGORIES)
        unread = not self.with_categories and old is not None and CATEGORIES in old and CATEGORIES in snapshot
        if unread and old is not None:
            snapshot[CATEGORIES] = old[CATEGORIES]
        # A base that leaves out values the shop holds is not whole (as after a write the shop answered with other
        # changes): no digest and no modification time, so the next pull merges the shop's reading against it
        # instead of taking that reading as the echo of this write.
        row = self._row("product", canonical, snapshot, hub_id, old, pushed, whole=not kept)
        if unread and row["base_hash"] is not None:
            row["base_hash"] = stable_hash({**row["base_snapshot"], CATEGORIES: reading})
        return row

    def _variant_row(
        self, variant: Any, hub_id: int, parent: str, old: Mapping[str, Any] | None, pushed: Iterable[str]
    ) -> dict[str, Any]:
        return self._row("variant", variant, variant_snapshot(variant), hub_id, old, pushed, parent=parent)

    def _row(
        self,
        entity: str,
        record: Any,
        snapshot: dict[str, Any],
        hub_id: int,
        old: Mapping[str, Any] | None,
        pushed: Iterable[str],
        parent: str | None = None,
        *,
        whole: bool = True,
    ) -> dict[str, Any]:
        """The link row of a product or variant (``parent`` given) the shop answered: the new base and digest, and
        the record's gid; a variant's row also names its SKU and its parent."""
        snap, digest = base_after(old, snapshot, pushed)
        if not whole:
            digest = None
        row = link_row(
            self.integration,
            entity=entity,
            external_id=record.external_id,
            hub_id=hub_id,
            snapshot=snap,
            digest=digest,
            updated_at=record.updated_at if digest else None,
            sku=snap.get("sku") if parent is not None else None,
            parent=parent,
            now=utcnow(),
        )
        row["external_gid"] = record.external_gid
        return row


def apply_plan(
    client: ShopifyClient, plan: ExportPlan, on_links: LinksCallback, *, bulk_threshold: int | None = None
) -> WriteOutcome:
    """Apply ``plan`` to the shop behind ``client``; links are handed to ``on_links`` as each mutation answers (a
    bulk operation's, as each of its files is read). ``bulk_threshold`` overrides the client's
    ``bulk_mutation_threshold`` (the integration setting) and the default."""
    return _Writer(client, plan, on_links, bulk_threshold).run()


__all__ = [
    "DEFAULT_BULK_MUTATION_THRESHOLD",
    "ShopifyWriteError",
    "VariantValues",
    "apply_plan",
    "bulk_results",
    "create_input",
    "jsonl_files",
    "make_client",
]
