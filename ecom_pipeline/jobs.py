"""Jobs: the sync job materializes a tenant's extract and hub assets for one tenant partition.

A run does only its tenant's work: every launcher (the schedule, the CLI) selects the extract assets of the
platforms the tenant has an active shop on, plus the hub assets, plus the export asset of each platform on which the
tenant has a shop whose direction pushes (:func:`tenant_sync_selection`). Materializing
``woocommerce/*`` for a PrestaShop-only tenant would record empty materializations under that tenant's partition
and cost a useless step in every run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import dagster as dg
from sqlalchemy.engine import Connection

from ecom_pipeline.assets.export import export_key, export_platforms
from ecom_pipeline.assets.hub import HUB_ENTITIES
from ecom_pipeline.assets.stock import STOCK_KEY
from ecom_pipeline.platforms.registry import platforms
from ecom_pipeline.stock.settings import ENABLED_KEY as STOCK_ENABLED_KEY
from ecom_pipeline.sync.export import pushing_integrations
from ecom_pipeline.sync.policies import SyncSettings
from ecom_pipeline.warehouse import store

SYNC_JOB_NAME = "sync_job"
HUB_GROUP = "hub"

# How a launched run executes its steps. Measured on this 2-core machine (benchmarks/tick_bench.py, docs/benchmarks.md
# "Schedule tick"): a no-change sync of a one-shop tenant launched through the daemon took 15-19 s wall and ~12 CPU s
# with the multiprocess executor (forkserver preloading the definitions: one process per step, 8 steps), against ~3-5 s
# and under 1 CPU s in process. A tenant's steps are a short chain (one extract step per platform, then the one hub
# step, then export; issue 12: each step costs Dagster events and storage statements, so a one-platform tenant's run has
# 2 steps where it had 8) whose work is I/O on the shop and the warehouse; parallelism comes from running many tenants'
# runs at once (max_concurrent_runs), not from the steps of one run. So a run executes in its run worker, one step after
# the other: the code is loaded once per run and no step costs a process. A failed step still only skips the steps that
# depend on it (the other platforms' extract steps run and are reported), pools still apply (the in-process executor
# claims pool slots too), and the warehouse locks and idempotent writes do not depend on the executor.
SYNC_EXECUTOR = dg.in_process_executor

sync_job = dg.define_asset_job(
    SYNC_JOB_NAME,
    executor_def=SYNC_EXECUTOR,
    selection=dg.AssetSelection.groups(*platforms(), HUB_GROUP),
    description="Pull every connected shop of one tenant into staging, then resolve it into the hub tables. "
    "Launchers select only the platforms the tenant has (see ecom_pipeline.jobs.sync_asset_selection).",
    tags={"ecom/kind": "sync"},
)


def tenant_platforms(conn: Connection, tenant_id: str) -> list[str]:
    """The platforms on which ``tenant_id`` has an active (not disconnected) shop, sorted."""
    return sorted({i.platform for i in store.list_integrations(conn, tenant_id=tenant_id)})


def tenant_push_platforms(conn: Connection, tenant_id: str) -> list[str]:
    """The platforms (with a writer) on which ``tenant_id`` has a shop whose direction is push or bidirectional."""
    writable = set(export_platforms())
    return sorted({s.platform for s in pushing_integrations(conn, tenant_id, None) if s.platform in writable})


def sync_asset_selection(
    platform_names: Iterable[str], push_platforms: Iterable[str] = (), stock: bool = False
) -> list[dg.AssetKey]:
    """The assets of one tenant's sync: the extract assets of its platforms, every hub asset, then the export
    asset of each platform in ``push_platforms`` (a pull-only tenant's run has no export step).

    The hub assets apply whatever the tenant has pending in staging, whichever platforms were extracted, so they
    run with only part of their upstream selected (and still apply webhook or earlier staged rows).
    """
    wanted = set(platform_names)
    keys = [
        dg.AssetKey([name, asset_name])
        for name, spec in platforms().items()
        if name in wanted
        for asset_name in spec.extract_entities
    ]
    keys += [dg.AssetKey([HUB_GROUP, name]) for name in HUB_ENTITIES]
    pushing = set(push_platforms)
    keys += [export_key(name) for name in export_platforms() if name in pushing]
    return keys + ([STOCK_KEY] if stock else [])  # hub/stock_push: only for a tenant with a stock-managed shop


def _selection_of(shops: Sequence[store.IntegrationRecord]) -> list[dg.AssetKey]:
    """The sync selection of a tenant whose active shops are ``shops`` (one ``list_integrations`` read).

    The same shops :func:`tenant_platforms`, :func:`tenant_push_platforms` (``pushing_integrations``) and
    ``stock_integrations`` each read again; a launcher asks this for every tenant of a tick, so one read per
    tenant rather than three (ecom_pipeline_tests/test_tenant_selection.py holds it equal to those three).
    """
    writable = set(export_platforms())
    pushing = {
        s.platform for s in shops if s.platform in writable and SyncSettings.from_settings(s.settings).direction.pushes
    }
    stock = any((s.settings or {}).get(STOCK_ENABLED_KEY) for s in shops)
    return sync_asset_selection(sorted({s.platform for s in shops}), sorted(pushing), stock)


def tenant_sync_selection(conn: Connection, tenant_id: str) -> list[dg.AssetKey]:
    """The sync selection of ``tenant_id`` as the warehouse has it now (what every launcher runs)."""
    return _selection_of(store.list_integrations(conn, tenant_id=tenant_id))


def tenant_sync_selections(conn: Connection, tenant_ids: Iterable[str]) -> dict[str, list[dg.AssetKey]]:
    """:func:`tenant_sync_selection` of many tenants from one read of the active shops (a schedule tick's tenants);
    a tenant without an active shop gets the hub assets only, as it would alone. Keys keep the order of
    ``tenant_ids``."""
    # A dict keyed in the caller's order (not a set's hash order): a tick's run requests come out in the plan's
    # sorted order, the same on every run and machine.
    shops: dict[str, list[store.IntegrationRecord]] = {t: [] for t in tenant_ids}
    for shop in store.list_integrations(conn):
        if shop.tenant_id in shops:
            shops[shop.tenant_id].append(shop)
    return {tenant: _selection_of(found) for tenant, found in shops.items()}
