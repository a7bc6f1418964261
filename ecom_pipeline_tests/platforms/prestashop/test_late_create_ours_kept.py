"""PrestaShop late create: what happens to this push's own new record after its POST answered (review of the
two-way sync, gaps 1 and 4).

1. ``_landed_meanwhile`` looks once more for an earlier push's lost create after this push's own POST answered. That
   look-up failing (a 5xx) left the new product unlinked and unrecorded: the next push saw it as a stranger (a
   merchant's product when the hub title had changed since the lost create) and refused the item on every push.
   Now the new id is recorded in the marker (``ours``) with what this push sent, and the next push adopts it.
4. A push killed between its POST (answered) and its DELETE of its own copy: the rerun neither loses both records
   nor keeps both silently.

Real HTTP to the emulator (``commit_late``: PHP saving after the client gave up; ``after_write``: faults armed once
a given write has been applied), the rejections through the real warehouse on both backends.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from ecom_pipeline.platforms.prestashop import writer as W
from ecom_pipeline.sandbox.server import ShopHandle
from ecom_pipeline.sync.export import CREATE_UNCERTAIN, ExportPlan
from ecom_pipeline_tests.platforms.prestashop import test_create_uncertain_next_push as base
from ecom_pipeline_tests.platforms.prestashop.test_create_uncertain_next_push import (
    _RUN,
    by_handle,
    client_for,
    combinations_of,
    recorded,
    simple_plan,
    variable_plan,
)

sandbox = base.sandbox
shop = base.shop
integration_id = base.integration_id

# Every product read after the armed write answers 500 (more than the client's retries).
_LOOKUP_FAILS = {"server_errors": 50, "server_error_statuses": [500], "server_error_path": "GET /api/products"}


def _lost_never_saved(shop: ShopHandle, plan: ExportPlan, path: str = "POST /api/products") -> Any:
    """Push 1: the create's POST answered by a proxy's 502 (PHP never saved it): rejected with its marker."""
    shop.faults.update({"server_errors": 1, "server_error_statuses": [502], "server_error_path": path})
    with client_for(shop) as client:
        out = W.apply_plan(client, plan, lambda rows: None, concurrency=1)
    assert len(out.rejections) == 1 and CREATE_UNCERTAIN in out.rejections[0].payload, out.rejections
    shop.faults.reset()
    return out


def _edited(plan: ExportPlan, title: str) -> ExportPlan:
    plan.creates[0].values["title"] = title
    return plan


def test_our_new_product_is_recorded_when_the_look_again_fails_and_adopted_next(
    shop: ShopHandle, engine: Engine, integration_id: int
) -> None:
    """Push 1's create lost (never saved); the hub title edited; push 2 creates it (answered) and its look-again
    fails. Before: push 2's product was neither linked nor recorded, and push 3 refused it as a merchant's (it does
    not hold what push 1 sent) on every push. Now push 2 refuses with its id as ``ours`` and push 3 adopts it."""
    handle = f"ours-lookup-{next(_RUN)}"
    out = _lost_never_saved(shop, simple_plan(handle))
    plan2 = recorded(engine, integration_id, out, _edited(simple_plan(handle), "Late, renamed"))
    shop.api.after_write("POST /api/products", _LOOKUP_FAILS)
    links: list[dict[str, Any]] = []
    with client_for(shop) as client:
        again = W.apply_plan(client, plan2, links.extend, concurrency=1)
    shop.faults.reset()
    [ours] = [str(r["id"]) for r in by_handle(shop, handle)]
    if not any(r["entity"] == "product" for r in links):  # not linked: then recorded as ours
        [refused] = again.rejections
        assert refused.payload[CREATE_UNCERTAIN]["ours"] == [ours], refused.payload
    third: list[dict[str, Any]] = []
    with client_for(shop) as client:
        last = W.apply_plan(client, recorded(engine, integration_id, again, _edited(simple_plan(handle), "Late, "
                            "renamed")), third.extend, concurrency=1)  # fmt: skip
    assert last.rejections == [], last.rejections
    assert [str(r["id"]) for r in by_handle(shop, handle)] == [ours]  # no second copy
    assert {r["external_id"] for r in [*links, *third] if r["entity"] == "product"} == {ours}


def test_our_new_product_with_combinations_is_recorded_when_the_look_again_fails(
    shop: ShopHandle, engine: Engine, integration_id: int
) -> None:
    """The same for a product with combinations (its variants without reference: found by slug only)."""
    tag = f"oursv{next(_RUN)}"
    handle = f"late-var-{tag}"
    out = _lost_never_saved(shop, variable_plan(tag, skus=False))
    plan2 = recorded(engine, integration_id, out, _edited(variable_plan(tag, skus=False), "Late var, renamed"))
    shop.api.after_write("POST /api/products", _LOOKUP_FAILS)
    links: list[dict[str, Any]] = []
    with client_for(shop) as client:
        again = W.apply_plan(client, plan2, links.extend, concurrency=1)
    shop.faults.reset()
    [ours] = [str(r["id"]) for r in by_handle(shop, handle)]
    third: list[dict[str, Any]] = []
    with client_for(shop) as client:
        last = W.apply_plan(client, recorded(engine, integration_id, again, _edited(variable_plan(tag, skus=False),
                            "Late var, renamed")), third.extend, concurrency=1)  # fmt: skip
    assert last.rejections == [], last.rejections
    assert [str(r["id"]) for r in by_handle(shop, handle)] == [ours]
    assert {r["external_id"] for r in [*links, *third] if r["entity"] == "product"} == {ours}
    assert len(combinations_of(shop, ours)) == 2


def test_a_push_killed_between_its_post_and_its_delete_keeps_both_and_says_so(
    shop: ShopHandle, engine: Engine, integration_id: int
) -> None:
    """Gap 4: push 2 makes its copy (answered) while push 1's lost create lands, then dies before its DELETE of its
    copy (nothing of push 2 recorded: no link, no rejection; push 1's marker still open). The shop state a kill
    leaves is made here by push 2's DELETE never applied and its outcome dropped. The rerun must neither delete
    both nor link one and leave the other silently: it refuses naming both ids (neither deleted, neither linked)."""
    handle = f"ours-kill-{next(_RUN)}"
    shop.api.commit_late("POST /api/products", 3.0)  # push 1's create: no answer, saved at +3 s
    with client_for(shop) as client:
        out = W.apply_plan(client, simple_plan(handle), lambda rows: None, concurrency=1)
    assert len(out.rejections) == 1 and by_handle(shop, handle) == []
    plan2 = recorded(engine, integration_id, out, simple_plan(handle))
    shop.api.commit_late("POST /api/products", 3.5)  # push 2's own create answers after push 1's landed
    shop.faults.update({"server_errors": 4, "server_error_statuses": [502], "server_error_path": "DELETE /api"})
    client = W.PrestaShopClient(shop.http_url, shop.credentials["api_key"], timeout=4.5, backoff_base_s=0.0,
                                max_retries=1)  # fmt: skip
    client.integration_settings = dict(base.SETTINGS)  # type: ignore[attr-defined]
    with client:
        dropped = W.apply_plan(client, plan2, lambda rows: None, concurrency=1)  # "killed": never recorded
    assert [r.payload[CREATE_UNCERTAIN].get("ours") for r in dropped.rejections] != [None]  # it got to its DELETE
    shop.faults.reset()
    first, copy = (str(i) for i in sorted(int(r["id"]) for r in by_handle(shop, handle)))
    links: list[dict[str, Any]] = []
    with client_for(shop) as client:
        rerun = W.apply_plan(client, recorded(engine, integration_id, out, simple_plan(handle)), links.extend,
                             concurrency=1)  # fmt: skip
    assert sorted(int(r["id"]) for r in by_handle(shop, handle)) == [int(first), int(copy)]  # neither deleted
    assert [r for r in links if r["entity"] == "product"] == []  # neither linked silently
    [refused] = rerun.rejections
    assert refused.payload["candidates"] == [first, copy] and CREATE_UNCERTAIN in refused.payload
    assert first in refused.reason and copy in refused.reason
