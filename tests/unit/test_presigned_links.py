"""Presigned letter and email links are SigV4 at the bucket's regional endpoint in every region:
S3 buckets created since June 2020 refuse SigV2, which botocore would otherwise use in us-east-1
and eu-west-1 (and at the global endpoint). Presigning is computed locally: no request is made."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from arrears.adapters import aws
from arrears.adapters.s3 import S3ArtefactStore

BUCKET = "arrears-prod-lettersbucket-1x2y3z4w5v6u"
LETTER = f"s3://{BUCKET}/letters/in_1PqRsT2eZvKYlo2C0a8bXy7Q/formal_notice.pdf"


@pytest.fixture
def region(request, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", request.param)
    monkeypatch.setenv("AWS_REGION", request.param)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    aws.reset_clients()
    yield request.param
    aws.reset_clients()


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2"], indirect=True)
def test_a_letter_link_is_signed_with_sigv4_at_the_regional_endpoint(region):
    # Given the finance API's artefact store in a region; When it links to a demand letter
    url = S3ArtefactStore(BUCKET).download_url(LETTER, expires_seconds=900)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    # Then the link is SigV4, scoped to the region, at the region's endpoint, valid for 15 minutes
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Credential"][0].split("/")[2:4] == [region, "s3"]
    assert query["X-Amz-Expires"] == ["900"]
    assert "Signature" not in query and "AWSAccessKeyId" not in query
    assert parts.hostname == f"{BUCKET}.s3.{region}.amazonaws.com"
    assert parts.path == "/letters/in_1PqRsT2eZvKYlo2C0a8bXy7Q/formal_notice.pdf"
