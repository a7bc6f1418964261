"""WooCommerce push with batches in flight: the read-back of each 100 parents overlaps the later variation batches.

The writer reads back the parents whose variations it wrote (``GET products?include=...``, 100 a call) to store
each link's base (echo suppression). With ``push_concurrency`` above 1 each full chunk of 100 parents is read and
relinked as soon as their batches are answered, while the later batches are in flight, instead of after the last
batch (``woocommerce/writer.py``, ``_variations``). Two emulated shops seeded alike get the same pushes, one with
concurrency 1 (read-back after every batch, as before) and one with 4: the same calls, shop state, links (with
their bases), lineage and refusals (a variant refused in a batch of the first, overlapped chunk), and the
no-change push that follows writes nothing on either.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select, update

from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import entity_links, hub_variants
from ecom_pipeline_tests.integration.push_world import OpenPushWorld
from ecom_pipeline_tests.integration.test_push_concurrency_e2e import TAKEN, World, _take_sku

PRODUCTS = 230  # two full read-back chunks of 100 parents, and a last one of 30 read after the batches
BATCH = "/variations/batch"


class Recorder:
    """Wraps a shop's API: every request's (start, end, method, subpath, query) is recorded; variation batches are
    answered after ``delay_s`` (asyncio: other requests are served meanwhile, as a real shop's PHP workers are)."""

    def __init__(self, api: Any, delay_s: float) -> None:
        self._api = api
        self.delay_s = delay_s
        self.calls: list[tuple[float, float, str, str, str]] = []
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._api, name)

    async def __call__(self, scope: Any, receive: Any, send: Any, **kwargs: Any) -> Any:
        subpath = str(kwargs.get("subpath", ""))
        start = time.monotonic()
        end = [start]

        async def answering(message: Any) -> None:
            if message.get("type") == "http.response.body" and not message.get("more_body"):
                end[0] = time.monotonic()  # before the client can have the answer (and send its next call)
            await send(message)

        if BATCH in subpath:
            await asyncio.sleep(self.delay_s)
        try:
            return await self._api(scope, receive, answering, **kwargs)
        finally:
            query = scope.get("query_string", b"").decode()
            with self._lock:
                self.calls.append((start, end[0], str(scope.get("method")), subpath, query))

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()

    def read_backs(self) -> list[tuple[float, float]]:
        return [(s, e) for s, e, m, p, q in self.calls if m == "GET" and p.endswith("/products") and "include=" in q]

    def batches(self) -> list[tuple[float, float]]:
        return [(s, e) for s, e, m, p, _q in self.calls if m == "POST" and BATCH in p]

    def kinds(self) -> dict[tuple[str, str], int]:
        """(method, path with ids as {id}) -> calls: what was sent, whatever the order."""
        out: dict[tuple[str, str], int] = {}
        for _s, _e, method, path, _q in self.calls:
            key = (method, "/".join("{id}" if part.isdigit() else part for part in path.split("/")))
            out[key] = out.get(key, 0) + 1
        return out

    def most_in_flight(self) -> int:
        events = sorted([(s, 1) for s, *_ in self.calls] + [(e, -1) for _s, e, *_ in self.calls])
        most = now = 0
        for _t, step in events:
            now += step
            most = max(most, now)
        return most


class ManyWorld(World):
    def state(self) -> dict[str, Any]:
        store = self.shop.store
        out = {}
        for p in store.products.values():
            if p.status == "trash" or not (p.slug or "").startswith("p"):
                continue
            variations = sorted(
                (v.sku, v.regular_price, v.weight, str(sorted(a.get("option", "") for a in v.attributes)))
                for v in store.variations.values()
                if v.parent_id == p.id and v.status != "trash"
            )
            out[p.slug] = (p.name, p.type, p.status, variations)
        return out

    def bases(self) -> dict[tuple[str, int], tuple[bool, Any]]:
        """(entity, hub id) -> (whether the base is whole: hashed, the link's base snapshot as content: the shop's
        ids and times, which differ between shops, left out), live links."""
        with shared_engine(self.url).connect() as conn:
            rows = conn.execute(
                select(entity_links).where(
                    entity_links.c.integration_id == self.integration_id(), entity_links.c.deleted_at.is_(None)
                )
            )
            return {
                (r.entity, int(r.hub_id)): (
                    r.base_hash is not None,
                    sorted(
                        (k, str(v))
                        for k, v in (r.base_snapshot or {}).items()
                        if not (k.endswith("_at") or k.endswith("id") or k in ("url", "permalink"))
                    ),
                )
                for r in rows
            }


def _spec(name: str) -> ShopSpec:
    return ShopSpec(name=name, seed=21, products=4, variable_share=0.5, orders=0, customers=0)


def _catalogue(bump: bool = False) -> list[str]:
    """PRODUCTS variable products of three sizes; ``p00003``'s M variant carries the SKU the shop already has on
    another product (refused in its variation batch, which is in the first chunk, overlapped)."""
    lines = []
    for i in range(PRODUCTS):
        for n, size in enumerate(("S", "M", "L")):
            sku = TAKEN if (i == 3 and size == "M") else f"P{i:05d}-{size}"
            price = 10 + i % 40 + n + (1 if bump and size == "M" else 0)
            head = f"p{i:05d},Product {i},<p>Bench</p>,active,variable" if n == 0 else f"p{i:05d},,,,"
            lines.append(f"{head},,,{sku},,{price}.00,,EUR,0.5,Size={size},{n + 1}")
    return lines


@contextlib.contextmanager
def _second_shop(world: ManyWorld, spec: ShopSpec) -> Iterator[ManyWorld]:
    with SandboxServer(shops=[spec], cert_dir=world.tmp / "certs2") as sandbox:
        other = ManyWorld(world.url, sandbox, world.instance, world.tmp, spec.name)
        other.connect("push")
        yield other


def test_read_backs_overlap_the_batches_in_flight_and_leave_the_same_links_bases_and_refusals(
    open_push_world: OpenPushWorld,
) -> None:
    """Prevents the read-back from waiting for the last variation batch when batches are in flight (it then added
    its calls and the relink's work to the push's wall), and an overlapped read-back that changes what a push does:
    a parent read before its own batches were answered (a base without the write), a variation's bare link
    committed after its relinked one (its base dropped), other calls or payloads, a refusal lost."""
    with open_push_world(ManyWorld, _spec("overlap-one")) as one, _second_shop(one, _spec("overlap-four")) as four:
        for w in (one, four):
            _take_sku(w.shop.store)
        one.set_concurrency(1)
        four.set_concurrency(4)
        recorders: dict[str, Recorder] = {}
        for w in (one, four):
            recorders[w.shop_name] = recorder = Recorder(w.shop.api, 0.01)
            w.shop.api = recorder

        for phase in ("create", "price"):
            if phase == "create":
                one.import_csv(*_catalogue())
            else:
                with shared_engine(one.url).begin() as conn:
                    for i in range(PRODUCTS):
                        conn.execute(update(hub_variants).where(hub_variants.c.sku == f"P{i:05d}-S").values(price=99))
            for r in recorders.values():
                r.clear()
            for w in (one, four):
                assert w.push_here() == 1  # the refused variant
            serial, overlapped = recorders["overlap-one"], recorders["overlap-four"]
            assert serial.kinds() == overlapped.kinds(), phase  # the same calls
            assert len(overlapped.read_backs()) == 3, phase
            last_batch_start = max(s for s, _e in overlapped.batches())
            early = [s for s, _e in overlapped.read_backs() if s < last_batch_start]
            assert len(early) == 2, f"{phase}: the full chunks were not read back while batches were in flight"
            assert all(s >= max(e for _s, e in serial.batches()) for s, _e in serial.read_backs()), phase
            # push_concurrency (4) bounds every call in flight, the push's own thread's included (it takes a slot
            # first: docs/two-way-sync.md, "Push concurrency"; 5 was seen in a CI run before).
            assert overlapped.most_in_flight() <= 4, phase
            assert one.state() == four.state(), phase
            assert one.links() == four.links(), phase
            assert one.lineage() == four.lineage(), phase
            assert one.open_rejections() == four.open_rejections() != [], phase
            bases = {w.shop_name: w.bases() for w in (one, four)}
            assert bases["overlap-one"] == bases["overlap-four"], phase  # the same bases
            assert len(bases["overlap-four"]) == PRODUCTS * 4 - 1
            assert all(whole and snap for whole, snap in bases["overlap-four"].values()), f"{phase}: a base missing"

        for w in (one, four):  # nothing left to write (the refused variant is retried, refused again)
            recorders[w.shop_name].clear()
            assert w.push_here() == 1
            writes = [k for k in recorders[w.shop_name].kinds() if k[0] in ("POST", "PUT", "PATCH", "DELETE")]
            assert writes == [("POST", "/wp-json/wc/v3/products/{id}/variations/batch")]
            assert recorders[w.shop_name].kinds()[writes[0]] == 1


def test_a_batch_failing_for_good_keeps_the_links_of_the_chunks_read_back_before_it(
    open_push_world: OpenPushWorld,
) -> None:
    """Prevents an overlapped read-back from being lost or wrong when a later batch fails for good (a parent deleted
    in the shop since the last pull): the 100 parents read back and relinked while batches were in flight keep
    their new bases (not sent again next time), the parents after the failure keep their old ones (sent again),
    and the push fails as before."""
    from decimal import Decimal

    with open_push_world(ManyWorld, _spec("overlap-fail")) as world:
        world.set_concurrency(4)
        world.import_csv(*[line for line in _catalogue() if TAKEN not in line])
        assert world.push_here() == 0
        world.sandbox.clock.advance(60)
        with shared_engine(world.url).begin() as conn:
            for i in range(PRODUCTS):
                conn.execute(update(hub_variants).where(hub_variants.c.sku == f"P{i:05d}-S").values(price=99))
        store = world.shop.store
        # The writer sends the parents in the order of their ids as text (``_variations``): the 150th fails.
        parents = sorted((str(p.id) for p in store.products.values() if (p.slug or "").startswith("p")), key=str)
        gone = parents[149]
        with store.lock:
            store.delete_product(int(gone), force=True)
        assert world.push_here() != 0
        assert world.export_runs()[-1].status == "failed"
        with shared_engine(world.url).connect() as conn:
            rows = conn.execute(
                select(entity_links.c.external_parent_id, entity_links.c.sku, entity_links.c.base_snapshot).where(
                    entity_links.c.integration_id == world.integration_id(),
                    entity_links.c.entity == "variant",
                    entity_links.c.sku.like("%-S"),
                )
            ).all()
        base_price = {str(r.external_parent_id): Decimal(str((r.base_snapshot or {}).get("price"))) for r in rows}
        assert all(base_price[p] == 99 for p in parents[:100]), "a chunk read back before the failure lost its base"
        assert all(base_price[p] != 99 for p in parents[150:]), "a parent after the failure was relinked"
