"""Customers: one hub customer per tenant and lower-cased email, linked from every shop that knows that email."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from ecom_pipeline.sync.canonical import CanonicalCustomer
from ecom_pipeline.sync.resolve.core import (
    LinkWriter,
    Pending,
    ResolveCounts,
    diff_records,
    insert_hub_rows,
    norm_email,
    sync_stamp,
)
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.schema import hub_customers


def _customer_values(c: CanonicalCustomer, now: datetime) -> dict[str, Any]:
    return {
        "email": norm_email(c.email),
        "first_name": c.first_name,
        "last_name": c.last_name,
        "phone": c.phone,
        "company": c.company,
        "city": c.city,
        "country": c.country,
        "source_created_at": c.created_at,
        **sync_stamp(c.updated_at, now),
    }


@dataclass
class _CustomerMatch:
    """Where each changed customer of a page goes in the hub."""

    known: list[Pending[CanonicalCustomer]] = field(default_factory=list)  # linked, or an email the hub has
    new: list[Pending[CanonicalCustomer]] = field(default_factory=list)  # a hub customer to create
    # The same email again in this page: (record, index in ``new`` of the first one), linked to that new customer.
    repeats: list[tuple[Pending[CanonicalCustomer], int]] = field(default_factory=list)


def _hub_customers_by_email(conn: Connection, tenant_id: str, emails: set[str]) -> dict[str, int]:
    """The tenant's hub customers by email (the oldest where several share one)."""
    by_email: dict[str, int] = {}
    for part in store.chunked(sorted(emails)):
        query = (
            select(hub_customers.c.id, hub_customers.c.email)
            .where(hub_customers.c.tenant_id == tenant_id, hub_customers.c.email.in_(part))
            .order_by(hub_customers.c.id)
        )
        for row in conn.execute(query):
            by_email.setdefault(row.email, int(row.id))
    return by_email


def _match_customers(
    pending: list[Pending[CanonicalCustomer]], by_email: dict[str, int], counts: ResolveCounts
) -> _CustomerMatch:
    """The link's hub customer, else the one with the same email, else a new one (one per email in the page)."""
    match = _CustomerMatch()
    pending_email: dict[str, int] = {}
    for item in pending:
        email = norm_email(item.record.email)
        link = item.link
        hub_id = int(link.hub_id) if link is not None else by_email.get(email) if email else None
        if hub_id is None and email and email in pending_email:
            # Same email twice in one page: one hub customer, both shop records linked to it.
            match.repeats.append((item, pending_email[email]))
            counts.updated += 1
        elif hub_id is None:
            if email:
                pending_email[email] = len(match.new)
            match.new.append(item)
            counts.created += 1
        else:
            item.hub_id = hub_id
            match.known.append(item)
            counts.updated += 1
    return match


def _write_hub_customers(conn: Connection, tenant_id: str, match: _CustomerMatch, now: datetime) -> None:
    """Insert the new hub customers (their ids go onto the records, repeats included), update the known ones."""
    insert_hub_rows(
        conn, hub_customers, match.new, [{"tenant_id": tenant_id, **_customer_values(i.record, now)} for i in match.new]
    )
    for item, index in match.repeats:
        item.hub_id = match.new[index].hub_id
    store.executemany_update(
        conn, hub_customers, [{"id": i.hub_id, **_customer_values(i.record, now)} for i in match.known]
    )


def resolve_customers(
    conn: Connection,
    *,
    tenant_id: str,
    integration_id: int,
    customers: Sequence[CanonicalCustomer],
    now: datetime,
) -> ResolveCounts:
    """Upsert customers; a new shop customer whose email the tenant already has joins that hub customer."""
    counts = ResolveCounts()
    if not customers:
        return counts
    links = store.get_links(conn, integration_id, "customer", [c.external_id for c in customers])
    by_email = _hub_customers_by_email(
        conn, tenant_id, {e for c in customers if c.external_id not in links and (e := norm_email(c.email))}
    )
    match = _match_customers(diff_records(customers, links, counts), by_email, counts)
    _write_hub_customers(conn, tenant_id, match, now)
    writer = LinkWriter(conn, tenant_id, integration_id, now)
    writer.add_all("customer", match.known)
    writer.add_all("customer", match.new)
    writer.add_all("customer", (item for item, _ in match.repeats))
    writer.write()
    return counts
