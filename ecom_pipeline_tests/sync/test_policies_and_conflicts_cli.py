"""Per-shop sync direction and policies (`connect --direction`, `integration set`, `status`) and the conflicts
commands (`conflicts list`, `conflicts resolve`), through the real CLI entry on a real warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from ecom_pipeline.cli import main as cli_main
from ecom_pipeline.sandbox.server import SandboxServer, ShopHandle, ShopSpec
from ecom_pipeline.sync.merge import conflict_rows, merge_record
from ecom_pipeline.sync.policies import (
    DEFAULT_POLICIES,
    SettingsError,
    SyncSettings,
    is_listed,
    parse_bulk_threshold,
    parse_price_rule,
    updated_settings,
)
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import hub_products, hub_variants, integrations, sync_conflicts


def _integration(url: str, settings: dict | None = None, tenant: str = "acme", platform: str = "woocommerce") -> int:
    with shared_engine(url).begin() as conn:
        return store.create_integration(
            conn, tenant_id=tenant, platform=platform, name="s", base_url=f"http://127.0.0.1:1/{tenant}",
            credentials={}, settings=settings or {"api_version": "wc/v3"},
            cipher=CredentialCipher(Fernet.generate_key().decode()),
        )  # fmt: skip


def _settings(url: str, integration_id: int) -> dict:
    with shared_engine(url).connect() as conn:
        return dict(
            conn.execute(select(integrations.c.settings).where(integrations.c.id == integration_id)).scalar_one()
        )


# --- pure settings ------------------------------------------------------------------------------------------------


def test_an_integration_without_sync_settings_pulls_with_default_policies() -> None:
    """Prevents existing integrations (connected before directions existed) from starting to push."""
    s = SyncSettings.from_settings({"api_version": "wc/v3"})
    assert s.direction.value == "pull" and dict(s.policies) == DEFAULT_POLICIES and s.price_rule is None
    assert s.policies["price"].value == "newest" and s.policies["sku"].value == "manual"


@pytest.mark.parametrize(
    ("rule", "price", "expected"),
    [("+10%", "19.99", "21.99"), ("-5%", "10.00", "9.50"), ("+2.5%", "0.10", "0.10"), ("=12.50", "99", "12.50")],
)
def test_price_rules_give_exact_cents(rule: str, price: str, expected: str) -> None:
    """Prevents a percentage rule from producing fractions of a cent or float noise in a shop's price."""
    assert parse_price_rule(rule).apply(Decimal(price)) == Decimal(expected)


@pytest.mark.parametrize("text", ["10%", "+%", "=abc", "=1.234", "-100%", "*2"])
def test_a_malformed_price_rule_is_refused_with_the_accepted_forms(text: str) -> None:
    """Prevents a typo like `10%` (no sign) from being stored and breaking every later push."""
    with pytest.raises(SettingsError, match=r"\+N% / -N%"):
        parse_price_rule(text)


def test_listing_rules_include_then_exclude() -> None:
    """Prevents an exclude rule from being ignored when an include rule also matches."""
    s = SyncSettings.from_settings(updated_settings({}, include=["tag:summer", "sku:TS-*"], exclude=["handle:old-*"]))
    assert is_listed(s, {"handle": "tee", "tags": ["Summer"]}, ["X"])
    assert is_listed(s, {"handle": "cap", "tags": []}, ["ts-1"])
    assert not is_listed(s, {"handle": "mug", "tags": ["winter"]}, ["MUG"])
    assert not is_listed(s, {"handle": "old-tee", "tags": ["summer"]}, ["X"])
    assert is_listed(SyncSettings.from_settings({}), {"handle": "anything"}, [])


# --- integration set / status / connect -------------------------------------------------------------------------


def test_integration_set_stores_direction_policies_and_rules_and_status_shows_them(
    warehouse_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents a shop's direction or policies from being set without status telling which are in force, and an
    edit from wiping the shop's other settings."""
    iid = _integration(warehouse_url)
    other = _integration(warehouse_url, tenant="beta")
    argv = ["--warehouse-url", warehouse_url]
    assert cli_main([*argv, "status"]) == 0
    out = capsys.readouterr().out
    assert "Sync direction and policies" in out and f"{iid}     pull       defaults" in out
    assert cli_main([
        *argv, "integration", "set", "--integration", str(iid), "--direction", "bidirectional",
        "--policy", "price=hub", "--policy", "title=manual", "--include", "tag:summer", "--exclude", "sku:OLD-*",
        "--price-rule", "+10%",
    ]) == 0  # fmt: skip
    settings = _settings(warehouse_url, iid)
    assert settings["api_version"] == "wc/v3"
    assert settings["sync_direction"] == "bidirectional"
    assert settings["field_policies"] == {"price": "hub", "title": "manual"}
    assert (settings["listing_include"], settings["listing_exclude"], settings["price_rule"]) == (
        ["tag:summer"], ["sku:OLD-*"], "+10%",
    )  # fmt: skip
    capsys.readouterr()
    assert cli_main([*argv, "status"]) == 0
    out = capsys.readouterr().out
    assert "bidirectional  price=hub, title=manual  +tag:summer; -sku:OLD-*  +10%" in out
    assert f"{other}     pull" in out


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--policy", "price=loudest"], "unknown policy 'loudest' for price"),
        (["--policy", "colour=hub"], "unknown field 'colour'"),
        (["--include", "brand:acme"], "listing rule 'brand:acme' is not KIND:PATTERN"),
        (["--price-rule", "10%"], "price rule '10%' is not"),
    ],
)
def test_integration_set_refuses_a_bad_setting_and_changes_nothing(
    option: list[str], message: str, sqlite_warehouse_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents a typo from being stored (or half of a command applied) and failing later inside a sync."""
    iid = _integration(sqlite_warehouse_url)
    before = _settings(sqlite_warehouse_url, iid)
    argv = ["--warehouse-url", sqlite_warehouse_url, "integration", "set", "--integration", str(iid)]
    assert cli_main([*argv, "--direction", "push", *option]) == 2
    assert message in capsys.readouterr().err
    assert _settings(sqlite_warehouse_url, iid) == before


@pytest.mark.parametrize(("text", "expected"), [("0", 0), ("3", 3), (" 250 ", 250), (40, 40), ("Default", None)])
def test_a_bulk_threshold_is_a_whole_number_or_default(text: str | int, expected: int | None) -> None:
    """Prevents a threshold from being stored as text the writer would compare to a count."""
    assert parse_bulk_threshold(text) == expected


@pytest.mark.parametrize("text", ["-1", "2.5", "many", "", True, 1.5])
def test_a_malformed_bulk_threshold_is_refused(text: object) -> None:
    """Prevents a typo from silently meaning 'always bulk' or 'never bulk'."""
    with pytest.raises(SettingsError, match="not a whole number >= 0"):
        parse_bulk_threshold(text)


def test_integration_set_bulk_threshold_is_stored_shown_and_reset(
    warehouse_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents the Shopify bulk threshold from being settable only by SQL, or status from hiding which one is in
    force (the stored one, or the writer's default after `default`)."""
    iid = _integration(warehouse_url, platform="shopify", settings={"api_version": "2025-07"})
    argv = ["--warehouse-url", warehouse_url]
    assert cli_main([*argv, "status"]) == 0
    assert "bulk above" in (out := capsys.readouterr().out) and "250 (default)" in out
    set_ = [*argv, "integration", "set", "--integration", str(iid)]
    assert cli_main([*set_, "--bulk-mutation-threshold", "3"]) == 0
    assert "bulk mutations above 3." in capsys.readouterr().out
    settings = _settings(warehouse_url, iid)
    assert settings["bulk_mutation_threshold"] == 3 and settings["api_version"] == "2025-07"
    assert cli_main([*argv, "status"]) == 0
    assert "+10%" not in (out := capsys.readouterr().out) and "250 (default)" not in out
    assert f"{iid}     pull       defaults        all products  -           3" in out
    assert cli_main([*set_, "--bulk-mutation-threshold", "x"]) == 2
    assert "bulk mutation threshold 'x' is not" in capsys.readouterr().err
    assert _settings(warehouse_url, iid)["bulk_mutation_threshold"] == 3
    assert cli_main([*set_, "--bulk-mutation-threshold", "default"]) == 0
    assert "bulk_mutation_threshold" not in _settings(warehouse_url, iid)


def test_integration_set_shopify_collections_is_stored_shown_and_turned_off(
    sqlite_warehouse_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents the opt-in Shopify collections setting from being settable only by SQL, status hiding whether it is
    on, a bad value being stored, or turning it off leaving a key behind (off is the default: no key)."""
    iid = _integration(sqlite_warehouse_url, platform="shopify", settings={"api_version": "2025-07"})
    argv = ["--warehouse-url", sqlite_warehouse_url]
    assert SyncSettings.from_settings(_settings(sqlite_warehouse_url, iid)).shopify_collections is False
    assert cli_main([*argv, "status"]) == 0
    assert "collections" in (out := capsys.readouterr().out) and "off (default)" in out
    set_ = [*argv, "integration", "set", "--integration", str(iid)]
    assert cli_main([*set_, "--shopify-collections", "on"]) == 0
    assert "collections as categories on;" in capsys.readouterr().out
    settings = _settings(sqlite_warehouse_url, iid)
    assert settings["shopify_collections"] is True and settings["api_version"] == "2025-07"
    assert SyncSettings.from_settings(settings).shopify_collections is True
    assert cli_main([*argv, "status"]) == 0
    assert "off (default)" not in capsys.readouterr().out
    with pytest.raises(SystemExit):  # argparse: on or off only
        cli_main([*set_, "--shopify-collections", "maybe"])
    assert "invalid choice" in capsys.readouterr().err
    assert cli_main([*set_, "--shopify-collections", "off"]) == 0
    assert "collections as categories off (default);" in capsys.readouterr().out
    assert "shopify_collections" not in _settings(sqlite_warehouse_url, iid)
    with pytest.raises(SettingsError, match="shopify collections 'maybe' is not on or off"):
        SyncSettings.from_settings({"shopify_collections": "maybe"})


@pytest.mark.parametrize(("option", "value"), [("--bulk-mutation-threshold", "3"), ("--shopify-collections", "on")])
def test_integration_set_of_a_shopify_only_setting_is_refused_outside_shopify(
    sqlite_warehouse_url: str, capsys: pytest.CaptureFixture[str], option: str, value: str
) -> None:
    """Prevents a setting only Shopify reads (its writer's bulk threshold, its collections) from being stored on a
    WooCommerce shop, doing nothing."""
    iid = _integration(sqlite_warehouse_url)
    before = _settings(sqlite_warehouse_url, iid)
    argv = ["--warehouse-url", sqlite_warehouse_url, "integration", "set", "--integration", str(iid)]
    assert cli_main([*argv, "--direction", "push", option, value]) == 2
    assert f"{option} applies to shopify only; integration" in capsys.readouterr().err
    assert _settings(sqlite_warehouse_url, iid) == before


@pytest.fixture
def woo_shop(tmp_path: Path) -> Iterator[ShopHandle]:
    spec = ShopSpec(name="dir-shop", seed=3, products=2, orders=1, customers=1)
    with SandboxServer(shops=[spec], http_port=0, https_port=0, cert_dir=tmp_path / "certs") as sandbox:
        yield sandbox.shop("dir-shop")


def test_connect_direction_is_stored_and_survives_a_reconnect(
    warehouse_url: str, woo_shop: ShopHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Prevents `connect --direction` from being ignored, and reconnecting a shop (new credentials) from silently
    resetting the merchant's direction and policies to pull."""
    monkeypatch.setenv("ECOM_PIPELINE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ECOM_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("ECOM_CONSUMER_SECRET", woo_shop.consumer_secret)
    connect = [
        "--warehouse-url", warehouse_url, "connect", "woocommerce", "--tenant", "acme", "--url", woo_shop.http_url,
        "--consumer-key", woo_shop.consumer_key, "--timeout", "5",
    ]  # fmt: skip
    assert cli_main([*connect, "--direction", "push"]) == 0
    assert _settings(warehouse_url, 1)["sync_direction"] == "push"
    assert cli_main(["--warehouse-url", warehouse_url, "integration", "set", "--integration", "1",
                     "--policy", "price=shop"]) == 0  # fmt: skip
    assert cli_main(connect) == 0
    settings = _settings(warehouse_url, 1)
    assert settings["sync_direction"] == "push" and settings["field_policies"] == {"price": "shop"}
    assert cli_main([*connect, "--direction", "bidirectional"]) == 0
    assert _settings(warehouse_url, 1)["sync_direction"] == "bidirectional"
    with pytest.raises(SystemExit):
        cli_main([*connect, "--direction", "sideways"])
    assert "invalid choice: 'sideways'" in capsys.readouterr().err


# --- conflicts list / resolve -----------------------------------------------------------------------------------


def _hub_variant(url: str, tenant: str, price: str = "11.50", sku: str | None = None) -> int:
    """A hub product with one variant (the row a conflict is about); returns the variant's id."""
    now = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    with shared_engine(url).begin() as conn:
        product = conn.execute(
            hub_products.insert()
            .values(tenant_id=tenant, title="Mug", status="active", synced_at=now)
            .returning(hub_products.c.id)
        ).scalar_one()
        return int(
            conn.execute(
                hub_variants.insert()
                .values(tenant_id=tenant, product_id=product, sku=sku or f"MUG-{tenant}", price=Decimal(price),
                        synced_at=now)
                .returning(hub_variants.c.id)
            ).scalar_one()
        )  # fmt: skip


def _conflicts(url: str) -> list[int]:
    """Two conflicts of tenant acme (price held, status decided by policy) and one held of tenant beta."""
    now = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    ids = []
    for tenant in ("acme", "beta"):
        iid = _integration(url, tenant=tenant)
        variant = _hub_variant(url, tenant)
        decisions = merge_record(
            base={"price": "10.00", "status": "active"},
            hub={"price": Decimal("11.50"), "status": "draft"},
            shop={"price": "12.5", "status": "archived"},
            policies={"price": "manual", "status": "shop"},
            direction="bidirectional",
        )
        rows = conflict_rows(
            decisions, tenant_id=tenant, integration_id=iid, entity="variant", hub_id=variant, decided_at=now
        )
        if tenant == "beta":
            rows = rows[:1]
        with shared_engine(url).begin() as conn:
            ids += [conn.execute(sync_conflicts.insert().values(**r).returning(sync_conflicts.c.id)).scalar_one()
                    for r in rows]  # fmt: skip
    return ids


def test_conflicts_list_filters_by_tenant_and_held(warehouse_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Prevents a held conflict from being hidden among policy-decided ones, or another tenant's from showing."""
    price, status, beta = _conflicts(warehouse_url)
    argv = ["--warehouse-url", warehouse_url, "conflicts", "list"]
    assert cli_main([*argv, "--tenant", "acme"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if " variant " in line]
    assert [int(line.split()[0]) for line in lines] == [status, price]
    assert '"11.50"' in out and '"12.5"' in out and "1 held: decide with" in out
    assert cli_main([*argv, "--held"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if " variant " in line]
    assert sorted(int(line.split()[0]) for line in lines) == [price, beta]


def test_conflicts_resolve_records_the_decision_once(warehouse_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Prevents a held conflict's decision from being lost, overwritten by a second decision, made on a conflict
    a policy already decided, or given as a value that is not an exact price."""
    price, status, beta = _conflicts(warehouse_url)
    argv = ["--warehouse-url", warehouse_url, "conflicts", "resolve"]
    assert cli_main([*argv, str(price), "--take", "value", "12.499"]) == 1
    assert "has more than 2 decimals" in capsys.readouterr().err
    assert cli_main([*argv, str(price), "--take", "value", "12.40", "--by", "ana"]) == 0
    assert "took value" in capsys.readouterr().out
    assert cli_main([*argv, str(price), "--take", "hub"]) == 1
    assert "already decided by ana" in capsys.readouterr().err
    assert cli_main([*argv, str(status), "--take", "hub"]) == 1
    assert "is not held" in capsys.readouterr().err
    assert cli_main([*argv, str(beta), "--take", "shop"]) == 0
    assert cli_main([*argv, "999", "--take", "shop"]) == 1
    assert "conflict 999 does not exist" in capsys.readouterr().err
    with shared_engine(warehouse_url).connect() as conn:
        rows = {r.id: r for r in conn.execute(select(sync_conflicts))}
    assert (rows[price].resolved_take, rows[price].resolved_value, rows[price].resolved_by) == ("value", "12.40", "ana")
    assert rows[price].resolved_at is not None and rows[price].applied_at is None
    assert (rows[beta].resolved_take, rows[beta].resolved_value) == ("shop", "12.5")
    assert rows[status].resolved_at is None
    assert cli_main(["--warehouse-url", warehouse_url, "conflicts", "list", "--held"]) == 0
    assert "No held conflicts." in capsys.readouterr().out


@pytest.mark.parametrize(
    "command", [["catalog", "import"], ["catalog", "export"], ["integration", "set"], ["conflicts", "list"],
                ["conflicts", "resolve"]]
)  # fmt: skip
def test_every_two_way_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Prevents a documented two-way command from disappearing or lacking --help."""
    with pytest.raises(SystemExit) as exit_info:
        cli_main([*command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: ecom-pipeline {' '.join(command)}" in capsys.readouterr().out


def _held(url: str, *, entity: str, hub_id: int, field: str, hub: object, shop: object, tenant: str = "acme") -> int:
    """A held conflict on one field of a hub row (as a `manual` policy records it)."""
    now = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    iid = _integration(url, tenant=tenant)
    with shared_engine(url).begin() as conn:
        return int(
            conn.execute(
                sync_conflicts.insert()
                .values(tenant_id=tenant, integration_id=iid, entity=entity, hub_id=hub_id, field=field,
                        base_value=None, hub_value=hub, shop_value=shop, policy="manual", resolution="held",
                        decided_at=now)
                .returning(sync_conflicts.c.id)
            ).scalar_one()
        )  # fmt: skip


@pytest.mark.parametrize("field", ["vendor", "shopify_product_type"])
def test_a_decided_shopify_product_field_is_written_to_the_hub(warehouse_url: str, field: str) -> None:
    """Prevents a lost update: a decision on vendor or product type was marked applied without being written, and
    the next push then overwrote the shop's value, the one the person chose."""
    from ecom_pipeline.sync.conflicts import resolve_conflict
    from ecom_pipeline.sync.resolve.decisions import apply_decisions

    variant = _hub_variant(warehouse_url, "acme")
    with shared_engine(warehouse_url).connect() as conn:
        product = conn.execute(select(hub_variants.c.product_id).where(hub_variants.c.id == variant)).scalar_one()
    conflict = _held(warehouse_url, entity="product", hub_id=product, field=field, hub="AcmeHub", shop="AcmeShop")
    now = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    with shared_engine(warehouse_url).begin() as conn:
        resolve_conflict(conn, conflict, take="shop", value=None, by="ana", now=now)
        integration_id = conn.execute(
            select(sync_conflicts.c.integration_id).where(sync_conflicts.c.id == conflict)
        ).scalar_one()
        assert apply_decisions(conn, integration_id, now) == 1
    with shared_engine(warehouse_url).connect() as conn:
        assert (
            conn.execute(select(hub_products.c[field]).where(hub_products.c.id == product)).scalar_one() == "AcmeShop"
        )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("weight", "-3", "not a weight"),
        ("sku", "  ", "cannot be empty"),
        ("sku", "S" * 256, "at most 255"),
        ("barcode", "4" * 70, "at most 64"),
        ("price", "123456789012345.00", "too large"),
        ("sale_price", "50.00", "above the variant's price"),
        ("description", "a\x00b", "NUL"),
        ("variants", "present", "take hub or shop"),
    ],
)
def test_a_given_value_the_hub_cannot_hold_is_refused_when_it_is_decided(
    warehouse_url: str, capsys: pytest.CaptureFixture[str], field: str, value: str, message: str
) -> None:
    """Prevents a decided value that the hub column cannot hold (a 70-character barcode in VARCHAR(64)) from
    failing every later resolve of the shop when it is applied, or a negative weight, an empty SKU or a sale price
    above the price from reaching the hub and every shop."""
    variant = _hub_variant(warehouse_url, "acme", price="19.90")
    conflict = _held(warehouse_url, entity="variant", hub_id=variant, field=field, hub="1", shop="2")
    argv = ["--warehouse-url", warehouse_url, "conflicts", "resolve", str(conflict), "--take", "value", value]
    assert cli_main(argv) == 1
    assert message in capsys.readouterr().err
    with shared_engine(warehouse_url).connect() as conn:
        assert (
            conn.execute(select(sync_conflicts.c.resolved_at).where(sync_conflicts.c.id == conflict)).scalar() is None
        )


def test_a_value_for_a_hub_row_deleted_since_is_refused(warehouse_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Prevents a decision on a conflict whose hub row no longer exists from being recorded and 'applied' to
    nothing without a word."""
    conflict = _held(warehouse_url, entity="variant", hub_id=99999, field="price", hub="1.00", shop="2.00")
    argv = ["--warehouse-url", warehouse_url, "conflicts", "resolve", str(conflict), "--take", "value", "3.00"]
    assert cli_main(argv) == 1
    assert "no longer exists" in capsys.readouterr().err


def test_conflicts_list_refuses_a_limit_below_one_and_says_whether_a_decision_was_applied(
    warehouse_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents a SQL traceback for `--limit -1`, and a decision stuck before its apply (a SKU still taken) from
    looking the same as one applied."""
    with pytest.raises(SystemExit):
        cli_main(["--warehouse-url", warehouse_url, "conflicts", "list", "--limit", "-1"])
    assert "must be at least 1" in capsys.readouterr().err
    price, _status, _beta = _conflicts(warehouse_url)
    assert cli_main(["--warehouse-url", warehouse_url, "conflicts", "resolve", str(price), "--take", "shop"]) == 0
    capsys.readouterr()
    assert cli_main(["--warehouse-url", warehouse_url, "conflicts", "list", "--tenant", "acme"]) == 0
    assert "to apply at the next sync" in capsys.readouterr().out


def test_two_people_deciding_one_conflict_at_once_on_sqlite_the_second_is_refused(
    sqlite_warehouse_url: str,
) -> None:
    """Prevents the last of two simultaneous decisions silently replacing the first on SQLite, which ignores
    FOR UPDATE: both read "undecided"; only the first write may find it so (compare-and-set)."""
    from sqlalchemy import event

    from ecom_pipeline.sync.conflicts import ConflictError, resolve_conflict

    url = sqlite_warehouse_url
    variant = _hub_variant(url, "acme")
    conflict = _held(url, entity="variant", hub_id=variant, field="price", hub="11.50", shop="12.50")
    now = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    engine = shared_engine(url)
    with engine.connect() as bob:
        fired: list[bool] = []

        def alice_decides_between_bobs_read_and_write(conn: object, clauseelement: object, *args: object) -> None:
            if fired or not str(clauseelement).lstrip().upper().startswith("SELECT"):
                return
            fired.append(True)
            with engine.begin() as alice:
                resolve_conflict(alice, conflict, take="hub", value=None, by="alice", now=now)

        event.listen(bob, "after_execute", alice_decides_between_bobs_read_and_write)
        with pytest.raises(ConflictError, match="decided by someone else meanwhile"), bob.begin():
            resolve_conflict(bob, conflict, take="shop", value=None, by="bob", now=now)
    with engine.connect() as conn:
        row = conn.execute(select(sync_conflicts).where(sync_conflicts.c.id == conflict)).one()
    assert (row.resolved_by, row.resolved_take) == ("alice", "hub")


def test_a_woocommerce_reconnect_keeps_the_webhook_secret_and_url_its_webhooks_deliver_with(
    warehouse_url: str, woo_shop: ShopHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prevents connecting a WooCommerce shop again (new keys, a new --direction) from dropping the webhook secret
    generated at the first ``--webhook-url`` and the delivery URL: the shop's webhooks keep signing with that secret,
    so without it the receiver answered 401 to every delivery (and WooCommerce disabled the webhooks), and the
    upkeep, without the URL, could not re-enable them."""
    from ecom_pipeline.warehouse import store
    from ecom_pipeline.warehouse.credentials import CredentialCipher, reveal

    monkeypatch.setenv("ECOM_PIPELINE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ECOM_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("ECOM_CONSUMER_SECRET", woo_shop.consumer_secret)
    connect = [
        "--warehouse-url", warehouse_url, "connect", "woocommerce", "--tenant", "acme", "--url", woo_shop.http_url,
        "--consumer-key", woo_shop.consumer_key, "--timeout", "5",
    ]  # fmt: skip
    cipher = CredentialCipher.from_env(tmp_path / "home")

    def secret() -> str:
        with shared_engine(warehouse_url).connect() as conn:
            return reveal(store.load_credentials(conn, 1, cipher)["webhook_secret"])

    assert cli_main([*connect, "--webhook-url", "http://127.0.0.1:8080"]) == 0
    first, url = secret(), _settings(warehouse_url, 1)["webhook_url"]
    assert first and url.startswith("http://127.0.0.1:8080/")
    assert cli_main([*connect, "--direction", "push"]) == 0
    assert secret() == first and _settings(warehouse_url, 1)["webhook_url"] == url
    assert cli_main([*connect, "--webhook-url", "http://127.0.0.1:8080"]) == 0  # registering again reuses it
    assert secret() == first
