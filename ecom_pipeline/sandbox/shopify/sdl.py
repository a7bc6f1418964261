"""The subset of Shopify's GraphQL Admin API schema the emulator serves, per API version.

Names, nullability, kinds and argument defaults follow the real schema (introspected from real shops, 2026-01 and
2026-04; ``test_emulator_matches_real_schema`` checks every type, field, argument and enum value the connector
uses) so that a query written against the real API validates here unchanged, and a query using a field we do not
emulate fails validation loudly rather than returning silently wrong data. What changed between versions is
applied by :func:`sdl_for` (see :data:`~.versions.FEATURES`): ``webhookSubscriptions(uri:)`` and
``WebhookSubscription.uri`` and ``ProductStatus.UNLISTED`` from 2025-10, ``bulkOperationRunQuery(groupObjects:)``
from 2025-10 (default true) and default false from 2026-01, ``bulkOperation(id:)`` and the deprecations of
``currentBulkOperation`` and ``InventoryItem.variant`` from 2026-01.
"""

from __future__ import annotations

from functools import cache

from ecom_pipeline.sandbox.shopify.enums import COUNTRY_CODES, CURRENCY_CODES, WEBHOOK_TOPICS, WEBHOOK_TOPICS_ADDED
from ecom_pipeline.sandbox.shopify.versions import has_feature

_SDL = """
scalar DateTime
scalar Decimal
scalar Money
scalar URL
scalar UnsignedInt64
scalar HTML
scalar JSON
scalar ARN

enum CurrencyCode { @@CURRENCY_CODES@@ }
enum CountryCode { @@COUNTRY_CODES@@ }
enum ProductStatus { ACTIVE ARCHIVED DRAFT @@UNLISTED@@ }
enum ProductSortKeys { CREATED_AT ID INVENTORY_TOTAL PRODUCT_TYPE PUBLISHED_AT RELEVANCE TITLE UPDATED_AT VENDOR }
enum ProductVariantSortKeys { FULL_TITLE ID INVENTORY_QUANTITY NAME POSITION RELEVANCE SKU TITLE }
enum OrderSortKeys { CREATED_AT CUSTOMER_NAME ID ORDER_NUMBER PROCESSED_AT RELEVANCE TOTAL_PRICE UPDATED_AT }
enum CustomerSortKeys { CREATED_AT ID NAME RELEVANCE UPDATED_AT }
enum LocationSortKeys { ID NAME RELEVANCE }
enum WebhookSubscriptionSortKeys { CREATED_AT ID RELEVANCE }
enum OrderDisplayFinancialStatus { AUTHORIZED EXPIRED PAID PARTIALLY_PAID PARTIALLY_REFUNDED PENDING REFUNDED VOIDED }
enum OrderDisplayFulfillmentStatus {
  FULFILLED IN_PROGRESS ON_HOLD OPEN PARTIALLY_FULFILLED PENDING_FULFILLMENT REQUEST_DECLINED RESTOCKED SCHEDULED
  UNFULFILLED
}
enum OrderCancelReason { CUSTOMER DECLINED FRAUD INVENTORY OTHER STAFF }
enum CustomerState { DECLINED DISABLED ENABLED INVITED }
enum ProductVariantInventoryPolicy { CONTINUE DENY }
enum RefundLineItemRestockType { CANCEL LEGACY_RESTOCK NO_RESTOCK RETURN }
enum BulkOperationStatus { CANCELED CANCELING COMPLETED CREATED EXPIRED FAILED RUNNING }
enum BulkOperationErrorCode { ACCESS_DENIED INTERNAL_SERVER_ERROR TIMEOUT }
enum BulkOperationType { MUTATION QUERY }
enum BulkOperationUserErrorCode { INVALID LIMIT_REACHED OPERATION_IN_PROGRESS }
enum WebhookSubscriptionFormat { JSON XML }
enum WebhookSubscriptionTopic { @@WEBHOOK_TOPICS@@ }
enum CountPrecision { AT_LEAST EXACT }
enum InventorySetQuantitiesUserErrorCode {
  @@CHANGE_FROM_CODES@@ COMPARE_QUANTITY_REQUIRED COMPARE_QUANTITY_STALE @@IDEMPOTENCY_CODES@@ INVALID_INVENTORY_ITEM
  INVALID_LOCATION INVALID_NAME INVALID_QUANTITY_NEGATIVE INVALID_REASON ITEM_NOT_STOCKED_AT_LOCATION
}
@@IDEMPOTENT_DIRECTIVE@@
enum ProductVariantsBulkUpdateUserErrorCode {
  BLANK CANNOT_SET_NAME_FOR_LINKED_OPTION_VALUE CANNOT_SPECIFY_BOTH GREATER_THAN_OR_EQUAL_TO INVALID_INPUT
  INVALID_VALUE INVENTORY_QUANTITIES_LIMIT_EXCEEDED MUST_BE_FOR_THIS_PRODUCT MUST_SPECIFY_ONE_OF_PAIR
  NEED_TO_ADD_OPTION_VALUES NEGATIVE_PRICE_VALUE NOT_DEFINED_FOR_SHOP NO_INVENTORY_QUANTITES_DURING_UPDATE
  NO_INVENTORY_QUANTITIES_ON_VARIANTS_UPDATE OPTION_DOES_NOT_EXIST OPTION_VALUES_FOR_NUMBER_OF_UNKNOWN_OPTIONS
  OPTION_VALUE_DOES_NOT_EXIST OPTION_VALUE_NAME_TOO_LONG PRODUCT_DOES_NOT_EXIST PRODUCT_SUSPENDED
  PRODUCT_VARIANT_DOES_NOT_EXIST PRODUCT_VARIANT_ID_MISSING SUBSCRIPTION_VIOLATION TOO_LONG TOO_SHORT
  UNSUPPORTED_COMBINED_LISTING_PARENT_OPERATION VARIANT_ALREADY_EXISTS
}
enum ProductVariantsBulkCreateUserErrorCode {
  CANNOT_SET_NAME_FOR_LINKED_OPTION_VALUE GREATER_THAN_OR_EQUAL_TO INVALID INVALID_INPUT
  INVENTORY_QUANTITIES_LIMIT_EXCEEDED MUST_BE_FOR_THIS_PRODUCT NEED_TO_ADD_OPTION_VALUES NEGATIVE_PRICE_VALUE
  NOT_DEFINED_FOR_SHOP NO_KEY_ON_CREATE OPTION_VALUES_FOR_NUMBER_OF_UNKNOWN_OPTIONS PRODUCT_DOES_NOT_EXIST
  PRODUCT_SUSPENDED SUBSCRIPTION_VIOLATION TOO_MANY_INVENTORY_LOCATIONS TRACKED_VARIANT_LOCATION_NOT_FOUND
  UNSUPPORTED_COMBINED_LISTING_PARENT_OPERATION VARIANT_ALREADY_EXISTS
  VARIANT_ALREADY_EXISTS_CHANGE_OPTION_VALUE
}
enum ProductVariantsBulkDeleteUserErrorCode {
  AT_LEAST_ONE_VARIANT_DOES_NOT_BELONG_TO_THE_PRODUCT CANNOT_DELETE_LAST_VARIANT PRODUCT_DOES_NOT_EXIST
  PRODUCT_SUSPENDED UNSUPPORTED_COMBINED_LISTING_PARENT_OPERATION
}
enum ProductVariantsBulkCreateStrategy { DEFAULT PRESERVE_STANDALONE_VARIANT REMOVE_STANDALONE_VARIANT }
enum ProductSetUserErrorCode {
  CANNOT_COMBINE_LINKED_AND_NONLINKED_OPTION_VALUES CAPABILITY_VIOLATION DUPLICATED_METAFIELD_VALUE
  DUPLICATED_OPTION_NAME DUPLICATED_OPTION_VALUE DUPLICATED_VALUE DUPLICATE_LINKED_OPTION GENERIC_ERROR
  GIFT_CARDS_NOT_ACTIVATED GIFT_CARD_ATTRIBUTE_CANNOT_BE_CHANGED HANDLE_NOT_UNIQUE ID_NOT_ALLOWED
  INPUT_MISMATCH INVALID_INPUT INVALID_METAFIELD INVALID_METAFIELD_VALUE_FOR_LINKED_OPTION INVALID_PRODUCT
  INVALID_VARIANT INVENTORY_QUANTITIES_LIMIT_EXCEEDED JOB_ERROR LINKED_METAFIELD_DEFINITION_NOT_FOUND
  LINKED_OPTIONS_NOT_SUPPORTED_FOR_SHOP METAFIELD_MISMATCH MISSING_FIELD_REQUIRED NOT_FOUND OPTIONS_OVER_LIMIT
  OPTION_DOES_NOT_EXIST OPTION_VALUES_MISSING OPTION_VALUES_OVER_LIMIT OPTION_VALUE_DOES_NOT_EXIST
  PRODUCT_DOES_NOT_EXIST PRODUCT_OPTIONS_INPUT_MISSING PRODUCT_SUSPENDED PRODUCT_VARIANT_DOES_NOT_EXIST
  VARIANTS_INPUT_MISSING VARIANTS_OVER_LIMIT
}

interface Node { id: ID! }

type PageInfo { hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor: String }
type Count { count: Int! precision: CountPrecision! }
type MoneyV2 { amount: Decimal! currencyCode: CurrencyCode! }
type MoneyBag { shopMoney: MoneyV2! presentmentMoney: MoneyV2! }
type UserError { field: [String!] message: String! }

type ShopPlan {
  displayName: String! @deprecated(reason: "Use `publicDisplayName` instead.") publicDisplayName: String!
  partnerDevelopment: Boolean! shopifyPlus: Boolean!
}
type Domain { host: String! url: URL! }
type Shop implements Node {
  id: ID! name: String! email: String! myshopifyDomain: String! currencyCode: CurrencyCode! ianaTimezone: String!
  plan: ShopPlan! primaryDomain: Domain! enabledPresentmentCurrencies: [CurrencyCode!]!
}
type AccessScope { handle: String! description: String! }
type AppInstallation implements Node { id: ID! accessScopes: [AccessScope!]! }

type MailingAddress implements Node {
  id: ID! address1: String address2: String city: String company: String country: String countryCodeV2: CountryCode
  firstName: String lastName: String name: String phone: String province: String provinceCode: String zip: String
}
type LocationAddress { address1: String city: String countryCode: String zip: String }
type Location implements Node {
  id: ID! legacyResourceId: UnsignedInt64! name: String! isActive: Boolean! fulfillsOnlineOrders: Boolean!
  address: LocationAddress! createdAt: DateTime! updatedAt: DateTime!
  inventoryLevels(first: Int, after: String, last: Int, before: String, reverse: Boolean = false,
    query: String@@LEVELS_INCLUDE_INACTIVE@@):
    InventoryLevelConnection!
}
type LocationEdge { cursor: String! node: Location! }
type LocationConnection { edges: [LocationEdge!]! nodes: [Location!]! pageInfo: PageInfo! }

type ProductOptionValue { id: ID! name: String! hasVariants: Boolean! }
type ProductOption implements Node {
  id: ID! name: String! position: Int! values: [String!]! optionValues: [ProductOptionValue!]!
}
type SelectedOption { name: String! value: String! }

type Product implements Node {
  id: ID! legacyResourceId: UnsignedInt64! title: String! handle: String! vendor: String! productType: String!
  status: ProductStatus! tags: [String!]! descriptionHtml: HTML! description: String! createdAt: DateTime!
  updatedAt: DateTime! publishedAt: DateTime totalInventory: Int! hasOnlyDefaultVariant: Boolean!
  tracksInventory: Boolean! options(first: Int): [ProductOption!]! variantsCount: Count
  variants(first: Int, after: String, last: Int, before: String, reverse: Boolean = false,
           sortKey: ProductVariantSortKeys = POSITION): ProductVariantConnection!
  collections(first: Int, after: String, last: Int, before: String, reverse: Boolean = false,
              sortKey: CollectionSortKeys = ID, query: String): CollectionConnection!
  metafield(key: String!, namespace: String): Metafield
}
type Metafield implements Node {
  id: ID! legacyResourceId: UnsignedInt64! namespace: String! key: String! type: String! value: String!
  createdAt: DateTime! updatedAt: DateTime!
}
input MetafieldInput { id: ID key: String namespace: String type: String value: String }
enum CollectionSortKeys { ID RELEVANCE TITLE UPDATED_AT }
type CollectionRule { column: String! relation: String! condition: String! }
type CollectionRuleSet { appliedDisjunctively: Boolean! rules: [CollectionRule!]! }
type Collection implements Node {
  id: ID! legacyResourceId: UnsignedInt64! title: String! handle: String! updatedAt: DateTime!
  ruleSet: CollectionRuleSet productsCount: Count
  products(first: Int, after: String, last: Int, before: String, reverse: Boolean = false): ProductConnection!
}
type CollectionEdge { cursor: String! node: Collection! }
type CollectionConnection { edges: [CollectionEdge!]! nodes: [Collection!]! pageInfo: PageInfo! }
input CollectionRuleInput { column: String! relation: String! condition: String! }
input CollectionRuleSetInput { appliedDisjunctively: Boolean! rules: [CollectionRuleInput!] }
input CollectionInput {
  id: ID title: String handle: String descriptionHtml: String ruleSet: CollectionRuleSetInput products: [ID!]
}
type CollectionCreatePayload { collection: Collection userErrors: [UserError!]! }
type ProductEdge { cursor: String! node: Product! }
type ProductConnection { edges: [ProductEdge!]! nodes: [Product!]! pageInfo: PageInfo! }

type ProductVariant implements Node {
  id: ID! legacyResourceId: UnsignedInt64! title: String! displayName: String! sku: String barcode: String
  price: Money! compareAtPrice: Money position: Int! inventoryQuantity: Int
  inventoryPolicy: ProductVariantInventoryPolicy!
  taxable: Boolean! createdAt: DateTime! updatedAt: DateTime! product: Product! selectedOptions: [SelectedOption!]!
  inventoryItem: InventoryItem!
}
type ProductVariantEdge { cursor: String! node: ProductVariant! }
type ProductVariantConnection { edges: [ProductVariantEdge!]! nodes: [ProductVariant!]! pageInfo: PageInfo! }

type InventoryItem implements Node {
  id: ID! legacyResourceId: UnsignedInt64! sku: String tracked: Boolean! requiresShipping: Boolean!
  createdAt: DateTime! updatedAt: DateTime! unitCost: MoneyV2 variant: ProductVariant! @@ITEM_VARIANT_DEPRECATED@@
  measurement: InventoryItemMeasurement!
  variants(first: Int, after: String, last: Int, before: String): ProductVariantConnection
  inventoryLevel(locationId: ID!): InventoryLevel
  inventoryLevels(first: Int, after: String, last: Int, before: String, reverse: Boolean = false, query: String):
    InventoryLevelConnection!
}
type InventoryItemMeasurement implements Node { id: ID! weight: Weight }
type Weight { unit: WeightUnit! value: Float! }
enum WeightUnit { KILOGRAMS GRAMS POUNDS OUNCES }
type InventoryItemEdge { cursor: String! node: InventoryItem! }
type InventoryItemConnection { edges: [InventoryItemEdge!]! nodes: [InventoryItem!]! pageInfo: PageInfo! }
type InventoryQuantity { id: ID! name: String! quantity: Int! updatedAt: DateTime }
type InventoryLevel implements Node {
  id: ID! createdAt: DateTime! updatedAt: DateTime! location: Location! item: InventoryItem!
  quantities(names: [String!]!): [InventoryQuantity!]!
}
type InventoryLevelEdge { cursor: String! node: InventoryLevel! }
type InventoryLevelConnection { edges: [InventoryLevelEdge!]! nodes: [InventoryLevel!]! pageInfo: PageInfo! }

type CustomerEmailAddress { emailAddress: String! }
type CustomerPhoneNumber { phoneNumber: String! }
type Customer implements Node {
  id: ID! legacyResourceId: UnsignedInt64!
  email: String @deprecated(reason: "Use `defaultEmailAddress.emailAddress` instead.")
  defaultEmailAddress: CustomerEmailAddress defaultPhoneNumber: CustomerPhoneNumber
  firstName: String lastName: String displayName: String!
  phone: String @deprecated(reason: "Use `defaultPhoneNumber.phoneNumber` instead.")
  state: CustomerState! tags: [String!]!
  note: String verifiedEmail: Boolean! taxExempt: Boolean! numberOfOrders: UnsignedInt64! amountSpent: MoneyV2!
  defaultAddress: MailingAddress addresses(first: Int): [MailingAddress!]! createdAt: DateTime! updatedAt: DateTime!
}
type CustomerEdge { cursor: String! node: Customer! }
type CustomerConnection { edges: [CustomerEdge!]! nodes: [Customer!]! pageInfo: PageInfo! }

type LineItem implements Node {
  id: ID! title: String! name: String! variantTitle: String sku: String quantity: Int! currentQuantity: Int!
  refundableQuantity: Int! taxable: Boolean! variant: ProductVariant product: Product
  originalUnitPriceSet: MoneyBag! discountedUnitPriceSet: MoneyBag! originalTotalSet: MoneyBag!
  discountedTotalSet(withCodeDiscounts: Boolean = false): MoneyBag! totalDiscountSet: MoneyBag!
  discountAllocations: [DiscountAllocation!]!
}
type DiscountAllocation { allocatedAmountSet: MoneyBag! }
type LineItemEdge { cursor: String! node: LineItem! }
type LineItemConnection { edges: [LineItemEdge!]! nodes: [LineItem!]! pageInfo: PageInfo! }

type RefundLineItem { id: ID! lineItem: LineItem! quantity: Int! restockType: RefundLineItemRestockType!
  subtotalSet: MoneyBag! priceSet: MoneyBag! }
type RefundLineItemEdge { cursor: String! node: RefundLineItem! }
type RefundLineItemConnection { edges: [RefundLineItemEdge!]! nodes: [RefundLineItem!]! pageInfo: PageInfo! }
type Refund implements Node {
  id: ID! legacyResourceId: UnsignedInt64! createdAt: DateTime updatedAt: DateTime! note: String
  totalRefundedSet: MoneyBag! order: Order!
  refundLineItems(first: Int, after: String, last: Int, before: String, reverse: Boolean = false):
    RefundLineItemConnection!
}

type Order implements Node {
  id: ID! legacyResourceId: UnsignedInt64! name: String! email: String phone: String createdAt: DateTime!
  updatedAt: DateTime! processedAt: DateTime! cancelledAt: DateTime cancelReason: OrderCancelReason
  closedAt: DateTime test: Boolean! tags: [String!]! note: String currencyCode: CurrencyCode!
  presentmentCurrencyCode: CurrencyCode! displayFinancialStatus: OrderDisplayFinancialStatus
  displayFulfillmentStatus: OrderDisplayFulfillmentStatus! customer: Customer
  totalPriceSet: MoneyBag! subtotalPriceSet: MoneyBag totalTaxSet: MoneyBag totalShippingPriceSet: MoneyBag!
  totalDiscountsSet: MoneyBag totalRefundedSet: MoneyBag! currentTotalPriceSet: MoneyBag!
  currentSubtotalPriceSet: MoneyBag! shippingAddress: MailingAddress billingAddress: MailingAddress
  lineItems(first: Int, after: String, last: Int, before: String, reverse: Boolean = false): LineItemConnection!
  refunds(first: Int): [Refund!]!
}
type OrderEdge { cursor: String! node: Order! }
type OrderConnection { edges: [OrderEdge!]! nodes: [Order!]! pageInfo: PageInfo! }

type BulkOperation implements Node {
  id: ID! status: BulkOperationStatus! errorCode: BulkOperationErrorCode objectCount: UnsignedInt64!
  rootObjectCount: UnsignedInt64! fileSize: UnsignedInt64 url: URL partialDataUrl: URL createdAt: DateTime!
  completedAt: DateTime query: String! type: BulkOperationType!
}
type BulkOperationUserError { code: BulkOperationUserErrorCode field: [String!] message: String! }
type BulkOperationRunQueryPayload { bulkOperation: BulkOperation userErrors: [BulkOperationUserError!]! }
type BulkOperationCancelPayload { bulkOperation: BulkOperation userErrors: [UserError!]! }
enum BulkMutationErrorCode {
  OPERATION_IN_PROGRESS INVALID_MUTATION INVALID_STAGED_UPLOAD_FILE NO_SUCH_FILE INTERNAL_FILE_SERVER_ERROR
  LIMIT_REACHED
}
type BulkMutationUserError { code: BulkMutationErrorCode field: [String!] message: String! }
type BulkOperationRunMutationPayload { bulkOperation: BulkOperation userErrors: [BulkMutationUserError!]! }
enum StagedUploadTargetGenerateUploadResource {
  COLLECTION_IMAGE FILE IMAGE MODEL_3D
  PRODUCT_IMAGE @deprecated(reason: "Use IMAGE instead. This resource type will be removed in a future version.")
  SHOP_IMAGE VIDEO BULK_MUTATION_VARIABLES RETURN_LABEL URL_REDIRECT_IMPORT DISPUTE_FILE_UPLOAD
}
enum StagedUploadHttpMethodType { POST PUT }
input StagedUploadInput {
  filename: String! fileSize: UnsignedInt64 httpMethod: StagedUploadHttpMethodType = PUT mimeType: String!
  resource: StagedUploadTargetGenerateUploadResource!
}
type StagedUploadParameter { name: String! value: String! }
type StagedMediaUploadTarget { parameters: [StagedUploadParameter!]! resourceUrl: URL url: URL }
type StagedUploadsCreatePayload { stagedTargets: [StagedMediaUploadTarget!] userErrors: [UserError!]! }

type WebhookHttpEndpoint { callbackUrl: URL! }
type WebhookEventBridgeEndpoint { arn: ARN! }
type WebhookPubSubEndpoint { pubSubProject: String! pubSubTopic: String! }
union WebhookSubscriptionEndpoint = WebhookEventBridgeEndpoint | WebhookHttpEndpoint | WebhookPubSubEndpoint
type WebhookSubscription implements Node {
  id: ID! legacyResourceId: UnsignedInt64! topic: WebhookSubscriptionTopic! format: WebhookSubscriptionFormat!
  @@WEBHOOK_URI_FIELDS@@ includeFields: [String!]! filter: String
  createdAt: DateTime! updatedAt: DateTime!
}
type WebhookSubscriptionEdge { cursor: String! node: WebhookSubscription! }
type WebhookSubscriptionConnection {
  edges: [WebhookSubscriptionEdge!]! nodes: [WebhookSubscription!]! pageInfo: PageInfo!
}
input WebhookSubscriptionInput {
  uri: String callbackUrl: URL format: WebhookSubscriptionFormat includeFields: [String!] filter: String
  metafieldNamespaces: [String!]
}
type WebhookSubscriptionCreatePayload { webhookSubscription: WebhookSubscription userErrors: [UserError!]! }
type WebhookSubscriptionDeletePayload { deletedWebhookSubscriptionId: ID userErrors: [UserError!]! }

input ProductUpdateInput {
  id: ID! title: String handle: String descriptionHtml: String vendor: String productType: String
  status: ProductStatus tags: [String!]
}
type ProductUpdatePayload { product: Product userErrors: [UserError!]! }
input WeightInput { unit: WeightUnit! value: Float! }
input InventoryItemMeasurementInput { shippingPackageId: ID weight: WeightInput }
input InventoryItemInput { sku: String tracked: Boolean measurement: InventoryItemMeasurementInput }
input ProductSetIdentifiers { id: ID handle: String }
input UniqueMetafieldValueInput { key: String! namespace: String value: String! }
input ProductIdentifierInput { customId: UniqueMetafieldValueInput handle: String id: ID }
input OptionValueSetInput { id: ID name: String }
input OptionSetInput { id: ID name: String position: Int values: [OptionValueSetInput!] }
input VariantOptionValueInput { id: ID name: String optionId: ID optionName: String }
input ProductVariantSetInput {
  id: ID sku: String price: Money compareAtPrice: Money barcode: String position: Int taxable: Boolean
  inventoryPolicy: ProductVariantInventoryPolicy inventoryItem: InventoryItemInput
  optionValues: [VariantOptionValueInput!]!
}
input ProductSetInput {
  title: String handle: String descriptionHtml: String vendor: String productType: String status: ProductStatus
  tags: [String!] productOptions: [OptionSetInput!] variants: [ProductVariantSetInput!] collections: [ID!]
  metafields: [MetafieldInput!]
}
type ProductVariantsBulkCreateUserError {
  code: ProductVariantsBulkCreateUserErrorCode field: [String!] message: String!
}
type ProductVariantsBulkCreatePayload {
  product: Product productVariants: [ProductVariant!] userErrors: [ProductVariantsBulkCreateUserError!]!
}
type ProductVariantsBulkDeleteUserError {
  code: ProductVariantsBulkDeleteUserErrorCode field: [String!] message: String!
}
type ProductVariantsBulkDeletePayload { product: Product userErrors: [ProductVariantsBulkDeleteUserError!]! }
type ProductSetUserError { code: ProductSetUserErrorCode field: [String!] message: String! }
type ProductSetPayload { product: Product userErrors: [ProductSetUserError!]! }
input ProductVariantsBulkInput {
  id: ID price: Money compareAtPrice: Money barcode: String taxable: Boolean
  inventoryPolicy: ProductVariantInventoryPolicy inventoryItem: InventoryItemInput
  optionValues: [VariantOptionValueInput!]
}
type ProductVariantsBulkUpdateUserError {
  code: ProductVariantsBulkUpdateUserErrorCode field: [String!] message: String!
}
type ProductVariantsBulkUpdatePayload {
  product: Product productVariants: [ProductVariant!] userErrors: [ProductVariantsBulkUpdateUserError!]!
}
input InventoryQuantityInput {
  inventoryItemId: ID! locationId: ID! quantity: Int! compareQuantity: Int @@CHANGE_FROM_FIELD@@
}
input InventorySetQuantitiesInput {
  name: String! reason: String! referenceDocumentUri: String ignoreCompareQuantity: Boolean = false
  quantities: [InventoryQuantityInput!]!
}
type InventoryChange { name: String! delta: Int! quantityAfterChange: Int item: InventoryItem location: Location }
type InventoryAdjustmentGroup { id: ID! createdAt: DateTime! reason: String! referenceDocumentUri: String
  changes: [InventoryChange!]! }
type InventorySetQuantitiesUserError { code: InventorySetQuantitiesUserErrorCode field: [String!] message: String! }
type InventorySetQuantitiesPayload {
  inventoryAdjustmentGroup: InventoryAdjustmentGroup userErrors: [InventorySetQuantitiesUserError!]!
}

type QueryRoot {
  shop: Shop!
  appInstallation(id: ID): AppInstallation
  products(first: Int, after: String, last: Int, before: String, reverse: Boolean = false,
           sortKey: ProductSortKeys = ID, query: String): ProductConnection!
  product(id: ID!): Product
  @@PRODUCT_BY_IDENTIFIER@@
  collections(first: Int, after: String, last: Int, before: String, reverse: Boolean = false,
              sortKey: CollectionSortKeys = ID, query: String): CollectionConnection!
  collection(id: ID!): Collection
  productsCount(limit: Int = 10000, query: String, savedSearchId: ID): Count
  productVariants(first: Int, after: String, last: Int, before: String, reverse: Boolean = false,
                  sortKey: ProductVariantSortKeys = ID, query: String): ProductVariantConnection!
  productVariant(id: ID!): ProductVariant
  orders(first: Int, after: String, last: Int, before: String, reverse: Boolean = false,
         sortKey: OrderSortKeys = PROCESSED_AT, query: String): OrderConnection!
  order(id: ID!): Order
  ordersCount(limit: Int = 10000, query: String, savedSearchId: ID): Count
  customers(first: Int, after: String, last: Int, before: String, reverse: Boolean = false,
            sortKey: CustomerSortKeys = ID, query: String): CustomerConnection!
  customer(id: ID!): Customer
  customersCount(limit: Int = 10000, query: String): Count
  locations(first: Int, after: String, last: Int, before: String, reverse: Boolean = false,
            sortKey: LocationSortKeys = NAME, query: String, includeInactive: Boolean = false,
            includeLegacy: Boolean = false): LocationConnection!
  location(id: ID): Location
  inventoryItems(first: Int, after: String, last: Int, before: String, reverse: Boolean = false,
                 query: String): InventoryItemConnection!
  inventoryItem(id: ID!): InventoryItem
  inventoryLevel(id: ID!): InventoryLevel
  currentBulkOperation(type: BulkOperationType = QUERY): BulkOperation @@CURRENT_BULK_DEPRECATED@@
  @@BULK_BY_ID@@
  webhookSubscriptions(first: Int, after: String, last: Int, before: String, reverse: Boolean = false,
                       sortKey: WebhookSubscriptionSortKeys = CREATED_AT, topics: [WebhookSubscriptionTopic!],
                       @@WEBHOOK_URI_ARGUMENT@@): WebhookSubscriptionConnection!
  webhookSubscription(id: ID!): WebhookSubscription
  node(id: ID!): Node
}

type Mutation {
  bulkOperationRunQuery(query: String! @@GROUP_OBJECTS@@): BulkOperationRunQueryPayload
  bulkOperationCancel(id: ID!): BulkOperationCancelPayload
  bulkOperationRunMutation(mutation: String!, stagedUploadPath: String!, clientIdentifier: String):
    BulkOperationRunMutationPayload
  stagedUploadsCreate(input: [StagedUploadInput!]!): StagedUploadsCreatePayload
  webhookSubscriptionCreate(topic: WebhookSubscriptionTopic!, webhookSubscription: WebhookSubscriptionInput!):
    WebhookSubscriptionCreatePayload
  webhookSubscriptionDelete(id: ID!): WebhookSubscriptionDeletePayload
  productUpdate(product: ProductUpdateInput!): ProductUpdatePayload
  collectionCreate(input: CollectionInput!): CollectionCreatePayload
  productSet(identifier: ProductSetIdentifiers, input: ProductSetInput!, synchronous: Boolean = true):
    ProductSetPayload
  productVariantsBulkUpdate(productId: ID!, variants: [ProductVariantsBulkInput!]!,
                            allowPartialUpdates: Boolean = false):
    ProductVariantsBulkUpdatePayload
  productVariantsBulkCreate(productId: ID!, variants: [ProductVariantsBulkInput!]!,
                            strategy: ProductVariantsBulkCreateStrategy = DEFAULT): ProductVariantsBulkCreatePayload
  productVariantsBulkDelete(productId: ID!, variantsIds: [ID!]!): ProductVariantsBulkDeletePayload
  inventorySetQuantities(input: InventorySetQuantitiesInput!): InventorySetQuantitiesPayload
  orderCancel(notifyCustomer: Boolean = false, orderId: ID!, reason: OrderCancelReason!,
              refundMethod: OrderCancelRefundMethodInput, restock: Boolean!, staffNote: String = null):
    OrderCancelPayload
}
input OrderCancelRefundMethodInput { originalPaymentMethodsRefund: Boolean }
type Job { done: Boolean! id: ID! }
enum OrderCancelUserErrorCode { NO_REFUND_PERMISSION NOT_FOUND INVALID INTERNAL_ERROR }
type OrderCancelUserError { code: OrderCancelUserErrorCode field: [String!] message: String! }
type OrderCancelPayload { job: Job orderCancelUserErrors: [OrderCancelUserError!]! userErrors: [UserError!]! }

schema { query: QueryRoot mutation: Mutation }
"""


def _names(values: tuple[str, ...], version: str, added: dict[str, str] | None = None) -> str:
    return " ".join(v for v in values if has_feature(version, (added or {}).get(v)))


@cache
def sdl_for(version: str) -> str:
    """The SDL the emulator serves for ``version`` (a served version: stable ``YYYY-MM`` or ``unstable``)."""
    uri = has_feature(version, "2025-10")
    if not has_feature(version, "2025-10"):
        group_objects = ""
    elif not has_feature(version, "2026-01"):
        group_objects = ", groupObjects: Boolean! = true"
    else:
        group_objects = ", groupObjects: Boolean! = false"
    since_2026_01 = has_feature(version, "2026-01")
    deprecated_uri = '@deprecated(reason: "Use `uri` instead.")' if uri else ""
    replacements = {
        "@@CURRENCY_CODES@@": " ".join(CURRENCY_CODES),
        "@@COUNTRY_CODES@@": " ".join(COUNTRY_CODES),
        "@@WEBHOOK_TOPICS@@": _names(WEBHOOK_TOPICS, version, WEBHOOK_TOPICS_ADDED),
        "@@UNLISTED@@": "UNLISTED" if uri else "",
        "@@ITEM_VARIANT_DEPRECATED@@": '@deprecated(reason: "Use `variants` instead.")' if since_2026_01 else "",
        "@@WEBHOOK_URI_FIELDS@@": (
            f"{'uri: String! ' if uri else ''}callbackUrl: URL! {deprecated_uri} "
            f"endpoint: WebhookSubscriptionEndpoint! {deprecated_uri}"
        ),
        "@@CURRENT_BULK_DEPRECATED@@": (
            '@deprecated(reason: "Use `bulkOperations` with status filter instead.")' if since_2026_01 else ""
        ),
        "@@BULK_BY_ID@@": "bulkOperation(id: ID!): BulkOperation" if since_2026_01 else "",
        # productByIdentifier (a read by id, handle or custom id) appeared in 2025-01 (shopify.dev changelog "Using
        # custom ids and handles in product and customer lookups").
        "@@PRODUCT_BY_IDENTIFIER@@": (
            "productByIdentifier(identifier: ProductIdentifierInput!): Product"
            if has_feature(version, "2025-01")
            else ""
        ),
        "@@WEBHOOK_URI_ARGUMENT@@": "uri: String" if uri else "callbackUrl: URL",
        "@@GROUP_OBJECTS@@": group_objects,
        # Stock writes (issue 11): the @idempotent directive from 2026-01 (required at run time from 2026-04), and
        # changeFromQuantity replacing compareQuantity as the compare-and-set value from 2026-04.
        "@@IDEMPOTENT_DIRECTIVE@@": "directive @idempotent(key: String!) on FIELD" if since_2026_01 else "",
        "@@IDEMPOTENCY_CODES@@": (
            "IDEMPOTENCY_CONCURRENT_REQUEST IDEMPOTENCY_KEY_PARAMETER_MISMATCH IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED"
            if since_2026_01
            else ""
        ),
        "@@CHANGE_FROM_CODES@@": "CHANGE_FROM_QUANTITY_STALE" if has_feature(version, "2026-04") else "",
        "@@CHANGE_FROM_FIELD@@": "changeFromQuantity: Int" if has_feature(version, "2026-04") else "",
        "@@LEVELS_INCLUDE_INACTIVE@@": ", includeInactive: Boolean = false" if has_feature(version, "2026-04") else "",
    }
    text = _SDL
    for marker, value in replacements.items():
        text = text.replace(marker, value)
    return text


SDL = sdl_for("unstable")
