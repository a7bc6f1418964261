"""The per-tenant lock across real processes, on the test backend (PostgreSQL under CI) and on a SQLite file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.locks import TenantLockTimeout, tenant_lock

HOLDER = """
import sys, time
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.locks import tenant_lock
with tenant_lock(shared_engine(sys.argv[1]), sys.argv[2], purpose="holder test"):
    print("held", flush=True)
    time.sleep(float(sys.argv[3]))
"""


def _hold(url: str, tenant: str, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, tenant, str(seconds)], stdout=subprocess.PIPE, text=True, env=os.environ
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


@pytest.fixture(params=["backend", "sqlite"])
def url(request: pytest.FixtureRequest, warehouse_url: str, sqlite_warehouse_url: str) -> str:
    return warehouse_url if request.param == "backend" else sqlite_warehouse_url


def test_a_second_process_waits_for_the_tenant_lock_and_says_who_holds_it(url: str) -> None:
    """Prevents two applies of one tenant from running at once, and a wait that gives up without saying why."""
    holder = _hold(url, "acme", 30)
    try:
        waits: list[str] = []
        with (
            pytest.raises(TenantLockTimeout) as caught,
            tenant_lock(shared_engine(url), "acme", timeout_s=1.0, on_wait=waits.append),
        ):
            pytest.fail("took a lock another process holds")
        assert "acme" in str(caught.value) and "waited" in str(caught.value)
        assert "holder test" in str(caught.value)
        assert waits, "the wait was not reported"
        # Another tenant is not blocked.
        with tenant_lock(shared_engine(url), "globex", timeout_s=1.0) as held:
            assert held.waited_s < 1.0
    finally:
        holder.kill()
        holder.wait(timeout=30)


def test_the_lock_of_a_process_killed_with_sigkill_is_released(url: str) -> None:
    """Prevents a crashed sync (kill -9) from locking its tenant out until someone cleans up by hand."""
    holder = _hold(url, "acme", 300)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    started = time.monotonic()
    with tenant_lock(shared_engine(url), "acme", timeout_s=20.0) as held:
        assert held.waited_s < 20.0
    assert time.monotonic() - started < 20.0


def test_a_waiter_gets_the_lock_as_soon_as_the_holder_finishes(url: str) -> None:
    """Prevents a waiting run from sleeping long after the tenant came free (or from taking it too early)."""
    holder = _hold(url, "acme", 2)
    try:
        with tenant_lock(shared_engine(url), "acme", timeout_s=60.0) as held:
            assert holder.poll() is not None or held.waited_s >= 1.0
            assert held.waited_s < 30.0
    finally:
        holder.wait(timeout=30)


def test_a_wait_ending_within_a_millisecond_of_its_deadline_still_times_out(url: str) -> None:
    """Prevents a wait without end: a remainder under 1 ms made ``lock_timeout`` 0, PostgreSQL's "no timeout", and
    the waiter blocked until the holder let go (seen once in CI: a 1 s wait that lasted 30 s). Here the wait is
    reported just short of the deadline, so the server-side wait gets well under a millisecond."""
    holder = _hold(url, "acme", 15)
    try:
        t0 = time.monotonic()

        def late(_: str) -> None:
            time.sleep(max(0.0, t0 + 0.9997 - time.monotonic()))

        with (
            pytest.raises(TenantLockTimeout),
            tenant_lock(shared_engine(url), "acme", timeout_s=1.0, on_wait=late),
        ):
            pytest.fail("took a lock another process holds")
        assert time.monotonic() - t0 < 5.0
    finally:
        holder.kill()
        holder.wait(timeout=30)


def test_a_postgresql_lock_session_probes_its_client_so_a_vanished_host_frees_the_lock(warehouse_url: str) -> None:
    """Prevents a tenant from staying locked for the OS's two hours after the host holding its lock vanished (no
    FIN, so only keepalive probes end the session): the lock's session is named after its holder and probes an
    idle client after 30 s, every 10 s, 3 times."""
    engine = shared_engine(warehouse_url)
    if engine.dialect.name != "postgresql":
        pytest.skip("session locks and keepalive probes are PostgreSQL's (this test runs under CI=true)")
    from sqlalchemy import text

    from ecom_pipeline.warehouse.locks import LOCK_KEEPALIVE, prepare_lock_session

    with engine.connect() as conn:
        prepare_lock_session(conn, "a test's apply")
        shown = {name: conn.execute(text(f"SHOW {name}")).scalar() for name in LOCK_KEEPALIVE}
        label = conn.execute(text("SHOW application_name")).scalar()
        conn.invalidate()  # not back to the pool with these settings
    assert shown == LOCK_KEEPALIVE  # over TCP (127.0.0.1), the server applies them
    assert "a test's apply" in str(label)
    assert int(LOCK_KEEPALIVE["tcp_keepalives_idle"]) + 3 * int(LOCK_KEEPALIVE["tcp_keepalives_interval"]) <= 90
