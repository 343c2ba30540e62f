"""Chaos: the workflow function's process dies at named points of a contact (see engine/chaos.py).

The adapters the workflow uses are wrapped from here, so the product code never learns about chaos:

- ``after_claim``: the store's ``take_step`` just gave this caller a policy step in phase "claimed" (or
  the once-only ``claim_step`` said yes): nothing is sent yet;
- ``after_send``: SES accepted the message (``SesMailer.send`` returned its id), nothing is logged yet;
- ``after_log``: the contact-log entry was appended, progress is not saved yet.

The death raises ``ProcessDied`` (a BaseException: no ``except Exception`` of the product sees it),
which the engine answers as the Lambda runtime does for a process that exited (an Unhandled function
error of type ``Runtime.ExitError``); Step Functions then applies the task's Retry. Installed only in
chaos mode; the targets are named without parameters so the wrappers follow signature changes."""

from __future__ import annotations

import functools
from typing import Any, Callable

from ..patch import Patch, Target

_STORE = "arrears.adapters.dynamo"
_MAILER = "arrears.adapters.ses"


def _policy_step(step_id: Any) -> bool:
    # The workflow's own once-only records start with "-" or name a request; policy step ids are [a-z0-9_].
    return isinstance(step_id, str) and bool(step_id) and step_id[0] != "-" and ":" not in step_id


class ChaosCrashes(Patch):
    NAME = "chaos_crashes"
    CHAOS = True
    WRITTEN_FOR = "arrears (this repository)"
    TARGETS = (
        Target(_STORE, "DynamoStore.claim_step"),
        Target(_STORE, "DynamoStore.take_step"),
        Target(_STORE, "DynamoStore.append"),
        Target(_MAILER, "SesMailer.send"),
    )

    def install(self) -> None:
        from arrears.adapters.dynamo import DynamoStore
        from arrears.adapters.ses import SesMailer

        state = self.engine.chaos

        def after(point: str, original: Callable[..., Any], when: Callable[[tuple, dict, Any], bool]) -> Callable[..., Any]:
            @functools.wraps(original)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                result = original(*args, **kwargs)
                if when(args, kwargs, result):
                    state.maybe_crash(point)
                return result

            return wrapper

        def claimed(args: tuple, kwargs: dict, result: Any) -> bool:
            step_id = args[2] if len(args) > 2 else kwargs.get("step_id")
            return bool(result) and _policy_step(step_id)

        def contact_logged(args: tuple, kwargs: dict, result: Any) -> bool:
            return _policy_step(kwargs.get("step_id"))

        def taken(args: tuple, kwargs: dict, result: Any) -> bool:
            step_id = args[2] if len(args) > 2 else kwargs.get("step_id")
            return bool(getattr(result, "mine", False)) and getattr(result, "phase", "") == "claimed" \
                and _policy_step(step_id)

        self.set(DynamoStore, "claim_step", after("after_claim", DynamoStore.claim_step, claimed))
        self.set(DynamoStore, "take_step", after("after_claim", DynamoStore.take_step, taken))
        self.set(DynamoStore, "append", after("after_log", DynamoStore.append, contact_logged))
        self.set(SesMailer, "send", after("after_send", SesMailer.send, lambda *_: True))
