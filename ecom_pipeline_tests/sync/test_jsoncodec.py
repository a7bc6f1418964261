"""``jsoncodec.loads`` decodes shop responses and staged payloads by orjson: it must give exactly what ``json.loads``
gives (values and types), or raise where it raises, on every input a shop or the warehouse can hand it."""

from __future__ import annotations

import json
import math
import random
import struct
from typing import Any

import pytest

from ecom_pipeline import jsoncodec

TRICKY = [
    # integers around orjson's 64-bit limits (it reads the ones outside as floats, json keeps them exact)
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    "-9223372036854775809",
    '{"id": 123456789012345678901234567890, "n": [-99999999999999999999]}',
    '{"barcode": "1234567890123456789012", "v": 1}',
    # floats: exponents, subnormals, overflow, negative zero, long mantissas
    "[0.1, 1e16, 1E5, 1e-7, -0.0, 5e-324, 2.5e-400, 1.7976931348623157e308, 0.30000000000000004]",
    "1e400",
    "[-1e400]",
    "0.12345678901234567890123",
    "NaN",
    "[Infinity, -Infinity]",
    # strings: non-ASCII, escapes, NUL, surrogate pairs and lone surrogates
    '{"t": "Caf\\u00e9 \u00ab\u00bb \u4e2d\u6587 \ud83d\ude00 \\ud83d\\ude00 \\u0000 \\n\\t\\" \\\\ \\/"}',
    '"\\ud800"',
    '["\\udc00x"]',
    # structure: duplicate keys (the last wins), nesting, empty containers, literals
    '{"a": 1, "a": 2}',
    '{"a": {"b": [{"c": [[], {}, null, true, false]}]}, "": ""}',
    "  [1, 2]\n",
]

INVALID = ["", "{", "[1,]", '{"a" 1}', "\ufeff[1]", "[1] x", "'a'", "nul"]


def _same(a: Any, b: Any) -> bool:
    """Equal values of equal types all the way down (1 == 1.0 and nan != nan are not good enough here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@pytest.mark.parametrize("text", TRICKY)
def test_loads_equals_json_loads_on_tricky_values(text: str) -> None:
    assert _same(jsoncodec.loads(text), json.loads(text))
    assert _same(jsoncodec.loads(text.encode("utf-8", "surrogatepass")), json.loads(text))


@pytest.mark.parametrize("text", INVALID)
def test_loads_refuses_what_json_loads_refuses(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    with pytest.raises(json.JSONDecodeError):
        jsoncodec.loads(text)


def test_loads_equals_json_loads_on_random_numbers() -> None:
    rng = random.Random(12)
    numbers = []
    for i in range(20_000):
        if i % 3 == 0:
            x = struct.unpack("d", rng.randbytes(8))[0]
            if math.isfinite(x):
                numbers.append(repr(x))
        elif i % 3 == 1:
            numbers.append(f"{rng.uniform(-1, 1):.{rng.randint(1, 20)}f}e{rng.randint(-330, 330)}")
        else:
            numbers.append(str(rng.randint(-(2**70), 2**70) >> rng.randint(0, 70)))
    for number in numbers:
        text = f'{{"v": {number}}}'
        assert _same(jsoncodec.loads(text), json.loads(text)), number
