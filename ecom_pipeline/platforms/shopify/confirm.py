"""Confirming a deletion a Shopify delivery asks for: ``product|order|customer(id:)`` is ``null`` once it is gone."""

from __future__ import annotations

from typing import Any

_QUERIES: dict[str, tuple[str, str]] = {
    "product": ("Product", "query ConfirmProductGone($id: ID!) { product(id: $id) { id status } }"),
    "order": ("Order", "query ConfirmOrderGone($id: ID!) { order(id: $id) { id } }"),
    "customer": ("Customer", "query ConfirmCustomerGone($id: ID!) { customer(id: $id) { id } }"),
}


def confirm_deleted(client: Any, entity: str, external_id: str) -> str | None:
    """None when Shopify no longer has the record (1 query point), else what it shows."""
    if entity not in _QUERIES or not external_id.isdigit():
        return f"a {entity} deletion cannot be checked on Shopify"
    type_name, query = _QUERIES[entity]
    data = client.execute(query, {"id": f"gid://shopify/{type_name}/{external_id}"}, key=f"Confirm{type_name}Gone")
    node = data.get(entity)
    if node is None:
        return None
    status = node.get("status") if isinstance(node, dict) else None
    return f"the shop still has {entity} {external_id}" + (f" (status {status})" if status else "")
