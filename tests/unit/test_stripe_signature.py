"""Stripe-Signature checks, with signatures made by Stripe's own library (stripe.WebhookSignature)."""

from datetime import datetime, timezone

import pytest
import stripe

from arrears.ingestion.providers.errors import SignatureInvalid
from arrears.ingestion.providers.stripe import sign, verify_signature

SECRET = "whsec_test_5f8a1c2e9b7d4a3f"
BODY = b'{"id": "evt_1QAbC", "type": "invoice.paid", "created": 1790000000, "data": {"object": {}}}'
NOW = datetime.fromtimestamp(1_790_000_100, tz=timezone.utc)


def stripe_header(body: bytes, secret: str, timestamp: int) -> str:
    return stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp=timestamp)


def test_a_signature_made_by_stripes_library_is_accepted():
    verify_signature(BODY, stripe_header(BODY, SECRET, 1_790_000_000), [SECRET], NOW)


def test_our_signer_matches_stripes_library():
    # The demo and the e2e tests sign with arrears' helper; it must agree with Stripe's.
    assert sign(BODY, SECRET, 1_790_000_000) == stripe_header(BODY, SECRET, 1_790_000_000)


def test_either_secret_is_accepted_during_rotation():
    header = stripe_header(BODY, "whsec_old_secret", 1_790_000_000)
    verify_signature(BODY, header, ["whsec_new_secret", "whsec_old_secret"], NOW)


def test_any_of_several_v1_signatures_may_match():
    valid = stripe_header(BODY, SECRET, 1_790_000_000)
    header = "t=1790000000,v1=" + "0" * 64 + "," + valid.split(",")[1]
    verify_signature(BODY, header, [SECRET], NOW)


@pytest.mark.parametrize("case, body, header, code", [
    ("tampered body", BODY.replace(b"invoice.paid", b"invoice.void"), stripe_header(BODY, SECRET, 1_790_000_000), "signature_mismatch"),
    ("wrong secret", BODY, stripe_header(BODY, "whsec_someone_else", 1_790_000_000), "signature_mismatch"),
    ("older than 300 s", BODY, stripe_header(BODY, SECRET, 1_790_000_100 - 301), "timestamp_too_old"),
    ("far in the future", BODY, stripe_header(BODY, SECRET, 1_790_000_100 + 3600), "timestamp_in_future"),
    ("missing header", BODY, None, "missing_signature"),
    ("no v1", BODY, "t=1790000000,v0=abc", "malformed_signature"),
    ("garbage", BODY, "hello", "malformed_signature"),
])
def test_bad_signatures_are_refused_with_a_machine_readable_code(case, body, header, code):
    with pytest.raises(SignatureInvalid) as refused:
        verify_signature(body, header, [SECRET], NOW)
    assert refused.value.code == code
    assert refused.value.status_code == 401
