"""The rows of an emulated PrestaShop 8.2.1 shop: their shape, defaults and value formats, and the error type.

Rows are plain dicts of PHP-like values (strings, ``None``; dates as epoch seconds, or verbatim local strings when a
client wrote them), keyed like the webservice fields, because the webservice is a thin view of MySQL rows: keeping
that shape lets display/filter/sort work generically, exactly as PrestaShop does on any field.
"""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal
from typing import Any

from ecom_pipeline.sandbox.prestashop.resources import COMBINATION_FIELDS, CUSTOMER_FIELDS, ORDER_FIELDS, PRODUCT_FIELDS

Row = dict[str, Any]
DECIMAL_FIELD = re.compile(
    r"^(price|wholesale_price|weight|width|height|depth|ecotax|unit_price|unit_price_ratio|additional_shipping_cost"
    r"|unit_price_impact|outstanding_allow_amount|total_\w+)$"
)
ZERO_DATETIME = "0000-00-00 00:00:00"
ZERO_DATE = "0000-00-00"

PRODUCT_TEMPLATE: Row = {f: "" for f in PRODUCT_FIELDS}
PRODUCT_TEMPLATE.update(
    {
        "id_manufacturer": "1", "id_supplier": "1", "id_category_default": "2", "new": None,
        "cache_default_attribute": "0", "id_default_image": "", "id_default_combination": 0,
        "id_tax_rules_group": "1", "position_in_category": "0", "manufacturer_name": "Studio Design",
        "quantity": "0", "type": "simple", "id_shop_default": "1", "width": "0.000000", "height": "0.000000",
        "depth": "0.000000", "weight": "0.300000", "quantity_discount": "0", "cache_is_pack": "0",
        "cache_has_attachments": "0", "is_virtual": "0", "state": "1", "additional_delivery_times": "1",
        "product_type": "standard", "on_sale": "0", "online_only": "0", "ecotax": "0.000000",
        "minimal_quantity": "1", "low_stock_threshold": "0", "low_stock_alert": "0", "unit_price": "0.000000",
        "unit_price_ratio": "0.000000", "additional_shipping_cost": "0.000000", "customizable": "0",
        "text_fields": "0", "uploadable_files": "0", "active": "1", "redirect_type": "301-category",
        "id_type_redirected": "0", "available_for_order": "1", "available_date": ZERO_DATE, "show_condition": "0",
        "condition": "new", "show_price": "1", "indexed": "1", "visibility": "both",
        "advanced_stock_management": "0", "pack_stock_type": "3",
    }
)  # fmt: skip

COMBINATION_TEMPLATE: Row = {f: "" for f in COMBINATION_FIELDS}
COMBINATION_TEMPLATE.update(
    {
        "wholesale_price": "0.000000", "price": "0.000000", "ecotax": "0.000000", "weight": "0.000000",
        "unit_price_impact": "0.000000", "minimal_quantity": "1", "low_stock_threshold": "0",
        "low_stock_alert": "0", "available_date": ZERO_DATE,
    }
)  # fmt: skip

ORDER_TEMPLATE: Row = {f: "0" for f in ORDER_FIELDS}
ORDER_TEMPLATE.update(
    {
        "id_currency": "1", "id_lang": "1", "id_carrier": "2", "module": "ps_checkpayment",
        "invoice_date": None, "delivery_date": None, "shipping_number": "", "note": "", "id_shop_group": "1",
        "id_shop": "1", "payment": "Payment by check", "gift_message": "", "carrier_tax_rate": "0.000",
        "round_mode": "2", "round_type": "2", "conversion_rate": "1.000000",
    }
)  # fmt: skip

CUSTOMER_TEMPLATE: Row = {f: "0" for f in CUSTOMER_FIELDS}
CUSTOMER_TEMPLATE.update(
    {
        "id_default_group": "3", "id_lang": "1", "newsletter_date_add": None, "ip_registration_newsletter": "",
        "birthday": ZERO_DATE, "website": "", "company": "", "siret": "", "ape": "",
        "outstanding_allow_amount": "0.000000", "active": "1", "note": "", "id_shop": "1", "id_shop_group": "1",
        "reset_password_token": "", "reset_password_validity": None,
    }
)  # fmt: skip


class StoreError(Exception):
    """A webservice error: HTTP status plus PrestaShop's numbered error(s)."""

    def __init__(self, status: int, code: int | None = None, message: str = "", extra: list[Any] | None = None):
        super().__init__(message)
        self.status = status
        self.errors: list[tuple[int, str]] = [] if code is None else [(code, message)]
        self.errors += extra or []


def money(value: Decimal | float | int | str) -> str:
    """PrestaShop's decimal(20,6) as printed: ``"23.900000"``."""
    return f"{Decimal(str(value)).quantize(Decimal('0.000001'))}"


def fake_bcrypt(password: str, salt: str) -> str:
    """A bcrypt-shaped hash (``$2y$10$`` + 53 chars): the real algorithm is not needed, only its shape."""
    alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    digest = hashlib.sha256(f"{salt}:{password}".encode()).digest() * 2
    return "$2y$10$" + "".join(alphabet[b % 64] for b in digest[:53])


def to_int(value: Any) -> int:
    try:
        return int(str(value).strip() or 0)
    except ValueError:
        return 0
