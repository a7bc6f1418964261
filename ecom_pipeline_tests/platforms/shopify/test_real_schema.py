"""Every document the Shopify client can send, validated against the real Admin API schemas (2026-01, 2026-04)."""

from __future__ import annotations

import pytest
from graphql import parse, validate
from graphql.validation import NoDeprecatedCustomRule

from ecom_pipeline_tests.platforms.shopify.real_schema import REAL_VERSIONS, client_documents, real_schema

DOCUMENTS = client_documents()


def test_the_document_list_covers_queries_mutations_bulk_and_run_time_builders() -> None:
    """Prevents the schema tests from passing because they found nothing to validate."""
    names = set(DOCUMENTS)
    assert {"PRODUCTS_QUERY", "BULK_RUN_MUTATION", "BULK_PRODUCTS", "WEBHOOK_CREATE_MUTATION"} <= names
    assert any(n.startswith("orders_query(customer=False") for n in names)
    assert any(n.startswith("COUNT_QUERIES[") for n in names)


@pytest.mark.parametrize("version", REAL_VERSIONS)
@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_client_document_is_valid_on_the_real_schema(version: str, name: str) -> None:
    """Prevents a query that a real shop refuses (unknown field, wrong argument type) from reaching production."""
    errors = validate(real_schema(version), parse(DOCUMENTS[name]))
    assert not errors, [e.message for e in errors]


@pytest.mark.parametrize("version", REAL_VERSIONS)
@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_client_document_uses_no_deprecated_field_argument_or_enum_value(version: str, name: str) -> None:
    """Prevents the client from depending on what Shopify has announced it will remove (Customer.email,
    ShopPlan.displayName, InventoryItem.variant, currentBulkOperation, ...)."""
    errors = validate(real_schema(version), parse(DOCUMENTS[name]), rules=[NoDeprecatedCustomRule])
    assert not errors, [e.message for e in errors]
