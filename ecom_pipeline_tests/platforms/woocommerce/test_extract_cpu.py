"""The WooCommerce read runs with the cyclic garbage collector paused (issue 12), and gives it back as it was.

A small shop is read over real HTTP from the emulator by the real extract (page and variation threads included)
into a real warehouse. ``gc.callbacks`` sees every collection the interpreter starts, in any thread: none may run
during the read, the collector must be on again after it (also after a read that failed), and a caller that had
turned it off keeps it off.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from ecom_pipeline.platforms.registry import platforms
from ecom_pipeline.sandbox.server import SandboxServer, ShopHandle, ShopSpec
from ecom_pipeline.sync.extract_run import ExtractOptions, extract_for_tenant
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.schema import staging_records

CIPHER = CredentialCipher(CredentialCipher.generate_key())


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShopHandle]:
    spec = ShopSpec(name="wc-gc", platform="woocommerce", seed=5, products=30, variable_share=0.6, orders=40,
                    customers=15)  # fmt: skip
    with SandboxServer(shops=[spec], cert_dir=tmp_path_factory.mktemp("certs")) as server:
        yield server.shops["wc-gc"]


def _connect(engine: Engine, base_url: str, shop: ShopHandle) -> None:
    with engine.begin() as conn:
        store.create_integration(
            conn,
            tenant_id="acme",
            platform="woocommerce",
            name="wc-gc",
            base_url=base_url,
            credentials={"consumer_key": shop.consumer_key, "consumer_secret": shop.consumer_secret},
            settings={},
            cipher=CIPHER,
        )


def _read(engine: Engine, entity: str, inside: list[bool] | None = None) -> Any:
    """``extract_for_tenant`` with WooCommerce's own extract; ``inside`` is [True] while that extract runs."""
    spec = platforms()["woocommerce"]
    flag = inside if inside is not None else [False]

    def watched(ctx: Any, what: str) -> Any:
        flag[0] = True
        try:
            return spec.extract(ctx, what)
        finally:
            flag[0] = False

    return extract_for_tenant(
        engine,
        CIPHER,
        dataclasses.replace(spec, extract=watched),
        tenant="acme",
        entity=entity,
        run_id="extract",
        options=ExtractOptions(full_refresh=False, lookback=timedelta(seconds=300), client={}),
        log=logging.getLogger("extract_cpu"),
    )


def test_the_read_runs_without_collections_and_gives_the_collector_back(engine: Engine, shop: ShopHandle) -> None:
    """No collection starts (in any thread) while WooCommerce's extract runs, but the one its allocations are owed
    when the collector comes back on at its end (without the pause: 7 for this
    shop's products alone); the collector is on after it."""
    _connect(engine, shop.http_url, shop)
    inside = [False]
    during: list[int] = []
    outside: list[int] = []

    def watch(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            (during if inside[0] else outside).append(int(info["generation"]))

    assert gc.isenabled()
    gc.callbacks.append(watch)
    try:
        for entity in ("product", "inventory", "order", "customer"):
            during.clear()
            done = _read(engine, entity, inside)
            assert not done.errors
            assert len(during) <= 1, f"{entity}: {len(during)} collections ran during the read"
            assert gc.isenabled()
    finally:
        gc.callbacks.remove(watch)
    with engine.connect() as conn:
        staged = dict(
            conn.execute(select(staging_records.c.entity, func.count()).group_by(staging_records.c.entity)).all()
        )
    assert staged == {"product": 30, "inventory": 30, "order": 40, "customer": 15}


def test_a_failed_read_gives_the_collector_back_and_an_off_collector_stays_off(
    engine: Engine, shop: ShopHandle, tmp_path: Path
) -> None:
    _connect(engine, "http://127.0.0.1:1/closed", shop)  # nothing listens: the read fails
    done = _read(engine, "product")
    assert done.errors
    assert gc.isenabled()
    gc.disable()
    try:
        done = _read(engine, "order")
        assert done.errors
        assert not gc.isenabled()
    finally:
        gc.enable()
