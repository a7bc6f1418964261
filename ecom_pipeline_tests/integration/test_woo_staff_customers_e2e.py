"""WooCommerce staff users (administrators, shop managers...) are not pulled as customers; their orders are.

Failure prevented: customers are listed with ``role=all`` (so a ``wholesale_customer`` buyer is pulled), and in wc/v3
``all`` is every WordPress user: the API key's owner and the shop's staff landed in hub_customers (staff personal
data in the analysts' tables, inflated customer counts). Over real HTTP to the emulator, through a real Dagster run,
into a real warehouse (PostgreSQL under CI).
"""

from __future__ import annotations

from sqlalchemy import select

from ecom_pipeline.runner import run_sync
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import entity_links, hub_customers, hub_orders, staging_records
from ecom_pipeline_tests.integration.conftest import SHOP, Env

TENANT = "acme"


def _details(outcome: object) -> dict[str, object]:
    meta = outcome.materializations["woocommerce/customers"]  # type: ignore[attr-defined]
    (details,) = meta["platform_details"].values()
    return dict(details)


def test_staff_users_are_not_pulled_as_customers_their_orders_are_and_a_promoted_customer_is_kept(env: Env) -> None:
    store = env.sandbox.shop(SHOP).store
    buyers = sorted({o.customer_id for o in store.orders.values() if o.customer_id})
    admin = buyers[0]  # an administrator who also bought something (the owner testing the checkout)
    admin_orders = sorted(str(o.id) for o in store.orders.values() if o.customer_id == admin)
    admin_email = store.customers[admin].email.lower()
    editor = next(c for c in sorted(store.customers) if c not in buyers)
    store.set_customer_role(admin, "administrator")
    store.set_customer_role(editor, "editor")
    wholesale = next(c for c in sorted(store.customers) if c not in (admin, editor))
    store.set_customer_role(wholesale, "wholesale_customer")

    assert env.connect(TENANT) == 0
    first = run_sync(TENANT, instance=env.instance)
    assert first.success, first.failure
    assert _details(first)["staff_skipped"] == 2
    engine = shared_engine(env.warehouse_url)
    with engine.connect() as conn:
        staged = set(
            conn.execute(select(staging_records.c.external_id).where(staging_records.c.entity == "customer")).scalars()
        )
        emails = set(conn.execute(select(hub_customers.c.email)).scalars())
        orders = {
            r.external_id: r
            for r in conn.execute(
                select(entity_links.c.external_id, hub_orders.c.customer_id, hub_orders.c.email)
                .join(hub_orders, hub_orders.c.id == entity_links.c.hub_id)
                .where(entity_links.c.entity == "order", entity_links.c.external_id.in_(admin_orders))
            )
        }
    assert str(admin) not in staged and str(editor) not in staged and str(wholesale) in staged
    assert len(emails) == len(store.customers) - 2 and admin_email not in emails
    # The administrator's orders are pulled, as a guest's: no hub customer, the billing e-mail on the order.
    assert sorted(orders) == admin_orders
    assert all(r.customer_id is None and r.email for r in orders.values())

    # A linked customer made shop manager: not staged again, neither recovered nor tombstoned by a complete scan.
    promoted = next(c for c in sorted(store.customers) if c not in (admin, editor, wholesale))
    store.set_customer_role(promoted, "shop_manager")
    second = run_sync(TENANT, instance=env.instance, full_refresh=True)
    assert second.success, second.failure
    details = _details(second)
    assert details["staff_skipped"] == 3 and details["recovered_after_scan"] == 0
    assert second.materializations["woocommerce/customers"]["tombstoned"] == 0
    with engine.connect() as conn:
        kept = conn.execute(
            select(hub_customers.c.deleted_at)
            .join(entity_links, entity_links.c.hub_id == hub_customers.c.id)
            .where(entity_links.c.entity == "customer", entity_links.c.external_id == str(promoted))
        ).one()
    assert kept.deleted_at is None
