"""A debtor's data never stops collection: hostile names, numbers and addresses on in-memory adapters.

Whatever a billing platform puts in a customer record, the workflow sends (to a usable address, with
safe headers and file names), falls back (escalation contact, a letter by post), or blocks the contact
with a task for a person; it never raises (which in AWS ends in `workflow_failed`).
"""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes
from email import policy as email_policy

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from arrears.domain import dunning
from arrears.domain.clock import parse_iso
from arrears.domain.debtor_data import active_currencies, currency_or_error, email_problem, entered_email, file_stem, printable
from arrears.domain.models import Address, Customer, Invoice, InvoiceLine
from arrears.domain.ports import Ports
from tests.unit.memory_world import memory_ports

HOSTILE_EMAILS = [
    "buchhaltung@mueller-soehne.example\r\nBcc: everyone@rival.example",  # header injection
    "buchhaltung@mueller-soehne.example\x00",
    "Buchhaltung <buchhaltung@mueller-soehne.example>",  # a display name
    "buchhaltung@mueller-soehne.example, ceo@mueller-soehne.example",  # several addresses
    "buchhaltung@localhost",  # no valid domain
    "buchhaltung@mueller-soehne",
    "not an address",
]


def _world(default_policy, customer: Customer, invoice: Invoice) -> Ports:
    return memory_ports(default_policy, customer, invoice)


def _run(ports: Ports, invoice_id: str, days_after_due: int = 150) -> str:
    """Drive the service as the state machine does; any exception here is a `workflow_failed` in AWS."""
    invoice = ports.store.get_invoice(invoice_id)
    until = invoice.due_at + timedelta(days=days_after_due)
    decision = dunning.start_collection(invoice_id, "arn:execution", "default", ports)
    while decision.status == "active" and parse_iso(decision.next_at) <= until:
        ports.clock.at = parse_iso(decision.next_at)
        decision = dunning.run_due_steps(invoice_id, ports)
    return decision.status


def _messages(ports: Ports):
    return [(recipients, message_from_bytes(raw, policy=email_policy.default)) for _, recipients, raw in ports.mailer.sent]


@pytest.mark.parametrize("address", HOSTILE_EMAILS)
def test_an_unusable_billing_email_is_never_mailed_the_letters_go_by_post_and_a_person_fixes_it(
        default_policy, berlin_customer, open_invoice, address):
    # Given a billing platform's customer whose email field is not one valid address (and no escalation contact)
    ports = _world(default_policy, berlin_customer.model_copy(update={"email": address}), open_invoice)
    # When the invoice's workflow runs through the whole policy
    status = _run(ports, open_invoice.invoice_id)
    # Then it completes; nothing is mailed to the debtor (the agency still gets its referral package)
    assert status == "complete"
    assert all(recipients == ["referrals@lambertcole.example"] for recipients, _ in _messages(ports))
    entries = ports.log.entries(open_invoice.invoice_id)
    # And the messages went by post, to the complete postal address
    posted = [e.step_id for e in entries if e.channel == "letter" and e.kind == "letter"]
    assert posted == ["courtesy_reminder", "due_notice", "overdue_7", "overdue_15", "formal_notice", "final_notice"]
    referral = next(e for e in entries if e.kind == "referral")
    assert ports.store.tasks[referral.details["post_task_id"]]["kind"] == "post_letter"
    # And the address is recorded as unusable once, with a complete_debtor_data task that quotes it and says why
    unusable = [e for e in entries if e.kind == "debtor_data_unusable"]
    assert len(unusable) == 1 and unusable[0].details["address"] == address and unusable[0].details["problem"]
    task = ports.store.tasks[unusable[0].details["task_id"]]
    assert task["kind"] == "complete_debtor_data" and task["details"]["field"] == "email"
    assert [t["kind"] for t in ports.store.tasks.values()].count("complete_debtor_data") == 1


def test_an_unusable_billing_email_falls_back_to_the_escalation_contact(default_policy, berlin_customer, open_invoice):
    # Given a billing email with a display name, and a valid escalation contact the finance team set
    customer = berlin_customer.model_copy(update={"email": "AP <ap@mueller-soehne.example>",
                                                  "escalation_email": "cfo@mueller-soehne.example"})
    ports = _world(default_policy, customer, open_invoice)
    # When the workflow runs to the due notice
    _run(ports, open_invoice.invoice_id, days_after_due=1)
    # Then both messages went to the escalation contact only, and a person has the unusable address to fix
    assert [recipients for recipients, _ in _messages(ports)] == [["cfo@mueller-soehne.example"]] * 2
    assert all(message["To"].addresses[0].addr_spec == "cfo@mueller-soehne.example" for _, message in _messages(ports))
    assert [t["kind"] for t in ports.store.tasks.values()] == ["complete_debtor_data"]


def test_control_characters_in_names_and_numbers_never_reach_a_header_or_a_file_name(
        default_policy, berlin_customer, open_invoice):
    # Given a name that tries to inject a header and an invoice number that is a path with a line break
    customer = berlin_customer.model_copy(update={"name": "Müller\r\nBcc: everyone@rival.example\x00 GmbH"})
    invoice = open_invoice.model_copy(update={"number": "../../etc/NW-2026\r\n-0042\x1b"})
    ports = _world(default_policy, customer, invoice)
    # When the workflow runs past the formal notice (an email with the demand letter attached)
    assert _run(ports, invoice.invoice_id, days_after_due=40) == "active"
    messages = _messages(ports)
    # Then every email went to the billing address alone, with the name on one line in its To header
    assert [recipients for recipients, _ in messages] == [["buchhaltung@mueller-soehne.example"]] * 5
    for _, message in messages:
        assert message["Bcc"] is None
        assert message["To"].addresses[0].display_name == "Müller Bcc: everyone@rival.example GmbH"
        assert "\n" not in message["Subject"] and "\x1b" not in message["X-Arrears-Reference"]
    # And the demand letter is attached under a name made only of safe characters
    formal = messages[-1][1]
    assert [part.get_filename() for part in formal.iter_attachments()] == ["etc_NW-2026_-0042-formal-notice.pdf"]


# --- the property: any text in a customer record, the workflow still runs to completion --------------
_ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=60)  # control characters included
_ADDRESSES = st.one_of(_ANY_TEXT, st.sampled_from(HOSTILE_EMAILS), st.just("ap@mueller-soehne.example"),
                       _ANY_TEXT.map(lambda local: f"{local}@mueller-soehne.example"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(name=_ANY_TEXT, email=_ADDRESSES, escalation=st.one_of(st.just(""), _ADDRESSES), number=_ANY_TEXT,
       line1=_ANY_TEXT, line2=_ANY_TEXT, city=_ANY_TEXT, postal_code=_ANY_TEXT, state=_ANY_TEXT,
       country=st.one_of(st.sampled_from(["DE", "GB", "US", ""]), _ANY_TEXT), description=_ANY_TEXT,
       language=st.one_of(st.sampled_from(["de", "fr", "en"]), _ANY_TEXT),
       zone=st.one_of(st.sampled_from(["Europe/Berlin", "America/New_York"]), _ANY_TEXT))
@example(name="\r\n", email="a@b.example\r\nBcc: c@d.example", escalation="", number="\x00", line1="\x0c", line2="",
         city="\u2028", postal_code="", state="", country="\x00\x01", description="\u202e", language="../..",
         zone="Mars/Olympus")
def test_any_customer_record_ends_sent_or_blocked_with_a_task_never_failed(
        default_policy, berlin_customer, open_invoice, name, email, escalation, number, line1, line2, city, postal_code,
        state, country, description, language, zone):
    # Given a customer and invoice whose text fields are arbitrary Unicode
    customer = berlin_customer.model_copy(update={
        "name": name, "email": email, "escalation_email": escalation, "language": language, "timezone": zone,
        "address": Address(line1=line1, line2=line2, city=city, postal_code=postal_code, state=state, country=country)})
    invoice = open_invoice.model_copy(update={"number": number, "lines": (InvoiceLine(description=description, amount=125_000),)})
    ports = _world(default_policy, customer, invoice)
    # When the workflow runs through the whole policy, it never raises (a raise is `workflow_failed`)
    assert _run(ports, invoice.invoice_id) == "complete"
    entries = ports.log.entries(invoice.invoice_id)
    # Then every step of the policy was sent, or blocked with a task for a person
    done = {e.step_id: e for e in entries if e.step_id and e.kind not in ("debtor_data_unusable",)}
    assert set(done) >= {"courtesy_reminder", "due_notice", "overdue_7", "overdue_15", "formal_notice", "final_notice",
                         "referral"}
    for entry in done.values():
        if entry.kind == "contact_blocked":
            assert ports.store.tasks[entry.details["task_id"]]["kind"] == "complete_debtor_data"
    # And every email went to one usable address, with headers on one line
    for recipients, message in _messages(ports):
        assert len(recipients) == 1 and email_problem(recipients[0]) is None
        assert all("\n" not in str(value) and "\r" not in str(value) for value in message.values())
    assert not any(e.kind == "workflow_failed" for e in entries)


# --- the helpers themselves -----------------------------------------------------------------------
def test_printable_text_keeps_names_and_replaces_control_characters_by_spaces():
    assert printable("Müller & Söhne GmbH") == "Müller & Söhne GmbH"
    assert printable("Zürich\u00a0AG") == "Zürich\u00a0AG"  # a no-break space is text, not a control
    assert printable("Evil\r\nBcc: x\x00y\t\u202e z\u2028") == "Evil Bcc: x y z"
    assert printable("\x00\r\n") == ""


def test_file_stems_keep_only_safe_characters():
    assert file_stem("NW-2026-0042") == "NW-2026-0042"
    assert file_stem("../../etc/passwd") == "etc_passwd"
    assert file_stem("Rechnung Ä/1\r\n") == "Rechnung_A_1"
    assert file_stem("請求書") == "invoice"
    assert len(file_stem("x" * 500)) == 80


@pytest.mark.parametrize("address", HOSTILE_EMAILS)
def test_hostile_addresses_are_unusable_and_kept_as_sent(address):
    assert email_problem(address) is not None
    assert entered_email(address) == address


def test_a_valid_address_is_stored_as_it_is_mailed():
    assert email_problem("AP@Mueller-Soehne.example") is None
    assert entered_email("ap@Bücher.example") == "ap@xn--bcher-kva.example"  # SES takes the ASCII domain
    assert entered_email(None) == "" and entered_email("") == ""


def test_active_currencies_are_todays_legal_tender():
    assert {"EUR", "GBP", "USD", "JPY", "CHF", "XOF"} <= active_currencies()
    assert not {"DEM", "HRK", "XXX", "XTS", "XAU", "CLF"} & active_currencies()
    assert currency_or_error("eur") == "EUR"
    with pytest.raises(ValueError, match="not an active ISO 4217"):
        currency_or_error("DEM")

