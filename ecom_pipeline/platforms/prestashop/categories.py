"""PrestaShop categories found by name and created when missing, so a hub product's ``categories`` become the
product's ``associations/categories`` and ``id_category_default`` (export).

Why a module: a PrestaShop product names its categories by id, the hub names them as text (a nested one as the path
``Parent > Child``, ``sync.export.CATEGORY_PATH_SEPARATOR``), and the shop may lack them. Before, a create went to
the home category (id 2) whatever the hub said; now:

- **Names, per language.** A category's ``name`` is multilingual (JSON: a list of ``{"id", "value"}`` per language
  on a multilingual shop, a plain string on a one-language shop, recorded ``categories-list-names``). A hub name
  matches a shop category's name in the integration's language (``settings.language_id``, the language the pull
  reads, so the pull answers the names the hub holds), case and spacing aside.
- **Paths.** ``Parent > Child`` is walked step by step from the shop's home category (id 2, PrestaShop's
  ``PS_HOME_CATEGORY`` on a default install): each step is a child of the one before, created under it when
  missing. A single name is any category of that name, a child of home first, then the lowest id (the pull answers
  leaf names only, so a category first read from the shop is found again by its leaf); missing, it is created
  under home. The root category (id 1) is never a product's category.
- **Creates.** ``POST /api/categories`` with ``id_parent``, ``active`` 1, and ``name`` and ``link_rewrite`` in every
  language of the shop (the hub holds one name; a translator can rename the others later). ``link_rewrite`` is an
  ASCII slug, what ``Validate::isLinkRewrite`` takes with accented URLs off (the default). A name the shop refuses
  (``Validate::isCatalogName``: none of ``<>;=#{}``, error 85 "Validation error") is a :class:`CategoryError` with
  the shop's message: the writer rejects that product only.
- **No duplicate after a lost answer.** PrestaShop has no uniqueness rule on category names, so a create is sent
  without the transport's automatic retry; after a lost answer the list is read again and a category of that name
  under that parent (made by the lost request) is used; only when none is found is the POST sent again.

The list is read once per writer run (``display=[id,id_parent,name]``) and kept up to date with what it creates.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any
from xml.etree.ElementTree import Element, SubElement

from ecom_pipeline.platforms.prestashop.client import PrestaShopClient
from ecom_pipeline.platforms.prestashop.errors import PrestaShopPermissionError
from ecom_pipeline.platforms.prestashop.options import create_once, name_key, names_by_language, shop_languages
from ecom_pipeline.sync.category_paths import split_path

# PrestaShop's default install: the root category (1, every shop's tree starts there) and home (2, PS_HOME_CATEGORY).
ROOT_CATEGORY = "1"
HOME_CATEGORY = "2"


class CategoryError(Exception):
    """A category the shop would not give us; the message says which and why (it becomes a rejection)."""


def category_path(name: str) -> list[str]:
    """A hub category name as its steps from home: ``"Clothes > Men"`` -> ``["Clothes", "Men"]``; empty steps
    dropped (the hub's notation for a nested category, as on WooCommerce: ``sync.category_paths.split_path``, a
    ``>`` escaped ``\\>`` is part of a step's name, which PrestaShop refuses in a category name: a rejection)."""
    return split_path(html.unescape(str(name))) or [str(name).strip()]


def link_rewrite(name: str) -> str:
    """An ASCII slug of ``name`` (accents dropped, anything else a hyphen): what ``Validate::isLinkRewrite`` accepts
    with accented URLs off, PrestaShop's default."""
    ascii_text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    out = "".join(c.lower() if c.isalnum() else "-" for c in ascii_text)
    return "-".join(p for p in out.split("-") if p) or "category"


class PrestaShopCategories:
    """Hub category names -> the shop's category ids, creating what is missing (see module doc)."""

    def __init__(self, client: PrestaShopClient, settings: Mapping[str, Any]) -> None:
        self.client = client
        self.language_id, self.language_ids = shop_languages(settings)
        self._items: list[dict[str, Any]] | None = None
        self._resolved: dict[tuple[str, ...], str] = {}  # hub path's step keys -> id, for this run

    # -- reading ------------------------------------------------------------------------------------------------

    def _load(self, refresh: bool = False) -> list[dict[str, Any]]:
        if self._items is None or refresh:
            try:
                self._items = self.client.list("categories", {"display": "[id,id_parent,name]"})
            except PrestaShopPermissionError as err:
                raise CategoryError(
                    "the webservice key may not use categories: give it GET and POST on categories (Advanced "
                    f"Parameters > Webservice) so products' categories can be matched and created ({err.message})"
                ) from None
        return self._items

    def _name(self, item: Mapping[str, Any]) -> str | None:
        """A category's name in the integration's language (a one-language shop's plain string as it is)."""
        names = names_by_language(item.get("name"))
        mine = names.get(self.language_id or "", names.get(""))
        if mine is None and self.language_id is None and names:
            mine = names[min(names)]
        return mine

    def find(self, name: str, parent: str | None) -> str | None:
        """The category named ``name`` under ``parent`` (None: anywhere, a child of home first, then the lowest
        id); never the root."""
        key = name_key(name)
        found: list[tuple[int, int]] = []
        for item in self._load():
            cid = str(item.get("id"))
            if cid == ROOT_CATEGORY:
                continue
            up = str(item.get("id_parent") or "")
            if parent is not None and up != parent:
                continue
            mine = self._name(item)
            if mine is not None and name_key(mine) == key:
                found.append((0 if up == HOME_CATEGORY else 1, int(cid)))
        return str(min(found)[1]) if found else None

    # -- resolving ----------------------------------------------------------------------------------------------

    def category_ids(self, names: Iterable[str]) -> list[str]:
        """The shop's category ids for hub category names, in the hub's order without repeats, created when
        missing; :class:`CategoryError` when the shop refuses one."""
        ids: list[str] = []
        for name in names:
            if not name_key(name):
                continue
            cid = self.category_id(str(name))
            if cid not in ids:
                ids.append(cid)
        return ids

    def category_id(self, name: str) -> str:
        """One hub name: a leaf anywhere, or a path walked from home (module doc)."""
        steps = category_path(name)
        key = tuple(name_key(s) for s in steps)
        if key in self._resolved:
            return self._resolved[key]
        if len(steps) == 1:
            cid = self.find(steps[0], None) or self._create(steps[0], HOME_CATEGORY)
        else:
            cid = HOME_CATEGORY
            for step in steps:
                cid = self.find(step, cid) or self._create(step, cid)
        self._resolved[key] = cid
        return cid

    # -- creating -----------------------------------------------------------------------------------------------

    def _document(self, name: str, parent: str) -> Element:
        root = Element("prestashop")
        record = SubElement(root, "category")
        SubElement(record, "id_parent").text = parent
        SubElement(record, "active").text = "1"
        for field, text in (("name", name), ("link_rewrite", link_rewrite(name))):
            node = SubElement(record, field)
            for lid in self.language_ids:
                SubElement(node, "language", id=str(lid)).text = text
        return root

    def _create(self, name: str, parent: str) -> str:
        """POST the category once (options.create_once); after a lost answer, adopt what it made or send again."""

        def refind() -> str | None:
            self._load(refresh=True)
            return self.find(name, parent)

        document = self._document(name, parent)
        new_id = create_once(
            self.client, "categories", document, refind=refind, what=f"category {name!r}", error=CategoryError
        )
        if self.find(name, parent) is None:
            self._load().append({"id": int(new_id), "id_parent": parent, "name": name})
        return new_id
