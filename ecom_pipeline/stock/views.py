"""The stock views analysts read, counting a shared pool as one stock unit (migration 0015, docs/tables.md).

They restate in SQL what ``pools.load_pools``, ``ledger.on_hand`` and ``levels.levels`` compute, so a query on them
gives the numbers ``ecom-pipeline stock levels`` prints and the push writes (tests hold the two equal on SQLite and
PostgreSQL):

- ``stock_pool_members``: one row per variant of a shared pool per shop holding the pool (its pooled
  ``hub_inventory`` rows, deleted ones too, and the pool's ``stock_links`` row: the oldest link in that shop on one
  of them), with the hub location that link draws on and the unit's key ``unit_variant_id``: the lowest variant
  of the unit. Pools sharing a variant at one hub location are one unit (``load_pools``' union): a recursive walk
  over the pools, not over variant pairs, so a pool of n variants costs n rows, not n squared;
- ``stock_on_hand``: one row per (variant, location) with movements, plus one per pool member at its unit's
  location; ``on_hand`` is the unit's (a pooled variant shows its pool's sum), ``own_on_hand`` the variant's own
  movements (what the view showed before 0015). One row per unit: ``variant_id = unit_variant_id``;
- ``stock_available``: per stock link, as migration 0010 made it, with on hand and committed counted per unit.

The SQL is this module's as of migration 0015: a later change of it needs a migration that drops and creates the
views again (``drop_statements`` lists them in the order PostgreSQL's dependencies require).
"""

from __future__ import annotations

from ecom_pipeline.stock.settings import DEFAULT_HUB_LOCATION
from ecom_pipeline.warehouse.schema import _STOCK_AVAILABLE_DIALECT

VIEWS = ("stock_available", "stock_on_hand", "stock_pool_members")  # dependents first

_POSITION = {"postgresql": "STRPOS", "sqlite": "INSTR"}

# ``pools.shop_location_of``: the location key's text after its second colon (``woocommerce:3:default`` ->
# ``default``), cut one colon at a time as ``str.split(":", 2)[-1]`` does (fewer colons: after the last one).
_STOCK_POOL_MEMBERS = """
CREATE VIEW stock_pool_members AS
WITH RECURSIVE
inv AS (
    SELECT tenant_id, integration_id, variant_id, stock_pool,
           CASE WHEN {pos}(location, ':') > 0 THEN SUBSTR(location, {pos}(location, ':') + 1) ELSE location END
           AS rest
    FROM hub_inventory
    WHERE stock_pool IS NOT NULL AND integration_id IS NOT NULL
),
member AS (
    SELECT DISTINCT tenant_id, integration_id, variant_id, stock_pool,
           CASE WHEN {pos}(rest, ':') > 0 THEN SUBSTR(rest, {pos}(rest, ':') + 1) ELSE rest END AS shop_location
    FROM inv
),
claim AS (
    SELECT m.tenant_id, m.integration_id, m.shop_location, m.stock_pool, MIN(sl.id) AS link_id
    FROM member m
    JOIN stock_links sl
      ON sl.tenant_id = m.tenant_id AND sl.integration_id = m.integration_id
     AND sl.shop_location = m.shop_location AND sl.variant_id = m.variant_id
    GROUP BY m.tenant_id, m.integration_id, m.shop_location, m.stock_pool
),
node AS (
    SELECT c.tenant_id, c.integration_id, c.stock_pool, c.link_id, m.variant_id, sl.hub_location AS location
    FROM claim c
    JOIN member m
      ON m.tenant_id = c.tenant_id AND m.integration_id = c.integration_id
     AND m.shop_location = c.shop_location AND m.stock_pool = c.stock_pool
    JOIN stock_links sl ON sl.id = c.link_id
),
reach (link_id, other) AS (
    SELECT DISTINCT link_id, link_id FROM node
    UNION
    SELECT r.link_id, b.link_id
    FROM reach r
    JOIN node a ON a.link_id = r.other
    JOIN node b ON b.tenant_id = a.tenant_id AND b.variant_id = a.variant_id AND b.location = a.location
),
lowest AS (
    SELECT link_id, MIN(variant_id) AS variant_id FROM node GROUP BY link_id
),
unit AS (
    SELECT r.link_id, MIN(l.variant_id) AS unit_variant_id
    FROM reach r JOIN lowest l ON l.link_id = r.other
    GROUP BY r.link_id
)
SELECT n.tenant_id, n.integration_id, n.stock_pool, n.link_id, n.variant_id, n.location, u.unit_variant_id
FROM node n JOIN unit u ON u.link_id = n.link_id
"""

_STOCK_ON_HAND = """
CREATE VIEW stock_on_hand AS
WITH own AS (
    SELECT tenant_id, variant_id, location, SUM(delta) AS on_hand, COUNT(*) AS movements,
           MAX(occurred_at) AS last_movement_at
    FROM stock_movements
    GROUP BY tenant_id, variant_id, location
),
pooled AS (
    SELECT DISTINCT tenant_id, variant_id, location, unit_variant_id FROM stock_pool_members
),
keyed AS (
    SELECT k.tenant_id, k.variant_id, k.location, COALESCE(p.unit_variant_id, k.variant_id) AS unit_variant_id
    FROM (SELECT tenant_id, variant_id, location FROM own
          UNION SELECT tenant_id, variant_id, location FROM pooled) k
    LEFT JOIN pooled p ON p.tenant_id = k.tenant_id AND p.variant_id = k.variant_id AND p.location = k.location
),
unit AS (
    SELECT k.tenant_id, k.unit_variant_id, k.location, SUM(m.delta) AS on_hand, COUNT(m.id) AS movements,
           MAX(m.occurred_at) AS last_movement_at, COUNT(DISTINCT k.variant_id) AS unit_variants
    FROM keyed k
    LEFT JOIN stock_movements m
           ON m.tenant_id = k.tenant_id AND m.variant_id = k.variant_id AND m.location = k.location
    GROUP BY k.tenant_id, k.unit_variant_id, k.location
)
SELECT k.tenant_id, k.variant_id, k.location, COALESCE(u.on_hand, 0) AS on_hand, COALESCE(u.movements, 0) AS movements,
       u.last_movement_at, k.unit_variant_id, u.unit_variants, COALESCE(o.on_hand, 0) AS own_on_hand
FROM keyed k
JOIN unit u ON u.tenant_id = k.tenant_id AND u.unit_variant_id = k.unit_variant_id AND u.location = k.location
LEFT JOIN own o ON o.tenant_id = k.tenant_id AND o.variant_id = k.variant_id AND o.location = k.location
"""

# ``levels.committed``: an order line counts at the hub location of its shop's link for the variant (the oldest),
# else of its shop's pool link (``Pools.link_of``: the newest pool holding it), else the default; then per unit.
_STOCK_AVAILABLE = """
CREATE VIEW stock_available AS
WITH first_link AS (
    SELECT integration_id, variant_id, MIN(id) AS id FROM stock_links GROUP BY integration_id, variant_id
),
pool_link AS (
    SELECT integration_id, variant_id, MAX(link_id) AS id FROM stock_pool_members GROUP BY integration_id, variant_id
),
line AS (
    SELECT l.tenant_id, l.variant_id, COALESCE(sl.hub_location, pl.hub_location, '{default_location}') AS location,
           CASE WHEN l.quantity > 0 THEN l.quantity ELSE 0 END AS quantity
    FROM hub_order_lines l
    JOIN hub_orders o ON o.id = l.order_id
    JOIN integrations oi ON oi.id = o.integration_id
    LEFT JOIN first_link f ON f.integration_id = o.integration_id AND f.variant_id = l.variant_id
    LEFT JOIN stock_links sl ON sl.id = f.id
    LEFT JOIN pool_link p ON p.integration_id = o.integration_id AND p.variant_id = l.variant_id
    LEFT JOIN stock_links pl ON pl.id = p.id
    WHERE l.variant_id IS NOT NULL AND o.deleted_at IS NULL
      AND oi.platform = 'woocommerce' AND LOWER(o.status) IN ('checkout-draft', 'pending')
      AND (o.fulfillment_status IS NULL OR o.fulfillment_status <> 'cancelled')
),
committed AS (
    SELECT line.tenant_id, COALESCE(h.unit_variant_id, line.variant_id) AS unit_variant_id, line.location,
           SUM(line.quantity) AS committed
    FROM line
    LEFT JOIN stock_on_hand h
           ON h.tenant_id = line.tenant_id AND h.variant_id = line.variant_id AND h.location = line.location
    GROUP BY line.tenant_id, COALESCE(h.unit_variant_id, line.variant_id), line.location
),
b AS (
    SELECT sl.id AS link_id, sl.tenant_id, sl.variant_id, sl.integration_id, i.platform,
           sl.hub_location AS location, COALESCE(h.unit_variant_id, sl.variant_id) AS unit_variant_id,
           COALESCE(h.on_hand, 0) AS on_hand, COALESCE(c.committed, 0) AS committed,
           COALESCE(h.on_hand, 0) - COALESCE(c.committed, 0) AS free,
           TRIM(COALESCE(CASE WHEN sl.buffer <> '' THEN sl.buffer END, {settings_buffer}, '0')) AS buffer_text,
           COALESCE(sl.base_quantity, 0) + COALESCE(sl.unconfirmed, 0) AS shop_shows
    FROM stock_links sl
    JOIN integrations i ON i.id = sl.integration_id
    LEFT JOIN stock_on_hand h
           ON h.tenant_id = sl.tenant_id AND h.variant_id = sl.variant_id AND h.location = sl.hub_location
    LEFT JOIN committed c
           ON c.tenant_id = sl.tenant_id AND c.unit_variant_id = COALESCE(h.unit_variant_id, sl.variant_id)
          AND c.location = sl.hub_location
    WHERE i.status <> 'disconnected' AND {managed}
),
r AS (
    SELECT b.*,
           CASE
               WHEN b.buffer_text = '' THEN 0
               WHEN NOT ({valid}) THEN NULL
               WHEN NOT ({is_percent}) AND b.buffer_text LIKE '%.%' THEN NULL
               WHEN ({is_percent}) AND {number} > 100 THEN NULL
               WHEN b.free <= 0 THEN 0
               WHEN NOT ({is_percent}) THEN {least}(b.free, CAST({number} AS {big}))
               ELSE {least}(b.free, (CAST(b.free AS {big}) * CAST(ROUND({number} * 10000) AS {big}) + 999999) / 1000000)
           END AS buffer
    FROM b
)
SELECT r.tenant_id, r.variant_id, v.sku, r.integration_id, r.platform, r.location, r.on_hand, r.committed,
       r.buffer, CASE WHEN r.buffer IS NULL THEN NULL WHEN r.free - r.buffer < 0 THEN 0 ELSE r.free - r.buffer END
       AS available, r.shop_shows, r.link_id, r.unit_variant_id
FROM r JOIN hub_variants v ON v.id = r.variant_id
"""


def create_statements(dialect: str) -> list[str]:
    """``CREATE VIEW`` of the three stock views for a dialect (``postgresql`` or ``sqlite``), in dependency order."""
    pos = _POSITION[dialect]
    return [
        _STOCK_POOL_MEMBERS.format(pos=pos),
        _STOCK_ON_HAND,
        _STOCK_AVAILABLE.format(default_location=DEFAULT_HUB_LOCATION, **_STOCK_AVAILABLE_DIALECT[dialect]),
    ]


def drop_statements() -> list[str]:
    """``DROP VIEW`` of the three, dependents first (PostgreSQL refuses to drop a view another one reads)."""
    return [f"DROP VIEW IF EXISTS {name}" for name in VIEWS]
