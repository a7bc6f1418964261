"""The HTTP surface of one emulated Shopify shop (mounted by the sandbox server under ``/<shop>``).

Routes (``subpath`` is relative to the shop's site URL):

- ``POST /admin/api/<version>/graphql.json``: GraphQL Admin API (header ``X-Shopify-Access-Token``), answered
  with the schema and defaults of the version served (``versions.served_version``: a retired version falls
  forward to the oldest supported one, said in the ``X-Shopify-API-Version`` response header); anything else is
  404 ``{"errors":"Not Found"}``.
- ``GET /admin/oauth/authorize`` and ``POST /admin/oauth/access_token``: see ``oauth.py``.
- ``GET /__bulk/<token>/<file>.jsonl``: bulk operation results (a stand-in for Shopify's signed GCS URLs; no
  access token needed).
- ``POST /__staged/upload`` (multipart form) and ``PUT /__staged/upload/<token>``: the staged upload targets that
  ``stagedUploadsCreate`` hands out, where a bulk mutation's JSONL variables are uploaded (see ``bulk.py``).
- Sandbox controls (no auth): ``POST /admin/__sandbox/bulk {"next": "FAILED"|"TIMEOUT"|"EXPIRED"}``,
  ``POST /admin/__sandbox/bucket {"available": 0}`` (drain the cost bucket), ``GET /admin/__sandbox/webhooks``
  (deliveries with their attempt statuses).
- Any other ``/admin/api/...`` path (the REST Admin API) is 404 ``{"errors":"Not Found"}``: not emulated.

Each GraphQL request: parse and validate (errors answered as 200 with ``errors``, like Shopify), compute the
requested cost, refuse over 1,000 points (``MAX_COST_EXCEEDED``) or more than the bucket holds
(``THROTTLED``), execute in a worker thread under the store lock, refund requested minus actual cost, and return
``extensions.cost``.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import json
import re
import uuid
from typing import Any
from urllib.parse import parse_qsl

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLResolveInfo,
    OperationDefinitionNode,
    execute,
    parse,
    validate,
)
from graphql.error import GraphQLSyntaxError

from ecom_pipeline.sandbox.faults import FaultSwitches
from ecom_pipeline.sandbox.shop import Receive, Scope, Send, read_body
from ecom_pipeline.sandbox.shopify.bulk import BulkOperations
from ecom_pipeline.sandbox.shopify.cost import DOCS, MAX_QUERY_COST, PLANS, CostCalculator, LeakyBucket
from ecom_pipeline.sandbox.shopify.graph import RESOLVERS, Context, field_resolver, make_schema, user_error
from ecom_pipeline.sandbox.shopify.inventory_set import inventory_set_quantities
from ecom_pipeline.sandbox.shopify.oauth import OAuthServer
from ecom_pipeline.sandbox.shopify.store import (
    ShopifyStore,
    StoreError,
    gid,
    parse_gid,
    product_handle,
    product_tags,
)
from ecom_pipeline.sandbox.shopify.versions import calendar_date, served_version
from ecom_pipeline.sandbox.shopify.webhooks import WebhookHub

DEFAULT_VERSION = "2026-04"
INVALID_TOKEN = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
NOT_FOUND = {"errors": "Not Found"}
RATE_LIMITED = {
    "errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
}
GRAPHQL_RE = re.compile(r"^/admin/api/([^/]+)/graphql\.json$")

SCHEMA = make_schema()  # every feature (unstable): webhook signatures and tools that need no particular version


class ShopifyApi:
    """The ASGI-like entry point of one shop; also holds the bucket, bulk operations and webhooks."""

    def __init__(
        self,
        store: ShopifyStore,
        oauth: OAuthServer,
        faults: FaultSwitches,
        *,
        plan: str = "standard",
        objects_per_s: float = 2000.0,
        bulk_fault: str | None = None,
        api_date: str | None = None,
        mutation_lines_per_s: float | None = None,
    ) -> None:
        if plan not in PLANS:
            raise ValueError(f"unknown Shopify plan {plan!r}; known: {', '.join(PLANS)}")
        self.store = store
        self.oauth = oauth
        self.faults = faults
        rate, size, self.plan_name = PLANS[plan]
        self.bucket = LeakyBucket(size, rate, store.clock)
        # (operation type, root fields) of every executed request, so tests can tell reads from writes (every
        # GraphQL request is the same POST).
        self.operations: list[tuple[str, tuple[str, ...]]] = []
        self.api_date = api_date
        self.bulk = BulkOperations(SCHEMA, store.clock, objects_per_s, bulk_fault)
        if mutation_lines_per_s is not None:
            self.bulk.mutation_lines_per_s = max(0.1, mutation_lines_per_s)
        self.webhooks = WebhookHub(store.domain, oauth.client_secret, DEFAULT_VERSION, store.clock)
        self.webhooks.tickers.append(self.bulk.tick)
        self.bulk.on_finish.append(lambda payload: self.webhooks.on_event("bulk_operations/finish", payload))
        store.listeners.append(self.webhooks.on_event)

    # ------------------------------------------------------------------------------------------- HTTP
    async def __call__(self, scope: Scope, receive: Receive, send: Send, *, site: str, subpath: str) -> int:
        method = scope["method"]
        body = await read_body(receive)
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        match = GRAPHQL_RE.match(subpath)
        if match:
            if method != "POST":
                return await _json(send, 404, NOT_FOUND)
            return await self.graphql(scope, send, body, match.group(1), site)
        if subpath == "/admin/oauth/authorize" and method == "GET":
            status, where = self.oauth.authorize(query)
            if status == 302:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 302,
                        "headers": [(b"location", where.encode()), (b"content-length", b"0")],
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return 302
            return await _json(send, status, {"errors": where})
        if subpath == "/admin/oauth/access_token" and method == "POST":
            form = _form(scope, body) or query
            status, payload = self.oauth.access_token(form)
            return await _json(send, status, payload)
        if subpath.startswith("/__bulk/") and method == "GET":
            parts = subpath.split("/")
            if len(parts) != 4:
                return await _json(send, 404, NOT_FOUND)
            status, data, ctype = self.bulk.download(parts[2], parts[3])
            await send(
                {"type": "http.response.start", "status": status, "headers": [(b"content-type", ctype.encode())]}
            )
            await send({"type": "http.response.body", "body": data})
            return status
        if subpath == "/__staged/upload" and method == "POST":
            status, data = self.bulk.upload_form(_multipart(scope, body))
            return await _raw(send, status, data, "application/xml")
        if subpath.startswith("/__staged/upload/") and method == "PUT":
            status, data = self.bulk.upload_put(subpath.rsplit("/", 1)[-1], body)
            return await _raw(send, status, data, "application/xml")
        if subpath.startswith("/admin/__sandbox/"):
            return await self.sandbox_admin(send, method, subpath.rsplit("/", 1)[-1], body)
        return await _json(send, 404, NOT_FOUND)

    async def rate_limited(self, send: Send, wait: int) -> None:
        """The 429 Shopify sends when an app exceeds the request rate (REST-style body, ``Retry-After: 2.0``)."""
        await _json(send, 429, RATE_LIMITED, [("Retry-After", f"{float(wait)}")])

    async def sandbox_admin(self, send: Send, method: str, action: str, body: bytes) -> int:
        data = json.loads(body) if body.strip() else {}
        if action == "bulk" and method == "POST":
            nxt = data.get("next")
            if nxt not in (None, "FAILED", "TIMEOUT", "EXPIRED"):
                return await _json(send, 400, {"error": f"unknown bulk fault {nxt!r}"})
            self.bulk.fail_next = nxt
            return await _json(send, 200, {"next": nxt})
        if action == "bucket" and method == "POST":
            if "available" in data:
                self.bucket.drain(float(data["available"]))
            return await _json(send, 200, self.bucket.status())
        if action == "webhooks" and method == "GET":
            deliveries = [
                {
                    "webhook_id": d.webhook_id,
                    "topic": d.topic,
                    "uri": d.uri,
                    "state": d.state,
                    "attempts": d.attempts,
                    "statuses": d.statuses,
                }
                for d in self.webhooks.deliveries
            ]
            return await _json(send, 200, {"deliveries": deliveries})
        return await _json(send, 404, {"error": f"unknown sandbox action {action!r}"})

    # ------------------------------------------------------------------------------------------- GraphQL
    def resolve_version(self, requested: str) -> str | None:
        """The version that serves a request for ``requested`` today (None: 404)."""
        return served_version(requested, calendar_date(self.api_date))

    async def graphql(self, scope: Scope, send: Send, body: bytes, version: str, site: str) -> int:
        served = self.resolve_version(version)
        if served is None:
            return await _json(send, 404, NOT_FOUND)
        headers = [("X-Shopify-API-Version", served), ("X-Request-Id", str(uuid.uuid4()))]
        token = _header(scope, b"x-shopify-access-token")
        scopes = self.oauth.token_scopes(token)
        if scopes is None:
            return await _json(send, 401, INVALID_TOKEN, headers)
        content_type = (_header(scope, b"content-type") or "").split(";")[0].strip()
        try:
            if content_type == "application/graphql":
                payload: dict[str, Any] = {"query": body.decode()}
            else:
                payload = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return await _json(send, 400, {"errors": "Bad Request"}, headers)
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return await _json(send, 400, {"errors": {"query": "Required parameter missing or invalid"}}, headers)
        variables = payload.get("variables") or {}
        status, result = await asyncio.to_thread(
            self.run_query, payload["query"], variables, payload.get("operationName"), set(scopes), site, served
        )
        return await _json(send, status, result, headers)

    def run_query(
        self,
        source: str,
        variables: dict[str, Any],
        operation_name: str | None,
        scopes: set[str],
        site: str,
        version: str = "unstable",
    ) -> tuple[int, dict[str, Any]]:
        """Validate, price, throttle and execute one GraphQL request against ``version``'s schema."""
        schema = make_schema(version)
        try:
            document = parse(source)
        except GraphQLSyntaxError as exc:
            return 200, {"errors": [_format(exc)]}
        errors = validate(schema, document)
        if errors:
            return 200, {"errors": [_format(e) for e in errors]}
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        operation = next((o for o in operations if operation_name in (None, o.name and o.name.value)), None)
        if operation is None:
            return 200, {"errors": [{"message": "An operation name is required"}]}
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        roots = tuple(sel.name.value for sel in operation.selection_set.selections if isinstance(sel, FieldNode))
        self.operations.append((operation.operation.value, tuple(str(r) for r in roots)))
        calc = CostCalculator(schema, operation, fragments, variables)
        requested = calc.requested()
        if requested > MAX_QUERY_COST:
            message = (
                f"Query cost is {requested}, which exceeds the single query max cost limit ({MAX_QUERY_COST}).\n\n"
                "See https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\n"
                "cost of a query is calculated.\n\n"
                "To query larger amounts of data with fewer limits, bulk operations should be used instead.\n"
                "See https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.\n"
            )
            return 200, {
                "errors": [
                    {
                        "message": message,
                        "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": MAX_QUERY_COST},
                    }
                ],
            }
        if not self.bucket.take(requested):
            return 200, {
                "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED", "documentation": DOCS}}],
                "extensions": {"cost": self._cost(requested, None)},
            }
        ctx = Context(self.store, scopes, self, site, version=version)
        with self.store.lock:
            result = execute(
                schema,
                document,
                root_value=None,
                context_value=ctx,
                variable_values=variables,
                operation_name=operation_name,
                field_resolver=field_resolver,
            )
        assert isinstance(result, ExecutionResult)
        actual = calc.actual(result.data)
        self.bucket.refund(requested - actual)
        body: dict[str, Any] = {}
        if result.errors:
            body["errors"] = [_format(e) for e in result.errors]
        body["data"] = result.data
        extensions: dict[str, Any] = {"cost": self._cost(requested, actual)}
        if ctx.search:
            extensions["search"] = ctx.search
        body["extensions"] = extensions
        return 200, body

    def _cost(self, requested: int, actual: int | None) -> dict[str, Any]:
        return {"requestedQueryCost": requested, "actualQueryCost": actual, "throttleStatus": self.bucket.status()}

    def execute_bulk(self, source: str, scopes: set[str], site: str, version: str = "unstable") -> dict[str, Any]:
        """Run a bulk query without pagination limits or cost (in the bulk operation's thread)."""
        ctx = Context(self.store, scopes, self, site, bulk=True, version=version)
        with self.store.lock:
            result = execute(make_schema(version), parse(source), context_value=ctx, field_resolver=field_resolver)
        assert isinstance(result, ExecutionResult)
        return {"data": result.data, "errors": [_format(e) for e in result.errors or []]}

    def execute_bulk_line(
        self, source: str, variables: dict[str, Any], scopes: set[str], site: str, version: str = "unstable"
    ) -> dict[str, Any]:
        """One line of a bulk mutation: the mutation with that line's variables, outside the cost bucket (Shopify
        meters only the call that starts the operation)."""
        ctx = Context(self.store, scopes, self, site, bulk=True, version=version)
        with self.store.lock:
            result = execute(
                make_schema(version),
                parse(source),
                context_value=ctx,
                variable_values=variables,
                field_resolver=field_resolver,
            )
        assert isinstance(result, ExecutionResult)
        out: dict[str, Any] = {"data": result.data}
        if result.errors:
            out["errors"] = [_format(e) for e in result.errors]
        return out


# ------------------------------------------------------------------------------------------- mutations
def _services(info: GraphQLResolveInfo) -> ShopifyApi:
    return info.context.services


def _bulk_run(_: Any, info: GraphQLResolveInfo, query: str, groupObjects: bool = True) -> dict[str, Any]:
    """``groupObjects`` arrives with the served version's default (true before 2026-01, false since; versions
    without the argument always group)."""
    api = _services(info)
    ctx: Context = info.context
    op, errors = api.bulk.run(
        query,
        ctx.site,
        lambda q: api.execute_bulk(q, ctx.scopes, ctx.site, ctx.version),
        version=ctx.version,
        group=groupObjects,
    )
    return {"bulkOperation": op, "userErrors": errors}


def _bulk_run_mutation(
    _: Any, info: GraphQLResolveInfo, mutation: str, stagedUploadPath: str, clientIdentifier: str | None = None
) -> dict[str, Any]:
    """``bulkOperationRunMutation``: each line of the staged file runs ``mutation`` with the app's scopes."""
    api = _services(info)
    ctx: Context = info.context
    op, errors = api.bulk.run_mutation(
        mutation,
        stagedUploadPath,
        ctx.site,
        lambda source, variables: api.execute_bulk_line(source, variables, ctx.scopes, ctx.site, ctx.version),
        version=ctx.version,
    )
    return {"bulkOperation": op, "userErrors": errors}


def _staged_uploads_create(_: Any, info: GraphQLResolveInfo, input: list[dict[str, Any]]) -> dict[str, Any]:
    api = _services(info)
    targets: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for i, spec in enumerate(input):
        target, problem = api.bulk.stage(info.context.site, spec)
        if problem:
            errors.append({"field": ["input", str(i), "resource"], "message": problem})
        elif target is not None:
            targets.append(target)
    return {"stagedTargets": targets if not errors else None, "userErrors": errors}


def _bulk_cancel(_: Any, info: GraphQLResolveInfo, id: str) -> dict[str, Any]:
    op, errors = _services(info).bulk.cancel(id)
    return {"bulkOperation": op, "userErrors": errors}


def _webhook_create(_: Any, info: GraphQLResolveInfo, topic: str, webhookSubscription: dict[str, Any]) -> Any:
    spec = webhookSubscription
    try:
        sub = _services(info).webhooks.create(
            topic,
            spec.get("uri") or spec.get("callbackUrl"),
            spec.get("format") or "JSON",
            spec.get("includeFields"),
            spec.get("filter"),
        )
    except StoreError as exc:
        return {"webhookSubscription": None, "userErrors": [user_error(exc)]}
    return {"webhookSubscription": sub, "userErrors": []}


def _webhook_delete(_: Any, info: GraphQLResolveInfo, id: str) -> Any:
    try:
        sid = _services(info).webhooks.delete(id)
    except StoreError as exc:
        return {"deletedWebhookSubscriptionId": None, "userErrors": [user_error(exc)]}
    return {"deletedWebhookSubscriptionId": gid("WebhookSubscription", sid), "userErrors": []}


def _require_write(info: GraphQLResolveInfo, scope: str) -> None:
    ctx: Context = info.context
    if scope not in ctx.scopes:
        ctx.require(scope, info)


def _product_update(_: Any, info: GraphQLResolveInfo, product: dict[str, Any]) -> Any:
    _require_write(info, "write_products")
    store: ShopifyStore = info.context.store
    names = {
        "title": "title",
        "handle": "handle",
        "descriptionHtml": "description_html",
        "vendor": "vendor",
        "productType": "product_type",
        "status": "status",
        "tags": "tags",
    }
    changes = {names[k]: v for k, v in product.items() if k in names}
    if changes.get("handle") is not None:  # stored as Shopify stores a handle (lowercase, hyphens)
        changes["handle"] = product_handle(changes["handle"]) or None
    if "tags" in changes:  # kept as Shopify keeps them; a tag over 255 characters refuses the write
        tags, errors = product_tags(changes["tags"], ["product", "tags"])
        if errors:
            return {"product": None, "userErrors": [{"field": e["field"], "message": e["message"]} for e in errors]}
        changes["tags"] = tags
    try:
        record = store.update_product(product["id"], **changes)
    except (StoreError, ValueError) as exc:
        err = exc if isinstance(exc, StoreError) else StoreError(str(exc), "INVALID", ["id"])
        return {"product": None, "userErrors": [{"field": err.field, "message": err.message}]}
    return {"product": record, "userErrors": []}


def _collection_create(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> Any:
    """``collectionCreate``: needs ``write_products``; a ``ruleSet`` makes a smart collection, none a custom one
    (``products`` added at once); a blank title is a userError (``field: ["title"]``), nothing created."""
    _require_write(info, "write_products")
    store: ShopifyStore = info.context.store
    rule_set = input.get("ruleSet")
    rules = [dict(r) for r in (rule_set or {}).get("rules") or []] if rule_set is not None else None
    product_ids: list[int] = []
    for value in input.get("products") or []:
        try:
            product_ids.append(store.product(value).id)
        except (StoreError, ValueError):
            return {"collection": None, "userErrors": [{"field": ["products"], "message": "Product does not exist"}]}
    collection, errors = store.create_collection(input.get("title"), rules=rules, product_ids=product_ids)
    if collection is not None and rule_set is not None:
        collection.applied_disjunctively = bool(rule_set.get("appliedDisjunctively"))
    return {"collection": collection, "userErrors": errors}


def _product_set(
    _: Any,
    info: GraphQLResolveInfo,
    input: dict[str, Any],
    identifier: dict[str, Any] | None = None,
    synchronous: bool = True,
) -> Any:
    """``productSet``: needs ``write_products``; ``userErrors`` carry ``ProductSetUserErrorCode`` codes and, like
    Shopify's, a null product; webhooks ``products/create`` or ``products/update`` follow the write."""
    _require_write(info, "write_products")
    product, errors = info.context.store.set_product(identifier, input)
    return {"product": product, "userErrors": errors}


def _no_such_product() -> dict[str, Any]:
    """What both bulk variant mutations answer for an unknown ``productId`` (Shopify's userError, no data)."""
    return {
        "product": None,
        "productVariants": None,
        "userErrors": [{"field": ["productId"], "message": "Product does not exist", "code": "PRODUCT_DOES_NOT_EXIST"}],
    }


def _variants_bulk_create(
    _: Any, info: GraphQLResolveInfo, productId: str, variants: list[dict[str, Any]], strategy: str = "DEFAULT"
) -> Any:
    """``productVariantsBulkCreate``: needs ``write_products``; all or none, errors indexed by variant."""
    _require_write(info, "write_products")
    store: ShopifyStore = info.context.store
    try:
        store.product(productId)
    except (StoreError, ValueError):
        return _no_such_product()
    created, errors = store.add_variants(productId, variants)
    return {
        "product": store.product(productId),
        "productVariants": created if not errors else None,
        "userErrors": errors,
    }


def _variants_bulk_delete(_: Any, info: GraphQLResolveInfo, productId: str, variantsIds: list[str]) -> Any:
    """``productVariantsBulkDelete``: needs ``write_products``; all or none (see ``ShopifyStore.delete_variants``)."""
    _require_write(info, "write_products")
    store: ShopifyStore = info.context.store
    try:
        store.product(productId)
    except (StoreError, ValueError):
        return {"product": None, "userErrors": _no_such_product()["userErrors"]}
    errors = store.delete_variants(productId, variantsIds)
    return {"product": None if errors else store.product(productId), "userErrors": errors}


def _variants_bulk_update(
    _: Any, info: GraphQLResolveInfo, productId: str, variants: list[dict[str, Any]], allowPartialUpdates: bool = False
) -> Any:
    _require_write(info, "write_products")
    store: ShopifyStore = info.context.store
    try:
        product = store.product(productId)
    except (StoreError, ValueError):
        return _no_such_product()
    errors = []
    for i, spec in enumerate(variants):
        if not spec.get("id"):
            errors.append(
                {
                    "field": ["variants", str(i), "id"],
                    "message": "Product variant id is missing",
                    "code": "PRODUCT_VARIANT_ID_MISSING",
                }
            )
            continue
        try:
            vid = parse_gid(spec["id"], "ProductVariant")
        except ValueError:
            vid = -1
        if vid not in product.variant_ids:
            errors.append(
                {
                    "field": ["variants", str(i), "id"],
                    "message": "Product variant does not exist",
                    "code": "PRODUCT_VARIANT_DOES_NOT_EXIST",
                }
            )
        elif spec.get("price") is not None and float(spec["price"]) < 0:
            errors.append(
                {
                    "field": ["variants", str(i), "price"],
                    "message": "Price must be greater than or equal to 0",
                    "code": "GREATER_THAN_OR_EQUAL_TO",
                }
            )
    if errors and not allowPartialUpdates:
        return {"product": product, "productVariants": None, "userErrors": errors}
    updated = []
    for spec in variants:
        try:
            vid = parse_gid(spec.get("id") or "", "ProductVariant")
        except ValueError:
            continue
        if vid not in product.variant_ids:
            continue
        changes: dict[str, Any] = {}
        for src, dst in (
            ("price", "price"),
            ("compareAtPrice", "compare_at_price"),
            ("barcode", "barcode"),
            ("taxable", "taxable"),
            ("inventoryPolicy", "inventory_policy"),
        ):
            if src in spec:
                changes[dst] = spec[src]
        if spec.get("inventoryItem") and "sku" in spec["inventoryItem"]:
            changes["sku"] = spec["inventoryItem"]["sku"]
        if spec.get("inventoryItem") and "measurement" in spec["inventoryItem"]:
            changes["inventory_item"] = spec["inventoryItem"]
        updated.append(store.update_variant(vid, **changes))
    return {"product": product, "productVariants": updated, "userErrors": errors}


def _inventory_set(root: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> Any:
    _require_write(info, "write_inventory")
    return inventory_set_quantities(root, info, input)


def _order_cancel(
    _: Any,
    info: GraphQLResolveInfo,
    orderId: str,
    reason: str,
    restock: bool,
    notifyCustomer: bool = False,
    refundMethod: dict[str, Any] | None = None,
    staffNote: str | None = None,
) -> Any:
    """``orderCancel`` (``write_orders``): ``restock`` as "Restock items" (``ShopifyStore.cancel_order``); refunds
    the money only with ``refundMethod.originalPaymentMethodsRefund``. Shopify cancels in a job; the emulator has
    done it when it answers (``job.done`` true). Refusals are ``orderCancelUserErrors`` (and the deprecated
    ``userErrors``), nothing cancelled."""
    _require_write(info, "write_orders")
    store: ShopifyStore = info.context.store
    refund = bool((refundMethod or {}).get("originalPaymentMethodsRefund"))
    try:
        store.cancel_order(orderId, restock=restock, reason=reason, refund=refund, staff_note=staffNote)
    except StoreError as exc:
        field = ["orderId"] if exc.code == "NOT_FOUND" else exc.field
        error = {"field": field, "message": exc.message}
        return {"job": None, "orderCancelUserErrors": [{**error, "code": exc.code}], "userErrors": [error]}
    job = {"id": f"gid://shopify/Job/{uuid.uuid4()}", "done": True}
    return {"job": job, "orderCancelUserErrors": [], "userErrors": []}


RESOLVERS.update(
    {
        ("Mutation", "orderCancel"): _order_cancel,
        ("Mutation", "bulkOperationRunQuery"): _bulk_run,
        ("Mutation", "bulkOperationCancel"): _bulk_cancel,
        ("Mutation", "bulkOperationRunMutation"): _bulk_run_mutation,
        ("Mutation", "stagedUploadsCreate"): _staged_uploads_create,
        ("Mutation", "webhookSubscriptionCreate"): _webhook_create,
        ("Mutation", "webhookSubscriptionDelete"): _webhook_delete,
        ("Mutation", "productUpdate"): _product_update,
        ("Mutation", "productSet"): _product_set,
        ("Mutation", "collectionCreate"): _collection_create,
        ("Mutation", "productVariantsBulkCreate"): _variants_bulk_create,
        ("Mutation", "productVariantsBulkUpdate"): _variants_bulk_update,
        ("Mutation", "productVariantsBulkDelete"): _variants_bulk_delete,
        ("Mutation", "inventorySetQuantities"): _inventory_set,
    }
)


# ------------------------------------------------------------------------------------------- helpers
def _format(error: GraphQLError) -> dict[str, Any]:
    out = error.formatted
    if not out.get("extensions"):
        out.pop("extensions", None)
    return dict(out)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def _form(scope: Scope, body: bytes) -> dict[str, str]:
    content_type = (_header(scope, b"content-type") or "").split(";")[0].strip()
    if content_type == "application/json":
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return {}
        return {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def _multipart(scope: Scope, body: bytes) -> list[tuple[str, bytes]]:
    """The fields of a ``multipart/form-data`` body, in order (stdlib email parser: no extra dependency)."""
    content_type = _header(scope, b"content-type") or ""
    if not content_type.startswith("multipart/form-data"):
        return []
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    fields: list[tuple[str, bytes]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if name:
            fields.append((str(name), payload if isinstance(payload, bytes) else b""))
    return fields


async def _raw(send: Send, status: int, body: bytes, content_type: str) -> int:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return status


async def _json(send: Send, status: int, body: Any, headers: list[tuple[str, str]] | None = None) -> int:
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    out = [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(raw)).encode())]
    out += [(k.encode(), v.encode()) for k, v in headers or []]
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": raw})
    return status
