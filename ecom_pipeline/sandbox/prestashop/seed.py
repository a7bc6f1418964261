"""The seeded data of an emulated PrestaShop shop: reference tables as on the recorded stores, and a demo catalogue.

Same seed, sizes, languages and anchor give the same shop, row for row (the random draws do not depend on the shop's
name): fixtures, benchmarks and the recorded contract replays rely on ids and references staying put, so keep the
order of the random draws. Products fill the first two thirds of a 90-day window, orders the last third; orders
go through the same order insert the webservice and the admin operations use.
"""

from __future__ import annotations

import hashlib
import random
from decimal import Decimal
from typing import TYPE_CHECKING

from ecom_pipeline.sandbox.prestashop.resources import (
    CATEGORIES_SEED,
    COUNTRIES_SEED,
    LANGUAGES_SEED,
    ORDER_STATE_FIELDS,
    ORDER_STATES_SEED,
    RESOURCES,
    TAXES_SEED,
)
from ecom_pipeline.sandbox.prestashop.rows import (
    CUSTOMER_TEMPLATE,
    PRODUCT_TEMPLATE,
    ZERO_DATETIME,
    Row,
    fake_bcrypt,
    money,
)
from ecom_pipeline.sandbox.seeding import Timeline

if TYPE_CHECKING:
    from ecom_pipeline.sandbox.prestashop.store import PrestaStore

_ADJ = ("Hummingbird", "Mountain", "Brown", "Golden", "Silent", "Crimson", "Arctic", "Velvet", "Rustic", "Urban")
_NOUN = ("t-shirt", "sweater", "mug", "cushion", "poster", "notebook", "tote bag", "cap", "scarf", "candle")
_SIZES = ("S", "M", "L", "XL")
_COLORS = ("White", "Black", "Grey", "Red", "Blue")
_FIRST = ("John", "Zoë", "Anna", "Luc", "Marie", "Pierre", "Inès", "Jean", "Chloé", "Hugo")
_LAST = ("DOE", "Müller", "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Petit", "Durand", "Leroy")

# PAID states decrement nothing more; orders are seeded in these states, weighted towards the common ones.
SEED_STATES = (2, 2, 3, 4, 4, 5, 5, 5, 6, 1, 10)


class PrestaSeeder:
    """Fills an empty :class:`PrestaStore`: :meth:`reference_tables` first, then :meth:`run` (the demo history)."""

    def __init__(self, store: PrestaStore) -> None:
        self.store = store
        self.rng = store._rng

    def reference_tables(self) -> None:
        """Order states, configuration, the currency, languages, categories, countries and taxes."""
        self._seed_order_states()
        self._seed_configuration()
        self._seed_currencies()
        self._seed_reference_tables()
        self._seed_product_options()

    def _seed_product_options(self) -> None:
        """Attribute groups Size (1) and Color (2) with the values the generated combinations use: sizes 1-4,
        colours 8-12 (the ids ``_gen_product`` gives them)."""
        store = self.store
        groups = ((1, "Size", "Taille", "0", "select"), (2, "Color", "Couleur", "1", "color"))
        for gid, english, french, is_color, kind in groups:
            store.tables["product_options"][gid] = {
                "id": gid, "is_color_group": is_color, "group_type": kind, "position": str(gid - 1),
                "name": store.translated(english, french), "public_name": store.translated(english, french),
            }  # fmt: skip
        french_colors = {"White": "Blanc", "Black": "Noir", "Grey": "Gris", "Red": "Rouge", "Blue": "Bleu"}
        hexes = {"White": "#ffffff", "Black": "#434A54", "Grey": "#AAB2BD", "Red": "#E84C3D", "Blue": "#5D9CEC"}
        for n, size in enumerate(_SIZES):
            store.tables["product_option_values"][1 + n] = {
                "id": 1 + n, "id_attribute_group": "1", "color": "", "position": str(n), "name": store.translated(size),
            }  # fmt: skip
        for n, color in enumerate(_COLORS):
            store.tables["product_option_values"][8 + n] = {
                "id": 8 + n, "id_attribute_group": "2", "color": hexes[color], "position": str(n),
                "name": store.translated(color, french_colors[color]),
            }  # fmt: skip
        store.next_ids["product_options"] = 3
        store.next_ids["product_option_values"] = 8 + len(_COLORS)

    def _seed_order_states(self) -> None:
        for sid, name, paid, shipped, delivery, color in ORDER_STATES_SEED:
            row: Row = dict.fromkeys(ORDER_STATE_FIELDS, "0")
            row.update(
                id=sid,
                name=self.store.translated(name),
                paid=paid,
                shipped=shipped,
                delivery=delivery,
                color=color,
                module_name="",
                template=self.store.translated(""),
                logable=paid,
                invoice=paid,
                send_email="1" if shipped == "1" or paid == "1" else "0",
                unremovable="1",
            )
            self.store.tables["order_states"][sid] = row
        self.store.next_ids["order_states"] = 14

    def _seed_currencies(self) -> None:
        """One currency, EUR (id 1): the default of a French-locale PrestaShop, named by PS_CURRENCY_DEFAULT."""
        self.store.tables["currencies"][1] = {
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
        self.store.next_ids["currencies"] = 2

    def _seed_configuration(self) -> None:
        settings = {
            "PS_TIMEZONE": self.store.timezone,
            "PS_LANG_DEFAULT": "1",
            "PS_CURRENCY_DEFAULT": "1",
            "PS_SHOP_NAME": self.store.name,
            "PS_STOCK_MANAGEMENT": "1",
            "PS_SHOP_DEFAULT": "1",  # the shop a webservice request without id_shop works in (multishop)
        }
        self.store.add_shop(1, 1)  # the default shop, in the default group (a one-shop install too)
        for name, value in settings.items():
            cid = self.store._new_id("configurations")
            self.store.tables["configurations"][cid] = {
                "id": cid,
                "value": value,
                "name": name,
                "id_shop_group": "",  # recorded "": a global value (NULL in the database)
                "id_shop": "",
                "date_add": self.store.anchor - 90 * 86400,
                "date_upd": self.store.anchor - 90 * 86400,
            }

    def _seed_reference_tables(self) -> None:
        """Languages, categories, countries, taxes and two specific prices, as on the recorded stores."""
        born = self.store.anchor - 90 * 86400
        for lid, iso in zip(self.store.language_ids, self.store.languages, strict=True):
            name, locale, code, lite, full = LANGUAGES_SEED[iso]
            self.store.tables["languages"][lid] = {
                "id": lid, "name": name, "iso_code": iso, "locale": locale, "language_code": code, "active": "1",
                "is_rtl": "0", "date_format_lite": lite, "date_format_full": full,
            }  # fmt: skip
        position: dict[int, int] = {}
        for cid, parent, depth, english, french in CATEGORIES_SEED:
            position[parent] = position.get(parent, -1) + 1
            slug = english.lower().replace(" ", "-")
            self.store.tables["categories"][cid] = {
                "id": cid, "id_parent": str(parent), "level_depth": str(depth), "nb_products_recursive": "0",
                "active": "1", "id_shop_default": "1", "is_root_category": "1" if cid == 2 else "0",
                "position": str(position[parent]), "date_add": born, "date_upd": born,
                "name": self.store.translated(english, french),
                "link_rewrite": self.store.translated(slug, french.lower().replace(" ", "-")),
                "description": self.store.translated(
                    f"<p>{english}</p>" if depth > 1 else "", f"<p>{french}</p>" if depth > 1 else ""
                ),
                "additional_description": self.store.translated(""), "meta_title": self.store.translated(""),
                "meta_description": self.store.translated(""), "meta_keywords": self.store.translated(""),
            }  # fmt: skip
        self.store.next_ids["categories"] = 10
        for cid, iso, prefix, english, french in COUNTRIES_SEED:
            self.store.tables["countries"][cid] = {
                "id": cid, "id_zone": "2" if iso == "US" else "1", "id_currency": "0", "call_prefix": prefix,
                "iso_code": iso, "active": "1", "contains_states": "1" if iso == "US" else "0",
                "need_identification_number": "0", "need_zip_code": "1",
                "zip_code_format": "NNNNN", "display_tax_label": "1", "name": self.store.translated(english, french),
            }  # fmt: skip
        rule = 0
        for tid, rate, group in TAXES_SEED:
            label = f"TVA FR {rate.rstrip('0').rstrip('.')}%"
            self.store.tables["taxes"][tid] = {
                "id": tid, "rate": rate, "active": "1", "deleted": "0", "name": self.store.translated(label),
            }  # fmt: skip
            self.store.tables["tax_rule_groups"][tid] = {
                "id": tid, "name": group, "active": "1", "deleted": "0", "date_add": born, "date_upd": born,
            }  # fmt: skip
            for country, *_ in COUNTRIES_SEED:
                if country == 21:
                    continue  # no French VAT rule for the United States
                rule += 1
                self.store.tables["tax_rules"][rule] = {
                    "id": rule, "id_tax_rules_group": str(tid), "id_state": "0", "id_country": str(country),
                    "zipcode_from": "0", "zipcode_to": "0", "id_tax": str(tid), "behavior": "0", "description": "",
                }  # fmt: skip
        for table, count in (("taxes", 5), ("tax_rule_groups", 5), ("tax_rules", rule + 1)):
            self.store.next_ids[table] = count
        self.store.next_ids["languages"] = len(self.store.language_ids) + 1

    def _seed_addresses(self) -> None:
        """Four supplier/manufacturer addresses (no customer), then one address per customer (id = customer + 4)."""
        born = self.store.anchor - 90 * 86400
        rng = random.Random(f"prestashop-addresses:{self.store.seed}")
        template = {f: "" for f in RESOURCES["addresses"].fields}
        for aid in (1, 2, 3, 4):
            self.store.tables["addresses"][aid] = {
                **template, "id": aid, "id_customer": "0", "id_manufacturer": "1" if aid % 2 else "0",
                "id_supplier": "0" if aid % 2 else "1", "id_warehouse": "0", "id_country": "21", "id_state": "0",
                "alias": "supplier" if aid % 2 == 0 else "manufacturer", "lastname": "supplier",
                "firstname": "supplier",
                "address1": "767 Fifth Ave", "postcode": "10153", "city": "New York", "phone": "(212) 336-1440",
                "deleted": "0", "date_add": born, "date_upd": born,
            }  # fmt: skip
        for cid, customer in sorted(self.store.tables["customers"].items()):
            aid = cid + 4
            country = rng.choice((8, 8, 8, 8, 3, 1, 21))
            city = {8: "Paris", 3: "Bruxelles", 1: "Berlin", 21: "Boston"}[country]
            self.store.tables["addresses"][aid] = {
                **template, "id": aid, "id_customer": str(cid), "id_manufacturer": "0", "id_supplier": "0",
                "id_warehouse": "0", "id_country": str(country), "id_state": "0", "alias": "Home",
                "lastname": customer["lastname"], "firstname": customer["firstname"],
                "address1": f"{rng.randint(1, 99)} rue de la Paix", "postcode": f"{rng.randint(10000, 99999)}",
                "city": city, "phone": f"01 23 45 67 {cid % 100:02d}", "deleted": "0",
                "date_add": customer["date_add"], "date_upd": customer["date_add"],
            }  # fmt: skip
        self.store.next_ids["addresses"] = max(self.store.tables["addresses"]) + 1

    def _seed_specific_prices(self) -> None:
        """Two 20 % reductions on the first two products, unlimited in time (as the demo data has)."""
        template = {f: "0" for f in RESOURCES["specific_prices"].fields}
        for pid in sorted(self.store.tables["products"])[:2]:
            sid = self.store._new_id("specific_prices")
            self.store.tables["specific_prices"][sid] = {
                **template, "id": sid, "id_product": str(pid), "price": "-1.000000", "from_quantity": "1",
                "reduction": "0.200000", "reduction_tax": "1", "reduction_type": "percentage",
                "from": ZERO_DATETIME, "to": ZERO_DATETIME,
            }  # fmt: skip

    def run(self, n_products: int, variable_share: float, n_orders: int, n_customers: int) -> None:
        timeline = Timeline(self.rng, self.store.anchor)
        for i, t in enumerate(timeline.product_times(n_products)):
            self._gen_product(i, t, self.rng.random() < variable_share)
        for i in range(n_customers):
            self._gen_customer(i, timeline.signup_time())
        pids = list(self.store.tables["products"])
        cids = list(self.store.tables["customers"])
        if pids:  # an order needs a product to sell
            for t in timeline.order_times(n_orders):
                self._gen_order(t, pids, cids)
        self._seed_addresses()
        self._seed_specific_prices()
        for row in self.store.tables["products"].values():  # a share of the catalogue was edited later
            edited = timeline.edited_at(row["date_add"])
            if edited is not None:
                row["date_upd"] = max(row["date_upd"], edited)

    def _gen_product(self, i: int, t: int, with_combinations: bool) -> None:
        rng = self.rng
        pid = self.store._new_id("products")
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
            name=self.store.translated(name, f"{name} FR"),
            link_rewrite=self.store.translated(name.lower().replace(" ", "-")),
            description=self.store.translated(f"<p>{name}, made with care.</p>", f"<p>{name}, fait avec soin.</p>"),
            description_short=self.store.translated(f"<p>{name}.</p>"),
        )
        for field in RESOURCES["products"].multilang - {"name", "link_rewrite", "description", "description_short"}:
            row[field] = self.store.translated(row.get(field) or "")
        # Like the recorded generated products (RP-...): no brand, no supplier, no threshold.
        if self.store.multilingual:
            row.update(id_manufacturer="0", id_supplier="0", manufacturer_name="", low_stock_threshold=None)
        self.store.tables["products"][pid] = row
        self.store.product_categories[pid] = ["2", row["id_category_default"]]
        self.store.product_images[pid] = [str(pid)]
        self.store.product_features[pid] = [("1", str(rng.randint(1, 10)))]
        self.store.combinations_of[pid] = []
        self.store._new_stock(pid, 0, 0 if with_combinations else rng.randint(0, 120))
        if with_combinations:
            row["product_type"] = "combinations"
            sizes = rng.sample(_SIZES, rng.randint(1, 3))
            colors = rng.sample(_COLORS, rng.randint(1, 2))
            for n, (size, color) in enumerate((s, c) for s in sizes for c in colors):
                impact = Decimal(rng.choice((0, 0, 0, 200, 500))) / 100
                self.store._new_combination(
                    pid,
                    {
                        "reference": f"PS-{pid:05d}-{size}-{color[:3].upper()}",
                        "price": money(impact),
                        "default_on": "1" if n == 0 else "",
                    },
                    option_values=[str(1 + _SIZES.index(size)), str(8 + _COLORS.index(color))],
                    quantity=rng.randint(0, 60),
                )

    def _gen_customer(self, i: int, t: int) -> Row:
        rng = self.rng
        cid = self.store._new_id("customers")
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        row = dict(CUSTOMER_TEMPLATE)
        row.update(
            id=cid,
            firstname=first,
            lastname=last,
            email=f"customer{cid}@example.com",
            id_gender=str(rng.randint(1, 2)),
            secure_key=hashlib.md5(f"{self.store.seed}:{cid}".encode()).hexdigest(),
            passwd=fake_bcrypt("secret", f"{self.store.seed}:{cid}"),
            last_passwd_gen=t - 6 * 3600,
            date_add=t,
            date_upd=t,
            newsletter="1" if rng.random() < 0.3 else "0",
        )
        self.store.tables["customers"][cid] = row
        self.store.customer_groups[cid] = ["3"]
        return row

    def _gen_order(self, t: int, pids: list[int], cids: list[int]) -> None:
        rng = self.rng
        lines = []
        for pid in rng.sample(pids, min(len(pids), rng.randint(1, 3))):
            combos = self.store.combinations_of.get(pid) or [0]
            lines.append((pid, rng.choice(combos), rng.randint(1, 3)))
        state = rng.choice(SEED_STATES)
        customer = rng.choice(cids) if cids else 0
        order = self.store._insert_order(lines, customer, t, initial_state=1 if state != 10 else 10, decrement=False)
        if state not in (1, 10):
            self.store._add_history(order["id"], state, t + rng.randint(60, 3 * 3600), employee=1)
