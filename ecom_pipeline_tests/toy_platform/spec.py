"""The toy platform's code and its one registration (``platform_spec``): connect, extract, transform, webhooks.

Everything a real platform keeps in several modules is here in one, small, because it exists to exercise the
registry's seams, not an API.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import requests

from ecom_pipeline.platforms.connect import ConnectResult, ConnectUsageError, default_name
from ecom_pipeline.platforms.registry import PlatformSpec, WebhookSpec
from ecom_pipeline.sync.canonical import CanonicalProduct, CanonicalVariant
from ecom_pipeline.sync.extract import ExtractContext, ExtractReport, stage_page
from ecom_pipeline.warehouse.credentials import reveal
from ecom_pipeline.warehouse.store import IntegrationRecord, StagedRecord
from ecom_pipeline_tests.toy_platform import deliveries

NAME = "toyshop"


def add_connect_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--token", default=None, help="API token (default: $ECOM_TOY_TOKEN).")


def _products(base_url: str, token: str, timeout: float) -> list[dict[str, Any]]:
    response = requests.get(f"{base_url}/api/products", headers={"X-Toy-Token": token}, timeout=timeout)
    response.raise_for_status()
    return list(response.json())


def connect(args: argparse.Namespace) -> ConnectResult:
    token = args.token or os.environ.get("ECOM_TOY_TOKEN")
    if not token:
        raise ConnectUsageError("give --token or ECOM_TOY_TOKEN")
    count = len(_products(args.url, token, args.timeout))
    credentials = {"token": token, "webhook_secret": os.environ.get("ECOM_TOY_WEBHOOK_SECRET", "")}
    return ConnectResult(
        base_url=args.url,
        name=args.name or default_name(args.url),
        credentials=credentials,
        settings={},
        facts={"total_products": count},
    )


def extract(ctx: ExtractContext, entity: str) -> ExtractReport:
    report = ExtractReport(entity=entity)
    rows = _products(ctx.integration.base_url, reveal(ctx.credentials["token"]), ctx.timeout_s)
    report.api_calls = report.pages = 1
    report.rows_fetched = report.staged = len(rows)
    stage_page(ctx, entity=entity, records=[_staged(ctx.integration, row) for row in rows], cursor=None,
               advance_cursor=False)  # fmt: skip
    return report


def _staged(integration: IntegrationRecord, row: Mapping[str, Any]) -> StagedRecord:
    return StagedRecord(
        tenant_id=integration.tenant_id,
        integration_id=integration.id,
        platform=NAME,
        entity="product",
        external_id=str(row["id"]),
        payload=dict(row),
        source_updated_at=datetime.fromisoformat(row["updated_at"]),
    )


def product_to_canonical(payload: dict[str, Any]) -> CanonicalProduct:
    updated = datetime.fromisoformat(payload["updated_at"])
    variant = CanonicalVariant(
        external_id=str(payload["id"]),
        sku=payload["sku"],
        title=payload["title"],
        price=Decimal(payload["price"]),
        updated_at=updated,
    )
    return CanonicalProduct(
        external_id=str(payload["id"]), title=payload["title"], status="active", variants=(variant,), updated_at=updated
    )


def staged_from_delivery(
    *, integration: IntegrationRecord, topic: str, body_text: str, resource_id: str | None, client: Any
) -> list[StagedRecord]:
    return [_staged(integration, json.loads(body_text))] if topic == "product.updated" else []


def platform_spec() -> PlatformSpec:
    return PlatformSpec(
        name=NAME,
        title="Toy Shop",
        extract_entities={"products": "product"},
        transforms={"product": product_to_canonical},
        extract=extract,
        extract_deps={},
        add_connect_arguments=add_connect_arguments,
        connect=connect,
        webhooks=WebhookSpec(
            secret_keys=("webhook_secret",),
            deliveries=deliveries,
            staged_from_delivery=staged_from_delivery,
            client_for=lambda integration, credentials: None,
        ),
        emulator="ecom_pipeline_tests.toy_platform.emulator:build_shop",
    )
