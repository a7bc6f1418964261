"""The writes the PrestaShop webservice performs: POST, PUT/PATCH and DELETE with PrestaShop's defaults."""

from __future__ import annotations

import contextlib
import hashlib
import re
from typing import Any

from ecom_pipeline.sandbox.prestashop.orders import PrestaOrders
from ecom_pipeline.sandbox.prestashop.resources import RESOURCES, TAG_NAME_MAX
from ecom_pipeline.sandbox.prestashop.rows import (
    COMBINATION_TEMPLATE,
    CUSTOMER_TEMPLATE,
    DECIMAL_FIELD,
    ORDER_TEMPLATE,
    PRODUCT_TEMPLATE,
    ZERO_DATETIME,
    Row,
    StoreError,
    fake_bcrypt,
    money,
    to_int,
)

# Validate::isCatalogName and Validate::isLinkRewrite (PS_ALLOW_ACCENTED_CHARS_URL off, the default install).
CATALOG_NAME = re.compile(r"[^<>;=#{}]*")
LINK_REWRITE = re.compile(r"[_a-zA-Z0-9\-]+")
# Validate::isGenericName.
GENERIC_NAME = re.compile(r"[^<>={}]*")


class PrestaWebservice(PrestaOrders):
    """Row inserts, full and partial replaces, and deletes (a product takes its combinations and stock along)."""

    @staticmethod
    def _normalize(resource: str, values: Row) -> Row:
        """Decimal columns are stored as decimal(20,6): "0.3" is read back as "0.300000"."""
        out = dict(values)
        for key, value in values.items():
            if DECIMAL_FIELD.search(key) and isinstance(value, str) and value.strip():
                with contextlib.suppress(ArithmeticError):
                    out[key] = money(value.strip())
        return out

    def create(self, resource: str, values: Row, assoc: dict[str, list[dict[str, str]]]) -> Row:
        """POST: insert a row with PrestaShop's defaults and side effects; returns the stored row."""
        values = self._normalize(resource, values)
        with self.lock:
            now = self.now()
            if resource == "order_histories":
                oid = to_int(values.get("id_order"))
                state = to_int(values.get("id_order_state"))
                if oid not in self.tables["orders"]:
                    raise StoreError(400, 0, "Order id is invalid")
                if state not in self.tables["order_states"]:
                    raise StoreError(400, 0, "Order state id is invalid")
                return self._add_history(oid, state, now, employee=to_int(values.get("id_employee")))
            if resource == "products":
                row = dict(PRODUCT_TEMPLATE)
                row.update(id_manufacturer="0", id_supplier="0", manufacturer_name="", id_default_image="")
                row.update(values)
                row["id"] = self._new_id("products")
                row["position_in_category"] = str(len(self.tables["products"]) + 1)
                row["date_add"] = values.get("date_add") or now
                row["date_upd"] = now
                self.tables["products"][row["id"]] = row
                self.product_categories[row["id"]] = [row.get("id_category_default") or "2"]
                self.product_images[row["id"]] = []
                self.product_features[row["id"]] = []
                self.combinations_of[row["id"]] = []
                self._new_stock(row["id"], 0, 0)
            elif resource == "customers":
                row = dict(CUSTOMER_TEMPLATE)
                row.update(values)
                row["id"] = self._new_id("customers")
                row["passwd"] = fake_bcrypt(str(values.get("passwd", "")), f"{self.seed}:{row['id']}")
                row["secure_key"] = hashlib.md5(f"{self.seed}:{row['id']}:{now}".encode()).hexdigest()
                row["last_passwd_gen"] = now - 6 * 3600
                row["date_add"] = values.get("date_add") or now
                row["date_upd"] = now
                self.tables["customers"][row["id"]] = row
                self.customer_groups[row["id"]] = ["3"]
            elif resource == "combinations":
                pid = to_int(values.get("id_product"))
                if pid not in self.tables["products"]:
                    raise StoreError(400, 0, "product does not exist")
                row = self._new_combination(pid, {k: v for k, v in values.items() if k != "id"})
            elif resource == "specific_prices":
                pid = to_int(values.get("id_product"))
                if pid and pid not in self.tables["products"]:
                    raise StoreError(400, 0, "product does not exist")
                row = {f: "0" for f in RESOURCES["specific_prices"].fields}
                row.update({k: v for k, v in values.items() if v is not None})
                for field in ("from", "to"):
                    row[field] = str(values.get(field) or ZERO_DATETIME)
                row["id"] = self._new_id("specific_prices")
                self.tables["specific_prices"][row["id"]] = row
            elif resource in ("product_options", "product_option_values"):
                row = self._new_option_row(resource, values)
            elif resource == "categories":
                row = self._new_category(values, now)
            elif resource == "tags":
                row = self._new_tag(values)
            else:
                raise StoreError(405, 0, f"Method POST is not allowed on {resource} in this emulator")
            self.set_associations(resource, row["id"], assoc)
            return row

    def _new_option_row(self, resource: str, values: Row) -> Row:
        """An attribute group (``product_options``) or value (``product_option_values``): the required fields
        (ObjectModel::validateFieldsRequiredDatabase, the multilingual ones in the default language) or error 85;
        the position is the next one of its group, as AttributeGroup/ProductAttribute::add() set it."""
        model = "AttributeGroup" if resource == "product_options" else "ProductAttribute"
        required = ("name", "public_name", "group_type") if resource == "product_options" else ("name",)
        if resource == "product_option_values":
            required = ("id_attribute_group", *required)
        for name in required:
            if not str(self.text(values.get(name)) or "").strip() or str(values.get(name)) == "0":
                raise StoreError(400, 85, f'Validation error: "Property {model}->{name} is empty."')
        row: Row = {f: "" for f in RESOURCES[resource].fields}
        row.update({k: v for k, v in values.items() if v is not None})
        if resource == "product_options":
            row["is_color_group"] = str(values.get("is_color_group") or "0")
            siblings = list(self.tables[resource].values())
        else:
            row["color"] = str(values.get("color") or "")
            siblings = [
                r for r in self.tables[resource].values() if r["id_attribute_group"] == row["id_attribute_group"]
            ]
        row["position"] = str(len(siblings))
        row["id"] = self._new_id(resource)
        self.tables[resource][row["id"]] = row
        return row

    def _new_category(self, values: Row, now: Any) -> Row:
        """A category as ``Category::add`` makes it from a webservice POST: ``name`` and ``link_rewrite`` required in
        the default language (a language not sent takes the default language's value, ``ObjectModel::getFieldsLang``),
        each language's name ``Validate::isCatalogName`` (none of ``<>;=#{}``) and link_rewrite
        ``Validate::isLinkRewrite`` (ASCII letters, digits, ``_`` and ``-``: accented URLs off, the default), else
        error 85; the parent must exist (``calcLevelDepth``); ``level_depth`` its parent's + 1, ``position`` the
        next among its siblings. The exact wording of a real refusal was not recorded; it follows the
        emulator's other error-85 messages (ObjectModel::validateField)."""
        for name, rule in (("name", CATALOG_NAME), ("link_rewrite", LINK_REWRITE)):
            raw = values.get(name)
            default = str(self.text(raw) or "").strip()
            if not default:
                raise StoreError(400, 85, f'Validation error: "Property Category->{name} is empty."')
            texts = raw if isinstance(raw, dict) else {0: raw}
            if any(not rule.fullmatch(str(t or default)) for t in texts.values()):
                raise StoreError(400, 85, f'Validation error: "Property Category->{name} is not valid"')
            if isinstance(raw, dict):
                values[name] = {lid: raw.get(lid) or default for lid in self.language_ids}
        parent = to_int(values.get("id_parent")) or 2
        table = self.tables["categories"]
        if parent not in table:
            raise StoreError(500, 0, "Can not find parent category")
        row: Row = {f: self.translated("") for f in RESOURCES["categories"].multilang}
        row.update({k: v for k, v in values.items() if v is not None})
        row.update(
            id=self._new_id("categories"), id_parent=str(parent), nb_products_recursive="0", id_shop_default="1",
            level_depth=str(to_int(table[parent].get("level_depth")) + 1), is_root_category="0",
            position=str(sum(1 for r in table.values() if r["id_parent"] == str(parent))),
            active=str(values.get("active") or "1"), date_add=now, date_upd=now,
        )  # fmt: skip
        table[row["id"]] = row
        return row

    def _new_tag(self, values: Row) -> Row:
        """A tag as ``Tag::add`` makes it from a webservice POST (ObjectModel::validateFields, else error 85):
        ``id_lang`` and ``name`` required, the name ``Validate::isGenericName`` (none of ``<>={}``) and at most 32
        characters. PrestaShop keeps no uniqueness rule on tag names (a second POST of a name is a second tag)."""
        lang = str(values.get("id_lang") or "").strip()
        if not lang or lang == "0":
            raise StoreError(400, 85, 'Validation error: "Property Tag->id_lang is empty."')
        if not lang.isdigit():
            raise StoreError(400, 85, 'Validation error: "Property Tag->id_lang is not valid"')
        name = str(self.text(values.get("name")) or "")
        if not name.strip():
            raise StoreError(400, 85, 'Validation error: "Property Tag->name is empty."')
        if not GENERIC_NAME.fullmatch(name):
            raise StoreError(400, 85, 'Validation error: "Property Tag->name is not valid"')
        if len(name) > TAG_NAME_MAX:
            size = f"length ({len(name)}) must be between 0 and {TAG_NAME_MAX}"
            message = f'Validation error: "Property Tag->name {size}"'
            raise StoreError(400, 85, message)
        row: Row = {"id": self._new_id("tags"), "id_lang": lang, "name": name}
        self.tables["tags"][row["id"]] = row
        return row

    def replace(self, resource: str, rid: int, values: Row, assoc: dict[str, list[dict[str, str]]], full: bool) -> Row:
        """PUT (``full``: fields not sent are reset, like PrestaShop hydrating a fresh object) or PATCH."""
        values = self._normalize(resource, values)
        with self.lock:
            table = self.tables[resource]
            row = table.get(rid)
            if row is None:
                raise StoreError(404)
            now = self.now()
            if full and resource in ("products", "customers", "combinations", "orders"):
                fresh = {
                    "products": PRODUCT_TEMPLATE,
                    "customers": CUSTOMER_TEMPLATE,
                    "combinations": COMBINATION_TEMPLATE,
                    "orders": ORDER_TEMPLATE,
                }[resource]
                kept = {k: row[k] for k in RESOURCES[resource].read_only | {"id", "id_product"} if k in row}
                zeroed = {k: ("0" if v not in (None, "") else v) for k, v in fresh.items()}
                if resource == "products":
                    zeroed.update(manufacturer_name="", id_default_image="", quantity="0", new=None, redirect_type="")
                row.clear()
                row.update(zeroed)
                row.update(kept)
                row.update(values)
                # PrestaShop re-stamps date_add when a PUT body leaves it out (recorded: products-put-full-xml).
                if "date_add" in RESOURCES[resource].dates and not values.get("date_add"):
                    row["date_add"] = now
            else:
                row.update(values)
            row["id"] = rid
            if resource == "stock_availables":
                pid, ipa = int(row["id_product"]), int(row["id_product_attribute"] or 0)
                row["quantity"] = str(to_int(row.get("quantity")))
                if ipa:
                    self._sync_product_stock(pid)
            elif "date_upd" in RESOURCES[resource].dates:
                row["date_upd"] = now
            self.set_associations(resource, rid, assoc)
            return row

    def delete(self, resource: str, rid: int) -> None:
        with self.lock:
            if resource == "products":
                self.delete_product(rid)
                return
            if resource == "combinations":
                self.delete_combination(rid)
                return
            if self.tables[resource].pop(rid, None) is None:
                raise StoreError(404)

    def delete_combination(self, cid: int) -> None:
        """Delete a combination as ``Combination::delete`` does: its stock row goes, the product's stock is the sum
        of the remaining combinations, and the product's default combination moves to the first remaining one (0
        when none is left). The product's ``date_upd`` is left as it was (the product row is not saved)."""
        with self.lock:
            row = self.tables["combinations"].pop(cid, None)
            if row is None:
                raise StoreError(404)
            pid = int(row["id_product"])
            combos = self.combinations_of.get(pid, [])
            if cid in combos:
                combos.remove(cid)
            self.combination_values.pop(cid, None)
            self.combination_images.pop(cid, None)
            sid = self.stock_index.pop((pid, cid), None)
            if sid is not None:
                self.tables["stock_availables"].pop(sid, None)
            self._sync_product_stock(pid)
            product = self.tables["products"].get(pid)
            if product is not None and int(product.get("id_default_combination") or 0) == cid:
                product["id_default_combination"] = combos[0] if combos else 0
                product["cache_default_attribute"] = str(combos[0] if combos else 0)

    def delete_product(self, pid: int) -> None:
        """Delete a product with its combinations and stock rows (it is gone from the webservice: 404)."""
        with self.lock:
            if self.tables["products"].pop(pid, None) is None:
                raise StoreError(404)
            had_combinations = bool(self.combinations_of.get(pid))
            for cid in self.combinations_of.pop(pid, []):
                self.tables["combinations"].pop(cid, None)
                self.stock_index.pop((pid, cid), None)
            for key in [k for k in self.stock_index if k[0] == pid]:
                self.tables["stock_availables"].pop(self.stock_index.pop(key), None)
            stale = [sid for sid, r in self.tables["stock_availables"].items() if r["id_product"] == str(pid)]
            for sid in stale:
                self.tables["stock_availables"].pop(sid, None)
            if had_combinations:
                # Recorded (stock-availables-orphans-after-product-delete.json): deleting a product with
                # combinations leaves ONE new product-level row behind (new id, quantity 0, out_of_stock 0) for
                # the deleted id. It belongs to no product, so it is not in stock_index.
                sid = self._new_id("stock_availables")
                self.tables["stock_availables"][sid] = {
                    "id": sid, "id_product": str(pid), "id_product_attribute": "0", "id_shop": "1",
                    "id_shop_group": "0", "quantity": "0", "depends_on_stock": "0", "out_of_stock": "0",
                    "location": "",
                }  # fmt: skip
            for row in [r for r in self.tables["specific_prices"].values() if r["id_product"] == str(pid)]:
                self.tables["specific_prices"].pop(int(row["id"]), None)
