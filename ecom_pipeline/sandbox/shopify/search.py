"""Shopify's ``query:`` search syntax (the subset incremental sync uses) and cursor pagination.

Syntax: whitespace-separated terms, implicitly AND-ed (an explicit ``AND`` is accepted); ``OR`` between terms;
``field:value``, ``field:>value``, ``field:>=value``, ``field:<value``, ``field:<=value``; values may be quoted
with ``'`` or ``"``; a leading ``-`` or ``NOT`` negates a term; a bare word is a free-text match on the
resource's main text (title, name, email). Unknown fields are ignored with a warning in
``extensions.search`` like Shopify does, rather than failing the query.

The index lags writes (``SearchIndex``): real Shopify serves ``query:`` from a search index that catches up with a
write some seconds after it, while reads by key (``product(id:)``, ``productByIdentifier``, ``inventoryItem(id:)``)
see the write at once. The emulator's lag is off by default (``delay_s`` 0: every search sees the store as it is) and
set per shop (``ShopSpec.options["search_index_delay_s"]``, or ``store.search_index.set_delay``), so a test can show
what a client that trusts a search right after its own write does.

Cursors are opaque base64 JSON ``{"last_id": N, "last_value": V}`` like Shopify's: paging resumes strictly
after the (sort value, id) of the last row seen, so rows updated while a client pages move but are never
duplicated within one sort position.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from graphql import GraphQLError

MAX_PAGE = 250
TERM_RE = re.compile(r"""(-|NOT\s+)?(?:([A-Za-z_][A-Za-z0-9_.]*):(>=|<=|>|<)?)?("[^"]*"|'[^']*'|\S+)""")


@dataclass
class Term:
    field: str | None
    op: str
    value: str
    negate: bool = False


@dataclass
class SearchQuery:
    """A parsed query: a list of OR-groups, each a list of AND-ed terms."""

    groups: list[list[Term]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)


def parse_search(text: str | None) -> SearchQuery:
    """Parse Shopify search syntax into OR-groups of AND-ed terms."""
    result = SearchQuery(groups=[[]])
    if not text or not text.strip():
        result.groups = []
        return result
    for match in TERM_RE.finditer(text):
        negate, fname, op, value = match.group(1), match.group(2), match.group(3), match.group(4)
        if fname is None and value in ("AND", "and"):
            continue
        if fname is None and value in ("OR", "or"):
            result.groups.append([])
            continue
        if value[:1] in "'\"" and value[-1:] == value[:1] and len(value) >= 2:
            value = value[1:-1]
        result.groups[-1].append(Term(fname.lower() if fname else None, op or ":", value, bool(negate)))
    result.groups = [g for g in result.groups if g]
    return result


def parse_time(value: str, timezone: str) -> int:
    """A search date: ISO-8601 with or without offset (no offset: the shop's time zone), or ``YYYY-MM-DD``."""
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"invalid date {value!r}") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=ZoneInfo(timezone))
    return int(when.timestamp())


def compare(actual: Any, op: str, wanted: Any) -> bool:
    if actual is None:
        return False
    if op == ">":
        return actual > wanted
    if op == ">=":
        return actual >= wanted
    if op == "<":
        return actual < wanted
    if op == "<=":
        return actual <= wanted
    if isinstance(actual, str) and isinstance(wanted, str):
        return actual.lower() == wanted.lower()
    return actual == wanted


# field name -> (kind, getter); kind is "time", "int" or "text"
Fields = dict[str, tuple[str, Callable[[Any], Any]]]


def build_filter(
    query: str | None, fields: Fields, text_of: Callable[[Any], str], timezone: str
) -> tuple[Callable[[Any], bool], list[dict[str, str]]]:
    """A predicate for ``query`` over records, plus Shopify-style warnings for unknown fields."""
    parsed = parse_search(query)
    warnings: list[dict[str, str]] = []
    groups: list[list[Callable[[Any], bool]]] = []
    for group in parsed.groups:
        preds: list[Callable[[Any], bool]] = []
        for term in group:
            pred = _term_predicate(term, fields, text_of, timezone, warnings)
            if pred is not None:
                preds.append(pred)
        groups.append(preds)
    if not groups:
        return (lambda _record: True), warnings

    def matches(record: Any) -> bool:
        return any(all(p(record) for p in preds) for preds in groups)

    return matches, warnings


def _term_predicate(
    term: Term, fields: Fields, text_of: Callable[[Any], str], timezone: str, warnings: list[dict[str, str]]
) -> Callable[[Any], bool] | None:
    if term.field is None:
        needle = term.value.lower().rstrip("*")
        pred: Callable[[Any], bool] = lambda r: needle in text_of(r).lower()  # noqa: E731
    else:
        spec = fields.get(term.field)
        if spec is None:
            warnings.append({"field": term.field, "message": "Invalid search field for this query."})
            return None
        kind, getter = spec
        wanted: Any
        try:
            if kind == "time":
                wanted = parse_time(term.value, timezone)
            elif kind == "int":
                wanted = int(term.value.rsplit("/", 1)[-1])
            else:
                wanted = term.value
        except ValueError:
            warnings.append({"field": term.field, "message": f"Input `{term.value}` is not an accepted value."})
            return None
        op = term.op
        if kind == "text" and op == ":" and str(wanted).endswith("*"):
            prefix = str(wanted)[:-1].lower()
            pred = lambda r: _any(getter(r), lambda v: str(v).lower().startswith(prefix))  # noqa: E731
        else:
            pred = lambda r: _any(getter(r), lambda v: compare(v, op, wanted))  # noqa: E731
    if term.negate:
        inner = pred
        return lambda r: not inner(r)
    return pred


def _any(value: Any, test: Callable[[Any], bool]) -> bool:
    if isinstance(value, list | tuple | set):
        return any(test(v) for v in value)
    return test(value)


def encode_cursor(last_id: int, last_value: Any) -> str:
    raw = json.dumps({"last_id": last_id, "last_value": last_value}, separators=(",", ":"))
    return base64.b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[Any, int]:
    try:
        data = json.loads(base64.b64decode(cursor.encode(), validate=False))
        return data["last_value"], int(data["last_id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise GraphQLError(
            f"Invalid cursor for current pagination sort: {cursor!r}", extensions={"code": "BAD_REQUEST"}
        ) from exc


@dataclass
class Page:
    """One page of a connection, in the shape the schema's ``*Connection`` types resolve from."""

    items: list[Any]
    cursors: list[str]
    has_next: bool
    has_previous: bool

    def as_connection(self) -> dict[str, Any]:
        return {
            "edges": [{"cursor": c, "node": n} for c, n in zip(self.cursors, self.items, strict=True)],
            "nodes": self.items,
            "pageInfo": {
                "hasNextPage": self.has_next,
                "hasPreviousPage": self.has_previous,
                "startCursor": self.cursors[0] if self.cursors else None,
                "endCursor": self.cursors[-1] if self.cursors else None,
            },
        }


def paginate(
    records: list[Any],
    sort_value: Callable[[Any], Any],
    *,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    reverse: bool,
    bulk: bool = False,
) -> dict[str, Any]:
    """Sort by (value, id), cut at the cursors and take ``first``/``last`` like a Relay connection.

    Outside bulk operations Shopify requires ``first`` or ``last`` (at most 250).
    """
    if not bulk:
        if first is None and last is None:
            raise GraphQLError("you must provide one of first or last", extensions={"code": "BAD_REQUEST"})
        for name, value in (("first", first), ("last", last)):
            if value is not None and (value < 0 or value > MAX_PAGE):
                raise GraphQLError(
                    f"The {name} argument must be between 0 and {MAX_PAGE}.",
                    extensions={"code": "BAD_REQUEST"},
                )
    keyed = sorted(((sort_value(r), r.id, r) for r in records), key=lambda t: (t[0], t[1]), reverse=reverse)
    if after:
        value, last_id = decode_cursor(after)
        mark = (value, last_id)
        keyed = [t for t in keyed if ((t[0], t[1]) < mark if reverse else (t[0], t[1]) > mark)]
    has_previous = bool(after)
    if before:
        value, last_id = decode_cursor(before)
        mark = (value, last_id)
        keyed = [t for t in keyed if ((t[0], t[1]) > mark if reverse else (t[0], t[1]) < mark)]
    has_next = bool(before)
    if first is not None:
        has_next = has_next or len(keyed) > first
        keyed = keyed[:first]
    if last is not None:
        has_previous = has_previous or len(keyed) > last
        keyed = keyed[max(0, len(keyed) - last) :]
    page = Page([t[2] for t in keyed], [encode_cursor(t[1], t[0]) for t in keyed], has_next, has_previous)
    return page.as_connection()


Document = dict[str, Any]


class SearchIndex:
    """What a ``query:`` search matches: a document per record (the values of its search fields), which lags the
    record's writes by ``delay_s`` seconds of the shop's clock.

    A record last changed (``max(created_at, updated_at)``) at least ``delay_s`` ago is indexed as it is now; one
    changed more recently is matched as the index last saw it: not at all when the index never saw it (a product
    created a moment ago is not found), by its old values when it did (a product renamed a moment ago is found by
    its old title). Only what a search matches lags: the records a search returns are read as they are now, as on
    Shopify. With ``delay_s`` 0 (the default) the index is the store itself.
    """

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = float(delay_s)
        self._documents: dict[tuple[str, int], tuple[int, Document]] = {}

    @property
    def lags(self) -> bool:
        return self.delay_s > 0

    def set_delay(self, delay_s: float, records: dict[str, list[tuple[Any, Document]]] | None = None) -> None:
        """Lag searches by ``delay_s`` from now on; ``records`` (kind -> (record, document)) are taken as indexed
        as they are now (what a shop that has been running a while has in its index)."""
        self.delay_s = float(delay_s)
        for kind, pairs in (records or {}).items():
            for record, document in pairs:
                self._documents[(kind, int(record.id))] = (_changed(record), document)

    def document(self, kind: str, record: Any, now: int, build: Callable[[Any], Document]) -> Document | None:
        """The document a search matches ``record`` by (None: not in the index yet)."""
        changed = _changed(record)
        key = (kind, int(record.id))
        seen = self._documents.get(key)
        if now - changed >= self.delay_s:
            if seen is None or seen[0] != changed:
                seen = (changed, build(record))
                self._documents[key] = seen
            return seen[1]
        return seen[1] if seen is not None else None


def _changed(record: Any) -> int:
    return int(max(getattr(record, "created_at", 0) or 0, getattr(record, "updated_at", 0) or 0))


def snapshot(record: Any, fields: Fields, text_of: Callable[[Any], str]) -> Document:
    """A record's search document: each search field's value now (lists copied), and its free text."""
    document: Document = {}
    for name, (_kind, getter) in fields.items():
        value = getter(record)
        document[name] = list(value) if isinstance(value, list | tuple | set) else value
    document[TEXT] = text_of(record)
    return document


TEXT = "__text__"  # a document's free-text key (a bare word of the query matches it)


def document_fields(fields: Fields) -> Fields:
    """``fields`` read from a document instead of a record."""
    return {name: (kind, _item(name)) for name, (kind, _getter) in fields.items()}


def _item(name: str) -> Callable[[Any], Any]:
    return lambda document: document.get(name)
