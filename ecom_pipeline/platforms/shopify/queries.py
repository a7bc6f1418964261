"""The GraphQL documents the connector sends, in one place so their cost can be read at a glance.

Cost model (Shopify's calculated query cost): an object costs 1, a connection 2 + ``first`` x the cost of a node,
scalars and enums 0; a single query may request at most 1,000 points. Page sizes are therefore chosen per query so
the *requested* cost stays under the limit (defaults below), while the bucket is charged the *actual* cost, which
for typical catalogues (5 variants per product) is a quarter of it:

- products page: 2 + P x (1 product + 1 options + 2 + V x 3 (variant, selectedOptions, inventoryItem)); P=15,
  V=20: 962 requested;
- variants follow-up page of one product (only when a product has more than V variants): 2 + 100 x 3 = 302;
- orders page: 2 + O x (1 + 1 customer + 6 money bags x 3 + 2 + L x (1 + 1 variant + 2 x 3 money));
  O=10, L=5: 642 requested; line taxes are not read (totalTaxSet has them); orders with more lines get a
  follow-up lines query (2 + 100 x 8);
- inventory page of one location: 2 + 100 x (1 + 1 quantities + 1 item + 1 variant) = 402.

Bulk operations cost nothing per record (one small mutation and cheap polls), which is why full syncs of large
shops use them. Bulk documents use ``edges { node }`` as the bulk API requires.
"""

from __future__ import annotations

MONEY_BAG = "shopMoney { amount currencyCode } presentmentMoney { amount currencyCode }"

VARIANT_FIELDS = """id legacyResourceId sku title price compareAtPrice position inventoryQuantity createdAt updatedAt
selectedOptions { name value }
inventoryItem { id legacyResourceId tracked }"""

PRODUCT_FIELDS = """id legacyResourceId title handle status productType vendor descriptionHtml tags createdAt updatedAt
options { name position values }"""

PAGE_INFO = "pageInfo { hasNextPage endCursor }"

PRODUCTS_QUERY = f"""query Products($first: Int!, $after: String, $query: String, $variantsFirst: Int!) {{
  products(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    {PAGE_INFO}
    nodes {{ {PRODUCT_FIELDS}
      variants(first: $variantsFirst) {{ {PAGE_INFO} nodes {{ {VARIANT_FIELDS} }} }}
    }}
  }}
}}"""

PRODUCT_VARIANTS_QUERY = f"""query ProductVariants($id: ID!, $first: Int!, $after: String) {{
  product(id: $id) {{
    variants(first: $first, after: $after) {{ {PAGE_INFO} nodes {{ {VARIANT_FIELDS} }} }}
  }}
}}"""

LINE_ITEM_FIELDS = f"""id sku name quantity
variant {{ id legacyResourceId }}
originalUnitPriceSet {{ {MONEY_BAG} }}
discountedTotalSet {{ {MONEY_BAG} }}"""

ORDER_FIELDS = f"""id legacyResourceId name createdAt updatedAt processedAt cancelledAt closedAt
displayFinancialStatus displayFulfillmentStatus currencyCode presentmentCurrencyCode email
customer {{ id legacyResourceId }}
subtotalPriceSet {{ {MONEY_BAG} }}
totalDiscountsSet {{ {MONEY_BAG} }}
totalShippingPriceSet {{ {MONEY_BAG} }}
totalTaxSet {{ {MONEY_BAG} }}
totalPriceSet {{ {MONEY_BAG} }}
totalRefundedSet {{ {MONEY_BAG} }}"""

ORDERS_QUERY = f"""query Orders($first: Int!, $after: String, $query: String, $linesFirst: Int!) {{
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    {PAGE_INFO}
    nodes {{ {ORDER_FIELDS}
      lineItems(first: $linesFirst) {{ {PAGE_INFO} nodes {{ {LINE_ITEM_FIELDS} }} }}
    }}
  }}
}}"""

ORDER_LINES_QUERY = f"""query OrderLines($id: ID!, $first: Int!, $after: String) {{
  order(id: $id) {{
    lineItems(first: $first, after: $after) {{ {PAGE_INFO} nodes {{ {LINE_ITEM_FIELDS} }} }}
  }}
}}"""

CUSTOMER_FIELDS = """id legacyResourceId email firstName lastName phone createdAt updatedAt
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
item { id legacyResourceId sku tracked variant { id legacyResourceId } }"""

LOCATION_LEVELS_QUERY = f"""query LocationLevels($id: ID!, $first: Int!, $after: String, $query: String) {{
  location(id: $id) {{
    inventoryLevels(first: $first, after: $after, query: $query) {{ {PAGE_INFO} nodes {{ {LEVEL_FIELDS} }} }}
  }}
}}"""

SHOP_QUERY = """query ShopAndScopes {
  shop { name currencyCode plan { displayName } }
  appInstallation { accessScopes { handle } }
}"""

COUNT_QUERIES = {
    "product": "query ProductsCount { productsCount { count } }",
    "order": "query OrdersCount { ordersCount { count } }",
    "customer": "query CustomersCount { customersCount { count } }",
}

BULK_RUN_MUTATION = """mutation RunBulkQuery($query: String!) {
  bulkOperationRunQuery(query: $query) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}"""

BULK_CURRENT_QUERY = """query CurrentBulkOperation {
  currentBulkOperation { id status errorCode objectCount url partialDataUrl }
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

BULK_ORDERS = f"""{{
  orders {{ edges {{ node {{ {ORDER_FIELDS}
    lineItems {{ edges {{ node {{ {LINE_ITEM_FIELDS} }} }} }}
  }} }} }}
}}"""

BULK_CUSTOMERS = f"""{{
  customers {{ edges {{ node {{ {CUSTOMER_FIELDS} }} }} }}
}}"""

BULK_DOCUMENTS = {"product": BULK_PRODUCTS, "order": BULK_ORDERS, "customer": BULK_CUSTOMERS}

# gid type of a JSONL child line -> the connection field it belongs to on its parent.
BULK_CHILD_CONNECTIONS = {"ProductVariant": "variants", "LineItem": "lineItems", "InventoryLevel": "inventoryLevels"}

SCOPES_REQUIRED = {
    "product": ("read_products",),
    "inventory": ("read_inventory", "read_locations"),
    "order": ("read_orders",),
    "customer": ("read_customers",),
}
ALL_ORDERS_SCOPE = "read_all_orders"

# -- single records (webhook re-reads) and webhook subscriptions ----------------------------------------------------

PRODUCT_BY_ID_QUERY = f"""query ProductById($id: ID!, $variantsFirst: Int!) {{
  product(id: $id) {{ {PRODUCT_FIELDS}
    variants(first: $variantsFirst) {{ {PAGE_INFO} nodes {{ {VARIANT_FIELDS} }} }}
  }}
}}"""

ORDER_BY_ID_QUERY = f"""query OrderById($id: ID!, $linesFirst: Int!) {{
  order(id: $id) {{ {ORDER_FIELDS}
    lineItems(first: $linesFirst) {{ {PAGE_INFO} nodes {{ {LINE_ITEM_FIELDS} }} }}
  }}
}}"""

CUSTOMER_BY_ID_QUERY = f"""query CustomerById($id: ID!) {{
  customer(id: $id) {{ {CUSTOMER_FIELDS} }}
}}"""

# 2 points: which variant an inventory item belongs to (inventory_levels/update names the item only).
INVENTORY_ITEM_QUERY = """query InventoryItemVariant($id: ID!) {
  inventoryItem(id: $id) { id legacyResourceId sku tracked variant { id legacyResourceId } }
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
