"""PrestaShop 1.7 / 8.x through its Webservice (``/api/``): client, transform, extract, connect and spec."""
