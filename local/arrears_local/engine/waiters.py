"""A parked flow of control, as the engine's driver keeps it."""

from __future__ import annotations

import datetime as _dt
import threading
from collections.abc import Callable
from typing import Any

UTC = _dt.timezone.utc


def execution_name(env: Any) -> str:
    """The execution a parked flow belongs to (an invoice's workflow is named after the invoice)."""
    try:
        return env.states.context_object.context_object_data["Execution"]["Name"]
    except (AttributeError, KeyError, TypeError):
        return ""


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
