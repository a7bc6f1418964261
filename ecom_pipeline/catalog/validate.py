"""Every row of a catalogue file checked against the file and the hub, before anything is written (pure).

An error names the row (numbered as a spreadsheet shows the file: the header is row 1, the first product row is
row 2), the column and the reason. Column errors (a missing required column, an unknown one) concern the whole
file; product errors (contradicting product columns, a handle that matches several hub products) concern every
row of that product; other errors concern one row. ``--partial`` writes what has no error; without it one error
stops the whole import.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from ecom_pipeline.catalog.columns import (
    COLUMNS,
    HANDLE_MAX,
    LIST_SEPARATOR,
    MONEY_COLUMNS,
    MONEY_LIMIT,
    MONEY_MAX_DECIMALS,
    POSITION_MAX,
    PRODUCT_COLUMNS,
    REQUIRED_COLUMNS,
    SKU_MAX,
    STATUSES,
    TEXT_LIMITS,
    WEIGHT_MAX,
    minor_units,
)

FIRST_ROW = 2  # the header is row 1
_CURRENCY = re.compile(r"[A-Z]{3}")
_DIGITS = re.compile(r"[0-9]+")
# GTIN/EAN/UPC/ISBN: digits and hyphens, X only as the last character (the ISBN-10 check digit), at most 32
# characters: what WooCommerce keeps (``global_unique_id``) and PrestaShop's ``isbn`` takes (its ``ean13``/``upc``
# take 8/13 and 12 digits); Shopify takes any text.
BARCODE = re.compile(r"[0-9](?:[0-9-]*[0-9Xx])?")
BARCODE_MAX = 32
PROGRESS_EVERY = 1000  # rows between two calls of ``validate``'s progress callback


@dataclass(frozen=True)
class RowError:
    """One problem: ``row`` None means the whole file (a column problem)."""

    row: int | None
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = "file" if self.row is None else f"row {self.row}"
        return f"{where}, column {self.column}: {self.reason}" if self.column else f"{where}: {self.reason}"


@dataclass(frozen=True)
class HubVariant:
    id: int
    product_id: int
    sku: str
    values: Mapping[str, Any]  # hub column -> value (price, compare_at_price, currency, weight, options, ...)
    deleted: bool


@dataclass(frozen=True)
class HubProduct:
    id: int
    handle: str | None
    values: Mapping[str, Any]  # title, description, status, product_type, tags, categories
    deleted: bool


@dataclass
class HubState:
    """What the hub holds for the SKUs and handles of one file (one tenant)."""

    variants: dict[str, HubVariant] = field(default_factory=dict)  # by SKU
    products: dict[int, HubProduct] = field(default_factory=dict)  # by id
    products_by_handle: dict[str, list[int]] = field(default_factory=dict)
    # Trimmed SKUs that several hub variants have (e.g. 'TEE-S' and 'TEE-S '): no row can tell which it means.
    ambiguous_skus: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class VariantRow:
    row: int
    raw: dict[str, Any]
    values: dict[str, Any]  # sku, title, price, compare_at_price, currency, weight, options, position
    hub: HubVariant | None = None
    product_values: dict[str, Any] = field(default_factory=dict)  # the product cells this row gives, parsed


@dataclass
class ProductGroup:
    handle: str
    first_row: int
    values: dict[str, Any]  # title, description, status, product_type, vendor, shopify_product_type, tags, ...
    rows: list[VariantRow]
    hub: HubProduct | None = None
    # Product columns this file lacks: the hub's values are kept (a new product gets them empty).
    absent: frozenset[str] = frozenset()


@dataclass
class Validation:
    groups: list[ProductGroup]
    errors: list[RowError]
    file_errors: bool  # a column problem: nothing can be imported, even with --partial
    ungrouped: dict[int, dict[str, Any]] = field(default_factory=dict)  # rows without a handle, by row number

    @property
    def rejected_rows(self) -> set[int]:
        return {e.row for e in self.errors if e.row is not None}


def cell_text(value: Any, column: str) -> str:
    """A cell as text; a float is refused (it may already have lost the exact value, e.g. 0.1 + 0.2)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise ValueError(f"is a boolean ({value}): write it as text")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        raise ValueError(
            f"is a floating-point number ({value!r}), which cannot hold amounts exactly: store the column as text "
            "(e.g. '12.50') or as a decimal type"
        )
    raise ValueError(f"has an unsupported type {type(value).__name__}")


def parse_money(text: str, *, currency: str | None, current: Decimal | None) -> Decimal | None:
    """Exact decimal text, not negative, with at most the currency's decimals (unless it is the hub's value)."""
    text = text.strip()
    if not text:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        if re.fullmatch(r"[0-9]+,[0-9]+", text):  # French Excel's number format
            raise ValueError(f"{text!r} has a decimal comma: write {text.replace(',', '.')!r}") from None
        raise ValueError(f"{text!r} is not a decimal amount (write e.g. 12.50)") from None
    if not amount.is_finite() or "e" in text.lower():
        raise ValueError(f"{text!r} is not a plain decimal amount (write e.g. 12.50)")
    if amount < 0:
        raise ValueError(f"{text!r} is negative")
    if amount >= MONEY_LIMIT:
        raise ValueError(f"{text!r} is too large: the hub holds amounts below {MONEY_LIMIT:,}")
    places = minor_units(currency)
    if -amount.as_tuple().exponent > places:  # type: ignore[operator]
        exact = amount.quantize(Decimal(1).scaleb(-places))
        if exact == amount:
            amount = exact  # trailing zeros (a spreadsheet's 12.5000): the same amount, 12.50
        elif amount != current:
            # An unchanged shop-computed value (PrestaShop's tax-included price has 3 or more decimals) round-trips.
            raise ValueError(f"{text!r} has more than {places} decimals{f' for {currency}' if currency else ''}")
    if -amount.as_tuple().exponent > MONEY_MAX_DECIMALS:  # type: ignore[operator]
        raise ValueError(f"{text!r} has more than {MONEY_MAX_DECIMALS} decimals, which the hub cannot hold")
    return amount


def parse_options(text: str) -> dict[str, str]:
    """``Name=Value;Name=Value`` as a dict, names unique and nothing empty."""
    options: dict[str, str] = {}
    if not text.strip():
        return options
    for part in text.split(LIST_SEPARATOR):
        name, sep, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise ValueError(f"{part!r} is not Name=Value (options are written Size=M;Colour=Black)")
        if name in options:
            raise ValueError(f"option {name!r} is given twice")
        options[name] = value
    return options


def parse_weight(text: str, current: str | None) -> str | None:
    text = text.strip()
    if not text:
        return None
    if text == current:
        return text
    try:
        weight = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number (a weight is a decimal number in the shop's unit)") from None
    if not weight.is_finite() or weight < 0:
        raise ValueError(f"{text!r} is not a weight (a non-negative decimal number)")
    if len(text) > WEIGHT_MAX:
        raise ValueError(f"is longer than {WEIGHT_MAX} characters")
    return text


def parse_barcode(text: str, current: str | None) -> str | None:
    """A barcode (see ``BARCODE``); the hub's current value is kept as it is (a shop's own, e.g. Shopify's, which
    takes any text), so an export always imports back."""
    text = text.strip()
    if not text:
        return None
    if text == current:
        return text
    if len(text) > BARCODE_MAX:
        raise ValueError(f"is longer than {BARCODE_MAX} characters")
    if not BARCODE.fullmatch(text):
        raise ValueError(
            f"{text!r} is not a barcode: GTIN/EAN/UPC/ISBN digits and hyphens, X only as the ISBN-10 check digit"
        )
    return text


def check_sale_price(values: Mapping[str, Any], current: Mapping[str, Any]) -> str | None:
    """Why the row's sale price does not fit its price, or None.

    The hub's ``price`` is what a buyer pays now, so a sale price is at most the price. While a sale is in force (a
    compare-at above the price) the sale price *is* the price. A sale price below the price with no compare-at is a
    sale not in force yet (a WooCommerce scheduled sale, whose dates are set in the shop): accepted only as the
    hub's current value, since pushed to a shop without sale dates it would start at once and never match the hub.
    """
    sale, price, compare = values.get("sale_price"), values.get("price"), values.get("compare_at_price")
    if sale is None or price is None:
        return None
    if sale > price:
        return f"{sale} is above the price {price}: a sale price is at most the price"
    if compare is not None and compare > price:
        if sale != price:
            return (
                f"{sale} differs from the price {price} while the compare-at price {compare} puts the product on "
                "sale: the sale price is then the price (leave it empty or equal)"
            )
        return None
    if sale < price and sale != current.get("sale_price"):
        return (
            f"{sale} is below the price {price} with no compare-at price: to put the variant on sale, set price to "
            "the sale price and compare_at_price to the regular price (a sale for later is scheduled in the shop)"
        )
    return None


def _parse_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(LIST_SEPARATOR) if item.strip()]


def _check_columns(header: Sequence[str]) -> list[RowError]:
    errors = [
        RowError(None, name, f"required column is missing (columns: {', '.join(COLUMNS)})")
        for name in REQUIRED_COLUMNS
        if name not in header
    ]
    for name in header:
        if name not in COLUMNS:
            errors.append(RowError(None, name, f"unknown column (known columns: {', '.join(COLUMNS)})"))
    seen: set[str] = set()
    for name in header:
        if name in seen:
            errors.append(RowError(None, name, "is duplicated: the column appears more than once in the header"))
        seen.add(name)
    return errors


def _parse_product_cell(column: str, text: str) -> Any:
    if column in ("tags", "categories"):
        return _parse_list(text)
    if column == "status":
        if text not in STATUSES:
            raise ValueError(f"{text!r} is not a status: use {', '.join(STATUSES)}")
        return text
    limit = TEXT_LIMITS.get(column)
    if limit is not None and len(text) > limit:
        what = " (the product's kind, e.g. simple or variable; Shopify's type goes in shopify_product_type)"
        raise ValueError(f"is longer than {limit} characters" + (what if column == "product_type" else ""))
    return text


def _parse_variant(row: int, cells: Mapping[str, str], hub: HubVariant | None, errors: list[RowError]) -> dict:
    """The variant's hub values from the row; a column the file lacks keeps the hub's value (new variants: empty)."""
    current = hub.values if hub else {}
    values: dict[str, Any] = {"sku": cells["sku"]}
    values["title"] = (cells["variant_title"] or None) if "variant_title" in cells else current.get("title")
    if "currency" in cells:
        currency = cells["currency"].strip() or None
        if currency is not None and not _CURRENCY.fullmatch(currency):
            errors.append(RowError(row, "currency", f"{currency!r} is not an ISO 4217 code such as EUR"))
            currency = None
    else:
        currency = current.get("currency")
    values["currency"] = currency
    for column in MONEY_COLUMNS:
        if column not in cells:
            values[column] = current.get(column)
            continue
        try:
            values[column] = parse_money(cells[column], currency=currency, current=current.get(column))
        except ValueError as exc:
            errors.append(RowError(row, column, str(exc)))
    if "barcode" in cells:
        try:
            values["barcode"] = parse_barcode(cells["barcode"], current.get("barcode"))
        except ValueError as exc:
            errors.append(RowError(row, "barcode", str(exc)))
    else:
        values["barcode"] = current.get("barcode")
    if "sale_price" in cells and values.get("sale_price") is not None:
        problem = check_sale_price(values, current)
        if problem:
            errors.append(RowError(row, "sale_price", problem))
    elif values.get("sale_price") is not None and any(
        values.get(c) != current.get(c) for c in ("price", "compare_at_price")
    ):
        # The file lacks sale_price, so the hub's is kept: it must still fit the new price (a price lowered below
        # the kept sale price would push a sale price above the price). An unchanged row is not checked.
        problem = check_sale_price(values, current)
        if problem:
            errors.append(
                RowError(
                    row,
                    "price",
                    f"the hub's sale price is kept (the file has no sale_price column) and does not fit: {problem}. "
                    "Add the sale_price column (empty clears it)",
                )
            )
    if "weight" in cells:
        try:
            values["weight"] = parse_weight(cells["weight"], current.get("weight"))
        except ValueError as exc:
            errors.append(RowError(row, "weight", str(exc)))
    else:
        values["weight"] = current.get("weight")
    if "options" in cells:
        try:
            values["options"] = parse_options(cells["options"])
        except ValueError as exc:
            errors.append(RowError(row, "options", str(exc)))
    else:
        values["options"] = current.get("options") if hub else {}
    position = cells.get("position", "").strip()
    values["position"] = None  # empty or absent: the hub's order (new variants: their order in the file)
    if position:
        # ASCII digits only: '²' passes str.isdigit() but not int(), and other scripts' digits are no file's intent.
        if not _DIGITS.fullmatch(position):
            errors.append(RowError(row, "position", f"{position!r} is not a whole number of 0 or more"))
        elif int(position) > POSITION_MAX:
            errors.append(RowError(row, "position", f"{position} is too large: the hub holds at most {POSITION_MAX}"))
        else:
            values["position"] = int(position)
    return values


def validate(
    header: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    hub: HubState,
    numbers: Sequence[int] | None = None,
    *,
    progress: Callable[[int], None] | None = None,
) -> Validation:
    """Check ``rows`` (cells by column) against each other and the hub; the groups to write and every error.

    ``numbers`` are the rows' numbers in the file (blank rows skipped by the reader keep their place); without
    them the rows are numbered from ``FIRST_ROW`` on. ``progress`` is told the number of rows checked every
    ``PROGRESS_EVERY`` rows and at the end."""
    errors = _check_columns(header)
    if errors:
        return Validation(groups=[], errors=errors, file_errors=True)
    groups: dict[str, ProductGroup] = {}
    ungrouped: dict[int, dict[str, Any]] = {}
    sku_rows: dict[str, int] = {}
    product_errors: list[tuple[str, RowError]] = []
    sources: dict[tuple[str, str], int] = {}  # (handle, column) -> row that gave the product value
    for index, raw in enumerate(rows):
        if progress is not None and index and index % PROGRESS_EVERY == 0:
            progress(index)
        row = numbers[index] if numbers is not None else FIRST_ROW + index
        cells: dict[str, str] = {}
        for column in header:
            try:
                cells[column] = cell_text(raw.get(column), column)
            except ValueError as exc:
                errors.append(RowError(row, column, str(exc)))
                cells[column] = ""
            if "\x00" in cells[column]:  # PostgreSQL text cannot hold it; the row is rejected, the rest still checked
                errors.append(RowError(row, column, "contains a NUL character (\\x00), which the hub cannot store"))
                cells[column] = cells[column].replace("\x00", "")
        # Handles and SKUs compare trimmed, as sync compares SKUs (``norm_sku``): 'TEE-S ' is the variant 'TEE-S',
        # never a new one beside it.
        raw_sku = cells["sku"]
        handle, sku = cells["handle"].strip(), raw_sku.strip()
        cells["handle"], cells["sku"] = handle, sku
        if not handle.strip():
            errors.append(RowError(row, "handle", "is empty: every row names its product's handle"))
            ungrouped[row] = dict(raw)
            continue
        if len(handle) > HANDLE_MAX:
            errors.append(RowError(row, "handle", f"is longer than {HANDLE_MAX} characters"))
            ungrouped[row] = dict(raw)
            continue
        if not sku.strip():
            errors.append(RowError(row, "sku", "is empty: every variant needs a SKU (it is the key across shops)"))
        elif len(sku) > SKU_MAX:
            errors.append(RowError(row, "sku", f"is longer than {SKU_MAX} characters"))
        elif sku in sku_rows:
            spaces = " (SKUs compare without leading and trailing spaces)" if raw_sku != sku else ""
            errors.append(
                RowError(row, "sku", f"{raw_sku!r} is already on row {sku_rows[sku]}: SKUs are unique{spaces}")
            )
        elif sku in hub.ambiguous_skus:
            found = ", ".join(repr(s) for s in hub.ambiguous_skus[sku])
            errors.append(
                RowError(row, "sku", f"{sku!r} matches several hub variants ({found}) once spaces are trimmed; fix "
                         "their SKUs first")
            )  # fmt: skip
        else:
            sku_rows[sku] = row
        group = groups.setdefault(
            handle,
            ProductGroup(
                handle=handle,
                first_row=row,
                values={},
                rows=[],
                absent=frozenset(c for c in PRODUCT_COLUMNS if c not in cells),
            ),
        )
        product_values: dict[str, Any] = {}
        for column in PRODUCT_COLUMNS:
            text = cells.get(column, "")
            if not text:
                continue
            try:
                value = _parse_product_cell(column, text)
            except ValueError as exc:
                product_errors.append((handle, RowError(row, column, str(exc))))
                continue
            product_values[column] = value
            if column not in group.values:
                group.values[column] = value
                sources[(handle, column)] = row
            elif group.values[column] != value:
                first = sources[(handle, column)]
                product_errors.append(
                    (
                        handle,
                        RowError(
                            row,
                            column,
                            f"differs from row {first} of the same handle {handle!r}: a product's columns are equal "
                            "on all its rows (or left empty)",
                        ),
                    )
                )
        hub_variant = hub.variants.get(sku) if sku.strip() else None
        values = _parse_variant(row, cells, hub_variant, errors)
        group.rows.append(
            VariantRow(row=row, raw=dict(raw), values=values, hub=hub_variant, product_values=product_values)
        )
    for group in groups.values():
        for column, what in (("title", "a title"), ("status", f"a status ({', '.join(STATUSES)})")):
            if column not in group.values:
                product_errors.append(
                    (group.handle, RowError(group.first_row, column, f"product {group.handle!r} needs {what}"))
                )
        problem = _match_product(group, hub)
        if problem:
            product_errors.append((group.handle, problem))
    # A product error rejects every row of that product: its variants have no valid product to belong to.
    for handle, error in product_errors:
        errors.append(error)
        for variant in groups[handle].rows:
            if variant.row != error.row:
                errors.append(RowError(variant.row, None, f"product {handle!r} has an error on row {error.row}"))
    _drop_rejected_product_values(list(groups.values()), errors)
    errors.sort(key=lambda e: (e.row or 0, e.column or ""))
    if progress is not None:
        progress(len(rows))
    return Validation(groups=list(groups.values()), errors=errors, file_errors=False, ungrouped=ungrouped)


def _drop_rejected_product_values(groups: Sequence[ProductGroup], errors: list[RowError]) -> None:
    """Make a product's values those of its valid rows only (``--partial``: a rejected row contributes nothing).

    A product column given only on rejected rows is then not given: an existing product keeps the hub's value, as
    for a column the file lacks. A new product cannot do without a title and status: when only rejected rows give
    them, its other rows are rejected too (naming the row to fix), rather than written with what a bad row said.
    """
    rejected = {e.row for e in errors if e.row is not None}
    for group in groups:
        good = [v for v in group.rows if v.row not in rejected]
        if not good or len(good) == len(group.rows):
            continue
        values: dict[str, Any] = {}
        for variant in good:
            for column, value in variant.product_values.items():
                values.setdefault(column, value)
        only_rejected = {c for c in group.values if c not in values}
        group.values = values
        group.absent = group.absent | only_rejected
        if group.hub is not None:
            continue
        for column in ("title", "status"):
            if column in only_rejected:
                bad = next(v.row for v in group.rows if column in v.product_values)
                for variant in good:
                    errors.append(
                        RowError(
                            variant.row,
                            column,
                            f"new product {group.handle!r} takes its {column} from row {bad}, which has an error: "
                            f"fix that row, or give the {column} on this row too",
                        )
                    )
                break  # one reason is enough: the row is rejected


def _match_product(group: ProductGroup, hub: HubState) -> RowError | None:
    """Find the hub product of ``group`` (by its SKUs, else by handle); a RowError when that is not possible."""
    owners = {v.hub.product_id for v in group.rows if v.hub is not None}
    if len(owners) > 1:
        ids = ", ".join(f"#{i}" for i in sorted(owners))
        return RowError(
            group.first_row,
            "handle",
            f"the SKUs of handle {group.handle!r} belong to several hub products ({ids}): import cannot merge "
            "products; give them distinct handles",
        )
    if owners:
        product = hub.products[owners.pop()]
        if (product.handle or "").strip() != group.handle:
            variant = next(v for v in group.rows if v.hub is not None and v.hub.product_id == product.id)
            return RowError(
                variant.row,
                "sku",
                f"{variant.values['sku']!r} belongs to hub product #{product.id} with handle {product.handle!r}, "
                f"not {group.handle!r}: import does not move a variant to another product (use its product's "
                "handle, or a new SKU)",
            )
        group.hub = product
        return None
    candidates = [hub.products[i] for i in hub.products_by_handle.get(group.handle, [])]
    live = [p for p in candidates if not p.deleted] or candidates
    if len(live) > 1:
        ids = ", ".join(f"#{p.id}" for p in live)
        return RowError(
            group.first_row,
            "handle",
            f"handle {group.handle!r} names several hub products ({ids}); give them distinct handles first",
        )
    group.hub = live[0] if live else None
    return None
