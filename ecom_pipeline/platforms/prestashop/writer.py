"""PrestaShop writer: applies an export plan through the webservice's XML documents (same contract as the
WooCommerce writer: ``apply_plan(client, plan, on_links) -> WriteOutcome`` and ``make_client``).

- **Updates are GET-modify-PUT of the whole document.** A PUT replaces every field (recorded: a partial PUT
  blanks what it leaves out and re-stamps ``date_add``), so the product is read as XML, the pushed fields are
  changed in place and the document goes back whole; the read-only fields (``manufacturer_name``, ``quantity``)
  are dropped by :meth:`PrestaShopClient.put_xml` (the webservice refuses them, error 93). One PUT per product,
  whatever the number of its changed fields; the documents of the products (and combinations) to update are read
  120 per call first (``display=full&filter[id]=[1|2|...]``: the same documents as one GET each), one the list
  did not hold by its own GET.
- **Multilingual fields** (name, description, link_rewrite): an update writes the integration's language
  (``settings.language_id``) and keeps every other language's value as the shop had it (a French name survives a
  push of the English title); a create writes the hub value in every language of the shop (``settings.languages``),
  since the hub holds one.
- **Price**: PrestaShop stores the tax-excluded price. A create writes the hub price as that price with no tax
  rules group (``id_tax_rules_group`` 0), so the buyer pays what the hub says; the merchant may set a tax group
  in the back office afterwards (the pull brings the resulting price back). A hub edit of ``price`` alone on a
  linked product: the hub holds the buyer price, so the price stored is the new price times the shop's own factor
  between its stored price and the buyer price of the link's base (``stored / base price``: the product's tax rate,
  and a percentage reduction in force), so the buyer then pays the hub price; without a tax-including base the
  price is stored as is. ``price_tax_excl`` is not a pushable field of the plan (the hub keeps it as the shop
  reported it), so a hub edit of it alone is not pushed.
- **Creates are idempotent**: the references (= SKUs) about to be created are looked up first
  (``filter[reference]=[A|B|...]``); a product found is adopted (linked, then GET-modify-PUT) instead of created,
  its price converted with the shop's own factor as an update's is (``_adopt``).
  A process killed between the POST and our link therefore creates no duplicate on the rerun. A product with
  combinations has no reference of its own: after an interrupted push it is found by its combinations'
  references, or (killed before its first combination) by its ``link_rewrite``, the hub handle.
  A product or combination POST is sent without the transport's automatic retry (``options.create_once``, for the
  calling thread only): when its answer is lost (cut connection, timeout, 5xx) the shop may have made it, so it is
  looked for first (a product by its reference, else by its ``link_rewrite``; a combination by its reference
  within its product, else by its option values) and linked when found; only when none is found is it sent again.
  After a timeout (the shop may still be saving it: PHP goes on after the client gave up) the look-up is repeated
  for about 15 s, and a record still not found is not sent again in this push: the item is rejected and the next
  push's look-up by reference adopts it (``options.create_once``); one without a reference is found by the marker
  the rejection carries (``plan.uncertain_creates``: by the ``link_rewrite`` sent or option values above that push's
  id floors, never a record linked to a hub product, :meth:`_Writer._late_product`; the only one found holding what
  the lost create sent is adopted, else refused with their ids). A marked item the next push creates is looked up
  again once its create answered (:meth:`_Writer._landed_meanwhile`: the lost create saved meanwhile, identical, is
  kept and ours deleted: only an id from our POST's answer, read back as sent, the DELETE known to have happened;
  whatever fails in the push after our POST answered, our id is linked, or kept in the marker's ``ours`` with the
  slug and content we sent added to its ``sent``, which a later push adopts while the record still holds them and
  never deletes; a process killed in between records nothing, see docs/two-way-sync.md).
  The marker stays until the item is linked or adopted: carried into any
  later rejection of that hub product (:meth:`_Writer._rejection_payload`), and recorded even when the push fails
  part-way (``apply_plan`` leaves its partial outcome on the exception: ``sync.export.PARTIAL_OUTCOME``).
  A blind retry made a second product or combination with the same reference, one of them never linked.
- **Delete**: a hub product deleted becomes ``active`` 0 in the shop (never a DELETE; the only product DELETE is of
  a copy this push has just made, see ``_landed_meanwhile`` above). A hub variant deleted under
  a live product is ``DELETE /api/combinations/{id}`` (a 404 means an earlier, interrupted push deleted it already);
  the product is read back afterwards like any written one (its default combination may have moved).
- **Echo suppression**: after the writes, the written products are read back once through the pull's own path
  (``display=full`` by batches of ids, plus the shop's computed prices), so a link's new base is exactly the
  snapshot the next pull computes, and that pull changes nothing. The computed prices of the combinations come, as
  in the pull, from ``combinations`` rows with ``price[...]`` fields, hundreds a call (``_Lookups.prices``).

- **Combinations** (variants of a product with options or several variants): the product is created with the lowest
  variant price as its own, then one ``POST /api/combinations`` per variant with its reference, its price as the
  impact over the product's, its weight as the impact over the product's weight, and its options as the shop's
  attribute values (``product_option_values`` matched by group and value name in the integration's language; a
  group or value the shop does not have is created in every shop language, see ``options.py``). A combination edit
  is a GET-modify-PUT of that combination. The references are looked up among combinations first, so a killed push
  adopts the product and its combinations.

- **Concurrency** (``push_concurrency``, default 4; 1: one call at a time): the creates of products with
  combinations (a product's POST, then its combinations' POSTs, in one worker thread; products are independent)
  and the combination PUTs keep up to that many in flight (``platforms/inflight.py``). Everything else (taxonomy,
  documents, counts, links, rejections) happens in the push's thread, in the order one at a time would. A product
  that may be adopted (a reference the shop has, or any product of a rerun after an interrupted push) or with a
  variant whose reference a rerun could not look up is sent alone, after those in flight are handled, as before.
  Simple products, product updates, deletes and the read-back stay one call at a time.

- **Categories** (``categories.py``): the hub product's category names as the shop's category ids (found by name in
  the integration's language, a nested ``Parent > Child`` step by step from home, created when missing in every shop
  language). A create writes them as ``associations/categories`` with ``id_category_default`` the first one (home,
  id 2, when the hub has none); a linked product's are written when the hub's differ from its base (the plan's
  ``categories`` change: the whole list replaced in the GET-modify-PUT, the other associations kept). A category the
  shop refuses rejects that product only (its other changes are still written on update).

Not written (``PUSH_FIELDS``: the plan never holds them, so nothing is re-sent on every push): the compare-at and
sale prices (PrestaShop shows a reduction through a specific price, not a product field). Attribute groups and values
missing in the shop are created by name in every shop language (``prestashop/options.py``).
"""

from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from xml.etree.ElementTree import Element, ElementTree, SubElement

from ecom_pipeline.platforms.errors import ShopApiError, ShopNotFoundError
from ecom_pipeline.platforms.http import HttpOptions
from ecom_pipeline.platforms.inflight import InOrder
from ecom_pipeline.platforms.prestashop import extract as ps_extract
from ecom_pipeline.platforms.prestashop import options as _options
from ecom_pipeline.platforms.prestashop.categories import HOME_CATEGORY, CategoryError, PrestaShopCategories
from ecom_pipeline.platforms.prestashop.client import PrestaShopClient, filter_chunks
from ecom_pipeline.platforms.prestashop.options import (
    Created,
    CreateUncertain,
    OptionError,
    PrestaShopOptions,
    create_once,
    create_record,
    may_still_run,
    set_association,
)
from ecom_pipeline.platforms.prestashop.tags import PrestaShopTags, TagError, set_tags, tag_ids_of
from ecom_pipeline.platforms.prestashop.transform import product_to_canonical, variant_id
from ecom_pipeline.sync.export import (
    CATEGORIES,
    CREATE_UNCERTAIN,
    PARTIAL_OUTCOME,
    TAGS,
    ExportPlan,
    FieldUpdate,
    IntegrationRef,
    ProductCreate,
    PushWarning,
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

LinksCallback = Callable[[list[dict[str, Any]]], None]
# References per look-up call: as many as fit in REFERENCE_LOOKUP_CHARS of the encoded filter (the request line must
# stay under the 8 KB limit of common web servers), at most REFERENCE_LOOKUP_BATCH.
REFERENCE_LOOKUP_BATCH = 300
REFERENCE_LOOKUP_CHARS = 4000
SIX_PLACES = Decimal("0.000001")
# Links of created products with combinations committed together: a transaction per 300 rows, not per product.
FRESH_LINKS = 300
_TIME_FIELDS = frozenset({"created_at", "updated_at"})
# The fields a push writes to PrestaShop (sync/export.py plans no other). Not the compare-at price nor the sale
# price: PrestaShop shows a reduction through a specific price, not a product field (out of scope). A linked product's
# categories (by name: found or created by ``categories.py``) and tags (``tags.py``, in the integration's language).
PUSH_FIELDS: frozenset[str] = (frozenset(FIELDS) - {"compare_at_price", "sale_price"}) | {CATEGORIES, TAGS}
_DIGITS = re.compile(r"[0-9]+")
_log = logging.getLogger(__name__)


def make_client(integration: Any, credentials: Mapping[str, Any]) -> PrestaShopClient:
    """A client for a stored integration (its URL, TLS settings and shop id)."""
    settings = integration.settings or {}
    shop_id = settings.get("shop_id")
    client = PrestaShopClient(
        HttpOptions.for_integration(integration, timeout=30.0),
        reveal(credentials["api_key"]),
        shop_id=int(shop_id) if shop_id not in (None, "") else None,
    )
    client.integration_settings = dict(settings)  # type: ignore[attr-defined]
    client.push_concurrency = push_concurrency_of(settings)  # type: ignore[attr-defined]
    return client


# --- values ------------------------------------------------------------------------------------------------------


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def _six(value: Decimal) -> str:
    return format(value.quantize(SIX_PLACES, rounding=ROUND_HALF_UP), "f")


def tax_excluded_price(price: Decimal | None, base: Mapping[str, Any] | None, stored: Any = None) -> Decimal:
    """The price to store for the buyer ``price`` the hub holds (module docstring).

    When the link's base shows a tax-including price, the shop's own factor between what it stores and what the
    buyer paid is kept: ``stored / base price`` (tax and a percentage reduction in force), or without the stored
    value, ``price_tax_excl / price``. Otherwise the price is stored as is.
    """
    if price is None:
        return Decimal("0")
    base = base or {}
    shown, excl, current = _decimal(base.get("price")), _decimal(base.get("price_tax_excl")), _decimal(stored)
    if base.get("price_includes_tax") and shown and shown > 0:
        if current is not None and current > 0:
            return price * current / shown
        if excl is not None:
            return price * excl / shown
    return price


def _slug(text: str) -> str:
    """An ASCII slug (accents dropped, anything else a hyphen): what ``Validate::isLinkRewrite`` accepts."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    out = "".join(c.lower() if c.isalnum() else "-" for c in ascii_text)
    return "-".join(p for p in out.split("-") if p) or "product"


# What PrestaShop refuses in a product name (``Validate::isCatalogName``: Product::$definition) and accepts in a
# link_rewrite (``Validate::isLinkRewrite``, accented URLs off: the default install). A refused value made the shop
# answer error 84 and the product was rejected on every push; such a title is written without those characters and
# such a handle as its ASCII slug (logged). References keep the hub SKU as it is (the SKU is how hub, shops and the
# adoption look-up find a variant): one PrestaShop refuses (``isReference``: any of ``<>;={}``) is rejected with the
# shop's message.
_NOT_IN_NAMES = re.compile(r"[<>;=#{}]")
_LINK_REWRITE = re.compile(r"[_a-zA-Z0-9-]+")


def catalog_name(title: str) -> str:
    """``title`` as PrestaShop takes a product name: without ``<>;=#{}`` (spacing tidied); logged when changed
    (the push report says it too: ``name_warnings``)."""
    cleaned = _clean_name(title)
    if cleaned == title:
        return title
    _log.warning("PrestaShop refuses <>;=#{} in a product name: title %r written as %r", title, cleaned)
    return cleaned


def name_warnings(title: Any, handle: str | None = None, *, create: bool = False) -> list[str]:
    """What the push report says of a product written with ``title`` (and, on a create, ``handle``): the title
    written without the characters PrestaShop refuses, the handle written as its ASCII slug (``catalog_name``,
    ``product_link_rewrite``); [] when both are written as the hub has them."""
    notes: list[str] = []
    if isinstance(title, str) and _clean_name(title) != title:
        notes.append(f"title {title!r} written as {_clean_name(title)!r} (PrestaShop refuses <>;=#{{}} in a name)")
    if create and handle and not _LINK_REWRITE.fullmatch(handle):
        notes.append(
            f"handle {handle!r} written as the URL slug {_slug(handle)!r} (PrestaShop takes only ASCII letters, "
            "digits, - and _ in a link_rewrite)"
        )
    return notes


def preview_warnings(plan: ExportPlan) -> list[PushWarning]:
    """A dry run's warnings: the titles and handles of planned creates and title updates that will be written
    otherwise than the hub has them (``name_warnings``)."""
    out = WriteOutcome()
    for c in plan.creates:
        for note in name_warnings(c.values.get("title"), c.handle, create=True):
            out.warn("product", c.handle or f"#{c.hub_id}", note, c.hub_id)
    for u in plan.updates:
        if u.entity == "product" and "title" in u.changes:
            for note in name_warnings(u.values.get("title")):
                out.warn("product", f"hub#{u.hub_id}", note, u.hub_id)
    return out.warnings


def _clean_name(title: str) -> str:
    return " ".join(_NOT_IN_NAMES.sub(" ", title).split()) if _NOT_IN_NAMES.search(title) else title


def _name_written_already(record: Element, group: Sequence[FieldUpdate], shop: _Shop) -> bool:
    """Whether the group's only change is a title PrestaShop cannot take as it is and the shop's name (integration
    language) is already what ``catalog_name`` writes for it: nothing to PUT (the plan sees the hub title differ
    from the base on every push; without this each push would rewrite the same name)."""
    titles = [u.values.get("title") for u in group if set(u.changes) == {"title"}]
    if len(titles) != len(group) or not all(isinstance(t, str) and _clean_name(t) != t for t in titles):
        return False
    node = record.find("name")
    if node is None:
        return False
    languages = node.findall("language")
    mine = next((n for n in languages if n.get("id") == str(shop.language_id)), languages[0] if languages else node)
    return all((mine.text or "") == _clean_name(str(t)) for t in titles)


def product_link_rewrite(handle: str | None, title: str) -> str:
    """A create's ``link_rewrite``: the hub handle, or its ASCII slug when PrestaShop would refuse it (logged);
    without a handle the title's slug."""
    if not handle:
        return _slug(title)
    if _LINK_REWRITE.fullmatch(handle):
        return handle
    slug = _slug(handle)
    _log.warning("PrestaShop refuses handle %r as a link_rewrite: written as %r", handle, slug)
    return slug


def _marker_slugs(marker: Mapping[str, Any]) -> list[str]:
    """The slugs an uncertain-create marker says were sent: ``link_rewrites`` (every one, oldest first), else the
    single ``link_rewrite`` of a marker written before several were kept."""
    many = marker.get("link_rewrites")
    if isinstance(many, list):
        return [str(x) for x in many if x]
    one = marker.get("link_rewrite")
    return [str(one)] if one else []


def sent_link_rewrite(c: ProductCreate) -> str:
    """The ``link_rewrite`` a create of ``c`` sends (:func:`product_link_rewrite`, without its warning): what the
    marker of a create that got no answer keeps, so the next push looks the late product up by the slug sent, not
    by one recomputed from a hub title edited since."""
    title = str(c.values.get("title") or "")
    if c.handle and _LINK_REWRITE.fullmatch(c.handle):
        return c.handle
    return _slug(c.handle or title)


class _Shop:
    """The integration's language facts (``settings``: language_id, languages)."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.settings = dict(settings)
        lid = settings.get("language_id")
        self.language_id = int(lid) if lid not in (None, "") else None
        ids = sorted(int(k) for k in (settings.get("languages") or {}) if str(k).isdigit())
        self.language_ids = ids or ([self.language_id] if self.language_id else [1])


def _set_lang(record: Element, name: str, value: str, shop: _Shop) -> None:
    """Set a multilingual field in the integration's language, keeping the others as the shop had them."""
    node = record.find(name)
    if node is None:
        node = SubElement(record, name)
    languages = node.findall("language")
    if not languages:
        node.text = value
        return
    target = next((n for n in languages if n.get("id") == str(shop.language_id)), None)
    if target is None:
        target = languages[0] if shop.language_id is None else SubElement(node, "language", id=str(shop.language_id))
    target.text = value


def _set(record: Element, name: str, value: str) -> None:
    node = record.find(name)
    if node is None:
        node = SubElement(record, name)
    node.text = value


def barcode_fields(barcode: Any) -> dict[str, str]:
    """Where a hub barcode goes in a PrestaShop product or combination: ``ean13`` for 8 or 13 digits (EAN-8,
    EAN-13), else ``upc`` for 12 digits, else ``isbn`` (digits and hyphens, up to 32; the shop refuses anything
    else, and the variant is then rejected with its message). The fields the pull reads before the chosen one are
    emptied, so the pull reads back exactly this barcode; none empties all three."""
    if not barcode:
        return {"ean13": "", "upc": "", "isbn": ""}
    barcode = str(barcode)
    digits = _DIGITS.fullmatch(barcode) is not None
    if digits and len(barcode) in (8, 13):
        return {"ean13": barcode}
    if digits and len(barcode) == 12:
        return {"ean13": "", "upc": barcode}
    return {"ean13": "", "upc": "", "isbn": barcode}


def apply_product_changes(record: Element, values: Mapping[str, Any], names: Iterable[str], shop: _Shop) -> None:
    """Change the product document's fields for the canonical ``names`` (hub product or simple-variant values)."""
    for name in names:
        if name == "title":
            _set_lang(record, "name", catalog_name(str(values["title"])), shop)
        elif name == "description":
            _set_lang(record, "description", str(values.get("description") or ""), shop)
        elif name == "status":
            _set(record, "active", "1" if values["status"] == "active" else "0")
        elif name == "sku":
            _set(record, "reference", str(values.get("sku") or ""))
        elif name == "weight":
            _set(record, "weight", str(values.get("weight") or "0"))
        elif name == "barcode":
            for field, text in barcode_fields(values.get("barcode")).items():
                _set(record, field, text)


def set_categories(record: Element, ids: Sequence[str]) -> None:
    """Make ``ids`` the product's categories (``associations/categories``, the whole list) and the first its
    ``id_category_default``; the other associations stay as they are. No ids: home (id 2)."""
    ids = list(ids) or [HOME_CATEGORY]
    _set(record, "id_category_default", ids[0])
    set_association(record, "categories", "category", ids)


def create_document(
    create: ProductCreate,
    shop: _Shop,
    *,
    price: Decimal | None = None,
    categories: Sequence[str] = (),
    tags: Sequence[str] = (),
) -> Element:
    """The POST body of a product (fields as the recorded create sends them, every shop language). A product with
    combinations (``price`` given: its base price) has no reference, weight or price of its own beyond that.
    ``categories``: the shop's ids of the hub categories (none: home); ``tags``: the shop's ids of its tags."""
    values = create.values
    variant = create.variants[0].values if price is None else {"price": price}
    root = Element("prestashop")
    record = SubElement(root, "product")
    fixed = {
        "id_category_default": (list(categories) or [HOME_CATEGORY])[0],
        "id_tax_rules_group": "0",
        "type": "simple",
        "product_type": "standard" if price is None else "combinations",
        "reference": str(variant.get("sku") or ""),
        "price": _six(variant.get("price") or Decimal("0")),
        "weight": str(variant.get("weight") or "0"),
        **barcode_fields(variant.get("barcode")),
        "active": "1" if values.get("status") == "active" else "0",
        "state": "1",
        "minimal_quantity": "1",
        "available_for_order": "1",
        "show_price": "1",
        "visibility": "both",
    }
    for name, text in fixed.items():
        SubElement(record, name).text = text
    texts = {
        "name": catalog_name(str(values.get("title") or "")),
        "link_rewrite": product_link_rewrite(create.handle, str(values.get("title") or "")),
        "description": str(values.get("description") or ""),
    }
    for name, text in texts.items():
        node = SubElement(record, name)
        for lid in shop.language_ids:
            SubElement(node, "language", id=str(lid)).text = text
    set_categories(record, categories)
    if tags:
        set_tags(record, tags)
    return root


def weight_impact(weight: Any, product_weight: Decimal | None) -> str:
    """A combination's ``weight`` field for a hub variant weight: PrestaShop stores the *impact* over the product's
    own weight (the pull reads product weight + impact, as the price), so the product's weight is taken off; no hub
    weight: impact 0 (the product's weight). Written as an absolute value, a 0.5 kg variant of a 0.3 kg product
    read back as 0.8 (shipping priced on it) and was rewritten on every push."""
    hub = _decimal(weight)
    if hub is None:
        return "0"
    return _six(hub - (product_weight or Decimal("0")))


def combination_document(
    pid: str, values: Mapping[str, Any], option_ids: Sequence[str], base: Decimal, base_weight: Decimal | None = None
) -> Element:
    """The POST body of a combination of product ``pid``: its reference, its price as the impact over ``base``
    (the product's price), its weight as the impact over ``base_weight`` (the product's weight), barcode and option
    value ids."""
    root = Element("prestashop")
    record = SubElement(root, "combination")
    fields = {
        "id_product": pid,
        "reference": str(values.get("sku") or ""),
        "price": _six((values.get("price") or Decimal("0")) - base),
        "weight": weight_impact(values.get("weight"), base_weight),
        **barcode_fields(values.get("barcode")),
        "minimal_quantity": "1",
    }
    for name, text in fields.items():
        SubElement(record, name).text = text
    group = SubElement(SubElement(record, "associations"), "product_option_values")
    for vid in option_ids:
        SubElement(SubElement(group, "product_option_value"), "id").text = vid
    return root


def post_product(client: PrestaShopClient, document: Element, *, newer_than: int = 0) -> Created:
    """POST a product once (``options.create_record``: no blind retry): its id, and whether that id came in the
    POST's answer (``answered``) or from the look-up after a lost answer. After a lost answer (cut connection,
    timeout, 5xx) the product is looked for by its reference, else (a product with combinations, a simple one
    without SKU) by its ``link_rewrite`` among the products with the same (empty) reference holding what was sent
    (name in every language, price: :func:`_same_product`), the newest (highest id) taken: the lost request's own
    when it made one. Only when none is found is the POST sent again. Before, the newest of the slug was taken
    whatever it held: a merchant's product of that slug made meanwhile was linked (and, when the item was marked,
    deleted as this push's copy by ``_Writer._landed_meanwhile``: review of h-idemps).

    ``newer_than``: the highest product id the shop had before this push created any (:class:`_IdFloor`); only a
    newer product can be the lost request's. Without it a merchant's own product with the same slug (an unlinked
    "mugs", say) was taken for the create the shop had not applied, and the hub product was linked to it: its
    combinations created under it, its title and prices overwritten by later pushes."""
    sent = sent_fingerprint(document)
    reference, slug = sent["reference"], sent["link_rewrite"]

    def refind() -> str | None:
        if reference and _findable(reference):
            query = {"filter[reference]": f"[{reference}]", "display": "[id,reference]"}
        elif slug and _findable(slug):
            query = {"filter[link_rewrite]": f"[{slug}]", "display": "[id,reference,name,price,link_rewrite]"}
        else:
            return None
        ids = [
            int(i["id"])
            for i in client.list("products", query)
            if str(i.get("reference") or "") == reference
            and int(i["id"]) > newer_than
            and (reference != "" or _same_product(i, sent))
        ]
        return str(max(ids)) if ids else None

    try:
        return create_record(
            client, "products", document, refind=refind, what=f"product {reference or slug!r}", error=None
        )
    except CreateUncertain as err:
        err.sent_product = sent  # type: ignore[attr-defined]
        raise


def post_combination(
    client: PrestaShopClient, document: Element, taken: Iterable[str] = (), *, newer_than: int = 0
) -> str:
    """POST a combination once (``options.create_once``). After a lost answer it is looked for among its product's
    combinations: by its reference, else (no reference a filter can hold) by its option values; ``taken``: the
    product's combinations this push linked already (never the lost one); ``newer_than``: the highest combination
    id the shop had before this push created any (an adopted product's own combination with the same option values
    is never the lost one)."""
    record = _record_of(document)
    pid = (record.findtext("id_product") or "").strip()
    reference = (record.findtext("reference") or "").strip()
    values = sorted(
        (n.text or "").strip() for n in record.iterfind("associations/product_option_values/product_option_value/id")
    )
    skip = set(taken)

    def refind() -> str | None:
        if reference and _findable(reference):
            query = {"filter[id_product]": f"[{pid}]", "filter[reference]": f"[{reference}]", "display": "[id]"}
            ids = [
                int(i["id"])
                for i in client.list("combinations", query)
                if str(i["id"]) not in skip and int(i["id"]) > newer_than
            ]
        else:
            items = client.list("combinations", {"filter[id_product]": f"[{pid}]", "display": "full"})
            ids = [
                int(i["id"])
                for i in items
                if str(i["id"]) not in skip and int(i["id"]) > newer_than and _option_values_of(i) == values
            ]
        return str(max(ids)) if ids else None

    try:
        return create_once(
            client, "combinations", document, refind=refind, what=f"combination {reference or values}", error=None
        )
    except CreateUncertain as err:
        price = _decimal(record.findtext("price"))
        err.sent_combination = {  # type: ignore[attr-defined]
            "product": pid,
            "reference": reference,
            "options": values,
            "price": _six(price) if price is not None else "",
        }
        raise


def sent_fingerprint(document: Element) -> dict[str, str]:
    """What a product create sent that tells its record from another of the same slug (the marker keeps it: the
    next push narrows several candidates down to the one equal to it): link_rewrite, name, stored price, reference.
    The name and slug are the same in every shop language (a create writes the hub value in each)."""
    record = _record_of(document)

    def text(name: str) -> str:
        node = record.find(name)
        if node is None:
            return ""
        return (next((n.text for n in node.findall("language") if n.text), None) or node.text or "").strip()

    price = _decimal(record.findtext("price"))
    return {
        "link_rewrite": text("link_rewrite"),
        "name": text("name"),
        "price": _six(price) if price is not None else "",
        "reference": (record.findtext("reference") or "").strip(),
    }


def _language_values(value: Any) -> list[str]:
    """A multilingual field of a JSON list item: every language's text (one language: a plain string)."""
    if isinstance(value, list):
        return [str(v.get("value") or "") for v in value if isinstance(v, Mapping)]
    if isinstance(value, Mapping):
        return [str(value.get("value") or "")]
    return [str(value or "")]


def _same_product(item: Mapping[str, Any], sent: Mapping[str, Any]) -> bool:
    """Whether a listed product (``display=[id,reference,name,price,link_rewrite]``) holds exactly what a create
    sent (:func:`sent_fingerprint`): its reference, its name in every shop language, its stored price, its slug."""
    if str(item.get("reference") or "") != str(sent.get("reference") or ""):
        return False
    if sent.get("link_rewrite") and str(sent["link_rewrite"]) not in _language_values(item.get("link_rewrite")):
        return False
    names = _language_values(item.get("name"))
    if not names or any(n != str(sent.get("name") or "") for n in names):
        return False
    return _decimal(item.get("price")) == _decimal(sent.get("price"))


def _option_values_of(item: Mapping[str, Any]) -> list[str]:
    """The sorted option value ids of a combination as a JSON list gives it (``associations``)."""
    associations = item.get("associations") or {}
    values = associations.get("product_option_values") if isinstance(associations, Mapping) else None
    return sorted(str(v.get("id")) for v in values or [] if isinstance(v, Mapping))


def _record_of(tree: ElementTree | Element) -> Element:
    root = tree.getroot() if isinstance(tree, ElementTree) else tree
    assert root is not None
    return next(iter(root))


# --- the writer --------------------------------------------------------------------------------------------------


class _IdFloor:
    """The highest id each resource had in the shop before this push's first create (one call per resource and
    push, taken before that create, under a lock: creates run in several threads).

    Why: after a lost create answer the writer looks for what the request made (``post_product``,
    ``post_combination``); a record the merchant had before the push matches the same slug or option values, and
    only an id above this floor can be the lost request's. PrestaShop ids grow (AUTO_INCREMENT).

    Both floors (products and combinations) are taken before the push's first create, whichever it is: the marker of
    a create that got no answer (:meth:`_Writer._rejection_payload`) keeps them, and read only at rejection time (the
    shop still failing then) the marker was dropped and the next push created the product again. The floor the
    create needs is required (its read failing refuses the create); the other is read once, best effort
    (:meth:`known` leaves out one that could not be read)."""

    RESOURCES = ("products", "combinations")

    def __init__(self, client: PrestaShopClient) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._floors: dict[str, int] = {}
        self._tried: set[str] = set()

    def _read(self, resource: str) -> int:
        rows = self.client.list(resource, {"display": "[id]", "sort": "[id_DESC]", "limit": "1"})
        return max((int(r["id"]) for r in rows), default=0)

    def __call__(self, resource: str) -> int:
        with self._lock:
            if resource not in self._floors:
                self._floors[resource] = self._read(resource)
                self._tried.add(resource)
            for other in self.RESOURCES:
                if other not in self._tried:
                    self._tried.add(other)
                    try:
                        self._floors[other] = self._read(other)
                    except ShopApiError as err:  # best effort: read again when a create of it needs it
                        _log.warning("PrestaShop %s id floor not read before the first create: %s", other, err)
            return self._floors[resource]

    def known(self) -> dict[str, int]:
        """The floors read so far (none is read here: the shop may be failing when a rejection is made)."""
        with self._lock:
            return dict(self._floors)


class _Writer:
    def __init__(
        self, client: PrestaShopClient, plan: ExportPlan, on_links: LinksCallback, concurrency: int = 1
    ) -> None:
        self.client = client
        self.plan = plan
        self.on_links = on_links
        # Calls in flight at once for the creates of products with combinations and the combination updates
        # (``push_concurrency``; see "Concurrency" in the module docstring).
        self.concurrency = max(1, concurrency)
        self.out = WriteOutcome()
        self.shop = _Shop(getattr(client, "integration_settings", {}) or {})
        self.integration = IntegrationRef.of(plan)
        # product id -> what to link after the read-back (see ``_Written``)
        self.written: dict[str, _Written] = {}
        self.options = PrestaShopOptions(client, self.shop.settings)  # attribute groups/values by name
        self.categories = PrestaShopCategories(client, self.shop.settings)  # categories by name (categories.py)
        self.tags = PrestaShopTags(client, self.shop.settings)  # tags by name in the integration language (tags.py)
        self.push_tags = True  # False when the key may not use tags (``_check_tags``)
        # Links of new products and their combinations, committed FRESH_LINKS rows at a time (_variable_creates).
        self.pending_links: list[dict[str, Any]] = []
        # Product id -> its stored weight, read with the prices before combination updates (``weight_impact``).
        self.product_weights: dict[str, Decimal] = {}
        self.id_floor = _IdFloor(client)  # ids the shop had before this push's creates (post_product's look-up)

    def lookup_references(self, skus: Sequence[str]) -> dict[str, str]:
        """reference -> product id of the shop's products already carrying one of ``skus``."""
        found = self._first_by_reference("products", "[id,reference]", skus)
        return {ref: str(item.get("id")) for ref, item in found.items()}

    def _first_by_reference(self, resource: str, display: str, skus: Sequence[str]) -> dict[str, Mapping[str, Any]]:
        """reference -> the first listed ``resource`` item carrying it, for the ``skus`` a reference filter can hold
        (none with ``|`` or ``]``), as many a call as ``client.filter_chunks`` fits; products and combinations are
        read alike."""
        found: dict[str, Mapping[str, Any]] = {}
        unique = sorted({s for s in skus if s and "|" not in s and "]" not in s})
        for chunk in filter_chunks(unique, max_chars=REFERENCE_LOOKUP_CHARS, max_items=REFERENCE_LOOKUP_BATCH):
            params = {"filter[reference]": "[" + "|".join(chunk) + "]", "display": display}
            for item in self.client.list(resource, params):
                ref = str(item.get("reference") or "")
                if ref and ref not in found:
                    found[ref] = item
        return found

    def _check_tags(self) -> None:
        """Whether this push can write tags: a key without the ``tags`` resource leaves them alone (logged), so a
        shop whose merchant did not grant it is not refused every product that has tags (``tags.py``)."""
        plan = self.plan
        wanted = any(c.tags for c in plan.creates) or any(TAGS in u.changes for u in plan.updates)
        if not wanted or self.tags.available():
            return
        self.push_tags = False
        why = (
            "the webservice key may not use tags, so the products' tags are not pushed (give the key GET and POST "
            "on tags in Advanced Parameters > Webservice)"
        )
        self.out.warn("shop", "tags", why)
        _log.warning("PrestaShop integration %s: %s", plan.integration_id, why)
        plan.updates = [
            replace(u, changes={k: v for k, v in u.changes.items() if k != TAGS})
            for u in plan.updates
            if set(u.changes) - {TAGS}
        ]

    def _tag_ids(self, names: Sequence[str]) -> list[str]:
        """The shop's ids of hub tag names (none when this push leaves tags alone), created when missing; one the
        shop refuses is a refusal with its reason (the product is rejected, planned again on the next push)."""
        if not names or not self.push_tags:
            return []
        try:
            return self.tags.tag_ids(names)
        except TagError as err:
            raise _Refused(str(err)) from None

    def _set_tags(self, record: Element, names: Sequence[str]) -> None:
        """The hub's tags in the integration language on a product document, the other languages' kept."""
        if names and self.push_tags:
            try:
                set_tags(record, self.tags.association(tag_ids_of(record), names))
            except TagError as err:
                raise _Refused(str(err)) from None

    def run(self) -> WriteOutcome:
        self._check_tags()
        plan = self.plan
        simple = [c for c in plan.creates if _is_simple(c)]
        variable = [c for c in plan.creates if not _is_simple(c)]
        if variable:
            self._variable_creates(variable)
        existing = self.lookup_references([c.variants[0].sku or "" for c in simple])
        for c in simple:
            sku = c.variants[0].sku
            try:
                if sku and sku in existing:
                    self._adopt(c, existing[sku])
                elif late := self._late_product(c, sku or ""):
                    self._adopt(c, late)
                else:
                    self._create(c)
            except (ShopApiError, _Refused) as err:
                key = sku or c.handle or f"#{c.hub_id}"
                self._reject_create(c, key, err)
        self._variant_creates(plan)
        groups: dict[str, list[FieldUpdate]] = {}
        combination_updates: list[FieldUpdate] = []
        for u in [*plan.updates, *plan.deletes]:
            pid = u.external_id if u.entity == "product" else str(u.parent_external_id or "")
            if u.entity == "variant" and u.external_id != variant_id(pid or 0, 0):
                combination_updates.append(u)
                continue
            groups.setdefault(pid, []).append(u)
        # The documents to GET-modify-PUT, read ID_BATCH per call (display=full, filter[id]) rather than one GET
        # each; one the list did not hold (or a list the shop refused) is read on its own, and refused alone.
        documents = self._documents("products", groups)
        for pid, group in sorted(groups.items()):
            try:
                self._update(pid, group, documents.get(pid))
            except ShopApiError as err:
                key = next((str(u.values.get("sku")) for u in group if u.values.get("sku")), pid)
                self.out.reject(group[0].entity, key, str(err), {"external_id": pid})
        # The stored price of each product whose combination price changes, read 120 per call (the impact is
        # relative to it), instead of one GET of the whole product per combination.
        # Their weights too: a combination's weight is an impact over the product's (``weight_impact``).
        priced = sorted(
            {int(u.external_id.split("-", 1)[0]) for u in combination_updates if {"price", "weight"} & set(u.changes)}
        )
        bases: dict[str, Decimal] = {}
        if priced:
            for item in self.client.list_by_ids("products", priced, display="[id,price,weight]"):
                bases[str(item.get("id"))] = _decimal(item.get("price")) or Decimal("0")
                self.product_weights[str(item.get("id"))] = _decimal(item.get("weight")) or Decimal("0")
        combinations = self._documents("combinations", [u.external_id.split("-", 1)[-1] for u in combination_updates])
        with InOrder[Any](self.concurrency, "ps-push") as flight:
            for u in combination_updates:
                self._update_combination(u, flight, bases, combinations.get(u.external_id.split("-", 1)[-1]))
        for vd in plan.variant_deletes:
            self._delete_combination(vd)
        self._read_back()
        self.out.api_calls = self.client.http.stats.api_calls
        return self.out

    def _documents(self, resource: str, ids: Iterable[str]) -> dict[str, ElementTree]:
        """id -> the XML document of each record about to be GET-modify-PUT, read by lists of ids; {} when the
        shop refuses the list (each record is then read on its own)."""
        wanted = sorted({int(i) for i in ids if str(i).isdigit()})
        if not wanted:
            return {}
        try:
            return self.client.xml_by_ids(resource, wanted)
        except ShopApiError:
            return {}

    # -- writes -------------------------------------------------------------------------------------------------

    def _category_ids(self, names: Sequence[str]) -> list[str]:
        """The shop's ids of hub category names, created when missing; one the shop refuses is a refusal with its
        reason (the product is rejected, planned again on the next push)."""
        try:
            return self.categories.category_ids(names)
        except CategoryError as err:
            raise _Refused(str(err)) from None

    def _create(self, c: ProductCreate) -> None:
        categories = self._category_ids(c.categories)
        tags = self._tag_ids(c.tags)
        document = create_document(c, self.shop, categories=categories, tags=tags)
        posted = post_product(self.client, document, newer_than=self.id_floor("products"))
        pid = posted.id
        if late := self._landed_meanwhile(c, posted, document):
            self._adopt(c, late)
            return
        self.out.created += 1
        self._warn_names(c, create=True)
        self._link_now(pid, c)

    def _landed_meanwhile(self, c: ProductCreate, posted: Created, document: Element) -> str | None:
        """After this push created ``pid`` for a marked item (an earlier push's create of it got no answer, and
        this push's look-up found nothing): look once more, since PHP may have saved that lost create between this
        push's look-up and its own create. The marker's look-up (its floor, the slugs sent, or the reference) is
        repeated without ``pid``.

        Exactly one other found, holding what this push just sent and what the lost create sent (name in every
        shop language, price, reference, slug): the older create is kept, ``pid`` is deleted, and the other is
        returned to be adopted. ``pid`` is deleted only when it is provably ours: its id came in the POST's own
        answer (``posted.answered``; an id the look-up after a lost answer found may be another request's record)
        and, read back just before the DELETE, it still holds exactly what this push sent. Otherwise ``pid`` stays,
        linked, and the push report (and the product's lineage) names the other ids as copies for a person to
        delete; nothing of theirs is touched (a merchant's product can match too). A DELETE the shop refuses (a key
        without DELETE on products) keeps ``pid`` the same way. The look-up failing (a 5xx, a timeout) refuses the
        item, not linked, with the slug and content this push sent added to the marker (``sent``, ``link_rewrites``)
        and ``pid`` in its ``ours`` when the id came in the POST's answer: the next push finds ``pid`` by that slug
        and adopts it while it holds what was sent (``_late_product``; one holding something else is refused, never
        adopted nor deleted: ``_refuse_changed_ours``), or with the earlier record there too names ``pid`` as the
        copy to delete (``_drop_ours``); before, ``pid`` was left unlinked and unrecorded.

        A lost create saved after this look-up still makes a copy: nothing of this push sees it, and the marker is
        closed once the item is linked (docs/two-way-sync.md)."""
        marker = self.plan.uncertain_creates.get(c.hub_id)
        if marker is None or marker.get("products") is None:
            return None
        pid = posted.id
        mine = sent_fingerprint(document)
        slugs = _marker_slugs(marker) or [mine["link_rewrite"]]
        try:
            found = self._product_candidates(slugs, mine["reference"], int(marker["products"]))
        except ShopApiError as err:
            # ``pid`` is ours (created just now) but whether the earlier create landed meanwhile is unknown: not
            # linked (the marker would close, and a late record of that create stay unknown), recorded as ours, so
            # the next push adopts it (or, with that late record there too, names ours as the copy to delete).
            # Before, it was neither: the next push took it for a stranger (a merchant's product when the hub title
            # had changed since) and refused the item on every push, or it was left behind unlinked.
            # The slug and content this create sent go into the marker (``sent``, ``link_rewrites``) either way:
            # the next push looks ``pid`` up by them and adopts it only if it still holds them (a slug made from a
            # hub title edited since was never looked up, and that push created the product a second time; an
            # ``ours`` id adopted whatever it held took over a merchant's product given that id again).
            raise _Refused(
                f"this push created it as product {pid}, but looking again for the record an earlier push's "
                f"unanswered create of it may have saved late failed ({err}): {pid} is not linked yet and it is not "
                f"created again. Run `{self._push_command()}` again: {pid} is adopted if it still holds what this "
                "push sent (if that earlier record has appeared too, the push names the copy to delete)",
                [pid],
                ours=[pid] if posted.answered else [],  # an id a look-up found may be another request's record
                sent=mine,
            ) from None
        others = [i for i in found if str(i.get("id")) != pid]
        if not others:
            return None
        ids = [str(i.get("id")) for i in others]
        lost = _listed(marker.get("sent")) or [mine]
        if (
            len(others) == 1
            and _same_product(others[0], mine)
            and any(_same_product(others[0], s) for s in lost)
            and posted.answered
            and self._still_as_sent(pid, mine)
        ):
            deleted = self._delete_own(pid)
            if deleted:
                _log.info(
                    "PrestaShop product %s: an earlier push's unanswered create saved while this push made %s "
                    "(deleted, identical); adopted",
                    ids[0],
                    pid,
                )
                return ids[0]
            if deleted is None:  # may be deleted still: linked, the link would point at nothing
                raise _Refused(
                    f"the shop saved an earlier push's unanswered create of it late (product {ids[0]}) while this "
                    f"push created it as {pid}, identical; the DELETE of {pid} got no clear answer and it is still "
                    "there (the shop may delete it yet), so neither is linked and it is not created again. In the "
                    f"PrestaShop back office (Catalog > Products) delete {pid} if it is still there, then run "
                    f"`{self._push_command()}`: {ids[0]} is adopted",
                    [ids[0], pid],
                    ours=[pid],
                    sent=mine,
                )
        self.out.warn(
            "product",
            c.handle or f"#{c.hub_id}",
            f"the shop saved an earlier push's unanswered create of this product late (ids {', '.join(ids)}) while "
            f"this push created it as {pid}, which is the one linked: delete {', '.join(ids)} in the PrestaShop back "
            "office (Catalog > Products) if they are that copy",
            c.hub_id,
        )
        return None

    def _delete_own(self, pid: str) -> bool | None:
        """DELETE product ``pid`` (this push's own copy): True when it is gone, False when it provably stays (the
        shop answered a refusal, a key without DELETE on products say), None when unclear (no answer, or a proxy's
        5xx: the shop may still delete it, and it is still there after ``SETTLE_DELAYS_S``).

        A 404 is a deletion: the client's retry of a DELETE whose first try landed, or someone deleted it. After any
        other error the product is read to know. Before, any error kept ``pid`` linked, and a DELETE that had timed
        out was applied by PHP afterwards: the link pointed at a deleted product, the earlier create's stayed
        unlinked and its marker closed (review of h-idemps)."""
        try:
            self.client.delete("products", pid)
            return True
        except ShopNotFoundError:
            return True
        except ShopApiError as err:
            _log.warning("PrestaShop product %s (a copy this push made) could not be deleted: %s", pid, err)
            running = may_still_run(err)
        for delay in (0.0, *(_options.SETTLE_DELAYS_S if running else ())):
            time.sleep(delay)
            try:
                if not self.client.list("products", {"filter[id]": f"[{pid}]", "display": "[id]"}):
                    return True
            except ShopApiError as err:
                _log.warning("PrestaShop product %s: could not read whether it was deleted: %s", pid, err)
                continue
            if not running:
                return False
        return None

    def _still_as_sent(self, pid: str, sent: Mapping[str, Any]) -> bool:
        """Whether product ``pid``, read now, holds exactly what this push's create sent (before it is deleted as
        this push's copy: nobody edited it since)."""
        query = {"filter[id]": f"[{pid}]", "display": "[id,reference,name,price,link_rewrite]"}
        try:
            items = self.client.list("products", query)
        except ShopApiError as err:
            _log.warning("PrestaShop product %s (this push's create) could not be read back: %s", pid, err)
            return False
        return len(items) == 1 and _same_product(items[0], sent)

    def _warn_names(self, c: ProductCreate, *, create: bool) -> None:
        """The push report's word on a title (and a create's handle) written otherwise than the hub has them."""
        for note in name_warnings(c.values.get("title"), c.handle, create=create):
            self.out.warn("product", c.handle or f"#{c.hub_id}", note, c.hub_id)

    def _adopt(self, c: ProductCreate, pid: str) -> None:
        """A product the shop already has with this reference (an earlier push died before its link): update it
        to the hub's values instead of creating a second one.

        Its price is converted as a linked product's price edit is (``tax_excluded_price``): the hub holds the buyer
        price, so the stored price is the hub price times the shop's own factor between its stored price and the
        buyer price the pull computes for it now (its tax rules group and a reduction in force both kept), read
        through the pull's own path (``_shop_snapshot``). Storing the hub price as the tax-excluded price while the
        product keeps its ``id_tax_rules_group`` (what it did) made the buyer pay the hub price plus tax (24.00 ->
        28.80 at 20%). Its tax rules group is left alone, unlike a create's (0): the merchant chose it."""
        variant = c.variants[0]
        base = self._shop_snapshot(pid)
        tree = self.client.get_xml("products", pid)
        record = _record_of(tree)
        stored = record.findtext("price")
        apply_product_changes(record, c.values, ("title", "description", "status"), self.shop)
        apply_product_changes(record, variant.values, ("sku", "weight", "barcode"), self.shop)
        _set(record, "price", _six(tax_excluded_price(variant.values.get("price"), base, stored)))
        if c.categories:
            set_categories(record, self._category_ids(c.categories))
        self._set_tags(record, c.tags)
        self.client.put_xml_checked("products", pid, tree)
        self.out.updated += 1
        self._warn_names(c, create=False)  # an adopted product keeps its link_rewrite
        self.plan.adopt("product", c.hub_id)  # lineage: linked, not created (sync/lineage.py)
        self.plan.adopt("variant", variant.hub_id)
        self._link_now(pid, c)

    def _shop_snapshot(self, pid: str) -> dict[str, Any] | None:
        """The simple product's variant as the pull reads it now (its buyer price computed by the shop), None when
        the shop does not list it."""
        settings = self.shop.settings
        items = self.client.list_by_ids("products", [int(pid)])
        if not items:
            return None
        lookups = ps_extract._Lookups(self.client, settings)
        timezone = str(settings.get("timezone") or "UTC")
        changed: list[tuple[str, dict[str, Any], datetime | None]] = [(pid, items[0], None)]
        payloads = ps_extract._payloads("product", "product", changed, self.client, lookups, timezone)
        variants = product_to_canonical(payloads[0]).variants if payloads else []
        return variant_snapshot(variants[0]) if variants else None

    def _link_now(self, pid: str, c: ProductCreate) -> None:
        """Link right after the write (no base yet: the read-back fills it), so a later failure keeps the link."""
        variant = c.variants[0]
        now = utcnow()
        self.on_links(
            [
                link_row(self.integration, entity="product", external_id=pid, hub_id=c.hub_id, snapshot=None,
                         digest=None, updated_at=None, now=now),
                link_row(self.integration, entity="variant", external_id=variant_id(pid, 0), hub_id=variant.hub_id,
                         snapshot=None, digest=None, updated_at=None, sku=variant.sku, parent=pid, now=now),
            ]
        )  # fmt: skip
        self.written[pid] = _Written(c.hub_id, None, {variant_id(pid, 0): (variant.hub_id, None)})

    def _update(self, pid: str, group: list[FieldUpdate], tree: ElementTree | None = None) -> None:
        """GET-modify-PUT of one product (``tree``: its document, when already read by a list)."""
        tree = tree if tree is not None else self.client.get_xml("products", pid)
        record = _record_of(tree)
        if _name_written_already(record, group, self.shop):
            return
        product_hub: int | None = None
        variant_hub: int | None = None
        old_product: Mapping[str, Any] | None = None
        old_variant: Mapping[str, Any] | None = None
        pushed: set[str] = set()
        unwritten: dict[str, tuple[int, Mapping[str, Any]]] = {}
        for u in group:
            names = list(u.changes)
            if CATEGORIES in u.changes:
                try:
                    set_categories(record, self.categories.category_ids(u.changes[CATEGORIES][1]))
                except CategoryError as err:  # rejected with the reason; its other changes are still written
                    self.out.reject("product", pid, str(err), u.changes[CATEGORIES][1])
                    names.remove(CATEGORIES)
            if TAGS in u.changes:
                try:
                    self._set_tags(record, u.changes[TAGS][1])
                except _Refused as err:  # as a category: rejected, the other changes still written
                    self.out.reject("product", pid, str(err), u.changes[TAGS][1])
                    names.remove(TAGS)
            apply_product_changes(record, u.values, names, self.shop)
            if u.entity == "variant" and "price" in names:
                node = record.find("price")
                stored = node.text if node is not None else None
                _set(record, "price", _six(tax_excluded_price(u.values.get("price"), u.base, stored)))
            pushed.update(names)
            if u.entity == "product":
                product_hub, old_product = u.hub_id, u.base
                unwritten.update(u.variant_bases)
            else:
                variant_hub, old_variant = u.hub_id, u.base
                if product_hub is None:
                    product_hub, old_product = u.product_hub_id, u.product_base
        self.client.put_xml_checked("products", pid, tree)
        self.out.updated += 1
        for u in group:
            if u.entity == "product" and "title" in u.changes:
                for note in name_warnings(u.values.get("title")):
                    self.out.warn("product", f"hub#{u.hub_id}", note, u.hub_id)
        if product_hub is not None:
            entry = self.written.setdefault(pid, _Written(product_hub, old_product, {}))
            # The PUT moved date_upd, the time of every combination too (they have none): their links are read back.
            for vid, known in unwritten.items():
                entry.variants.setdefault(vid, known)
            if variant_hub is not None:
                entry.variants[variant_id(pid, 0)] = (variant_hub, old_variant)
            entry.pushed |= pushed

    # -- combinations -------------------------------------------------------------------------------------------

    def _option_ids(self, options: Mapping[str, str]) -> list[str]:
        """The shop's option value ids for a hub variant's options, groups and values created when missing
        (``options.py``); one the shop refuses is a refusal with its reason."""
        try:
            return self.options.value_ids(options)
        except OptionError as err:
            raise _Refused(str(err)) from None

    def lookup_combinations(self, skus: Sequence[str]) -> dict[str, tuple[str, str]]:
        """reference -> (product id, combination id) of the shop's combinations carrying one of ``skus``."""
        found = self._first_by_reference("combinations", "[id,id_product,reference]", skus)
        return {ref: (str(item.get("id_product")), str(item.get("id"))) for ref, item in found.items()}

    def _variable_creates(self, creates: Sequence[ProductCreate]) -> None:
        """A product with combinations: the product (its price the lowest variant price), then one combination per
        variant (its price the impact over the product's). Adopted, not created, when a variant's reference is
        already a combination of the shop (a push killed before its links)."""
        existing = self.lookup_combinations([v.sku or "" for c in creates for v in c.variants])
        try:
            with InOrder[Any](self.concurrency, "ps-push") as flight:
                for c in creates:
                    self._send_variable(c, existing, flight)
        finally:  # the links still pending, also when a call failed for good
            self._flush_links()

    def _send_variable(self, c: ProductCreate, existing: Mapping[str, tuple[str, str]], flight: InOrder[Any]) -> None:
        """A product with combinations to create: its POSTs (product, then each combination) sent in a worker
        thread, with others in flight; handled in turn (``_after_variable``). Sent alone, by
        :meth:`_variable_create` once those in flight are handled, when it may be adopted (a variant's reference
        is the shop's already, or an interrupted push's rerun: found by ``link_rewrite``) or when a variant has no
        reference a rerun could find it by (its links are committed at once)."""
        adopting = (
            any(v.sku and v.sku in existing for v in c.variants)
            or (self.plan.resume and bool(c.handle))
            or c.hub_id in self.plan.uncertain_creates
        )
        if flight.window == 1 or adopting or not all(_findable(v.sku) for v in c.variants):
            flight.drain()
            self._variable_create(c, existing)
            return
        try:
            option_ids = {v.hub_id: self._option_ids(v.options) for v in c.variants}
            categories = self._category_ids(c.categories)
            tags = self._tag_ids(c.tags)
        except (_Refused, ShopApiError) as err:
            flight.done(None, err, lambda _r, e: self._after_variable(c, None, e))
            return
        base = min((v.values.get("price") or Decimal("0")) for v in c.variants)
        document = create_document(c, self.shop, price=base, categories=categories, tags=tags)
        flight.submit(
            lambda: self._post_variable(c, document, option_ids, base), lambda r, e: self._after_variable(c, r, e)
        )

    def _post_variable(
        self, c: ProductCreate, document: Element, option_ids: Mapping[int, list[str]], base: Decimal
    ) -> tuple[str, list[str], ShopApiError | None]:
        """(Worker thread.) POST the product, then its combinations in turn: its id, the combinations' ids, and
        the refusal that stopped them (a failed product POST raises). No writer state is touched here."""
        pid = post_product(self.client, document, newer_than=self.id_floor("products")).id
        cids: list[str] = []
        try:
            for v in c.variants:
                body = combination_document(pid, v.values, option_ids[v.hub_id], base)
                cids.append(post_combination(self.client, body, cids, newer_than=self.id_floor("combinations")))
        except ShopApiError as err:
            return pid, cids, err
        return pid, cids, None

    def _after_variable(self, c: ProductCreate, result: Any, error: Exception | None) -> None:
        """What :meth:`_variable_create` does after its writes, for a product sent by :meth:`_send_variable`:
        counts, and its links with its combinations' (committed FRESH_LINKS rows at a time; a kill before the
        commit is adopted on rerun by a combination's reference, or by ``link_rewrite``)."""
        key = c.handle or f"#{c.hub_id}"
        if error is not None:  # refused before sending, or the product's POST failed
            if isinstance(error, ShopApiError):
                self._flush_links()
            elif not isinstance(error, _Refused):
                raise error
            self._reject_create(c, key, error)
            return
        pid, cids, failure = result
        self.out.created += 1
        self._warn_names(c, create=True)
        rows: list[dict[str, Any]] = [
            link_row(self.integration, entity="product", external_id=pid, hub_id=c.hub_id, snapshot=None,
                     digest=None, updated_at=None, now=utcnow())
        ]  # fmt: skip
        entry = self.written.setdefault(pid, _Written(c.hub_id, None, {}))
        for v, cid in zip(c.variants, cids, strict=False):
            self.out.created += 1
            rows.append(self._variant_link(pid, cid, v.hub_id, v.sku, entry))
        self.pending_links.extend(rows)
        if failure is not None:
            self._flush_links()
            self._reject_create(c, key, failure)
        elif len(self.pending_links) >= FRESH_LINKS:
            self._flush_links()

    def _variable_create(self, c: ProductCreate, existing: Mapping[str, tuple[str, str]]) -> None:
        """One product with combinations (see :meth:`_variable_creates`)."""
        key = c.handle or f"#{c.hub_id}"
        try:
            option_ids = {v.hub_id: self._option_ids(v.options) for v in c.variants}
            categories = self._category_ids(c.categories)
            tags = self._tag_ids(c.tags)
            owners = {existing[v.sku][0] for v in c.variants if v.sku and v.sku in existing}
            if len(owners) > 1:
                raise _Refused(f"its variants' references belong to several shop products ({sorted(owners)})")
            base = min((v.values.get("price") or Decimal("0")) for v in c.variants)
            if not owners and self.plan.resume and c.handle:
                # Killed between the product's POST and its first combination: no reference to find it by.
                owners = set(self._by_link_rewrite(product_link_rewrite(c.handle, "")))
            if not owners and (late := self._late_product(c, "")):
                owners = {late}  # an earlier push's create that got no answer, saved by the shop after it gave up
            if owners:
                pid = owners.pop()
                base, base_weight = self._adopt_variable(c, pid, categories)
            else:
                document = create_document(c, self.shop, price=base, categories=categories, tags=tags)
                posted = post_product(self.client, document, newer_than=self.id_floor("products"))
                pid = posted.id
                base_weight = None  # created with weight 0: each combination's impact is its weight
                if late := self._landed_meanwhile(c, posted, document):
                    # The earlier create's record (ours deleted): updated like any adopted one, since only its
                    # name, price, slug and reference were compared (before: linked as it was, its description,
                    # status, categories and tags those of the earlier push).
                    pid = late
                    base, base_weight = self._adopt_variable(c, pid, categories)
                else:
                    self.out.created += 1
                    self._warn_names(c, create=True)
            # The product's link is committed with its combinations', and those of several products together
            # (FRESH_LINKS rows a transaction, not one per product): a push killed before that commit is
            # adopted on the rerun, by a combination's reference, or by the product's link_rewrite when it died
            # before the first combination (``plan.resume``). A product any of whose variants has no reference
            # a filter can find is linked at once.
            rows: list[dict[str, Any]] = [
                link_row(self.integration, entity="product", external_id=pid, hub_id=c.hub_id, snapshot=None,
                         digest=None, updated_at=None, now=utcnow())
            ]  # fmt: skip
            entry = self.written.setdefault(pid, _Written(c.hub_id, None, {}))
            try:
                for v in c.variants:
                    found = existing.get(v.sku or "")
                    cid = found[1] if found and found[0] == pid else None
                    if cid is None:
                        taken = [r["external_id"].split("-", 1)[1] for r in rows if r["entity"] == "variant"]
                        cid = self._post_combination(pid, v.values, option_ids[v.hub_id], base, taken, base_weight)
                    else:
                        self.plan.adopt("variant", v.hub_id)
                    rows.append(self._variant_link(pid, cid, v.hub_id, v.sku, entry))
                complete = all(_findable(v.sku) for v in c.variants)
            finally:  # the product and its combinations linked together, also those before a failure
                self.pending_links.extend(rows)
            if not complete or len(self.pending_links) >= FRESH_LINKS:
                self._flush_links()
        except _Refused as err:
            self._reject_create(c, key, err)  # an open marker is carried (``_rejection_payload``)
        except ShopApiError as err:
            self._flush_links()
            self._reject_create(c, key, err)

    def _adopt_variable(self, c: ProductCreate, pid: str, categories: Sequence[str]) -> tuple[Decimal, Decimal | None]:
        """GET-modify-PUT of a product with combinations adopted instead of created (its title, description,
        status, categories and tags the hub's): its stored price and weight, over which its new combinations'
        impacts are computed.

        The adopted product keeps its stored price (its combinations' impacts are over it): a new combination's
        impact is over that price too, as under a linked product (``_variant_creates``). Over the hub's lowest price
        (what a create stores), a shop product at 18.00 with a hub lowest of 19.90 got a 24.00 variant at 22.10."""
        tree = self.client.get_xml("products", pid)
        record = _record_of(tree)
        base_weight = _decimal(record.findtext("weight"))
        base = _decimal(record.findtext("price")) or Decimal("0")
        apply_product_changes(record, c.values, ("title", "description", "status"), self.shop)
        if c.categories:
            set_categories(record, categories)
        self._set_tags(record, c.tags)
        self.client.put_xml_checked("products", pid, tree)
        self.out.updated += 1
        self._warn_names(c, create=False)
        self.plan.adopt("product", c.hub_id)
        return base, base_weight

    def _flush_links(self) -> None:
        """Commit the links of created products and combinations not committed yet (one transaction)."""
        if self.pending_links:
            rows, self.pending_links = self.pending_links, []
            self.on_links(rows)

    def _by_link_rewrite(self, handle: str, *, reference: str = "", newer_than: int = 0) -> list[str]:
        """After an interrupted push: the id of the shop's product without a reference whose ``link_rewrite`` is
        ``handle`` (the hub handle a create writes), when there is exactly one: a product with combinations this
        push created before it was killed (its combinations, which carry the references, were not created yet).
        ``reference``: the reference the product must carry instead ("" : none); ``newer_than``: only ids above it
        (:meth:`_late_product`)."""
        if not handle or "|" in handle or "]" in handle:
            return []
        items = self.client.list("products", {"filter[link_rewrite]": f"[{handle}]", "display": "[id,reference]"})
        found = [
            str(i.get("id"))
            for i in items
            if str(i.get("reference") or "") == reference and int(i.get("id") or 0) > newer_than
        ]
        return found if len(found) == 1 else []

    def _push_command(self) -> str:
        """The command that pushes this shop again (what a refusal tells a person to run after fixing the shop)."""
        tenant = self.plan.tenant_id or "<tenant>"
        return f"ecom-pipeline push --tenant {tenant} --integration {self.plan.integration_id}"

    def _product_candidates(self, slugs: Sequence[str], reference: str, floor: int) -> list[dict[str, Any]]:
        """The shop's products above id ``floor`` carrying ``reference`` ("" : none) whose ``link_rewrite`` is one
        of ``slugs``, oldest first (id, reference, name, price and link_rewrite of each: what ``_same_product``
        compares); ``reference`` a filter holds: found by it instead, whatever their slug.

        A product linked to a hub product (the integration's live links, ``plan.linked_products``, or linked by this
        push: ``written``) is never a candidate: a lost create's slug may be another hub product's since (a handle
        edited), and adopting its record linked two hub products to one shop product."""
        linked = set(self.plan.linked_products) | set(self.written)
        display = "[id,reference,name,price,link_rewrite]"
        queries = (
            [{"filter[reference]": f"[{reference}]"}]
            if reference and _findable(reference)
            else [{"filter[link_rewrite]": f"[{h}]"} for h in slugs if h and _findable(h)]
        )
        found: dict[int, dict[str, Any]] = {}
        for query in queries:
            for item in self.client.list("products", {**query, "display": display}):
                pid = int(item.get("id") or 0)
                if pid > floor and str(item.get("reference") or "") == reference and str(pid) not in linked:
                    found.setdefault(pid, item)
        return [found[i] for i in sorted(found)]

    def _late_product(self, c: ProductCreate, reference: str) -> str | None:
        """The product an earlier push's unanswered create made late, when that push said so (an open rejection
        marked ``CREATE_UNCERTAIN``: ``plan.uncertain_creates``) and it has nothing to be found by: a product with
        combinations, one without SKU or with a SKU no reference filter holds. Looked for by its ``link_rewrite``
        (every slug an unanswered create sent) among the products created after that push's id floor
        (``_IdFloor``, kept in the marker) with the same reference: a merchant's own older product of that slug is
        never adopted.

        Of those found (a merchant's product of that slug made since, a copy made in the back office, two
        unanswered creates both saved), the one whose content equals what a lost create sent (the marker's
        ``sent``: name in every shop language, price, reference, slug; an older marker: what a create sends now) is
        adopted when it is the only one; none or several such: the item is refused with the candidates' ids and
        what to do, and not created. Before, several adopted nothing and the product was created once more (one
        more duplicate), and a single one was adopted unchecked: a merchant's own product of that slug made since
        the floor was taken over and overwritten with the hub's values.

        A marker without the products floor: no product create of it went unanswered (the floor of the resource a
        create needs is read before that create, and a read that fails refuses it: :class:`_IdFloor`; a marker
        only lacks the floor of the other resource, best effort). Then only a product of that slug with no floor
        at all to tell it apart refuses the item (ids and what to do); none: nothing to confuse it with, created.

        Why: the first push waits ~15 s for such a record and then rejects the item; without this the next push
        found nothing by reference (the look-up by slug ran only on a resume) and created the product again."""
        marker = self.plan.uncertain_creates.get(c.hub_id)
        if marker is None:
            return None
        if reference and _findable(reference):
            return None  # the reference look-up (``lookup_references``/``lookup_combinations``) finds it
        # The slugs sent (kept in the marker), not one recomputed from the hub title edited since; an older marker
        # without them: the slug a create sends now. Every one (review 5: a later push may have sent another).
        slugs = _marker_slugs(marker) or [sent_link_rewrite(c)]
        floor = marker.get("products")
        found = self._product_candidates(slugs, reference, int(floor) if floor is not None else 0)
        ids = [str(i.get("id")) for i in found]
        if not found:
            return None
        if floor is None:
            raise _Refused(
                f"an earlier push's create of it got no answer and its marker lacks the shop's product id floor of "
                f"that push, so the shop's products {', '.join(ids)} (link_rewrite {'/'.join(slugs)}, same "
                "reference) cannot be told from the record that create may have made: none is adopted and it is not "
                "created again. In the PrestaShop back office (Catalog > Products) delete those that are this "
                "product's copies (or change the URL slug of a product of your own), then run "
                f"`{self._push_command()}`: with no product of that slug left it is created",
                ids,
            )
        sent = _listed(marker.get("sent")) or [self._create_fingerprint(c)]
        # A record of the marker's ``ours`` came in an earlier push's own POST answer, and that push added what it
        # sent to ``sent``: adopted only while it holds one of them, like any candidate. Before, it was adopted
        # whatever it held, trusting ids are never reused: MySQL < 8.0 sets InnoDB's auto-increment to max(id)+1
        # on restart and shops get restored from backups, so a merchant's product given that id was taken over.
        same = [i for i in found if any(_same_product(i, s) for s in sent)]
        self._refuse_changed_ours(marker, found, same)
        same = self._drop_ours(marker, same)
        if len(same) == 1:
            _log.info(
                "PrestaShop product %s: made late by an earlier push's unanswered create (of products %s, the one "
                "holding what it sent), adopted",
                same[0].get("id"),
                ids,
            )
            return str(same[0].get("id"))
        if not same:
            # Made since the floor with the slug, but not what the lost create sent (another name or price): a
            # merchant's own product most likely. Adopted, it was overwritten with the hub's values (review 1).
            raise _Refused(
                f"an earlier push's create of it got no answer, and the shop has since made product(s) "
                f"{', '.join(ids)} with its link_rewrite ({'/'.join(slugs)}) and reference but not what that create "
                "sent (another name or price): none is adopted (a product of your own is not overwritten) and it is "
                "not created again. In the PrestaShop back office (Catalog > Products) change the URL slug of those "
                "that are your own products, and delete those that are this product's copies, then run "
                f"`{self._push_command()}`: with no product of that slug left it is created",
                ids,
            )
        equal = f" ({', '.join(str(i.get('id')) for i in same)} hold exactly what it sent)" if same else ""
        raise _Refused(
            f"an earlier push's create of it got no answer and the shop has since made products {', '.join(ids)} "
            f"with its link_rewrite ({'/'.join(slugs)}) and reference{equal}: any may be that create's late record, "
            "so none is adopted and it is not created again. In the PrestaShop back office (Catalog > Products) "
            "keep the one to link and delete the others (or change their URL slug), then run "
            f"`{self._push_command()}`: the one left is adopted",
            ids,
        )

    def _refuse_changed_ours(
        self, marker: Mapping[str, Any], found: Sequence[Mapping[str, Any]], same: Sequence[Mapping[str, Any]]
    ) -> None:
        """Refuse when a record of the marker's ``ours`` (an id an earlier push's own POST answer gave) is found
        but holds none of the marker's ``sent``: edited since, or that id given to another product (MySQL < 8.0
        reuses ids after a restart, a shop restored from a backup): neither adopted (a merchant's product is not
        overwritten) nor deleted, and the item not created again while it is there."""
        ours = {str(x) for x in marker.get("ours") or []}
        same_ids = {str(i.get("id")) for i in same}
        changed = [str(i.get("id")) for i in found if str(i.get("id")) in ours and str(i.get("id")) not in same_ids]
        if not changed:
            return
        raise _Refused(
            f"an earlier push created it as product {', '.join(changed)} (the id came in that push's own answer) but "
            f"left it unlinked, and {', '.join(changed)} no longer holds what that push sent (name, price, slug or "
            "reference changed: edited since, or the shop gave that id to another product after it was deleted): "
            "it is not adopted (a product of your own is not overwritten), not deleted, and this product is not "
            f"created again. In the PrestaShop back office (Catalog > Products) look at {', '.join(changed)}: if it "
            "is your own product, change its URL slug; if it is this product's copy, delete it (or set its name and "
            f"price back to the hub's). Then run `{self._push_command()}`",
            changed,
        )

    def _drop_ours(self, marker: Mapping[str, Any], same: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Of several candidates holding what a create sent, when exactly one is not an earlier push's own record
        (the marker's ``ours``: ids that came in its POST's answer, left unlinked by a DELETE with no clear answer
        or by a look-again that failed), refuse naming the copy to delete and the record then adopted; otherwise
        ``same`` as it is.

        The copy is not deleted here, across pushes: since the push that made it, a person may have worked on it
        (its description, images, stock, combinations; the refusal told them to delete it "if it is still there")
        and a product DELETE takes all of that with it, while name, price, slug and reference, all we compare, stay
        as sent (review 5 reproduced the loss). Only the push that made a copy deletes it, seconds after its POST's
        answer and read back as sent (``_landed_meanwhile``)."""
        ours = {str(x) for x in marker.get("ours") or []}
        theirs = [i for i in same if str(i.get("id")) not in ours]
        mine = [str(i.get("id")) for i in same if str(i.get("id")) in ours]
        if len(theirs) != 1 or not mine:
            return same
        ids = [str(theirs[0].get("id")), *mine]
        raise _Refused(
            f"an earlier push's create of it got no answer and was saved late (product {ids[0]}), and a later push's "
            f"own create of it ({', '.join(mine)}, holding what that push sent) is still there, unlinked (that push "
            "could not finish checking for the late record, or its DELETE of its copy got no clear answer): neither "
            "is linked and it is not created again. A copy is not deleted by a later push, in case it was worked on "
            f"since. In the PrestaShop back office (Catalog > Products) delete {', '.join(mine)} (or, to keep it, "
            f"delete {ids[0]}), then run `{self._push_command()}`: the one left is adopted",
            ids,
            ours=mine,
        )

    def _create_fingerprint(self, c: ProductCreate) -> dict[str, str]:
        """What a create of ``c`` sends now (:func:`sent_fingerprint`): for a marker written before it kept what
        was sent."""
        base = None if _is_simple(c) else min((v.values.get("price") or Decimal("0")) for v in c.variants)
        return sent_fingerprint(create_document(c, self.shop, price=base))

    def _late_combination(
        self, product_hub_id: int, pid: str, sku: str, option_ids: Sequence[str], sent_now: Callable[[], str]
    ) -> str | None:
        """The combination an earlier push's unanswered create made late under linked product ``pid`` (marker as in
        :meth:`_late_product`), when it has no reference to be found by: by its option values among the product's
        combinations created after that push's floor, with the same (unfindable) reference. The only one whose
        price impact is what a lost create sent (the marker's ``sent_combinations``; an older marker: ``sent_now()``,
        the impact a create sends now) is adopted; none or several such: the item is refused with their ids and what
        to do (before: several created once more, and a single one adopted unchecked). A marker without the
        combinations floor (no combination create of it went unanswered, see :meth:`_late_product`) refuses only
        when the product has such a combination at all."""
        marker = self.plan.uncertain_creates.get(product_hub_id)
        if marker is None or (sku and _findable(sku)):
            return None
        values = sorted(option_ids)
        floor = marker.get("combinations")
        linked = self._linked_combinations(pid)
        items = self.client.list("combinations", {"filter[id_product]": f"[{pid}]", "display": "full"})
        found = sorted(
            (i for i in items
             if int(i["id"]) > int(floor or 0)
             and str(i["id"]) not in linked
             and str(i.get("reference") or "") == sku
             and _option_values_of(i) == values),
            key=lambda i: int(i["id"]),
        )  # fmt: skip
        ids = [str(i["id"]) for i in found]
        if not found:
            return None
        what = f"the shop's combinations {', '.join(ids)} of product {pid} (same option values and reference)"
        if floor is None:
            raise _Refused(
                f"an earlier push's create of it got no answer and its marker lacks the shop's combination id floor "
                f"of that push, so {what} cannot be told from the record that create may have made: none is "
                "adopted and it is not created again. In the PrestaShop back office (the product's Combinations) "
                f"delete those that are copies, then run `{self._push_command()}`: with none left it is created",
                ids,
            )
        sent = [s for s in _listed(marker.get("sent_combinations")) if str(s.get("product")) == pid]
        if not sent:  # an older marker (or another product's): what a create of it sends now
            sent = [{"options": values, "price": sent_now()}]
        same = [
            i
            for i in found
            if any(s.get("options") == values and _decimal(s.get("price")) == _decimal(i.get("price")) for s in sent)
        ]
        if len(same) == 1:
            return str(same[0]["id"])
        if not same:  # made since, same option values, another price impact: not adopted (review 1)
            raise _Refused(
                f"an earlier push's create of it got no answer, and {what} made since do not hold the price that "
                "create sent: none is adopted (a combination of your own is not overwritten) and it is not created "
                "again. In the PrestaShop back office (the product's Combinations) delete those that are this "
                f"variant's copies (or change their option values), then run `{self._push_command()}`: with none "
                "left it is created",
                ids,
            )
        raise _Refused(
            f"an earlier push's create of it got no answer and {what} were made since: any may be that create's "
            "late record, so none is adopted and it is not created again. In the PrestaShop back office (the "
            f"product's Combinations) keep one and delete the others, then run `{self._push_command()}`: the one "
            "left is adopted",
            ids,
        )

    def _linked_combinations(self, pid: str) -> set[str]:
        """Combination ids of product ``pid`` linked to a hub variant (the integration's live links,
        ``plan.linked_variants``, or linked by this push: ``written``): never a lost create's late record. Before,
        one with the same option values and price impact (two hub variants alike) was adopted for the other: two hub
        variants linked to one combination (products linked are excluded the same way: ``_product_candidates``)."""
        prefix = f"{pid}-"
        ids = [*self.plan.linked_variants, *(self.written[pid].variants if pid in self.written else ())]
        return {v[len(prefix) :] for v in ids if v.startswith(prefix)}

    def _reject_create(self, c: ProductCreate, key: str, err: BaseException) -> None:
        """The rejection of product create ``c`` (payload with its marker: :meth:`_rejection_payload`)."""
        payload = self._rejection_payload(c.hub_id, err, {"handle": c.handle}, sent_link_rewrite(c))
        self.out.reject("product", key, str(err), payload)

    def _rejection_payload(
        self, hub_id: int, err: BaseException, payload: dict[str, Any], link_rewrite: str | None = None
    ) -> dict[str, Any]:
        """A rejection's payload, with the marker the next push reads back (``sync.export.uncertain_creates``) when
        a create of hub product ``hub_id`` may be in the shop without a link:

        - a create that got no answer (:class:`CreateUncertain`): the hub product, the id floors this push took
          before its first create (ids above them may be the lost request's record; one that could not be read is
          left out, never the whole marker) and the ``link_rewrite`` sent (``link_rewrite``: a product create);
        - an open marker of an earlier push (``plan.uncertain_creates``), whatever refused the item this time (its
          look-up failing, a category refused, its POST refused): carried as it was, its floors and slug first, so
          it stays until the item is linked or adopted. Before, the new rejection had no marker, the marked one was
          closed, and the push after that created the product a second time.
        """
        marker: dict[str, Any] = {}
        if isinstance(err, CreateUncertain):
            marker = {"hub_id": int(hub_id), **self.id_floor.known()}
            if link_rewrite:
                marker["link_rewrite"] = link_rewrite
            # What the lost create sent (name, price, reference...): the next push tells its late record from
            # another of the same slug or option values by it (``_late_product``, ``_late_combination``).
            for key, attr in (("sent", "sent_product"), ("sent_combinations", "sent_combination")):
                if isinstance(getattr(err, attr, None), dict):
                    marker[key] = [getattr(err, attr)]
        old = self.plan.uncertain_creates.get(int(hub_id))
        if old is not None:
            slugs = _marker_slugs(old) + [x for x in _marker_slugs(marker) if x not in _marker_slugs(old)]
            sent = {k: _listed(old.get(k)) + [x for x in _listed(marker.get(k)) if x not in _listed(old.get(k))]
                    for k in ("sent", "sent_combinations")}  # fmt: skip
            marker = {**marker, **old, "hub_id": int(hub_id)}
            if slugs:
                marker["link_rewrite"] = slugs[0]
            if len(slugs) > 1:
                marker["link_rewrites"] = slugs  # every slug sent, oldest first: each is looked up
            marker.update({k: v for k, v in sent.items() if v})
        if isinstance(err, _Refused) and err.sent and marker:
            # This push's own create left unlinked (its look-again failed, or its DELETE got no clear answer): the
            # slug and content it sent, so the next push looks its record up by that slug (before, only the marker's
            # older slugs: with the hub title or handle changed since, that record was never found and the product
            # was created a second time) and adopts it only while it holds what was sent.
            slugs = _marker_slugs(marker)
            slug = err.sent.get("link_rewrite")
            if slug and slug not in slugs:
                slugs.append(slug)
                marker = {**marker, "link_rewrite": slugs[0], "link_rewrites": slugs}
            sent_list = _listed(marker.get("sent"))
            if err.sent not in sent_list:
                marker = {**marker, "sent": [*sent_list, err.sent]}
        if isinstance(err, _Refused) and err.ours and marker:
            # This push's own records that may still exist (a DELETE with no clear answer, a look-again that
            # failed): the next push knows them for ours (the id came in our POST's answer), not a merchant's.
            mine = [str(x) for x in marker.get("ours") or []]
            marker = {**marker, "ours": mine + [x for x in err.ours if x not in mine]}
        if isinstance(err, _Refused) and err.candidates:
            payload = {**payload, "candidates": list(err.candidates)}
        return {**payload, CREATE_UNCERTAIN: marker} if marker else payload

    def _variant_creates(self, plan: ExportPlan) -> None:
        """Hub variants missing under a linked product: new combinations (their impact over the product's price)."""
        if not plan.variant_creates:
            return
        existing = self.lookup_combinations([vc.variant.sku or "" for vc in plan.variant_creates])
        stored: dict[str, tuple[Decimal, Decimal | None]] = {}  # product id -> its stored price and weight
        for vc in plan.variant_creates:
            v, pid = vc.variant, vc.product_external_id
            try:
                found = existing.get(v.sku or "")
                option_ids: list[str] | None = None
                late: str | None = None
                if not (found and found[0] == pid) and vc.product_hub_id in self.plan.uncertain_creates:
                    option_ids = self._option_ids(v.options)

                    def sent_now(pid: str = pid, v: VariantValues = v, ids: list[str] = option_ids) -> str:
                        price, weight = self._stored(stored, pid)
                        return (
                            _record_of(combination_document(pid, v.values, ids, price, weight)).findtext("price") or ""
                        )

                    late = self._late_combination(vc.product_hub_id, pid, v.sku or "", option_ids, sent_now)
                if found and found[0] == pid:
                    cid = found[1]
                    self.plan.adopt("variant", v.hub_id)
                elif late is not None:
                    cid = late  # made late by an earlier push's unanswered create
                    self.plan.adopt("variant", v.hub_id)
                else:
                    price, weight = self._stored(stored, pid)
                    if option_ids is None:
                        option_ids = self._option_ids(v.options)
                    taken = self._linked_combinations(pid)  # never the lost answer's record
                    cid = self._post_combination(pid, v.values, option_ids, price, taken, weight)
                entry = self.written.setdefault(pid, _Written(vc.product_hub_id, None, {}))
                self.on_links([self._variant_link(pid, cid, v.hub_id, v.sku, entry)])
            except (_Refused, ShopApiError) as err:
                payload = self._rejection_payload(vc.product_hub_id, err, {"product": pid})
                self.out.reject("variant", v.sku or f"#{v.hub_id}", str(err), payload)

    def _stored(self, stored: dict[str, tuple[Decimal, Decimal | None]], pid: str) -> tuple[Decimal, Decimal | None]:
        """Linked product ``pid``'s stored price and weight (a new combination's impacts are over them), read once
        per push into ``stored``."""
        if pid not in stored:
            record = _record_of(self.client.get_xml("products", pid))
            price = _decimal(record.findtext("price")) or Decimal("0")
            stored[pid] = (price, _decimal(record.findtext("weight")))
        return stored[pid]

    def _post_combination(
        self,
        pid: str,
        values: Mapping[str, Any],
        option_ids: list[str],
        base: Decimal,
        taken: Iterable[str] = (),
        base_weight: Decimal | None = None,
    ) -> str:
        document = combination_document(pid, values, option_ids, base, base_weight)
        cid = post_combination(self.client, document, taken, newer_than=self.id_floor("combinations"))
        self.out.created += 1
        return cid

    def _variant_link(self, pid: str, cid: str, hub_id: int, sku: str | None, entry: _Written) -> dict[str, Any]:
        """The link of a combination just written (no base yet: the read-back fills it), for the caller to commit."""
        vid = variant_id(pid, cid)
        entry.variants[vid] = (hub_id, None)
        return link_row(self.integration, entity="variant", external_id=vid, hub_id=hub_id, snapshot=None,
                        digest=None, updated_at=None, sku=sku, parent=pid, now=utcnow())  # fmt: skip

    def _update_combination(
        self,
        u: FieldUpdate,
        flight: InOrder[Any],
        bases: Mapping[str, Decimal] | None = None,
        tree: ElementTree | None = None,
    ) -> None:
        """GET-modify-PUT of one combination: the document changed here, its PUT sent through ``flight`` (several
        in flight), the answer handled in turn; a refusal is a rejection."""
        try:
            cid, tree = self._combination_document(u, bases, tree)
        except ShopApiError as err:
            flight.done(None, err, lambda _r, e: self._after_combination(u, e))
            return
        flight.submit(
            lambda: self.client.put_xml_checked("combinations", cid, tree), lambda _r, e: self._after_combination(u, e)
        )

    def _after_combination(self, u: FieldUpdate, error: Exception | None) -> None:
        if isinstance(error, ShopApiError):
            self.out.reject("variant", str(u.values.get("sku") or u.external_id), str(error), {"id": u.external_id})
            return
        if error is not None:
            raise error
        pid = u.external_id.split("-", 1)[0]
        self.out.updated += 1
        entry = self.written.setdefault(pid, _Written(int(u.product_hub_id or 0), u.product_base, {}))
        entry.variants[u.external_id] = (u.hub_id, u.base)
        entry.pushed |= set(u.changes)

    def _combination_document(
        self, u: FieldUpdate, bases: Mapping[str, Decimal] | None, tree: ElementTree | None
    ) -> tuple[str, ElementTree]:
        """A combination's id and its document with the pushed fields changed: reference, weight (impact over the
        product's weight: ``weight_impact``) and price (impact over the product's stored price: from ``bases`` when
        read beforehand, else read here); ``tree``: its document, when already read by a list."""
        pid, cid = u.external_id.split("-", 1)
        tree = tree if tree is not None else self.client.get_xml("combinations", cid)
        record = _record_of(tree)
        if "sku" in u.changes:
            _set(record, "reference", str(u.values.get("sku") or ""))
        product: Element | None = None
        if "weight" in u.changes:
            weight = self.product_weights.get(pid)
            if weight is None:
                product = _record_of(self.client.get_xml("products", pid))
                weight = _decimal(product.findtext("weight")) or Decimal("0")
            _set(record, "weight", weight_impact(u.values.get("weight"), weight))
        if "barcode" in u.changes:
            for field, text in barcode_fields(u.values.get("barcode")).items():
                _set(record, field, text)
        if "price" in u.changes:
            base_price = (bases or {}).get(pid)
            if base_price is None:
                product = product if product is not None else _record_of(self.client.get_xml("products", pid))
                base_price = _decimal(product.findtext("price")) or Decimal("0")
            base = base_price
            node = record.find("price")
            impact = _decimal(node.text if node is not None else None) or Decimal("0")
            target = tax_excluded_price(u.values.get("price"), u.base, base + impact)
            _set(record, "price", _six(target - base))
        return cid, tree

    def _delete_combination(self, vd: VariantDelete) -> None:
        """``DELETE /api/combinations/{id}`` of a hub variant deleted under a live product, then its link tombstoned
        (a 404: gone already, from an interrupted push or by hand)."""
        _, _, cid = vd.external_id.partition("-")
        try:
            self.client.delete("combinations", cid)
        except ShopApiError as err:
            if err.status != 404:
                self.out.reject("variant", vd.sku or vd.external_id, str(err), {"id": vd.external_id})
                return
        self.on_links([deleted_variant_row(self.integration, vd, utcnow())])
        self.out.deleted += 1
        self.written.setdefault(vd.product_external_id, _Written(vd.product_hub_id, vd.product_base, {}))

    # -- bases after the writes ---------------------------------------------------------------------------------

    def _read_back(self) -> None:
        """Read the written products back as the pull does and store each link's new base (echo suppression)."""
        if not self.written:
            return
        settings = self.shop.settings
        timezone = str(settings.get("timezone") or "UTC")
        lookups = ps_extract._Lookups(self.client, settings)
        items = self.client.list_by_ids("products", [int(p) for p in self.written])
        changed: list[tuple[str, dict[str, Any], datetime | None]] = [(str(i.get("id")), i, None) for i in items]
        payloads = ps_extract._payloads("product", "product", changed, self.client, lookups, timezone)
        rows: list[dict[str, Any]] = []
        now = utcnow()
        for payload in payloads:
            canonical = product_to_canonical(payload)
            pid = canonical.external_id
            entry = self.written[pid]
            psnap, phash = base_after(entry.product_base, product_snapshot(canonical), entry.pushed)
            rows.append(
                link_row(self.integration, entity="product", external_id=pid, hub_id=entry.product_hub_id,
                         snapshot=psnap, digest=phash, updated_at=canonical.updated_at if phash else None, now=now)
            )  # fmt: skip
            for variant in canonical.variants:
                known = entry.variants.get(variant.external_id)
                if known is None:
                    continue
                hub_id, old = known
                vsnap, vhash = base_after(old, variant_snapshot(variant), entry.pushed)
                rows.append(
                    link_row(self.integration, entity="variant", external_id=variant.external_id, hub_id=hub_id,
                             snapshot=vsnap, digest=vhash,
                             updated_at=(variant.updated_at or canonical.updated_at) if vhash else None,
                             sku=vsnap.get("sku"), parent=pid, now=now)
                )  # fmt: skip
        if rows:
            self.on_links(rows)


_SNAPSHOT_FIELDS = {"price": ("price", "price_tax_excl", "compare_at_price", "sale_price", "price_includes_tax")}


def base_after(
    old: Mapping[str, Any] | None, snapshot: dict[str, Any], pushed: Iterable[str]
) -> tuple[dict[str, Any], str | None]:
    """The base to store after a write and its hash: the shop's snapshot when the shop changed nothing but what we
    pushed; else the old base with only the pushed fields moved and no hash, so the next pull still brings the
    shop's own edit (made since the last pull) into the hub instead of it being absorbed silently."""
    if not old:
        return snapshot, stable_hash(snapshot)
    moved = {s for n in pushed for s in _SNAPSHOT_FIELDS.get(n, (n,))}
    keys = (set(old) | set(snapshot)) - _TIME_FIELDS - moved
    if all(old.get(k) == snapshot.get(k) for k in keys):
        return snapshot, stable_hash(snapshot)
    merged = dict(old)
    for k in moved:
        merged[k] = snapshot.get(k)
    return merged, None


class _Refused(Exception):
    """An item this writer cannot send (the reason says what to do); it becomes a rejection. ``candidates``: the
    shop's ids of records that may be an earlier push's late create (kept in the rejection's payload)."""

    def __init__(
        self,
        message: str,
        candidates: Sequence[str] = (),
        *,
        ours: Sequence[str] = (),
        sent: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.candidates = list(candidates)
        self.ours = list(ours)  # ids of records this push created (in its POST's answer), kept in the marker
        # What this push's own create sent (:func:`sent_fingerprint`) when its record is left unlinked: added to an
        # open marker's ``sent`` and slugs, so the next push finds that record and knows it by its content.
        self.sent = dict(sent) if sent else None


def _listed(value: Any) -> list[dict[str, Any]]:
    """A marker's list of fingerprints (``sent``, ``sent_combinations``): its dicts, [] when absent."""
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


class _Written:
    """A written product's links to store after the read-back: its hub id and old base, its variants
    (external id -> (hub id, old base)) and the canonical fields pushed."""

    def __init__(
        self,
        product_hub_id: int,
        product_base: Mapping[str, Any] | None,
        variants: dict[str, tuple[int, Mapping[str, Any] | None]],
    ) -> None:
        self.product_hub_id = product_hub_id
        self.product_base = product_base
        self.variants = variants
        self.pushed: set[str] = set()


def _findable(sku: str | None) -> bool:
    """Whether a rerun's reference look-up can find this SKU (a reference filter cannot hold ``|`` or ``]``)."""
    return bool(sku) and "|" not in str(sku) and "]" not in str(sku)


def _is_simple(c: ProductCreate) -> bool:
    return c.kind == "simple" and len(c.variants) == 1 and not c.variants[0].options


def apply_plan(
    client: PrestaShopClient, plan: ExportPlan, on_links: LinksCallback, *, concurrency: int | None = None
) -> WriteOutcome:
    """Apply ``plan`` to the shop behind ``client`` (module docstring). ``concurrency``: calls in flight at once;
    None takes the client's ``push_concurrency`` (set by :func:`make_client` from the integration's setting), else
    ``DEFAULT_PUSH_CONCURRENCY``."""
    if concurrency is None:
        concurrency = getattr(client, "push_concurrency", None) or DEFAULT_PUSH_CONCURRENCY
    writer = _Writer(client, plan, on_links, concurrency)
    try:
        return writer.run()
    except Exception as exc:
        # What was refused before the failure (among them markers of creates that got no answer) is recorded by
        # ``run_push`` all the same: dropped, the next push had no marker and created those products again.
        setattr(exc, PARTIAL_OUTCOME, writer.out)
        raise


__all__ = [
    "apply_plan",
    "apply_product_changes",
    "base_after",
    "create_document",
    "make_client",
    "name_warnings",
    "preview_warnings",
    "set_categories",
    "tax_excluded_price",
]
