"""The webhook receiver: verify, store once in ``webhook_inbox``, answer. Nothing else happens in a request.

Routes::

    POST /webhooks/<platform>/{integration_id}    every registered platform with webhooks: signed and parsed the
                                                  platform's way (its ``WebhookSpec``; e.g. WooCommerce's
                                                  X-WC-Webhook-Signature, base64 HMAC-SHA256 of the raw body)
    POST /webhooks/generic/{integration_id}       X-Ecom-Signature: sha256=<hex of HMAC(ts + "." + body)>,
                                                  X-Ecom-Timestamp (Unix s, at most 5 min skew), for integrations
                                                  of platforms without webhooks of their own
    GET  /webhooks/health                         liveness: the process answers (no database access)
    GET  /healthz                                 readiness: the warehouse answers a ``SELECT 1`` within a few
                                                  seconds (200), else 503, so a load balancer or Kubernetes
                                                  sends deliveries only to replicas that can store them
    ...                                           routes a platform adds (``WebhookSpec.routes``: Shopify's OAuth)

Answers: 200/201 only once the row is committed (a 2xx is a promise the event is durable: shops stop retrying on
it); 200 for a duplicate (already stored) and for a platform's unsigned liveness ping (not stored); 401 for a
missing or wrong signature (nothing stored); 404 for an unknown or disconnected integration, an id that is not
written as one (``[1-9][0-9]*``, within the column's range) or a platform that does not match it; 422 for a
signed body whose unsigned topic header contradicts it (see ``inbox``); 413 for a body over the limit, checked on
Content-Length before reading and counted while reading (a chunked body has no Content-Length); 503 when the
warehouse cannot be written (so the shop retries).

Applying the events is a separate, retried step (``webhooks.apply`` from a Dagster sensor): parsing, API
re-reads and hub writes do not belong in a request that the shop times out after a few seconds.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ecom_pipeline.platforms.registry import webhook_platforms
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher, CredentialError, reveal
from ecom_pipeline.warehouse.engine import default_home, make_engine
from ecom_pipeline.warehouse.types import utcnow
from ecom_pipeline.webhooks import inbox
from ecom_pipeline.webhooks.limits import HeaderLimitMiddleware, ReceiverLimits, uvicorn_options
from ecom_pipeline.webhooks.signatures import verify_generic

log = logging.getLogger("ecom_pipeline.webhooks")

DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024  # products with long HTML stay far below; abuse does not
# serve-webhooks --workers default on PostgreSQL, chosen by measurement on 2 cores (docs/benchmarks.md, receiver
# section: 2 processes beat 1 on rate and p99); SQLite always 1 (one file, one write lock: more processes only
# queue on the lock, measured slower).
POSTGRESQL_WORKERS = 2
INTEGRATION_CACHE_TTL_S = 10.0
NEGATIVE_CACHE_TTL_S = 5.0
# A failed signature reloads the integration (a rotated secret) at most this often per integration and process.
REFRESH_MIN_AGE_S = 1.0
# A readiness probe that hangs is worse than one that fails: probes time out after a few seconds anyway.
HEALTH_TIMEOUT_S = 3.0
GENERIC = "generic"
# The receiver's PostgreSQL pool, per process (per worker): the group writers hold one connection each, the
# integration lookups and /healthz share the rest. No pre-ping: it cost a round trip per group; a connection
# found dead is retried once instead (``store_group``).
RECEIVER_POOL: dict[str, Any] = {"pool_size": 4, "max_overflow": 4, "pool_pre_ping": False}
GENERIC_SECRET_KEYS = ("webhook_secret",)
# integrations.id is a 32-bit INTEGER; anything larger cannot name an integration (and used to overflow: a 500).
MAX_INTEGRATION_ID = 2**31 - 1
INTEGRATION_ID_RULE = (
    f"integration ids are positive integers written in ASCII digits without leading zeros (1 to {MAX_INTEGRATION_ID})"
)


def parse_integration_id(text: str) -> int | None:
    """The integration id a path segment names, or None when it is not the one canonical spelling of one.

    ``int()`` accepts ``0001``, ``+1``, ``1_0``, surrounding spaces and any Unicode digit (``\u0661``), so one
    integration had many URLs; only ``[1-9][0-9]*`` within the column's range is an id.
    """
    if not (0 < len(text) <= 10) or not text.isascii() or not text.isdigit() or text[0] == "0":
        return None
    value = int(text)
    return value if value <= MAX_INTEGRATION_ID else None


@dataclass(frozen=True)
class IntegrationInfo:
    """What the receiver needs about one integration (the secret is the decrypted signing key, or None)."""

    id: int
    tenant_id: str
    platform: str
    active: bool
    # Left out of the repr: a traceback or a log line that prints the info must not print the signing key.
    secret: str | None = field(repr=False)


class IntegrationCache:
    """Integration lookups (decrypted signing secret included) cached for a few seconds per process.

    Why: reading the row and decrypting its credentials for every delivery would cost more than storing it.
    Invalidation rules (each receiver process, each worker, keeps its own cache; nothing is shared):

    - an entry lives ``ttl_s`` (default 10 s); unknown ids are remembered ``NEGATIVE_CACHE_TTL_S`` only, so a
      flood of bogus ids cannot turn into a flood of queries, and a new integration works within seconds;
    - a delivery whose signature fails against a cached secret at least ``REFRESH_MIN_AGE_S`` old reloads the
      integration once and is checked again (:meth:`refresh`): a rotated secret takes effect for the shop's
      first delivery signed with it, not after the TTL, while a flood of bad signatures costs at most one
      query per integration per second;
    - a secret that was rotated away, and a disconnect, take effect within ``ttl_s`` (the old secret is
      still accepted until then: the price of not reading the warehouse per delivery);
    - :meth:`invalidate` drops entries at once (used by the process that changed them, and by tests).
    """

    def __init__(self, engine: Engine, cipher: CredentialCipher, ttl_s: float = INTEGRATION_CACHE_TTL_S) -> None:
        self.engine = engine
        self.cipher = cipher
        self.ttl_s = ttl_s
        # id -> (expires at, loaded at, info); monotonic seconds
        self._entries: dict[int, tuple[float, float, IntegrationInfo | None]] = {}
        self._lock = threading.Lock()

    def invalidate(self, integration_id: int | None = None) -> None:
        with self._lock:
            if integration_id is None:
                self._entries.clear()
            else:
                self._entries.pop(integration_id, None)

    def peek(self, integration_id: int) -> IntegrationInfo | object | None:
        """The cached answer when it is fresh, else ``MISS`` (lets the event loop skip a thread hop on hits)."""
        with self._lock:
            hit = self._entries.get(integration_id)
        if hit is not None and hit[0] > time.monotonic():
            return hit[2]
        return MISS

    def get(self, integration_id: int) -> IntegrationInfo | None:
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(integration_id)
        if hit is not None and hit[0] > now:
            return hit[2]
        return self._reload(integration_id, now)

    def stale(self, integration_id: int) -> bool:
        """Whether the entry is old enough to be reloaded after a failed signature (see the class doc)."""
        with self._lock:
            hit = self._entries.get(integration_id)
        return hit is None or time.monotonic() - hit[1] >= REFRESH_MIN_AGE_S

    def refresh(self, integration_id: int) -> IntegrationInfo | None:
        """Reload now (a signature failed against the cached secret, which may have been rotated)."""
        return self._reload(integration_id, time.monotonic())

    def _reload(self, integration_id: int, now: float) -> IntegrationInfo | None:
        info = self._load(integration_id)
        ttl = self.ttl_s if info is not None else min(self.ttl_s, NEGATIVE_CACHE_TTL_S)
        with self._lock:
            self._entries[integration_id] = (now + ttl, now, info)
        return info

    def _load(self, integration_id: int) -> IntegrationInfo | None:
        with self.engine.connect() as conn:
            try:
                record = store.get_integration(conn, integration_id)
                credentials = store.load_credentials(conn, integration_id, self.cipher)
            except store.IntegrationNotFound:
                return None
            except CredentialError:
                log.error(
                    "integration %s: stored credentials cannot be decrypted; refusing its webhooks", integration_id
                )
                credentials = {}
        secret = None
        for key in _secret_keys(record.platform):
            if credentials.get(key):
                secret = reveal(credentials[key])
                break
        return IntegrationInfo(record.id, record.tenant_id, record.platform, record.active, secret)


MISS = object()


def _secret_keys(platform: str) -> tuple[str, ...]:
    """Where the platform keeps the key its deliveries are signed with, in order of preference."""
    spec = webhook_platforms().get(platform)
    return spec.webhooks.secret_keys if spec is not None and spec.webhooks is not None else GENERIC_SECRET_KEYS


@dataclass(frozen=True)
class _Pending:
    info: IntegrationInfo
    delivery: inbox.Delivery
    body: bytes


class GroupCommitter:
    """Stores deliveries in groups: one transaction for all the deliveries that arrived while the previous group
    was being written, with up to ``writers`` groups in flight at once.

    Why: every delivery in its own transaction meant one commit (and, on SQLite, one turn of the single write
    lock) per request, and two thread hops; the receiver topped out near 550 deliveries/s on 2 cores. Grouping
    adds no waiting of its own (a group is whatever queued meanwhile), and each request is still answered only
    after the transaction holding its row has committed, so a 2xx keeps meaning "stored durably". If a group
    fails, every request in it gets the error (503: the sender retries) and nothing of it is half-stored.

    A second writer lets the next group be sent while the previous one waits for its commit to reach the disk
    (PostgreSQL), so a delivery waits for about one commit instead of up to two. Two groups racing on the same
    delivery key are still exact: ``ON CONFLICT DO NOTHING`` makes the later one wait for the earlier commit and
    report the row as a duplicate. On SQLite the writers queue on the file's single write lock, so one is kept.
    """

    def __init__(self, write: Callable[[list[_Pending]], list[bool]], max_group: int = 256, writers: int = 1) -> None:
        self._write = write
        self._max_group = max_group
        self._writers = max(1, writers)
        self._queue: asyncio.Queue[tuple[_Pending, asyncio.Future[bool]]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()

    async def submit(self, item: _Pending) -> bool:
        """True when this delivery was stored now, False when it was already there (a duplicate)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._task is None or self._task.done():
            self._loop = loop
            self._queue = asyncio.Queue()
            self._task = loop.create_task(self._run(self._queue))
        assert self._queue is not None
        future: asyncio.Future[bool] = loop.create_future()
        self._queue.put_nowait((item, future))
        return await future

    async def _run(self, queue: asyncio.Queue[tuple[_Pending, asyncio.Future[bool]]]) -> None:
        slots = asyncio.Semaphore(self._writers)
        while True:
            first = await queue.get()
            # Wait for a free writer first, then take everything that queued meanwhile: the group is as large
            # as the time the previous writes took made it, with no timer of its own.
            await slots.acquire()
            group = [first]
            while len(group) < self._max_group and not queue.empty():
                group.append(queue.get_nowait())
            task = asyncio.get_running_loop().create_task(self._store(group, slots))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _store(self, group: list[tuple[_Pending, asyncio.Future[bool]]], slots: asyncio.Semaphore) -> None:
        try:
            results = await run_in_threadpool(self._write, [item for item, _ in group])
        except Exception as exc:  # handed to every request of the group
            for _, future in group:
                if not future.done():
                    future.set_exception(exc)
            return
        finally:
            slots.release()
        for (_, future), stored in zip(group, results, strict=True):
            if not future.done():
                future.set_result(stored)


class BodyTooLarge(Exception):
    """The body exceeded the limit while it was being read."""


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than ``limit`` bytes without buffering them (chunked bodies included)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"ok": False, "code": code, "message": message}, status_code=status)


def create_app(
    warehouse_url: str | None = None,
    *,
    engine: Engine | None = None,
    cipher: CredentialCipher | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    cache_ttl_s: float = INTEGRATION_CACHE_TTL_S,
    clock: Callable[[], float] = time.time,
    route_options: Mapping[str, Any] | None = None,
    limits: ReceiverLimits | None = None,
    group_writers: int | None = None,
) -> Starlette:
    """The receiver ASGI app for one warehouse, with the routes platforms add (``WebhookSpec.routes``).

    ``route_options`` maps a platform to what its routes are configured with (Shopify: a ``ShopifyOAuthConfig``;
    default: each platform reads its own configuration from the environment).

    ``cipher`` decrypts the integrations' stored secrets (default: ``ECOM_SECRET_KEY`` or the embedded key file).
    ``engine`` may be given instead of ``warehouse_url`` (tests, benchmarks); engines come from ``make_engine`` so
    SQLite gets WAL and a busy timeout, since the receiver shares the file with run workers.
    ``group_writers``: groups stored at once (default 2 on PostgreSQL, 1 on SQLite; see ``GroupCommitter``).
    """
    if engine is None:
        if warehouse_url is None:
            raise ValueError("create_app needs warehouse_url or engine")
        engine = make_engine(warehouse_url, **RECEIVER_POOL)
    cipher = cipher or CredentialCipher.from_env(default_home())
    integrations = IntegrationCache(engine, cipher, ttl_s=cache_ttl_s)
    # Platforms with a route of their own: their deliveries are signed and described their own way, so the generic
    # route must not accept them (it would skip the platform's checks).
    own_route = {name: spec.webhooks for name, spec in webhook_platforms().items() if spec.webhooks is not None}
    formats = {name: hooks.deliveries for name, hooks in own_route.items()}

    def store_group(items: list[_Pending]) -> list[bool]:
        received_at = utcnow()
        rows = [
            {
                "tenant_id": item.info.tenant_id,
                "integration_id": item.info.id,
                "platform": item.info.platform,
                "delivery": item.delivery,
                "body": item.body,
                "received_at": received_at,
            }
            for item in items
        ]
        try:
            with engine.begin() as conn:  # committed before anyone of the group is answered: a 2xx means durable
                return inbox.insert_deliveries(conn, rows)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        # The pooled connection had died (a PostgreSQL restart or failover; there is no pre-ping, see
        # ``RECEIVER_POOL``): once more on a fresh one. Safe even if the lost transaction did commit: the insert
        # is ON CONFLICT DO NOTHING, so the rows are then reported as duplicates, and still answered 2xx.
        log.warning("warehouse connection lost while storing %d deliveries; retrying on a new one", len(rows))
        with engine.begin() as conn:
            return inbox.insert_deliveries(conn, rows)

    writers = group_writers if group_writers is not None else (1 if engine.dialect.name == "sqlite" else 2)
    committer = GroupCommitter(store_group, writers=writers)

    def verify_and_parse(
        platform: str, info: IntegrationInfo, headers: dict[str, str], body: bytes
    ) -> JSONResponse | inbox.Delivery:
        """The delivery to store, or the answer that refuses it (401 signature, 422 altered headers, ping)."""
        try:
            fmt = formats.get(platform)
            if fmt is not None:
                if fmt.is_ping(headers, body):
                    return JSONResponse({"ok": True, "ping": True})
                reason = fmt.verify(info.secret, headers, body, clock())
                if reason is not None:
                    return _error(401, "bad_signature", reason)
                delivery = fmt.parse(info.id, headers, body, clock())
                sent_topic = fmt.sent_topic(headers)
            else:
                reason = verify_generic(
                    info.secret, body, headers.get("x-ecom-signature"), headers.get("x-ecom-timestamp"), now=clock()
                )
                if reason is not None:
                    return _error(401, "bad_signature", reason)
                delivery = inbox.generic_delivery(info.id, headers, body)
                sent_topic = delivery.topic
        except inbox.DeliveryRefused as refused:
            # Validly signed, so a copy of a real delivery with altered headers: worth a line in the log.
            log.warning("integration %s: delivery refused: %s", info.id, refused.message)
            return _error(422, refused.code, refused.message)
        if delivery.topic != sent_topic.strip()[:64]:
            log.warning(
                "integration %s: %r delivery carries a live record; stored as %r", info.id, sent_topic, delivery.topic
            )
        return delivery

    async def receive(request: Request) -> JSONResponse:
        platform = request.path_params["platform"]
        if platform != GENERIC and platform not in own_route:
            return _error(404, "unknown_platform", f"no webhook receiver for platform {platform!r}")
        integration_id = parse_integration_id(request.path_params["integration_id"])
        if integration_id is None:
            return _error(404, "unknown_integration", INTEGRATION_ID_RULE)
        length = request.headers.get("content-length")
        if length is not None:
            try:
                if int(length) > max_body_bytes:
                    return _error(413, "body_too_large", f"bodies over {max_body_bytes} bytes are refused")
            except ValueError:
                return _error(400, "bad_content_length", "Content-Length is not a number")
        info = integrations.peek(integration_id)
        if info is MISS:
            info = await run_in_threadpool(integrations.get, integration_id)
        assert info is None or isinstance(info, IntegrationInfo)
        if info is None or not info.active:
            return _error(404, "unknown_integration", f"no active {platform} integration {integration_id}")
        if info.platform != platform and (platform != GENERIC or info.platform in own_route):
            own = info.platform if info.platform in own_route else GENERIC
            return _error(
                404,
                "unknown_integration",
                f"integration {integration_id} is a {info.platform} integration, not a {platform} one: its "
                f"deliveries go to /webhooks/{own}/{integration_id}",
            )
        try:
            body = await read_body(request, max_body_bytes)
        except BodyTooLarge:
            return _error(413, "body_too_large", f"bodies over {max_body_bytes} bytes are refused")
        except ClientDisconnect:
            return _error(400, "client_disconnected", "the body was cut off")
        headers = {k.lower(): v for k, v in request.headers.items()}

        outcome = verify_and_parse(platform, info, headers, body)
        if isinstance(outcome, JSONResponse) and outcome.status_code == 401 and integrations.stale(info.id):
            # The cached secret may have been rotated: reload once (at most once a second per integration).
            fresh = await run_in_threadpool(integrations.refresh, info.id)
            if fresh is None or not fresh.active:
                return _error(404, "unknown_integration", f"no active {platform} integration {integration_id}")
            if fresh.secret != info.secret:
                info = fresh
                outcome = verify_and_parse(platform, info, headers, body)
        if isinstance(outcome, JSONResponse):
            return outcome
        delivery = outcome

        try:
            stored = await committer.submit(_Pending(info, delivery, body))
        except SQLAlchemyError as exc:
            # Not stored, so not acknowledged: the shop retries (or counts a failure). Say nothing about the
            # database to the caller.
            log.error("webhook %s for integration %s not stored: %s", delivery.topic, info.id, exc)
            return _error(503, "unavailable", "the delivery could not be stored; retry later")
        return JSONResponse({"ok": True, "duplicate": not stored}, status_code=200)

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    def warehouse_answers() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    async def healthz(_: Request) -> JSONResponse:
        """Readiness: several replicas share one warehouse, and one that cannot reach it would answer every
        delivery with 503; taking it out of rotation sends the shops' deliveries to a replica that can store them.
        The reason goes to the log only (it may name the database host)."""
        try:
            await asyncio.wait_for(run_in_threadpool(warehouse_answers), timeout=HEALTH_TIMEOUT_S)
        except (SQLAlchemyError, TimeoutError) as exc:
            log.error("health check: the warehouse does not answer: %s", type(exc).__name__)
            return JSONResponse({"ok": False, "warehouse": "unavailable"}, status_code=503)
        return JSONResponse({"ok": True, "warehouse": "ok"})

    routes = [
        Route("/webhooks/health", health, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/webhooks/{platform}/{integration_id}", receive, methods=["POST"]),
    ]
    for name, hooks in own_route.items():
        if hooks.routes is not None:
            routes += hooks.routes(engine, cipher, clock, (route_options or {}).get(name))
    app = Starlette(routes=routes, middleware=[Middleware(HeaderLimitMiddleware, limits=limits or ReceiverLimits())])
    app.state.integrations = integrations
    app.state.engine = engine
    return app


def default_workers(warehouse_url: str) -> int:
    """Receiver processes when ``--workers`` is not given: 1 on SQLite; on PostgreSQL ``POSTGRESQL_WORKERS``,
    at most one per core this process may run on."""
    from sqlalchemy.engine import make_url

    if make_url(warehouse_url).get_backend_name() == "sqlite":
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(POSTGRESQL_WORKERS, cores))


def serve(
    host: str = "127.0.0.1",
    port: int = 8787,
    warehouse_url: str | None = None,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    workers: int | None = None,
    log_level: str = "warning",
    limits: ReceiverLimits | None = None,
    **extra_options: Any,
) -> None:
    """Run the receiver with uvicorn until interrupted (``ecom-pipeline serve-webhooks``), with ``limits`` on
    every connection (header size/count, head and body deadlines: see ``webhooks.limits``).

    ``workers`` > 1 forks that many processes sharing the port (``webhooks.workers``): each has its own
    integration cache and connection pool (``RECEIVER_POOL``), so up to ``workers`` x 8 warehouse connections.
    None: :func:`default_workers`.
    """
    import uvicorn

    from ecom_pipeline.warehouse.engine import default_warehouse_url

    limits = limits or ReceiverLimits()
    url = warehouse_url or default_warehouse_url()
    workers = workers if workers is not None else default_workers(url)
    options: dict[str, Any] = {
        "log_level": log_level,
        "access_log": False,
        "server_header": False,
        **uvicorn_options(limits),
        **extra_options,
    }
    if workers <= 1:
        app = create_app(url, max_body_bytes=max_body_bytes, limits=limits)
        uvicorn.run(app, host=host, port=port, **options)
        return

    from ecom_pipeline.webhooks.workers import bind_socket, run_workers

    def child(sock: socket.socket) -> None:
        # Built after the fork: every worker has its own engine, pool and cache.
        app = create_app(url, max_body_bytes=max_body_bytes, limits=limits)
        uvicorn.Server(uvicorn.Config(app, **options)).run(sockets=[sock])

    run_workers(workers, bind_socket(host, port), child)
