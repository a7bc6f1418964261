"""Jobs: the sync job materializes a tenant's extract and hub assets for one tenant partition.

A run does only its tenant's work: every launcher (the schedule, the CLI) selects the extract assets of the
platforms the tenant has an active shop on, plus the hub assets (:func:`sync_asset_selection`). Materializing
``woocommerce/*`` for a PrestaShop-only tenant would record empty materializations under that tenant's partition
and, on the daemon's multiprocess executor, cost one process per useless step.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg
from sqlalchemy.engine import Connection

from ecom_pipeline.assets.hub import HUB_ENTITIES
from ecom_pipeline.platforms.registry import platforms
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


def sync_asset_selection(platform_names: Iterable[str]) -> list[dg.AssetKey]:
    """The assets of one tenant's sync: the extract assets of its platforms, then every hub asset.

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
    return keys + [dg.AssetKey([HUB_GROUP, name]) for name in HUB_ENTITIES]
