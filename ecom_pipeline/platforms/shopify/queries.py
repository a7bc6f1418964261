"""The GraphQL documents the connector sends, in one place so their cost can be read at a glance.

Cost model (Shopify's calculated query cost): an object costs 1, a connection 2 + ``first`` x the cost of a node,
scalars and enums 0; a single query may request at most 1,000 points. Page sizes are therefore chosen per query so
the *requested* cost stays under the limit (defaults below), while the bucket is charged the *actual* cost, which
for typical catalogues (5 variants per product) is a quarter of it:

- products page: 2 + P x (1 product + 1 options + 2 + V x 5 (variant, selectedOptions, inventoryItem and its
  measurement and weight: Shopify keeps a variant's weight there) + 2 + C x 2 (collection and its ruleSet, which
  tells a custom collection from a smart one)); P=7, V=20, C=10: 884 requested (9 a page before collections);
- collections follow-up page of one product (only when it is in more than C collections): 2 + 100 x 2 = 202;
- variants follow-up page of one product (only when a product has more than V variants): 2 + 100 x 5 = 502;
- orders page: 2 + O x (1 + 1 customer + 6 money bags x 3 + 2 + L x (1 + 1 variant + 3 unit price + the
  line's discount allocations, each 1 + 3 money)); O=10, L=5, one allocation a line: about 670 requested; line
  taxes are not read (totalTaxSet has them); orders with more lines get a follow-up lines query;
- inventory page of one location: 2 + 100 x (1 + 1 quantities + 1 item + 1 variant) = 402.

Bulk operations cost nothing per record (one small mutation and cheap polls), which is why full syncs of large
shops use them. Bulk documents use ``edges { node }`` as the bulk API requires.
"""

from __future__ import annotations

MONEY_BAG = "shopMoney { amount currencyCode } presentmentMoney { amount currencyCode }"

VARIANT_FIELDS = """id legacyResourceId sku barcode title price compareAtPrice position inventoryQuantity createdAt
updatedAt
selectedOptions { name value }
inventoryItem { id legacyResourceId tracked measurement { weight { unit value } } }"""

PRODUCT_FIELDS = """id legacyResourceId title handle status productType vendor descriptionHtml tags createdAt updatedAt
options { name position values }"""

PAGE_INFO = "pageInfo { hasNextPage endCursor }"

# A product's collections become its hub categories (transform.py) when the integration opts in
# (``shopify_collections``): custom (manual) ones only, told apart from smart (rule-based) ones by ``ruleSet`` (null
# for a custom collection). Read by every product query (pages, bulk, the webhook re-read), never by the writer's
# mutation answers (the writer knows what it put the product in). Off (the default), the page and re-read queries
# ask ``collectionsFirst: 0`` and the extract drops the empty connection, so the staged payload is as before.
COLLECTION_FIELDS = "id title ruleSet { appliedDisjunctively }"
PRODUCT_COLLECTIONS = f"collections(first: $collectionsFirst) {{ {PAGE_INFO} nodes {{ {COLLECTION_FIELDS} }} }}"
COLLECTIONS_FIRST = 10  # collections per product in the page (more: a follow-up query, PRODUCT_COLLECTIONS_QUERY)

PRODUCTS_QUERY = f"""query Products($first: Int!, $after: String, $query: String, $variantsFirst: Int!,
    $collectionsFirst: Int!) {{
  products(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    {PAGE_INFO}
    nodes {{ {PRODUCT_FIELDS}
      variants(first: $variantsFirst) {{ {PAGE_INFO} nodes {{ {VARIANT_FIELDS} }} }}
      {PRODUCT_COLLECTIONS}
    }}
  }}
}}"""

PRODUCT_COLLECTIONS_QUERY = f"""query ProductCollections($id: ID!, $first: Int!, $after: String) {{
  product(id: $id) {{
    collections(first: $first, after: $after) {{ {PAGE_INFO} nodes {{ {COLLECTION_FIELDS} }} }}
  }}
}}"""

PRODUCT_VARIANTS_QUERY = f"""query ProductVariants($id: ID!, $first: Int!, $after: String) {{
  product(id: $id) {{
    variants(first: $first, after: $after) {{ {PAGE_INFO} nodes {{ {VARIANT_FIELDS} }} }}
  }}
}}"""


def line_item_fields(*, variant: bool = True) -> str:
    """Line fields; ``variant`` needs ``read_products`` (ProductVariant requires it wherever it appears).

    A line's total is its original price minus every ``discountAllocations`` amount, as the REST/webhook body's
    ``discount_allocations`` give it: ``discountedTotalSet`` leaves out order-level discounts (and code ones unless
    ``withCodeDiscounts``), so a poll and a webhook of the same order would disagree."""
    link = "\nvariant { id legacyResourceId }" if variant else ""
    return f"""id sku name quantity{link}
originalUnitPriceSet {{ {MONEY_BAG} }}
discountAllocations {{ allocatedAmountSet {{ {MONEY_BAG} }} }}"""


def order_fields(*, customer: bool = True) -> str:
    """Order fields; ``customer`` needs ``read_customers`` (Customer requires it wherever it appears)."""
    link = "\ncustomer { id legacyResourceId }" if customer else ""
    return f"""id legacyResourceId name createdAt updatedAt processedAt cancelledAt closedAt
displayFinancialStatus displayFulfillmentStatus currencyCode presentmentCurrencyCode email{link}
subtotalPriceSet {{ {MONEY_BAG} }}
totalDiscountsSet {{ {MONEY_BAG} }}
totalShippingPriceSet {{ {MONEY_BAG} }}
totalTaxSet {{ {MONEY_BAG} }}
totalPriceSet {{ {MONEY_BAG} }}
totalRefundedSet {{ {MONEY_BAG} }}"""


def orders_query(*, customer: bool = True, variant: bool = True) -> str:
    return f"""query Orders($first: Int!, $after: String, $query: String, $linesFirst: Int!) {{
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    {PAGE_INFO}
    nodes {{ {order_fields(customer=customer)}
      lineItems(first: $linesFirst) {{ {PAGE_INFO} nodes {{ {line_item_fields(variant=variant)} }} }}
    }}
  }}
}}"""


def order_lines_query(*, variant: bool = True) -> str:
    return f"""query OrderLines($id: ID!, $first: Int!, $after: String) {{
  order(id: $id) {{
    lineItems(first: $first, after: $after) {{ {PAGE_INFO} nodes {{ {line_item_fields(variant=variant)} }} }}
  }}
}}"""


def order_by_id_query(*, customer: bool = True, variant: bool = True) -> str:
    return f"""query OrderById($id: ID!, $linesFirst: Int!) {{
  order(id: $id) {{ {order_fields(customer=customer)}
    lineItems(first: $linesFirst) {{ {PAGE_INFO} nodes {{ {line_item_fields(variant=variant)} }} }}
  }}
}}"""


# The refunds of one order, asked only for orders whose ``totalRefundedSet`` is above zero (few orders have any):
# ``refunds`` is a list of up to ``$first``, each with its lines' restock type, which ``stock/refunds.py`` turns into
# ``refund_restock`` movements. Asking it on every order page would multiply every page's cost for the rare order
# that has one.
ORDER_REFUNDS_QUERY = """query OrderRefunds($id: ID!, $first: Int!, $linesFirst: Int!) {
  order(id: $id) {
    refunds(first: $first) {
      createdAt
      refundLineItems(first: $linesFirst) { nodes { quantity restockType lineItem { id } } }
    }
  }
}"""
REFUNDS_FIRST = 10
REFUND_LINES_FIRST = 25


def bulk_orders(*, customer: bool = True, variant: bool = True) -> str:
    return f"""{{
  orders {{ edges {{ node {{ {order_fields(customer=customer)}
    lineItems {{ edges {{ node {{ {line_item_fields(variant=variant)} }} }} }}
  }} }} }}
}}"""


# Nested links of an order and the scope each needs: without it Shopify answers ACCESS_DENIED for the whole page
# (and the client refuses partial data), so the order documents leave the link out and the run says what is lost.
ORDER_LINK_SCOPES = {"customer": "read_customers", "variant": "read_products"}
ORDER_LINK_LOSS = {
    "customer": "orders are synced without their customer (hub_orders.customer_external_id stays empty)",
    "variant": "order lines are synced without their variant (lines match the hub by SKU only)",
}


def order_options(scopes: list[str] | set[str] | tuple[str, ...] | None) -> dict[str, bool]:
    """Which nested order links the granted ``scopes`` allow (None: unknown, ask for everything)."""
    if scopes is None:
        return dict.fromkeys(ORDER_LINK_SCOPES, True)
    granted = set(scopes) | {s.replace("write_", "read_", 1) for s in scopes if s.startswith("write_")}
    return {link: scope in granted for link, scope in ORDER_LINK_SCOPES.items()}


LINE_ITEM_FIELDS = line_item_fields()
ORDER_FIELDS = order_fields()
ORDERS_QUERY = orders_query()
ORDER_LINES_QUERY = order_lines_query()

CUSTOMER_FIELDS = """id legacyResourceId firstName lastName createdAt updatedAt
defaultEmailAddress { emailAddress }
defaultPhoneNumber { phoneNumber }
defaultAddress { company city countryCodeV2 }"""

CUSTOMERS_QUERY = f"""query Customers($first: Int!, $after: String, $query: String) {{
  customers(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    {PAGE_INFO}
    nodes {{ {CUSTOMER_FIELDS} }}
  }}
}}"""

LOCATIONS_QUERY = f"""query Locations($first: Int!, $after: String) {{
  locations(first: $first, after: $after) {{ {PAGE_INFO} nodes {{ id legacyResourceId name isActive }} }}
}}"""

LEVEL_FIELDS = """id updatedAt
quantities(names: ["available"]) { name quantity }
item { id legacyResourceId sku tracked variants(first: 1) { nodes { id legacyResourceId } } }"""

LOCATION_LEVELS_QUERY = f"""query LocationLevels($id: ID!, $first: Int!, $after: String, $query: String) {{
  location(id: $id) {{
    inventoryLevels(first: $first, after: $after, query: $query) {{ {PAGE_INFO} nodes {{ {LEVEL_FIELDS} }} }}
  }}
}}"""

SHOP_QUERY = """query ShopAndScopes {
  shop { name currencyCode plan { publicDisplayName } }
  appInstallation { accessScopes { handle } }
}"""

COUNT_QUERIES = {
    # limit: null: the default limit (10,000) would cap the count, and a bulk_threshold at or above it never trigger.
    "product": "query ProductsCount { productsCount(limit: null) { count precision } }",
    "order": "query OrdersCount { ordersCount(limit: null) { count precision } }",
    "customer": "query CustomersCount { customersCount(limit: null) { count precision } }",
}

# groupObjects: true, always: from 2026-01 it defaults to false (children no longer follow their parent in the
# JSONL). The assembler does not rely on the order anyway; grouping keeps the file in the order people expect.
BULK_RUN_MUTATION = """mutation RunBulkQuery($query: String!) {
  bulkOperationRunQuery(query: $query, groupObjects: true) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}"""

# Versions before 2025-10 (all retired) have no groupObjects argument and always group.
BULK_RUN_MUTATION_WITHOUT_GROUPING_ARGUMENT = """mutation RunBulkQuery($query: String!) {
  bulkOperationRunQuery(query: $query) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}"""

# bulkOperation(id:) (2026-01+): several operations of this app may run at once, so we poll ours by id rather
# than ``currentBulkOperation`` (deprecated), which names only the newest one.
BULK_OPERATION_QUERY = """query BulkOperation($id: ID!) {
  bulkOperation(id: $id) { id status errorCode objectCount url partialDataUrl }
}"""

BULK_CANCEL_MUTATION = """mutation CancelBulk($id: ID!) {
  bulkOperationCancel(id: $id) { bulkOperation { id status } userErrors { field message } }
}"""

# -- bulk documents (no page sizes: the bulk runner walks every connection) ------------------------------------------

BULK_PRODUCTS = f"""{{
  products {{ edges {{ node {{ {PRODUCT_FIELDS}
    variants {{ edges {{ node {{ {VARIANT_FIELDS} }} }} }}
  }} }} }}
}}"""
# The same with each product's collections (Collection child lines): integrations with ``shopify_collections`` on.
BULK_PRODUCTS_WITH_COLLECTIONS = f"""{{
  products {{ edges {{ node {{ {PRODUCT_FIELDS}
    variants {{ edges {{ node {{ {VARIANT_FIELDS} }} }} }}
    collections {{ edges {{ node {{ {COLLECTION_FIELDS} }} }} }}
  }} }} }}
}}"""

BULK_ORDERS = bulk_orders()

BULK_CUSTOMERS = f"""{{
  customers {{ edges {{ node {{ {CUSTOMER_FIELDS} }} }} }}
}}"""

BULK_DOCUMENTS = {"product": BULK_PRODUCTS, "order": BULK_ORDERS, "customer": BULK_CUSTOMERS}

# gid type of a JSONL child line -> the connection field it belongs to on its parent.
BULK_CHILD_CONNECTIONS = {
    "ProductVariant": "variants",
    "Collection": "collections",
    "LineItem": "lineItems",
    "InventoryLevel": "inventoryLevels",
}

SCOPES_REQUIRED = {
    "product": ("read_products",),
    # levels name their variant through InventoryItem.variants: ProductVariant requires read_products.
    "inventory": ("read_inventory", "read_locations", "read_products"),
    "order": ("read_orders",),
    "customer": ("read_customers",),
}
ALL_ORDERS_SCOPE = "read_all_orders"

# -- single records (webhook re-reads) and webhook subscriptions ----------------------------------------------------

PRODUCT_BY_ID_QUERY = f"""query ProductById($id: ID!, $variantsFirst: Int!, $collectionsFirst: Int!) {{
  product(id: $id) {{ {PRODUCT_FIELDS}
    variants(first: $variantsFirst) {{ {PAGE_INFO} nodes {{ {VARIANT_FIELDS} }} }}
    {PRODUCT_COLLECTIONS}
  }}
}}"""

ORDER_BY_ID_QUERY = order_by_id_query()

CUSTOMER_BY_ID_QUERY = f"""query CustomerById($id: ID!) {{
  customer(id: $id) {{ {CUSTOMER_FIELDS} }}
}}"""

# Which variant an inventory item belongs to (inventory_levels/update names the item only). InventoryItem.variant
# is deprecated from 2026-01: ``variants`` (the first one is the item's variant).
INVENTORY_ITEM_QUERY = """query InventoryItemVariant($id: ID!) {
  inventoryItem(id: $id) { id legacyResourceId sku tracked variants(first: 1) { nodes { id legacyResourceId } } }
}"""

WEBHOOK_SUBSCRIPTIONS_QUERY = f"""query WebhookSubscriptions($first: Int!, $after: String) {{
  webhookSubscriptions(first: $first, after: $after) {{ {PAGE_INFO} nodes {{ id topic uri format }} }}
}}"""

WEBHOOK_CREATE_MUTATION = """mutation WebhookSubscriptionCreate($topic: WebhookSubscriptionTopic!,
    $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}"""

# -- writes (the export writer, platforms/shopify/writer.py) ----------------------------------------------------------
# Each mutation field costs 10 points whatever its input; the selections below add the product (1), its variants
# connection (2 + 100 x 3) only where the answer becomes the link's base. ``productSet`` is synchronous here (the
# default): the answer carries the product as written, so no read-back is needed.

VARIANTS_BY_SKU_QUERY = """query VariantsBySku($first: Int!, $query: String!) {
  productVariants(first: $first, query: $query) {
    nodes { id sku product { id handle } }
  }
}"""

# The SKU look-up above goes through Shopify's search (the ``query:`` argument), which lags writes: a product made
# seconds ago may not be found yet. Handles are looked up by ``productByIdentifier`` instead, a read by key that sees
# a write at once (null when no product has the handle), several per call as aliases ``p0``, ``p1``, ... (1 point
# each: a Product object). A product found there is then read by id for its SKUs (``PRODUCT_VARIANT_SKUS_QUERY``).
HANDLE_LOOKUP_CHUNK = 50  # handles per look-up call: 100 points requested (the product and its mark, 1 each)


# The metafield every product create carries (``writer.create_input``): which hub product of which tenant and shop
# asked for it, so the rerun of a push killed before its link tells its own create from a merchant's product with
# the same handle. An app-reserved namespace (``$app:<suffix>``, stored ``app--<app id>--<suffix>``): only our app
# can write it, so a merchant's product never carries it (shopify.dev, "Ownership" of metafields).
OWN_MARK_NAMESPACE = "$app:ecom_pipeline"
OWN_MARK_KEY = "ref"
OWN_MARK_TYPE = "single_line_text_field"


def products_by_handle_query(count: int) -> str:
    """``productByIdentifier`` for ``count`` handles (variables ``$h0``..), answered as ``p0``.. (each null when no
    product has that handle), with our create's mark (``mark { value }``, null on a product we did not create)."""
    names = range(max(1, count))
    variables = ", ".join(f"$h{i}: String!" for i in names)
    mark = f'mark: metafield(namespace: "{OWN_MARK_NAMESPACE}", key: "{OWN_MARK_KEY}") {{ value }}'
    fields = "\n".join(
        f"  p{i}: productByIdentifier(identifier: {{handle: $h{i}}}) {{ id handle {mark} }}" for i in names
    )
    return f"query ProductsByHandle({variables}) {{\n{fields}\n}}"


PRODUCTS_BY_HANDLE_QUERY = products_by_handle_query(HANDLE_LOOKUP_CHUNK)

# The SKUs of one product found by handle (is it ours, from a push that died before its link?): read by id, not search.
PRODUCT_VARIANT_SKUS_QUERY = f"""query ProductVariantSkus($id: ID!, $first: Int!, $after: String) {{
  product(id: $id) {{ variants(first: $first, after: $after) {{ {PAGE_INFO} nodes {{ id sku }} }} }}
}}"""

PRODUCT_SET_MUTATION = f"""mutation ProductSet($identifier: ProductSetIdentifiers, $input: ProductSetInput!) {{
  productSet(identifier: $identifier, input: $input, synchronous: true) {{
    product {{ {PRODUCT_FIELDS}
      variants(first: 100) {{ {PAGE_INFO} nodes {{ {VARIANT_FIELDS} }} }}
    }}
    userErrors {{ field message code }}
  }}
}}"""

VARIANTS_BULK_UPDATE_MUTATION = f"""mutation VariantsBulkUpdate($productId: ID!,
    $variants: [ProductVariantsBulkInput!]!) {{
  productVariantsBulkUpdate(productId: $productId, variants: $variants, allowPartialUpdates: true) {{
    product {{ {PRODUCT_FIELDS} }}
    productVariants {{ {VARIANT_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}"""

# Removes variants of one product (a hub variant deleted under a live product). The product comes back without its
# variants: their links are tombstoned, and the product's link takes the answer's ``updatedAt``.
VARIANTS_BULK_DELETE_MUTATION = f"""mutation VariantsBulkDelete($productId: ID!, $variantsIds: [ID!]!) {{
  productVariantsBulkDelete(productId: $productId, variantsIds: $variantsIds) {{
    product {{ {PRODUCT_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}"""

VARIANTS_BULK_CREATE_MUTATION = f"""mutation VariantsBulkCreate($productId: ID!,
    $variants: [ProductVariantsBulkInput!]!) {{
  productVariantsBulkCreate(productId: $productId, variants: $variants) {{
    product {{ {PRODUCT_FIELDS} }}
    productVariants {{ {VARIANT_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}"""

# The shop's collections, read once per push that writes categories (custom and smart: a hub category named like a
# smart collection is refused, not created twice): 2 + 250 x 2 = 502 requested a page.
COLLECTIONS_QUERY = f"""query Collections($first: Int!, $after: String) {{
  collections(first: $first, after: $after) {{ {PAGE_INFO} nodes {{ {COLLECTION_FIELDS} }} }}
}}"""

# A custom collection (no ruleSet) of a hub category's name; needs write_products. Shopify creates it unpublished.
COLLECTION_CREATE_MUTATION = f"""mutation CollectionCreate($input: CollectionInput!) {{
  collectionCreate(input: $input) {{
    collection {{ {COLLECTION_FIELDS} }}
    userErrors {{ field message }}
  }}
}}"""

# -- bulk mutations (the writer above ``bulk_mutation_threshold``) ---------------------------------------------------
# The variables of every line are staged first (stagedUploadsCreate, resource BULK_MUTATION_VARIABLES, uploaded as a
# multipart POST to the target); the mutation run for each line is one of the writer's own documents above
# (PRODUCT_SET_MUTATION, VARIANTS_BULK_UPDATE_MUTATION: one connection field at most, as bulk mutations require).

STAGED_UPLOADS_CREATE_MUTATION = """mutation StagedUploadsCreate($input: [StagedUploadInput!]!) {
  stagedUploadsCreate(input: $input) {
    stagedTargets { url resourceUrl parameters { name value } }
    userErrors { field message }
  }
}"""

BULK_RUN_MUTATION_MUTATION = """mutation RunBulkMutation($mutation: String!, $stagedUploadPath: String!,
    $clientIdentifier: String) {
  bulkOperationRunMutation(mutation: $mutation, stagedUploadPath: $stagedUploadPath,
                           clientIdentifier: $clientIdentifier) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}"""
