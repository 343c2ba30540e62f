"""The console's signer is correct, not only present: a request signed as the browser signs it (aws4fetch's
AwsClient with the console's options, console/scripts/sign.mjs in Node) carries the signature botocore's SigV4
computes for the same credentials, moment and request, so API Gateway's IAM authorisation accepts it."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from arrears_local.runtime import project_root

CONSOLE = project_root() / "console"
CREDENTIALS = {"accessKeyId": "ASIAQ3EGUZW4EXAMPLE", "secretAccessKey": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
               "sessionToken": "IQoJb3JpZ2luX2VjEFYaCWV1LXdlc3QtMiJHMEUCIQ+sessiontoken/example=="}
API = "https://a1b2c3d4e5.execute-api.eu-west-2.amazonaws.com/prod"
MOMENT = datetime(2026, 11, 10, 9, 41, 7)


def browser_signed(method: str, url: str, body: str | None) -> dict:
    if not shutil.which("node") or not (CONSOLE / "node_modules" / "aws4fetch").is_dir():
        pytest.fail("node and the console's packages (make setup) are needed to sign as the browser does")
    request = {"credentials": CREDENTIALS, "region": "eu-west-2", "datetime": MOMENT.strftime("%Y%m%dT%H%M%SZ"),
               "method": method, "url": url, "headers": {"Content-Type": "application/json"} if body else {}, "body": body}
    done = subprocess.run(["node", "scripts/sign.mjs"], cwd=CONSOLE, input=json.dumps(request), capture_output=True,
                          text=True, timeout=60, check=True)
    return json.loads(done.stdout)


def botocore_authorization(method: str, url: str, body: str | None) -> str:
    request = AWSRequest(method=method, url=url, data=body.encode() if body else None)
    credentials = Credentials(CREDENTIALS["accessKeyId"], CREDENTIALS["secretAccessKey"], CREDENTIALS["sessionToken"])
    with mock.patch("botocore.auth.get_current_datetime", return_value=MOMENT):
        SigV4Auth(credentials, "execute-api", "eu-west-2").add_auth(request)
    return request.headers["Authorization"]


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/invoices?aging=90%2B&currency=EUR&limit=200", None),
    ("GET", "/customers/cus_%C3%89tienne%20%26%20Fils", None),
    ("POST", "/invoices/in_1Q0Arrears/pause", json.dumps({"until": "2027-01-15T00:00:00.000Z", "reason": "AP migration – £ & ü"})),
    ("PATCH", "/customers/cus_9/x", json.dumps({"phone": "+44 20 7946 0958"})),
])
def test_the_browsers_signature_equals_botocores_for_the_same_request(method, path, body):
    # Given a finance user's temporary credentials from the identity pool and one moment
    url = API + path
    # When the console signs the request, and botocore signs the same one
    signed = browser_signed(method, url, body)
    expected = botocore_authorization(method, signed["url"], body)
    # Then the signatures (and what they cover) are the same
    assert signed["headers"]["authorization"] == expected
    assert signed["headers"]["x-amz-security-token"] == CREDENTIALS["sessionToken"]
    assert "Credential=ASIAQ3EGUZW4EXAMPLE/20261110/eu-west-2/execute-api/aws4_request" in expected


def test_a_changed_body_does_not_keep_the_signature():
    body = json.dumps({"until": "2027-01-15T00:00:00Z"})
    signed = browser_signed("POST", API + "/invoices/in_1/pause", body)
    assert signed["headers"]["authorization"] != botocore_authorization("POST", signed["url"], body.replace("15", "16"))
