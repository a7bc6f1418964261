"""The webhook inbox: what a delivery is (key, topic, resource), and storing it exactly once.

Parsing here is deliberately shallow: the receiver must answer in milliseconds and must never lose a signed
delivery because its body surprised us, so it only pulls out the identifiers it indexes (topic, resource id, event
id, when it happened) and stores the raw body untouched. Interpreting the payload is the apply step's job.

What is signed, and what is a hint
----------------------------------
WooCommerce (``X-WC-Webhook-Signature``) and Shopify (``X-Shopify-Hmac-Sha256``) sign the raw body only. The topic,
resource, event, webhook id, delivery id, event id and trigger time travel in headers nobody signed: anyone holding
one captured delivery can re-send its body with other headers. So headers are hints, and what the receiver stores
is decided by the signed body wherever the body can say it:

- the body's own kind (WooCommerce ``_links.collection``/its fields, Shopify ``admin_graphql_api_id``) must agree
  with the topic: a product topic carrying an order is refused (:class:`DeliveryRefused`, answered 422);
- a delete topic whose body is a live record (it carries the record's modification time; WooCommerce and Shopify
  send only ``{"id": N}`` for deletions) is stored as the update that body is, never as a delete;
- delete topics are hints even then: the apply step confirms each deletion with the shop before tombstoning.

Delivery keys (``webhook_inbox.delivery_key``, unique) must identify one delivery, so a retried delivery is
stored once, two different deliveries are never merged, and no unsigned header can make a copy look new:

- WooCommerce and Shopify: sha256 of what the body is about (its kind, or for an id-only body the topic's resource,
  one of a few known names) and the raw body. The shop renders the body when it sends (WooCommerce) or when the
  event happens (Shopify, whose retries resend the same bytes), so two deliveries with the same body carry the same
  state of the same record: storing one of them loses nothing. ``X-WC-Webhook-Delivery-ID`` would not do anyway:
  it is a hash of the webhook id and the current Unix second, shared by every delivery of that second (see
  webhook-delivery-product-created-same-delivery-id.json), and ``X-Shopify-Webhook-Id`` is unsigned.
- A body that carries no time of its own (the ``{"id": N}`` of a deletion, an error body) is the same bytes every
  time that record is deleted, so its key adds when it arrived (our clock, never a header): Shopify the hour (its
  retries resend the same bytes for hours), WooCommerce the second. WooCommerce never resends a delivery, and a
  product trashed, restored and trashed again within the hour sends the same ``{"id": N}`` twice: keyed by the
  hour, the second trash was answered as a duplicate and never applied. Deletions are confirmed with the shop
  before they apply, so a replayed one costs one read at most once per such period.
- Generic: sha256 of the signed timestamp and the body (both signed; a sender's retry with a new timestamp is
  stored again and applies idempotently).

Every key is prefixed with the platform and the integration id, so two shops can never collide.

What one row may hold is bounded: the body by the receiver's body limit, the kept headers by count and length.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from ecom_pipeline.warehouse.schema import webhook_inbox
from ecom_pipeline.warehouse.store import dialect_insert, without_nul

# Headers worth keeping with the body (audit, replay, re-verification); everything else is transport noise. Each
# platform names its own (``WebhookSpec.known_headers`` / ``header_prefixes``); these are the generic route's.
KEPT_HEADERS = ("content-type", "user-agent")
GENERIC_HEADER_PREFIX = "x-ecom-"
GENERIC_HEADERS = tuple(
    f"x-ecom-{n}" for n in ("topic", "signature", "timestamp", "delivery-id", "resource-id", "triggered-at")
)
# What one row's headers may hold: real deliveries send about ten short headers.
MAX_KEPT_HEADERS = 24
MAX_KEPT_HEADER_CHARS = 512


def _header_rules() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(known headers, kept prefixes): the documented headers first (every platform's, then the generic route's)."""
    from ecom_pipeline.platforms.registry import webhook_platforms

    formats = [spec.webhooks.deliveries for spec in webhook_platforms().values() if spec.webhooks is not None]
    known = (*KEPT_HEADERS, *(h for f in formats for h in f.KNOWN_HEADERS), *GENERIC_HEADERS)
    prefixes = (*(f.HEADER_PREFIX for f in formats), GENERIC_HEADER_PREFIX)
    return tuple(dict.fromkeys(known)), tuple(dict.fromkeys(prefixes))


class DeliveryRefused(ValueError):
    """A signed delivery whose unsigned headers contradict its body: refused, nothing stored (answered 422)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def delivery_url(base_url: str, platform: str, integration_id: int) -> str:
    """``<receiver base>/webhooks/<platform>/<integration id>``: the route the receiver serves (``webhooks.app``).

    One definition, so the URL a platform registers with its shop and the route that receives it cannot drift.
    """
    return f"{base_url.rstrip('/')}/webhooks/{platform}/{integration_id}"


def refuse_topic_mismatch(header: str, topic: str, resource: str, kind: str | None, kinds: Iterable[str]) -> None:
    """Refuse a delivery whose unsigned topic header names another kind of record than its signed body.

    Shops sign only the body, so a topic header saying ``orders/...`` on a product's body was altered in transit;
    storing it would apply a product as an order. Unknown kinds (``kind`` None, or a topic outside ``kinds``)
    pass: there is nothing signed to compare with.
    """
    if kind is not None and resource in kinds and kind != resource:
        raise DeliveryRefused(
            "topic_mismatch",
            f"{header} says {topic!r} but the signed body is a {kind}; the topic header is not signed, "
            "so this delivery was altered after the shop sent it",
        )


@dataclass(frozen=True)
class SentTopic:
    """A delivery's unsigned topic header, checked against what its signed body is.

    ``subject`` is what the delivery key is grouped under: the body's own kind when it says, else the header's
    resource when it is one we know, else ``other``.
    """

    topic: str
    resource: str
    event: str
    webhook_id: str | None
    body: dict[str, Any] | None
    kind: str | None
    subject: str


@dataclass(frozen=True)
class TopicFormat:
    """How a platform sends its topic: the header names, the resource/event separator, and how to tell what a
    signed body is (``kind_of``, one of ``kinds`` or None)."""

    topic_header: str
    id_header: str
    separator: str
    kind_of: Callable[[dict[str, Any] | None], str | None]
    kinds: tuple[str, ...]


def read_sent_topic(headers: Mapping[str, str], body: bytes, fmt: TopicFormat) -> SentTopic:
    """Read the topic and webhook id headers, parse the body, and refuse a topic its signed body contradicts."""
    topic = headers.get(fmt.topic_header, "").strip()[:64] or "unknown"
    parsed = json_object(body)
    resource, _, event = topic.partition(fmt.separator)
    kind = fmt.kind_of(parsed)
    refuse_topic_mismatch(fmt.topic_header, topic, resource, kind, fmt.kinds)
    return SentTopic(
        topic=topic,
        resource=resource,
        event=event,
        webhook_id=headers.get(fmt.id_header, "").strip() or None,
        body=parsed,
        kind=kind,
        subject=kind or (resource if resource in fmt.kinds else "other"),
    )


@dataclass(frozen=True)
class Delivery:
    """One verified delivery, ready to be stored."""

    delivery_key: str
    topic: str
    resource_id: str | None
    event_id: str | None
    webhook_id: str | None
    triggered_at: datetime | None
    headers: dict[str, str]


def kept_headers(headers: dict[str, str]) -> dict[str, str]:
    """The headers stored with a delivery (lower-cased names), bounded in count and length per value.

    The ones the platforms document come first, so padding sent ahead of them cannot push them out.
    """
    known_headers, prefixes = _header_rules()
    kept: dict[str, str] = {}
    for name in known_headers:
        if name in headers:
            kept[name] = headers[name][:MAX_KEPT_HEADER_CHARS]
    for name, value in headers.items():
        if len(kept) >= MAX_KEPT_HEADERS:
            break
        if name not in kept and (name in KEPT_HEADERS or name.startswith(prefixes)):
            kept[name[:64]] = value[:MAX_KEPT_HEADER_CHARS]
    return kept


def json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def parse_time(value: Any) -> datetime | None:
    """ISO-8601 -> aware UTC; naive values are UTC (WooCommerce ``*_gmt``); nanoseconds are cut to micro."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    if "." in text:  # Shopify sends 9 fractional digits; Python parses at most 6
        head, _, rest = text.partition(".")
        digits = "".join(ch for ch in rest if ch.isdigit())
        tail = rest[len(digits) :]
        text = f"{head}.{digits[:6]}{tail}" if digits else head + tail
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def resource_id(body: dict[str, Any] | None) -> str | None:
    if not body:
        return None
    for key in ("id", "inventory_item_id"):
        value = body.get(key)
        if isinstance(value, int | str) and not isinstance(value, bool) and str(value).strip():
            return str(value)
    return None


def body_hash(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else part.encode("utf-8"))
        digest.update(b"\x00")  # separator: ("ab", "c") and ("a", "bc") must not hash alike
    return digest.hexdigest()


def shows_live_record(body: dict[str, Any] | None, *time_fields: str) -> bool:
    """Whether a body renders a live record: deletion bodies carry the id only, never a modification time."""
    if not body or body.get("status") == "trash":
        return False
    return any(body.get(name) for name in time_fields)


KEY_HOUR_S = 3600


def arrival_unless_timed(
    body: dict[str, Any] | None, now: float | None, *time_fields: str, period_s: int = KEY_HOUR_S
) -> int | None:
    """The period (``period_s`` seconds, our clock) a body that carries no time of its own arrived in, as part of
    its key; None for a timed body."""
    if body and any(body.get(name) for name in time_fields):
        return None
    return int((time.time() if now is None else now) // period_s)


def hour_unless_timed(body: dict[str, Any] | None, now: float | None, *time_fields: str) -> int | None:
    """The hour a body that carries no time of its own arrived in (part of its key); None for a timed body."""
    return arrival_unless_timed(body, now, *time_fields, period_s=KEY_HOUR_S)


def generic_delivery(integration_id: int, headers: dict[str, str], body: bytes) -> Delivery:
    """A verified generic delivery: keyed on the signed timestamp and body; X-Ecom-* headers are hints."""
    topic = headers.get("x-ecom-topic", "").strip()[:64] or "generic"
    delivery_id = headers.get("x-ecom-delivery-id", "").strip()
    parsed = json_object(body)
    return Delivery(
        delivery_key=f"generic:{integration_id}:{body_hash('ts', headers.get('x-ecom-timestamp', '').strip(), body)}",
        topic=topic,
        resource_id=resource_id(parsed) or headers.get("x-ecom-resource-id", "").strip() or None,
        event_id=delivery_id or None,
        webhook_id=None,
        triggered_at=parse_time(headers.get("x-ecom-triggered-at")),
        headers=kept_headers(headers),
    )


def insert_delivery(
    conn: Connection,
    *,
    tenant_id: str,
    integration_id: int,
    platform: str,
    delivery: Delivery,
    body: bytes,
    received_at: datetime,
) -> bool:
    """INSERT .. ON CONFLICT (delivery_key) DO NOTHING; True when this call stored it (False: a duplicate).

    One statement, no read-before-write: two copies of a delivery racing on two receivers both succeed, and
    exactly one row exists afterwards.
    """
    stmt = (
        dialect_insert(conn, webhook_inbox)
        .values(
            tenant_id=tenant_id,
            integration_id=integration_id,
            platform=platform,
            delivery_key=delivery.delivery_key,
            topic=delivery.topic[:64],
            headers=delivery.headers,
            body=body.decode("utf-8", "replace"),
            received_at=received_at,
            event_id=delivery.event_id,
            webhook_id=delivery.webhook_id,
            resource_id=delivery.resource_id,
            triggered_at=delivery.triggered_at,
            status="pending",
            attempts=0,
            next_attempt_at=None,
        )
        .on_conflict_do_nothing(index_elements=[webhook_inbox.c.delivery_key])
    )
    return bool(conn.execute(stmt).rowcount)


def _bounded(value: str | None, size: int) -> str | None:
    return None if value is None else value.replace("\x00", "")[:size]


# The receiver's PostgreSQL fast path (see ``insert_deliveries``): one hand-written statement, the constant
# columns written as literals. Column names are checked against the table at import.
_FAST_COLUMNS = (
    "tenant_id",
    "integration_id",
    "platform",
    "delivery_key",
    "topic",
    "headers",
    "body",
    "received_at",
    "event_id",
    "webhook_id",
    "resource_id",
    "triggered_at",
    "status",
    "attempts",
    "next_attempt_at",
)
assert set(_FAST_COLUMNS) <= set(webhook_inbox.c.keys()), "webhook_inbox columns changed: update _FAST_COLUMNS"
_INSERT_SQL = (
    f"INSERT INTO {webhook_inbox.name} ({', '.join(_FAST_COLUMNS)}) VALUES %s "
    "ON CONFLICT (delivery_key) DO NOTHING RETURNING delivery_key"
)
_PG_ROW = "(%s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s, %s, 'pending', 0, NULL)"
# Platforms whose notice is applied by re-reading the record: a copy of a notice already applied (or being applied)
# re-opens its row instead of being dropped (see ``insert_deliveries`` and ``reopen_notices``).
REQUEUE_PLATFORMS = frozenset({"prestashop"})
# How a re-opened row's generation (``received_at``) moves when it must change but no later receipt time is at hand.
GENERATION_STEP = timedelta(microseconds=1)


def _utc(value: datetime | None) -> datetime | None:
    """What ``UTCDateTime`` binds on PostgreSQL: an aware UTC time (a naive one is refused, as there)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} given: inbox timestamps must be timezone-aware")
    return value.astimezone(UTC)


def insert_deliveries(conn: Connection, rows: list[dict[str, Any]]) -> list[bool]:
    """Many deliveries in ONE statement (INSERT .. ON CONFLICT DO NOTHING RETURNING delivery_key).

    ``rows`` hold the keyword arguments of :func:`insert_delivery` (without ``conn``). Returns, per row, whether
    it was stored by this call; a key repeated within ``rows`` is stored once, for its first occurrence. One
    statement instead of one per delivery is what lets a group of deliveries cost one round trip on PostgreSQL.

    The statement is written by hand (PostgreSQL: psycopg2's ``execute_values`` on the connection's own cursor;
    SQLite: one multi-row statement through ``exec_driver_sql``; both in the caller's transaction): SQLAlchemy
    compiles a multi-row VALUES afresh for every group size (its cache cannot help), which cost about 270 us
    of CPU per delivery on the receiver's one core, more than everything else in a request together. Values
    still go through the columns' own bind processing where it matters (``UTCDateTime``'s SQLite text form).

    **Re-read notices** (``REQUEUE_PLATFORMS``: PrestaShop). A PrestaShop notice's key is its signed timestamp (in
    seconds) and its body, so two notices of the same change kind for the same record in one second share a key.
    A notice carries no data and is applied by re-reading the record (idempotent), so a copy must not be dropped
    when the first notice's re-read may already have happened: the insert is still the plain ``DO NOTHING``
    statement for every row of every group, and the PrestaShop keys it did not store are then re-opened by
    :func:`reopen_notices` (a second statement, only for those keys). A copy of an *applied* row is reported as
    stored; a copy of a pending one as a duplicate (its row is re-applied if an apply had already taken it). Every
    other platform's copy stays a plain duplicate: no row of theirs is read, locked or changed.
    """
    if not rows:
        return []
    values = [
        {
            "tenant_id": r["tenant_id"],
            "integration_id": r["integration_id"],
            "platform": r["platform"],
            "delivery_key": r["delivery"].delivery_key,
            "topic": r["delivery"].topic[:64],
            "headers": without_nul(r["delivery"].headers),
            # PostgreSQL text cannot hold U+0000 (see store.without_nul); the signature was checked on the raw bytes.
            "body": r["body"].decode("utf-8", "replace").replace("\x00", "\ufffd"),
            "received_at": r["received_at"],
            # Ids from headers are the sender's: bounded to the column sizes so one odd delivery cannot fail the
            # whole group it is stored with.
            "event_id": _bounded(r["delivery"].event_id, 128),
            "webhook_id": _bounded(r["delivery"].webhook_id, 64),
            "resource_id": _bounded(r["delivery"].resource_id, 128),
            "triggered_at": r["delivery"].triggered_at,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": None,
        }
        for r in rows
    ]
    # Rows go in by key, not by arrival: two groups in flight at once (the receiver stores two per process, times
    # its workers) that share keys in opposite orders (a double-fired or retried delivery) would otherwise each
    # wait on the other's uncommitted key until PostgreSQL kills one as a deadlock, failing every delivery of that
    # group with a 5xx. The sort is stable, so a key repeated in the group is still stored for its first copy.
    in_key_order = sorted(values, key=lambda v: str(v["delivery_key"]))
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg2":
        stored = _insert_postgresql(conn, in_key_order)
    elif conn.dialect.name == "sqlite":
        stored = _insert_sqlite(conn, in_key_order)
    else:
        insert = dialect_insert(conn, webhook_inbox).values(in_key_order)
        stmt = insert.on_conflict_do_nothing(index_elements=[webhook_inbox.c.delivery_key])
        stored = set(conn.execute(stmt.returning(webhook_inbox.c.delivery_key)).scalars())
    copies: dict[str, datetime] = {}
    for value in in_key_order:
        key = str(value["delivery_key"])
        if value["platform"] in REQUEUE_PLATFORMS and key not in stored:
            copies.setdefault(key, value["received_at"])
    if copies:
        stored |= reopen_notices(conn, copies)
    result: list[bool] = []
    for value in values:
        key = value["delivery_key"]
        result.append(key in stored)
        stored.discard(key)  # later copies of the same key in this group are duplicates
    return result


def reopen_notices(conn: Connection, copies: Mapping[str, datetime]) -> set[str]:
    """Re-open the rows of re-read notices (``REQUEUE_PLATFORMS``) a copy arrived for: delivery key -> when the
    copy was received. Returns the keys whose row was *applied* and is pending again (answered as stored).

    What a copy means depends on where its row is:

    - ``applied``: the first notice's re-read is done, and the copy may tell of a later change. The row goes back
      to ``pending`` as a new delivery: ``received_at`` becomes the copy's receipt (so the latency KPI, the sensor's
      staleness and the overdue-pending check measure the work now pending, not the gap between the two notices),
      ``processed_at``/``error`` are cleared and ``attempts`` starts again (a full retry budget for the new re-read).
    - ``pending``: the re-read is still to come, unless an apply has already taken the row and re-read the record
      (it cannot be told from here). So the row's generation moves: ``received_at`` by one microsecond (the first
      receipt is kept, to the microsecond), and the apply marks a row applied only if ``received_at`` is still the
      one it read when it took the row (``webhooks.apply``); otherwise the row stays pending and is applied again.
    - ``dead``: kept as it is (a dead letter is evidence; the copy names the same record).

    Either way ``next_attempt_at`` becomes the copy's receipt unless a retry is scheduled later, so the sensor,
    whose cursor follows new ids and due retry times, sees a row due again.

    ``received_at`` always moves forward (at least by ``GENERATION_STEP``), even when the copy's receiver clock is
    behind the one that stored the row: the apply's comparison must see every re-open as a change.

    **Lock order.** On PostgreSQL the rows are locked with ``SELECT .. ORDER BY id FOR UPDATE`` (rows are locked in
    the sort's order) before they are changed, and the apply locks every inbox row it will write the same way, first
    in its transaction (``webhooks.apply``). So inbox row locks are always taken in ascending id order, each side
    taking all of its own in one sweep: the apply before it writes anything, the receiver after its insert. That
    insert locks no existing row; like any unique insert it may wait for a transaction changing one of its keys
    (another receiver's new row, in key order, or a row the apply or another receiver is updating), but it then
    holds nothing except its own new rows, which no apply has read and no other receiver re-opens before they are
    committed. Every wait therefore goes to a higher lock than the waiter holds, and no cycle (deadlock) can form.
    Only PrestaShop rows that conflicted are locked here: a WooCommerce or Shopify copy is the plain insert, as it
    always was. SQLite has no row locks: the receiver's transaction holds the database's write lock from its insert
    on, so the read and the writes here see no other writer in between.
    """
    c = webhook_inbox.c
    rows = conn.execute(
        select(c.id, c.delivery_key, c.status, c.received_at, c.next_attempt_at)
        .where(
            c.delivery_key.in_(sorted(copies)),
            c.platform.in_(sorted(REQUEUE_PLATFORMS)),
            c.status.in_(("applied", "pending")),
        )
        .order_by(c.id)
        .with_for_update()
    ).all()
    reopened: set[str] = set()
    for row in rows:
        received = copies[str(row.delivery_key)]
        later = row.received_at + GENERATION_STEP
        due = received if row.next_attempt_at is None else max(received, row.next_attempt_at)
        values: dict[str, Any] = {"next_attempt_at": due}
        if row.status == "applied":
            values.update(status="pending", received_at=max(received, later), processed_at=None, error=None, attempts=0)
            reopened.add(str(row.delivery_key))
        else:
            values["received_at"] = later
        conn.execute(update(webhook_inbox).where(c.id == row.id).values(**values))
    return reopened


def _insert_sqlite(conn: Connection, values: list[dict[str, Any]]) -> set[str]:
    """The group's INSERT as one multi-row statement with the columns' own bind processors (JSON text, naive-UTC
    time text exactly as ``UTCDateTime`` writes it)."""
    dialect = conn.dialect
    processors = {
        name: webhook_inbox.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        for name in ("headers", "received_at", "triggered_at")
    }
    variable = [name for name in _FAST_COLUMNS if name not in ("status", "attempts", "next_attempt_at")]
    row = "(" + ", ".join("?" for _ in variable) + ", 'pending', 0, NULL)"
    params: list[Any] = []
    for v in values:
        for name in variable:
            value = v[name]
            processor = processors.get(name)
            params.append(processor(value) if processor is not None and value is not None else value)
    statement = _INSERT_SQL.replace("VALUES %s", "VALUES " + ", ".join(row for _ in values))
    return set(conn.exec_driver_sql(statement, tuple(params)).scalars())


def _insert_postgresql(conn: Connection, values: list[dict[str, Any]]) -> set[str]:
    """The group's INSERT through psycopg2's ``execute_values`` (one statement for the whole group)."""
    from psycopg2.extras import execute_values  # type: ignore[import-untyped]

    args = [
        (
            v["tenant_id"],
            v["integration_id"],
            v["platform"],
            v["delivery_key"],
            v["topic"],
            json.dumps(v["headers"]),
            v["body"],
            _utc(v["received_at"]),
            v["event_id"],
            v["webhook_id"],
            v["resource_id"],
            _utc(v["triggered_at"]),
        )
        for v in values
    ]
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    cursor = dbapi.cursor()
    try:
        rows = execute_values(cursor, _INSERT_SQL, args, template=_PG_ROW, page_size=len(values), fetch=True)
    finally:
        cursor.close()
    return {row[0] for row in rows}
