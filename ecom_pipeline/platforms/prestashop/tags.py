"""PrestaShop product tags, found by name and created when missing (export).

Why: a hub product names its tags as text, while a PrestaShop product lists them by id (``associations/tags``), and
a PrestaShop tag belongs to one language (``Tag``: ``id_lang``, ``name``; not a multilingual field): the same word in
English and French is two tags, and a product's association holds the tags of every language together
(``Product::getWsTags``/``setWsTags``: a write replaces the whole list). So:

- the shop's tags are read once per push (``GET /api/tags?display=[id,id_lang,name]``) and a hub name is matched
  in the integration's language (``settings.language_id``, else 1), case and spacing aside;
- a missing one is ``POST /api/tags`` with that language and the hub name, sent without the transport's automatic
  retry (PrestaShop has no uniqueness rule on tag names: a blind retry could make two); after a lost answer the list
  is read again and a tag of that name and language is used (``options.create_once``). PrestaShop refuses a name
  over 32 characters or with one of ``<>={}`` (error 85): a :class:`TagError`, which rejects that product;
- the product's association keeps the tags of the other languages and replaces those of the integration's language
  with the hub's (:meth:`PrestaShopTags.association`), so a French tag survives a push of the English ones.

A webservice key without the ``tags`` resource (the recorded key has none) cannot read or write tags: the push then
leaves tags alone (:meth:`PrestaShopTags.available` is False, the writer says so in the log once per push) instead of
refusing every product that has some; grant the key GET and POST on ``tags`` to push them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from xml.etree.ElementTree import Element, SubElement

from ecom_pipeline.platforms.prestashop.client import PrestaShopClient
from ecom_pipeline.platforms.prestashop.errors import PrestaShopPermissionError
from ecom_pipeline.platforms.prestashop.options import create_once, name_key, set_association, shop_languages


class TagError(Exception):
    """A tag the shop would not give us; the message says which and why (it becomes a rejection)."""


class PrestaShopTags:
    """Hub tag names -> the shop's tag ids in the integration's language, creating what is missing."""

    def __init__(self, client: PrestaShopClient, settings: Mapping[str, Any]) -> None:
        self.client = client
        language_id, _ = shop_languages(settings)
        self.language_id = language_id or "1"
        self._items: list[dict[str, Any]] | None = None
        self._allowed: bool | None = None
        self._resolved: dict[str, str] = {}  # name key -> id, for this run

    def _load(self, refresh: bool = False) -> list[dict[str, Any]]:
        if self._items is None or refresh:
            self._items = list(self.client.list("tags", {"display": "[id,id_lang,name]"}))
        return self._items

    def available(self) -> bool:
        """Whether the webservice key may use tags (read once; False when the shop answers "not allowed")."""
        if self._allowed is None:
            try:
                self._load()
                self._allowed = True
            except PrestaShopPermissionError:
                self._allowed = False
        return self._allowed

    def _language_of(self, tag_id: str) -> str | None:
        for item in self._load():
            if str(item.get("id")) == tag_id:
                return str(item.get("id_lang"))
        return None

    def find(self, name: str) -> str | None:
        """The lowest id of a tag named ``name`` in the integration's language."""
        key = name_key(name)
        found = [
            int(item["id"])
            for item in self._load()
            if str(item.get("id_lang")) == self.language_id and name_key(item.get("name")) == key
        ]
        return str(min(found)) if found else None

    def tag_ids(self, names: Iterable[str]) -> list[str]:
        """The shop's tag ids for hub tag names, in the hub's order without repeats, created when missing;
        :class:`TagError` when the shop refuses one."""
        ids: list[str] = []
        for name in names:
            text = " ".join(str(name or "").split())
            if not text:
                continue
            key = name_key(text)
            if key not in self._resolved:
                self._resolved[key] = self.find(text) or self._create(text)
            if self._resolved[key] not in ids:
                ids.append(self._resolved[key])
        return ids

    def association(self, current: Sequence[str], names: Iterable[str]) -> list[str]:
        """The product's whole ``associations/tags`` after a push of hub ``names``: its tags in the other languages
        as they are, then the hub's in the integration's language."""
        mine = self.tag_ids(names)
        others = [t for t in current if t not in mine and self._language_of(t) not in (None, self.language_id)]
        return [*others, *mine]

    def _document(self, name: str) -> Element:
        root = Element("prestashop")
        record = SubElement(root, "tag")
        SubElement(record, "id_lang").text = self.language_id
        SubElement(record, "name").text = name
        return root

    def _create(self, name: str) -> str:
        """POST the tag once (options.create_once); after a lost answer, adopt what it made or send again."""

        def refind() -> str | None:
            self._load(refresh=True)
            return self.find(name)

        new_id = create_once(
            self.client, "tags", self._document(name), refind=refind, what=f"tag {name!r}", error=TagError
        )
        if self.find(name) is None:
            self._load().append({"id": int(new_id), "id_lang": self.language_id, "name": name})
        return new_id


def tag_ids_of(record: Element) -> list[str]:
    """The ids in a product document's ``associations/tags``."""
    node = record.find("associations/tags")
    if node is None:
        return []
    return [(t.findtext("id") or "").strip() for t in node if (t.findtext("id") or "").strip()]


def set_tags(record: Element, ids: Sequence[str]) -> None:
    """Make ``ids`` the product document's ``associations/tags`` (the whole list; the other associations stay)."""
    set_association(record, "tags", "tag", ids)
