"""Resolve canonical records into the hub tables, page by page, keyed by external id and SKU.

Each entity's resolve takes one page of canonical records of one shop and, in a fixed number of statements per
page: loads the existing links (one ``IN`` query), diffs each record against its link (the hash of its canonical
fields against the link's ``base_hash``: new, changed or unchanged), writes only what changed (executemany
inserts/updates of the hub rows), then writes the links with the new base snapshot. An unchanged record costs no
write at all, which is what makes a no-change sync cheap and lets export find nothing to push.

Cross-shop identity: a variant is the same hub variant on every shop that sells the same SKU (so stock and
sales from all shops meet on one row); a customer is the same hub customer for the same lower-cased email.
Orders are per shop. For a ``pull`` shop the shop's version is applied when the shop changed; for a
``bidirectional`` or ``push`` shop, products and variants go through the three-way merge against ``base_snapshot``
(``threeway``), so hub-side edits survive and conflicts are recorded.

The package, by entity:

- ``core``: ``ResolveCounts``, key normalisation, snapshots and the diff against a link (``diff_records``), the
  one ``entity_links`` writer (``LinkWriter``) and the bulk-insert helper;
- ``products``: products and their variants (``resolve_products``);
- ``inventory``: stock levels per variant and location (``resolve_inventory``);
- ``customers``: customers, joined across shops by email (``resolve_customers``);
- ``orders``: orders and their lines (``resolve_orders``);
- ``tombstones``: deletes (``tombstone``), also used by products for variants a shop removed.
- ``threeway``: the per-field merge of linked products and variants for non-``pull`` shops (``Merger``);
- ``decisions``: held conflicts a person decided, applied once by the next products resolve.
"""

from __future__ import annotations

from ecom_pipeline.sync.resolve.core import ResolveCounts, snapshot_of
from ecom_pipeline.sync.resolve.customers import resolve_customers
from ecom_pipeline.sync.resolve.inventory import inventory_location, resolve_inventory
from ecom_pipeline.sync.resolve.orders import resolve_orders
from ecom_pipeline.sync.resolve.products import product_snapshot, resolve_products, variant_snapshot
from ecom_pipeline.sync.resolve.tombstones import tombstone

__all__ = [
    "ResolveCounts",
    "inventory_location",
    "product_snapshot",
    "resolve_customers",
    "resolve_inventory",
    "resolve_orders",
    "resolve_products",
    "snapshot_of",
    "tombstone",
    "variant_snapshot",
]
