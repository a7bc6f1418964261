"""Confirming a deletion with the shop before anything is tombstoned.

A delete topic is a header nobody signed, and the body of a real deletion is just ``{"id": N}``: anyone holding one
captured delivery (or any signed body) could ask us to tombstone a live record. So every delete a delivery stands
for is checked with the shop first, by reading that one record:

- WooCommerce: ``GET <collection>/<id>``; 404 (``woocommerce_rest_*_invalid_id``) or ``status: trash`` confirm it.
  A 404 ``rest_no_route`` says the API is not where we look, not that the record is gone: it is retried.
- Shopify: ``product|order|customer(id:)`` is ``null`` once the record is deleted.

Anything else (the record is live) refuses the delete: the delivery is dead-lettered with the shop's answer, and
the hub keeps the record. A shop that cannot be reached makes the delivery wait and retry like any other.

Each platform offers ``confirm_deleted(client, entity, external_id) -> str | None`` in its
``platforms/<platform>/webhooks.py`` (None: the shop confirms the deletion; else what the shop shows instead).
Shopify's check lives here for now (its module is maintained separately); the platform's own function, once it
exists, takes precedence. A platform with neither cannot have deletions applied from webhooks: its deletes wait
for the scheduled reconciliation, which reads the shop itself.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

# (client, entity, external id) -> None when the shop confirms the deletion, else what it shows instead.
Confirmer = Callable[[Any, str, str], str | None]


class UnconfirmedDelete(Exception):
    """The shop does not confirm a deletion a delivery asked for: the delivery is dead-lettered, never applied."""


_SHOPIFY_QUERIES: dict[str, tuple[str, str]] = {
    "product": ("Product", "query ConfirmProductGone($id: ID!) { product(id: $id) { id status } }"),
    "order": ("Order", "query ConfirmOrderGone($id: ID!) { order(id: $id) { id } }"),
    "customer": ("Customer", "query ConfirmCustomerGone($id: ID!) { customer(id: $id) { id } }"),
}


def shopify_confirm_deleted(client: Any, entity: str, external_id: str) -> str | None:
    """None when Shopify no longer has the record (1 query point), else what it shows."""
    if entity not in _SHOPIFY_QUERIES or not external_id.isdigit():
        return f"a {entity} deletion cannot be checked on Shopify"
    type_name, query = _SHOPIFY_QUERIES[entity]
    data = client.execute(query, {"id": f"gid://shopify/{type_name}/{external_id}"}, key=f"Confirm{type_name}Gone")
    node = data.get(entity)
    if node is None:
        return None
    status = node.get("status") if isinstance(node, dict) else None
    return f"the shop still has {entity} {external_id}" + (f" (status {status})" if status else "")


FALLBACK_CONFIRMERS: dict[str, Confirmer] = {"shopify": shopify_confirm_deleted}


def confirmer_for(platform: str) -> Confirmer | None:
    """The platform's ``confirm_deleted``, else the fallback kept here, else None (deletes are not applied)."""
    try:
        module = importlib.import_module(f"ecom_pipeline.platforms.{platform}.webhooks")
    except ModuleNotFoundError:
        module = None
    own = getattr(module, "confirm_deleted", None) if module is not None else None
    return own or FALLBACK_CONFIRMERS.get(platform)
