"""Assembles the Dagster definitions from the parts; nothing else lives here."""

from __future__ import annotations

import dagster as dg

from ecom_pipeline.assets import extract_assets, hub_assets
from ecom_pipeline.jobs import sync_job
from ecom_pipeline.resources import CredentialStoreResource, ShopClientSettings, WarehouseResource
from ecom_pipeline.schedules import incremental_sync_schedule
from ecom_pipeline.sensors import tenant_partitions_sensor

defs = dg.Definitions(
    assets=[*extract_assets(), *hub_assets()],
    jobs=[sync_job],
    schedules=[incremental_sync_schedule],
    sensors=[tenant_partitions_sensor],
    resources={
        "warehouse": WarehouseResource(),
        "credentials": CredentialStoreResource(),
        "shop_clients": ShopClientSettings(),
    },
)
