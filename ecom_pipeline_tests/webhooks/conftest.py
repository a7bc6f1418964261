"""Fixtures for webhook tests: a real receiver over HTTP on 127.0.0.1, a migrated warehouse, recorded deliveries."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from cryptography.fernet import Fernet
from sqlalchemy import Engine

from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.engine import make_engine
from ecom_pipeline.webhooks.app import create_app
from ecom_pipeline.webhooks.limits import ReceiverLimits, uvicorn_options
from ecom_pipeline_tests.paths import fixtures_dir

RECORDED = fixtures_dir() / "recorded" / "woocommerce-10.0.2"
SAMPLES = RECORDED.parent.parent / "platform-samples"
WC_SECRET = "wc-test-webhook-secret-2026"
TENANT = "acme"


def recorded_delivery(name: str) -> tuple[dict[str, str], bytes]:
    """(headers, raw body bytes) of a recorded WooCommerce delivery, exactly as the store sent them."""
    data = json.loads((RECORDED / f"{name}.json").read_text())
    request = data["request"]
    headers = {k: v for k, v in request["headers"].items() if k.lower() not in ("host", "content-length", "connection")}
    return headers, request["body_raw"].encode("utf-8")


class ReceiverServer:
    """The receiver app served by uvicorn from a background thread on a free port, with the same connection
    limits ``serve-webhooks`` sets (``webhooks.limits``)."""

    def __init__(self, app: Any, limits: ReceiverLimits | None = None) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        options = uvicorn_options(limits or ReceiverLimits())
        self.server = uvicorn.Server(
            uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False, **options)
        )
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve(sockets=[self.sock])), daemon=True)

    def __enter__(self) -> ReceiverServer:
        self.thread.start()
        while not self.server.started:
            threading.Event().wait(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(5)
        self.sock.close()


@dataclass
class Receiver:
    url: str
    engine: Engine
    cipher: CredentialCipher
    wc_integration: int
    shopify_integration: int
    generic_integration: int
    app: Any

    def endpoint(self, platform: str, integration_id: int) -> str:
        return f"{self.url}/webhooks/{platform}/{integration_id}"


def add_integration(
    engine: Engine,
    cipher: CredentialCipher,
    *,
    platform: str,
    base_url: str,
    credentials: dict[str, Any],
    tenant: str = TENANT,
    settings: dict[str, Any] | None = None,
) -> int:
    with engine.begin() as conn:
        return store.create_integration(
            conn,
            tenant_id=tenant,
            platform=platform,
            name=base_url,
            base_url=base_url,
            credentials=credentials,
            settings=settings or {},
            cipher=cipher,
        )


@pytest.fixture
def cipher() -> CredentialCipher:
    return CredentialCipher(Fernet.generate_key().decode())


@pytest.fixture
def receiver(warehouse_url: str, cipher: CredentialCipher) -> Iterator[Receiver]:
    engine = make_engine(warehouse_url)
    wc = add_integration(
        engine,
        cipher,
        platform="woocommerce",
        base_url="http://127.0.0.1:1/recorded",
        credentials={"consumer_key": "ck_x", "consumer_secret": "cs_x", "webhook_secret": WC_SECRET},
    )
    shopify = add_integration(
        engine,
        cipher,
        platform="shopify",
        base_url="https://example-shop.myshopify.com",
        credentials={"client_secret": "hush"},
    )
    generic = add_integration(
        engine,
        cipher,
        platform="etsy",
        base_url="https://etsy.example",
        credentials={"webhook_secret": "generic-s3cret"},
    )
    app = create_app(engine=engine, cipher=cipher, max_body_bytes=64 * 1024)
    with ReceiverServer(app) as server:
        yield Receiver(server.url, engine, cipher, wc, shopify, generic, app)
    engine.dispose()
