"""The stock views analysts read, counting a shared pool as one stock unit (migration 0015, docs/tables.md).

They restate in SQL what ``pools.load_pools``, ``ledger.on_hand`` and ``levels.levels`` compute, so a query on them
gives the numbers ``ecom-pipeline stock levels`` prints and the push writes (tests hold the two equal on SQLite and
PostgreSQL):

- ``stock_pool_members``: one row per variant of a shared pool per shop holding the pool (its pooled
  ``hub_inventory`` rows, deleted ones too, and the pool's ``stock_links`` row: the oldest link in that shop on one
  of them), with the hub location that link draws on and the unit's key ``unit_variant_id``: the lowest variant
  of the unit. Pools sharing a variant at one hub location are one unit (``load_pools``' union): a recursive walk
  over the pools that share a variant (usually none), so the common case costs a few joins, no recursion;
- ``stock_on_hand``: one row per (variant, location) with movements, plus one per pool member at its unit's
  location; ``on_hand`` is the unit's (a pooled variant shows its pool's sum), ``own_on_hand`` the variant's own
  movements (what the view showed before 0015). One row per unit: ``variant_id = unit_variant_id``;
- ``stock_available``: per stock link, as migration 0010 made it, with on hand and committed counted per unit.

The SQL is this module's as of migration 0015, which imports it: editing it here would silently change what 0015
creates on a new warehouse. A later change of a view is a new migration that drops and creates the views again
(``drop_statements`` lists them in the order PostgreSQL's dependencies require), with this text kept as it is for
0015 (as ``warehouse/schema.py`` keeps 0009/0010/0012's views for their migrations and 0015's downgrade);
``ecom_pipeline_tests/warehouse/test_migration_0015.py`` pins the digest of what 0015 creates.
"""

from __future__ import annotations

from ecom_pipeline.stock.settings import DEFAULT_HUB_LOCATION
from ecom_pipeline.warehouse.schema import _STOCK_AVAILABLE_DIALECT

VIEWS = ("stock_available", "stock_on_hand", "stock_pool_members")  # dependents first

_POSITION = {"postgresql": "STRPOS", "sqlite": "INSTR"}

# Written for both planners at 10,000 variants (half pooled), 100,000 movements: window functions rather than joins
# between CTEs (PostgreSQL cannot estimate CTE rows and chose nested loops: 14 s); ``sl.tenant_id || ''`` keeps
# SQLite on the (integration, variant) index instead of scanning the tenant's links per pooled row (17 s). The walk
# over pools sharing a variant starts only from variants pooled twice (usually none).
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
linked AS (
    SELECT m.tenant_id, m.integration_id, m.stock_pool, m.variant_id,
           MIN(sl.id) OVER (PARTITION BY m.tenant_id, m.integration_id, m.shop_location, m.stock_pool) AS link_id
    FROM member m
    LEFT JOIN stock_links sl
           ON sl.integration_id = m.integration_id AND sl.variant_id = m.variant_id
          AND sl.shop_location = m.shop_location AND sl.tenant_id || '' = m.tenant_id
),
node AS (
    SELECT DISTINCT k.tenant_id, k.integration_id, k.stock_pool, k.link_id, k.variant_id, sl.hub_location AS location
    FROM linked k JOIN stock_links sl ON sl.id = k.link_id
),
pooled AS (
    SELECT node.*, MIN(variant_id) OVER (PARTITION BY link_id) AS lowest FROM node
),
shared AS (
    SELECT * FROM pooled
    WHERE variant_id IN (
        SELECT h1.variant_id
        FROM hub_inventory h1
        JOIN hub_inventory h2 ON h2.variant_id = h1.variant_id AND h2.id <> h1.id
        WHERE h1.stock_pool IS NOT NULL AND h1.integration_id IS NOT NULL
          AND h2.stock_pool IS NOT NULL AND h2.integration_id IS NOT NULL
    )
),
edge AS (
    SELECT DISTINCT a.link_id AS link_a, a.lowest AS lowest_a, b.link_id AS link_b, b.lowest AS lowest_b
    FROM shared a
    JOIN shared b ON b.variant_id = a.variant_id AND b.location = a.location AND b.link_id <> a.link_id
),
reach (link_id, other, lowest) AS (
    SELECT DISTINCT link_a, link_a, lowest_a FROM edge
    UNION
    SELECT r.link_id, e.link_b, e.lowest_b FROM reach r JOIN edge e ON e.link_a = r.other
),
joined AS (
    SELECT link_id, MIN(lowest) AS variant_id FROM reach GROUP BY link_id
)
SELECT p.tenant_id, p.integration_id, p.stock_pool, p.link_id, p.variant_id, p.location,
       COALESCE(j.variant_id, p.lowest) AS unit_variant_id
FROM pooled p
LEFT JOIN joined j ON j.link_id = p.link_id
"""

_STOCK_ON_HAND = """
CREATE VIEW stock_on_hand AS
WITH pooled AS (
    SELECT DISTINCT tenant_id, variant_id, location, unit_variant_id FROM stock_pool_members
),
own AS (
    SELECT tenant_id, variant_id, location, SUM(delta) AS on_hand, COUNT(*) AS movements,
           MAX(occurred_at) AS last_movement_at
    FROM stock_movements
    GROUP BY tenant_id, variant_id, location
),
keyed AS (
    SELECT o.tenant_id, o.variant_id, o.location, COALESCE(p.unit_variant_id, o.variant_id) AS unit_variant_id,
           o.on_hand, o.movements, o.last_movement_at
    FROM own o
    LEFT JOIN pooled p ON p.tenant_id = o.tenant_id AND p.variant_id = o.variant_id AND p.location = o.location
    UNION ALL
    SELECT p.tenant_id, p.variant_id, p.location, p.unit_variant_id, 0, 0, NULL
    FROM pooled p
    WHERE NOT EXISTS (
        SELECT 1 FROM stock_movements m
        WHERE m.tenant_id = p.tenant_id AND m.variant_id = p.variant_id AND m.location = p.location
    )
)
SELECT tenant_id, variant_id, location,
       CAST(SUM(on_hand) OVER unit AS {big}) AS on_hand, CAST(SUM(movements) OVER unit AS {big}) AS movements,
       MAX(last_movement_at) OVER unit AS last_movement_at, unit_variant_id,
       COUNT(*) OVER unit AS unit_variants, on_hand AS own_on_hand
FROM keyed
WINDOW unit AS (PARTITION BY tenant_id, unit_variant_id, location)
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
        _STOCK_ON_HAND.format(big=_STOCK_AVAILABLE_DIALECT[dialect]["big"]),
        _STOCK_AVAILABLE.format(default_location=DEFAULT_HUB_LOCATION, **_STOCK_AVAILABLE_DIALECT[dialect]),
    ]


def drop_statements() -> list[str]:
    """``DROP VIEW`` of the three, dependents first (PostgreSQL refuses to drop a view another one reads)."""
    return [f"DROP VIEW IF EXISTS {name}" for name in VIEWS]
