"""The toy platform's stock module, named by a spec in the registry test: its refund parser is all it offers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any


def restocked_lines(order: Mapping[str, Any]) -> dict[str, tuple[int, datetime | None]]:
    """Units the toy order's refunds gave back, per line id."""
    return {str(line["id"]): (int(line["restocked"]), None) for line in order.get("lines", [])}
