"""What every emulated shop is, whatever its platform: its spec, its admin operations, and its running handle."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from ecom_pipeline.sandbox.faults import FaultSwitches, RequestStats

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def read_body(receive: Receive) -> bytes:
    """The whole request body, however many ``http.request`` messages the server split it into (every emulator
    and the sandbox's control API read it this one way)."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


@dataclass(frozen=True)
class ShopSpec:
    """What to emulate: one shop of a platform, its seeded catalogue size and its time zone.

    ``options`` carries platform-specific settings (e.g. a Shopify plan or API version); each emulator documents
    the keys it reads.
    """

    name: str
    seed: int = 1
    products: int = 50
    variable_share: float = 0.3
    orders: int = 120
    customers: int = 40
    timezone: str = "Europe/Paris"
    platform: str = "woocommerce"
    anchor: datetime | None = None
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def catalogue(self) -> dict[str, Any]:
        """The seeded-catalogue arguments every emulator's store takes (seed, sizes, history anchor), so the three
        ``build_shop`` functions hand the spec to their store one way and a new size knob is added once."""
        return {
            "seed": self.seed,
            "products": self.products,
            "variable_share": self.variable_share,
            "orders": self.orders,
            "customers": self.customers,
            "anchor": self.anchor,
        }


class ShopApi(Protocol):
    """The ASGI-like entry point of one emulated shop's API; returns the HTTP status it answered."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send, *, site: str, subpath: str) -> int: ...


class StockLevel(Protocol):
    """What a stock change answers: the item whose stock was set and its quantity now."""

    @property
    def id(self) -> int: ...

    @property
    def stock_quantity(self) -> int | None: ...


class PlacedOrder(Protocol):
    """What placing an order answers: its id and status (platform-specific: a slug, or a state id)."""

    @property
    def id(self) -> int: ...

    @property
    def status(self) -> Any: ...


@runtime_checkable
class ShopAdmin(Protocol):
    """How tests, the demo, benchmarks and the server's ``/__sandbox/<shop>/...`` endpoints change a shop behind
    its API's back, the same way on every platform.

    These are the changes a shop owner makes in the back office (or a checkout makes) that a sync must then
    notice: an edit that moves the modification date, a stock count, a new order, a deleted product. The WooCommerce
    and PrestaShop stores inherit this class (a missing operation fails at construction); any other store
    conforms by shape (``isinstance(store, ShopAdmin)``). Platform-only operations (a refund, an order state, a
    combination's stock) stay on each store, with the platform's own arguments.
    """

    @abstractmethod
    def now(self) -> int:
        """The emulated time in whole seconds (the store's clock): what "now" means for every date it writes."""

    @abstractmethod
    def touch_products(self, count: int = 1, ids: list[int] | None = None) -> list[int]:
        """Move the modification date of ``ids`` (or of the first ``count`` products) to now; return their ids."""

    @abstractmethod
    def set_stock(self, item_id: int, quantity: int, /) -> StockLevel:
        """Set the absolute stock of a product (or variant) as the back office does."""

    @abstractmethod
    def add_order(self, data: dict[str, Any], /) -> PlacedOrder:
        """Place an order described by the platform's own admin payload (stock moves as on the real shop)."""

    @abstractmethod
    def delete_product(self, product_id: int, /) -> object:
        """Delete a product as the back office does (WooCommerce: to the trash; the others: for good)."""


@dataclass
class ShopHandle:
    """A running shop: URLs, credentials, data and fault switches.

    ``credentials`` holds what a client needs to authenticate (WooCommerce: consumer_key/consumer_secret;
    Shopify: access_token, ...); ``api_path`` is where the API lives under the site URL.
    """

    spec: ShopSpec
    store: Any
    faults: FaultSwitches
    api: Any
    credentials: dict[str, str]
    api_path: str
    # Every shop starts with empty counters, which the server fills as it answers (its own, never an emulator's).
    stats: RequestStats = field(default_factory=RequestStats)
    http_url: str = ""
    https_url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def consumer_key(self) -> str:
        return self.credentials["consumer_key"]

    @property
    def consumer_secret(self) -> str:
        return self.credentials["consumer_secret"]

    def describe(self, ca_bundle: str) -> dict[str, Any]:
        """The JSON entry written to the credentials file."""
        return {
            "platform": self.spec.platform,
            "name": self.name,
            "http_url": self.http_url,
            "https_url": self.https_url,
            "api_path": self.api_path,
            "ca_bundle": ca_bundle,
            "timezone": self.spec.timezone,
            **self.credentials,
        }
