"""The per-tenant lock: one apply (transform + resolve into the hub) per tenant at a time, whoever launched it.

Dagster's run queue limits runs per tenant only for runs it dequeues; ``ecom-pipeline sync`` executes in process
outside the queue, and a UI user can launch a job the tag limit does not cover. Two applies of one tenant at once
read the same pending staging rows and both create the hub rows (duplicates, or unique-constraint failures), so
correctness must not depend on who launched what. Every path that applies to the hub (the hub assets, the webhook
apply asset and therefore the CLI, which runs those assets) takes this lock around its apply.

The lock lives with the warehouse, so it holds across processes and hosts that share it, and it is released when
its holder dies (a ``kill -9`` must not lock a tenant out):

- PostgreSQL: a session advisory lock (``pg_advisory_lock``) keyed on a hash of the tenant, held on a connection
  of its own for the duration. The server drops it when that connection ends, including when the process dies.
- SQLite: an exclusive ``flock`` on a lock file beside the database file (``<db>-locks/tenant-<hash>.lock``).
  A SQLite warehouse can only be shared by processes of one host, and the kernel releases the lock when its
  holder's file descriptor closes, including on ``kill -9``. A lease row in the database would need a heartbeat
  and a guess at how long a dead holder keeps it; holding a SQLite write transaction instead would block the
  very writes the holder is making.
- An in-memory SQLite database lives in one process: a process-local lock is enough.

Waiting is bounded (``ECOM_TENANT_LOCK_TIMEOUT_S``, default 30 minutes): a run that cannot get the lock fails with
a message naming the holder, and the seconds waited go into the run metadata (``tenant_lock_wait_s``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

ENV_LOCK_TIMEOUT = "ECOM_TENANT_LOCK_TIMEOUT_S"
DEFAULT_LOCK_TIMEOUT_S = 1800.0
# Namespace mixed into the key so our advisory locks cannot collide with another application's on the same server.
KEY_NAMESPACE = "ecom_pipeline:tenant:"
POLL_S = 0.1

_LOCAL_LOCKS: dict[str, threading.Lock] = {}
_LOCAL_GUARD = threading.Lock()


class TenantLockTimeout(TimeoutError):
    """Another apply of the tenant held its lock for longer than the caller was willing to wait."""


@dataclass
class TenantLock:
    """A held tenant lock: how long it took to get, and on which backend (for run metadata and logs)."""

    tenant_id: str
    backend: str
    waited_s: float = 0.0


def lock_key(tenant_id: str) -> int:
    """The signed 64-bit advisory-lock key of a tenant (stable across processes, hosts and Python versions)."""
    digest = hashlib.sha256((KEY_NAMESPACE + tenant_id).encode()).digest()
    return int(struct.unpack(">q", digest[:8])[0])


def default_timeout_s() -> float:
    raw = os.environ.get(ENV_LOCK_TIMEOUT)
    if not raw:
        return DEFAULT_LOCK_TIMEOUT_S
    try:
        return max(0.0, float(raw))
    except ValueError:
        raise ValueError(f"{ENV_LOCK_TIMEOUT} must be a number of seconds, got {raw!r}") from None


def _holder_label(purpose: str) -> str:
    return f"ecom_pipeline {purpose} pid {os.getpid()} on {socket.gethostname()}"[:63]


def _timeout_message(tenant_id: str, waited: float, holder: str | None) -> str:
    who = f" (held by {holder})" if holder else ""
    return (
        f"tenant {tenant_id!r} is being applied by another run{who}; waited {waited:.0f} s for its lock and gave "
        f"up, so this run applied nothing. Try again when that run has finished (the lock is released as soon as "
        f"it ends, even if it crashes), or raise {ENV_LOCK_TIMEOUT} to wait longer."
    )


@contextlib.contextmanager
def tenant_lock(
    engine: Engine,
    tenant_id: str,
    *,
    purpose: str = "apply",
    timeout_s: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[TenantLock]:
    """Hold the tenant's lock for the ``with`` block; waits at most ``timeout_s`` (then ``TenantLockTimeout``).

    ``on_wait`` is told once, with the holder when known, that the lock is taken and we are waiting: runs log it,
    so a run that sits still says why.
    """
    timeout = default_timeout_s() if timeout_s is None else timeout_s
    backend = engine.dialect.name
    if backend == "postgresql":
        manager = _pg_lock(engine, tenant_id, purpose, timeout, on_wait)
    elif backend == "sqlite":
        database = make_url(str(engine.url)).database
        if database and database != ":memory:" and not database.startswith("file::memory:"):
            manager = _file_lock(Path(database), tenant_id, purpose, timeout, on_wait)
        else:
            manager = _local_lock(f"{id(engine)}:{tenant_id}", tenant_id, timeout, on_wait)
    else:
        raise NotImplementedError(f"no tenant lock for the {backend} dialect; use PostgreSQL or SQLite")
    with manager as held:
        yield held


# How fast PostgreSQL notices that the host holding a tenant lock is gone (power loss, a node lost, a network
# partition: no FIN ever arrives). The lock is a session lock, freed only when the server ends the session, and by
# default the server probes an idle client after the OS's two hours: the tenant's every run would wait for it.
# Probing after 30 s idle, every 10 s, 3 unanswered: the session ends, and the lock is free, about a minute after
# the host vanished. A live holder answers the probes from its kernel, however long its apply runs.
LOCK_KEEPALIVE = {"tcp_keepalives_idle": "30", "tcp_keepalives_interval": "10", "tcp_keepalives_count": "3"}


def prepare_lock_session(conn: Any, purpose: str) -> None:
    """Name the lock's session after its holder (what a waiter is told) and set its keepalive probes, in one
    round trip. Over a Unix socket the keepalive settings do nothing, and PostgreSQL says so by ignoring them."""
    conn.execute(
        text(
            "SELECT set_config('application_name', :n, false), set_config('tcp_keepalives_idle', :idle, false), "
            "set_config('tcp_keepalives_interval', :interval, false), set_config('tcp_keepalives_count', :count, false)"
        ),
        {
            "n": _holder_label(purpose),
            "idle": LOCK_KEEPALIVE["tcp_keepalives_idle"],
            "interval": LOCK_KEEPALIVE["tcp_keepalives_interval"],
            "count": LOCK_KEEPALIVE["tcp_keepalives_count"],
        },
    )


@contextlib.contextmanager
def _pg_lock(
    engine: Engine, tenant_id: str, purpose: str, timeout: float, on_wait: Callable[[str], None] | None
) -> Iterator[TenantLock]:
    key = lock_key(tenant_id)
    started = time.monotonic()
    # A connection of its own, in autocommit: the lock is a session lock, so it must not ride on (or be released
    # with) the transactions the apply commits on other connections.
    conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    held = False
    try:
        prepare_lock_session(conn, purpose)
        held = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        if not held:
            if on_wait is not None:
                on_wait(_pg_holder(conn, key) or "another session")
            while not held:
                remaining = timeout - (time.monotonic() - started)
                if remaining <= 0:
                    raise TenantLockTimeout(
                        _timeout_message(tenant_id, time.monotonic() - started, _pg_holder(conn, key))
                    )
                # Block in the server (woken the moment the holder lets go), but never past our deadline. At least
                # 1 ms: a lock_timeout of 0 means no timeout at all, which a remainder under a millisecond would give.
                wait_ms = max(1, int(remaining * 1000))
                conn.execute(text("SELECT set_config('lock_timeout', :t, false)"), {"t": str(wait_ms)})
                try:
                    conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
                    held = True
                except Exception as exc:
                    if getattr(getattr(exc, "orig", None), "pgcode", None) != "55P03":  # lock_not_available
                        raise
        conn.execute(text("SELECT set_config('lock_timeout', '0', false)"))
        yield TenantLock(tenant_id, "postgresql advisory lock", time.monotonic() - started)
    finally:
        try:
            if held:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.execute(text("SELECT set_config('application_name', '', false)"))
            conn.execute(text("SELECT set_config('lock_timeout', '0', false)"))
            conn.close()
        except Exception:
            # If the unlock could not be confirmed, the connection must not go back to the pool still holding it.
            conn.invalidate()
            conn.close()


def _pg_holder(conn: Any, key: int) -> str | None:
    """Who holds the advisory lock ``key``: the holder's application name, client address and since when."""
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    row = conn.execute(
        text(
            "SELECT a.pid, a.application_name, a.client_addr, a.backend_start FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
            "AND l.classid = :hi AND l.objid = :lo AND l.objsubid = 1 LIMIT 1"
        ),
        {"hi": unsigned >> 32, "lo": unsigned & 0xFFFFFFFF},
    ).first()
    if row is None:
        return None
    name = row.application_name or "a session"
    return f"{name} (server pid {row.pid}, client {row.client_addr or 'local'}, connected {row.backend_start})"


@contextlib.contextmanager
def _file_lock(
    database: Path, tenant_id: str, purpose: str, timeout: float, on_wait: Callable[[str], None] | None
) -> Iterator[TenantLock]:
    import fcntl

    folder = database.parent / f"{database.name}-locks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"tenant-{hashlib.sha256(tenant_id.encode()).hexdigest()[:24]}.lock"
    started = time.monotonic()
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - started
                if not told and on_wait is not None:
                    on_wait(_file_holder(path) or "another process")
                    told = True
                if waited >= timeout:
                    raise TenantLockTimeout(_timeout_message(tenant_id, waited, _file_holder(path))) from None
                time.sleep(min(POLL_S, max(timeout - waited, 0.0)))
        waited = time.monotonic() - started
        # Who holds it, for the message of whoever waits next (the file is never deleted: that would race).
        holder = {
            "tenant": tenant_id,
            "purpose": purpose,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        try:
            yield TenantLock(tenant_id, "sqlite lock file", waited)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _file_holder(path: Path) -> str | None:
    try:
        data = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return None
    if not data:
        return None
    return f"{data.get('purpose', 'apply')} pid {data.get('pid')} on {data.get('host')} since {data.get('since')}"


@contextlib.contextmanager
def _local_lock(
    name: str, tenant_id: str, timeout: float, on_wait: Callable[[str], None] | None
) -> Iterator[TenantLock]:
    with _LOCAL_GUARD:
        lock = _LOCAL_LOCKS.setdefault(name, threading.Lock())
    started = time.monotonic()
    if not lock.acquire(blocking=False):
        if on_wait is not None:
            on_wait("another thread of this process")
        if not lock.acquire(timeout=timeout):
            raise TenantLockTimeout(_timeout_message(tenant_id, time.monotonic() - started, None))
    try:
        yield TenantLock(tenant_id, "process lock", time.monotonic() - started)
    finally:
        lock.release()
