"""The emulator declares everything the connector uses exactly as the real schema of the version it serves.

For each real schema (2026-01, 2026-04) and the emulator's schema of that version, every type, field, argument and
enum value that any client document touches must agree: field types with their nullability and list wrapping,
the kind of each named type (a ``CountryCode`` enum is not a ``String``, an endpoint union is not an object),
argument types and defaults (``groupObjects``, ``limit``), deprecation, and the full value list of every enum the
connector reads (a value the emulator cannot produce, like ``ProductStatus.UNLISTED``, is a case tests never see).
"""

from __future__ import annotations

import pytest
from graphql import (
    EnumValueNode,
    FieldNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLSchema,
    TypeInfo,
    TypeInfoVisitor,
    Undefined,
    Visitor,
    get_named_type,
    is_enum_type,
    parse,
    visit,
)

from ecom_pipeline.sandbox.shopify.graph import make_schema
from ecom_pipeline_tests.platforms.shopify.real_schema import REAL_VERSIONS, client_documents, real_schema


def _kind(named: object) -> str:
    return type(named).__name__


class _Uses(Visitor):
    """Collects (type, field) pairs, enum literals and variable types a document uses, typed by the real schema."""

    def __init__(self, info: TypeInfo) -> None:
        super().__init__()
        self.info = info
        self.fields: set[tuple[str, str]] = set()
        self.args: set[tuple[str, str, str]] = set()
        self.enum_literals: set[tuple[str, str]] = set()
        self.types: set[str] = set()

    def enter_field(self, node: FieldNode, *_: object) -> None:
        parent = self.info.get_parent_type()
        if parent is not None and not node.name.value.startswith("__"):
            self.fields.add((parent.name, node.name.value))
            for argument in node.arguments or ():
                self.args.add((parent.name, node.name.value, argument.name.value))
        field_type = self.info.get_type()
        if field_type is not None:
            self.types.add(get_named_type(field_type).name)

    def enter_enum_value(self, node: EnumValueNode, *_: object) -> None:
        input_type = self.info.get_input_type()
        if input_type is not None:
            self.enum_literals.add((get_named_type(input_type).name, node.value))

    def enter_variable_definition(self, node: object, *_: object) -> None:
        type_node = node.type  # type: ignore[attr-defined]
        while hasattr(type_node, "type"):
            type_node = type_node.type
        self.types.add(type_node.name.value)


def _uses(schema: GraphQLSchema) -> _Uses:
    info = TypeInfo(schema)
    uses = _Uses(info)
    for text in client_documents().values():
        visit(parse(text), TypeInfoVisitor(info, uses))
    return uses


def _field(schema: GraphQLSchema, type_name: str, field_name: str) -> GraphQLField | None:
    owner = schema.type_map.get(type_name)
    fields = getattr(owner, "fields", None)
    return fields.get(field_name) if fields else None


@pytest.mark.parametrize("version", REAL_VERSIONS)
def test_emulator_declares_every_field_the_client_uses_as_the_real_schema(version: str) -> None:
    """Prevents the emulator accepting (or typing differently) a field a real shop of that version would not:
    nullability, list wrapping, arguments with their defaults, deprecation."""
    real, emulated = real_schema(version), make_schema(version)
    uses = _uses(real)
    problems = []
    for type_name, field_name in sorted(uses.fields):
        want = _field(real, type_name, field_name)
        got = _field(emulated, type_name, field_name)
        assert want is not None
        if got is None:
            problems.append(f"{type_name}.{field_name}: missing in the emulator")
            continue
        if str(got.type) != str(want.type):
            problems.append(f"{type_name}.{field_name}: {got.type} in the emulator, {want.type} in Shopify")
        if bool(got.deprecation_reason) != bool(want.deprecation_reason):
            problems.append(f"{type_name}.{field_name}: deprecation differs")
        for arg_name, arg in want.args.items():
            used = (type_name, field_name, arg_name) in uses.args
            if not used and arg.default_value is Undefined:
                continue  # an optional argument the client never passes, with no default to change behaviour
            mine = got.args.get(arg_name)
            if mine is None:
                problems.append(f"{type_name}.{field_name}({arg_name}:): missing in the emulator")
            elif str(mine.type) != str(arg.type) or mine.default_value != arg.default_value:
                problems.append(
                    f"{type_name}.{field_name}({arg_name}:): {mine.type} = {mine.default_value!r} in the emulator, "
                    f"{arg.type} = {arg.default_value!r} in Shopify"
                )
        for arg_name in got.args:
            if arg_name not in want.args:
                problems.append(f"{type_name}.{field_name}({arg_name}:): not in Shopify's {version} schema")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("version", REAL_VERSIONS)
def test_emulator_types_and_enum_values_the_client_uses_match_the_real_schema(version: str) -> None:
    """Prevents a kind mismatch (``countryCodeV2`` as a String, ``endpoint`` as an object instead of a union) and
    enum drift (a value real shops send that the emulator cannot produce, e.g. ``ProductStatus.UNLISTED``)."""
    real, emulated = real_schema(version), make_schema(version)
    uses = _uses(real)
    problems = []
    for name in sorted(uses.types):
        want, got = real.type_map[name], emulated.type_map.get(name)
        if got is None:
            problems.append(f"type {name}: missing in the emulator")
            continue
        if _kind(got) != _kind(want):
            problems.append(f"type {name}: {_kind(got)} in the emulator, {_kind(want)} in Shopify")
        if is_enum_type(want) and name not in _INPUT_ONLY:
            assert isinstance(want, GraphQLEnumType) and isinstance(got, GraphQLEnumType)
            missing = sorted(set(want.values) - set(got.values))
            extra = sorted(set(got.values) - set(want.values))
            if missing or extra:
                problems.append(f"enum {name}: missing {missing[:10]}, not in Shopify {extra[:10]}")
    for type_name, value in sorted(uses.enum_literals):
        got = emulated.type_map.get(type_name)
        if not isinstance(got, GraphQLEnumType) or value not in got.values:
            problems.append(f"enum {type_name}.{value}: used by the client, missing in the emulator")
    assert not problems, "\n".join(problems)


# Enums the client only sends (sort keys): the values it sends must exist; the rest of the list does not matter.
_INPUT_ONLY = {"ProductSortKeys", "OrderSortKeys", "CustomerSortKeys", "ProductVariantSortKeys"}
