"""The Subject header as a mail client reads it: exactly the rendered subject, whatever its language (issue 12)."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import datetime, timezone

import pytest

from arrears.rendering.mime import compose_email
from arrears.rendering.emails import render_email
from tests.unit.sample_notice import EXTRA, STEPS, make_notice

DEBTORS = ["Harbour & Finch LLP", "Brightwater Logistics Ltd", "Müller & Söhne GmbH",
           "Société Générale d'Équipement Industriel"]
BALANCES = [4_500, 125_000, 99_999_999]


def subject_lines(raw: bytes) -> list[str]:
    head = raw.split(b"\n\n", 1)[0].decode("ascii")
    match = re.search(r"^Subject:.*?(?=^\S)", head, flags=re.S | re.M)
    assert match, head
    return match.group(0).rstrip("\n").split("\n")


def compose(subject_of: object) -> bytes:
    rendered = render_email(subject_of)  # type: ignore[arg-type]
    return compose_email(rendered, sender="collections@northwind.example", sender_name="Northwind Analytics Ltd",
                         recipient="ap@debtor.example", recipient_name="Accounts Payable", reference="INV-2026-0042/x",
                         reply_to="accounts@northwind.example", sent_at=datetime(2026, 10, 1, 8, tzinfo=timezone.utc))


@pytest.mark.parametrize("language", ["en", "en-GB", "de", "fr"])
@pytest.mark.parametrize("template", [*STEPS, *EXTRA])
def test_every_subject_reads_back_exactly_with_no_leading_space_or_empty_encoded_word(template, language):
    for debtor in DEBTORS:
        for balance in BALANCES:
            # Given a message of this template to this debtor (e.g. "Referral: Harbour & Finch LLP, invoice
            # INV-2026-0042, €116.28 claimed", which the standard library folds with an empty encoded word)
            notice = make_notice(template, language, debtor_name=debtor, balance_minor=balance)
            subject = render_email(notice).subject
            # When it is composed into the message sent to SES
            raw = compose(notice)
            lines = subject_lines(raw)
            # Then the header holds no empty encoded word, begins on its own line, and keeps to RFC 2047's lengths
            assert not [line for line in lines if re.search(r"=\?utf-8\?[qb]\?\?=", line, flags=re.I)], lines
            assert lines[0].strip() != "Subject:", lines
            assert all(len(line) <= 76 for line in lines if "=?" in line), lines
            # And a mail client reads back the very subject that was rendered: no space lost, added or leading
            parsed = str(email.message_from_bytes(raw, policy=email.policy.default)["Subject"])
            assert parsed == subject and not parsed.startswith(" "), (lines, parsed)
