"""WooCommerce: REST client (wc/v3), authentication by scheme, and the payload <-> canonical transform."""

from ecom_pipeline.platforms.woocommerce.client import Page, WooCommerceClient, format_wc_datetime

__all__ = ["Page", "WooCommerceClient", "format_wc_datetime"]
