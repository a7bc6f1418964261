"""How Shopify shop addresses are written at connect: a bare ``acme.myshopify.com`` means https://."""

from __future__ import annotations

# Shopify addresses are host names (the README's `--url acme.myshopify.com`); the Admin API is HTTPS only.
BARE_HOST_SCHEME = "https"
