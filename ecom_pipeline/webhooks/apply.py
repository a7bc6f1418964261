"""Apply the webhook inbox: pending deliveries -> staging (the pull's own format) -> the pull's own apply.

Each platform says what a delivery stands for (its registration's ``WebhookSpec.staged_from_delivery``); this
module does the bookkeeping around it:

1. take the tenant's pending deliveries that are due (``next_attempt_at`` empty or past), oldest first;
2. turn each into staged records, and confirm every deletion among them with the shop (``webhooks.confirm``: a
   delete topic is an unsigned header; an unconfirmed deletion dead-letters the delivery); the ones that fail are
   retried later with exponential backoff (30 s x 2^attempts, capped at an hour) and after ``max_attempts``
   become ``dead`` with their error, while the rest of the batch goes on;
   a body whose modification time ties with the one the hub holds (or a staged row, or another body of the batch)
   but whose content differs is replaced by the shop's current record (``webhooks.same_second``): a late retry
   can carry the earlier of two states of one second, which resolve alone would apply;
3. in ONE transaction: lock the inbox rows it will write (PostgreSQL, in id order: the receiver locks the rows it
   re-opens the same way, so the two cannot deadlock), write the staged records and mark their inbox rows
   ``applied`` (status, processed_at), each only if its ``received_at`` is still the one read in step 1: a copy of a
   re-read notice coming meanwhile moved it (``inbox.reopen_notices``), and that row stays pending to be re-read.
   A crash before the commit leaves the deliveries pending; after it, the events are in staging, whose apply is
   itself crash-safe. Two runs racing on the same rows at worst stage a record twice, which apply deduplicates;
4. run :func:`ecom_pipeline.sync.apply.apply_staged` for the touched entities (products, inventory, customers,
   orders, in that order, so orders find their variants and customers), one touched integration at a time, each
   inside a ``sync_runs`` row of stage ``webhook`` (counts, duration, Dagster run id).

Older payloads never overwrite newer hub state: resolve compares the payload's modification time with the one
the entity link holds (``tests: out-of-order deliveries``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Connection, Engine, Row, String, or_, select, tuple_, type_coerce, update

from ecom_pipeline.sync.apply import ApplyReport, apply_staged
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.schema import webhook_inbox
from ecom_pipeline.warehouse.store import IntegrationRecord, StagedRecord
from ecom_pipeline.warehouse.types import utcnow
from ecom_pipeline.webhooks import same_second
from ecom_pipeline.webhooks.confirm import UnconfirmedDelete, confirmer_for

if TYPE_CHECKING:
    from ecom_pipeline.platforms.registry import WebhookSpec

MAX_ATTEMPTS = 8
BASE_BACKOFF_S = 30.0
MAX_BACKOFF_S = 3600.0
MAX_ERRORS = 10
# Entities in the order apply_staged must run them (orders reference variants and customers).
APPLY_ORDER = ("product", "inventory", "customer", "order")

# (integration, topic, body text, resource id, client factory) -> staged records
Planner = Callable[..., list[StagedRecord]]
ClientFactory = Callable[[IntegrationRecord, dict[str, Any]], Any]


class UnsupportedPlatform(LookupError):
    """The platform's registration has no ``WebhookSpec``: the event waits (and retries)."""


def backoff(attempts: int, *, base_s: float = BASE_BACKOFF_S, cap_s: float = MAX_BACKOFF_S) -> timedelta:
    """Delay before attempt ``attempts + 1``: 30 s, 60 s, 120 s, ... capped (a shop down for an hour is common)."""
    return timedelta(seconds=min(cap_s, base_s * (2 ** max(attempts - 1, 0))))


@dataclass
class InboxReport:
    """What one apply did: inbox outcomes, and the hub apply of each touched entity."""

    tenant_id: str
    read: int = 0
    applied: int = 0
    retried: int = 0
    dead: int = 0
    ignored: int = 0
    unconfirmed_deletes: int = 0
    # Deliveries applied (re-read and staged) but not marked applied: a copy re-opened the row meanwhile
    # (``inbox.reopen_notices``; left pending, applied again next), or another apply run marked it first.
    # ``applied`` counts only the rows this run marked.
    reopened: int = 0
    # Bodies tying with the hub's modification time but not its content, replaced by the shop's record (re-read).
    reread_tied: int = 0
    by_topic: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    entities: dict[str, ApplyReport] = field(default_factory=dict)

    def as_metadata(self) -> dict[str, Any]:
        """Plain values for ``MaterializeResult(metadata=...)``."""
        return {
            "dagster/row_count": self.applied,
            "read": self.read,
            "applied": self.applied,
            "retried": self.retried,
            "dead": self.dead,
            "ignored_topics": self.ignored,
            "unconfirmed_deletes": self.unconfirmed_deletes,
            "reopened": self.reopened,
            "reread_tied": self.reread_tied,
            "by_topic": dict(sorted(self.by_topic.items())),
            "errors": list(self.errors),
            "dead_letters": list(self.dead_letters),
            "entities": {name: rep.as_metadata() for name, rep in self.entities.items()},
        }


def _webhooks_of(platform: str) -> WebhookSpec:
    from ecom_pipeline.platforms.registry import platforms

    spec = platforms().get(platform)
    if spec is None or spec.webhooks is None:
        raise UnsupportedPlatform(
            f"no webhook apply for platform {platform!r} (its registration has no webhooks): the delivery is kept "
            "here, and its shops are kept fresh by the scheduled incremental sync"
        )
    return spec.webhooks


def planner_for(platform: str) -> Planner:
    """The platform's ``staged_from_delivery`` (from its registration's ``WebhookSpec``)."""
    return _webhooks_of(platform).staged_from_delivery


def default_client_factory(integration: IntegrationRecord, credentials: dict[str, Any]) -> Any:
    """The platform's ``client_for(integration, credentials)`` (from its registration's ``WebhookSpec``)."""
    return _webhooks_of(integration.platform).client_for(integration, credentials)


def _generation() -> ColumnElement[Any]:
    """A row's generation as stored (``received_at``, read and compared without conversion): a copy of a re-read
    notice moves it (``inbox.reopen_notices``). Raw, so a time stored in another text form on SQLite still compares
    equal to itself (a converted value that never matched would leave its row pending for ever)."""
    return type_coerce(webhook_inbox.c.received_at, String)


def pending_due(engine: Engine, *, tenant_id: str, now: datetime, limit: int) -> list[Row[Any]]:
    """The tenant's pending deliveries whose next attempt is due, oldest first, each with the ``generation`` it had
    when it was taken (see :func:`_mark_applied`)."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(webhook_inbox, _generation().label("generation"))
                .where(
                    webhook_inbox.c.tenant_id == tenant_id,
                    webhook_inbox.c.status == "pending",
                    or_(webhook_inbox.c.next_attempt_at.is_(None), webhook_inbox.c.next_attempt_at <= now),
                )
                .order_by(webhook_inbox.c.id)
                .limit(limit)
            )
        )


def _is_permanent(exc: BaseException) -> bool:
    """No retry can apply the delivery: a platform's ``PermanentEventError``, or a platform without a planner (a
    generic delivery of a polled shop), which waited out 8 retries (8 Dagster runs) before it was dead-lettered."""
    return isinstance(exc, UnsupportedPlatform) or type(exc).__name__ == "PermanentEventError"


def _confirm_deletes(integration: IntegrationRecord, deletes: list[StagedRecord], client: Callable[[], Any]) -> None:
    """Raise :class:`UnconfirmedDelete` unless the shop confirms every deletion (see ``webhooks.confirm``)."""
    confirm = confirmer_for(integration.platform)
    for record in deletes:
        if confirm is None:
            raise UnconfirmedDelete(
                f"{integration.platform} offers no way to confirm a deletion; {record.entity} {record.external_id} "
                "is left to the scheduled reconciliation"
            )
        shown = confirm(client(), record.entity, record.external_id)
        if shown is not None:
            raise UnconfirmedDelete(
                f"the delivery asks to delete {record.entity} {record.external_id}, but {shown}; a deletion the "
                "shop does not confirm is never applied (the delete topic is an unsigned header)"
            )


def _reread_tied(
    integration: IntegrationRecord,
    records: list[StagedRecord],
    tied: set[same_second.RecordKey],
    client: Callable[[], Any],
    fresh: dict[same_second.RecordKey, list[StagedRecord]],
) -> list[StagedRecord]:
    """``records`` of one delivery with each tied record (see ``webhooks.same_second``), and every other record of
    its id (a WooCommerce product's stock rows), replaced by the shop's current record: read once per record and
    batch (``fresh``), however many deliveries of the batch name it."""
    targets = [record for record in records if same_second.key_of(record) in tied]
    reread = _webhooks_of(integration.platform).reread
    if not targets or reread is None:
        return records
    replaced = {str(record.external_id) for record in targets}
    kept = [record for record in records if str(record.external_id) not in replaced]
    for record in targets:
        key = same_second.key_of(record)
        if key not in fresh:
            fresh[key] = reread(
                integration=integration, entity=record.entity, external_id=str(record.external_id), client=client
            )
        kept.extend(fresh[key])
    return kept


def apply_inbox(
    engine: Engine,
    *,
    tenant_id: str,
    run_id: str | None,
    limit: int = 500,
    now: datetime | None = None,
    cipher: CredentialCipher | None = None,
    client_factory: ClientFactory | None = None,
    max_attempts: int = MAX_ATTEMPTS,
    base_backoff_s: float = BASE_BACKOFF_S,
    max_backoff_s: float = MAX_BACKOFF_S,
    transforms: dict[str, dict[str, Callable[[dict[str, Any]], Any]]] | None = None,
) -> InboxReport:
    """Apply up to ``limit`` due deliveries of ``tenant_id`` to the hub (see the module docstring).

    ``cipher`` decrypts credentials for re-reads (default: ``ECOM_SECRET_KEY`` or the embedded key file);
    ``client_factory(integration, credentials)`` builds the API client (tests inject clients; default: the
    platform's own). ``transforms`` maps platform -> entity -> transform (default: the platform registry).
    """
    now = now or utcnow()
    report = InboxReport(tenant_id=tenant_id)
    rows = pending_due(engine, tenant_id=tenant_id, now=now, limit=limit)
    report.read = len(rows)
    if not rows:
        return report
    client_factory = client_factory or default_client_factory
    integrations: dict[int, IntegrationRecord | None] = {}
    clients: dict[int, Any] = {}

    def integration_of(integration_id: int) -> IntegrationRecord | None:
        if integration_id not in integrations:
            with engine.connect() as conn:
                try:
                    integrations[integration_id] = store.get_integration(conn, integration_id)
                except store.IntegrationNotFound:
                    integrations[integration_id] = None
        return integrations[integration_id]

    def client_of(integration: IntegrationRecord) -> Callable[[], Any]:
        def get() -> Any:
            if integration.id not in clients:
                nonlocal cipher
                if cipher is None:
                    from ecom_pipeline.warehouse.engine import default_home

                    cipher = CredentialCipher.from_env(default_home())
                with engine.connect() as conn:
                    credentials = store.load_credentials(conn, integration.id, cipher)
                clients[integration.id] = client_factory(integration, credentials)
            return clients[integration.id]

        return get

    staged: list[StagedRecord] = []
    applied_rows: list[Row[Any]] = []
    failures: list[tuple[Row[Any], str, bool]] = []
    topics: Counter[str] = Counter()
    planned: list[tuple[Row[Any], IntegrationRecord, list[StagedRecord]]] = []
    try:
        for row in rows:
            topics[str(row.topic)] += 1
            integration = integration_of(int(row.integration_id))
            if integration is None:
                failures.append((row, f"integration {row.integration_id} no longer exists", True))
                continue
            if not integration.active:
                # Stored before the disconnect: applying it would read the shop with credentials the merchant
                # withdrew. Kept, dead, with the reason; connecting the shop again resyncs what it changed.
                failures.append((row, f"integration {integration.id} is disconnected; not applied", True))
                continue
            try:
                planner = planner_for(integration.platform)
                records = planner(
                    integration=integration,
                    topic=str(row.topic),
                    body_text=str(row.body),
                    resource_id=row.resource_id,
                    client=client_of(integration),
                )
            except Exception as exc:  # one event must not stop the batch; its error is kept on its row
                failures.append((row, f"{type(exc).__name__}: {exc}"[:2000], _is_permanent(exc)))
                continue
            planned.append((row, integration, records))

        tied = same_second.suspects(
            engine,
            tenant_id=tenant_id,
            records=[record for _, _, records in planned for record in records],
            transforms=lambda entity: _transforms_for(entity, transforms),
        )
        fresh: dict[same_second.RecordKey, list[StagedRecord]] = {}
        for row, integration, records in planned:
            if tied:
                try:
                    records = _reread_tied(integration, records, tied, client_of(integration), fresh)
                except Exception as exc:  # the shop could not answer: the event waits and retries
                    failures.append((row, f"{type(exc).__name__} while re-reading a tied record: {exc}"[:2000], False))
                    continue
            deletes = [record for record in records if record.op == "delete"]
            if deletes:
                try:
                    _confirm_deletes(integration, deletes, client_of(integration))
                except UnconfirmedDelete as exc:
                    failures.append((row, f"UnconfirmedDelete: {exc}"[:2000], True))
                    report.unconfirmed_deletes += 1
                    continue
                except Exception as exc:  # the shop could not answer: the event waits and retries
                    failures.append((row, f"{type(exc).__name__} while confirming a deletion: {exc}"[:2000], False))
                    continue
            if not records:
                report.ignored += 1
            staged.extend(records)
            applied_rows.append(row)
        report.reread_tied = len(fresh)
    finally:
        for client in clients.values():
            close = getattr(client, "close", None)
            if close is not None:
                close()

    with engine.begin() as conn:
        _lock_rows(conn, [int(row.id) for row in applied_rows] + [int(row.id) for row, _, _ in failures])
        store.stage_records(conn, staged, run_id=run_id)
        marked = _mark_applied(conn, applied_rows, now)
        report.reopened = len(applied_rows) - marked
        for row, error, permanent in failures:
            attempts = int(row.attempts) + 1
            dead = permanent or attempts >= max_attempts
            values: dict[str, Any] = {"attempts": attempts, "error": error}
            if dead:
                values.update(status="dead", processed_at=now, next_attempt_at=None)
                report.dead += 1
                report.dead_letters.append({"inbox_id": int(row.id), "topic": row.topic, "error": error[:300]})
            else:
                values["next_attempt_at"] = now + backoff(attempts, base_s=base_backoff_s, cap_s=max_backoff_s)
                report.retried += 1
            if len(report.errors) < MAX_ERRORS:
                report.errors.append(f"inbox {row.id} ({row.topic}, attempt {attempts}): {error[:300]}")
            conn.execute(
                update(webhook_inbox)
                .where(webhook_inbox.c.id == int(row.id), webhook_inbox.c.status == "pending")
                .values(**values)
            )
    report.applied = marked  # rows this run marked applied (not those a copy re-opened meanwhile)
    report.by_topic = dict(topics)

    touched: dict[str, set[int]] = {}
    for record in staged:
        touched.setdefault(record.entity, set()).add(record.integration_id)
    for entity in APPLY_ORDER:
        for integration_id in sorted(touched.get(entity, ())):
            applied = _apply_with_sync_run(
                engine,
                tenant_id=tenant_id,
                entity=entity,
                integration=integration_of(integration_id),
                integration_id=integration_id,
                transforms=_transforms_for(entity, transforms),
                run_id=run_id,
            )
            if entity in report.entities:
                report.entities[entity].merge(applied)
            else:
                report.entities[entity] = applied
    return report


def _lock_rows(conn: Connection, ids: list[int]) -> None:
    """Lock, first in the apply's transaction, every inbox row it will write, in ascending id order (PostgreSQL).

    The receiver locks the rows it re-opens the same way (``inbox.reopen_notices``), so the two can never wait on
    each other in a cycle; an ``UPDATE .. WHERE id IN (..)`` alone locks in whatever order its plan reads the rows.
    SQLite has no row locks (one writer at a time holds the whole database).
    """
    if conn.dialect.name != "postgresql" or not ids:
        return
    for part in store.chunked(sorted(set(ids))):  # ascending chunks: one ascending order overall
        conn.execute(
            select(webhook_inbox.c.id)
            .where(webhook_inbox.c.id.in_(part))
            .order_by(webhook_inbox.c.id)
            .with_for_update()
        )


def _mark_applied(conn: Connection, rows: list[Row[Any]], now: datetime) -> int:
    """Mark ``rows`` applied, each only if it is still pending in the generation read when it was taken; returns
    how many were marked.

    A copy of a re-read notice arriving after the row was taken (the record may already have been re-read before
    the copy's change) moves the row's generation (``inbox.reopen_notices``): that row stays pending and the next
    apply re-reads the record again, rather than the copy's change waiting for the next poll.
    """
    marked = 0
    for part in store.chunked(sorted(rows, key=lambda row: int(row.id))):
        marked += len(
            conn.execute(
                update(webhook_inbox)
                .where(
                    webhook_inbox.c.status == "pending",
                    tuple_(webhook_inbox.c.id, _generation()).in_([(int(row.id), row.generation) for row in part]),
                )
                .values(status="applied", processed_at=now, attempts=webhook_inbox.c.attempts + 1, error=None)
                .returning(webhook_inbox.c.id)
            ).all()
        )
    return marked


def _apply_with_sync_run(
    engine: Engine,
    *,
    tenant_id: str,
    entity: str,
    integration: IntegrationRecord | None,
    integration_id: int,
    transforms: dict[str, Callable[[dict[str, Any]], Any]],
    run_id: str | None,
) -> ApplyReport:
    """Apply one integration's staged ``entity`` records inside a ``sync_runs`` row of stage ``webhook``.

    The row is opened before the work (so its duration is the apply's) and closed with the counts, or with the
    error when the apply fails (which is then raised: the run fails and the sensor asks again).
    """
    with engine.begin() as conn:
        sync_run_id = store.start_sync_run(
            conn,
            tenant_id=tenant_id,
            integration_id=integration_id,
            platform=integration.platform if integration is not None else None,
            entity=entity,
            direction="pull",
            stage="webhook",
            full_refresh=False,
            run_id=run_id,
            cursor_before=None,
        )
    try:
        applied = apply_staged(
            engine,
            tenant_id=tenant_id,
            entity=entity,
            transforms=transforms,
            run_id=run_id,
            integration_ids=[integration_id],
        )
    except Exception as exc:
        with engine.begin() as conn:
            store.finish_sync_run(
                conn,
                sync_run_id,
                status="failed",
                counts={},
                cursor_after=None,
                error=f"{type(exc).__name__}: {exc}"[:2000],
            )
        raise
    with engine.begin() as conn:
        store.finish_sync_run(conn, sync_run_id, status="success", counts=applied.counts, cursor_after=None, error=None)
    return applied


def _transforms_for(
    entity: str, overrides: dict[str, dict[str, Callable[[dict[str, Any]], Any]]] | None
) -> dict[str, Callable[[dict[str, Any]], Any]]:
    """platform -> transform of ``entity``, from the registry (the pull's own transforms)."""
    if overrides is not None:
        return {platform: by_entity[entity] for platform, by_entity in overrides.items() if entity in by_entity}
    from ecom_pipeline.platforms.registry import platforms

    return {name: spec.transforms[entity] for name, spec in platforms().items() if entity in spec.transforms}
