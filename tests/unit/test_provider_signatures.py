"""Authenticating deliveries of Paddle, Chargebee and the generic feed (Stripe's: test_stripe_signature.py)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from arrears.ingestion.providers import chargebee, generic, paddle
from arrears.ingestion.providers.errors import SignatureInvalid

ROOT = Path(__file__).resolve().parents[2]
AT = 1_790_000_000
NOW = datetime.fromtimestamp(AT, tz=timezone.utc)
BODY = json.dumps({"event_id": "evt_01jb2k7x9q", "event_type": "transaction.paid"}).encode()


def refused(check) -> str:
    with pytest.raises(SignatureInvalid) as error:
        check()
    assert error.value.status_code == 401
    return error.value.code


class TestPaddle:
    SECRET = "pdl_ntfset_01jb2k7x9qarrears_Wv3ReL4Bj9rg"

    def test_paddles_published_test_vector_verifies(self):
        # From Paddle's Python SDK (paddle-python-sdk, tests/Unit/Notification/test_Verifier.py): two h1 values
        # (as during a secret rotation), three candidate secrets of which only the last signed the body.
        header = "ts=1696195954;h1=dummy;h1=d96299976a6eb066f484d7fde011ac56fc32b38fc9940bc419d6e537fdc6ef02"
        secrets = ["pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_TjIG2BXbm83HPXqNfziwe506sBEdqL/4",
                   "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_vB/yIOnTOCWIvpBadM5jzBZPHc7OmdSo",
                   "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_WvRO0eL4Bj9rgYYIBZY6wZhG4EHy9jzh"]
        at = datetime.fromtimestamp(1696195954, tz=timezone.utc)
        paddle.verify_signature(b"hello-world", header, secrets, at)
        assert refused(lambda: paddle.verify_signature(b"hello-world", header, secrets[:2], at)) == "signature_mismatch"

    def test_our_signer_produces_what_the_verifier_accepts(self):
        paddle.verify_signature(BODY, paddle.sign(BODY, self.SECRET, AT), [self.SECRET], NOW)

    @pytest.mark.parametrize("case, body, header, code", [
        ("tampered body", BODY.replace(b"paid", b"canceled"), paddle.sign(BODY, SECRET, AT), "signature_mismatch"),
        ("wrong secret", BODY, paddle.sign(BODY, "pdl_ntfset_someone_else", AT), "signature_mismatch"),
        ("older than Paddle's 5 s", BODY, paddle.sign(BODY, SECRET, AT - 6), "timestamp_too_old"),
        ("in the future", BODY, paddle.sign(BODY, SECRET, AT + 60), "timestamp_in_future"),
        ("missing header", BODY, None, "missing_signature"),
        ("no h1", BODY, f"ts={AT}", "malformed_signature"),
        ("Stripe's format", BODY, f"t={AT},v1=abc", "malformed_signature"),
    ])
    def test_bad_signatures_are_refused(self, case, body, header, code):
        assert refused(lambda: paddle.verify_signature(body, header, [self.SECRET], NOW)) == code


class TestChargebee:
    CREDENTIALS = "arrears-hook:9f2c41d7e8b6"

    def test_the_configured_credentials_are_accepted_and_both_pairs_during_rotation(self):
        chargebee.verify_basic_auth(chargebee.basic_auth_header(self.CREDENTIALS), [self.CREDENTIALS])
        chargebee.verify_basic_auth(chargebee.basic_auth_header(self.CREDENTIALS), ["arrears-hook:new-pw", self.CREDENTIALS])

    @pytest.mark.parametrize("case, header, code", [
        ("wrong password", chargebee.basic_auth_header("arrears-hook:guess"), "credentials_mismatch"),
        ("missing header", None, "missing_credentials"),
        ("bearer token", "Bearer abc.def", "malformed_credentials"),
        ("not base64", "Basic !!!", "malformed_credentials"),
    ])
    def test_bad_credentials_are_refused(self, case, header, code):
        assert refused(lambda: chargebee.verify_basic_auth(header, [self.CREDENTIALS])) == code


class TestGeneric:
    SECRET = "3b1f0c9d7e2a4f6b8c0d1e2f3a4b5c6d"

    def test_the_shipped_signing_example_produces_what_arrears_accepts(self):
        # docs/sign_generic_event.py is what a billing system's developer copies: it must keep working
        import runpy

        example = runpy.run_path(str(ROOT / "docs" / "sign_generic_event.py"))
        header = example["signature_header"](BODY, self.SECRET, AT)
        generic.verify_signature(BODY, header, [self.SECRET], NOW)
        assert header == generic.sign(BODY, self.SECRET, AT)

    @pytest.mark.parametrize("case, header, code", [
        ("old", generic.sign(BODY, SECRET, AT - 301), "timestamp_too_old"),
        ("future", generic.sign(BODY, SECRET, AT + 301), "timestamp_in_future"),
        ("wrong secret", generic.sign(BODY, "not-the-secret", AT), "signature_mismatch"),
        ("missing", None, "missing_signature"),
    ])
    def test_bad_signatures_are_refused(self, case, header, code):
        assert refused(lambda: generic.verify_signature(BODY, header, [self.SECRET], NOW)) == code


@pytest.mark.parametrize("path", sorted((ROOT / "events" / "webhooks").glob("*/*.json")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_committed_sample_is_authentic_and_means_something(path):
    # Given a committed sample delivery of any provider
    from arrears.ingestion.webhooks import providers
    from arrears_local.runtime import (
        LOCAL_CHARGEBEE_CREDENTIALS, LOCAL_GENERIC_SECRET, LOCAL_PADDLE_SECRET, LOCAL_STRIPE_SECRET,
    )

    secrets = {"stripe": LOCAL_STRIPE_SECRET, "paddle": LOCAL_PADDLE_SECRET, "chargebee": LOCAL_CHARGEBEE_CREDENTIALS,
               "generic": LOCAL_GENERIC_SECRET}
    sample = json.loads(path.read_text(encoding="utf-8"))
    provider = providers()[sample["pathParameters"]["provider"]]
    body = sample["body"].encode()
    headers = {name.lower(): value for name, value in sample["headers"].items()}
    signature = headers.get("stripe-signature") or headers.get("paddle-signature") or headers.get("arrears-signature") or ""
    stamp = next((part.split("=")[1] for part in signature.replace(";", ",").split(",") if part.split("=")[0] in ("t", "ts")), None)
    signed_at = datetime.fromtimestamp(int(stamp), tz=timezone.utc) if stamp else NOW
    # Then it authenticates with the local secret when it was signed, parses, and is an event Arrears acts on
    provider.authenticate(body, headers, [secrets[provider.name]], signed_at)
    _, event_type, document = provider.parse(body)
    assert provider.to_change(document) is not None, event_type
