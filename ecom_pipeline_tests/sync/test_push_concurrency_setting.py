"""The ``push_concurrency`` setting (sync/policies.py): parsed strictly, set by ``integration set``, shown by
``status``, read by the WooCommerce and PrestaShop writers' ``make_client``."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from ecom_pipeline.cli import main as cli_main
from ecom_pipeline.platforms.prestashop import writer as ps_writer
from ecom_pipeline.platforms.woocommerce import writer as wc_writer
from ecom_pipeline.sync.policies import SettingsError, SyncSettings, parse_push_concurrency, push_concurrency_of
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import integrations


def _integration(url: str, platform: str) -> int:
    with shared_engine(url).begin() as conn:
        return store.create_integration(
            conn, tenant_id="acme", platform=platform, name="s", base_url=f"http://127.0.0.1:1/{platform}",
            credentials={}, settings={"api_version": "x"}, cipher=CredentialCipher(Fernet.generate_key().decode()),
        )  # fmt: skip


def _settings(url: str, integration_id: int) -> dict:
    with shared_engine(url).connect() as conn:
        query = select(integrations.c.settings).where(integrations.c.id == integration_id)
        return dict(conn.execute(query).scalar_one())


@pytest.mark.parametrize(("value", "expected"), [("1", 1), (" 8 ", 8), (4, 4), ("Default", None)])
def test_a_push_concurrency_is_1_to_8_or_default(value: object, expected: int | None) -> None:
    assert parse_push_concurrency(value) == expected


@pytest.mark.parametrize("value", ["0", "9", "-1", "2.5", "many", "", True, 1.5])
def test_a_malformed_push_concurrency_is_refused(value: object) -> None:
    """Prevents a typo from meaning 0 workers (a push that never sends) or hundreds of calls at a shop."""
    with pytest.raises(SettingsError, match="not a whole number from 1"):
        parse_push_concurrency(value)


def test_the_default_is_4_and_a_stored_value_wins() -> None:
    assert push_concurrency_of({}) == 4 and SyncSettings.from_settings({}).push_concurrency is None
    assert push_concurrency_of({"push_concurrency": 1}) == 1
    assert SyncSettings.from_settings({"push_concurrency": 2}).push_concurrency == 2


def test_integration_set_push_concurrency_is_stored_shown_reset_and_read_by_the_writers(
    warehouse_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents the setting from being settable only by SQL, status from hiding the one in force, a platform that
    ignores it from storing it silently, and the writers from not reading it."""
    woo, ps, shopify = (_integration(warehouse_url, p) for p in ("woocommerce", "prestashop", "shopify"))
    argv = ["--warehouse-url", warehouse_url]
    assert cli_main([*argv, "status"]) == 0
    assert "push concurrency" in (out := capsys.readouterr().out) and "4 (default)" in out
    for iid in (woo, ps):
        assert cli_main([*argv, "integration", "set", "--integration", str(iid), "--push-concurrency", "1"]) == 0
        assert "push concurrency 1." in capsys.readouterr().out
        assert _settings(warehouse_url, iid)["push_concurrency"] == 1
    assert cli_main([*argv, "integration", "set", "--integration", str(woo), "--push-concurrency", "9"]) == 2
    assert "push concurrency '9' is not" in capsys.readouterr().err
    assert cli_main([*argv, "integration", "set", "--integration", str(shopify), "--push-concurrency", "2"]) == 2
    assert "applies to woocommerce, prestashop only" in capsys.readouterr().err
    assert "push_concurrency" not in _settings(warehouse_url, shopify)

    stored = SimpleNamespace(base_url="http://127.0.0.1:1/x", settings=_settings(warehouse_url, woo))
    client = wc_writer.make_client(stored, {"consumer_key": "ck", "consumer_secret": "cs"})
    assert client.push_concurrency == 1  # type: ignore[attr-defined]
    client = ps_writer.make_client(stored, {"api_key": "k"})
    assert client.push_concurrency == 1  # type: ignore[attr-defined]

    assert cli_main([*argv, "integration", "set", "--integration", str(woo), "--push-concurrency", "default"]) == 0
    assert "push_concurrency" not in _settings(warehouse_url, woo)
    stored.settings = _settings(warehouse_url, woo)
    assert wc_writer.make_client(stored, {"consumer_key": "ck", "consumer_secret": "cs"}).push_concurrency == 4  # type: ignore[attr-defined]
