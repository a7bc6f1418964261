"""Platform-neutral parts of extraction: the run context, the report, and the cursor arithmetic.

A platform's extractor pages through its shop API and hands each page to :func:`stage_page`, which writes the
page's raw payloads to staging and advances the cursor **in one transaction**. That is what makes an interrupted
sync safe: whatever was staged is durable together with the cursor that covers it, and a rerun resumes from the
last committed page (minus the lookback), so nothing is lost and re-read records are deduplicated at apply time.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Engine

from ecom_pipeline.platforms.http import HttpOptions
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.store import IntegrationRecord, StagedRecord

DEFAULT_LOOKBACK = timedelta(minutes=5)
# Seconds between two page-progress log lines of one scan (the first page is always logged).
PROGRESS_LOG_INTERVAL_S = 15.0


@dataclass
class ExtractContext:
    """Everything one extractor needs for one integration and one entity."""

    engine: Engine
    integration: IntegrationRecord
    credentials: dict[str, Any]
    run_id: str | None
    full_refresh: bool = False
    lookback: timedelta = DEFAULT_LOOKBACK
    timeout_s: float = 30.0
    max_retries: int = 5
    request_budget: int | None = None
    per_page: int = 100
    log: logging.Logger | Any = field(default_factory=lambda: logging.getLogger("ecom_pipeline.extract"))
    # When this read began (our clock): stored with the cursor as ``read_at``, it tells the next read which
    # modification times were over when this one read (``settled_before_of``).
    read_started: datetime = field(default_factory=lambda: datetime.now(UTC))
    # The last complete read's ``read_at`` per entity, which this read's page cursors carry (``cursor_json``): read
    # from the stored cursor once, at the first page, not at every page.
    carried_read_at: dict[str, str | None] = field(default_factory=dict)

    def http_options(self) -> HttpOptions:
        """How to reach the shop: its URL, TLS settings and API version, with this run's timeout, retries and
        request budget (one object for the platform client instead of each value handed along)."""
        return HttpOptions.for_integration(
            self.integration,
            timeout=self.timeout_s,
            max_retries=self.max_retries,
            request_budget=self.request_budget,
        )


@dataclass
class ExtractReport:
    """What one extraction did, for ``sync_runs`` and the asset's metadata."""

    entity: str
    rows_fetched: int = 0
    staged: int = 0
    unchanged: int = 0
    tombstoned: int = 0
    pages: int = 0
    api_calls: int = 0
    retries: int = 0
    throttle_wait_s: float = 0.0
    cursor_before: dict[str, Any] | None = None
    cursor_after: dict[str, Any] | None = None
    complete_scan: bool = False
    started: float = field(default_factory=time.monotonic)
    duration_s: float = 0.0
    # Platforms that poll on their own schedule (PrestaShop's poll_interval_s) skip a step without a call.
    skipped: bool = False
    skip_reason: str | None = None
    # Changes this incremental read staged that no webhook had delivered (None: not measured for this step).
    missed_by_webhooks: int | None = None

    def counts(self) -> dict[str, Any]:
        """The counters in the shape ``store.finish_sync_run`` takes."""
        return {
            "rows_fetched": self.rows_fetched,
            "created": 0,
            "updated": 0,
            "unchanged": self.unchanged,
            "deleted": self.tombstoned,
            "failed": 0,
            "api_calls": self.api_calls,
            "retries": self.retries,
            "throttle_wait_s": round(self.throttle_wait_s, 3),
        }

    def metadata(self) -> dict[str, Any]:
        """What the platform reports beyond the common counters (Shopify: throttling, bulk mode, warnings), shown
        in the run's metadata; empty when there is nothing more. Platform reports override it."""
        return {}


@dataclass(frozen=True, order=True)
class CursorKey:
    """A position in a modified-ascending scan: (modified, id). The id breaks ties within one second."""

    modified: datetime
    id: int

    def to_json(self) -> dict[str, Any]:
        return {"modified": self.modified.astimezone(UTC).isoformat(), "id": self.id}

    @classmethod
    def from_json(cls, value: dict[str, Any] | None) -> CursorKey | None:
        if not value or not value.get("modified"):
            return None
        modified = datetime.fromisoformat(value["modified"])
        if modified.tzinfo is None:
            modified = modified.replace(tzinfo=UTC)
        return cls(modified=modified, id=int(value.get("id") or 0))


def since_for(cursor: CursorKey | None, lookback: timedelta, full_refresh: bool) -> datetime | None:
    """The ``modified_after`` to ask for: the cursor minus the lookback, or None for a full scan.

    The lookback catches records whose change committed after a later-stamped record was read (shops stamp the
    modification time before committing), and absorbs clock skew and one-second timestamp resolution.
    """
    if full_refresh or cursor is None:
        return None
    return cursor.modified - lookback


def cursor_after_full_scan(newest: CursorKey | None, scan_started: datetime) -> CursorKey | None:
    """The cursor a full scan may leave behind: never later than the moment the scan started.

    A full scan reads in id order (or as a bulk export), so a record read early and changed later in the scan is
    not read again; setting the cursor to the newest time seen would put that change behind the cursor for good.
    Capping at the scan's start makes the next incremental read (which starts a lookback earlier still) see it.
    """
    if newest is None:
        return None
    cap = CursorKey(scan_started.astimezone(UTC), 0)
    return newest if newest <= cap else cap


def add_client_stats(report: ExtractReport, stats: Any) -> None:
    """Add a client's HTTP counters (``HttpStats``: calls, retries, time waited for the shop) to the report."""
    report.api_calls += stats.api_calls
    report.retries += stats.retries
    report.throttle_wait_s += stats.throttle_wait_s


def staged_record(
    integration: IntegrationRecord,
    entity: str,
    external_id: str,
    payload: Any,
    *,
    source_updated_at: datetime | None = None,
    op: str = "upsert",
    read_now: bool = False,
) -> StagedRecord:
    """One staging row of ``integration``: tenant, integration id and platform are always copied from it, so a
    record can never be staged under another shop's tenant (a delete has ``payload`` None and ``op="delete"``)."""
    return StagedRecord(
        tenant_id=integration.tenant_id,
        integration_id=integration.id,
        platform=integration.platform,
        entity=entity,
        external_id=external_id,
        payload=payload,
        op=op,
        source_updated_at=source_updated_at,
        read_now=read_now,
    )


def staged_with_time(
    integration: IntegrationRecord,
    entity: str,
    external_id: str,
    payload: Any,
    time_of: Callable[[Any], datetime | None],
    *,
    op: str = "upsert",
    read_now: bool = False,
) -> StagedRecord:
    """:func:`staged_record` stamped with ``time_of(payload)``, the shop's modification time, as a webhook planner
    stages a body or a re-read: None when the payload has none it can read (the transform rejects it with the field
    named at apply time, rather than the planner failing the delivery)."""
    updated: datetime | None = None
    if payload is not None:
        try:
            updated = time_of(payload)
        except ValueError:  # TransformError and CanonicalError are ValueErrors
            updated = None
    return staged_record(integration, entity, external_id, payload, source_updated_at=updated, op=op, read_now=read_now)


@dataclass(frozen=True)
class PageItem:
    """One record of a listed page that must be staged: its id, the raw payload and the shop's modification time."""

    external_id: str
    payload: Any
    updated: datetime | None


def default_external_id(item: Any) -> str | None:
    """The ``id`` of a listed record as text, None when it has none."""
    value = item.get("id") if isinstance(item, dict) else None
    return None if value in (None, "") else str(value)


def changed_items(
    ctx: ExtractContext,
    report: ExtractReport,
    *,
    link_entity: str,
    items: Sequence[Any],
    seen: set[str],
    record_time: Callable[[Any], datetime | None],
    settled_before: datetime | None,
    external_id: Callable[[Any], str | None] = default_external_id,
) -> tuple[list[PageItem], CursorKey | None]:
    """The page loop every polling extract shares: count the page, note the ids seen (for tombstones), find the
    page's newest (modified, id) for the cursor, and keep only the records the hub does not already hold in this
    version (same modification time as their link, in a second before ``settled_before``: see :func:`is_unchanged`;
    a full refresh keeps all).

    ``settled_before`` comes from the stored cursor (:func:`settled_before_of`): the start of the last read minus
    the lookback. None (no cursor yet, or one stored before reads noted their start) trusts no time: every record
    is staged and resolve compares values.

    A record without an id is kept under a placeholder id, so the transform rejects it with its payload visible
    rather than the extract dropping it. ``record_time`` returns None for a record whose time it cannot read (the
    transform names the field).
    """
    report.pages += 1
    report.rows_fetched += len(items)
    ids = [i for i in (external_id(item) for item in items) if i is not None]
    with ctx.engine.connect() as conn:
        links = store.get_links(conn, ctx.integration.id, link_entity, ids)
    newest: CursorKey | None = None
    changed: list[PageItem] = []
    for index, item in enumerate(items):
        item_id = external_id(item)
        updated = record_time(item)
        if item_id is None:
            item_id = f"missing-id-{report.rows_fetched}-{index}"
        else:
            seen.add(item_id)
        if updated is not None and item_id.isdigit():
            key = CursorKey(updated, int(item_id))
            newest = key if newest is None or key > newest else newest
        if not ctx.full_refresh and is_unchanged(links.get(item_id), updated, settled_before):
            report.unchanged += 1
            continue
        changed.append(PageItem(item_id, item, updated))
    return changed, newest


def later(a: CursorKey | None, b: CursorKey | None) -> CursorKey | None:
    """The later of two cursor positions (None is before everything)."""
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def stage_page(
    ctx: ExtractContext,
    *,
    entity: str,
    records: Sequence[StagedRecord],
    cursor: CursorKey | None,
    advance_cursor: bool,
) -> None:
    """Write one page's records and (optionally) the cursor that covers them, atomically."""
    with ctx.engine.begin() as conn:
        if records:
            store.stage_records(conn, records, run_id=ctx.run_id)
        if advance_cursor and cursor is not None:
            # The read is not complete yet: the cursor keeps the last complete read's start (cursor_json).
            if entity not in ctx.carried_read_at:
                ctx.carried_read_at[entity] = (store.get_cursor(conn, ctx.integration.id, entity) or {}).get("read_at")
            store.set_cursor(
                conn,
                integration_id=ctx.integration.id,
                tenant_id=ctx.integration.tenant_id,
                entity=entity,
                cursor=cursor_json(ctx, cursor, read_at=ctx.carried_read_at[entity]),
            )


class ProgressLog:
    """Page-progress lines at most every ``interval_s`` seconds, the first at once.

    Under Dagster every log line is an event written and committed to the run's event log (~45 ms each on a busy
    machine): one line per page cost ~13 s of a 10,000-product WooCommerce full sync (300 pages), for lines nobody
    reads page by page. A long scan still shows it is moving.
    """

    def __init__(self, log: logging.Logger | Any, interval_s: float = PROGRESS_LOG_INTERVAL_S) -> None:
        self._log = log
        self._interval_s = interval_s
        self._next = 0.0

    def page(self, message: str) -> None:
        now = time.monotonic()
        if now >= self._next:
            self._log.debug(message)
            self._next = now + self._interval_s


def stage_tombstones(
    ctx: ExtractContext,
    *,
    entity: str,
    link_entity: str,
    seen: Iterable[str],
    still_present: Callable[[list[str]], set[str]] | None = None,
) -> int:
    """After a complete scan, stage a delete for every linked id the shop no longer lists.

    Only ever called once the whole listing was read: a partial scan must never turn unseen records into
    tombstones, which is why interrupted full refreshes delete nothing. ``still_present`` asks the shop about the
    unseen ids directly: a listing paged by page number shifts when a record is deleted during the scan, and the
    record that slid onto an already-read page was never seen although it is alive. Ids it returns are spared.
    """
    seen_set = set(seen)
    with ctx.engine.connect() as conn:
        linked = store.active_external_ids(conn, ctx.integration.id, link_entity)
        # A delete already staged and not yet applied (the extract's own scan, then an id reconciliation in the
        # same run; or a webhook) is not staged again, so each deletion is counted once.
        linked -= store.pending_deletes(conn, ctx.integration.id, entity)
    missing = sorted(linked - seen_set)
    if missing and still_present is not None:
        alive = still_present(missing)
        missing = [external_id for external_id in missing if external_id not in alive]
    with ctx.engine.begin() as conn:
        if missing:
            store.stage_records(
                conn,
                [staged_record(ctx.integration, entity, external_id, None, op="delete") for external_id in missing],
                run_id=ctx.run_id,
            )
    return len(missing)


def is_unchanged(link: Any, source_updated_at: datetime | None, settled_before: datetime | None) -> bool:
    """True when the hub already holds this exact version of the record: the link has the same shop modification
    time, and that time is before ``settled_before`` (a second that was over when the link's reading was taken).

    Shops stamp modification times in whole seconds (PrestaShop ``date_upd``, WooCommerce ``date_modified_gmt``,
    Shopify ``updatedAt``). A reading taken within its record's second (our push's read-back always is: it follows
    our own write) can be followed by another edit in that second, which leaves the time where it was: equal times
    then hide a change. So a recent time proves nothing; the record is staged again and resolve compares its values
    with the link's base: our own write (the echo) changes nothing, a merchant's edit in the same second is taken.
    """
    if link is None or source_updated_at is None or settled_before is None:
        return False
    if getattr(link, "deleted_at", None) is not None:
        return False
    known = getattr(link, "external_updated_at", None)
    return known is not None and known == source_updated_at and source_updated_at < settled_before


MIN_SETTLE = timedelta(seconds=2)


def settled_before_of(cursor: dict[str, Any] | None, lookback: timedelta) -> datetime | None:
    """The time before which an equal modification time proves a record unchanged (:func:`is_unchanged`).

    Every incremental read re-reads the records modified since its cursor minus the lookback, and the stored
    cursor notes when the last read began (``read_at``, our clock). A record modified more than the lookback (the
    clock skew we allow between shop and pipeline, as for the cursor itself) before that was read by it after its
    second was over, and so was any link written later from a reading of that same time; a push or webhook after
    that read writes times after it. None without a ``read_at`` (a first read, or a cursor older than the rule).
    Every entity: a product can be edited again in the second of our own write (our read-back took its time), and
    any record in the second a poll read it (an order created and paid within one second, read between the two).
    """
    read_at = (cursor or {}).get("read_at")
    if not read_at:
        return None
    when = datetime.fromisoformat(str(read_at))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    # At least the second the read started in, and one more for a shop clock a little ahead of ours: with a
    # lookback of 0 a record stamped in the very second the read began (read in it) would be trusted.
    return when - max(lookback, MIN_SETTLE)


def cursor_json(ctx: ExtractContext, cursor: CursorKey, *, read_at: str | None) -> dict[str, Any]:
    """A cursor as stored: its position and ``read_at`` (see :func:`settled_before_of`): the start of the last
    *complete* read. A page's cursor carries the previous one (``stage_page``); only a read that got to its end
    stores its own start (``read_started_at``, ``finish_read``). A read that stopped partway (an error, a request
    budget) may not have reached a record of a recent second; had it stored its start, the next read would trust
    that record's equal time and a merchant's edit within the second would never be pulled."""
    return {**cursor.to_json(), **({"read_at": read_at} if read_at else {})}


def read_started_at(ctx: ExtractContext) -> str:
    """This read's start as ``read_at`` stores it, once the read is complete."""
    return ctx.read_started.astimezone(UTC).isoformat()


def finish_read(ctx: ExtractContext, entity: str) -> None:
    """A complete read of ``entity``: its start becomes the stored cursor's ``read_at`` (:func:`cursor_json`)."""
    with ctx.engine.begin() as conn:
        current = store.get_cursor(conn, ctx.integration.id, entity)
        if current is None:
            return  # nothing read yet: no time to trust
        store.set_cursor(
            conn,
            integration_id=ctx.integration.id,
            tenant_id=ctx.integration.tenant_id,
            entity=entity,
            cursor={**current, "read_at": read_started_at(ctx)},
        )
    ctx.carried_read_at[entity] = read_started_at(ctx)


T = TypeVar("T")
_DONE = object()


def prefetch(source: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Iterate ``source`` in a background thread, up to ``depth`` items ahead.

    Downloading a page is waiting on the network and staging it is work on our side; overlapping the two is what
    keeps a sync close to the time the pages take to download. Errors of the source are raised in the consumer at
    the point they happened; stopping early (an exception in the consumer) stops the producer too.
    """
    buffer: queue.Queue[Any] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def offer(item: Any) -> bool:
        """Put unless the consumer has gone; never blocks for good (a full buffer nobody reads)."""
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in source:
                if not offer(item):
                    return
            offer(_DONE)
        except BaseException as exc:  # handed to the consumer
            offer(exc)
        finally:
            close = getattr(source, "close", None)
            if callable(close):
                close()  # the page generator's own cleanup (its HTTP session) runs in this thread

    thread = threading.Thread(target=produce, name="ecom-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=30)
