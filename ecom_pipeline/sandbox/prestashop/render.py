"""Rendering rows the way PrestaShop 8.2.1's webservice prints them, in JSON and in XML.

JSON (recorded): ``json_encode`` with escaped slashes and unescaped Unicode; ``id`` (and a product's
``id_default_combination``) are numbers, everything else strings or null; a single resource drops top-level fields
whose value is falsy in PHP (``""``, ``"0"``, null) and empty associations; lists keep every field.
XML (recorded): every value in CDATA, references carry ``xlink:href``, multilingual fields are ``<language>`` nodes,
empty associations print as self-closing nodes.
"""

from __future__ import annotations

import json
from typing import Any

from ecom_pipeline.sandbox.prestashop.resources import Resource
from ecom_pipeline.sandbox.prestashop.rows import ZERO_DATE, Row
from ecom_pipeline.sandbox.prestashop.store import PrestaStore

XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<prestashop xmlns:xlink="http://www.w3.org/1999/xlink">\n'
XML_TAIL = "</prestashop>\n"


def ps_json(value: Any) -> bytes:
    """PrestaShop's JSON encoding (compact, ``\\/`` escaped, UTF-8 kept as is); checked against Content-Sha1."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("/", "\\/").encode()


def cdata(value: Any) -> str:
    text = "" if value is None else str(value)
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _falsy(value: Any) -> bool:
    return value is None or value == "" or value == "0" or value == 0


class Renderer:
    """Turns stored rows into webservice values for one store (dates to shop-local strings, faults applied)."""

    def __init__(
        self,
        store: PrestaStore,
        malformed: set[int] | None = None,
        *,
        language: int | None = None,
        prices: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.store = store
        self.malformed = malformed or set()
        # ``language=N``: every multilingual field is a plain string in language N (recorded).
        self.language = language
        # ``price[NAME][use_tax|use_reduction|product_attribute]``: computed fields of products (recorded) and of
        # combinations (PrestaShop 8's webservice source), by NAME.
        self.prices = prices or {}

    def multilang(self, raw: Any) -> Any:
        """A multilingual value as printed: a string in a one-language shop or with ``language=N``, else
        ``[{"id": "1", "value": ...}, ...]`` in language-id order (recorded on the two-language store)."""
        if self.language is not None or not self.store.multilingual:
            return self.store.text(raw, self.language)
        return [{"id": str(lid), "value": self.store.text(raw, lid)} for lid in self.store.language_ids]

    def price_value(self, res: Resource, row: Row, name: str) -> str:
        """A ``price[NAME][...]`` virtual field of a product or a combination row.

        PrestaShop 8 (``WebserviceRequest::specificPriceForProduct`` / ``specificPriceForCombination``): a product
        row prices itself with the ``product_attribute`` asked (none: its default combination); a combination row
        prices its own product with ``product_attribute`` forced to its own id, whatever the request says.
        """
        spec = self.prices[name]
        if res.plural == "combinations":
            pid, attribute = int(row.get("id_product") or 0), str(row["id"])
        else:
            pid, attribute = int(row["id"]), spec.get("product_attribute") or ""
        return self.store.computed_price(
            pid,
            use_tax=spec.get("use_tax", "1") != "0",
            use_reduction=spec.get("use_reduction", "1") != "0",
            product_attribute=int(attribute) if attribute.isdigit() else None,
        )

    def scalar(self, res: Resource, row: Row, name: str) -> Any:
        """The value a filter or sort compares (a multilingual field in the default language)."""
        if name in res.multilang:
            return self.store.text(row.get(name))
        return self.value(res, row, name)

    def field_names(self, res: Resource, fields: tuple[str, ...] | None) -> tuple[str, ...]:
        """Fields printed: computed price fields come after the last multilingual field (recorded)."""
        names = fields if fields is not None else res.fields
        if fields is None and self.prices and res.plural in ("products", "combinations"):
            names = (*names, *(n for n in self.prices if n not in names))
        return names

    # ------------------------------------------------------------------ values

    def value(self, res: Resource, row: Row, name: str) -> Any:
        """The printed value of one field (JSON typing applied)."""
        if name in self.prices and res.plural in ("products", "combinations"):
            return self.price_value(res, row, name)
        raw = row.get(name)
        if name in res.multilang:
            return self.multilang(raw)
        if name in res.dates:
            out: Any = self.store.date_value(raw)
        elif name in res.date_only:
            out = raw or ZERO_DATE
        elif name in res.numeric:
            out = int(raw or 0)
        elif name == "manufacturer_name" and res.plural == "products" and str(row.get("id_manufacturer") or "0") == "0":
            out = False  # Manufacturer::getNameById() of id 0 is PHP false (recorded on the two-language store)
        else:
            out = raw
        if self.malformed and self._is_malformed(res, row):
            if name == "price":
                out = "abc"
            elif name == "date_upd":
                out = "not-a-date"
        return out

    def _is_malformed(self, res: Resource, row: Row) -> bool:
        if res.plural == "products":
            return int(row["id"]) in self.malformed
        if res.plural in ("combinations", "stock_availables"):
            return int(row.get("id_product") or 0) in self.malformed
        return False

    # ------------------------------------------------------------------ JSON

    def json_object(self, res: Resource, row: Row, fields: tuple[str, ...] | None, single: bool) -> dict[str, Any]:
        """One resource as JSON; ``fields`` None means every field plus associations."""
        names = self.field_names(res, fields)
        out: dict[str, Any] = {}
        for name in names:
            value = self.value(res, row, name)
            if single and name != "id" and _falsy(value):
                continue
            out[name] = value
        if self.malformed and self._is_malformed(res, row) and res.plural == "products":
            out.pop("reference", None)  # a required key missing, like a broken plugin would cause
        if fields is None and res.associations:
            assoc = {k: v for k, v in self.store.associations(res.plural, row).items() if v}
            if assoc:
                out["associations"] = assoc
        return out

    # ------------------------------------------------------------------ XML

    def xml_object(
        self,
        res: Resource,
        row: Row,
        fields: tuple[str, ...] | None,
        api: str,
        echo: set[str] | None = None,
    ) -> str:
        """One resource as its XML node. ``echo``: the fields a write request sent (others print empty)."""
        names = self.field_names(res, fields)
        lines = [f"<{res.singular}>\n"]
        rid = int(row["id"])
        for name in names:
            if name in res.multilang:
                raw = row.get(name)
                if echo is not None and name not in echo and name not in res.server_set:
                    raw = ""
                href = echo is None or name in echo
                parts = "".join(
                    f'<language id="{lid}"'
                    + (f' xlink:href="{api}/languages/{lid}"' if href else "")
                    + f">{cdata(self.store.text(raw, lid))}</language>"
                    for lid in self.store.language_ids
                )
                lines.append(f"\t<{name}>{parts}</{name}>\n")
                continue
            value = self.value(res, row, name)
            if echo is not None and name not in echo and name not in res.server_set:
                value = ""
            text = "" if value is None else str(value)
            attrs = ""
            target = res.refs.get(name)
            if target and text not in ("", "0"):
                attrs += f' xlink:href="{api}/{target.format(id=rid)}/{text}"'
            if name in res.not_filterable:
                attrs += ' notFilterable="true"'
            lines.append(f"\t<{name}{attrs}>{cdata(text)}</{name}>\n")
        if fields is None and res.associations:
            lines.append(self.xml_associations(res, row, api))
        lines.append(f"</{res.singular}>\n")
        return "".join(lines)

    def xml_associations(self, res: Resource, row: Row, api: str) -> str:
        assoc = self.store.associations(res.plural, row)
        rid = int(row["id"])
        out = ["<associations>\n"]
        for a in res.associations:
            items = assoc.get(a.name, [])
            head = f'<{a.name} nodeType="{a.node_type}" ' + ('virtualEntity="true"' if a.virtual else f'api="{a.api}"')
            if not items:
                out.append(f"{head}/>\n")
                continue
            out.append(f"{head}>\n")
            for item in items:
                if a.virtual:
                    out.append(f"\t<{a.node_type}>\n")
                else:
                    path = f"images/products/{rid}" if a.name == "images" and res.plural == "products" else a.api
                    out.append(f'\t<{a.node_type} xlink:href="{api}/{path}/{item.get("id", "")}">\n')
                for sub in a.fields:
                    text = str(item.get(sub, ""))
                    target = a.refs.get(sub)
                    attrs = f' xlink:href="{api}/{target}/{text}"' if target and text not in ("", "0") else ""
                    out.append(f"\t<{sub}{attrs}>{cdata(text)}</{sub}>\n")
                out.append(f"\t</{a.node_type}>\n")
            out.append(f"</{a.name}>\n")
        out.append("</associations>\n")
        return "".join(out)

    def xml_id_ref(self, res: Resource, row: Row, api: str) -> str:
        """A list entry without ``display``: ``<product id="1" xlink:href=".../products/1"/>``."""
        rid = int(row["id"])
        return f'<{res.singular} id="{rid}" xlink:href="{api}/{res.plural}/{rid}"/>\n'


def xml_document(inner: str) -> bytes:
    return (XML_HEAD + inner + XML_TAIL).encode()


def xml_errors(errors: list[tuple[int, str]]) -> bytes:
    parts = ["<errors>\n"]
    for code, message in errors:
        parts.append(f"<error>\n<code>{cdata(code)}</code>\n<message>{cdata(message)}</message>\n</error>\n")
    parts.append("</errors>\n")
    return xml_document("".join(parts))


def json_errors(errors: list[tuple[int, str]]) -> bytes:
    return ps_json({"errors": [{"code": code, "message": message} for code, message in errors]})
