"""What Shopify adds to ``ecom-pipeline``: the API-version section of ``status`` and ``shopify-upgrade``.

Shopify retires each Admin API version after a year, so each shop's pinned and served version is shown with what
to do when it retires or fell forward, and ``shopify-upgrade`` moves a shop to another version after checking its
credentials and scopes on it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any


def print_status(shops: Sequence[Any]) -> None:
    """Pinned and served Admin API version of each Shopify shop, and what to do when it retires or fell forward."""
    if not shops:
        return
    from ecom_pipeline.cli import _print_table
    from ecom_pipeline.platforms.shopify.versions import integration_version_status, pinned_version, served_facts

    rows, notes = [], []
    for i in shops:
        state = integration_version_status(i.settings)
        facts = served_facts(i.settings)
        rows.append(
            [i.id, pinned_version(i.settings), facts.get("served_version") or "-", facts.get("served_at") or "-",
             state.retires_on or "-", state.state]
        )  # fmt: skip
        if state.message():
            notes.append(f"#{i.id}: {(state.message() or '').replace('<id>', str(i.id))}")
    print("Shopify API versions:")
    _print_table(["shop", "pinned", "served", "served at", "retires", "state"], rows)
    for note in notes:
        print(f"  ! {note}")
    print()


def cmd_shopify_upgrade(args: argparse.Namespace) -> int:
    from ecom_pipeline.cli import _cipher, _engine
    from ecom_pipeline.platforms.errors import ShopApiError
    from ecom_pipeline.platforms.shopify.lifecycle import UpgradeError, upgrade_integration

    try:
        result = upgrade_integration(_engine(args), args.integration, _cipher(args), version=args.version)
    except (UpgradeError, ShopApiError) as exc:
        print(f"Not upgraded: {exc}", file=sys.stderr)
        return 1
    print(
        f"Integration #{result.integration_id}: Shopify API version {result.previous or '-'} -> {result.version} "
        f"(credentials and scopes checked on {result.served or result.version})."
    )
    for note in result.notes:
        print(f"  note: {note}")
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "shopify-upgrade",
        help="Move a Shopify shop to another Admin API version, after checking its credentials and scopes on it.",
    )
    p.add_argument("--integration", type=int, required=True, help="Integration id (see `ecom-pipeline status`).")
    p.add_argument("--version", default=None, help="YYYY-MM (default: the project default if supported, else newest).")
    p.set_defaults(func=cmd_shopify_upgrade)
