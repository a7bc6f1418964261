"""The data of one emulated Shopify shop: seeded catalogue, stock, customers, orders, and mutations for tests.

Everything is deterministic from ``(name, seed)`` so two runs of a test see the same ids, SKUs and prices.
Timestamps are whole seconds (Shopify's GraphQL ``DateTime`` has one-second resolution) read from the injected
:class:`~ecom_pipeline.sandbox.clock.SandboxClock`, so tests control "now" without sleeping. Every mutation bumps
``updated_at`` of what it touches and notifies listeners (the webhook dispatcher) with the REST-shaped payload
Shopify would deliver for that topic.
"""

from __future__ import annotations

import itertools
import random
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

from ecom_pipeline.sandbox.clock import SandboxClock
from ecom_pipeline.sandbox.shopify.search import SearchIndex

CENT = Decimal("0.01")
DAY = 86_400
SIZES = ["XXS", "XS", "S", "M", "L", "XL", "XXL", "3XL", "4XL", "5XL", "28", "30", "32", "34", "36", "38"]
COLORS = [
    "Black",
    "White",
    "Red",
    "Blue",
    "Green",
    "Yellow",
    "Grey",
    "Navy",
    "Pink",
    "Purple",
    "Orange",
    "Brown",
    "Beige",
    "Olive",
    "Teal",
    "Maroon",
]
MATERIALS = ["Cotton", "Linen", "Wool", "Silk", "Denim", "Leather", "Polyester", "Hemp"]
NOUNS = ["Shirt", "Mug", "Hoodie", "Cap", "Poster", "Tote", "Sneaker", "Lamp", "Notebook", "Scarf", "Teapot", "Sock"]
ADJECTIVES = ["Classic", "Organic", "Vintage", "Urban", "Cosy", "Bold", "Minimal", "Retro", "Alpine", "Coastal"]
VENDORS = ["Acme", "Northwind", "Globex", "Initech", "Umbrella"]
FIRST_NAMES = ["Ada", "Bob", "Chloé", "Dmitri", "Eve", "Farah", "Gus", "Hana", "Ines", "Jules", "Kofi", "Lena"]
LAST_NAMES = ["Lovelace", "Biller", "Martin", "Ivanov", "Nakamura", "Okafor", "Dubois", "Schmidt", "García", "Rossi"]
CITIES = [
    ("Ottawa", "ON", "CA", "K2P 2L8"),
    ("Paris", "", "FR", "75002"),
    ("Berlin", "", "DE", "10115"),
    ("New York", "NY", "US", "10001"),
    ("London", "", "GB", "EC1A 1BB"),
]
# Presentment currencies and their rate against the shop currency (fixed so totals are reproducible).
PRESENTMENT_RATES = {"EUR": Decimal("0.92"), "GBP": Decimal("0.79"), "CAD": Decimal("1.36"), "JPY": Decimal("151")}


def gid(kind: str, ident: int) -> str:
    """Shopify's global id form, e.g. ``gid://shopify/Product/123``."""
    return f"gid://shopify/{kind}/{ident}"


def parse_gid(value: str | int, kind: str | None = None) -> int:
    """The numeric id of a gid (or a bare number); ``ValueError`` if it is not one (of ``kind``)."""
    if isinstance(value, int):
        return value
    text = str(value)
    if text.isdigit():
        return int(text)
    prefix = "gid://shopify/"
    if not text.startswith(prefix):
        raise ValueError(f"Invalid global id '{text}'")
    got_kind, _, rest = text[len(prefix) :].partition("/")
    if kind is not None and got_kind != kind:
        raise ValueError(f"Invalid global id '{text}'")
    number = rest.split("?", 1)[0]
    if not number.isdigit():
        raise ValueError(f"Invalid global id '{text}'")
    return int(number)


def iso(ts: int | float | None) -> str | None:
    """GraphQL ``DateTime``: UTC, second resolution, ``Z`` suffix."""
    if ts is None:
        return None
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(value: Decimal | float | int | str) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


# Shopify's limits on a product's tags: each at most 255 characters (longer: a userError, nothing written), at most
# 250 per product ("Product tags now have a limit of 250 per product", shopify.dev changelog 2019-03-04).
TAG_MAX_LENGTH = 255
TAGS_MAX_COUNT = 250


def product_tags(value: Any, field: list[str]) -> tuple[list[str] | None, list[dict[str, Any]]]:
    """A product's tags as Shopify keeps them from a ``tags`` input: each trimmed, empty ones dropped, a tag given
    twice kept once (the first), in the order given; ``(None, [])`` when the input has no ``tags``. A tag over
    ``TAG_MAX_LENGTH`` characters, or more than ``TAGS_MAX_COUNT`` tags, is a userError at ``field``: the whole
    write is refused (that product only), as Shopify answers it."""
    if value is None:
        return None, []
    items = [value] if isinstance(value, str) else list(value)
    tags: list[str] = []
    for item in items:
        tag = str(item).strip()
        if tag and tag not in tags:
            tags.append(tag)
    long = [t for t in tags if len(t) > TAG_MAX_LENGTH]
    if long:
        message = f"Tags is too long (maximum is {TAG_MAX_LENGTH} characters): {long[0][:20]}..."
        return None, [{"field": field, "message": message, "code": "INVALID_INPUT"}]
    if len(tags) > TAGS_MAX_COUNT:
        message = f"Tags cannot be more than {TAGS_MAX_COUNT}."
        return None, [{"field": field, "message": message, "code": "INVALID_INPUT"}]
    return tags, []


# Characters Shopify drops from a handle instead of turning them into a hyphen (see ``product_handle``).
_HANDLE_DROPPED = re.compile(r"[\"'()\[\]]")
# A run of anything else that is not a letter, digit, ``_`` or ``-``: one hyphen.
_HANDLE_SPECIAL = re.compile(r"[^\w-]+")


def product_handle(value: Any) -> str:
    """A product handle as Shopify stores it from the ``handle`` it is given (or a title it makes one of).

    shopify.dev (``productByHandle``, https://shopify.dev/docs/api/admin-graphql/2026-01/queries/productByHandle, and
    Liquid basics, https://shopify.dev/docs/api/liquid/basics): handles "are always lowercase. Whitespace and special
    characters are replaced with a hyphen", a run of them by a single one, and "whitespace or special characters at
    the beginning are removed". What the docs leave open follows what was measured against the Admin API (each ASCII
    character written into a handle, stackoverflow.com "What characters are allowed in Shopify product handles?"):
    ``_`` is kept, ``" ' ( ) [ ]`` are removed, a hyphen at the end is removed; letters outside ASCII are kept
    (shopify.dev changelog "Certain properties are changing to support a full UTF-8 character set", 2017). So
    ``T-Shirt_Bio`` is stored as ``t-shirt_bio`` and ``caf%c3%a9`` as ``caf-c3-a9``: a handle written verbatim
    is not always the one a later read by that key finds."""
    text = _HANDLE_DROPPED.sub("", str(value or "").lower())
    return re.sub(r"-{2,}", "-", _HANDLE_SPECIAL.sub("-", text)).strip("-")


# The API client id of the app the emulator serves: ``$app`` namespaces are stored as ``app--<id>[--<suffix>]``.
APP_CLIENT_ID = "1000001"
_METAFIELD_KEY = re.compile(r"[A-Za-z0-9_-]{2,64}")
_METAFIELD_NAMESPACE = re.compile(r"[A-Za-z0-9_-]{3,255}")


def metafield_namespace(namespace: Any) -> str:
    """A metafield namespace as Shopify stores it: an app-reserved one (``$app``, ``$app:<suffix>``) becomes
    ``app--<api client id>[--<suffix>]``; omitted, it is ``$app`` (shopify.dev "Ownership": "To establish metafield
    definitions within a reserved namespace, prefix the namespace with $app. The API will automatically convert this
    to a fully qualified reserved namespace like app--{your-app-id}[--{optional-namespace}]" and "All APIs default
    to using a reserved namespace $app")."""
    text = "$app" if namespace is None else str(namespace)
    if text == "$app":
        return f"app--{APP_CLIENT_ID}"
    if text.startswith("$app:"):
        return f"app--{APP_CLIENT_ID}--{text[len('$app:') :]}"
    return text


def metafield_input(values: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``productSet``'s ``metafields`` (``[MetafieldInput!]``) checked as Shopify documents ``MetafieldInput``: a
    key of 2-64 and a namespace of 3-255 alphanumeric, hyphen or underscore characters, a ``type`` (no metafield
    definitions here, so always required) and a value; (entries with the stored namespace, userErrors)."""
    out: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for i, item in enumerate(values or []):
        namespace, key = metafield_namespace(item.get("namespace")), str(item.get("key") or "")
        raw_namespace = str(item.get("namespace") or "$app").removeprefix("$app:").removeprefix("$app")
        bad = None
        if not _METAFIELD_KEY.fullmatch(key):
            bad = "Key must be 2-64 characters long and can contain alphanumeric, hyphen, and underscore characters."
        elif raw_namespace and not _METAFIELD_NAMESPACE.fullmatch(raw_namespace):
            bad = (
                "Namespace must be 3-255 characters long and can contain alphanumeric, hyphen, and underscore "
                "characters."
            )
        elif not item.get("type"):
            bad = "Type can't be blank"
        elif item.get("value") is None:
            bad = "Value can't be blank"
        if bad is not None:
            errors.append({"field": ["input", "metafields", str(i)], "message": bad, "code": "INVALID_METAFIELD"})
            continue
        out.append({"namespace": namespace, "key": key, "type": str(item["type"]), "value": str(item["value"])})
    return out, errors


class StoreError(Exception):
    """A rejected store mutation (unknown id, stale compare quantity...); ``code`` is Shopify's user error code."""

    def __init__(self, message: str, code: str = "INVALID", field: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field


@dataclass(slots=True)
class Location:
    KIND: ClassVar[str] = "Location"
    id: int
    name: str
    address1: str
    city: str
    country_code: str
    zip: str
    is_active: bool
    created_at: int
    updated_at: int


@dataclass(slots=True)
class ProductOption:
    KIND: ClassVar[str] = "ProductOption"
    id: int
    name: str
    position: int
    values: list[str]


@dataclass(slots=True)
class Product:
    KIND: ClassVar[str] = "Product"
    id: int
    title: str
    handle: str
    vendor: str
    product_type: str
    status: str
    tags: list[str]
    description_html: str
    options: list[ProductOption]
    created_at: int
    updated_at: int
    published_at: int | None
    variant_ids: list[int] = field(default_factory=list)
    # (namespace as stored, key) -> {"id", "namespace", "key", "type", "value", "created_at", "updated_at"}
    metafields: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


@dataclass(slots=True)
class Collection:
    """A collection: custom (manual: ``rules`` None, products added by id) or smart (``rules`` set: its products
    follow those rules, none can be added or removed by hand). Membership of a custom collection is
    ``product_ids``; the emulator does not evaluate a smart collection's rules (its ``product_ids`` are seeded)."""

    KIND: ClassVar[str] = "Collection"
    id: int
    title: str
    handle: str
    created_at: int
    updated_at: int
    rules: list[dict[str, str]] | None = None
    applied_disjunctively: bool = False
    product_ids: list[int] = field(default_factory=list)

    @property
    def rule_set(self) -> dict[str, Any] | None:
        """GraphQL ``ruleSet``: null for a custom collection."""
        if self.rules is None:
            return None
        return {"appliedDisjunctively": self.applied_disjunctively, "rules": list(self.rules)}


@dataclass(slots=True)
class Variant:
    KIND: ClassVar[str] = "ProductVariant"
    id: int
    product_id: int
    title: str
    sku: str
    barcode: str | None
    price: Decimal
    compare_at_price: Decimal | None
    position: int
    option_values: list[str]
    inventory_item_id: int
    taxable: bool
    inventory_policy: str
    created_at: int
    updated_at: int


@dataclass(slots=True)
class InventoryItem:
    KIND: ClassVar[str] = "InventoryItem"
    id: int
    variant_id: int
    tracked: bool
    requires_shipping: bool
    unit_cost: Decimal | None
    created_at: int
    updated_at: int
    # ``measurement.weight``: Shopify gives every item one (0 in the shop's unit until set).
    weight: Decimal = Decimal("0")
    weight_unit: str = "KILOGRAMS"


@dataclass(slots=True)
class InventoryLevel:
    KIND: ClassVar[str] = "InventoryLevel"
    item_id: int
    location_id: int
    available: int
    committed: int
    created_at: int
    updated_at: int

    @property
    def gid(self) -> str:
        return f"gid://shopify/InventoryLevel/{self.location_id}?inventory_item_id={self.item_id}"

    @property
    def id(self) -> int:
        """A numeric key for cursor tie-breaks (levels have no numeric id of their own)."""
        return self.item_id * 1_000_000_000 + self.location_id


@dataclass(slots=True)
class Customer:
    KIND: ClassVar[str] = "Customer"
    id: int
    email: str | None
    first_name: str
    last_name: str
    phone: str | None
    state: str
    tags: list[str]
    note: str | None
    verified_email: bool
    tax_exempt: bool
    address: dict[str, Any] | None
    created_at: int
    updated_at: int


@dataclass(slots=True)
class LineItem:
    KIND: ClassVar[str] = "LineItem"
    id: int
    variant_id: int | None
    product_id: int | None
    title: str
    variant_title: str | None
    sku: str | None
    quantity: int
    unit_price: Decimal  # shop currency, before discounts
    discount: Decimal  # total discount on the line (every allocation), shop currency
    taxable: bool
    order_id: int = 0
    location_id: int | None = None  # where the quantity was taken from stock (None: untracked / not taken)
    # The parts of ``discount`` allocated by a discount code and by an order-level discount (the rest is the line's
    # own, manual or automatic): GraphQL ``discountedTotalSet`` leaves both out (a code's unless
    # ``withCodeDiscounts``), ``discountAllocations`` and the REST ``discount_allocations`` list every one.
    code_discount: Decimal = Decimal("0.00")
    order_discount: Decimal = Decimal("0.00")

    @property
    def line_discount(self) -> Decimal:
        """The line's own discount (neither a code's nor an order-level one)."""
        return self.discount - self.code_discount - self.order_discount

    def allocations(self) -> list[tuple[str, Decimal]]:
        """``(kind, amount)`` of each discount allocated to the line: ``line``, ``code``, ``order``."""
        parts = (("line", self.line_discount), ("code", self.code_discount), ("order", self.order_discount))
        return [(kind, amount) for kind, amount in parts if amount > 0]

    def discounted_total(self, *, with_code_discounts: bool = False) -> Decimal:
        """``discountedTotalSet`` in shop money: without order-level discounts, nor code ones by default."""
        kept = self.line_discount + (self.code_discount if with_code_discounts else Decimal("0.00"))
        return self.unit_price * self.quantity - kept


@dataclass(slots=True)
class RefundLineItem:
    KIND: ClassVar[str] = "RefundLineItem"
    id: int
    line_item_id: int
    quantity: int
    subtotal: Decimal
    restock_type: str
    order_id: int = 0
    location_id: int | None = None  # where a restocked quantity went back


@dataclass(slots=True)
class OrderTransaction:
    """A payment transaction; refunds carry one ``kind: refund`` transaction for their amount."""

    KIND: ClassVar[str] = "OrderTransaction"
    id: int
    order_id: int
    kind: str
    amount: Decimal  # shop currency
    status: str
    gateway: str
    created_at: int


@dataclass(slots=True)
class Refund:
    KIND: ClassVar[str] = "Refund"
    id: int
    order_id: int
    note: str | None
    lines: list[RefundLineItem]
    shipping: Decimal
    created_at: int
    updated_at: int
    transactions: list[OrderTransaction] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((rl.subtotal for rl in self.lines), Decimal("0.00")) + self.shipping

    @property
    def restock(self) -> bool:
        return any(rl.restock_type != "NO_RESTOCK" for rl in self.lines)


@dataclass(slots=True)
class Order:
    KIND: ClassVar[str] = "Order"
    id: int
    number: int
    email: str | None
    customer_id: int | None
    currency: str
    presentment_currency: str
    rate: Decimal  # presentment amount = shop amount x rate
    line_items: list[LineItem]
    shipping: Decimal
    tax_rate: Decimal
    financial_status: str
    fulfillment_status: str
    refunds: list[Refund]
    tags: list[str]
    note: str | None
    created_at: int
    updated_at: int
    processed_at: int
    cancelled_at: int | None = None
    cancel_reason: str | None = None
    closed_at: int | None = None
    test: bool = False

    @property
    def name(self) -> str:
        return f"#{self.number}"

    @property
    def status(self) -> str:
        """Compatibility with the sandbox admin endpoint, which reports ``order.status``."""
        return self.financial_status.lower()

    @property
    def subtotal(self) -> Decimal:
        return sum((li.unit_price * li.quantity - li.discount for li in self.line_items), Decimal("0.00"))

    @property
    def discounts(self) -> Decimal:
        return sum((li.discount for li in self.line_items), Decimal("0.00"))

    @property
    def tax(self) -> Decimal:
        return money(self.subtotal * self.tax_rate)

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.tax + self.shipping

    @property
    def refunded(self) -> Decimal:
        return sum((r.total for r in self.refunds), Decimal("0.00"))

    def present(self, amount: Decimal) -> Decimal:
        """The amount in the presentment currency (rounded like Shopify, to cents)."""
        return money(amount * self.rate)

    def line_original_presentment(self, li: LineItem) -> Decimal:
        """A line's undiscounted total in the presentment currency: the presentment unit price times quantity
        (Shopify prices lines in the customer's currency; converting the shop total instead could differ by a cent)."""
        return self.present(li.unit_price) * li.quantity

    def line_discounted_presentment(self, li: LineItem, *, with_code_discounts: bool = False) -> Decimal:
        """``discountedTotalSet.presentmentMoney``: the presentment original total minus the presentment amounts of
        the allocations it includes (the line's own, a code's when asked), as ``LineItem.discounted_total``; each
        allocation converted on its own, as the REST ``discount_allocations`` carry them."""
        kept = [a for kind, a in li.allocations() if kind == "line" or (kind == "code" and with_code_discounts)]
        return self.line_original_presentment(li) - sum((self.present(a) for a in kept), Decimal("0.00"))


@dataclass(slots=True)
class StockChange:
    """What :meth:`ShopifyStore.set_inventory` returns (also serves the sandbox ``/stock`` admin endpoint)."""

    id: int
    stock_quantity: int
    delta: int


Listener = Callable[[str, dict[str, Any]], None]


class ShopifyStore:
    """In-memory shop data with Shopify's shapes and the mutations tests need.

    Reads and writes take :attr:`lock` so the GraphQL executor never sees half a mutation.
    """

    def __init__(
        self,
        name: str,
        *,
        seed: int = 1,
        products: int = 50,
        variable_share: float = 0.3,
        orders: int = 120,
        customers: int = 40,
        clock: SandboxClock,
        anchor: datetime | None = None,
        currency: str = "USD",
        locations: int = 3,
        max_variants: int = 12,
        big_product_variants: int = 0,
        timezone: str = "UTC",
    ) -> None:
        self.name = name
        self.domain = f"{name}.myshopify.com"
        self.seed = seed
        self.clock = clock
        self.currency = currency
        self.timezone = timezone
        self.lock = threading.RLock()
        self.listeners: list[Listener] = []
        self.locations: dict[int, Location] = {}
        self.products: dict[int, Product] = {}
        self.variants: dict[int, Variant] = {}
        self.inventory_items: dict[int, InventoryItem] = {}
        self.levels: dict[int, dict[int, InventoryLevel]] = {}  # item id -> location id -> level
        self.customers: dict[int, Customer] = {}
        self.orders: dict[int, Order] = {}
        self.deleted_products: dict[int, int] = {}  # id -> deleted at
        self.collections: dict[int, Collection] = {}
        # What ``query:`` searches match: lags writes once a delay is set (``graph.lag_search``), off by default.
        self.search_index = SearchIndex()
        self._rng = random.Random(f"{name}:{seed}")
        base = 1_000_000 + (seed % 1000) * 10_000
        self._next = {
            "Location": 60_000_000 + base,
            "ProductOption": 9_000_000_000_000 + base,
            "Product": 8_000_000_000_000 + base,
            "Collection": 400_000_000_000 + base,
            "ProductVariant": 44_000_000_000_000 + base,
            "InventoryItem": 46_000_000_000_000 + base,
            "Customer": 7_000_000_000_000 + base,
            "Order": 5_000_000_000_000 + base,
            "LineItem": 13_000_000_000_000 + base,
            "Refund": 900_000_000_000 + base,
            "RefundLineItem": 500_000_000_000 + base,
            "OrderTransaction": 6_000_000_000_000 + base,
            "Metafield": 30_000_000_000_000 + base,
        }
        self._order_number = 1000
        now = int((anchor or clock.now()).timestamp())
        self._seed_data(now, products, variable_share, orders, customers, locations, max_variants, big_product_variants)

    # ----------------------------------------------------------------------------------------------- seeding
    def _id(self, kind: str) -> int:
        self._next[kind] += 1
        return self._next[kind]

    def now(self) -> int:
        return self.clock.seconds()

    def _seed_data(
        self,
        now: int,
        n_products: int,
        variable_share: float,
        n_orders: int,
        n_customers: int,
        n_locations: int,
        max_variants: int,
        big_product_variants: int,
    ) -> None:
        rng = self._rng
        start = now - 2 * 365 * DAY
        for i in range(max(1, n_locations)):
            city, _prov, country, zip_code = CITIES[i % len(CITIES)]
            lid = self._id("Location")
            self.locations[lid] = Location(
                lid,
                f"{city} warehouse" if i else "Main warehouse",
                f"{i + 1} Dock Road",
                city,
                country,
                zip_code,
                True,
                start,
                start,
            )
        location_ids = list(self.locations)
        for i in range(n_products):
            created = start + rng.randrange(0, 600 * DAY)
            updated = min(now - 60, created + rng.randrange(0, 120 * DAY))
            if i == 0 and big_product_variants:
                n_var = min(2048, big_product_variants)
            elif rng.random() < variable_share:
                n_var = rng.randint(2, max(2, max_variants))
            else:
                n_var = 1
            title = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {i + 1}"
            self._make_product(title, n_var, created, updated, location_ids, rng)
        for i in range(n_customers):
            created = start + rng.randrange(0, 700 * DAY)
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            city, prov, country, zip_code = rng.choice(CITIES)
            cid = self._id("Customer")
            self.customers[cid] = Customer(
                cid,
                f"{first.lower()}.{last.lower()}.{i + 1}@example.com",
                first,
                last,
                f"+1613555{i % 10000:04d}" if rng.random() < 0.7 else None,
                "ENABLED",
                [],
                None,
                True,
                False,
                {
                    "id": cid + 1,
                    "first_name": first,
                    "last_name": last,
                    "address1": f"{i + 1} Main Street",
                    "address2": None,
                    "city": city,
                    "province": prov or None,
                    "province_code": prov or None,
                    "country": country,
                    "country_code": country,
                    "zip": zip_code,
                    "phone": None,
                    "company": None,
                },
                created,
                min(now - 60, created + rng.randrange(0, 30 * DAY)),
            )
        variant_ids = list(self.variants)
        customer_ids = list(self.customers)
        for _ in range(n_orders):
            created = now - rng.randrange(3600, 365 * DAY)
            lines = (
                [(rng.choice(variant_ids), rng.randint(1, 3)) for _ in range(rng.randint(1, 4))] if variant_ids else []
            )
            presentment = self.currency
            if rng.random() < 0.2:
                presentment = rng.choice([c for c in PRESENTMENT_RATES if c != self.currency])
            order = self._make_order(lines, rng.choice(customer_ids) if customer_ids else None, presentment, created)
            roll = rng.random()
            if roll < 0.08:
                order.financial_status, order.fulfillment_status = "PENDING", "UNFULFILLED"
            elif roll < 0.15:
                order.financial_status = "AUTHORIZED"
            elif roll < 0.22 and order.line_items:
                li = order.line_items[0]
                when = created + rng.randrange(60, 5 * DAY)
                self._add_refund(order, [(li.id, li.quantity)], when, note="Damaged")
            order.updated_at = max([order.updated_at] + [r.created_at for r in order.refunds])

    def _make_product(
        self, title: str, n_var: int, created: int, updated: int, location_ids: list[int], rng: random.Random
    ) -> Product:
        pid = self._id("Product")
        if n_var == 1:
            axes: list[tuple[str, list[str]]] = [("Title", ["Default Title"])]
        elif n_var <= len(SIZES):
            axes = [("Size", SIZES[:n_var])]
        elif n_var <= len(SIZES) * len(COLORS):
            axes = [("Size", SIZES), ("Color", COLORS[: -(-n_var // len(SIZES))])]
        else:
            axes = [("Size", SIZES), ("Color", COLORS), ("Material", MATERIALS[: -(-n_var // 256)])]
        combos = list(itertools.islice(itertools.product(*(values for _, values in axes)), n_var))
        used = [sorted({c[k] for c in combos}, key=axes[k][1].index) for k in range(len(axes))]
        options = [ProductOption(self._id("ProductOption"), name, k + 1, used[k]) for k, (name, _) in enumerate(axes)]
        handle = title.lower().replace(" ", "-")
        product = Product(
            pid,
            title,
            handle,
            rng.choice(VENDORS),
            title.split()[1],
            "ACTIVE",
            sorted(rng.sample(["new", "sale", "eco", "gift", "bestseller"], 2)),
            f"<p>{title}, made with care.</p>",
            options,
            created,
            updated,
            created,
        )
        if rng.random() < 0.04:
            product.status = rng.choice(["DRAFT", "ARCHIVED"])
            product.published_at = None
        self.products[pid] = product
        base_price = money(rng.choice([9, 12, 15, 19, 24, 29, 39, 49, 79]) + rng.choice([0, 0.5, 0.95, 0.99]))
        for pos, combo in enumerate(combos, start=1):
            compare = money(base_price * Decimal("1.25")) if rng.random() < 0.2 else None
            self._make_variant(product, list(combo), base_price, compare, pos, created, updated, location_ids, rng)
        return product

    def _make_variant(
        self,
        product: Product,
        combo: list[str],
        price: Decimal,
        compare: Decimal | None,
        position: int,
        created: int,
        updated: int,
        location_ids: list[int],
        rng: random.Random,
    ) -> Variant:
        vid = self._id("ProductVariant")
        iid = self._id("InventoryItem")
        title = " / ".join(combo)
        sku = f"SKU-{product.id % 1_000_000:06d}-{position:04d}"
        variant = Variant(
            vid,
            product.id,
            title,
            sku,
            f"0{vid % 10**12:012d}" if rng.random() < 0.5 else None,
            price,
            compare,
            position,
            combo,
            iid,
            True,
            "DENY",
            created,
            updated,
        )
        self.variants[vid] = variant
        product.variant_ids.append(vid)
        self.inventory_items[iid] = InventoryItem(iid, vid, True, True, money(price * Decimal("0.4")), created, updated)
        stocked = location_ids[: rng.randint(1, min(3, len(location_ids)))]
        self.levels[iid] = {lid: InventoryLevel(iid, lid, rng.randint(0, 60), 0, created, updated) for lid in stocked}
        return variant

    def _make_order(
        self, lines: list[tuple[int, int]], customer_id: int | None, presentment: str, created: int
    ) -> Order:
        oid = self._id("Order")
        self._order_number += 1
        items = []
        for variant_id, qty in lines:
            v = self.variants[variant_id]
            p = self.products.get(v.product_id)
            discount = money(v.price * qty * Decimal("0.10")) if self._rng.random() < 0.15 else Decimal("0.00")
            items.append(
                LineItem(
                    self._id("LineItem"),
                    v.id,
                    v.product_id,
                    p.title if p else v.title,
                    None if v.title == "Default Title" else v.title,
                    v.sku,
                    qty,
                    v.price,
                    discount,
                    True,
                    oid,
                )
            )
        customer = self.customers.get(customer_id) if customer_id else None
        rate = Decimal("1") if presentment == self.currency else PRESENTMENT_RATES.get(presentment, Decimal("1"))
        order = Order(
            oid,
            self._order_number,
            customer.email if customer else None,
            customer_id,
            self.currency,
            presentment,
            rate,
            items,
            money(self._rng.choice([0, 0, 4.99, 9.99])),
            Decimal("0.08"),
            "PAID",
            "FULFILLED" if self._rng.random() < 0.6 else "UNFULFILLED",
            [],
            [],
            None,
            created,
            created,
            created,
        )
        self.orders[oid] = order
        return order

    def _add_refund(
        self,
        order: Order,
        lines: list[tuple[int, int]],
        when: int,
        note: str | None = None,
        restock: bool = False,
        money_back: bool = True,
    ) -> tuple[Refund, list[InventoryLevel]]:
        """Record a refund of ``lines`` (with its ``refund`` transaction); ``restock`` puts the quantities back
        where the order took them from. Returns the refund and the inventory levels it changed.

        ``money_back=False``: the lines are refunded with no money (a cancel that refunds nothing: Shopify still
        records the cancelled lines as a refund, ``Order canceled``, with no transaction)."""
        by_id = {li.id: li for li in order.line_items}
        rlines = []
        touched: dict[tuple[int, int], InventoryLevel] = {}
        for line_id, qty in lines:
            li = by_id.get(line_id)
            if li is None:
                raise StoreError(f"Line item {line_id} not found", "NOT_FOUND", ["refundLineItems"])
            unit = (li.unit_price * li.quantity - li.discount) / li.quantity
            restock_type, location_id = "NO_RESTOCK", None
            if restock:
                # Shopify: "cancel" for a quantity never shipped, "return" for one coming back.
                restock_type = "RETURN" if order.fulfillment_status == "FULFILLED" else "CANCEL"
                level = self._restock_level(li)
                if level is not None:
                    level.available += qty
                    level.updated_at = when
                    location_id = level.location_id
                    touched[(level.item_id, level.location_id)] = level
            rlines.append(
                RefundLineItem(
                    self._id("RefundLineItem"),
                    li.id,
                    qty,
                    money(unit * qty) if money_back else Decimal("0.00"),
                    restock_type,
                    order.id,
                    location_id,
                )
            )
        refund = Refund(self._id("Refund"), order.id, note, rlines, Decimal("0.00"), when, when)
        if money_back:
            refund.transactions.append(
                OrderTransaction(
                    self._id("OrderTransaction"), order.id, "refund", refund.total, "success", "bogus", when
                )
            )
        order.refunds.append(refund)
        if money_back:
            order.financial_status = "REFUNDED" if order.refunded >= order.subtotal else "PARTIALLY_REFUNDED"
        order.updated_at = max(order.updated_at, when)
        return refund, list(touched.values())

    def _restock_level(self, li: LineItem) -> InventoryLevel | None:
        """The level a refunded quantity goes back to: where the order took it, else the item's first level."""
        variant = self.variants.get(li.variant_id) if li.variant_id else None
        if variant is None:
            return None
        levels = self.levels.get(variant.inventory_item_id) or {}
        if li.location_id in levels:
            return levels[li.location_id]
        return next(iter(levels.values()), None)

    # ----------------------------------------------------------------------------------------------- helpers
    def _emit(self, topic: str, payload: dict[str, Any]) -> None:
        for listener in list(self.listeners):
            listener(topic, payload)

    def product(self, ident: int | str) -> Product:
        pid = parse_gid(ident, "Product")
        if pid not in self.products:
            raise StoreError(f"Product does not exist: {ident}", "NOT_FOUND", ["id"])
        return self.products[pid]

    def variant(self, ident: int | str) -> Variant:
        vid = parse_gid(ident, "ProductVariant")
        if vid not in self.variants:
            raise StoreError(f"Product variant does not exist: {ident}", "NOT_FOUND", ["id"])
        return self.variants[vid]

    def variant_by_sku(self, sku: str) -> Variant | None:
        return next((v for v in self.variants.values() if v.sku == sku), None)

    def inventory_quantity(self, variant: Variant) -> int:
        return sum(level.available for level in self.levels.get(variant.inventory_item_id, {}).values())

    # ----------------------------------------------------------------------------------------------- mutations
    def update_product(self, ident: int | str, **changes: Any) -> Product:
        """Change product fields (title, vendor, product_type, status, tags, description_html, handle)."""
        with self.lock:
            product = self.product(ident)
            for key, value in changes.items():
                if key not in ("title", "vendor", "product_type", "status", "tags", "description_html", "handle"):
                    raise StoreError(f"Unknown product field {key}", "INVALID", [key])
                if value is not None:
                    setattr(product, key, value)
            product.updated_at = self.now()
            payload = self.rest_product(product)
        self._emit("products/update", payload)
        return product

    def set_product(
        self, identifier: dict[str, Any] | None, data: dict[str, Any]
    ) -> tuple[Product | None, list[dict[str, Any]]]:
        """``productSet`` (synchronous): create or update one product from the whole desired state.

        As Shopify documents it: the product is found by ``identifier`` (``id``, or ``handle``: created with that
        handle when none has it; no identifier creates); fields left out stay as they are; a ``variants`` list
        replaces the variants (entries with an ``id`` update that variant, entries without one are created, the
        product's variants not listed are deleted) and needs ``productOptions`` naming every option the variants
        use. The answer is ``(product, userErrors)``; on any error nothing is written.
        """
        identifier = identifier or {}
        errors: list[dict[str, Any]] = []
        with self.lock:
            product: Product | None = None
            if identifier.get("id"):
                try:
                    product = self.product(identifier["id"])
                except (StoreError, ValueError):
                    err = {"field": ["identifier", "id"], "message": "Product does not exist"}
                    return None, [{**err, "code": "PRODUCT_DOES_NOT_EXIST"}]
            elif identifier.get("handle"):
                product = next((p for p in self.products.values() if p.handle == identifier["handle"]), None)
            # Stored as Shopify stores it (``product_handle``); the identifier is a key matched as given.
            handle = product_handle(data.get("handle") or (identifier.get("handle") if product is None else None))
            if handle and any(p.handle == handle and p is not product for p in self.products.values()):
                errors.append(
                    {
                        "field": ["input", "handle"],
                        "message": f"Handle '{handle}' already in use. Please provide a new handle.",
                        "code": "HANDLE_NOT_UNIQUE",
                    }
                )
            tags, tag_errors = product_tags(data.get("tags"), ["input", "tags"])
            errors.extend(tag_errors)
            if product is None and not (data.get("title") or "").strip():
                errors.append(
                    {"field": ["input", "title"], "message": "Title can't be blank", "code": "INVALID_PRODUCT"}
                )
            options = data.get("productOptions")
            variants = data.get("variants")
            if options is not None and len(options) > 3:
                errors.append(
                    {
                        "field": ["input", "productOptions"],
                        "message": "Options over limit: a product can have at most 3 options.",
                        "code": "OPTIONS_OVER_LIMIT",
                    }
                )
            if variants is not None and options is None:
                errors.append(
                    {
                        "field": ["input", "productOptions"],
                        "message": "Product options input is required when updating variants.",
                        "code": "PRODUCT_OPTIONS_INPUT_MISSING",
                    }
                )
            names = [str(o.get("name")) for o in options or []]
            existing = set(product.variant_ids) if product is not None else set()
            for i, spec in enumerate(variants or []):
                for value in spec.get("optionValues") or []:
                    if value.get("optionName") not in names:
                        errors.append(
                            {
                                "field": ["input", "variants", str(i), "optionValues"],
                                "message": f"Option '{value.get('optionName')}' does not exist.",
                                "code": "OPTION_DOES_NOT_EXIST",
                            }
                        )
                if spec.get("id") and parse_gid(spec["id"], "ProductVariant") not in existing:
                    errors.append(
                        {
                            "field": ["input", "variants", str(i), "id"],
                            "message": "Product variant does not exist",
                            "code": "PRODUCT_VARIANT_DOES_NOT_EXIST",
                        }
                    )
                for key in ("price", "compareAtPrice"):
                    if spec.get(key) is not None and money(spec[key]) < 0:
                        errors.append(
                            {
                                "field": ["input", "variants", str(i), key],
                                "message": "Price must be greater than or equal to 0",
                                "code": "INVALID_VARIANT",
                            }
                        )
            metafields, metafield_errors = metafield_input(data.get("metafields"))
            errors.extend(metafield_errors)
            collection_ids: list[int] | None = None
            if data.get("collections") is not None:
                collection_ids, collection_errors = self._collection_input(data["collections"])
                errors.extend(collection_errors)
            if errors:
                return None, errors
            now = self.now()
            created = product is None
            if product is None:
                product = Product(self._id("Product"), "", handle or "", "", "", "DRAFT", [], "", [], now, now, None)
                self.products[product.id] = product
            if handle:
                product.handle = handle
            for src, dst in (
                ("title", "title"),
                ("descriptionHtml", "description_html"),
                ("vendor", "vendor"),
                ("productType", "product_type"),
                ("status", "status"),
            ):
                if src in data and data[src] is not None:
                    setattr(product, dst, data[src])
            if tags is not None:  # the whole list replaces the product's (trimmed, without empties or repeats)
                product.tags = tags
            if not product.handle:
                product.handle = product_handle(product.title)
            if product.status == "ACTIVE" and product.published_at is None:
                product.published_at = now
            if options is not None:
                product.options = [
                    ProductOption(
                        self._id("ProductOption"),
                        str(o.get("name")),
                        k + 1,
                        [str(v.get("name")) for v in o.get("values") or []],
                    )
                    for k, o in enumerate(options)
                ]
            if variants is not None:
                keep: list[int] = []
                for position, spec in enumerate(variants, start=1):
                    combo = [
                        next(
                            (str(v.get("name")) for v in spec.get("optionValues") or [] if v.get("optionName") == name),
                            "",
                        )
                        for name in names
                    ]
                    if spec.get("id"):
                        variant = self.variants[parse_gid(spec["id"], "ProductVariant")]
                    else:
                        iid = self._id("InventoryItem")
                        variant = Variant(
                            self._id("ProductVariant"),
                            product.id,
                            "",
                            "",
                            None,
                            Decimal("0.00"),
                            None,
                            position,
                            combo,
                            iid,
                            True,
                            "DENY",
                            now,
                            now,
                        )
                        self.variants[variant.id] = variant
                        self.inventory_items[iid] = InventoryItem(iid, variant.id, True, True, None, now, now)
                        self.levels[iid] = {}
                    variant.position = position
                    variant.option_values = combo
                    variant.title = " / ".join(combo)
                    sku = spec.get("sku", (spec.get("inventoryItem") or {}).get("sku"))
                    if sku is not None:
                        variant.sku = sku
                    if "price" in spec and spec["price"] is not None:
                        variant.price = money(spec["price"])
                    if "compareAtPrice" in spec:
                        value = spec["compareAtPrice"]
                        variant.compare_at_price = money(value) if value is not None else None
                    if spec.get("barcode") is not None:
                        variant.barcode = spec["barcode"]
                    self._measure(variant.inventory_item_id, spec.get("inventoryItem"))
                    variant.updated_at = now
                    keep.append(variant.id)
                for vid in product.variant_ids:
                    if vid not in keep:
                        gone = self.variants.pop(vid)
                        self.inventory_items.pop(gone.inventory_item_id, None)
                        self.levels.pop(gone.inventory_item_id, None)
                product.variant_ids = keep
            if collection_ids is not None:  # a list field: the product's custom collections become these
                self._set_membership(product.id, collection_ids)
            if data.get("metafields") is not None:
                # A list field (the 2026-04 schema's productSet: "deletes existing entries that aren't included in
                # the mutation's input. Common examples of list fields include ... metafields"): the product's
                # metafields become these, by namespace and key; left out of the input, they are kept.
                listed = {(entry["namespace"], entry["key"]) for entry in metafields}
                for unlisted in [k for k in product.metafields if k not in listed]:
                    del product.metafields[unlisted]
            for entry in metafields:  # upserted by namespace and key
                known = product.metafields.get((entry["namespace"], entry["key"]))
                if known is None:
                    known = {"id": self._id("Metafield"), "created_at": now}
                    product.metafields[(entry["namespace"], entry["key"])] = known
                known.update(entry, updated_at=now)
            product.updated_at = now
            payload = self.rest_product(product)
        self._emit("products/create" if created else "products/update", payload)
        return product, []

    def add_variants(self, ident: int | str, specs: list[dict[str, Any]]) -> tuple[list[Variant], list[dict[str, Any]]]:
        """``productVariantsBulkCreate`` (strategy DEFAULT): add variants to a product, all or none.

        Each variant names a value for options the product has (``OPTION_DOES_NOT_EXIST`` otherwise); a value the
        option lacks is added to it; a combination the product already has is ``VARIANT_ALREADY_EXISTS``.
        """
        with self.lock:
            product = self.product(ident)
            names = [o.name for o in product.options]
            taken = {tuple(self.variants[v].option_values) for v in product.variant_ids}
            errors: list[dict[str, Any]] = []
            combos: list[list[str]] = []
            for i, spec in enumerate(specs):
                given = {str(v.get("optionName")): str(v.get("name")) for v in spec.get("optionValues") or []}
                unknown = [n for n in given if n not in names]
                if unknown:
                    errors.append(
                        {
                            "field": ["variants", str(i), "optionValues"],
                            "message": f"Option '{unknown[0]}' does not exist.",
                            "code": "OPTION_DOES_NOT_EXIST",
                        }
                    )
                    continue
                combo = [given.get(n, "") for n in names]
                if tuple(combo) in taken:
                    errors.append(
                        {
                            "field": ["variants", str(i)],
                            "message": f"The variant '{' / '.join(combo)}' already exists.",
                            "code": "VARIANT_ALREADY_EXISTS",
                        }
                    )
                    continue
                if spec.get("price") is not None and money(spec["price"]) < 0:
                    errors.append(
                        {
                            "field": ["variants", str(i), "price"],
                            "message": "Price must be greater than or equal to 0",
                            "code": "GREATER_THAN_OR_EQUAL_TO",
                        }
                    )
                    continue
                taken.add(tuple(combo))
                combos.append(combo)
            if errors:
                return [], errors
            now = self.now()
            created: list[Variant] = []
            for spec, combo in zip(specs, combos, strict=True):
                for option, value in zip(product.options, combo, strict=True):
                    if value and value not in option.values:
                        option.values.append(value)
                iid = self._id("InventoryItem")
                compare = spec.get("compareAtPrice")
                variant = Variant(
                    self._id("ProductVariant"),
                    product.id,
                    " / ".join(combo),
                    str((spec.get("inventoryItem") or {}).get("sku") or ""),
                    spec.get("barcode"),
                    money(spec.get("price") or 0),
                    money(compare) if compare is not None else None,
                    len(product.variant_ids) + 1,
                    combo,
                    iid,
                    True,
                    "DENY",
                    now,
                    now,
                )
                self.variants[variant.id] = variant
                self.inventory_items[iid] = InventoryItem(iid, variant.id, True, True, None, now, now)
                self._measure(iid, spec.get("inventoryItem"))
                self.levels[iid] = {}
                product.variant_ids.append(variant.id)
                created.append(variant)
            product.updated_at = now
            payload = self.rest_product(product)
        self._emit("products/update", payload)
        return created, []

    def delete_variants(self, ident: int | str, variant_ids: list[str]) -> list[dict[str, Any]]:
        """``productVariantsBulkDelete``: remove variants of one product, all or none; the userErrors, if any.

        A variant of another product (or none) is ``AT_LEAST_ONE_VARIANT_DOES_NOT_BELONG_TO_THE_PRODUCT``;
        removing every variant is ``CANNOT_DELETE_LAST_VARIANT`` (a product always keeps one). Option values no
        variant uses any more leave the product's options, as Shopify does; ``products/update`` is sent.
        """
        with self.lock:
            product = self.product(ident)
            doomed: list[int] = []
            for i, gid in enumerate(variant_ids):
                try:
                    vid = parse_gid(gid, "ProductVariant")
                except ValueError:
                    vid = -1
                if vid not in product.variant_ids:
                    return [
                        {
                            "field": ["variantsIds", str(i)],
                            "message": "At least one variant does not belong to the product",
                            "code": "AT_LEAST_ONE_VARIANT_DOES_NOT_BELONG_TO_THE_PRODUCT",
                        }
                    ]
                doomed.append(vid)
            keep = [v for v in product.variant_ids if v not in doomed]
            if not keep:
                return [
                    {"field": ["variantsIds"], "message": "Cannot delete default variant",
                     "code": "CANNOT_DELETE_LAST_VARIANT"}
                ]  # fmt: skip
            for vid in doomed:
                gone = self.variants.pop(vid)
                self.inventory_items.pop(gone.inventory_item_id, None)
                self.levels.pop(gone.inventory_item_id, None)
            product.variant_ids = keep
            for position, option in enumerate(product.options):
                used = {
                    self.variants[v].option_values[position]
                    for v in keep
                    if position < len(self.variants[v].option_values)
                }
                option.values = [value for value in option.values if value in used]
            product.updated_at = self.now()
            payload = self.rest_product(product)
        self._emit("products/update", payload)
        return []

    def touch_products(self, count: int = 1, ids: list[int] | None = None) -> list[int]:
        """Bump ``updated_at`` of the given products (or of the ``count`` least recently updated)."""
        with self.lock:
            if ids is None:
                chosen = sorted(self.products.values(), key=lambda p: (p.updated_at, p.id))[: int(count)]
                ids = [p.id for p in chosen]
        for pid in ids:
            self.update_product(pid)
        return list(ids)

    # ----------------------------------------------------------------------------------------------- collections
    def create_collection(
        self, title: Any, *, rules: list[dict[str, str]] | None = None, product_ids: list[int] | None = None
    ) -> tuple[Collection | None, list[dict[str, Any]]]:
        """``collectionCreate``: a custom collection (``rules`` None) or a smart one. A blank title is Shopify's
        userError ``Title can't be blank`` on ``title`` (nothing created); the handle is made from the title,
        with ``-1``, ``-2``... when taken (Shopify allows two collections of one title)."""
        text = str(title or "").strip()
        if not text:
            return None, [{"field": ["title"], "message": "Title can't be blank"}]
        if len(text) > 255:
            return None, [{"field": ["title"], "message": "Title is too long (maximum is 255 characters)"}]
        with self.lock:
            base = "-".join("".join(c if c.isalnum() else " " for c in text.lower()).split()) or "collection"
            handles = {c.handle for c in self.collections.values()}
            handle, n = base, 0
            while handle in handles:
                n += 1
                handle = f"{base}-{n}"
            now = self.now()
            collection = Collection(self._id("Collection"), text, handle, now, now, rules)
            self.collections[collection.id] = collection
            for pid in product_ids or []:
                if pid in self.products and pid not in collection.product_ids:
                    collection.product_ids.append(pid)
        return collection, []

    def product_collections(self, product_id: int) -> list[Collection]:
        """The collections a product is in (custom and smart), by collection id."""
        return sorted((c for c in self.collections.values() if product_id in c.product_ids), key=lambda c: c.id)

    def add_to_collection(self, collection_id: int, product_id: int) -> None:
        """A merchant adding a product to a custom collection in the admin. The product's ``updated_at`` is left
        alone (a collection's membership is the collection's, not a product field), so no ``products/update``."""
        with self.lock:
            collection = self.collections[collection_id]
            if collection.rules is not None:
                raise StoreError("Can't manually add products to a smart collection", "INVALID", ["id"])
            if product_id not in collection.product_ids:
                collection.product_ids.append(product_id)
                collection.updated_at = self.now()

    def remove_from_collection(self, collection_id: int, product_id: int) -> None:
        """A merchant taking a product out of a custom collection (the product's ``updated_at`` left alone)."""
        with self.lock:
            collection = self.collections[collection_id]
            if product_id in collection.product_ids:
                collection.product_ids.remove(product_id)
                collection.updated_at = self.now()

    def _collection_input(self, values: list[Any]) -> tuple[list[int], list[dict[str, Any]]]:
        """``ProductSetInput.collections`` (collection gids) checked: each must be an existing custom collection."""
        ids: list[int] = []
        errors: list[dict[str, Any]] = []
        for i, value in enumerate(values):
            try:
                cid = parse_gid(value, "Collection")
            except ValueError:
                cid = -1
            collection = self.collections.get(cid)
            field_path = ["input", "collections", str(i)]
            if collection is None:
                errors.append({"field": field_path, "message": "Collection does not exist", "code": "NOT_FOUND"})
            elif collection.rules is not None:
                errors.append(
                    {
                        "field": field_path,
                        "message": "Can't manually add products to a smart collection",
                        "code": "INVALID_INPUT",
                    }
                )
            elif cid not in ids:
                ids.append(cid)
        return ids, errors

    def _set_membership(self, product_id: int, collection_ids: list[int]) -> None:
        """The product's custom collections become ``collection_ids`` (smart ones follow their rules, untouched)."""
        now = self.now()
        for collection in self.collections.values():
            if collection.rules is not None:
                continue
            inside = product_id in collection.product_ids
            if collection.id in collection_ids and not inside:
                collection.product_ids.append(product_id)
                collection.updated_at = now
            elif collection.id not in collection_ids and inside:
                collection.product_ids.remove(product_id)
                collection.updated_at = now

    def _measure(self, item_id: int, item_input: Any) -> None:
        """Apply ``InventoryItemInput.measurement.weight`` (``{value, unit}``) to an inventory item."""
        if not isinstance(item_input, dict) or not isinstance(item_input.get("measurement"), dict):
            return
        weight = item_input["measurement"].get("weight")
        if isinstance(weight, dict):
            item = self.inventory_items[item_id]
            item.weight = Decimal(str(weight["value"]))
            item.weight_unit = str(weight["unit"])
            item.updated_at = self.now()

    def update_variant(self, ident: int | str, **changes: Any) -> Variant:
        """Change variant fields (price, compare_at_price, sku, barcode, inventory_policy, taxable; ``inventory_item``:
        an ``InventoryItemInput`` whose ``measurement`` sets the weight)."""
        with self.lock:
            variant = self.variant(ident)
            for key, value in changes.items():
                if key == "inventory_item":
                    self._measure(variant.inventory_item_id, value)
                    continue
                if key in ("price", "compare_at_price"):
                    value = money(value) if value is not None else None
                    if value is not None and value < 0:
                        raise StoreError(
                            "Price must be greater than or equal to 0",
                            "GREATER_THAN_OR_EQUAL_TO",
                            ["variants", "0", "price"],
                        )
                elif key not in ("sku", "barcode", "inventory_policy", "taxable"):
                    raise StoreError(f"Unknown variant field {key}", "INVALID", [key])
                setattr(variant, key, value)
            now = self.now()
            variant.updated_at = now
            product = self.products[variant.product_id]
            product.updated_at = now
            payload = self.rest_product(product)
        self._emit("products/update", payload)
        return variant

    def update_variant_price(
        self, ident: int | str, price: Decimal | str | float, compare_at_price: Decimal | str | None = None
    ) -> Variant:
        """Set a variant's price (and compare-at price); bumps the variant's and its product's ``updated_at``."""
        return self.update_variant(ident, price=price, compare_at_price=compare_at_price)

    def set_inventory(
        self,
        inventory_item: int | str,
        location: int | str | None,
        quantity: int,
        compare_quantity: int | None = None,
    ) -> StockChange:
        """Set ``available`` at a location (compare-and-swap when ``compare_quantity`` is given).

        ``inventory_item`` may also be a variant id, for convenience; ``location`` None means the first location
        that stocks the item.
        """
        with self.lock:
            item_id = self._item_id(inventory_item)
            levels = self.levels.setdefault(item_id, {})
            if location is None:
                loc_id = next(iter(levels), next(iter(self.locations)))
            else:
                loc_id = parse_gid(location, "Location")
                if loc_id not in self.locations:
                    raise StoreError(
                        "The specified location could not be found.",
                        "INVALID_LOCATION",
                        ["input", "quantities", "0", "locationId"],
                    )
            now = self.now()
            level = levels.get(loc_id)
            if level is None:
                level = levels[loc_id] = InventoryLevel(item_id, loc_id, 0, 0, now, now)
            if compare_quantity is not None and compare_quantity != level.available:
                raise StoreError(
                    "The compareQuantity argument no longer matches the persisted quantity.",
                    "COMPARE_QUANTITY_STALE",
                    ["input", "quantities", "0", "compareQuantity"],
                )
            delta = int(quantity) - level.available
            level.available = int(quantity)
            level.updated_at = now
            self.inventory_items[item_id].updated_at = now
            payload = self.rest_inventory_level(level)
        self._emit("inventory_levels/update", payload)
        return StockChange(item_id, level.available, delta)

    def set_stock(self, ident: int, quantity: int) -> StockChange:
        """The sandbox admin ``/stock`` endpoint: ``ident`` is a variant or inventory item id."""
        return self.set_inventory(ident, None, quantity)

    def _item_id(self, ident: int | str) -> int:
        text = str(ident)
        if "ProductVariant" in text or (isinstance(ident, int) and ident in self.variants):
            return self.variant(ident).inventory_item_id
        item_id = parse_gid(ident, "InventoryItem" if text.startswith("gid://") else None)
        if item_id not in self.inventory_items:
            raise StoreError(
                "The specified inventory item could not be found.",
                "INVALID_INVENTORY_ITEM",
                ["input", "quantities", "0", "inventoryItemId"],
            )
        return item_id

    def add_product(self, title: str, variants: list[dict[str, Any]] | None = None, **fields: Any) -> Product:
        """Create a product; ``variants`` items may set ``sku``, ``price``, ``option`` (one option value)."""
        variants = variants or [{}]
        with self.lock:
            now = self.now()
            product = self._make_product(title, len(variants), now, now, list(self.locations), self._rng)
            for spec, vid in zip(variants, product.variant_ids, strict=True):
                v = self.variants[vid]
                if "sku" in spec:
                    v.sku = spec["sku"]
                if "price" in spec:
                    v.price = money(spec["price"])
            for key, value in fields.items():
                setattr(product, key, value)
            payload = self.rest_product(product)
        self._emit("products/create", payload)
        return product

    def delete_product(self, ident: int | str) -> None:
        """Delete a product with its variants, inventory items and levels (webhook ``products/delete``)."""
        with self.lock:
            product = self.product(ident)
            for vid in product.variant_ids:
                variant = self.variants.pop(vid)
                self.inventory_items.pop(variant.inventory_item_id, None)
                self.levels.pop(variant.inventory_item_id, None)
            del self.products[product.id]
            for collection in self.collections.values():
                if product.id in collection.product_ids:
                    collection.product_ids.remove(product.id)
            self.deleted_products[product.id] = self.now()
        self._emit("products/delete", {"id": product.id})

    def add_order(self, data: dict[str, Any] | None = None, **kwargs: Any) -> Order:
        """Create an order and take its quantities from stock (webhook ``orders/create``).

        ``data``: ``{"line_items": [{"variant_id" | "sku": ..., "quantity": N}], "customer_id": id,
        "presentment_currency": "EUR", "created_at": epoch seconds}``; with no line items, one random variant. A line
        may name its discounts (shop-currency amounts; given, they replace the random 10 % off): ``discount`` (the
        line's own), ``code_discount`` (a discount code's share), ``order_discount`` (an order-level discount's share).
        """
        data = {**(data or {}), **kwargs}
        with self.lock:
            lines: list[tuple[int, int]] = []
            for raw in data.get("line_items") or []:
                variant: Variant | None
                if raw.get("sku"):
                    variant = self.variant_by_sku(raw["sku"])
                elif raw.get("variant_id"):
                    variant = self.variant(raw["variant_id"])
                elif raw.get("product_id"):
                    variant = self.variants[self.product(raw["product_id"]).variant_ids[0]]
                else:
                    variant = None
                if variant is None:
                    raise StoreError("must have at least one line item", "INVALID", ["line_items"])
                lines.append((variant.id, int(raw.get("quantity", 1))))
            if not lines and data.get("line_items") is None and self.variants:
                lines = [(next(iter(self.variants)), 1)]
            if not lines:
                raise StoreError("must have at least one line item", "INVALID", ["line_items"])
            customer_id = parse_gid(data["customer_id"], "Customer") if data.get("customer_id") else None
            created = int(data.get("created_at") or self.now())
            order = self._make_order(lines, customer_id, data.get("presentment_currency") or self.currency, created)
            order.fulfillment_status = "UNFULFILLED"
            for li, raw in zip(order.line_items, data.get("line_items") or [], strict=False):
                named = {k: money(raw[k]) for k in ("discount", "code_discount", "order_discount") if k in raw}
                if named:
                    li.code_discount = named.get("code_discount", Decimal("0.00"))
                    li.order_discount = named.get("order_discount", Decimal("0.00"))
                    li.discount = named.get("discount", Decimal("0.00")) + li.code_discount + li.order_discount
            touched: dict[tuple[int, int], InventoryLevel] = {}
            for li in order.line_items:
                levels = self.levels.get(self.variants[li.variant_id].inventory_item_id, {}) if li.variant_id else {}
                if levels:
                    level = next(iter(levels.values()))
                    level.available -= li.quantity
                    level.updated_at = created
                    li.location_id = level.location_id
                    touched[(level.item_id, level.location_id)] = level
            payload = self.rest_order(order)
            level_payloads = [self.rest_inventory_level(level) for level in touched.values()]
        self._emit("orders/create", payload)
        for level_payload in level_payloads:
            self._emit("inventory_levels/update", level_payload)
        return order

    def refund_order(
        self,
        ident: int | str,
        lines: list[tuple[int, int]] | None = None,
        note: str | None = None,
        *,
        restock: bool = False,
    ) -> Refund:
        """Refund line items (``[(line_item_id, quantity)]``, default: everything); ``refunds/create``.

        ``restock=True`` returns the quantities to stock (restock type ``return`` for a fulfilled order, ``cancel``
        otherwise) and, like Shopify, sends ``inventory_levels/update`` for every level that changed.
        """
        with self.lock:
            order = self.order(ident)
            lines = lines or [(li.id, li.quantity) for li in order.line_items]
            refund, touched = self._add_refund(order, lines, self.now(), note, restock=restock)
            refund_payload = self.rest_refund(order, refund)
            order_payload = self.rest_order(order)
            level_payloads = [self.rest_inventory_level(level) for level in touched]
        self._emit("refunds/create", refund_payload)
        self._emit("orders/updated", order_payload)
        for level_payload in level_payloads:
            self._emit("inventory_levels/update", level_payload)
        return refund

    def cancel_order(
        self,
        ident: int | str,
        *,
        restock: bool,
        reason: str = "OTHER",
        refund: bool = False,
        staff_note: str | None = None,
    ) -> Order:
        """``orderCancel``: the order is cancelled and every line's quantity not refunded yet is recorded as a
        refund (``Order canceled``, as the documented REST cancel answer shows it), with the money when ``refund``
        (to the original payment method) and none otherwise.

        ``restock``: "Restock items" ticked: the units go back where the order took them (restock type ``cancel``,
        ``return`` for a fulfilled order); unticked, Shopify leaves every level as it is and the lines say
        ``no_restock``. Webhooks: ``orders/cancelled``, ``refunds/create``, ``orders/updated`` and
        ``inventory_levels/update`` for each level that moved. Refused: an order cancelled already, a staff note
        over 255 characters (``StoreError``, code ``INVALID``); an unknown order (``NOT_FOUND``).
        """
        with self.lock:
            order = self.order(ident)
            if order.cancelled_at is not None:
                raise StoreError("Order has already been cancelled.", "INVALID", ["orderId"])
            if staff_note is not None and len(staff_note) > 255:
                raise StoreError("Staff note is too long (maximum is 255 characters)", "INVALID", ["staffNote"])
            refunded: dict[int, int] = {}
            for previous in order.refunds:
                for rl in previous.lines:
                    refunded[rl.line_item_id] = refunded.get(rl.line_item_id, 0) + rl.quantity
            lines = [(li.id, li.quantity - refunded.get(li.id, 0)) for li in order.line_items]
            lines = [(line_id, qty) for line_id, qty in lines if qty > 0]
            when = self.now()
            touched: list[InventoryLevel] = []
            refund_payload = None
            if lines:
                made, touched = self._add_refund(
                    order, lines, when, "Order canceled", restock=restock, money_back=refund
                )
                refund_payload = self.rest_refund(order, made)
            order.cancelled_at = when
            order.cancel_reason = reason.lower()
            order.updated_at = max(order.updated_at, when)
            order_payload = self.rest_order(order)
            level_payloads = [self.rest_inventory_level(level) for level in touched]
        self._emit("orders/cancelled", order_payload)
        if refund_payload is not None:
            self._emit("refunds/create", refund_payload)
        self._emit("orders/updated", order_payload)
        for level_payload in level_payloads:
            self._emit("inventory_levels/update", level_payload)
        return order

    def order(self, ident: int | str) -> Order:
        oid = parse_gid(ident, "Order")
        if oid not in self.orders:
            raise StoreError(f"Order does not exist: {ident}", "NOT_FOUND", ["id"])
        return self.orders[oid]

    def update_order(self, ident: int | str, **changes: Any) -> Order:
        """Change order fields (note, tags, email, fulfillment_status, financial_status); ``orders/updated``."""
        with self.lock:
            order = self.order(ident)
            for key, value in changes.items():
                if key not in ("note", "tags", "email", "fulfillment_status", "financial_status"):
                    raise StoreError(f"Unknown order field {key}", "INVALID", [key])
                setattr(order, key, value)
            order.updated_at = self.now()
            payload = self.rest_order(order)
        self._emit("orders/updated", payload)
        return order

    def update_customer(self, ident: int | str, **changes: Any) -> Customer:
        """Change customer fields (email, first_name, last_name, phone, note, tags); ``customers/update``."""
        with self.lock:
            cid = parse_gid(ident, "Customer")
            if cid not in self.customers:
                raise StoreError(f"Customer does not exist: {ident}", "NOT_FOUND", ["id"])
            customer = self.customers[cid]
            for key, value in changes.items():
                if key not in ("email", "first_name", "last_name", "phone", "note", "tags", "state"):
                    raise StoreError(f"Unknown customer field {key}", "INVALID", [key])
                setattr(customer, key, value)
            customer.updated_at = self.now()
            payload = self.rest_customer(customer)
        self._emit("customers/update", payload)
        return customer

    # ----------------------------------------------------------------------------------------------- REST shapes
    def rest_time(self, ts: int | None) -> str | None:
        """REST/webhook timestamps carry the shop's offset (``2021-12-31T19:00:00-05:00``)."""
        if ts is None:
            return None
        from zoneinfo import ZoneInfo

        return datetime.fromtimestamp(ts, ZoneInfo(self.timezone)).isoformat()

    def rest_product(self, p: Product) -> dict[str, Any]:
        """The ``products/*`` webhook body (REST 2025-07 product shape)."""
        variants = [self.variants[vid] for vid in p.variant_ids]
        return {
            "admin_graphql_api_id": gid("Product", p.id),
            "body_html": p.description_html,
            "created_at": self.rest_time(p.created_at),
            "handle": p.handle,
            "id": p.id,
            "product_type": p.product_type,
            "published_at": self.rest_time(p.published_at),
            "template_suffix": None,
            "title": p.title,
            "updated_at": self.rest_time(p.updated_at),
            "vendor": p.vendor,
            "status": p.status.lower(),
            "published_scope": "web",
            "tags": ", ".join(p.tags),
            "variants": [
                {
                    "admin_graphql_api_id": gid("ProductVariant", v.id),
                    "barcode": v.barcode,
                    "compare_at_price": str(v.compare_at_price) if v.compare_at_price is not None else None,
                    "created_at": self.rest_time(v.created_at),
                    "id": v.id,
                    "inventory_policy": v.inventory_policy.lower(),
                    "position": v.position,
                    "price": str(v.price),
                    "product_id": p.id,
                    "sku": v.sku,
                    "taxable": v.taxable,
                    "title": v.title,
                    "updated_at": self.rest_time(v.updated_at),
                    "option1": v.option_values[0] if len(v.option_values) > 0 else None,
                    "option2": v.option_values[1] if len(v.option_values) > 1 else None,
                    "option3": v.option_values[2] if len(v.option_values) > 2 else None,
                    "image_id": None,
                    "inventory_item_id": v.inventory_item_id,
                    "inventory_quantity": self.inventory_quantity(v),
                    "old_inventory_quantity": self.inventory_quantity(v),
                }
                for v in variants
            ],
            "options": [
                {"id": o.id, "product_id": p.id, "name": o.name, "position": o.position, "values": o.values}
                for o in p.options
            ],
            "images": [],
            "image": None,
            "media": [],
            "variant_gids": [
                {"admin_graphql_api_id": gid("ProductVariant", v.id), "updated_at": iso(v.updated_at)}
                for v in sorted(variants, key=lambda v: v.updated_at, reverse=True)
            ],
            "has_variants_that_requires_components": False,
            "category": None,
        }

    def _rest_money_set(self, order: Order, amount: Decimal) -> dict[str, Any]:
        return {
            "shop_money": {"amount": str(money(amount)), "currency_code": order.currency},
            "presentment_money": {"amount": str(order.present(amount)), "currency_code": order.presentment_currency},
        }

    def rest_customer(self, c: Customer) -> dict[str, Any]:
        """The ``customers/*`` webhook body."""
        address = None
        if c.address:
            address = {
                **c.address,
                "customer_id": c.id,
                "name": f"{c.first_name} {c.last_name}",
                "country_name": c.address["country"],
                "default": True,
            }
        return {
            "id": c.id,
            "email": c.email,
            "created_at": self.rest_time(c.created_at),
            "updated_at": self.rest_time(c.updated_at),
            "first_name": c.first_name,
            "last_name": c.last_name,
            "state": c.state.lower(),
            "note": c.note,
            "verified_email": c.verified_email,
            "multipass_identifier": None,
            "tax_exempt": c.tax_exempt,
            "currency": self.currency,
            "phone": c.phone,
            "addresses": [address] if address else [],
            "tax_exemptions": [],
            "admin_graphql_api_id": gid("Customer", c.id),
            "default_address": address,
        }

    def _presentment_set(self, o: Order, shop: Decimal, presentment: Decimal) -> dict[str, Any]:
        return {
            "shop_money": {"amount": str(money(shop)), "currency_code": o.currency},
            "presentment_money": {"amount": str(money(presentment)), "currency_code": o.presentment_currency},
        }

    # The only discount the emulator gives: 10 % off a line (see _make_order), as one manual discount application.
    TEN_PERCENT_OFF: ClassVar[dict[str, Any]] = {
        "target_type": "line_item",
        "type": "manual",
        "value": "10.0",
        "value_type": "percentage",
        "allocation_method": "across",
        "target_selection": "explicit",
        "title": "10% off",
        "description": "10% off",
    }

    # A discount code (``add_order`` lines' ``code_discount``) and an order-level discount (``order_discount``).
    DISCOUNT_CODE: ClassVar[str] = "SANDBOX"
    CODE_DISCOUNT: ClassVar[dict[str, Any]] = {
        "target_type": "line_item",
        "type": "discount_code",
        "value_type": "fixed_amount",
        "allocation_method": "across",
        "target_selection": "entitled",
        "code": DISCOUNT_CODE,
    }
    ORDER_DISCOUNT: ClassVar[dict[str, Any]] = {
        "target_type": "line_item",
        "type": "automatic",
        "value_type": "fixed_amount",
        "allocation_method": "across",
        "target_selection": "all",
        "title": "Order discount",
    }

    def _discount_applications(self, o: Order) -> tuple[list[dict[str, Any]], dict[int, dict[str, int]]]:
        """Order ``discount_applications`` and, per line id, the index each of its allocations (by kind: ``line``,
        ``code``, ``order``) points to.

        Lines whose own discount is exactly 10 % share one manual application; any other own discount (set by a
        test) gets its own fixed-amount application; a discount code is one ``discount_code`` application and an
        order-level discount one ``automatic`` application across all lines, so every allocation names a real
        application.
        """
        own = [li for li in o.line_items if li.line_discount > 0]
        ten_off = [li for li in own if li.line_discount == money(li.unit_price * li.quantity * Decimal("0.10"))]
        applications: list[dict[str, Any]] = [dict(self.TEN_PERCENT_OFF)] if ten_off else []
        index_of: dict[int, dict[str, int]] = {li.id: {"line": 0} for li in ten_off}
        for li in own:
            if li.id not in index_of:
                index_of[li.id] = {"line": len(applications)}
                applications.append(
                    {
                        "target_type": "line_item",
                        "type": "manual",
                        "value": str(li.line_discount),
                        "value_type": "fixed_amount",
                        "allocation_method": "one",
                        "target_selection": "explicit",
                        "title": "Discount",
                        "description": "Discount",
                    }
                )
        for kind, application in (("code", self.CODE_DISCOUNT), ("order", self.ORDER_DISCOUNT)):
            amount = sum((a for li in o.line_items for k, a in li.allocations() if k == kind), Decimal("0.00"))
            if amount > 0:
                for li in o.line_items:
                    if any(k == kind for k, _ in li.allocations()):
                        index_of.setdefault(li.id, {})[kind] = len(applications)
                applications.append({**application, "value": str(amount)})
        return applications, index_of

    def rest_line_item(
        self, o: Order, li: LineItem, application_index: Mapping[str, int] | None = None
    ) -> dict[str, Any]:
        """One ``line_items[]`` entry: ``price`` x ``quantity`` minus the ``discount_allocations`` (every discount:
        the line's own, a code's, an order-level one) is what the line was sold for."""
        allocations = [
            {
                "amount": str(amount),
                "amount_set": self._presentment_set(o, amount, o.present(amount)),
                "discount_application_index": (application_index or {}).get(kind, 0),
            }
            for kind, amount in li.allocations()
        ]
        return {
            "id": li.id,
            "admin_graphql_api_id": gid("LineItem", li.id),
            "name": f"{li.title} - {li.variant_title}" if li.variant_title else li.title,
            "price": str(li.unit_price),
            "price_set": self._rest_money_set(o, li.unit_price),
            "product_id": li.product_id,
            "quantity": li.quantity,
            "current_quantity": li.quantity - self._refunded_qty(o, li.id),
            "sku": li.sku,
            "taxable": li.taxable,
            "title": li.title,
            "total_discount": str(li.discount),
            "total_discount_set": self._presentment_set(o, li.discount, o.present(li.discount)),
            "discount_allocations": allocations,
            "variant_id": li.variant_id,
            "variant_title": li.variant_title,
        }

    def rest_order(self, o: Order) -> dict[str, Any]:
        """The ``orders/*`` webhook body (the fields the pipeline reads, in the REST 2025-07 shape).

        Money agrees with the GraphQL side: ``current_total_price`` is ``currentTotalPriceSet`` (total minus what was
        refunded), ``current_subtotal_price`` is ``currentSubtotalPriceSet``, and the ``refunds[].transactions``
        add up to ``totalRefundedSet`` (REST orders have no refunded total of their own).
        """
        customer = self.customers.get(o.customer_id) if o.customer_id else None
        applications, index_of = self._discount_applications(o)
        line_items_price = sum((li.unit_price * li.quantity for li in o.line_items), Decimal("0.00"))
        current_subtotal = max(Decimal("0.00"), o.subtotal - o.refunded)
        return {
            "id": o.id,
            "admin_graphql_api_id": gid("Order", o.id),
            "cancel_reason": o.cancel_reason,
            "cancelled_at": self.rest_time(o.cancelled_at),
            "closed_at": self.rest_time(o.closed_at),
            "created_at": self.rest_time(o.created_at),
            "currency": o.currency,
            "current_subtotal_price": str(current_subtotal),
            "current_subtotal_price_set": self._rest_money_set(o, current_subtotal),
            "current_total_price": str(o.total - o.refunded),
            "current_total_price_set": self._rest_money_set(o, o.total - o.refunded),
            "discount_applications": applications,
            "discount_codes": [
                {"code": self.DISCOUNT_CODE, "amount": str(code), "type": "fixed_amount"}
                for code in [sum((li.code_discount for li in o.line_items), Decimal("0.00"))]
                if code > 0
            ],
            "email": o.email,
            "financial_status": o.financial_status.lower(),
            "fulfillment_status": "fulfilled" if o.fulfillment_status == "FULFILLED" else None,
            "name": o.name,
            "note": o.note,
            "number": o.number - 1000,
            "order_number": o.number,
            "payment_gateway_names": ["bogus"],
            "presentment_currency": o.presentment_currency,
            "processed_at": self.rest_time(o.processed_at),
            "subtotal_price": str(o.subtotal),
            "subtotal_price_set": self._rest_money_set(o, o.subtotal),
            "tags": ", ".join(o.tags),
            "test": o.test,
            "total_discounts": str(o.discounts),
            "total_discounts_set": self._rest_money_set(o, o.discounts),
            "total_line_items_price": str(line_items_price),
            "total_line_items_price_set": self._rest_money_set(o, line_items_price),
            "total_price": str(o.total),
            "total_price_set": self._rest_money_set(o, o.total),
            "total_shipping_price_set": self._rest_money_set(o, o.shipping),
            "total_tax": str(o.tax),
            "total_tax_set": self._rest_money_set(o, o.tax),
            "updated_at": self.rest_time(o.updated_at),
            "customer": self.rest_customer(customer) if customer else None,
            "line_items": [self.rest_line_item(o, li, index_of.get(li.id)) for li in o.line_items],
            "refunds": [self.rest_refund(o, r) for r in o.refunds],
        }

    def _refunded_qty(self, order: Order, line_id: int) -> int:
        return sum(rl.quantity for r in order.refunds for rl in r.lines if rl.line_item_id == line_id)

    def rest_transaction(self, o: Order, t: OrderTransaction) -> dict[str, Any]:
        """An order transaction (REST 2025-07). Like Shopify since multi-currency, ``amount`` and ``currency`` are
        in the order's presentment currency (the same as the shop currency for most orders)."""
        return {
            "id": t.id,
            "admin_graphql_api_id": gid("OrderTransaction", t.id),
            "amount": str(o.present(t.amount)),
            "authorization": None,
            "created_at": self.rest_time(t.created_at),
            "currency": o.presentment_currency,
            "device_id": None,
            "error_code": None,
            "gateway": t.gateway,
            "kind": t.kind,
            "location_id": None,
            "message": None,
            "order_id": o.id,
            "parent_id": None,
            "payment_id": f"{o.name}.{t.id % 1000}",
            "processed_at": self.rest_time(t.created_at),
            "receipt": {},
            "source_name": "web",
            "status": t.status,
            "test": o.test,
            "user_id": None,
        }

    def rest_refund(self, o: Order, r: Refund) -> dict[str, Any]:
        """The ``refunds/create`` webhook body (and each entry of an order's ``refunds``)."""
        by_id = {li.id: li for li in o.line_items}
        _, index_of = self._discount_applications(o)
        return {
            "id": r.id,
            "admin_graphql_api_id": gid("Refund", r.id),
            "created_at": self.rest_time(r.created_at),
            "note": r.note,
            "order_id": o.id,
            "processed_at": self.rest_time(r.created_at),
            "restock": r.restock,
            "user_id": None,
            "refund_line_items": [
                {
                    "id": rl.id,
                    "line_item_id": rl.line_item_id,
                    "location_id": rl.location_id,
                    "quantity": rl.quantity,
                    "restock_type": rl.restock_type.lower(),
                    "subtotal": float(rl.subtotal),
                    "subtotal_set": self._rest_money_set(o, rl.subtotal),
                    "line_item": (
                        self.rest_line_item(o, by_id[rl.line_item_id], index_of.get(rl.line_item_id))
                        if rl.line_item_id in by_id
                        else None
                    ),
                }
                for rl in r.lines
            ],
            "transactions": [self.rest_transaction(o, t) for t in r.transactions],
            "order_adjustments": [],
        }

    def rest_inventory_level(self, level: InventoryLevel) -> dict[str, Any]:
        """The ``inventory_levels/update`` webhook body (also the REST inventory level shape)."""
        return {
            "inventory_item_id": level.item_id,
            "location_id": level.location_id,
            "available": level.available,
            "updated_at": self.rest_time(level.updated_at),
            "admin_graphql_api_id": level.gid,
        }
