"""Extract assets ``[platform, entity]``: one per platform and entity, partitioned by tenant, materialized by one
step per platform (:func:`build_extract_asset` says why and how a failure of one entity is handled).

They are generated from the platform registry. Each run pages through every active integration of the tenant on
that platform, stages raw payloads and advances cursors; the metadata says what was read, at what cost (calls,
retries, throttle wait) and where the cursor moved. One shop failing does not stop the tenant's other shops; the
asset's ``all_shops_extracted`` check (ERROR) then fails with every shop's error, after recording each in
``sync_runs`` and ``integrations``.
"""

import threading
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import dagster as dg
from pydantic import Field

from ecom_pipeline.assets.hub import EARLY_HUB_ASSETS, HUB_ENTITIES, apply_early
from ecom_pipeline.partitions import tenants_partitions
from ecom_pipeline.platforms.registry import PlatformSpec, platforms
from ecom_pipeline.resources import CredentialStoreResource, ShopClientSettings, WarehouseResource
from ecom_pipeline.sync.apply import ApplyReport
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


def extract_op_name(platform: str) -> str:
    """The name of a platform's extract step (its op), which run config addresses (``ops: {<name>: {config}}``)."""
    return f"{platform}__extract"


def entity_order(spec: PlatformSpec) -> list[str]:
    """The platform's extract asset names in the order its step reads them: every asset after the ones it depends on
    (``extract_deps``), as separate steps ran before; otherwise in ``extract_entities`` order."""
    done: list[str] = []
    pending = list(spec.extract_entities)
    while pending:
        ready = next(n for n in pending if all(d in done for d in spec.extract_deps.get(n, ())))
        done.append(ready)
        pending.remove(ready)
    return done


def _materialized_in_run(context: dg.AssetExecutionContext) -> set[dg.AssetKey]:
    """The assets this run already materialized (a retried step skips the entities its first attempt read)."""
    records = context.instance.get_records_for_run(
        context.run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, limit=1000
    ).records
    return {m.asset_key for r in records if (m := r.event_log_entry.asset_materialization) is not None}


def _last_attempt(context: dg.AssetExecutionContext) -> bool:
    """Whether a failure raised by this attempt of the step would not be retried by Dagster: no retry policy,
    retries disabled for the run, or the policy's ``max_retries`` used up (``retry_number`` counts the attempts
    before this one). The policy is the step's as Dagster applies it (``op_retry_policy``: the op's own, else the
    job's ``op_retry_policy``), read from the step's context as ``dagster._core.execution.plan.utils`` does."""
    step = context.get_step_execution_context()
    policy = step.op_retry_policy
    return policy is None or step.retry_mode.disabled or context.retry_number >= policy.max_retries


def _check_alone(key: dg.AssetKey, check_name: str) -> dg.AssetCheckResult:
    """The result of an extract check selected without its asset: these checks judge what the step read, so they
    are evaluated only when the asset is extracted; say so rather than yield nothing."""
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=check_name,
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"Not evaluated: {check_name} judges what an extract of {key.to_user_string()} read, so it is "
        f"evaluated only when {key.to_user_string()} is materialized. Materialize the asset (with its checks) to "
        "evaluate it; its latest result is on the asset's last materialization.",
    )


# Executors that run every step of a run in the run's process: sync_job's (jobs.SYNC_EXECUTOR), and the one
# ``execute_in_process`` puts in place of any job's (run_sync, tests).
IN_PROCESS_EXECUTORS = frozenset({"in_process", "execute_in_process_executor"})


def _depends_on(spec: PlatformSpec, name: str, other: str) -> bool:
    """Whether extract entity ``name`` is read after ``other`` because it needs it (``extract_deps``, transitively)."""
    deps = spec.extract_deps.get(name, ())
    return other in deps or any(_depends_on(spec, d, other) for d in deps)


class _EarlyHub:
    """The hub applies an extract step starts in a thread while it reads its next entities (``hub.apply_early``).

    Once the step has read the entity that feeds hub/products, and is about to read one that does not need it
    (PrestaShop: orders, after products and inventory), hub/products' pending staging is applied in a thread while
    the step's calls go on: the shop answers the orders pages while we resolve products, instead of idling through
    the whole hub step after the downloads (docs/benchmarks.md, PrestaShop). Only when the run also materializes
    hub/products (a run of extract assets alone applies nothing), and only in a job that executes in process. The
    step waits for the thread before it ends, so nothing of it outlives the step; an apply that fails leaves the
    rows pending for the hub step (it is logged, the step does not fail for it). The hub step reports the early
    apply in hub/products' materialization and runs its checks after it.
    """

    def __init__(self, context: dg.AssetExecutionContext, engine: Any, spec: PlatformSpec) -> None:
        self.context, self.engine, self.spec = context, engine, spec
        selection = context.run.asset_selection
        # The hub step takes the early apply's report from this process (hub._EARLY): only in a job whose steps
        # all run in the run's process (sync_job: jobs.SYNC_EXECUTOR). Under the Celery or multiprocess executor
        # the hub step runs elsewhere, so there products are left to it, as before.
        in_process = context.job_def.executor_def.name in IN_PROCESS_EXECUTORS
        self.wanted = (
            {}
            if not in_process
            else {
                hub_name: HUB_ENTITIES[hub_name][1]
                for hub_name in EARLY_HUB_ASSETS
                if HUB_ENTITIES[hub_name][1] in spec.extract_entities
                and (selection is None or dg.AssetKey(["hub", hub_name]) in selection)
            }
        )
        self.ready: set[str] = set()
        self.threads: dict[str, threading.Thread] = {}
        self.outcome: dict[str, ApplyReport | BaseException | None] = {}

    def read(self, name: str) -> None:
        """Extract entity ``name`` was read (and staged) by this attempt of the step."""
        self.ready.add(name)

    def start_before(self, name: str) -> None:
        """Start the applies that may run while entity ``name`` is read."""
        for hub_name, extract_name in self.wanted.items():
            if hub_name in self.threads or extract_name not in self.ready or _depends_on(self.spec, name, extract_name):
                continue
            thread = threading.Thread(target=self._run, args=(hub_name,), name=f"early-hub-{hub_name}", daemon=True)
            self.threads[hub_name] = thread
            thread.start()

    def _run(self, hub_name: str) -> None:
        try:
            self.outcome[hub_name] = apply_early(self.context, self.engine, hub_name)
        except BaseException as exc:  # reported by join(), in the step's thread
            self.outcome[hub_name] = exc

    def join(self) -> None:
        for hub_name, thread in self.threads.items():
            thread.join()
            outcome = self.outcome.get(hub_name)
            if isinstance(outcome, BaseException):
                self.context.log.warning(
                    f"hub/{hub_name} could not be applied during the extract ({type(outcome).__name__}: {outcome}); "
                    "the hub step applies what is still pending"
                )
            elif outcome is not None:
                self.context.log.info(
                    f"hub/{hub_name}: applied {outcome.rows_read} staged rows while the extract read on "
                    f"(created {outcome.created}, updated {outcome.updated}, in {outcome.duration_s:.2f}s)"
                )
        self.threads.clear()


def build_extract_asset(spec: PlatformSpec) -> dg.AssetsDefinition:
    """The extract step of one platform: one asset ``[platform, entity]`` per entity, materialized by one op.

    Why one step per platform (issue 12): each step costs Dagster two events (start, success), a pooled step its
    pool-slot claims, ~11-13 storage statements in all; a one-platform tenant's no-change run went from 8 steps to
    2, 83 to 71 events and 499 to 422 storage statements on PostgreSQL (docs/benchmarks.md, "No-change run of one
    tenant"; its CPU moved within the noise: the rest of Dagster's cost is per asset and check). The assets, their
    checks, deps, partitions, pool and retry policy are the ones the four separate assets had, and ``can_subset``
    lets a run (or the UI) select any of them alone.

    Each selected entity is read in turn (:func:`entity_order`), as a thin wrapper of
    ``sync.extract_run.extract_for_tenant``, and gets its own materialization with its own metadata and checks:

    - A shop error (credentials, throttling past our retries, a shop down) fails that shop and entity only: the
      entity still materializes what the tenant's other shops gave, with a failed ERROR check, and the next entity
      is read, as when each was a step of its own.
    - A failure that is not the shop's (``done.fail_step``: a warehouse error, a bug) used to fail that entity's
      step, which Dagster retried. Here the step reads the platform's other entities first (their materializations
      are recorded and their staging committed; an entity that depends on the failed one, ``extract_deps``, is not
      read, as its step was skipped), then raises one ``dg.Failure`` naming every failed entity, with each one's
      summary, so that Dagster retries the step (the same RetryPolicy). The retry reads only the entities this run
      has not materialized yet. Why not raise at once: that would stop entities that have nothing to do with the
      failure (a bug in the orders transform would stop products).
    - On the step's last attempt (:func:`_last_attempt`: the retry policy's retries used up, or retries disabled)
      it does not raise: a step that fails in the end makes Dagster skip every step downstream of it, the whole
      hub step and every export of the tenant, not only the failed entity's (separate steps skipped only that
      one), so one entity failing on every run (a bug in the WooCommerce orders transform) would keep Shopify
      products and stock from ever being applied or pushed. Instead each failed entity materializes with a failed
      ERROR check ``all_shops_extracted`` naming the error (an entity not read because one it depends on failed
      says so, and stages nothing), as a shop error does, and the hub step applies what the other entities
      staged. The failure stays visible: the check fails (``ecom-pipeline sync`` exits non-zero, the UI shows
      it), ``sync_runs`` and ``integrations.last_error`` record it, ``status`` shows it, and the step logs it.
    - A run that selects a check without its asset (the UI's "Execute" on one check) gets a WARN result for it
      saying that the check is evaluated only when its asset is extracted, rather than nothing at all.
    """
    keys = {name: dg.AssetKey([spec.name, name]) for name in spec.extract_entities}
    specs = [
        dg.AssetSpec(
            key,
            deps=[keys[d] for d in spec.extract_deps.get(name, ())],
            group_name=spec.name,
            kinds={spec.name, "python"},
            description=f"Raw {spec.title} {name} of each tenant's shops, staged in `staging_records`.",
            tags={"ecom/platform": spec.name, "ecom/stage": "extract"},
            skippable=True,
        )
        for name, key in keys.items()
    ]
    check_specs = [
        check
        for key in keys.values()
        for check in (
            dg.AssetCheckSpec(
                CHECK_ALL_SHOPS,
                asset=key,
                description="Every shop of the tenant on this platform was read; a failing shop is named here.",
            ),
            *(dg.AssetCheckSpec(c.name, asset=key, description=c.description) for c in spec.report_checks),
        )
    ]
    order = entity_order(spec)

    @dg.multi_asset(
        name=extract_op_name(spec.name),
        specs=specs,
        check_specs=check_specs,
        partitions_def=tenants_partitions,
        can_subset=True,
        pool=pool_name(spec.name),
        retry_policy=dg.RetryPolicy(max_retries=2, delay=15, backoff=dg.Backoff.EXPONENTIAL),
        description=f"Reads each tenant's {spec.title} shops, one selected entity after the other, into staging.",
    )
    def _extract(
        context: dg.AssetExecutionContext,
        config: ExtractConfig,
        warehouse: WarehouseResource,
        credentials: CredentialStoreResource,
        shop_clients: ShopClientSettings,
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        options = ExtractOptions(
            full_refresh=config.full_refresh,
            lookback=timedelta(seconds=config.lookback_seconds),
            client=shop_clients.model_dump(include={"timeout_s", "max_retries", "request_budget", "per_page"}),
        )
        engine, cipher = warehouse.engine(), credentials.cipher()
        selected = context.selected_asset_keys
        checks_selected = context.selected_asset_check_keys
        done_before = _materialized_in_run(context) if context.retry_number > 0 else set()
        last = _last_attempt(context)
        failed: dict[str, str] = {}
        early = _EarlyHub(context, engine, spec)
        try:
            for name in order:
                key = keys[name]
                if key not in selected:
                    # A check selected without its asset: it is evaluated only when the asset is extracted.
                    alone = sorted(c.name for c in checks_selected if c.asset_key == key)
                    yield from (_check_alone(key, check_name) for check_name in alone)
                    continue
                if key in done_before:
                    context.log.info(f"{key.to_user_string()}: read by an earlier attempt of this step, not read again")
                    continue
                if failed_deps := [d for d in spec.extract_deps.get(name, ()) if keys[d].to_user_string() in failed]:
                    # As when it was a step of its own: an entity is not read after one it depends on failed.
                    why = f"not read: {', '.join(keys[d].to_user_string() for d in failed_deps)} failed first"
                    failed[key.to_user_string()] = why
                    context.log.error(f"{key.to_user_string()}: {why}")
                    if last:
                        # Materialized all the same (it staged nothing), so that the hub step is not skipped.
                        check = dg.AssetCheckResult(
                            asset_key=key,
                            check_name=CHECK_ALL_SHOPS,
                            passed=False,
                            severity=dg.AssetCheckSeverity.ERROR,
                            description=f"{spec.title} {name} of tenant {context.partition_key} {why}",
                        )
                        yield dg.MaterializeResult(
                            asset_key=key,
                            metadata={
                                "tenant": context.partition_key,
                                "staged": 0,
                                "dagster/row_count": 0,
                                "not_read": why,
                            },
                            check_results=[check] if dg.AssetCheckKey(key, CHECK_ALL_SHOPS) in checks_selected else [],
                        )
                    continue
                early.start_before(name)
                done = extract_for_tenant(
                    engine,
                    cipher,
                    spec,
                    tenant=context.partition_key,
                    entity=spec.extract_entities[name],
                    run_id=context.run.run_id,
                    options=options,
                    log=context.log,
                    label=name,
                )
                metadata = _metadata(done.tenant, done.reports, done.errors)
                if not done.fail_step:
                    early.read(name)
                if done.fail_step:
                    context.log.error(done.summary())
                    failed[key.to_user_string()] = done.summary()
                    if not last:
                        continue
                    # The last attempt: fail the entity's ERROR check rather than the step (see the docstring).
                elif done.errors:
                    # Shop errors (credentials, throttling past our retries, a shop down) fail this shop only: the asset
                    # still materializes what the tenant's other shops gave, so the hub keeps applying them, and the
                    # failure shows as a failed ERROR check (and in sync_runs, integrations.last_error, `status`).
                    context.log.error(done.summary())
                all_read = dg.AssetCheckResult(
                    asset_key=key,
                    check_name=CHECK_ALL_SHOPS,
                    passed=not done.errors,
                    severity=dg.AssetCheckSeverity.ERROR,
                    description=done.summary(),
                    metadata={"failed_shops": dg.MetadataValue.json(done.errors)},
                )
                more = [check.evaluate(done.reports)._replace(asset_key=key) for check in spec.report_checks]
                results = [r for r in (all_read, *more) if dg.AssetCheckKey(key, r.check_name) in checks_selected]
                yield dg.MaterializeResult(asset_key=key, metadata=metadata, check_results=results)
        finally:
            early.join()
        if failed and last:
            context.log.error(
                f"{', '.join(failed)} failed on the step's last attempt ({context.retry_number + 1}); not failing the "
                "step, so the hub step applies what the other entities staged: each failed entity's "
                f"{CHECK_ALL_SHOPS} check fails instead, naming the error."
            )
        elif failed:
            raise dg.Failure(
                description="\n".join(f"{k}: {v}" for k, v in failed.items()),
                metadata={
                    "failed_assets": dg.MetadataValue.json(list(failed)),
                    "errors": dg.MetadataValue.md("\n".join(f"- **{k}**: {v}" for k, v in failed.items())),
                },
                allow_retries=True,
            )

    return _extract


def extract_assets() -> list[dg.AssetsDefinition]:
    """Every platform's extract step (one multi-asset per platform)."""
    return [build_extract_asset(spec) for spec in platforms().values()]
