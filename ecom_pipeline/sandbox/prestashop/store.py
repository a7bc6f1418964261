"""The data of one emulated PrestaShop 8.2.1 shop: seeded tables and the mutations the real shop performs.

Rows are plain dicts of PHP-like values (strings, ``None``; dates as epoch seconds, or verbatim local strings when a
client wrote them), keyed like the webservice fields, because the webservice is a thin view of MySQL rows: keeping
that shape lets display/filter/sort work generically, exactly as PrestaShop does on any field.

Date semantics, as recorded: every date is shop-local ``YYYY-MM-DD HH:MM:SS`` (no offset) and filters/sorts compare
those local strings; in the autumn DST hour local times repeat, so a poller keyed on ``date_upd`` can see time go
backwards, as on a real shop.

Stock semantics (see the package docstring): a stock change touches only ``stock_availables`` rows; no date moves.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import re
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from ecom_pipeline.sandbox.clock import SandboxClock
from ecom_pipeline.sandbox.prestashop.resources import (
    CATEGORIES_SEED,
    COMBINATION_FIELDS,
    COUNTRIES_SEED,
    CUSTOMER_FIELDS,
    LANGUAGES_SEED,
    ORDER_DETAIL_FIELDS,
    ORDER_FIELDS,
    ORDER_STATE_FIELDS,
    ORDER_STATES_SEED,
    PRODUCT_FIELDS,
    RESOURCES,
    TAXES_SEED,
)

Row = dict[str, Any]
_DECIMAL_FIELD = re.compile(
    r"^(price|wholesale_price|weight|width|height|depth|ecotax|unit_price|unit_price_ratio|additional_shipping_cost"
    r"|unit_price_impact|outstanding_allow_amount|total_\w+)$"
)
ZERO_DATETIME = "0000-00-00 00:00:00"
ZERO_DATE = "0000-00-00"

_ADJ = ("Hummingbird", "Mountain", "Brown", "Golden", "Silent", "Crimson", "Arctic", "Velvet", "Rustic", "Urban")
_NOUN = ("t-shirt", "sweater", "mug", "cushion", "poster", "notebook", "tote bag", "cap", "scarf", "candle")
_SIZES = ("S", "M", "L", "XL")
_COLORS = ("White", "Black", "Grey", "Red", "Blue")
_FIRST = ("John", "Zoë", "Anna", "Luc", "Marie", "Pierre", "Inès", "Jean", "Chloé", "Hugo")
_LAST = ("DOE", "Müller", "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Petit", "Durand", "Leroy")

PRODUCT_TEMPLATE: Row = {f: "" for f in PRODUCT_FIELDS}
PRODUCT_TEMPLATE.update(
    {
        "id_manufacturer": "1", "id_supplier": "1", "id_category_default": "2", "new": None,
        "cache_default_attribute": "0", "id_default_image": "", "id_default_combination": 0,
        "id_tax_rules_group": "1", "position_in_category": "0", "manufacturer_name": "Studio Design",
        "quantity": "0", "type": "simple", "id_shop_default": "1", "width": "0.000000", "height": "0.000000",
        "depth": "0.000000", "weight": "0.300000", "quantity_discount": "0", "cache_is_pack": "0",
        "cache_has_attachments": "0", "is_virtual": "0", "state": "1", "additional_delivery_times": "1",
        "product_type": "standard", "on_sale": "0", "online_only": "0", "ecotax": "0.000000",
        "minimal_quantity": "1", "low_stock_threshold": "0", "low_stock_alert": "0", "unit_price": "0.000000",
        "unit_price_ratio": "0.000000", "additional_shipping_cost": "0.000000", "customizable": "0",
        "text_fields": "0", "uploadable_files": "0", "active": "1", "redirect_type": "301-category",
        "id_type_redirected": "0", "available_for_order": "1", "available_date": ZERO_DATE, "show_condition": "0",
        "condition": "new", "show_price": "1", "indexed": "1", "visibility": "both",
        "advanced_stock_management": "0", "pack_stock_type": "3",
    }
)  # fmt: skip

COMBINATION_TEMPLATE: Row = {f: "" for f in COMBINATION_FIELDS}
COMBINATION_TEMPLATE.update(
    {
        "wholesale_price": "0.000000", "price": "0.000000", "ecotax": "0.000000", "weight": "0.000000",
        "unit_price_impact": "0.000000", "minimal_quantity": "1", "low_stock_threshold": "0",
        "low_stock_alert": "0", "available_date": ZERO_DATE,
    }
)  # fmt: skip

ORDER_TEMPLATE: Row = {f: "0" for f in ORDER_FIELDS}
ORDER_TEMPLATE.update(
    {
        "id_currency": "1", "id_lang": "1", "id_carrier": "2", "module": "ps_checkpayment",
        "invoice_date": None, "delivery_date": None, "shipping_number": "", "note": "", "id_shop_group": "1",
        "id_shop": "1", "payment": "Payment by check", "gift_message": "", "carrier_tax_rate": "0.000",
        "round_mode": "2", "round_type": "2", "conversion_rate": "1.000000",
    }
)  # fmt: skip

CUSTOMER_TEMPLATE: Row = {f: "0" for f in CUSTOMER_FIELDS}
CUSTOMER_TEMPLATE.update(
    {
        "id_default_group": "3", "id_lang": "1", "newsletter_date_add": None, "ip_registration_newsletter": "",
        "birthday": ZERO_DATE, "website": "", "company": "", "siret": "", "ape": "",
        "outstanding_allow_amount": "0.000000", "active": "1", "note": "", "id_shop": "1", "id_shop_group": "1",
        "reset_password_token": "", "reset_password_validity": None,
    }
)  # fmt: skip

# PAID states decrement nothing more; orders are seeded in these states, weighted towards the common ones.
SEED_STATES = (2, 2, 3, 4, 4, 5, 5, 5, 6, 1, 10)


class StoreError(Exception):
    """A webservice error: HTTP status plus PrestaShop's numbered error(s)."""

    def __init__(self, status: int, code: int | None = None, message: str = "", extra: list[Any] | None = None):
        super().__init__(message)
        self.status = status
        self.errors: list[tuple[int, str]] = [] if code is None else [(code, message)]
        self.errors += extra or []


def money(value: Decimal | float | int | str) -> str:
    """PrestaShop's decimal(20,6) as printed: ``"23.900000"``."""
    return f"{Decimal(str(value)).quantize(Decimal('0.000001'))}"


def fake_bcrypt(password: str, salt: str) -> str:
    """A bcrypt-shaped hash (``$2y$10$`` + 53 chars): the real algorithm is not needed, only its shape."""
    alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    digest = hashlib.sha256(f"{salt}:{password}".encode()).digest() * 2
    return "$2y$10$" + "".join(alphabet[b % 64] for b in digest[:53])


class PrestaStore:
    """All tables of one shop, generated deterministically from ``seed``.

    ``anchor`` is when the seeded history ends (default: the clock's current UTC day at 00:00), so stores built
    the same day with the same seed are identical and every seeded date is in the past.
    """

    def __init__(
        self,
        name: str,
        seed: int = 1,
        products: int = 50,
        variable_share: float = 0.3,
        orders: int = 120,
        customers: int = 40,
        timezone: str = "Europe/Paris",
        clock: SandboxClock | None = None,
        anchor: datetime | None = None,
        languages: tuple[str, ...] = ("en",),
    ) -> None:
        self.name = name
        unknown = [iso for iso in languages if iso not in LANGUAGES_SEED]
        if not languages or unknown:
            raise ValueError(f"languages must be among {sorted(LANGUAGES_SEED)}, got {list(languages)}")
        # Language ids 1..n in the order given; 1 is PS_LANG_DEFAULT. Multilingual values of a shop with several
        # languages are stored as {language id: text}; a plain string means the same text in every language.
        self.languages = tuple(languages)
        self.language_ids = tuple(range(1, len(languages) + 1))
        self.seed = seed
        self.timezone = timezone
        self.tz = ZoneInfo(timezone)
        self.clock = clock or SandboxClock()
        if anchor is None:
            now = self.clock.now()
            anchor = datetime(now.year, now.month, now.day, tzinfo=UTC)
        self.anchor = int(anchor.timestamp())
        self.lock = threading.RLock()
        self.tables: dict[str, dict[int, Row]] = {name: {} for name in RESOURCES}
        self.next_ids: dict[str, int] = dict.fromkeys(RESOURCES, 1)
        # Associations that are not derived from other tables.
        self.product_categories: dict[int, list[str]] = {}
        self.product_images: dict[int, list[str]] = {}
        self.product_features: dict[int, list[tuple[str, str]]] = {}
        self.combinations_of: dict[int, list[int]] = {}
        self.combination_values: dict[int, list[str]] = {}
        self.combination_images: dict[int, list[str]] = {}
        self.stock_index: dict[tuple[int, int], int] = {}
        self.order_rows: dict[int, list[Row]] = {}
        self.customer_groups: dict[int, list[str]] = {}
        self.detail_taxes: dict[int, list[str]] = {}
        self._next_order_row = 1
        self._local = lru_cache(maxsize=65536)(self._format_local)
        self._rng = random.Random(f"prestashop:{seed}")
        self._seed_order_states()
        self._seed_configuration()
        self._seed_currencies()
        self._seed_reference_tables()
        self._generate(products, variable_share, orders, customers)

    # ------------------------------------------------------------------ time

    def now(self) -> int:
        """Current emulated time in whole seconds (MySQL DATETIME resolution)."""
        return self.clock.seconds()

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

    # ------------------------------------------------------------------ generation

    def _seed_order_states(self) -> None:
        for sid, name, paid, shipped, delivery, color in ORDER_STATES_SEED:
            row: Row = dict.fromkeys(ORDER_STATE_FIELDS, "0")
            row.update(
                id=sid,
                name=self.translated(name),
                paid=paid,
                shipped=shipped,
                delivery=delivery,
                color=color,
                module_name="",
                template=self.translated(""),
                logable=paid,
                invoice=paid,
                send_email="1" if shipped == "1" or paid == "1" else "0",
                unremovable="1",
            )
            self.tables["order_states"][sid] = row
        self.next_ids["order_states"] = 14

    def _seed_currencies(self) -> None:
        """One currency, EUR (id 1): the default of a French-locale PrestaShop, named by PS_CURRENCY_DEFAULT."""
        self.tables["currencies"][1] = {
            "id": 1,
            "names": "Euro",
            "name": "Euro",
            "symbol": "€",
            "iso_code": "EUR",
            "numeric_iso_code": "978",
            "precision": "2",
            "conversion_rate": "1.000000",
            "deleted": "0",
            "active": "1",
            "unofficial": "0",
            "modified": "0",
            "pattern": "",
        }
        self.next_ids["currencies"] = 2

    def _seed_configuration(self) -> None:
        settings = {
            "PS_TIMEZONE": self.timezone,
            "PS_LANG_DEFAULT": "1",
            "PS_CURRENCY_DEFAULT": "1",
            "PS_SHOP_NAME": self.name,
            "PS_STOCK_MANAGEMENT": "1",
        }
        for name, value in settings.items():
            cid = self._new_id("configurations")
            self.tables["configurations"][cid] = {
                "id": cid,
                "value": value,
                "name": name,
                "id_shop_group": "",  # recorded "": a global value (NULL in the database)
                "id_shop": "",
                "date_add": self.anchor - 90 * 86400,
                "date_upd": self.anchor - 90 * 86400,
            }

    def _seed_reference_tables(self) -> None:
        """Languages, categories, countries, taxes and two specific prices, as on the recorded stores."""
        born = self.anchor - 90 * 86400
        for lid, iso in zip(self.language_ids, self.languages, strict=True):
            name, locale, code, lite, full = LANGUAGES_SEED[iso]
            self.tables["languages"][lid] = {
                "id": lid, "name": name, "iso_code": iso, "locale": locale, "language_code": code, "active": "1",
                "is_rtl": "0", "date_format_lite": lite, "date_format_full": full,
            }  # fmt: skip
        position: dict[int, int] = {}
        for cid, parent, depth, english, french in CATEGORIES_SEED:
            position[parent] = position.get(parent, -1) + 1
            slug = english.lower().replace(" ", "-")
            self.tables["categories"][cid] = {
                "id": cid, "id_parent": str(parent), "level_depth": str(depth), "nb_products_recursive": "0",
                "active": "1", "id_shop_default": "1", "is_root_category": "1" if cid == 2 else "0",
                "position": str(position[parent]), "date_add": born, "date_upd": born,
                "name": self.translated(english, french),
                "link_rewrite": self.translated(slug, french.lower().replace(" ", "-")),
                "description": self.translated(
                    f"<p>{english}</p>" if depth > 1 else "", f"<p>{french}</p>" if depth > 1 else ""
                ),
                "additional_description": self.translated(""), "meta_title": self.translated(""),
                "meta_description": self.translated(""), "meta_keywords": self.translated(""),
            }  # fmt: skip
        self.next_ids["categories"] = 10
        for cid, iso, prefix, english, french in COUNTRIES_SEED:
            self.tables["countries"][cid] = {
                "id": cid, "id_zone": "2" if iso == "US" else "1", "id_currency": "0", "call_prefix": prefix,
                "iso_code": iso, "active": "1", "contains_states": "1" if iso == "US" else "0",
                "need_identification_number": "0", "need_zip_code": "1",
                "zip_code_format": "NNNNN", "display_tax_label": "1", "name": self.translated(english, french),
            }  # fmt: skip
        rule = 0
        for tid, rate, group in TAXES_SEED:
            label = f"TVA FR {rate.rstrip('0').rstrip('.')}%"
            self.tables["taxes"][tid] = {
                "id": tid, "rate": rate, "active": "1", "deleted": "0", "name": self.translated(label),
            }  # fmt: skip
            self.tables["tax_rule_groups"][tid] = {
                "id": tid, "name": group, "active": "1", "deleted": "0", "date_add": born, "date_upd": born,
            }  # fmt: skip
            for country, *_ in COUNTRIES_SEED:
                if country == 21:
                    continue  # no French VAT rule for the United States
                rule += 1
                self.tables["tax_rules"][rule] = {
                    "id": rule, "id_tax_rules_group": str(tid), "id_state": "0", "id_country": str(country),
                    "zipcode_from": "0", "zipcode_to": "0", "id_tax": str(tid), "behavior": "0", "description": "",
                }  # fmt: skip
        for table, count in (("taxes", 5), ("tax_rule_groups", 5), ("tax_rules", rule + 1)):
            self.next_ids[table] = count
        self.next_ids["languages"] = len(self.language_ids) + 1

    def _seed_addresses(self) -> None:
        """Four supplier/manufacturer addresses (no customer), then one address per customer (id = customer + 4)."""
        born = self.anchor - 90 * 86400
        rng = random.Random(f"prestashop-addresses:{self.seed}")
        template = {f: "" for f in RESOURCES["addresses"].fields}
        for aid in (1, 2, 3, 4):
            self.tables["addresses"][aid] = {
                **template, "id": aid, "id_customer": "0", "id_manufacturer": "1" if aid % 2 else "0",
                "id_supplier": "0" if aid % 2 else "1", "id_warehouse": "0", "id_country": "21", "id_state": "0",
                "alias": "supplier" if aid % 2 == 0 else "manufacturer", "lastname": "supplier",
                "firstname": "supplier",
                "address1": "767 Fifth Ave", "postcode": "10153", "city": "New York", "phone": "(212) 336-1440",
                "deleted": "0", "date_add": born, "date_upd": born,
            }  # fmt: skip
        for cid, customer in sorted(self.tables["customers"].items()):
            aid = cid + 4
            country = rng.choice((8, 8, 8, 8, 3, 1, 21))
            city = {8: "Paris", 3: "Bruxelles", 1: "Berlin", 21: "Boston"}[country]
            self.tables["addresses"][aid] = {
                **template, "id": aid, "id_customer": str(cid), "id_manufacturer": "0", "id_supplier": "0",
                "id_warehouse": "0", "id_country": str(country), "id_state": "0", "alias": "Home",
                "lastname": customer["lastname"], "firstname": customer["firstname"],
                "address1": f"{rng.randint(1, 99)} rue de la Paix", "postcode": f"{rng.randint(10000, 99999)}",
                "city": city, "phone": f"01 23 45 67 {cid % 100:02d}", "deleted": "0",
                "date_add": customer["date_add"], "date_upd": customer["date_add"],
            }  # fmt: skip
        self.next_ids["addresses"] = max(self.tables["addresses"]) + 1

    def _seed_specific_prices(self) -> None:
        """Two 20 % reductions on the first two products, unlimited in time (as the demo data has)."""
        template = {f: "0" for f in RESOURCES["specific_prices"].fields}
        for pid in sorted(self.tables["products"])[:2]:
            sid = self._new_id("specific_prices")
            self.tables["specific_prices"][sid] = {
                **template, "id": sid, "id_product": str(pid), "price": "-1.000000", "from_quantity": "1",
                "reduction": "0.200000", "reduction_tax": "1", "reduction_type": "percentage",
                "from": ZERO_DATETIME, "to": ZERO_DATETIME,
            }  # fmt: skip

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

    def _generate(self, n_products: int, variable_share: float, n_orders: int, n_customers: int) -> None:
        rng = self._rng
        span = 90 * 86400
        start = self.anchor - span
        product_window = span * 2 // 3
        step = max(1, product_window // max(1, n_products))
        t = start
        for i in range(n_products):
            t += rng.randint(0, step * 2) if rng.random() > 0.1 else 0  # some products share a second
            self._gen_product(i, t, rng.random() < variable_share)
        for i in range(n_customers):
            self._gen_customer(i, start + rng.randint(0, span - 3600))
        order_start = start + product_window
        order_step = max(1, (span - product_window - 7200) // max(1, n_orders))
        t = order_start
        pids = list(self.tables["products"])
        cids = list(self.tables["customers"])
        for _ in range(n_orders):
            if not pids:
                break
            t += rng.randint(0, order_step * 2) if rng.random() > 0.1 else 0
            self._gen_order(min(t, self.anchor - 3600), pids, cids)
        self._seed_addresses()
        self._seed_specific_prices()
        for row in self.tables["products"].values():  # a share of the catalogue was edited later
            if rng.random() < 0.3:
                row["date_upd"] = max(row["date_upd"], rng.randint(row["date_add"], self.anchor - 60))

    def _gen_product(self, i: int, t: int, with_combinations: bool) -> None:
        rng = self._rng
        pid = self._new_id("products")
        name = f"{rng.choice(_ADJ)} {rng.choice(_NOUN)}" + (f" {i}" if i >= 50 else "")
        row = dict(PRODUCT_TEMPLATE)
        price = Decimal(rng.randint(300, 9000)) / 100
        row.update(
            id=pid,
            id_category_default=str(rng.randint(3, 9)),
            id_default_image=str(pid),
            id_tax_rules_group="1",
            position_in_category=str(i + 1),
            reference=f"PS-{pid:05d}",
            price=money(price),
            wholesale_price=money(price * Decimal("0.4")),
            date_add=t,
            date_upd=t,
            name=self.translated(name, f"{name} FR"),
            link_rewrite=self.translated(name.lower().replace(" ", "-")),
            description=self.translated(f"<p>{name}, made with care.</p>", f"<p>{name}, fait avec soin.</p>"),
            description_short=self.translated(f"<p>{name}.</p>"),
        )
        for field in RESOURCES["products"].multilang - {"name", "link_rewrite", "description", "description_short"}:
            row[field] = self.translated(row.get(field) or "")
        if self.multilingual:  # like the recorded generated products (RP-...): no brand, no supplier, no threshold
            row.update(id_manufacturer="0", id_supplier="0", manufacturer_name="", low_stock_threshold=None)
        self.tables["products"][pid] = row
        self.product_categories[pid] = ["2", row["id_category_default"]]
        self.product_images[pid] = [str(pid)]
        self.product_features[pid] = [("1", str(rng.randint(1, 10)))]
        self.combinations_of[pid] = []
        self._new_stock(pid, 0, 0 if with_combinations else rng.randint(0, 120))
        if with_combinations:
            row["product_type"] = "combinations"
            sizes = rng.sample(_SIZES, rng.randint(1, 3))
            colors = rng.sample(_COLORS, rng.randint(1, 2))
            for n, (size, color) in enumerate((s, c) for s in sizes for c in colors):
                impact = Decimal(rng.choice((0, 0, 0, 200, 500))) / 100
                self._new_combination(
                    pid,
                    {
                        "reference": f"PS-{pid:05d}-{size}-{color[:3].upper()}",
                        "price": money(impact),
                        "default_on": "1" if n == 0 else "",
                    },
                    option_values=[str(1 + _SIZES.index(size)), str(8 + _COLORS.index(color))],
                    quantity=rng.randint(0, 60),
                )

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

    def _gen_customer(self, i: int, t: int) -> Row:
        rng = self._rng
        cid = self._new_id("customers")
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        row = dict(CUSTOMER_TEMPLATE)
        row.update(
            id=cid,
            firstname=first,
            lastname=last,
            email=f"customer{cid}@example.com",
            id_gender=str(rng.randint(1, 2)),
            secure_key=hashlib.md5(f"{self.seed}:{cid}".encode()).hexdigest(),
            passwd=fake_bcrypt("secret", f"{self.seed}:{cid}"),
            last_passwd_gen=t - 6 * 3600,
            date_add=t,
            date_upd=t,
            newsletter="1" if rng.random() < 0.3 else "0",
        )
        self.tables["customers"][cid] = row
        self.customer_groups[cid] = ["3"]
        return row

    def _gen_order(self, t: int, pids: list[int], cids: list[int]) -> None:
        rng = self._rng
        lines = []
        for pid in rng.sample(pids, min(len(pids), rng.randint(1, 3))):
            combos = self.combinations_of.get(pid) or [0]
            lines.append((pid, rng.choice(combos), rng.randint(1, 3)))
        state = rng.choice(SEED_STATES)
        customer = rng.choice(cids) if cids else 0
        order = self._insert_order(lines, customer, t, initial_state=1 if state != 10 else 10, decrement=False)
        if state not in (1, 10):
            self._add_history(order["id"], state, t + rng.randint(60, 3 * 3600), employee=1)

    # ------------------------------------------------------------------ orders

    def _insert_order(
        self, lines: list[tuple[int, int, int]], customer: int, t: int, initial_state: int, decrement: bool
    ) -> Row:
        oid = self._new_id("orders")
        rows: list[Row] = []
        total = Decimal(0)
        total_incl = Decimal(0)
        for pid, ipa, qty in lines:
            product = self.tables["products"].get(pid)
            if product is None:
                raise StoreError(400, 0, f"product {pid} does not exist")
            unit = Decimal(product["price"])
            name = str(self.text(product["name"]))
            reference = product["reference"]
            if ipa:
                combo = self.tables["combinations"][ipa]
                unit += Decimal(combo["price"])
                reference = combo["reference"] or reference
                name = f"{name} - combination {ipa}"
            rate = self.tax_rate(product)
            unit_incl = (unit * (1 + rate / 100)).quantize(Decimal("0.000001"))
            total += unit * qty
            total_incl += (unit_incl * qty).quantize(Decimal("0.01"))
            line_id = self._next_order_row
            rows.append(
                {
                    "id": str(line_id),
                    "product_id": str(pid),
                    "product_attribute_id": str(ipa),
                    "product_quantity": str(qty),
                    "product_name": name,
                    "product_reference": reference,
                    "product_ean13": "",
                    "product_isbn": "",
                    "product_upc": "",
                    "product_price": money(unit),
                    "id_customization": "0",
                    "unit_price_tax_incl": money(unit_incl),
                    "unit_price_tax_excl": money(unit),
                }
            )
            detail: dict[str, Any] = dict.fromkeys(ORDER_DETAIL_FIELDS, "0")
            detail.update(
                id=line_id, id_order=str(oid), product_id=str(pid), product_attribute_id=str(ipa),
                group_reduction="0.00", download_hash="", download_deadline=ZERO_DATETIME, id_shop="1",
                product_name=name, product_quantity=str(qty), product_quantity_in_stock=str(qty),
                product_price=money(unit), reduction_percent="0.00", reduction_amount="0.000000",
                reduction_amount_tax_incl="0.000000", reduction_amount_tax_excl="0.000000",
                product_quantity_discount="0.000000", product_ean13="", product_isbn="", product_upc="",
                product_mpn="", product_reference=reference, product_supplier_reference="",
                product_weight=product.get("weight") or "0.000000",
                id_tax_rules_group=str(product["id_tax_rules_group"]),
                ecotax="0.000000", ecotax_tax_rate="0.000", unit_price_tax_incl=money(unit_incl),
                unit_price_tax_excl=money(unit),
                total_price_tax_incl=money((unit_incl * qty).quantize(Decimal("0.01"))),
                total_price_tax_excl=money((unit * qty).quantize(Decimal("0.01"))),
                total_shipping_price_tax_excl="0.000000", total_shipping_price_tax_incl="0.000000",
                purchase_supplier_price=product.get("wholesale_price") or "0.000000",
                original_product_price=money(unit),
                original_wholesale_price=product.get("wholesale_price") or "0.000000",
                total_refunded_tax_excl="0.000000", total_refunded_tax_incl="0.000000",
            )  # fmt: skip
            self.tables["order_details"][line_id] = detail
            self.detail_taxes[line_id] = [str(product["id_tax_rules_group"])]
            self._next_order_row += 1
            if decrement:
                self._adjust_stock(pid, ipa, -qty)
        shipping = Decimal("7.00")
        row = dict(ORDER_TEMPLATE)
        row.update(
            id=oid,
            id_address_delivery=str(customer + 4),
            id_address_invoice=str(customer + 4),
            id_cart=str(oid),
            id_customer=str(customer),
            current_state=str(initial_state),
            date_add=t,
            date_upd=t,
            secure_key=hashlib.md5(f"{self.seed}:{customer}".encode()).hexdigest(),
            total_discounts="0.000000",
            total_discounts_tax_incl="0.000000",
            total_discounts_tax_excl="0.000000",
            total_paid=money(total_incl + shipping),
            total_paid_tax_incl=money(total_incl + shipping),
            total_paid_tax_excl=money(total + shipping),
            total_paid_real="0.000000",
            total_products=money(total),
            total_products_wt=money(total_incl),
            total_shipping=money(shipping),
            total_shipping_tax_incl=money(shipping),
            total_shipping_tax_excl=money(shipping),
            total_wrapping="0.000000",
            total_wrapping_tax_incl="0.000000",
            total_wrapping_tax_excl="0.000000",
            reference="".join(self._rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(9)),
        )
        self.tables["orders"][oid] = row
        self.order_rows[oid] = rows
        self._add_history(oid, initial_state, t, employee=0, touch=False)
        return row

    def _add_history(self, oid: int, state: int, t: int, employee: int = 0, touch: bool = True) -> Row:
        hid = self._new_id("order_histories")
        row: Row = {
            "id": hid,
            "id_employee": str(employee),
            "id_order_state": str(state),
            "id_order": str(oid),
            "date_add": t,
        }
        self.tables["order_histories"][hid] = row
        if touch:
            order = self.tables["orders"][oid]
            order["current_state"] = str(state)
            order["date_upd"] = t
            flags = self.tables["order_states"].get(state)
            if flags is not None and flags["paid"] == "1":
                order["valid"] = "1"
                order["total_paid_real"] = order["total_paid"]
            if flags is not None and flags["paid"] == "0" and state in (6, 7, 8):
                order["valid"] = "0"
        return row

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
                "tags": [],
                "stock_availables": stock,
                "attachments": [],
                "accessories": [],
                "product_bundle": [],
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
            if "product_features" in assoc:
                self.product_features[rid] = [
                    (a["id"], a.get("id_feature_value", "")) for a in assoc["product_features"] if a.get("id")
                ]
        elif resource == "combinations":
            if "product_option_values" in assoc:
                self.combination_values[rid] = [a["id"] for a in assoc["product_option_values"] if a.get("id")]
        elif resource == "customers" and "groups" in assoc:
            self.customer_groups[rid] = [a["id"] for a in assoc["groups"] if a.get("id")] or ["3"]

    # ------------------------------------------------------------------ webservice writes

    @staticmethod
    def _normalize(resource: str, values: Row) -> Row:
        """Decimal columns are stored as decimal(20,6): "0.3" is read back as "0.300000"."""
        out = dict(values)
        for key, value in values.items():
            if _DECIMAL_FIELD.search(key) and isinstance(value, str) and value.strip():
                with contextlib.suppress(ArithmeticError):
                    out[key] = money(value.strip())
        return out

    def create(self, resource: str, values: Row, assoc: dict[str, list[dict[str, str]]]) -> Row:
        """POST: insert a row with PrestaShop's defaults and side effects; returns the stored row."""
        values = self._normalize(resource, values)
        with self.lock:
            now = self.now()
            if resource == "order_histories":
                oid = _int(values.get("id_order"))
                state = _int(values.get("id_order_state"))
                if oid not in self.tables["orders"]:
                    raise StoreError(400, 0, "Order id is invalid")
                if state not in self.tables["order_states"]:
                    raise StoreError(400, 0, "Order state id is invalid")
                return self._add_history(oid, state, now, employee=_int(values.get("id_employee")))
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
                pid = _int(values.get("id_product"))
                if pid not in self.tables["products"]:
                    raise StoreError(400, 0, "product does not exist")
                row = self._new_combination(pid, {k: v for k, v in values.items() if k != "id"})
            elif resource == "specific_prices":
                pid = _int(values.get("id_product"))
                if pid and pid not in self.tables["products"]:
                    raise StoreError(400, 0, "product does not exist")
                row = {f: "0" for f in RESOURCES["specific_prices"].fields}
                row.update({k: v for k, v in values.items() if v is not None})
                for field in ("from", "to"):
                    row[field] = str(values.get(field) or ZERO_DATETIME)
                row["id"] = self._new_id("specific_prices")
                self.tables["specific_prices"][row["id"]] = row
            else:
                raise StoreError(405, 0, f"Method POST is not allowed on {resource} in this emulator")
            self.set_associations(resource, row["id"], assoc)
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
                row["quantity"] = str(_int(row.get("quantity")))
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
            if self.tables[resource].pop(rid, None) is None:
                raise StoreError(404)

    # ------------------------------------------------------------------ test API

    def product(self, pid: int) -> Row:
        return self.tables["products"][pid]

    def stock_row(self, product_id: int, id_product_attribute: int = 0) -> Row:
        """The stock_available row of a product (``id_product_attribute`` 0) or of one of its combinations."""
        return self.tables["stock_availables"][self.stock_index[(product_id, id_product_attribute)]]

    def update_product(self, pid: int, **fields: Any) -> Row:
        """Edit a product as the back office would: fields change and ``date_upd`` moves to now."""
        with self.lock:
            row = self.tables["products"][pid]
            for key, value in fields.items():
                if key not in row:
                    raise KeyError(f"unknown product field {key!r}")
                row[key] = money(value) if key in ("price", "wholesale_price") else value
            row["date_upd"] = self.now()
            return row

    def touch_products(self, count: int = 1, ids: list[int] | None = None) -> list[int]:
        """Bump ``date_upd`` of some products (the admin ``touch`` endpoint)."""
        with self.lock:
            chosen = [int(i) for i in ids] if ids else sorted(self.tables["products"])[: int(count)]
            now = self.now()
            for pid in chosen:
                self.tables["products"][pid]["date_upd"] = now
            return chosen

    def set_stock(self, product_id: int, quantity: int, id_product_attribute: int = 0) -> StockView:
        """Set a quantity as a stock_available PUT does: absolute, no date anywhere changes.

        For a combination, the product-level row becomes the sum of the combinations (as PrestaShop does).
        """
        with self.lock:
            row = self.stock_row(product_id, id_product_attribute)
            row["quantity"] = str(int(quantity))
            if id_product_attribute:
                self._sync_product_stock(product_id)
            return StockView(row)

    def add_order(
        self,
        data: dict[str, Any] | None = None,
        *,
        lines: list[tuple[int, int, int]] | None = None,
        customer_id: int | None = None,
        state: int = 2,
    ) -> OrderView:
        """Place an order like the front office: stock of each line decreases, history gets its first state.

        ``lines`` are ``(product_id, id_product_attribute, quantity)``; ``data`` (admin endpoint) may carry
        ``{"lines": [[pid, ipa, qty], ...], "customer_id": n, "state": n}``.
        """
        data = data or {}
        lines = lines or [tuple(x) for x in data.get("lines", [])]
        if not lines:
            raise ValueError("an order needs lines: [(product_id, id_product_attribute, quantity), ...]")
        with self.lock:
            cid = customer_id if customer_id is not None else int(data.get("customer_id", 1))
            row = self._insert_order(
                [(int(p), int(a), int(q)) for p, a, q in lines],
                cid,
                self.now(),
                int(data.get("state", state)),
                decrement=True,
            )
            return OrderView(row)

    def change_order_state(self, order_id: int, state: int, employee: int = 1) -> Row:
        """What POST /api/order_histories does: a history row, new ``current_state``, ``date_upd`` = now."""
        with self.lock:
            if order_id not in self.tables["orders"]:
                raise KeyError(order_id)
            return self._add_history(order_id, state, self.now(), employee=employee)

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

    def update_customer(self, cid: int, **fields: Any) -> Row:
        """Edit a customer (``date_upd`` moves to now)."""
        with self.lock:
            row = self.tables["customers"][cid]
            row.update(fields)
            row["date_upd"] = self.now()
            return row


class StockView:
    """A stock_available row with the attribute names the generic admin endpoint reads."""

    def __init__(self, row: Row) -> None:
        self.row = row
        self.id = int(row["id"])
        self.stock_quantity = int(row["quantity"])


class OrderView:
    """An order row with the attribute names the generic admin endpoint reads."""

    def __init__(self, row: Row) -> None:
        self.row = row
        self.id = int(row["id"])
        self.status = row["current_state"]


def _int(value: Any) -> int:
    try:
        return int(str(value).strip() or 0)
    except ValueError:
        return 0
