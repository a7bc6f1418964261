"""Export assets ``[platform, "export"]``: the hub -> shop push of one tenant, per platform with a writer.

A thin wrapper of ``sync.export`` (the same plain functions ``ecom-pipeline push`` runs): for each of the tenant's
shops on the platform whose direction pushes (push or bidirectional), plan, then (unless the run's ``dry_run``)
apply through the platform's writer (``PlatformSpec.writer``); what a writer changed or left on its own initiative
(a title cleaned, a shop's own variants kept) is the ``push_warnings`` list of the metadata. Pull-only shops get
nothing: the asset then materializes as a no-op that says so. It runs after the hub assets in a tenant's sync
(launchers add it only when the tenant has a pushing shop on the platform: ``jobs.sync_asset_selection``) and after
a webhook apply.

The write runs under the tenant's lock (``warehouse/locks.py``), as the hub assets do: a push never reads the hub
while a sync or webhook apply of the same tenant is changing it, and never races another push of the tenant.
"""

from collections.abc import Sequence
from typing import Any

import dagster as dg
from pydantic import Field

from ecom_pipeline.assets.extract import pool_name
from ecom_pipeline.assets.tenant_run import credentials_loader, run_lock
from ecom_pipeline.partitions import tenants_partitions
from ecom_pipeline.platforms.registry import PlatformSpec, platforms
from ecom_pipeline.resources import CredentialStoreResource, WarehouseResource
from ecom_pipeline.sync.export import PushReport, pushing_integrations, run_push
from ecom_pipeline.sync.lineage import RECORDS_SHOWN, show

EXPORT_ASSET_NAME = "export"
# The export runs after the hub has taken in what the shops (and webhooks) brought.
EXPORT_HUB_DEPS = ("products",)
INBOX_ASSET_KEY = dg.AssetKey(["webhooks", "inbox_applied"])
# Rows of the plan table shown in the metadata; the rest are counted, not listed (a first push may plan thousands).
PLAN_ROWS_SHOWN = 50
# Push warnings listed in the metadata (``push_warnings``); the rest are counted.
WARNINGS_SHOWN = 50


class ExportConfig(dg.Config):
    """Run settings for an export asset."""

    dry_run: bool = Field(
        default=False, description="Plan only: the plan is in the metadata, nothing is written to any shop."
    )


def export_key(platform: str) -> dg.AssetKey:
    """The export asset of one platform."""
    return dg.AssetKey([platform, EXPORT_ASSET_NAME])


def export_platforms() -> list[str]:
    """The platforms whose shops can be pushed to (a writer is registered), sorted."""
    return sorted(name for name, spec in platforms().items() if spec.writer)


def _plan_table(reports: Sequence[PushReport]) -> tuple[dg.TableMetadataValue, int]:
    rows = [
        dg.TableRecord({"shop": f"#{r.integration_id}", "action": a, "entity": e, "key": k, "detail": d})
        for r in reports
        for a, e, k, d in r.plan.rows()
    ]
    schema = dg.TableSchema(
        columns=[dg.TableColumn(name, "string") for name in ("shop", "action", "entity", "key", "detail")]
    )
    return dg.MetadataValue.table(rows[:PLAN_ROWS_SHOWN], schema=schema), len(rows)


def _records_table(reports: Sequence[PushReport]) -> tuple[dg.TableMetadataValue, int]:
    """What the push wrote, record by record (``push_records``, first ``RECORDS_SHOWN`` rows), and how many were
    written (created, adopted or updated)."""
    rows = [show(row) for r in reports if r.lineage is not None for row in r.lineage.sample][:RECORDS_SHOWN]
    columns = ("shop", "entity", "handle", "sku", "outcome", "external_id", "fields", "message")
    schema = dg.TableSchema(columns=[dg.TableColumn(name, "string") for name in columns])
    written = sum(r.lineage.written for r in reports if r.lineage is not None)
    return dg.MetadataValue.table([dg.TableRecord(row) for row in rows], schema=schema), written


def _warnings_markdown(reports: Sequence[PushReport]) -> dg.MarkdownMetadataValue:
    """What the writers changed or left on their own initiative (a dry run: what they would, as far as the plan
    tells), one bullet per item and shop, the first ``WARNINGS_SHOWN`` listed and the rest counted."""
    lines = [f"- **#{r.integration_id}** {w.line()}" for r in reports for w in r.warnings]
    if not lines:
        return dg.MetadataValue.md("none")
    shown = lines[:WARNINGS_SHOWN]
    if len(lines) > WARNINGS_SHOWN:
        shown.append(f"- ... and {len(lines) - WARNINGS_SHOWN} more (each in the `message` of its push_records row)")
    return dg.MetadataValue.md("\n".join(shown))


def _metadata(tenant: str, reports: Sequence[PushReport], dry_run: bool) -> dict[str, Any]:
    table, planned = _plan_table(reports)
    records, written = _records_table(reports)
    outcomes = [r.outcome for r in reports if r.outcome is not None]
    created = sum(o.created for o in outcomes)
    updated = sum(o.updated for o in outcomes)
    per_shop = [
        {
            "integration_id": r.integration_id,
            "creates": len(r.plan.creates),
            "variant_creates": len(r.plan.variant_creates),
            "updates": len(r.plan.updates),
            "deletes": len(r.plan.deletes),
            "variant_deletes": len(r.plan.variant_deletes),
            "unchanged": r.plan.unchanged,
            **(
                {
                    "created": r.outcome.created,
                    "updated": r.outcome.updated,
                    "deleted": r.outcome.deleted,
                    "failed": r.outcome.failed,
                }
                if r.outcome
                else {}
            ),
            "warnings": len(r.warnings),
            **({"sync_run_id": r.sync_run_id} if r.sync_run_id is not None else {}),
            **({"error": r.error} if r.error else {}),
        }
        for r in reports
    ]
    return {
        "tenant": tenant,
        "dry_run": dry_run,
        "shops": len(reports),
        "planned": planned,
        "plan": table,
        "plan_rows_shown": min(planned, PLAN_ROWS_SHOWN),
        "created": created,
        "updated": updated,
        "deleted": sum(o.deleted for o in outcomes),  # variants removed from the shops
        "unchanged": sum(r.plan.unchanged for r in reports),
        "failed": sum(o.failed for o in outcomes),
        "api_calls": sum(o.api_calls for o in outcomes),
        "dagster/row_count": created + updated,
        "records": records,
        "records_written": written,
        "warnings": sum(len(r.warnings) for r in reports),
        "push_warnings": _warnings_markdown(reports),
        "per_shop": dg.MetadataValue.json(per_shop),
    }


def build_export_asset(spec: PlatformSpec) -> dg.AssetsDefinition:
    """The export asset of one platform: plan then apply for the tenant's pushing shops of that platform."""
    key = export_key(spec.name)

    @dg.asset(
        key=key,
        deps=[*(dg.AssetKey(["hub", d]) for d in EXPORT_HUB_DEPS), INBOX_ASSET_KEY],
        partitions_def=tenants_partitions,
        group_name=spec.name,
        kinds={spec.name, "python"},
        pool=pool_name(spec.name),
        retry_policy=dg.RetryPolicy(max_retries=2, delay=15, backoff=dg.Backoff.EXPONENTIAL),
        description=f"The hub's catalogue pushed to each tenant's {spec.title} shops whose direction is push or "
        "bidirectional (plan, then apply; the plan is in the metadata).",
        tags={"ecom/platform": spec.name, "ecom/stage": "export"},
    )
    def _export(
        context: dg.AssetExecutionContext,
        config: ExportConfig,
        warehouse: WarehouseResource,
        credentials: CredentialStoreResource,
    ) -> dg.MaterializeResult:
        tenant = context.partition_key
        engine = warehouse.engine()
        credentials_for = credentials_loader(credentials)

        with engine.connect() as conn:
            shops = [s for s in pushing_integrations(conn, tenant, None) if s.platform == spec.name]
        if not shops:
            why = f"tenant {tenant} has no {spec.title} shop whose direction is push or bidirectional: nothing to push"
            context.log.info(why)
            return dg.MaterializeResult(
                metadata={
                    "tenant": tenant,
                    "dry_run": config.dry_run,
                    "shops": 0,
                    "skipped": why,
                    "dagster/row_count": 0,
                }
            )
        reports: list[PushReport] = []
        with run_lock(context, engine, f"{spec.name}/export") as lock:
            for shop in shops:
                reports += run_push(
                    engine,
                    tenant_id=tenant,
                    integration_id=int(shop.id),
                    dry_run=config.dry_run,
                    credentials_for=credentials_for,
                    run_id=context.run.run_id,
                )
        metadata = {**_metadata(tenant, reports, config.dry_run), "tenant_lock_wait_s": round(lock.waited_s, 3)}
        errors = {f"#{r.integration_id}": r.error for r in reports if r.error}
        for r in reports:
            o = r.outcome
            done = (
                f"created {o.created}, updated {o.updated}, deleted {o.deleted}, failed {o.failed}"
                if o
                else "dry run: nothing written"
            )
            context.log.info(f"{spec.name}/export #{r.integration_id}: planned {len(r.plan.rows())} change(s); {done}")
            for w in r.warnings[:WARNINGS_SHOWN]:
                context.log.warning(f"{spec.name}/export #{r.integration_id}: {w.line()}")
        if errors:
            # Each shop was tried (run_push records the failure in sync_runs); the step fails so the run shows it
            # and retries (the writer looks records up before creating: a retry never duplicates).
            metadata["errors"] = dg.MetadataValue.md("\n".join(f"- **{k}**: {v}" for k, v in errors.items()))
            raise dg.Failure(
                description=f"push to {len(errors)} {spec.title} shop(s) of {tenant} failed: {errors}",
                metadata=metadata,
                allow_retries=True,
            )
        return dg.MaterializeResult(metadata=metadata)

    return _export


def export_assets() -> list[dg.AssetsDefinition]:
    """One export asset per platform that has a writer."""
    specs = platforms()
    return [build_export_asset(specs[name]) for name in export_platforms()]
