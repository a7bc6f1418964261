"""A stored shop's record (``IntegrationRecord``) without a warehouse, for tests that build clients from it."""

from __future__ import annotations

from datetime import UTC, datetime

from ecom_pipeline.warehouse.store import IntegrationRecord


def integration_record(settings: dict[str, object], platform: str = "woocommerce") -> IntegrationRecord:
    return IntegrationRecord(
        id=1,
        tenant_id="acme",
        platform=platform,
        name="shop",
        base_url="https://shop.example",
        settings=settings,
        status="active",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        last_sync_at=None,
        last_success_at=None,
        last_error=None,
        last_error_at=None,
    )
