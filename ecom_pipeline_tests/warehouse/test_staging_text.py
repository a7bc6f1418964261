"""Staged payloads and snapshot digests are encoded by orjson (issue 12) into the very text ``json.dumps`` gave.

The stored text's SHA-256 is the staged ``payload_hash``, which webhooks compare with what is staged already
(``webhooks.same_second``): a text that changed for the same payload would make equal versions look different
across an upgrade; and a link's ``base_hash`` is compared with the next sync's digest, so a digest that changed
for the same snapshot would make every record of a shop look changed once. So the text must stay byte for byte
the old one for every payload, with the edge cases where orjson writes otherwise: small floats, big ints, lone
surrogates, non-string keys, times and Decimals.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import struct
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from ecom_pipeline.sync import hashing
from ecom_pipeline.sync.hashing import (
    canonical_json,
    hashed_snapshot,
    jsonable_hash,
    payload_hash,
    stable_hash,
    to_jsonable,
)
from ecom_pipeline.warehouse import store


def _old_text(payload: Any) -> str:
    """``payload_text`` as it was: the stdlib encoder, the canonical form for non-JSON types, U+0000 replaced."""

    def dumps(value: Any) -> str:
        try:
            return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        except TypeError:
            return canonical_json(value)

    text = dumps(payload)
    return dumps(store.without_nul(payload)) if "\\u0000" in text else text


def _random_floats(count: int) -> list[float]:
    rng = random.Random(12)
    out = []
    while len(out) < count:
        value = struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0]
        if math.isfinite(value):
            out.append(value)
    return out


PAYLOADS: list[Any] = [
    {"id": 1, "name": "Tee", "price": "12.50", "regular_price": "", "sale_price": None, "on_sale": False},
    {"name": "Ünïcödé ✓ 日本語 🎉", "quote": 'a "b" \\ c / d', "ctl": "\t\n\r\b\f\x01\x1f\x7f\u2028\u2029"},
    {"nul": "a\x00b", "nested": [{"deep": "\x00"}], "key\x00": 1},
    {"big": 2**64, "neg_big": -(2**63) - 1, "max": 2**64 - 1, "min": -(2**63), "huge": 10**40},
    {"barcode": "1234567890123456789012", "digits": 1234567890123456789},
    {"floats": [0.0, -0.0, 1.0, 12.5, 1 / 3, 1e15, 1e16, 1.5e300, 9999999999999998.0, 2.0**53]},
    {"small": [1e-4, 0.0001, 0.00009999, 1e-5, 1.5e-7, -3.2e-12, 5e-324]},
    {"as_strings": ["1e-05", "0.00001", "10e-3", "e-mail", "0.0000", "x0e-1"]},
    {"ints_keys": {1: "a", 2: "b"}},
    {"tuple": (1, 2, [3, (4,)]), "empty": {}, "empty_list": [], "bools": [True, False, None]},
    {"time": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "money": Decimal("12.50")},
    {"b": {"z": 1, "a": [{"y": 2, "x": 3}]}, "a": "é", "B": 0, "é": 1, "_": 2, "~": 3, "\u00ff": 4, "\U0001f600": 5},
    [1, "two", 3.5, None],
    "just a string",
    42,
    {"floats": _random_floats(2000)},
    {"lone": "\ud800"},
    {"deep": json.loads("[" * 300 + "]" * 300)},
]


@pytest.mark.parametrize("index", range(len(PAYLOADS)))
def test_the_staged_text_is_the_old_text(index: int) -> None:
    payload = PAYLOADS[index]
    assert store.payload_text(payload) == _old_text(payload)


def test_random_floats_one_by_one_give_the_old_text() -> None:
    for value in _random_floats(20_000):
        assert store.payload_text({"v": value}) == _old_text({"v": value}), value


def test_a_delete_has_no_text() -> None:
    assert store.payload_text(None) is None


def test_non_finite_floats_are_written_as_null() -> None:
    """The one text that changed: ``NaN`` (not JSON; PostgreSQL refused it) is now ``null``. No shop sends it."""
    assert store.payload_text({"a": math.nan, "b": [math.inf, -math.inf]}) == '{"a":null,"b":[null,null]}'


def test_a_plain_payload_is_encoded_without_the_stdlib_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    """The saving itself: neither a shop payload of plain JSON values nor its snapshot goes through ``json.dumps``."""

    def refuse(*args: Any, **kwargs: Any) -> str:
        raise AssertionError("json.dumps called")

    monkeypatch.setattr(hashing.json, "dumps", refuse)
    payload = PAYLOADS[0] | {"lines": [{"price": 12.5, "qty": 2}], "meta": PAYLOADS[1]}
    text = store.payload_text(payload)
    snapshot, digest = hashed_snapshot(to_jsonable(payload))
    monkeypatch.undo()
    assert text == _old_text(payload)
    assert digest == _old_stable_hash(payload) and snapshot.json_text == _old_sorted(to_jsonable(payload))


def _old_sorted(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _old_stable_hash(value: Any) -> str:
    return hashlib.sha256(_old_sorted(to_jsonable(value)).encode("utf-8")).hexdigest()


@pytest.mark.parametrize("index", [i for i in range(len(PAYLOADS)) if i not in (16, 17)])
def test_digests_are_the_old_digests(index: int) -> None:
    """``canonical_json``, ``stable_hash``, ``payload_hash``, ``jsonable_hash`` and ``hashed_snapshot`` give the
    texts and digests the stdlib encoder gave (the lone surrogate cannot be hashed at all, the deep list is
    covered by the staged text)."""
    value = PAYLOADS[index]
    assert canonical_json(value) == _old_sorted(to_jsonable(value))
    assert stable_hash(value) == _old_stable_hash(value)
    try:
        old_payload_digest = hashlib.sha256(_old_sorted(value).encode("utf-8")).hexdigest()
    except TypeError:
        old_payload_digest = _old_stable_hash(value)
    assert payload_hash(value) == old_payload_digest
    data = to_jsonable(value)
    assert jsonable_hash(data) == _old_stable_hash(value)
    if isinstance(data, dict):
        snapshot, digest = hashed_snapshot(data)
        assert digest == _old_stable_hash(value)
        assert snapshot == data and json.loads(snapshot.json_text) == json.loads(_old_sorted(data))
