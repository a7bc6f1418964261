"""Failures and races of the three-stage PrestaShop poll (``extract.py``, "Calls in flight"): what one thread
would have staged, and nothing else, when a stage fails; records created during the scan; no call after a failure.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import requests

from ecom_pipeline.platforms.errors import ShopServerError
from ecom_pipeline.platforms.prestashop import extract as ps_extract
from ecom_pipeline.warehouse import store
from ecom_pipeline_tests.platforms.prestashop import test_extract_pipeline as pipeline

World = pipeline.World
_wait_for_no_pipeline_thread = pipeline._wait_for_no_pipeline_thread
sandbox = pipeline.sandbox  # the fixtures, shared with test_extract_pipeline
world = pipeline.world

OLD = {"modified": "2000-01-01T00:00:00+00:00", "id": 0}


def _old_cursor(world: World, entity: str) -> None:
    with world.engine.begin() as conn:
        store.set_cursor(
            conn, integration_id=world.integration.id, tenant_id=world.integration.tenant_id, entity=entity, cursor=OLD
        )


def test_lookup_error_of_page_1_must_not_stage_later_pages_nor_advance_cursor(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Page 1's e-mail look-up fails: nothing is staged and the cursor stays, as in a one-thread read. (Stage 2
    once caught the look-up error with the list calls' and staged pages 2 and 3, moving the cursor past page 1.)"""
    _old_cursor(world, "order")  # incremental: the cursor advances page by page
    send = requests.Session.send
    calls = 0
    lock = threading.Lock()

    def slow_failing_first_email_call(self: requests.Session, request: requests.PreparedRequest, **kw: Any) -> Any:
        nonlocal calls
        if "/api/customers?" in str(request.url) and "filter%5Bid%5D=%5B" in str(request.url):
            with lock:
                calls += 1
                first = calls == 1
            if first:  # page 1's e-mails: slow, then the shop fails it
                time.sleep(1.0)
                world.shop.faults.update({"server_errors": 1, "server_error_path": "GET /api/customers"})
        return send(self, request, **kw)

    monkeypatch.setattr(requests.Session, "send", slow_failing_first_email_call)
    with pytest.raises(ShopServerError):
        ps_extract.extract_entity(world.ctx(max_retries=0), "order")
    staged = [eid for eid, _ in world.staged("order")]
    with world.engine.connect() as conn:
        cursor = store.get_cursor(conn, world.integration.id, "order")
    print("staged after failure:", staged, "cursor:", cursor)
    assert _wait_for_no_pipeline_thread() == []
    assert staged == [], f"pages after the failed page were staged: {staged}"
    assert cursor == OLD, f"cursor advanced past page 1 although page 1 was not staged: {cursor}"


def test_lookup_error_of_page_1_then_a_clean_run_stages_every_order(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The consequence it had: with the cursor moved past page 1 by the failed run, the next (clean) incremental
    run started after page 1's orders, which were never staged."""
    _old_cursor(world, "order")
    send = requests.Session.send
    calls = 0

    def hook(self: requests.Session, request: requests.PreparedRequest, **kw: Any) -> Any:
        nonlocal calls
        if "/api/customers?" in str(request.url) and "filter%5Bid%5D=%5B" in str(request.url):
            calls += 1
            if calls == 1:
                time.sleep(1.0)
                world.shop.faults.update({"server_errors": 1, "server_error_path": "GET /api/customers"})
        return send(self, request, **kw)

    monkeypatch.setattr(requests.Session, "send", hook)
    with pytest.raises(ShopServerError):
        ps_extract.extract_entity(world.ctx(max_retries=0), "order")
    monkeypatch.setattr(requests.Session, "send", send)
    ps_extract.extract_entity(world.ctx(), "order")
    staged = {eid for eid, _ in world.staged("order")}
    print("staged over both runs:", sorted(staged, key=int))
    assert staged == {str(i) for i in range(1, 15)}, f"never staged: {sorted(set(map(str, range(1, 15))) - staged)}"


def test_record_linked_during_the_scan_is_not_tombstoned(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A customer created in the shop during the scan and linked meanwhile (a notice applied by another run) is not
    tombstoned. The id listing runs alongside the scan, from its start: the customer is in neither list, and only
    asking the shop for the unseen ids (``still_present``) spares it."""
    from datetime import UTC, datetime

    ps_extract.extract_entity(world.ctx(), "customer")  # a cursor: the next run is incremental
    _old_cursor(world, "customer")  # several pages to scan
    send = requests.Session.send
    ids_listed = threading.Event()
    scan_calls = 0
    created: list[str] = []

    def hook(self: requests.Session, request: requests.PreparedRequest, **kw: Any) -> Any:
        nonlocal scan_calls
        url = str(request.url)
        is_ids = "/api/customers?" in url and "display=%5Bid%5D" in url
        is_scan = "/api/customers?" in url and "display=full" in url and "date_upd" in url
        if is_scan:
            scan_calls += 1
            if scan_calls == 2:
                ids_listed.wait(5)
                row = world.shop.store.create(
                    "customers",
                    {"email": "new@example.com", "firstname": "New", "lastname": "Buyer", "passwd": "x" * 12},
                    {},
                )
                created.append(str(row["id"]))
                with world.engine.begin() as conn:  # what a concurrent webhook apply does
                    store.upsert_link(
                        conn,
                        tenant_id=world.integration.tenant_id,
                        integration_id=world.integration.id,
                        entity="customer",
                        external_id=str(row["id"]),
                        hub_id=999999,
                        now=datetime.now(UTC),
                    )
        response = send(self, request, **kw)
        if is_ids:
            ids_listed.set()
        return response

    monkeypatch.setattr(requests.Session, "send", hook)
    report = ps_extract.extract_entity(world.ctx(), "customer")
    print("created", created, "tombstoned", report.tombstoned)
    assert created
    assert report.tombstoned == 0, f"customer {created} exists in the shop but was tombstoned"


def test_first_stock_poll_product_created_meanwhile_is_not_an_orphan(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first stock poll lists product ids alongside the stock pages: a product created after that listing and
    before the stock pages was taken for a deleted product's orphan row, left out, and its digest stored (never
    staged until its quantity moved). Apparent orphans are now asked for by id first."""
    send = requests.Session.send
    ids_listed = threading.Event()
    created: list[str] = []

    def hook(self: requests.Session, request: requests.PreparedRequest, **kw: Any) -> Any:
        url = str(request.url)
        if "/api/stock_availables?" in url and not created:
            ids_listed.wait(5)
            row = world.shop.store.create("products", {"reference": "NEW-1", "price": "9.000000"}, {})
            created.append(str(row["id"]))
        response = send(self, request, **kw)
        if "/api/products?" in url and "display=%5Bid%5D" in url:
            ids_listed.set()
        return response

    monkeypatch.setattr(requests.Session, "send", hook)
    ps_extract.extract_inventory(world.ctx())
    monkeypatch.setattr(requests.Session, "send", send)
    ps_extract.extract_inventory(world.ctx())  # a later poll: no quantity moved
    staged = {eid for eid, _ in world.staged("inventory")}
    print("created", created, "staged stock of created:", [e for e in staged if e.split("-")[0] in created])
    assert created
    assert any(e.split("-")[0] == created[0] or e == created[0] for e in staged), "new product's stock never staged"


def test_stage_failure_with_slow_shop_returns_promptly_and_leaves_no_thread(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stage 3 (the calling thread) fails on its first page while the shop is slow (1.5 s a call): the look-ups in
    flight end at their next call rather than after every call of their page (a product page's makes six or more),
    so the run fails within a few calls' time and no thread of it is left calling the shop."""
    from ecom_pipeline.sync import extract as shared

    world.shop.faults.update({"slow_ms": 1500})
    failed_at: list[float] = []

    def failing_stage_page(*a: Any, **kw: Any) -> None:
        failed_at.append(time.monotonic())
        raise RuntimeError("warehouse down")

    monkeypatch.setattr(shared, "stage_page", failing_stage_page)
    send = requests.Session.send
    sent_after: list[str] = []

    def hook(self: requests.Session, request: requests.PreparedRequest, **kw: Any) -> Any:
        if failed_at:
            sent_after.append(str(request.url).split("?")[0])
        return send(self, request, **kw)

    monkeypatch.setattr(requests.Session, "send", hook)
    with pytest.raises(RuntimeError):
        ps_extract.extract_entity(world.ctx(full_refresh=True), "product")
    returned = time.monotonic()
    alive_at_return = [t.name for t in threading.enumerate() if t.name.startswith(("ecom-prefetch", "ps-"))]
    print(
        f"run failed {returned - failed_at[0]:.1f}s after the error; alive at return: {alive_at_return}; "
        f"calls sent after the error: {len(sent_after)} {sent_after}"
    )
    left = _wait_for_no_pipeline_thread(30)
    assert returned - failed_at[0] < 6, "run took too long to fail"
    assert len(sent_after) <= 3, f"calls made after the run failed: {sent_after}"  # at most a race per stage
    assert alive_at_return == [], "threads still running when the run failed"
    assert left == []


@pytest.mark.parametrize("entity", ["product", "order"])
def test_keyboard_interrupt_in_stage_3_leaves_no_thread(
    world: World, monkeypatch: pytest.MonkeyPatch, entity: str
) -> None:
    from ecom_pipeline.sync import extract as shared

    ps_extract.extract_entity(world.ctx(), entity)  # incremental next: ids + watch threads too
    _old_cursor(world, entity)
    world.shop.faults.update({"slow_ms": 200})
    calls = 0

    def interrupted(*a: Any, **kw: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(shared, "stage_page", interrupted)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        ps_extract.extract_entity(world.ctx(), entity)
    print(f"{entity}: interrupted run returned in {time.monotonic() - started:.1f}s")
    assert _wait_for_no_pipeline_thread(10) == []


def test_a_record_the_scan_read_after_the_id_listing_counts_as_seen(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A customer created after the id listing (which runs from the scan's start) and read by the scan's last page
    is seen: the scan's own ids are kept with the listing's, so it costs no by-id check (``still_present``)."""
    from datetime import UTC, datetime

    ps_extract.extract_entity(world.ctx(), "customer")
    _old_cursor(world, "customer")
    send = requests.Session.send
    ids_listed = threading.Event()
    scan_calls = 0
    by_id_checks: list[str] = []
    created: list[str] = []

    def hook(self: requests.Session, request: requests.PreparedRequest, **kw: Any) -> Any:
        nonlocal scan_calls
        url = str(request.url)
        is_ids = "/api/customers?" in url and "display=%5Bid%5D" in url
        if is_ids and "filter%5Bid%5D=%5B" in url:  # by id, not the keyset listing (filter[id]=>[n])
            by_id_checks.append(url)
        if "/api/customers?" in url and "display=full" in url and "date_upd" in url:
            scan_calls += 1
            if scan_calls == 2:
                ids_listed.wait(5)
                row = world.shop.store.create(
                    "customers",
                    {"email": "new@example.com", "firstname": "New", "lastname": "Buyer", "passwd": "x" * 12},
                    {},
                )
                created.append(str(row["id"]))
                with world.engine.begin() as conn:
                    store.upsert_link(
                        conn,
                        tenant_id=world.integration.tenant_id,
                        integration_id=world.integration.id,
                        entity="customer",
                        external_id=str(row["id"]),
                        hub_id=999999,
                        now=datetime.now(UTC),
                    )
        response = send(self, request, **kw)
        if is_ids:
            ids_listed.set()
        return response

    monkeypatch.setattr(requests.Session, "send", hook)
    report = ps_extract.extract_entity(world.ctx(), "customer")
    assert created
    assert created[0] in {eid for eid, _ in world.staged("customer")}, "the scan did not read the new customer"
    assert report.tombstoned == 0
    assert by_id_checks == [], f"ids the scan read were asked for again: {by_id_checks}"
