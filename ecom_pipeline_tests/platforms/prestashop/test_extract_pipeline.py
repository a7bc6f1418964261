"""The PrestaShop poll's pipeline (list calls, look-up calls, staging in separate threads) over real HTTP.

Failures prevented: the shop idling while we build and stage a page (one call at a time), pages or records staged
in another order or with other payloads than a one-thread read stages, a shop error in a call made ahead being
lost or reported late, pages read before a failed call not staged (or pages after it staged), and threads left
calling the shop after a run failed.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, select

from ecom_pipeline.platforms.errors import ShopServerError
from ecom_pipeline.platforms.prestashop import extract as ps_extract
from ecom_pipeline.platforms.prestashop.client import PrestaShopClient
from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline.sync.extract import ExtractContext
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.schema import staging_records

TENANT = "acme"
TIMEZONE = "Europe/Paris"
PIPELINE_THREADS = ("ecom-prefetch", "ps-lookups", "ps-ids", "ps-price-watch")


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxServer]:
    spec = ShopSpec(
        name="ps-shop", platform="prestashop", seed=5, products=30, variable_share=0.5, orders=14, customers=8
    )
    with SandboxServer(shops=[spec], cert_dir=tmp_path / "certs") as server:
        yield server


class World:
    def __init__(self, url: str, sandbox: SandboxServer) -> None:
        self.engine = create_engine(url)
        self.shop = sandbox.shop("ps-shop")
        self.key = self.shop.credentials["api_key"]
        with self.engine.begin() as conn:
            integration_id = store.create_integration(
                conn,
                tenant_id=TENANT,
                platform="prestashop",
                name="ps-shop",
                base_url=self.shop.http_url,
                credentials={"api_key": self.key},
                settings={"timezone": TIMEZONE, "language_id": 1, "currency": "EUR"},
                cipher=CredentialCipher(CredentialCipher.generate_key()),
            )
            self.integration = store.get_integration(conn, integration_id)

    def ctx(self, **kw: Any) -> ExtractContext:
        # Pages of 4: many pages, so several are in the pipeline at once.
        return ExtractContext(
            engine=self.engine,
            integration=self.integration,
            credentials={"api_key": self.key},
            run_id="t",
            per_page=4,
            **kw,
        )

    def staged(self, entity: str) -> list[tuple[str, Any]]:
        """(external id, payload) of the staged upserts of ``entity``, in the order they were staged."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(staging_records.c.external_id, staging_records.c.payload)
                .where(staging_records.c.entity == entity, staging_records.c.op == "upsert")
                .order_by(staging_records.c.id)
            ).all()
        return [(r.external_id, r.payload if isinstance(r.payload, dict) else json.loads(r.payload)) for r in rows]


@pytest.fixture
def world(warehouse_url: str, sandbox: SandboxServer) -> Iterator[World]:
    w = World(warehouse_url, sandbox)
    yield w
    w.engine.dispose()


def _serial_reference(world: World, resource: str, entity: str) -> list[tuple[str, Any]]:
    """What a one-thread read stages: each listed page's payloads built by ``_payloads`` (fetch, then build, one
    call at a time), pages in the order the shop lists them (a full scan: by id, 4 a page)."""
    client = PrestaShopClient(world.shop.http_url, world.key, page_size=4)
    lookups = ps_extract._Lookups(client, dict(world.integration.settings or {}))
    out: list[tuple[str, Any]] = []
    for page in client.iter_all(resource):
        changed = [(str(item["id"]), item, ps_extract._record_time(item, TIMEZONE)) for item in page.items]
        payloads = ps_extract._payloads(entity, entity, changed, client, lookups, TIMEZONE)
        out.extend((eid, payload) for (eid, _, _), payload in zip(changed, payloads, strict=True))
    return out


def _pipeline_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(PIPELINE_THREADS) and t.is_alive()]


def _wait_for_no_pipeline_thread(timeout_s: float = 10.0) -> list[str]:
    deadline = time.monotonic() + timeout_s
    while (alive := _pipeline_threads()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


@pytest.mark.parametrize(
    ("entity", "resource"), [("product", "products"), ("order", "orders"), ("customer", "customers")]
)
def test_staged_records_and_their_order_are_those_of_a_one_thread_read(
    world: World, entity: str, resource: str
) -> None:
    """Prevents the pipeline from reordering pages or records, or pairing a page with another page's look-ups
    (combinations, computed prices, e-mails, addresses): every staged payload equals the one-thread one."""
    report = ps_extract.extract_entity(world.ctx(full_refresh=True), entity)
    expected = _serial_reference(world, resource, entity)
    staged = world.staged(entity)
    assert report.staged == len(expected) >= 8  # two pages at least
    assert [eid for eid, _ in staged] == [eid for eid, _ in expected]
    assert staged == [(eid, json.loads(json.dumps(payload, default=str))) for eid, payload in expected]


def test_look_up_calls_are_in_flight_while_a_page_is_built(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Prevents the poll from going back to one call at a time (the shop idle while we build and stage a page,
    issue 12): with a shop that takes 30 ms a call, the next calls are sent before the previous answer is in."""
    world.shop.faults.update({"slow_ms": 30})
    in_flight = 0
    most = 0
    lock = threading.Lock()
    send = requests.Session.send

    def counting_send(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> Any:
        nonlocal in_flight, most
        with lock:
            in_flight += 1
            most = max(most, in_flight)
        try:
            return send(self, request, **kwargs)
        finally:
            with lock:
                in_flight -= 1

    monkeypatch.setattr(requests.Session, "send", counting_send)
    report = ps_extract.extract_entity(world.ctx(full_refresh=True), "product")
    assert report.staged == 30
    assert most >= 2


def test_a_list_call_failing_mid_scan_fails_the_run_after_staging_the_pages_before_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prevents pages listed before a failed list call from being dropped (their look-ups were still running) and
    pages after it from being staged: as a one-thread read, the pages before it are staged, then the run fails
    with the shop's error."""
    send = requests.Session.send
    listed = 0

    def failing_third_page(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> Any:
        nonlocal listed
        if "/api/orders?" in str(request.url) and "display=full" in str(request.url):
            listed += 1
            if listed == 3:  # the shop fails from the third orders page on
                world.shop.faults.update({"server_errors": 100, "server_error_path": "GET /api/orders"})
        return send(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", failing_third_page)
    with pytest.raises(ShopServerError) as failed:
        ps_extract.extract_entity(world.ctx(full_refresh=True, max_retries=0), "order")
    assert "orders" in str(failed.value)
    staged = [eid for eid, _ in world.staged("order")]
    assert staged == [str(i) for i in range(1, 9)]  # pages 1 and 2, 4 orders each, in order
    with world.engine.connect() as conn:
        assert store.get_cursor(conn, world.integration.id, "order") is None  # a full scan's cursor comes at the end
    assert _wait_for_no_pipeline_thread() == []


def test_a_look_up_call_failing_fails_the_run_and_leaves_no_thread_calling_the_shop(world: World) -> None:
    """Prevents a look-up error made ahead (e-mails of an orders page) from being swallowed by a worker thread,
    and a failed run from leaving threads that go on reading the shop: the run fails with the shop's error, the
    cursor stays where it was, and every pipeline thread has ended."""
    first = ps_extract.extract_entity(world.ctx(), "order")  # a cursor to keep
    with world.engine.connect() as conn:
        cursor = store.get_cursor(conn, world.integration.id, "order")
    assert first.staged == 14 and cursor is not None
    world.shop.faults.update({"server_errors": 1000, "server_error_path": "GET /api/customers"})
    with pytest.raises(ShopServerError) as failed:
        ps_extract.extract_entity(world.ctx(full_refresh=True, max_retries=0), "order")
    assert "customers" in str(failed.value)
    assert len(world.staged("order")) == 14  # the first run's; the failed one staged nothing
    with world.engine.connect() as conn:
        assert store.get_cursor(conn, world.integration.id, "order") == cursor
    assert _wait_for_no_pipeline_thread() == []


def test_an_id_listing_error_still_fails_an_incremental_run(world: World) -> None:
    """Prevents the id listing (read in its own thread alongside the scan, for the tombstones) from hiding its
    error: a run whose id listing fails still fails, with the shop's error, and stores no new cursor."""
    ps_extract.extract_entity(world.ctx(), "customer")
    with world.engine.connect() as conn:
        cursor = store.get_cursor(conn, world.integration.id, "customer")
    world.shop.faults.update({"server_errors": 1000, "server_error_path": "GET /api/customers"})
    with pytest.raises(ShopServerError):
        ps_extract.extract_entity(world.ctx(max_retries=0), "customer")
    with world.engine.connect() as conn:
        assert store.get_cursor(conn, world.integration.id, "customer") == cursor
    assert _wait_for_no_pipeline_thread() == []


def test_first_stock_poll_lists_product_ids_alongside_the_stock_pages_and_a_no_change_poll_does_not(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prevents the first stock poll (every product new: the product id list is needed) from reading the id list
    only after the stock pages, and a later poll without any stock change from reading it at all."""
    world.shop.faults.update({"slow_ms": 30})
    urls: list[str] = []
    in_flight = 0
    most = 0
    lock = threading.Lock()
    send = requests.Session.send

    def counting_send(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> Any:
        nonlocal in_flight, most
        with lock:
            urls.append(str(request.url))
            in_flight += 1
            most = max(most, in_flight)
        try:
            return send(self, request, **kwargs)
        finally:
            with lock:
                in_flight -= 1

    monkeypatch.setattr(requests.Session, "send", counting_send)
    ctx = world.ctx()
    first = ps_extract.extract_inventory(ctx)
    assert first.staged == 30
    assert most == 2
    assert any("/api/products?" in u for u in urls)
    urls.clear()
    again = ps_extract.extract_inventory(world.ctx())
    assert again.staged == 0
    assert urls and all("/api/stock_availables?" in u for u in urls)
    assert _wait_for_no_pipeline_thread() == []
