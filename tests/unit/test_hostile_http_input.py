"""Hostile HTTP input is refused before anything parses it: body limits, signature header syntax, list cursors.

Given what a fuzzer or a broken client sends (bytes that are not UTF-8, a byte-order mark, JSON nested
hundreds deep, digits that are not ASCII, a signature that is not hex, a cursor with one byte changed),
each is refused with its own 4xx reason, and nothing downstream runs out of stack or raises.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from arrears.usecases.finance import schemas as s
from arrears.usecases.finance.views import decode_cursor, encode_cursor
from arrears.domain.holds import ActionRefused
from arrears.domain.policy import parse_policy_yaml
from arrears.domain.policy.model import MAX_POLICY_SOURCE_CHARS
from arrears.ingestion.http_input import MAX_JSON_DEPTH, WEBHOOK_MAX_BODY_BYTES, BodyRefused, checked_text, json_depth, raw_body
from arrears.ingestion.providers import generic, paddle, stripe
from arrears.ingestion.providers.errors import SignatureInvalid
from arrears.ingestion.webhooks import providers, receive_delivery

AT = 1_790_000_000
NOW = datetime.fromtimestamp(AT, tz=timezone.utc)
SECRET = "whsec_9kQ2mR7tLx4Vn8Bc"
EVENT = {"id": "evt_1Q8xJ2Lk3mN4", "type": "invoice.finalized",
         "data": {"object": {"id": "in_1Q8xJ2Lk3mN4", "metadata": {"po": "PO-2211", "note": "brackets [in] {text}"}}}}


def nested(depth: int) -> dict:
    document: dict = {}
    for _ in range(depth - 1):
        document = {"a": document}
    return document


def refusal(check) -> BodyRefused:
    with pytest.raises(BodyRefused) as error:
        check()
    return error.value


# --- body limits -----------------------------------------------------------------------------------
def test_a_real_event_passes_the_body_checks_unchanged():
    body = json.dumps(EVENT, ensure_ascii=False).encode()
    assert checked_text(body, WEBHOOK_MAX_BODY_BYTES) == body.decode()
    assert json_depth(body.decode()) == 4  # brackets inside strings do not count


@pytest.mark.parametrize("case, body, status, code", [
    ("latin-1 bytes", "Société Générale".encode("latin-1"), 400, "invalid_encoding"),
    ("UTF-16 with its BOM", json.dumps(EVENT).encode("utf-16"), 400, "invalid_encoding"),
    ("UTF-8 with a BOM", b"\xef\xbb\xbf" + json.dumps(EVENT).encode(), 400, "invalid_encoding"),
    ("objects 900 deep", json.dumps(nested(900)).encode(), 400, "too_deep"),
    ("arrays 100,000 deep", b"[" * 100_000 + b"]" * 100_000, 400, "too_deep"),
    ("one level too deep", json.dumps(nested(MAX_JSON_DEPTH + 1)).encode(), 400, "too_deep"),
    ("over the size limit", b'{"pad": "' + b"x" * WEBHOOK_MAX_BODY_BYTES + b'"}', 413, "body_too_large"),
])
def test_a_hostile_body_is_refused_before_parsing(case, body, status, code):
    refused = refusal(lambda: checked_text(body, WEBHOOK_MAX_BODY_BYTES))
    assert (refused.status_code, refused.code) == (status, code) and refused.message


def test_the_depth_limit_itself_is_accepted():
    assert json_depth(checked_text(json.dumps(nested(MAX_JSON_DEPTH)).encode(), WEBHOOK_MAX_BODY_BYTES)) == MAX_JSON_DEPTH


def test_an_unterminated_string_full_of_escaped_quotes_is_scanned_in_linear_time():
    # Given a body a naive "strip the strings" regex would rescan from every quote (quadratic)
    text = '"' + '\\"' * 100_000
    # Then its depth is counted (no bracket outside a string) without that
    assert json_depth(text) == 0


def test_the_raw_body_of_a_proxy_event_keeps_the_bytes_as_sent():
    sent = "Müller GmbH".encode("latin-1")
    assert raw_body({"body": base64.b64encode(sent).decode(), "isBase64Encoded": True}) == sent
    assert raw_body({"body": '{"a": "é"}', "isBase64Encoded": False}) == '{"a": "é"}'.encode()
    assert raw_body({"body": None}) == b""
    assert refusal(lambda: raw_body({"body": "not base64!", "isBase64Encoded": True})).code == "invalid_body"


@pytest.mark.parametrize("body, status, code", [
    (b"\xff\xfe{}", 400, "invalid_encoding"),
    (json.dumps({**EVENT, "data": {"object": {"metadata": nested(900)}}}).encode(), 400, "too_deep"),
])
def test_a_signed_delivery_with_a_hostile_body_is_refused_without_being_applied(body, status, code):
    # Given a delivery signed with the right secret, so only the body's shape can refuse it
    applied = []
    reply = receive_delivery(providers()["stripe"], body, {"Stripe-Signature": stripe.sign(body, SECRET, AT)}, [SECRET], NOW,
                             apply_once=applied.append)
    assert (reply.status_code, reply.body["error"]) == (status, code) and applied == []


# --- signature headers -----------------------------------------------------------------------------
SIGNED = json.dumps(EVENT).encode()
GOOD = stripe.sign(SIGNED, SECRET, AT).split(",v1=")[1]


@pytest.mark.parametrize("scheme", [stripe, generic, paddle], ids=["stripe", "generic", "paddle"])
@pytest.mark.parametrize("case, timestamp, signature", [
    ("superscript digits", "¹⁷⁹⁰⁰⁰⁰⁰⁰⁰", GOOD),
    ("Arabic-Indic digits", "١٧٩٠٠٠٠٠٠٠", GOOD),
    ("full-width digits", "１７９００００００００", GOOD),
    ("a non-ASCII signature", str(AT), "é" * 64),
    ("a signature that is not hex", str(AT), "z" * 64),
])
def test_a_header_with_non_ascii_or_non_hex_parts_is_a_401(scheme, case, timestamp, signature):
    s = scheme.SIGNING
    header = f"{s.timestamp_name}={timestamp}{s.separator}{s.signature_name}={signature}"
    with pytest.raises(SignatureInvalid) as error:
        scheme.verify_signature(SIGNED, header, [SECRET], NOW)
    assert (error.value.status_code, error.value.code) == (401, "malformed_signature")


def test_a_valid_signature_still_verifies_beside_a_malformed_candidate():
    # Given a rotation-style header with a garbage candidate next to the real one
    header = f"t={AT},v1=ünsinn,v1={GOOD}"
    stripe.verify_signature(SIGNED, header, [SECRET], NOW)  # no exception: accepted


# --- list cursors ----------------------------------------------------------------------------------
KEYS = ["cursor-key-2026-10"]
SCOPE = "gsi1|COLLECTION#open"
LAST = {"pk": "INVOICE#in_1Q8xJ2Lk3mN4", "sk": "META", "gsi1pk": "COLLECTION#open", "gsi1sk": "2026-10-15T09:00:00Z"}


def test_a_cursor_round_trips_and_says_nothing_readable_of_its_key():
    cursor = encode_cursor(LAST, KEYS, SCOPE)
    assert decode_cursor(cursor, KEYS, SCOPE) == LAST
    assert "INVOICE#" not in cursor and "." in cursor


def test_a_cursor_signed_with_the_old_key_is_accepted_while_rotating():
    old = encode_cursor(LAST, ["cursor-key-2026-04"], SCOPE)
    assert decode_cursor(old, ["cursor-key-2026-10", "cursor-key-2026-04"], SCOPE) == LAST


def _forged_payload() -> str:
    forged = {"key": {**LAST, "pk": "INVOICE#in_someone_else"}, "scope": SCOPE}
    return base64.urlsafe_b64encode(json.dumps(forged, sort_keys=True).encode()).decode().rstrip("=")


@pytest.mark.parametrize("case, cursor, scope", [
    ("one character changed", (lambda c: c[:5] + ("A" if c[5] != "A" else "B") + c[6:])(encode_cursor(LAST, KEYS, SCOPE)), SCOPE),
    ("a forged payload with the old signature", _forged_payload() + "." + encode_cursor(LAST, KEYS, SCOPE).split(".")[1], SCOPE),
    ("the unsigned cursor of before", base64.urlsafe_b64encode(json.dumps(LAST).encode()).decode(), SCOPE),
    ("signed with another key", encode_cursor(LAST, ["someone-elses-key"], SCOPE), SCOPE),
    ("from another query", encode_cursor(LAST, KEYS, SCOPE), "gsi2|CUSTOMER#cus_QhK2tW9yUo6Cd4"),
    ("non-ASCII text", "é" * 40 + ".ü", SCOPE),
])
def test_a_changed_or_foreign_cursor_is_refused(case, cursor, scope):
    with pytest.raises(ActionRefused) as error:
        decode_cursor(cursor, KEYS, scope)
    assert error.value.code == "invalid_cursor"


# --- policy sources --------------------------------------------------------------------------------
DEFAULT_SOURCE = (Path(__file__).resolve().parents[2] / "policies" / "default.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize("case, source, says", [
    ("flow sequences 5,000 deep", "[" * 5000, "levels deep"),
    ("block sequences 300 deep", "steps:\n" + "".join("  " * i + "-\n" for i in range(1, 300)), "levels deep"),
    ("a billion laughs", 'a: &a ["lol","lol"]\nb: &b [*a,*a]\nc: &c [*b,*b]\nd: [*c,*c]\n', "aliases"),
    ("over the size limit", DEFAULT_SOURCE + "#" * MAX_POLICY_SOURCE_CHARS, "characters"),
])
def test_a_hostile_policy_source_is_refused_before_it_is_loaded(case, source, says):
    with pytest.raises(ValueError, match=says):
        parse_policy_yaml(source)


def test_the_default_policy_is_well_within_the_limits():
    assert parse_policy_yaml(DEFAULT_SOURCE).policy_id == "default"


# --- dates in requests -----------------------------------------------------------------------------
@pytest.mark.parametrize("model, body", [
    (s.PromiseRequest, {"promised_on": "9999-12-31"}),
    (s.PromiseRequest, {"promised_on": "0001-01-01"}),
    (s.PauseRequest, {"until": "9999-12-31T23:59:59Z"}),
    (s.PaymentPlanRequest, {"instalments": [{"due_on": "2026-11-30", "amount": 50_000},
                                            {"due_on": "9999-12-31", "amount": 50_000}]}),
    (s.PaymentPlanRequest, {"instalments": [{"due_on": "2026-11-30", "amount": 10**40},
                                            {"due_on": "2026-12-31", "amount": 50_000}]}),
])
def test_a_date_or_amount_out_of_range_is_a_validation_error(model, body):
    with pytest.raises(ValidationError):
        model.model_validate(body)


def test_dates_in_range_are_accepted():
    assert s.PromiseRequest.model_validate({"promised_on": "2026-11-30"}).promised_on.year == 2026
    assert s.PauseRequest.model_validate({"until": "2199-12-31T00:00:00Z"}).until.year == 2199
