"""Jobs: the sync job materializes a tenant's extract and hub assets for one tenant partition.

A run does only its tenant's work: every launcher (the schedule, the CLI) selects the extract assets of the
platforms the tenant has an active shop on, plus the hub assets, plus the export asset of each platform on which the
tenant has a shop whose direction pushes (:func:`tenant_sync_selection`). Materializing
``woocommerce/*`` for a PrestaShop-only tenant would record empty materializations under that tenant's partition
and, on the daemon's multiprocess executor, cost one process per useless step.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg
from sqlalchemy.engine import Connection

from ecom_pipeline.assets.export import export_key, export_platforms
from ecom_pipeline.assets.hub import HUB_ENTITIES
from ecom_pipeline.assets.stock import STOCK_KEY
from ecom_pipeline.platforms.registry import platforms
from ecom_pipeline.stock.links import stock_integrations
from ecom_pipeline.sync.export import pushing_integrations
from ecom_pipeline.warehouse import store

SYNC_JOB_NAME = "sync_job"
HUB_GROUP = "hub"

# The daemon's run worker executes a run with one process per step. Forked from a server that has already
# imported dagster and our definitions, a step process starts in a fraction of the time a spawned one needs to
# import them again (the CLI runs in process and is not affected).
SYNC_EXECUTOR = dg.multiprocess_executor.configured(
    {"start_method": {"forkserver": {"preload_modules": ["ecom_pipeline.definitions"]}}}
)

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


def tenant_sync_selection(conn: Connection, tenant_id: str) -> list[dg.AssetKey]:
    """The sync selection of ``tenant_id`` as the warehouse has it now (what every launcher runs)."""
    return sync_asset_selection(
        tenant_platforms(conn, tenant_id),
        tenant_push_platforms(conn, tenant_id),
        bool(stock_integrations(conn, tenant_id)),
    )
