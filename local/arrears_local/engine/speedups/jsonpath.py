"""JSONPath: jsonpath_ng builds a fresh PLY parser for every parse() (~1 ms), and moto parses each path on
every evaluation. Parsed expressions are immutable and find()/update() do not modify them, so they are
memoised by path string."""

from __future__ import annotations

import functools

from ..patch import Patch, Target


class JsonPathCache(Patch):
    NAME = "jsonpath_cache"
    SPEEDUP = True
    TARGETS = (
        Target("moto.stepfunctions.parser.asl.utils.json_path", "parse", ("path", "debug")),
        Target("moto.stepfunctions.parser.asl.component.common.path.result_path", "parse", ("string",)),
    )

    def install(self) -> None:
        from moto.stepfunctions.parser.asl.component.common.path import result_path
        from moto.stepfunctions.parser.asl.utils import json_path

        for mod in (json_path, result_path):
            self.set(mod, "parse", functools.lru_cache(maxsize=8192)(mod.parse))
