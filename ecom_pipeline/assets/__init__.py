"""The Dagster assets: per-platform extract and export assets and the platform-neutral hub assets."""

from ecom_pipeline.assets.export import export_assets
from ecom_pipeline.assets.extract import extract_assets
from ecom_pipeline.assets.hub import hub_assets
from ecom_pipeline.assets.stock import stock_push

__all__ = ["export_assets", "extract_assets", "hub_assets", "stock_push"]
