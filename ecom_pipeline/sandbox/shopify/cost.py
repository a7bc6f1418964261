"""Shopify's calculated query cost and the per-shop leaky bucket.

Rules, from shopify.dev "GraphQL Admin API rate limits"
(https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits, "Cost calculation": "Every field in the schema
has an integer cost value assigned to it. [...] By default, a field's cost is based on what the field returns":
Scalar 0, Enum 0, Object 1, Interface and Union the maximum of the possible selections), and Shopify's engineering
post on the same model (https://shopify.engineering/rate-limiting-graphql-apis-calculating-query-complexity:
connections cost two points plus the objects they return, mutations ten points):

- scalars and enums cost 0, objects 1, connections 2 + ``first``/``last`` x (cost of one node);
- a mutation field costs 10 plus what its payload selects below the payload's own fields, priced by the same
  rules: the 10 covers the payload and the objects directly on it (``product``, ``userErrors``, ``bulkOperation``),
  while what those select costs as in a query (``product { variants(first: 100) { nodes { inventoryItem { id } } } }``
  = 10 + 2 + 100 x 2). The page states only "Mutation 10"; the split is what fits every mutation cost shopify.dev
  prints: its bulk-imports guide (https://shopify.dev/docs/api/usage/bulk-operations/imports) answers
  ``stagedUploadsCreate { userErrors { field message } stagedTargets { url resourceUrl parameters { name value } } }``
  with requested = actual = 11 (10 + the nested ``parameters`` list, once: a plain list of objects is not sized
  like a connection, and the 9 parameters returned cost what the requested list did),
  ``bulkOperationRunMutation { bulkOperation { id url status } userErrors { message field } }`` with 10, and
  ``webhookSubscriptionCreate { userErrors { field message } webhookSubscription { id } }`` with 10
  (``test_cost.py`` checks all three);
- some mutations have an input-dependent base instead of the flat 10 ("dynamic complexity", shopify.dev changelog,
  October 2025; see :func:`mutation_base_cost`): ``productSet``
  (https://shopify.dev/changelog/dynamic-complexity-cost-for-productset-mutation: "10 + (variants x 0.2) +
  (variant_files x 0.6) + (variant_metafields x 0.4) + (product_metafields x 0.4) + (product_files x 1.9)", with the
  worked examples 1 variant = 10, 20 variants and 5 product metafields = 16, 200 variants, 10 files and 20
  metafields = 77), ``productVariantsBulkCreate``/``productVariantsBulkUpdate``
  (https://shopify.dev/changelog/dynamic-complexity-for-productvariantsbulkcreate-and-productvariantsbulkupdate-mutations:
  "10 + (variants x 0.2) + (variant_media x 0.6) + (variant_metafields x 0.4) + (product_media x 1.9)") and
  ``productCreate``/``productUpdate``
  (https://shopify.dev/changelog/dynamic-complexity-cost-for-productcreate-and-productupdate-mutations:
  "10 + (product_metafields x 0.4) + (product_media x 1.9)"). The changelog's costs are whole points; the fraction is
  rounded to the nearest point here (10.2 -> 10, as its 1-variant example says; the changelog does not say how a
fraction such as 10.6 is rounded).

``requestedQueryCost`` is computed statically before execution (connections at their ``first``/``last``) and must be
available in the bucket; after execution ``actualQueryCost`` is the same rules over what was really returned
(connections by the nodes returned, a null object 0; a mutation's input-dependent base is charged in both), and the
difference is refunded. A single query may not request more than 1,000 points. ``pageInfo`` and edge wrappers are
free here (the node is what is counted). The only cost sample in the shared fixtures
(``platform-samples/shopify/graphql_cost_and_throttle_synthetic.json``: ``shop { name }`` = 1, and the THROTTLED
shape) is matched by ``test_cost.py`` and ``test_graphql.py``. Not modelled: the per-field costs Shopify defines
beyond these defaults (visible with the ``X-GraphQL-Cost-Include-Fields`` header), which make some real queries
cheaper than the rules say.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    value_from_ast_untyped,
)

from ecom_pipeline.sandbox.clock import SandboxClock

MAX_QUERY_COST = 1000
MUTATION_COST = 10
DOCS = "https://shopify.dev/api/usage/rate-limits"

# plan -> (restore rate points/s, bucket size), shopify.dev rate limits page.
PLANS: dict[str, tuple[float, float, str]] = {
    "standard": (100.0, 2000.0, "Basic"),
    "advanced": (200.0, 4000.0, "Advanced"),
    "plus": (1000.0, 20000.0, "Shopify Plus"),
    "enterprise": (2000.0, 40000.0, "Commerce Components"),
}

_STATIC = object()

# Input-dependent ("dynamic complexity") mutation bases, in tenths of a point per counted input item: see the module
# docstring for the changelog entries. Keys are what :func:`_input_counts` counts.
_DYNAMIC_TENTHS: dict[str, dict[str, int]] = {
    "productSet": {
        "variants": 2,
        "variant_files": 6,
        "variant_metafields": 4,
        "product_metafields": 4,
        "product_files": 19,
    },
    "productVariantsBulkCreate": {"variants": 2, "variant_media": 6, "variant_metafields": 4, "product_media": 19},
    "productVariantsBulkUpdate": {"variants": 2, "variant_media": 6, "variant_metafields": 4, "product_media": 19},
    "productCreate": {"product_metafields": 4, "product_media": 19},
    "productUpdate": {"product_metafields": 4, "product_media": 19},
}


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _input_counts(mutation: str, args: Mapping[str, Any]) -> dict[str, int]:
    """What a dynamic-complexity mutation's input holds, by the changelog's names."""
    if mutation == "productSet":
        product = args.get("input") or args.get("product") or {}
        product = product if isinstance(product, Mapping) else {}
        variants = [v for v in _items(product.get("variants")) if isinstance(v, Mapping)]
        return {
            "variants": len(variants),
            "variant_files": sum(1 for v in variants if v.get("file"))
            + sum(len(_items(v.get("files"))) for v in variants),
            "variant_metafields": sum(len(_items(v.get("metafields"))) for v in variants),
            "product_metafields": len(_items(product.get("metafields"))),
            "product_files": len(_items(product.get("files"))),
        }
    if mutation in ("productVariantsBulkCreate", "productVariantsBulkUpdate"):
        variants = [v for v in _items(args.get("variants")) if isinstance(v, Mapping)]
        return {
            "variants": len(variants),
            "variant_media": sum(len(_items(v.get("mediaSrc"))) + (1 if v.get("mediaId") else 0) for v in variants),
            "variant_metafields": sum(len(_items(v.get("metafields"))) for v in variants),
            "product_media": len(_items(args.get("media"))),
        }
    if mutation in ("productCreate", "productUpdate"):
        product = args.get("product") or args.get("input") or {}
        product = product if isinstance(product, Mapping) else {}
        return {
            "product_metafields": len(_items(product.get("metafields"))),
            "product_media": len(_items(args.get("media"))),
        }
    return {}


def _answered(data: Any, node: FieldNode) -> Any:
    """What the answer ``data`` holds for the field ``node`` (under its alias, if any): ``_STATIC`` when costing a
    request before it runs (every field counts at its bound), None when the answer has none (it costs nothing)."""
    if data is _STATIC:
        return _STATIC
    return data.get(node.alias.value if node.alias else node.name.value) if isinstance(data, dict) else None


def mutation_base_cost(mutation: str, args: Mapping[str, Any]) -> int:
    """A mutation field's own cost before its payload selection: 10, or the documented input-dependent cost."""
    weights = _DYNAMIC_TENTHS.get(mutation)
    if weights is None:
        return MUTATION_COST
    counts = _input_counts(mutation, args)
    tenths = MUTATION_COST * 10 + sum(weights[name] * counts.get(name, 0) for name in weights)
    return (tenths + 5) // 10  # whole points, to the nearest (10.2 -> 10, 10.6 -> 11)


class LeakyBucket:
    """Points refill continuously at ``rate`` up to ``maximum``; time comes from the sandbox clock."""

    def __init__(self, maximum: float, rate: float, clock: SandboxClock) -> None:
        self.maximum = maximum
        self.rate = rate
        self.clock = clock
        self.available = maximum
        self._at = clock.time()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self.clock.time()
        if now > self._at:
            self.available = min(self.maximum, self.available + (now - self._at) * self.rate)
        self._at = now

    def take(self, cost: int) -> bool:
        """Deduct ``cost`` if available; False (nothing deducted) when the request must be throttled."""
        with self._lock:
            self._refill()
            if cost > self.available:
                return False
            self.available -= cost
            return True

    def refund(self, points: int) -> None:
        with self._lock:
            self._refill()
            self.available = min(self.maximum, self.available + max(0, points))

    def drain(self, to: float = 0.0) -> None:
        """Empty the bucket (tests and the ``/admin/__sandbox/bucket`` endpoint)."""
        with self._lock:
            self._refill()
            self.available = max(0.0, min(self.maximum, to))

    def status(self) -> dict[str, Any]:
        with self._lock:
            self._refill()
            return {
                "maximumAvailable": float(self.maximum),
                "currentlyAvailable": int(self.available),
                "restoreRate": float(self.rate),
            }


class CostCalculator:
    """Requested (static) and actual (from the result) cost of one operation."""

    def __init__(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> None:
        self.schema = schema
        self.operation = operation
        self.fragments = fragments
        self.variables = variables

    def requested(self) -> int:
        return self._root(_STATIC)

    def actual(self, data: Any) -> int:
        return self._root(data if isinstance(data, dict) else {})

    def _root(self, data: Any) -> int:
        if self.operation.operation.value == "mutation":
            return self._mutation(data)
        return self._cost(self.schema.query_type, self.operation.selection_set, data)

    def _mutation(self, data: Any) -> int:
        """Each mutation field: its base (10 or input-dependent) plus its payload's selection below the payload's own
        fields (the 10 covers the payload and its direct objects, e.g. ``product``, ``userErrors``; what they select
        is priced as in a query); actual = the same over the payload returned (a null payload: the base only)."""
        total = 0
        mutation_type = self.schema.mutation_type
        for _owner, node in self._fields(mutation_type, self.operation.selection_set):
            name = node.name.value
            if name.startswith("__") or mutation_type is None:
                continue
            args = {arg.name.value: value_from_ast_untyped(arg.value, self.variables) for arg in node.arguments}
            total += mutation_base_cost(name, args)
            fdef = mutation_type.fields.get(name)
            if fdef is None:
                continue
            payload_type = get_named_type(fdef.type)
            value = _answered(data, node)
            if value is None:
                continue
            total += self._cost(payload_type, node.selection_set, value, own=0)
        return total

    def _fields(self, owner: Any, selection_set: SelectionSetNode | None) -> Any:
        if selection_set is None:
            return
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                yield owner, sel
            elif isinstance(sel, InlineFragmentNode):
                cond = self.schema.get_type(sel.type_condition.name.value) if sel.type_condition else owner
                yield from self._fields(cond, sel.selection_set)
            elif isinstance(sel, FragmentSpreadNode):
                frag = self.fragments.get(sel.name.value)
                if frag is not None:
                    yield from self._fields(self.schema.get_type(frag.type_condition.name.value), frag.selection_set)

    def _arg(self, node: FieldNode, name: str) -> Any:
        for arg in node.arguments:
            if arg.name.value == name:
                return value_from_ast_untyped(arg.value, self.variables)
        return None

    def _cost(self, owner: Any, selection_set: SelectionSetNode | None, data: Any, own: int = 1) -> int:
        """``own``: what each object (not connection) field directly in this selection costs itself (1; 0 for a
        mutation payload's own fields, which the mutation's 10 covers)."""
        total = 0
        for field_owner, node in self._fields(owner, selection_set):
            name = node.name.value
            if name.startswith("__") or not isinstance(field_owner, GraphQLObjectType | GraphQLInterfaceType):
                continue
            fdef = field_owner.fields.get(name)
            if fdef is None:
                continue
            named = get_named_type(fdef.type)
            if not isinstance(named, GraphQLObjectType | GraphQLInterfaceType) or named.name == "PageInfo":
                continue
            value = _answered(data, node)
            if value is None:
                continue
            if named.name.endswith("Connection"):
                total += 2 + self._connection(named, node, value)
            elif isinstance(value, list):
                # A plain list of objects is not sized like a connection: the field costs its object once, requested
                # and actual alike (shopify.dev's stagedUploadsCreate sample: 9 ``parameters`` returned, actual 11).
                total += own + max((self._cost(named, node.selection_set, v) for v in value), default=0)
            else:
                total += own + self._cost(named, node.selection_set, value)
        return total

    def _connection(self, conn_type: GraphQLObjectType | GraphQLInterfaceType, node: FieldNode, value: Any) -> int:
        node_type = get_named_type(conn_type.fields["nodes"].type)
        edge_type = get_named_type(conn_type.fields["edges"].type)
        best = 0
        for _owner, sub in self._fields(conn_type, node.selection_set):
            if sub.name.value == "nodes":
                selections: list[tuple[Any, str | None]] = [(sub.selection_set, None)]
                key = sub.alias.value if sub.alias else "nodes"
            elif sub.name.value == "edges":
                selections = [
                    (edge_sub.selection_set, edge_sub.alias.value if edge_sub.alias else "node")
                    for _, edge_sub in self._fields(edge_type, sub.selection_set)
                    if edge_sub.name.value == "node"
                ]
                key = sub.alias.value if sub.alias else "edges"
            else:
                continue
            for sel, node_key in selections:
                if value is _STATIC:
                    size = self._arg(node, "first") or self._arg(node, "last") or 0
                    cost = int(size) * (1 + self._cost(node_type, sel, _STATIC))
                else:
                    items = value.get(key) or [] if isinstance(value, dict) else []
                    if node_key is not None:
                        items = [e.get(node_key) for e in items if isinstance(e, dict)]
                    cost = sum(1 + self._cost(node_type, sel, item) for item in items if item is not None)
                best = max(best, cost)
        return best
