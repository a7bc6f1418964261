"""Stock writes to WooCommerce: read just before writing, then ``stock_quantity`` by batch (issue 11).

WooCommerce has no compare-and-swap on ``stock_quantity``: a PUT sets the number whatever it is. So the writer
reads the items first (``GET /products?include=...``, ``GET /products/{parent}/variations?include=...``, 100 per
call), hands what the shop shows to ``recompute`` (a difference becomes a ledger movement and a new target), and
writes only the items whose number is not already right, with ``POST .../batch`` (100 per call). A shared pool
(variations with ``manage_stock: "parent"``) is written on its parent product: its link names the parent
(``stock/pools.py``). A link naming a variation that the shop now reads as parent-managed (the merchant moved its
stock onto the parent since the hub last pulled) is neither read nor written: a write to it would not move the pool
(WooCommerce keeps it in the variation's own hidden ``_stock``), writing the pool would overwrite the merchant's new
number with one variation's, and its reading (the pool) is no reading of that variation; it is reported failed,
and the next pull and stock step move the link onto the pool (``links.start_pools``). A sale landing
between that read and the write is overwritten in the shop's number but not lost: it is an order movement in the
ledger, and the next push lowers the shop's number again. An item the batch answer refuses is reported failed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ecom_pipeline.platforms.woocommerce.client import WooCommerceClient
from ecom_pipeline.platforms.woocommerce.writer import make_client
from ecom_pipeline.stock.writers import Reading, Recompute, Settled, StockOutcome, StockWrite, stock_writer
from ecom_pipeline.warehouse.types import utcnow

BATCH = 100

__all__ = ["make_client", "restocked_lines", "write_stock"]


def _split(item: str) -> tuple[str | None, str]:
    """``parent/variation`` or ``product`` -> (parent or None, id)."""
    parent, _, own = item.rpartition("/")
    return (parent or None), own


def _read(client: WooCommerceClient, items: Sequence[StockWrite]) -> tuple[list[Reading], dict[int, str], set[int]]:
    """What the shop shows for each item, where each item's stock is written (link id -> item), and the items
    that are variations whose stock the parent manages now (``manage_stock: "parent"``: see the module doc)."""
    groups: dict[str | None, list[StockWrite]] = defaultdict(list)
    for item in items:
        groups[_split(item.external_item)[0]].append(item)
    readings: list[Reading] = []
    holders: dict[int, str] = {}
    pooled: set[int] = set()
    for parent, group in groups.items():
        path = "products" if parent is None else f"products/{parent}/variations"
        for start in range(0, len(group), BATCH):
            part = group[start : start + BATCH]
            by_id = {_split(i.external_item)[1]: i for i in part}
            read_at = utcnow()
            params = {"include": ",".join(by_id), "per_page": BATCH, "orderby": "include"}
            for record in client.get(path, params) or []:
                found = by_id.get(str(record.get("id")))
                quantity = record.get("stock_quantity")
                if found is None or quantity is None:
                    continue
                if parent is not None and record.get("manage_stock") == "parent":
                    pooled.add(found.link_id)  # shows the pool, not this variation's stock
                    continue
                readings.append(Reading(found.link_id, int(quantity), read_at))
                holders[found.link_id] = found.external_item
    return readings, holders, pooled


def _write(
    client: WooCommerceClient,
    items: Sequence[StockWrite],
    targets: Mapping[int, int],
    out: StockOutcome,
    readings: Mapping[int, Reading],
    holders: Mapping[int, str],
) -> None:
    groups: dict[str | None, dict[str, list[StockWrite]]] = defaultdict(lambda: defaultdict(list))
    for item in items:
        parent, own = _split(holders[item.link_id])
        groups[parent][own].append(item)  # two links naming one item: one write
    for parent, by_holder in groups.items():
        path = "products/batch" if parent is None else f"products/{parent}/variations/batch"
        owners = list(by_holder)
        for start in range(0, len(owners), BATCH):
            part = owners[start : start + BATCH]
            body = {"update": [{"id": int(own), "stock_quantity": targets[by_holder[own][0].link_id]} for own in part]}
            answer = client.post(path, body) or {}
            written_at = utcnow()
            answered = {str(a.get("id")): a for a in answer.get("update") or [] if isinstance(a, dict)}
            for own in part:
                got = answered.get(own)
                for i in by_holder[own]:
                    if got is None or got.get("error"):
                        error = (got or {}).get("error") or {}
                        code, message = error.get("code", "no_answer"), error.get("message", "not in answer")
                        out.failed[i.link_id] = f"{code}: {message}"
                        if got is None:  # not refused, just not answered for: it may have landed (stays pending)
                            out.uncertain.add(i.link_id)
                        continue
                    shown = got.get("stock_quantity")
                    quantity = int(shown) if shown is not None else targets[i.link_id]
                    out.settled.append(Settled(i.link_id, quantity, readings[i.link_id].read_at, written_at, True))


@stock_writer
def write_stock(
    client: WooCommerceClient, items: Sequence[StockWrite], recompute: Recompute, out: StockOutcome
) -> None:
    """Read, recompute from what the shop shows, write what still differs (see the module doc)."""
    found, holders, pooled = _read(client, items)
    readings = {r.link_id: r for r in found}
    for item in items:
        if item.link_id in pooled:
            out.failed[item.link_id] = (
                "the shop now manages this variation's stock on its parent product: the next pull and stock step "
                "move this link onto the shared pool"
            )
        elif item.link_id not in readings:
            out.failed[item.link_id] = "the shop no longer has this item, or does not manage its stock"
    targets = recompute(list(readings.values())) if readings else {}
    to_write = []
    for item in items:
        reading = readings.get(item.link_id)
        if reading is None:
            continue
        if targets[item.link_id] == reading.quantity:
            out.settled.append(Settled(item.link_id, reading.quantity, reading.read_at, reading.read_at, False))
        else:
            to_write.append(item)
    _write(client, to_write, targets, out, readings, holders)


def restocked_lines(order: Mapping[str, Any]) -> dict[str, tuple[int, datetime | None]]:
    """Units each line of a staged order got back from refunds so far (``stock/refunds.py``): the line's
    ``_restock_refunded_items`` meta, which WooCommerce raises by the restocked quantity of each refund made with
    ``api_restock`` (the refund records themselves do not say whether they restocked). No date: the order's."""
    out: dict[str, tuple[int, datetime | None]] = {}
    for line in order.get("line_items") or []:
        if not isinstance(line, Mapping) or line.get("id") is None:
            continue
        for meta in line.get("meta_data") or []:
            if isinstance(meta, Mapping) and meta.get("key") == "_restock_refunded_items":
                try:
                    units = int(str(meta.get("value")).strip())
                except ValueError:
                    continue
                if units > 0:
                    out[str(line["id"])] = (units, None)
    return out
