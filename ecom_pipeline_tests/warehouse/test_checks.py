"""The hub asset checks' queries (warehouse/checks.py) on both warehouses: what they count and sample.

They run in every hub step of every run, so they were cut to one statement each or to the rows they report
(issue 12); these tests hold their answers: a negative price still fails, ``-0`` does not, deleted rows do not
count, the totals are over every match and not the sample.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Engine, insert

from ecom_pipeline.warehouse import checks, store
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.schema import hub_order_lines, hub_orders, hub_products, hub_variants
from ecom_pipeline.warehouse.types import utcnow


def _product(engine: Engine, tenant: str, prices: dict[str, str | None], deleted: frozenset[str] = frozenset()) -> None:
    now = utcnow()
    with engine.begin() as conn:
        pid = conn.execute(
            insert(hub_products)
            .values(tenant_id=tenant, title="P", status="active", synced_at=now)
            .returning(hub_products.c.id)
        ).scalar_one()
        for sku, price in prices.items():
            conn.execute(
                insert(hub_variants).values(
                    tenant_id=tenant,
                    product_id=pid,
                    sku=sku,
                    price=None if price is None else Decimal(price),
                    synced_at=now,
                    deleted_at=now if sku in deleted else None,
                )
            )


def test_a_negative_price_fails_and_zero_minus_zero_and_deleted_variants_do_not(engine: Engine) -> None:
    """Prevents the SQL-side filter (PostgreSQL ``< 0``, SQLite's decimal text starting with ``-``) from missing a
    negative price or flagging ``-0``; another tenant's and deleted variants never count."""
    _product(engine, "acme", {"A": "5.00", "Z": "0", "NZ": "-0.00", "N": None})
    with engine.connect() as conn:
        clean = checks.bad_prices(conn, tenant="acme")
    assert clean.ok and clean.negative == 0 and clean.sample == []
    _product(engine, "acme", {"BAD": "-1.50", "GONE": "-3"}, deleted=frozenset({"GONE"}))
    _product(engine, "other", {"OTHER": "-9"})
    with engine.connect() as conn:
        bad = checks.bad_prices(conn, tenant="acme")
    assert not bad.ok
    assert bad.negative == 1
    assert [s["sku"] for s in bad.sample] == ["BAD"] and Decimal(bad.sample[0]["price"]) == Decimal("-1.5")
    assert bad.without_product == 0


def test_many_negative_prices_are_all_counted_and_twenty_sampled(engine: Engine) -> None:
    prices: dict[str, str | None] = {f"N{i:02d}": f"-{i + 1}" for i in range(25)}
    _product(engine, "acme", {**prices, "OK": "3"})
    with engine.connect() as conn:
        bad = checks.bad_prices(conn, tenant="acme")
    assert bad.negative == 25 and len(bad.sample) == checks.SAMPLE


def _orders(engine: Engine, *, unknown: int, known: int, unknown_on_deleted: int) -> None:
    now = utcnow()
    with engine.begin() as conn:
        iid = store.create_integration(
            conn,
            tenant_id="acme",
            platform="woocommerce",
            name="Shop",
            base_url="https://acme.example",
            credentials={"key": "k"},
            settings={},
            cipher=CredentialCipher(CredentialCipher.generate_key()),
        )
        pid = conn.execute(
            insert(hub_products)
            .values(tenant_id="acme", title="P", status="active", synced_at=now)
            .returning(hub_products.c.id)
        ).scalar_one()
        vid = conn.execute(
            insert(hub_variants)
            .values(tenant_id="acme", product_id=pid, sku="S", synced_at=now)
            .returning(hub_variants.c.id)
        ).scalar_one()
        for number, deleted, lines in (("1", False, unknown + known), ("2", True, unknown_on_deleted)):
            oid = conn.execute(
                insert(hub_orders)
                .values(
                    tenant_id="acme",
                    integration_id=iid,
                    order_number=number,
                    status="processing",
                    currency="EUR",
                    total=Decimal("1"),
                    synced_at=now,
                    deleted_at=now if deleted else None,
                )
                .returning(hub_orders.c.id)
            ).scalar_one()
            for i in range(lines):
                conn.execute(
                    insert(hub_order_lines).values(
                        tenant_id="acme",
                        order_id=oid,
                        external_line_id=str(i),
                        variant_id=vid if (not deleted and i < known) else None,
                        sku=f"L{i}",
                        title="line",
                        quantity=1,
                    )
                )


def test_lines_without_variant_counts_every_match_of_live_orders_and_samples_twenty(engine: Engine) -> None:
    """The total rides on the sample rows (a window count before the LIMIT): it must be the whole count."""
    with engine.connect() as conn:
        assert checks.lines_without_variant(conn, tenant="acme") == checks.UnknownLines(0, [])
    _orders(engine, unknown=27, known=3, unknown_on_deleted=4)
    with engine.connect() as conn:
        found = checks.lines_without_variant(conn, tenant="acme")
    assert found.total == 27
    assert len(found.sample) == checks.SAMPLE and {s["order"] for s in found.sample} == {"1"}


def test_rejections_give_this_runs_sample_and_the_unresolved_count_even_when_the_run_rejected_nothing(
    engine: Engine,
) -> None:
    base = {"tenant_id": "acme", "integration_id": None, "platform": "woocommerce", "stage": "transform"}
    base |= {"payload": None, "staging_id": None}
    with engine.begin() as conn:
        store.reject_records(
            conn,
            [
                {**base, "entity": "product", "external_id": "1", "reason": "r1", "dagster_run_id": "run-a"},
                {**base, "entity": "product", "external_id": "2", "reason": "r2", "dagster_run_id": "run-a"},
                {**base, "entity": "product", "external_id": "3", "reason": "r3", "dagster_run_id": "run-b"},
                {**base, "entity": "order", "external_id": "4", "reason": "r4", "dagster_run_id": "run-a"},
            ],
        )
    with engine.connect() as conn:
        a = checks.rejections(conn, tenant="acme", entity="product", run_id="run-a")
        none = checks.rejections(conn, tenant="acme", entity="product", run_id="run-c")
        other = checks.rejections(conn, tenant="other", entity="product", run_id="run-a")
    assert sorted(r["id"] for r in a.this_run) == ["1", "2"] and a.unresolved == 3
    assert none.this_run == [] and none.unresolved == 3
    assert other == checks.Rejections([], 0)
