"""Multichannel stock (issue 11): one ledger of movements in the hub, every shop kept in step with it.

- ``settings``: per shop, whether its stock is managed, its buffer and its location mapping;
- ``ledger``: movements (idempotent by their source), on hand, orders and cancels turned into movements, a shop's
  reading reconciled against the quantity we last set there;
- ``refunds``: refund restocks reported in the shops' staged orders, as ``refund_restock`` movements;
- ``links``: which shop item holds each hub variant's stock (``stock_links``), created from the shops' readings;
- ``pools``: variants that share one quantity in a shop (a WooCommerce parent-managed pool), one stock unit;
- ``levels``: committed and available per shop (on hand - committed - buffer, never below zero);
- ``oversells``: on hand below zero recorded with the orders that sold the last units;
- ``views``: the SQL of the views analysts read (``stock_on_hand``, ``stock_available``, ``stock_pool_members``),
  counting a shared pool as one unit as ``pools`` and ``levels`` do;
- ``push``: the whole step (movements, reconcile, push to the shops whose number changed) that the
  ``hub/stock_push`` asset and ``ecom-pipeline stock push`` run; each platform's writer is
  ``platforms/<platform>/stock.py``.
"""
