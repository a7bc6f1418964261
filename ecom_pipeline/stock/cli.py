"""``ecom-pipeline stock push|levels|movements|adjust|buffer`` and the stock lines of ``status`` (issue 11).

Kept apart from ``ecom_pipeline/cli.py`` (which only registers them) so the stock commands live with the ledger.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from ecom_pipeline.stock.settings import BUFFER_KEY, DEFAULT_HUB_LOCATION, ENABLED_KEY, Buffer, StockSettingsError

REASONS_HELP = "order, cancel, refund_restock, shop_adjustment, hub_adjustment, import, count"


def _helpers() -> Any:
    from ecom_pipeline import cli

    return cli


def _variant(conn: Connection, tenant: str, sku: str) -> int | None:
    from ecom_pipeline.warehouse.schema import hub_variants

    query = select(hub_variants.c.id).where(
        hub_variants.c.tenant_id == tenant, hub_variants.c.sku == sku, hub_variants.c.deleted_at.is_(None)
    )
    found = conn.execute(query).scalar_one_or_none()
    return None if found is None else int(found)


def cmd_stock_push(args: argparse.Namespace) -> int:
    """Record movements, reconcile the shops and push their numbers (what ``hub/stock_push`` runs), under the
    tenant's lock."""
    from ecom_pipeline.stock.push import run_stock
    from ecom_pipeline.warehouse import store
    from ecom_pipeline.warehouse.locks import TenantLockLost, TenantLockTimeout, command_lock

    cli = _helpers()
    engine = cli._engine(args)

    credentials_for = store.credentials_loader(lambda: cli._cipher(args))

    try:
        # Always under the lock, a dry run too: it still records the orders' movements in the ledger.
        with command_lock(engine, args.tenant, "ecom-pipeline stock push"):
            report = run_stock(
                engine,
                tenant_id=args.tenant,
                integration_id=args.integration,
                credentials_for=credentials_for,
                dry_run=args.dry_run,
            )
    except TenantLockTimeout as exc:
        print(
            f"error: {exc}. Nothing was recorded or pushed; run it again when that run has finished.", file=sys.stderr
        )
        return 1
    except TenantLockLost as exc:
        print(
            f"error: {exc} Run the stock push again: quantities are pushed from the ledger, so a second push "
            "changes only what is still off.",
            file=sys.stderr,
        )
        return 1
    p = report.prepared
    print(
        f"Tenant {args.tenant}: {p.links_created} new stock link(s), {p.movements} order/cancel movement(s), "
        f"{p.adjustments} shop adjustment(s), oversells opened {p.oversells_opened + report.oversells_opened}, "
        f"resolved {p.oversells_resolved}"
    )
    if not report.shops:
        print("No shop's stock is managed by the hub: `ecom-pipeline stock buffer --integration N --manage`.")
        return 0
    rows = []
    for s in report.shops:
        o = s.outcome
        rows.append(
            [
                s.integration_id,
                s.platform,
                len(s.planned),
                o.writes if o else "-",
                o.refusals if o else "-",
                len(o.failed) if o else "-",
                o.api_calls if o else "-",
                (s.error or "")[:70],
            ]
        )
        for link_id, reason in o.failed.items() if o else []:
            print(f"  link {link_id}: {reason}", file=sys.stderr)
    cli._print_table(["shop", "platform", "to check", "written", "refused", "failed", "calls", "error"], rows)
    if args.dry_run:
        print("dry run: movements recorded, nothing written to any shop")
    if report.failed:  # each item once, however many passes of the run tried it (the rows above are per pass)
        print(f"{report.failed} item(s) or shop(s) failed", file=sys.stderr)
    return 1 if report.failed else 0


def cmd_stock_levels(args: argparse.Namespace) -> int:
    """On hand, committed and available per shop, per variant and location."""
    from ecom_pipeline.stock.ledger import expected_quantity, on_hand
    from ecom_pipeline.stock.levels import levels
    from ecom_pipeline.stock.links import stock_integrations
    from ecom_pipeline.warehouse.schema import hub_variants, stock_links

    cli = _helpers()
    with cli._engine(args).connect() as conn:
        shops = {int(s.id): s for s in stock_integrations(conn, args.tenant)}
        query = select(stock_links).where(stock_links.c.tenant_id == args.tenant)
        if args.sku:
            variant = _variant(conn, args.tenant, args.sku)
            if variant is None:
                print(f"error: tenant {args.tenant} has no live variant with SKU {args.sku!r}", file=sys.stderr)
                return 2
            query = query.where(stock_links.c.variant_id == variant)
        links = [
            r
            for r in conn.execute(query.order_by(stock_links.c.variant_id, stock_links.c.integration_id))
            if int(r.integration_id) in shops
        ]
        skus = dict(
            conn.execute(
                select(hub_variants.c.id, hub_variants.c.sku).where(hub_variants.c.tenant_id == args.tenant)
            ).all()
        )
        numbers = levels(conn, args.tenant, links, shops)
        hand = on_hand(conn, args.tenant)
    rows = []
    for link in links[: args.limit]:
        n = numbers[int(link.id)]
        rows.append(
            [
                skus.get(link.variant_id) or f"#{link.variant_id}",
                link.hub_location,
                n.on_hand,
                n.committed,
                f"#{link.integration_id} {shops[int(link.integration_id)].platform}",
                n.buffer,
                n.available,
                expected_quantity(link),
                "" if n.available == expected_quantity(link) else "push pending",
            ]
        )
    if not rows:
        print("No stock links yet: run `ecom-pipeline stock push --tenant ...` after a sync.")
        return 0
    cli._print_table(["sku", "location", "on hand", "committed", "shop", "buffer", "available", "shop shows", ""], rows)
    negative = sum(1 for v in hand.values() if v < 0)
    if negative:
        print(f"{negative} variant/location(s) below zero: see `ecom-pipeline status` (oversells)")
    return 0


def cmd_stock_movements(args: argparse.Namespace) -> int:
    """The ledger, newest first, by SKU and reason."""
    from ecom_pipeline.warehouse.schema import hub_variants, stock_movements

    cli = _helpers()
    with cli._engine(args).connect() as conn:
        query = (
            select(stock_movements, hub_variants.c.sku)
            .join(hub_variants, hub_variants.c.id == stock_movements.c.variant_id)
            .where(stock_movements.c.tenant_id == args.tenant)
            .order_by(stock_movements.c.id.desc())
            .limit(args.limit)
        )
        if args.sku:
            query = query.where(hub_variants.c.sku == args.sku)
        if args.reason:
            query = query.where(stock_movements.c.reason == args.reason)
        rows = conn.execute(query).all()
    cli._print_table(
        ["id", "sku", "location", "delta", "reason", "shop", "when", "reference"],
        [
            [
                r.id,
                r.sku,
                r.location,
                f"{r.delta:+d}",
                r.reason,
                r.integration_id or "hub",
                cli._fmt_time(r.occurred_at),
                (r.external_ref or "")[:60],
            ]
            for r in rows
        ],
    )
    return 0


def cmd_stock_adjust(args: argparse.Namespace) -> int:
    """A person's change in the hub: ``--delta`` units (hub_adjustment) or ``--count`` (a stock count)."""
    import uuid

    from ecom_pipeline.stock.ledger import hub_movement, on_hand
    from ecom_pipeline.warehouse.types import utcnow

    cli = _helpers()
    if (args.delta is None) == (args.count is None):
        print("error: give exactly one of --delta N or --count N", file=sys.stderr)
        return 2
    if args.count is not None and args.count < 0:
        print(f"error: a count cannot be negative ({args.count})", file=sys.stderr)
        return 2
    with cli._engine(args).begin() as conn:
        variant = _variant(conn, args.tenant, args.sku)
        if variant is None:
            print(f"error: tenant {args.tenant} has no live variant with SKU {args.sku!r}", file=sys.stderr)
            return 2
        hub_movement(
            conn,
            args.tenant,
            variant_id=variant,
            location=args.location,
            delta=args.delta,
            count=args.count,
            note=args.note,
            key=f"hub:{uuid.uuid4()}",
            now=utcnow(),
        )
        now_on_hand = on_hand(conn, args.tenant, [(variant, args.location)])[(variant, args.location)]
    print(
        f"{args.sku} at {args.location}: on hand {now_on_hand}. The next stock push (or `ecom-pipeline stock "
        "push`) brings every shop to it."
    )
    return 0


def cmd_stock_buffer(args: argparse.Namespace) -> int:
    """Set a shop's buffer (and whether the hub manages its stock), or one product's buffer in that shop."""
    from ecom_pipeline.warehouse import store
    from ecom_pipeline.warehouse.schema import hub_variants, integrations, stock_links

    cli = _helpers()
    try:
        if args.buffer is not None:
            Buffer.parse(args.buffer)
    except StockSettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with cli._engine(args).begin() as conn:
        try:
            shop = store.get_integration(conn, args.integration, for_update=True)
        except LookupError:
            print(f"error: no integration {args.integration}", file=sys.stderr)
            return 2
        if args.handle or args.sku:
            if args.buffer is None:
                print("error: give the buffer for the product (e.g. 3 or 10%)", file=sys.stderr)
                return 2
            from ecom_pipeline.warehouse.schema import hub_products

            query = select(hub_variants.c.id).where(hub_variants.c.tenant_id == shop.tenant_id)
            if args.sku:
                query = query.where(hub_variants.c.sku == args.sku)
            else:
                query = query.join(hub_products, hub_products.c.id == hub_variants.c.product_id).where(
                    hub_products.c.handle == args.handle
                )
            ids = [int(v) for v in conn.execute(query).scalars()]
            if not ids:
                print("error: no such product or SKU in the hub", file=sys.stderr)
                return 2
            done = conn.execute(
                stock_links.update()
                .where(stock_links.c.integration_id == shop.id, stock_links.c.variant_id.in_(ids))
                .values(buffer=args.buffer or None)
            ).rowcount
            print(
                f"Buffer {args.buffer or 'none'} on {done} stock link(s) of shop #{shop.id} (the shop's own buffer "
                "no longer applies to them)."
            )
            return 0
        settings = dict(shop.settings or {})
        if args.buffer is not None:
            settings[BUFFER_KEY] = args.buffer or None
        if args.manage is not None:
            settings[ENABLED_KEY] = args.manage
        conn.execute(integrations.update().where(integrations.c.id == shop.id).values(settings=settings))
    print(
        f"Shop #{shop.id}: stock managed by the hub: {bool(settings.get(ENABLED_KEY))}, buffer "
        f"{settings.get(BUFFER_KEY) or 'none'}"
    )
    return 0


def cmd_stock_demo(args: argparse.Namespace) -> int:
    """Three emulated shops selling one shelf: an order in one shop, and the seconds until the other two show it.

    Runs on its own temporary warehouse and emulators (nothing of the embedded default is touched).
    """
    import os
    import tempfile
    import time
    from pathlib import Path

    from cryptography.fernet import Fernet

    from ecom_pipeline.stock.world import PLATFORMS, SHARED_SKU, stock_world

    cli = _helpers()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        saved = {
            k: os.environ.get(k)
            for k in (
                "ECOM_PIPELINE_HOME",
                "ECOM_SECRET_KEY",
                "ECOM_WAREHOUSE_URL",
                "ECOM_SHOPIFY_ACCESS_TOKEN",
                "ECOM_PRESTASHOP_API_KEY",
            )
        }
        os.environ["ECOM_PIPELINE_HOME"] = str(home)
        os.environ["ECOM_SECRET_KEY"] = Fernet.generate_key().decode()
        url = f"sqlite:///{Path(tmp) / 'warehouse.db'}"
        os.environ["ECOM_WAREHOUSE_URL"] = url
        try:
            with stock_world(url, Path(tmp) / "certs", home, quantity=args.quantity) as world:
                world.stock()
                print(f"\nOne shelf of {args.quantity} x {SHARED_SKU}, sold in three emulated shops: {world.shown()}")
                rows = []
                for platform in PLATFORMS:
                    world.sell(platform, 1)
                    sold = time.perf_counter()
                    report = world.cycle()
                    seconds = time.perf_counter() - sold
                    rows.append(
                        [f"1 unit sold in {platform}", *world.shown().values(), f"{seconds:.2f} s", report.writes]
                    )
                cli._print_table(["what happened", *PLATFORMS, "until every shop shows it", "shop writes"], rows)
                world.sell("woocommerce", world.shown()["woocommerce"])  # the last units, in two shops at once
                world.sell("prestashop", 1)
                world.cycle()
                print("\nThen the last units sold in two shops at once (an oversell):")
                with world.engine.connect() as conn:
                    print_stock_status(conn, "acme")
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return 0


def print_stock_status(conn: Connection, tenant: str | None) -> None:
    """``status`` lines: stock links per shop, movements today, open oversells."""
    from ecom_pipeline.stock.oversells import open_oversells
    from ecom_pipeline.warehouse.schema import hub_variants, stock_links, stock_movements

    query = select(
        stock_links.c.integration_id,
        func.count(),
        func.max(stock_links.c.pushed_at),
        func.count(stock_links.c.last_error),
    ).group_by(stock_links.c.integration_id)
    moves = select(stock_movements.c.reason, func.count(), func.sum(stock_movements.c.delta)).group_by(
        stock_movements.c.reason
    )
    if tenant:
        query = query.where(stock_links.c.tenant_id == tenant)
        moves = moves.where(stock_movements.c.tenant_id == tenant)
    links = conn.execute(query).all()
    if not links:
        return
    cli = _helpers()
    print()
    print("Stock (stock_links, stock_movements; `ecom-pipeline stock levels` for the numbers):")
    cli._print_table(["shop", "items", "last push", "errors"], [[r[0], r[1], cli._fmt_time(r[2]), r[3]] for r in links])
    cli._print_table(["reason", "movements", "units"], [list(r) for r in conn.execute(moves)])
    found = open_oversells(conn, tenant)
    skus = dict(conn.execute(select(hub_variants.c.id, hub_variants.c.sku)).all()) if found else {}
    if found:
        print()
        print(
            f"OVERSOLD: {len(found)} variant/location(s) below zero (stock_oversells; the asset check "
            "stock_no_open_oversells warns):"
        )
        cli._print_table(
            ["sku", "location", "on hand", "orders", "since"],
            [
                [
                    skus.get(r.variant_id) or r.variant_id,
                    r.location,
                    r.on_hand,
                    ", ".join(str(o.get("order")) for o in r.orders)[:80],
                    cli._fmt_time(r.detected_at),
                ]
                for r in found
            ],
        )
    else:
        print("No open oversell.")


def add_stock_commands(sub: Any) -> None:
    """Register ``stock`` and its actions on the top-level subparsers."""
    from ecom_pipeline.tenants import tenant_argument

    p = sub.add_parser("stock", help="The stock ledger: push, levels, movements, adjust, buffer (issue 11).")
    actions = p.add_subparsers(dest="stock_command", required=True, metavar="ACTION")
    pp = actions.add_parser("push", help="Record order movements, reconcile the shops, push the changed numbers.")
    pp.add_argument("--tenant", required=True, type=tenant_argument)
    pp.add_argument("--integration", type=int, default=None, help="only this shop")
    pp.add_argument("--dry-run", action="store_true", help="record movements, write nothing to any shop")
    pp.set_defaults(func=cmd_stock_push)
    pp = actions.add_parser("levels", help="On hand, committed and available per shop.")
    pp.add_argument("--tenant", required=True, type=tenant_argument)
    pp.add_argument("--sku", default=None)
    pp.add_argument("--limit", type=int, default=200)
    pp.set_defaults(func=cmd_stock_levels)
    pp = actions.add_parser("movements", help="The ledger, newest first.")
    pp.add_argument("--tenant", required=True, type=tenant_argument)
    pp.add_argument("--sku", default=None)
    pp.add_argument("--reason", default=None, choices=REASONS_HELP.split(", "))
    pp.add_argument("--limit", type=int, default=50)
    pp.set_defaults(func=cmd_stock_movements)
    pp = actions.add_parser("adjust", help="Change on hand in the hub: --delta N, or --count N (a stock count).")
    pp.add_argument("--tenant", required=True, type=tenant_argument)
    pp.add_argument("--sku", required=True)
    pp.add_argument("--location", default=DEFAULT_HUB_LOCATION)
    pp.add_argument("--delta", type=int, default=None)
    pp.add_argument("--count", type=int, default=None)
    pp.add_argument("--note", default=None, help="why (kept as the movement's reference)")
    pp.set_defaults(func=cmd_stock_adjust)
    pp = actions.add_parser("buffer", help="A shop's buffer (N or N%%), one product's in it, or --manage/--no-manage.")
    pp.add_argument("--integration", type=int, required=True)
    pp.add_argument("buffer", nargs="?", default=None, help="units (3) or a percentage (10%%); empty: none")
    pp.add_argument("--sku", default=None, help="only this variant in this shop")
    pp.add_argument("--handle", default=None, help="only this product's variants in this shop")
    pp.add_argument(
        "--manage",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="whether the hub manages this shop's stock (default: not managed)",
    )
    pp.set_defaults(func=cmd_stock_buffer)
    pp = actions.add_parser("demo", help="Three emulated shops, one shelf: a sale in one until the others show it.")
    pp.add_argument("--quantity", type=int, default=10)
    pp.set_defaults(func=cmd_stock_demo)
