"""``sync.extract_run.extract_for_tenant``, the plain function behind every extract asset, called without Dagster.

It owns the bookkeeping the asset used to do inline: a ``sync_runs`` row per shop, the shop's credentials, the
shop's health on ``integrations``, the missed-by-webhooks figure, and sorting errors into "this shop failed" and
"the step must fail".
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select, update

from ecom_pipeline.platforms.registry import get_platform
from ecom_pipeline.sync.extract_run import ExtractOptions, extract_for_tenant
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.engine import default_home, shared_engine
from ecom_pipeline.warehouse.schema import integrations, sync_runs
from ecom_pipeline_tests.integration.conftest import SHOP, Env

LOG = logging.getLogger("test_extract_run")


@pytest.fixture
def engine(env: Env) -> Iterator[Engine]:
    """The warehouse's shared engine, its pooled connections closed after the test (the database outlives it)."""
    shared = shared_engine(env.warehouse_url)
    yield shared
    shared.dispose()


def test_extract_for_tenant_records_each_shop_and_sorts_a_shop_error_from_a_step_failure(
    env: Env, engine: Engine
) -> None:
    """Prevents the extract step's bookkeeping from drifting when it moved out of the asset: one sync_runs row per
    shop with its counts and missed-by-webhooks figure (a real report field, not a guessed attribute), and a shop
    whose credentials the shop refuses named in the errors without failing the step (Dagster must not retry it)."""
    assert env.connect("acme", SHOP) == 0
    assert env.connect("acme", "other-shop", consumer_secret="cs_wrong") == 1  # refused at connect: not stored
    with engine.begin() as conn:
        # Webhooks registered for the good shop: an incremental read then counts what no webhook delivered.
        good = conn.execute(select(integrations.c.id, integrations.c.settings)).one()
        conn.execute(
            update(integrations)
            .where(integrations.c.id == good.id)
            .values(settings={**(good.settings or {}), "webhook_url": "http://127.0.0.1:9/hooks"})
        )
    cipher = CredentialCipher.from_env(default_home())
    spec = get_platform("woocommerce")

    done = extract_for_tenant(
        engine, cipher, spec, tenant="acme", entity="product", run_id="run-1", options=ExtractOptions(), log=LOG
    )

    assert done.shops == 1 and not done.errors and not done.fail_step
    ((label, report),) = done.reports
    assert label == f"{SHOP} (#{good.id})"
    assert report.staged > 0
    assert report.missed_by_webhooks == report.staged  # no webhook had delivered any of them
    with engine.connect() as conn:
        row = conn.execute(select(sync_runs).where(sync_runs.c.dagster_run_id == "run-1")).one()
    assert (row.status, row.stage, row.entity) == ("success", "extract", "product")
    assert row.missed_by_webhooks == report.staged

    # The shop cannot be reached any more: this shop fails, recorded as such, and the step does not.
    with engine.begin() as conn:
        conn.execute(update(integrations).where(integrations.c.id == good.id).values(base_url="http://127.0.0.1:9"))
    failed = extract_for_tenant(
        engine,
        cipher,
        spec,
        tenant="acme",
        entity="product",
        run_id="run-2",
        options=ExtractOptions(client={"max_retries": 0, "timeout_s": 2.0}),
        log=LOG,
    )
    assert list(failed.errors) == [label]
    assert not failed.fail_step  # a shop error: retrying the step would only hammer the shop again
    assert "failed to extract product" in failed.summary()
    with engine.connect() as conn:
        row = conn.execute(select(sync_runs).where(sync_runs.c.dagster_run_id == "run-2")).one()
        last_error = conn.execute(select(integrations.c.last_error).where(integrations.c.id == good.id)).scalar_one()
    assert row.status == "failed" and row.error
    assert last_error == row.error
