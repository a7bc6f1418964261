"""Dagster resources: the warehouse, the credential store and the shop-client settings.

Each resource resolves its defaults at run time (not at import), so the same definitions run on the embedded
default (SQLite under the home folder, a generated key) and in production (``ECOM_WAREHOUSE_URL``,
``ECOM_SECRET_KEY`` from the deployment's secrets) without code changes.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field
from sqlalchemy import Engine

from ecom_pipeline.storage_pool import pool_if_dedicated_run_process
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.engine import default_home, default_warehouse_url, shared_engine


class WarehouseResource(dg.ConfigurableResource):
    """The hub warehouse. ``url`` defaults to ``ECOM_WAREHOUSE_URL``, else the embedded SQLite file."""

    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the warehouse; empty means ECOM_WAREHOUSE_URL or the embedded SQLite file.",
    )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """In a launched run's own process, pool the Dagster storage connections for the rest of the run.

        Every run that touches the hub asks for this resource, so this is the one place that covers the daemon's
        sync, webhook and stock runs alike; a launched no-change sync otherwise opens ~385 PostgreSQL connections
        (storage_pool.py; test_cheap_runs counts them).
        """
        if pool_if_dedicated_run_process(context.instance) and context.log is not None:
            context.log.debug("Dagster storage connections pooled for the rest of this run's process")

    def resolved_url(self) -> str:
        return self.url or default_warehouse_url()

    def engine(self) -> Engine:
        """The process-wide engine for this URL (pooled; safe to call per asset)."""
        return shared_engine(self.resolved_url())


class CredentialStoreResource(dg.ConfigurableResource):
    """Decrypts integration credentials. The key comes from ``ECOM_SECRET_KEY`` or the embedded key file."""

    home: str | None = Field(default=None, description="Folder of the embedded key file; default ECOM_PIPELINE_HOME.")

    def cipher(self) -> CredentialCipher:
        return CredentialCipher.from_env(Path(self.home) if self.home else default_home())


class ShopClientSettings(dg.ConfigurableResource):
    """How we talk to shops: timeouts, retries and a request budget per shop per run."""

    timeout_s: float = Field(default=30.0, description="Read timeout of one HTTP request, in seconds.")
    max_retries: int = Field(default=5, description="Retries on 429, 5xx and network errors before giving up.")
    request_budget: int | None = Field(
        default=None, description="Most API calls one shop may receive in one run; empty means unlimited."
    )
    per_page: int = Field(default=100, description="Page size for list calls (WooCommerce allows 1-100).")
