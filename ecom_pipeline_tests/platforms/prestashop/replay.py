"""Replay of the recorded PrestaShop 8.2.1 exchanges (fixtures/recorded/prestashop-8.2.1) for client tests.

It reuses the WooCommerce replay server's socket handling and adds PrestaShop's ``/api/`` paths, recordings
and request bodies (kept so write tests can assert what was PUT).
"""

from __future__ import annotations

import json
from typing import Any

from ecom_pipeline_tests.platforms.replay_server import FIXTURES, ReplayServer, Reply, Route

RECORDINGS = FIXTURES / "recorded" / "prestashop-8.2.1"
_FRAMING = {"transfer-encoding", "content-length", "connection", "keep-alive"}


def load(name: str) -> dict[str, Any]:
    return json.loads((RECORDINGS / name).read_text())


def body(name: str) -> Any:
    """The recorded response body (parsed JSON, or XML/text)."""
    return load(name)["response"]["body"]


def recorded(name: str) -> Reply:
    """Status, headers (wire order) and body exactly as the real shop sent them."""
    response = load(name)["response"]
    headers = [
        (k, v) for k, v in response.get("raw_headers") or response["headers"].items() if k.lower() not in _FRAMING
    ]
    raw = response.get("body_raw")
    if raw is None:
        raw = json.dumps(response["body"]) if isinstance(response["body"], dict | list) else response["body"] or ""
    return Reply(response["status"], headers, raw.encode())


def ps_json(payload: Any, status: int = 200) -> Reply:
    return Reply(
        status, [("Content-Type", "application/json"), ("PSWS-Version", "8.2.1")], json.dumps(payload).encode()
    )


class PrestaShopReplay(ReplayServer):
    """Routes under ``/shop/api/``; request bodies are recorded in ``bodies`` (method, path, text)."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[tuple[str, str, str]] = []

    def api_path(self, resource: str) -> str:
        return f"/shop/api/{resource.lstrip('/')}"

    def add(self, method: str, resource: str, *replies: Reply, match: dict[str, str] | None = None) -> Route:
        return super().add(method, resource, *replies, match=match)

    def _handle(self, handler: Any) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        if length:
            text = handler.rfile.read(length).decode("utf-8")
            self.bodies.append((handler.command, handler.path, text))
            handler.headers.replace_header("Content-Length", "0")
        super()._handle(handler)

    def _route(self, seen: Any) -> Reply:
        params = seen.params
        for route in self.routes:
            same_target = route.method == seen.method and route.path == seen.path
            if same_target and all(params.get(k) == v for k, v in route.match.items()):
                return route.next_reply()
        return Reply(404, [], b"")  # PrestaShop: unknown id -> 404, empty body, no Content-Type
