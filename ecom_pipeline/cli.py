"""``ecom-pipeline``: the operations the Dagster UI offers, for scripts and terminals.

Every command says what it did and, when something is wrong, what to do about it; exit code 0 is success, 1 a
failure the user can fix (credentials, an unreachable shop), 2 a usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from ecom_pipeline.warehouse.engine import ENV_WAREHOUSE_URL, default_home, default_warehouse_url, shared_engine


def _print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def _engine(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from ecom_pipeline.warehouse.migrate import upgrade

    url = args.warehouse_url or default_warehouse_url()
    upgrade(url)
    return shared_engine(url)


def _cipher(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from ecom_pipeline.warehouse.credentials import CredentialCipher

    return CredentialCipher.from_env(default_home())


def _fmt_time(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


# --- connect / disconnect ----------------------------------------------------------------------------------------


def cmd_connect(args: argparse.Namespace) -> int:
    from ecom_pipeline.platforms.connect import (
        ConnectUsageError,
        check_shop_url,
        check_webhook_url,
        receiver_command,
        suggested_webhook_url,
        webhook_delivery_problem,
    )
    from ecom_pipeline.platforms.errors import ShopApiError, ShopRedirectError
    from ecom_pipeline.platforms.registry import get_platform
    from ecom_pipeline.warehouse import store

    spec = get_platform(args.platform)
    reconcile_hours = getattr(args, "reconcile_hours", None)
    if reconcile_hours is not None and not reconcile_hours >= 0:  # also refuses nan
        print(f"error: --reconcile-hours must be 0 or more hours, got {reconcile_hours}", file=sys.stderr)
        return 2
    # Everything that can be checked without the shop is checked first: a bad URL is a one-line usage error, and
    # a webhook URL the shop would never deliver to is refused before anything is contacted or written.
    try:
        args.url = check_shop_url(args.url, platform=spec.name)
        problem = None
        if args.webhook_url:
            args.webhook_url = check_webhook_url(args.webhook_url)
            problem = webhook_delivery_problem(spec.name, args.webhook_url, args.url)
    except ConnectUsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if problem and not args.force_webhook_port:
        print(f"error: {problem}.", file=sys.stderr)
        suggested = suggested_webhook_url(spec.name, args.webhook_url)
        if suggested:
            print(
                f"  Use e.g. --webhook-url {suggested} and run the receiver there: {receiver_command(suggested)}",
                file=sys.stderr,
            )
        print("  (--force-webhook-port registers it anyway, for a shop that allows more ports.)", file=sys.stderr)
        return 2
    if problem:
        print(f"warning: {problem}; registering it anyway (--force-webhook-port).")
    print(f"Checking the credentials against {args.url} ...")
    try:
        result = spec.connect(args)
    except ConnectUsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ShopRedirectError as exc:
        site = _redirected_site(args.url, exc)
        print(
            f"error: the shop redirects to {exc.location}; connect that URL: ecom-pipeline connect {spec.name} "
            f"--tenant {args.tenant} --url {site} ... (redirects are not followed: they drop credentials and "
            "turn writes into reads)",
            file=sys.stderr,
        )
        return 1
    except ShopApiError as exc:
        print(f"error: could not connect tenant {args.tenant} to {args.url}:\n  {exc}", file=sys.stderr)
        return 1
    if reconcile_hours is not None:
        from ecom_pipeline.sync.reconcile import SETTING

        result.settings[SETTING] = reconcile_hours
    engine = _engine(args)
    cipher = _cipher(args)
    _sync_settings_at_connect(engine, args, spec.name, result.base_url, result.settings, result.credentials, cipher)
    with engine.begin() as conn:
        integration_id = store.create_integration(
            conn,
            tenant_id=args.tenant,
            platform=spec.name,
            name=result.name,
            base_url=result.base_url,
            credentials=result.credentials,
            settings=result.settings,
            cipher=cipher,
        )
    if args.webhook_url:
        code = _connect_webhooks(spec.name, engine, integration_id, args.webhook_url, cipher, args.timeout)
        if code:
            return code
    how = f" ({result.auth_description})" if result.auth_description else ""
    print(
        f"Connected {spec.title} shop {result.base_url} to tenant {args.tenant} as integration #{integration_id}{how}."
    )
    if result.facts:
        print("Shop: " + ", ".join(f"{k} {v}" for k, v in result.facts.items()))
    print(f"Credentials are encrypted at rest; {cipher.key_source}")
    for note in result.notes:
        print(f"warning: {note}")
    print(f"Next: ecom-pipeline sync --tenant {args.tenant}")
    return 0


def _redirected_site(given_url: str, error: Any) -> str:
    """The address to connect instead, from where a request under ``given_url`` was redirected.

    The API path we asked for is stripped from the redirect target when it ends with it (http://shop/wp-json/...
    -> https://shop/wp-json/... gives https://shop); otherwise the target itself is the best guess.
    """
    location = (error.location or "").split("?", 1)[0].split("#", 1)[0]
    requested = (error.url or "").split("?", 1)[0]
    given = given_url.rstrip("/")
    if requested.startswith(given):
        rest = requested[len(given) :]
        if rest and location.endswith(rest) and len(location) > len(rest):
            return location[: -len(rest)].rstrip("/")
    return location.rstrip("/") or given


def _connect_webhooks(platform: str, engine: Any, integration_id: int, url: str, cipher: Any, timeout: float) -> int:
    """Register the shop's webhooks to our receiver at ``url``; exit code (0 when done)."""
    from ecom_pipeline.platforms.connect import receiver_command
    from ecom_pipeline.platforms.errors import ShopApiError
    from ecom_pipeline.platforms.registry import get_platform

    hooks = get_platform(platform).webhooks
    register = hooks.register if hooks is not None else None
    if register is None:
        print(
            f"error: {platform} shops send no webhooks we can register; they are kept fresh by polling "
            "(the schedule). Connect again without --webhook-url.",
            file=sys.stderr,
        )
        return 2
    try:
        report = register(engine, integration_id, url.rstrip("/"), cipher, timeout=timeout)
    except ShopApiError as exc:
        print(f"error: the shop is connected (#{integration_id}) but its webhooks could not be registered:\n  {exc}",
              file=sys.stderr)  # fmt: skip
        return 1
    summary = report.summary() if hasattr(report, "summary") else str(report)
    print(f"Webhooks: {summary}")
    print(f"Run the receiver where {url} reaches it: {receiver_command(url)}")
    return 0


def cmd_disconnect(args: argparse.Namespace) -> int:
    from ecom_pipeline.tenants import is_valid_tenant
    from ecom_pipeline.warehouse import store
    from ecom_pipeline.warehouse.locks import TenantLockTimeout, command_lock

    engine = _engine(args)
    with engine.connect() as conn:
        try:
            integration = store.get_integration(conn, args.integration)
        except Exception as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    if integration.status == "disconnected":
        print(f"Integration #{integration.id} ({integration.platform} {integration.base_url}) is already disconnected.")
        return 0
    # Under the tenant's lock: a push or sync of the tenant running now finishes first, and none starts writing to
    # the shop after this command said it is disconnected.
    lock = command_lock(engine, integration.tenant_id, "ecom-pipeline disconnect")
    try:
        with lock if is_valid_tenant(integration.tenant_id) else contextlib.nullcontext(), engine.begin() as conn:
            store.disconnect_integration(conn, args.integration)
    except TenantLockTimeout as exc:
        print(f"error: {exc}; nothing was changed, try again when it is done", file=sys.stderr)
        return 1
    print(
        f"Disconnected integration #{integration.id} ({integration.platform} {integration.base_url}) of tenant "
        f"{integration.tenant_id}. Its history, links and hub rows are kept; connecting the same shop again "
        "reactivates it."
    )
    return 0


# --- tenants / status ------------------------------------------------------------------------------------------


def cmd_tenants(args: argparse.Namespace) -> int:
    from ecom_pipeline.warehouse import store

    engine = _engine(args)
    if args.rename:
        return _rename_tenant(engine, *args.rename)
    with engine.connect() as conn:
        integrations = store.list_integrations(conn, include_disconnected=True)
        catalogue_only = store.hub_only_tenants(conn)
    by_tenant: dict[str, list[Any]] = {tenant: [] for tenant in catalogue_only}
    for i in integrations:
        by_tenant.setdefault(i.tenant_id, []).append(i)
    if not by_tenant:
        print("No tenants yet. Connect a shop: ecom-pipeline connect <platform> --tenant T --url U ...")
        return 0
    rows = []
    for tenant, items in sorted(by_tenant.items()):
        active = [i for i in items if i.status != "disconnected"]
        platforms = ", ".join(sorted({i.platform for i in active}))
        if not items:
            platforms = f"none: a hub catalogue of {catalogue_only[tenant]} products"
        rows.append(
            [
                tenant,
                len(active),
                len(items) - len(active),
                platforms or "-",
                _fmt_time(max((i.last_success_at for i in items if i.last_success_at), default=None)),
            ]
        )
    _print_table(["tenant", "shops", "disconnected", "platforms", "last success"], rows)
    return 0


def _print_home(args: argparse.Namespace) -> None:
    """Say which home and warehouse this command reads, so an empty answer cannot be mistaken for an empty hub."""
    from sqlalchemy.engine import make_url

    from ecom_pipeline.warehouse.engine import home_and_source

    home, source = home_and_source()
    url = args.warehouse_url or default_warehouse_url()
    if args.warehouse_url:
        url_source = "--warehouse-url"
    else:
        url_source = f"${ENV_WAREHOUSE_URL}" if os.environ.get(ENV_WAREHOUSE_URL) else "the home folder"
    print(f"Home: {home} (from {source})")
    print(f"Warehouse: {make_url(url).render_as_string(hide_password=True)} (from {url_source})")
    print()


def _rename_tenant(engine: Any, old: str, new: str) -> int:
    from ecom_pipeline.tenants import InvalidTenantError, is_valid_tenant
    from ecom_pipeline.warehouse import store
    from ecom_pipeline.warehouse.locks import TenantLockTimeout, command_lock

    try:
        with contextlib.ExitStack() as locks:
            # Both tenants' locks, in name order (two renames cannot wait on each other): no sync, push or webhook
            # apply of either writes rows under a name while they move. An old name that breaks the rule has none
            # (such a tenant is never synced).
            for name in sorted({old, new}):
                if is_valid_tenant(name):
                    locks.enter_context(command_lock(engine, name, f"ecom-pipeline tenants --rename {old} {new}"))
            with engine.begin() as conn:
                moved = store.rename_tenant(conn, old, new)
    except TenantLockTimeout as exc:
        print(f"error: {exc}; nothing was renamed", file=sys.stderr)
        return 1
    except InvalidTenantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    rows = ", ".join(f"{table} {n}" for table, n in sorted(moved.items())) or "no rows"
    print(f"Renamed tenant {old!r:.70} to {new} ({rows}). Next: ecom-pipeline sync --tenant {new}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from ecom_pipeline.warehouse import store
    from ecom_pipeline.warehouse.schema import rejected_records, sync_runs, webhook_inbox

    engine = _engine(args)
    _print_home(args)
    with engine.connect() as conn:
        integrations = store.list_integrations(conn, tenant_id=args.tenant, include_disconnected=True)
        if not integrations:
            print("No integrations" + (f" for tenant {args.tenant}" if args.tenant else "") + ".")
            _print_import_rejections(conn, args.tenant)
            return 0
        rows = []
        for i in integrations:
            rows.append(
                [
                    i.id,
                    i.tenant_id,
                    i.platform,
                    i.base_url,
                    i.status,
                    _fmt_time(i.last_sync_at),
                    _fmt_time(i.last_success_at),
                    (i.last_error or "")[:80],
                ]
            )
        _print_table(["id", "tenant", "platform", "url", "status", "last sync", "last success", "last error"], rows)
        print()
        _print_platform_status(integrations)
        _print_sync_settings(integrations)
        latest = (
            select(
                sync_runs.c.integration_id, sync_runs.c.entity, sync_runs.c.stage, func.max(sync_runs.c.id).label("id")
            )
            .where(sync_runs.c.integration_id.in_([i.id for i in integrations]))
            .group_by(sync_runs.c.integration_id, sync_runs.c.entity, sync_runs.c.stage)
            .subquery()
        )
        runs = conn.execute(
            select(sync_runs).join(latest, latest.c.id == sync_runs.c.id).order_by(sync_runs.c.integration_id)
        ).all()
        if runs:
            print("Latest sync per shop, entity and stage:")
            _print_table(
                ["shop", "entity", "stage", "status", "fetched", "created", "updated", "unchanged", "deleted",
                 "failed", "calls", "retries", "seconds", "finished", "error"],
                [
                    [r.integration_id, r.entity, r.stage, r.status, r.rows_fetched, r.created, r.updated,
                     r.unchanged, r.deleted, r.failed, r.api_calls, r.retries,
                     f"{r.duration_s:.2f}" if r.duration_s is not None else "-", _fmt_time(r.finished_at),
                     (r.error or "")[:60]]
                    for r in runs
                ],
            )  # fmt: skip
        _print_last_pushes(conn, integrations)
        _print_reconciliation(conn, integrations)
        from ecom_pipeline.stock.cli import print_stock_status

        print_stock_status(conn, args.tenant)
        rejected = conn.execute(
            select(rejected_records.c.integration_id, rejected_records.c.entity, func.count())
            .where(
                rejected_records.c.resolved_at.is_(None),
                rejected_records.c.integration_id.in_([i.id for i in integrations]),
            )
            .group_by(rejected_records.c.integration_id, rejected_records.c.entity)
        ).all()
        if rejected:
            print()
            print("Records not applied (see rejected_records for each reason and payload):")
            _print_table(["shop", "entity", "rejected"], [list(r) for r in rejected])
        _print_import_rejections(conn, args.tenant)
        ids = [i.id for i in integrations]
        inbox = conn.execute(
            select(webhook_inbox.c.integration_id, webhook_inbox.c.status, func.count())
            .where(webhook_inbox.c.integration_id.in_(ids))
            .group_by(webhook_inbox.c.integration_id, webhook_inbox.c.status)
        ).all()
        if inbox:
            counts: dict[int, dict[str, int]] = {}
            for integration_id, status, n in inbox:
                counts.setdefault(integration_id, {})[status] = n
            print()
            print("Webhook deliveries (webhook_inbox):")
            _print_table(
                ["shop", "pending", "applied", "dead"],
                [[k, v.get("pending", 0), v.get("applied", 0), v.get("dead", 0)] for k, v in sorted(counts.items())],
            )
            dead = conn.execute(
                select(webhook_inbox.c.integration_id, webhook_inbox.c.topic, webhook_inbox.c.attempts,
                       webhook_inbox.c.processed_at, webhook_inbox.c.error)
                .where(webhook_inbox.c.integration_id.in_(ids), webhook_inbox.c.status == "dead")
                .order_by(webhook_inbox.c.id.desc())
                .limit(10)
            ).all()  # fmt: skip
            if dead:
                print()
                print("Dead-lettered deliveries (newest first; the scheduled sync still reconciles these records):")
                _print_table(
                    ["shop", "topic", "attempts", "given up", "error"],
                    [[r.integration_id, r.topic, r.attempts, _fmt_time(r.processed_at), (r.error or "")[:90]]
                     for r in dead],
                )  # fmt: skip
        _print_kpis(conn, args.tenant)
    return 0


def _print_import_rejections(conn: Any, tenant: str | None) -> None:
    """Catalogue import rows rejected by ``--partial`` (no shop's, so not in the per-shop table above)."""
    from ecom_pipeline.catalog.hub import open_import_rejections

    rows = open_import_rejections(conn, tenant)
    if rows:
        print()
        print("Catalogue import rows not applied (rejected_records, stage import; closed when the row is imported):")
        _print_table(["tenant", "rejected", "oldest"], [[t, n, _fmt_time(oldest)] for t, n, oldest in rows])


def _print_kpis(conn: Any, tenant: str | None) -> None:
    """The briefs' KPIs per shop (ops/kpis.py: the same figures as the ``ops`` assets in the UI)."""
    from ecom_pipeline.ops import kpis

    report = kpis.compute_kpis(conn, tenant=tenant)
    t = report.thresholds
    sync = {s.integration_id: s for s in report.sync}
    hooks = {w.integration_id: w for w in report.webhooks}
    counts: dict[int, list[Any]] = {}
    for c in report.counts:
        counts.setdefault(c.integration_id, []).append(c)
    ids = sorted(set(sync) | set(hooks) | set(counts))
    if not ids:
        return
    print()
    print(
        f"KPIs (last {kpis.hours(report.window)}; promises: sync success >= {kpis.pct(t.min_success_rate)}, "
        f"webhook p95 <= {kpis.secs(t.max_webhook_latency_s)} and none pending over {t.max_pending_s:g} s "
        "(pending late), no record missing beyond open rejections):"
    )
    rows = []
    for i in ids:
        s, w, cs = sync.get(i), hooks.get(i), counts.get(i, [])
        counted = [c for c in cs if c.shop_total is not None]
        tenant_id = (s or w or cs[0]).tenant_id
        rows.append(
            [i, tenant_id, kpis.pct(s.rate) if s else "-", s.finished if s else 0,
             kpis.secs(w.p95_s) if w else "-", w.applied if w else 0, w.pending_overdue if w else 0,
             sum(c.unexplained or 0 for c in counted) if counted else "-", f"{len(counted)}/{len(cs)}"]
        )  # fmt: skip
    headers = ["shop", "tenant", "sync success", "runs", "webhook p95", "applied", "pending late", "missing"]
    _print_table([*headers, "counted"], rows)
    problems = [
        v()
        for v, broken in (
            (report.sync_verdict, report.sync_below()),
            (report.webhook_verdict, report.webhooks_over()),
            (report.count_verdict, report.counts_missing()),
        )
        if broken
    ]
    for line in problems:
        print(f"WARNING: {line}")


def _print_platform_status(integrations: Sequence[Any]) -> None:
    """Each platform's own section of ``status`` (``CliSpec.print_status``), for its shops."""
    from ecom_pipeline.platforms.registry import platforms

    for name, spec in platforms().items():
        if spec.cli is not None and spec.cli.print_status is not None:
            spec.cli.print_status([i for i in integrations if i.platform == name])


def _print_last_pushes(conn: Any, integrations: Sequence[Any]) -> None:
    """Each shop's last push with what it did to each record (``push_records``; see `ecom-pipeline lineage`)."""
    from ecom_pipeline.sync.lineage import last_pushes

    pushes = last_pushes(conn, [int(i.id) for i in integrations])
    if not pushes:
        return
    print()
    print("Last push per shop (records: `ecom-pipeline lineage --tenant T --sku S`; conflicts: held, not pushed):")
    _print_table(
        ["shop", "status", "finished", "run", "created", "adopted", "updated", "deleted", "unchanged", "failed",
         "conflicts"],
        [
            [shop, p.run.status, _fmt_time(p.run.finished_at), p.run_id or f"sync_run {p.run.id}",
             p.counts["created"], p.counts["adopted"], p.counts["updated"], p.counts["deleted"], p.counts["unchanged"],
             p.counts["failed"], p.conflicts]
            for shop, p in sorted(pushes.items())
        ],
    )  # fmt: skip


def _print_reconciliation(conn: Any, integrations: Sequence[Any]) -> None:
    """When each shop's entities were last checked for deletes no webhook announced (id reconciliation)."""
    from ecom_pipeline.platforms.registry import platforms
    from ecom_pipeline.sync.reconcile import STAGE, interval
    from ecom_pipeline.warehouse.schema import sync_runs

    specs = platforms()
    wanted = [
        (i, entity)
        for i in integrations
        if i.status != "disconnected" and (spec := specs.get(i.platform)) is not None and spec.reconcile
        for entity in spec.reconcile.resources
    ]
    if not wanted:
        return
    latest = (
        select(sync_runs.c.integration_id, sync_runs.c.entity, sync_runs.c.status, func.max(sync_runs.c.id).label("id"))
        .where(sync_runs.c.stage == STAGE, sync_runs.c.integration_id.in_([i.id for i, _ in wanted]))
        .group_by(sync_runs.c.integration_id, sync_runs.c.entity, sync_runs.c.status)
        .subquery()
    )
    rows = conn.execute(select(sync_runs).join(latest, latest.c.id == sync_runs.c.id)).all()
    success = {(r.integration_id, r.entity): r for r in rows if r.status == "success"}
    failed = {(r.integration_id, r.entity): r for r in rows if r.status == "failed"}
    table = []
    for i, entity in wanted:
        ok, bad = success.get((i.id, entity)), failed.get((i.id, entity))
        every = interval(i.settings)
        table.append(
            [
                i.id,
                entity,
                _fmt_time(ok.finished_at) if ok else "never",
                ok.rows_fetched if ok else "-",
                ok.deleted if ok else "-",
                f"{every.total_seconds() / 3600:g}h",
                (bad.error or "")[:70] if bad and (ok is None or bad.id > ok.id) else "",
            ]
        )
    print()
    print("Id reconciliation (deletes no webhook announces; `sync_runs` stage reconcile):")
    _print_table(["shop", "entity", "last done", "ids listed", "deleted", "every", "last failure"], table)


# --- sync / demo / sandbox / migrate ---------------------------------------------------------------------------


def cmd_sync(args: argparse.Namespace) -> int:
    from ecom_pipeline.runner import get_instance, run_sync
    from ecom_pipeline.warehouse import store

    engine = _engine(args)
    skipped: list[Any] = []
    with engine.connect() as conn:
        if args.tenant:
            problem = _unknown_tenant_problem(conn, args.tenant)
            if problem:
                print(f"error: {problem}", file=sys.stderr)
                return 1
            tenants = [args.tenant]
        else:
            tenants = store.active_tenants(conn)
            skipped = store.invalid_tenant_integrations(conn)
    for integration in skipped:
        print(_invalid_tenant_warning(integration), file=sys.stderr)
    if not tenants:
        print("No tenants to sync. Connect a shop first: ecom-pipeline connect --help")
        return 1
    instance = get_instance()
    failed = 1 if skipped else 0
    for tenant in tenants:
        outcome = run_sync(tenant, instance=instance, full_refresh=args.full_refresh, log_level=args.log_level)
        print(f"tenant {tenant}: run {outcome.run_id} {'succeeded' if outcome.success else 'FAILED'}")
        for key, meta in sorted(outcome.materializations.items()):
            if key.startswith("hub/"):
                print(
                    f"  {key:<22} created {meta.get('created', 0):>6}  updated {meta.get('updated', 0):>6}  "
                    f"unchanged {meta.get('unchanged', 0):>6}  deleted {meta.get('deleted', 0):>4}  "
                    f"rejected {meta.get('rejected', 0):>4}"
                )
            else:
                print(
                    f"  {key:<22} fetched {meta.get('rows_fetched', 0):>6}  staged {meta.get('staged', 0):>6}  "
                    f"api calls {meta.get('api_calls', 0):>5}  retries {meta.get('retries', 0):>3}"
                )
        if not outcome.success:
            failed += 1
            print(f"  error: {outcome.failure}", file=sys.stderr)
    return 1 if failed else 0


def _unknown_tenant_problem(conn: Any, tenant: str) -> str | None:
    """Why ``tenant`` cannot be synced (no shop, or only disconnected ones), None when it can."""
    from ecom_pipeline.warehouse import store
    from ecom_pipeline.warehouse.engine import default_home

    shops = store.list_integrations(conn, tenant_id=tenant, include_disconnected=True)
    if not shops:
        known = store.active_tenants(conn)
        listed = f"tenants with a shop: {', '.join(known)}" if known else "no tenant has a shop yet"
        return (
            f"tenant {tenant} has no shop in this warehouse ({listed}; home {default_home()}). Check the name, or "
            f"connect a shop first: ecom-pipeline connect <platform> --tenant {tenant} --url ..."
        )
    if all(not shop.active for shop in shops):
        ids = ", ".join(f"#{shop.id}" for shop in shops)
        return (
            f"every shop of tenant {tenant} is disconnected ({ids}); connect one again with "
            f"ecom-pipeline connect <platform> --tenant {tenant} --url ..."
        )
    return None


def _invalid_tenant_warning(integration: Any) -> str:
    from ecom_pipeline.tenants import suggest_tenant, tenant_problem

    new = suggest_tenant(integration.tenant_id) or "<new-name>"
    return (
        f"warning: skipping tenant {integration.tenant_id!r:.70} (integration #{integration.id}, "
        f"{integration.platform} {integration.base_url}): {tenant_problem(integration.tenant_id)}, so its runs "
        f"cannot work. Rename it: ecom-pipeline tenants --rename {shlex.quote(integration.tenant_id)} {new}"
    )


def cmd_demo(args: argparse.Namespace) -> int:
    from ecom_pipeline.demo import run_demo

    return run_demo(products=args.products, orders=args.orders, keep_running=args.keep_running)


def cmd_sandbox(args: argparse.Namespace) -> int:
    from ecom_pipeline.sandbox.registry import default_platform
    from ecom_pipeline.sandbox.server import ShopSpec, serve_forever

    entries = [s.strip() for s in args.shops.split(",") if s.strip()]
    options: dict[str, dict[str, Any]] = {}
    empty: set[str] = set()
    if args.demo:
        from ecom_pipeline.demo import demo_shop_options, empty_sandbox_shops, sandbox_entries

        entries = sandbox_entries()
        options = demo_shop_options()
        empty = empty_sandbox_shops()
    shops = []
    for index, entry in enumerate(entries):
        name, _, platform = entry.partition(":")
        shops.append(
            ShopSpec(
                name=name,
                seed=index + 1,
                products=0 if name in empty else args.products,
                orders=0 if name in empty else args.orders,
                customers=0 if name in empty else args.customers,
                platform=platform or default_platform(),
                options=dict(options.get(name, {})),
            )
        )
    serve_forever(
        shops,
        host=args.host,
        http_port=args.http_port,
        https_port=args.https_port,
        cert_dir=Path(args.cert_dir),
        credentials_file=Path(args.credentials_file) if args.credentials_file else None,
    )
    return 0


def cmd_serve_webhooks(args: argparse.Namespace) -> int:
    from ecom_pipeline.webhooks.cli import run_serve

    _engine(args)  # migrate first: the receiver writes to webhook_inbox
    return run_serve(args)


def cmd_migrate(args: argparse.Namespace) -> int:
    from ecom_pipeline.warehouse.migrate import current

    url = args.warehouse_url or default_warehouse_url()
    _engine(args)
    print(f"Warehouse at revision {current(url)}.")
    return 0


# --- two-way sync: catalogue, integration settings, conflicts ---------------------------------------------------


def _sync_settings_at_connect(engine: Any, args: argparse.Namespace, platform: str, base_url: str,
                              settings: dict[str, Any], credentials: dict[str, Any] | None = None,
                              cipher: Any = None) -> None:  # fmt: skip
    """Keep the settings of a shop connected again, and apply ``--direction`` (absent: ``pull``).

    Reconnecting replaces the settings with what the shop reports; the merchant's direction, policies, listing
    rules, price rule, stock settings and reconciliation interval are ours, not the shop's, so they carry over, and
    so does a Shopify ``webhook_secret`` not given again (``platforms/reconnect.py``).
    """
    from ecom_pipeline.platforms.reconnect import carry_over
    from ecom_pipeline.sync.policies import updated_settings

    with engine.connect() as conn:
        carry_over(
            conn,
            tenant_id=args.tenant,
            platform=platform,
            base_url=base_url,
            settings=settings,
            credentials=credentials,
            cipher=cipher,
        )
    settings.update(updated_settings(settings, direction=getattr(args, "direction", None)))


def _bulk_threshold_text(platform: str, threshold: int | None) -> str:
    """The ``bulk_mutation_threshold`` in force: the stored one, the writer's default, or ``-`` (not Shopify)."""
    from ecom_pipeline.sync.policies import BULK_THRESHOLD_PLATFORMS

    if platform not in BULK_THRESHOLD_PLATFORMS:
        return "-"
    if threshold is None:
        from ecom_pipeline.platforms.shopify.writer import DEFAULT_BULK_MUTATION_THRESHOLD

        return f"{DEFAULT_BULK_MUTATION_THRESHOLD} (default)"
    return str(threshold)


def _push_concurrency_text(platform: str, concurrency: int | None) -> str:
    """The ``push_concurrency`` in force: the stored one, the default, or ``-`` (a writer that sends one at a time)."""
    from ecom_pipeline.sync.policies import DEFAULT_PUSH_CONCURRENCY, PUSH_CONCURRENCY_PLATFORMS

    if platform not in PUSH_CONCURRENCY_PLATFORMS:
        return "-"
    return f"{DEFAULT_PUSH_CONCURRENCY} (default)" if concurrency is None else str(concurrency)


def _shopify_collections_text(platform: str, on: bool) -> str:
    """Whether Shopify custom collections are the products' categories: on, off (default), or ``-`` (not Shopify)."""
    from ecom_pipeline.sync.policies import SHOPIFY_COLLECTIONS_PLATFORMS

    if platform not in SHOPIFY_COLLECTIONS_PLATFORMS:
        return "-"
    return "on" if on else "off (default)"


def _print_sync_settings(integrations: Sequence[Any]) -> None:
    """Each shop's sync direction, the policies it changed from the defaults, its listing and price rules."""
    from ecom_pipeline.sync.policies import SettingsError, SyncSettings

    rows = []
    for i in integrations:
        try:
            s = SyncSettings.from_settings(i.settings)
        except SettingsError as exc:
            rows.append([i.id, "?", f"invalid: {exc}"[:80], "", "", "", "", ""])
            continue
        rows.append(
            [
                i.id,
                s.direction.value,
                ", ".join(f"{k}={v}" for k, v in sorted(s.changed_policies().items())) or "defaults",
                "; ".join([*(f"+{r}" for r in s.include), *(f"-{r}" for r in s.exclude)]) or "all products",
                s.price_rule.text if s.price_rule else "-",
                _bulk_threshold_text(i.platform, s.bulk_mutation_threshold),
                _push_concurrency_text(i.platform, s.push_concurrency),
                _shopify_collections_text(i.platform, s.shopify_collections),
            ]
        )
    print("Sync direction and policies (`ecom-pipeline integration set` changes them):")
    _print_table(
        [
            "shop",
            "direction",
            "field policies",
            "listing",
            "price rule",
            "bulk above",
            "push concurrency",
            "collections",
        ],
        rows,
    )
    print()


def cmd_integration_set(args: argparse.Namespace) -> int:
    from ecom_pipeline.sync.policies import (
        BULK_THRESHOLD_PLATFORMS,
        PUSH_CONCURRENCY_PLATFORMS,
        SHOPIFY_COLLECTIONS_PLATFORMS,
        SettingsError,
        SyncSettings,
        updated_settings,
    )
    from ecom_pipeline.warehouse import store
    from ecom_pipeline.warehouse.schema import integrations
    from ecom_pipeline.warehouse.types import utcnow

    engine = _engine(args)
    with engine.begin() as conn:
        try:
            integration = store.get_integration(conn, args.integration, for_update=True)
            if args.bulk_mutation_threshold is not None and integration.platform not in BULK_THRESHOLD_PLATFORMS:
                raise SettingsError(
                    f"--bulk-mutation-threshold applies to {', '.join(BULK_THRESHOLD_PLATFORMS)} only; integration "
                    f"#{integration.id} is {integration.platform}"
                )
            if args.push_concurrency is not None and integration.platform not in PUSH_CONCURRENCY_PLATFORMS:
                raise SettingsError(
                    f"--push-concurrency applies to {', '.join(PUSH_CONCURRENCY_PLATFORMS)} only; integration "
                    f"#{integration.id} is {integration.platform}"
                )
            if args.shopify_collections is not None and integration.platform not in SHOPIFY_COLLECTIONS_PLATFORMS:
                raise SettingsError(
                    f"--shopify-collections applies to {', '.join(SHOPIFY_COLLECTIONS_PLATFORMS)} only; integration "
                    f"#{integration.id} is {integration.platform}"
                )
            settings = updated_settings(
                integration.settings,
                direction=args.direction,
                policies=args.policy or (),
                include=args.include or (),
                exclude=args.exclude or (),
                clear_rules=args.clear_rules,
                price_rule=args.price_rule,
                bulk_mutation_threshold=args.bulk_mutation_threshold,
                push_concurrency=args.push_concurrency,
                shopify_collections=args.shopify_collections,
            )
            current = SyncSettings.from_settings(settings)
        except SettingsError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except store.IntegrationNotFound as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        conn.execute(
            integrations.update()
            .where(integrations.c.id == integration.id)
            .values(settings=settings, updated_at=utcnow())
        )
    policies = ", ".join(f"{k}={v}" for k, v in sorted(current.changed_policies().items())) or "defaults"
    print(
        f"Integration #{integration.id} ({integration.platform} {integration.base_url}): direction "
        f"{current.direction.value}; policies {policies}; include {list(current.include) or 'all'}; exclude "
        f"{list(current.exclude) or 'none'}; price rule {current.price_rule.text if current.price_rule else 'none'}"
        + (
            "; collections as categories "
            + _shopify_collections_text(integration.platform, current.shopify_collections)
            if integration.platform in SHOPIFY_COLLECTIONS_PLATFORMS
            else ""
        )
        + (
            f"; bulk mutations above {_bulk_threshold_text(integration.platform, current.bulk_mutation_threshold)}"
            if integration.platform in BULK_THRESHOLD_PLATFORMS
            else ""
        )
        + (
            f"; push concurrency {_push_concurrency_text(integration.platform, current.push_concurrency)}"
            if integration.platform in PUSH_CONCURRENCY_PLATFORMS
            else ""
        )
        + "."
    )
    return 0


def cmd_catalog_import(args: argparse.Namespace) -> int:
    from ecom_pipeline.catalog.commands import run_import

    return run_import(_engine(args), Path(args.file), tenant_id=args.tenant, dry_run=args.dry_run,
                      partial=args.partial)  # fmt: skip


def cmd_catalog_export(args: argparse.Namespace) -> int:
    from ecom_pipeline.catalog.commands import run_export

    return run_export(_engine(args), Path(args.file), tenant_id=args.tenant)


def cmd_conflicts_list(args: argparse.Namespace) -> int:
    import json

    from ecom_pipeline.sync.conflicts import list_conflicts

    def show(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)[:40]

    with _engine(args).connect() as conn:
        rows = list_conflicts(conn, tenant_id=args.tenant, held=args.held, limit=args.limit)
    if not rows:
        scope = f" for tenant {args.tenant}" if args.tenant else ""
        print(f"No {'held ' if args.held else ''}conflicts{scope}.")
        return 0
    _print_table(
        ["id", "tenant", "shop", "entity", "hub id", "field", "base", "hub", "shop value", "policy", "resolution",
         "decided", "person's decision"],
        [[r.id, r.tenant_id, r.integration_id, r.entity, r.hub_id, r.field, show(r.base_value), show(r.hub_value),
          show(r.shop_value), r.policy, r.resolution, _fmt_time(r.decided_at),
          f"{r.resolved_take} {show(r.resolved_value)} by {r.resolved_by}, "
          + ("applied" if r.applied_at else "to apply at the next sync") if r.resolved_at else ""]
         for r in rows],
    )  # fmt: skip
    held = [r.id for r in rows if r.resolution == "held" and r.resolved_at is None]
    if held:
        print(f"\n{len(held)} held: decide with ecom-pipeline conflicts resolve ID --take hub|shop|value V")
    return 0


def cmd_conflicts_resolve(args: argparse.Namespace) -> int:
    import getpass

    from ecom_pipeline.sync.conflicts import ConflictError, resolve_conflict
    from ecom_pipeline.warehouse.types import utcnow

    take, *rest = args.take
    if len(rest) > 1 or (take != "value" and rest):
        print("error: --take is hub, shop, or value V (one value)", file=sys.stderr)
        return 2
    by = args.by or os.environ.get("USER") or getpass.getuser()
    try:
        with _engine(args).begin() as conn:
            decision = resolve_conflict(conn, args.id, take=take, value=rest[0] if rest else None, by=by, now=utcnow())
    except ConflictError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"Conflict {decision.conflict_id} ({decision.field}): took {decision.take}, value {decision.value!r}. "
        "Recorded; the sync that applies decisions writes it (see docs/two-way-sync.md)."
    )
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    """Plan (and unless --dry-run apply) the hub -> shop push of one tenant, under the tenant's lock.

    The lock is the one the export assets take: a push from the CLI while a sync's or a webhook apply's export pushes
    the same tenant would plan the same creates twice (duplicates in the shop), and each would mark the other's
    running push row interrupted. A dry run writes nothing and does not wait.
    """
    from ecom_pipeline.sync.export import ExportError, run_push
    from ecom_pipeline.warehouse import store
    from ecom_pipeline.warehouse.locks import TenantLockLost, TenantLockTimeout, command_lock

    engine = _engine(args)

    credentials_for = store.credentials_loader(lambda: _cipher(args))  # the key is read only when writing

    try:
        with command_lock(engine, args.tenant, "ecom-pipeline push", dry_run=args.dry_run):
            reports = run_push(
                engine,
                tenant_id=args.tenant,
                integration_id=args.integration,
                dry_run=args.dry_run,
                credentials_for=credentials_for,
            )
    except TenantLockTimeout as exc:
        print(f"error: {exc}. Nothing was pushed; run it again when that run has finished.", file=sys.stderr)
        return 1
    except TenantLockLost as exc:
        print(
            f"error: {exc} Run the push again: what already reached a shop is looked up by SKU or handle before a "
            "create (a variant without a SKU cannot be: check the shop for a duplicate of one).",
            file=sys.stderr,
        )
        return 1
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not reports:
        print(f"No shop of tenant {args.tenant} pushes: set one with `ecom-pipeline integration set --direction push`.")
        return 0
    failed = 0
    for report in reports:
        plan = report.plan
        head = f"Integration #{report.integration_id} ({report.platform})"
        print(f"{head}: {len(plan.creates)} product creates, {len(plan.variant_creates)} variant creates, "
              f"{len(plan.updates)} field updates, {len(plan.deletes)} deletes, "
              f"{len(plan.variant_deletes)} variant deletes, {plan.unchanged} unchanged"
              f"{' (dry run: nothing written)' if args.dry_run else ''}")  # fmt: skip
        if plan.rows():
            _print_table(["action", "entity", "key", "detail"], plan.rows())
        for w in report.warnings:  # what the writer changed or left on its own initiative (a dry run: will)
            print(f"  warning{' (dry run, as the plan tells)' if args.dry_run else ''}: {w.line()}")
        if report.error:
            failed += 1
            print(f"  error: {report.error}", file=sys.stderr)
        elif report.outcome is not None:
            o = report.outcome
            print(f"  pushed: created {o.created}  updated {o.updated}  deleted {o.deleted}  "
                  f"unchanged {plan.unchanged}  failed {o.failed}")  # fmt: skip
            if report.lineage is not None and report.lineage.counts:
                print(f"  run {report.lineage.run_id}: {report.lineage.written} record(s) written, each in "
                      "push_records (`ecom-pipeline lineage`)")  # fmt: skip
            for r in o.rejections:
                print(f"  refused by the shop: {r.entity} {r.key}: {r.reason} (in rejected_records, retried next run)")
            failed += 1 if o.failed else 0
    return 1 if failed else 0


def cmd_lineage(args: argparse.Namespace) -> int:
    """A hub record's push history: when, which shop and run, what happened, the shop id it got."""
    from ecom_pipeline.sync.lineage import history

    with _engine(args).connect() as conn:
        rows = history(conn, args.tenant, sku=args.sku, handle=args.handle, limit=args.limit)
    what = f"SKU {args.sku}" if args.sku is not None else f"handle {args.handle}"
    if not rows:
        print(f"No push of {what} in tenant {args.tenant} is recorded (push_records keeps "
              "pushes that wrote or were refused; unchanged records have no row).")  # fmt: skip
        return 0
    print(f"Pushes of {what} in tenant {args.tenant}, oldest first:")
    _print_table(
        ["when", "shop", "run", "entity", "sku/handle", "outcome", "shop id", "fields", "message"],
        [
            [_fmt_time(r.recorded_at), f"#{r.integration_id} {r.platform}", r.run_id, r.entity, r.sku or r.handle or "",
             r.outcome, r.external_id or "", ",".join(r.fields or []), (r.message or "")[:100]]
            for r in rows
        ],
    )  # fmt: skip
    return 0


def _add_two_way_commands(sub: Any) -> None:
    """The catalogue, integration-settings and conflicts commands (issue 10)."""
    from ecom_pipeline.sync.merge import POLICY_FIELDS, Direction, Policy
    from ecom_pipeline.sync.policies import RULE_KINDS
    from ecom_pipeline.tenants import tenant_argument
    from ecom_pipeline.webhooks.cli import positive_int

    p = sub.add_parser("catalog", help="Import or export the hub catalogue (CSV or Parquet, one row per variant).")
    catalog = p.add_subparsers(dest="catalog_command", required=True, metavar="ACTION")
    pp = catalog.add_parser(
        "import",
        help="Create and edit hub products from a file; every row is checked first.",
        description="Create and edit hub products from a file; every row is checked first. Required columns: "
        "handle, title, status, sku, price. An optional column left out of the file keeps the hub's values of "
        "existing products and variants (new ones get it empty); an empty cell in a column the file has clears it.",
    )
    pp.add_argument("file", help="A .csv or .parquet file (columns: see docs/two-way-sync.md).")
    pp.add_argument("--tenant", required=True, type=tenant_argument)
    pp.add_argument("--dry-run", action="store_true", help="Check and show what would change; write nothing.")
    pp.add_argument(
        "--partial",
        action="store_true",
        help="Write the valid rows; the others go to rejected_records (default: all or nothing).",
    )
    pp.set_defaults(func=cmd_catalog_import)
    pp = catalog.add_parser("export", help="Write the tenant's hub catalogue to a file that import reads back.")
    pp.add_argument("--tenant", required=True, type=tenant_argument)
    pp.add_argument("file", help="A .csv or .parquet file to write.")
    pp.set_defaults(func=cmd_catalog_export)

    p = sub.add_parser("integration", help="Change a connected shop's sync direction, field policies and rules.")
    actions = p.add_subparsers(dest="integration_command", required=True, metavar="ACTION")
    pp = actions.add_parser("set", help="Set direction, per-field policies, listing rules, price rule, bulk threshold.")
    pp.add_argument("--integration", type=int, required=True, help="Integration id (see `ecom-pipeline status`).")
    pp.add_argument("--direction", choices=[d.value for d in Direction], default=None)
    pp.add_argument("--policy", action="append", metavar="FIELD=POLICY",
                    help=f"Who wins a conflict on FIELD ({', '.join(POLICY_FIELDS)}): "
                         f"{' | '.join(p.value for p in Policy)}. Repeatable.")  # fmt: skip
    pp.add_argument("--include", action="append", metavar="KIND:PATTERN",
                    help=f"List only matching hub products in this shop; KIND is {', '.join(RULE_KINDS)}. "
                         "Repeatable.")  # fmt: skip
    pp.add_argument("--exclude", action="append", metavar="KIND:PATTERN", help="Never list matching products.")
    pp.add_argument("--clear-rules", action="store_true", help="Remove the include and exclude rules first.")
    pp.add_argument(
        "--price-rule",
        default=None,
        metavar="RULE",
        help="The shop's price from the hub's: +10%%, -5%%, or =12.50 (fixed); none removes it.",
    )
    pp.add_argument(
        "--bulk-mutation-threshold",
        default=None,
        metavar="N",
        help="Shopify: more writes of one kind in one push than N go as one bulk mutation (0: always; a large "
        "number: never); default restores the writer's default (250). Kept by a new `connect`.",
    )
    pp.add_argument(
        "--push-concurrency",
        default=None,
        metavar="N",
        help="WooCommerce, PrestaShop: write calls a push keeps in flight at once, 1 to 8 (1: each waits for the "
        "previous "
        "answer); default restores the default (4). Kept by a new `connect`.",
    )
    pp.add_argument(
        "--shopify-collections",
        default=None,
        choices=["on", "off"],
        help="Shopify: custom collections are the products' hub categories (pull) and the push puts products in the "
        "collections of their categories, replacing their custom-collection membership (off, the default: "
        "categories are not synced with Shopify). See docs/two-way-sync.md. Kept by a new `connect`.",
    )
    pp.set_defaults(func=cmd_integration_set)

    p = sub.add_parser(
        "push", help="Push hub products to the tenant's push/bidirectional shops (WooCommerce, Shopify, PrestaShop)."
    )
    p.add_argument("--tenant", required=True, type=tenant_argument)
    p.add_argument("--integration", type=int, help="Only this shop (its id in `ecom-pipeline status`).")
    p.add_argument("--dry-run", action="store_true", help="Print the plan; write nothing to any shop.")
    p.set_defaults(func=cmd_push)

    p = sub.add_parser("lineage", help="A hub record's push history: when, shop, run, outcome, shop id, fields.")
    p.add_argument("--tenant", required=True, type=tenant_argument)
    key = p.add_mutually_exclusive_group(required=True)
    key.add_argument("--sku", help="A variant's SKU (its product's rows are shown too).")
    key.add_argument("--handle", help="A product's handle (its variants' rows are shown too).")
    p.add_argument("--limit", type=int, default=200, help="The last N rows (default 200).")
    p.set_defaults(func=cmd_lineage)

    p = sub.add_parser("conflicts", help="List conflicts between hub and shops, and decide held ones.")
    actions = p.add_subparsers(dest="conflicts_command", required=True, metavar="ACTION")
    pp = actions.add_parser("list", help="Conflicts, newest first.")
    pp.add_argument("--tenant", default=None, type=tenant_argument)
    pp.add_argument("--held", action="store_true", help="Only held conflicts nobody has decided yet.")
    pp.add_argument("--limit", type=positive_int, default=100, help="How many, newest first (default 100).")
    pp.set_defaults(func=cmd_conflicts_list)
    pp = actions.add_parser("resolve", help="Decide a held conflict: take the hub's value, the shop's, or a value.")
    pp.add_argument("id", type=int, help="Conflict id (see `conflicts list --held`).")
    pp.add_argument("--take", nargs="+", required=True, metavar="hub|shop|value V")
    pp.add_argument("--by", default=None, help="Who decides (default: $USER).")
    pp.set_defaults(func=cmd_conflicts_resolve)


def build_parser() -> argparse.ArgumentParser:
    from ecom_pipeline.platforms.connect import add_common_arguments
    from ecom_pipeline.platforms.registry import platforms
    from ecom_pipeline.tenants import tenant_argument

    parser = argparse.ArgumentParser(
        prog="ecom-pipeline",
        description="Keep merchants' shops in sync with one hub warehouse, both ways (runs on Dagster).",
    )
    parser.add_argument(
        "--warehouse-url",
        default=None,
        help="SQLAlchemy URL of the warehouse (default: $ECOM_WAREHOUSE_URL, else the embedded SQLite file).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="Run the whole pipeline against emulated shops and print what it synced.")
    p.add_argument("--products", type=int, default=60, help="Products per demo shop (default 60).")
    p.add_argument("--orders", type=int, default=150, help="Orders per demo shop (default 150).")
    p.add_argument("--keep-running", action="store_true", help="Leave the emulated shops running afterwards.")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("connect", help="Connect a shop to a tenant, after checking its credentials.")
    by_platform = p.add_subparsers(dest="platform", required=True, metavar="PLATFORM")
    for spec in platforms().values():
        pp = by_platform.add_parser(spec.name, help=f"Connect a {spec.title} shop.")
        add_common_arguments(pp)
        pp.add_argument(
            "--reconcile-hours",
            type=float,
            default=None,
            help="Hours between id listings that find records deleted in the shop without a webhook (default 24; "
            "0: every sync).",
        )
        pp.add_argument(
            "--direction",
            choices=["pull", "push", "bidirectional"],
            default=None,
            help="Which way catalogue changes flow (default pull; `integration set` changes it later).",
        )
        spec.add_connect_arguments(pp)
        pp.set_defaults(func=cmd_connect)

    p = sub.add_parser("disconnect", help="Stop syncing a shop (its history and hub rows are kept).")
    p.add_argument("--integration", type=int, required=True, help="Integration id (see `ecom-pipeline status`).")
    p.set_defaults(func=cmd_disconnect)

    p = sub.add_parser("tenants", help="List tenants and their shops (or rename one).")
    p.add_argument(
        "--rename",
        nargs=2,
        metavar=("OLD", "NEW"),
        default=None,
        help="Move every row of tenant OLD to NEW (for names from before tenant names were checked).",
    )
    p.set_defaults(func=cmd_tenants)

    p = sub.add_parser("status", help="Shops, their last sync, errors, and records that could not be applied.")
    p.add_argument("--tenant", default=None, type=tenant_argument, help="Only this tenant.")
    p.set_defaults(func=cmd_status)

    for spec in platforms().values():  # commands of a platform's own (e.g. shopify-upgrade)
        if spec.cli is not None and spec.cli.add_commands is not None:
            spec.cli.add_commands(sub)

    p = sub.add_parser("sync", help="Run the sync job through Dagster for one tenant (or all).")
    p.add_argument(
        "--tenant",
        default=None,
        type=tenant_argument,
        help="Tenant to sync (default: every tenant with an active shop).",
    )
    p.add_argument(
        "--full-refresh", action="store_true", help="Re-read everything; ids gone from the shop become tombstones."
    )
    p.add_argument("--log-level", default="WARNING", help="Dagster console log level for the run (default WARNING).")
    p.set_defaults(func=cmd_sync)

    p = sub.add_parser("sandbox", help="Serve emulated shops on 127.0.0.1, over HTTP and HTTPS.")
    p.add_argument(
        "--shops",
        default="demo-shop",
        help="Comma-separated NAME or NAME:PLATFORM (default: the first registered platform, "
        f"{next(iter(platforms()))}), e.g. a,b:{list(platforms())[-1]}.",
    )
    p.add_argument("--demo", action="store_true", help="Serve the demo's shops (what `make demo` connects).")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--http-port", type=int, default=8710, help="Plain HTTP port (OAuth 1.0a auth).")
    p.add_argument("--https-port", type=int, default=8711, help="HTTPS port (HTTP Basic auth).")
    p.add_argument("--products", type=int, default=60)
    p.add_argument("--orders", type=int, default=150)
    p.add_argument("--customers", type=int, default=40)
    p.add_argument("--cert-dir", default=str(default_home() / "sandbox-certs"), help="Where the TLS CA and cert go.")
    p.add_argument("--credentials-file", default=None, help="Write each shop's URLs and API keys here as JSON.")
    p.set_defaults(func=cmd_sandbox)

    p = sub.add_parser(
        "serve-webhooks", help="Receive shops' webhooks into webhook_inbox (a sensor applies them within seconds)."
    )
    from ecom_pipeline.webhooks.cli import add_serve_arguments

    add_serve_arguments(p)
    p.set_defaults(func=cmd_serve_webhooks)
    from ecom_pipeline.webhooks.follow import add_follow_command

    add_follow_command(sub)

    _add_two_way_commands(sub)
    from ecom_pipeline.stock.cli import add_stock_commands

    add_stock_commands(sub)

    p = sub.add_parser("migrate", help="Create or upgrade the warehouse tables (every command does it too).")
    p.set_defaults(func=cmd_migrate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # The commands that run Dagster jobs in process (sync, apply-webhooks, demo) resolve the warehouse through the
    # definitions' resource, which reads the environment: without this, `--warehouse-url X sync` listed X's
    # tenants but ran their syncs against the default warehouse. Restored after, for callers in the same process.
    before = os.environ.get(ENV_WAREHOUSE_URL)
    if args.warehouse_url:
        os.environ[ENV_WAREHOUSE_URL] = args.warehouse_url
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    finally:
        if args.warehouse_url:
            if before is None:
                os.environ.pop(ENV_WAREHOUSE_URL, None)
            else:
                os.environ[ENV_WAREHOUSE_URL] = before


if __name__ == "__main__":
    sys.exit(main())
