"""The tenants partitions: one partition per merchant, kept in step with ``integrations`` by a sensor."""

from __future__ import annotations

import dagster as dg

TENANTS_PARTITION_NAME = "tenants"

tenants_partitions = dg.DynamicPartitionsDefinition(name=TENANTS_PARTITION_NAME)
