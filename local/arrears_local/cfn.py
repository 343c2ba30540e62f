"""Reading template.yaml as CloudFormation does, enough for the local runtime.

A YAML loader that keeps the short-form intrinsic functions (`!Ref`, `!GetAtt`,
`!Sub`, `!If`, ...) and a resolver that evaluates them against the local
stack's names and ARNs. Anything the resolver does not know is an error: the
local runtime must never quietly run a template it misread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

_TAGS = ("Ref", "GetAtt", "Sub", "If", "Equals", "Not", "And", "Or", "Join", "Select", "Split", "Condition", "FindInMap", "Base64")


class _CfnLoader(yaml.SafeLoader):
    pass


def _intrinsic(tag: str) -> Callable[[yaml.SafeLoader, yaml.Node], dict]:
    key = "Ref" if tag == "Ref" else ("Condition" if tag == "Condition" else f"Fn::{tag}")

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {key: value}

    return construct


for _tag in _TAGS:
    _CfnLoader.add_constructor(f"!{_tag}", _intrinsic(_tag))


def load_template(path: str | Path) -> dict[str, Any]:
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


class UnsupportedTemplate(ValueError):
    pass


@dataclass
class Resolver:
    """Evaluates intrinsic functions. `refs` maps logical ids and parameters to their Ref value;
    `attributes` maps (logical id, attribute) to GetAtt values."""

    refs: dict[str, Any] = field(default_factory=dict)
    attributes: dict[tuple[str, str], Any] = field(default_factory=dict)
    conditions: dict[str, bool] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, argument), = value.items()
            if key == "Ref":
                return self._ref(argument)
            if key == "Fn::GetAtt":
                logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self._get_att(logical_id, attribute)
            if key == "Fn::Sub":
                return self._sub(argument)
            if key == "Fn::If":
                condition, when_true, when_false = argument
                return self.resolve(when_true if self.conditions[condition] else when_false)
            if key == "Fn::Join":
                separator, items = argument
                return separator.join(str(item) for item in self.resolve(items))
            if key.startswith("Fn::"):
                raise UnsupportedTemplate(f"the local runtime does not evaluate {key}")
        return {k: r for k, r in ((k, self.resolve(v)) for k, v in value.items()) if r is not _NO_VALUE}

    def evaluate_condition(self, value: Any) -> bool:
        if isinstance(value, dict) and len(value) == 1:
            (key, argument), = value.items()
            if key == "Fn::Equals":
                left, right = (self.resolve(a) for a in argument)
                return left == right
            if key == "Fn::Not":
                return not self.evaluate_condition(argument[0])
            if key == "Fn::And":
                return all(self.evaluate_condition(a) for a in argument)
            if key == "Fn::Or":
                return any(self.evaluate_condition(a) for a in argument)
            if key == "Condition":
                return self.conditions[argument]
        raise UnsupportedTemplate(f"cannot evaluate condition {value!r}")

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name not in self.refs:
            raise UnsupportedTemplate(f"!Ref {name}: unknown to the local runtime")
        return self.refs[name]

    def _get_att(self, logical_id: str, attribute: str) -> Any:
        if (logical_id, attribute) not in self.attributes:
            raise UnsupportedTemplate(f"!GetAtt {logical_id}.{attribute}: unknown to the local runtime")
        return self.attributes[(logical_id, attribute)]

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
        variables = {k: self.resolve(v) for k, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name:
                return str(self._get_att(*name.split(".", 1)))
            return str(self._ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


_NO_VALUE = _NoValue()
