"""DynamoDB condition expressions: moto lexes and parses the ConditionExpression of every write (most are
the same few strings, e.g. attribute_not_exists(pk)). The result (an Op tree, evaluated without being
changed, and the names and values it used) depends only on the expression, its names and its values: it
is kept by those, and each caller still gets its own lists. Parse errors are not kept."""

from __future__ import annotations

import json
from typing import Any

from ..patch import Patch, Target


class ConditionExpressions(Patch):
    NAME = "ddb_condition_expressions"
    SPEEDUP = True
    TARGETS = (
        Target("moto.dynamodb.comparisons", "ConditionExpressionParser.parse", ("self",)),
        # parse() reads these constructor arguments back as attributes, and fills expr_attr_*_found.
        Target("moto.dynamodb.comparisons", "ConditionExpressionParser.__init__",
               ("self", "condition_expression", "expression_attribute_names", "expression_attribute_values")),
    )

    def install(self) -> None:
        from moto.dynamodb.comparisons import ConditionExpressionParser

        orig_condition_parse = ConditionExpressionParser.parse
        conditions: dict[tuple, tuple] = {}

        def condition_parse(parser: Any) -> Any:
            try:
                key = (parser.condition_expression,
                       json.dumps(parser.expression_attribute_names, sort_keys=True),
                       json.dumps(parser.expression_attribute_values, sort_keys=True))
            except (TypeError, ValueError):  # e.g. binary values: not kept
                return orig_condition_parse(parser)
            hit = conditions.get(key)
            if hit is None or parser.expr_attr_names_found or parser.expr_attr_values_found:
                before = (len(parser.expr_attr_names_found), len(parser.expr_attr_values_found))
                op = orig_condition_parse(parser)
                if before == (0, 0):
                    if len(conditions) >= 4096:
                        conditions.clear()
                    conditions[key] = (op, tuple(parser.expr_attr_names_found), tuple(parser.expr_attr_values_found))
                return op
            op, names_found, values_found = hit
            parser.expr_attr_names_found.extend(names_found)
            parser.expr_attr_values_found.extend(values_found)
            return op

        self.set(ConditionExpressionParser, "parse", condition_parse)
