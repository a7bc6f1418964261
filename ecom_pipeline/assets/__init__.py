"""The Dagster assets: per-platform extract assets and the platform-neutral hub assets."""

from ecom_pipeline.assets.extract import extract_assets
from ecom_pipeline.assets.hub import hub_assets

__all__ = ["extract_assets", "hub_assets"]
