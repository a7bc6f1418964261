"""Shopify GraphQL Admin API client: cost-governed queries, cursor pagination, nested pages and bulk operations.

It returns raw GraphQL nodes (dicts) on purpose: extract stages them verbatim and the transform is the only code
that interprets fields. Transport (retries on 5xx/network errors, Retry-After, budget, error mapping) is the shared
:class:`~ecom_pipeline.platforms.http.HttpSession`; this module adds what is Shopify's own:

- the endpoint ``<shop>/admin/api/<version>/graphql.json`` with the version pinned per integration (default
  :data:`~.versions.DEFAULT_API_VERSION`, settings ``api_version``) and the ``X-Shopify-Access-Token`` header from
  a token provider (renewed once on a 401); every response's ``X-Shopify-Api-Version`` is read into
  :attr:`ShopifyClient.served_version` (a retired version falls forward to the oldest supported one), and
  version-dependent behaviour follows the served version (:func:`~.versions.has_feature`);
- GraphQL-level failures (HTTP 200 with ``errors``) mapped to ``ShopApiError`` subclasses, THROTTLED retried after
  the wait the cost data implies, and the :class:`~.governor.CostGovernor` pacing every query so steady state sees
  no THROTTLED at all;
- cursor pagination (``pageInfo { hasNextPage endCursor }``), including nested connections (variants of a product,
  lines of an order) that overflow their first page;
- bulk operations: start ``bulkOperationRunQuery`` with ``groupObjects: true`` (when the shop is at its limit of
  concurrent operations, wait and start again), poll **our** operation with ``bulkOperation(id:)`` with backoff
  (several extracts may run bulk at once on 2026-01+), spool the JSONL result to a temporary file and rebuild each
  parent with its children from ``__parentId`` whatever the line order. FAILED / EXPIRED / CANCELED raise
  :class:`ShopifyBulkOperationError`; the extractor then falls back to paginated queries (setting
  ``bulk_fallback``, default ``paginate``) so a full sync still completes.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from ecom_pipeline.platforms.errors import ShopAuthError, ShopResponseError
from ecom_pipeline.platforms.http import HttpOptions, HttpSession, HttpStats, ShopClient
from ecom_pipeline.platforms.shopify import queries as q
from ecom_pipeline.platforms.shopify.auth import ShopifyTokenAuth, StaticToken, TokenProvider
from ecom_pipeline.platforms.shopify.errors import (
    PLATFORM,
    ShopifyBulkInProgressError,
    ShopifyBulkOperationError,
    ShopifyGraphQLError,
    ShopifyThrottledError,
    error_codes,
    graphql_error,
    shopify_error_parser,
    user_errors_error,
)
from ecom_pipeline.platforms.shopify.governor import MAX_SINGLE_QUERY_COST, CostGovernor
from ecom_pipeline.platforms.shopify.versions import DEFAULT_API_VERSION, has_feature

VERSION_HEADER = "X-Shopify-Api-Version"
GOVERNOR_SAFETY_POINTS = 10.0
BULK_DONE = frozenset({"COMPLETED", "FAILED", "EXPIRED", "CANCELED"})
BULK_ACTIVE = frozenset({"CREATED", "RUNNING", "CANCELING"})


@dataclass
class ShopifyStats:
    """Run metadata: HTTP counters plus what the cost bucket cost us."""

    api_calls: int = 0
    retries: int = 0
    throttle_wait_s: float = 0.0
    throttled: int = 0
    governor_waits: int = 0
    bytes_received: int = 0
    bulk_operations: int = 0

    def as_metadata(self) -> dict[str, Any]:
        return {
            "api_calls": self.api_calls,
            "retries": self.retries,
            "throttle_wait_s": round(self.throttle_wait_s, 3),
            "throttled": self.throttled,
            "governor_waits": self.governor_waits,
            "bulk_operations": self.bulk_operations,
        }


@dataclass(frozen=True)
class Connection:
    """One page of a connection: its nodes and whether (and from where) to continue."""

    nodes: list[dict[str, Any]]
    has_next_page: bool
    end_cursor: str | None


def gid_type(gid: Any) -> str | None:
    """``gid://shopify/ProductVariant/1`` -> ``ProductVariant``."""
    if not isinstance(gid, str) or not gid.startswith("gid://"):
        return None
    parts = gid.split("/")
    return parts[3] if len(parts) > 4 else None


def gid_tail(gid: Any) -> str | None:
    """``gid://shopify/LineItem/466157049`` -> ``466157049`` (query string of composite gids dropped)."""
    if not isinstance(gid, str) or not gid.startswith("gid://"):
        return None
    return gid.rsplit("/", 1)[-1].split("?", 1)[0] or None


def updated_at_filter(since_iso: str) -> str:
    """The search syntax for "modified at or after": ``updated_at:>='2025-01-01T00:00:00Z'``."""
    return f"updated_at:>='{since_iso}'"


def requested_cost(err: Exception) -> float | None:
    """The requested cost Shopify names in a MAX_COST_EXCEEDED error (``extensions.cost``), if it does."""
    for error in (getattr(err, "details", None) or {}).get("errors") or []:
        extensions = error.get("extensions") if isinstance(error, Mapping) else None
        cost = extensions.get("cost") if isinstance(extensions, Mapping) else None
        if isinstance(cost, int | float) and not isinstance(cost, bool) and cost > 0:
            return float(cost)
    return None


def fitted_page_size(size: int, requested: float | None, limit: float = MAX_SINGLE_QUERY_COST) -> int:
    """The largest page under ``limit`` points, from the cost of a ``size`` page: cost is about ``c + size x k``.

    Scaling by ``(limit - 2) / requested`` stays under the limit whatever the fixed part ``c`` (2 for the top
    connection); without a cost in the error, halve.
    """
    if requested is None or requested <= 0:
        return max(1, size // 2)
    return max(1, min(size - 1, int(size * (limit - 2) / requested)))


def _connection(data: Any, path: Sequence[str]) -> Connection:
    node = data
    for name in path:
        if not isinstance(node, Mapping):
            raise ShopResponseError(f"expected an object at {'.'.join(path)}", platform=PLATFORM)
        node = node.get(name)
    if node is None:
        # e.g. product(id:) of a product deleted meanwhile: nothing more to read
        return Connection([], False, None)
    if not isinstance(node, Mapping) or not isinstance(node.get("nodes", []), list):
        raise ShopResponseError(f"expected a connection at {'.'.join(path)}", platform=PLATFORM)
    info = node.get("pageInfo") or {}
    return Connection(list(node.get("nodes") or []), bool(info.get("hasNextPage")), info.get("endCursor"))


def assemble_bulk(lines: Iterable[Mapping[str, Any]], child_connections: Mapping[str, str]) -> Iterator[dict]:
    """Rebuild parents with their children from bulk JSONL lines (``__parentId``), whatever order the lines are in.

    Each node is on its own line; a child goes into its parent's connection (``child_connections`` maps the
    child's gid type to the field, e.g. ProductVariant -> variants) as ``{"nodes": [...]}`` so paginated and bulk
    records look alike to the transform. Children follow their parent only when the operation grouped objects
    (``groupObjects``, false by default from 2026-01), so nothing here relies on the order: the lines are spooled
    to a temporary file and indexed by offset (memory holds offsets, not records), then each top-level record is
    read back with its children, in file order. A child whose parent is not in the file is refused before
    anything is yielded (a truncated file would otherwise silently lose variants).
    """
    with tempfile.TemporaryFile("w+b") as spool:
        roots: list[int] = []
        children: dict[str, list[int]] = {}
        known: set[str] = set()
        for raw in lines:
            line = dict(raw)
            offset = spool.tell()
            spool.write(json.dumps(line, separators=(",", ":")).encode() + b"\n")
            if line.get("id") is not None:
                known.add(str(line["id"]))
            parent = line.get("__parentId")
            if parent is None:
                roots.append(offset)
            else:
                children.setdefault(str(parent), []).append(offset)
        orphans = sorted(set(children) - known)
        if orphans:
            count = sum(len(children[p]) for p in orphans)
            raise ShopifyBulkOperationError(
                f"{count} bulk result line(s) name parent(s) not in the file (first: {orphans[0]}); the JSONL is "
                "truncated",
                platform=PLATFORM,
            )

        def read(offset: int) -> dict[str, Any]:
            spool.seek(offset)
            return dict(json.loads(spool.readline()))

        def attach(record: dict[str, Any]) -> None:
            for offset in children.pop(str(record.get("id")), []):
                child = read(offset)
                child.pop("__parentId", None)
                attach(child)
                kind = gid_type(child.get("id")) or "children"
                field = child_connections.get(kind, kind)
                bucket = record.get(field)
                if not isinstance(bucket, dict) or not isinstance(bucket.get("nodes"), list):
                    bucket = {"nodes": []}
                    record[field] = bucket
                bucket["nodes"].append(child)

        for offset in roots:
            record = read(offset)
            attach(record)
            yield record


def signed_url_location(url: str) -> str:
    """A pre-signed storage URL (a bulk result: ``Signature``, ``GoogleAccessId``, ``X-Goog-*`` in its query) as it may
    be shown in an error, a log or a run's failure: scheme, host and path only. The query is the credential (anyone
    holding it reads the file until it expires), so none of it is kept, whatever its parameters are called."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<bulk result URL>"
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path, "", ""))


def _int_or_none(value: Any) -> int | None:
    """``UnsignedInt64`` arrives as a string."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class ShopifyClient(ShopClient):
    """Read access to one shop's GraphQL Admin API (and the few mutations bulk operations need)."""

    platform = PLATFORM

    def __init__(
        self,
        shop: HttpOptions | str,
        token: str | TokenProvider,
        *,
        max_throttle_retries: int = 10,
        clock: Callable[[], float] = time.monotonic,
        bulk_poll_initial_s: float = 1.0,
        bulk_poll_max_s: float = 30.0,
        bulk_timeout_s: float = 6 * 3600.0,
        session: requests.Session | None = None,
        **overrides: Any,
    ) -> None:
        """``shop`` is the shop's :class:`HttpOptions` (or its URL, with ``overrides`` such as ``api_version=``,
        ``timeout=``, ``max_retries=`` or ``sleep=``: any HttpOptions field); ``options.api_version`` defaults to
        :data:`DEFAULT_API_VERSION`.

        ``clock`` is the cost governor's own (monotonic: it measures how fast the bucket refills, which a wall
        clock set back would get wrong) and stays apart from ``options.clock``, which the HTTP layer reads for
        Retry-After dates. ``options.sleep`` serves both, and the bulk polls.
        """
        options = HttpOptions.of(shop, **overrides)
        self.options = options
        self.shop_url = options.base_url.rstrip("/")
        self.api_version = options.api_version or DEFAULT_API_VERSION
        # The version Shopify actually answered with (``X-Shopify-Api-Version``), None before the first response.
        self.served_version: str | None = None
        self.endpoint = f"admin/api/{self.api_version}/graphql.json"
        self.provider: TokenProvider = StaticToken(token) if isinstance(token, str) else token
        self.verify = options.verify
        self.timeout = options.timeout
        self.max_throttle_retries = max_throttle_retries
        self.bulk_poll_initial_s = bulk_poll_initial_s
        self.bulk_poll_max_s = bulk_poll_max_s
        self.bulk_timeout_s = bulk_timeout_s
        self._sleep = options.sleep
        self._clock = clock
        secrets = tuple(getattr(self.provider, "secrets", ())) or (
            (self.provider.access_token,) if isinstance(self.provider, StaticToken) else ()
        )
        self.http = HttpSession(
            self.shop_url,
            platform=PLATFORM,
            auth=ShopifyTokenAuth(self.provider),
            options=options,
            error_parser=shopify_error_parser,
            secrets=secrets,
            session=session,
        )
        # A few points of margin: the bucket reading is taken when Shopify answered, and the restore it predicts
        # since then runs a little ahead of the shop's (network latency), which matters for pages fitted to ~1,000.
        self.governor = CostGovernor(sleep=options.sleep, clock=clock, safety=GOVERNOR_SAFETY_POINTS)
        self._bulk_operations = 0
        # query key -> page size that fitted under MAX_SINGLE_QUERY_COST (see paginate(fit=...))
        self.page_sizes: dict[str, int] = {}
        self._download_bytes = 0
        self._download_calls = 0
        self._upload_calls = 0
        self._upload_bytes = 0

    def __repr__(self) -> str:
        return f"ShopifyClient(shop_url={self.shop_url!r}, api_version={self.api_version!r})"

    @property
    def stats(self) -> ShopifyStats:  # type: ignore[override]  # cost-bucket counters, not backoff_wait_s
        http: HttpStats = self.http.stats
        return ShopifyStats(
            api_calls=http.api_calls + self._download_calls + self._upload_calls,
            retries=http.retries,
            throttle_wait_s=http.throttle_wait_s + self.governor.wait_s,
            throttled=self.governor.throttled,
            governor_waits=self.governor.waits,
            bytes_received=http.bytes_received + self._download_bytes,
            bulk_operations=self._bulk_operations,
        )

    # -- one query ------------------------------------------------------------------------------------------------

    def execute(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        *,
        key: str | None = None,
        estimate: float | None = None,
        retry: bool = True,
    ) -> dict[str, Any]:
        """Run one GraphQL document and return its ``data``; raise a ``ShopApiError`` subclass on any error.

        ``key`` names the query shape for the governor (defaults to the document's first line); ``estimate`` is
        the expected cost before the shop has told us (e.g. from page sizes). ``retry=False`` is for a mutation
        that is not idempotent (``collectionCreate``, ``productVariantsBulkCreate``; every ``productSet`` create
        carries a handle as its identifier, so it is idempotent): the HTTP layer does not resend it after a
        failed attempt (a lost answer may hide a write the shop made), so the caller looks up what it meant to
        create before sending it again
        (``writer._write_once``). THROTTLED answers (nothing written) are still waited out and resent here.
        """
        key = key or query.strip().split("{", 1)[0].strip() or query[:40]
        renewed = False
        throttles = 0
        while True:
            self.governor.before(key, estimate)
            try:
                # retry=False: this thread's call only, on the one session (one pacing clock, budget and counters).
                with self.http.without_retries() if not retry else contextlib.nullcontext():
                    response = self.http.request(
                        "POST", self.endpoint, json_body={"query": query, "variables": dict(variables or {})}
                    )
            except ShopAuthError as err:
                # A client-credentials token may have expired mid-sync (24 h lifetime): renew once and retry.
                if err.status == 401 and not renewed and self.provider.can_renew():
                    self.provider.renew()
                    renewed = True
                    continue
                raise
            served = response.headers.get(VERSION_HEADER) if response.headers is not None else None
            if served:
                self.served_version = str(served)
            body = response.data
            if not isinstance(body, Mapping):
                raise response.unexpected(
                    PLATFORM,
                    f"expected a JSON object from the GraphQL endpoint, got {type(body).__name__}",
                    method="POST",
                )
            extensions = body.get("extensions") if isinstance(body.get("extensions"), Mapping) else {}
            cost = extensions.get("cost") if isinstance(extensions, Mapping) else None
            self.governor.observe(key, cost)
            errors = body.get("errors")
            if errors:
                errors = errors if isinstance(errors, list) else [{"message": str(errors)}]
                if "THROTTLED" in error_codes(errors):
                    throttles += 1
                    wait = self.governor.throttled_wait(cost)
                    if throttles > self.max_throttle_retries:
                        raise ShopifyThrottledError(
                            f"still THROTTLED after {self.max_throttle_retries} waits",
                            platform=PLATFORM,
                            method="POST",
                            url=response.url,
                            code="THROTTLED",
                        )
                    self.governor.record_wait(wait)
                    continue
                # Partial data with errors is refused too: syncing less than asked must never pass silently.
                raise graphql_error(errors, url=response.url, operation=key)
            data = body.get("data")
            if not isinstance(data, Mapping):
                raise ShopResponseError("GraphQL response without data", platform=PLATFORM, url=response.url)
            return dict(data)

    def retry_wait(self, attempt: int) -> None:
        """Sleep before a caller's own retry of a write sent with ``retry=False`` (the HTTP layer's backoff)."""
        self._sleep(min(self.http.max_backoff_s, self.http.backoff_base_s * (2**attempt)))

    # -- pagination -----------------------------------------------------------------------------------------------

    def paginate(
        self,
        query: str,
        path: Sequence[str],
        variables: Mapping[str, Any] | None = None,
        *,
        after: str | None = None,
        key: str | None = None,
        fit: str | None = None,
        estimate: float | None = None,
    ) -> Iterator[Connection]:
        """Every page of the connection at ``path`` (e.g. ``("products",)``), following ``endCursor``.

        ``fit`` names the page-size variable (``"first"``) to shrink when Shopify refuses the query for asking
        more than 1,000 points (``MAX_COST_EXCEEDED``): callers ask for the largest page they would like and get the
        largest that fits, at the cost of one refused (uncharged) call per query shape. The fitted size is kept in
        :attr:`page_sizes` under ``key`` so later pages and later calls with the same key start from it.
        """
        cursor = after
        current = dict(variables or {})
        fit_key = key or query.strip().split("{", 1)[0].strip()
        if fit and fit_key in self.page_sizes and isinstance(current.get(fit), int):
            current[fit] = min(int(current[fit]), self.page_sizes[fit_key])
        while True:
            try:
                data = self.execute(query, {**current, "after": cursor}, key=key, estimate=estimate)
            except ShopifyGraphQLError as err:
                size = current.get(fit) if fit else None
                if fit is None or err.code != "MAX_COST_EXCEEDED" or not isinstance(size, int) or size <= 1:
                    raise
                requested = requested_cost(err)
                current[fit] = fitted_page_size(size, requested)
                self.page_sizes[fit_key] = current[fit]
                if requested is not None:
                    # The refused answer carries no bucket reading: tell the governor what the refitted page will
                    # ask for, so it waits for room instead of meeting THROTTLED.
                    self.governor.costs[fit_key] = min(MAX_SINGLE_QUERY_COST, requested * current[fit] / size)
                continue
            page = _connection(data, path)
            yield page
            if not page.has_next_page or not page.end_cursor:
                return
            cursor = page.end_cursor

    def complete_connection(
        self,
        owner: dict[str, Any],
        field: str,
        query: str,
        path: Sequence[str],
        *,
        page_size: int = 100,
    ) -> int:
        """Fetch the rest of a nested connection (variants of a product, lines of an order) into ``owner[field]``.

        Returns the number of extra calls. Afterwards ``owner[field]`` holds every node and ``hasNextPage`` is
        false, so the staged payload is complete (a product may have up to 2,048 variants).
        """
        connection = owner.get(field)
        if not isinstance(connection, dict):
            return 0
        info = connection.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            return 0
        nodes = list(connection.get("nodes") or [])
        calls = 0
        # Until the shop has priced this shape, assume the worst (a full 1,000 points): the governor then waits for
        # room instead of meeting THROTTLED on the first follow-up page of a run.
        for page in self.paginate(
            query,
            path,
            {"id": owner["id"], "first": page_size},
            after=info.get("endCursor"),
            estimate=MAX_SINGLE_QUERY_COST,
        ):
            calls += 1
            nodes.extend(page.nodes)
        owner[field] = {"pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": nodes}
        return calls

    # -- shop facts -------------------------------------------------------------------------------------------------

    def shop_and_scopes(self) -> dict[str, Any]:
        """``{"name", "currency", "plan", "scopes": [...]}`` in one 2-point query."""
        data = self.execute(q.SHOP_QUERY, key="ShopAndScopes")
        shop = data.get("shop") or {}
        installation = data.get("appInstallation") or {}
        scopes = sorted(str(s.get("handle")) for s in installation.get("accessScopes") or [] if isinstance(s, Mapping))
        return {
            "name": shop.get("name"),
            "currency": shop.get("currencyCode"),
            "plan": (shop.get("plan") or {}).get("publicDisplayName"),
            "scopes": scopes,
        }

    def count(self, entity: str) -> int | None:
        """How many products/orders/customers the shop has (uncapped: ``limit: null``), or None when the API will not
        say."""
        document = q.COUNT_QUERIES.get(entity)
        if document is None:
            return None
        data = self.execute(document)
        for value in data.values():
            if isinstance(value, Mapping) and isinstance(value.get("count"), int):
                return int(value["count"])
        return None

    # -- bulk operations --------------------------------------------------------------------------------------------

    def run_bulk_query(
        self,
        document: str,
        *,
        child_connections: Mapping[str, str] = q.BULK_CHILD_CONNECTIONS,
        on_in_progress: str = "wait",
    ) -> Iterator[dict[str, Any]]:
        """Run a bulk query to completion and stream its records, children reassembled under their parents.

        ``on_in_progress``: when the shop already runs as many bulk queries of this app as it allows (one before
        2026-01, five since), ``"wait"`` and start again, or ``"fail"`` at once.
        """
        operation_id = self.start_bulk_query(document, on_in_progress=on_in_progress)
        final = self.wait_for_bulk(operation_id)
        url = final.get("url")
        if not url:
            return  # COMPLETED with no objects: Shopify gives no file
        yield from assemble_bulk(self.iter_jsonl(str(url)), child_connections)

    def supports_bulk_by_id(self) -> bool:
        """Whether the served version has ``bulkOperation(id:)`` (2026-01+); asks the shop once if still unknown."""
        if self.served_version is None:
            self.shop_and_scopes()
        # No header at all (a proxy that strips it): the pinned version is the best guess.
        return has_feature(self.served_version or self.api_version, "bulk_operation_by_id")

    def start_bulk_query(self, document: str, *, on_in_progress: str = "wait") -> str:
        """Start a bulk query with ``groupObjects: true``; returns its id.

        At the shop's limit of concurrent operations (``OPERATION_IN_PROGRESS`` / ``LIMIT_REACHED``) it waits with
        the poll backoff and tries again, up to the bulk timeout: the operations running are not ours to cancel
        (another extract of this app, on another entity, may own them).
        """
        mutation = (
            q.BULK_RUN_MUTATION
            if self.served_version is None or has_feature(self.served_version, "group_objects_argument")
            else q.BULK_RUN_MUTATION_WITHOUT_GROUPING_ARGUMENT
        )
        return self._start_bulk(
            lambda: self.execute(mutation, {"query": document}, key="RunBulkQuery"),
            "bulkOperationRunQuery",
            "RunBulkQuery",
            "queries",
            wait=on_in_progress == "wait",
        )

    def _start_bulk(
        self, run: Callable[[], Mapping[str, Any]], field: str, operation: str, noun: str, *, wait: bool = True
    ) -> str:
        """Start a bulk operation with ``run`` (which answers the ``field`` mutation); returns its id.

        Queries and mutations share Shopify's answer to "too many bulk operations of this app right now"
        (``OPERATION_IN_PROGRESS`` before 2026-01, ``LIMIT_REACHED`` since, or only the message on old versions):
        with ``wait`` it waits with the poll backoff and tries again, up to the bulk timeout."""
        delay = self.bulk_poll_initial_s
        waited = 0.0
        while True:
            result = run().get(field) or {}
            user_errors = [e for e in result.get("userErrors") or [] if isinstance(e, Mapping)]
            if not user_errors:
                started = result.get("bulkOperation") or {}
                if not started.get("id"):
                    raise ShopifyBulkOperationError(f"{field} returned no operation", platform=PLATFORM)
                self._bulk_operations += 1
                return str(started["id"])
            busy = any(
                e.get("code") in ("OPERATION_IN_PROGRESS", "LIMIT_REACHED")
                or "in progress" in str(e.get("message", "")).lower()
                for e in user_errors
            )
            if not busy:
                raise user_errors_error(user_errors, url=self.http.url_for(self.endpoint), operation=operation)
            if not wait or waited >= self.bulk_timeout_s:
                raise ShopifyBulkInProgressError(
                    f"the shop already runs as many bulk {noun} of this app as it allows (waited {waited:.0f}s)",
                    platform=PLATFORM,
                )
            self._sleep(delay)
            waited += delay
            delay = min(self.bulk_poll_max_s, delay * 1.5)

    # -- bulk mutations ---------------------------------------------------------------------------------------------

    # Set by the writer from the integration's settings (``bulk_mutation_threshold``); None: the writer's default.
    bulk_mutation_threshold: int | None = None
    # Set from the integration's ``shopify_collections`` (writer, webhook re-reads): custom collections are the
    # products' categories. Off by default (``sync.policies``).
    shopify_collections: bool = False

    def supports_bulk_product_set(self) -> bool:
        """Whether the served version takes the writer's bulk path (see ``versions.FEATURES``)."""
        if self.served_version is None:
            self.shop_and_scopes()
        return has_feature(self.served_version or self.api_version, "bulk_product_set")

    def stage_upload(self, data: bytes, filename: str) -> str:
        """Stage a bulk mutation's JSONL variables: ``stagedUploadsCreate`` then a multipart POST of the file to the
        target (the parameters as fields, the file last); returns the ``stagedUploadPath`` (the ``key``).

        The target is a pre-signed storage URL: it gets no access token (it must not leak to the storage host).
        """
        variables = {
            "input": [
                {
                    "resource": "BULK_MUTATION_VARIABLES",
                    "filename": filename,
                    "mimeType": "text/jsonl",
                    "httpMethod": "POST",
                }
            ]
        }
        data_ = self.execute(q.STAGED_UPLOADS_CREATE_MUTATION, variables, key="StagedUploadsCreate", estimate=10.0)
        answer = data_.get("stagedUploadsCreate") or {}
        if answer.get("userErrors"):
            raise user_errors_error(
                list(answer["userErrors"]), url=self.http.url_for(self.endpoint), operation="StagedUploadsCreate"
            )
        targets = answer.get("stagedTargets") or []
        if not targets or not targets[0].get("url"):
            raise ShopifyBulkOperationError("stagedUploadsCreate returned no upload target", platform=PLATFORM)
        target = targets[0]
        fields = [(str(p["name"]), str(p["value"])) for p in target.get("parameters") or []]
        path = dict(fields).get("key")
        if not path:
            raise ShopifyBulkOperationError("the staged upload target has no key parameter", platform=PLATFORM)
        self._upload_calls += 1
        self._upload_bytes += len(data)
        try:
            response = requests.post(
                str(target["url"]),
                data=fields,
                files={"file": (filename, data, "text/jsonl")},
                verify=self.verify,
                timeout=self.http.timeout,
            )
        except requests.RequestException as exc:
            raise ShopifyBulkOperationError(
                f"uploading the bulk mutation variables failed: {type(exc).__name__}", platform=PLATFORM
            ) from None
        if response.status_code >= 300:
            raise ShopifyBulkOperationError(
                f"uploading the bulk mutation variables failed with HTTP {response.status_code}",
                platform=PLATFORM,
                method="POST",
                status=response.status_code,
            )
        return str(path)

    def start_bulk_mutation(
        self, mutation: str, staged_upload_path: str, *, client_identifier: str | None = None
    ) -> str:
        """Start ``bulkOperationRunMutation`` over a staged file; returns the operation id. At the shop's limit of
        bulk mutations (one before 2026-01, five since: ``OPERATION_IN_PROGRESS`` / ``LIMIT_REACHED``) it waits
        with the poll backoff and tries again, up to the bulk timeout."""
        variables = {
            "mutation": mutation,
            "stagedUploadPath": staged_upload_path,
            "clientIdentifier": client_identifier,
        }
        return self._start_bulk(
            lambda: self.execute(q.BULK_RUN_MUTATION_MUTATION, variables, key="RunBulkMutation", estimate=10.0),
            "bulkOperationRunMutation",
            "RunBulkMutation",
            "mutations",
        )

    def bulk_operation(self, operation_id: str) -> dict[str, Any] | None:
        """Our operation, by id (``bulkOperation(id:)``), or None if the shop does not know it."""
        data = self.execute(q.BULK_OPERATION_QUERY, {"id": operation_id}, key="BulkOperation")
        found = data.get("bulkOperation")
        return dict(found) if isinstance(found, Mapping) else None

    def wait_for_bulk(self, operation_id: str, *, expected_objects: int | None = None) -> dict[str, Any]:
        """Poll ``bulkOperation(id:)`` until ``operation_id`` ends; raise unless COMPLETED.

        The wait between polls is a quarter of the time waited so far (at least ``bulk_poll_initial_s``, at most
        ``bulk_poll_max_s``), so the end is seen at most ~25 % late while a long operation is polled every 30 s
        (each poll costs a point and a call). With ``expected_objects`` (a bulk mutation: its number of lines) and
        an ``objectCount`` that grew since the last poll, the next poll is when that pace says it will be done.
        """
        waited = 0.0
        previous: tuple[float, int] | None = None  # (waited, objectCount) at the last poll
        while True:
            current = self.bulk_operation(operation_id)
            if current is None:
                raise ShopifyBulkOperationError(
                    f"bulk operation {operation_id} is unknown to the shop", platform=PLATFORM
                )
            status = str(current.get("status"))
            if status in BULK_DONE:
                if status == "COMPLETED":
                    return current
                raise ShopifyBulkOperationError(
                    f"bulk operation {operation_id} ended {status} (errorCode {current.get('errorCode')}, "
                    f"{current.get('objectCount')} objects)",
                    platform=PLATFORM,
                    code=str(current.get("errorCode") or status),
                    details={"status": status, "partialDataUrl": bool(current.get("partialDataUrl"))},
                )
            if waited >= self.bulk_timeout_s:
                raise ShopifyBulkOperationError(
                    f"bulk operation {operation_id} still {status} after {waited:.0f}s", platform=PLATFORM
                )
            delay = 0.25 * waited
            done = _int_or_none(current.get("objectCount")) or 0
            if expected_objects and previous is not None and 0 < previous[1] < done < expected_objects:
                # The operation's pace between the last two polls, both while it ran (an interval that began before
                # its first object may hold the start delay, and would predict far too late an end).
                delay = (expected_objects - done) * (waited - previous[0]) / (done - previous[1])
            previous = (waited, done)
            delay = min(self.bulk_poll_max_s, max(self.bulk_poll_initial_s, delay))
            self._sleep(delay)
            waited += delay

    def iter_jsonl(self, url: str) -> Iterator[dict[str, Any]]:
        """Stream a bulk result file line by line (never the whole file in memory).

        The URL is a pre-signed storage link: it gets no access token (it must not leak to the storage host), and
        its errors name it without its query (``signed_url_location``): the signature is a credential.
        """
        self._download_calls += 1
        where = signed_url_location(url)
        try:
            with requests.get(url, stream=True, verify=self.verify, timeout=self.http.timeout) as response:
                if response.status_code >= 400:
                    raise ShopifyBulkOperationError(
                        f"downloading the bulk result failed with HTTP {response.status_code}",
                        platform=PLATFORM,
                        method="GET",
                        url=where,
                        status=response.status_code,
                    )
                for number, raw in enumerate(response.iter_lines(), start=1):
                    self._download_bytes += len(raw) + 1
                    if not raw.strip():
                        continue
                    try:
                        yield json.loads(raw)
                    except ValueError:
                        raise ShopifyBulkOperationError(
                            f"bulk result line {number} is not JSON (file cut off?)", platform=PLATFORM, url=where
                        ) from None
        except requests.RequestException as exc:
            raise ShopifyBulkOperationError(
                f"downloading the bulk result failed: {type(exc).__name__}", platform=PLATFORM, url=where
            ) from None

    # -- id listings (deletion reconciliation) -------------------------------------------------------------------

    # Only the id of each node: about 1 point per record, 250 records a call (fitted down if Shopify says more).
    ID_QUERIES: Mapping[str, tuple[str, str]] = {
        "products": (
            "query ProductIds($first: Int!, $after: String) { products(first: $first, after: $after, sortKey: ID) "
            "{ pageInfo { hasNextPage endCursor } nodes { id } } }",
            "ProductIds",
        ),
        "customers": (
            "query CustomerIds($first: Int!, $after: String) { customers(first: $first, after: $after, sortKey: ID) "
            "{ pageInfo { hasNextPage endCursor } nodes { id } } }",
            "CustomerIds",
        ),
    }

    def list_ids(self, resource: str, *, page_size: int = 250) -> Iterator[str]:
        """Every numeric id of ``products`` or ``customers`` (cursor pagination: stable while records change).

        Orders are not listed: Shopify deletes an order only on request (``orderDelete``, announced by the
        ``orders/delete`` webhook), and without ``read_all_orders`` a listing stops at 60 days, so an id listing
        of orders would be partial by construction.
        """
        if resource not in self.ID_QUERIES:
            raise ValueError(f"no id listing for Shopify {resource!r}; expected one of {sorted(self.ID_QUERIES)}")
        document, key = self.ID_QUERIES[resource]
        for page in self.paginate(document, (resource,), {"first": page_size}, key=key, fit="first"):
            for node in page.nodes:
                tail = gid_tail(node.get("id"))
                if tail:
                    yield tail


__all__ = [
    "DEFAULT_API_VERSION",
    "VERSION_HEADER",
    "Connection",
    "ShopifyClient",
    "ShopifyStats",
    "assemble_bulk",
    "fitted_page_size",
    "gid_tail",
    "gid_type",
    "requested_cost",
    "signed_url_location",
    "updated_at_filter",
]
