"""PrestaShop extract + apply over real HTTP to the sandbox emulator, into a real warehouse.

Failures prevented: a no-change poll that re-stages everything, deletions never reaching the hub (no webhooks),
stock changes missed because they do not bump ``date_upd``, polls more frequent than the shop allows, and an XML
PUT that does not round-trip.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select

from ecom_pipeline.platforms.prestashop import extract as ps_extract
from ecom_pipeline.platforms.prestashop.client import PrestaShopClient, set_xml_field
from ecom_pipeline.platforms.prestashop.dates import shop_zone, utc_to_local
from ecom_pipeline.platforms.prestashop.spec import platform_spec
from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline.sync.apply import apply_staged
from ecom_pipeline.sync.extract import ExtractContext
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.schema import entity_links as store_links
from ecom_pipeline.warehouse.schema import hub_customers, hub_inventory, hub_orders, hub_variants, staging_records

TENANT = "acme"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxServer]:
    spec = ShopSpec(
        name="ps-shop", platform="prestashop", seed=3, products=25, variable_share=0.5, orders=12, customers=6
    )
    with SandboxServer(shops=[spec], cert_dir=tmp_path / "certs") as server:
        yield server


class World:
    def __init__(self, url: str, sandbox: SandboxServer, settings: dict[str, Any]) -> None:
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
                settings={"timezone": "Europe/Paris", "language_id": 1, "currency": "EUR", **settings},
                cipher=CredentialCipher(CredentialCipher.generate_key()),
            )
            self.integration = store.get_integration(conn, integration_id)

    def ctx(self, **kw: Any) -> ExtractContext:
        return ExtractContext(
            engine=self.engine, integration=self.integration, credentials={"api_key": self.key}, run_id="t", **kw
        )

    def client(self) -> PrestaShopClient:
        return PrestaShopClient(self.shop.http_url, self.key)

    def sync(self, **kw: Any) -> dict[str, Any]:
        spec = platform_spec()
        reports = {}
        for entity in ("product", "inventory", "order", "customer"):
            reports[entity] = spec.extract(self.ctx(**kw), entity)
            applied = apply_staged(
                self.engine,
                tenant_id=TENANT,
                entity=entity,
                transforms={"prestashop": spec.transforms[entity]},
                run_id="t",
            )
            reports[f"apply_{entity}"] = applied
        return reports


@pytest.fixture
def world(sqlite_warehouse_url: str, sandbox: SandboxServer) -> World:
    return World(sqlite_warehouse_url, sandbox, {})


def test_full_then_no_change_sync_applies_everything_once_and_stages_nothing(world: World) -> None:
    """Prevents rejected records on real shop data and a no-change poll that re-stages the catalogue."""
    first = world.sync()
    for entity in ("product", "inventory", "order", "customer"):
        assert first[f"apply_{entity}"].rejected == 0, first[f"apply_{entity}"].rejection_reasons
        assert first[entity].staged > 0
    with world.engine.connect() as conn:
        variants = conn.execute(select(func.count()).select_from(hub_variants)).scalar_one()
        stock = conn.execute(select(func.count()).select_from(hub_inventory)).scalar_one()
    assert variants > 25  # products with combinations have several variants
    assert stock == variants  # one stock row per sellable variant: product-level sums are not counted
    second = world.sync()
    assert [second[e].staged for e in ("product", "inventory", "order", "customer")] == [0, 0, 0, 0]
    # One filtered page, the combinations of the price watch, the id list; this key may not read specific_prices,
    # which the full scan found out: the no-change poll does not ask again.
    assert second["product"].api_calls <= 3


def test_deleted_product_becomes_a_tombstone_without_webhooks(world: World) -> None:
    """Prevents deleted products living on in the hub: the id list shows they are gone."""
    world.sync()
    with world.client() as client:
        client.delete("products", 2)
    report = world.sync()
    assert report["product"].tombstoned == 1
    assert report["apply_product"].deleted == 1


def test_stock_change_is_seen_although_date_upd_does_not_move(world: World) -> None:
    """Prevents missed stock changes: only the product whose quantities changed is staged."""
    world.sync()
    with world.client() as client:
        row = client.list("stock_availables", {"display": "full", "filter[id_product]": "[5]"})[-1]
        tree = client.get_xml("stock_availables", row["id"])
        set_xml_field(tree, "quantity", "4242")
        client.put_xml("stock_availables", row["id"], tree)
        assert client.get("stock_availables", row["id"])["quantity"] == "4242"
    report = world.sync()
    assert report["product"].staged == 0
    assert report["inventory"].staged == 1
    with world.engine.connect() as conn:
        staged = conn.execute(
            select(staging_records.c.external_id)
            .where(staging_records.c.entity == "inventory")
            .order_by(staging_records.c.id.desc())
        ).first()
        assert staged is not None and staged.external_id == "5"
        assert conn.execute(select(hub_inventory.c.available).where(hub_inventory.c.available == 4242)).first()


def test_poll_interval_skips_a_run_sooner_than_the_interval(sqlite_warehouse_url: str, sandbox: SandboxServer) -> None:
    """Prevents hammering a shop polled every minute by a schedule when it allows one poll per hour."""
    world = World(sqlite_warehouse_url, sandbox, {"poll_interval_s": 3600})
    first = ps_extract.extract_entity(world.ctx(), "product")
    assert not first.skipped and first.api_calls > 0
    second = ps_extract.extract_entity(world.ctx(), "product")
    assert second.skipped and second.api_calls == 0
    assert "poll interval 3600s" in (second.cursor_after or {}).get("poll_skipped", "")
    later = ps_extract.extract_entity(world.ctx(), "product", now=datetime.now(UTC) + timedelta(hours=2))
    assert not later.skipped


def test_xml_round_trip_against_the_emulator_keeps_other_fields(world: World) -> None:
    """Prevents a GET-modify-PUT from clearing fields it did not touch."""
    with world.client() as client:
        before = client.get("products", 3)
        tree = client.get_xml("products", 3)
        set_xml_field(tree, "price", "99.500000")
        client.put_xml("products", 3, tree)
        after = client.get("products", 3)
    assert after["price"] == "99.500000"
    assert after.get("reference") == before.get("reference")
    assert after.get("name") == before.get("name")


def _connect_args(url: str, key: str, **kw: Any) -> Any:
    import argparse

    from ecom_pipeline.platforms.connect import add_common_arguments
    from ecom_pipeline.platforms.prestashop.connect import add_connect_arguments

    parser = argparse.ArgumentParser()
    add_common_arguments(parser)
    add_connect_arguments(parser)
    argv = ["--tenant", TENANT, "--url", url, "--api-key", key, "--timeout", "5"]
    for name, value in kw.items():
        argv += [f"--{name.replace('_', '-')}", str(value)]
    return parser.parse_args(argv)


def test_connect_discovers_the_shop_time_zone_and_stores_the_poll_interval(sandbox: SandboxServer) -> None:
    """Prevents a connection without a time zone (every date an hour off) and a bad key being stored."""
    from ecom_pipeline.platforms.prestashop.connect import connect
    from ecom_pipeline.platforms.prestashop.errors import PrestaShopAuthError

    shop = sandbox.shop("ps-shop")
    result = connect(_connect_args(shop.http_url, shop.credentials["api_key"], poll_interval=900))
    assert result.settings["timezone"] == "Europe/Paris"
    assert result.settings["poll_interval_s"] == 900
    assert result.credentials == {"api_key": shop.credentials["api_key"]}
    with pytest.raises(PrestaShopAuthError):
        connect(_connect_args(shop.http_url, "BADKEYBADKEYBADKEYBADKEYBADKEY12"))


def _calls(world: World, resource: str) -> int:
    """GET calls the emulated shop answered for ``/api/<resource>`` (any id, any query)."""
    by_path = world.shop.stats.as_dict()["by_path"]
    return sum(
        sum(counts.values())
        for key, counts in by_path.items()
        if key.startswith("GET ") and (key.endswith(f"/api/{resource}") or f"/api/{resource}/" in key)
    )


def test_order_emails_and_customer_addresses_are_read_in_batches(world: World) -> None:
    """Prevents one customers call per order (and one addresses call per customer), and NULL order e-mails."""
    spec = platform_spec()
    world.shop.stats.reset()
    report = spec.extract(world.ctx(), "order")
    assert report.staged == len(world.shop.store.tables["orders"]) > 2
    assert _calls(world, "customers") == 1  # filter[id]=[1|2|...] for every customer of the page
    applied = apply_staged(
        world.engine, tenant_id=TENANT, entity="order", transforms={"prestashop": spec.transforms["order"]}, run_id="t"
    )
    assert applied.rejected == 0
    with world.engine.connect() as conn:
        emails = conn.execute(select(hub_orders.c.email)).scalars().all()
    assert emails and all(e and e.endswith("@example.com") for e in emails)

    world.shop.stats.reset()
    customers = spec.extract(world.ctx(), "customer")
    assert customers.staged == len(world.shop.store.tables["customers"]) > 2
    assert (_calls(world, "addresses"), _calls(world, "countries")) == (1, 1)
    apply_staged(
        world.engine,
        tenant_id=TENANT,
        entity="customer",
        transforms={"prestashop": spec.transforms["customer"]},
        run_id="t",
    )
    with world.engine.connect() as conn:
        rows = conn.execute(select(hub_customers.c.city, hub_customers.c.country, hub_customers.c.phone)).all()
    assert rows and all(city and len(country) == 2 and phone for city, country, phone in rows)


def test_every_combination_gets_the_price_the_shop_computes_for_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prevents combinations priced like the default one, a call per product with combinations (their prices come
    with ``combinations`` rows, hundreds a call), and a batch mixing products up: with 2 combinations a call, a
    call holds the last combination of one product and the first of the next."""
    monkeypatch.setattr(ps_extract, "COMBINATIONS_PER_PRICE_CALL", 2)
    spec = platform_spec()
    world.shop.stats.reset()
    spec.extract(world.ctx(), "product")
    by_path = world.shop.stats.as_dict()["by_path"]
    assert not [k for k in by_path if re.fullmatch(r"GET .*/api/products/\d+", k)], by_path
    applied = apply_staged(
        world.engine,
        tenant_id=TENANT,
        entity="product",
        transforms={"prestashop": spec.transforms["product"]},
        run_id="t",
    )
    assert applied.rejected == 0
    store = world.shop.store
    expected = {}
    for pid, combos in store.combinations_of.items():
        for cid in combos or [0]:
            expected[f"{pid}-{cid}"] = (
                store.computed_price(pid, use_tax=True, product_attribute=cid or None),
                store.computed_price(pid, use_tax=False, product_attribute=cid or None),
            )
    with world.engine.connect() as conn:
        rows = conn.execute(
            select(store_links.c.external_id, hub_variants.c.price, hub_variants.c.price_tax_excl)
            .join(hub_variants, hub_variants.c.id == store_links.c.hub_id)
            .where(store_links.c.entity == "variant")
        ).all()
    assert len(rows) == len(expected) > 25
    assert {eid: (str(price), str(excl)) for eid, price, excl in rows} == expected
    assert any(len(c) > 2 for c in store.combinations_of.values())


def test_a_stock_poll_in_which_nothing_moved_reads_only_the_stock_pages(world: World) -> None:
    """Prevents a no-change stock poll paying for the product id list (only needed to spot orphan rows of a
    deleted product), and the orphan row of a deleted product being staged or asking for the id list forever."""
    spec = platform_spec()
    world.sync()
    world.shop.stats.reset()
    quiet = spec.extract(world.ctx(), "inventory")
    assert quiet.staged == 0
    assert _calls(world, "products") == 0
    assert _calls(world, "stock_availables") == quiet.api_calls == 1

    with world.client() as client:
        client.delete("products", 2)  # leaves one new product-level stock row for id 2 behind (recorded)
    world.shop.stats.reset()
    after_delete = spec.extract(world.ctx(), "inventory")
    assert after_delete.staged == 0  # the orphan row is left out
    assert (after_delete.cursor_after or {}).get("orphan_stock_products") == 1
    assert _calls(world, "products") == 1  # the id list, because a row set changed
    world.shop.stats.reset()
    again = spec.extract(world.ctx(), "inventory")
    assert (again.staged, _calls(world, "products")) == (0, 0)  # the orphan's digest is remembered


@pytest.fixture
def ml_sandbox(tmp_path: Path) -> Iterator[SandboxServer]:
    """The two-language store: its key may read specific_prices, as the recorded one could."""
    spec = ShopSpec(
        name="ps-shop",
        platform="prestashop",
        seed=3,
        products=25,
        variable_share=0.5,
        orders=4,
        customers=3,
        options={"languages": ["en", "fr"]},
    )
    with SandboxServer(shops=[spec], cert_dir=tmp_path / "ml-certs") as server:
        yield server


@pytest.fixture
def ml_world(sqlite_warehouse_url: str, ml_sandbox: SandboxServer) -> World:
    return World(sqlite_warehouse_url, ml_sandbox, {})


def _hub_price(world: World, pid: int, cid: int) -> str:
    with world.engine.connect() as conn:
        price = conn.execute(
            select(hub_variants.c.price)
            .join(store_links, store_links.c.hub_id == hub_variants.c.id)
            .where(store_links.c.entity == "variant", store_links.c.external_id == f"{pid}-{cid}")
        ).scalar_one()
    return str(price)


def _shop_price(world: World, pid: int, cid: int) -> str:
    return str(world.shop.store.computed_price(pid, use_tax=True, product_attribute=cid or None))


def _product_with_combinations(world: World) -> tuple[int, int]:
    store = world.shop.store
    reduced = {str(sp["id_product"]) for sp in store.tables["specific_prices"].values()}
    pid = next(p for p, combos in sorted(store.combinations_of.items()) if combos and str(p) not in reduced)
    return pid, sorted(store.combinations_of[pid])[-1]


def _post_specific_price(world: World, pid: int, *, start: str = "0000-00-00 00:00:00") -> None:
    """POST a 50 % reduction on ``pid`` through the webservice (XML of a seeded row, as a client would)."""
    with world.client() as client:
        seeded = min(int(i) for i in world.shop.store.tables["specific_prices"])
        tree = client.get_xml("specific_prices", seeded)
        set_xml_field(tree, "id_product", str(pid))
        set_xml_field(tree, "reduction", "0.500000")
        set_xml_field(tree, "from", start)
        client.post_xml("specific_prices", tree)


def test_a_combination_price_change_reaches_the_hub_although_date_upd_does_not_move(world: World) -> None:
    """Prevents a combination's new price impact staying out of the hub: a combination PUT does not touch the
    product's date_upd, so the date_upd poll alone never re-reads the product."""
    world.sync()
    pid, cid = _product_with_combinations(world)
    date_upd = world.shop.store.tables["products"][pid]["date_upd"]
    before = _hub_price(world, pid, cid)
    with world.client() as client:
        tree = client.get_xml("combinations", cid)
        set_xml_field(tree, "price", "37.500000")
        client.put_xml("combinations", cid, tree)
    assert world.shop.store.tables["products"][pid]["date_upd"] == date_upd
    report = world.sync()
    assert report["product"].staged == 1
    assert _hub_price(world, pid, cid) == _shop_price(world, pid, cid) != before
    assert world.sync()["product"].staged == 0  # and only once


def test_a_new_specific_price_reaches_the_hub_although_date_upd_does_not_move(ml_world: World) -> None:
    """Prevents a reduction created in the shop (specific_prices) never lowering the hub price."""
    world = ml_world
    world.sync()
    pid, cid = _product_with_combinations(world)
    before = _hub_price(world, pid, cid)
    _post_specific_price(world, pid)
    report = world.sync()
    assert report["product"].staged == 1
    assert _hub_price(world, pid, cid) == _shop_price(world, pid, cid) != before
    assert world.sync()["product"].staged == 0


def test_a_specific_price_window_that_opens_later_reaches_the_hub_when_it_opens(
    ml_world: World, ml_sandbox: SandboxServer
) -> None:
    """Prevents a scheduled reduction (from = tomorrow) never reaching the hub: when its window opens nothing in the
    shop is written, the computed price just changes."""
    world, sandbox = ml_world, ml_sandbox
    world.sync()
    pid, cid = _product_with_combinations(world)
    opens = datetime.fromtimestamp(sandbox.clock.time(), UTC) + timedelta(hours=2)
    _post_specific_price(world, pid, start=utc_to_local(opens, shop_zone("Europe/Paris")).strftime("%Y-%m-%d %H:%M:%S"))
    world.sync()  # the new row is seen (re-read once), the price is still the old one
    before = _hub_price(world, pid, cid)
    assert before == _shop_price(world, pid, cid)
    sandbox.clock.advance(3 * 3600)
    now = datetime.fromtimestamp(sandbox.clock.time(), UTC)
    report = ps_extract.extract_entity(world.ctx(), "product", now=now)
    assert report.staged == 1
    spec = platform_spec()
    apply_staged(
        world.engine,
        tenant_id=TENANT,
        entity="product",
        transforms={"prestashop": spec.transforms["product"]},
        run_id="t",
    )
    assert _hub_price(world, pid, cid) == _shop_price(world, pid, cid) != before


def test_a_many_page_scan_logs_its_progress_once(world: World, caplog: pytest.LogCaptureFixture) -> None:
    """Prevents a log line per page: under Dagster each is an event committed to the run's storage (~45 ms), which
    at 5,000 products cost seconds of a sync for lines nobody reads (shared.ProgressLog; the WooCommerce twin is
    platforms/woocommerce/test_extract_progress.py)."""
    log = logging.getLogger("ecom_pipeline_tests.ps_progress")
    with caplog.at_level(logging.DEBUG, logger=log.name):
        report = platform_spec().extract(world.ctx(per_page=5, log=log), "product")
    progress = [r.getMessage() for r in caplog.records if ": page " in r.getMessage()]
    assert report.pages >= 5, report
    assert report.staged == 25, report  # every page still staged
    assert len(progress) == 1, progress  # the scan takes far less than PROGRESS_LOG_INTERVAL_S


def test_customers_and_orders_are_staged_without_their_secrets(warehouse_url: str, sandbox: SandboxServer) -> None:
    """Prevents the password hash, the secure keys and the reset token of customers and orders landing in
    staging_records.payload (readable by analysts), on the poll and on the change-notice re-read alike."""
    from ecom_pipeline.platforms.prestashop.webhooks import reread

    world = World(warehouse_url, sandbox, {})
    with world.client() as client:  # the shop does send them (display=full), as the recordings show
        assert {"passwd", "secure_key"} <= set(client.list("customers", {"display": "full", "limit": "0,1"})[0])
        assert "secure_key" in client.list("orders", {"display": "full", "limit": "0,1"})[0]
    platform = platform_spec()
    for entity in ("order", "customer"):
        assert platform.extract(world.ctx(), entity).staged > 0
    with world.engine.connect() as conn:
        staged = conn.execute(select(staging_records.c.entity, staging_records.c.payload)).all()
    notices = [
        reread(integration=world.integration, entity=entity, external_id="1", client=world.client)[0]
        for entity in ("order", "customer")
    ]
    payloads = [(row.entity, row.payload) for row in staged] + [(r.entity, r.payload) for r in notices]
    assert {entity for entity, _ in payloads} == {"order", "customer"}
    for entity, payload in payloads:
        record = payload[entity]
        assert record.get("id") and not set(record) & {"passwd", "secure_key", "reset_password_token"}, entity
        assert not set(record) & ps_extract.SECRET_FIELDS[entity], (entity, sorted(record))
