"""Webhook bodies that tie with the hub's modification time but carry other content: re-read, never applied as is.

Shops stamp modification times in whole seconds, and a body is rendered when its event happens (Shopify) or when it
is sent (WooCommerce), then retried for hours when the receiver did not answer. So a late retry can carry the
*earlier* of two states of one second, with the very time the hub's link holds for the later one. Resolve skips
only strictly older records (``sync.resolve.core.is_older``), so such a body would put the hub back to the earlier
state, and no poll would repair it: the record's time is unchanged, so it reads as unchanged until it changes
again. The same goes for a body tying with a staged row not applied yet (a poll's page waiting for its hub step),
or with another body of the same apply batch: apply keeps the later staged of two rows of one time.

:func:`suspects` finds these records in an apply batch, before anything is staged, under the tenant lock the
apply holds (so the links it compares with cannot move under it); ``webhooks.apply`` then stages the shop's current
record instead (the platform's ``WebhookSpec.reread``): only the shop can say which state is the later. The
comparison is resolve's own (``sync.resolve.same_second``), on the same canonical records: a body equal to what the
hub holds (our own push's echo, a duplicate event) is no suspect and costs no call. Records without a time, without
a link, or of an entity without links of its own (stock rows) are left to resolve as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Engine

from ecom_pipeline.sync.resolve.same_second import LINKED_ENTITIES, same_second_changes, same_time
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.store import StagedRecord

# (integration id, entity, external id)
RecordKey = tuple[int, str, str]
Transform = Callable[[dict[str, Any]], Any]


def key_of(record: StagedRecord) -> RecordKey:
    return (int(record.integration_id), record.entity, str(record.external_id))


def suspects(
    engine: Engine,
    *,
    tenant_id: str,
    records: Sequence[StagedRecord],
    transforms: Callable[[str], Mapping[str, Transform]],
) -> set[RecordKey]:
    """The upserts of ``records`` that tie with their link's time and would change the hub, or tie with a staged
    row not applied yet or another body of the batch, of other content. ``transforms(entity)`` maps platform ->
    transform (the registry's)."""
    timed = [
        r
        for r in records
        if r.op == "upsert"
        and r.payload is not None
        and r.source_updated_at is not None
        and r.entity in LINKED_ENTITIES
    ]
    found: set[RecordKey] = set()
    digests = {id(r): store.text_hash(store.payload_text(r.payload)) for r in timed}
    # Two records of one id and one time in this batch, with other content (two bodies, or a body and a re-read):
    # apply would keep the later staged, which may be the earlier state; only the shop can say which is last.
    seen: dict[tuple[RecordKey, Any], str | None] = {}
    for record in timed:
        mine = digests[id(record)]
        if seen.setdefault((key_of(record), record.source_updated_at), mine) != mine:
            found.add(key_of(record))
    # Against the hub and staging: bodies only. A record the planner has just read from the shop is its current
    # state (PrestaShop does not even move a product's date_upd when a combination changes: every such re-read
    # would tie, and be read twice).
    groups: dict[tuple[int, str], list[StagedRecord]] = {}
    for record in timed:
        if not record.read_now:
            groups.setdefault((int(record.integration_id), record.entity), []).append(record)
    if not groups:
        return found
    with engine.connect() as conn:
        for (integration_id, entity), group in groups.items():
            ids = [str(r.external_id) for r in group]
            pending = store.pending_versions(conn, integration_id, entity, ids)
            links = store.get_links(conn, integration_id, entity, ids)
            tied: list[Any] = []
            for record in group:
                versions = pending.get(str(record.external_id), set())
                mine = digests[id(record)]
                if any(when == record.source_updated_at and digest != mine for when, digest in versions):
                    found.add(key_of(record))
                elif same_time(record.source_updated_at, links.get(str(record.external_id))):
                    tied.extend(_canonical(record, transforms(entity)))
            if tied:
                changed = same_second_changes(
                    conn, tenant_id=tenant_id, integration_id=integration_id, entity=entity, records=tied
                )
                found.update((integration_id, entity, external_id) for external_id in changed)
    return found


def _canonical(record: StagedRecord, transforms: Mapping[str, Transform]) -> list[Any]:
    """The canonical records of one staged body; none when its transform refuses it (resolve rejects it later,
    with the reason, as it would have without this check)."""
    transform = transforms.get(record.platform)
    if transform is None:
        return []
    try:
        produced = transform(dict(record.payload or {}))
    except ValueError:
        return []
    if produced is None:
        return []
    return list(produced) if isinstance(produced, list) else [produced]
