"""The per-tenant lock across real processes, on the test backend (PostgreSQL under CI) and on a SQLite file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

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


def _postgresql_engine(warehouse_url: str):  # type: ignore[no-untyped-def]
    engine = shared_engine(warehouse_url)
    if engine.dialect.name != "postgresql":
        pytest.skip("session locks and their fencing are PostgreSQL's (this test runs under CI=true)")
    return engine


def test_a_holder_whose_lock_session_ended_commits_nothing_over_the_new_holder(warehouse_url: str) -> None:
    """Prevents two applies of one tenant at once when a live holder loses its lock session (a network partition
    longer than the keepalive, a server restart): another run takes the lock, and the old holder's next commit is
    rolled back with ``TenantLockLost`` instead of landing beside the new holder's writes."""
    import threading

    from sqlalchemy import text

    from ecom_pipeline.warehouse.locks import _FENCES, TenantLockLost

    engine = _postgresql_engine(warehouse_url)
    table = f"fence_probe_{os.getpid()}"
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {table} (x int)"))
    try:
        with tenant_lock(engine, "fenced-tenant", purpose="old holder"):
            with engine.begin() as conn:  # while the lock is ours, commits go through
                conn.execute(text(f"INSERT INTO {table} VALUES (1)"))
            (fence,) = _FENCES.get()
            with engine.connect() as admin:  # what the server does when the keepalive probes go unanswered
                admin.execute(text("SELECT pg_terminate_backend(:p)"), {"p": fence.server_pid})
            new_holder: list[str] = []

            def take_over() -> None:
                with tenant_lock(engine, "fenced-tenant", purpose="new holder", timeout_s=10):
                    with engine.begin() as conn:
                        conn.execute(text(f"INSERT INTO {table} VALUES (2)"))
                    new_holder.append("applied")

            thread = threading.Thread(target=take_over)
            thread.start()
            thread.join(timeout=30)
            assert new_holder == ["applied"]
            with pytest.raises(TenantLockLost) as caught, engine.begin() as conn:
                conn.execute(text(f"INSERT INTO {table} VALUES (3)"))
            assert "fenced-tenant" in str(caught.value) and "rolled back" in str(caught.value)
        with engine.connect() as conn:
            assert conn.execute(text(f"SELECT x FROM {table} ORDER BY x")).scalars().all() == [1, 2]
        # Outside any lock, commits are not checked.
        with engine.begin() as conn:
            conn.execute(text(f"INSERT INTO {table} VALUES (4)"))
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE {table}"))


def test_a_new_holder_waits_for_a_commit_that_passed_its_fence_check(warehouse_url: str) -> None:
    """Prevents the old holder's commit that passed its check just before its session ended from landing after
    the new holder has read: the new holder waits for it (the fence key is held shared until that COMMIT)."""
    from sqlalchemy import text

    from ecom_pipeline.warehouse.locks import fence_key

    engine = _postgresql_engine(warehouse_url)
    with engine.connect() as in_flight:
        in_flight.execute(text("SELECT pg_advisory_xact_lock_shared(:f)"), {"f": fence_key("barrier-tenant")})
        with pytest.raises(TenantLockTimeout) as caught, tenant_lock(engine, "barrier-tenant", timeout_s=1.0):
            pytest.fail("took the lock while an earlier holder's checked commit was in flight")
        assert "still in flight" in str(caught.value)
        in_flight.commit()
    with tenant_lock(engine, "barrier-tenant", timeout_s=1.0) as held:
        assert held.waited_s < 1.0


def test_every_warehouse_session_probes_its_client(warehouse_url: str) -> None:
    """Prevents an open transaction of a vanished host from holding its row locks and a tenant's fence key for the
    OS's two hours: every warehouse session, not only the lock's, has the lock's keepalive settings."""
    from sqlalchemy import text

    from ecom_pipeline.warehouse.engine import WAREHOUSE_KEEPALIVE

    engine = _postgresql_engine(warehouse_url)
    with engine.connect() as conn:
        shown = {name: int(conn.execute(text(f"SHOW {name}")).scalar() or 0) for name in WAREHOUSE_KEEPALIVE}
    assert shown == WAREHOUSE_KEEPALIVE


def test_the_fence_names_the_lock_session_by_pid_and_start_and_checks_every_lock_held(warehouse_url: str) -> None:
    """Prevents a fence check that passes for the wrong session (after a server restart a new session can get the
    old pid: the check also matches its start time), and one that checks only one of the locks held at once (a
    follower holds its claim and the tenant's lock): the lost one is named."""
    import dataclasses
    from datetime import timedelta

    from sqlalchemy import text

    from ecom_pipeline.warehouse import locks

    engine = _postgresql_engine(warehouse_url)
    with tenant_lock(engine, "follower:two-fences"), tenant_lock(engine, "two-fences"):
        claim, lock = locks._FENCES.get()
        with engine.begin() as conn:
            conn.execute(text("SELECT 1"))
        # The same pid, another session start: what a reused pid looks like to the check.
        token = locks._FENCES.set((claim, dataclasses.replace(lock, server_start=lock.server_start - timedelta(1))))
        try:
            with pytest.raises(locks.TenantLockLost) as caught, engine.begin() as conn:
                conn.execute(text("SELECT 1"))
            assert "'two-fences'" in str(caught.value)
        finally:
            locks._FENCES.reset(token)
        with engine.begin() as conn:
            conn.execute(text("SELECT 1"))


def test_a_lock_timeout_beyond_postgresqls_range_still_takes_a_free_lock_and_nonsense_is_refused(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prevents a long ``ECOM_TENANT_LOCK_TIMEOUT_S`` (more than PostgreSQL's int of milliseconds, ~24 days) from
    failing every lock, contended or not, and ``inf``/``nan`` from failing with an OverflowError deep inside."""
    from ecom_pipeline.warehouse.locks import ENV_LOCK_TIMEOUT, default_timeout_s

    monkeypatch.setenv(ENV_LOCK_TIMEOUT, "3000000")
    with tenant_lock(shared_engine(url), "long-wait") as held:
        assert held.waited_s < 5
    for nonsense in ("inf", "nan", "soon"):
        monkeypatch.setenv(ENV_LOCK_TIMEOUT, nonsense)
        with pytest.raises(ValueError, match="finite number of seconds"):
            default_timeout_s()


def test_the_lock_session_is_exempt_from_the_servers_idle_session_timeout(warehouse_url: str) -> None:
    """Prevents a server (or role) with ``idle_session_timeout`` from ending the lock's session in the middle of
    every long apply (it sits idle meanwhile): the lock would be lost and each such run end with TenantLockLost."""
    from sqlalchemy import text

    from ecom_pipeline.warehouse.locks import prepare_lock_session

    engine = _postgresql_engine(warehouse_url)
    with engine.connect() as conn:
        if int(conn.execute(text("SHOW server_version_num")).scalar() or 0) < 140000:
            pytest.skip("idle_session_timeout is PostgreSQL 14+")
        conn.execute(text("SET idle_session_timeout = '5s'"))  # as a server or role default would
        prepare_lock_session(conn, "a test's apply")
        shown = conn.execute(text("SHOW idle_session_timeout")).scalar()
        conn.invalidate()
    assert shown == "0"


def test_a_keepalive_set_in_the_warehouse_url_is_kept(warehouse_url: str) -> None:
    """Prevents our keepalive defaults from overriding what an operator wrote in the URL's query."""
    from ecom_pipeline.warehouse.engine import make_engine

    engine = _postgresql_engine(warehouse_url)
    separator = "&" if "?" in warehouse_url else "?"
    custom = make_engine(f"{warehouse_url}{separator}keepalives_idle=120")
    try:
        with custom.connect() as conn, engine.connect() as default:
            assert conn.connection.dbapi_connection.info.dsn_parameters["keepalives_idle"] == "120"  # type: ignore[union-attr]
            assert default.connection.dbapi_connection.info.dsn_parameters["keepalives_idle"] == "30"  # type: ignore[union-attr]
    finally:
        custom.dispose()


def test_a_waiter_is_told_the_holder_of_its_own_databases_lock_not_another_databases(
    warehouse_url: str, pg_databases: Any
) -> None:
    """Prevents a wait message naming a session of another database on the same server (advisory locks belong to a
    database: the same tenant in another warehouse is another lock), which sends an operator after the wrong run."""
    from ecom_pipeline.warehouse.locks import _pg_holder, lock_key

    engine = _postgresql_engine(warehouse_url)
    other_url = pg_databases.new("otherwh")
    try:
        other = shared_engine(other_url)
        with tenant_lock(other, "acme", purpose="another warehouse's apply"), engine.connect() as conn:
            assert _pg_holder(conn, lock_key("acme")) is None
    finally:
        shared_engine(other_url).dispose()
        pg_databases.release(other_url)
