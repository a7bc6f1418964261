"""Customers with a role other than ``customer`` (a wholesale plugin's ``wholesale_customer``), over real HTTP to
the emulator, into a real warehouse.

Failure prevented (review 3): wc/v3's customers list defaults to ``role=customer`` (WC_REST_Customers_V2_Controller:
``role`` default ``customer``, enum ``all`` + role names; ``all`` drops the filter). Listed without ``role=all``, such
a buyer was never pulled, and one linked by a webhook was tombstoned by the id scan (``list_ids`` /
``present_ids`` did not see it).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.engine import Engine

from ecom_pipeline.platforms.woocommerce import extract as wc
from ecom_pipeline.platforms.woocommerce.client import STAFF_ROLES, WooCommerceClient, is_staff
from ecom_pipeline.sandbox.server import SandboxServer, ShopHandle, ShopSpec
from ecom_pipeline.sandbox.woocommerce.auth import sign_oauth_query
from ecom_pipeline.sync.extract import ExtractContext
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.schema import staging_records
from ecom_pipeline_tests.platforms.woocommerce.connect import connect_shop


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxServer]:
    spec = ShopSpec(name="wc-roles", platform="woocommerce", seed=3, products=2, variable_share=0.0, orders=0,
                    customers=12)  # fmt: skip
    with SandboxServer(shops=[spec], cert_dir=tmp_path / "certs") as server:
        yield server


def _wholesale(shop: ShopHandle) -> int:
    cid = sorted(shop.store.customers)[3]
    shop.store.set_customer_role(cid, "wholesale_customer")
    return cid


def _client(shop: ShopHandle) -> WooCommerceClient:
    return WooCommerceClient(shop.http_url, shop.consumer_key, shop.consumer_secret, per_page=5, timeout=5.0)


def test_the_emulator_lists_customers_by_role_as_wc_v3_does(sandbox: SandboxServer) -> None:
    shop = sandbox.shop("wc-roles")
    cid = _wholesale(shop)

    def ids(**params: str) -> tuple[int, list[int]]:
        url = f"{shop.http_url}/wp-json/wc/v3/customers"
        query = {"per_page": "100", "orderby": "id", "_fields": "id", **params}
        signed = sign_oauth_query("GET", url, query, shop.consumer_key, shop.consumer_secret,
                                  timestamp=shop.store.now(), nonce=uuid.uuid4().hex)  # fmt: skip
        response = requests.get(url, params=signed, timeout=10)
        body = response.json()
        return response.status_code, [c["id"] for c in body] if response.ok else body

    status, default = ids()
    assert status == 200 and cid not in default and len(default) == 11
    assert ids(role="customer")[1] == default
    status, every = ids(role="all")
    assert status == 200 and cid in every and len(every) == 12
    assert ids(role="wholesale_customer")[1] == [cid]
    status, error = ids(role="bogus")
    assert status == 400 and error["code"] == "rest_invalid_param"  # type: ignore[call-overload]


def test_customers_of_any_role_are_pulled_and_never_tombstoned_by_the_id_scan(
    sandbox: SandboxServer, engine: Engine
) -> None:
    shop = sandbox.shop("wc-roles")
    cid = _wholesale(shop)
    integration, credentials = connect_shop(engine, shop, name="wc-roles")
    ctx = ExtractContext(engine, integration, credentials, "t", per_page=5, log=logging.getLogger("wc_roles"))
    with _client(shop) as client:
        report = wc.extract_entity(ctx, "customer", client)
        listed = set(client.list_ids("customers"))
        present = client.present_ids("customers", [str(cid)])
    with engine.connect() as conn:
        staged = set(
            conn.execute(select(staging_records.c.external_id).where(staging_records.c.entity == "customer")).scalars()
        )
    assert str(cid) in staged, "a wholesale customer must be pulled"
    assert report.staged == 12
    assert str(cid) in listed and present == {str(cid)}, "the id scan must see it, or it is tombstoned"


def test_staff_users_listed_by_role_all_are_counted_not_staged_and_not_read_again(
    sandbox: SandboxServer, engine: Engine
) -> None:
    """Prevents the shop's staff (``role=all`` lists every WordPress user) being staged as customers, on the complete
    scan and on the incremental read of new ids alike; and a new staff user being read again on every sync (the
    incremental read stops at the highest id seen, staff included)."""
    shop = sandbox.shop("wc-roles")
    ids = sorted(shop.store.customers)
    shop.store.set_customer_role(ids[0], "administrator")
    shop.store.set_customer_role(ids[1], "shop_manager")
    _wholesale(shop)
    integration, credentials = connect_shop(engine, shop, name="wc-roles")
    ctx = ExtractContext(engine, integration, credentials, "t", per_page=5, log=logging.getLogger("wc_roles"))

    def staged() -> set[str]:
        with engine.connect() as conn:
            return set(
                conn.execute(
                    select(staging_records.c.external_id).where(staging_records.c.entity == "customer")
                ).scalars()
            )

    with _client(shop) as client:
        full = wc.extract_entity(ctx, "customer", client)
        assert (full.staged, full.rows_fetched, full.recovered_after_scan) == (10, 12, 0)
        assert full.metadata()["staff_skipped"] == 2
        assert staged().isdisjoint({str(ids[0]), str(ids[1])})
        author = shop.store.create_customer({"email": "writer@example.com", "first_name": "Wri", "last_name": "Ter"})
        shop.store.set_customer_role(author.id, "author")
        newer = wc.extract_entity(ctx, "customer", client)  # incremental: ids above the highest seen
        assert (newer.staged, newer.metadata()["staff_skipped"]) == (0, 1)
        assert str(author.id) not in staged()
        again = wc.extract_entity(ctx, "customer", client)
        assert (again.staged, again.metadata()["staff_skipped"]) == (0, 0)
    assert wc.WooExtractReport(entity="product").metadata().keys() == {
        "recovered_after_scan",
        "recovered_in_tied_second",
    }


def test_staff_roles_are_wordpress_and_woocommerces_staff_and_nothing_else() -> None:
    """Prevents a buyer's role (a plugin's, WordPress's default ``subscriber``) being taken for staff."""
    assert {"administrator", "editor", "author", "contributor", "shop_manager"} == STAFF_ROLES
    assert is_staff({"role": "Administrator"}) and is_staff({"role": "shop_manager"})
    for role in ("customer", "subscriber", "wholesale_customer", "", None):
        assert not is_staff({"role": role})
    assert not is_staff({}) and not is_staff(None)


def test_the_id_listing_counts_buyers_only_and_a_customer_made_staff_is_still_confirmed_present(
    sandbox: SandboxServer,
) -> None:
    """Prevents the daily reconciliation from counting the shop's staff in the shop's customer total (its
    ``rows_fetched``, which the zero-data-loss KPI compares with the hub's rows): with ``role=all`` every WooCommerce
    shop, which has at least its administrator, showed customers "lost". A customer the hub linked before being made
    staff is not listed but still confirmed present (``present_ids``), so it is never tombstoned."""
    shop = sandbox.shop("wc-roles")
    ids = sorted(shop.store.customers)
    shop.store.set_customer_role(ids[0], "administrator")
    wholesale = _wholesale(shop)
    with _client(shop) as client:
        listed = set(client.list_ids("customers"))
        assert str(ids[0]) not in listed and str(wholesale) in listed and len(listed) == 11
        assert client.present_ids("customers", [str(ids[0])]) == {str(ids[0])}


def test_a_staff_users_customer_delivery_is_not_staged() -> None:
    """Prevents a ``customer.updated`` delivery of a staff user (an administrator's profile edit) from putting them
    in ``hub_customers``, which the customers extract never does; a buyer's delivery is staged as before."""
    import json
    from datetime import UTC, datetime

    from ecom_pipeline.platforms.woocommerce.webhooks import staged_from_delivery

    integration = store.IntegrationRecord(
        id=1, tenant_id="acme", platform="woocommerce", name="wc", base_url="http://shop.test", settings={},
        status="active", created_at=datetime(2026, 12, 1, tzinfo=UTC), last_sync_at=None, last_success_at=None,
        last_error=None, last_error_at=None,
    )  # fmt: skip

    def body(role: str) -> str:
        return json.dumps({"id": 7, "email": "a@example.com", "role": role, "date_modified_gmt": "2026-12-05T09:00:00",
                           "date_created_gmt": "2026-12-01T09:00:00", "first_name": "A", "last_name": "B",
                           "billing": {}, "shipping": {}})  # fmt: skip

    def no_client() -> WooCommerceClient:
        raise AssertionError("a customer body is applied without a call")

    def staged(role: str) -> list[str]:
        records = staged_from_delivery(
            integration=integration, topic="customer.updated", body_text=body(role), resource_id="7", client=no_client
        )
        return [r.external_id for r in records]

    assert staged("administrator") == [] and staged("Shop_Manager") == []
    assert staged("customer") == ["7"] and staged("wholesale_customer") == ["7"]
