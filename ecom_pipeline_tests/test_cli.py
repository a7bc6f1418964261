"""The CLI tells users what they need: every command has --help, and status shows failures that need a person."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from ecom_pipeline.cli import build_parser
from ecom_pipeline.cli import main as cli_main
from ecom_pipeline.partitions import TENANTS_PARTITION_NAME
from ecom_pipeline.platforms.connect import receiver_command
from ecom_pipeline.platforms.woocommerce.client import WooCommerceClient
from ecom_pipeline.sandbox.server import SandboxServer, ShopHandle, ShopSpec
from ecom_pipeline.tenants import InvalidTenantError, validate_tenant
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.engine import home_and_source, shared_engine
from ecom_pipeline.warehouse.schema import hub_products, integrations, webhook_inbox
from ecom_pipeline.warehouse.store import count_rows
from ecom_pipeline_tests.pipeline_env import set_pipeline_env
from ecom_pipeline_tests.platforms.replay_server import ReplayServer, Reply

COMMANDS = ["demo", "connect", "disconnect", "tenants", "status", "sync", "serve-webhooks", "sandbox", "migrate"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Prevents a command of the documented CLI contract from disappearing or lacking --help."""
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: ecom-pipeline" in capsys.readouterr().out


def test_status_shows_dead_lettered_webhooks_with_their_error(
    warehouse_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents a webhook that was given up on from being invisible to the person running the pipeline."""
    cipher = CredentialCipher(Fernet.generate_key().decode())
    with shared_engine(warehouse_url).begin() as conn:
        iid = store.create_integration(
            conn,
            tenant_id="acme",
            platform="woocommerce",
            name="shop",
            base_url="http://127.0.0.1:1/shop",
            credentials={},
            settings={},
            cipher=cipher,
        )
        conn.execute(
            webhook_inbox.insert().values(
                tenant_id="acme",
                integration_id=iid,
                platform="woocommerce",
                delivery_key="k1",
                topic="product.updated",
                headers={},
                body="{}",
                received_at=datetime.now(UTC),
                status="dead",
                attempts=8,
                processed_at=datetime.now(UTC),
                error="ShopNotFoundError: product 12 is gone",
            )
        )
    assert cli_main(["--warehouse-url", warehouse_url, "status", "--tenant", "acme"]) == 0
    out = capsys.readouterr().out
    assert "Dead-lettered deliveries" in out
    assert "product 12 is gone" in out


# --- CLI input and first steps (issue 8) -----------------------------------------------------------------------


SHOP_PRODUCTS = 12


@pytest.fixture
def woo_shop(tmp_path: Path) -> Iterator[ShopHandle]:
    """One emulated WooCommerce shop over real HTTP on 127.0.0.1."""
    spec = ShopSpec(name="cli-shop", seed=8, products=SHOP_PRODUCTS, variable_share=0.3, orders=20, customers=8)
    with SandboxServer(shops=[spec], http_port=0, https_port=0, cert_dir=tmp_path / "certs") as sandbox:
        yield sandbox.shop("cli-shop")


@pytest.fixture
def cli_env(warehouse_url: str, dagster_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The environment a user of the CLI has: a warehouse, a home, a Dagster home and a secret key."""
    set_pipeline_env(monkeypatch, warehouse_url=warehouse_url, home=tmp_path / "home", dagster_home=dagster_home)
    return warehouse_url


def _connect_argv(shop: ShopHandle, tenant: str, *extra: str, url: str | None = None) -> list[str]:
    return [
        "connect", "woocommerce", f"--tenant={tenant}", "--url", url or shop.http_url,
        "--consumer-key", shop.consumer_key, "--timeout", "5", *extra,
    ]  # fmt: skip


def _integration_rows(warehouse_url: str) -> list[Any]:
    with shared_engine(warehouse_url).connect() as conn:
        return conn.execute(select(integrations.c.id, integrations.c.tenant_id)).all()


BAD_TENANTS = {
    "empty": "",
    "path": "../x",
    "single-quote": "o'brien",
    "double-quote": 'say"hi',
    "control-character": "acme\x1b[31m",
    "newline": "acme\n",
    "uppercase": "Acme",
    "leading-dash": "-acme",
    "300-characters": "a" * 300,
}


@pytest.mark.parametrize("name", list(BAD_TENANTS.values()), ids=list(BAD_TENANTS))
def test_connect_refuses_an_invalid_tenant_name_before_contacting_the_shop_or_writing(
    name: str,
    cli_env: str,
    woo_shop: ShopHandle,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Prevents "", "../x", quotes or control characters from becoming a tenant (an empty one broke every later
    all-tenant sync) and 300 characters from ending in a PostgreSQL traceback after the shop was contacted."""
    monkeypatch.setenv("ECOM_CONSUMER_SECRET", woo_shop.consumer_secret)
    with pytest.raises(SystemExit) as exit_info:
        cli_main(_connect_argv(woo_shop, name))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --tenant: invalid tenant name" in err
    assert "lowercase letters, digits, '-' and '_', 1 to 64 characters" in err
    assert "Traceback" not in err
    assert _integration_rows(cli_env) == []


@pytest.mark.parametrize("command", [["sync", "--tenant"], ["status", "--tenant"]])
def test_sync_and_status_refuse_an_invalid_tenant_name(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Prevents a tenant name that no connect can create from being looked up (or added as a Dagster partition)."""
    with pytest.raises(SystemExit) as exit_info:
        cli_main([*command, "../x"])
    assert exit_info.value.code == 2
    assert "invalid tenant name '../x'" in capsys.readouterr().err


def test_tenant_validator_is_one_rule_shared_with_the_store(warehouse_url: str) -> None:
    """Prevents another way in (the Shopify OAuth install, a script) from writing a name the CLI would refuse."""
    for good in ("acme", "a", "shop-2_eu", "9lives", "x" * 64):
        assert validate_tenant(good) == good
    for bad in BAD_TENANTS.values():
        with pytest.raises(InvalidTenantError):
            validate_tenant(bad)
    with pytest.raises(InvalidTenantError, match=r"e\.g\. acme-shop"):
        validate_tenant("Acme Shop")
    cipher = CredentialCipher(Fernet.generate_key().decode())
    with pytest.raises(InvalidTenantError), shared_engine(warehouse_url).begin() as conn:
        store.create_integration(
            conn, tenant_id="../x", platform="woocommerce", name="s", base_url="http://127.0.0.1:1/s",
            credentials={}, settings={}, cipher=cipher,
        )  # fmt: skip
    assert _integration_rows(warehouse_url) == []


BAD_URLS = {
    "no-scheme": ("shop.example.com", "has no scheme; give it as e.g. https://shop.example.com"),
    "javascript": ("javascript:alert(1)", "uses the javascript: scheme"),
    "no-host": ("http://", "has no host"),
    "no-host-with-path": ("https:///shop", "has no host"),
    "ftp": ("ftp://shop.example.com", "uses the ftp: scheme"),
    "bad-port": ("http://shop.example.com:99999", "is not a valid URL"),
    "credentials": ("https://ck_1:cs_2@shop.example.com", "contains a user name or password"),
}


@pytest.mark.parametrize(("url", "message"), list(BAD_URLS.values()), ids=list(BAD_URLS))
def test_connect_answers_a_bad_shop_url_with_one_line_not_a_traceback(
    url: str, message: str, cli_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents a URL typo from ending in a requests/oauthlib traceback (MissingSchema, "missing host")."""
    monkeypatch.setenv("ECOM_CONSUMER_SECRET", "cs_0123456789abcdef")
    argv = ["connect", "woocommerce", "--tenant", "acme", "--url", url, "--consumer-key", "ck_0123456789abcdef"]
    assert cli_main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: the shop URL")
    assert message in err
    assert "cs_0123456789abcdef" not in err
    assert _integration_rows(cli_env) == []


@pytest.mark.parametrize("webhook_url", ["hooks.example.com", "javascript:alert(1)", "http://", "ftp://hooks.example"])
def test_connect_answers_a_bad_webhook_url_with_one_line_before_contacting_the_shop(
    webhook_url: str,
    cli_env: str,
    woo_shop: ShopHandle,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Prevents a malformed --webhook-url from being found out only after the shop was connected."""
    monkeypatch.setenv("ECOM_CONSUMER_SECRET", woo_shop.consumer_secret)
    assert cli_main(_connect_argv(woo_shop, "acme", f"--webhook-url={webhook_url}")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: --webhook-url {webhook_url!r}")
    assert _integration_rows(cli_env) == []


def test_connect_names_a_redirect_instead_of_following_it(
    cli_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents a shop that moved (http -> https, another folder) from being reported as "not found" or "wrong
    credentials" after requests silently followed the redirect with the credentials dropped or the signature stale."""
    with ReplayServer(consumer_key="ck_redirect", consumer_secret="cs_redirect") as server:
        moved = f"http://127.0.0.1:{server.port}/new-shop/wp-json/wc/v3/products?per_page=1"
        server.add("GET", "products", Reply(301, [("Location", moved), ("Content-Type", "text/html")], b""))
        monkeypatch.setenv("ECOM_CONSUMER_SECRET", "cs_redirect")
        argv = ["connect", "woocommerce", "--tenant", "acme", "--url", server.site_url, "--consumer-key", "ck_redirect"]
        assert cli_main([*argv, "--timeout", "5"]) == 1
        assert len(server.requests) == 1, "the redirect must not be followed"
    err = capsys.readouterr().err
    assert f"the shop redirects to http://127.0.0.1:{server.port}/new-shop/wp-json/wc/v3/products" in err
    assert (
        f"connect that URL: ecom-pipeline connect woocommerce --tenant acme --url http://127.0.0.1:{server.port}/new-shop"
        in err
    )
    assert "cs_redirect" not in err and "oauth_signature" not in err
    assert _integration_rows(cli_env) == []


def test_sync_of_an_unknown_tenant_fails_and_says_so(
    cli_env: str, woo_shop: ShopHandle, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents `sync --tenant typo` from printing "succeeded" with all-zero counts and exit code 0."""
    monkeypatch.setenv("ECOM_CONSUMER_SECRET", woo_shop.consumer_secret)
    assert cli_main(_connect_argv(woo_shop, "acme")) == 0
    capsys.readouterr()
    assert cli_main(["sync", "--tenant", "acme-typo"]) == 1
    captured = capsys.readouterr()
    assert "succeeded" not in captured.out
    assert "error: tenant acme-typo has no shop in this warehouse (tenants with a shop: acme;" in captured.err
    instance = dg.DagsterInstance.get()
    try:
        assert not instance.has_dynamic_partition(TENANTS_PARTITION_NAME, "acme-typo")
    finally:
        instance.dispose()
    assert cli_main(["disconnect", "--integration", "1"]) == 0
    capsys.readouterr()
    assert cli_main(["sync", "--tenant", "acme"]) == 1
    assert "error: every shop of tenant acme is disconnected (#1)" in capsys.readouterr().err


def test_sync_of_all_tenants_skips_an_old_invalid_tenant_row_and_rename_repairs_it(
    cli_env: str, woo_shop: ShopHandle, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents a tenant row written before names were checked (here "") from failing every all-tenant sync with
    Dagster's "non-partitioned run" traceback, and leaves a way out that keeps its hub rows."""
    monkeypatch.setenv("ECOM_CONSUMER_SECRET", woo_shop.consumer_secret)
    assert cli_main(_connect_argv(woo_shop, "acme")) == 0
    with shared_engine(cli_env).begin() as conn:  # as an older version wrote it, without the check
        conn.execute(integrations.update().where(integrations.c.tenant_id == "acme").values(tenant_id=""))
    assert cli_main(_connect_argv(woo_shop, "globex")) == 0
    capsys.readouterr()
    assert cli_main(["sync"]) == 1  # a shop is not synced: scripts must notice
    captured = capsys.readouterr()
    assert "warning: skipping tenant '' (integration #1, woocommerce" in captured.err
    assert "Rename it: ecom-pipeline tenants --rename '' <new-name>" in captured.err
    assert "tenant globex: run" in captured.out and "succeeded" in captured.out
    assert "non-partitioned" not in captured.err
    with shared_engine(cli_env).connect() as conn:
        assert store.active_tenants(conn) == ["globex"]
        assert count_rows(conn, hub_products, hub_products.c.tenant_id == "globex") == SHOP_PRODUCTS

    assert cli_main(["tenants", "--rename", "", "acme"]) == 0
    assert "Renamed tenant '' to acme (integrations 1" in capsys.readouterr().out
    assert cli_main(["sync"]) == 0
    with shared_engine(cli_env).connect() as conn:
        assert count_rows(conn, hub_products, hub_products.c.tenant_id == "acme") == SHOP_PRODUCTS
        assert count_rows(conn, integrations, integrations.c.tenant_id == "") == 0


def test_home_is_the_same_from_any_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Prevents the CLI from opening an empty warehouse under ./.dagster_home of whatever folder it runs in (a
    command run elsewhere then showed no shops as if the hub were empty)."""
    monkeypatch.delenv("ECOM_PIPELINE_HOME", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    homes = set()
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        monkeypatch.chdir(tmp_path / folder)
        homes.add(home_and_source())
    assert len(homes) == 1
    home, source = homes.pop()
    assert tmp_path not in home.parents
    # From this checkout (an editable install), the documented default is the checkout's .dagster_home.
    assert home == Path(__file__).resolve().parents[1] / ".dagster_home"
    assert "project checkout" in source


def test_status_run_from_another_folder_reads_the_same_warehouse_and_says_where(tmp_path: Path) -> None:
    """Prevents `ecom-pipeline status` run outside the project folder from silently reading another warehouse: with
    DAGSTER_HOME exported (as `make dev` and the daemon do), every folder sees the same one, and status prints it."""
    home = tmp_path / "dagster_home"
    env = {k: v for k, v in os.environ.items() if k not in ("ECOM_PIPELINE_HOME", "ECOM_WAREHOUSE_URL")}
    env.update(DAGSTER_HOME=str(home), ECOM_SECRET_KEY=Fernet.generate_key().decode())
    cli = str(Path(sys.executable).parent / "ecom-pipeline")
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    subprocess.run([cli, "migrate"], cwd=first, env=env, check=True, capture_output=True, timeout=120)
    cipher = CredentialCipher(env["ECOM_SECRET_KEY"])
    with shared_engine(f"sqlite:///{home / 'warehouse.db'}").begin() as conn:
        store.create_integration(
            conn, tenant_id="acme", platform="woocommerce", name="s", base_url="http://127.0.0.1:1/s",
            credentials={}, settings={}, cipher=cipher,
        )  # fmt: skip
    out = subprocess.run(
        [cli, "status"], cwd=second, env=env, check=True, capture_output=True, text=True, timeout=120
    ).stdout
    assert f"Home: {home.resolve()} (from $DAGSTER_HOME)" in out
    assert f"Warehouse: sqlite:///{home.resolve() / 'warehouse.db'}" in out
    assert "acme" in out
    assert not (second / ".dagster_home").exists() and not (first / ".dagster_home").exists()


def test_connect_refuses_a_webhook_port_woocommerce_never_delivers_to(
    cli_env: str, woo_shop: ShopHandle, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents `connect --webhook-url http://host:8787` (serve-webhooks' default port) from registering webhooks
    that WooCommerce can never deliver (ports 80, 443 and 8080 only) and disables after seven failures in a row."""
    monkeypatch.setenv("ECOM_CONSUMER_SECRET", woo_shop.consumer_secret)
    assert cli_main(_connect_argv(woo_shop, "acme", "--webhook-url", "http://hooks.example.com:8787")) == 2
    err = capsys.readouterr().err
    assert "WooCommerce delivers webhooks only to ports 80, 443, 8080" in err and "not to port 8787" in err
    assert "--webhook-url http://hooks.example.com:8080" in err
    assert "ecom-pipeline serve-webhooks --host 0.0.0.0 --port 8080" in err
    assert "--force-webhook-port" in err
    assert _integration_rows(cli_env) == []
    with WooCommerceClient(woo_shop.http_url, woo_shop.consumer_key, woo_shop.consumer_secret) as client:
        assert client.request("GET", "webhooks").data == []


def test_connect_with_an_allowed_webhook_port_prints_the_matching_receiver_command(
    cli_env: str, woo_shop: ShopHandle, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents a registration that works from leaving the user to guess the receiver's host and port (the default
    8787 would not receive what the shop sends to 8080)."""
    monkeypatch.setenv("ECOM_CONSUMER_SECRET", woo_shop.consumer_secret)
    assert cli_main(_connect_argv(woo_shop, "acme", "--webhook-url", "http://127.0.0.1:8080")) == 0
    out = capsys.readouterr().out
    command = "ecom-pipeline serve-webhooks --host 127.0.0.1 --port 8080"
    assert f"Run the receiver where http://127.0.0.1:8080 reaches it: {command}" in out
    assert (
        receiver_command("http://hooks.example.com:8080") == "ecom-pipeline serve-webhooks --host 0.0.0.0 --port 8080"
    )
    assert receiver_command("http://hooks.example.com") == "ecom-pipeline serve-webhooks --host 0.0.0.0 --port 80"
    # The emulated shop delivers anywhere; --force-webhook-port is the explicit way to register such a port.
    argv = _connect_argv(woo_shop, "globex", "--webhook-url", "http://127.0.0.1:8787", "--force-webhook-port")
    assert cli_main(argv) == 0
    out = capsys.readouterr().out
    assert "warning: WooCommerce delivers webhooks only to ports 80, 443, 8080" in out
    assert "ecom-pipeline serve-webhooks --host 127.0.0.1 --port 8787" in out


def _catalogue_tenant(url: str, tenant: str) -> None:
    """A tenant with an imported catalogue (hub rows) and no shop."""
    with shared_engine(url).begin() as conn:
        conn.execute(
            hub_products.insert().values(tenant_id=tenant, title="Mug", status="active", synced_at=datetime.now(UTC))
        )


def test_rename_refuses_a_tenant_that_has_only_a_catalogue_and_tenants_lists_it(
    cli_env: str, woo_shop: ShopHandle, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents `tenants --rename` from merging two hubs when the target tenant has an imported catalogue but no
    shop (it looked unused), and `tenants` from hiding such a tenant."""
    monkeypatch.setenv("ECOM_CONSUMER_SECRET", woo_shop.consumer_secret)
    assert cli_main(_connect_argv(woo_shop, "acme")) == 0
    _catalogue_tenant(cli_env, "globex")
    capsys.readouterr()
    assert cli_main(["tenants", "--rename", "acme", "globex"]) == 1
    assert "tenant globex already exists (rows in hub_products)" in capsys.readouterr().err
    with shared_engine(cli_env).connect() as conn:
        assert count_rows(conn, integrations, integrations.c.tenant_id == "acme") == 1
    assert cli_main(["tenants"]) == 0
    out = capsys.readouterr().out
    assert "globex" in out and "a hub catalogue of 1 products" in out
    # A catalogue-only tenant can itself be renamed.
    assert cli_main(["tenants", "--rename", "globex", "initech"]) == 0
    assert "Renamed tenant 'globex' to initech (hub_products 1)" in capsys.readouterr().out


def test_disconnect_twice_says_so_the_second_time(
    cli_env: str, woo_shop: ShopHandle, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents a second `disconnect` from claiming to disconnect again (a script cannot tell what happened)."""
    monkeypatch.setenv("ECOM_CONSUMER_SECRET", woo_shop.consumer_secret)
    assert cli_main(_connect_argv(woo_shop, "acme")) == 0
    capsys.readouterr()
    assert cli_main(["disconnect", "--integration", "1"]) == 0
    assert "Disconnected integration #1" in capsys.readouterr().out
    assert cli_main(["disconnect", "--integration", "1"]) == 0
    assert "is already disconnected" in capsys.readouterr().out


def test_disconnect_waits_for_a_running_writer_of_the_tenant(
    cli_env: str, woo_shop: ShopHandle, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents `disconnect` from answering while a push of the tenant is still writing to the shop: it waits for
    the tenant's lock (here held the whole time, so it gives up and changes nothing)."""
    from ecom_pipeline.warehouse.locks import tenant_lock

    monkeypatch.setenv("ECOM_CONSUMER_SECRET", woo_shop.consumer_secret)
    monkeypatch.setenv("ECOM_TENANT_LOCK_TIMEOUT_S", "1")
    assert cli_main(_connect_argv(woo_shop, "acme")) == 0
    capsys.readouterr()
    with tenant_lock(shared_engine(cli_env), "acme", purpose="push run 1234"):
        assert cli_main(["disconnect", "--integration", "1"]) == 1
    captured = capsys.readouterr()
    assert "waiting for it to finish" in captured.err and "nothing was changed" in captured.err
    with shared_engine(cli_env).connect() as conn:
        assert store.get_integration(conn, 1).status != "disconnected"
