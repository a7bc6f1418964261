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
- Every call runs under the client's cost governor (``ShopifyClient.execute``), so a large push paces itself to
  the bucket instead of meeting THROTTLED.
- ``userErrors`` are per item: each refused product or variant becomes a rejection (stage ``export``) with the
  shop's code, message and field, its link is not written, and the next push plans it again (retried).
- Idempotent creates: the SKUs about to be created are looked up first (``productVariants(query: "sku:...")``);
  a product found with one is adopted (``productSet`` with ``identifier: {id}`` and its variants' ids) instead of
  created, and a product not found is created with ``identifier: {handle}`` (the hub handle), which Shopify
  treats as "create, or update the product with that handle". So a process killed between the shop's create
  and our link does not create a duplicate on the rerun. Since ``identifier: {handle}`` would also overwrite a
  merchant's own product that merely has the same handle, the handles of the other creates are looked up first
  (``products(query: "handle:...")``) and a product found there with none of our SKUs is refused (not
  overwritten), except after an interrupted push (``plan.resume``), when it is ours from that push.
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

Known limits (docs/two-way-sync.md): no staged bulk mutation yet (one call per product); tags, vendor and product
type are not written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from ecom_pipeline.platforms.http import HttpOptions
from ecom_pipeline.platforms.shopify import queries as q
from ecom_pipeline.platforms.shopify.client import ShopifyClient, gid_tail
from ecom_pipeline.platforms.shopify.credentials import provider_for
from ecom_pipeline.platforms.shopify.transform import product_to_canonical
from ecom_pipeline.platforms.shopify.versions import pinned_version
from ecom_pipeline.platforms.woocommerce.writer import base_after
from ecom_pipeline.sync.canonical import CanonicalProduct
from ecom_pipeline.sync.export import (
    ExportPlan,
    FieldUpdate,
    ProductCreate,
    VariantDelete,
    VariantValues,
    WriteOutcome,
    deleted_variant_row,
    link_row,
)
from ecom_pipeline.sync.merge import FIELDS
from ecom_pipeline.sync.resolve.products import product_snapshot, variant_snapshot
from ecom_pipeline.warehouse.types import utcnow

LinksCallback = Callable[[list[dict[str, Any]]], None]
# The fields a push writes to Shopify (sync/export.py plans no other): not the sale price (Shopify has a price and
# a compare-at price only: a sale is the price with a compare-at above it).
PUSH_FIELDS: frozenset[str] = frozenset(FIELDS) - {"sale_price"}
SKU_LOOKUP_CHUNK = 50  # SKUs per look-up query (the search string stays short; 250 results per page at most)
MUTATION_ESTIMATE = 10.0  # a mutation field costs 10 points before its selection
_STATUS = {"active": "ACTIVE", "draft": "DRAFT", "archived": "ARCHIVED"}
DEFAULT_OPTION = ("Title", "Default Title")  # what Shopify names the option of a product without options
WRITE_SCOPE = "write_products"


class ShopifyWriteError(RuntimeError):
    """A push that cannot start (the app lacks the write scope): the whole push fails with what to do."""


def make_client(integration: Any, credentials: Mapping[str, Any]) -> ShopifyClient:
    """A client for a stored integration (URL, TLS settings, pinned API version, token or client credentials)."""
    options = HttpOptions.for_integration(integration, api_version=pinned_version(integration.settings), timeout=30.0)
    return ShopifyClient(options, provider_for(integration.base_url, credentials, verify=options.verify))


def _gid(kind: str, external_id: str) -> str:
    return external_id if external_id.startswith("gid://") else f"gid://shopify/{kind}/{external_id}"


def _money(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _reason(error: Mapping[str, Any]) -> str:
    field = ".".join(str(f) for f in error.get("field") or [])
    return f"{error.get('code') or 'INVALID'}: {error.get('message')}" + (f" (field {field})" if field else "")


def product_input(values: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """``ProductSetInput`` fields for the canonical product ``names``."""
    out: dict[str, Any] = {}
    for name in names:
        if name == "title":
            out["title"] = values["title"]
        elif name == "description":
            out["descriptionHtml"] = values.get("description") or ""
        elif name == "status":
            out["status"] = _STATUS.get(values["status"], "DRAFT")
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


def create_input(create: ProductCreate, variant_ids: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The whole ``ProductSetInput`` of a hub product: fields, options and variants (with ``id`` where adopted)."""
    body = product_input(create.values, ("title", "description", "status"))
    if create.handle:
        body["handle"] = create.handle
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
    return body


class _Writer:
    """One plan's writes against one shop, collecting links and rejections."""

    def __init__(self, client: ShopifyClient, plan: ExportPlan, on_links: LinksCallback) -> None:
        self.client = client
        self.plan = plan
        self.on_links = on_links
        self.out = WriteOutcome()
        self.integration = _IntegrationRef(plan)
        self.currency: str | None = None

    def run(self) -> WriteOutcome:
        shop = self.client.shop_and_scopes()
        if WRITE_SCOPE not in shop.get("scopes", ()):
            raise ShopifyWriteError(
                f"the Shopify app of integration {self.plan.integration_id} lacks the {WRITE_SCOPE} scope: add it "
                "to the app's access scopes, reinstall or re-approve the app, then push again"
            )
        self.currency = shop.get("currency")
        existing = self.lookup_skus([v.sku for c in self.plan.creates for v in c.variants if v.sku])
        owned = {ids[1] for ids in existing.values()}
        handles = self.lookup_handles(
            [c.handle for c in self.plan.creates if c.handle and not any(v.sku in existing for v in c.variants)]
        )
        for c in self.plan.creates:
            taken = handles.get(c.handle or "")
            if taken is not None and taken not in owned and not self.plan.resume:
                self.out.reject(
                    "product",
                    self._key(c),
                    f"the Shopify shop already has a product with handle {c.handle!r} ({taken}) that carries none of "
                    "this product's SKUs: it is not overwritten; give one of them another handle, or the same SKUs to "
                    "link them",
                    {"handle": c.handle},
                )
                continue
            self._create(c, existing)
        for u in [*self.plan.updates, *self.plan.deletes]:
            if u.entity == "product":
                self._update_product(u)
        by_parent: dict[str, list[FieldUpdate]] = {}
        for u in self.plan.updates:
            if u.entity == "variant":
                by_parent.setdefault(str(u.parent_external_id), []).append(u)
        for parent, group in sorted(by_parent.items()):
            self._update_variants(parent, group)
        added: dict[str, list[Any]] = {}
        for vc in self.plan.variant_creates:
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
        """Handle -> product gid of the shop's products with one of ``handles``."""
        found: dict[str, str] = {}
        unique = sorted(set(handles))
        for start in range(0, len(unique), SKU_LOOKUP_CHUNK):
            chunk = unique[start : start + SKU_LOOKUP_CHUNK]
            search = " OR ".join('handle:"{}"'.format(h.replace('"', '\\"')) for h in chunk)
            data = self.client.execute(
                q.PRODUCTS_BY_HANDLE_QUERY, {"first": 250, "query": search}, key="ProductsByHandle"
            )
            for node in (data.get("products") or {}).get("nodes") or []:
                if node.get("handle") in chunk:
                    found[str(node["handle"])] = str(node["id"])
        return found

    # -- creates --------------------------------------------------------------------------------------------------

    def _key(self, c: ProductCreate) -> str:
        return c.variants[0].sku if len(c.variants) == 1 and c.variants[0].sku else (c.handle or f"hub#{c.hub_id}")

    def _create(self, c: ProductCreate, existing: Mapping[str, tuple[str, str]]) -> None:
        owners = {existing[v.sku][1] for v in c.variants if v.sku and v.sku in existing}
        if len(owners) > 1:
            self.out.reject(
                "product",
                self._key(c),
                f"the SKUs of this hub product belong to {len(owners)} different Shopify products "
                f"({', '.join(sorted(owners))}): merge or rename them in one place, then push again",
                {"handle": c.handle},
            )
            return
        if owners:  # ours from a push killed before its links (or the merchant's): adopt it, never duplicate it
            identifier: dict[str, Any] = {"id": next(iter(owners))}
            body = create_input(c, {sku: ids[0] for sku, ids in existing.items()})
            body.pop("handle", None)
            self.plan.adopt("product", c.hub_id)  # lineage: linked, not created (sync/lineage.py)
            for v in c.variants:
                if v.sku and v.sku in existing:
                    self.plan.adopt("variant", v.hub_id)
        else:
            body = create_input(c)
            identifier = {"handle": c.handle} if c.handle else {}
        product, errors = self._product_set(identifier or None, body)
        if errors or product is None:
            self.out.reject("product", self._key(c), "; ".join(_reason(e) for e in errors) or "no product", body)
            return
        canonical = self._canonical(product)
        by_sku = {v.sku: v for v in canonical.variants if v.sku}
        rows = [self._product_row(canonical, c.hub_id, None, ())]
        for position, v in enumerate(c.variants):
            shop_variant = by_sku.get(v.sku or "") or (
                canonical.variants[position] if position < len(canonical.variants) else None
            )
            if shop_variant is not None:
                rows.append(self._variant_row(shop_variant, v.hub_id, canonical.external_id, None, ()))
        self.on_links(rows)
        if owners:
            self.out.updated += 1
        else:
            self.out.created += 1

    # -- updates --------------------------------------------------------------------------------------------------

    def _update_product(self, u: FieldUpdate) -> None:
        body = product_input(u.values, u.changes)
        product, errors = self._product_set({"id": _gid("Product", u.external_id)}, body)
        if errors or product is None:
            self.out.reject("product", u.external_id, "; ".join(_reason(e) for e in errors) or "no product", body)
            return
        canonical = self._canonical(product)
        self.on_links([self._product_row(canonical, u.hub_id, u.base, u.changes)])
        self.out.updated += 1

    def _update_variants(self, parent: str, group: list[FieldUpdate]) -> None:
        sendable = [(u, variant_input(u.values, u.changes)) for u in group]
        sendable = [(u, body) for u, body in sendable if body]
        if not sendable:
            return
        variables = {
            "productId": _gid("Product", parent),
            "variants": [{"id": _gid("ProductVariant", u.external_id), **body} for u, body in sendable],
        }
        data = self.client.execute(
            q.VARIANTS_BULK_UPDATE_MUTATION, variables, key="VariantsBulkUpdate", estimate=MUTATION_ESTIMATE
        )
        answer = data.get("productVariantsBulkUpdate") or {}
        refused: dict[int, list[Mapping[str, Any]]] = {}
        general: list[Mapping[str, Any]] = []
        for error in answer.get("userErrors") or []:
            path = error.get("field") or []
            if len(path) >= 2 and path[0] == "variants" and str(path[1]).isdigit():
                refused.setdefault(int(path[1]), []).append(error)
            else:
                general.append(error)
        written = {str(gid_tail(v.get("id"))): v for v in answer.get("productVariants") or [] if v.get("id")}
        rows: list[dict[str, Any]] = []
        product_node = answer.get("product")
        first = group[0]
        if product_node and first.product_hub_id is not None and written:
            canonical = self._canonical({**product_node, "variants": {"nodes": []}})
            rows.append(self._product_row(canonical, first.product_hub_id, first.product_base, ()))
        for i, (u, body) in enumerate(sendable):
            node = written.get(u.external_id)
            errors = refused.get(i) or ([] if node is not None else general)
            if errors or node is None:
                reason = "; ".join(_reason(e) for e in errors) or "the answer has no variant for this request"
                self.out.reject("variant", str(u.values.get("sku") or u.external_id), reason, body)
                continue
            canonical = self._canonical(
                {**(product_node or {"id": _gid("Product", parent)}), "variants": {"nodes": [node]}}
            )
            rows.append(self._variant_row(canonical.variants[0], u.hub_id, parent, u.base, u.changes))
            self.out.updated += 1
        if rows:
            self.on_links(rows)

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
        data = self.client.execute(
            q.VARIANTS_BULK_CREATE_MUTATION, variables, key="VariantsBulkCreate", estimate=MUTATION_ESTIMATE
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
        canonical = self._canonical({**product_node, "variants": {"nodes": nodes}})
        rows = [self._product_row(canonical, creates[0].product_hub_id, None, ())]
        by_sku = {v.sku: v for v in canonical.variants if v.sku}
        for i, vc in enumerate(creates):
            shop_variant = by_sku.get(vc.variant.sku or "") or canonical.variants[i]
            rows.append(self._variant_row(shop_variant, vc.variant.hub_id, parent, None, ()))
            self.out.created += 1
        self.on_links(rows)

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
            canonical = self._canonical({**product_node, "variants": {"nodes": []}})
            rows.append(self._product_row(canonical, group[0].product_hub_id, None, ()))
        self.on_links(rows)
        self.out.deleted += len(group)

    # -- helpers --------------------------------------------------------------------------------------------------

    def _product_set(
        self, identifier: Mapping[str, Any] | None, body: Mapping[str, Any]
    ) -> tuple[Mapping[str, Any] | None, list[Mapping[str, Any]]]:
        variables: dict[str, Any] = {"input": dict(body)}
        if identifier:
            variables["identifier"] = dict(identifier)
        data = self.client.execute(q.PRODUCT_SET_MUTATION, variables, key="ProductSet", estimate=MUTATION_ESTIMATE)
        answer = data.get("productSet") or {}
        return answer.get("product"), list(answer.get("userErrors") or [])

    def _canonical(self, product: Mapping[str, Any]) -> CanonicalProduct:
        return product_to_canonical({"product": product, "currency": self.currency})

    def _product_row(
        self, canonical: CanonicalProduct, hub_id: int, old: Mapping[str, Any] | None, pushed: Iterable[str]
    ) -> dict[str, Any]:
        snap, digest = base_after(old, product_snapshot(canonical), pushed)
        row = link_row(
            self.integration,
            entity="product",
            external_id=canonical.external_id,
            hub_id=hub_id,
            snapshot=snap,
            digest=digest,
            updated_at=canonical.updated_at if digest else None,
            now=utcnow(),
        )
        row["external_gid"] = canonical.external_gid
        return row

    def _variant_row(
        self, variant: Any, hub_id: int, parent: str, old: Mapping[str, Any] | None, pushed: Iterable[str]
    ) -> dict[str, Any]:
        snap, digest = base_after(old, variant_snapshot(variant), pushed)
        row = link_row(
            self.integration,
            entity="variant",
            external_id=variant.external_id,
            hub_id=hub_id,
            snapshot=snap,
            digest=digest,
            updated_at=variant.updated_at if digest else None,
            sku=snap.get("sku"),
            parent=parent,
            now=utcnow(),
        )
        row["external_gid"] = variant.external_gid
        return row


class _IntegrationRef:
    """The two integration attributes ``link_row`` reads."""

    def __init__(self, plan: ExportPlan) -> None:
        self.id = plan.integration_id
        self.tenant_id = plan.tenant_id


def apply_plan(client: ShopifyClient, plan: ExportPlan, on_links: LinksCallback) -> WriteOutcome:
    """Apply ``plan`` to the shop behind ``client``; links are handed to ``on_links`` as each mutation answers."""
    return _Writer(client, plan, on_links).run()


__all__ = ["ShopifyWriteError", "VariantValues", "apply_plan", "create_input", "make_client"]
