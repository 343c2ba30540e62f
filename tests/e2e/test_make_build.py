"""`make build` (sam build with a python3.12 found on the machine) runs in the suite, once, into a temporary
folder; what it built is checked against Lambda's limits and the layer's pins."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from arrears_local.build_check import LAYER, UNZIPPED_LIMIT_BYTES, build_problems, shipped_versions, unzipped_size

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory) -> Path:
    finder = subprocess.run([str(ROOT / "tools" / "find-python312")], capture_output=True, text=True)
    if finder.returncode != 0:
        pytest.skip("no python3.12 on this machine (PATH, pyenv, /usr/bin): sam build needs one to build the layer")
    out = tmp_path_factory.mktemp("sam-build")
    result = subprocess.run(["make", "--no-print-directory", "build", f"BUILD_DIR={out}"], cwd=ROOT,
                            capture_output=True, text=True, timeout=900, env=os.environ | {"TZ": "UTC"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def test_make_build_builds_every_function_and_the_layer(build_dir):
    built = {p.name for p in build_dir.iterdir() if p.is_dir()}
    assert {LAYER, "WebhooksFunction", "ApiFunction", "WorkflowFunction", "AuditFunction", "SesEventsFunction"} <= built
    assert (build_dir / "WebhooksFunction" / "app.py").is_file()
    assert (build_dir / LAYER / "python" / "arrears" / "adapters" / "step_functions.py").is_file()


def test_the_built_layer_fits_lambda_and_ships_exactly_the_pins(build_dir):
    assert build_problems(build_dir, ROOT / "layers" / "common" / "requirements.txt") == []
    assert unzipped_size(build_dir / LAYER) < UNZIPPED_LIMIT_BYTES


def test_the_built_layer_has_tzdata_and_arm64_cp312_wheels(build_dir):
    python = build_dir / LAYER / "python"
    shipped = shipped_versions(build_dir / LAYER)
    assert shipped["tzdata"] and (python / "tzdata" / "zoneinfo" / "Europe" / "Berlin").is_file()
    assert shipped["boto3"] == shipped["botocore"]
    extensions = list(python.rglob("*.so"))
    assert extensions and all("cpython-312-aarch64" in so.name or ".cpython" not in so.name for so in extensions)
