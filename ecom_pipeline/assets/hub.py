"""Hub assets ``hub/<entity>``: transform staged payloads into canonical records and resolve them into the hub.
All four are materialized by one step, ``hub__resolve`` (:func:`build_hub_asset` says why and what it keeps).

One hub asset per entity serves every platform: it depends on each platform's extract asset for that entity and
applies whatever is pending in staging for the tenant. Checks ride on the assets (so they run per tenant
partition, in the same run): a blocking check stops bad product data from flowing on to orders, and warnings
flag order lines that reference no known variant and records that were rejected.

The apply runs under the tenant's lock (``warehouse/locks.py``): a CLI sync, a daemon-launched run and a webhook
apply of the same tenant never resolve the same staged rows at once, whoever launched them. The hub assets run
whatever part of their upstream a run selected (a tenant's run selects only its platforms' extract assets) and
apply everything the tenant has pending in staging. An entity with nothing pending (all of a no-change run's)
finds that out with one statement and neither takes the lock nor opens the apply's transactions; it still closes
the rejections a later apply made obsolete, and its checks still run over the whole tenant (issue 12: a no-change
run must stay cheap).
"""

import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import dagster as dg

from ecom_pipeline.assets.tenant_run import run_lock
from ecom_pipeline.partitions import tenants_partitions
from ecom_pipeline.platforms.registry import platforms
from ecom_pipeline.resources import WarehouseResource
from ecom_pipeline.sync.apply import ApplyReport, apply_staged
from ecom_pipeline.sync.runs import resolve_runs
from ecom_pipeline.warehouse import checks, store
from ecom_pipeline.warehouse.locks import TenantLockTimeout

# hub asset name -> (staging entity, extract asset name, hub assets it runs after), in the order the step applies them
HUB_ENTITIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "products": ("product", "products", ()),
    "inventory": ("inventory", "inventory", ("products",)),
    "customers": ("customer", "customers", ()),
    "orders": ("order", "orders", ("products", "customers")),
}

CHECK_REJECTIONS = "no_new_rejections"
CHECK_PRICES = "variant_prices_valid"
CHECK_LINES = "order_lines_reference_known_variants"
# Checks whose ERROR failure keeps the hub assets that run after their asset from applying in that run.
BLOCKING_CHECKS = frozenset({CHECK_PRICES})


WARN, ERROR = dg.AssetCheckSeverity.WARN, dg.AssetCheckSeverity.ERROR


def _rejection_check(conn: Any, key: dg.AssetKey, tenant: str, entity: str, run_id: str) -> dg.AssetCheckResult:
    found = checks.rejections(conn, tenant=tenant, entity=entity, run_id=run_id)
    meta: dict[str, Any] = {
        "rejected_this_run_sample": dg.MetadataValue.json(found.this_run),
        "unresolved_rejections": found.unresolved,
        "where": "SELECT * FROM rejected_records WHERE resolved_at IS NULL",
    }
    why = "Records this run could not apply are kept in rejected_records with the reason."
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=CHECK_REJECTIONS,
        passed=not found.this_run,
        severity=WARN,
        metadata=meta,
        description=why,
    )


def _prices_check(conn: Any, key: dg.AssetKey, tenant: str) -> dg.AssetCheckResult:
    bad = checks.bad_prices(conn, tenant=tenant)
    meta: dict[str, Any] = {
        "negative_prices": bad.negative,
        "sample": dg.MetadataValue.json(bad.sample),
        "variants_without_product": bad.without_product,
    }
    why = "No variant may have a negative price or lose its product; orders do not run on bad catalogue."
    return dg.AssetCheckResult(
        asset_key=key, check_name=CHECK_PRICES, passed=bad.ok, severity=ERROR, metadata=meta, description=why
    )


def _lines_check(conn: Any, key: dg.AssetKey, tenant: str) -> dg.AssetCheckResult:
    unknown = checks.lines_without_variant(conn, tenant=tenant)
    meta: dict[str, Any] = {"lines_without_variant": unknown.total, "sample": dg.MetadataValue.json(unknown.sample)}
    why = "Order lines whose product is unknown to the hub (deleted in the shop, or not synced yet)."
    return dg.AssetCheckResult(
        asset_key=key, check_name=CHECK_LINES, passed=unknown.total == 0, severity=WARN, metadata=meta, description=why
    )


def _check_results(
    conn: Any, name: str, key: dg.AssetKey, tenant: str, entity: str, run_id: str
) -> list[dg.AssetCheckResult]:
    """The hub asset's checks, evaluated over the whole tenant on one connection (their meaning does not depend on
    what this run applied: a negative price a catalogue import wrote fails the next run's check as well)."""
    results = [_rejection_check(conn, key, tenant, entity, run_id)]
    if name == "products":
        results.append(_prices_check(conn, key, tenant))
    if name == "orders":
        results.append(_lines_check(conn, key, tenant))
    return results


HUB_OP_NAME = "hub__resolve"


def _transforms(entity: str) -> dict[str, Any]:
    return {p: spec.transforms[entity] for p, spec in platforms().items() if entity in spec.transforms}


def _apply_pending(
    context: dg.AssetExecutionContext, engine: Any, name: str, transforms: dict[str, Any], *, wait: bool = True
) -> tuple[ApplyReport, float]:
    """Apply the tenant's pending staging of one hub entity under the tenant's lock, with its resolve rows; returns
    the report and the seconds spent waiting for the lock (``wait=False``: ``TenantLockTimeout`` at once when another
    holder has it)."""
    entity = HUB_ENTITIES[name][0]
    tenant, run_id = context.partition_key, context.run.run_id
    # The resolve rows are opened once the lock is held, before the work, so they carry its real duration, rows and
    # full-refresh flag (and not the wait for another run of the tenant).
    with (
        run_lock(context, engine, f"hub/{name}", wait=wait) as lock,
        resolve_runs(engine, tenant_id=tenant, entity=entity, run_id=run_id) as runs,
    ):
        report = apply_staged(engine, tenant_id=tenant, entity=entity, transforms=transforms, run_id=run_id)
        runs.finish(report.per_integration)
    return report, lock.waited_s


# Applies an extract step made early (:func:`apply_early`), by (run id, hub asset name), until the hub step of that
# run takes them into its materialization. Runs execute their steps in process (jobs.SYNC_EXECUTOR), so the hub
# step runs in the process whose extract step stored them.
_EARLY: dict[tuple[str, str], tuple[ApplyReport, float]] = {}
_EARLY_LOCK = threading.Lock()
# Hub assets an extract step may apply early: those that run after no other hub asset (their apply needs nothing
# the later extracts of the run bring). Only products: customers are read last (nothing left to overlap with).
EARLY_HUB_ASSETS = ("products",)


def apply_early(context: dg.AssetExecutionContext, engine: Any, name: str) -> ApplyReport | None:
    """Apply hub/``name``'s pending staging now, from an extract step (in a thread, while that step reads its
    platform's next entities), exactly as the hub step would (tenant lock, resolve rows, same run id); the hub step
    of this run then applies whatever is pending by then and reports both in hub/``name``'s materialization. None
    when nothing is pending. Its checks stay the hub step's: they run after that step's apply, as before."""
    if name not in EARLY_HUB_ASSETS or HUB_ENTITIES[name][2]:
        raise ValueError(f"hub/{name} cannot be applied before the hub step")
    entity = HUB_ENTITIES[name][0]
    with engine.connect() as conn:
        if not store.has_pending_staging(conn, tenant_id=context.partition_key, entity=entity):
            return None
    try:
        # Never wait for the tenant's lock here: the extract step would hold its platform's pool slot while another
        # run or a webhook apply works, and then the hub step would wait once more. Busy now: the hub step applies.
        report, waited_s = _apply_pending(context, engine, name, _transforms(entity), wait=False)
    except TenantLockTimeout:
        context.log.info(
            f"hub/{name}: the tenant's lock is held by another run or apply; the hub step applies the pending rows"
        )
        return None
    with _EARLY_LOCK:
        before = _EARLY.get((context.run.run_id, name))
        _EARLY[(context.run.run_id, name)] = (
            (_merged(before[0], report), before[1] + waited_s) if before else (report, waited_s)
        )
    return report


def _take_early(run_id: str, name: str) -> tuple[ApplyReport, float] | None:
    with _EARLY_LOCK:
        return _EARLY.pop((run_id, name), None)


def _merged(first: ApplyReport, second: ApplyReport) -> ApplyReport:
    """The report of two applies of one entity in one run, as if one (neither report is changed)."""
    merged = ApplyReport(entity=first.entity, tenant_id=first.tenant_id)
    merged.merge(first)
    merged.merge(second)
    return merged


def _apply(
    context: dg.AssetExecutionContext, engine: Any, name: str, transforms: dict[str, Any]
) -> dg.MaterializeResult:
    """Apply one entity's pending staging for the run's tenant, as its own step did before (lock, resolve rows,
    apply, checks), and say so in its materialization."""
    entity = HUB_ENTITIES[name][0]
    key = dg.AssetKey(["hub", name])
    tenant = context.partition_key
    run_id = context.run.run_id
    # Most runs of most tenants change nothing: with no staged row to apply, the apply would take the tenant's
    # lock, open no resolve row, read nothing and write nothing. One statement without the lock tells
    # (store.has_pending_staging says why that is safe), so the entity skips the lock and the apply. Closing the
    # rejections that a later apply made obsolete (a webhook's, say) is still done here: it is idempotent and
    # reads only committed links, so it needs no lock; the checks then see it, in the same transaction.
    with engine.connect() as conn:
        idle = not store.has_pending_staging(conn, tenant_id=tenant, entity=entity)
        if idle:
            store.resolve_obsolete_rejections(conn, tenant_id=tenant, entity=entity)
            results = _check_results(conn, name, key, tenant, entity, run_id)
            conn.commit()
            report, waited_s = ApplyReport(entity=entity, tenant_id=tenant), 0.0
    if not idle:
        report, waited_s = _apply_pending(context, engine, name, transforms)
        context.log.info(
            f"hub/{name} for {tenant}: read {report.rows_read} staged rows; created {report.created}, "
            f"updated {report.updated}, unchanged {report.unchanged}, deleted {report.deleted}, "
            f"rejected {report.rejected} in {report.duration_s:.2f}s"
        )
        with engine.connect() as conn:
            results = _check_results(conn, name, key, tenant, entity, run_id)
    early = _take_early(run_id, name)
    if early is not None:
        # Applied by an extract step of this run while it read its next entities (apply_early): part of this
        # asset's work in this run, so part of its report. The checks above ran after both applies.
        context.log.info(
            f"hub/{name} for {tenant}: {early[0].rows_read} staged rows were applied during the extract step "
            f"(created {early[0].created}, updated {early[0].updated}, in {early[0].duration_s:.2f}s)"
        )
        report = _merged(early[0], report) if not idle else replace(early[0])
        waited_s += early[1]
    checks_selected = {check.name for check in context.selected_asset_check_keys if check.asset_key == key}
    return dg.MaterializeResult(
        asset_key=key,
        metadata={
            "tenant": tenant,
            "dagster/row_count": report.created + report.updated,
            "rows_read": report.rows_read,
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "deleted": report.deleted,
            "rejected": report.rejected,
            "rejection_samples": dg.MetadataValue.json(list(report.rejection_reasons)),
            "duration_s": round(report.duration_s, 3),
            "tenant_lock_wait_s": round(waited_s, 3),
            "nothing_pending": idle and early is None,
            "applied_during_extract": early[0].rows_read if early is not None else 0,
        },
        check_results=[r for r in results if r.check_name in checks_selected],
    )


def _checks_alone(
    context: dg.AssetExecutionContext, engine: Any, keys: dict[str, dg.AssetKey]
) -> Iterator[tuple[str, dg.AssetCheckResult]]:
    """The results (with their hub asset's name) of the checks a run selected without their asset (the UI's
    "Execute" on one check): evaluated over the tenant's hub as it is, read-only (no lock, no apply), for the checks
    whose meaning does not depend on what a run applied (prices, order lines). ``no_new_rejections`` is about the
    records a run's apply rejected, and a run that applies nothing rejects none: it would always pass, so alone it
    says that it is evaluated only with its asset (WARN), as an extract check alone does. A failed blocking check
    still stops the selected hub assets that run after its asset."""
    tenant, run_id = context.partition_key, context.run.run_id
    for name, (entity, _, _) in HUB_ENTITIES.items():
        key = keys[name]
        wanted = {c.name for c in context.selected_asset_check_keys if c.asset_key == key}
        if key in context.selected_asset_keys or not wanted:
            continue
        with engine.connect() as conn:
            results = _check_results(conn, name, key, tenant, entity, run_id)
        context.log.info(f"hub/{name}: evaluated {', '.join(sorted(wanted))} without materializing the asset")
        for r in results:
            if r.check_name not in wanted:
                continue
            if r.check_name == CHECK_REJECTIONS:
                r = dg.AssetCheckResult(
                    asset_key=key,
                    check_name=CHECK_REJECTIONS,
                    passed=False,
                    severity=WARN,
                    description=f"{CHECK_REJECTIONS} is evaluated when hub/{name} is materialized (it reports the "
                    "records that run's apply rejected); materialize the asset for this tenant to evaluate it. "
                    "Open rejections: SELECT * FROM rejected_records WHERE resolved_at IS NULL",
                    metadata={"unresolved_rejections": r.metadata.get("unresolved_rejections")},
                )
            yield name, r


def _blocks(result: dg.MaterializeResult) -> list[str]:
    """The blocking checks of ``result`` that failed (they keep the entities that run after it from applying)."""
    return [
        r.check_name
        for r in result.check_results or ()
        if r.check_name in BLOCKING_CHECKS and not r.passed and r.severity == ERROR
    ]


def build_hub_asset() -> dg.AssetsDefinition:
    """The hub assets, one per entity, each fed by every platform's extract asset of that entity, materialized by
    one step (issue 12: each step costs Dagster two events and ~11-13 storage statements of its own; see
    ``extract.build_extract_asset`` for the figures).

    The step applies the selected entities in ``HUB_ENTITIES`` order (products, inventory, customers, orders: each
    after the hub assets it depends on), each exactly as its own step did. What separate steps gave for free is
    kept by hand:

    - the blocking ``variant_prices_valid`` check of hub/products: when it fails, the entities that run after
      products (inventory, orders) are not applied in this run (customers are), and the step then fails, as
      Dagster fails a step whose blocking check failed (the later steps used to be skipped);
    - an entity that raises (the tenant's lock not obtained in time, a warehouse error) does not stop the entities
      that do not depend on it; those that do are not applied, and the step fails at the end naming every error;
    - a check selected without its asset (the UI's "Execute" on ``variant_prices_valid``; with ``can_subset`` a
      run may select a check alone) is evaluated over the tenant's hub as it is, read-only: no lock, no apply.
    """
    specs = platforms()
    keys = {name: dg.AssetKey(["hub", name]) for name in HUB_ENTITIES}
    asset_specs = []
    check_specs = []
    for name, (_, extract_name, after) in HUB_ENTITIES.items():
        key = keys[name]
        deps = [dg.AssetKey([p, extract_name]) for p, spec in specs.items() if extract_name in spec.extract_entities]
        deps += [keys[a] for a in after]
        asset_specs.append(
            dg.AssetSpec(
                key,
                deps=deps,
                group_name="hub",
                kinds={"sql", "python"},
                description=f"Canonical hub_{name} of each tenant, merged from every connected shop.",
                tags={"ecom/stage": "resolve"},
                skippable=True,
            )
        )
        check_specs.append(dg.AssetCheckSpec(CHECK_REJECTIONS, asset=key))
        if name == "products":
            check_specs.append(dg.AssetCheckSpec(CHECK_PRICES, asset=key, blocking=True))
        if name == "orders":
            check_specs.append(dg.AssetCheckSpec(CHECK_LINES, asset=key))

    @dg.multi_asset(
        name=HUB_OP_NAME,
        specs=asset_specs,
        check_specs=check_specs,
        partitions_def=tenants_partitions,
        can_subset=True,
        description="Resolves each tenant's pending staging into the hub tables, one selected entity after the other.",
    )
    def _hub(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        engine = warehouse.engine()
        selected = context.selected_asset_keys
        stopped: dict[str, str] = {}  # hub asset name -> why the entities after it are not applied
        for name, alone in _checks_alone(context, engine, keys):
            yield alone
            if alone.check_name in BLOCKING_CHECKS and not alone.passed and alone.severity == ERROR:
                stopped[name] = f"blocking check {alone.check_name} failed"
        errors: dict[str, BaseException] = {}
        for name, (entity, _, after) in HUB_ENTITIES.items():
            if keys[name] not in selected:
                continue
            why = [f"hub/{a}: {stopped[a]}" for a in after if a in stopped]
            if why:
                context.log.error(f"hub/{name} is not applied in this run: " + "; ".join(why))
                stopped[name] = f"not applied ({'; '.join(why)})"
                continue
            transforms = _transforms(entity)
            try:
                result = _apply(context, engine, name, transforms)
            except Exception as error:
                context.log.error(f"hub/{name} failed: {type(error).__name__}: {error}")
                errors[name] = error
                stopped[name] = f"failed with {type(error).__name__}"
                continue
            yield result
            if failed_checks := _blocks(result):
                stopped[name] = f"blocking check {', '.join(failed_checks)} failed"
        if errors:
            text = "; ".join(f"hub/{name}: {type(e).__name__}: {e}" for name, e in errors.items())
            raise dg.Failure(description=text) from next(iter(errors.values()))

    return _hub


def hub_assets() -> list[dg.AssetsDefinition]:
    return [build_hub_asset()]
