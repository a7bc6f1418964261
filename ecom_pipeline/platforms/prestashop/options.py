"""PrestaShop attribute groups and values (``product_options`` / ``product_option_values``) found by name and
created when missing, so a hub variant's options ("Size=M") become the combination's attribute values (export).

Why a module: a combination names its attribute values by id, the hub names them as text, and the shop may lack
the group ("Material") or the value ("XXL"). Refusing such variants (what the writer did before) left them out of
the shop until someone created the values in the back office; now they are created, and never twice:

- **Names, per language.** Groups and values carry multilingual names (JSON: a list of ``{"id", "value"}`` per
  language on a multilingual shop, a plain string on a one-language shop; XML: ``<language id="N">``). A hub name
  matches a shop name in the integration's language (``settings.language_id``, the language the pull reads, so
  hub and shop then agree on the variant's options), case and spacing aside: "Blanc" is not matched to a value
  whose French name it is when the integration speaks English. A created group or value gets the hub name in
  every language of the shop (``settings.languages``), since the hub holds one; a translator can rename the
  other languages later, the match is by the integration's language.
- **Required fields.** A group needs ``name``, ``public_name`` and ``group_type`` (``select``); a value needs its
  ``id_attribute_group`` and ``name``. PrestaShop answers a missing one with error 85 "Validation error" (XML),
  whose message reaches the rejection.
- **No duplicate after a lost answer.** PrestaShop has no uniqueness rule on these names, so a POST retried blindly
  after its answer was lost (cut connection, 5xx) would make a second "Material". Each create is sent without the
  transport's automatic retry; when its answer is lost, the lists are read again and a group/value of that name
  (made by the lost request) is adopted; only when none is found is the POST sent again.

The lists are read once per writer run (``display=[id,name]`` and ``[id,id_attribute_group,name]``) and kept up to
date with what the run creates.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple
from xml.etree.ElementTree import Element, SubElement

from ecom_pipeline.platforms.errors import (
    ShopApiError,
    ShopRateLimitedError,
    ShopResponseError,
    ShopServerError,
    ShopUnreachableError,
)
from ecom_pipeline.platforms.prestashop.client import PrestaShopClient
from ecom_pipeline.platforms.prestashop.errors import PrestaShopPermissionError

# Answers that may hide a create the shop applied (or, 429, one it did not): look up before sending again.
LOST_ANSWER = (ShopServerError, ShopUnreachableError, ShopResponseError, ShopRateLimitedError)
CREATE_ATTEMPTS = 3
# After an answer lost while the shop may still be running the create (``may_still_run``): the pauses between the
# look-ups for what it made, about 15 s in all, before the item is left for the next push (``create_once``).
SETTLE_DELAYS_S: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0)


class CreateUncertain(ShopUnreachableError):
    """A create whose answer never came and whose record has not appeared: not sent again in this push (the shop
    may still be saving it); the item is rejected and the next push looks it up first."""

    kind = "The shop did not answer a create"
    default_hint = (
        "The next push looks it up before creating it: by its reference or name, else (marked in this rejection) "
        "by its slug or option values among the records made after this push began."
    )


class OptionError(Exception):
    """A group or value the shop would not give us; the message says which and why (it becomes a rejection)."""


def may_still_run(err: ShopApiError) -> bool:
    """Whether the shop may still be executing a request whose answer ``err`` replaced: no answer came (a timeout, a
    connection dropped before the answer) or something in front of PrestaShop answered for it: any 5xx without a
    webservice error document (``{"errors": [...]}`` / ``<errors>``, whose code the client keeps in ``err.code``).
    PHP goes on after the client (or the proxy) gave up, so the record can appear seconds later. Not only nginx's
    502/504: a proxy's 503 (Heroku H12, Varnish), Cloudflare's 520/522/524, a blank 500 all come from in front of
    or around a PHP that may still be saving; taken for finished answers, the push looked once and sent the POST
    again (a second product when PHP finished). A 5xx carrying a webservice error (PrestaShop answered it), a 429
    or a body cut after its headers are answers the shop had finished writing: its work is done either way."""
    if isinstance(err, ShopUnreachableError):
        return "Failed to establish a new connection" not in err.message  # refused: never reached the shop
    if isinstance(err, ShopRateLimitedError) or not isinstance(err, ShopServerError):
        return False
    status = err.status or 0
    return 500 <= status <= 599 and status != 429 and not err.code


class Created(NamedTuple):
    """A record :func:`create_record` made: its id, and whether that id came in the POST's own answer (``answered``)
    or from ``refind``, the look-up after a lost answer: a record found by what it holds, which may be another
    request's (a merchant's product of that slug made meanwhile), so the writer never deletes it as its own."""

    id: str
    answered: bool


def create_once(
    client: PrestaShopClient,
    resource: str,
    document: Element,
    *,
    refind: Callable[[], str | None],
    what: str,
    error: type[Exception] | None,
) -> str:
    """:func:`create_record`'s id."""
    return create_record(client, resource, document, refind=refind, what=what, error=error).id


def create_record(
    client: PrestaShopClient,
    resource: str,
    document: Element,
    *,
    refind: Callable[[], str | None],
    what: str,
    error: type[Exception] | None,
) -> Created:
    """POST ``document`` without the transport's blind retry; after a lost answer, adopt what it made or send again.

    A POST whose answer was lost may have created the record, and a blind retry would create a second one; so the
    transport's retries are off for it (for this thread only: :meth:`PrestaShopClient.without_retries`), and after a
    lost answer ``refind`` (re-reading the shop) looks the record up before sending again. Shared by attribute
    groups/values, categories, tags, and the writer's products and combinations (found again by reference). Raises
    ``error`` with the shop's message; ``error`` None: the shop's error itself (:class:`ShopApiError`).

    When the shop may still be running the lost request (``may_still_run``: a timeout, a proxy's 5xx), the
    look-up is repeated ``SETTLE_DELAYS_S`` apart (about 15 s in all) while the record has not appeared, and when it
    still has not, the POST is **not** sent again: the item fails with :class:`CreateUncertain` (a rejection of this
    push), and the next push's look-up finds the record if the shop made it late: by reference (products,
    combinations) or name (groups, values, categories, tags); a record with neither (a product with combinations,
    a product without SKU, a combination without reference) by slug or option values, above this push's id floors:
    the writer marks the rejection (``CREATE_UNCERTAIN`` in its payload) and the next push reads the open marks
    (``plan.uncertain_creates``; docs/two-way-sync.md). A look-up made at once
    after a timeout found nothing while PHP was still saving the record, and the POST sent again made a second one.
    """
    for attempt in range(CREATE_ATTEMPTS):
        try:
            with client.without_retries():
                new_id = client.post_xml_id(resource, document)
        except LOST_ANSWER as err:
            running = may_still_run(err)
            found = refind()
            for delay in SETTLE_DELAYS_S if running else ():
                if found is not None:
                    break
                time.sleep(delay)
                found = refind()
            if found is not None:
                return Created(found, answered=False)  # the lost request had created it (or so the look-up says)
            if running:
                message = (
                    f"{what}: the shop did not answer ({err.message}) and the record has not appeared "
                    f"{sum(SETTLE_DELAYS_S):.0f}s later; it is not sent again in this push, since the shop may still "
                    "be saving it: the next push looks it up before creating it"
                )
                if error is None:
                    raise CreateUncertain(message, platform="prestashop", method="POST", url=err.url) from None
                raise error(message) from None
            if attempt == CREATE_ATTEMPTS - 1:
                if error is None:
                    raise
                raise error(f"{what} could not be created: {err.message}") from None
            continue
        except ShopApiError as err:
            if error is None:
                raise
            raise error(f"{what} could not be created: {err.message}") from None
        if not new_id:
            if error is None:
                raise ShopResponseError(f"{what}: the shop's answer has no id", platform="prestashop")
            raise error(f"{what}: the shop's answer has no id")
        return Created(new_id, answered=True)
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


def name_key(text: Any) -> str:
    """How two option names are the same: spacing trimmed and case folded."""
    return " ".join(str(text or "").split()).casefold()


def names_by_language(value: Any) -> dict[str, str]:
    """A multilingual field as ``{language id: text}`` ("" for a one-language shop's plain string)."""
    if isinstance(value, list):
        return {str(v.get("id")): str(v.get("value") or "") for v in value if isinstance(v, Mapping)}
    if isinstance(value, Mapping):  # {"language": [...]} as some renderings nest it
        return names_by_language(value.get("language"))
    return {"": str(value or "")}


def shop_languages(settings: Mapping[str, Any]) -> tuple[str | None, list[int]]:
    """(the integration's language id, every shop language id to write multilingual fields in) from its settings;
    a shop whose languages were never read is written in the integration's language (else 1)."""
    lid = settings.get("language_id")
    language_id = str(lid) if lid not in (None, "") else None
    ids = sorted(int(k) for k in (settings.get("languages") or {}) if str(k).isdigit())
    return language_id, ids or ([int(language_id)] if language_id else [1])


class PrestaShopOptions:
    """Hub option names -> the shop's ``product_option_values`` ids, creating what is missing (see module doc)."""

    def __init__(self, client: PrestaShopClient, settings: Mapping[str, Any]) -> None:
        self.client = client
        self.language_id, self.language_ids = shop_languages(settings)
        self._groups: list[dict[str, Any]] | None = None
        self._values: list[dict[str, Any]] | None = None

    # -- reading ------------------------------------------------------------------------------------------------

    def _load(self, refresh: bool = False) -> None:
        if self._groups is not None and not refresh:
            return
        try:
            self._groups = self.client.list("product_options", {"display": "[id,name]"})
            self._values = self.client.list("product_option_values", {"display": "[id,id_attribute_group,name]"})
        except PrestaShopPermissionError as err:
            raise OptionError(
                "the webservice key may not use product_options/product_option_values: give it GET and POST on both "
                f"(Advanced Parameters > Webservice) so variants' options can be matched and created ({err.message})"
            ) from None

    def _match(self, items: Sequence[Mapping[str, Any]], name: str, keep: Callable[[Any], bool]) -> str | None:
        """The lowest id among ``items`` named ``name`` in the integration's language (what the pull reads back,
        so the hub and the shop agree on the variant's options afterwards)."""
        key = name_key(name)
        found: list[int] = []
        for item in items:
            if not keep(item):
                continue
            names = names_by_language(item.get("name"))
            mine = names.get(self.language_id or "", names.get(""))  # a one-language shop's plain string
            if mine is None and self.language_id is None and names:
                mine = names[min(names)]  # no integration language recorded: the shop's first
            if mine is not None and name_key(mine) == key:
                found.append(int(item["id"]))
        return str(min(found)) if found else None

    def find_group(self, name: str) -> str | None:
        self._load()
        return self._match(self._groups or [], name, lambda _: True)

    def find_value(self, group_id: str, name: str) -> str | None:
        self._load()
        return self._match(self._values or [], name, lambda v: str(v.get("id_attribute_group")) == group_id)

    # -- creating -----------------------------------------------------------------------------------------------

    def _document(self, node: str, fields: Mapping[str, str], texts: Mapping[str, str]) -> Element:
        root = Element("prestashop")
        record = SubElement(root, node)
        for name, text in fields.items():
            SubElement(record, name).text = text
        for name, text in texts.items():
            field = SubElement(record, name)
            for lid in self.language_ids:
                SubElement(field, "language", id=str(lid)).text = text
        return root

    def _create(self, resource: str, document: Element, find: Callable[[], str | None], what: str) -> str:
        def refind() -> str | None:
            self._load(refresh=True)
            return find()

        return create_once(self.client, resource, document, refind=refind, what=what, error=OptionError)

    def group_id(self, name: str) -> str:
        """The attribute group named ``name``, created (a ``select`` group) when the shop has none."""
        found = self.find_group(name)
        if found is not None:
            return found
        document = self._document(
            "product_option", {"is_color_group": "0", "group_type": "select"}, {"name": name, "public_name": name}
        )
        gid = self._create("product_options", document, lambda: self.find_group(name), f"attribute group {name!r}")
        if self.find_group(name) is None:
            (self._groups or []).append({"id": int(gid), "name": name})
        return gid

    def value_id(self, group: str, value: str) -> str:
        """The value ``value`` of group ``group`` (both by name), each created when the shop has none."""
        gid = self.group_id(group)
        found = self.find_value(gid, value)
        if found is not None:
            return found
        document = self._document("product_option_value", {"id_attribute_group": gid, "color": ""}, {"name": value})
        what = f"attribute value {group}={value}"
        vid = self._create("product_option_values", document, lambda: self.find_value(gid, value), what)
        if self.find_value(gid, value) is None:
            (self._values or []).append({"id": int(vid), "id_attribute_group": gid, "name": value})
        return vid

    def value_ids(self, options: Mapping[str, str]) -> list[str]:
        """A hub variant's options as the shop's value ids, in the variant's order."""
        return [self.value_id(group, value) for group, value in options.items()]


def set_association(record: Element, plural: str, singular: str, ids: Sequence[str]) -> None:
    """Make ``ids`` the product document's whole ``associations/<plural>`` list (``<singular><id>``), leaving the
    other associations as they are (a PUT sends the whole document, so a list we leave out would be emptied)."""
    associations = record.find("associations")
    if associations is None:
        associations = SubElement(record, "associations")
    node = associations.find(plural)
    if node is None:
        node = SubElement(associations, plural)
    for child in list(node):
        node.remove(child)
    for item_id in ids:
        SubElement(SubElement(node, singular), "id").text = item_id
