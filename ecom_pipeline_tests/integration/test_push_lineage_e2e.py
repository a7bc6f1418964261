"""Push lineage end to end: `ecom-pipeline push` to the emulated WooCommerce over real HTTP, on a real warehouse,
then ``push_records``, `ecom-pipeline lineage` and the "Last push per shop" of `status` (issue 10, part 6).

Reuses the WooCommerce push tests' world (one tenant, one push shop, the CSV catalogue): the
``woocommerce_push_world`` fixture of integration/conftest.py.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update

from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import entity_links, hub_variants, push_records
from ecom_pipeline_tests.integration.push_world import TENANT
from ecom_pipeline_tests.integration.push_world import WOOCOMMERCE_CATALOGUE as CATALOGUE
from ecom_pipeline_tests.integration.push_world import WooCommerceWorld as World


def _records(world: World) -> list[Any]:
    with shared_engine(world.url).connect() as conn:
        return conn.execute(select(push_records).order_by(push_records.c.id)).all()


def _links(world: World) -> dict[tuple[str, int], str]:
    with shared_engine(world.url).connect() as conn:
        return {(r.entity, int(r.hub_id)): r.external_id for r in conn.execute(select(entity_links))}


def _last_push_row(out: str) -> list[str]:
    """The one shop row of status's "Last push per shop" table, split in cells."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Last push per shop"))
    header, _, row = lines[start + 1 : start + 4]
    assert header.split()[:2] == ["shop", "status"]
    return row.split()


def test_push_records_say_what_each_push_wrote_refused_and_adopted_and_lineage_and_status_show_it(
    woocommerce_push_world: World,  # the WooCommerce push tests' world (integration/conftest.py)
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Prevents a push whose records cannot be traced: a create without its run and shop id, a no-change rerun that
    floods the table, an update without its fields, a refusal without the shop's message, a record found again
    after a killed push shown as created, and `lineage` / `status` that do not show them."""
    world = woocommerce_push_world
    world.import_csv(*CATALOGUE)
    assert world.push() == 0
    out = capsys.readouterr().out
    first = world.export_runs()[-1]
    records = _records(world)
    assert sorted((r.entity, r.handle, r.sku or "", r.outcome) for r in records) == [
        ("product", "mug", "", "created"),
        ("product", "tee", "", "created"),
        ("variant", "mug", "MUG-1", "created"),
        ("variant", "tee", "TEE-M", "created"),
        ("variant", "tee", "TEE-S", "created"),
    ]
    links = _links(world)
    assert all(r.external_id == links[(r.entity, r.hub_id)] for r in records)  # the shop id it got, as linked
    shop = world.shop_by_sku()
    by_sku = {r.sku: r for r in records if r.sku}
    assert by_sku["TEE-S"].external_id == str(shop["TEE-S"][0].id)  # and that is the shop's record
    assert by_sku["MUG-1"].external_id == str(shop["MUG-1"][0].id)
    run_id = records[0].run_id
    assert run_id.startswith("cli-") and len(run_id) == 16 and run_id in out
    assert {(r.sync_run_id, r.run_id) for r in records} == {(first.id, run_id)}
    assert by_sku["TEE-S"].fields == ["compare_at_price", "options", "price", "sale_price", "sku", "weight"]

    # A rerun with nothing to push writes nothing to the shop, and no lineage row (its unchanged count is in
    # sync_runs, and status shows it).
    assert world.push() == 0
    assert len(_records(world)) == 5
    capsys.readouterr()
    assert world.cli("status", "--tenant", TENANT) == 0
    row = _last_push_row(capsys.readouterr().out)
    second = world.export_runs()[-1]
    assert row[:2] == [str(second.integration_id), "success"]
    assert row[-7:] == ["0", "0", "0", "0", "5", "0", "0"]  # created adopted updated deleted unchanged failed conflicts

    # A hub price edit: the variant is updated (its field), its simple product's link only re-read.
    world.sandbox.clock.advance(60)
    with shared_engine(world.url).begin() as conn:
        conn.execute(update(hub_variants).where(hub_variants.c.sku == "MUG-1").values(price=Decimal("9.50")))
    assert world.push() == 0
    third = world.export_runs()[-1]
    new = [r for r in _records(world) if r.sync_run_id == third.id]
    assert sorted((r.entity, r.sku or "", r.outcome, tuple(r.fields or ())) for r in new) == [
        ("product", "", "refresh", ()),
        ("variant", "MUG-1", "updated", ("price",)),
    ]
    assert new[0].run_id != run_id  # each push has its own run id

    # A per-item refusal: a failed row with the shop's message; the rest applies.
    taken = next(v.sku for v in world.shop.store.variations.values() if v.sku)
    world.import_csv(f"clash,Clash,,active,simple,,,{taken},,5.00,,EUR,,,")
    assert world.push() == 1
    fourth = world.export_runs()[-1]
    failed = [r for r in _records(world) if r.sync_run_id == fourth.id]
    assert [(r.entity, r.handle, r.outcome, r.external_id) for r in failed] == [("product", "clash", "failed", None)]
    assert failed[0].message is not None and "product_invalid_sku: Invalid or duplicated SKU." in failed[0].message
    capsys.readouterr()
    assert world.cli("status", "--tenant", TENANT) == 0
    assert _last_push_row(capsys.readouterr().out)[-6:] == ["0", "0", "0", "5", "1", "0"]
    assert world.cli("lineage", "--tenant", TENANT, "--sku", taken) == 0
    out = capsys.readouterr().out
    assert "failed" in out and "Invalid or duplicated SKU" in out

    # A push killed between the shop's create and our link: the rerun finds the mug by SKU and adopts it.
    mug, [mug_1] = world.unlink("mug", "MUG-1")
    world.push()  # the clash is still refused (exit 1); the mug is what this step checks
    fifth = world.export_runs()[-1]
    mine = {("product", mug), ("variant", mug_1)}
    adopted = {(r.entity, r.hub_id): r for r in _records(world) if r.sync_run_id == fifth.id}
    adopted = {k: r for k, r in adopted.items() if k in mine}
    assert {k: r.outcome for k, r in adopted.items()} == {("product", mug): "adopted", ("variant", mug_1): "adopted"}
    assert adopted[("variant", mug_1)].external_id == by_sku["MUG-1"].external_id  # the same shop record
    assert len(world.shop_by_sku()["MUG-1"]) == 1

    # `lineage` prints the record's whole history, oldest first, with its product's rows.
    capsys.readouterr()
    assert world.cli("lineage", "--tenant", TENANT, "--sku", "MUG-1") == 0
    out = capsys.readouterr().out
    lines = [line.split() for line in out.splitlines()[3:]]
    outcomes = [next(c for c in cells if c in ("created", "updated", "refresh", "adopted")) for cells in lines]
    assert outcomes == ["created", "created", "refresh", "updated", "adopted", "adopted"]
    assert by_sku["MUG-1"].external_id in out and run_id in out and "price" in out
    assert world.cli("lineage", "--tenant", TENANT, "--handle", "nothing-here") == 0
    assert "No push of handle nothing-here" in capsys.readouterr().out
