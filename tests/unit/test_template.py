"""The deployable artefacts: template.yaml translates and lints clean; every ASL file validates."""

from __future__ import annotations

import json
import sys
import re
import subprocess
from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint
from samtranslator.yaml_helper import yaml_parse

from arrears_local.security_scan import translate

ROOT = Path(__file__).resolve().parents[2]
ASL_FILES = sorted((ROOT / "statemachines").glob("*.asl.json"))


@pytest.fixture(scope="module")
def sam_template() -> dict:
    return yaml_parse((ROOT / "template.yaml").read_text())


@pytest.fixture(scope="module")
def translated() -> dict:
    """What `sam package` then CloudFormation's transform would produce, offline."""
    return translate(ROOT)


def _problems(template_text: str) -> list[str]:
    # Errors and warnings; informational (I*) rules are advice, as in cfn-lint's own exit code.
    # Checked for the regions a finance team most likely deploys to (SES is not in every region).
    # cfn-lint's validators recurse through the translated template; with the state machine's definition
    # inlined (the renewal states made it longer) they pass Python's default 1,000 frames, and E1022 then
    # reports "maximum recursion depth exceeded" rather than a fault of the template.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        matches = lint(template_text, config=ManualArgs(regions=["us-east-1", "eu-west-1", "eu-central-1"]))
    finally:
        sys.setrecursionlimit(limit)
    return [str(m) for m in matches if not m.rule.id.startswith("I") and not _sam_conditional_event(m)]


def _sam_conditional_event(match) -> bool:
    """SAM wraps the S3 event of a function with a Condition in an Fn::If on that condition, inside the bucket that
    has the same Condition (the optional inbound bucket): cfn-lint then warns that the If's other path is unreachable.
    That is the transform's own output, not a fault of the template."""
    path = list(getattr(match, "path", []) or [])
    return match.rule.id == "W1028" and path[:2] == ["Resources", "InboundBucket"] and \
        path[3:4] in (["NotificationConfiguration"], ["Tags"])


def test_cfn_lint_passes_on_the_sam_template():
    assert _problems((ROOT / "template.yaml").read_text()) == []


def test_cfn_lint_passes_on_the_translated_template(translated):
    # Linting the transform's output catches what the SAM template hides (e.g. circular dependencies).
    assert _problems(json.dumps(translated)) == []


@pytest.mark.parametrize("asl", ASL_FILES, ids=lambda p: p.name)
def test_asl_validator_accepts_the_state_machine(asl):
    validator = ROOT / "node_modules" / ".bin" / "asl-validator"
    if not validator.exists():
        pytest.fail("asl-validator is not installed: run `make setup` (npm ci)")
    result = subprocess.run([str(validator), "--json-path", str(asl)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("asl", ASL_FILES, ids=lambda p: p.name)
def test_every_task_retries_with_jitter_and_catches_to_a_recorded_failure(asl):
    states = json.loads(asl.read_text())["States"]
    tasks = {name: state for name, state in states.items() if state["Type"] == "Task"}
    assert tasks
    for name, state in tasks.items():
        assert state["Retry"] and all(r.get("JitterStrategy") == "FULL" for r in state["Retry"]), name
        if name != "Record workflow failure":
            # Anything unexpected ends in the recorded failure (a hold's timeout is expected: it resumes).
            assert state["Catch"][-1] == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Record workflow failure"}, name
            assert all(c["ErrorEquals"] == ["States.Timeout"] for c in state["Catch"][:-1]), name


def test_the_state_machine_uses_jsonpath_only_and_substitutes_every_arn(sam_template):
    text = (ROOT / "statemachines" / "dunning.asl.json").read_text()
    definition = json.loads(text)
    assert definition.get("QueryLanguage", "JSONPath") == "JSONPath"
    assert "arn:aws:lambda" not in text  # every ARN comes through DefinitionSubstitutions
    used = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", text))
    passed = set(sam_template["Resources"]["DunningStateMachine"]["Properties"]["DefinitionSubstitutions"])
    assert used == passed


def test_a_contact_step_costs_three_state_transitions():
    # Wait -> Task -> Choice for every stage: the cost shape DESIGN.md asks for. The wait is a task token whose
    # timeout is the step's moment (a hold placed meanwhile wakes it); the step's task follows its timeout.
    states = json.loads((ROOT / "statemachines" / "dunning.asl.json").read_text())["States"]
    waits = [name for name, s in states.items() if s.get("Parameters", {}).get("Payload", {}).get("action") == "wait"]
    assert len(waits) == 6 and all(states[name]["TimeoutSecondsPath"] == "$.decision.wait_seconds" for name in waits)
    for name in waits:
        task = states[states[name]["Catch"][0]["Next"]]
        assert task["Type"] == "Task" and states[task["Next"]]["Type"] == "Choice"


def test_functions_have_least_privilege(translated):
    roles = {name: r for name, r in translated["Resources"].items() if r["Type"] == "AWS::IAM::Role"}
    assert roles
    for name, role in roles.items():
        for policy in role["Properties"].get("Policies", []):
            for statement in _statements(policy["PolicyDocument"]["Statement"]):
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert not any(a == "*" or a.endswith(":*") for a in actions), (name, actions)
                if statement.get("Resource") == "*":
                    # Only Step Functions' vended log delivery needs "*" (AWS documents no narrower resource).
                    assert all(a.startswith("logs:") for a in actions), (name, actions)


def _statements(statements: list) -> list[dict]:
    """The statements of a policy, both branches of a conditional one (`Fn::If` on an optional feature) included."""
    found = []
    for statement in statements:
        branches = statement["Fn::If"][1:] if "Fn::If" in statement else [statement]
        found.extend(b for b in branches if isinstance(b, dict) and "Action" in b)
    return found


def test_the_data_stores_are_protected(sam_template):
    resources = sam_template["Resources"]
    table = resources["ArrearsTable"]["Properties"]
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["DeletionProtectionEnabled"] is True and table["StreamSpecification"]
    assert resources["IdempotencyTable"]["Properties"]["TimeToLiveSpecification"]["Enabled"] is True
    for bucket in ("LettersBucket", "AuditBucket"):
        properties = resources[bucket]["Properties"]
        assert properties["VersioningConfiguration"]["Status"] == "Enabled"
        assert all(properties["PublicAccessBlockConfiguration"].values())
        assert properties["BucketEncryption"]
        policy = resources[f"{bucket}Policy"]["Properties"]["PolicyDocument"]["Statement"][0]
        assert policy["Effect"] == "Deny" and policy["Condition"]["Bool"]["aws:SecureTransport"] == "false"
    assert resources["AuditBucket"]["Properties"]["ObjectLockEnabled"] is True


def test_the_inbound_path_is_all_optional(sam_template, translated):
    # Given the template's inbound path (debtor replies, docs/replies.md)
    inbound = {name for name in translated["Resources"] if name.startswith("Inbound")}
    assert {"InboundFunction", "InboundFunctionRole", "InboundBucket", "InboundBucketPolicy", "InboundReceiptRuleSet",
            "InboundReceiptRule", "InboundDeadLetterQueue"} <= inbound
    # Then every resource of it exists only with a receiving domain (InboundDomain empty, the default: none of it)
    assert all(translated["Resources"][name].get("Condition") == "HasInboundDomain" for name in inbound)
    assert sam_template["Parameters"]["InboundDomain"]["Default"] == ""
    # And SES may write only the rule's prefix, from this account's rule set
    ses = sam_template["Resources"]["InboundBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert ses["Principal"] == {"Service": "ses.amazonaws.com"} and ses["Action"] == "s3:PutObject"
    assert "AWS:SourceAccount" in ses["Condition"]["StringEquals"] and "AWS:SourceArn" in ses["Condition"]["ArnLike"]
    rule = sam_template["Resources"]["InboundReceiptRule"]["Properties"]["Rule"]
    assert rule["ScanEnabled"] is True and rule["Actions"][0]["S3Action"]["ObjectKeyPrefix"] == "messages/"
