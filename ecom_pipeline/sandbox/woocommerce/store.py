"""The in-memory data of one emulated WooCommerce shop: seeded generation, queries and mutations.

Everything the HTTP layer and the tests need goes through :class:`WooStore`, under one lock, so that tests
can mutate a shop (``store.update_product(...)``) while the server thread serves it. Ids follow WordPress:
products, variations, orders and refunds share one post-id sequence; customers (users) have their own,
starting at 2 (1 is the admin).
"""

from __future__ import annotations

import bisect
import json
import random
import re
import string
import threading
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ecom_pipeline.sandbox.clock import SandboxClock
from ecom_pipeline.sandbox.woocommerce.records import (
    ORDER_STATUS_LABELS,
    PAID_STATUSES,
    STOCK_REDUCING_STATUSES,
    Customer,
    LineItem,
    Note,
    Order,
    Product,
    Refund,
    RefundLine,
    Variation,
    money,
)

ORDER_STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed")
# Weights of the seeded order statuses: mostly paid, a few of every other kind.
ORDER_STATUS_WEIGHTS = (8, 25, 5, 45, 7, 5, 5)
SIZE_TERMS = ["S", "M", "L", "XL"]
COLOUR_TERMS = ["Black", "White", "Red", "Navy", "Grey", "Green"]
CATEGORIES = [
    {"id": 16, "name": "Mugs &amp; Cups", "slug": "mugs-cups"},
    {"id": 17, "name": "Apparel", "slug": "apparel"},
    {"id": 18, "name": "Coffee", "slug": "coffee"},
    {"id": 19, "name": "Accessories", "slug": "accessories"},
]
_ADJ = [
    "Classic",
    "Organic",
    "Travel",
    "Wool",
    "Linen",
    "Ceramic",
    "Vintage",
    "Premium",
    "Compact",
    "Rustic",
    "Nordic",
    "Urban",
    "Bamboo",
    "Copper",
    "Velvet",
    "Everyday",
    "Barista",
    "Alpine",
    "Coastal",
    "Midnight",
]
_NOUN = [
    "Mug",
    "T-Shirt",
    "Beanie",
    "Kettle",
    "Tote Bag",
    "Scarf",
    "Grinder",
    "Hoodie",
    "Apron",
    "Tumbler",
    "Socks",
    "Cap",
    "Dripper",
    "Notebook",
    "Candle",
    "Blanket",
    "Jacket",
    "Bowl",
    "Teapot",
    "Backpack",
]
_FIRST = [
    "Marie",
    "John",
    "Zoë",
    "Lukas",
    "Chloé",
    "Ahmed",
    "Sofia",
    "Björn",
    "Inès",
    "Tomasz",
    "Aoife",
    "Luca",
    "Hana",
    "Émile",
    "Nadia",
    "Oskar",
    "Léa",
    "Mateo",
    "Ingrid",
    "Yusuf",
]
_LAST = [
    "Dupont",
    "Smith",
    "Müller",
    "Rossi",
    "García",
    "Nowak",
    "O'Brien",
    "Lefèvre",
    "Jensen",
    "Kowalski",
    "Martin",
    "Novák",
    "Silva",
    "Bernard",
    "Schmidt",
    "Fernández",
    "Petit",
    "Larsen",
    "Moreau",
    "Weber",
]
_CITIES = [
    ("Paris", "75011", "FR", ""),
    ("Lyon", "69001", "FR", ""),
    ("Berlin", "10115", "DE", ""),
    ("San Francisco", "94105", "US", "CA"),
    ("Milano", "20121", "IT", "MI"),
    ("Kraków", "30-001", "PL", ""),
]
_PAYMENT = [
    ("stripe", "Credit card"),
    ("bacs", "Direct bank transfer"),
    ("cod", "Cash on delivery"),
    ("paypal", "PayPal"),
]


class StoreError(Exception):
    """A WooCommerce REST error: rendered as ``{"code", "message", "data": {"status", ...}}``."""

    def __init__(self, status: int, code: str, message: str, **data: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.data = data
        self.bare_data: int | None = None

    @classmethod
    def bare(cls, code: str, message: str, data: int) -> StoreError:
        """A ``WP_Error`` built with a bare number as its data (``new WP_Error(code, msg, 404)``).

        WooCommerce's refund controller does this. WordPress only takes the HTTP status from an array
        ``data.status``, so the answer is a 500 whose body carries ``"data": 404`` -- odd, but what the shop sends.
        """
        err = cls(500, code, message)
        err.bare_data = data
        return err

    def body(self) -> dict[str, Any]:
        if self.bare_data is not None:
            return {"code": self.code, "message": self.message, "data": self.bare_data}
        return {"code": self.code, "message": self.message, "data": {"status": self.status, **self.data}}


def invalid_id(kind: str) -> StoreError:
    return StoreError(404, f"woocommerce_rest_{kind}_invalid_id", "Invalid ID.")


def slugify(text: str) -> str:
    """WordPress sanitize_title, close enough: ASCII-folded, lower-case, dash-separated."""
    text = unicodedata.normalize("NFKD", text.replace("&amp;", "")).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def customer_address(with_email: bool, **values: str) -> dict[str, str]:
    """Customer addresses order their keys city, postcode, country, state (unlike orders)."""
    keys = ["first_name", "last_name", "company", "address_1", "address_2", "city", "postcode", "country", "state"]
    out = {k: values.get(k, "") for k in keys}
    if with_email:
        out["email"] = values.get("email", "")
    out["phone"] = values.get("phone", "")
    return out


def order_address(with_email: bool, **values: str) -> dict[str, str]:
    """Order addresses order their keys city, state, postcode, country."""
    keys = ["first_name", "last_name", "company", "address_1", "address_2", "city", "state", "postcode", "country"]
    out = {k: values.get(k, "") for k in keys}
    if with_email:
        out["email"] = values.get("email", "")
    out["phone"] = values.get("phone", "")
    return out


@dataclass
class ListResult:
    """One page of a list query plus the totals for ``X-WP-Total`` / ``X-WP-TotalPages``."""

    items: list[Any]
    total: int


class WooStore:
    """All records of one shop, generated deterministically from ``seed``.

    ``anchor`` is the instant the seeded history ends at (default: the clock's current UTC day at 00:00), so
    two stores built with the same seed on the same day are identical, and every seeded date is in the past.
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
    ) -> None:
        self.name = name
        self.seed = seed
        self.tz = ZoneInfo(timezone)
        self.clock = clock or SandboxClock()
        if anchor is None:
            now = self.clock.now()
            anchor = datetime(now.year, now.month, now.day, tzinfo=UTC)
        self.anchor = int(anchor.timestamp())
        self.lock = threading.RLock()
        self.products: dict[int, Product] = {}
        self.variations: dict[int, Variation] = {}
        self.orders: dict[int, Order] = {}
        self.customers: dict[int, Customer] = {}
        self.sku_index: dict[str, int] = {}
        self._next_post = 10
        self._next_user = 2
        self._next_item = 1
        self._next_meta = 1
        self._versions = {"products": 0, "variations": 0, "orders": 0, "customers": 0, "catalog": 0}
        self._sorted: dict[tuple[str, str], tuple[int, list[Any], list[Any]]] = {}
        self._rng = random.Random(f"woocommerce:{name}:{seed}")
        # Change listeners (webhooks): called as listener(kind, event, id) with kind product | variation | order |
        # customer. Registered after seeding, so generating the history fires nothing.
        self.listeners: list[Any] = []
        # Order notes (per order) and refunds (by refund id); comments have their own id sequence.
        self.notes: dict[int, list[Note]] = {}
        self.refunds: dict[int, Refund] = {}
        self._next_comment = 0
        from ecom_pipeline.sandbox.woocommerce.catalog import WooCatalog  # catalog imports this module

        self.catalog = WooCatalog(self)
        self.catalog.seed(CATEGORIES, {"Size": SIZE_TERMS, "Colour": COLOUR_TERMS})
        self._generate(products, variable_share, orders, customers)

    # ------------------------------------------------------------------ ids and time

    def _post_id(self) -> int:
        self._next_post += 1
        return self._next_post

    def _item_id(self) -> int:
        self._next_item += 1
        return self._next_item

    def _meta_id(self) -> int:
        self._next_meta += 1
        return self._next_meta

    def now(self) -> int:
        """Current emulated time in whole seconds (WordPress's resolution)."""
        return self.clock.seconds()

    def next_post_id(self) -> int:
        """A new id from the shared post sequence (products, variations, orders, refunds, coupons)."""
        return self._post_id()

    def emit(self, kind: str, event: str, record_id: int) -> None:
        """Public form of :meth:`_emit` for the catalog (coupon topics)."""
        self._emit(kind, event, record_id)

    def touch_catalog(self) -> None:
        self._touch("catalog")

    # ------------------------------------------------------------------ order notes

    def add_note(
        self, oid: int, text: str, customer_note: bool = False, author: str = "WooCommerce", ts: int | None = None
    ) -> Note:
        """Add an order note; notes never bump the order's ``date_modified`` (recorded)."""
        with self.lock:
            self._next_comment += 1
            note = Note(self._next_comment, oid, self.now() if ts is None else ts, text, customer_note, author)
            self.notes.setdefault(oid, []).append(note)
            return note

    def order_notes(self, oid: int) -> list[Note]:
        """Newest first; notes of the same second keep their creation order (as recorded: 18, 2, 3)."""
        with self.lock:
            return sorted(self.notes.get(oid, []), key=lambda n: (-n.created, n.id))

    def delete_note(self, oid: int, note_id: int) -> Note:
        with self.lock:
            notes = self.notes.get(oid, [])
            for i, note in enumerate(notes):
                if note.id == note_id:
                    return notes.pop(i)
            raise StoreError(404, "woocommerce_rest_invalid_id", "Invalid resource ID.")

    def _touch(self, kind: str) -> None:
        self._versions[kind] += 1

    def _emit(self, kind: str, event: str, record_id: int) -> None:
        """Tell listeners (the webhook sender) that a record changed; they render it later, at send time."""
        for listener in self.listeners:
            listener(kind, event, record_id)

    # ------------------------------------------------------------------ generation

    def _generate(self, n_products: int, variable_share: float, n_orders: int, n_customers: int) -> None:
        rng = self._rng
        span = 90 * 86400
        start = self.anchor - span
        # Products over the first two thirds of the window, orders over the last third, so that ids grow with
        # creation time like WordPress auto-increment ids do.
        product_window = span * 2 // 3
        step = max(1, product_window // max(1, n_products))
        t = start
        for i in range(n_products):
            t += rng.randint(0, step * 2) if rng.random() > 0.1 else 0  # some products share a second
            if rng.random() < variable_share:
                self._gen_variable(i, t)
            else:
                self._gen_simple(i, t)
        for _ in range(n_customers):
            self._gen_customer(start + rng.randint(0, span - 3600))
        order_start = start + product_window
        order_step = max(1, (span - product_window - 7200) // max(1, n_orders))
        t = order_start
        sellable = [p for p in self.products.values() if p.status == "publish"]
        customer_ids = list(self.customers)
        for _ in range(n_orders):
            t += rng.randint(0, order_step * 2) if rng.random() > 0.1 else 0
            if not sellable:
                break
            self._gen_order(min(t, self.anchor - 3600), sellable, customer_ids)
        # A share of the catalogue was edited after creation.
        for p in self.products.values():
            if rng.random() < 0.3:
                p.modified = max(p.modified, rng.randint(p.created, self.anchor - 60))
                for vid in p.variation_ids:
                    self.variations[vid].modified = min(self.variations[vid].modified, p.modified)
        for c in self.customers.values():
            if rng.random() < 0.3:
                c.modified = max(c.modified, rng.randint(c.created, self.anchor - 60))

    def _unique_sku(self, base: str) -> str:
        sku, n = base, 1
        while sku in self.sku_index:
            n += 1
            sku = f"{base}-{n}"
        return sku

    def _gen_name(self, i: int) -> str:
        rng = self._rng
        name = f"{rng.choice(_ADJ)} {rng.choice(_NOUN)}"
        return name if i < 50 else f"{name} {i}"

    def _gen_simple(self, i: int, t: int) -> None:
        rng = self._rng
        name = self._gen_name(i)
        regular = Decimal(rng.randint(300, 15000)) / 100
        sale = ""
        if rng.random() < 0.15:
            sale = money(regular * Decimal("0.8"))
        managed = rng.random() < 0.7
        pid = self._post_id()
        status = "draft" if rng.random() < 0.03 else "publish"
        slug = slugify(name) if status == "publish" else ""
        sku = self._unique_sku(f"{slugify(name).upper()[:18].strip('-')}-{pid}")
        p = Product(
            id=pid,
            name=name,
            slug=slug,
            type="simple",
            status=status,
            sku=sku,
            regular_price=money(regular),
            sale_price=sale,
            created=t,
            modified=t,
            manage_stock=managed,
            stock_quantity=rng.randint(0, 120) if managed else None,
            description=f"<p>{name}, made to last.</p>\n",
            short_description="",
            weight=f"{rng.randint(1, 40) / 10}" if rng.random() < 0.5 else "",
            categories=[dict(rng.choice(CATEGORIES))],
        )
        self.products[pid] = p
        self.sku_index[sku] = pid

    def _gen_variable(self, i: int, t: int) -> None:
        rng = self._rng
        name = self._gen_name(i)
        pid = self._post_id()
        parent_managed = rng.random() < 0.25
        n_var = rng.randint(2, 5)
        base_sku = self._unique_sku(f"{slugify(name).upper()[:14].strip('-')}-{pid}")
        base_price = Decimal(rng.randint(900, 9000)) / 100
        if parent_managed:
            # Like the recorded "Wool Beanie": one LOCAL attribute, stock held by the parent.
            colours = sorted(rng.sample(COLOUR_TERMS, n_var), key=COLOUR_TERMS.index)
            attributes = [
                {
                    "id": 0,
                    "name": "Colour",
                    "slug": "Colour",
                    "position": 0,
                    "visible": True,
                    "variation": True,
                    "options": colours,
                }
            ]
            combos = [[{"id": 0, "name": "Colour", "slug": "colour", "option": c}] for c in colours]
        else:
            sizes = sorted(rng.sample(SIZE_TERMS, rng.randint(1, 3)), key=SIZE_TERMS.index)
            colours = sorted(rng.sample(COLOUR_TERMS, rng.randint(2, 3)), key=COLOUR_TERMS.index)
            all_combos = [(s, c) for s in sizes for c in colours]
            picked = sorted(rng.sample(all_combos, min(n_var, len(all_combos))), key=all_combos.index)
            attributes = [
                {
                    "id": 1,
                    "name": "Size",
                    "slug": "pa_size",
                    "position": 0,
                    "visible": True,
                    "variation": True,
                    "options": sorted(sizes),
                },
                {
                    "id": 2,
                    "name": "Colour",
                    "slug": "pa_colour",
                    "position": 1,
                    "visible": True,
                    "variation": True,
                    "options": sorted(colours),
                },
            ]
            combos = [
                [
                    {"id": 1, "name": "Size", "slug": "pa_size", "option": s},
                    {"id": 2, "name": "Colour", "slug": "pa_colour", "option": c},
                ]
                for s, c in picked
            ]
        p = Product(
            id=pid,
            name=name,
            slug=slugify(name),
            type="variable",
            status="publish",
            sku=base_sku,
            regular_price="",
            sale_price="",
            created=t,
            modified=t,
            manage_stock=parent_managed,
            stock_quantity=rng.randint(5, 80) if parent_managed else None,
            description=f"<p>{name}.</p>\n",
            categories=[dict(CATEGORIES[1])],
            attributes=attributes,
            default_attributes=[
                {"id": a["id"], "name": a["name"], "option": str(a["option"]).lower()} for a in combos[0] if a["id"]
            ],
        )
        self.products[pid] = p
        self.sku_index[base_sku] = pid
        for attrs in combos:
            vid = self._post_id()
            suffix = "-".join(str(a["option"])[:3].upper() for a in attrs)
            sku = self._unique_sku(f"{base_sku}-{suffix}")
            price = base_price + Decimal(rng.choice([0, 0, 1, 2, 3]))
            managed: bool | str = "parent" if parent_managed else (rng.random() < 0.8)
            v = Variation(
                id=vid,
                parent_id=pid,
                sku=sku,
                regular_price=money(price),
                sale_price=money(price * Decimal("0.8")) if rng.random() < 0.1 else "",
                created=t,
                modified=t,
                manage_stock=managed,
                stock_quantity=rng.randint(0, 40) if managed is True else None,
                attributes=attrs,
                weight="0.2" if rng.random() < 0.5 else "",
            )
            self.variations[vid] = v
            self.sku_index[sku] = vid
            p.variation_ids.append(vid)

    def _gen_customer(self, t: int) -> Customer:
        rng = self._rng
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        cid = self._next_user
        self._next_user += 1
        base = slugify(f"{first}.{last}").replace("-", ".") or "customer"
        username = f"{base}{cid}"
        email = f"{username}@example.com"
        city, postcode, country, state = rng.choice(_CITIES)
        addr = {
            "first_name": first,
            "last_name": last,
            "address_1": f"{rng.randint(1, 200)} Main Street",
            "city": city,
            "postcode": postcode,
            "country": country,
            "state": state,
        }
        c = Customer(
            id=cid,
            created=t,
            modified=t,
            email=email,
            first_name=first,
            last_name=last,
            username=username,
            billing=customer_address(True, **addr, email=email, phone=f"+33 6 {rng.randint(10000000, 99999999)}"),
            shipping=customer_address(False, **addr),
        )
        self.customers[cid] = c
        return c

    def _order_key(self) -> str:
        alphabet = string.ascii_letters + string.digits
        return "wc_order_" + "".join(self._rng.choice(alphabet) for _ in range(13))

    def _gen_order(self, t: int, sellable: list[Product], customer_ids: list[int]) -> None:
        rng = self._rng
        status = rng.choices(ORDER_STATUSES, ORDER_STATUS_WEIGHTS)[0]
        guest = not customer_ids or rng.random() < 0.25
        if guest:
            city, postcode, country, state = rng.choice(_CITIES)
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            addr = {
                "first_name": first,
                "last_name": last,
                "address_1": "1 Guest Lane",
                "city": city,
                "postcode": postcode,
                "country": country,
                "state": state,
            }
            email = f"guest.{rng.randint(1000, 99999)}@example.com"
            customer_id = 0
        else:
            customer_id = rng.choice(customer_ids)
            c = self.customers[customer_id]
            addr = {k: v for k, v in c.billing.items() if k not in ("email", "phone")}
            email = c.email
        lines = []
        for product in rng.sample(sellable, min(len(sellable), rng.randint(1, 3))):
            target: Product | Variation = product
            if product.type == "variable":
                if not product.variation_ids:
                    continue
                target = self.variations[rng.choice(product.variation_ids)]
            lines.append((target, rng.randint(1, 3)))
        if status in PAID_STATUSES:
            # A checkout cannot oversell when backorders are off: seeded stock never goes negative.
            sellable_lines = [(target, min(qty, self._available(target))) for target, qty in lines]
            sellable_lines = [(target, qty) for target, qty in sellable_lines if qty > 0]
            if sellable_lines:
                lines = sellable_lines
            else:  # everything picked is sold out: the customer never paid
                status = "pending"
        if not lines:
            return
        payment = rng.choice(_PAYMENT)
        items = [self._make_line_item(target, qty) for target, qty in lines]
        order = Order(
            id=self._post_id(),
            status="pending",
            created=t,
            modified=t,
            customer_id=customer_id,
            billing=order_address(True, **addr, email=email, phone=""),
            shipping=order_address(False, **addr),
            line_items=items,
            order_key=self._order_key(),
            payment_method=payment[0],
            payment_method_title=payment[1],
            shipping_lines=[self._shipping_line(money(rng.choice(["4.90", "9.00", "0.00"])))],
        )
        if rng.random() < 0.05:
            order.fee_lines.append(
                {
                    "id": self._item_id(),
                    "name": "Gift wrapping",
                    "tax_class": "",
                    "tax_status": "none",
                    "amount": "",
                    "total": "2.50",
                    "total_tax": "0.00",
                    "taxes": [],
                    "meta_data": [],
                }
            )
        self.orders[order.id] = order
        later = min(t + rng.randint(0, 3 * 86400), self.anchor - 120)
        if status in PAID_STATUSES:
            order.paid = t
            order.transaction_id = f"txn_{order.id:08d}" if payment[0] == "stripe" else ""
            self._reduce_stock(order, t)
        if status == "on-hold":
            order.paid = None
        if status == "completed":
            order.completed = max(t, later)
        if status == "refunded":
            self._add_refund(order, order.total(), "Refunded on request", max(t, later), restock=True)
        elif status in ("completed", "on-hold") and rng.random() < 0.05:
            li = order.line_items[0]
            self._add_refund(
                order, li.price, "Item arrived damaged", max(t, later), restock=False, lines={li.id: (1, li.price)}
            )
        order.status = status
        if status != "pending":
            self.add_note(
                order.id, f"Order status changed from Pending payment to {ORDER_STATUS_LABELS[status]}.", ts=t
            )
        order.modified = max(t, later) if status not in ("pending", "processing") else t
        if customer_id and status in PAID_STATUSES:
            self.customers[customer_id].is_paying_customer = True

    def _available(self, target: Product | Variation) -> int:
        """Units a checkout could sell: unlimited (large) when stock is not managed."""
        if isinstance(target, Variation) and target.manage_stock == "parent":
            target = self.products[target.parent_id]
        if target.manage_stock is True:
            return max(0, target.stock_quantity or 0)
        return 1_000_000

    def _shipping_line(self, total: str) -> dict[str, Any]:
        return {
            "id": self._item_id(),
            "method_title": "Flat rate",
            "method_id": "flat_rate",
            "instance_id": "",
            "total": total,
            "total_tax": "0.00",
            "taxes": [],
            "tax_status": "taxable",
            "meta_data": [],
        }

    def _make_line_item(self, target: Product | Variation, qty: int, price: Decimal | None = None) -> LineItem:
        if isinstance(target, Variation):
            parent = self.products[target.parent_id]
            meta = []
            for a in target.attributes:
                key = a["slug"] if a["id"] else slugify(a["name"])
                value = str(a["option"]).lower() if a["id"] else str(a["option"])
                meta.append(
                    {
                        "id": self._meta_id(),
                        "key": key,
                        "value": value,
                        "display_key": a["name"],
                        "display_value": str(a["option"]),
                    }
                )
            unit = Decimal(target.sale_price or target.regular_price or "0")
            return LineItem(
                self._item_id(),
                f"{parent.name} - {target.name}",
                parent.id,
                target.id,
                qty,
                price if price is not None else unit,
                target.sku,
                parent.name,
                meta,
            )
        unit = Decimal(target.sale_price or target.regular_price or "0")
        return LineItem(
            self._item_id(), target.name, target.id, 0, qty, price if price is not None else unit, target.sku, None, []
        )

    # ------------------------------------------------------------------ stock

    def _stock_holder(self, li: LineItem) -> Product | Variation | None:
        if li.variation_id:
            v = self.variations.get(li.variation_id)
            if v is None:
                return None
            if v.manage_stock == "parent":
                return self.products.get(v.parent_id)
            return v if v.manage_stock is True else None
        p = self.products.get(li.product_id)
        return p if p is not None and p.manage_stock else None

    def _bump(self, holder: Product | Variation, ts: int) -> None:
        holder.modified = max(holder.modified, ts)
        # WooCommerce fires product.updated for the item whose stock an order moved (recorded).
        self._emit("variation" if isinstance(holder, Variation) else "product", "updated", holder.id)
        if isinstance(holder, Variation):
            parent = self.products.get(holder.parent_id)
            if parent is not None:
                parent.modified = max(parent.modified, ts)
            self._touch("variations")
        self._touch("products")

    def _reduce_stock(self, order: Order, ts: int) -> None:
        """Paid orders take stock (``_reduced_stock`` line meta), as WooCommerce does on processing/on-hold."""
        if order.stock_reduced:
            return
        changes = []
        for li in order.line_items:
            holder = self._stock_holder(li)
            product = self.products.get(li.product_id)
            if product is not None:
                product.total_sales += li.quantity
            if holder is None:
                continue
            old = holder.stock_quantity or 0
            holder.stock_quantity = old - li.quantity
            changes.append(f'{li.name} ({li.sku})<span class="description"></span> {old}&rarr;{holder.stock_quantity}')
            li.meta_data.append(
                {
                    "id": self._meta_id(),
                    "key": "_reduced_stock",
                    "value": str(li.quantity),
                    "display_key": "_reduced_stock",
                    "display_value": str(li.quantity),
                }
            )
            self._bump(holder, ts)
        order.stock_reduced = True
        if changes:
            self.add_note(order.id, "Stock levels reduced: " + ", ".join(changes), ts=ts)

    @staticmethod
    def _reduced(li: LineItem) -> int:
        """Units this line still holds out of stock (its ``_reduced_stock`` meta; refunds restock part of it)."""
        meta = next((m for m in li.meta_data if m["key"] == "_reduced_stock"), None)
        return int(meta["value"]) if meta is not None else 0

    def _set_line_meta(self, li: LineItem, key: str, value: int | None) -> None:
        meta = next((m for m in li.meta_data if m["key"] == key), None)
        if value is None:
            if meta is not None:
                li.meta_data.remove(meta)
            return
        if meta is None:
            meta = {"id": self._meta_id(), "key": key, "value": "", "display_key": key, "display_value": ""}
            li.meta_data.append(meta)
        meta["value"] = meta["display_value"] = str(value)

    def _restore_stock(self, order: Order, ts: int) -> None:
        """``wc_increase_stock_levels``: gives back what each line still holds and drops ``_reduced_stock``."""
        if not order.stock_reduced:
            return
        for li in order.line_items:
            holder = self._stock_holder(li)
            held = self._reduced(li)
            self._set_line_meta(li, "_reduced_stock", None)
            if holder is None or not held:
                continue
            holder.stock_quantity = (holder.stock_quantity or 0) + held
            self._bump(holder, ts)
        order.stock_reduced = False

    def _add_refund(
        self,
        order: Order,
        amount: Decimal,
        reason: str,
        ts: int,
        restock: bool,
        lines: dict[int, tuple[int, Decimal]] | None = None,
        refunded_payment: bool = False,
    ) -> Refund:
        """Record a refund of ``amount``; ``lines`` maps order line id -> (quantity, refund_total).

        Without ``lines`` a full refund covers every line. ``restock`` puts the refunded quantities back
        (``wc_restock_refunded_items``): only lines whose stock was reduced, tracked in ``_reduced_stock`` and
        ``_restock_refunded_items`` line meta, with an order note per item.
        """
        if lines is None:
            lines = {li.id: (li.quantity, li.total) for li in order.line_items}
        refund = Refund(self._post_id(), order.id, ts, Decimal(amount), reason, 1, refunded_payment)
        for li in order.line_items:
            if li.id not in lines:
                continue
            qty, total = lines[li.id]
            if not qty and not total:
                continue
            refund.lines.append(
                RefundLine(
                    self._item_id(),
                    li.name,
                    li.product_id,
                    li.variation_id,
                    -qty,
                    -Decimal(total).quantize(Decimal("0.01")),
                    li.sku,
                    li.parent_name,
                    li.id,
                    self._meta_id(),
                )
            )
        self.refunds[refund.id] = refund
        order.refunds.insert(0, {"id": refund.id, "reason": reason, "total": money(-Decimal(amount))})
        if restock:
            for li in order.line_items:
                qty = lines.get(li.id, (0, Decimal(0)))[0]
                held = self._reduced(li)
                holder = self._stock_holder(li)
                if not qty or not held or holder is None:
                    continue
                old = holder.stock_quantity or 0
                holder.stock_quantity = old + qty
                self._bump(holder, ts)
                self._set_line_meta(li, "_reduced_stock", held - qty)
                already = next((int(m["value"]) for m in li.meta_data if m["key"] == "_restock_refunded_items"), 0)
                self._set_line_meta(li, "_restock_refunded_items", already + qty)
                self.add_note(
                    order.id, f"Item #{holder.id} stock increased from {old} to {holder.stock_quantity}.", ts=ts
                )
        order.modified = max(order.modified, ts)
        return refund

    def refunded_total(self, order: Order) -> Decimal:
        return -sum((Decimal(r["total"]) for r in order.refunds), Decimal(0))

    def create_refund(self, oid: int, data: dict[str, Any]) -> Refund:
        """POST /orders/{id}/refunds, with WooCommerce's checks and their odd error shapes.

        Errors the refund controller builds with a bare number as data come back as HTTP 500 (see
        :meth:`StoreError.bare`). ``api_refund`` (default true) asks the payment gateway: in this sandbox
        ``stripe`` refunds, the offline gateways (bacs, cheque, cod, paypal) cannot, anything else does not exist.
        """
        with self.lock:
            order = self.orders.get(oid)
            if order is None:
                raise StoreError.bare("woocommerce_rest_invalid_order_id", "Invalid order ID.", 404)
            api_refund = flag if isinstance(flag := data.get("api_refund"), bool) else True
            api_restock = flag if isinstance(flag := data.get("api_restock"), bool) else True
            raw_lines = given if isinstance(given := data.get("line_items"), list) else []
            lines: dict[int, tuple[int, Decimal]] = {}
            computable = bool(raw_lines)
            computed = Decimal(0)
            for item in raw_lines:
                if not isinstance(item, dict) or item.get("id") is None:
                    lines = {}  # WooCommerce leaves such a list as it is: no line matches it
                    computable = False
                    break
                qty = _to_int(item.get("quantity", item.get("qty")))
                total = _to_decimal(item.get("refund_total"))
                if total is None:
                    computable = False
                lines[_to_int(item.get("id"))] = (qty, total or Decimal(0))
                computed += total or Decimal(0)
            amount_raw = data.get("amount")
            if amount_raw is None:
                amount = computed if computable else Decimal(0)
            else:
                amount = _to_decimal(amount_raw) or Decimal(0)
            if amount < 0:
                raise StoreError.bare(
                    "woocommerce_rest_invalid_order_refund", "Refund amount must be greater than zero.", 400
                )
            remaining = order.total() - self.refunded_total(order)
            if amount > remaining:
                raise StoreError.bare("woocommerce_rest_cannot_create_order_refund", "Invalid refund amount.", 500)
            if api_refund:
                problem = _gateway_refund_problem(order.payment_method)
                if problem is not None:
                    self._post_id()  # the refund post was created, then deleted
                    raise StoreError.bare("woocommerce_rest_cannot_create_order_refund", problem, 500)
            ts = self.now()
            refund = self._add_refund(
                order,
                amount,
                str(data.get("reason") or ""),
                ts,
                restock=api_restock,
                lines=lines,
                refunded_payment=api_refund,
            )
            if isinstance(data.get("meta_data"), list):
                for m in data["meta_data"]:
                    if isinstance(m, dict) and m.get("key"):
                        refund.meta_data.append({"id": self._meta_id(), "key": m["key"], "value": m.get("value")})
            if remaining - amount <= 0 and order.status != "refunded":
                self._set_order_status(order, "refunded", ts)
            self._touch("orders")
            self._emit("order", "updated", order.id)  # order.updated listens to woocommerce_order_refunded
            return refund

    def get_refund(self, oid: int, rid: int) -> Refund:
        """GET /orders/{id}/refunds/{rid}: unknown refund 404; wrong order the controller's bare-data 500."""
        with self.lock:
            refund = self.refunds.get(rid)
            if refund is None:
                raise StoreError(404, "woocommerce_rest_shop_order_refund_invalid_id", "Invalid ID.")
            if oid not in self.orders:
                raise StoreError.bare("woocommerce_rest_invalid_order_id", "Invalid order ID.", 404)
            if refund.order_id != oid:
                raise StoreError.bare("woocommerce_rest_invalid_order_refund_id", "Invalid order refund ID.", 404)
            return refund

    def order_refunds(self, oid: int) -> list[Refund]:
        """Refunds of an order, newest first (an unknown order simply has none)."""
        with self.lock:
            return sorted((r for r in self.refunds.values() if r.order_id == oid), key=lambda r: (-r.created, -r.id))

    def delete_refund(self, oid: int, rid: int) -> Refund:
        """DELETE a refund (force only): the summary goes, stock and order status stay as they are."""
        with self.lock:
            refund = self.get_refund(oid, rid)
            del self.refunds[rid]
            order = self.orders[oid]
            order.refunds = [r for r in order.refunds if r["id"] != rid]
            self._touch("orders")
            return refund

    # ------------------------------------------------------------------ reads

    def get_product(self, pid: int) -> Product:
        with self.lock:
            p = self.products.get(pid)
            if p is None:
                raise invalid_id("product")
            return p

    def get_variation(self, parent_id: int, vid: int) -> Variation:
        with self.lock:
            v = self.variations.get(vid)
            if v is None or v.parent_id != parent_id:
                raise invalid_id("product_variation")
            return v

    def get_order(self, oid: int) -> Order:
        with self.lock:
            o = self.orders.get(oid)
            if o is None:
                raise invalid_id("shop_order")
            return o

    def get_customer(self, cid: int) -> Customer:
        with self.lock:
            c = self.customers.get(cid)
            if c is None:
                raise StoreError(404, "woocommerce_rest_invalid_id", "Invalid resource ID.")
            return c

    def variations_of(self, p: Product) -> list[Variation]:
        return [self.variations[v] for v in p.variation_ids if v in self.variations]

    def _sorted_view(
        self, kind: str, orderby: str, records: Iterable[Any], key: Callable[[Any], Any]
    ) -> tuple[list[Any], list[Any]]:
        """Records sorted ascending by (key, id), cached until that collection changes."""
        version = self._versions[kind]
        cached = self._sorted.get((kind, orderby))
        if cached is not None and cached[0] == version:
            return cached[1], cached[2]
        rows = sorted(records, key=lambda r: (key(r), r.id))
        keys = [key(r) for r in rows]
        self._sorted[(kind, orderby)] = (version, rows, keys)
        return rows, keys

    def query(
        self,
        kind: str,
        *,
        orderby: str,
        order: str,
        page: int,
        per_page: int,
        predicate: Callable[[Any], bool] | None = None,
        modified_after: int | None = None,
        modified_before: int | None = None,
        include: list[int] | None = None,
        parent_id: int | None = None,
    ) -> ListResult:
        """One page of ``kind`` records; O(log n + matches) for the ``orderby=modified`` incremental case."""
        with self.lock:
            if kind == "variations":
                assert parent_id is not None
                parent = self.get_product(parent_id)
                source: Iterable[Any] = self.variations_of(parent)
                rows = sorted(source, key=lambda r: (_SORT_KEYS[kind].get(orderby, _by_created)(r), r.id))
                keys = [r.modified for r in rows]
            else:
                tables: dict[str, dict[int, Any]] = {
                    "products": self.products,
                    "orders": self.orders,
                    "customers": self.customers,
                }
                source = tables[kind].values()
                if include and orderby in ("include", "post__in"):
                    pos = {v: i for i, v in enumerate(include)}
                    rows = sorted((r for r in source if r.id in pos), key=lambda r: pos[r.id])
                    keys = []
                elif orderby == "random":
                    rows = list(source)
                    random.Random(self.clock.seconds()).shuffle(rows)
                    keys = []
                else:
                    rows, keys = self._sorted_view(kind, orderby, source, _SORT_KEYS[kind].get(orderby, _by_created))
            if (
                orderby == "modified"
                and kind != "variations"
                and (modified_after is not None or modified_before is not None)
            ):
                lo = bisect.bisect_right(keys, modified_after) if modified_after is not None else 0
                hi = bisect.bisect_left(keys, modified_before) if modified_before is not None else len(rows)
                rows = rows[lo:hi]
            else:
                if modified_after is not None:
                    rows = [r for r in rows if r.modified > modified_after]
                if modified_before is not None:
                    rows = [r for r in rows if r.modified < modified_before]
            if include:
                wanted = set(include)
                rows = [r for r in rows if r.id in wanted]
            if predicate is not None:
                rows = [r for r in rows if predicate(r)]
            if order == "desc" and orderby not in ("include", "post__in", "random"):
                rows = rows[::-1]
            start = (page - 1) * per_page
            return ListResult(rows[start : start + per_page], len(rows))

    # ------------------------------------------------------------------ product writes

    def _check_sku(self, sku: str, own_id: int | None) -> None:
        if not sku:
            return
        owner = self.sku_index.get(sku)
        if owner is not None and owner != own_id:
            raise StoreError(
                400,
                "product_invalid_sku",
                "Invalid or duplicated SKU.",
                resource_id=owner,
                unique_sku=self._unique_sku(f"{sku}-1"),
            )

    def create_product(self, data: dict[str, Any]) -> Product:
        """POST /products: simple or variable, ``status`` defaults to publish."""
        with self.lock:
            sku = str(data.get("sku") or "")
            self._check_sku(sku, None)
            ts = self.now()
            pid = self._post_id()
            status = data.get("status", "publish")
            name = str(data.get("name", "Product"))
            ptype = data.get("type", "simple")
            p = Product(
                id=pid,
                name=name,
                slug=slugify(name) if status == "publish" else "",
                type=ptype,
                status=status,
                sku=sku,
                regular_price="",
                sale_price="",
                created=ts,
                modified=ts,
                manage_stock=False,
                stock_quantity=None,
            )
            if ptype == "variable":
                p.attributes = [self._product_attribute(a, i) for i, a in enumerate(data.get("attributes") or [])]
            self.products[pid] = p
            if sku:
                self.sku_index[sku] = pid
            self._apply_product_fields(p, {k: v for k, v in data.items() if k not in ("attributes", "sku")})
            p.modified = ts
            self._touch("products")
            self._emit("product", "created", p.id)
            return p

    def _product_attribute(self, a: dict[str, Any], position: int) -> dict[str, Any]:
        """A product's attribute entry: global ones (by id) take the taxonomy's name and create missing terms."""
        aid = int(a.get("id") or 0)
        attr = self.catalog.attributes.get(aid) if aid else None
        if attr is not None:
            name, slug = attr.name, attr.taxonomy
            self.catalog.ensure_terms(attr, list(a.get("options") or []))
        else:
            aid = 0
            name, slug = a.get("name", ""), a.get("name", "")
        return {
            "id": aid,
            "name": name,
            "slug": slug,
            "position": position,
            "visible": a.get("visible", True),
            "variation": a.get("variation", True),
            "options": list(a.get("options") or []),
        }

    def _apply_product_fields(self, p: Product | Variation, data: dict[str, Any]) -> None:
        if "stock_quantity" in data and data["stock_quantity"] is not None:
            value = data["stock_quantity"]
            if isinstance(value, bool) or not (
                isinstance(value, int) or (isinstance(value, str) and value.lstrip("-").isdigit())
            ):
                raise StoreError(
                    400,
                    "rest_invalid_param",
                    "Invalid parameter(s): stock_quantity",
                    params={"stock_quantity": "stock_quantity is not of type integer."},
                    details={
                        "stock_quantity": {
                            "code": "rest_invalid_type",
                            "message": "stock_quantity is not of type integer.",
                            "data": {"param": "stock_quantity"},
                        }
                    },
                )
        if "sku" in data:
            sku = str(data["sku"] or "")
            self._check_sku(sku, p.id)
            if p.sku:
                self.sku_index.pop(p.sku, None)
            p.sku = sku
            if sku:
                self.sku_index[sku] = p.id
        for key in ("regular_price", "sale_price"):
            if key in data:
                setattr(p, key, money(data[key]) if data[key] not in ("", None) else "")
        if "manage_stock" in data:
            p.manage_stock = data["manage_stock"] if data["manage_stock"] == "parent" else bool(data["manage_stock"])
        if data.get("stock_quantity") is not None:
            p.stock_quantity = int(data["stock_quantity"])
            if isinstance(p, Variation) and p.manage_stock == "parent":
                parent = self.products.get(p.parent_id)
                if parent is not None:
                    parent.stock_quantity = p.stock_quantity
        for key in ("description", "weight", "status", "backorders"):
            if key in data:
                setattr(p, key, data[key])
        if isinstance(p, Product):
            for key in ("name", "short_description", "featured"):
                if key in data:
                    setattr(p, key, data[key])
            if "categories" in data:
                p.categories = self.catalog.product_categories(list(data["categories"] or []))
            if "dimensions" in data:
                p.dimensions = {**p.dimensions, **data["dimensions"]}
            if data.get("status") == "publish" and not p.slug:
                p.slug = slugify(p.name)
        if "meta_data" in data:
            for m in data["meta_data"]:
                existing = next((x for x in p.meta_data if x["key"] == m.get("key")), None)
                if existing:
                    existing["value"] = m.get("value")
                else:
                    p.meta_data.append({"id": self._meta_id(), "key": m.get("key"), "value": m.get("value")})

    def update_product(self, pid: int, data: dict[str, Any]) -> Product:
        """PUT /products/{id}: partial update; bumps ``date_modified``."""
        with self.lock:
            p = self.get_product(pid)
            self._apply_product_fields(p, data)
            p.modified = max(p.modified, self.now())
            self._touch("products")
            self._emit("product", "updated", p.id)
            return p

    def delete_product(self, pid: int, force: bool = False) -> Product:
        """DELETE /products/{id}: trash (slug ``__trashed``, new date_modified) or permanent delete.

        Returns a snapshot of the product as it was before the operation, like the real response.
        """
        with self.lock:
            p = self.get_product(pid)
            before = _copy_product(p)
            if force:
                del self.products[pid]
                self.sku_index.pop(p.sku, None)
                for vid in p.variation_ids:
                    v = self.variations.pop(vid, None)
                    if v is not None:
                        self.sku_index.pop(v.sku, None)
                self._touch("variations")
                # As a real store reports old orders afterwards (issue 8): the line names no product (product_id
                # 0) and no SKU (wc/v3 reads the SKU from the product, null when it is gone); the order's
                # date_modified does not move, so only a full read sees it.
                for o in self.orders.values():
                    for li in o.line_items:
                        if li.product_id == pid:
                            li.product_id, li.variation_id, li.sku = 0, 0, None  # type: ignore[assignment]
            elif p.status != "trash":
                p.pre_trash_slug = p.slug
                p.slug = f"{p.slug}__trashed" if p.slug else ""
                p.status = "trash"
                p.modified = max(p.modified, self.now())
                self._emit("product", "deleted", pid)  # product.deleted listens to the trash action only
            self._touch("products")
            return before

    def create_variation(self, parent_id: int, data: dict[str, Any]) -> Variation:
        with self.lock:
            parent = self.get_product(parent_id)
            sku = str(data.get("sku") or "")
            self._check_sku(sku, None)
            ts = self.now()
            attrs = []
            for a in data.get("attributes") or []:
                aid = int(a.get("id") or 0)
                attr = self.catalog.attributes.get(aid) if aid else None
                name = attr.name if attr is not None else a.get("name", "")
                slug = attr.taxonomy if attr is not None else slugify(a.get("name", ""))
                attrs.append(
                    {"id": aid if attr is not None else 0, "name": name, "slug": slug, "option": a.get("option", "")}
                )
            v = Variation(
                id=self._post_id(),
                parent_id=parent_id,
                sku=sku,
                regular_price="",
                sale_price="",
                created=ts,
                modified=ts,
                manage_stock="parent" if parent.manage_stock else False,
                stock_quantity=None,
                attributes=attrs,
            )
            self.variations[v.id] = v
            if sku:
                self.sku_index[sku] = v.id
            self._apply_product_fields(v, {k: val for k, val in data.items() if k not in ("attributes", "sku")})
            parent.variation_ids.append(v.id)
            self._touch("variations")
            self._touch("products")
            self._emit("variation", "created", v.id)  # product.created fires for variations too (recorded)
            return v

    def update_variation(self, parent_id: int, vid: int, data: dict[str, Any]) -> Variation:
        """PUT /products/{parent}/variations/{id}; bumps the variation's and the parent's ``date_modified``."""
        with self.lock:
            v = self.get_variation(parent_id, vid)
            self._apply_product_fields(v, data)
            ts = self.now()
            v.modified = max(v.modified, ts)
            self._bump(v, ts)  # emits product.updated for the variation
            return v

    def delete_variation(self, parent_id: int, vid: int) -> Variation:
        with self.lock:
            v = self.get_variation(parent_id, vid)
            del self.variations[vid]
            self.sku_index.pop(v.sku, None)
            parent = self.products[parent_id]
            parent.variation_ids.remove(vid)
            parent.modified = max(parent.modified, self.now())
            self._touch("variations")
            self._touch("products")
            return v

    def set_stock(self, item_id: int, quantity: int) -> Product | Variation:
        """Absolute stock set on a product or variation (as PUT ``stock_quantity`` does)."""
        with self.lock:
            if item_id in self.variations:
                v = self.variations[item_id]
                return self.update_variation(v.parent_id, item_id, {"stock_quantity": quantity})
            return self.update_product(item_id, {"stock_quantity": quantity})

    def touch_products(self, count: int | None = None, ids: list[int] | None = None) -> list[int]:
        """Bump ``date_modified`` of some products (admin helper for incremental-sync tests)."""
        with self.lock:
            ts = self.now()
            if ids is None:
                live = [p.id for p in self.products.values() if p.status != "trash"]
                ids = live[: count if count is not None else 1]
            for pid in ids:
                self.get_product(pid).modified = max(self.products[pid].modified, ts)
                self._emit("product", "updated", pid)
            self._touch("products")
            return ids

    # ------------------------------------------------------------------ order writes

    def add_order(self, data: dict[str, Any]) -> Order:
        """POST /orders: ``set_paid`` makes it processing (date_paid, stock reduced); default pending."""
        with self.lock:
            ts = self.now()
            items = []
            for li in data.get("line_items") or []:
                vid = int(li.get("variation_id") or 0)
                target: Product | Variation = (
                    self.get_variation(int(li["product_id"]), vid) if vid else self.get_product(int(li["product_id"]))
                )
                price = Decimal(str(li["price"])) if li.get("price") is not None else None
                items.append(self._make_line_item(target, int(li.get("quantity", 1)), price))
            customer_id = int(data.get("customer_id") or 0)
            if customer_id:
                self.get_customer(customer_id)
            coupons = self._order_coupons(data.get("coupon_lines"))
            order = Order(
                id=self._post_id(),
                status="pending",
                created=ts,
                modified=ts,
                customer_id=customer_id,
                billing=order_address(True, **(data.get("billing") or {})),
                shipping=order_address(False, **(data.get("shipping") or {})),
                line_items=items,
                order_key=self._order_key(),
                payment_method=data.get("payment_method", ""),
                payment_method_title=data.get("payment_method_title", ""),
                transaction_id=data.get("transaction_id", ""),
                created_via="rest-api",
                customer_note=data.get("customer_note", ""),
                shipping_lines=[
                    self._shipping_line(money(s.get("total", "0")))
                    | {"method_title": s.get("method_title", "Flat rate"), "method_id": s.get("method_id", "flat_rate")}
                    for s in data.get("shipping_lines") or []
                ],
            )
            for m in data.get("meta_data") or []:
                order.meta_data.append({"id": self._meta_id(), "key": m.get("key"), "value": m.get("value")})
            for coupon in coupons:
                self._apply_coupon(order, coupon)
            self.orders[order.id] = order
            status = data.get("status") or ("processing" if data.get("set_paid") else "pending")
            if data.get("set_paid"):
                order.paid = ts
            self._set_order_status(order, status, ts)
            self._touch("orders")
            self._emit("order", "created", order.id)
            return order

    def _order_coupons(self, lines: Any) -> list[Any]:
        """The coupons an order write names in ``coupon_lines`` (checked before anything is written)."""
        out = []
        for line in lines if isinstance(lines, list) else []:
            code = str((line or {}).get("code") or "").strip() if isinstance(line, dict) else ""
            if not code:
                raise StoreError(400, "woocommerce_rest_required_coupon_code", "Coupon code is required.")
            coupon = self.catalog.coupon_by_code(code)
            if coupon is None:
                raise StoreError(
                    400,
                    "woocommerce_rest_invalid_coupon",
                    f'Coupon "{code.lower()}" cannot be applied because it does not exist.',
                )
            out.append(coupon)
        return out

    def _apply_coupon(self, order: Order, coupon: Any) -> None:
        """Discount the lines (percent of each line, fixed per unit, or a fixed cart amount spread by line value)
        and record the coupon line and its usage, as WooCommerce shows them (orders-list-page2.json, order 35)."""
        amount = Decimal(coupon.amount)
        lines = [li for li in order.line_items if li.total > 0]
        discounts: dict[int, Decimal] = {}
        if coupon.discount_type == "percent":
            for li in lines:
                discounts[li.id] = min(li.total, (li.subtotal * amount / 100).quantize(Decimal("0.01")))
        elif coupon.discount_type == "fixed_product":
            for li in lines:
                discounts[li.id] = min(li.total, amount * li.quantity)
        else:  # fixed_cart: spread by line value, the rounding remainder on the last line
            base = sum((li.total for li in lines), Decimal(0))
            wanted = min(amount, base)
            given = Decimal(0)
            for i, li in enumerate(lines):
                share = wanted - given if i == len(lines) - 1 else (wanted * li.total / base).quantize(Decimal("0.01"))
                discounts[li.id] = min(li.total, share)
                given += discounts[li.id]
        for li in lines:
            li.discount += discounts.get(li.id, Decimal(0))
        nominal = int(amount) if amount == amount.to_integral_value() else float(amount)
        info = json.dumps([coupon.id, coupon.code, coupon.discount_type, nominal], separators=(",", ":"))
        order.coupon_lines.append(
            {
                "id": self._item_id(),
                "code": coupon.code,
                "discount": money(sum(discounts.values(), Decimal(0))),
                "discount_tax": "0",
                "meta_data": [
                    {
                        "id": self._meta_id(),
                        "key": "coupon_info",
                        "value": info,
                        "display_key": "coupon_info",
                        "display_value": info,
                    }
                ],
                "discount_type": coupon.discount_type,
                "nominal_amount": nominal,
                "free_shipping": coupon.free_shipping,
            }
        )
        coupon.usage_count += 1
        coupon.used_by.append(str(order.customer_id) if order.customer_id else order.billing.get("email", ""))
        self.touch_catalog()
        self._emit("coupon", "updated", coupon.id)

    def _release_coupons(self, order: Order) -> None:
        """A cancelled order gives its coupon uses back (``wc_update_coupon_usage_counts``)."""
        who = str(order.customer_id) if order.customer_id else order.billing.get("email", "")
        for line in order.coupon_lines:
            coupon = self.catalog.coupon_by_code(line["code"])
            if coupon is None:
                continue
            coupon.usage_count = max(0, coupon.usage_count - 1)
            if who in coupon.used_by:
                coupon.used_by.remove(who)
            self._emit("coupon", "updated", coupon.id)

    def _set_order_status(self, order: Order, status: str, ts: int) -> None:
        previous = order.status
        order.status = status
        if status in STOCK_REDUCING_STATUSES:
            self._reduce_stock(order, ts)
        elif status in ("cancelled", "pending") and previous != status:
            self._restore_stock(order, ts)  # wc_maybe_increase_stock_levels listens to both
        if status == "cancelled" and previous != status:
            self._release_coupons(order)
        if previous != status:
            self.add_note(
                order.id,
                f"Order status changed from {ORDER_STATUS_LABELS.get(previous, previous)} to "
                f"{ORDER_STATUS_LABELS.get(status, status)}.",
                ts=ts,
            )
        if status in ("processing", "completed") and order.paid is None:
            order.paid = ts
        if status == "completed" and order.completed is None:
            order.completed = ts
        if order.customer_id and status in PAID_STATUSES and order.customer_id in self.customers:
            self.customers[order.customer_id].is_paying_customer = True

    def update_order(self, oid: int, data: dict[str, Any]) -> Order:
        """PUT /orders/{id}: status change (with stock side effects) and simple fields; bumps date_modified."""
        with self.lock:
            o = self.get_order(oid)
            ts = self.now()
            if "status" in data and data["status"] != o.status:
                self._set_order_status(o, data["status"], ts)
            for key in ("customer_note", "transaction_id", "payment_method", "payment_method_title"):
                if key in data:
                    setattr(o, key, data[key])
            for key in ("billing", "shipping"):
                if key in data:
                    getattr(o, key).update({k: v for k, v in data[key].items() if k in getattr(o, key)})
            if data.get("set_paid") and o.paid is None:
                o.paid = ts
            o.modified = max(o.modified, ts)
            self._touch("orders")
            self._emit("order", "updated", o.id)
            return o

    def refund_order(
        self, oid: int, amount: str | None = None, reason: str = "", restock: bool = True
    ) -> dict[str, Any]:
        """Admin helper: full (default) or amount-only partial refund; a full refund makes the order "refunded"."""
        with self.lock:
            o = self.get_order(oid)
            value = Decimal(amount) if amount is not None else o.total() - self.refunded_total(o)
            lines: dict[int, tuple[int, Decimal]] | None = None if amount is None else {}
            full = {"amount": str(value), "reason": reason, "api_refund": False, "api_restock": restock}
            if lines is None:
                full["line_items"] = [
                    {"id": li.id, "quantity": li.quantity, "refund_total": str(li.total)} for li in o.line_items
                ]
            refund = self.create_refund(oid, full)
            return {"id": refund.id, "reason": refund.reason, "total": money(-refund.amount)}

    def delete_order(self, oid: int, force: bool = False) -> Order:
        """DELETE /orders/{id}: ``force`` deletes for good, otherwise the order goes to the trash."""
        with self.lock:
            o = self.get_order(oid)
            before = _copy_order(o)
            if force:
                del self.orders[oid]
            else:
                o.status = "trash"
                o.modified = max(o.modified, self.now())
            self._touch("orders")
            self._emit("order", "deleted", oid)
            return before

    # ------------------------------------------------------------------ customer writes

    def update_customer(self, cid: int, data: dict[str, Any]) -> Customer:
        """PUT /customers/{id}: partial billing/shipping objects merge into the existing ones."""
        with self.lock:
            c = self.get_customer(cid)
            for key in ("email", "first_name", "last_name"):
                if key in data:
                    setattr(c, key, data[key])
            for key in ("billing", "shipping"):
                if key in data:
                    getattr(c, key).update({k: v for k, v in data[key].items() if k in getattr(c, key)})
            c.modified = max(c.modified, self.now())
            self._touch("customers")
            self._emit("customer", "updated", c.id)
            return c

    def delete_customer(self, cid: int) -> Customer:
        """DELETE /customers/{id}?force=true: the user goes; their orders stay as they are."""
        with self.lock:
            c = self.get_customer(cid)
            del self.customers[cid]
            self._touch("customers")
            self._emit("customer", "deleted", cid)
            return c

    def create_customer(self, data: dict[str, Any]) -> Customer:
        with self.lock:
            email = str(data.get("email", ""))
            if any(c.email == email for c in self.customers.values()):
                raise StoreError(
                    400,
                    "registration-error-email-exists",
                    "An account is already registered with your email address. "
                    '<a href="#" class="showlogin">Please log in.</a>',
                )
            ts = self.now()
            cid = self._next_user
            self._next_user += 1
            c = Customer(
                id=cid,
                created=ts,
                modified=ts,
                email=email,
                first_name=data.get("first_name", ""),
                last_name=data.get("last_name", ""),
                username=data.get("username") or email.split("@")[0],
                billing=customer_address(True, **(data.get("billing") or {})),
                shipping=customer_address(False, **(data.get("shipping") or {})),
            )
            self.customers[cid] = c
            self._touch("customers")
            self._emit("customer", "created", cid)
            return c


def _copy_product(p: Product) -> Product:
    import copy

    return copy.deepcopy(p)


def _copy_order(o: Order) -> Order:
    import copy

    return copy.deepcopy(o)


def _by_created(r: Any) -> int:
    return r.created


def _price_key(r: Any) -> Decimal:
    value = r.sale_price or r.regular_price
    return Decimal(value) if value else Decimal(0)


_PRODUCT_KEYS: dict[str, Callable[[Any], Any]] = {
    "date": _by_created,
    "id": lambda r: 0,
    "title": lambda r: r.name.lower(),
    "slug": lambda r: r.slug,
    "modified": lambda r: r.modified,
    "price": _price_key,
    "popularity": lambda r: r.total_sales,
    "sales": lambda r: r.total_sales,
    "rating": lambda r: 0,
    "menu_order": lambda r: 0,
}
_VARIATION_KEYS: dict[str, Callable[[Any], Any]] = {
    "date": _by_created,
    "id": lambda r: 0,
    "title": lambda r: r.name.lower(),
    "slug": lambda r: r.sku,
    "modified": lambda r: r.modified,
    "price": _price_key,
    "menu_order": lambda r: 0,
}
_ORDER_KEYS: dict[str, Callable[[Any], Any]] = {
    "date": _by_created,
    "id": lambda r: 0,
    "title": lambda r: 0,
    "slug": lambda r: 0,
    "modified": lambda r: r.modified,
}
_CUSTOMER_KEYS: dict[str, Callable[[Any], Any]] = {
    "id": lambda r: 0,
    "name": lambda r: r.display_name.lower(),
    "registered_date": _by_created,
}
_SORT_KEYS = {
    "products": _PRODUCT_KEYS,
    "variations": _VARIATION_KEYS,
    "orders": _ORDER_KEYS,
    "customers": _CUSTOMER_KEYS,
}


def _to_int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _to_decimal(value: Any) -> Decimal | None:
    """A PHP-numeric value as Decimal; None when it is not numeric."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value).strip())
    except ArithmeticError:
        return None


OFFLINE_GATEWAYS = frozenset({"bacs", "cheque", "cod", "paypal"})
REFUNDING_GATEWAYS = frozenset({"stripe"})


def _gateway_refund_problem(payment_method: str) -> str | None:
    """``wc_refund_payment``'s refusal for this gateway, or None when it can refund automatically."""
    if payment_method in REFUNDING_GATEWAYS:
        return None
    if payment_method in OFFLINE_GATEWAYS:
        return "The payment gateway for this order does not support automatic refunds."
    return "The payment gateway for this order does not exist."
