"""Hub assets ``hub/<entity>``: transform staged payloads into canonical records and resolve them into the hub.

One hub asset per entity serves every platform: it depends on each platform's extract asset for that entity and
applies whatever is pending in staging for the tenant. Checks ride on the assets (so they run per tenant
partition, in the same run): a blocking check stops bad product data from flowing on to orders, and warnings
flag order lines that reference no known variant and records that were rejected.

The apply runs under the tenant's lock (``warehouse/locks.py``): a CLI sync, a daemon-launched run and a webhook
apply of the same tenant never resolve the same staged rows at once, whoever launched them. The hub assets run
whatever part of their upstream a run selected (a tenant's run selects only its platforms' extract assets) and
apply everything the tenant has pending in staging. A step with nothing pending (most steps of a no-change run)
finds that out with one statement and neither takes the lock nor opens the apply's transactions; it still closes
the rejections a later apply made obsolete, and its checks still run over the whole tenant (issue 12: a no-change
run must stay cheap).
"""

from typing import Any

import dagster as dg

from ecom_pipeline.assets.tenant_run import run_lock
from ecom_pipeline.partitions import tenants_partitions
from ecom_pipeline.platforms.registry import platforms
from ecom_pipeline.resources import WarehouseResource
from ecom_pipeline.sync.apply import ApplyReport, apply_staged
from ecom_pipeline.sync.runs import resolve_runs
from ecom_pipeline.warehouse import checks, store

# hub asset name -> (staging entity, extract asset name, hub assets it runs after)
HUB_ENTITIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "products": ("product", "products", ()),
    "inventory": ("inventory", "inventory", ("products",)),
    "customers": ("customer", "customers", ()),
    "orders": ("order", "orders", ("products", "customers")),
}

CHECK_REJECTIONS = "no_new_rejections"
CHECK_PRICES = "variant_prices_valid"
CHECK_LINES = "order_lines_reference_known_variants"


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


def build_hub_asset(name: str) -> dg.AssetsDefinition:
    """The hub asset for one entity, fed by every platform's extract asset of that entity."""
    entity, extract_name, after = HUB_ENTITIES[name]
    key = dg.AssetKey(["hub", name])
    specs = platforms()
    deps = [dg.AssetKey([p, extract_name]) for p, spec in specs.items() if extract_name in spec.extract_entities]
    deps += [dg.AssetKey(["hub", a]) for a in after]
    check_specs = [dg.AssetCheckSpec(CHECK_REJECTIONS, asset=key)]
    if name == "products":
        check_specs.append(dg.AssetCheckSpec(CHECK_PRICES, asset=key, blocking=True))
    if name == "orders":
        check_specs.append(dg.AssetCheckSpec(CHECK_LINES, asset=key))

    @dg.asset(
        key=key,
        deps=deps,
        partitions_def=tenants_partitions,
        group_name="hub",
        kinds={"sql", "python"},
        check_specs=check_specs,
        description=f"Canonical hub_{name} of each tenant, merged from every connected shop.",
        tags={"ecom/stage": "resolve"},
    )
    def _hub(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        tenant = context.partition_key
        run_id = context.run.run_id
        engine = warehouse.engine()
        transforms = {p: spec.transforms[entity] for p, spec in specs.items() if entity in spec.transforms}
        # Most runs of most tenants change nothing: with no staged row to apply, the apply would take the tenant's
        # lock, open no resolve row, read nothing and write nothing. One statement without the lock tells
        # (store.has_pending_staging says why that is safe), so the step skips the lock and the apply. Closing the
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
            # The resolve rows are opened once the lock is held, before the work, so they carry its real duration,
            # rows and full-refresh flag (and not the wait for another run of the tenant).
            with (
                run_lock(context, engine, f"hub/{name}") as lock,
                resolve_runs(engine, tenant_id=tenant, entity=entity, run_id=run_id) as runs,
            ):
                report = apply_staged(engine, tenant_id=tenant, entity=entity, transforms=transforms, run_id=run_id)
                runs.finish(report.per_integration)
            waited_s = lock.waited_s
            context.log.info(
                f"hub/{name} for {tenant}: read {report.rows_read} staged rows; created {report.created}, "
                f"updated {report.updated}, unchanged {report.unchanged}, deleted {report.deleted}, "
                f"rejected {report.rejected} in {report.duration_s:.2f}s"
            )
            with engine.connect() as conn:
                results = _check_results(conn, name, key, tenant, entity, run_id)
        return dg.MaterializeResult(
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
                "nothing_pending": idle,
            },
            check_results=results,
        )

    return _hub


def hub_assets() -> list[dg.AssetsDefinition]:
    return [build_hub_asset(name) for name in HUB_ENTITIES]
