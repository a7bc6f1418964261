"""What every emulated shop is, whatever its platform: its spec, and the handle tests and the server use."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ecom_pipeline.sandbox.faults import FaultSwitches, RequestStats

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


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


class ShopApi(Protocol):
    """The ASGI-like entry point of one emulated shop's API; returns the HTTP status it answered."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send, *, site: str, subpath: str) -> int: ...


@dataclass
class ShopHandle:
    """A running shop: URLs, credentials, data and fault switches.

    ``credentials`` holds what a client needs to authenticate (WooCommerce: consumer_key/consumer_secret;
    Shopify: access_token, ...); ``api_path`` is where the API lives under the site URL.
    """

    spec: ShopSpec
    store: Any
    faults: FaultSwitches
    stats: RequestStats
    api: Any
    credentials: dict[str, str]
    api_path: str
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
