"""The layer ships exactly what layers/common/requirements.txt pins: `sam build` ignores constraints.txt, so
that file must pin every package pip would install for it (transitively), at the versions the suite ran with."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LAYER_REQUIREMENTS = ROOT / "layers" / "common" / "requirements.txt"
# Where the layer runs: the Lambda python3.12 runtime on arm64 (template.yaml's CommonLayer).
LAMBDA_ENVIRONMENT = {"python_version": "3.12", "python_full_version": "3.12.0", "sys_platform": "linux",
                      "platform_system": "Linux", "platform_machine": "aarch64", "os_name": "posix",
                      "implementation_name": "cpython", "platform_python_implementation": "CPython"}


def pins(path: Path) -> dict[str, tuple[str, str]]:
    """name -> (the line's requirement text, pinned version); raises on a line that is not an exact pin."""
    found: dict[str, tuple[str, str]] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        requirement = Requirement(line)
        versions = [s.version for s in requirement.specifier if s.operator == "=="]
        assert len(versions) == 1 and len(requirement.specifier) == 1, f"{path.name}: {line!r} is not pinned exactly"
        found[canonicalize_name(requirement.name)] = (line, versions[0])
    return found


def installed_closure(requirements: list[Requirement]) -> set[str]:
    """Every distribution pip installs for these requirements in the Lambda environment, from the metadata
    of the versions installed here (the dev venv installs the same pins)."""
    seen: set[str] = set()
    queue = [(r, r.extras) for r in requirements]
    while queue:
        requirement, extras = queue.pop()
        name = canonicalize_name(requirement.name)
        try:
            metadata = distribution(name)
        except PackageNotFoundError as missing:
            raise AssertionError(f"{name} is not installed in the dev venv: run `make setup`") from missing
        first_visit = name not in seen
        seen.add(name)
        for text in metadata.requires or []:
            dependency = Requirement(text)
            wanted = dependency.marker is None or any(
                dependency.marker.evaluate(LAMBDA_ENVIRONMENT | {"extra": extra}) for extra in (extras or {""}))
            if wanted and (first_visit or dependency.marker is not None):
                queue.append((dependency, dependency.extras))
    return seen


def test_the_layer_pins_every_package_it_installs_at_the_constrained_version():
    # Given the layer's requirements and the versions the suite is tested with
    layer = pins(LAYER_REQUIREMENTS)
    constraints = pins(ROOT / "constraints.txt")
    # When pip resolves them for the Lambda runtime
    closure = installed_closure([Requirement(line) for line, _ in layer.values()])
    # Then nothing it installs is unpinned (sam build would take whatever is newest), nothing pinned is unused
    assert sorted(closure - set(layer)) == [], "add these (versions from constraints.txt) to layers/common/requirements.txt"
    assert sorted(set(layer) - closure) == []
    # And each pin is the version the suite ran with
    assert {name: version for name, (_, version) in layer.items() if constraints.get(name, ("", ""))[1] != version} == {}
    for name, (_, version) in layer.items():
        assert distribution(name).version == version, name


def test_botocore_ships_only_with_the_boto3_it_belongs_to():
    # The layer comes before the runtime on sys.path: a botocore alone would sit under the runtime's older boto3.
    layer = pins(LAYER_REQUIREMENTS)
    if "botocore" in installed_closure([Requirement(line) for line, _ in layer.values()]):
        assert {"boto3", "botocore", "s3transfer", "jmespath"} <= set(layer)
        boto3_wants = [Requirement(r) for r in distribution("boto3").requires or [] if r.startswith("botocore")]
        assert all(r.specifier.contains(layer["botocore"][1]) for r in boto3_wants)


def test_a_line_that_is_not_an_exact_pin_is_refused(tmp_path):
    loose = tmp_path / "requirements.txt"
    loose.write_text("pyyaml==6.0.3\nbotocore>=1.11.3\n")
    try:
        pins(loose)
    except AssertionError as refused:
        assert "botocore>=1.11.3" in str(refused)
    else:
        raise AssertionError("an unpinned line was accepted")
    assert re.fullmatch(r"\d+\.\d+\.\d+", pins(LAYER_REQUIREMENTS)["pyyaml"][1])
