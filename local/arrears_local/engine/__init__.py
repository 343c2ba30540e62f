"""The local engine: real ASL on moto's Step Functions interpreter, in-process Lambda, a virtual clock.

The public names (what runtime.py, serve.py, bench/ and the tests import) live here; ``core.py`` is the
engine and its driver, ``patches/`` and ``speedups/`` the rewiring of moto, one concern per module,
``registry.py`` their order. docs/local-runtime.md describes them and how to check a moto upgrade.
"""

from __future__ import annotations

from .core import LocalEngine
from .errors import IdleTimeout, LocalEngineError
from .lambdas import LambdaContext
from .patch import Patch, Target, check_contract
from .registry import PATCHES, SPEEDUPS
from .waiters import UTC

__all__ = ["PATCHES", "SPEEDUPS", "UTC", "IdleTimeout", "LambdaContext", "LocalEngine", "LocalEngineError", "Patch",
           "Target", "check_contract"]
