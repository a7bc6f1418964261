"""Stored Shopify credentials: building a token provider from them, and writing renewed tokens back.

Client-credentials tokens live 24 hours. A renewal that is only kept in memory is lost when the run ends, so the
next run (and every webhook re-read) would renew again; Shopify tolerates that, but it also means the token in the
warehouse is always stale. :func:`persist_renewed_token` gives the token provider a hook that stores the new token
in the integration's encrypted credentials, next to everything else, in one small transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine, update

from ecom_pipeline.platforms.shopify.auth import ClientCredentialsToken, StaticToken, TokenProvider
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher, reveal
from ecom_pipeline.warehouse.schema import integrations
from ecom_pipeline.warehouse.types import utcnow

RenewHook = Callable[[dict[str, Any]], None]


def plain_credentials(credentials: Mapping[str, Any]) -> dict[str, Any]:
    """Credentials with every secret revealed (``load_credentials`` wraps strings so they never print)."""
    return {k: reveal(v) if isinstance(v, str) else v for k, v in credentials.items()}


def update_credentials(
    engine: Engine, integration_id: int, cipher: CredentialCipher, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Merge ``changes`` into the integration's encrypted credentials (read-modify-write in one transaction)."""
    with engine.begin() as conn:
        current = plain_credentials(store.load_credentials(conn, integration_id, cipher))
        current.update(changes)
        conn.execute(
            update(integrations)
            .where(integrations.c.id == integration_id)
            .values(credentials_encrypted=cipher.encrypt(current), updated_at=utcnow())
        )
    return current


def persist_renewed_token(engine: Engine, integration_id: int, cipher: CredentialCipher) -> RenewHook:
    """A hook for :class:`ClientCredentialsToken` (``on_renew``) that stores each renewed token and its expiry."""

    def persist(renewed: dict[str, Any]) -> None:
        changes: dict[str, Any] = {k: renewed[k] for k in ("access_token", "expires_at", "scope") if k in renewed}
        if changes:
            update_credentials(engine, integration_id, cipher, changes)

    return persist


def provider_for(
    base_url: str,
    credentials: Mapping[str, Any],
    *,
    verify: bool | str = True,
    timeout: float = 30.0,
    on_renew: RenewHook | None = None,
) -> TokenProvider:
    """The stored credentials as a token provider: client id + secret renew themselves; a bare token is static."""
    if credentials.get("client_id") and credentials.get("client_secret"):
        token = credentials.get("access_token")
        expires = credentials.get("expires_at")
        return ClientCredentialsToken(
            base_url,
            reveal(credentials["client_id"]),
            reveal(credentials["client_secret"]),
            access_token=reveal(token) if token else None,
            expires_at=float(expires) if isinstance(expires, int | float) else None,
            on_renew=on_renew,
            verify=verify,
            timeout=timeout,
        )
    if not credentials.get("access_token"):
        raise ValueError("Shopify credentials need an access_token, or a client_id with its client_secret")
    return StaticToken(reveal(credentials["access_token"]))


__all__ = ["persist_renewed_token", "plain_credentials", "provider_for", "update_credentials"]
