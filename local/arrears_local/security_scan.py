"""checkov over the stack (make checkov runs it; so does tests/unit/test_security_scan.py): the SAM template as
written, and the CloudFormation SAM translates it into (what AWS really deploys: the stage, the roles...).

A finding is accepted only where template.yaml says why, inline on the resource:
`# checkov:skip=CKV_AWS_xxx: reason`. The translated template has no comments, so each resource SAM generates
carries the skips of the resource it comes from (as checkov's `Metadata: checkov: skip:`). A skip without a
reason, or one that no check uses any more, is a problem too."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHECKOV = ROOT / ".venv-tools" / "checkov" / "bin" / "checkov"
# Offline: checkov otherwise fetches guidelines and policies from its vendor's API.
CHECKOV_ARGS = ("--skip-download", "--framework", "cloudformation", "--output", "json")

_RESOURCE = re.compile(r"^  ([A-Za-z0-9]+):\s*$")
_SKIP = re.compile(r"#\s*checkov:skip=([A-Za-z0-9_]+)\s*(?::\s*(.*))?$")


@dataclass(frozen=True)
class Finding:
    check_id: str
    resource: str  # "AWS::S3::Bucket.LettersBucket"
    name: str

    def __str__(self) -> str:
        return f"{self.check_id} {self.resource}: {self.name}"


@dataclass
class Scan:
    passed: list[Finding]
    failed: list[Finding]
    skipped: list[Finding]


def inline_skips(template_text: str) -> dict[str, dict[str, str]]:
    """Logical id -> {check id: reason} of every `# checkov:skip=` comment inside a resource of the template."""
    skips: dict[str, dict[str, str]] = {}
    in_resources, current = False, None
    for line in template_text.splitlines():
        if re.match(r"^\S", line):
            in_resources, current = line.startswith("Resources:"), None
            continue
        match = _RESOURCE.match(line)
        if in_resources and match:
            current = match.group(1)
            continue
        skip = _SKIP.search(line)
        if skip and current:
            skips.setdefault(current, {})[skip.group(1)] = (skip.group(2) or "").strip()
    return skips


class _OfflineManagedPolicies:
    """The managed policies SAM attaches by name, so translation needs no IAM call."""

    def load(self) -> dict[str, str]:
        return {name: f"arn:aws:iam::aws:policy/{path}{name}" for name, path in (
            ("AWSLambdaBasicExecutionRole", "service-role/"), ("AWSLambdaDynamoDBExecutionRole", "service-role/"),
            ("AWSXrayWriteOnlyAccess", ""), ("AWSXRayDaemonWriteAccess", ""))}


def translate(root: Path = ROOT) -> dict[str, Any]:
    """What `sam package` then CloudFormation's transform would produce, offline (code as S3 placeholders)."""
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse((root / "template.yaml").read_text())
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if key in properties:
                properties[key] = f"s3://arrears-artifacts/{properties[key].strip('/')}.zip"
        if "DefinitionUri" in properties:
            properties["Definition"] = json.loads((root / properties.pop("DefinitionUri")).read_text())
    region = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = "eu-west-1"  # the transform builds partition-specific ARNs from it
    try:
        return transform(template, {}, _OfflineManagedPolicies())
    finally:
        if region is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = region


def source_of(logical_id: str, sam_ids: set[str]) -> str | None:
    """The SAM resource a translated one comes from: itself, or the longest SAM id its name starts with
    (SAM names what it generates after its source: ArrearsApiprodStage, WebhooksFunctionRole...)."""
    if logical_id in sam_ids:
        return logical_id
    prefixes = [sam_id for sam_id in sam_ids if logical_id.startswith(sam_id)]
    return max(prefixes, key=len) if prefixes else None


def carry_skips(translated: dict[str, Any], skips: dict[str, dict[str, str]], sam_ids: set[str]) -> dict[str, Any]:
    for logical_id, resource in translated["Resources"].items():
        source = source_of(logical_id, sam_ids)
        if source in skips:
            entries = [{"id": check, "comment": reason} for check, reason in skips[source].items()]
            resource.setdefault("Metadata", {}).setdefault("checkov", {}).setdefault("skip", []).extend(entries)
    return translated


def run_checkov(template: Path, checkov: Path = CHECKOV) -> Scan:
    result = subprocess.run([str(checkov), *CHECKOV_ARGS, "--file", str(template)], capture_output=True, text=True,
                            timeout=300, env={**os.environ, "BC_SKIP_MAPPING": "TRUE"})
    if result.returncode not in (0, 1) or not result.stdout.strip():
        raise RuntimeError(f"checkov failed ({result.returncode}): {result.stderr[-2000:]}")
    report = json.loads(result.stdout)
    if isinstance(report, list):
        report = next(r for r in report if r.get("check_type") == "cloudformation")
    if report.get("summary", {}).get("parsing_errors"):
        raise RuntimeError(f"checkov could not parse {template}")

    def findings(kind: str) -> list[Finding]:
        return [Finding(c["check_id"], c["resource"], c["check_name"]) for c in report["results"][kind]]

    return Scan(findings("passed_checks"), findings("failed_checks"), findings("skipped_checks"))


def skip_problems(skips: dict[str, dict[str, str]], scans: list[Scan]) -> list[str]:
    """Skips without a reason, and skips that no finding uses (the check passes now, or never applied)."""
    used = {(f.resource.rpartition(".")[2], f.check_id) for scan in scans for f in scan.skipped}
    problems = []
    for logical_id, checks in sorted(skips.items()):
        for check, reason in sorted(checks.items()):
            if not reason:
                problems.append(f"{logical_id}: checkov:skip={check} gives no reason")
            if (logical_id, check) not in used:
                problems.append(f"{logical_id}: checkov:skip={check} skips nothing (the check passes or does not apply)")
    return problems


def scan_stack(root: Path = ROOT, checkov: Path = CHECKOV) -> tuple[Scan, Scan, list[str]]:
    """(scan of template.yaml, scan of its translation, problems): problems lists every finding not skipped."""
    text = (root / "template.yaml").read_text()
    skips = inline_skips(text)
    sam = run_checkov(root / "template.yaml", checkov)
    translated = translate(root)
    from samtranslator.yaml_helper import yaml_parse

    sam_ids = set(yaml_parse(text)["Resources"])
    carry_skips(translated, skips, sam_ids)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "translated.json"
        path.write_text(json.dumps(translated, indent=1))
        cfn = run_checkov(path, checkov)
    # A skip carried to a generated resource counts as used by its source.
    cfn_skipped = [Finding(f.check_id, f"{f.resource.rpartition('.')[0]}.{source_of(f.resource.rpartition('.')[2], sam_ids)}",
                           f.name) for f in cfn.skipped]
    problems = [f"template.yaml: {f}" for f in sam.failed] + [f"translated: {f}" for f in cfn.failed]
    problems += skip_problems(skips, [sam, Scan([], [], cfn_skipped)])
    return sam, cfn, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkov", type=Path, default=CHECKOV)
    args = parser.parse_args(argv)
    sam, cfn, problems = scan_stack(ROOT, args.checkov)
    for label, scan in (("template.yaml", sam), ("translated", cfn)):
        print(f"checkov {label}: {len(scan.passed)} passed, {len(scan.failed)} failed, "
              f"{len(scan.skipped)} skipped with a reason in template.yaml")
    for problem in problems:
        print(f"  not accepted: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
