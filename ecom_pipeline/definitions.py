"""Assembles the Dagster definitions from the parts; nothing else lives here."""

from __future__ import annotations

import dagster as dg

from ecom_pipeline.assets import export_assets, extract_assets, hub_assets, stock_push
from ecom_pipeline.assets.ops import OPS_ASSETS, ops_kpis_job, ops_kpis_schedule
from ecom_pipeline.housekeeping import housekeeping_job, housekeeping_schedule
from ecom_pipeline.jobs import sync_job
from ecom_pipeline.resources import CredentialStoreResource, ShopClientSettings, WarehouseResource
from ecom_pipeline.schedules import incremental_sync_batches_schedule, incremental_sync_schedule
from ecom_pipeline.sensors import dead_runs_sensor, tenant_partitions_sensor
from ecom_pipeline.sync_batches import sync_batch_job
from ecom_pipeline.webhooks.dagster import WEBHOOK_DEFINITIONS

defs = dg.Definitions(
    assets=[
        *extract_assets(),
        *hub_assets(),
        *export_assets(),
        stock_push,
        *WEBHOOK_DEFINITIONS["assets"],
        *OPS_ASSETS,
    ],
    jobs=[sync_job, sync_batch_job, housekeeping_job, ops_kpis_job, *WEBHOOK_DEFINITIONS["jobs"]],
    schedules=[incremental_sync_schedule, incremental_sync_batches_schedule, housekeeping_schedule, ops_kpis_schedule],
    sensors=[tenant_partitions_sensor, dead_runs_sensor, *WEBHOOK_DEFINITIONS["sensors"]],
    resources={
        "warehouse": WarehouseResource(),
        "credentials": CredentialStoreResource(),
        "shop_clients": ShopClientSettings(),
    },
)
