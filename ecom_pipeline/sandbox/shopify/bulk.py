"""Bulk query operations: CREATED -> RUNNING -> COMPLETED over clock time, JSONL results.

How many may run at once depends on the API version served when starting one: one bulk query per app and shop
before 2026-01 (``OPERATION_IN_PROGRESS``), up to five from 2026-01 (``LIMIT_REACHED`` beyond).

The query runs without pagination limits in a background thread as soon as the operation is created (a
snapshot; Shopify reads while running). Its status is derived from the sandbox clock: RUNNING after
``START_DELAY_S``, COMPLETED after ``objectCount / objects_per_s`` more seconds (and once the snapshot is
ready), so tests drive it with ``clock.advance``. Results are JSONL with nested connections flattened into
their own lines carrying ``__parentId``. With ``groupObjects`` (the default before 2026-01) each parent is followed
by its children; without it (the 2026-01 default) the lines are not grouped: here every top-level object first,
then the children, so a reader that relies on the grouping fails as it would on a real shop.

Bulk **mutations** (``bulkOperationRunMutation``) read their variables from a file staged first: ``stagedUploadsCreate``
(resource ``BULK_MUTATION_VARIABLES``) answers an upload target on the emulator (``POST <site>/__staged/upload``, a
multipart form as Google Cloud Storage takes it, the file field last; or ``PUT <site>/__staged/upload/<token>``)
whose ``key`` parameter is the ``stagedUploadPath``. The mutation (one root field) runs once per JSONL line in the
operation's thread, under the store lock line by line, so webhooks of the writes follow; the status is RUNNING
until ``START_DELAY_S + lines / mutation_lines_per_s`` clock seconds have passed (default 50 lines/s: Shopify
publishes no throughput, so this is an assumption, set per shop with ``ShopSpec.options["bulk_mutation_lines_per_s"]``).
The result file has one line per input line, ``{"data": ..., "__lineNumber": n}`` (``errors`` instead of ``data`` for
a line the GraphQL layer refused), in input order. Limits as Shopify's: one operation of each type at a time before
2026-01 (``OPERATION_IN_PROGRESS``), five of each from 2026-01 (``LIMIT_REACHED``); ``NO_SUCH_FILE`` for a path never
uploaded, ``INVALID_STAGED_UPLOAD_FILE`` for a line that is not a JSON object, ``INVALID_MUTATION`` for anything but
one mutation with one root field (and never a bulk mutation itself).

Faults (``ShopSpec.options["bulk_fault"]``, ``api.bulk.fail_next = ...`` or
``POST <site>/admin/__sandbox/bulk {"next": ...}``), applied to the next operation only:

- ``"FAILED"``: ends FAILED with ``errorCode: INTERNAL_SERVER_ERROR``, no ``url``, a ``partialDataUrl`` with
  the first half of the lines;
- ``"TIMEOUT"``: ends FAILED with ``errorCode: TIMEOUT``;
- ``"EXPIRED"``: completes with a ``url`` that answers 403 (an expired signed URL); the operation then reports
  EXPIRED. Any operation also turns EXPIRED 7 days (clock) after completion, like Shopify.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    get_named_type,
    parse,
    validate,
)
from graphql.error import GraphQLSyntaxError

from ecom_pipeline.sandbox.clock import SandboxClock
from ecom_pipeline.sandbox.shopify.graph import make_schema
from ecom_pipeline.sandbox.shopify.store import gid, parse_gid
from ecom_pipeline.sandbox.shopify.versions import has_feature

START_DELAY_S = 1.0
RESULT_TTL_S = 7 * 86_400
MAX_CONNECTIONS = 5
MAX_DEPTH = 2
MAX_CONCURRENT = 5  # bulk operations of each type per app and shop, from 2026-01 (one before)
MUTATION_LINES_PER_S = 50.0  # an assumption (Shopify publishes no bulk mutation throughput)
NOT_RUNNABLE_IN_BULK = ("bulkOperationRunMutation", "bulkOperationRunQuery", "stagedUploadsCreate")


class RenderedOperation(dict[str, Any]):
    """A rendered ``BulkOperation`` that ``node(id:)`` can resolve (the Node interface reads ``KIND``)."""

    KIND = "BulkOperation"


@dataclass
class StagedFile:
    """One staged upload target: the key is the ``stagedUploadPath``; ``data`` is None until uploaded."""

    key: str
    token: str
    mime_type: str
    data: bytes | None = None


@dataclass
class BulkOperation:
    KIND = "BulkOperation"
    id: int
    query: str
    created_at: float
    site: str
    fault: str | None
    token: str
    type: str = "QUERY"
    lines: list[bytes] = field(default_factory=list)
    root_count: int = 0
    ready: threading.Event = field(default_factory=threading.Event)
    canceled_at: float | None = None
    url_fetched_expired: bool = False
    crashed: str | None = None
    version: str = "unstable"
    group: bool = True
    input_lines: int = 0
    executed_s: float = 0.0  # real seconds the emulator spent running a bulk mutation's lines (benchmarks read it)


class BulkOperations:
    """The bulk operations of one shop."""

    def __init__(
        self,
        schema: GraphQLSchema,
        clock: SandboxClock,
        objects_per_s: float,
        fault: str | None,
        mutation_lines_per_s: float = MUTATION_LINES_PER_S,
    ) -> None:
        self.schema = schema
        self.clock = clock
        self.objects_per_s = max(1.0, objects_per_s)
        self.mutation_lines_per_s = max(0.1, mutation_lines_per_s)
        self.staged: dict[str, StagedFile] = {}
        self.fail_next = fault
        self.ops: dict[int, BulkOperation] = {}
        self._next_id = 4_100_000_000
        self._lock = threading.Lock()
        self.on_finish: list[Callable[[dict[str, Any]], None]] = []
        self._finished: set[int] = set()

    # --------------------------------------------------------------------------------------- status
    def _times(self, op: BulkOperation) -> tuple[float, float]:
        run_at = op.created_at + START_DELAY_S
        if op.type == "MUTATION":
            return run_at, run_at + max(1.0, op.input_lines / self.mutation_lines_per_s)
        return run_at, run_at + max(1.0, len(op.lines) / self.objects_per_s)

    def status(self, op: BulkOperation) -> tuple[str, float | None]:
        """(status, completedAt epoch) at the current clock time."""
        now = self.clock.time()
        run_at, done_at = self._times(op)
        if op.canceled_at is not None:
            return "CANCELED", op.canceled_at
        if now < run_at:
            return "CREATED", None
        if not op.ready.is_set() or now < done_at:
            return "RUNNING", None
        if op.crashed or op.fault in ("FAILED", "TIMEOUT"):
            return "FAILED", done_at
        if op.url_fetched_expired or now >= done_at + RESULT_TTL_S:
            return "EXPIRED", done_at
        return "COMPLETED", done_at

    def render(self, op: BulkOperation | None) -> RenderedOperation | None:
        """The GraphQL ``BulkOperation`` object."""
        if op is None:
            return None
        status, completed = self.status(op)
        done = status in ("COMPLETED", "FAILED", "EXPIRED", "CANCELED")
        error = None
        if status == "FAILED":
            error = "TIMEOUT" if op.fault == "TIMEOUT" else "INTERNAL_SERVER_ERROR"
        url = partial = None
        size = None
        if status == "COMPLETED" and op.lines:
            url = f"{op.site}/__bulk/{op.token}/bulk-{op.id}.jsonl?X-Goog-Algorithm=GOOG4-RSA-SHA256" + (
                f"&X-Goog-Expires=604800&X-Goog-Signature={op.token}"
            )
            size = sum(len(line) for line in op.lines)
        if status == "FAILED" and op.lines and op.fault == "FAILED":
            partial = f"{op.site}/__bulk/{op.token}/partial-{op.id}.jsonl?X-Goog-Signature={op.token}"
        return RenderedOperation(
            {
                "id": gid("BulkOperation", op.id),
                "status": status,
                "errorCode": error,
                "objectCount": self._progress(op) if status == "RUNNING" else len(op.lines) if done else 0,
                "rootObjectCount": op.root_count if done else 0,
                "fileSize": size,
                "url": url,
                "partialDataUrl": partial,
                "createdAt": int(op.created_at),
                "completedAt": int(completed) if completed is not None else None,
                "query": op.query,
                "type": op.type,
            }
        )

    def _progress(self, op: BulkOperation) -> int:
        """Objects done so far while RUNNING: they grow with clock time, as Shopify's ``objectCount`` does."""
        run_at, done_at = self._times(op)
        total = op.input_lines if op.type == "MUTATION" else len(op.lines)
        share = (self.clock.time() - run_at) / max(done_at - run_at, 1e-9)
        return max(0, min(total - 1, int(total * share))) if total else 0

    def current(self, type: str = "QUERY") -> dict[str, Any] | None:
        """The newest operation of ``type`` (``currentBulkOperation(type:)``)."""
        with self._lock:
            mine = [i for i, op in self.ops.items() if op.type == type]
            op = self.ops[max(mine)] if mine else None
        return self.render(op)

    def get(self, ident: str) -> dict[str, Any] | None:
        try:
            return self.render(self.ops.get(parse_gid(ident, "BulkOperation")))
        except ValueError:
            return None

    def tick(self) -> None:
        """Fire ``bulk_operations/finish`` for operations that finished since the last tick."""
        for op in list(self.ops.values()):
            if op.id in self._finished:
                continue
            status, _completed = self.status(op)
            if status in ("COMPLETED", "FAILED", "CANCELED", "EXPIRED"):
                self._finished.add(op.id)
                rendered: dict[str, Any] = self.render(op) or {}
                payload = {
                    "admin_graphql_api_id": gid("BulkOperation", op.id),
                    "completed_at": rendered.get("completedAt"),
                    "created_at": rendered.get("createdAt"),
                    "error_code": (rendered.get("errorCode") or "").lower() or None,
                    "status": status.lower(),
                    "type": op.type.lower(),
                }
                for listener in self.on_finish:
                    listener(payload)

    # --------------------------------------------------------------------------------------- admission
    def _busy(self, *, op_type: str, version: str) -> dict[str, Any] | None:
        """The userError refusing a new ``op_type`` ("QUERY" or "MUTATION") operation, None when one may start.

        Shopify counts queries and mutations apart, with one rule: one running operation of the kind per app and
        shop before 2026-01 (``OPERATION_IN_PROGRESS``), ``MAX_CONCURRENT`` since (``LIMIT_REACHED``). Called with
        :attr:`_lock` held, so the check and the start are one step.
        """
        active = [op for op in self.ops.values() if op.type == op_type and self.status(op)[0] in ("CREATED", "RUNNING")]
        kind = op_type.lower()
        if has_feature(version, "2026-01"):
            if len(active) < MAX_CONCURRENT:
                return None
            message = f"A maximum of {MAX_CONCURRENT} bulk {kind} operations can run at the same time per app and shop."
            return {"field": None, "message": message, "code": "LIMIT_REACHED"}
        if not active:
            return None
        message = (
            f"A bulk {kind} operation for this app and shop is already in progress: "
            f"{gid('BulkOperation', active[0].id)}."
        )
        return {"field": None, "message": message, "code": "OPERATION_IN_PROGRESS"}

    def _start(
        self,
        op_type: str,
        document: str,
        token_seed: str,
        site: str,
        version: str,
        work: Callable[[BulkOperation], None],
        **fields: Any,
    ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """Admit and register a new ``op_type`` operation (taking the armed fault), then run ``work`` on it in a
        thread; returns (BulkOperation, userErrors) as both ``bulkOperationRun*`` mutations answer."""
        with self._lock:
            if (busy := self._busy(op_type=op_type, version=version)) is not None:
                return None, [busy]
            self._next_id += 1
            token = hashlib.sha256(f"{self._next_id}:{token_seed}".encode()).hexdigest()[:40]
            op = BulkOperation(
                self._next_id,
                document,
                self.clock.time(),
                site,
                self.fail_next,
                token,
                type=op_type,
                version=version,
                **fields,
            )
            self.fail_next = None
            self.ops[op.id] = op
        threading.Thread(target=work, args=(op,), name=f"bulk-{op.id}", daemon=True).start()
        return self.render(op), []

    # --------------------------------------------------------------------------------------- run
    def run(
        self,
        query: str,
        site: str,
        execute: Callable[[str], dict[str, Any]],
        *,
        version: str = "unstable",
        group: bool = True,
    ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """Start an operation; returns (BulkOperation, userErrors) as ``bulkOperationRunQuery`` does."""
        problem = self.check_query(query, make_schema(version))
        if problem:
            return None, [{"field": ["query"], "message": problem, "code": "INVALID"}]
        return self._start("QUERY", query, query, site, version, lambda op: self._execute(op, execute), group=group)

    # --------------------------------------------------------------------------------------- mutations
    def stage(self, site: str, spec: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
        """One ``stagedUploadsCreate`` target for ``spec`` (a ``StagedUploadInput``): (target, error message)."""
        if spec.get("resource") != "BULK_MUTATION_VARIABLES":
            return None, f"the emulator stages only BULK_MUTATION_VARIABLES, not {spec.get('resource')}"
        token = uuid.uuid4().hex
        key = f"tmp/sandbox/bulk/{uuid.uuid4()}/{spec.get('filename') or 'variables.jsonl'}"
        staged = StagedFile(key=key, token=token, mime_type=str(spec.get("mimeType") or "text/jsonl"))
        with self._lock:
            self.staged[key] = staged
        if (spec.get("httpMethod") or "PUT") == "PUT":
            params = [{"name": "content_type", "value": staged.mime_type}, {"name": "acl", "value": "private"}]
            return {"url": f"{site}/__staged/upload/{token}", "resourceUrl": None, "parameters": params}, None
        policy = base64.b64encode(json.dumps({"conditions": [{"key": key}]}).encode()).decode()
        params = [
            {"name": "Content-Type", "value": staged.mime_type},
            {"name": "success_action_status", "value": "201"},
            {"name": "acl", "value": "private"},
            {"name": "key", "value": key},
            {"name": "x-goog-date", "value": "20260101T000000Z"},
            {"name": "x-goog-credential", "value": "sandbox-uploads/20260101/auto/storage/goog4_request"},
            {"name": "x-goog-algorithm", "value": "GOOG4-RSA-SHA256"},
            {"name": "x-goog-signature", "value": token},
            {"name": "policy", "value": policy},
        ]
        return {"url": f"{site}/__staged/upload", "resourceUrl": None, "parameters": params}, None

    def upload_form(self, fields: list[tuple[str, bytes]]) -> tuple[int, bytes]:
        """A multipart POST to the upload URL: every parameter as a field, the file last (as GCS requires)."""
        form = {name: value for name, value in fields}
        key = form.get("key", b"").decode("utf-8", "replace")
        staged = self.staged.get(key)
        if staged is None or form.get("x-goog-signature", b"").decode("latin-1") != staged.token:
            return 403, _gcs_error("AccessDenied", "Access denied.", "Invalid policy or signature")
        if not fields or fields[-1][0] != "file":
            return 400, _gcs_error("InvalidArgument", "Invalid argument.", "The file field must be the last field")
        staged.data = fields[-1][1]
        location = f"https://sandbox-uploads.invalid/{key}"
        body = (
            f"<?xml version='1.0' encoding='UTF-8'?><PostResponse><Location>{location}</Location>"
            f"<Bucket>shopify-staged-uploads</Bucket><Key>{key}</Key></PostResponse>"
        )
        return 201, body.encode()

    def upload_put(self, token: str, data: bytes) -> tuple[int, bytes]:
        staged = next((f for f in self.staged.values() if f.token == token), None)
        if staged is None:
            return 403, _gcs_error("AccessDenied", "Access denied.", "Invalid signature")
        staged.data = data
        return 200, b""

    def run_mutation(
        self,
        mutation: str,
        path: str,
        site: str,
        execute_line: Callable[[str, dict[str, Any]], dict[str, Any]],
        *,
        version: str = "unstable",
    ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """Start a bulk mutation; returns (BulkOperation, userErrors) as ``bulkOperationRunMutation`` does."""
        problem = self.check_mutation(mutation, make_schema(version))
        if problem:
            return None, [{"field": ["mutation"], "message": problem, "code": "INVALID_MUTATION"}]
        staged = self.staged.get(path)
        if staged is None or staged.data is None:
            message = (
                "The JSONL file could not be found. Try uploading the file again, and specify the correct staged "
                "upload path."
            )
            return None, [{"field": ["stagedUploadPath"], "message": message, "code": "NO_SUCH_FILE"}]
        variables: list[dict[str, Any]] = []
        for raw in staged.data.splitlines():
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
            except ValueError:
                line = None
            if not isinstance(line, dict):
                message = "Unexpected file structure - expected JSONL"
                return None, [{"field": None, "message": message, "code": "INVALID_STAGED_UPLOAD_FILE"}]
            variables.append(line)
        return self._start(
            "MUTATION",
            mutation,
            f"{mutation}:{path}",
            site,
            version,
            lambda op: self._execute_lines(op, variables, execute_line),
            input_lines=len(variables),
        )

    def _execute_lines(
        self,
        op: BulkOperation,
        variables: list[dict[str, Any]],
        execute_line: Callable[[str, dict[str, Any]], dict[str, Any]],
    ) -> None:
        started = time.perf_counter()
        try:
            lines = []
            for number, line in enumerate(variables):
                result = execute_line(op.query, line)
                record: dict[str, Any] = (
                    {"errors": result["errors"]} if result.get("errors") else {"data": result.get("data")}
                )
                record["__lineNumber"] = number
                lines.append(_jsonl(record))
            op.lines, op.root_count = lines, len(lines)
        except Exception as exc:
            op.crashed = repr(exc)
        finally:
            op.executed_s = time.perf_counter() - started
            op.ready.set()

    def check_mutation(self, mutation: str, schema: GraphQLSchema | None = None) -> str | None:
        """Shopify's rules for the mutation of a bulk mutation: valid, one mutation operation, one root field."""
        operation = _one_operation(mutation, schema or self.schema, "mutation", "Invalid mutation")
        if isinstance(operation, str):
            return operation
        roots = [s for s in operation.selection_set.selections if isinstance(s, FieldNode)]
        if len(roots) != 1:
            return "Invalid mutation: a bulk mutation must contain exactly one mutation field."
        if roots[0].name.value in NOT_RUNNABLE_IN_BULK:
            return f"Invalid mutation: {roots[0].name.value} cannot be run in a bulk operation."
        return None

    def cancel(self, ident: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        op = self.ops.get(parse_gid(ident, "BulkOperation"))
        if op is None:
            return None, [{"field": ["id"], "message": "Bulk operation does not exist"}]
        status, _ = self.status(op)
        if status not in ("CREATED", "RUNNING"):
            return self.render(op), [
                {"field": None, "message": f"A bulk operation cannot be canceled when it is {status.lower()}"}
            ]
        op.canceled_at = self.clock.time()
        return self.render(op), []

    def _execute(self, op: BulkOperation, execute: Callable[[str], dict[str, Any]]) -> None:
        try:
            result = execute(op.query)
            if result.get("errors"):
                op.crashed = json.dumps(result["errors"])
            op.lines, op.root_count = self.flatten(
                op.query, result.get("data") or {}, group=op.group, schema=make_schema(op.version)
            )
        except Exception as exc:
            op.crashed = repr(exc)
        finally:
            op.ready.set()

    def download(self, token: str, name: str) -> tuple[int, bytes, str]:
        """(status, body, content type) for ``GET <site>/__bulk/<token>/<name>``."""
        op = next((o for o in self.ops.values() if o.token == token), None)
        expected = {f"bulk-{op.id}.jsonl", f"partial-{op.id}.jsonl"} if op else set()
        if op is None or name not in expected:
            return 404, _gcs_error("NoSuchKey", "The specified key does not exist."), "application/xml"
        status, _ = self.status(op)
        if op.fault == "EXPIRED" or status == "EXPIRED":
            op.url_fetched_expired = True
            return 403, _gcs_error("AccessDenied", "Access denied.", "Request has expired"), "application/xml"
        lines = op.lines if name.startswith("bulk-") else op.lines[: len(op.lines) // 2]
        return 200, b"".join(lines), "application/jsonl"

    # --------------------------------------------------------------------------------------- query shape
    def check_query(self, query: str, schema: GraphQLSchema | None = None) -> str | None:
        """Shopify's bulk query rules: valid, one top-level connection, <= 5 connections, depth <= 2, ids."""
        schema = schema or self.schema
        operation = _one_operation(query, schema, "query", "Invalid bulk query")
        if isinstance(operation, str):
            return operation
        connections: list[int] = []
        problem = self._walk(schema.query_type, operation.selection_set, 0, connections, has_id=True)
        if problem:
            return problem
        if not connections:
            return "Bulk queries must contain at least one connection."
        if len(connections) > MAX_CONNECTIONS:
            return f"Bulk queries cannot contain more than {MAX_CONNECTIONS} connections."
        if max(connections) > MAX_DEPTH:
            return f"Bulk queries cannot contain connections with a nesting depth greater than {MAX_DEPTH}."
        return None

    def _walk(self, owner: Any, selection_set: Any, depth: int, connections: list[int], has_id: bool) -> str | None:
        if selection_set is None:
            return None
        for sel in selection_set.selections:
            if not isinstance(sel, FieldNode):
                continue
            fdef = owner.fields.get(sel.name.value) if hasattr(owner, "fields") else None
            if fdef is None:
                continue
            named = get_named_type(fdef.type)
            if not isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
                continue
            if named.name.endswith("Connection"):
                if depth > 0 and not has_id:
                    return (
                        "The parent 'node' field for a nested connection must select the 'id' field. "
                        f"Connection field: '{sel.name.value}'"
                    )
                connections.append(depth + 1)
                node_type = get_named_type(named.fields["nodes"].type)
                for node_sel in _node_selections(sel):
                    child_has_id = any(isinstance(s, FieldNode) and s.name.value == "id" for s in node_sel.selections)
                    problem = self._walk(node_type, node_sel, depth + 1, connections, child_has_id)
                    if problem:
                        return problem
            else:
                problem = self._walk(named, sel.selection_set, depth, connections, has_id)
                if problem:
                    return problem
        return None

    def flatten(
        self, query: str, data: dict[str, Any], *, group: bool = True, schema: GraphQLSchema | None = None
    ) -> tuple[list[bytes], int]:
        """JSONL lines (connections split out with ``__parentId``) and the number of root objects; grouped
        (parent then its children) or, with ``group=False``, every level after the one above it."""
        schema = schema or self.schema
        document = parse(query)
        op = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
        leveled: list[tuple[int, bytes]] = []
        roots = 0
        for sel in op.selection_set.selections:
            if not isinstance(sel, FieldNode):
                continue
            key = sel.alias.value if sel.alias else sel.name.value
            query_type = schema.query_type
            assert query_type is not None, "the Admin schema has a Query root"
            fdef = query_type.fields[sel.name.value]
            named = get_named_type(fdef.type)
            value = data.get(key)
            if named.name.endswith("Connection") and isinstance(value, dict):
                node_type = get_named_type(named.fields["nodes"].type)
                for item, node_sel in _items(sel, value):
                    roots += 1
                    self._emit(item, node_type, node_sel, None, leveled, 0)
            elif value is not None:
                leveled.append((0, _jsonl({key: value})))
        if not group:
            leveled.sort(key=lambda entry: entry[0])  # stable: each level in order, after the level above
        return [line for _level, line in leveled], roots

    def _emit(
        self,
        item: dict[str, Any],
        node_type: Any,
        node_sel: Any,
        parent: str | None,
        lines: list[tuple[int, bytes]],
        level: int,
    ) -> None:
        children: list[tuple[dict[str, Any], Any, Any]] = []
        record = self._strip(item, node_type, node_sel, children)
        if parent is not None:
            record["__parentId"] = parent
        lines.append((level, _jsonl(record)))
        for child, child_type, child_sel in children:
            self._emit(child, child_type, child_sel, item.get("id"), lines, level + 1)

    def _strip(
        self, item: dict[str, Any], owner: Any, selection_set: Any, children: list[tuple[dict[str, Any], Any, Any]]
    ) -> dict[str, Any]:
        out = dict(item)
        for sel in selection_set.selections if selection_set else []:
            if not isinstance(sel, FieldNode) or not hasattr(owner, "fields") or sel.name.value not in owner.fields:
                continue
            key = sel.alias.value if sel.alias else sel.name.value
            named = get_named_type(owner.fields[sel.name.value].type)
            value = out.get(key)
            if named.name.endswith("Connection"):
                out.pop(key, None)
                if isinstance(value, dict):
                    child_type = get_named_type(named.fields["nodes"].type)
                    for child, child_sel in _items(sel, value):
                        children.append((child, child_type, child_sel))
            elif isinstance(named, GraphQLObjectType | GraphQLInterfaceType) and isinstance(value, dict):
                out[key] = self._strip(value, named, sel.selection_set, children)
        return out


def _one_operation(text: str, schema: GraphQLSchema, kind: str, invalid: str) -> OperationDefinitionNode | str:
    """The single ``kind`` ("query" or "mutation") operation of a bulk document, or Shopify's refusal, prefixed
    ``invalid``: the document must parse, validate against the schema and hold exactly one operation, of that
    kind (the rules both bulk entry points apply before their own)."""
    try:
        document = parse(text)
    except GraphQLSyntaxError as exc:
        return f"{invalid}: {exc.message}"
    errors = validate(schema, document)
    if errors:
        return f"{invalid}: {errors[0].message}"
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(ops) != 1 or ops[0].operation.value != kind:
        return f"{invalid}: a bulk {kind} must contain exactly one {kind} operation."
    return ops[0]


def _node_selections(conn: FieldNode) -> list[Any]:
    found = []
    for sub in conn.selection_set.selections if conn.selection_set else []:
        if isinstance(sub, FieldNode) and sub.name.value == "nodes":
            found.append(sub.selection_set)
        elif isinstance(sub, FieldNode) and sub.name.value == "edges":
            for edge_sub in sub.selection_set.selections if sub.selection_set else []:
                if isinstance(edge_sub, FieldNode) and edge_sub.name.value == "node":
                    found.append(edge_sub.selection_set)
    return found


def _items(conn: FieldNode, value: dict[str, Any]) -> list[tuple[dict[str, Any], Any]]:
    """(node, its selection set) for every node of a connection result, from ``edges`` or ``nodes``."""
    for sub in conn.selection_set.selections if conn.selection_set else []:
        if not isinstance(sub, FieldNode):
            continue
        key = sub.alias.value if sub.alias else sub.name.value
        if sub.name.value == "nodes":
            return [(n, sub.selection_set) for n in value.get(key) or [] if n is not None]
        if sub.name.value == "edges":
            for edge_sub in sub.selection_set.selections if sub.selection_set else []:
                if isinstance(edge_sub, FieldNode) and edge_sub.name.value == "node":
                    node_key = edge_sub.alias.value if edge_sub.alias else "node"
                    return [(e[node_key], edge_sub.selection_set) for e in value.get(key) or [] if e.get(node_key)]
    return []


def _jsonl(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def _gcs_error(code: str, message: str, details: str | None = None) -> bytes:
    body = f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message>"
    if details:
        body += f"<Details>{details}</Details>"
    return (body + "</Error>").encode()
