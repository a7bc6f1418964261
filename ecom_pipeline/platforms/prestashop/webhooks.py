"""PrestaShop change notices -> staging: every notice is a re-read of the record through the webservice.

A module on the shop posts a signed notice naming a record (``platforms.prestashop.deliveries``); the notice is a
hint, never data. :func:`staged_from_delivery` reads the record as the poll reads it (``display=full``, its
combinations, computed prices, option names, categories and tags, the order's state, currency and customer e-mail,
the customer's address) through the poll's own code (``extract._payloads``), and stages it exactly as the poll
does, so one transform and one resolve serve both paths and the next poll finds nothing new. A product notice also
stages the product's stock rows (``stock_availables``), in the poll's ``inventory`` form, so a sale or a restock in
the back office reaches ``hub_inventory`` without waiting for the schedule. On a multishop install whose shop the
integration cannot tell (``shops.ShopUnknownError``) the product is staged without its stock rows, with a warning
saying to reconnect with ``--shop-id``: the product's changes are not held back by the stock they cannot read.

A record the webservice no longer lists is staged as a delete, which ``webhooks.apply`` confirms with
:func:`confirm_deleted` before anything is tombstoned, as it does for a notice whose action is ``delete``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from ecom_pipeline.platforms.http import HttpOptions
from ecom_pipeline.platforms.prestashop import deliveries
from ecom_pipeline.platforms.prestashop import extract as ps_extract
from ecom_pipeline.platforms.prestashop.client import PrestaShopClient
from ecom_pipeline.platforms.prestashop.shops import ShopStock, ShopUnknownError
from ecom_pipeline.sync.extract import staged_record
from ecom_pipeline.warehouse.credentials import reveal
from ecom_pipeline.warehouse.store import IntegrationRecord, StagedRecord

_log = logging.getLogger(__name__)


class PermanentEventError(Exception):
    """The notice can never be applied as it is (retrying will not help): it goes straight to dead letters."""


def client_for(integration: IntegrationRecord, credentials: Mapping[str, Any], *, timeout: float = 20.0) -> Any:
    """A client for re-reads during webhook apply (few retries: the notice itself is retried with backoff)."""
    settings = integration.settings or {}
    shop_id = settings.get("shop_id")
    return PrestaShopClient(
        HttpOptions.for_integration(integration, timeout=timeout, max_retries=2),
        reveal(credentials["api_key"]),
        shop_id=int(shop_id) if shop_id not in (None, "") else None,
    )


def _timezone(integration: IntegrationRecord) -> str:
    zone = (integration.settings or {}).get("timezone")
    if not zone:
        raise PermanentEventError(f"integration {integration.id} has no shop time zone stored; reconnect it")
    return str(zone)


# The shop's reference lists (option names, categories, order states) per apply batch: kept on the batch's client
# (``webhooks.apply`` makes one per shop and batch and drops it at the end), so a batch of notices reads them once
# and the next batch afresh. An attribute, not a weak map: the lookups hold the client, which would keep its key.
_LOOKUPS_ATTRIBUTE = "_ecom_notice_lookups"


def _lookups_of(shop: PrestaShopClient, integration: IntegrationRecord) -> Any:
    lookups = getattr(shop, _LOOKUPS_ATTRIBUTE, None)
    if lookups is None:
        lookups = ps_extract._Lookups(shop, dict(integration.settings or {}))
        setattr(shop, _LOOKUPS_ATTRIBUTE, lookups)
    return lookups


def reread(
    *, integration: IntegrationRecord, entity: str, external_id: str, client: Callable[[], PrestaShopClient]
) -> list[StagedRecord]:
    """The record as the shop has it now, staged as the poll stages it (a delete when the webservice no longer
    lists it; ``webhooks.apply`` confirms it before it applies). A product comes with its stock rows."""
    resource, key = ps_extract.RESOURCES[entity]
    shop = client()
    items = shop.list_by_ids(resource, [int(external_id)])
    item = next((i for i in items if str(i.get("id")) == external_id), None)
    if item is None:
        return [staged_record(integration, entity, external_id, None, op="delete")]
    timezone = _timezone(integration)
    lookups = _lookups_of(shop, integration)
    updated = ps_extract._record_time(item, timezone)
    (payload,) = ps_extract._payloads(entity, key, [(external_id, item, updated)], shop, lookups, timezone)
    records = [staged_record(integration, entity, external_id, payload, source_updated_at=updated, read_now=True)]
    if entity == "product":
        listed = shop.list_by_parent(
            "stock_availables", "id_product", [int(external_id)], display=ps_extract.STOCK_DISPLAY
        )
        try:
            rows = ShopStock(shop, integration.settings or {}).select(listed)  # multishop: this shop's rows only
        except ShopUnknownError as err:
            # The product record is staged all the same; only its stock is skipped (which shop's rows are ours
            # cannot be told). Raised, the whole notice failed, nothing was staged, and it was retried to dead
            # letters although no retry can help until the integration names its shop.
            _log.warning("PrestaShop integration %s: product %s staged without its stock: %s",
                         integration.id, external_id, err)  # fmt: skip
            return records
        now = datetime.now(UTC)
        stock = {"id_product": external_id, "rows": rows, "context": {"observed_at": now.isoformat()}}
        records.append(
            staged_record(integration, "inventory", external_id, stock, source_updated_at=now, read_now=True)
        )
    return records


def staged_from_delivery(
    *,
    integration: IntegrationRecord,
    topic: str,
    body_text: str,
    resource_id: str | None,
    client: Callable[[], PrestaShopClient],
) -> list[StagedRecord]:
    """The staged records one notice stands for: a delete to confirm, or the record re-read (module docstring).

    Raises :class:`PermanentEventError` for a notice that names nothing we sync; any other exception (the shop is
    down, a 503) is worth retrying later.
    """
    try:
        entity, external_id, action = deliveries.notice(deliveries.inbox.json_object(body_text.encode("utf-8")))
    except deliveries.NoticeError as exc:
        raise PermanentEventError(f"{exc}: {body_text[:200]!r}") from None
    if action == "delete":
        return [staged_record(integration, entity, external_id, None, op="delete")]
    return reread(integration=integration, entity=entity, external_id=external_id, client=client)


def confirm_deleted(client: PrestaShopClient, entity: str, external_id: str) -> str | None:
    """None when the webservice no longer lists ``entity external_id``, else what it shows instead.

    A product the merchant only deactivated is still listed (``active`` 0): that is an update, not a deletion.
    """
    if entity not in ps_extract.RESOURCES:
        return f"a {entity} deletion cannot be checked on PrestaShop"
    resource, _ = ps_extract.RESOURCES[entity]
    found = client.list_by_ids(resource, [int(external_id)], display="[id]")
    if any(str(item.get("id")) == str(external_id) for item in found):
        return f"the shop still lists {entity} {external_id}"
    return None
