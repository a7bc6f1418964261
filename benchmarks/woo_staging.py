"""Stage an emulated WooCommerce shop into a warehouse with the real extract, nothing applied (the A/B benchmarks'
common start: ``apply_ab stage``, ``pg_write_ab``)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from benchmarks.run import Shop

if TYPE_CHECKING:
    from sqlalchemy import Engine

ENTITIES = ("product", "inventory", "customer", "order")


def stage_woocommerce_shop(url: str, shop: Shop, key: str) -> Engine:
    """Connect ``shop`` to the warehouse at ``url`` as tenant ``ab`` and extract every entity of ``ENTITIES`` into
    its staging; returns an engine on the warehouse. ``ECOM_SECRET_KEY`` must be ``key`` already (the CLI reads it).
    """
    from ecom_pipeline.cli import main as cli_main
    from ecom_pipeline.platforms.registry import platforms
    from ecom_pipeline.sync.extract_run import ExtractOptions, extract_for_tenant
    from ecom_pipeline.warehouse.credentials import CredentialCipher
    from ecom_pipeline.warehouse.engine import make_engine

    argv = ["--warehouse-url", url, "connect", "woocommerce", "--tenant", "ab", "--url", shop.url]
    argv += ["--consumer-key", shop.consumer_key, "--consumer-secret", shop.consumer_secret, "--name", "ab"]
    if cli_main(argv) != 0:
        raise SystemExit("connect failed")
    engine = make_engine(url)
    options = ExtractOptions(full_refresh=False, lookback=timedelta(seconds=300), client={})
    for entity in ENTITIES:
        done = extract_for_tenant(
            engine,
            CredentialCipher(key),
            platforms()["woocommerce"],
            tenant="ab",
            entity=entity,
            run_id="extract",
            options=options,
            log=logging.getLogger("ab"),
            label=entity,
        )
        if done.errors:
            raise SystemExit(f"extract failed: {done.errors}")
    return engine
