"""Extract assets ``[platform, entity]``: one per platform and entity, partitioned by tenant.

They are generated from the platform registry. Each run pages through every active integration of the tenant on
that platform, stages raw payloads and advances cursors; the metadata says what was read, at what cost (calls,
retries, throttle wait) and where the cursor moved. One shop failing does not stop the tenant's other shops; the
asset then fails with every shop's error, after recording each in ``sync_runs`` and ``integrations``.
"""

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import dagster as dg
from pydantic import Field

from ecom_pipeline.partitions import tenants_partitions
from ecom_pipeline.platforms.registry import PlatformSpec, platforms
from ecom_pipeline.resources import CredentialStoreResource, ShopClientSettings, WarehouseResource
from ecom_pipeline.sync.extract import ExtractReport
from ecom_pipeline.sync.extract_run import ExtractOptions, extract_for_tenant

CHECK_ALL_SHOPS = "all_shops_extracted"


class ExtractConfig(dg.Config):
    """Run settings for an extract asset."""

    full_refresh: bool = Field(
        default=False,
        description="Re-read every record instead of changes since the cursor; ids the shop no longer has "
        "become tombstones (deleted_at) in the hub.",
    )
    lookback_seconds: int = Field(
        default=300, description="How far before the cursor an incremental read starts, to catch late commits."
    )


def _metadata(tenant: str, reports: Sequence[tuple[str, ExtractReport]], errors: dict[str, str]) -> dict[str, Any]:
    total = ExtractReport(entity="")
    for _, r in reports:
        total.rows_fetched += r.rows_fetched
        total.staged += r.staged
        total.unchanged += r.unchanged
        total.tombstoned += r.tombstoned
        total.api_calls += r.api_calls
        total.retries += r.retries
        total.throttle_wait_s += r.throttle_wait_s
        total.pages += r.pages
    per_shop = [
        {
            "shop": name,
            "fetched": r.rows_fetched,
            "staged": r.staged,
            "unchanged": r.unchanged,
            "tombstoned": r.tombstoned,
            "api_calls": r.api_calls,
            "retries": r.retries,
            "throttle_wait_s": round(r.throttle_wait_s, 3),
            "cursor_before": r.cursor_before,
            "cursor_after": r.cursor_after,
            "duration_s": round(r.duration_s, 3),
            **({"missed_by_webhooks": r.missed_by_webhooks} if r.missed_by_webhooks is not None else {}),
            # Platforms that poll on their own schedule (PrestaShop's poll_interval_s) say when they skipped.
            **({"skipped": r.skip_reason or True} if r.skipped else {}),
        }
        for name, r in reports
    ]
    meta: dict[str, Any] = {
        "tenant": tenant,
        "shops": len(reports) + len(errors),
        "rows_fetched": total.rows_fetched,
        "staged": total.staged,
        "unchanged": total.unchanged,
        "tombstoned": total.tombstoned,
        "pages": total.pages,
        "api_calls": total.api_calls,
        "retries": total.retries,
        "throttle_wait_s": round(total.throttle_wait_s, 3),
        "dagster/row_count": total.staged,
        "duration_s": round(sum(r.duration_s for _, r in reports), 3),
        "per_shop": dg.MetadataValue.json(per_shop),
        "shops_skipped": sum(1 for _, r in reports if r.skipped),
        "missed_by_webhooks": sum(r.missed_by_webhooks or 0 for _, r in reports),
    }
    # Platform reports may carry more (Shopify: throttled responses, bulk or paginated mode, warnings such as the
    # 60-day order limit without read_all_orders); surface them rather than leave them in the logs.
    extras = {name: more for name, r in reports if (more := r.metadata())}
    if extras:
        meta["platform_details"] = dg.MetadataValue.json(extras)
        warnings = [f"{name}: {w}" for name, m in extras.items() for w in (m.get("warnings") or [])]
        if warnings:
            meta["warnings"] = dg.MetadataValue.md("\n".join(f"- {w}" for w in warnings))
    if len(reports) == 1:
        meta["cursor_before"] = dg.MetadataValue.json(reports[0][1].cursor_before or {})
        meta["cursor_after"] = dg.MetadataValue.json(reports[0][1].cursor_after or {})
    if errors:
        meta["errors"] = dg.MetadataValue.md("\n".join(f"- **{k}**: {v}" for k, v in errors.items()))
    return meta


def pool_name(platform: str) -> str:
    """The concurrency pool shared by a platform's extract assets (limited in dagster.yaml)."""
    return f"{platform}_api"


def build_extract_asset(spec: PlatformSpec, asset_name: str, entity: str) -> dg.AssetsDefinition:
    """The extract asset for one platform entity: a thin wrapper of ``sync.extract_run.extract_for_tenant``."""
    key = dg.AssetKey([spec.name, asset_name])

    @dg.asset(
        key=key,
        deps=[dg.AssetKey([spec.name, d]) for d in spec.extract_deps.get(asset_name, ())],
        partitions_def=tenants_partitions,
        group_name=spec.name,
        kinds={spec.name, "python"},
        pool=pool_name(spec.name),
        retry_policy=dg.RetryPolicy(max_retries=2, delay=15, backoff=dg.Backoff.EXPONENTIAL),
        description=f"Raw {spec.title} {asset_name} of each tenant's shops, staged in `staging_records`.",
        tags={"ecom/platform": spec.name, "ecom/stage": "extract"},
        check_specs=[
            dg.AssetCheckSpec(
                CHECK_ALL_SHOPS,
                asset=key,
                description="Every shop of the tenant on this platform was read; a failing shop is named here.",
            ),
            *(dg.AssetCheckSpec(c.name, asset=key, description=c.description) for c in spec.report_checks),
        ],
    )
    def _extract(
        context: dg.AssetExecutionContext,
        config: ExtractConfig,
        warehouse: WarehouseResource,
        credentials: CredentialStoreResource,
        shop_clients: ShopClientSettings,
    ) -> dg.MaterializeResult:
        options = ExtractOptions(
            full_refresh=config.full_refresh,
            lookback=timedelta(seconds=config.lookback_seconds),
            client=shop_clients.model_dump(include={"timeout_s", "max_retries", "request_budget", "per_page"}),
        )
        done = extract_for_tenant(
            warehouse.engine(),
            credentials.cipher(),
            spec,
            tenant=context.partition_key,
            entity=entity,
            run_id=context.run.run_id,
            options=options,
            log=context.log,
            label=asset_name,
        )
        metadata = _metadata(done.tenant, done.reports, done.errors)
        if done.fail_step:
            raise dg.Failure(description=done.summary(), metadata=metadata, allow_retries=True)
        if done.errors:
            # Shop errors (credentials, throttling past our retries, a shop down) fail this shop only: the asset
            # still materializes what the tenant's other shops gave, so the hub keeps applying them, and the
            # failure shows as a failed ERROR check (and in sync_runs, integrations.last_error, `status`).
            context.log.error(done.summary())
        all_read = dg.AssetCheckResult(
            check_name=CHECK_ALL_SHOPS,
            passed=not done.errors,
            severity=dg.AssetCheckSeverity.ERROR,
            description=done.summary(),
            metadata={"failed_shops": dg.MetadataValue.json(done.errors)},
        )
        more = [check.evaluate(done.reports) for check in spec.report_checks]
        return dg.MaterializeResult(metadata=metadata, check_results=[all_read, *more])

    return _extract


def extract_assets() -> list[dg.AssetsDefinition]:
    """Every platform's extract assets."""
    return [
        build_extract_asset(spec, asset_name, entity)
        for spec in platforms().values()
        for asset_name, entity in spec.extract_entities.items()
    ]
