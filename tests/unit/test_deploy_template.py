"""What CloudFormation and Lambda would refuse or get wrong only once deployed: read from template.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template() -> dict:
    return yaml_parse((ROOT / "template.yaml").read_text())


def _evaluate(node: Any, refs: dict[str, Any], conditions: dict[str, bool]) -> Any:
    """The few intrinsic functions a name is built with, as CloudFormation evaluates them."""
    if isinstance(node, dict) and len(node) == 1:
        (function, argument), = node.items()
        if function == "Ref":
            return refs[argument]
        if function == "Fn::Join":
            return argument[0].join(_evaluate(item, refs, conditions) for item in _evaluate(argument[1], refs, conditions))
        if function == "Fn::Split":
            return _evaluate(argument[1], refs, conditions).split(argument[0])
        if function == "Fn::If":
            return _evaluate(argument[1] if conditions[argument[0]] else argument[2], refs, conditions)
    if isinstance(node, list):
        return [_evaluate(item, refs, conditions) for item in node]
    return node


def _conditions(template: dict, refs: dict[str, Any]) -> dict[str, bool]:
    def truth(node: Any) -> bool:
        (function, argument), = node.items()
        if function == "Fn::Not":
            return not truth(argument[0])
        if function == "Fn::Equals":
            return _evaluate(argument[0], refs, {}) == _evaluate(argument[1], refs, {})
        raise AssertionError(f"condition function {function} not evaluated here")
    return {name: truth(expression) for name, expression in template["Conditions"].items()}


def _glue_database_name(template: dict, stack_name: str, **parameters: str) -> str:
    refs = {name: p.get("Default") for name, p in template["Parameters"].items()} | parameters
    refs["AWS::StackName"] = stack_name
    name = template["Resources"]["AuditDatabase"]["Properties"]["DatabaseInput"]["Name"]
    return _evaluate(name, refs, _conditions(template, refs))


def test_the_layer_claims_only_the_runtime_its_wheels_are_built_for(template):
    # Given the layer built by `sam build` with its BuildMethod (cp312 wheels)
    layer = template["Resources"]["CommonLayer"]
    built_for = layer["Metadata"]["BuildMethod"]
    # Then it is compatible with that runtime only, the one every function runs on
    assert layer["Properties"]["CompatibleRuntimes"] == [built_for]
    assert template["Globals"]["Function"]["Runtime"] == built_for
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Function"]
    assert all(f["Properties"].get("Runtime", built_for) == built_for for f in functions)


def test_two_stacks_in_one_account_get_their_own_glue_database(template):
    # Given two stacks deployed with the default parameters in the same account (Glue names are account-wide)
    first = _glue_database_name(template, "arrears")
    second = _glue_database_name(template, "arrears-eu-staging")
    # Then their audit databases differ, and each is a valid Athena name (lowercase, digits, underscores)
    assert first == "arrears_audit" and second == "arrears_eu_staging_audit"
    # And a deployer can still name it
    assert _glue_database_name(template, "arrears-eu-staging", AuditDatabaseName="finance_audit") == "finance_audit"


def test_every_bucket_is_retained_when_the_stack_is_deleted(template):
    # CloudFormation cannot delete a non-empty bucket: one that is not retained makes stack deletion fail.
    buckets = {name: r for name, r in template["Resources"].items() if r["Type"] == "AWS::S3::Bucket"}
    assert "AuditQueryResultsBucket" in buckets
    for name, bucket in buckets.items():
        assert bucket.get("DeletionPolicy") == "Retain" and bucket.get("UpdateReplacePolicy") == "Retain", name


def test_the_topics_use_a_key_cloudwatch_and_ses_may_use(template):
    # Given the alarm topic (CloudWatch alarms and EventBridge publish) and the SES events topic (SES publishes)
    resources = template["Resources"]
    for topic, publishers in (("AlarmTopic", {"cloudwatch.amazonaws.com", "events.amazonaws.com"}),
                              ("EmailEventsTopic", {"ses.amazonaws.com"})):
        key_ref = resources[topic]["Properties"].get("KmsMasterKeyId")
        # Then it is encrypted with a key of the stack (not the AWS-managed alias/aws/sns, which no service may use)
        assert isinstance(key_ref, dict) and resources[key_ref["Ref"]]["Type"] == "AWS::KMS::Key", topic
        key = resources[key_ref["Ref"]]["Properties"]
        assert key["EnableKeyRotation"] is True
        # And the key's policy lets each publisher encrypt for it
        granted = set()
        for statement in key["KeyPolicy"]["Statement"]:
            services = statement["Principal"].get("Service", [])
            actions = set(statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
            if statement["Effect"] == "Allow" and {"kms:GenerateDataKey*", "kms:Decrypt"} <= actions:
                granted |= set(services if isinstance(services, list) else [services])
        assert publishers <= granted, topic


def test_timed_out_executions_raise_an_alarm_on_the_alarm_topic(template):
    # A standard execution's one-year end is TIMED_OUT, which no Catch in the workflow sees.
    alarms = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    watched = {a["MetricName"]: a for a in alarms if a["Namespace"] == "AWS/States"}
    assert {"ExecutionsFailed", "ExecutionsTimedOut"} <= set(watched)
    for alarm in (watched["ExecutionsFailed"], watched["ExecutionsTimedOut"]):
        assert alarm["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": "DunningStateMachine"}}]
        assert alarm["Threshold"] == 1 and alarm["AlarmActions"]["Fn::If"][1] == [{"Ref": "AlarmTopic"}]
