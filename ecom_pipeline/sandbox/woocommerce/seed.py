"""The demo catalogue of an emulated WooCommerce shop, generated from a seed.

Same name, seed, sizes and anchor give the same shop, record for record: fixtures, benchmarks and the recorded
contract replays rely on ids and SKUs staying put, so any change here changes every seeded shop (keep the order
of the random draws). Products fill the first two thirds of a 90-day window, orders the last third, so ids grow
with creation time as WordPress auto-increment ids do; paid orders take stock and some are refunded, through the
same store methods the REST writes use.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from ecom_pipeline.platforms.woocommerce import slugs
from ecom_pipeline.sandbox.seeding import Timeline
from ecom_pipeline.sandbox.woocommerce.records import (
    ORDER_STATUS_LABELS,
    PAID_STATUSES,
    Customer,
    Order,
    Product,
    Variation,
    customer_address,
    money,
    order_address,
    slugify,
)

if TYPE_CHECKING:
    from ecom_pipeline.sandbox.woocommerce.store import WooStore

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


class WooSeeder:
    """Fills an empty :class:`WooStore` with its seeded history (records only; listeners are not called)."""

    def __init__(self, store: WooStore) -> None:
        self.store = store
        self.rng = store._rng
        self.slugs: set[str] = set()  # the published products' slugs so far (``_slug``)

    def _slug(self, name: str) -> str:
        """A published product's slug as WordPress saves one made from its name: ``sanitize_title`` (slugs.py, the
        function the REST writes use; the old ASCII fold made ``Men's Tee`` ``men-s-tee`` where WordPress has
        ``mens-tee``), then ``wp_unique_post_slug``: a slug another product holds, or a reserved one (``feed``),
        gets the first free ``-2``, ``-3``. Kept in a set, not looked up in the store, so seeding stays linear."""
        wanted = slugs.sanitize_title(name)
        slug = wanted
        suffix = 2
        while slug in self.slugs or slug in slugs.RESERVED_FLAT_SLUGS:
            slug = slugs.suffixed_slug(wanted, suffix)
            suffix += 1
        self.slugs.add(slug)
        return slug

    def run(self, n_products: int, variable_share: float, n_orders: int, n_customers: int) -> None:
        """Products, then customers, then orders (taking stock, some refunded), then later edits: in that order."""
        timeline = Timeline(self.rng, self.store.anchor)
        for i, t in enumerate(timeline.product_times(n_products)):
            if self.rng.random() < variable_share:
                self._gen_variable(i, t)
            else:
                self._gen_simple(i, t)
        for _ in range(n_customers):
            self._gen_customer(timeline.signup_time())
        sellable = [p for p in self.store.products.values() if p.status == "publish"]
        customer_ids = list(self.store.customers)
        for t in timeline.order_times(n_orders):
            if not sellable:
                break
            self._gen_order(t, sellable, customer_ids)
        for p in self.store.products.values():
            edited = timeline.edited_at(p.created)
            if edited is not None:
                p.modified = max(p.modified, edited)
                for vid in p.variation_ids:
                    self.store.variations[vid].modified = min(self.store.variations[vid].modified, p.modified)
        for c in self.store.customers.values():
            edited = timeline.edited_at(c.created)
            if edited is not None:
                c.modified = max(c.modified, edited)

    def _gen_name(self, i: int) -> str:
        rng = self.rng
        name = f"{rng.choice(_ADJ)} {rng.choice(_NOUN)}"
        return name if i < 50 else f"{name} {i}"

    def _gen_simple(self, i: int, t: int) -> None:
        rng = self.rng
        name = self._gen_name(i)
        regular = Decimal(rng.randint(300, 15000)) / 100
        sale = ""
        if rng.random() < 0.15:
            sale = money(regular * Decimal("0.8"))
        managed = rng.random() < 0.7
        pid = self.store._post_id()
        status = "draft" if rng.random() < 0.03 else "publish"
        slug = self._slug(name) if status == "publish" else ""
        sku = self.store._unique_sku(f"{slugify(name).upper()[:18].strip('-')}-{pid}")
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
        self.store.products[pid] = p
        self.store.sku_index[sku] = pid

    def _gen_variable(self, i: int, t: int) -> None:
        rng = self.rng
        name = self._gen_name(i)
        pid = self.store._post_id()
        parent_managed = rng.random() < 0.25
        n_var = rng.randint(2, 5)
        base_sku = self.store._unique_sku(f"{slugify(name).upper()[:14].strip('-')}-{pid}")
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
            slug=self._slug(name),
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
        self.store.products[pid] = p
        self.store.sku_index[base_sku] = pid
        for attrs in combos:
            vid = self.store._post_id()
            suffix = "-".join(str(a["option"])[:3].upper() for a in attrs)
            sku = self.store._unique_sku(f"{base_sku}-{suffix}")
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
            self.store.variations[vid] = v
            self.store.sku_index[sku] = vid
            p.variation_ids.append(vid)

    def _gen_customer(self, t: int) -> Customer:
        rng = self.rng
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        cid = self.store._next_user
        self.store._next_user += 1
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
        self.store.customers[cid] = c
        return c

    def _gen_order(self, t: int, sellable: list[Product], customer_ids: list[int]) -> None:
        rng = self.rng
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
            c = self.store.customers[customer_id]
            addr = {k: v for k, v in c.billing.items() if k not in ("email", "phone")}
            email = c.email
        lines = []
        for product in rng.sample(sellable, min(len(sellable), rng.randint(1, 3))):
            target: Product | Variation = product
            if product.type == "variable":
                if not product.variation_ids:
                    continue
                target = self.store.variations[rng.choice(product.variation_ids)]
            lines.append((target, rng.randint(1, 3)))
        if status in PAID_STATUSES:
            # A checkout cannot oversell when backorders are off: seeded stock never goes negative.
            sellable_lines = [(target, min(qty, self.store._available(target))) for target, qty in lines]
            sellable_lines = [(target, qty) for target, qty in sellable_lines if qty > 0]
            if sellable_lines:
                lines = sellable_lines
            else:  # everything picked is sold out: the customer never paid
                status = "pending"
        if not lines:
            return
        payment = rng.choice(_PAYMENT)
        items = [self.store._make_line_item(target, qty) for target, qty in lines]
        order = Order(
            id=self.store._post_id(),
            status="pending",
            created=t,
            modified=t,
            customer_id=customer_id,
            billing=order_address(True, **addr, email=email, phone=""),
            shipping=order_address(False, **addr),
            line_items=items,
            order_key=self.store._order_key(),
            payment_method=payment[0],
            payment_method_title=payment[1],
            shipping_lines=[self.store._shipping_line(money(rng.choice(["4.90", "9.00", "0.00"])))],
        )
        if rng.random() < 0.05:
            order.fee_lines.append(
                {
                    "id": self.store._item_id(),
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
        self.store.orders[order.id] = order
        later = min(t + rng.randint(0, 3 * 86400), self.store.anchor - 120)
        if status in PAID_STATUSES:
            order.paid = t
            order.transaction_id = f"txn_{order.id:08d}" if payment[0] == "stripe" else ""
            self.store._reduce_stock(order, t)
        if status == "on-hold":
            order.paid = None
        if status == "completed":
            order.completed = max(t, later)
        if status == "refunded":
            self.store._add_refund(order, order.total(), "Refunded on request", max(t, later), restock=True)
        elif status in ("completed", "on-hold") and rng.random() < 0.05:
            li = order.line_items[0]
            self.store._add_refund(
                order, li.price, "Item arrived damaged", max(t, later), restock=False, lines={li.id: (1, li.price)}
            )
        order.status = status
        if status != "pending":
            self.store.add_note(
                order.id, f"Order status changed from Pending payment to {ORDER_STATUS_LABELS[status]}.", ts=t
            )
        order.modified = max(t, later) if status not in ("pending", "processing") else t
        if customer_id and status in PAID_STATUSES:
            self.store.customers[customer_id].is_paying_customer = True
