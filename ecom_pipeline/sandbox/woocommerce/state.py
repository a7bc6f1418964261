"""The state of one emulated WooCommerce shop: its records, id sequences, clock, listeners and plain reads.

Ids follow WordPress: products, variations, orders and refunds share one post-id sequence; customers (users) have
their own, starting at 2 (1 is the admin). Everything is read and written under ``lock`` (an RLock), so tests can
change a shop while the server thread serves it.
"""

from __future__ import annotations

import copy
import random
import string
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ecom_pipeline.sandbox.clock import SandboxClock
from ecom_pipeline.sandbox.seeding import SeededStore
from ecom_pipeline.sandbox.woocommerce.errors import StoreError, found, invalid_id
from ecom_pipeline.sandbox.woocommerce.records import Customer, Note, Order, Product, Refund, Variation

if TYPE_CHECKING:
    from ecom_pipeline.sandbox.woocommerce.catalog import WooCatalog


class WooState(SeededStore):
    """The records, id sequences, clock and change listeners of one shop, and the plain reads.

    Every other part of the store (:mod:`.query`, :mod:`.stock`, :mod:`.orders`, :mod:`.refunds`,
    :mod:`.products`, :mod:`.customers`) is a mixin over this state, so each file holds one job.
    """

    catalog: WooCatalog

    def __init__(
        self, name: str, seed: int, timezone: str, clock: SandboxClock | None, anchor: datetime | None
    ) -> None:
        super().__init__(name, seed, timezone, clock, anchor)
        self.products: dict[int, Product] = {}
        self.variations: dict[int, Variation] = {}
        self.orders: dict[int, Order] = {}
        self.customers: dict[int, Customer] = {}
        self.sku_index: dict[str, int] = {}
        self._next_post = 10
        self._next_user = 2
        self._next_item = 1
        self._next_meta = 1
        self._versions = {"products": 0, "variations": 0, "orders": 0, "customers": 0, "catalog": 0}
        self._sorted: dict[tuple[str, str], tuple[int, list[Any], list[Any]]] = {}
        self._rng = random.Random(f"woocommerce:{name}:{seed}")
        # Change listeners (webhooks): called as listener(kind, event, id) with kind product | variation | order |
        # customer. Registered after seeding, so generating the history fires nothing.
        self.listeners: list[Any] = []
        # Order notes (per order) and refunds (by refund id); comments have their own id sequence.
        self.notes: dict[int, list[Note]] = {}
        self.refunds: dict[int, Refund] = {}
        self._next_comment = 0

    # ------------------------------------------------------------------ ids and time

    def _post_id(self) -> int:
        self._next_post += 1
        return self._next_post

    def _item_id(self) -> int:
        self._next_item += 1
        return self._next_item

    def _meta_id(self) -> int:
        self._next_meta += 1
        return self._next_meta

    def next_post_id(self) -> int:
        """A new id from the shared post sequence (products, variations, orders, refunds, coupons)."""
        return self._post_id()

    def emit(self, kind: str, event: str, record_id: int) -> None:
        """Public form of :meth:`_emit` for the catalog (coupon topics)."""
        self._emit(kind, event, record_id)

    def touch_catalog(self) -> None:
        self._touch("catalog")

    # ------------------------------------------------------------------ order notes

    def add_note(
        self, oid: int, text: str, customer_note: bool = False, author: str = "WooCommerce", ts: int | None = None
    ) -> Note:
        """Add an order note; notes never bump the order's ``date_modified`` (recorded)."""
        with self.lock:
            self._next_comment += 1
            note = Note(self._next_comment, oid, self.now() if ts is None else ts, text, customer_note, author)
            self.notes.setdefault(oid, []).append(note)
            return note

    def order_notes(self, oid: int) -> list[Note]:
        """Newest first; notes of the same second keep their creation order (as recorded: 18, 2, 3)."""
        with self.lock:
            return sorted(self.notes.get(oid, []), key=lambda n: (-n.created, n.id))

    def delete_note(self, oid: int, note_id: int) -> Note:
        with self.lock:
            notes = self.notes.get(oid, [])
            for i, note in enumerate(notes):
                if note.id == note_id:
                    return notes.pop(i)
            raise StoreError(404, "woocommerce_rest_invalid_id", "Invalid resource ID.")

    def _touch(self, kind: str) -> None:
        self._versions[kind] += 1

    def _emit(self, kind: str, event: str, record_id: int) -> None:
        """Tell listeners (the webhook sender) that a record changed; they render it later, at send time."""
        for listener in self.listeners:
            listener(kind, event, record_id)

    def _unique_sku(self, base: str) -> str:
        sku, n = base, 1
        while sku in self.sku_index:
            n += 1
            sku = f"{base}-{n}"
        return sku

    def _order_key(self) -> str:
        alphabet = string.ascii_letters + string.digits
        return "wc_order_" + "".join(self._rng.choice(alphabet) for _ in range(13))

    # ------------------------------------------------------------------ reads

    def get_product(self, pid: int) -> Product:
        with self.lock:
            return found(self.products, pid, invalid_id("product"))

    def get_variation(self, parent_id: int, vid: int) -> Variation:
        with self.lock:
            v = self.variations.get(vid)
            if v is None or v.parent_id != parent_id:
                raise invalid_id("product_variation")
            return v

    def get_order(self, oid: int) -> Order:
        with self.lock:
            return found(self.orders, oid, invalid_id("shop_order"))

    def get_customer(self, cid: int) -> Customer:
        with self.lock:
            return found(self.customers, cid, StoreError(404, "woocommerce_rest_invalid_id", "Invalid resource ID."))

    def variations_of(self, p: Product) -> list[Variation]:
        return [self.variations[v] for v in p.variation_ids if v in self.variations]


def copy_record(record: Any) -> Any:
    """A deep copy: what a DELETE answers is the record as it was before the operation."""
    return copy.deepcopy(record)
