"""The package layout says what each file is (docs/architecture.md), and the imports keep to it.

Read from the source with `ast`, so every import counts: module level, inside functions (the lazy ones),
and `import x` as well as `from x import y`. Only imports under `if TYPE_CHECKING:` are left out: they
never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"arrears": ROOT / "layers" / "common" / "arrears", "arrears_local": ROOT / "local" / "arrears_local"}
LAYERS = ("domain", "ingestion", "rendering", "adapters", "usecases")
AWS_SDK = ("boto3", "botocore")


def _modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for name, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = [name, *path.relative_to(folder).with_suffix("").parts]
            is_package = parts[-1] == "__init__"
            found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


MODULES = _modules()


def _runtime_nodes(tree: ast.AST):
    """Every node but those under `if TYPE_CHECKING:` (imports for annotations only)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _imported_names(module: str) -> set[str]:
    """Dotted names a module imports (a `from m import n` gives m.n: n may be a submodule)."""
    path, is_package = MODULES[module]
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            names.add(source)
            names.update(f"{source}.{alias.name}" for alias in node.names)
    return names


def _own_module(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _graph() -> dict[str, set[str]]:
    graph = {}
    for module in MODULES:
        targets = {_own_module(name) for name in _imported_names(module)}
        graph[module] = {t for t in targets if t and t != module and not module.startswith(t + ".")}
    return graph


GRAPH = _graph()


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "arrears" and len(parts) > 1 and parts[1] in LAYERS else None


def test_the_scan_sees_the_whole_package_and_its_lazy_imports():
    # Given the real tree, When it is read, Then every layer is there and a known function-level import is an edge
    assert {_layer(m) for m in MODULES} >= set(LAYERS)
    assert "arrears.domain.ses_events" in GRAPH["arrears.domain.deliverability"]  # imported inside apply_ses_event


def test_a_cycle_is_found_when_there_is_one():
    # Given a made-up graph a -> b -> c -> a beside d, When its cycles are listed, Then exactly that one is
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circles_in_layers_or_local():
    assert _cycles(GRAPH) == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_only_adapters_and_the_local_runtime_import_the_aws_sdk(module):
    sdk = sorted(n for n in _imported_names(module) if n.split(".")[0] in AWS_SDK)
    allowed = module.startswith(("arrears.adapters.", "arrears_local."))
    assert allowed or not sdk, f"{module} imports {sdk}: only arrears.adapters.* may talk to AWS"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _layer(m) == "domain"))
def test_the_domain_imports_no_adapter_use_case_ingestion_or_local_runtime(module):
    outside = sorted(t for t in GRAPH[module] if _layer(t) in ("adapters", "usecases", "ingestion")
                     or t.startswith("arrears_local") or t == "arrears.wiring")
    assert not outside, f"{module} imports {outside}: the domain depends on nothing but itself"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _layer(m) in ("adapters", "rendering", "ingestion")))
def test_adapters_rendering_and_ingestion_never_call_the_use_cases(module):
    upward = sorted(t for t in GRAPH[module] if _layer(t) == "usecases" or t == "arrears.wiring")
    assert not upward, f"{module} imports {upward}: use cases call these, not the reverse"


def test_the_composition_root_is_the_only_top_level_module():
    loose = sorted(p.name for p in PACKAGES["arrears"].glob("*.py"))
    assert loose == ["__init__.py", "wiring.py"]
