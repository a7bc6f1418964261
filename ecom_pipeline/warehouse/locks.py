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

A PostgreSQL session lock can be lost while its holder lives: a network partition longer than the session's
keepalive (about a minute, ``LOCK_KEEPALIVE``) or a server restart ends the session, and another run then takes the
lock. The holder cannot be told, so every transaction it commits on the warehouse is **fenced** (``_check_fences``,
an engine ``commit`` listener): just before the COMMIT, in the same transaction, it takes a shared advisory lock on
the tenant's fence key and checks that its lock session still holds the tenant's lock; if not, ``TenantLockLost`` is
raised and the transaction rolls back. A new holder, once it has the lock, takes the fence key exclusively for a
moment (``_barrier``): it waits for any fenced commit of the old holder that passed its check, so whatever the old
holder committed is committed before the new holder reads. The window between check and COMMIT is thus closed, not
only narrowed.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import math
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

from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.engine import make_url

ENV_LOCK_TIMEOUT = "ECOM_TENANT_LOCK_TIMEOUT_S"
DEFAULT_LOCK_TIMEOUT_S = 1800.0
# Namespace mixed into the key so our advisory locks cannot collide with another application's on the same server.
KEY_NAMESPACE = "ecom_pipeline:tenant:"
# The fence key of a tenant: taken shared by the holder's commits, exclusively by a new holder (see the module doc).
FENCE_NAMESPACE = "ecom_pipeline:fence:"
POLL_S = 0.1

_LOCAL_LOCKS: dict[str, threading.Lock] = {}
_LOCAL_GUARD = threading.Lock()


class TenantLockTimeout(TimeoutError):
    """Another apply of the tenant held its lock for longer than the caller was willing to wait."""


class TenantLockLost(RuntimeError):
    """The holder's lock session ended while it held the lock (another run may hold it now): nothing is committed."""


@dataclass(frozen=True)
class _Fence:
    """A PostgreSQL tenant lock held in this context: what a commit on ``engine_id`` checks before it commits."""

    engine_id: int
    tenant_id: str
    key: int
    fence_key: int
    server_pid: int
    server_start: datetime  # with the pid, names the lock's session (a pid can be reused after a server restart)


# The locks held by the current thread or task (a ``with tenant_lock`` pushes one, its exit pops it): only the commits
# made under a lock are fenced by it, and another thread's lock (a second holder in the same process) is not checked.
_FENCES: contextvars.ContextVar[tuple[_Fence, ...]] = contextvars.ContextVar("ecom_tenant_fences", default=())


@dataclass
class TenantLock:
    """A held tenant lock: how long it took to get, and on which backend (for run metadata and logs)."""

    tenant_id: str
    backend: str
    waited_s: float = 0.0


def lock_key(tenant_id: str, namespace: str = KEY_NAMESPACE) -> int:
    """The signed 64-bit advisory-lock key of a tenant (stable across processes, hosts and Python versions)."""
    digest = hashlib.sha256((namespace + tenant_id).encode()).digest()
    return int(struct.unpack(">q", digest[:8])[0])


def pg_lock_ids(key: int) -> tuple[int, int]:
    """How ``pg_locks`` shows a bigint advisory key: ``classid`` (high 32 bits) and ``objid`` (low 32 bits)."""
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    return unsigned >> 32, unsigned & 0xFFFFFFFF


def fence_key(tenant_id: str) -> int:
    """The advisory-lock key a holder's commits take shared, and a new holder exclusively (the module doc)."""
    return lock_key(tenant_id, FENCE_NAMESPACE)


def default_timeout_s() -> float:
    raw = os.environ.get(ENV_LOCK_TIMEOUT)
    if not raw:
        return DEFAULT_LOCK_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(f"{ENV_LOCK_TIMEOUT} must be a finite number of seconds, got {raw!r}")
    return max(0.0, value)


# PostgreSQL's lock_timeout is an int of milliseconds: a longer wait is several waits of at most this.
MAX_LOCK_TIMEOUT_MS = 2_147_483_647


def _lock_timeout_ms(remaining_s: float) -> str:
    """``remaining_s`` as a lock_timeout: at least 1 ms (0 would mean no timeout at all), at most the int's range."""
    return str(min(MAX_LOCK_TIMEOUT_MS, max(1, int(remaining_s * 1000))))


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


def command_lock(
    engine: Engine, tenant_id: str, purpose: str, *, dry_run: bool = False
) -> contextlib.AbstractContextManager[TenantLock | None]:
    """The tenant lock of a CLI command that writes (``catalog import``, ``push``, ``stock push``): says on stderr
    whom it waits for, so a command that sits still says why. A dry run writes nothing and does not wait."""
    if dry_run:
        return contextlib.nullcontext()
    import sys

    def waiting(holder: str) -> None:
        print(f"Tenant {tenant_id} is being written by {holder}; waiting for it to finish ...", file=sys.stderr)

    return tenant_lock(engine, tenant_id, purpose=purpose, on_wait=waiting)


# How fast PostgreSQL notices that the host holding a tenant lock is gone (power loss, a node lost, a network
# partition: no FIN ever arrives). The lock is a session lock, freed only when the server ends the session, and by
# default the server probes an idle client after the OS's two hours: the tenant's every run would wait for it.
# Probing after 30 s idle, every 10 s, 3 unanswered: the session ends, and the lock is free, about a minute after
# the host vanished. A live holder answers the probes from its kernel, however long its apply runs.
LOCK_KEEPALIVE = {"tcp_keepalives_idle": "30", "tcp_keepalives_interval": "10", "tcp_keepalives_count": "3"}


def prepare_lock_session(conn: Any, purpose: str) -> tuple[int, datetime]:
    """Name the lock's session after its holder (what a waiter is told), set its keepalive probes and exempt it
    from ``idle_session_timeout`` (PostgreSQL 14+; it sits idle for the whole apply, and a server that ends idle
    sessions would take the lock from every long run), in one round trip. Returns the session's server pid and
    start time, which together name it (what the holder's commits check, ``_check_fences``: a pid alone can be
    reused by another session after a server restart). Over a Unix socket the keepalive settings do nothing, and
    PostgreSQL says so by ignoring them."""
    row = conn.execute(
        text(
            "SELECT pg_backend_pid(), (SELECT backend_start FROM pg_stat_get_activity(pg_backend_pid())), "
            "set_config('application_name', :n, false), "
            "set_config('tcp_keepalives_idle', :idle, false), "
            "set_config('tcp_keepalives_interval', :interval, false), "
            "set_config('tcp_keepalives_count', :count, false), "
            "CASE WHEN current_setting('server_version_num')::int >= 140000 "
            "THEN set_config('idle_session_timeout', '0', false) END"
        ),
        {
            "n": _holder_label(purpose),
            "idle": LOCK_KEEPALIVE["tcp_keepalives_idle"],
            "interval": LOCK_KEEPALIVE["tcp_keepalives_interval"],
            "count": LOCK_KEEPALIVE["tcp_keepalives_count"],
        },
    ).first()
    return int(row[0]), row[1]


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
        server_pid, server_start = prepare_lock_session(conn, purpose)
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
                conn.execute(text("SELECT set_config('lock_timeout', :t, false)"), {"t": _lock_timeout_ms(remaining)})
                try:
                    conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
                    held = True
                except Exception as exc:
                    if getattr(getattr(exc, "orig", None), "pgcode", None) != "55P03":  # lock_not_available
                        raise
        _barrier(conn, tenant_id, timeout - (time.monotonic() - started), started)
        fence = _Fence(id(engine), tenant_id, key, fence_key(tenant_id), server_pid, server_start)
        _install_fence_check(engine)
        token = _FENCES.set((*_FENCES.get(), fence))
        try:
            yield TenantLock(tenant_id, "postgresql advisory lock", time.monotonic() - started)
        finally:
            _FENCES.reset(token)
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


def _barrier(conn: Any, tenant_id: str, remaining: float, started: float) -> None:
    """Wait, as the lock's new holder, for any commit of an earlier holder that passed its fence check (it holds
    the fence key shared until its COMMIT is done), then go on: one round trip when there is none.

    Such a commit can only be in flight when the earlier holder lost its session while alive (module doc). If its
    transaction never ends (its host vanished between check and COMMIT), the server ends that session after its
    keepalive probes (``engine.WAREHOUSE_KEEPALIVE``); the wait is bounded by what is left of the lock timeout.
    """
    conn.execute(text("SELECT set_config('lock_timeout', :t, false)"), {"t": _lock_timeout_ms(remaining)})
    try:
        # A transaction-level lock in an autocommit session: taken, then released when this statement commits.
        conn.execute(text("SELECT pg_advisory_xact_lock(:f)"), {"f": fence_key(tenant_id)})
    except Exception as exc:
        if getattr(getattr(exc, "orig", None), "pgcode", None) != "55P03":  # lock_not_available
            raise
        raise TenantLockTimeout(
            f"tenant {tenant_id!r}: got its lock, but a commit of the run that held it before (which lost its lock "
            f"session while alive) was still in flight after {time.monotonic() - started:.0f} s, so this run applied "
            f"nothing. Try again in a minute (the server ends that run's session once its host stops answering), or "
            f"raise {ENV_LOCK_TIMEOUT} to wait longer."
        ) from None
    finally:
        conn.execute(text("SELECT set_config('lock_timeout', '0', false)"))


def _fence_check(count: int) -> Any:
    """One statement checking ``count`` fences: the subquery in FROM runs first, so every fence key is held (shared)
    before any lock is looked at, and until the COMMIT that follows: a new holder's barrier cannot pass between the
    check and the commit. A lock session is named by its pid and start time (``prepare_lock_session``)."""
    keys = ", ".join(f"pg_advisory_xact_lock_shared(:f{i})" for i in range(count))
    held = ", ".join(
        f"EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.pid = :pid{i} "
        f"AND l.classid = :hi{i} AND l.objid = :lo{i} AND l.objsubid = 1 "
        f"AND (SELECT backend_start FROM pg_stat_get_activity(:pid{i})) = :start{i})"
        for i in range(count)
    )
    return text(f"SELECT {held} FROM (SELECT {keys}) AS fence")


def _check_fences(conn: Connection) -> None:
    """Engine ``commit`` listener: before a transaction made under tenant locks commits, check that the locks are
    still ours (module doc), all in one round trip; raise ``TenantLockLost`` instead, so the transaction rolls
    back."""
    fences = [f for f in _FENCES.get() if f.engine_id == id(conn.engine)]
    if not fences:
        return
    params: dict[str, Any] = {}
    for i, fence in enumerate(fences):
        hi, lo = pg_lock_ids(fence.key)
        params.update(
            {
                f"pid{i}": fence.server_pid,
                f"start{i}": fence.server_start,
                f"hi{i}": hi,
                f"lo{i}": lo,
                f"f{i}": fence.fence_key,
            }
        )
    held = conn.execute(_fence_check(len(fences)), params).one()
    for fence, still_held in zip(fences, held, strict=True):
        if not still_held:
            raise TenantLockLost(
                f"tenant {fence.tenant_id!r}: this run lost its lock while it held it (its lock session, server pid "
                f"{fence.server_pid}, was ended: a network partition longer than about a minute, or a server "
                f"restart), and another run may be applying the tenant now. This transaction was rolled back, so "
                f"nothing of it is in the warehouse; what the run committed before stays, and the next run takes "
                f"up what is left. Nothing to do unless it repeats; then check the network between this host and "
                f"PostgreSQL."
            )


_LISTEN_GUARD = threading.Lock()


def _install_fence_check(engine: Engine) -> None:
    with _LISTEN_GUARD:  # two threads taking their first lock at once must not register it twice
        if not event.contains(engine, "commit", _check_fences):
            event.listen(engine, "commit", _check_fences)


def _pg_holder(conn: Any, key: int) -> str | None:
    """Who holds the advisory lock ``key``: the holder's application name, client address and since when."""
    hi, lo = pg_lock_ids(key)
    row = conn.execute(
        text(
            "SELECT a.pid, a.application_name, a.client_addr, a.backend_start FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
            "AND l.classid = :hi AND l.objid = :lo AND l.objsubid = 1 "
            # Advisory locks belong to a database: the same key in another database of the server is another lock.
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1"
        ),
        {"hi": hi, "lo": lo},
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
