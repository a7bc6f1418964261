"""The real Shopify Admin API schemas (introspected from real shops, ``platform-samples/shopify/admin-schema``) and
every GraphQL document the connector can send, for the schema tests."""

from __future__ import annotations

import gzip
import inspect
import itertools
from functools import cache

from graphql import GraphQLSchema, build_schema

from ecom_pipeline.platforms.shopify import queries as q
from ecom_pipeline_tests.paths import fixtures_dir

SCHEMA_DIR = fixtures_dir() / "platform-samples" / "shopify" / "admin-schema"
REAL_VERSIONS = ("2026-01", "2026-04")


@cache
def real_schema(version: str) -> GraphQLSchema:
    path = SCHEMA_DIR / f"admin-{version}.schema.graphql.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return build_schema(handle.read())


def client_documents() -> dict[str, str]:
    """Every document the client can send: the constants of ``queries`` and every output of its builders (all
    combinations of their boolean options, as chosen at run time from the granted scopes)."""
    found: dict[str, str] = {}
    for name, value in vars(q).items():
        if name.startswith("_"):
            continue
        if isinstance(value, str) and value.lstrip().startswith(("query", "mutation", "{")):
            found[name] = value
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, str) and item.lstrip().startswith(("query", "mutation", "{")):
                    found[f"{name}[{key}]"] = item
        elif inspect.isfunction(value) and value.__module__ == q.__name__:
            params = inspect.signature(value).parameters
            flags = [p for p in params.values() if p.kind is p.KEYWORD_ONLY and isinstance(p.default, bool)]
            if len(flags) != len(params):
                continue  # not a document builder
            for combo in itertools.product((True, False), repeat=len(flags)):
                kwargs = {p.name: v for p, v in zip(flags, combo, strict=True)}
                text = value(**kwargs)
                if isinstance(text, str) and text.lstrip().startswith(("query", "mutation", "{")):
                    found[f"{name}({', '.join(f'{k}={v}' for k, v in kwargs.items())})"] = text
    return found
