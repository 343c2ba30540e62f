"""The console's AWS resources in template.yaml: a private bucket only CloudFront reads, HTTPS with security
headers, sign-in groups mapped to a finance and a read-only role, and CORS for the console's origin alone with
preflights that need no signature (a browser's OPTIONS carries none)."""

from __future__ import annotations

from pathlib import Path

import pytest
from samtranslator.yaml_helper import yaml_parse

from arrears_local.security_scan import translate

ROOT = Path(__file__).resolve().parents[2]
CONSOLE_ORIGIN = {"Fn::Sub": "'https://${ConsoleDistribution.DomainName}'"}


@pytest.fixture(scope="module")
def resources() -> dict:
    return yaml_parse((ROOT / "template.yaml").read_text())["Resources"]


@pytest.fixture(scope="module")
def api_paths() -> dict:
    translated = translate(ROOT)["Resources"]
    (api,) = [r for r in translated.values() if r["Type"] == "AWS::ApiGateway::RestApi"]
    return api["Properties"]["Body"]["paths"]


def test_the_bucket_is_private_and_only_the_distribution_reads_it(resources):
    bucket = resources["ConsoleBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values()) and bucket["BucketEncryption"]
    deny, allow = resources["ConsoleBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"]["Bool"]["aws:SecureTransport"] == "false"
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"} and allow["Action"] == "s3:GetObject"
    assert "${ConsoleDistribution}" in allow["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]


def test_the_distribution_is_https_only_through_origin_access_control_with_security_headers(resources):
    config = resources["ConsoleDistribution"]["Properties"]["DistributionConfig"]
    (origin,) = config["Origins"]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["ConsoleOriginAccessControl", "Id"]}
    assert resources["ConsoleOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "https-only"
    assert config["DefaultCacheBehavior"]["AllowedMethods"] == ["GET", "HEAD"]
    headers = resources["ConsoleHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    csp = headers["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    connect = next(d for d in csp.split(";") if d.strip().startswith("connect-src")).split()[1:]
    assert connect == ["'self'", "https://*.execute-api.${AWS::Region}.${AWS::URLSuffix}",
                       "https://cognito-idp.${AWS::Region}.${AWS::URLSuffix}", "https://cognito-identity.${AWS::Region}.${AWS::URLSuffix}",
                       "https://*.s3.${AWS::Region}.${AWS::URLSuffix}", "https://*.s3.${AWS::URLSuffix}"]
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert headers["FrameOptions"]["FrameOption"] == "DENY" and headers["ContentTypeOptions"]["Override"] is True


def test_the_console_reads_a_dry_runs_presigned_result_from_its_own_origin_only(resources):
    # GET /dry-runs/{id}'s result_url is a presigned link into the letters bucket, fetched by the page
    (rule,) = resources["LettersBucket"]["Properties"]["CorsConfiguration"]["CorsRules"]
    assert rule["AllowedOrigins"] == [{"Fn::Sub": "https://${ConsoleDistribution.DomainName}"}]
    assert rule["AllowedMethods"] == ["GET"] and "AllowedHeaders" not in rule


def test_the_finance_group_acts_and_the_auditor_group_only_reads(resources):
    groups = {r["Properties"]["GroupName"]: r["Properties"]["RoleArn"]["Fn::GetAtt"][0]
              for r in resources.values() if r["Type"] == "AWS::Cognito::UserPoolGroup"}
    assert groups == {"finance": "ConsoleFinanceRole", "auditor": "ConsoleAuditorRole"}
    (auditor,) = resources["ConsoleAuditorRole"]["Properties"]["Policies"]
    (statement,) = auditor["PolicyDocument"]["Statement"]
    assert statement["Action"] == "execute-api:Invoke" and statement["Resource"]["Fn::Sub"].endswith("/prod/GET/*")
    finance = resources["ConsoleFinanceRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0]["Resource"]
    assert not any("webhooks" in r["Fn::Sub"] for r in finance)
    for role in ("ConsoleFinanceRole", "ConsoleAuditorRole"):
        trust = resources[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
        assert trust["Condition"]["StringEquals"]["cognito-identity.amazonaws.com:aud"] == {"Ref": "ConsoleIdentityPool"}
        assert trust["Condition"]["ForAnyValue:StringLike"]["cognito-identity.amazonaws.com:amr"] == "authenticated"
    pool = resources["ConsoleIdentityPool"]["Properties"]
    assert pool["AllowUnauthenticatedIdentities"] is False
    (mapping,) = resources["ConsoleIdentityPoolRoles"]["Properties"]["RoleMappings"].values()
    assert mapping["Type"] == "Token" and mapping["AmbiguousRoleResolution"] == "Deny"
    assert resources["ConsoleUserPool"]["Properties"]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True


def test_cors_allows_the_consoles_origin_only_and_preflights_need_no_signature(resources, api_paths):
    api = resources["ArrearsApi"]["Properties"]
    assert api["Cors"]["AllowOrigin"] == CONSOLE_ORIGIN and "X-Amz-Security-Token" in api["Cors"]["AllowHeaders"]
    assert all(r["ResponseParameters"]["Headers"]["Access-Control-Allow-Origin"] == CONSOLE_ORIGIN for r in api["GatewayResponses"].values())
    assert resources["ApiFunction"]["Properties"]["Environment"]["Variables"]["CONSOLE_ORIGIN"] == {
        "Fn::Sub": "https://${ConsoleDistribution.DomainName}"}
    # The public routes (webhooks, the debtors' portal) carry no IAM; every finance route does.
    finance = {path: methods for path, methods in api_paths.items() if not path.startswith(("/webhooks", "/portal"))}
    assert len(finance) >= 20
    for path, methods in finance.items():
        preflight = methods["options"]
        assert "security" not in preflight and preflight["x-amazon-apigateway-integration"]["type"] == "mock", path
        origin = preflight["responses"]["200"]["headers"]["Access-Control-Allow-Origin"]
        assert origin, path
        for method, operation in methods.items():
            if method != "options":
                assert operation["security"] == [{"AWS_IAM": []}], (method, path)
