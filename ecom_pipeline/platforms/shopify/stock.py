"""Stock writes to Shopify: ``inventorySetQuantities`` with a compare value, so a stale write is refused (issue 11).

Per Shopify's docs and changelog:

- from API 2026-04 each quantity carries ``changeFromQuantity`` (what we believe the shop holds); a mismatch is
  ``CHANGE_FROM_QUANTITY_STALE``. Before 2026-04 the same check is ``compareQuantity``
  (``COMPARE_QUANTITY_STALE``);
- the ``@idempotent(key:)`` directive is optional from 2026-01 and required from 2026-04. The key is a fresh UUID
  per distinct request; the client's own retries (a lost answer, a 5xx) resend the same document, so Shopify
  applies it once;
- one call takes many quantities (``WRITE_BATCH`` per call here) and applies all or none.

The writer reads the items' ``available`` quantities first (the same query that finds their inventory items),
hands them to ``recompute`` (a difference becomes a ledger movement: a sale we had not seen yet) and sends the
numbers it read as compare values. A refusal (a sale between that read and the write) is not overwritten: the
writer reads again, recomputes and sends the batch again, up to ``MAX_ATTEMPTS`` times. Variants are resolved to
their inventory items once per call (``productVariant(id:)`` aliases, ``LOOKUP_BATCH`` per query).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ecom_pipeline.platforms.shopify.client import ShopifyClient
from ecom_pipeline.platforms.shopify.transform import numeric_id
from ecom_pipeline.platforms.shopify.writer import make_client
from ecom_pipeline.stock.writers import Reading, Recompute, Settled, StockOutcome, StockWrite, stock_writer
from ecom_pipeline.warehouse.types import utcnow

WRITE_BATCH = 100
LOOKUP_BATCH = 50
MAX_ATTEMPTS = 4
CHANGE_FROM_SINCE = "2026-04"
IDEMPOTENT_SINCE = "2026-01"
STALE_CODES = ("CHANGE_FROM_QUANTITY_STALE", "COMPARE_QUANTITY_STALE")

__all__ = ["make_client", "restocked_lines", "write_stock"]
# Refund line restock types that put units back (REST lower case, GraphQL upper case); ``no_restock`` does not.
RESTOCKING = {"return", "cancel", "legacy_restock"}
# A cancelled Shopify order gives back only what its cancel restocked ("Restock items", ``orderCancel(restock:)``),
# and Shopify records that as the cancel's refund (``Order canceled``): its lines say ``cancel`` (restocked) or
# ``no_restock`` (the documented REST cancel answer, platform-samples ``rest_2025-07_order_cancel_example.json``).
# So the ledger books a Shopify cancel from those lines (``refund_restock``), never the whole order back.
CANCEL_RESTOCKS_AS_REFUNDS = True

_SET = """mutation StockSet($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input)%s {
    inventoryAdjustmentGroup { id }
    userErrors { code field message }
  }
}"""


def _gid(kind: str, value: str) -> str:
    return value if value.startswith("gid://") else f"gid://shopify/{kind}/{value}"


def _version(client: ShopifyClient) -> str:
    return client.served_version or client.api_version


def _newer(version: str, since: str) -> bool:
    return version == "unstable" or version >= since


def _lookup(client: ShopifyClient, items: Sequence[StockWrite]) -> dict[int, tuple[str, int | None]]:
    """link id -> (inventory item gid, available at the item's location now) for the items Shopify has."""
    out: dict[int, tuple[str, int | None]] = {}
    for start in range(0, len(items), LOOKUP_BATCH):
        part = items[start : start + LOOKUP_BATCH]
        fields = []
        for n, item in enumerate(part):
            location = _gid("Location", item.shop_location)
            fields.append(
                f'v{n}: productVariant(id: "{_gid("ProductVariant", item.external_item)}") {{ inventoryItem {{ id '
                f'inventoryLevel(locationId: "{location}") {{ quantities(names: ["available"]) {{ name quantity }} }}'
                " } }"
            )
        data = client.execute("query StockLevels {\n" + "\n".join(fields) + "\n}", key="StockLevels")
        for n, item in enumerate(part):
            variant = data.get(f"v{n}")
            if not variant or not variant.get("inventoryItem"):
                continue
            inv = variant["inventoryItem"]
            level = inv.get("inventoryLevel") or {}
            quantities = {q["name"]: q["quantity"] for q in level.get("quantities") or []}
            available = quantities.get("available")
            out[item.link_id] = (str(inv["id"]), None if available is None else int(available))
    return out


def _send(
    client: ShopifyClient,
    batch: Sequence[tuple[StockWrite, int, int]],
    items: Mapping[int, str],
    locations: Mapping[int, str],
) -> list[dict[str, Any]]:
    """One ``inventorySetQuantities`` for (item, compare value, target) triples; returns its userErrors."""
    version = _version(client)
    compare_name = "changeFromQuantity" if _newer(version, CHANGE_FROM_SINCE) else "compareQuantity"
    directive = f' @idempotent(key: "{uuid.uuid4()}")' if _newer(version, IDEMPOTENT_SINCE) else ""
    quantities = [
        {
            "inventoryItemId": items[item.link_id],
            "locationId": locations[item.link_id],
            "quantity": target,
            compare_name: compare,
        }
        for item, compare, target in batch
    ]
    variables = {
        "input": {
            "name": "available",
            "reason": "correction",
            "referenceDocumentUri": "ecom-pipeline://stock/push",
            "quantities": quantities,
        }
    }
    data = client.execute(_SET % directive, variables, key="StockSet")
    return list((data.get("inventorySetQuantities") or {}).get("userErrors") or [])


@stock_writer
def write_stock(client: ShopifyClient, items: Sequence[StockWrite], recompute: Recompute, out: StockOutcome) -> None:
    """Read, recompute, compare-and-set; on a stale compare re-read, recompute, retry (module doc)."""
    read_at = utcnow()
    found = _lookup(client, items)
    inventory = {link_id: gid for link_id, (gid, _) in found.items()}
    locations = {i.link_id: _gid("Location", i.shop_location) for i in items}
    readings = []
    for item in items:
        level = found.get(item.link_id)
        if level is None or level[1] is None:
            out.failed[item.link_id] = f"Shopify has no variant {item.external_item} stocked at {item.shop_location}"
        else:
            readings.append(Reading(item.link_id, level[1], read_at))
    by_link = {i.link_id: i for i in items}
    for start in range(0, len(readings), WRITE_BATCH):
        part = readings[start : start + WRITE_BATCH]
        for attempt in range(1, MAX_ATTEMPTS + 1):
            targets = recompute(part)
            batch = []
            for r in part:
                if targets[r.link_id] == r.quantity:
                    out.settled.append(Settled(r.link_id, r.quantity, r.read_at, r.read_at, False))
                else:
                    batch.append((by_link[r.link_id], r.quantity, targets[r.link_id]))
            if not batch:
                break
            sent_at = utcnow()
            errors = _send(client, batch, inventory, locations)
            if not errors:
                written_at = utcnow()
                out.settled += [Settled(i.link_id, target, sent_at, written_at, True) for i, _, target in batch]
                break
            if not any(e.get("code") in STALE_CODES for e in errors) or attempt == MAX_ATTEMPTS:
                reason = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors)
                for i, _, _ in batch:
                    out.failed[i.link_id] = reason
                break
            # Refused: a sale (or an edit) changed the shop between our read and our write. Read those again.
            out.refusals += 1
            again_at = utcnow()
            levels = _lookup(client, [i for i, _, _ in batch])
            part = [
                Reading(i.link_id, levels[i.link_id][1] or 0, again_at, refused=True)
                for i, _, _ in batch
                if i.link_id in levels and levels[i.link_id][1] is not None
            ]
            for i, _, _ in batch:
                if i.link_id not in {r.link_id for r in part}:
                    out.failed[i.link_id] = "the variant disappeared from Shopify while pushing stock"


def _when(value: Any) -> datetime | None:
    try:
        at = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)


def restocked_lines(order: Mapping[str, Any]) -> dict[str, tuple[int, datetime | None]]:
    """Units each line of a staged order got back from refunds so far (``stock/refunds.py``), and when the last
    of them did: REST (webhooks) ``refunds[].refund_line_items[]`` (``line_item_id``, ``quantity``, ``restock_type``)
    or GraphQL ``refunds[].refundLineItems`` (``lineItem { id }``, ``quantity``, ``restockType``); a line id is the
    numeric id, as on ``hub_order_lines.external_line_id``."""
    units: dict[str, int] = {}
    last: dict[str, datetime | None] = {}
    for refund in order.get("refunds") or []:
        if not isinstance(refund, Mapping):
            continue
        when = _when(refund.get("created_at") or refund.get("createdAt") or refund.get("processed_at"))
        rest = refund.get("refund_line_items")
        graph = refund.get("refundLineItems")
        rows: list[Any] = list(rest) if isinstance(rest, list) else []
        if isinstance(graph, Mapping):
            rows += list(graph.get("nodes") or []) + [e.get("node") for e in graph.get("edges") or [] if e]
        elif isinstance(graph, list):
            rows += graph
        for row in rows:
            if not isinstance(row, Mapping):
                continue
            kind = str(row.get("restock_type") or row.get("restockType") or "").lower()
            if kind not in RESTOCKING:
                continue
            item = row.get("lineItem")
            line = numeric_id(item.get("id") if isinstance(item, Mapping) else row.get("line_item_id"))
            if line is None:
                continue
            units[line] = units.get(line, 0) + int(row.get("quantity") or 0)
            previous = last.get(line)
            last[line] = when if previous is None or (when is not None and when > previous) else previous
    return {line: (n, last.get(line)) for line, n in units.items() if n > 0}
