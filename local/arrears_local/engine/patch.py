"""The shape of one engine patch: what it replaces in moto (or botocore), and how it undoes it.

Each patch is a small class in ``patches/`` or ``speedups/``. It names every internal it relies on in
``TARGETS`` -- the module, the qualified name and, for a callable, its parameter names -- as they were
in the library version written in ``WRITTEN_FOR``. ``install()`` replaces attributes through
``self.set`` and ``uninstall()`` puts back exactly what was there, so a patch comes and goes on its own.

``check_contract`` compares ``TARGETS`` with the installed libraries. After a moto or botocore
upgrade, ``tests/integration/test_engine_patch_contracts.py`` (or ``python -m arrears_local.engine``)
names each patch whose internals moved or changed, instead of a run failing somewhere deep inside.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
from dataclasses import dataclass
from typing import Any, ClassVar

_MISSING = object()


@dataclass(frozen=True)
class Target:
    """One internal a patch relies on: ``module``, ``qualname`` inside it, and for a callable the names of
    its parameters (``params``) in the version the patch was written for; ``None`` for a class, constant
    or module-level object whose existence is the whole contract."""

    module: str
    qualname: str
    params: tuple[str, ...] | None = None

    def __str__(self) -> str:
        return f"{self.module}:{self.qualname}"

    def resolve(self) -> Any:
        """The object itself (ImportError or AttributeError when it is gone)."""
        obj: Any = importlib.import_module(self.module)
        for part in self.qualname.split("."):
            obj = getattr(obj, part)
        return obj

    def problem(self) -> str | None:
        """What no longer holds about this target, or None."""
        try:
            obj = self.resolve()
        except (ImportError, AttributeError) as exc:
            return f"{self} is gone ({type(exc).__name__}: {exc})"
        if self.params is None:
            return None
        if isinstance(obj, property):
            obj = obj.fget
        try:
            params = tuple(inspect.signature(obj).parameters)
        except (TypeError, ValueError):
            return f"{self} is no longer a callable with a signature (now {type(obj).__name__})"
        if params != self.params:
            return f"{self} now takes ({', '.join(params)}); the patch expects ({', '.join(self.params)})"
        return None


class Patch:
    """One concern of the engine's rewiring. Subclasses set NAME, TARGETS (and WRITTEN_FOR when the
    internals are not moto's) and implement install(); ``engine`` is the LocalEngine installing it."""

    NAME: ClassVar[str] = ""
    WRITTEN_FOR: ClassVar[str] = "moto 5.2.5"
    TARGETS: ClassVar[tuple[Target, ...]] = ()
    #: A speed shortcut (switchable on its own with ``LocalEngine(caches=...)``), not a behaviour.
    SPEEDUP: ClassVar[bool] = False
    #: A chaos-mode patch (engine/chaos.py): installed only by an engine given a ChaosConfig.
    CHAOS: ClassVar[bool] = False

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self._saved: list[tuple[Any, str, Any]] = []

    def install(self) -> None:
        raise NotImplementedError

    def uninstall(self) -> None:
        """Put back every attribute install() replaced, newest first."""
        while self._saved:
            owner, name, old = self._saved.pop()
            if old is _MISSING:
                try:
                    delattr(owner, name)
                except AttributeError:
                    pass
            else:
                setattr(owner, name, old)

    def set(self, owner: Any, name: str, value: Any) -> None:
        """Replace ``owner.name``, remembering the raw attribute (vars() keeps staticmethod and
        classmethod wrappers intact)."""
        old = vars(owner).get(name, _MISSING) if hasattr(owner, "__dict__") else _MISSING
        self._saved.append((owner, name, old))
        setattr(owner, name, value)

    def replaced(self) -> list[str]:
        """``module:qualname`` of each attribute currently replaced (for the contract test)."""
        out = []
        for owner, name, _ in self._saved:
            if inspect.ismodule(owner):
                out.append(f"{owner.__name__}:{name}")
            else:
                out.append(f"{owner.__module__}:{owner.__qualname__}.{name}")
        return out


def installed_version(written_for: str) -> str:
    """"moto 5.2.5" -> the installed version of moto, for messages."""
    dist = written_for.split()[0]
    try:
        return f"{dist} {importlib.metadata.version(dist)}"
    except importlib.metadata.PackageNotFoundError:
        return f"{dist} (not installed)"


def contract_problems(patch: type[Patch]) -> list[str]:
    return [p for p in (t.problem() for t in patch.TARGETS) if p is not None]


def check_contract(patch: type[Patch]) -> None:
    """Raise an AssertionError naming the patch, each target that changed and the version the patch was
    written for, when what ``patch`` relies on no longer holds."""
    problems = contract_problems(patch)
    if problems:
        raise AssertionError(
            f"engine patch {patch.NAME!r} ({patch.__module__}.{patch.__qualname__}) was written for "
            f"{patch.WRITTEN_FOR}, and with {installed_version(patch.WRITTEN_FOR)} what it relies on changed:\n"
            + "\n".join(f"  - {p}" for p in problems)
            + "\nRe-read those internals and adapt the patch (docs/local-runtime.md, 'Checking a moto upgrade')."
        )
