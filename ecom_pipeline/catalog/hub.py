"""Reading the hub for a catalogue file, writing an import's changes, and the rows of an export.

Variants are matched by SKU and products by handle within the tenant. Only what differs is written, so
re-importing an unchanged export writes nothing and leaves ``synced_at`` (the hub's modification time for the
``newest`` policy) where it was. Hub rows an import creates have no ``entity_links``: no shop has them yet.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection

from ecom_pipeline.catalog.columns import (
    COLUMNS,
    PRODUCT_COLUMNS,
    ExportError,
    format_list,
    format_money,
    format_options,
)
from ecom_pipeline.catalog.validate import HubProduct, HubState, HubVariant, ProductGroup, Validation, VariantRow
from ecom_pipeline.sync.merge import json_value
from ecom_pipeline.warehouse.schema import hub_products, hub_variants, rejected_records
from ecom_pipeline.warehouse.store import (
    bulk_insert,
    chunked,
    close_rejections,
    insert_returning_ids,
    update_many,
)

IMPORT_STAGE = "import"  # rejected_records.stage of a catalogue file's rejected rows

# The product columns of the file are the hub product's own field names.
_PRODUCT_FIELDS = PRODUCT_COLUMNS
_VARIANT_FIELDS = (
    "title",
    "price",
    "compare_at_price",
    "sale_price",
    "barcode",
    "currency",
    "weight",
    "options",
    "position",
)


def _product(row: Any) -> HubProduct:
    return HubProduct(
        id=row.id,
        handle=row.handle,
        values=dict(zip(_PRODUCT_FIELDS, row[3:], strict=True)),
        deleted=row.deleted_at is not None,
    )


# The columns ``load_state`` reads (not the shop times and ``synced_at``, which no check looks at): a 50,000-row
# file's hub rows are read twice, once for the check and once more under the tenant lock.
_VARIANT_VALUES = (*_VARIANT_FIELDS, "price_includes_tax")
_VARIANT_READ = tuple(hub_variants.c[name] for name in ("id", "product_id", "sku", "deleted_at", *_VARIANT_VALUES))
_PRODUCT_READ = tuple(hub_products.c[name] for name in ("id", "handle", "deleted_at", *_PRODUCT_FIELDS))
# From this many SKUs (or handles) on, the tenant's variants (or products) are read in one scan rather than by
# lists of keys: a catalogue file of that size is most of the tenant's catalogue, and one query is the cheaper.
SCAN_FROM = 2000


def load_state(conn: Connection, tenant_id: str, skus: Sequence[str], handles: Sequence[str]) -> HubState:
    """The hub variants with these SKUs, the products with these handles, and the products owning those variants."""
    state = HubState()
    wanted = {s.strip() for s in skus if s.strip()}
    # SKUs compare trimmed (as sync's ``norm_sku``): a shop may have given the hub 'TEE-S ', which the file's
    # 'TEE-S' must update. The exact matches use the (tenant, sku) index; the few untrimmed hub SKUs are found by
    # one scan of the tenant's SKUs (a large file: one scan of the tenant's variants finds both).
    found: dict[str, list[Any]] = {}
    of_tenant = hub_variants.c.tenant_id == tenant_id
    if len(wanted) >= SCAN_FROM:
        for row in conn.execute(select(*_VARIANT_READ).where(of_tenant, hub_variants.c.sku.is_not(None))):
            key = row.sku if row.sku in wanted else row.sku.strip()
            if key in wanted:
                found.setdefault(key, []).append(row)
    else:
        for chunk in chunked(sorted(wanted)):
            for row in conn.execute(select(*_VARIANT_READ).where(of_tenant, hub_variants.c.sku.in_(chunk))):
                found.setdefault(row.sku, []).append(row)
        untrimmed = [
            int(row.id)
            for row in conn.execute(
                select(hub_variants.c.id, hub_variants.c.sku).where(of_tenant, hub_variants.c.sku.is_not(None))
            )
            if row.sku != row.sku.strip() and row.sku.strip() in wanted
        ]
        for chunk in chunked(untrimmed):
            for row in conn.execute(select(*_VARIANT_READ).where(hub_variants.c.id.in_(chunk))):
                found.setdefault(row.sku.strip(), []).append(row)
    for key, rows in found.items():
        if len(rows) > 1:
            state.ambiguous_skus[key] = sorted(r.sku for r in rows)
            continue
        row = rows[0]
        state.variants[key] = HubVariant(
            id=row.id,
            product_id=row.product_id,
            sku=row.sku,
            values=dict(zip(_VARIANT_VALUES, row[4:], strict=True)),
            deleted=row.deleted_at is not None,
        )
    # The products with the file's handles, then those owning its variants that are not among them yet (most are:
    # an export's variants belong to its handles' products), each read once.
    keys = sorted({h.strip() for h in handles if h.strip()})
    if len(keys) >= SCAN_FROM:
        wanted_handles = set(keys)
        for row in conn.execute(
            select(*_PRODUCT_READ).where(hub_products.c.tenant_id == tenant_id, hub_products.c.handle.is_not(None))
        ):
            if row.handle in wanted_handles:
                state.products[row.id] = _product(row)
    else:
        for chunk in chunked(keys):
            for row in conn.execute(
                select(*_PRODUCT_READ).where(hub_products.c.tenant_id == tenant_id, hub_products.c.handle.in_(chunk))
            ):
                state.products[row.id] = _product(row)
    owners = sorted({v.product_id for v in state.variants.values()} - set(state.products))
    for chunk in chunked(owners):
        for row in conn.execute(select(*_PRODUCT_READ).where(hub_products.c.id.in_(chunk))):
            state.products[row.id] = _product(row)
    for product in sorted(state.products.values(), key=lambda p: p.id):
        if product.handle is not None:
            state.products_by_handle.setdefault(product.handle.strip(), []).append(product.id)
    return state


def _same(a: Any, b: Any) -> bool:
    """Equal as the hub means it: empty text is no text, an empty list or options no list; 12.50 == 12.500000."""
    if isinstance(a, list | tuple) or isinstance(b, list | tuple):
        return list(a or []) == list(b or [])
    if isinstance(a, dict) or isinstance(b, dict):
        return dict(a or {}) == dict(b or {})
    return (None if a == "" else a) == (None if b == "" else b)


@dataclass
class ImportCounts:
    products_created: int = 0
    products_updated: int = 0
    products_unchanged: int = 0
    variants_created: int = 0
    variants_updated: int = 0
    variants_unchanged: int = 0
    rows_rejected: int = 0
    changes: list[str] = field(default_factory=list)  # "handle/sku: field old -> new", for --dry-run


def _product_values(group: ProductGroup) -> dict[str, Any]:
    """The product's hub values from the file. A column the file lacks is left out of an existing product's values,
    so the hub keeps its value (a price-update file clears no description or tags); a new product gets it empty."""
    values = {f: group.values.get(f) for f in _PRODUCT_FIELDS if group.hub is None or f not in group.absent}
    for name in ("tags", "categories"):
        if name in values:
            values[name] = values[name] or []
    return values


def _variant_changes(variant: VariantRow) -> dict[str, Any]:
    assert variant.hub is not None
    current = variant.hub.values
    changes = {}
    for name in _VARIANT_FIELDS:
        new = variant.values.get(name)
        if name == "position" and new is None:
            continue  # an empty position keeps the hub's order
        if not _same(current.get(name), new):
            changes[name] = new
    if "price" in changes:
        # The tax-excluded twin is the shop's computation; after a hub edit it is known only for tax-free prices.
        changes["price_tax_excl"] = changes["price"] if current.get("price_includes_tax") is False else None
    return changes


# Rows (variants) written per batch: the new products and variants of a batch go in one INSERT (a COPY on
# PostgreSQL) each, the changed rows in one executemany per set of changed columns, instead of a statement per
# row (a 50,000-variant file took minutes under the tenant lock). Progress is reported after each batch.
WRITE_BATCH = 5000


@dataclass
class _Writes:
    """One batch of an import's writes, in the order one statement per row would have made them."""

    new_products: list[dict[str, Any]] = field(default_factory=list)
    # A new variant's product: an existing product's id, or the index of a new product of this batch.
    new_variants: list[tuple[int | None, int, dict[str, Any]]] = field(default_factory=list)
    product_updates: list[dict[str, Any]] = field(default_factory=list)
    variant_updates: list[dict[str, Any]] = field(default_factory=list)
    rows: int = 0

    def write(self, conn: Connection) -> None:
        product_ids = insert_returning_ids(conn, hub_products, self.new_products, key="handle")
        bulk_insert(
            conn,
            hub_variants,
            [
                {**values, "product_id": product_ids[index] if product_id is None else product_id}
                for product_id, index, values in self.new_variants
            ],
        )
        update_many(conn, hub_products, self.product_updates)
        update_many(conn, hub_variants, self.variant_updates)


def apply_import(
    conn: Connection | None,
    validation: Validation,
    *,
    tenant_id: str,
    now: datetime,
    source: str,
    partial: bool,
    progress: Callable[[int], None] | None = None,
) -> ImportCounts:
    """Write the valid rows' changes (``conn`` None: count them only, the dry run) and reject the bad rows.

    Without ``partial`` the caller never calls this when there is an error; with it, the bad rows go to
    ``rejected_records`` (stage ``import``) in the same transaction as the good ones. The writes go in batches of
    ``WRITE_BATCH`` rows; ``progress`` is told the number of rows written (or counted) after each.
    """
    counts = ImportCounts()
    rejected = validation.rejected_rows
    batch, done = _Writes(), 0
    for group in validation.groups:
        rows = [v for v in group.rows if v.row not in rejected]
        if not rows:
            continue
        product_id = _plan_product(group, batch, tenant_id=tenant_id, now=now, counts=counts)
        for position, variant in enumerate(group.rows, start=1):
            if variant.row in rejected:
                continue
            batch.rows += 1
            label = f"{group.handle}/{variant.values['sku']}"
            if variant.hub is None:
                counts.variants_created += 1
                counts.changes.append(f"{label}: new variant")
                values = dict(variant.values)
                values["position"] = values["position"] if values["position"] is not None else position
                new = {"tenant_id": tenant_id, "synced_at": now, "deleted_at": None, **values}
                batch.new_variants.append((product_id, len(batch.new_products) - 1, new))
                continue
            changes = _variant_changes(variant)
            if variant.hub.deleted:
                changes["deleted_at"] = None
            if not changes:
                counts.variants_unchanged += 1
                continue
            counts.variants_updated += 1
            counts.changes.append(
                f"{label}: "
                + ", ".join(
                    f"{k} {json_value(variant.hub.values.get(k))!r} -> {json_value(v)!r}"
                    for k, v in changes.items()
                    if k != "price_tax_excl"
                )
            )
            batch.variant_updates.append({"id": variant.hub.id, "synced_at": now, **changes})
        if batch.rows >= WRITE_BATCH:  # a product's rows stay in one batch: its new variants need its id
            done += batch.rows
            if conn is not None:
                batch.write(conn)
            batch = _Writes()
            if progress is not None:
                progress(done)
    if batch.rows:
        if conn is not None:
            batch.write(conn)
        if progress is not None:
            progress(done + batch.rows)
    if conn is not None:
        # Before this import's own rejections are written: a SKU both imported and rejected (a duplicate row) keeps
        # the new rejection open.
        _close_rejections(conn, validation, tenant_id=tenant_id)
    if partial:
        counts.rows_rejected = len(rejected)
        if conn is not None and rejected:
            _reject(conn, validation, tenant_id=tenant_id, now=now, source=source)
    return counts


def _close_rejections(conn: Connection, validation: Validation, *, tenant_id: str) -> int:
    """Close the tenant's open import rejections of the SKUs this import wrote (created, updated or found equal):
    the corrected row is in the hub, so the rejection no longer needs a person. Rejections of rows without a SKU
    cannot be matched and stay open until closed by hand (``resolved_at``)."""
    rejected = validation.rejected_rows
    skus = sorted(
        {str(v.values["sku"])[:128] for g in validation.groups for v in g.rows if v.row not in rejected}
    )  # external_id holds at most 128 characters
    ids: list[int] = []
    for chunk in chunked(skus):
        ids += (
            conn.execute(
                select(rejected_records.c.id).where(
                    rejected_records.c.tenant_id == tenant_id,
                    rejected_records.c.stage == IMPORT_STAGE,
                    rejected_records.c.integration_id.is_(None),
                    rejected_records.c.resolved_at.is_(None),
                    rejected_records.c.external_id.in_(chunk),
                )
            )
            .scalars()
            .all()
        )
    return close_rejections(conn, ids)


def open_import_rejections(conn: Connection, tenant_id: str | None) -> list[tuple[str, int, datetime]]:
    """Per tenant: how many import rows are rejected and not closed, and the oldest (for ``status``). They belong
    to no shop (``integration_id`` NULL), so the per-shop listing does not show them."""
    query = (
        select(rejected_records.c.tenant_id, func.count(), func.min(rejected_records.c.created_at))
        .where(
            rejected_records.c.stage == IMPORT_STAGE,
            rejected_records.c.integration_id.is_(None),
            rejected_records.c.resolved_at.is_(None),
        )
        .group_by(rejected_records.c.tenant_id)
        .order_by(rejected_records.c.tenant_id)
    )
    if tenant_id is not None:
        query = query.where(rejected_records.c.tenant_id == tenant_id)
    return [(str(t), int(n), oldest) for t, n, oldest in conn.execute(query)]


def _plan_product(
    group: ProductGroup, batch: _Writes, *, tenant_id: str, now: datetime, counts: ImportCounts
) -> int | None:
    """Count the product's change and add it to ``batch``; its hub id, None for a new product (the batch's last)."""
    values = _product_values(group)
    if group.hub is None:
        counts.products_created += 1
        counts.changes.append(f"{group.handle}: new product")
        batch.new_products.append(
            {"tenant_id": tenant_id, "handle": group.handle, "synced_at": now, "deleted_at": None, **values}
        )
        return None
    changes = {k: v for k, v in values.items() if not _same(group.hub.values.get(k), v)}
    if group.hub.deleted:
        changes["deleted_at"] = None
    if changes:
        counts.products_updated += 1
        counts.changes.append(
            f"{group.handle}: "
            + ", ".join(f"{k} {json_value(group.hub.values.get(k))!r} -> {v!r}" for k, v in changes.items())
        )
        batch.product_updates.append({"id": group.hub.id, "synced_at": now, **changes})
    else:
        counts.products_unchanged += 1
    return group.hub.id


def _reject(conn: Connection, validation: Validation, *, tenant_id: str, now: datetime, source: str) -> None:
    by_row: dict[int, list[str]] = {}
    for error in validation.errors:
        if error.row is not None:
            by_row.setdefault(error.row, []).append(str(error))
    rows = []
    for group in validation.groups:
        for variant in group.rows:
            if variant.row not in by_row:
                continue
            sku = _storable(str(variant.values.get("sku") or ""))
            rows.append(
                {
                    "tenant_id": tenant_id,
                    "integration_id": None,
                    "platform": None,
                    "entity": "variant",
                    "external_id": sku[:128] or None,
                    "stage": IMPORT_STAGE,
                    "reason": _storable("; ".join(by_row[variant.row])),
                    "payload": {"file": _storable(source), "row": variant.row, "values": _json_cells(variant.raw)},
                    "created_at": now,
                }
            )
    # Rows without a handle belong to no group but are rejected too: nothing is dropped silently.
    for row, raw in sorted(validation.ungrouped.items()):
        raw_sku = raw.get("sku")
        rows.append(
            {
                "tenant_id": tenant_id,
                "integration_id": None,
                "platform": None,
                "entity": "variant",
                "external_id": (_storable(raw_sku.strip())[:128] or None) if isinstance(raw_sku, str) else None,
                "stage": IMPORT_STAGE,
                "reason": _storable("; ".join(by_row.get(row, []))),
                "payload": {"file": _storable(source), "row": row, "values": _json_cells(raw)},
                "created_at": now,
            }
        )
    if rows:
        conn.execute(insert(rejected_records), rows)


def _storable(text: str) -> str:
    """``text`` without NUL characters, which PostgreSQL text and JSONB refuse (the row was rejected for them)."""
    return text.replace("\x00", "\\x00")


def _json_cells(raw: dict[str, Any]) -> dict[str, Any]:
    return {_storable(str(k)): (_storable(v) if isinstance(v, str) else v if v is None or isinstance(v, int)
                                else repr(v) if isinstance(v, float) else json_value(v))
            for k, v in raw.items()}  # fmt: skip


# --- export ----------------------------------------------------------------------------------------------------


@dataclass
class ExportResult:
    rows: list[dict[str, str]]
    products: int
    skipped_products_without_handle: int
    skipped_variants_without_sku: int


def export_rows(conn: Connection, tenant_id: str) -> ExportResult:
    """The tenant's live products and variants as file rows (the columns ``catalog import`` reads).

    A product without a handle and a variant without a SKU cannot be matched on import, so they are left out
    and counted; two live products with one handle would merge on import, so that is an error naming them.
    """
    products = conn.execute(
        select(hub_products)
        .where(hub_products.c.tenant_id == tenant_id, hub_products.c.deleted_at.is_(None))
        .order_by(hub_products.c.handle, hub_products.c.id)
    ).all()
    variants: dict[int, list[Any]] = {}
    for row in conn.execute(
        select(hub_variants)
        .where(hub_variants.c.tenant_id == tenant_id, hub_variants.c.deleted_at.is_(None))
        .order_by(hub_variants.c.product_id, hub_variants.c.position, hub_variants.c.id)
    ):
        variants.setdefault(row.product_id, []).append(row)
    rows: list[dict[str, str]] = []
    seen: dict[str, int] = {}
    no_handle = no_sku = exported = 0
    for product in products:
        if not product.handle:
            no_handle += 1
            continue
        live = [v for v in variants.get(product.id, []) if v.sku]
        no_sku += len(variants.get(product.id, [])) - len(live)
        if not live:
            continue
        if product.handle in seen:
            raise ExportError(
                f"products #{seen[product.handle]} and #{product.id} have the same handle {product.handle!r}; an "
                "import would merge them. Give one another handle (UPDATE hub_products SET handle = ... WHERE id = "
                "...) and export again"
            )
        seen[product.handle] = product.id
        exported += 1
        for variant in live:
            rows.append(
                {
                    "handle": product.handle,
                    "title": product.title or "",
                    "description": product.description or "",
                    "status": product.status or "",
                    "product_type": product.product_type or "",
                    "vendor": product.vendor or "",
                    "shopify_product_type": product.shopify_product_type or "",
                    "tags": format_list(product.tags, what=f"tag of {product.handle!r}"),
                    "categories": format_list(product.categories, what=f"category of {product.handle!r}"),
                    "sku": variant.sku,
                    "variant_title": variant.title or "",
                    "price": format_money(variant.price, variant.currency),
                    "compare_at_price": format_money(variant.compare_at_price, variant.currency),
                    "sale_price": format_money(variant.sale_price, variant.currency),
                    "currency": variant.currency or "",
                    "barcode": variant.barcode or "",
                    "weight": variant.weight or "",
                    "options": format_options(variant.options, sku=variant.sku),
                    "position": "" if variant.position is None else str(variant.position),
                }
            )
    assert all(set(r) == set(COLUMNS) for r in rows)
    return ExportResult(rows, exported, no_handle, no_sku)


def source_name(path: Path) -> str:
    return path.name
