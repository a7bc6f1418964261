"""The CLI tells users what they need: every command has --help, and status shows failures that need a person."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.fernet import Fernet

from ecom_pipeline.cli import build_parser
from ecom_pipeline.cli import main as cli_main
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import webhook_inbox

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
