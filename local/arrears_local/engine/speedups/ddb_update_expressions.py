"""DynamoDB UpdateExpressions: moto parses each one twice per UpdateItem and then runs three checks that
depend only on the expression, its attribute names and the table's key (one of them quadratic in the
number of actions): ~40 % of an UpdateItem. The parsed tree is only read (the validator works on a copy),
so it is kept by expression string with a pickle to copy it from (4x faster than deepcopy), and the three
structural checks run once per (tree, names, key attributes). A failing parse or check is not
remembered: it fails again, the same way, on the next call.

Each traverser's node types are the keys of a dict literal its class builds on every call (per node
visited): the tuple is kept per class."""

from __future__ import annotations

import pickle
from typing import Any

from ..patch import Patch, Target

_VALIDATORS = "moto.dynamodb.parsing.validators"
_AST = "moto.dynamodb.parsing.ast_nodes"


class UpdateExpressions(Patch):
    NAME = "ddb_update_expressions"
    SPEEDUP = True
    TARGETS = (
        Target("moto.dynamodb.parsing.expressions", "UpdateExpressionParser.make", ("expression_str",)),
        Target(_VALIDATORS, "UpdateExpressionValidator.__init__",
               ("self", "expression", "expression_attribute_names", "expression_attribute_values", "item", "table")),
        Target(_VALIDATORS, "UpdateExpressionValidator.validate", ("self",)),
        Target(_VALIDATORS, "UpdateExpressionValidator.get_ast_processors", ("self",)),
        # The first three processors get_ast_processors() lists: the structural checks run once per key.
        Target(_VALIDATORS, "ActionCountValidator"),
        Target(_VALIDATORS, "OverlappingPathsValidator"),
        Target(_VALIDATORS, "UpdateHashRangeKeyValidator"),
        Target(_AST, "DepthFirstTraverser.nodes_to_be_processed", ("self",)),
        Target(_AST, "DepthFirstTraverser._processing_map", ("self",)),
        Target(_AST, "DepthFirstTraverser.traverse", ("self", "node")),
    )

    def install(self) -> None:
        from moto.dynamodb.parsing import validators as ddb_validators
        from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser
        from moto.dynamodb.parsing.expressions import UpdateExpressionParser

        make, validator_init, validate = _update_expression_cache(UpdateExpressionParser, ddb_validators)
        node_types: dict[type, tuple] = {}

        def nodes_to_be_processed(traverser: Any) -> tuple:
            types = node_types.get(type(traverser))
            if types is None:
                types = node_types[type(traverser)] = tuple(traverser._processing_map())
            return types

        self.set(DepthFirstTraverser, "nodes_to_be_processed", nodes_to_be_processed)
        self.set(UpdateExpressionParser, "make", classmethod(make))
        self.set(ddb_validators.UpdateExpressionValidator, "__init__", validator_init)
        self.set(ddb_validators.UpdateExpressionValidator, "validate", validate)


def _update_expression_cache(parser_cls: Any, ddb_validators: Any) -> tuple[Any, Any, Any]:
    """The replacements of UpdateExpressionParser.make, UpdateExpressionValidator.__init__ and .validate,
    sharing one cache."""
    orig_make = parser_cls.make.__func__
    parsed: dict[str, Any] = {}
    live: dict[int, bytes] = {}  # id of each kept tree (alive in `parsed`, so never reused) -> its pickle
    structural_ok: set[tuple] = set()
    structural = (ddb_validators.ActionCountValidator, ddb_validators.OverlappingPathsValidator,
                  ddb_validators.UpdateHashRangeKeyValidator)
    orig_validator_init = ddb_validators.UpdateExpressionValidator.__init__
    orig_validate = ddb_validators.UpdateExpressionValidator.validate

    def make(cls: Any, expression: str) -> Any:
        tree = parsed.get(expression)
        if tree is None:
            tree = orig_make(cls, expression)
            if len(parsed) >= 4096:
                parsed.clear()
                live.clear()
                structural_ok.clear()
            try:
                blob = pickle.dumps(tree, pickle.HIGHEST_PROTOCOL)
            except Exception:  # not picklable: not kept, moto's path
                return tree
            parsed[expression] = tree
            live[id(tree)] = blob
        return tree

    def validator_init(v: Any, expression: Any, expression_attribute_names: Any, expression_attribute_values: Any,
                       item: Any, table: Any) -> None:
        blob = live.get(id(expression))
        if blob is None:
            orig_validator_init(v, expression, expression_attribute_names, expression_attribute_values, item, table)
            v._arrears_key = None
            return
        # moto's __init__, with the working copy of the tree unpickled (4x faster than deepcopy).
        v.expression_attribute_names = expression_attribute_names
        v.expression_attribute_values = expression_attribute_values
        v.item = item
        v.table = table
        v.processors = v.get_ast_processors()
        v.node_to_validate = pickle.loads(blob)
        v._arrears_key = (id(expression), frozenset((expression_attribute_names or {}).items()),
                          tuple(table.table_key_attrs))

    def validate(v: Any) -> Any:
        key = getattr(v, "_arrears_key", None)
        n_structural = len(structural)
        if key is None or tuple(type(x) for x in v.processors[:n_structural]) != structural:
            return orig_validate(v)
        n = v.node_to_validate
        if key not in structural_ok:
            for processor in v.processors[:n_structural]:
                n = processor.traverse(n)
            structural_ok.add(key)
        for processor in v.processors[n_structural:]:
            n = processor.traverse(n)
        return n

    return make, validator_init, validate
