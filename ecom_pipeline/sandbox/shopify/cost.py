"""Shopify's calculated query cost and the per-shop leaky bucket.

Rules (shopify.dev "GraphQL Admin API rate limits"): scalars and enums cost 0, objects 1, connections
2 + ``first``/``last`` x (cost of one node); each mutation field costs 10. ``requestedQueryCost`` is computed
statically before execution and must be available in the bucket; after execution the difference to the
``actualQueryCost`` (same rules over what was really returned) is refunded. A single query may not request more
than 1,000 points. ``pageInfo`` and edge wrappers are free here (the node is what is counted).
"""

from __future__ import annotations

import threading
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
            return MUTATION_COST * sum(1 for _ in self._fields(self.schema.mutation_type, self.operation.selection_set))
        return self._cost(self.schema.query_type, self.operation.selection_set, data)

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

    def _cost(self, owner: Any, selection_set: SelectionSetNode | None, data: Any) -> int:
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
            if data is _STATIC:
                value: Any = _STATIC
            else:
                value = data.get(node.alias.value if node.alias else name) if isinstance(data, dict) else None
                if value is None:
                    continue
            if named.name.endswith("Connection"):
                total += 2 + self._connection(named, node, value)
            elif isinstance(value, list):
                total += sum(1 + self._cost(named, node.selection_set, v) for v in value)
            else:
                total += 1 + self._cost(named, node.selection_set, value)
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
