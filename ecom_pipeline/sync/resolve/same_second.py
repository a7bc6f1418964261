"""Which shop records carry their link's own modification time but other content: a second that holds two states.

Shops stamp modification times in whole seconds (WooCommerce ``date_modified_gmt``, Shopify ``updatedAt``), so two
edits of one record in one second carry the same time. Resolve skips a record only when it is strictly older than
its link (``core.is_older``): an equal time cannot tell the later of two same-second states from the earlier one.
For a poll that is right (the poll read the record after the link's state was written, so a different content is
the later state). For a webhook body it is not: Shopify renders a body when the event happens and retries it for
up to 48 hours, so a late retry of the *earlier* state carries the same time as the later state the hub already
holds, and applying it would put the hub back to the earlier state until the record changes again (a poll would
not repair it: the time is unchanged, so the record reads as unchanged).

``webhooks.apply`` asks :func:`same_second_changes` which of a batch's body records are such a case, and re-reads
those from the shop: the shop's current state is the only authority for a second that holds two states. The
answer uses resolve's own diff (``products._diff``, ``core.diff_records``), so "would change the hub" means the
same here as in resolve: our own push's echo (the same content) is no case and costs no call.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.engine import Connection

from ecom_pipeline.sync.resolve.core import ResolveCounts, diff_records
from ecom_pipeline.sync.resolve.products import _diff, _load
from ecom_pipeline.warehouse import store

# Entities whose records have a link of their own carrying the shop's modification time.
LINKED_ENTITIES = ("product", "order", "customer")


def same_time(incoming: datetime | None, link: Row[Any] | None) -> bool:
    """True when a live link holds exactly ``incoming`` as the shop's modification time."""
    return (
        incoming is not None
        and link is not None
        and link.deleted_at is None
        and link.external_updated_at is not None
        and incoming == link.external_updated_at
    )


def same_second_changes(
    conn: Connection, *, tenant_id: str, integration_id: int, entity: str, records: Sequence[Any]
) -> set[str]:
    """External ids of canonical ``records`` (one shop, one entity) stamped with their link's own time whose content
    would still change the hub (see the module docstring). Records of other times are left to resolve."""
    if entity not in LINKED_ENTITIES or not records:
        return set()
    counts = ResolveCounts()
    if entity == "product":
        lookups = _load(conn, tenant_id, integration_id, records)
        candidates = [p for p in records if same_time(p.updated_at, lookups.product_links.get(p.external_id))]
        return {plan.product.record.external_id for plan in _diff(candidates, lookups, counts)}
    links = store.get_links(conn, integration_id, entity, [r.external_id for r in records])
    candidates = [r for r in records if same_time(r.updated_at, links.get(r.external_id))]
    return {item.record.external_id for item in diff_records(candidates, links, counts)}
