"""The public server API and the blocking serve_forever used by the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline.sandbox.woocommerce.auth import credentials_for


def test_urls_and_keys_are_deterministic(sandbox: SandboxServer) -> None:
    """Other modules code against these names; keys must be stable for a given name + seed."""
    shop = sandbox.shop("shop-b")
    assert shop.http_url == f"http://127.0.0.1:{sandbox.http_port}/shop-b"
    assert shop.https_url == f"https://127.0.0.1:{sandbox.https_port}/shop-b"
    assert (shop.consumer_key, shop.consumer_secret) == credentials_for("shop-b", 8)
    assert shop.consumer_key.startswith("ck_") and len(shop.consumer_key) == 43
    assert Path(sandbox.ca_bundle).read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_shops_are_isolated_by_prefix(sandbox: SandboxServer) -> None:
    """One shop's key must not open another shop (each prefix is its own store)."""
    a, b = sandbox.shop("shop-a"), sandbox.shop("shop-b")
    url = f"{b.https_url}/wp-json/wc/v3/products"
    assert requests.get(url, auth=(a.consumer_key, a.consumer_secret), verify=sandbox.ca_bundle).status_code == 401
    resp = requests.get(url, auth=(b.consumer_key, b.consumer_secret), verify=sandbox.ca_bundle)
    assert resp.status_code == 200 and resp.headers["X-WP-Total"] == str(len(b.store.products))


def test_serve_forever_writes_credentials_and_stops_on_sigterm(tmp_path: Path) -> None:
    """The CLI's `sandbox` command depends on the credentials file and a clean SIGTERM shutdown."""
    creds = tmp_path / "creds.json"
    code = (
        "from pathlib import Path\n"
        "from ecom_pipeline.sandbox.server import ShopSpec, serve_forever\n"
        f"serve_forever([ShopSpec(name='cli', products=5, orders=5, customers=2)], '127.0.0.1', 0, 0, "
        f"Path({str(tmp_path / 'certs')!r}), Path({str(creds)!r}))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ})
    try:
        deadline = time.monotonic() + 20
        while not creds.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        data = json.loads(creds.read_text())
        shop = data["shops"]["cli"]
        resp = requests.get(
            f"{shop['https_url']}/wp-json/wc/v3/products",
            auth=(shop["consumer_key"], shop["consumer_secret"]),
            verify=shop["ca_bundle"],
            timeout=10,
        )
        assert resp.status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_context_manager_frees_ports(tmp_path: Path) -> None:
    """Stopping the server must release both listeners (tests start many servers)."""
    with SandboxServer(shops=[ShopSpec(name="tmp", products=3, orders=2, customers=1)], cert_dir=tmp_path) as sb:
        port = sb.http_port
    with SandboxServer(
        shops=[ShopSpec(name="tmp", products=3, orders=2, customers=1)], cert_dir=tmp_path, http_port=port
    ) as sb2:
        assert sb2.http_port == port
