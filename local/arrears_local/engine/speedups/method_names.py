"""moto lists a response class's methods with inspect.getmembers on every request (to check that the
action exists); classes do not change while an engine runs, so the list is kept per class."""

from __future__ import annotations

from typing import Any

from ..patch import Patch, Target


class ResponseMethodNames(Patch):
    NAME = "response_method_names"
    SPEEDUP = True
    TARGETS = (Target("moto.core.responses", "method_names_from_class", ("clazz",)),)

    def install(self) -> None:
        from moto.core import responses as moto_responses

        orig_method_names = moto_responses.method_names_from_class
        method_names: dict[Any, list[str]] = {}

        def method_names_from_class(cls: Any) -> list[str]:
            names = method_names.get(cls)
            if names is None:
                names = method_names[cls] = orig_method_names(cls)
            return list(names)

        self.set(moto_responses, "method_names_from_class", method_names_from_class)
