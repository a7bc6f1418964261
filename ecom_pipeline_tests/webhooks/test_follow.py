"""The webhook follower (webhooks/follow.py): deliveries applied as they land, each apply a Dagster run.

Real parts only: an emulated WooCommerce shop sends signed deliveries over HTTP to the real receiver, the
follower polls the real warehouse and executes ``apply_webhooks_job`` on a real Dagster instance.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import Engine, select

from ecom_pipeline.cli import main as cli_main
from ecom_pipeline.platforms.woocommerce.client import WooCommerceClient
from ecom_pipeline.platforms.woocommerce.webhooks import connect_webhooks
from ecom_pipeline.resources import WarehouseResource
from ecom_pipeline.runner import TAG_LAUNCHED_BY, run_sync
from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.engine import make_engine
from ecom_pipeline.warehouse.locks import tenant_lock
from ecom_pipeline.warehouse.schema import hub_variants, webhook_inbox
from ecom_pipeline.webhooks import follow as follow_module
from ecom_pipeline.webhooks.app import create_app
from ecom_pipeline.webhooks.dagster import APPLY_WEBHOOKS_JOB_NAME, webhook_inbox_sensor
from ecom_pipeline.webhooks.follow import CLAIM_PREFIX, LAUNCHED_BY, follow
from ecom_pipeline_tests.pipeline_env import set_pipeline_env
from ecom_pipeline_tests.webhooks.conftest import ReceiverServer, add_integration

TENANT = "acme"


class World:
    """One emulated shop connected to tenant acme, its webhooks registered with a live receiver, synced once."""

    def __init__(self, sandbox: SandboxServer, engine: Engine, cipher: CredentialCipher, receiver_url: str) -> None:
        self.sandbox = sandbox
        self.shop = sandbox.shop("hooked")
        self.engine = engine
        integration_id = add_integration(
            engine,
            cipher,
            platform="woocommerce",
            base_url=self.shop.http_url,
            credentials={"consumer_key": self.shop.consumer_key, "consumer_secret": self.shop.consumer_secret},
        )
        connect_webhooks(engine, integration_id, receiver_url, cipher)

    def simple_product(self) -> object:
        return next(
            p for p in self.shop.store.products.values() if p.type == "simple" and p.status == "publish" and p.sku
        )

    def change_price(self, product_id: int, price: str) -> None:
        with WooCommerceClient(
            self.shop.http_url, self.shop.consumer_key, self.shop.consumer_secret, max_retries=1, timeout=10
        ) as client:
            client.put(f"products/{product_id}", {"regular_price": price})
        assert self.shop.extra["webhooks"].flush(10)

    def hub_price(self, sku: str) -> Decimal | None:
        with self.engine.connect() as conn:
            return conn.execute(select(hub_variants.c.price).where(hub_variants.c.sku == sku)).scalar()

    def inbox_statuses(self) -> list[str]:
        with self.engine.connect() as conn:
            return [str(s) for s in conn.execute(select(webhook_inbox.c.status).order_by(webhook_inbox.c.id)).scalars()]


@pytest.fixture
def world(
    warehouse_url: str, dagster_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[World, dg.DagsterInstance]]:
    set_pipeline_env(monkeypatch, warehouse_url=warehouse_url, home=tmp_path / "home", dagster_home=dagster_home)
    cipher = CredentialCipher.from_env(tmp_path / "home")
    engine = make_engine(warehouse_url)
    spec = ShopSpec(name="hooked", seed=11, products=6, variable_share=0.3, orders=2, customers=2)
    with (
        SandboxServer(shops=[spec], cert_dir=tmp_path / "certs") as sandbox,
        ReceiverServer(create_app(engine=engine, cipher=cipher)) as receiver,
        dg.DagsterInstance.from_config(str(dagster_home)) as instance,
    ):
        w = World(sandbox, engine, cipher, receiver.url)
        assert run_sync(TENANT, instance=instance).success
        yield w, instance
    engine.dispose()


def _wait_for(predicate, timeout_s: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until true or ``timeout_s`` (a bound on a hang, not a speed assertion)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def test_follower_applies_deliveries_as_they_land_and_records_dagster_runs(
    world: tuple[World, dg.DagsterInstance], warehouse_url: str
) -> None:
    """Prevents a webhook path whose only applier is the 5-second sensor plus a launched run (6-17 s per change),
    and a fast path that bypasses Dagster (applies the UI cannot see)."""
    w, instance = world
    product = w.simple_product()
    stop = threading.Event()
    outcomes: list[object] = []
    thread = threading.Thread(
        target=follow, kwargs={"instance": instance, "poll_s": 0.05, "stop": stop, "on_outcome": outcomes.append}
    )
    thread.start()
    try:
        w.change_price(product.id, "41.10")  # type: ignore[attr-defined]
        assert _wait_for(lambda: w.hub_price(product.sku) == Decimal("41.10")), "the follower never applied it"  # type: ignore[attr-defined]
        w.change_price(product.id, "42.20")  # type: ignore[attr-defined]
        assert _wait_for(lambda: w.hub_price(product.sku) == Decimal("42.20"))  # type: ignore[attr-defined]
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive(), "the follower must stop when asked"
    assert w.inbox_statuses() == ["applied", "applied"]

    runs = instance.get_runs(dg.RunsFilter(job_name=APPLY_WEBHOOKS_JOB_NAME))
    assert len(runs) == len(outcomes) >= 1
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    assert {r.tags[TAG_LAUNCHED_BY] for r in runs} == {LAUNCHED_BY}
    assert {r.tags["dagster/partition"] for r in runs} == {TENANT}

    # Nothing is left for the sensor: it skips rather than launching an empty run.
    context = dg.build_sensor_context(
        instance=instance, cursor=None, resources={"warehouse": WarehouseResource(url=warehouse_url)}
    )
    tick = webhook_inbox_sensor(context)
    assert isinstance(tick, dg.SensorResult) and not tick.run_requests


def test_follower_skips_a_tenant_whose_lock_is_held_and_applies_once_it_is_free(
    world: tuple[World, dg.DagsterInstance],
) -> None:
    """Prevents one long sync (holding the tenant's lock) from stalling the follower, and a skipped delivery from
    being dropped rather than applied at a later pass."""
    w, instance = world
    product = w.simple_product()
    with tenant_lock(w.engine, TENANT, purpose="test sync"):
        w.change_price(product.id, "43.30")  # type: ignore[attr-defined]
        held = follow(instance=instance, once=True)
        assert (held.runs, held.skipped_locked) == (0, 1)
        assert w.inbox_statuses() == ["pending"]
    free = follow(instance=instance, once=True)
    assert (free.runs, free.applied, free.failed_runs) == (1, 1, 0)
    assert w.inbox_statuses() == ["applied"]
    assert w.hub_price(product.sku) == Decimal("43.30")  # type: ignore[attr-defined]


def test_cli_warehouse_url_reaches_the_runs_it_starts(
    world: tuple[World, dg.DagsterInstance], warehouse_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Prevents `--warehouse-url X apply-webhooks` (or `sync`) reading X but running its Dagster jobs against the
    default warehouse (the definitions' resource reads the environment)."""
    w, _ = world
    product = w.simple_product()
    w.change_price(product.id, "44.40")  # type: ignore[attr-defined]
    monkeypatch.delenv("ECOM_WAREHOUSE_URL")
    monkeypatch.setenv("ECOM_PIPELINE_HOME", str(tmp_path / "elsewhere"))  # the default warehouse is not X
    assert cli_main(["--warehouse-url", warehouse_url, "apply-webhooks", "--once"]) == 0
    assert w.inbox_statuses() == ["applied"]
    assert w.hub_price(product.sku) == Decimal("44.40")  # type: ignore[attr-defined]
    assert cli_main(["--warehouse-url", warehouse_url, "sync", "--tenant", TENANT]) == 0
    assert "ECOM_WAREHOUSE_URL" not in os.environ, "an in-process caller's environment is left as it was"


def test_sensor_leaves_new_deliveries_to_an_active_follower_and_steps_in_for_stale_ones(
    world: tuple[World, dg.DagsterInstance], warehouse_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prevents a running follower from doubling the daemon's work (a launched run per delivery that only finds it
    applied) and a stopped follower from leaving deliveries pending: once stale, the sensor asks for a run."""
    w, instance = world
    product = w.simple_product()
    context = dg.build_sensor_context(
        instance=instance, cursor=None, resources={"warehouse": WarehouseResource(url=warehouse_url)}
    )
    w.change_price(product.id, "45.50")  # type: ignore[attr-defined]
    before = webhook_inbox_sensor(context)  # no follower has run: the sensor acts as it always did
    assert isinstance(before, dg.SensorResult) and [r.partition_key for r in before.run_requests or []] == [TENANT]
    assert follow(instance=instance, once=True).applied == 1

    w.change_price(product.id, "46.60")  # type: ignore[attr-defined]
    context = dg.build_sensor_context(
        instance=instance, cursor=None, resources={"warehouse": WarehouseResource(url=warehouse_url)}
    )
    served = webhook_inbox_sensor(context)
    assert isinstance(served, dg.SensorResult) and not served.run_requests, "the follower serves this tenant"
    # The follower died: the delivery left to it is still pending past the grace, and the next tick (its cursor
    # already past the delivery) asks for a run after all.
    monkeypatch.setattr("ecom_pipeline.webhooks.dagster.FOLLOWER_GRACE", timedelta(0))
    context = dg.build_sensor_context(
        instance=instance, cursor=served.cursor, resources={"warehouse": WarehouseResource(url=warehouse_url)}
    )
    late = webhook_inbox_sensor(context)
    assert isinstance(late, dg.SensorResult)
    assert [(r.partition_key, (r.run_key or "").endswith(":late")) for r in late.run_requests or []] == [(TENANT, True)]


def test_two_followers_do_not_both_apply_a_tenant(world: tuple[World, dg.DagsterInstance]) -> None:
    """Prevents replicas from running the same tenant's apply twice (the second would push its exports and stock
    again for nothing)."""
    w, instance = world
    product = w.simple_product()
    w.change_price(product.id, "47.70")  # type: ignore[attr-defined]
    with tenant_lock(w.engine, f"{CLAIM_PREFIX}{TENANT}", purpose="the other replica"):
        other = follow(instance=instance, once=True)
    assert (other.runs, other.skipped_claimed) == (0, 1)
    assert w.inbox_statuses() == ["pending"]
    assert follow(instance=instance, once=True).applied == 1


def test_follower_outlives_an_unreachable_warehouse(world: tuple[World, dg.DagsterInstance]) -> None:
    """Prevents a follower that dies (and, restarted in a loop, stays down after the warehouse is back) when the
    warehouse does not answer a poll."""
    _, instance = world
    unreachable = dg.Definitions(
        resources={"warehouse": WarehouseResource(url="postgresql+psycopg2://postgres@127.0.0.1:1/nowhere")}
    )
    stats = follow(instance=instance, defs=unreachable, once=True)
    assert (stats.polls, stats.runs) == (1, 0)


# A follower on another host that dies right after its run started: it claims the tenant as a follower does,
# creates the apply run with a follower's tags (its host: another machine's), and is killed before the run ends.
DYING_FOLLOWER = """
import os, signal, sys
import dagster as dg
from ecom_pipeline.definitions import defs
from ecom_pipeline.runner import TAG_HOST, TAG_LAUNCHED_BY
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.webhooks.dagster import APPLY_WEBHOOKS_JOB_NAME
from ecom_pipeline.webhooks.follow import LAUNCHED_BY, _follower_claim
instance = dg.DagsterInstance.get()
with _follower_claim(shared_engine(sys.argv[1]), sys.argv[2]) as claimed:
    assert claimed
    run = instance.create_run_for_job(
        defs.resolve_job_def(APPLY_WEBHOOKS_JOB_NAME), status=dg.DagsterRunStatus.STARTED,
        tags={TAG_LAUNCHED_BY: LAUNCHED_BY, TAG_HOST: "another-host", "dagster/partition": sys.argv[2]},
    )
    print(run.run_id, flush=True)
    if sys.argv[3] == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    sys.stdin.readline()  # alive until the test says
"""


def test_a_run_left_by_a_follower_gone_on_another_host_is_failed_and_a_live_ones_is_not(
    world: tuple[World, dg.DagsterInstance], warehouse_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prevents a follower that died on another host from holding its tenant's one run slot (and the tenant's
    webhooks) for the runs' 30-minute max runtime: its claim is gone, so the next follower's reaping fails the run
    at once. A run whose follower is alive (it holds the claim) is left alone."""
    import subprocess
    import sys

    w, instance = world

    def start(mode: str) -> tuple[subprocess.Popen[str], str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", DYING_FOLLOWER, warehouse_url, TENANT, mode],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=os.environ,
        )  # fmt: skip
        assert proc.stdout is not None
        return proc, proc.stdout.readline().strip()

    alive, alive_run = start("live")
    try:
        follow(instance=instance, once=True)
        run = instance.get_run_by_id(alive_run)
        assert run is not None and run.status == dg.DagsterRunStatus.STARTED
    finally:
        assert alive.stdin is not None
        alive.stdin.write("\n")
        alive.stdin.flush()
        alive.wait(30)
    dead, dead_run = start("die")
    assert dead.wait(30) == -9
    follow(instance=instance, once=True)  # quiet for less than ORPHAN_QUIET_S: it may be a live follower's run
    assert instance.get_run_by_id(dead_run).status == dg.DagsterRunStatus.STARTED  # type: ignore[union-attr]
    monkeypatch.setattr(follow_module, "ORPHAN_QUIET_S", 0.0)  # as if two minutes had passed
    w.change_price(w.simple_product().id, "31.30")  # type: ignore[attr-defined]
    stats = follow(instance=instance, once=True)
    failed = instance.get_run_by_id(dead_run)
    assert failed is not None and failed.status == dg.DagsterRunStatus.FAILURE
    assert instance.get_run_by_id(alive_run).status == dg.DagsterRunStatus.FAILURE  # type: ignore[union-attr]
    assert stats.applied == 1 and w.inbox_statuses()[-1] == "applied"
