"""What each emulated webservice resource looks like: field order, JSON types, references, associations.

Field lists are copied from the recorded PrestaShop 8.2.1 answers (``display=full`` lists), in the order the shop
prints them: the webservice prints fields (and the "available fields" of error 35) in its definition order, not
in the order the client asked for, so clients must never rely on key order, and the emulator must not either.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PRODUCT_FIELDS: tuple[str, ...] = (
    "id", "id_manufacturer", "id_supplier", "id_category_default", "new", "cache_default_attribute",
    "id_default_image", "id_default_combination", "id_tax_rules_group", "position_in_category", "manufacturer_name",
    "quantity", "type", "id_shop_default", "reference", "supplier_reference", "location", "width", "height", "depth",
    "weight", "quantity_discount", "ean13", "isbn", "upc", "mpn", "cache_is_pack", "cache_has_attachments",
    "is_virtual", "state", "additional_delivery_times", "delivery_in_stock", "delivery_out_stock", "product_type",
    "on_sale", "online_only", "ecotax", "minimal_quantity", "low_stock_threshold", "low_stock_alert", "price",
    "wholesale_price", "unity", "unit_price", "unit_price_ratio", "additional_shipping_cost", "customizable",
    "text_fields", "uploadable_files", "active", "redirect_type", "id_type_redirected", "available_for_order",
    "available_date", "show_condition", "condition", "show_price", "indexed", "visibility",
    "advanced_stock_management", "date_add", "date_upd", "pack_stock_type", "meta_description", "meta_keywords",
    "meta_title", "link_rewrite", "name", "description", "description_short", "available_now", "available_later",
)  # fmt: skip

PRODUCT_MULTILANG: tuple[str, ...] = (
    "delivery_in_stock", "delivery_out_stock", "meta_description", "meta_keywords", "meta_title", "link_rewrite",
    "name", "description", "description_short", "available_now", "available_later",
)  # fmt: skip

COMBINATION_FIELDS: tuple[str, ...] = (
    "id", "id_product", "ean13", "isbn", "upc", "mpn", "reference", "supplier_reference", "wholesale_price", "price",
    "ecotax", "weight", "unit_price_impact", "minimal_quantity", "low_stock_threshold", "low_stock_alert",
    "default_on", "available_date", "available_now", "available_later",
)  # fmt: skip

STOCK_FIELDS: tuple[str, ...] = (
    "id", "id_product", "id_product_attribute", "id_shop", "id_shop_group", "quantity", "depends_on_stock",
    "out_of_stock", "location",
)  # fmt: skip

ORDER_FIELDS: tuple[str, ...] = (
    "id", "id_address_delivery", "id_address_invoice", "id_cart", "id_currency", "id_lang", "id_customer",
    "id_carrier", "current_state", "module", "invoice_number", "invoice_date", "delivery_number", "delivery_date",
    "valid", "date_add", "date_upd", "shipping_number", "note", "id_shop_group", "id_shop", "secure_key", "payment",
    "recyclable", "gift", "gift_message", "mobile_theme", "total_discounts", "total_discounts_tax_incl",
    "total_discounts_tax_excl", "total_paid", "total_paid_tax_incl", "total_paid_tax_excl", "total_paid_real",
    "total_products", "total_products_wt", "total_shipping", "total_shipping_tax_incl", "total_shipping_tax_excl",
    "carrier_tax_rate", "total_wrapping", "total_wrapping_tax_incl", "total_wrapping_tax_excl", "round_mode",
    "round_type", "conversion_rate", "reference",
)  # fmt: skip

ORDER_ROW_FIELDS: tuple[str, ...] = (
    "id", "product_id", "product_attribute_id", "product_quantity", "product_name", "product_reference",
    "product_ean13", "product_isbn", "product_upc", "product_price", "id_customization", "unit_price_tax_incl",
    "unit_price_tax_excl",
)  # fmt: skip

CUSTOMER_FIELDS: tuple[str, ...] = (
    "id", "id_default_group", "id_lang", "newsletter_date_add", "ip_registration_newsletter", "last_passwd_gen",
    "secure_key", "deleted", "passwd", "lastname", "firstname", "email", "id_gender", "birthday", "newsletter",
    "optin", "website", "company", "siret", "ape", "outstanding_allow_amount", "show_public_prices", "id_risk",
    "max_payment_days", "active", "note", "is_guest", "id_shop", "id_shop_group", "date_add", "date_upd",
    "reset_password_token", "reset_password_validity",
)  # fmt: skip

ORDER_HISTORY_FIELDS: tuple[str, ...] = ("id", "id_employee", "id_order_state", "id_order", "date_add")

# Not recorded in full (only id, name, paid, shipped, delivery); the rest follows OrderState::$definition.
ORDER_STATE_FIELDS: tuple[str, ...] = (
    "id", "unremovable", "delivery", "hidden", "send_email", "module_name", "invoice", "color", "logable", "shipped",
    "paid", "pdf_delivery", "pdf_invoice", "deleted", "name", "template",
)  # fmt: skip


@dataclass(frozen=True)
class Association:
    """One association node: ``<categories nodeType="category" api="categories">`` and its sub-fields."""

    name: str
    node_type: str
    api: str
    fields: tuple[str, ...] = ("id",)
    # XML references of sub-fields (sub-field -> resource); the node itself links to ``api``/<id>.
    refs: dict[str, str] = field(default_factory=dict)
    # Order rows are "virtual entities" without their own URL.
    virtual: bool = False


@dataclass(frozen=True)
class Resource:
    """A webservice resource as the emulator serves it."""

    plural: str
    singular: str
    fields: tuple[str, ...]
    # Fields printed as JSON numbers (everything else is a string or null).
    numeric: frozenset[str] = frozenset({"id"})
    # Multilingual fields (<language id="1"> in XML, plain strings in this one-language shop's JSON).
    multilang: frozenset[str] = frozenset()
    # Date fields: stored as epoch seconds, printed in shop-local time; ``date_only`` ones as YYYY-MM-DD.
    dates: frozenset[str] = frozenset()
    date_only: frozenset[str] = frozenset()
    # XML xlink:href targets of reference fields (field -> resource path), printed when the value is not 0/empty.
    refs: dict[str, str] = field(default_factory=dict)
    not_filterable: frozenset[str] = frozenset()
    associations: tuple[Association, ...] = ()
    # Fields a client may not write (error 93 when sent).
    read_only: frozenset[str] = frozenset()
    writable: bool = True
    # Fields the shop fills itself: a POST/PUT answer echoes the object PrestaShop built from the request, so
    # fields the client did not send print empty, except these (recorded: products/customers create and PUT).
    server_set: frozenset[str] = frozenset({"id", "date_add", "date_upd"})


PRODUCTS = Resource(
    "products",
    "product",
    PRODUCT_FIELDS,
    numeric=frozenset({"id", "id_default_combination"}),
    multilang=frozenset(PRODUCT_MULTILANG),
    dates=frozenset({"date_add", "date_upd"}),
    date_only=frozenset({"available_date"}),
    refs={
        "id_manufacturer": "manufacturers",
        "id_supplier": "suppliers",
        "id_category_default": "categories",
        "id_default_image": "images/products/{id}",
        "id_default_combination": "combinations",
        "id_tax_rules_group": "tax_rule_groups",
    },
    server_set=frozenset(
        {"id", "date_add", "date_upd", "id_default_combination", "position_in_category", "id_shop_default", "condition"}
    ),
    not_filterable=frozenset(
        {"id_default_image", "id_default_combination", "position_in_category", "manufacturer_name", "quantity", "type"}
    ),
    associations=(
        Association("categories", "category", "categories"),
        Association("images", "image", "images"),
        Association("combinations", "combination", "combinations"),
        Association("product_option_values", "product_option_value", "product_option_values"),
        Association(
            "product_features",
            "product_feature",
            "product_features",
            ("id", "id_feature_value"),
            {"id_feature_value": "product_feature_values"},
        ),
        Association("tags", "tag", "tags"),
        Association("stock_availables", "stock_available", "stock_availables", ("id", "id_product_attribute")),
        Association("attachments", "attachment", "attachments"),
        Association("accessories", "product", "products"),
        Association("product_bundle", "product", "products", ("id", "id_product_attribute", "quantity")),
    ),
    # Sending these in a write gives error 93 (which is why clients strip them before a GET-modify-PUT).
    read_only=frozenset({"manufacturer_name", "quantity"}),
)

COMBINATIONS = Resource(
    "combinations",
    "combination",
    COMBINATION_FIELDS,
    multilang=frozenset({"available_now", "available_later"}),
    date_only=frozenset({"available_date"}),
    refs={"id_product": "products"},
    associations=(
        Association("product_option_values", "product_option_value", "product_option_values"),
        Association("images", "image", "images"),
    ),
)

STOCK_AVAILABLES = Resource(
    "stock_availables",
    "stock_available",
    STOCK_FIELDS,
    refs={"id_product": "products", "id_product_attribute": "combinations", "id_shop": "shops"},
)

ORDERS = Resource(
    "orders",
    "order",
    ORDER_FIELDS,
    dates=frozenset({"date_add", "date_upd", "invoice_date", "delivery_date"}),
    refs={
        "id_address_delivery": "addresses",
        "id_address_invoice": "addresses",
        "id_cart": "carts",
        "id_currency": "currencies",
        "id_lang": "languages",
        "id_customer": "customers",
        "id_carrier": "carriers",
        "current_state": "order_states",
        "id_shop_group": "shop_groups",
        "id_shop": "shops",
    },
    associations=(
        Association(
            "order_rows",
            "order_row",
            "order_rows",
            ORDER_ROW_FIELDS,
            {"product_id": "products", "product_attribute_id": "combinations"},
            virtual=True,
        ),
    ),
)

CUSTOMERS = Resource(
    "customers",
    "customer",
    CUSTOMER_FIELDS,
    dates=frozenset({"newsletter_date_add", "last_passwd_gen", "date_add", "date_upd", "reset_password_validity"}),
    date_only=frozenset({"birthday"}),
    refs={"id_default_group": "groups", "id_lang": "languages"},
    server_set=frozenset(
        {"id", "date_add", "date_upd", "last_passwd_gen", "secure_key", "passwd", "id_shop", "id_shop_group"}
    ),
    associations=(Association("groups", "group", "groups"),),
)

ORDER_HISTORIES = Resource(
    "order_histories",
    "order_history",
    ORDER_HISTORY_FIELDS,
    dates=frozenset({"date_add"}),
    refs={"id_employee": "employees", "id_order_state": "order_states", "id_order": "orders"},
)

ORDER_STATES = Resource(
    "order_states",
    "order_state",
    ORDER_STATE_FIELDS,
    multilang=frozenset({"name", "template"}),
    writable=False,
)

# Only the few shop settings a client needs (PS_TIMEZONE above all: every date is in it).
CONFIGURATIONS = Resource(
    "configurations",
    "configuration",
    ("id", "value", "name", "id_shop_group", "id_shop", "date_add", "date_upd"),
    dates=frozenset({"date_add", "date_upd"}),
    writable=False,
)

# The shop's currencies: orders carry only id_currency, so a client needs this list to know what an order is in.
# Fields as PrestaShop 8 exposes them (not in the recordings, which never listed currencies).
CURRENCIES = Resource(
    "currencies",
    "currency",
    ("id", "names", "name", "symbol", "iso_code", "numeric_iso_code", "precision", "conversion_rate", "deleted",
     "active", "unofficial", "modified", "pattern"),
    multilang=frozenset({"names", "symbol", "pattern"}),
    writable=False,
)  # fmt: skip

# The shops of a multishop install (the recorded key may use ``shops``: its /api/ index). Fields in the order
# PrestaShop 8.2.1 prints them: ``id``, then Shop::$webserviceParameters' fields (id_shop_group, id_category), then
# Shop::$definition's others. Read-only here (the back office makes shops). A one-shop install lists its shop 1.
SHOPS = Resource(
    "shops",
    "shop",
    ("id", "id_shop_group", "id_category", "active", "deleted", "name", "color", "theme_name"),
    refs={"id_shop_group": "shop_groups", "id_category": "categories"},
    writable=False,
)

RESOURCES: dict[str, Resource] = {
    r.plural: r
    for r in (
        PRODUCTS, COMBINATIONS, STOCK_AVAILABLES, ORDERS, CUSTOMERS, ORDER_HISTORIES, ORDER_STATES, CONFIGURATIONS,
        CURRENCIES, SHOPS,
    )
}  # fmt: skip

# Every resource PrestaShop 8.2.1 knows (error 27 lists them all), as recorded.
ALL_RESOURCES: tuple[str, ...] = (
    "addresses", "attachments", "carriers", "cart_rules", "carts", "categories", "combinations", "configurations",
    "contacts", "content_management_system", "countries", "currencies", "customer_messages", "customer_threads",
    "customers", "customizations", "deliveries", "employees", "groups", "guests", "image_types", "images",
    "languages", "manufacturers", "messages", "order_carriers", "order_cart_rules", "order_details",
    "order_histories", "order_invoices", "order_payments", "order_slip", "order_states", "orders", "price_ranges",
    "product_customization_fields", "product_feature_values", "product_features", "product_option_values",
    "product_options", "product_suppliers", "products", "search", "shop_groups", "shop_urls", "shops",
    "specific_price_rules", "specific_prices", "states", "stock_availables", "stock_movement_reasons",
    "stock_movements", "stocks", "stores", "suppliers", "supply_order_details", "supply_order_histories",
    "supply_order_receipt_histories", "supply_order_states", "supply_orders", "tags", "tax_rule_groups", "tax_rules",
    "taxes", "translated_configurations", "warehouse_product_locations", "warehouses", "weight_ranges", "zones",
)  # fmt: skip

# The resources the recorded key may use (its /api/ index), with their descriptions; "images" has no schema links.
KEY_RESOURCES: dict[str, str] = {
    "addresses": "The Customer, Brand and Customer addresses",
    "carts": "Customer's carts",
    "categories": "The product categories",
    "combinations": "The product combinations",
    "configurations": "Shop configuration",
    "countries": "The countries",
    "currencies": "The currencies",
    "customers": "The e-shop's customers",
    "images": "The images",
    "languages": "Shop languages",
    "manufacturers": "The product brands",
    "order_details": "Details of an order",
    "order_histories": "The Order histories",
    "order_states": "The Order statuses",
    "orders": "The Customers orders",
    "product_option_values": "The product options value",
    "product_options": "The product options",
    "products": "The products",
    "shops": "Shops from multi-shop feature",
    "stock_availables": "Available quantities",
    "suppliers": "The product suppliers",
    "tax_rule_groups": "Tax rule groups",
    "taxes": "The tax rate",
}

# Recorded order_states (ids, flags, names) in the order the shop listed them (not sorted by id).
ORDER_STATES_SEED: tuple[tuple[int, str, str, str, str, str], ...] = (
    # id, name, paid, shipped, delivery, color
    (2, "Payment accepted", "1", "0", "0", "#3498D8"),
    (3, "Processing in progress", "1", "0", "1", "#3498D8"),
    (4, "Shipped", "1", "1", "1", "#01B887"),
    (5, "Delivered", "1", "1", "1", "#01B887"),
    (6, "Canceled", "0", "0", "0", "#2C3E50"),
    (7, "Refunded", "0", "0", "0", "#ED2B3C"),
    (8, "Payment error", "0", "0", "0", "#ED2B3C"),
    (9, "On backorder (paid)", "1", "0", "0", "#3498D8"),
    (11, "Remote payment accepted", "1", "0", "0", "#3498D8"),
    (12, "On backorder (not paid)", "0", "0", "0", "#34209E"),
    (13, "Awaiting Cash On Delivery validation", "0", "0", "0", "#34209E"),
    (1, "Awaiting check payment", "0", "0", "0", "#34209E"),
    (10, "Awaiting bank wire payment", "0", "0", "0", "#34209E"),
)


# --- resources the two-language recordings show (prestashop-8.2.1-multilang) ------------------------------------

LANGUAGES = Resource(
    "languages",
    "language",
    ("id", "name", "iso_code", "locale", "language_code", "active", "is_rtl", "date_format_lite", "date_format_full"),
    writable=False,
)

CATEGORIES = Resource(
    "categories",
    "category",
    ("id", "id_parent", "level_depth", "nb_products_recursive", "active", "id_shop_default", "is_root_category",
     "position", "date_add", "date_upd", "name", "link_rewrite", "description", "additional_description",
     "meta_title", "meta_description", "meta_keywords"),
    multilang=frozenset({"name", "link_rewrite", "description", "additional_description", "meta_title",
                         "meta_description", "meta_keywords"}),
    dates=frozenset({"date_add", "date_upd"}),
    refs={"id_parent": "categories", "id_shop_default": "shops"},
    not_filterable=frozenset({"nb_products_recursive"}),
    associations=(Association("categories", "category", "categories"), Association("products", "product", "products")),
    # Written by the push (POST of a missing category, webservice.py ``_new_category``); the shop fills these.
    server_set=frozenset({"id", "date_add", "date_upd", "level_depth", "nb_products_recursive", "position",
                          "id_shop_default", "is_root_category"}),
)  # fmt: skip

ADDRESSES = Resource(
    "addresses",
    "address",
    ("id", "id_customer", "id_manufacturer", "id_supplier", "id_warehouse", "id_country", "id_state", "alias",
     "company", "lastname", "firstname", "vat_number", "address1", "address2", "postcode", "city", "other", "phone",
     "phone_mobile", "dni", "deleted", "date_add", "date_upd"),
    dates=frozenset({"date_add", "date_upd"}),
    refs={"id_customer": "customers", "id_manufacturer": "manufacturers", "id_supplier": "suppliers",
          "id_warehouse": "warehouses", "id_country": "countries", "id_state": "states"},
    writable=False,
)  # fmt: skip

COUNTRIES = Resource(
    "countries",
    "country",
    ("id", "id_zone", "id_currency", "call_prefix", "iso_code", "active", "contains_states",
     "need_identification_number", "need_zip_code", "zip_code_format", "display_tax_label", "name"),
    multilang=frozenset({"name"}),
    refs={"id_zone": "zones", "id_currency": "currencies"},
    writable=False,
)  # fmt: skip

TAX_RULE_GROUPS = Resource(
    "tax_rule_groups",
    "tax_rule_group",
    ("id", "name", "active", "deleted", "date_add", "date_upd"),
    dates=frozenset({"date_add", "date_upd"}),
    writable=False,
)

TAX_RULES = Resource(
    "tax_rules",
    "tax_rule",
    ("id", "id_tax_rules_group", "id_state", "id_country", "zipcode_from", "zipcode_to", "id_tax", "behavior",
     "description"),
    refs={"id_tax_rules_group": "tax_rule_groups", "id_state": "states", "id_country": "countries",
          "id_tax": "taxes"},
    writable=False,
)  # fmt: skip

TAXES = Resource(
    "taxes",
    "tax",
    ("id", "rate", "active", "deleted", "name"),
    multilang=frozenset({"name"}),
    writable=False,
)

SPECIFIC_PRICES = Resource(
    "specific_prices",
    "specific_price",
    ("id", "id_shop_group", "id_shop", "id_cart", "id_product", "id_product_attribute", "id_currency", "id_country",
     "id_group", "id_customer", "id_specific_price_rule", "price", "from_quantity", "reduction", "reduction_tax",
     "reduction_type", "from", "to"),
    refs={"id_product": "products"},
    server_set=frozenset({"id"}),
)  # fmt: skip

ORDER_DETAIL_FIELDS: tuple[str, ...] = (
    "id", "id_order", "product_id", "product_attribute_id", "product_quantity_reinjected", "group_reduction",
    "discount_quantity_applied", "download_hash", "download_deadline", "id_order_invoice", "id_warehouse", "id_shop",
    "id_customization", "product_name", "product_quantity", "product_quantity_in_stock", "product_quantity_return",
    "product_quantity_refunded", "product_price", "reduction_percent", "reduction_amount",
    "reduction_amount_tax_incl", "reduction_amount_tax_excl", "product_quantity_discount", "product_ean13",
    "product_isbn", "product_upc", "product_mpn", "product_reference", "product_supplier_reference",
    "product_weight", "tax_computation_method", "id_tax_rules_group", "ecotax", "ecotax_tax_rate", "download_nb",
    "unit_price_tax_incl", "unit_price_tax_excl", "total_price_tax_incl", "total_price_tax_excl",
    "total_shipping_price_tax_excl", "total_shipping_price_tax_incl", "purchase_supplier_price",
    "original_product_price", "original_wholesale_price", "total_refunded_tax_excl", "total_refunded_tax_incl",
)  # fmt: skip

ORDER_DETAILS = Resource(
    "order_details",
    "order_detail",
    ORDER_DETAIL_FIELDS,
    refs={"id_order": "orders", "product_id": "products", "product_attribute_id": "combinations",
          "id_tax_rules_group": "tax_rule_groups"},
    associations=(Association("taxes", "tax", "taxes"),),
    writable=False,
)  # fmt: skip

# Attribute groups and their values (AttributeGroup and ProductAttribute in PrestaShop 8, webservice names
# product_options / product_option_values). Not in the recordings: fields in the classes' $definition order,
# multilingual names as every multilingual field of the recorded two-language store.
PRODUCT_OPTIONS = Resource(
    "product_options",
    "product_option",
    ("id", "is_color_group", "group_type", "position", "name", "public_name"),
    multilang=frozenset({"name", "public_name"}),
    associations=(Association("product_option_values", "product_option_value", "product_option_values"),),
    server_set=frozenset({"id", "position"}),
)

PRODUCT_OPTION_VALUES = Resource(
    "product_option_values",
    "product_option_value",
    ("id", "id_attribute_group", "color", "position", "name"),
    multilang=frozenset({"name"}),
    refs={"id_attribute_group": "product_options"},
    server_set=frozenset({"id", "position"}),
)

# Product tags (Tag in PrestaShop 8): one row per language, not a multilingual field; ``name`` at most 32 characters
# (``Validate::isGenericName``). Not in the recordings (the recorded key may not use ``tags``; its products show an
# empty ``associations/tags``): fields in ``Tag::$definition`` order.
TAGS = Resource(
    "tags",
    "tag",
    ("id", "id_lang", "name"),
    refs={"id_lang": "languages"},
    server_set=frozenset({"id"}),
)
TAG_NAME_MAX = 32
# What the webservice index says of a resource a key may be granted beyond the recorded ones (shop option
# ``key_resources``): WebserviceRequest::getResources' descriptions.
EXTRA_KEY_RESOURCES: dict[str, str] = {"tags": "The Products tags"}

RESOURCES.update(
    {
        r.plural: r
        for r in (LANGUAGES, CATEGORIES, ADDRESSES, COUNTRIES, TAX_RULE_GROUPS, TAX_RULES, TAXES, SPECIFIC_PRICES,
                  ORDER_DETAILS, PRODUCT_OPTIONS, PRODUCT_OPTION_VALUES, TAGS)
    }
)  # fmt: skip
# The key of the recorded two-language store may also use these (its recordings read and write them).
MULTILANG_KEY_RESOURCES: dict[str, str] = dict(
    sorted({**KEY_RESOURCES, "specific_prices": "Specific price management", "tax_rules": "Tax rules entity"}.items())
)
# Categories of the seeded catalogue (ids as in a PrestaShop demo install): id, parent, depth, English, French.
CATEGORIES_SEED: tuple[tuple[int, int, int, str, str], ...] = (
    (1, 0, 0, "Root", "Racine"),
    (2, 1, 1, "Home", "Accueil"),
    (3, 2, 2, "Clothes", "Vêtements"),
    (6, 2, 2, "Accessories", "Accessoires"),
    (9, 2, 2, "Art", "Art"),
    (4, 3, 3, "Men", "Hommes"),
    (5, 3, 3, "Women", "Femmes"),
    (7, 6, 3, "Stationery", "Papeterie"),
    (8, 6, 3, "Home Accessories", "Accessoires de maison"),
)
# Countries: PrestaShop's install ids, ISO code, call prefix, English name, French name.
COUNTRIES_SEED: tuple[tuple[int, str, str, str, str], ...] = (
    (1, "DE", "49", "Germany", "Allemagne"),
    (3, "BE", "32", "Belgium", "Belgique"),
    (6, "ES", "34", "Spain", "Espagne"),
    (8, "FR", "33", "France", "France"),
    (10, "IT", "39", "Italy", "Italie"),
    (21, "US", "1", "United States", "États-Unis"),
)
# French VAT (rule groups 1-4 as on the recorded store): id, rate, group name.
TAXES_SEED: tuple[tuple[int, str, str], ...] = (
    (1, "20.000", "FR Taux standard (20%)"),
    (2, "10.000", "FR Taux réduit (10%)"),
    (3, "5.500", "FR Taux réduit (5.5%)"),
    (4, "2.100", "FR Taux super réduit (2.1%)"),
)
LANGUAGES_SEED: dict[str, tuple[str, str, str, str, str]] = {
    # iso: name, locale, language_code, date_format_lite, date_format_full
    "en": ("English (English)", "en-US", "en-us", "m/d/Y", "m/d/Y H:i:s"),
    "fr": ("Français (French)", "fr-FR", "fr", "d/m/Y", "d/m/Y H:i:s"),
    "de": ("Deutsch (German)", "de-DE", "de", "d.m.Y", "d.m.Y H:i:s"),
}
