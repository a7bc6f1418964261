"""``inventorySetQuantities`` as Shopify serves it, per API version (issue 11: stock writes).

What changed between versions (shopify.dev, the mutation's page and the changelog "Making idempotency mandatory for
inventory adjustments and refund mutations"):

- before 2026-04 the compare-and-set value is ``compareQuantity`` on each quantity; leaving it out is
  ``COMPARE_QUANTITY_REQUIRED`` unless ``ignoreCompareQuantity: true``; a mismatch is ``COMPARE_QUANTITY_STALE``;
- from 2026-04 it is ``changeFromQuantity``: every quantity must carry it (an explicit ``null`` opts that quantity
  out of the check; leaving it out is an error), and a mismatch is ``CHANGE_FROM_QUANTITY_STALE``;
- the ``@idempotent(key:)`` directive exists from 2026-01 (optional) and is required at run time from 2026-04
  (Shopify: "calling these mutations without an idempotency directive will result in an error at runtime"). A
  request repeated with the same key and the same input returns the first answer without applying it again; the
  same key with another input is ``IDEMPOTENCY_KEY_PARAMETER_MISMATCH``.

The call is all or nothing: every quantity is checked before any is written, so a stale one leaves the others as
they were (a client can re-read and send the whole batch again).
"""

from __future__ import annotations

import json
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo

from ecom_pipeline.sandbox.shopify.store import ShopifyStore, StoreError, parse_gid
from ecom_pipeline.sandbox.shopify.versions import has_feature


def _fail(field: list[str], message: str, code: str) -> dict[str, Any]:
    return {"inventoryAdjustmentGroup": None, "userErrors": [{"field": field, "message": message, "code": code}]}


def _idempotency_key(info: GraphQLResolveInfo) -> str | None:
    for node in info.field_nodes:
        for directive in node.directives or ():
            if directive.name.value != "idempotent":
                continue
            for argument in directive.arguments:
                if argument.name.value == "key":
                    value = argument.value
                    if hasattr(value, "value"):
                        return str(value.value)
                    name = getattr(getattr(value, "name", None), "value", None)  # a $variable
                    return None if name is None else str(info.variable_values.get(name))
    return None


def inventory_set_quantities(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> Any:
    """Validate every quantity (name, compare value, item, location), then set them all; see the module doc."""
    store: ShopifyStore = info.context.store
    version: str = info.context.version
    change_from = has_feature(version, "2026-04")
    key = _idempotency_key(info)
    if key is None and change_from:
        raise GraphQLError(
            "The @idempotent directive is required for this mutation.",
            extensions={"code": "BAD_REQUEST"},
        )
    fingerprint = json.dumps(input, sort_keys=True, default=str)
    cache: dict[str, tuple[str, dict[str, Any]]] = store.__dict__.setdefault("idempotency", {})
    if key is not None and key in cache:
        seen, answer = cache[key]
        if seen != fingerprint:
            return _fail(
                ["idempotencyKey"],
                "The same idempotency key cannot be used with different operation parameters.",
                "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
            )
        return answer
    answer = _apply(store, input, change_from)
    if key is not None:
        cache[key] = (fingerprint, answer)
    return answer


def _apply(store: ShopifyStore, input: dict[str, Any], change_from: bool) -> dict[str, Any]:
    if input["name"] not in ("available", "on_hand"):
        return _fail(["input", "name"], "The quantity name must be either 'available' or 'on_hand'.", "INVALID_NAME")
    ignore = bool(input.get("ignoreCompareQuantity")) and not change_from
    checked: list[tuple[int, int, int]] = []  # (item id, location id, quantity)
    with store.lock:
        for i, q in enumerate(input["quantities"]):
            where = ["input", "quantities", str(i)]
            if int(q["quantity"]) < 0 and input["name"] == "on_hand":
                return _fail([*where, "quantity"], "The quantity can't be negative.", "INVALID_QUANTITY_NEGATIVE")
            try:
                item_id = store._item_id(q["inventoryItemId"])
                loc_id = parse_gid(q["locationId"], "Location")
            except (StoreError, ValueError, KeyError):
                return _fail([*where, "inventoryItemId"], "The specified inventory item could not be found.",
                             "INVALID_INVENTORY_ITEM")  # fmt: skip
            if loc_id not in store.locations:
                return _fail([*where, "locationId"], "The specified location could not be found.", "INVALID_LOCATION")
            level = store.levels.get(item_id, {}).get(loc_id)
            current = level.available if level is not None else 0
            if change_from:
                if "changeFromQuantity" not in q:
                    raise GraphQLError(
                        "InventoryQuantityInput requires changeFromQuantity (null skips the check).",
                        extensions={"code": "BAD_REQUEST"},
                    )
                expected = q["changeFromQuantity"]
                if expected is not None and int(expected) != current:
                    return _fail([*where, "changeFromQuantity"],
                                 "The changeFromQuantity value does not match persisted value.",
                                 "CHANGE_FROM_QUANTITY_STALE")  # fmt: skip
            elif not ignore:
                expected = q.get("compareQuantity")
                if expected is None:
                    return _fail([*where, "compareQuantity"],
                                 "The compareQuantity argument must be given to each quantity or ignored using "
                                 "ignoreCompareQuantity.", "COMPARE_QUANTITY_REQUIRED")  # fmt: skip
                if int(expected) != current:
                    return _fail([*where, "compareQuantity"],
                                 "The compareQuantity value does not match persisted value.",
                                 "COMPARE_QUANTITY_STALE")  # fmt: skip
            checked.append((item_id, loc_id, int(q["quantity"])))
        changes = []
        for item_id, loc_id, quantity in checked:
            change = store.set_inventory(item_id, f"gid://shopify/Location/{loc_id}", quantity)
            changes.append(
                {
                    "name": input["name"],
                    "delta": change.delta,
                    "quantityAfterChange": None,
                    "item": store.inventory_items[change.id],
                    "location": store.locations[loc_id],
                }
            )
    group = {
        "id": f"gid://shopify/InventoryAdjustmentGroup/{store.now()}",
        "createdAt": store.now(),
        "reason": input["reason"],
        "referenceDocumentUri": input.get("referenceDocumentUri"),
        "changes": changes,
    }
    return {"inventoryAdjustmentGroup": group, "userErrors": []}
