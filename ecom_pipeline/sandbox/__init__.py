"""Faithful local emulators of the shop platforms' APIs, with fault injection.

No real shop is reachable from CI or from a user's laptop, so the pipeline is exercised end to end against
these emulators. They are built from real recorded traffic (``shared/fixtures/recorded/``); where an emulator
and a recording disagree, the recording is right.

Public API (``ecom_pipeline.sandbox.server``)::

    spec = ShopSpec(name="demo-a", seed=1, products=50, variable_share=0.3, orders=120, customers=40,
                    timezone="Europe/Paris")
    with SandboxServer(shops=[spec], host="127.0.0.1", http_port=0, https_port=0, cert_dir=tmp) as sb:
        shop = sb.shop("demo-a")
        shop.http_url, shop.https_url            # site URLs; the API is under + "/wp-json/wc/v3"
        shop.consumer_key, shop.consumer_secret  # deterministic from name + seed
        sb.ca_bundle                             # CA PEM that verifies the HTTPS listener
        shop.store                               # WooStore: read/mutate data (update_product, add_order, ...)
        shop.faults                              # FaultSwitches
        shop.stats                               # RequestStats

    serve_forever(shops, host, http_port, https_port, cert_dir, credentials_file)  # blocking, for the CLI

Admin endpoints (no auth), on both listeners:

- ``POST /__sandbox/<shop>/faults`` with a partial JSON of :class:`~ecom_pipeline.sandbox.faults.FaultSwitches`
  (``{"rate_limit_burst": 3, "retry_after_s": 2}``, ``{"server_errors": 3}``, ``{"slow_ms": 500}``,
  ``{"cut_after_bytes": 200, "cut_responses": 1}``, ``{"malformed_product_ids": [12]}``,
  ``{"hold_after_writes": 2}`` (the 2nd write from now is applied and its answer held: a kill -9 test's window;
  ``{"reset": true}`` lets it go), ``{"reset": true}``); ``GET`` returns the current switches.
- ``GET /__sandbox/<shop>/stats`` (``DELETE`` resets): request counts by "METHOD path" and status.
- ``POST /__sandbox/<shop>/touch`` ``{"count": N}`` or ``{"ids": [...]}``: bump products' ``date_modified``.
- ``POST /__sandbox/<shop>/stock`` ``{"id": product_or_variation_id, "quantity": N}``.
- ``POST /__sandbox/<shop>/orders`` with a wc/v3 order body (``set_paid`` reduces stock).
- ``GET|POST /__sandbox/<shop>/clock`` ``{"advance_s": 60}``, ``{"set": iso}``, ``{"freeze": true}``,
  ``{"unfreeze": true}``, ``{"time_scale": 10}`` (one clock for all shops of a server).
"""
