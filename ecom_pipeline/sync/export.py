"""Export (push): what the hub has that a shop does not, as a plan, then applied by the platform's writer.

Planning is pure (``plan_export``): for one integration whose direction pushes, the hub's products and variants
(within the shop's listing rule, its price rule applied) are compared with each link's ``base_snapshot``, the
values hub and shop last agreed on. It yields

- **creates**: hub products with no link for this shop (with their variants), and hub variants with no link
  under a product the shop already has;
- **field updates**: only the fields whose hub value differs from the base and whose merge decision sends the
  hub value to the shop (``merge.merge_field`` with the shop side at its base: the hub is the only side known to
  have changed; a field with a held conflict is not pushed), among the fields the platform takes (its writer's
  ``PUSH_FIELDS``: Shopify has no separate sale price, PrestaShop no compare-at; planning a field the shop cannot
  hold would give a perpetual "update" row that the writer skips);
- **deletes**: a hub product deleted (``deleted_at``) becomes a draft in the shop (never deleted outright);
- **variant deletes**: a hub variant deleted under a live product the shop has is removed from the shop (the
  variant-set merge, ``membership.merge_member``, with the shop at its base: removed in the hub, unchanged in
  the shop). The shop's only variant is never deleted (every platform needs one), nor one with a held
  ``variants`` conflict.

Values are compared as the shop can hold them: WooCommerce has no "archived", so a hub ``archived`` product is a
``draft`` there, and comparing ``archived`` with a base of ``draft`` would push the same value on every run. A
plan with nothing in it means the push makes no write call.

``run_push`` loads, plans, and (unless ``dry_run``) hands the plan to the platform's writer, records each link's
new base (what was pushed, as the shop answered it: the pull that brings our own write back finds the same
snapshot and changes nothing), rejected items (stage ``export``, retried on the next run since their links are
not written) and a ``sync_runs`` row (direction ``push``, stage ``export``); each link is committed with its
``push_records`` row (what was written, which run, the shop id: ``sync/lineage.py``).
"""

from __future__ import annotations

import html
import importlib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import Engine, select
from sqlalchemy.engine import Connection

from ecom_pipeline.sync.category_paths import SEPARATOR, same_categories
from ecom_pipeline.sync.lineage import PushLineage, cli_run_id
from ecom_pipeline.sync.membership import MemberOutcome, fingerprint, merge_member
from ecom_pipeline.sync.merge import FIELDS, SHOPIFY_PRODUCT_FIELDS, json_value, normalize
from ecom_pipeline.sync.policies import SyncSettings, is_listed
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.schema import (
    entity_links,
    hub_products,
    hub_variants,
    push_records,
    rejected_records,
    sync_conflicts,
    sync_runs,
)

PRODUCT_FIELDS = ("title", "description", "status", *SHOPIFY_PRODUCT_FIELDS)
VARIANT_FIELDS = ("sku", "price", "compare_at_price", "sale_price", "barcode", "weight")
# What a writer without its own ``PUSH_FIELDS`` takes: every field with a policy.
ALL_PUSH_FIELDS: frozenset[str] = frozenset(FIELDS)
# A product's category names: not a merged field (no policy, no conflict), pushed on update only by a writer whose
# ``PUSH_FIELDS`` name it (WooCommerce); a create always carries them (``ProductCreate.categories``).
CATEGORIES = "categories"
# A product's tag names: as categories (no policy; pushed on update only by a writer whose ``PUSH_FIELDS`` name it).
TAGS = "tags"


class ExportError(RuntimeError):
    """A push that cannot run (unknown tenant, integration of another tenant, a platform without a writer)."""


# --- the plan ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VariantValues:
    """One hub variant as the shop should hold it (canonical field names, price rule applied)."""

    hub_id: int
    sku: str | None
    values: Mapping[str, Any]
    options: Mapping[str, str]


@dataclass(frozen=True)
class ProductCreate:
    """A hub product the shop does not have yet, with all its listed live variants."""

    hub_id: int
    handle: str | None
    kind: str  # simple | variable
    values: Mapping[str, Any]
    variants: tuple[VariantValues, ...]
    # The hub product's category names: a writer finds (or creates) the shop's categories of these names on create.
    categories: tuple[str, ...] = ()
    # The hub product's tag names (a writer whose ``PUSH_FIELDS`` name ``tags`` finds or creates them on create).
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class VariantCreate:
    """A hub variant missing under a product the shop already has."""

    product_hub_id: int
    product_external_id: str
    variant: VariantValues
    # The product's link base: the create moves the product's modification time, so its base is refreshed too,
    # with the fields the answer does not carry (Shopify: the collections) taken from here.
    product_base: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class VariantDelete:
    """A hub variant deleted under a product the shop has: removed from the shop, then its link tombstoned."""

    product_hub_id: int
    product_external_id: str
    hub_id: int
    external_id: str
    sku: str | None
    base: Mapping[str, Any]
    product_base: Mapping[str, Any]


@dataclass(frozen=True)
class FieldUpdate:
    """Changed fields of one linked record: ``changes`` field -> (base value, hub value to push)."""

    entity: str  # product | variant
    hub_id: int
    external_id: str
    parent_external_id: str | None
    changes: Mapping[str, tuple[Any, Any]]
    values: Mapping[str, Any]  # every pushable field as the hub has it (price pairs need both prices)
    base: Mapping[str, Any]
    # A variant's product (hub id and its link's base): a variant write moves the product's modification time in
    # the shop, so the product's base is refreshed too (else the echo of our write would rewrite the hub product).
    product_hub_id: int | None = None
    product_base: Mapping[str, Any] | None = None
    # A product's linked variants (external id -> (hub id, its link's base)): a product write moves its variants'
    # modification time where they have none of their own (PrestaShop combinations), so their bases are refreshed too.
    variant_bases: Mapping[str, tuple[int, Mapping[str, Any]]] = field(default_factory=dict)

    @property
    def is_simple_variant(self) -> bool:
        """A simple product's variant: its link's external id is the product's own id (one WooCommerce record)."""
        return self.entity == "variant" and self.external_id == self.parent_external_id


@dataclass
class ExportPlan:
    """What one push would do to one shop."""

    integration_id: int
    platform: str
    tenant_id: str = ""
    creates: list[ProductCreate] = field(default_factory=list)
    variant_creates: list[VariantCreate] = field(default_factory=list)
    updates: list[FieldUpdate] = field(default_factory=list)
    deletes: list[FieldUpdate] = field(default_factory=list)
    variant_deletes: list[VariantDelete] = field(default_factory=list)
    unchanged: int = 0
    # An earlier push to this shop never finished (its sync_runs row is still ``running``: the process died) or
    # failed part-way, so records it created may have no link: the writer also looks up what it cannot find by SKU
    # (variable parents, by slug).
    resume: bool = False
    # Hub product id -> the marker a writer left in an open export rejection (``CREATE_UNCERTAIN`` in its payload)
    # when a create of that product (or of a combination under it) got no answer and was not sent again: the shop may
    # have saved it late. The writer then looks it up as on a resume, for that product only (``uncertain_creates``).
    uncertain_creates: dict[int, dict[str, Any]] = field(default_factory=dict)
    # (entity, hub id) of planned creates the writer linked to a record the shop already had (found by SKU or slug)
    # instead of creating it: their lineage says ``adopted`` (sync/lineage.py). Writers mark them with ``adopt``.
    adopted: set[tuple[str, int]] = field(default_factory=set)
    # Shop product id -> hub product id of the integration's live product links: a create whose key (Shopify's
    # handle) is already another hub product's record is told apart from a merchant's product by it.
    linked_products: dict[str, int] = field(default_factory=dict)
    # Shop variant id -> hub variant id of the integration's live variant links (PrestaShop:
    # ``<product>-<combination>``): a record linked to another hub variant is never taken for a lost create's late one.
    linked_variants: dict[str, int] = field(default_factory=dict)
    # Hub product id (of a planned create) -> the shop product ids this integration's pushes created or adopted for
    # it, by their lineage (``push_records``, :func:`pushed_products`): a record found by a create's key that carries
    # no other proof of being ours (a Shopify product made before our mark existed) is ours when it is one of them.
    pushed_products: dict[int, frozenset[str]] = field(default_factory=dict)
    # Every handle the tenant's hub products have: a generated handle (Shopify) steps past them, so it depends on
    # the hub alone, not on which products happen to be creates in this plan (a rerun after a kill, once another
    # product got linked meanwhile, must try the same handle).
    hub_handles: frozenset[str] = frozenset()

    def adopt(self, entity: str, hub_id: int) -> None:
        """Say that this planned create was linked to an existing shop record (before handing its link over)."""
        self.adopted.add((entity, int(hub_id)))

    @property
    def is_empty(self) -> bool:
        return not (self.creates or self.variant_creates or self.updates or self.deletes or self.variant_deletes)

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(action, entity, key, detail) rows for the CLI and run metadata."""
        out: list[tuple[str, str, str, str]] = []
        for c in self.creates:
            skus = ", ".join(v.sku or f"#{v.hub_id}" for v in c.variants)
            out.append(("create", "product", c.handle or f"#{c.hub_id}", f"{c.kind}: {skus}"))
        for vc in self.variant_creates:
            out.append(
                ("create", "variant", vc.variant.sku or f"#{vc.variant.hub_id}", f"under {vc.product_external_id}")
            )
        for u in self.updates:
            detail = "; ".join(f"{k}: {_show(b)} -> {_show(h)}" for k, (b, h) in sorted(u.changes.items()))
            out.append(("update", u.entity, u.external_id, detail))
        for d in self.deletes:
            out.append(("delete", d.entity, d.external_id, "set to draft (hub product deleted)"))
        for vd in self.variant_deletes:
            out.append(("delete", "variant", vd.sku or vd.external_id, f"removed from {vd.product_external_id}"))
        return out


def _show(value: Any) -> str:
    text = "" if value is None else str(json_value(value))
    return text if len(text) <= 40 else text[:37] + "..."


# --- hub values as the shop should hold them -------------------------------------------------------------------

# WooCommerce has no archived state: the hub's archived and deleted products are drafts there.
_SHOP_STATUS = {"active": "active", "draft": "draft", "archived": "draft"}


def product_values(row: Any) -> dict[str, Any]:
    """A hub product's pushable fields; a deleted product is a draft in the shop."""
    status = "draft" if row.deleted_at is not None else _SHOP_STATUS.get(row.status, "draft")
    return {
        "title": row.title,
        "description": row.description,
        "status": status,
        # getattr: rows read before migration 0014 (and test rows) may lack Shopify's own columns.
        **{name: getattr(row, name, None) for name in SHOPIFY_PRODUCT_FIELDS},
    }


def variant_values(row: Any, settings: SyncSettings) -> dict[str, Any]:
    """A hub variant's pushable fields with the shop's price rule applied (a fixed price drops the compare-at and
    the sale price).

    ``sale_price`` is the reduced price a shop keeps apart from the regular one (WooCommerce): while a sale is in
    force (a compare-at above the price) it *is* the price, whatever the column holds, so a price edit moves it
    too and the shop never gets a sale price that disagrees with the price; otherwise it is the column (a sale
    not in force yet, e.g. a WooCommerce scheduled sale, or none).
    """
    price: Decimal | None = row.price
    compare: Decimal | None = row.compare_at_price
    sale: Decimal | None = row.sale_price
    rule = settings.price_rule
    if rule is not None:
        price = rule.apply(price)
        compare = None if rule.fixed is not None else rule.apply(compare)
        sale = None if rule.fixed is not None else rule.apply(sale)
    if compare is not None and price is not None and compare <= price:
        compare = None  # a shop shows a compare-at only above the price: keep the base comparable
    if compare is not None:
        sale = price
    return {
        "sku": row.sku,
        "price": price,
        "compare_at_price": compare,
        "sale_price": sale,
        "barcode": row.barcode or None,
        "weight": row.weight,
    }


def push_fields_for(platform: str, settings: Mapping[str, Any] | None = None) -> frozenset[str]:
    """The fields the platform's writer takes (its ``PUSH_FIELDS``; every field when it does not say). A writer
    whose fields depend on the integration's settings (Shopify's opt-in collections) says so with
    ``push_fields(settings)``; without ``settings`` it answers for the defaults."""
    from ecom_pipeline.platforms.registry import get_platform

    path = get_platform(platform).writer
    if path is None:
        return ALL_PUSH_FIELDS
    module = importlib.import_module(path)
    if callable(getattr(module, "push_fields", None)):
        return frozenset(module.push_fields(settings))
    return frozenset(getattr(module, "PUSH_FIELDS", ALL_PUSH_FIELDS))


def _category_names(categories: Any) -> tuple[str, ...]:
    """The hub's category names (a JSON list); anything else holds none."""
    if not isinstance(categories, list | tuple):
        return ()
    return tuple(str(c).strip() for c in categories if str(c).strip())


# How a nested category is written in the hub: ``Parent > Child`` (``sync.category_paths.SEPARATOR``); a ``>`` that
# is part of a category's own name is escaped, ``\>``: split hub paths with ``sync.category_paths.split_path``.
CATEGORY_PATH_SEPARATOR = SEPARATOR


def _tag_key(names: Iterable[Any]) -> tuple[str, ...]:
    """Tag names as a shop gives them back: HTML escapes undone, spaces collapsed, case folded, as a sorted set
    (WordPress stores ``Mugs & Cups`` as ``Mugs &amp; Cups`` and answers in its own order; a ``>`` is part of a
    tag's name)."""
    return tuple(sorted({" ".join(html.unescape(str(n or "")).split()).casefold() for n in names} - {""}))


def _same_tags(a: Sequence[Any], b: Sequence[Any]) -> bool:
    return _tag_key(a) == _tag_key(b)


def _category_change(base: Mapping[str, Any], product: Any) -> tuple[Any, Any] | None:
    """(base names, hub names) when the hub's categories of a linked product differ from the link's base.

    Compared as full paths (``sync.category_paths.same_categories``, the rule resolve's merge uses too): a hub
    move ``A > Mugs`` -> ``B > Mugs`` is a change, while a base that names the leaf only (``Mugs``: a link
    written before the pull read paths) agrees with any path of it, so an upgrade pushes nothing. The shop is
    taken at its base, as for the merged fields: a shop edit comes to the hub with the pull (which moves the base
    too) before a push would send the hub's back. An empty hub list changes nothing: a hub product first read
    from a shop without categories (Shopify) must not strip a linked WooCommerce product of its own.
    """
    return _names_change(base, CATEGORIES, _category_names(product.categories), same_categories)


def _tag_change(base: Mapping[str, Any], product: Any) -> tuple[Any, Any] | None:
    """(base names, hub names) when the hub's tags of a linked product differ from the link's base (a set of
    names; as categories, an empty hub list changes nothing)."""
    return _names_change(base, TAGS, _category_names(product.tags), _same_tags)


def _names_change(
    base: Mapping[str, Any],
    field: str,
    hub: tuple[str, ...],
    same: Callable[[Sequence[Any], Sequence[Any]], bool],
) -> tuple[Any, Any] | None:
    if not hub:
        return None
    shop = base.get(field) or []
    shop_names = tuple(str(n) for n in shop) if isinstance(shop, list | tuple) else ()
    if same(hub, shop_names):
        return None
    return list(shop_names), list(hub)


def _kind(product: Any, variants: Sequence[Any]) -> str:
    if product.product_type in ("simple", "variable"):
        return str(product.product_type)
    return "variable" if len(variants) > 1 or any(v.options for v in variants) else "simple"


def _changes(
    fields: Iterable[str],
    base: Mapping[str, Any],
    hub: Mapping[str, Any],
    settings: SyncSettings,
    held: set[str],
) -> dict[str, tuple[Any, Any]]:
    """The fields the merge sends to the shop: hub changed, shop at its base, direction pushing, none held.

    This is ``merge_field(name, base=b, hub=h, shop=b, ...)``'s ``PUSH_HUB`` decided directly: with the shop at
    its base the shop side never changed, so a field is pushed exactly when its normalized hub value differs from
    its normalized base and the direction pushes (no conflict, so the policy plays no part). Calling the merge for
    each of the catalogue's fields built a decision per field (3 normalizations, 2 enum conversions, a dataclass)
    for every push, a no-change one included: 21,000 calls for 1,000 products of 3 variants.
    ``test_export_changes_match_the_merge`` checks the two agree."""
    out: dict[str, tuple[Any, Any]] = {}
    if not settings.direction.pushes:
        return out
    for name in fields:
        if name in held:
            continue
        b = normalize(name, base.get(name))
        h = normalize(name, hub.get(name))
        if h != b:
            out[name] = (b, h)
    return out


def plan_export(
    *,
    integration_id: int,
    platform: str,
    settings: SyncSettings,
    tenant_id: str = "",
    products: Sequence[Any],
    variants: Sequence[Any],
    product_links: Mapping[int, Any],
    variant_links: Mapping[int, Any],
    held: Mapping[tuple[str, int], set[str]] | None = None,
    push_fields: Collection[str] = ALL_PUSH_FIELDS,
    live_links: Iterable[Any] | None = None,
) -> ExportPlan:
    """The plan for one shop (pure: rows in, plan out). ``*_links`` map hub ids to this shop's live links (one per
    hub id: the one pushed to); ``live_links``: every live link row (``entity``, ``external_id``, ``hub_id``), of
    which ``plan.linked_products`` / ``plan.linked_variants`` are made (default: those of ``*_links``).

    ``push_fields`` are the fields the platform takes (its writer's ``PUSH_FIELDS``): a field outside them is never
    an update, whatever the hub holds, since the shop cannot hold it and the difference would never close.
    """
    plan = ExportPlan(integration_id=integration_id, platform=platform, tenant_id=tenant_id)
    if not settings.direction.pushes:
        return plan
    held = held or {}
    # Every live link, not one per hub id: a hub variant with two live links (a repeated SKU in the shop) had only
    # its oldest here, and a writer could take the other, linked record for a lost create's late one (review 1).
    plan.linked_products = {str(link.external_id): int(hub_id) for hub_id, link in product_links.items()}
    plan.linked_variants = {str(link.external_id): int(hub_id) for hub_id, link in variant_links.items()}
    for link in live_links or ():
        linked = plan.linked_products if link.entity == "product" else plan.linked_variants
        linked.setdefault(str(link.external_id), int(link.hub_id))
    plan.hub_handles = frozenset(str(p.handle) for p in products if getattr(p, "handle", None))
    product_fields = tuple(f for f in PRODUCT_FIELDS if f in push_fields)
    variant_fields = tuple(f for f in VARIANT_FIELDS if f in push_fields)
    by_product: dict[int, list[Any]] = {}
    for v in variants:
        by_product.setdefault(int(v.product_id), []).append(v)
    for p in sorted(products, key=lambda r: int(r.id)):
        kids = sorted(by_product.get(int(p.id), []), key=lambda r: (r.position is None, r.position or 0, int(r.id)))
        live = [v for v in kids if v.deleted_at is None]
        product_dict = {"handle": p.handle, "tags": p.tags, "categories": p.categories, "product_type": p.product_type,
                        **{name: getattr(p, name, None) for name in SHOPIFY_PRODUCT_FIELDS}}  # fmt: skip
        if not is_listed(settings, product_dict, [v.sku for v in live]):
            continue
        link = product_links.get(int(p.id))
        # Shopify's own fields travel only to a platform that takes them (a create's values are what it sends).
        values = {k: v for k, v in product_values(p).items() if k not in SHOPIFY_PRODUCT_FIELDS or k in push_fields}
        if link is None:
            if p.deleted_at is not None or not live:
                continue  # nothing to create: deleted in the hub, or no variant to sell
            plan.creates.append(
                ProductCreate(
                    hub_id=int(p.id),
                    handle=p.handle,
                    kind=_kind(p, live),
                    values=values,
                    variants=tuple(
                        VariantValues(int(v.id), v.sku, variant_values(v, settings), dict(v.options or {}))
                        for v in live
                    ),
                    categories=_category_names(p.categories),
                    tags=_category_names(p.tags),
                )
            )
            continue
        base = dict(link.base_snapshot or {})
        changes = _changes(product_fields, base, values, settings, held.get(("product", int(p.id)), set()))
        if CATEGORIES in push_fields and p.deleted_at is None:
            category_change = _category_change(base, p)
            if category_change is not None:
                changes[CATEGORIES] = category_change
        if TAGS in push_fields and p.deleted_at is None:
            tag_change = _tag_change(base, p)
            if tag_change is not None:
                changes[TAGS] = tag_change
        if changes:
            variant_bases = {
                str(vl.external_id): (int(v.id), dict(vl.base_snapshot or {}))
                for v in live
                if (vl := variant_links.get(int(v.id))) is not None
            }
            update = FieldUpdate(
                "product", int(p.id), str(link.external_id), None, changes, values, base, variant_bases=variant_bases
            )
            if p.deleted_at is not None and set(changes) == {"status"}:
                plan.deletes.append(update)
            else:
                plan.updates.append(update)
        else:
            plan.unchanged += 1
        if p.deleted_at is not None:
            continue  # a deleted product's variants are not pushed (the product is a draft now)
        _plan_variant_deletes(plan, p, kids, live, link, variant_links, settings, held)
        for v in live:
            vvalues = variant_values(v, settings)
            vlink = variant_links.get(int(v.id))
            if vlink is None:
                if "variants" in held.get(("variant", int(v.id)), set()):
                    continue  # removed in the shop, edited in the hub, held: not put back until decided
                plan.variant_creates.append(
                    VariantCreate(
                        int(p.id),
                        str(link.external_id),
                        VariantValues(int(v.id), v.sku, vvalues, dict(v.options or {})),
                        product_base=base,
                    )
                )
                continue
            if "variants" in held.get(("variant", int(v.id)), set()):
                continue  # removed in the shop while edited in the hub, held: nothing sent until decided
            vbase = dict(vlink.base_snapshot or {})
            vchanges = _changes(variant_fields, vbase, vvalues, settings, held.get(("variant", int(v.id)), set()))
            if vchanges:
                plan.updates.append(
                    FieldUpdate(
                        "variant",
                        int(v.id),
                        str(vlink.external_id),
                        vlink.external_parent_id,
                        vchanges,
                        vvalues,
                        vbase,
                        product_hub_id=int(p.id),
                        product_base=base,
                    )
                )
            else:
                plan.unchanged += 1
    return plan


def _plan_variant_deletes(
    plan: ExportPlan,
    product: Any,
    kids: Sequence[Any],
    live: Sequence[Any],
    link: Any,
    variant_links: Mapping[int, Any],
    settings: SyncSettings,
    held: Mapping[tuple[str, int], set[str]],
) -> None:
    """Hub variants deleted under ``product`` that the shop still has (a live link): removed from the shop.

    The set merge decides with the shop at its base (the hub is the only side known to have changed); a pull-only
    direction keeps them, a held ``variants`` conflict holds them. A product whose every hub variant is deleted
    keeps its shop variants (no platform sells a product without one: archive the product instead), and so does a
    simple WooCommerce product, whose variant is the product itself.
    """
    if not live:
        return
    base = dict(link.base_snapshot or {})
    for v in kids:
        vlink = variant_links.get(int(v.id))
        if v.deleted_at is None or vlink is None or vlink.external_id == link.external_id:
            continue
        if "variants" in held.get(("variant", int(v.id)), set()):
            continue
        vbase = dict(vlink.base_snapshot or {})
        agreed = fingerprint(vbase)
        decision = merge_member(
            int(v.id),
            base=agreed,
            hub=None,
            shop=agreed,
            in_base=True,
            in_hub=False,
            in_shop=True,
            policy=settings.policies["variants"],
            direction=settings.direction,
        )
        if decision.outcome is MemberOutcome.REMOVED_HUB and decision.remove_shop:
            plan.variant_deletes.append(
                VariantDelete(
                    int(product.id),
                    str(link.external_id),
                    int(v.id),
                    str(vlink.external_id),
                    vlink.sku or v.sku,
                    vbase,
                    base,
                )
            )


def record_export_rejections(
    conn: Connection,
    *,
    tenant_id: str,
    shop: Any,
    run_id: str | None,
    refused: Sequence[Any],
    close_unseen: bool = True,
) -> None:
    """Make the shop's open export rejections exactly what this push saw refused.

    A push retries every refused item still planned, so an open refusal it did not see again is closed; one refused
    again for the same reason keeps its row (its ``dagster_run_id`` and payload become this run's, ``created_at``
    stays the first refusal's); a new refusal, or a new reason, gets a row. Recording every refusal anew on every
    push (each sync and each webhook apply pushes) grew ``rejected_records`` by one row per refused item per run,
    for ever, burying the distinct problems a person has to look at; ``push_records`` keeps each attempt.

    ``close_unseen`` False (a push that failed part-way): the refusals it saw are recorded, none is closed, since
    the items it never reached were not retried (an open marker of a create that got no answer among them).
    """
    open_rows = conn.execute(
        select(
            rejected_records.c.id, rejected_records.c.entity, rejected_records.c.external_id, rejected_records.c.reason
        )
        .where(
            rejected_records.c.integration_id == int(shop.id),
            rejected_records.c.stage == "export",
            rejected_records.c.resolved_at.is_(None),
        )
        .order_by(rejected_records.c.id)
    ).all()
    still_open: dict[tuple[str, str | None, str], int] = {}
    for row in open_rows:
        still_open.setdefault((str(row.entity), row.external_id, str(row.reason)), int(row.id))
    kept: set[int] = set()
    new_rows: list[dict[str, Any]] = []
    for r in refused:
        row_id = still_open.get((r.entity, r.key, r.reason))
        if row_id is not None and row_id not in kept:
            kept.add(row_id)
            conn.execute(
                rejected_records.update()
                .where(rejected_records.c.id == row_id)
                .values(dagster_run_id=run_id, payload=json_value(r.payload))
            )
            continue
        new_rows.append(
            {
                "tenant_id": tenant_id,
                "integration_id": int(shop.id),
                "platform": shop.platform,
                "entity": r.entity,
                "external_id": r.key,
                "stage": "export",
                "reason": r.reason,
                "payload": json_value(r.payload),
                "staging_id": None,
                "dagster_run_id": run_id,
            }
        )
    if close_unseen:
        store.close_rejections(conn, (int(row.id) for row in open_rows if int(row.id) not in kept))
    store.reject_records(conn, new_rows)


def load_plan(conn: Connection, integration: Any) -> ExportPlan:
    """Read the tenant's hub catalogue and this shop's links, and plan (see ``plan_export``)."""
    settings = SyncSettings.from_settings(integration.settings)
    tenant = integration.tenant_id
    products = conn.execute(select(hub_products).where(hub_products.c.tenant_id == tenant)).all()
    variants = conn.execute(select(hub_variants).where(hub_variants.c.tenant_id == tenant)).all()
    links = conn.execute(
        select(entity_links)
        .where(
            entity_links.c.integration_id == integration.id,
            entity_links.c.entity.in_(("product", "variant")),
            entity_links.c.deleted_at.is_(None),
        )
        .order_by(entity_links.c.id)
    ).all()
    # A shop with a repeated SKU can have two live links to one hub variant: the oldest link is the one pushed to
    # and compared with, on every run (without the order, PostgreSQL's heap order chose, and it moves on UPDATE).
    product_links: dict[int, Any] = {}
    variant_links: dict[int, Any] = {}
    for r in links:
        (product_links if r.entity == "product" else variant_links).setdefault(int(r.hub_id), r)
    held: dict[tuple[str, int], set[str]] = {}
    rows = conn.execute(
        select(sync_conflicts.c.entity, sync_conflicts.c.hub_id, sync_conflicts.c.field).where(
            sync_conflicts.c.integration_id == integration.id,
            sync_conflicts.c.resolution == "held",
            sync_conflicts.c.applied_at.is_(None),
        )
    )
    for entity, hub_id, name in rows:
        held.setdefault((str(entity), int(hub_id)), set()).add(str(name))
    return plan_export(
        integration_id=int(integration.id),
        platform=integration.platform,
        tenant_id=tenant,
        settings=settings,
        products=products,
        variants=variants,
        product_links=product_links,
        variant_links=variant_links,
        held=held,
        push_fields=push_fields_for(integration.platform, integration.settings),
        live_links=links,
    )


# --- applying it -------------------------------------------------------------------------------------------------


@dataclass
class Rejection:
    """One item the shop refused: recorded in ``rejected_records`` (stage export) and retried on the next run."""

    entity: str
    key: str  # the SKU, else the hub handle or id
    reason: str
    payload: Any


@dataclass(frozen=True)
class PushWarning:
    """Something a writer did on its own initiative that the merchant must know: a value written otherwise than the
    hub has it (a title without the characters the shop refuses), or a shop record left as it is (an adopted
    product's own variants). Not a refusal: the item was written (or linked); nothing is retried.

    Shown in the push's CLI output, the export asset's run metadata (``push_warnings``) and, when the record has a
    ``push_records`` row in this push, in that row's ``message``."""

    entity: str  # product | variant | shop (a shop-wide decision, e.g. tags not pushed)
    key: str  # the hub handle or SKU (else ``#<hub id>``) the merchant knows the item by
    message: str  # what was done and why
    hub_id: int | None = None  # the hub record (its push_records row gets the message), None for a shop-wide one

    def line(self) -> str:
        """One line of text: ``product mug-blue: ...``."""
        return f"{self.entity} {self.key}: {self.message}" if self.entity != "shop" else self.message


@dataclass
class WriteOutcome:
    """What a writer did: counts, the items the shop refused, and what it changed or left on its own initiative."""

    created: int = 0
    updated: int = 0
    deleted: int = 0  # variants removed from the shop
    failed: int = 0
    api_calls: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    warnings: list[PushWarning] = field(default_factory=list)

    def reject(self, entity: str, key: str, reason: str, payload: Any) -> None:
        self.failed += 1
        self.rejections.append(Rejection(entity, key, reason, payload))

    def warn(self, entity: str, key: str, message: str, hub_id: int | None = None) -> None:
        """Note a ``PushWarning`` (once: a record written twice in a push is warned about once)."""
        warning = PushWarning(entity, key, message, hub_id)
        if warning not in self.warnings:
            self.warnings.append(warning)


class Writer(Protocol):
    def __call__(
        self, client: Any, plan: ExportPlan, on_links: Callable[[list[dict[str, Any]]], None]
    ) -> WriteOutcome: ...


def writer_for(platform: str) -> tuple[Writer, Callable[[Any, dict[str, Any]], Any]]:
    """The platform's ``apply_plan`` and ``make_client``: the writer its registration names (``writer``)."""
    from ecom_pipeline.platforms.registry import get_platform, platforms

    path = get_platform(platform).writer
    if path is None:
        writable = ", ".join(sorted(name for name, spec in platforms().items() if spec.writer))
        raise ExportError(
            f"pushing to {platform} is not supported yet (only {writable}); set the shop's direction "
            "to pull with `ecom-pipeline integration set --direction pull`"
        )
    module = importlib.import_module(path)
    return module.apply_plan, module.make_client


def preview_warnings(platform: str, plan: ExportPlan) -> list[PushWarning]:
    """What the platform's writer will change on its own initiative, as far as the plan tells (a dry run's
    warnings): its module's ``preview_warnings(plan)``, none for a writer without one."""
    from ecom_pipeline.platforms.registry import get_platform

    path = get_platform(platform).writer
    preview = getattr(importlib.import_module(path), "preview_warnings", None) if path else None
    return list(preview(plan)) if preview is not None else []


@dataclass
class PushReport:
    """One shop's push: its plan and, unless a dry run, what the writer did."""

    integration_id: int
    platform: str
    plan: ExportPlan
    outcome: WriteOutcome | None = None
    sync_run_id: int | None = None
    error: str | None = None
    lineage: PushLineage | None = None  # the push_records this push wrote (None for a dry run)
    # A dry run's warnings: what the writer can tell from the plan alone (``preview_warnings`` of its module).
    preview: list[PushWarning] = field(default_factory=list)

    @property
    def warnings(self) -> list[PushWarning]:
        """What the push changed or left on its own initiative (a dry run: what it would, as far as known)."""
        return self.outcome.warnings if self.outcome is not None else self.preview


def named_warnings(conn: Connection, warnings: list[PushWarning]) -> list[PushWarning]:
    """``warnings`` with those a writer keyed ``hub#N`` (it knows a linked product by its hub id only) keyed by the
    hub product's handle, the name the merchant knows it by."""
    ids = {w.hub_id for w in warnings if w.entity == "product" and w.hub_id is not None and w.key == f"hub#{w.hub_id}"}
    if not ids:
        return warnings
    found = conn.execute(select(hub_products.c.id, hub_products.c.handle).where(hub_products.c.id.in_(sorted(ids))))
    handles = {int(i): h for i, h in found if h}
    return [replace(w, key=handles[w.hub_id]) if w.hub_id in ids and w.hub_id in handles else w for w in warnings]


def record_warnings(conn: Connection, lineage: PushLineage, warnings: Iterable[PushWarning]) -> None:
    """Add each warning to the ``message`` of its record's ``push_records`` row of this push (and of the rows kept
    for run metadata), after the note already there. Called with the push's refusals, after the writer returned:
    a push killed before that keeps its links and lineage, without these notes (its CLI output and run say them).
    A warning about a record with no row in this push (none written) or a shop-wide one stays in the report."""
    for w in warnings:
        if w.hub_id is None or lineage.sync_run_id is None:
            continue
        rows = conn.execute(
            select(push_records.c.id, push_records.c.message).where(
                push_records.c.sync_run_id == lineage.sync_run_id,
                push_records.c.entity == w.entity,
                push_records.c.hub_id == w.hub_id,
            )
        ).all()
        for r in rows:
            message = f"{r.message}; {w.message}" if r.message else w.message
            conn.execute(push_records.update().where(push_records.c.id == r.id).values(message=message))
        for kept in lineage.sample:
            if kept["entity"] == w.entity and kept["hub_id"] == w.hub_id:
                kept["message"] = f"{kept['message']}; {w.message}" if kept["message"] else w.message


def pushing_integrations(conn: Connection, tenant_id: str, integration_id: int | None) -> list[Any]:
    """The tenant's connected shops whose direction pushes (or the one asked for, whatever its direction)."""
    shops = store.list_integrations(conn, tenant_id=tenant_id)
    if integration_id is not None:
        chosen = [s for s in shops if int(s.id) == integration_id]
        if not chosen:
            raise ExportError(f"integration {integration_id} is not a connected shop of tenant {tenant_id!r}")
        return chosen
    return [s for s in shops if SyncSettings.from_settings(s.settings).direction.pushes]


def interrupted_push(conn: Connection, integration_id: int) -> bool:
    """Whether a push to this shop may have left records without links: one was opened and never closed (killed
    between its calls and its links), or the last one failed part-way (an answer lost after its retries)."""
    running = select(sync_runs.c.id).where(
        sync_runs.c.integration_id == integration_id,
        sync_runs.c.stage == "export",
        sync_runs.c.status == "running",
    )
    if conn.execute(running.limit(1)).first() is not None:
        return True
    last = (
        select(sync_runs.c.status)
        .where(sync_runs.c.integration_id == integration_id, sync_runs.c.stage == "export")
        .order_by(sync_runs.c.id.desc())
        .limit(1)
    )
    return conn.execute(last).scalar_one_or_none() == "failed"


# The payload key under which a writer marks a rejection as "a create got no answer and may exist in the shop".
CREATE_UNCERTAIN = "create_uncertain"
# The attribute under which a writer's ``apply_plan`` leaves its partial ``WriteOutcome`` on the exception that
# stopped it: ``run_push`` records the refusals collected before the failure (markers included) all the same.
PARTIAL_OUTCOME = "partial_outcome"


def uncertain_creates(conn: Connection, integration_id: int) -> dict[int, dict[str, Any]]:
    """Hub product id -> the writer's marker of each open export rejection of this shop whose create got no answer
    (payload ``CREATE_UNCERTAIN``: ``{"hub_id": ..., ...}``). Durable: a rejection stays open until a push no longer
    refuses the item, so the next push knows a record of that product may be in the shop without a link."""
    rows = conn.execute(
        select(rejected_records.c.payload)
        .where(
            rejected_records.c.integration_id == integration_id,
            rejected_records.c.stage == "export",
            rejected_records.c.resolved_at.is_(None),
        )
        .order_by(rejected_records.c.id)
    ).scalars()
    found: dict[int, dict[str, Any]] = {}
    for payload in rows:
        marker = payload.get(CREATE_UNCERTAIN) if isinstance(payload, dict) else None
        if isinstance(marker, dict) and str(marker.get("hub_id", "")).isdigit():
            hub = int(marker["hub_id"])
            found[hub] = _merge_variation_marks(found.get(hub), dict(marker))
    return found


def _merge_variation_marks(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """One hub product's marker from two open rows (read in id order, the later one's other keys kept): the
    ``variations`` entries (a WooCommerce writer's SKU-less variation creates) of both, per (parent, hub variant),
    with the lower ``floor`` and every set of options ``sent``, so no row's entry is lost whichever was read last."""
    if old is None or not isinstance(old.get("variations"), list):
        return new
    entries: dict[tuple[str, str], dict[str, Any]] = {}
    later = new.get("variations")
    for e in [*old["variations"], *(later if isinstance(later, list) else [])]:
        if not isinstance(e, dict):
            continue
        key = (str(e.get("parent")), str(e.get("hub_id")))
        seen = entries.get(key)
        if seen is None:
            entries[key] = dict(e)
            continue
        floors = [int(str(f)) for f in (seen.get("floor"), e.get("floor")) if str(f).isdigit()]
        if floors:
            seen["floor"] = min(floors)
        sent = [o for o in seen.get("sent") or [] if isinstance(o, list)]
        sent += [o for o in e.get("sent") or [] if isinstance(o, list) and o not in sent]
        seen["sent"] = sent
    return {**new, "variations": list(entries.values())}


def pushed_products(conn: Connection, integration_id: int, hub_ids: Collection[int]) -> dict[int, frozenset[str]]:
    """Hub product id -> the shop ids its pushes to this shop ``created`` (lineage rows, whatever became of the link
    since), for ``hub_ids`` only (a push's creates; none: no query). Not ``adopted``: an adopted record is a
    merchant's, taken by its SKUs, never ours to take back whole."""
    found: dict[int, set[str]] = {}
    wanted = sorted({int(h) for h in hub_ids})
    for start in range(0, len(wanted), 500):
        rows = conn.execute(
            select(push_records.c.hub_id, push_records.c.external_id).where(
                push_records.c.integration_id == integration_id,
                push_records.c.entity == "product",
                push_records.c.outcome == "created",
                push_records.c.external_id.is_not(None),
                push_records.c.hub_id.in_(wanted[start : start + 500]),
            )
        )
        for hub_id, external_id in rows:
            found.setdefault(int(hub_id), set()).add(str(external_id))
    return {k: frozenset(v) for k, v in found.items()}


def close_interrupted(conn: Connection, integration_id: int, current: int) -> None:
    """Close earlier push rows a killed process left ``running``: this run has redone (and linked) their work."""
    conn.execute(
        sync_runs.update()
        .where(
            sync_runs.c.integration_id == integration_id,
            sync_runs.c.stage == "export",
            sync_runs.c.status == "running",
            sync_runs.c.id != current,
        )
        .values(status="failed", error="interrupted: the process ended before the push finished; a later push redid it")
    )


@dataclass(frozen=True)
class IntegrationRef:
    """The two integration attributes ``link_row`` reads, from a plan: what every writer links its records under."""

    id: int
    tenant_id: str

    @classmethod
    def of(cls, plan: ExportPlan) -> IntegrationRef:
        return cls(plan.integration_id, plan.tenant_id)


def link_row(
    integration: Any,
    *,
    entity: str,
    external_id: str,
    hub_id: int,
    snapshot: dict[str, Any] | None,
    digest: str | None,
    updated_at: datetime | None,
    sku: str | None = None,
    parent: str | None = None,
    now: datetime,
    deleted: bool = False,
) -> dict[str, Any]:
    """An ``entity_links`` row as ``store.upsert_links`` takes it (``deleted``: tombstoned, the shop record gone)."""
    return {
        "tenant_id": integration.tenant_id,
        "integration_id": int(integration.id),
        "entity": entity,
        "external_id": str(external_id),
        "external_parent_id": parent,
        "hub_id": hub_id,
        "sku": sku,
        "base_snapshot": snapshot,
        "base_hash": digest,
        "external_updated_at": updated_at,
        "last_synced_at": now,
        "deleted_at": now if deleted else None,
        "external_gid": None,
    }


def deleted_variant_row(integration: Any, vd: VariantDelete, now: datetime) -> dict[str, Any]:
    """The link of a variant the writer removed from the shop: tombstoned, its base kept (what was agreed last)."""
    return link_row(
        integration,
        entity="variant",
        external_id=vd.external_id,
        hub_id=vd.hub_id,
        snapshot=dict(vd.base),
        digest=None,
        updated_at=None,
        sku=vd.sku,
        parent=vd.product_external_id,
        now=now,
        deleted=True,
    )


def run_push(
    engine: Engine,
    *,
    tenant_id: str,
    credentials_for: Callable[[Connection, int], dict[str, Any]],
    integration_id: int | None = None,
    dry_run: bool = False,
    run_id: str | None = None,
) -> list[PushReport]:
    """Plan (and unless ``dry_run`` apply) a push to each pushing shop of the tenant; one report per shop.

    A dry run reads the hub only and writes nothing anywhere. A real run opens a ``sync_runs`` row before the
    first call, commits links as each batch is answered (a process killed later keeps what the shop has), and
    records refusals in ``rejected_records``. Each link is committed with its ``push_records`` row (lineage, in the
    same transaction), the refusals' rows with their ``rejected_records``, and the writer's warnings
    (``PushWarning``) added to the ``message`` of their records' rows; ``run_id`` (the Dagster run) is
    ``cli-<hex>`` there when the push runs outside Dagster. A dry run's report carries the warnings the writer can
    tell from the plan (``preview_warnings``).
    """
    lineage_run_id = run_id or cli_run_id()
    with engine.connect() as conn:
        shops = pushing_integrations(conn, tenant_id, integration_id)
        plans = [(shop, load_plan(conn, shop)) for shop in shops]
    reports: list[PushReport] = []
    for shop, plan in plans:
        report = PushReport(int(shop.id), shop.platform, plan)
        with engine.connect() as conn:
            plan.resume = interrupted_push(conn, int(shop.id))
            plan.uncertain_creates = uncertain_creates(conn, int(shop.id))
            if plan.creates:
                plan.pushed_products = pushed_products(conn, int(shop.id), [c.hub_id for c in plan.creates])
        reports.append(report)
        if dry_run:
            with engine.connect() as conn:
                report.preview = named_warnings(conn, preview_warnings(shop.platform, plan))
            continue
        apply_plan, make_client = writer_for(shop.platform)
        with engine.begin() as conn:
            report.sync_run_id = store.start_sync_run(
                conn,
                tenant_id=tenant_id,
                integration_id=int(shop.id),
                platform=shop.platform,
                entity="product",
                direction="push",
                stage="export",
                full_refresh=False,
                run_id=run_id,
                cursor_before=None,
            )
            credentials = credentials_for(conn, int(shop.id))
        lineage = report.lineage = PushLineage(plan, report.sync_run_id, lineage_run_id)

        def on_links(rows: list[dict[str, Any]], lineage: PushLineage = lineage) -> None:
            with engine.begin() as conn:  # a link and its lineage row commit together, or neither
                store.upsert_links(conn, rows)
                lineage.record_links(conn, rows)

        try:
            outcome = WriteOutcome() if plan.is_empty else apply_plan(make_client(shop, credentials), plan, on_links)
        except Exception as exc:
            report.error = f"{type(exc).__name__}: {exc}"
            with engine.begin() as conn:
                partial = getattr(exc, PARTIAL_OUTCOME, None)
                if isinstance(partial, WriteOutcome) and partial.rejections:
                    # What the writer saw refused before it failed (a create that got no answer among them: its
                    # marker) is recorded; nothing is closed (the items not reached were not retried).
                    record_export_rejections(conn, tenant_id=tenant_id, shop=shop, run_id=run_id,
                                             refused=partial.rejections, close_unseen=False)  # fmt: skip
                    lineage.record_failures(conn, partial.rejections)
                store.finish_sync_run(conn, report.sync_run_id, status="failed", counts={}, cursor_after=None,
                                      error=report.error)  # fmt: skip
            continue
        report.outcome = outcome
        with engine.begin() as conn:
            record_export_rejections(conn, tenant_id=tenant_id, shop=shop, run_id=run_id, refused=outcome.rejections)
            lineage.record_failures(conn, outcome.rejections)
            outcome.warnings = named_warnings(conn, outcome.warnings)
            record_warnings(conn, lineage, outcome.warnings)
            close_interrupted(conn, int(shop.id), report.sync_run_id)
            store.finish_sync_run(
                conn,
                report.sync_run_id,
                status="success",
                counts={
                    "rows_fetched": 0,
                    "created": outcome.created,
                    "updated": outcome.updated,
                    "deleted": outcome.deleted,
                    "unchanged": plan.unchanged,
                    "failed": outcome.failed,
                    "api_calls": outcome.api_calls,
                },
                cursor_after=None,
                error=None,
            )
    return reports


__all__ = [
    "CREATE_UNCERTAIN",
    "PARTIAL_OUTCOME",
    "ExportError",
    "ExportPlan",
    "FieldUpdate",
    "ProductCreate",
    "PushReport",
    "PushWarning",
    "Rejection",
    "VariantCreate",
    "VariantDelete",
    "VariantValues",
    "WriteOutcome",
    "load_plan",
    "plan_export",
    "push_fields_for",
    "pushed_products",
    "run_push",
    "uncertain_creates",
]
