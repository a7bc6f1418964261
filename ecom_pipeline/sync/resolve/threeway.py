"""The three-way merge wired into the products resolve, for shops whose direction is ``bidirectional`` or ``push``.

For a ``pull`` shop resolve writes the shop's values into the hub exactly as before and none of this runs. For
the others, each linked product and variant the shop changed is merged field by field (``sync.merge``) between
the hub row, the shop record and the link's ``base_snapshot``:

- a field only the shop changed flows to the hub (``bidirectional``; a ``push`` shop's edit is left in the shop);
- a field only the hub changed keeps the hub value (export pushes it: the base stays at the shop's value);
- both changed alike is agreement; both changed differently is a conflict decided by the field's policy, each
  one a ``sync_conflicts`` row with the Dagster run id; ``manual`` keeps the hub value and export pushes nothing
  for it until a person decides (``sync.resolve.decisions`` applies that decision on the next resolve);
- Shopify's vendor and product type (``vendor``, ``shopify_product_type``) are merged fields with a policy, like
  the title; a platform without them (WooCommerce, PrestaShop: None in its record) never changes them, and resolve
  does not write them for it (``products._PLATFORM_PRODUCT_COLUMNS``);
- fields without a policy (handle, tags, categories, product kind, variant title, currency, position) take the
  shop's value only when the shop changed them, so a hub edit of them survives an unrelated pull; categories are
  compared as paths (``Parent > Child``), a leaf-only reading agreeing with the hub's path (``_categories``).
- a record deleted in the hub (``deleted_at``) stays deleted: a shop edit does not bring it back; except a
  variant, whose presence is the product's ``variants`` field (``sync.membership``): a variant the hub deleted
  and the shop edited is a conflict under the ``variants`` policy (the shop winning brings it back), and a
  variant the shop removed is removed from the hub (even when another shop still has it: export then removes
  it there), unless the hub edited it meanwhile (a conflict again);
- a first link (a shop record matched to a hub record by SKU, with no base yet) is merged against an empty
  base: values both sides have alike agree, a value only one side has is that side's, and two different values
  are a conflict decided by the policy (not the shop's values taken blindly, as a ``pull`` shop does).

The hub side is compared as export sends it (``export.product_values`` / ``variant_values``: an archived product
is a draft in the shop), so resolve and export agree on what "the hub changed" means. The hub's modification time
for ``newest`` is the row's ``synced_at`` (set by every pull write, import and applied decision).

The link's new base is the shop's record as it is now, since resolve writes nothing to the shop, except a field
the merge leaves in the shop (a ``push`` shop's own edit, or a conflict the shop won that a ``push`` shop cannot
pull): that field keeps the base the merge gives, so export does not overwrite the shop's value.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.engine import Connection

from ecom_pipeline.sync.category_paths import refine_categories, same_categories
from ecom_pipeline.sync.export import PRODUCT_FIELDS, VARIANT_FIELDS, product_values, push_fields_for, variant_values
from ecom_pipeline.sync.hashing import stable_hash
from ecom_pipeline.sync.membership import MEMBER_FIELDS, MemberDecision, fingerprint, member_fields, merge_member
from ecom_pipeline.sync.merge import (
    MONEY_FIELDS,
    FieldDecision,
    Outcome,
    Resolution,
    conflict_rows,
    json_value,
    merge_record,
)
from ecom_pipeline.sync.policies import SyncSettings
from ecom_pipeline.sync.resolve.core import Pending
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.schema import hub_products, hub_variants, integrations, sync_conflicts

# Canonical snapshot key -> hub column, for the fields without a policy (taken from the shop only when it changed).
_PRODUCT_OTHER = {
    "product_type": "product_type",
    "handle": "handle",
    "tags": "tags",
    "categories": "categories",
    "created_at": "source_created_at",
}
_VARIANT_OTHER = {"title": "title", "currency": "currency", "position": "position", "created_at": "source_created_at"}
# The shop-computed tax twins follow the price: kept with the hub's price, taken with the shop's.
_TAX_TWINS = ("price_tax_excl", "price_includes_tax")
_VARIANT_MERGED = (*VARIANT_FIELDS, "options")
# The prices a shop's price rule derives from the hub's: never merged (nor pulled) under a rule.
_RULED_PRICES = ("price", "compare_at_price", "sale_price")


def load_settings(conn: Connection, integration_id: int) -> SyncSettings:
    """The shop's direction and policies (an unknown integration reads as the defaults: ``pull``)."""
    raw = conn.execute(select(integrations.c.settings).where(integrations.c.id == integration_id)).scalar()
    return SyncSettings.from_settings(raw if isinstance(raw, dict) else None)


def _tidy(amount: Any) -> Any:
    """A hub amount without PostgreSQL's scale padding (``11.000000`` as ``11.00``), so a conflict row shows it as
    the merchant wrote it; the value is unchanged (the merge compares Decimals)."""
    if not isinstance(amount, Decimal):
        return amount
    cents = amount.quantize(Decimal("0.01"))
    return cents if cents == amount else amount.normalize()


def _live(link: Row[Any] | None) -> bool:
    return link is not None and link.deleted_at is None and link.base_snapshot is not None


def _rows(conn: Connection, table: Any, ids: Iterable[int]) -> dict[int, Row[Any]]:
    found: dict[int, Row[Any]] = {}
    for part in store.chunked(sorted(set(ids))):
        for row in conn.execute(select(table).where(table.c.id.in_(part))):
            found[int(row.id)] = row
    return found


def _new_base(d: FieldDecision, shop_raw: Any, base_raw: Any) -> Any:
    """The field's value in the link's new base (see the module docstring)."""
    if d.outcome is Outcome.SHOP_ONLY_IGNORED:
        return base_raw
    if d.is_conflict and d.resolution is not Resolution.HELD and not d.write_hub and not d.write_shop:
        return json_value(d.new_base)
    return shop_raw


def _platform_fields(conn: Connection, integration_id: int) -> frozenset[str]:
    """The fields the shop's platform takes (its writer's ``PUSH_FIELDS``); every variant field when unknown."""
    platform = conn.execute(select(integrations.c.platform).where(integrations.c.id == integration_id)).scalar()
    try:
        return push_fields_for(str(platform))
    except KeyError:  # a platform not registered in this process (e.g. a test double)
        return frozenset(VARIANT_FIELDS)


def _shown(values: dict[str, Any]) -> dict[str, Any]:
    """A variant's set-merge fields as a conflict row shows them (SKU, prices, barcode, weight, options)."""
    return {name: values.get(name) for name in MEMBER_FIELDS}


class Merger:
    """Merges the linked records of one page for one non-``pull`` shop and collects the conflicts."""

    def __init__(
        self,
        conn: Connection,
        *,
        tenant_id: str,
        integration_id: int,
        settings: SyncSettings,
        run_id: str | None,
        now: datetime,
    ) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self.integration_id = integration_id
        self.settings = settings
        self.run_id = run_id
        self.now = now
        self.products: dict[int, Row[Any]] = {}
        self.variants: dict[int, Row[Any]] = {}
        self.conflicts: list[dict[str, Any]] = []
        # What the set merge compares to tell an edited variant: the fields this platform holds.
        self.member_fields = member_fields(_platform_fields(conn, integration_id))
        # With a price rule the shop's price is derived from the hub's: it is never pulled into the hub.
        self.variant_fields = (
            tuple(f for f in _VARIANT_MERGED if f not in _RULED_PRICES)
            if settings.price_rule is not None
            else _VARIANT_MERGED
        )

    def load(self, product_links: Iterable[Row[Any] | None], variant_links: Iterable[Row[Any] | None]) -> None:
        """The hub rows of the page's linked records (one query per table and chunk)."""
        live_products = [link for link in product_links if link is not None and _live(link)]
        live_variants = [link for link in variant_links if link is not None and _live(link)]
        self.products = _rows(self.conn, hub_products, (int(link.hub_id) for link in live_products))
        self.variants = _rows(self.conn, hub_variants, (int(link.hub_id) for link in live_variants))

    def preload(self, product_ids: Iterable[int], variant_ids: Iterable[int]) -> None:
        """Hub rows first links and removed variants will need (one query per table and chunk, not one per row)."""
        self.products.update(_rows(self.conn, hub_products, set(product_ids) - set(self.products)))
        self.variants.update(_rows(self.conn, hub_variants, set(variant_ids) - set(self.variants)))

    def _row(self, table: Any, cache: dict[int, Row[Any]], hub_id: int | None) -> Row[Any] | None:
        """A hub row by id, read once (first links are only known once the hub ids are decided)."""
        if hub_id is None:
            return None
        if hub_id not in cache:
            found = self.conn.execute(select(table).where(table.c.id == hub_id)).first()
            if found is None:
                return None
            cache[hub_id] = found
        return cache[hub_id]

    def _merge(
        self,
        entity: str,
        item: Pending[Any],
        hub: Row[Any],
        hub_side: dict[str, Any],
        fields: tuple[str, ...],
        others: dict[str, str],
        values: dict[str, Any],
        shop_time: datetime | None,
        unread: frozenset[str] = frozenset(),
    ) -> dict[str, Any]:
        # A first link has no base: every value one side has and the other lacks is that side's change.
        base = dict(item.link.base_snapshot or {}) if item.link is not None and _live(item.link) else {}
        shop = item.snapshot
        decisions = merge_record(
            base=base,
            hub=hub_side,
            shop=shop,
            policies=self.settings.policies,
            direction=self.settings.direction,
            hub_time=hub.synced_at,
            shop_time=shop_time,
            fields=fields,
        )
        new_base = dict(shop)
        out = dict(values)
        for d in decisions:
            if not d.write_hub:
                out[d.field] = getattr(hub, d.field)
                if d.field == "price":
                    for twin in _TAX_TWINS:
                        out[twin] = getattr(hub, twin)
            after = _new_base(d, shop.get(d.field), base.get(d.field))
            if after is not None or d.field in shop or d.field in base:
                # A field neither side's record has (a WooCommerce product's vendor) stays out of the base, so the
                # base hashes as the next reading's snapshot does and an unchanged record is not merged again.
                new_base[d.field] = after
        for key, column in others.items():
            if key in unread:
                # The shop's reading says nothing of it (Shopify's categories with collections off): not a change,
                # whatever it holds; the hub keeps its value and the base keeps what was last agreed.
                out[column] = getattr(hub, column)
                if key in base:
                    new_base[key] = base[key]
            elif key == "categories":
                out[column] = self._categories(hub, base, shop, new_base)
            elif shop.get(key) == base.get(key):
                out[column] = getattr(hub, column)
        # A record deleted in the hub stays deleted (export makes it a draft in the shop): a shop edit of it does
        # not bring it back, as a pull would.
        out["deleted_at"] = hub.deleted_at
        self.conflicts += conflict_rows(
            decisions,
            tenant_id=self.tenant_id,
            integration_id=self.integration_id,
            entity=entity,
            hub_id=int(hub.id),
            decided_at=self.now,
            dagster_run_id=self.run_id,
        )
        item.snapshot = new_base
        # The link's digest is that of the reading the base stands for: an unread field as the reading gives it
        # (the base keeps its last agreed value), so the same reading next time is still "unchanged".
        item.hash = stable_hash({**new_base, **{key: shop[key] for key in unread if key in shop}})
        return out

    @staticmethod
    def _categories(hub: Row[Any], base: dict[str, Any], shop: dict[str, Any], new_base: dict[str, Any]) -> Any:
        """The hub's categories after the merge, and the base's (``new_base`` updated in place).

        Compared as category paths (``sync.category_paths``): a reading that only knows a nested category's leaf
        (a WooCommerce webhook, a base stored before the pull read paths) is no change against the hub's
        ``Parent > Child``. A real shop change is taken with the hub's (or the base's) path for each leaf name the
        shop kept, so a category added in the shop does not flatten the others. The new base keeps the old base's
        paths for such leaf names, so the next pull, which reads paths, finds the shop at its base.
        """
        hub_names, base_names = list(hub.categories or []), base.get("categories") or []
        shop_names = shop.get("categories")
        if isinstance(shop_names, list | tuple):
            new_base["categories"] = refine_categories(shop_names, base_names)
        if same_categories(shop_names, base_names):
            return hub.categories
        return refine_categories(shop_names, [*hub_names, *base_names])

    def product(self, item: Pending[Any], values: dict[str, Any]) -> dict[str, Any]:
        """The hub product's values after the merge (``values``: the shop's, as a pull writes them); a product
        linked for the first time (``item.hub_id`` found through a variant's SKU) merges against an empty base."""
        hub_id = int(item.link.hub_id) if _live(item.link) else item.hub_id  # type: ignore[union-attr]
        hub = self._row(hub_products, self.products, hub_id)
        if hub is None:
            return values
        return self._merge(
            "product",
            item,
            hub,
            product_values(hub),
            PRODUCT_FIELDS,
            _PRODUCT_OTHER,
            values,
            item.record.updated_at,
            item.record.unread,  # fields the reading says nothing about: skipped, their base kept
        )

    def variant(self, item: Pending[Any], values: dict[str, Any], shop_time: datetime | None) -> dict[str, Any]:
        """The hub variant's values after the merge; the price fields are kept when a price rule applies.

        A variant linked for the first time (matched by SKU: ``item.hub_id``) merges against an empty base, unless
        the hub deleted it (then it is linked with the shop's values as before). A linked variant the hub deleted
        and the shop edited goes through the set merge first (``_deleted_in_hub``).
        """
        linked = _live(item.link)
        hub_id = int(item.link.hub_id) if linked else item.hub_id  # type: ignore[union-attr]
        hub = self._row(hub_variants, self.variants, hub_id)
        if hub is None or (not linked and hub.deleted_at is not None):
            return values
        if linked and hub.deleted_at is not None and self._deleted_in_hub(item, hub, shop_time):
            return {**values, "deleted_at": None}  # the shop won: back in the hub, with the shop's values
        hub_side = self.variant_side(hub)
        out = self._merge("variant", item, hub, hub_side, self.variant_fields, _VARIANT_OTHER, values, shop_time)
        if self.settings.price_rule is not None:
            for name in (*_RULED_PRICES, *_TAX_TWINS):
                out[name] = getattr(hub, name)
        return out

    def variant_side(self, hub: Row[Any]) -> dict[str, Any]:
        """A hub variant as export sends it (price rule applied), with its options: what the merges compare."""
        hub_side = {**variant_values(hub, self.settings), "options": dict(hub.options or {})}
        for name in MONEY_FIELDS & set(hub_side):
            hub_side[name] = _tidy(hub_side[name])
        return hub_side

    def _member(
        self,
        hub: Row[Any],
        link: Row[Any],
        shop: dict[str, Any] | None,
        shop_time: datetime | None,
    ) -> MemberDecision:
        """The set merge of one linked variant (``shop`` None: the shop removed it); its conflict is recorded."""
        base = dict(link.base_snapshot or {})
        in_hub = hub.deleted_at is None
        decision = merge_member(
            int(hub.id),
            base=fingerprint(base, self.member_fields),
            hub=fingerprint(self.variant_side(hub), self.member_fields) if in_hub else None,
            shop=fingerprint(shop, self.member_fields) if shop is not None else None,
            in_base=True,
            in_hub=in_hub,
            in_shop=shop is not None,
            policy=self.settings.policies["variants"],
            direction=self.settings.direction,
            hub_time=hub.deleted_at if not in_hub else hub.synced_at,
            shop_time=shop_time,
        )
        if decision.is_conflict:
            self.conflicts.append(
                {
                    "tenant_id": self.tenant_id,
                    "integration_id": self.integration_id,
                    "entity": "variant",
                    "hub_id": int(hub.id),
                    "field": "variants",
                    "base_value": json_value(_shown(base)),
                    "hub_value": json_value(_shown(self.variant_side(hub))) if in_hub else None,
                    "shop_value": json_value(_shown(shop)) if shop is not None else None,
                    "policy": decision.policy.value,
                    "resolution": (decision.resolution or Resolution.HELD).value,
                    "decided_at": self.now,
                    "dagster_run_id": self.run_id,
                }
            )
        return decision

    def _deleted_in_hub(self, item: Pending[Any], hub: Row[Any], shop_time: datetime | None) -> bool:
        """A variant the hub deleted and the shop changed: True when the set merge brings it back to the hub."""
        assert item.link is not None
        return self._member(hub, item.link, item.snapshot, shop_time).add_hub

    def removed_in_shop(
        self, links: Iterable[Row[Any]], shop_time: datetime | None
    ) -> tuple[list[Row[Any]], list[int]]:
        """Variants the shop removed from a product (their live links): the set merge of each.

        Returns the links to tombstone and the hub variants to delete. A variant the hub left as it was is removed
        from the hub (``bidirectional``: export then removes it from the other shops); one the hub edited meanwhile
        is a conflict (the hub winning puts it back in the shop: its link is tombstoned so export creates it
        again); a ``push`` shop's removal and a held conflict keep the link, so nothing is re-created or deleted.
        A variant the hub deleted too is agreement: only the link goes.
        """
        tombstone: list[Row[Any]] = []
        delete: list[int] = []
        for link in links:
            hub = self._row(hub_variants, self.variants, int(link.hub_id))
            if hub is None:
                tombstone.append(link)
                continue
            decision = self._member(hub, link, None, shop_time)
            if decision.remove_hub:
                delete.append(int(hub.id))
            if decision.base_after is False or decision.add_shop or decision.remove_hub:
                tombstone.append(link)
        return tombstone, delete

    def delete_variants(self, hub_ids: list[int]) -> None:
        """Set ``deleted_at`` on hub variants the set merge removed (one statement per chunk)."""
        for part in store.chunked(sorted(set(hub_ids))):
            self.conn.execute(
                update(hub_variants)
                .where(hub_variants.c.id.in_(part), hub_variants.c.deleted_at.is_(None))
                .values(deleted_at=self.now, synced_at=self.now)
            )

    def write_conflicts(self) -> int:
        """Insert the page's conflicts (one statement) and forget them."""
        rows, self.conflicts = self.conflicts, []
        if rows:
            self.conn.execute(insert(sync_conflicts), rows)
        return len(rows)
