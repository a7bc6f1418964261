"""Emulated PrestaShop 8.2.1 Webservice (``/<shop>/api/...``), built from the recordings in
``shared/fixtures/recorded/prestashop-8.2.1``.

Stock finding (for the pollers), from the recordings: ``stock_availables`` have no date field, and a stock change
(PUT of a stock_available, product-level or combination row) changes NOTHING else that carries a date: the
product's ``date_upd`` stays put (``products-date-upd-after-stock-put.json``; a ``filter[date_upd]`` window that
covers a combination's stock change does not return the product, ``products-filter-date-upd-range.json``), and the
product's own ``quantity`` field keeps reading "0" (it is not the live stock). There is no webhook either. So stock
cannot be polled incrementally: a poller must re-read ``stock_availables`` (``display=[id,id_product,
id_product_attribute,quantity]``, paged with ``limit``) and diff quantities. The emulator does exactly that: stock
writes touch only stock rows; for a combination row, the product-level row (``id_product_attribute`` 0) is
recomputed as the sum of the combinations (PrestaShop's ``StockAvailable`` synchronisation, not itself recorded).
Orders placed through the store API decrement stock the same silent way.

Modules: ``resources`` (field lists and shapes), ``store`` (tables, seeding, mutations, test API), ``render``
(JSON/XML), ``api`` (the webservice), ``schemas`` (recorded ``?schema=`` documents), ``shop`` (``build_shop``).
"""
