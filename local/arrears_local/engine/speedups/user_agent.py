"""User-Agent: botocore rebuilds the header for every request from ~30 components, each sanitised
character by character. A component is an immutable tuple and its text a pure function of it: the text
is kept per component."""

from __future__ import annotations

from typing import Any

from ..patch import Patch, Target


class UserAgentTexts(Patch):
    NAME = "user_agent_texts"
    WRITTEN_FOR = "botocore 1.44.5"
    SPEEDUP = True
    TARGETS = (Target("botocore.useragent", "UserAgentComponent.to_string", ("self",)),)

    def install(self) -> None:
        from botocore.useragent import UserAgentComponent

        orig_component_text = UserAgentComponent.to_string
        component_texts: dict[Any, str] = {}

        def component_text(component: Any) -> str:
            try:
                text = component_texts.get(component)
            except TypeError:  # an unhashable field: not kept
                return orig_component_text(component)
            if text is None:
                text = orig_component_text(component)
                if len(component_texts) < 4096:
                    component_texts[component] = text
            return text

        self.set(UserAgentComponent, "to_string", component_text)
