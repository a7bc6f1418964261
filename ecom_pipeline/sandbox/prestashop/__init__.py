"""Emulated PrestaShop 8.2.1 Webservice (``/<shop>/api/...``), built from the recordings in
``shared/fixtures/recorded/prestashop-8.2.1`` (one language) and ``prestashop-8.2.1-multilang`` (English and
French: shop option ``languages: ["en", "fr"]``, see ``shop.py``).

Two-language findings, from the recordings: every multilingual field (product names and descriptions, category
names, order state names, country and tax names) is a JSON array ``[{"id": "1", "value": ...}, ...]`` in
language-id order, kept in single-resource JSON even when every value is empty; ``language=N`` turns them into
plain strings; ``price[NAME][use_tax|use_reduction|product_attribute]`` adds a computed price field ``NAME``
(tax of the default country, specific prices in force, default combination unless given), rounded to cents;
deleting a product with combinations leaves one new product-level stock row (quantity 0) for the deleted id.

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
