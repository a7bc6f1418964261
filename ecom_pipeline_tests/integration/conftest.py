"""Fixtures for end-to-end tests: emulated shops over real HTTP, a migrated warehouse and a real Dagster instance."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import dagster as dg
import pytest
from sqlalchemy import Table

from ecom_pipeline.cli import main as cli_main
from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline_tests.integration.push_world import OpenPushWorld, WooCommerceWorld, push_world, woocommerce_spec
from ecom_pipeline_tests.pipeline_env import set_pipeline_env

SHOP = "test-shop"


def count(warehouse_url: str, table: Table, *where: Any) -> int:
    """Rows of ``table`` matching ``where`` in the test's warehouse (store.count_rows on a fresh connection)."""
    with shared_engine(warehouse_url).connect() as conn:
        return store.count_rows(conn, table, *where)


@dataclass
class Env:
    """One test's world: the warehouse URL, the Dagster instance and the emulated shops."""

    warehouse_url: str
    instance: dg.DagsterInstance
    sandbox: SandboxServer
    home: Path

    def connect(self, tenant: str, shop: str = SHOP, *, https: bool = False, **overrides: Any) -> int:
        """Run ``ecom-pipeline connect`` for a sandbox shop; returns the exit code."""
        info = self.sandbox.shop(shop)
        url = overrides.get("url") or (info.https_url if https else info.http_url)
        argv = ["--warehouse-url", self.warehouse_url, "connect", "woocommerce", "--tenant", tenant, "--url", url]
        argv += ["--consumer-key", overrides.get("consumer_key", info.consumer_key)]
        argv += ["--consumer-secret", overrides.get("consumer_secret", info.consumer_secret)]
        argv += ["--name", shop, "--timeout", "5"]
        if https and not overrides.get("no_ca"):
            argv += ["--ca-bundle", str(self.sandbox.ca_bundle)]
        return cli_main(argv)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxServer]:
    specs = [
        ShopSpec(name=SHOP, seed=7, products=30, variable_share=0.4, orders=60, customers=20),
        ShopSpec(name="other-shop", seed=8, products=12, variable_share=0.3, orders=20, customers=8),
    ]
    with SandboxServer(shops=specs, host="127.0.0.1", http_port=0, https_port=0, cert_dir=tmp_path / "certs") as sb:
        yield sb


@pytest.fixture
def env(
    warehouse_url: str,
    dagster_home: Path,
    sandbox: SandboxServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Env]:
    home = tmp_path / "home"
    home.mkdir()
    set_pipeline_env(monkeypatch, warehouse_url=warehouse_url, home=home, dagster_home=dagster_home)
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        yield Env(warehouse_url=warehouse_url, instance=instance, sandbox=sandbox, home=home)
    finally:
        instance.dispose()


def running_shop(
    spec: ShopSpec, *, warehouse_url: str, dagster_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> contextlib.AbstractContextManager[tuple[SandboxServer, dg.DagsterInstance]]:
    """The emulated shop served on 127.0.0.1 and a Dagster instance, with the environment the CLI reads."""
    return running_shops(
        [spec], warehouse_url=warehouse_url, dagster_home=dagster_home, tmp_path=tmp_path, monkeypatch=monkeypatch
    )


@contextlib.contextmanager
def running_shops(
    specs: list[ShopSpec], *, warehouse_url: str, dagster_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[SandboxServer, dg.DagsterInstance]]:
    """The emulated shops served on 127.0.0.1 (one sandbox) and a Dagster instance, with the environment the CLI
    reads: the end-to-end tests' set-up, written once."""
    set_pipeline_env(monkeypatch, warehouse_url=warehouse_url, home=tmp_path / "home", dagster_home=dagster_home)
    with SandboxServer(shops=specs, cert_dir=tmp_path / "certs") as sb:
        instance = dg.DagsterInstance.from_config(str(dagster_home))
        try:
            yield sb, instance
        finally:
            instance.dispose()


@contextlib.contextmanager
def one_shop_tenant(
    spec: ShopSpec,
    *,
    tenant: str,
    secret_env: dict[str, str],
    warehouse_url: str,
    dagster_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[SandboxServer, dg.DagsterInstance]]:
    """An emulated shop connected to ``tenant`` through ``ecom-pipeline connect``, and a Dagster instance.

    ``secret_env`` maps the environment variable the platform's connect reads to the shop credential it holds
    (e.g. ``{"ECOM_PRESTASHOP_API_KEY": "api_key"}``): secrets go through the environment, never argv.
    """
    running = running_shop(
        spec, warehouse_url=warehouse_url, dagster_home=dagster_home, tmp_path=tmp_path, monkeypatch=monkeypatch
    )
    with running as (sb, instance):
        shop = sb.shop(spec.name)
        for env_name, credential in secret_env.items():
            monkeypatch.setenv(env_name, shop.credentials[credential])
        argv = ["--warehouse-url", warehouse_url, "connect", spec.platform, "--tenant", tenant]
        assert cli_main([*argv, "--url", shop.http_url, "--timeout", "5"]) == 0
        yield sb, instance


class OpenTenant(Protocol):
    """The ``open_tenant`` fixture: ``one_shop_tenant`` bound to the test's warehouse, instance and temp folder."""

    def __call__(
        self, spec: ShopSpec, *, tenant: str, secret_env: dict[str, str]
    ) -> contextlib.AbstractContextManager[tuple[SandboxServer, dg.DagsterInstance]]: ...


@pytest.fixture
def open_tenant(warehouse_url: str, dagster_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> OpenTenant:
    """``with open_tenant(spec, tenant=..., secret_env=...) as (sandbox, instance)``: ``one_shop_tenant`` without
    passing the test's warehouse, Dagster home, temp folder and monkeypatch each time."""
    bound = functools.partial(
        one_shop_tenant,
        warehouse_url=warehouse_url,
        dagster_home=dagster_home,
        tmp_path=tmp_path,
        monkeypatch=monkeypatch,
    )
    return bound


@pytest.fixture
def open_push_world(
    warehouse_url: str, dagster_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> OpenPushWorld:
    """``with open_push_world(World, spec) as world``: the push tests' shop, instance and connected tenant."""
    bound = functools.partial(
        push_world, warehouse_url=warehouse_url, dagster_home=dagster_home, tmp_path=tmp_path, monkeypatch=monkeypatch
    )
    return bound


@pytest.fixture
def woocommerce_push_world(open_push_world: OpenPushWorld) -> Iterator[WooCommerceWorld]:
    """The WooCommerce push tests' world (its shop connected to the tenant with direction push), shared by the push
    and the lineage tests."""
    with open_push_world(WooCommerceWorld, woocommerce_spec()) as world:
        yield world
