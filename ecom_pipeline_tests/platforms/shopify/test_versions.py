"""Shopify API version lifecycle: the calendar rule, warnings, the served version recorded, upgrading, and the
scopes nested fields need (orders without ``read_customers``)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine

from ecom_pipeline.platforms.shopify import connect as shopify_connect
from ecom_pipeline.platforms.shopify.extract import ShopifyExtractReport, extract_entity
from ecom_pipeline.platforms.shopify.lifecycle import (
    UpgradeError,
    choose_version,
    upgrade_integration,
    version_check_from_reports,
)
from ecom_pipeline.platforms.shopify.versions import (
    DEFAULT_API_VERSION,
    has_feature,
    retirement_date,
    supported_versions,
    version_status,
)
from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline.sync.extract import ExtractContext
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.migrate import upgrade

TODAY = date(2026, 12, 3)


def test_calendar_rule_gives_the_versions_shopify_supports_on_a_day() -> None:
    """Prevents a hard-coded version list that silently goes stale: quarterly releases, 12 months of support."""
    assert supported_versions(TODAY) == ("2026-01", "2026-04", "2026-07", "2026-10")
    assert supported_versions(date(2026, 9, 30)) == ("2025-10", "2026-01", "2026-04", "2026-07")
    assert retirement_date("2025-10") == date(2026, 10, 1)
    assert DEFAULT_API_VERSION in supported_versions(TODAY)


def test_pinned_version_states_warn_90_days_before_retirement_and_when_falling_forward() -> None:
    """Prevents a shop drifting onto another version's behaviour without anyone being told."""
    assert version_status("2025-10", today=TODAY).state == "falling_forward"
    assert version_status("2026-01", today=TODAY).state == "retiring"  # retires 2027-01-01: 29 days
    assert version_status("2026-04", today=TODAY).state == "ok"  # 119 days
    assert version_status("2026-04", "2026-07", today=TODAY).state == "falling_forward"  # served another one
    message = version_status("2025-10", "2026-01", today=TODAY).message() or ""
    assert "2025-10 is retired" in message and "2026-01" in message and "shopify-upgrade" in message
    assert has_feature("2026-01", "bulk_operation_by_id") and not has_feature("2025-10", "bulk_operation_by_id")


def test_version_asset_check_warns_for_a_retired_pin() -> None:
    """Prevents the asset check passing while a shop is answered by another version than it pinned."""
    old = ShopifyExtractReport(entity="order", api_version=version_status("2025-10", "2026-01").as_metadata())
    new = ShopifyExtractReport(entity="order", api_version=version_status("2026-10", "2026-10").as_metadata())
    result = version_check_from_reports([("old (#1)", old), ("new (#2)", new)])
    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert "old (#1)" in (result.description or "") and "new (#2)" not in (result.description or "")
    assert version_check_from_reports([("new (#2)", new)]).passed


def test_upgrade_refuses_retired_unknown_and_unreleased_versions() -> None:
    """Prevents pinning a version Shopify would not serve as such."""
    assert choose_version(None, TODAY) == DEFAULT_API_VERSION
    for bad in ("2025-10", "2026-05", "2027-04", "unstable"):
        with pytest.raises(UpgradeError):
            choose_version(bad, TODAY)


# -- against the emulator ---------------------------------------------------------------------------------------


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxServer]:
    shops = [
        ShopSpec(name="full", platform="shopify", seed=5, products=6, orders=8, customers=4),
        ShopSpec(
            name="no-customers",
            platform="shopify",
            seed=6,
            products=4,
            orders=6,
            customers=3,
            options={"scopes": "read_products,read_orders,read_all_orders,read_inventory,read_locations"},
        ),
    ]
    with SandboxServer(shops=shops, cert_dir=tmp_path / "certs") as server:
        yield server


def _integration(url: str, sandbox: SandboxServer, name: str, settings: dict, cipher: CredentialCipher) -> int:
    upgrade(url)
    shop = sandbox.shop(name)
    with create_engine(url).begin() as conn:
        return store.create_integration(
            conn,
            tenant_id="acme",
            platform="shopify",
            name=name,
            base_url=shop.http_url,
            credentials={"access_token": shop.credentials["access_token"]},
            settings=settings,
            cipher=cipher,
        )


def test_orders_without_read_customers_are_read_without_the_customer_link_and_the_run_says_so(
    sqlite_warehouse_url: str, sandbox: SandboxServer
) -> None:
    """Prevents ACCESS_DENIED on every orders page (Customer requires read_customers wherever it appears) for an
    app granted read_orders only; the served version is recorded in the integration's settings."""
    cipher = CredentialCipher(CredentialCipher.generate_key())
    integration_id = _integration(sqlite_warehouse_url, sandbox, "no-customers", {"api_version": "2026-04"}, cipher)
    engine = create_engine(sqlite_warehouse_url)
    with engine.connect() as conn:
        integration = store.get_integration(conn, integration_id)
        credentials = store.load_credentials(conn, integration_id, cipher)
    ctx = ExtractContext(engine=engine, integration=integration, credentials=credentials, run_id="t")
    report = extract_entity(ctx, "order")
    assert report.staged == len(sandbox.shop("no-customers").store.orders)
    assert any("read_customers" in w and "without their customer" in w for w in report.warnings)
    with engine.connect() as conn:
        settings = store.get_integration(conn, integration_id).settings or {}
    assert settings["shopify"]["served_version"] == "2026-04" and settings["shopify"]["served_at"]


def test_connect_names_missing_nested_scopes_and_protected_customer_data(sandbox: SandboxServer) -> None:
    """Prevents a connect that looks fine while orders will lose their customers (or need data approval)."""
    shop = sandbox.shop("no-customers")
    args = argparse.Namespace(
        url=shop.http_url,
        name=None,
        access_token=shop.credentials["access_token"],
        client_id=None,
        client_secret=None,
        api_version="2026-04",
        webhook_secret=None,
        bulk_threshold=2000,
        timeout=5.0,
        insecure=False,
        ca_bundle=None,
    )
    result = shopify_connect.connect(args)
    notes = " ".join(result.notes)
    assert "read_customers" in notes and "without their customer" in notes
    assert "protected customer data" in notes
    assert result.settings["shopify"]["served_version"] == "2026-04"


def test_upgrade_command_checks_the_new_version_then_pins_it(
    sqlite_warehouse_url: str, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """Prevents upgrading being a manual settings edit, or saving a version the shop refused."""
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("ECOM_SECRET_KEY", key)
    cipher = CredentialCipher.from_env(Path("/nonexistent"))
    integration_id = _integration(sqlite_warehouse_url, sandbox, "full", {"api_version": "2025-10"}, cipher)
    engine = create_engine(sqlite_warehouse_url)
    result = upgrade_integration(engine, integration_id, cipher, version="2026-07")
    assert (result.previous, result.version, result.served) == ("2025-10", "2026-07", "2026-07")
    with engine.connect() as conn:
        settings = store.get_integration(conn, integration_id).settings or {}
    assert settings["api_version"] == "2026-07" and settings["shopify"]["served_version"] == "2026-07"

    from ecom_pipeline.cli import main as cli_main

    argv = ["--warehouse-url", sqlite_warehouse_url, "shopify-upgrade", "--integration", str(integration_id)]
    assert cli_main([*argv, "--version", "2025-07"]) == 1
    assert "retired" in capsys.readouterr().err
    assert cli_main(argv) == 0
    with engine.connect() as conn:
        assert (store.get_integration(conn, integration_id).settings or {})["api_version"] == DEFAULT_API_VERSION


def test_bulk_threshold_at_or_above_10000_triggers_bulk(sqlite_warehouse_url: str, tmp_path: Path) -> None:
    """Prevents counts capped at Shopify's default ``limit`` (10,000) from keeping a large shop on pagination
    forever when ``bulk_threshold`` is 10,000 or more (the client counts with ``limit: null``)."""
    spec = ShopSpec(
        name="big",
        platform="shopify",
        seed=9,
        products=1,
        orders=0,
        customers=10_050,
        options={"bulk_objects_per_s": 1_000_000},
    )
    with SandboxServer(shops=[spec], cert_dir=tmp_path / "certs") as server:
        cipher = CredentialCipher(CredentialCipher.generate_key())
        settings = {"api_version": "2026-04", "bulk_threshold": 10_000}
        integration_id = _integration(sqlite_warehouse_url, server, "big", settings, cipher)
        engine = create_engine(sqlite_warehouse_url)
        with engine.connect() as conn:
            integration = store.get_integration(conn, integration_id)
            credentials = store.load_credentials(conn, integration_id, cipher)
        ctx = ExtractContext(engine=engine, integration=integration, credentials=credentials, run_id="t")
        report = extract_entity(ctx, "customer")
    assert report.mode == "bulk" and report.staged == 10_050
