"""WooCommerce and PrestaShop pushes with several calls in flight (``push_concurrency``, docs/two-way-sync.md).

Two emulated shops seeded alike, both connected to one tenant, one pushed with ``push_concurrency`` 1 (one batch
at a time) and one with 4: every push (creates with and without SKU, a per-item refusal, price updates, a variant
delete) must leave the same shop state, the same links and the same lineage in both, while the emulator, which
answers each variation batch after a short delay, sees 4 batches in flight at once on the second shop and never
more than 1 on the first, and the batch creating a SKU-less variation alone. A kill -9 in the middle of a push with
concurrency 4 (batches in flight) must leave no duplicate after the rerun. The same comparison for PrestaShop
(products with combinations created in flight, combination price PUTs in flight, a combination the shop refuses).
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
from ecom_pipeline.warehouse.schema import entity_links, hub_variants, integrations, push_records, rejected_records
from ecom_pipeline.warehouse.types import utcnow
from ecom_pipeline_tests.integration.push_world import OpenPushWorld, PushWorld

BATCH = "/variations/batch"
PS_WRITES = ("/api/products", "/api/combinations")
TAKEN = "TAKEN-1"  # a seeded variation's SKU in each shop (see _take_sku): our variant with it is refused
OURS = {f"v{i}" for i in range(8)} | {"mug"}


class InFlight:
    """Wraps a shop's API: each variation batch POST is answered after ``delay_s`` (asyncio, so other requests are
    served meanwhile, as a real shop's PHP workers would), and every such request's [start, end] is recorded."""

    def __init__(self, api: Any, delay_s: float, paths: tuple[str, ...] = (BATCH,)) -> None:
        self._api = api
        self.delay_s = delay_s
        self.paths = paths
        self.spans: list[tuple[float, float, str]] = []  # (start, end, subpath)
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._api, name)

    async def __call__(self, scope: Any, receive: Any, send: Any, **kwargs: Any) -> Any:
        subpath = str(kwargs.get("subpath", ""))
        if not (scope.get("method") in ("POST", "PUT") and any(p in subpath for p in self.paths)):
            return await self._api(scope, receive, send, **kwargs)
        start = time.monotonic()
        await asyncio.sleep(self.delay_s)
        try:
            return await self._api(scope, receive, send, **kwargs)
        finally:
            with self._lock:
                self.spans.append((start, time.monotonic(), subpath))

    def clear(self) -> None:
        with self._lock:
            self.spans.clear()

    def most_in_flight(self) -> int:
        """The most variation batches the shop was serving at one time."""
        events = sorted([(s, 1) for s, _e, _p in self.spans] + [(e, -1) for _s, e, _p in self.spans])
        most = now = 0
        for _t, step in events:
            now += step
            most = max(most, now)
        return most

    def overlapping(self, parent_id: int) -> list[str]:
        """The other batches in flight while the batch of ``parent_id`` was (empty: it was sent alone)."""
        mine = [(s, e) for s, e, p in self.spans if f"/products/{parent_id}/" in p]
        assert mine, f"no variation batch of product {parent_id} was served"
        return [
            p for s, e, p in self.spans for ms, me in mine if f"/products/{parent_id}/" not in p and s < me and e > ms
        ]


class World(PushWorld):
    def integration_id(self) -> int:
        """This shop's integration (both shops share the tenant)."""
        with shared_engine(self.url).connect() as conn:
            url = self.shop.http_url.rstrip("/")
            return int(conn.execute(select(integrations.c.id).where(integrations.c.base_url == url)).scalar_one())

    def state(self) -> dict[str, Any]:
        """The shop's products and variations as content (ids differ between shops), trashed ones left out."""
        store = self.shop.store
        products = {}
        for p in store.products.values():
            if p.status == "trash" or p.slug not in OURS:
                continue
            variations = sorted(
                (v.sku, v.regular_price, v.sale_price, v.weight, str(sorted(a.get("option", "") for a in v.attributes)))
                for v in store.variations.values()
                if v.parent_id == p.id and v.status != "trash"
            )
            products[p.slug or p.name] = (p.name, p.type, p.status, p.sku, p.regular_price, variations)
        return products

    def shop_key(self, external_id: str) -> str:
        """A shop record's id as content: a product's slug, a variation's parent slug and SKU (or options)."""
        store = self.shop.store
        if int(external_id) in store.products:
            p = store.products[int(external_id)]
            return f"product:{p.slug}"
        v = store.variations[int(external_id)]
        options = sorted(a.get("option", "") for a in v.attributes)
        return f"variation:{store.products[v.parent_id].slug}:{v.sku}:{options}"

    def links(self) -> set[tuple[Any, ...]]:
        """This shop's links, shop ids as content: (entity, hub id, shop record, SKU, has a base, deleted)."""
        with shared_engine(self.url).connect() as conn:
            rows = conn.execute(select(entity_links).where(entity_links.c.integration_id == self.integration_id()))
            return {
                (
                    r.entity,
                    r.hub_id,
                    "deleted" if r.deleted_at is not None else self.shop_key(r.external_id),
                    r.sku,
                    r.base_hash is not None,
                    r.deleted_at is not None,
                )
                for r in rows
            }

    def lineage(self) -> list[tuple[Any, ...]]:
        """This shop's push_records: (entity, hub id, outcome) per push, in order."""
        with shared_engine(self.url).connect() as conn:
            rows = conn.execute(
                select(push_records)
                .where(push_records.c.integration_id == self.integration_id())
                .order_by(push_records.c.sync_run_id, push_records.c.entity, push_records.c.hub_id)
            )
            runs: dict[int, int] = {}
            out = []
            for r in rows:
                run = runs.setdefault(r.sync_run_id, len(runs))
                out.append((run, r.entity, r.hub_id, r.outcome))
            return sorted(out)

    def open_rejections(self) -> list[tuple[str, str, str]]:
        with shared_engine(self.url).connect() as conn:
            rows = conn.execute(
                select(rejected_records).where(
                    rejected_records.c.integration_id == self.integration_id(),
                    rejected_records.c.stage == "export",
                    rejected_records.c.resolved_at.is_(None),
                )
            )
            url = self.shop.http_url.rstrip("/")  # a reason may name the call's URL: the shops' differ
            return sorted((r.entity, r.external_id, r.reason.replace(url, "<shop>")) for r in rows)

    def push_here(self) -> int:
        return self.push("--integration", str(self.integration_id()))

    def set_concurrency(self, n: int) -> None:
        assert (
            self.cli("integration", "set", "--integration", str(self.integration_id()), "--push-concurrency", str(n))
            == 0
        )


def _spec(name: str) -> ShopSpec:
    return ShopSpec(name=name, seed=21, products=4, variable_share=0.5, orders=0, customers=0)


def _catalogue(taken: str) -> list[str]:
    """Eight variable products of three sizes, a simple one; ``v3``'s M variant carries a SKU the shop already has
    on another product (refused in its variation batch); ``v1``'s L variant loses its SKU in the hub (below)."""
    lines = []
    for i in range(8):
        for n, size in enumerate(("S", "M", "L")):
            sku = taken if (i == 3 and size == "M") else f"V{i}-{size}"
            head = f"v{i},Product {i},<p>Bench</p>,active,variable" if n == 0 else f"v{i},,,,"
            lines.append(f"{head},,,{sku},,{10 + i + n}.00,,EUR,0.5,Size={size},{n + 1}")
    lines.append("mug,Mug,,active,simple,,,MUG-1,,8.00,,EUR,0.35,,")
    return lines


@contextlib.contextmanager
def _second_shop(world: World, spec: ShopSpec) -> Iterator[World]:
    """Another shop in its own emulator, connected to the same tenant and warehouse (same secret key)."""
    with SandboxServer(shops=[spec], cert_dir=world.tmp / "certs2") as sandbox:
        other = World(world.url, sandbox, world.instance, world.tmp, spec.name)
        other.connect("push")
        yield other


def _take_sku(store: Any) -> None:
    """Give the shop's first seeded variation with a SKU the SKU ``TAKEN`` (the shops' seeded SKUs differ)."""
    v = next(v for v in store.variations.values() if v.sku)
    store.sku_index.pop(v.sku, None)
    v.sku = TAKEN
    store.sku_index[TAKEN] = v.id


def _push_both(one: World, four: World) -> None:
    for w in (one, four):
        assert w.push_here() in (0, 1)  # 1: the refused variant


def test_concurrency_4_leaves_the_same_shop_links_and_lineage_as_1_with_4_batches_in_flight(
    open_push_world: OpenPushWorld,
) -> None:
    """Prevents concurrent variation batches from changing what a push does (links, counts, refusals, lineage)
    and a push that claims concurrency but still waits for each answer; and a SKU-less create sent with others in
    flight (a kill then could leave it created and unlinked: a rerun cannot find it by SKU, it would be created
    twice)."""
    with open_push_world(World, _spec("conc-one")) as one, _second_shop(one, _spec("conc-four")) as four:
        for w in (one, four):
            _take_sku(w.shop.store)
        one.set_concurrency(1)
        four.set_concurrency(4)
        one.import_csv(*_catalogue(TAKEN))
        with shared_engine(one.url).begin() as conn:  # a SKU-less variant (as a shop without SKUs brings in)
            conn.execute(update(hub_variants).where(hub_variants.c.sku == "V1-L").values(sku=None))
        recorders = {}
        for w in (one, four):
            recorders[w.shop_name] = recorder = InFlight(w.shop.api, 0.3)
            w.shop.api = recorder

        _push_both(one, four)  # creates
        assert one.state() == four.state()
        v1 = next(p.id for p in four.shop.store.products.values() if p.slug == "v1")
        assert sum(1 for v in four.shop.store.variations.values() if v.parent_id == v1 and not v.sku) == 1
        assert recorders["conc-one"].most_in_flight() == 1
        assert recorders["conc-four"].most_in_flight() == 4, "the window of 4 batches was not used"
        assert recorders["conc-four"].overlapping(v1) == [], "the SKU-less variation's batch was not sent alone"
        assert one.open_rejections() == four.open_rejections() != []

        for w in recorders.values():
            w.clear()
        for w in (one, four):
            w.sandbox.clock.advance(60)
        with shared_engine(one.url).begin() as conn:  # price updates, and a variant the hub deleted
            for i in range(8):
                conn.execute(update(hub_variants).where(hub_variants.c.sku == f"V{i}-S").values(price=99))
            conn.execute(update(hub_variants).where(hub_variants.c.sku == "V5-L").values(deleted_at=utcnow()))
        _push_both(one, four)
        assert recorders["conc-four"].most_in_flight() == 4
        assert one.state() == four.state()
        assert all(
            v.regular_price == "99.00"
            for v in four.shop.store.variations.values()
            if v.sku.endswith("-S") and v.sku[:1] == "V"
        )
        assert not any(v.sku == "V5-L" and v.status != "trash" for v in four.shop.store.variations.values())
        assert one.links() == four.links()
        assert one.lineage() == four.lineage()
        assert one.open_rejections() == four.open_rejections()
        runs = {w.shop_name: w.export_runs() for w in (one, four)}
        counts = [[(r.created, r.updated, r.deleted, r.failed) for r in rs if r.integration_id == w.integration_id()]
                  for w, rs in ((one, runs["conc-one"]), (four, runs["conc-four"]))]  # fmt: skip
        assert counts[0] == counts[1]

        for w in (one, four):  # nothing left to write
            w.shop.stats.reset()
            assert w.push_here() in (0, 1)
            assert w.shop.stats.count(method="POST", path_prefix="/wp-json/wc/v3/products/") <= 1  # the refusal


def test_a_push_with_batches_in_flight_killed_mid_push_leaves_no_duplicate_after_the_rerun(
    open_push_world: OpenPushWorld,
) -> None:
    """Prevents duplicates after a kill -9 while several variation batches are in flight (answered, held, not yet
    sent): the rerun finds what the shop created by SKU and links it."""
    with open_push_world(World, _spec("conc-kill")) as world:
        world.set_concurrency(4)
        lines = [line for line in _catalogue("NOT-TAKEN") if not line.startswith("mug")]
        world.import_csv(*lines)
        recorder = InFlight(world.shop.api, 0.2)
        world.shop.api = recorder
        # Write 1 is the products batch, 2.. the variation batches: the 4th is held while others are in flight.
        world.kill_push_at_write(5)
        assert recorder.most_in_flight() >= 2, "no batches were in flight together when the push was killed"
        assert world.push_here() == 0
        store = world.shop.store
        ours = {p.id for p in store.products.values() if p.slug in OURS}
        skus = [v.sku for v in store.variations.values() if v.status != "trash" and v.parent_id in ours]
        expected = sorted(
            ("NOT-TAKEN" if (i == 3 and s == "M") else f"V{i}-{s}") for i in range(8) for s in ("S", "M", "L")
        )
        assert sorted(skus) == expected  # each once
        assert sum(1 for p in store.products.values() if p.slug.startswith("v") and p.status != "trash") == 8
        assert world.linked_variant_skus() == expected
        world.shop.stats.reset()
        assert world.push_here() == 0
        assert world.writes() == 0


# -- PrestaShop -----------------------------------------------------------------------------------------------------


class PsWorld(World):
    def state(self) -> dict[str, Any]:
        """Our products and their combinations as content (ids differ between shops)."""
        store = self.shop.store
        out = {}
        for pid, p in store.tables["products"].items():
            handle = store.text(p["link_rewrite"])
            if handle not in OURS:
                continue
            combos = sorted(
                (str(c.get("reference")), str(c.get("price")), str(c.get("isbn") or ""))
                for c in store.tables["combinations"].values()
                if str(c.get("id_product")) == str(pid)
            )
            out[handle] = (store.text(p["name"]), str(p.get("price")), str(p.get("active")), combos)
        return out

    def shop_key(self, external_id: str) -> str:
        store = self.shop.store
        pid, _, cid = external_id.partition("-")
        handle = store.text(store.tables["products"][int(pid)]["link_rewrite"])
        if not cid or cid == "0":
            return f"product:{handle}" + (":simple" if cid else "")
        return f"combination:{handle}:{store.tables['combinations'][int(cid)].get('reference')}"


def _ps_spec(name: str) -> ShopSpec:
    return ShopSpec(name=name, seed=5, products=2, variable_share=0.0, orders=0, customers=0,
                    platform="prestashop", options={"languages": ["en"]})  # fmt: skip


@contextlib.contextmanager
def _second_ps_shop(world: PsWorld, spec: ShopSpec) -> Iterator[PsWorld]:
    """Another PrestaShop shop in its own emulator; its key goes through the environment as connect reads it."""
    import os

    with SandboxServer(shops=[spec], cert_dir=world.tmp / "certs2") as sandbox:
        other = PsWorld(world.url, sandbox, world.instance, world.tmp, spec.name)
        saved = os.environ.get("ECOM_PRESTASHOP_API_KEY")
        os.environ["ECOM_PRESTASHOP_API_KEY"] = other.shop.credentials["api_key"]
        try:
            other.connect("push")
        finally:
            if saved is not None:
                os.environ["ECOM_PRESTASHOP_API_KEY"] = saved
        yield other


def test_prestashop_concurrency_4_leaves_the_same_shop_links_and_lineage_as_1_with_4_calls_in_flight(
    open_push_world: OpenPushWorld,
) -> None:
    """Prevents concurrent PrestaShop creates and combination PUTs from changing what a push does (links,
    counts, a combination the shop refuses mid-product, lineage), and a push that still waits for each answer."""
    with open_push_world(PsWorld, _ps_spec("ps-one")) as one, _second_ps_shop(one, _ps_spec("ps-four")) as four:
        one.set_concurrency(1)
        four.set_concurrency(4)
        lines = []
        for i in range(8):
            for n, size in enumerate(("S", "M", "L")):
                head = f"v{i},Product {i},<p>Bench</p>,active,variable" if n == 0 else f"v{i},,,,"
                lines.append(f"{head},,,V{i}-{size},,{10 + i + n}.00,,EUR,0.5,,{n + 1}")
        lines.append("mug,Mug,,active,simple,,,MUG-1,,8.00,,EUR,0.35,,")
        one.import_csv(*lines)
        with shared_engine(one.url).begin() as conn:  # an isbn the shop refuses: v2's second combination fails
            conn.execute(update(hub_variants).where(hub_variants.c.sku == "V2-M").values(barcode="12345678X"))
        recorders = {}
        for w in (one, four):
            recorders[w.shop_name] = recorder = InFlight(w.shop.api, 0.2, PS_WRITES)
            w.shop.api = recorder

        _push_both(one, four)  # creates
        assert one.state() == four.state()
        assert len(four.state()) == 9
        assert recorders["ps-one"].most_in_flight() == 1
        assert recorders["ps-four"].most_in_flight() == 4, "the window of 4 calls was not used"
        assert one.open_rejections() == four.open_rejections() != []

        for w in recorders.values():
            w.clear()
        for w in (one, four):
            w.sandbox.clock.advance(60)
        with shared_engine(one.url).begin() as conn:  # combination price updates
            for i in range(8):
                conn.execute(update(hub_variants).where(hub_variants.c.sku == f"V{i}-L").values(price=99))
        _push_both(one, four)
        assert recorders["ps-one"].most_in_flight() == 1
        assert recorders["ps-four"].most_in_flight() == 4
        assert one.state() == four.state()
        assert one.links() == four.links()
        assert one.lineage() == four.lineage()
        assert one.open_rejections() == four.open_rejections()
        counts = [
            [
                (r.created, r.updated, r.deleted, r.failed)
                for r in w.export_runs()
                if r.integration_id == w.integration_id()
            ]
            for w in (one, four)
        ]
        assert counts[0] == counts[1]


def test_a_batch_failing_for_good_with_others_in_flight_fails_the_push_after_them_and_sends_no_more(
    open_push_world: OpenPushWorld,
) -> None:
    """Prevents a push that goes on sending after a batch failed for good (a parent deleted in the shop since the
    last pull), or that drops the batches already in flight unprocessed: they were applied by the shop and are
    counted; the next batch is never sent, and the push fails."""
    with open_push_world(World, _spec("conc-fail")) as world:
        world.set_concurrency(4)
        world.import_csv(*[line for line in _catalogue("NOT-TAKEN") if not line.startswith("mug")])
        assert world.push_here() == 0
        world.sandbox.clock.advance(60)
        with shared_engine(world.url).begin() as conn:
            for i in range(8):
                conn.execute(update(hub_variants).where(hub_variants.c.sku == f"V{i}-S").values(price=99))
        store = world.shop.store
        ids = {p.slug: p.id for p in store.products.values() if p.slug in OURS}
        with store.lock:
            store.delete_product(ids["v3"], force=True)
        world.shop.stats.reset()
        # Parents in id order: v0..v3 go out together, v4..v6 each once an answer is processed; v3's fails (the
        # shop no longer has it) with v4..v6 in flight; v7 is never sent.
        assert world.push_here() != 0
        assert world.export_runs()[-1].status == "failed"
        prices = {v.sku: v.regular_price for v in store.variations.values() if v.sku.endswith("-S")}
        assert [prices[f"V{i}-S"] == "99.00" for i in (0, 1, 2, 4, 5, 6, 7)] == [True] * 6 + [False]
        sent = {key.split(" ", 1)[1] for key in world.shop.stats.as_dict()["by_path"] if key.startswith("POST ")}
        assert f"/wp-json/wc/v3/products/{ids['v7']}{BATCH}" not in sent
        assert len(sent) == 7


def test_a_prestashop_push_with_creates_in_flight_killed_mid_push_leaves_no_duplicate_after_the_rerun(
    open_push_world: OpenPushWorld,
) -> None:
    """Prevents duplicate products or combinations after a kill -9 while several products are being created at
    once (some with only part of their combinations): the rerun finds each by a combination's reference or by its
    link_rewrite, and completes it."""
    with open_push_world(PsWorld, _ps_spec("ps-kill")) as world:
        world.set_concurrency(4)
        world.import_csv(
            *[
                (f"v{i},Product {i},,active,variable" if n == 0 else f"v{i},,,,") + f",,,V{i}-{s},,{10 + n}.00,,EUR,,,"
                f"{n + 1}"
                for i in range(8)
                for n, s in enumerate(("S", "M", "L"))
            ]
        )
        recorder = InFlight(world.shop.api, 0.1, PS_WRITES)
        world.shop.api = recorder
        world.kill_push_at_write(10)
        assert recorder.most_in_flight() >= 2, "no calls were in flight together when the push was killed"
        assert world.push_here() == 0
        store = world.shop.store
        names = sorted(store.text(p["name"]) for p in store.tables["products"].values())
        assert [n for n in names if n.startswith("Product ")] == [f"Product {i}" for i in range(8)]  # each once
        refs = sorted(str(c.get("reference")) for c in store.tables["combinations"].values())
        expected = sorted(f"V{i}-{s}" for i in range(8) for s in ("S", "M", "L"))
        assert [r for r in refs if r.startswith("V")] == expected
        assert world.linked_variant_skus() == expected
        world.shop.stats.reset()
        assert world.push_here() == 0
        assert world.writes() == 0
