"""The toy shop's emulator: ``GET /api/products`` (JSON list) behind an ``X-Toy-Token`` header."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ecom_pipeline.sandbox.clock import SandboxClock
from ecom_pipeline.sandbox.faults import FaultSwitches, RequestStats
from ecom_pipeline.sandbox.shop import Receive, Scope, Send, ShopHandle, ShopSpec


@dataclass
class ToyStore:
    """The shop's products, by id."""

    products: dict[int, dict[str, Any]] = field(default_factory=dict)


class ToyApi:
    """The toy API: one collection, one token."""

    def __init__(self, store: ToyStore, token: str) -> None:
        self.store = store
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send, *, site: str, subpath: str) -> int:
        headers = dict(scope["headers"])
        if headers.get(b"x-toy-token", b"").decode() != self.token:
            return await _json(send, 401, {"error": "bad token"})
        if scope["method"] == "GET" and subpath == "/api/products":
            return await _json(send, 200, list(self.store.products.values()))
        return await _json(send, 404, {"error": f"no route {subpath}"})


async def _json(send: Send, status: int, body: Any) -> int:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})
    return status


def build_shop(spec: ShopSpec, clock: SandboxClock) -> ShopHandle:
    """``spec.products`` products TOY-1.. priced 10.00, 11.00, ..."""
    now = clock.now().isoformat()
    store = ToyStore(
        {
            i: {"id": i, "title": f"Toy {i}", "sku": f"TOY-{i}", "price": f"{9 + i}.00", "updated_at": now}
            for i in range(1, spec.products + 1)
        }
    )
    token = f"toy-token-{spec.name}"
    return ShopHandle(
        spec=spec,
        store=store,
        faults=FaultSwitches(),
        stats=RequestStats(),
        api=ToyApi(store, token),
        credentials={"token": token, "webhook_secret": f"toy-hook-{spec.name}"},
        api_path="/api",
    )
