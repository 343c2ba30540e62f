"""The engine's errors."""

from __future__ import annotations


class LocalEngineError(RuntimeError):
    """An execution thread crashed inside moto, or the engine was misused."""


class IdleTimeout(LocalEngineError):
    """wait_idle() did not observe quiescence in time (a probable deadlock)."""
