"""The error every WooCommerce emulator layer raises: it renders as WordPress's ``WP_Error`` JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


class StoreError(Exception):
    """A WooCommerce REST error: rendered as ``{"code", "message", "data": {"status", ...}}``."""

    def __init__(self, status: int, code: str, message: str, **data: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.data = data
        self.bare_data: int | None = None

    @classmethod
    def bare(cls, code: str, message: str, data: int) -> StoreError:
        """A ``WP_Error`` built with a bare number as its data (``new WP_Error(code, msg, 404)``).

        WooCommerce's refund controller does this. WordPress only takes the HTTP status from an array
        ``data.status``, so the answer is a 500 whose body carries ``"data": 404`` -- odd, but what the shop sends.
        """
        err = cls(500, code, message)
        err.bare_data = data
        return err

    def body(self) -> dict[str, Any]:
        if self.bare_data is not None:
            return {"code": self.code, "message": self.message, "data": self.bare_data}
        return {"code": self.code, "message": self.message, "data": {"status": self.status, **self.data}}


def invalid_id(kind: str) -> StoreError:
    return StoreError(404, f"woocommerce_rest_{kind}_invalid_id", "Invalid ID.")


def found(table: Mapping[int, T], key: int, missing: StoreError) -> T:
    """The record ``key`` of ``table``, or ``missing`` raised: every controller's "no such id" 404, whose code and
    wording differ by controller (hence passed in, never guessed)."""
    record = table.get(key)
    if record is None:
        raise missing
    return record
