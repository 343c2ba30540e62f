"""One payment reference per invoice on every message: the invoice number, never a step of the policy (issue 12)."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy as email_policy

from pypdf import PdfReader

from arrears.usecases.simulator import Simulation
from arrears_local.book import book_updates, synthetic_book

START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def test_every_message_of_an_invoice_quotes_the_invoice_number_and_no_step(default_policy):
    # Given an invoice that is never paid, walked through the whole default policy with every message rendered
    item = synthetic_book(1, START)[0]
    number = item.invoice.number
    simulation = Simulation(default_policy, "collections@arrears.invalid")
    simulation.add_updates(book_updates([item]))
    result = simulation.run(START + timedelta(days=150))
    step_ids = {step.id for step in default_policy.segment_for("standard").steps}
    debtor_messages = [message_from_bytes(raw, policy=email_policy.default) for _, recipients, raw in simulation.mailer.sent
                       if recipients == [item.customer.email]]
    assert len(debtor_messages) >= 6  # courtesy, due, two reminders, formal notice, final notice, referral notice

    # Then every email asks the debtor to quote the invoice number, and names no step of the policy
    for message in debtor_messages:
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        quoted = set(re.findall(r"(?:quoting reference|Reference:) (\S+?)[.,\s]", text))
        assert quoted == {number}, (message["Subject"], quoted)
        assert f"<strong>{number}</strong>" in html
        assert not [s for s in step_ids if f"{number}/{s}" in text + html], message["Subject"]
    # And each email is still told apart from the others (its Message-ID), as the log's message of its step
    assert len({m["Message-ID"] for m in debtor_messages}) == len(debtor_messages)
    # And the demand letter's facts, payment details and footer carry the same reference
    letter = next(body for key, body in simulation.ports.artefacts.objects.items() if key.startswith("letters/"))
    printed = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(letter)).pages)
    assert f"Reference {number}" in printed and "/formal_notice" not in printed
    # And the contact log records that reference for every contact
    contacts = [e for e in result.logs[item.invoice.invoice_id] if e.kind in ("email", "letter", "referral")]
    assert contacts and {e.details["reference"] for e in contacts} == {number}

