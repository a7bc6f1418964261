"""Builds one emulated Shopify shop: seeded data, GraphQL Admin API, OAuth, webhooks, cost bucket, faults.

``ShopSpec.options`` keys read here (all optional):

- ``plan``: ``standard`` (100 pts/s, bucket 2,000; default), ``advanced`` (200/4,000), ``plus`` (1,000/20,000),
  ``enterprise`` (2,000/40,000).
- ``scopes``: granted access scopes (list or comma string) of the shop's token and of client-credentials
  tokens; default :data:`~.oauth.DEFAULT_SCOPES` (full read set incl. ``read_all_orders``).
- ``currency``: shop currency (default ``USD``); ``locations``: number of locations (default 3).
- ``max_variants``: variants of a multi-variant product are 2..N (default 12);
  ``big_product_variants``: give the first product this many variants (up to 2,048).
- ``bulk_objects_per_s``: bulk operation speed in objects per clock second (default 2,000);
  ``bulk_fault``: ``FAILED`` | ``TIMEOUT`` | ``EXPIRED`` for the first bulk operation;
  ``bulk_mutation_lines_per_s``: bulk mutation speed in JSONL lines per clock second (default 50, an assumption).
- ``search_index_delay_s``: searches (``products``/``productVariants``/``productsCount`` with ``query:``) see a
  write this many clock seconds after it, as Shopify's search index does (default 0: at once); see ``search.py``.
- ``api_date``: the day (``YYYY-MM-DD``) that decides which API versions are supported and which fall forward
  (default: today, UTC); see ``versions.py``.
"""

from __future__ import annotations

from ecom_pipeline.sandbox.clock import SandboxClock
from ecom_pipeline.sandbox.faults import FaultSwitches
from ecom_pipeline.sandbox.shop import ShopHandle, ShopSpec
from ecom_pipeline.sandbox.shopify.api import DEFAULT_VERSION, ShopifyApi
from ecom_pipeline.sandbox.shopify.graph import lag_search
from ecom_pipeline.sandbox.shopify.oauth import DEFAULT_SCOPES, OAuthServer
from ecom_pipeline.sandbox.shopify.store import ShopifyStore

API_PATH = f"/admin/api/{DEFAULT_VERSION}/graphql.json"


def build_shop(spec: ShopSpec, clock: SandboxClock) -> ShopHandle:
    """Generate the shop's data and wire its API (no network)."""
    opts = spec.options
    scopes = opts.get("scopes", DEFAULT_SCOPES)
    if isinstance(scopes, str):
        scopes = [s.strip() for s in scopes.split(",") if s.strip()]
    store = ShopifyStore(
        spec.name,
        **spec.catalogue(),
        clock=clock,
        currency=opts.get("currency", "USD"),
        locations=int(opts.get("locations", 3)),
        max_variants=int(opts.get("max_variants", 12)),
        big_product_variants=int(opts.get("big_product_variants", 0)),
        timezone=spec.timezone,
    )
    if opts.get("search_index_delay_s"):
        lag_search(store, float(opts["search_index_delay_s"]))
    oauth = OAuthServer(spec.name, spec.seed, tuple(scopes), clock)
    faults = FaultSwitches()
    api = ShopifyApi(
        store,
        oauth,
        faults,
        plan=opts.get("plan", "standard"),
        objects_per_s=float(opts.get("bulk_objects_per_s", 2000.0)),
        bulk_fault=opts.get("bulk_fault"),
        mutation_lines_per_s=(
            float(opts["bulk_mutation_lines_per_s"]) if opts.get("bulk_mutation_lines_per_s") else None
        ),
        api_date=opts.get("api_date"),
    )
    return ShopHandle(
        spec=spec,
        store=store,
        faults=faults,
        api=api,
        credentials=dict(oauth.credentials),
        api_path=API_PATH,
        extra={"oauth": oauth, "bulk": api.bulk, "webhooks": api.webhooks, "bucket": api.bucket},
    )
