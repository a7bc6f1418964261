"""Stable JSON and hashes for payloads and canonical snapshots.

A no-change sync must write nothing, which needs a cheap, exact "did this record change?" test. Hashing a
canonical JSON form (sorted keys, no whitespace, Decimal as its exact string, times as ISO-8601 UTC) gives the
same digest for the same content whatever dict order or process produced it.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, NoReturn

import orjson

_PLAIN = frozenset({str, int, bool, float, type(None)})


@functools.cache
def dataclass_fields(kind: type) -> tuple[str, ...] | None:
    """Field names of a dataclass type (cached: snapshots of a 30,000-variant catalogue hash every record)."""
    if dataclasses.is_dataclass(kind):
        return tuple(f.name for f in dataclasses.fields(kind))
    return None


def to_jsonable(value: Any) -> Any:
    """``value`` as plain JSON types: Decimal -> exact string, datetime -> ISO UTC, dataclass/tuple -> dict/list.

    Decimals become strings (never floats) so a snapshot stored as JSON keeps every digit of a price.
    """
    kind: type = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if kind is tuple or kind is list:
        return [to_jsonable(v) for v in value]
    # The exact types of most canonical values, before the dataclass lookup and the isinstance chain below
    # (same results as their branches there).
    if kind is Decimal:
        return str(value)
    if kind is datetime:
        return (value if value.tzinfo is None else value.astimezone(UTC)).isoformat()
    fields = dataclass_fields(kind)
    if fields is not None:
        return {name: to_jsonable(getattr(value, name)) for name in fields}
    if isinstance(value, bool | int | str | float):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [to_jsonable(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    return str(value)


# orjson writes what it does not pass through (datetimes, dataclasses, subclasses of str/int/dict/list) by its own
# rules; passed through, they reach no ``default`` and raise, so ``json`` takes them as before.
_ORJSON_OPTIONS = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")


def sorted_json(value: Any) -> str:
    """``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``, the very same text, by
    orjson where it writes that text (about 4x faster: a mid WooCommerce shop's 44 MB of staged payloads 0.49 ->
    0.12 s); raises ``TypeError`` where ``json.dumps`` does.

    orjson writes the same text for strings (escapes included), ints, bools, None, and keys sorted by code point;
    for floats too, but below 1e-4: Python writes ``1e-05``, ``1.5e-07`` where orjson writes ``0.00001``,
    ``1.5e-7``. Those are the only texts with ``0.0000`` or a digit then ``e-`` in them, so an output holding either
    (in a number or anywhere in a string) is written by ``json`` instead. What orjson refuses (ints beyond 64 bits,
    lone surrogates, non-string keys, nesting over 255 levels, the types passed through) goes to ``json`` as well.
    One difference is left: NaN and infinities, which orjson writes ``null`` where ``json`` wrote ``NaN`` (not
    JSON: PostgreSQL's JSONB refused it); no shop's JSON (PHP's ``json_encode``, Ruby's) can carry them, and canonical
    records keep money as Decimal.
    """
    try:
        raw = orjson.dumps(value, option=_ORJSON_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError included
        raw = None
    if raw is not None and b"0.0000" not in raw and b"0e-" not in raw.translate(_DIGITS_TO_ZERO):
        return raw.decode("utf-8")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """The one serialization that hashes are computed over."""
    return sorted_json(to_jsonable(value))


def stable_hash(value: Any) -> str:
    """SHA-256 hex digest (64 chars, fits ``base_hash``/``payload_hash``) of ``canonical_json(value)``."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def jsonable_hash(data: Any) -> str:
    """``stable_hash`` of a value that is already ``to_jsonable``'s output (a snapshot), without walking it again.

    ``to_jsonable`` leaves its own output unchanged, so encoding it directly gives the same text and digest;
    anything ``json`` cannot encode falls back to ``stable_hash``.
    """
    try:
        text = sorted_json(data)
    except TypeError:
        return stable_hash(data)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def payload_hash(payload: Any) -> str | None:
    """Hash of a raw shop payload, None for a delete (no payload).

    Raw payloads come straight from ``json.loads`` (plain types only), so they are serialized directly; walking
    them through ``to_jsonable`` first cost about a tenth of a full sync. Anything else falls back to it.
    """
    if payload is None:
        return None
    try:
        text = sorted_json(payload)
    except TypeError:
        return stable_hash(payload)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class HashedSnapshot(dict[str, Any]):
    """A snapshot (``to_jsonable``'s output) with the canonical JSON text its digest was computed over.

    The link stores the snapshot as its ``base_snapshot``: on PostgreSQL (JSONB, which keeps the value, not the
    text) the COPY that writes it sends this text (``store._copy_writer``) instead of encoding the dict a second
    time, which cost as much as the hashing. Read-only, so the text cannot go stale: whatever changes a base (the
    three-way merge) builds a new plain dict from it.
    """

    __slots__ = ("json_text",)
    json_text: str

    def _read_only(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("a HashedSnapshot is read-only (its JSON text is hashed): change a dict(...) copy of it")

    __setitem__ = __delitem__ = pop = popitem = clear = update = setdefault = __ior__ = _read_only


def hashed_snapshot(data: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """(``data`` as a ``HashedSnapshot`` carrying its canonical JSON text, ``jsonable_hash(data)``).

    Anything ``json`` cannot encode keeps ``data`` as it is with ``stable_hash``'s digest, as ``jsonable_hash`` does.
    """
    try:
        text = sorted_json(data)
    except TypeError:
        return data, stable_hash(data)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    snapshot = HashedSnapshot(data)
    snapshot.json_text = text
    return snapshot, digest
