"""``serve-webhooks --workers N`` and the integration cache's invalidation rules (docs/deploy.md, receiver)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.engine import make_engine
from ecom_pipeline.warehouse.schema import webhook_inbox
from ecom_pipeline.webhooks.app import REFRESH_MIN_AGE_S
from ecom_pipeline_tests.webhooks.conftest import WC_SECRET, Receiver, add_integration
from ecom_pipeline_tests.webhooks.woo_deliveries import woo_headers


def _signed(product_id: int, secret: str = WC_SECRET) -> tuple[dict[str, str], bytes]:
    raw = json.dumps(
        {
            "id": product_id,
            "name": f"P{product_id}",
            "type": "simple",
            "stock_status": "instock",
            "date_modified_gmt": "2026-11-22T00:00:00",
        }
    ).encode()
    return woo_headers("product.updated", raw, webhook_id=1, secret=secret), raw


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                found.append(int(entry.name))
    return found


def test_workers_share_the_port_store_exactly_once_and_stop_together(warehouse_url: str, tmp_path: Path) -> None:
    """Prevents ``--workers 2`` from starting one process only, from losing or doubling deliveries spread over
    the workers, and from leaving a worker running after the command is stopped (an orphan holding the port)."""
    key = Fernet.generate_key().decode()
    engine = make_engine(warehouse_url)
    iid = add_integration(
        engine,
        CredentialCipher(key),
        platform="woocommerce",
        base_url="http://127.0.0.1:1/workers",
        credentials={"consumer_key": "ck", "consumer_secret": "cs", "webhook_secret": WC_SECRET},
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "ECOM_SECRET_KEY": key, "ECOM_PIPELINE_HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path)}
    cli = Path(sys.executable).with_name("ecom-pipeline")
    cmd = [str(cli), "--warehouse-url", warehouse_url, "serve-webhooks", "--port", str(port), "--workers", "2"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        workers = _children(proc.pid)
        assert len(workers) == 2

        ids = list(range(1, 201)) + list(range(1, 51))  # 50 exact duplicates

        def send(product_id: int) -> bool:
            headers, raw = _signed(product_id)
            with requests.Session() as session:  # a new connection each: the kernel spreads them over workers
                answer = session.post(f"{base}/webhooks/woocommerce/{iid}", data=raw, headers=headers, timeout=30)
            assert answer.status_code == 200, answer.text
            return bool(answer.json()["duplicate"])

        with ThreadPoolExecutor(max_workers=16) as pool:
            duplicates = sum(pool.map(send, ids))
        assert duplicates == 50
        with engine.connect() as conn:
            rows = conn.execute(select(func.count()).select_from(webhook_inbox)).scalar_one()
            keys = conn.execute(select(func.count(func.distinct(webhook_inbox.c.delivery_key)))).scalar_one()
        assert rows == keys == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
            engine.dispose()
    assert proc.returncode == 0
    assert all(_gone(pid) for pid in workers)


def _gone(pid: int, wait_s: float = 5.0) -> bool:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return True
        time.sleep(0.1)
    return False


def test_a_rotated_secret_is_accepted_at_once_not_after_the_cache_ttl(receiver: Receiver) -> None:
    """Prevents the integration cache from refusing (401) every delivery signed with a freshly rotated webhook
    secret until its entry expires: a failed signature against a cached secret reloads the integration once."""
    url = receiver.endpoint("woocommerce", receiver.wc_integration)
    headers, raw = _signed(1)
    assert requests.post(url, data=raw, headers=headers, timeout=10).status_code == 200  # secret now cached
    # Reconnecting the same shop with a new webhook secret (what a rotation is).
    add_integration(
        receiver.engine,
        receiver.cipher,
        platform="woocommerce",
        base_url="http://127.0.0.1:1/recorded",
        credentials={"consumer_key": "ck_x", "consumer_secret": "cs_x", "webhook_secret": "rotated-secret"},
    )
    time.sleep(REFRESH_MIN_AGE_S + 0.1)
    headers, raw = _signed(2, "rotated-secret")
    answer = requests.post(url, data=raw, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    # A wrong signature is still refused after the reload.
    headers, raw = _signed(3, "not-the-secret")
    assert requests.post(url, data=raw, headers=headers, timeout=10).status_code == 401
