"""Several receiver processes in front of one warehouse: every delivery is stored exactly once.

The receiver is meant to scale by running more copies of it (docs/deploy.md: a Deployment with several replicas
behind one Service). A shop retries a delivery it got no answer for, and a load balancer may send the retry to
another replica while the first is still writing, so the same delivery reaches several processes at the same
moment. Exactly-once storage must then come from the warehouse (the unique ``delivery_key`` and
``INSERT .. ON CONFLICT DO NOTHING``), not from anything a process keeps in memory. These tests start real
``ecom-pipeline serve-webhooks`` processes on different ports against the test's warehouse (PostgreSQL under CI)
and send them the same signed deliveries at once, plus distinct ones.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.engine import make_engine
from ecom_pipeline.warehouse.schema import webhook_inbox
from ecom_pipeline.webhooks.app import create_app
from ecom_pipeline.webhooks.signatures import generic_signature
from ecom_pipeline_tests.webhooks.conftest import WC_SECRET, ReceiverServer, add_integration, recorded_delivery

RECEIVERS = 3
GENERIC_SECRET = "generic-s3cret"
# Every recorded WooCommerce delivery but the ping (which is answered and never stored).
WC_DELIVERIES = [
    "webhook-delivery-order-created-pending",
    "webhook-delivery-order-created-processing",
    "webhook-delivery-product-created-same-delivery-id",
    "webhook-delivery-product-created-simple",
    "webhook-delivery-product-created-variable",
    "webhook-delivery-product-created-variation",
    "webhook-delivery-product-updated-price",
    "webhook-delivery-product-updated-stock-reduced-by-order",
]
SHARED_GENERIC = 12  # generic deliveries sent to every receiver at once
DISTINCT_GENERIC = 30  # generic deliveries sent to one receiver each


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    """Poll the readiness endpoint until the receiver answers 200 (it has reached the warehouse)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"receiver {url} exited with {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}"
            )
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"receiver {url} not ready within {timeout_s}s")


@pytest.fixture
def receivers(warehouse_url: str, tmp_path: Path) -> Iterator[tuple[list[str], dict[str, int]]]:
    """RECEIVERS ``serve-webhooks`` processes on their own ports, one warehouse; yields their URLs and the ids of
    a WooCommerce and a generic integration. The processes read the integrations' secrets with the same
    ECOM_SECRET_KEY, as replicas do in production."""
    key = Fernet.generate_key().decode()
    cipher = CredentialCipher(key)
    engine = make_engine(warehouse_url)
    ids = {
        "woocommerce": add_integration(
            engine,
            cipher,
            platform="woocommerce",
            base_url="http://127.0.0.1:1/recorded",
            credentials={"consumer_key": "ck_x", "consumer_secret": "cs_x", "webhook_secret": WC_SECRET},
        ),
        "generic": add_integration(
            engine,
            cipher,
            platform="etsy",
            base_url="https://etsy.example",
            credentials={"webhook_secret": GENERIC_SECRET},
        ),
    }
    engine.dispose()
    env = {**os.environ, "ECOM_SECRET_KEY": key, "ECOM_PIPELINE_HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path)}
    cli = Path(sys.executable).with_name("ecom-pipeline")
    procs: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for _ in range(RECEIVERS):
            # A free port can be taken by another test between its probe and the receiver's bind (seen in CI:
            # "Address already in use"): a receiver that lost it is started again on another port.
            for attempt in range(5):
                port = _free_port()
                proc = subprocess.Popen(
                    [str(cli), "--warehouse-url", warehouse_url, "serve-webhooks", "--port", str(port)],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                )
                procs.append(proc)
                url = f"http://127.0.0.1:{port}"
                try:
                    _wait_ready(url, proc)
                except AssertionError as err:
                    if "Address already in use" in str(err) and attempt < 4:
                        continue
                    raise
                urls.append(url)
                break
        yield urls, ids
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def _generic(n: int, timestamp: str) -> tuple[dict[str, str], bytes]:
    body = f'{{"id": {n}, "state": "paid", "n": {n}}}'.encode()
    headers = {
        "X-Ecom-Timestamp": timestamp,
        "X-Ecom-Signature": generic_signature(GENERIC_SECRET, timestamp, body),
        "X-Ecom-Topic": "receipt.paid",
    }
    return headers, body


def test_the_same_deliveries_sent_to_several_receivers_at_once_are_stored_exactly_once(
    receivers: tuple[list[str], dict[str, int]], warehouse_url: str
) -> None:
    """Prevents duplicate inbox rows (an event applied twice) or a lost delivery when a shop's retry lands on
    another replica while the first copy is being stored: each shared delivery is released to every receiver
    at the same instant (a barrier per delivery), and exactly one of them reports it as new."""
    urls, ids = receivers
    now = str(int(time.time()))
    shared: list[tuple[str, dict[str, str], bytes]] = [
        (f"/webhooks/woocommerce/{ids['woocommerce']}", *recorded_delivery(name)) for name in WC_DELIVERIES
    ]
    shared += [(f"/webhooks/generic/{ids['generic']}", *_generic(n, now)) for n in range(SHARED_GENERIC)]
    distinct = [(f"/webhooks/generic/{ids['generic']}", *_generic(1000 + n, now)) for n in range(DISTINCT_GENERIC)]

    def send(url: str, path: str, headers: dict[str, str], body: bytes, barrier: threading.Barrier | None) -> dict:
        if barrier is not None:
            barrier.wait(timeout=30)
        response = requests.post(url + path, data=body, headers=headers, timeout=30)
        assert response.status_code == 200, response.text
        return dict(response.json())

    # Tasks are queued a delivery's copies together, so a pool of several groups' width never waits on a barrier
    # whose other parties cannot start (the pool takes tasks in order).
    with ThreadPoolExecutor(max_workers=RECEIVERS * 4) as pool:
        shared_answers = []
        for path, headers, body in shared:
            barrier = threading.Barrier(RECEIVERS)
            shared_answers.append([pool.submit(send, url, path, headers, body, barrier) for url in urls])
        distinct_answers = [
            pool.submit(send, urls[i % RECEIVERS], path, headers, body, None)
            for i, (path, headers, body) in enumerate(distinct)
        ]
        shared_results = [[f.result() for f in copies] for copies in shared_answers]
        distinct_results = [f.result() for f in distinct_answers]

    for copies in shared_results:
        assert sorted(answer["duplicate"] for answer in copies) == [False] + [True] * (RECEIVERS - 1), copies
    assert all(answer["duplicate"] is False for answer in distinct_results)

    engine = make_engine(warehouse_url)
    try:
        with engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(webhook_inbox)).scalar_one()
            keys = conn.execute(select(func.count(func.distinct(webhook_inbox.c.delivery_key)))).scalar_one()
            bodies = sorted(conn.execute(select(webhook_inbox.c.body)).scalars())
    finally:
        engine.dispose()
    assert total == keys == len(shared) + len(distinct)
    sent = sorted(body.decode() for _, _, body in shared + distinct)
    assert bodies == sent  # every delivery is there, byte for byte, once


def test_health_endpoint_reports_whether_the_warehouse_answers(receivers: tuple[list[str], dict[str, int]]) -> None:
    """Prevents a replica that cannot reach the warehouse from staying in rotation (it would answer every
    delivery 503): /healthz is 200 only when the warehouse answers, and says nothing about why it does not."""
    urls, _ = receivers
    for url in urls:
        answer = requests.get(f"{url}/healthz", timeout=5)
        assert answer.status_code == 200 and answer.json() == {"ok": True, "warehouse": "ok"}
    # A warehouse that does not answer: PostgreSQL on a port nothing listens on (connection refused at once).
    missing = make_engine(f"postgresql+psycopg2://postgres@127.0.0.1:{_free_port()}/warehouse")
    app = create_app(engine=missing, cipher=CredentialCipher(Fernet.generate_key().decode()))
    with ReceiverServer(app) as server:
        down = requests.get(f"{server.url}/healthz", timeout=10)
        alive = requests.get(f"{server.url}/webhooks/health", timeout=10)
    missing.dispose()
    assert down.status_code == 503 and down.json() == {"ok": False, "warehouse": "unavailable"}
    assert alive.status_code == 200  # liveness: the process is fine, restarting it would not help
