"""``plan.linked_variants`` / ``plan.linked_products`` hold every live link, not one per hub id (review 1).

Prevents: a hub variant with two live links (a repeated SKU in the shop) had only one of them in
``linked_variants``, so a writer's late-create look-up could adopt the other, already linked combination for
another hub variant (two hub variants on one shop record).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, insert, select

from ecom_pipeline.sync.export import load_plan
from ecom_pipeline.warehouse.schema import entity_links, integrations
from ecom_pipeline_tests.sync.test_resolve_merge import _connect, _pull


def test_every_live_variant_link_is_in_linked_variants(engine: Engine) -> None:
    """A second live link of the same hub variant is in ``linked_variants`` too."""
    with engine.begin() as conn:
        iid = _connect(conn, "push")
    _pull(engine, iid)
    with engine.begin() as conn:
        query = select(entity_links).where(entity_links.c.entity == "variant")
        row: dict[str, Any] = dict(conn.execute(query).one()._mapping)
        row.pop("id")
        row["external_id"] = "11-second"  # a second live link to the same hub variant (a repeated SKU in the shop)
        conn.execute(insert(entity_links).values(row))
    with engine.connect() as conn:
        plan = load_plan(conn, conn.execute(select(integrations).where(integrations.c.id == iid)).one())
        live_rows = select(entity_links).where(entity_links.c.entity == "variant", entity_links.c.deleted_at.is_(None))
        live = {r.external_id for r in conn.execute(live_rows)}
    missing = live - set(plan.linked_variants)
    assert len(live) == 2 and not missing, f"live links missing from linked_variants: {missing}"
