"""The checks `make build` runs on sam build's output, on a small hand-made build folder."""

from __future__ import annotations

import os
from pathlib import Path

from arrears_local.build_check import UNZIPPED_LIMIT_BYTES, build_problems


def _layer(build: Path, distributions: dict[str, str], tzdata_tables: bool = True) -> Path:
    python = build / "CommonLayer" / "python"
    python.mkdir(parents=True)
    for name, version in distributions.items():
        (python / f"{name}-{version}.dist-info").mkdir()
    if tzdata_tables:
        (python / "tzdata" / "zoneinfo").mkdir(parents=True)
        (python / "tzdata" / "zoneinfo" / "zone1970.tab").write_text("DE\t+5230+01322\tEurope/Berlin\n")
    (build / "WebhooksFunction").mkdir()
    (build / "WebhooksFunction" / "app.py").write_text("def lambda_handler(event, context): ...\n")
    return python


def test_a_build_with_exactly_the_pins_passes(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("tzdata==2026.6\nboto3==1.44.5\nbotocore==1.44.5\n")
    _layer(tmp_path / "build", {"tzdata": "2026.6", "boto3": "1.44.5", "botocore": "1.44.5"})
    assert build_problems(tmp_path / "build", requirements) == []


def test_botocore_without_boto3_and_an_unpinned_version_are_reported(tmp_path):
    # Given what sam build made of the unpinned requirements: botocore (from the X-Ray SDK) at whatever was newest
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("aws-xray-sdk==2.15.0\ntzdata==2026.6\n")
    _layer(tmp_path / "build", {"aws_xray_sdk": "2.15.0", "tzdata": "2026.6", "botocore": "1.44.8"})
    problems = build_problems(tmp_path / "build", requirements)
    assert any("botocore" in p and "1.44.8" in p for p in problems)
    assert any("without boto3" in p for p in problems)


def test_a_layer_over_lambdas_unzipped_limit_or_without_tzdata_is_reported(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("tzdata==2026.6\n")
    python = _layer(tmp_path / "build", {"tzdata": "2026.6"}, tzdata_tables=False)
    with open(python / "fonts.bin", "wb") as big:  # sparse: its size counts, no disk is used
        big.truncate(UNZIPPED_LIMIT_BYTES + 1)
    problems = build_problems(tmp_path / "build", requirements)
    assert any("WebhooksFunction with its layer is" in p for p in problems)
    assert any("tzdata" in p for p in problems)
    os.remove(python / "fonts.bin")
