"""DynamoDB responses: moto serialises every AttributeValue member by member through its generic attribute
picker (alias providers, xform_name), which was ~30 % of a run for items already held in wire form
({"S": ...}, {"M": {...}}). Such a value serialises to itself, so it is passed through; anything else
(binary, unexpected types) takes moto's path."""

from __future__ import annotations

from typing import Any

from ..patch import Patch, Target


class WireAttributeValues(Patch):
    NAME = "ddb_wire_values"
    SPEEDUP = True
    TARGETS = (
        Target("moto.core.serialize", "BaseJSONSerializer._serialize_type_structure",
               ("self", "serialized", "value", "shape", "key")),
    )

    def install(self) -> None:
        from moto.core.serialize import BaseJSONSerializer

        orig_structure = BaseJSONSerializer._serialize_type_structure

        def serialize_structure(ser: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
            if (key and shape.name == "AttributeValue" and _is_wire_attribute_value(value)
                    and not _transformed(ser)):
                serialized[shape.serialization.get("name", key)] = value
                return
            orig_structure(ser, serialized, value, shape, key)

        self.set(BaseJSONSerializer, "_serialize_type_structure", serialize_structure)


_WIRE_SCALARS = {"S": str, "N": str, "BOOL": bool, "NULL": bool}


def _is_wire_attribute_value(value: Any) -> bool:
    """True for a DynamoDB AttributeValue in wire form whose serialisation is itself (no binaries)."""
    if type(value) is not dict or len(value) != 1:
        return False
    (tag, inner), = value.items()
    scalar = _WIRE_SCALARS.get(tag)
    if scalar is not None:
        return type(inner) is scalar
    if tag == "M":
        return type(inner) is dict and all(type(k) is str and _is_wire_attribute_value(v) for k, v in inner.items())
    if tag == "L":
        return type(inner) is list and all(_is_wire_attribute_value(v) for v in inner)
    if tag in ("SS", "NS"):
        return type(inner) is list and all(type(v) is str for v in inner)
    return False


def _transformed(serializer: Any) -> bool:
    """Whether moto would rewrite some AttributeValue member (a response transformer on such a path)."""
    transformers = getattr(serializer._value_picker, "response_transformers", None) or {}
    # moto applies a transformer when the member's key path ends with the transformer's path.
    return any(path.endswith(f".{member}") or f".{member}".endswith(path)
               for path in transformers for member in ("S", "N", "BOOL", "NULL", "M", "L", "SS", "NS"))
