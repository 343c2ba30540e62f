"""A parked flow of control, as the engine's driver keeps it."""

from __future__ import annotations

import datetime as _dt
import threading
from collections.abc import Callable
from typing import Any

UTC = _dt.timezone.utc


def execution_name(env: Any) -> str:
    """What orders the parked flows of one instant: the invoice id an invoice's workflow carries in
    its input (its execution name is derived from it, arrears.adapters.execution_names, and a renewal's has a
    suffix, so the name alone would not sort as the policy simulator sorts invoices), else the name."""
    try:
        execution = env.states.context_object.context_object_data["Execution"]
    except (AttributeError, KeyError, TypeError):
        return ""
    given = execution.get("Input")
    if isinstance(given, dict) and isinstance(given.get("invoice_id"), str):
        return given["invoice_id"]
    return execution.get("Name") or ""


class Waiter:
    """A parked flow of control: a Wait state, a Retry interval or a task-token wait."""

    __slots__ = ("due", "env", "endpoint", "kind", "event", "released", "callback")

    def __init__(self, due: _dt.datetime | None, env: Any, endpoint: Any, kind: str,
                 callback: Callable[[], Any] | None = None):
        self.due = due
        self.env = env
        self.endpoint = endpoint
        self.kind = kind
        self.event = threading.Event()
        self.released = False
        self.callback = callback  # timer: run by the driver when due; no parked thread
