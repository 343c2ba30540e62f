"""compose_email's memoised policy writes exactly what email.policy.default writes (with Arrears' Subject folding)."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime, timezone
from email.headerregistry import HeaderRegistry

import pytest

from arrears.rendering import mime as compose_module
from arrears.rendering.mime import compose_email
from arrears.rendering.emails import RenderedEmail

LONG = "Formal notice: invoice NW-2026-1040, €12,345.67 to be paid by 14 October 2026 — please act now " * 2
CASES = [
    ("Brightwater Logistics Ltd", "Harbour & Finch LLP", "Reminder: invoice NW-2026-1040 for £450.00", ()),
    ("Müller & Söhne GmbH", "Ærøskøbing Værft A/S", "Zahlungserinnerung: Rechnung für 1.234,50 €", ()),
    ("Atelier Lumière SARL", "Ωmega \"Quoted\" Ltd, Athens", LONG, (("NW-2026-1040-formal-notice.pdf", b"%PDF-1.7\n" * 900, "application/pdf"),)),
    ("A" * 90, "株式会社テスト", "x" * 200, (("statement.txt", "Grüße\n".encode() * 50, "text/plain"),)),
]


def compose(case: tuple, sent_at: datetime) -> bytes:
    sender_name, recipient_name, subject, attachments = case
    rendered = RenderedEmail(subject=subject, text=f"Dear {recipient_name},\n\nPlease pay. Grüße\n" + "line\n" * 40,
                             html=f"<p>Dear {recipient_name},</p>\n<p>Please pay. Grüße</p>\n")
    return compose_email(rendered, sender="collections@arrears.example", sender_name=sender_name,
                         recipient="ap@debtor.example", recipient_name=recipient_name, reference="NW-2026-1040/formal_notice",
                         reply_to="accounts@creditor.example", sent_at=sent_at, attachments=attachments)


@pytest.mark.parametrize("case", CASES, ids=range(len(CASES)))
def test_the_memoised_policy_composes_the_same_bytes_as_the_default_policy(case, monkeypatch):
    sent_at = datetime(2026, 10, 1, 8, 0, tzinfo=timezone.utc)
    fast = [compose(case, sent_at) for _ in range(3)]  # the later ones come from the memo
    registry = HeaderRegistry()
    registry.map_to_type("subject", compose_module._SubjectHeader)
    monkeypatch.setattr(compose_module, "_POLICY", email.policy.default.clone(header_factory=registry))
    reference = compose(case, sent_at)
    assert fast == [reference] * 3


def test_a_composed_message_parses_back_with_its_non_ascii_names_encoded():
    raw = compose(CASES[1], datetime(2026, 10, 1, 8, 0, tzinfo=timezone.utc))
    assert raw.split(b"\n\n", 1)[0].isascii()  # the headers: RFC 2047 encoded words
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["From"].addresses[0].display_name == "Müller & Söhne GmbH"
    assert parsed["To"].addresses[0].display_name == "Ærøskøbing Værft A/S"
    assert parsed["Subject"] == CASES[1][2]
    assert "Grüße" in parsed.get_body(("plain",)).get_content()
