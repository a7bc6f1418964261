"""Replay the whole recorded WooCommerce 10.0.2 folder against the emulator with the shared contract checker.

``shared/tools/contract_check/contract_check.py`` is the black-box checker that scored 100% against the real
store (its README). It is run here over both transports the store offers: plain HTTP with OAuth 1.0a and HTTPS
with Basic auth (each replays the auth exchanges recorded on its scheme). Every exchange must PASS; the only
skips allowed are the checker's policy skips (webhook deliveries, the other transport's auth files). A skip
"for lack of data" fails too: the emulator must be able to play every recorded role.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ecom_pipeline.sandbox.server import SandboxServer, ShopHandle, ShopSpec
from ecom_pipeline_tests.paths import shared_dir
from ecom_pipeline_tests.sandbox.conftest import RECORDED, WooClient

CHECKER = shared_dir() / "tools" / "contract_check" / "contract_check.py"


@pytest.fixture(scope="module")
def checked_shop(tmp_path_factory: pytest.TempPathFactory) -> Any:
    if not CHECKER.exists() or not RECORDED.exists():
        pytest.skip(f"contract checker or recordings not found ({CHECKER}, {RECORDED})")
    spec = ShopSpec(name="contract", seed=11, products=60, variable_share=0.4, orders=120, customers=20)
    with SandboxServer(shops=[spec], cert_dir=tmp_path_factory.mktemp("certs")) as sb:
        shop = sb.shop("contract")
        # A paused subscription, so that webhooks-get-single has a webhook to read (paused: no deliveries).
        resp = WooClient(sb, shop).request(
            "POST",
            "/webhooks",
            json={"name": "contract", "topic": "product.updated", "delivery_url": "http://127.0.0.1:9/hook"},
        )
        assert resp.status_code == 201, resp.text
        WooClient(sb, shop).request("PUT", f"/webhooks/{resp.json()['id']}", json={"status": "paused"})
        yield sb, shop


def _run_checker(sb: SandboxServer, shop: ShopHandle, transport: str, out: Path) -> dict[str, Any]:
    key, secret = shop.consumer_key, shop.consumer_secret
    if transport == "https":
        base, auth = shop.https_url, ["--auth", f"basic:{key}:{secret}", "--ca-bundle", sb.ca_bundle]
    else:
        base, auth = shop.http_url, ["--auth", f"oauth1:{key}:{secret}"]
    cmd = [
        sys.executable,
        str(CHECKER),
        "--platform",
        "woocommerce",
        "--base-url",
        f"{base}/wp-json/wc/v3",
        "--recordings",
        str(RECORDED),
        "--json",
        str(out),
        *auth,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text())


@pytest.mark.parametrize("transport", ["http", "https"])
def test_every_recorded_woocommerce_exchange_passes_the_contract_checker(
    transport: str, checked_shop: Any, tmp_path: Path
) -> None:
    """Prevents any drift from the real shop in a recorded exchange (status, headers, error bodies, shapes, paging)."""
    sb, shop = checked_shop
    result = _run_checker(sb, shop, transport, tmp_path / f"{transport}.json")
    summary = result["summary"]
    failed = [f"{e['file']}: {e['reason']}" for e in result["exchanges"] if e["status"] == "FAIL"]
    assert failed == [], "\n".join(failed)
    not_played = [
        f"{e['file']}: {e['reason']}"
        for e in result["exchanges"]
        if e["status"] == "SKIP" and e.get("skip_kind") != "policy"
    ]
    assert not_played == [], "\n".join(not_played)
    recorded = {p.stem for p in RECORDED.glob("*.json")}
    seen = {e["file"] for e in result["exchanges"]}
    assert recorded - seen <= {"webhook-deliveries-summary"}, recorded - seen
    assert summary["replayed"] >= 70 and summary["failed"] == 0
    assert summary["assertions_passed"] == summary["assertions_total"]
