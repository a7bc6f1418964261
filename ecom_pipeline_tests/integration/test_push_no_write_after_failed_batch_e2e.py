"""A WooCommerce push whose variation batch fails for good sends no write after it (docs/two-way-sync.md: "none is
sent after it"). Review 4 reproduced one: the batch was settled while the loop waited for a slot for an overlapped
read-back, and the loop still prepared the next parent, whose new variation option was PUT on the parent (its term
created) for a parent then neither sent nor relinked."""

from __future__ import annotations

from ecom_pipeline_tests.integration.push_world import OpenPushWorld
from ecom_pipeline_tests.integration.test_push_relink_overlap_e2e import BATCH, PRODUCTS, ManyWorld, Recorder, _spec


def _catalogue(bump: bool, xl: set[str]) -> list[str]:
    lines = []
    for i in range(PRODUCTS):
        handle = f"p{i:05d}"
        sizes = ("S", "M", "L", "XL") if handle in xl else ("S", "M", "L")
        for n, size in enumerate(sizes):
            price = 10 + i % 40 + n + (5 if bump and size == "S" else 0)
            head = f"{handle},Product {i},<p>Bench</p>,active,variable" if n == 0 else f"{handle},,,,"
            lines.append(f"{head},,,{handle.upper()}-{size},,{price}.00,,EUR,0.5,Size={size},{n + 1}")
    return lines


def test_no_write_after_a_batch_failed_for_good(open_push_world: OpenPushWorld) -> None:
    with open_push_world(ManyWorld, _spec("overlap-after")) as world:
        world.set_concurrency(2)
        world.import_csv(*_catalogue(False, set()))
        assert world.push_here() == 0
        world.sandbox.clock.advance(60)
        store = world.shop.store
        parents = sorted((str(p.id) for p in store.products.values() if (p.slug or "").startswith("p")), key=str)
        slug = {str(p.id): p.slug for p in store.products.values()}
        gone = parents[100]
        xl = {slug[p] for p in parents[101:106]}
        world.import_csv(*_catalogue(True, xl))
        rec = Recorder(world.shop.api, 0.05)
        world.shop.api = rec
        with store.lock:
            store.delete_product(int(gone), force=True)
        assert world.push_here() != 0
        failed_end = max(e for s, e, m, p, q in rec.calls if m == "POST" and p.endswith(f"products/{gone}{BATCH}"))
        late = [(m, p) for s, e, m, p, q in rec.calls if s > failed_end and m != "GET" and BATCH not in p]
        assert late == [], f"writes after the failure: {late}"
