"""Shopify: GraphQL Admin API client (cost governor, bulk operations), auth (token, OAuth, client credentials),
and the payload <-> canonical transform (GraphQL nodes and REST/webhook bodies)."""

from ecom_pipeline.platforms.shopify.client import DEFAULT_API_VERSION, ShopifyClient

__all__ = ["DEFAULT_API_VERSION", "ShopifyClient"]
