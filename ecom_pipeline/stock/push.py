"""The stock step: shops' orders and readings into the ledger, then each shop's new number pushed where it changed.

``run_stock`` is what the ``hub/stock_push`` asset and ``ecom-pipeline stock push`` run for one tenant, under the
tenant's lock (the caller holds it):

1. ``prepare``: new stock links (and opening balances), order, cancel and refund restock movements from the hub's
   orders (``refunds``), the shops' stored readings reconciled, oversells detected;
2. for each stock-managed shop, the links whose available number differs from what the shop shows are handed to
   the platform's stock writer, which reads or compares before writing (``stock/writers.py``); each link's base
   becomes the number the shop now shows;
3. oversells again (a push-time reading may have found more sales).

Nothing here depends on events: a process killed between a movement and its push leaves a ledger whose numbers
differ from the shops', and the next run pushes them (converges).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.engine import Connection

from ecom_pipeline.platforms.registry import platforms
from ecom_pipeline.stock import ledger, links, oversells, refunds
from ecom_pipeline.stock.levels import levels
from ecom_pipeline.stock.settings import StockSettingsError
from ecom_pipeline.stock.writers import Reading, StockOutcome, StockWrite
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.schema import stock_links
from ecom_pipeline.warehouse.types import utcnow

MAX_PASSES = 3


@dataclass
class Prepared:
    """What ``prepare`` recorded."""

    links_created: int = 0
    movements: int = 0
    adjustments: int = 0
    oversells_opened: int = 0
    oversells_resolved: int = 0


@dataclass
class ShopPush:
    """One shop's stock push."""

    integration_id: int
    platform: str
    planned: list[StockWrite] = field(default_factory=list)
    outcome: StockOutcome | None = None
    error: str | None = None


@dataclass
class StockReport:
    """One tenant's stock step."""

    tenant_id: str
    prepared: Prepared
    shops: list[ShopPush] = field(default_factory=list)
    oversells_opened: int = 0

    @property
    def writes(self) -> int:
        return sum(s.outcome.writes for s in self.shops if s.outcome)

    @property
    def api_calls(self) -> int:
        return sum(s.outcome.api_calls for s in self.shops if s.outcome)

    @property
    def failed(self) -> int:
        """Items whose last write of the run failed, plus shops whose push raised: each once per run, however many
        passes tried it again (``shops`` has one entry per shop and pass)."""
        last: dict[tuple[int, int], bool] = {}
        for s in self.shops:
            if s.outcome is None:
                continue
            for settled in s.outcome.settled:
                last[(s.integration_id, settled.link_id)] = False
            for link_id in s.outcome.failed:
                last[(s.integration_id, link_id)] = True
        return sum(last.values()) + len({s.integration_id for s in self.shops if s.error})


def prepare(conn: Connection, tenant_id: str, shops: list[Any]) -> Prepared:
    """Step 1 (one transaction): links, order movements, stored readings, oversells."""
    now = utcnow()
    out = Prepared()
    out.links_created = links.ensure_links(conn, tenant_id, shops, now)
    out.movements = len(ledger.order_movements(conn, tenant_id, now))
    out.movements += len(refunds.refund_movements(conn, tenant_id, now))
    out.adjustments = len(links.reconcile_readings(conn, tenant_id, shops, now))
    out.oversells_opened, out.oversells_resolved = oversells.detect(conn, tenant_id, now)
    return out


def plan_shop(conn: Connection, tenant_id: str, shop: Any) -> list[StockWrite]:
    """The links of one shop whose available number differs from what the shop should show, and those with
    movements no reading has confirmed yet (the writer reads them: shown, or overwritten by our last write)."""
    rows = list(conn.execute(select(stock_links).where(stock_links.c.integration_id == int(shop.id))))
    if not rows:
        return []
    numbers = levels(conn, tenant_id, rows, {int(shop.id): shop})
    stored = links.stored_readings(conn, int(shop.id))
    out = []
    for r in rows:
        expected = ledger.expected_quantity(r)
        target = numbers[int(r.id)].available
        # A stored reading stamped in the same second as our last write or read (shops stamp to the second) may be
        # older or newer than it: when it differs, the writer reads again (our clock) rather than guess.
        reading = stored.get((int(r.variant_id), str(r.shop_location)))
        unsure = (
            reading is not None
            and r.base_at is not None
            and int(reading.available) != expected
            and links.reading_time(reading) >= r.base_at.replace(microsecond=0)
        )
        if target != expected or int(r.unconfirmed or 0) != 0 or unsure:
            out.append(
                StockWrite(int(r.id), int(r.variant_id), str(r.external_item), str(r.shop_location), expected, target)
            )
    return out


def _recompute_for(
    engine: Engine, tenant_id: str, shop: Any, after_read: Callable[[str], None] | None = None
) -> Callable[[Sequence[Reading]], dict[int, int]]:
    def recompute(readings: Sequence[Reading]) -> dict[int, int]:
        now = utcnow()
        with engine.begin() as conn:
            ids = [r.link_id for r in readings]
            rows = {int(r.id): r for r in conn.execute(select(stock_links).where(stock_links.c.id.in_(ids)))}
            for reading in readings:
                link = rows[reading.link_id]
                found = ledger.reconcile(
                    conn, tenant_id, link, reading.quantity, reading.read_at, now, at_push=True, refused=reading.refused
                )
                recompute.moved = recompute.moved or found is not None  # type: ignore[attr-defined]
            numbers = levels(conn, tenant_id, list(rows.values()), {int(shop.id): shop})
            # What is about to be written, committed before the writer sends it: if its answer is lost, the next
            # reading showing this number is our write, not a shop adjustment (ledger module doc).
            intents = []
            for reading in readings:
                target = numbers[reading.link_id].available
                pending = target if target != reading.quantity else None
                at = now if pending is not None else None
                intents.append({"id": reading.link_id, "pending_quantity": pending, "pending_at": at})
            store.executemany_update(conn, stock_links, intents)
        if after_read is not None:
            after_read(shop.platform)
        return {link_id: numbers[link_id].available for link_id in rows}

    recompute.moved = False  # type: ignore[attr-defined]
    return recompute


def _settle(engine: Engine, outcome: StockOutcome) -> None:
    with engine.begin() as conn:
        for s in outcome.settled:
            values: dict[str, Any] = {
                "base_quantity": s.quantity,
                "base_at": s.written_at,
                "read_at": s.read_at,
                "unconfirmed": 0,
                "last_error": None,
                "pending_quantity": None,
                "pending_at": None,
            }
            if s.written:
                values["pushed_at"] = s.written_at
            conn.execute(stock_links.update().where(stock_links.c.id == s.link_id).values(**values))
        for link_id, reason in outcome.failed.items():
            failed: dict[str, Any] = {"last_error": reason[:2000]}
            if link_id not in outcome.uncertain:  # the shop answered no: nothing of that write is in the shop
                failed.update(pending_quantity=None, pending_at=None)
            conn.execute(stock_links.update().where(stock_links.c.id == link_id).values(**failed))


def writer_module(platform: str) -> Any:
    """The platform's stock writer module (``write_stock`` and ``make_client``), named by its spec's ``stock``."""
    known = {name: spec.stock for name, spec in platforms().items() if spec.stock}
    path = known.get(platform)
    if path is None:
        raise LookupError(f"stock cannot be pushed to {platform} (only to {', '.join(sorted(known)) or 'none'})")
    return importlib.import_module(path)


def run_stock(
    engine: Engine,
    *,
    tenant_id: str,
    credentials_for: Callable[[Connection, int], dict[str, Any]],
    integration_id: int | None = None,
    dry_run: bool = False,
    make_client: Callable[[Any, dict[str, Any]], Any] | None = None,
    after_read: Callable[[str], None] | None = None,
) -> StockReport:
    """The stock step for one tenant (see the module doc). ``dry_run`` records the movements but writes no shop.

    ``after_read(platform)`` is called when a writer has read a shop and is about to write it: the tests and the
    benchmark land a sale in exactly that window with it.
    """
    with engine.begin() as conn:
        shops = links.stock_integrations(conn, tenant_id, integration_id)
        if not shops:
            return StockReport(tenant_id, Prepared())  # no shop's stock is managed: the ledger stays as it is
        report = StockReport(tenant_id, prepare(conn, tenant_id, shops))
    # A shop's push-time reading can find sales nobody had seen (a movement), which changes the other shops'
    # numbers, some already pushed in this pass: another pass pushes those (a few at most; usually none).
    clients: dict[int, Any] = {}
    for _ in range(MAX_PASSES):
        moved = False
        for shop in shops:
            push = ShopPush(int(shop.id), shop.platform)
            try:
                with engine.connect() as conn:
                    push.planned = plan_shop(conn, tenant_id, shop)
            except StockSettingsError as exc:  # this shop's settings are wrong: say so, push the others
                push.error = f"{type(exc).__name__}: {exc}"
                report.shops.append(push)
                continue
            if dry_run or not push.planned:
                if not any(p.integration_id == push.integration_id for p in report.shops):
                    report.shops.append(push)
                continue
            report.shops.append(push)
            try:
                module = writer_module(shop.platform)
                if int(shop.id) not in clients:
                    with engine.connect() as conn:
                        credentials = credentials_for(conn, int(shop.id))
                    clients[int(shop.id)] = (make_client or module.make_client)(shop, credentials)
                recompute = _recompute_for(engine, tenant_id, shop, after_read)
                # The outcome is ours, filled as the writer goes: when a later batch raises, the quantities already
                # written still become the links' bases, so the next reading does not take our own write for a
                # shop adjustment (a movement nobody made).
                push.outcome = StockOutcome()
                module.write_stock(clients[int(shop.id)], push.planned, recompute, push.outcome)
            except Exception as exc:  # one shop's failure must not hold back the others; the step reports it
                push.error = f"{type(exc).__name__}: {exc}"
                if push.outcome is not None and push.outcome.settled:
                    _settle(engine, push.outcome)
                continue
            _settle(engine, push.outcome)
            moved = moved or recompute.moved  # type: ignore[attr-defined]
        if dry_run or not moved:
            break
    if not dry_run:
        with engine.begin() as conn:
            report.oversells_opened, _ = oversells.detect(conn, tenant_id, utcnow())
    return report
