"""Tenant names: one rule, checked wherever a tenant enters (CLI, OAuth install, ``store.create_integration``).

Why a strict rule: a tenant name becomes a Dagster partition key, a run tag, a ``tenant_id`` in every hub row
(``String(64)``), a word in shell commands we print (``ecom-pipeline sync --tenant acme``) and, for people, a
folder or file name in their scripts. Lowercase letters, digits, ``-`` and ``_`` (1 to 64 characters, starting
with a letter or digit) are safe in all of these; an empty name made Dagster treat the run as unpartitioned,
``../x`` reads as a path, quotes and control characters break the commands we print, and more than 64
characters failed deep inside PostgreSQL after the shop had been contacted.

Existing rows written before the rule: ``store.active_tenants`` leaves them out (with a warning in the log), so
the schedule and the partitions sensor skip them, and ``ecom-pipeline sync`` names them with what to do.
"""

from __future__ import annotations

import argparse
import re

TENANT_MAX_LENGTH = 64
TENANT_RULE = "lowercase letters, digits, '-' and '_', 1 to 64 characters, starting with a letter or digit"
_TENANT_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


class InvalidTenantError(ValueError):
    """A tenant name breaks the rule; the message names the problem and a valid alternative when there is one."""


def tenant_problem(name: object) -> str | None:
    """Why ``name`` is not a valid tenant name, or None when it is."""
    if not isinstance(name, str):
        return f"a tenant name is text, not {type(name).__name__}"
    if _TENANT_RE.fullmatch(name):
        return None
    if name == "":
        return "the tenant name is empty"
    if len(name) > TENANT_MAX_LENGTH:
        return f"the tenant name has {len(name)} characters (at most {TENANT_MAX_LENGTH})"
    bad = sorted({c for c in name if not re.fullmatch(r"[a-z0-9_-]", c)})
    if bad:
        shown = ", ".join(repr(c) for c in bad[:5]) + (", ..." if len(bad) > 5 else "")
        return f"the tenant name contains {shown}"
    return "the tenant name must start with a letter or digit"


def suggest_tenant(name: str) -> str | None:
    """A valid name close to ``name`` (lowercased, other characters turned into '-'), or None if nothing is left."""
    candidate = re.sub(r"[^a-z0-9_-]+", "-", name.strip().lower()).strip("-_")[:TENANT_MAX_LENGTH].rstrip("-_")
    return candidate if _TENANT_RE.fullmatch(candidate) else None


def validate_tenant(name: str) -> str:
    """Return ``name`` when it follows the rule; raise ``InvalidTenantError`` saying why and what to use instead."""
    problem = tenant_problem(name)
    if problem is None:
        return name
    shown = repr(name) if len(repr(name)) <= 80 else repr(name[:60])[:-1] + "...'"
    message = f"invalid tenant name {shown}: {problem}. Tenant names use {TENANT_RULE}"
    suggestion = suggest_tenant(name) if isinstance(name, str) else None
    if suggestion:
        message += f", e.g. {suggestion}"
    raise InvalidTenantError(message + ".")


def is_valid_tenant(name: object) -> bool:
    return tenant_problem(name) is None


def tenant_argument(value: str) -> str:
    """argparse ``type=`` for ``--tenant``: a bad name is a usage error (exit 2) before anything is contacted."""
    try:
        return validate_tenant(value)
    except InvalidTenantError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


__all__ = [
    "TENANT_MAX_LENGTH",
    "TENANT_RULE",
    "InvalidTenantError",
    "is_valid_tenant",
    "suggest_tenant",
    "tenant_argument",
    "tenant_problem",
    "validate_tenant",
]
