"""Emulated Shopify shop (GraphQL Admin API 2025-10): see ``shop.py`` for options and ``api.py`` for routes."""
