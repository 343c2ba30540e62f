"""Checks on what `sam build` produced (make build runs them; so does tests/e2e/test_make_build.py):
the layer and each function fit Lambda's 250 MB unzipped limit, the layer ships exactly the pinned
packages (tzdata's zone tables included), and no botocore without its boto3."""

from __future__ import annotations

import re
import sys
from pathlib import Path

# Lambda: a function's code and all its layers, unzipped, at most 250 MB (262,144,000 bytes).
UNZIPPED_LIMIT_BYTES = 262_144_000
LAYER = "CommonLayer"


def unzipped_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink())


def shipped_versions(layer: Path) -> dict[str, str]:
    """Canonical name -> version of every distribution installed in the built layer."""
    shipped = {}
    for info in (layer / "python").glob("*.dist-info"):
        name, _, version = info.name.removesuffix(".dist-info").partition("-")
        shipped[re.sub(r"[-_.]+", "-", name).lower()] = version
    return shipped


def pinned_versions(requirements: Path) -> dict[str, str]:
    pins = {}
    for line in requirements.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s#;]+)", line.strip())
        if match:
            pins[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(3)
    return pins


def build_problems(build_dir: Path, requirements: Path) -> list[str]:
    """What would make the built stack fail in Lambda; empty when it is fine."""
    layer = build_dir / LAYER
    if not (layer / "python").is_dir():
        return [f"{layer}/python is missing: did sam build run?"]
    problems = []
    layer_size = unzipped_size(layer)
    functions = [p for p in build_dir.iterdir() if p.is_dir() and p.name != LAYER]
    for function in functions:
        total = layer_size + unzipped_size(function)
        if total > UNZIPPED_LIMIT_BYTES:
            problems.append(f"{function.name} with its layer is {total / 1e6:.1f} MB unzipped (Lambda's limit: 262.1 MB)")
    shipped, pinned = shipped_versions(layer), pinned_versions(requirements)
    if shipped != pinned:
        extra = {n: v for n, v in shipped.items() if pinned.get(n) != v}
        missing = {n: v for n, v in pinned.items() if shipped.get(n) != v}
        problems.append(f"the layer ships {extra} but requirements.txt pins {missing}")
    if "botocore" in shipped and "boto3" not in shipped:
        problems.append("the layer ships botocore without boto3: it would shadow the runtime's botocore")
    if not (layer / "python" / "tzdata" / "zoneinfo" / "zone1970.tab").is_file():
        problems.append("the layer does not ship tzdata's zone tables (tzdata/zoneinfo/zone1970.tab)")
    return problems


def main(argv: list[str]) -> int:
    build_dir = Path(argv[1] if len(argv) > 1 else ".aws-sam/build")
    root = Path(__file__).resolve().parents[2]
    problems = build_problems(build_dir, root / "layers" / "common" / "requirements.txt")
    layer = build_dir / LAYER
    if layer.is_dir():
        print(f"layer {unzipped_size(layer) / 1e6:.1f} MB unzipped of Lambda's {UNZIPPED_LIMIT_BYTES / 1e6:.1f} MB")
    for problem in problems:
        print(f"make build: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
