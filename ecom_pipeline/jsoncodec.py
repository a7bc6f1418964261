"""JSON decoding for the hot paths: shop responses and staged payloads read back from the warehouse.

A full WooCommerce sync decodes every payload twice (the shop's response, then the staged text during the apply):
~140 MB of JSON each time for a 10,000-product shop. ``orjson`` (Rust) decodes it in about 60% of the standard
library's time, to the very same Python values, with two exceptions it must not be given:

- integers outside [-2**63, 2**64 - 1]: orjson turns them into floats without an error, where ``json`` keeps an
  exact ``int``. Only a number of 19 digits or more can be out of that range, so a text with a run of 19 digits
  anywhere (in a number or in a string: a barcode, a token) is decoded by ``json``;
- what orjson refuses (``NaN``, ``Infinity``, numbers that overflow a double, lone surrogate escapes, which
  ``json`` accepts): decoded by ``json`` too, which returns what it always returned or raises its own error.

So :func:`loads` returns exactly what ``json.loads`` returns, or raises ``json.JSONDecodeError`` where it does.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

# Every digit mapped to "0", then a search for 19 zeros: a run of 19 digits is the shortest number orjson may
# silently read as a float instead of an exact int. (A regular expression for it took 10x as long: a third of
# what orjson saves.)
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUN = b"0" * 19


def loads(text: str | bytes) -> Any:
    """``json.loads(text)``, by orjson where it gives the same value (see the module's docstring)."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if _LONG_RUN not in raw.translate(_DIGITS_TO_ZERO):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)
