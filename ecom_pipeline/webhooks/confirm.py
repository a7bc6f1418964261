"""Confirming a deletion with the shop before anything is tombstoned.

A delete topic is a header nobody signed, and the body of a real deletion is just ``{"id": N}``: anyone holding one
captured delivery (or any signed body) could ask us to tombstone a live record. So every delete a delivery stands
for is checked with the shop first, by reading that one record (e.g. WooCommerce: ``GET <collection>/<id>`` is 404
or ``status: trash``; Shopify: ``product(id:)`` is ``null``).

Anything else (the record is live) refuses the delete: the delivery is dead-lettered with the shop's answer, and
the hub keeps the record. A shop that cannot be reached makes the delivery wait and retry like any other.

Each platform offers ``WebhookSpec.confirm_deleted(client, entity, external_id) -> str | None`` in its registration
(None: the shop confirms the deletion; else what the shop shows instead). A platform without one cannot have
deletions applied from webhooks: its deletes wait for the scheduled reconciliation, which reads the shop itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# (client, entity, external id) -> None when the shop confirms the deletion, else what it shows instead.
Confirmer = Callable[[Any, str, str], str | None]


class UnconfirmedDelete(Exception):
    """The shop does not confirm a deletion a delivery asked for: the delivery is dead-lettered, never applied."""


def confirmer_for(platform: str) -> Confirmer | None:
    """The platform's ``confirm_deleted``, else None (deletes from webhooks are not applied)."""
    from ecom_pipeline.platforms.registry import platforms

    spec = platforms().get(platform)
    return spec.webhooks.confirm_deleted if spec is not None and spec.webhooks is not None else None
