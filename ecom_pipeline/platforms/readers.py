"""Field readers shared by every platform's transform, so the same kind of value is parsed the same way everywhere.

A transform is the only code that knows its platform's field *names*; how a money amount, an integer, a piece of
text, an e-mail, a flag or a timestamp is *read* is decided here, once. Every reader raises
:class:`~ecom_pipeline.platforms.errors.TransformError` naming the entity, the record and the field, so a bad
record is rejected on its own with a message that says where to look (never a bare ``ValueError``).

Use: ``f = Fields("order", "34")`` then ``f.money("total", order.get("total"))``; ids come from
:func:`record_id` (there is no record id to name until it is read).

The rules, and why:

- **Money is Decimal from text or an int, never from a float.** A JSON float has already been through binary
  floating point: ``Decimal(0.1)`` is 0.1000000000000000055..., and the float's text is only an *approximation*
  of what the shop stored. So :meth:`Fields.money` refuses a float (and a bool) with a TransformError. The one
  place a platform documents a float amount (WooCommerce's ``line_items[].price``, computed by PHP) is read
  explicitly with :meth:`Fields.money_from_json_number`, which takes the float's shortest round-trip text: that is
  exactly the text PHP's ``json_encode`` wrote (``serialize_precision = -1`` uses the same algorithm), so 26.1 is
  read as ``Decimal("26.1")``, not as 26.10000000000000142... Non-finite amounts ("NaN", "Infinity") are refused.
- **Integers** are ints or digit strings (an optional leading minus); a float is accepted only when it is a whole
  number (2.0 is exactly 2; 2.5 is refused). A bool is refused (JSON ``true`` is not a quantity).
- **Text** is a stripped string or None ("" means "not set" on every platform). A list or an object where text
  belongs is refused: its Python rendering (``[{'id': '1', ...}]``) must never reach the hub.
- **E-mail** is text lower-cased (the hub matches customers by it).
- **Flags** are true for ``True``, ``1`` and the strings "1", "true", "yes" (any case); anything else is false.
- **Times** become aware UTC datetimes. ``Z`` and explicit offsets are honoured; a time without offset is read as
  UTC only where the platform says the field is UTC (WooCommerce's ``*_gmt``), and refused elsewhere rather than
  guessed (a one-hour shift is exactly the bug that guessing creates).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn

from ecom_pipeline.platforms.errors import TransformError

_TRUE_WORDS = frozenset({"1", "true", "yes"})


def record_id(entity: str, payload: Any, field: str = "id") -> str:
    """The record's positive integer id as text ("34"), from an int or a digit string; else a TransformError.

    Leading zeros and spaces are dropped ("034 " is "34"), so the same record has one key whichever way the
    platform spelled it.
    """
    if not isinstance(payload, Mapping):
        raise TransformError(entity, None, field, f"expected a JSON object, found {type(payload).__name__}")
    value = payload.get(field)
    if value is None or value == "" or value == 0 or value is False:
        raise TransformError(entity, None, field, f"missing or empty id, found {value!r}")
    if isinstance(value, bool):
        raise TransformError(entity, None, field, f"expected an integer id, found {value!r}")
    if isinstance(value, int) and value > 0:
        return str(value)
    if isinstance(value, str) and value.strip().isdigit() and int(value) > 0:
        return str(int(value))
    raise TransformError(entity, None, field, f"expected a positive integer id, found {value!r}")


@dataclass(frozen=True)
class Fields:
    """The readers, bound to one record so every error names it (``entity`` and ``record_id``)."""

    entity: str
    record_id: str | None = None

    def fail(self, field: str, message: str) -> NoReturn:
        """Raise the TransformError for ``field`` of this record."""
        raise TransformError(self.entity, self.record_id, field, message)

    # -- money ----------------------------------------------------------------------------------------------------

    def money(self, field: str, value: Any, *, default: Decimal | None = None) -> Decimal | None:
        """Decimal from a decimal string ("23.900000", "-26.00") or an int; None and "" are ``default``.

        A float is refused (module docstring); use :meth:`money_from_json_number` where the platform documents
        a float amount.
        """
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            self.fail(field, f"expected a decimal amount, found {value!r}")
        if isinstance(value, float):
            self.fail(
                field,
                f"expected a decimal amount as text, found the JSON number {value!r}: a float cannot carry an "
                "exact amount",
            )
        return self._decimal(field, value)

    def required_money(self, field: str, value: Any) -> Decimal:
        """Like :meth:`money`, but a missing amount is an error."""
        amount = self.money(field, value)
        if amount is None:
            self.fail(field, f"required amount is missing, found {value!r}")
        return amount

    def money_from_json_number(self, field: str, value: Any) -> Decimal | None:
        """Like :meth:`money`, but a float is read from its shortest round-trip text (what PHP wrote), for the
        fields a platform documents as JSON numbers. Never ``Decimal(float)``."""
        if isinstance(value, float):
            return self._decimal(field, repr(value))
        return self.money(field, value)

    def _decimal(self, field: str, value: Any) -> Decimal:
        try:
            amount = Decimal(value) if isinstance(value, int) else Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            self.fail(field, f"expected a decimal amount, found {value!r}")
        if not amount.is_finite():
            self.fail(field, f"expected a finite decimal amount, found {value!r}")
        return amount

    # -- numbers, text, flags --------------------------------------------------------------------------------------

    def integer(self, field: str, value: Any, *, default: int | None = None, non_negative: bool = False) -> int | None:
        """An int from an int, a whole float or a digit string ("-3" too); None and "" are ``default``."""
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            self.fail(field, f"expected an integer, found {value!r}")
        number: int | None = None
        if isinstance(value, int):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str) and value.strip().removeprefix("-").isdigit():
            number = int(value.strip())
        if number is None:
            self.fail(field, f"expected an integer, found {value!r}")
        if non_negative and number < 0:
            self.fail(field, f"expected a non-negative integer, found {value!r}")
        return number

    def text(self, field: str, value: Any) -> str | None:
        """Stripped text, or None for None and ""; a list or an object is refused (module docstring)."""
        if type(value) is str:  # most values: skips the Mapping ABC check, the costliest part of this call
            return value.strip() or None
        if value is None:
            return None
        if isinstance(value, list | tuple | Mapping):
            self.fail(field, f"expected text, found a {type(value).__name__}: {str(value)[:80]}")
        text = str(value).strip()
        return text or None

    def email(self, field: str, value: Any) -> str | None:
        """An e-mail address as text, lower-cased (the hub matches customers by it)."""
        text = self.text(field, value)
        return text.lower() if text else None

    def flag(self, field: str, value: Any) -> bool:
        """True for True, 1, "1", "true", "yes"; False for anything else (missing included)."""
        del field  # a flag cannot be malformed: anything that is not "on" is "off"
        if value is True or (isinstance(value, int) and not isinstance(value, bool) and value == 1):
            return True
        return isinstance(value, str) and value.strip().lower() in _TRUE_WORDS

    # -- times ------------------------------------------------------------------------------------------------------

    def time_text(self, field: str, value: Any, expected: str) -> str | None:
        """The stripped text of a date-time field, None when absent; a non-string is refused."""
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            self.fail(field, f"expected {expected}, found {value!r}")
        return value.strip()

    def utc_time(
        self, field: str, value: Any, *, naive_is_utc: bool = False, expected: str = "an ISO 8601 date-time"
    ) -> datetime | None:
        """ISO 8601 -> aware UTC datetime. ``Z`` and offsets are honoured; a time without offset is UTC only with
        ``naive_is_utc`` (the field is documented as UTC), otherwise refused rather than guessed."""
        text = self.time_text(field, value, "a date-time string")
        if text is None:
            return None
        try:
            parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            self.fail(field, f"expected {expected}, found {value!r}")
        if parsed.tzinfo is not None:
            return parsed.astimezone(UTC)
        if not naive_is_utc:
            self.fail(field, f"date-time without offset is ambiguous: {value!r}")
        return parsed.replace(tzinfo=UTC)


__all__ = ["Fields", "record_id"]
