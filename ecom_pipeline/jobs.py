"""Jobs: the sync job materializes every extract and hub asset for one tenant partition."""

from __future__ import annotations

import dagster as dg

from ecom_pipeline.platforms.registry import platforms

SYNC_JOB_NAME = "sync_job"

sync_job = dg.define_asset_job(
    SYNC_JOB_NAME,
    selection=dg.AssetSelection.groups(*platforms(), "hub"),
    description="Pull every connected shop of one tenant into staging, then resolve it into the hub tables.",
    tags={"ecom/kind": "sync"},
)
