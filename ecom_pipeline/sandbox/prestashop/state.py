"""The state of one emulated PrestaShop 8.2.1 shop: tables, ids, clock, languages, prices, stock rows, associations.

Date semantics, as recorded: every date is shop-local ``YYYY-MM-DD HH:MM:SS`` (no offset) and filters/sorts compare
those local strings; in the autumn DST hour local times repeat, so a poller keyed on ``date_upd`` can see time go
backwards, as on a real shop.

Stock semantics (see the package docstring): a stock change touches only ``stock_availables`` rows; no date moves.
Everything is read and written under ``lock`` (an RLock), so tests can change a shop while the server serves it.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from ecom_pipeline.sandbox.clock import SandboxClock
from ecom_pipeline.sandbox.prestashop.resources import LANGUAGES_SEED, RESOURCES
from ecom_pipeline.sandbox.prestashop.rows import COMBINATION_TEMPLATE, ZERO_DATETIME, Row, money
from ecom_pipeline.sandbox.seeding import SeededStore

Languages = tuple[str, ...]  # ISO codes, the default language first
Clock = SandboxClock | None


class PrestaState(SeededStore):
    """The tables, id sequences, clock and languages of one shop, with its computed reads.

    The writes are mixins over this state (:mod:`.orders`, :mod:`.webservice`), the seeded data comes from
    :mod:`.seed`, and :class:`~.store.PrestaStore` adds the admin operations.
    """

    def __init__(
        self, languages: Languages, name: str, seed: int, tz: str, clock: Clock, anchor: datetime | None
    ) -> None:
        super().__init__(name, seed, tz, clock, anchor)
        unknown = [iso for iso in languages if iso not in LANGUAGES_SEED]
        if not languages or unknown:
            raise ValueError(f"languages must be among {sorted(LANGUAGES_SEED)}, got {list(languages)}")
        # Language ids 1..n in the order given; 1 is PS_LANG_DEFAULT. Multilingual values of a shop with several
        # languages are stored as {language id: text}; a plain string means the same text in every language.
        self.languages = tuple(languages)
        self.language_ids = tuple(range(1, len(languages) + 1))
        self.tables: dict[str, dict[int, Row]] = {name: {} for name in RESOURCES}
        self.next_ids: dict[str, int] = dict.fromkeys(RESOURCES, 1)
        # Associations that are not derived from other tables.
        self.product_categories: dict[int, list[str]] = {}
        self.product_tags: dict[int, list[str]] = {}  # tag ids of every language (ps_product_tag)
        self.product_images: dict[int, list[str]] = {}
        self.product_features: dict[int, list[tuple[str, str]]] = {}
        self.combinations_of: dict[int, list[int]] = {}
        self.combination_values: dict[int, list[str]] = {}
        self.combination_images: dict[int, list[str]] = {}
        self.stock_index: dict[tuple[int, int], int] = {}
        self.order_rows: dict[int, list[Row]] = {}
        # Orders whose lines took their quantities from stock (a front-office or webservice order): a cancel gives
        # them back (``PrestaOrders._add_history``).
        self.stock_taken: set[int] = set()
        self.customer_groups: dict[int, list[str]] = {}
        self.detail_taxes: dict[int, list[str]] = {}
        self._next_order_row = 1
        self._local = lru_cache(maxsize=65536)(self._format_local)
        self._rng = random.Random(f"prestashop:{seed}")

    # ------------------------------------------------------------------ time

    def _format_local(self, ts: int) -> str:
        return datetime.fromtimestamp(ts, self.tz).strftime("%Y-%m-%d %H:%M:%S")

    def local(self, ts: int) -> str:
        """Epoch seconds as the shop prints them: local wall time in the shop's time zone, no offset."""
        return self._local(ts)

    def date_value(self, value: Any) -> str:
        """A stored date field as printed (epoch -> local string; unset -> zero date; written strings as is)."""
        if value is None:
            return ZERO_DATETIME
        if isinstance(value, int):
            return self._local(value)
        return str(value)

    # ------------------------------------------------------------------ languages

    @property
    def multilingual(self) -> bool:
        return len(self.language_ids) > 1

    def translated(self, english: str, french: str | None = None) -> Any:
        """A multilingual value: the plain text in a one-language shop, else {language id: text}.

        The French text defaults to the English one (as for order states and most countries on the recorded store).
        """
        if not self.multilingual:
            return english
        by_iso = {"en": english, "fr": french if french is not None else english}
        return {lid: by_iso.get(iso, english) for lid, iso in zip(self.language_ids, self.languages, strict=True)}

    def text(self, raw: Any, language_id: int | None = None) -> Any:
        """One language's text of a stored multilingual value (the default language when not given)."""
        if isinstance(raw, dict):
            lid = language_id or self.language_ids[0]
            return raw.get(lid, raw.get(self.language_ids[0], ""))
        return raw

    # ------------------------------------------------------------------ ids

    def _new_id(self, table: str) -> int:
        new = self.next_ids[table]
        self.next_ids[table] = new + 1
        return new

    # ------------------------------------------------------------------ computed prices

    def tax_rate(self, product: Row) -> Decimal:
        """The rate of the product's tax rule group for the shop's default country (France, id 8), in percent."""
        group = str(product.get("id_tax_rules_group") or "0")
        for rule in self.tables["tax_rules"].values():
            if rule["id_tax_rules_group"] == group and rule["id_country"] == "8":
                tax = self.tables["taxes"].get(int(rule["id_tax"]))
                return Decimal(tax["rate"]) if tax else Decimal(0)
        return Decimal(0)

    def computed_price(
        self, pid: int, *, use_tax: bool, use_reduction: bool = True, product_attribute: int | None = None
    ) -> str:
        """What ``price[NAME][...]`` adds to a product: Product::getPriceStatic, rounded to cents, 6 decimals.

        The default combination's impact applies when no ``product_attribute`` is given; specific prices in force
        now (shop-local from/to, "0000-00-00 00:00:00" = unlimited) apply unless ``use_reduction`` is 0.
        """
        product = self.tables["products"][pid]
        attribute = (
            product_attribute if product_attribute is not None else int(product.get("id_default_combination") or 0)
        )
        price = Decimal(product["price"])
        combination = self.tables["combinations"].get(attribute) if attribute else None
        if combination is not None and combination.get("id_product") == str(pid):
            price += Decimal(combination["price"] or 0)
        else:
            attribute = 0
        rate = self.tax_rate(product) if use_tax else Decimal(0)
        factor = 1 + rate / 100
        now = self.local(self.now())
        specific = None
        for row in self.tables["specific_prices"].values():
            if row["id_product"] not in (str(pid), "0") or row["id_product_attribute"] not in ("0", str(attribute)):
                continue
            if row["from"] not in (ZERO_DATETIME, "") and row["from"] > now:
                continue
            if row["to"] not in (ZERO_DATETIME, "") and row["to"] < now:
                continue
            specific = row
        if specific is not None and Decimal(specific["price"]) >= 0:
            price = Decimal(specific["price"])
        amount = price * factor
        if use_reduction and specific is not None:
            reduction = Decimal(specific["reduction"] or 0)
            if specific["reduction_type"] == "percentage":
                amount = amount * (1 - reduction)
            elif specific["reduction_tax"] == "1":
                amount = amount - (reduction if use_tax else reduction / (1 + self.tax_rate(product) / 100))
            else:
                amount = amount - reduction * factor
        return money(max(amount, Decimal(0)).quantize(Decimal("0.01")))

    def _new_combination(
        self, pid: int, values: dict[str, Any], option_values: Iterable[str] = (), quantity: int = 0
    ) -> Row:
        cid = self._new_id("combinations")
        row = dict(COMBINATION_TEMPLATE)
        if self.multilingual:
            row["low_stock_threshold"] = None  # NULL on the recorded generated combinations
            for field in RESOURCES["combinations"].multilang:
                row[field] = self.translated(row.get(field) or "")
        row.update(values)
        row["id"] = cid
        row["id_product"] = str(pid)
        self.tables["combinations"][cid] = row
        self.combinations_of.setdefault(pid, []).append(cid)
        self.combination_values[cid] = list(option_values)
        self.combination_images[cid] = list(self.product_images.get(pid, []))
        product = self.tables["products"][pid]
        if row.get("default_on") == "1" or product["id_default_combination"] == 0:
            product["id_default_combination"] = cid
            product["cache_default_attribute"] = str(cid)
        self._new_stock(pid, cid, int(quantity))
        return row

    def _new_stock(self, pid: int, ipa: int, quantity: int) -> Row:
        sid = self._new_id("stock_availables")
        row: Row = {
            "id": sid,
            "id_product": str(pid),
            "id_product_attribute": str(ipa),
            "id_shop": "1",
            "id_shop_group": "0",
            "quantity": str(quantity),
            "depends_on_stock": "0",
            "out_of_stock": "2",
            "location": "",
        }
        self.tables["stock_availables"][sid] = row
        self.stock_index[(pid, ipa)] = sid
        if ipa:
            self._sync_product_stock(pid)
        return row

    def _sync_product_stock(self, pid: int) -> None:
        """Product-level row = sum of its combinations' rows (StockAvailable::postSave in PrestaShop)."""
        combos = self.combinations_of.get(pid) or []
        if not combos:
            return
        rows = self.tables["stock_availables"]
        total = sum(int(rows[self.stock_index[(pid, c)]]["quantity"]) for c in combos if (pid, c) in self.stock_index)
        sid = self.stock_index.get((pid, 0))
        if sid is not None:
            rows[sid]["quantity"] = str(total)

    # ------------------------------------------------------------------ stock

    def _adjust_stock(self, pid: int, ipa: int, delta: int) -> None:
        sid = self.stock_index.get((pid, ipa))
        if sid is None:
            return
        row = self.tables["stock_availables"][sid]
        row["quantity"] = str(int(row["quantity"]) + delta)
        if ipa:
            self._sync_product_stock(pid)

    # ------------------------------------------------------------------ associations

    def associations(self, resource: str, row: Row) -> dict[str, list[dict[str, str]]]:
        """The association lists of one row, in PrestaShop's order (empty lists included)."""
        rid = int(row["id"])
        if resource == "products":
            combos = self.combinations_of.get(rid, [])
            seen: dict[str, None] = {}
            for c in combos:
                for v in self.combination_values.get(c, []):
                    seen.setdefault(v, None)
            stock = []
            for ipa in [0, *combos]:
                sid = self.stock_index.get((rid, ipa))
                if sid is not None:
                    stock.append({"id": str(sid), "id_product_attribute": str(ipa)})
            return {
                "categories": [{"id": c} for c in self.product_categories.get(rid, [])],
                "images": [{"id": i} for i in self.product_images.get(rid, [])],
                "combinations": [{"id": str(c)} for c in combos],
                "product_option_values": [{"id": v} for v in seen],
                "product_features": [{"id": f, "id_feature_value": v} for f, v in self.product_features.get(rid, [])],
                "tags": [{"id": t} for t in self.product_tags.get(rid, [])],
                "stock_availables": stock,
                "attachments": [],
                "accessories": [],
                "product_bundle": [],
            }
        if resource == "product_options":
            values = self.tables["product_option_values"].values()
            return {
                "product_option_values": [{"id": str(v["id"])} for v in values if v["id_attribute_group"] == str(rid)]
            }
        if resource == "combinations":
            return {
                "product_option_values": [{"id": v} for v in self.combination_values.get(rid, [])],
                "images": [{"id": i} for i in self.combination_images.get(rid, [])],
            }
        if resource == "orders":
            return {"order_rows": [dict(r) for r in self.order_rows.get(rid, [])]}
        if resource == "customers":
            return {"groups": [{"id": g} for g in self.customer_groups.get(rid, [])]}
        if resource == "order_details":
            return {"taxes": [{"id": t} for t in self.detail_taxes.get(rid, [])]}
        if resource == "categories":
            children = [str(c) for c, r in self.tables["categories"].items() if r["id_parent"] == str(rid)]
            products = [str(p) for p, cats in sorted(self.product_categories.items()) if str(rid) in cats]
            return {"categories": [{"id": c} for c in children], "products": [{"id": p} for p in products]}
        return {}

    def set_associations(self, resource: str, rid: int, assoc: dict[str, list[dict[str, str]]]) -> None:
        """Apply associations sent by a client (only the ones PrestaShop lets a client set)."""
        if resource == "products":
            if "categories" in assoc:
                self.product_categories[rid] = [a["id"] for a in assoc["categories"] if a.get("id")]
            if "tags" in assoc:
                # Product::setWsTags: the product's tags (every language) replaced by the ids sent, in their order.
                self.product_tags[rid] = list(dict.fromkeys(a["id"] for a in assoc["tags"] if a.get("id")))
            if "product_features" in assoc:
                self.product_features[rid] = [
                    (a["id"], a.get("id_feature_value", "")) for a in assoc["product_features"] if a.get("id")
                ]
        elif resource == "combinations":
            if "product_option_values" in assoc:
                self.combination_values[rid] = [a["id"] for a in assoc["product_option_values"] if a.get("id")]
        elif resource == "customers" and "groups" in assoc:
            self.customer_groups[rid] = [a["id"] for a in assoc["groups"] if a.get("id")] or ["3"]
