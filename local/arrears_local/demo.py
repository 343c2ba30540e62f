"""`arrears demo`: a sample book through 150 virtual days on the local runtime, then a timeline."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable

from arrears.domain.geo import timezone_for_country
from arrears.domain.models import ContactEntry, Customer, Invoice
from arrears.domain.policy import Policy
from arrears_local.portfolio import PortfolioInvoice
from arrears_local.runtime import LOCAL_STRIPE_SECRET, LocalRuntime
from arrears_local.stripe_events import invoice_event, signed_delivery

CONTACT_KINDS = ("email", "letter", "call_task", "referral")
# What the debtors answered (docs/replies.md): shown in the demo's timeline beside the contacts.
REPLY_KINDS = ("reply_received", "auto_reply_received", "reply_pause_ended")
# Stripe retries a delivery it thinks failed; the demo redelivers some events this much later.
REDELIVERY_DELAY = timedelta(minutes=7)
# The demo stack's PortalPublicUrl: `arrears serve`'s own address, so the links its emails and letters carry are
# the portal of a local server (docs/portal.md).
DEMO_PORTAL_URL = "http://127.0.0.1:8000"


@dataclass
class Delivery:
    at: datetime
    invoice_id: str
    event_type: str
    status_code: int = 0
    reply: dict = field(default_factory=dict)


@dataclass
class BookRun:
    """What happened to a book: every delivery's answer and every invoice's contact log."""

    portfolio: list[PortfolioInvoice]
    deliveries: list[Delivery]
    logs: dict[str, list[ContactEntry]]
    settled_at: dict[str, datetime | None]
    invoices: dict[str, Invoice] = field(default_factory=dict)  # each invoice as the stack holds it at the end
    customers: dict[str, Customer] = field(default_factory=dict)  # each customer as the stack holds it (its language)


@dataclass(frozen=True)
class BookEvent:
    """One webhook delivery of the book: what happened (`happened_at`) and when it is delivered (`at`)."""

    at: datetime
    happened_at: datetime
    item: PortfolioInvoice
    event_type: str

    def document(self) -> dict:
        return invoice_event(self.item.invoice, self.event_type, self.happened_at)


def book_events(portfolio: list[PortfolioInvoice], policy: Policy) -> tuple[list[BookEvent], dict[str, datetime | None]]:
    """Every delivery of the book in time order (some twice, as Stripe retries), and when each invoice settles."""
    events: list[BookEvent] = []
    settled_at: dict[str, datetime | None] = {}
    for item in portfolio:
        zone = timezone_for_country(item.invoice.customer.country, policy.default_timezone, item.invoice.customer.state)
        settle = item.settled_at(policy, zone)
        settled_at[item.invoice.invoice_id] = settle
        happenings = [(item.invoice.created, "invoice.finalized")]
        if settle is not None and item.settle_event:
            happenings.append((settle, item.settle_event))
        for happened_at, event_type in happenings:
            events.append(BookEvent(happened_at, happened_at, item, event_type))
            if item.redelivered:
                events.append(BookEvent(happened_at + REDELIVERY_DELAY, happened_at, item, event_type))
    return sorted(events, key=lambda e: e.at), settled_at


def schedule_deliveries(runtime: LocalRuntime, portfolio: list[PortfolioInvoice], policy: Policy,
                        deliveries: list[Delivery]) -> tuple[list[tuple[datetime, Callable[[], None]]], dict[str, datetime | None]]:
    """Each delivery as an event on the virtual clock, signed when it is delivered."""
    events, settled_at = book_events(portfolio, policy)

    def deliver(event: BookEvent) -> Callable[[], None]:
        def send() -> None:
            body, headers = signed_delivery(event.document(), LOCAL_STRIPE_SECRET, runtime.now())
            reply = runtime.request("POST", "/webhooks/stripe", body, headers)
            deliveries.append(Delivery(runtime.now(), event.item.invoice.invoice_id, event.event_type, reply.status_code,
                                       reply.json() or {}))
        return send

    return [(event.at, deliver(event)) for event in events], settled_at


def run_book(runtime: LocalRuntime, portfolio: list[PortfolioInvoice], policy: Policy, days: int,
             on_progress: Callable[[datetime], None] | None = None,
             also: list[tuple[datetime, Callable[[], None]]] = ()) -> BookRun:
    """`also`: more events on the virtual clock (the demo's replies)."""
    from arrears.adapters.dynamo import DynamoStore

    deliveries: list[Delivery] = []
    external, settled_at = schedule_deliveries(runtime, portfolio, policy, deliveries)
    external = sorted([*external, *also], key=lambda pair: pair[0])
    runtime.run_until(runtime.now() + timedelta(days=days), external=external, on_progress=on_progress)
    store = DynamoStore(runtime.table_name)
    logs = {item.invoice.invoice_id: store.entries(item.invoice.invoice_id) for item in portfolio}
    invoices = {i: invoice for i in logs if (invoice := store.get_invoice(i)) is not None}
    customers = {c: customer for c in {item.invoice.customer.customer_id for item in portfolio}
                 if (customer := store.get_customer(c)) is not None}
    return BookRun(portfolio, deliveries, logs, settled_at, invoices, customers)


def export_outputs(runtime: LocalRuntime, run: BookRun, out: Path) -> dict[str, int]:
    """Everything a person may want to open: emails, letters, referral packages, the audit log."""
    if out.exists():
        shutil.rmtree(out)
    s3 = runtime.client("s3")
    counts = {"emails": 0, "letters": 0, "referrals": 0, "replies": 0, "audit": 0}
    folder_by_prefix = {"emails/": "emails", "letters/": "letters", "referrals/": "referrals", "replies/": "replies"}
    # out/audit mirrors the whole audit bucket (entries, manifests, artefact copies): `arrears audit verify out/audit`.
    audit_prefixes = {"contact-log/": "audit", "manifests/": "audit", "artefacts/": "audit"}
    for bucket, prefixes in ((runtime.letters_bucket, folder_by_prefix), (runtime.audit_bucket, audit_prefixes)):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                kind = next((name for prefix, name in prefixes.items() if key.startswith(prefix)), None)
                if kind is None:
                    continue
                target = out / ("audit/" + key if kind == "audit" else _flat_name(key))
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
                counts[kind] += 1
    timeline = {invoice_id: [entry.model_dump(mode="json") for entry in entries] for invoice_id, entries in run.logs.items()}
    (out / "timeline.json").write_text(json.dumps(timeline, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "deliveries.json").write_text(json.dumps([d.__dict__ | {"at": d.at.isoformat()} for d in run.deliveries],
                                                    indent=2, default=str) + "\n", encoding="utf-8")
    return counts


def demo_replies(runtime: LocalRuntime, portfolio: list[PortfolioInvoice]) -> list[tuple[datetime, Callable[[], None]]]:
    """The demo's debtors answer: one never-paying customer's accounts payable replies to the first overdue reminder
    (a person: its next reminder waits until someone reads it), another's mailbox answers with an out-of-office
    (logged, nothing waits). Each goes in as SES's receipt rule stores it, so the real inbound function handles it."""
    never = [item.invoice for item in portfolio if item.behaviour == "never pays"]
    others = [i for i in never[1:] if never and i.customer.customer_id != never[0].customer.customer_id]
    if not never or not others:
        return []
    replied, away = never[0], others[0]

    def answer(invoice: Invoice, write: Callable[[str, str, str], str]) -> Callable[[], None]:
        def send() -> None:
            from email import message_from_bytes

            from arrears.adapters.dynamo import DynamoStore

            emails = [e for e in DynamoStore(runtime.table_name).entries(invoice.invoice_id) if e.kind == "email" and e.message_id]
            sent = next((m for m in runtime.sent_emails() if emails and m.id == emails[-1].message_id), None)
            if sent is None:
                return  # settled before the reminder: nothing to answer
            raw = sent.raw_data.encode() if isinstance(sent.raw_data, str) else sent.raw_data
            original = message_from_bytes(raw)
            runtime.receive_email(write(str(original["Reply-To"]), emails[-1].message_id, str(original["Subject"])).encode())
        return send

    def person(reply_to: str, message_id: str, subject: str) -> str:
        return (f"From: Accounts Payable <{replied.customer.email}>\r\nTo: {reply_to}\r\nSubject: Re: {subject}\r\n"
                f"Date: {runtime.now():%a, %d %b %Y %H:%M:%S} +0000\r\nMessage-ID: <demo-reply-{message_id[:12]}@mail.example>\r\n"
                f"In-Reply-To: <{message_id}@{runtime.resolver.refs['AWS::Region']}.amazonses.com>\r\n"
                "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                "Hello,\r\n\r\nThe PO number on this invoice is wrong; please send a corrected invoice and we will pay it.\r\n\r\n"
                "Kind regards,\r\nAccounts Payable\r\n\r\n> Our records show that this invoice is overdue.\r\n")

    def out_of_office(reply_to: str, message_id: str, subject: str) -> str:
        back = runtime.now() + timedelta(days=10)
        return (f"From: {away.customer.name} <{away.customer.email}>\r\nTo: {reply_to}\r\n"
                f"Subject: Automatic reply: {subject}\r\nAuto-Submitted: auto-replied\r\nX-Autoreply: yes\r\n"
                f"In-Reply-To: <{message_id}@{runtime.resolver.refs['AWS::Region']}.amazonses.com>\r\n"
                "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                f"I am out of the office and back on {back:%d %B %Y}.\r\n")

    return [(replied.due + timedelta(days=13), answer(replied, person)), (away.due + timedelta(days=13), answer(away, out_of_office))]


def _flat_name(key: str) -> str:
    # emails/<invoice>/<step>.eml -> emails/<invoice>--<step>.eml : one folder per kind, easy to browse.
    kind, _, rest = key.partition("/")
    return f"{kind}/{rest.replace('/', '--')}"


def timeline_table(run: BookRun):
    """The demo's table: per invoice its number and the id its files in out/ are named by, its balance at the end
    (what is still owed: nothing for a paid invoice), every contact and the outcome."""
    from rich.table import Table

    from arrears.domain.money import format_money

    table = Table(title="Timeline per invoice (contact dates in UTC)", show_lines=True)
    for column in ("Invoice / file id", "Customer", "Behaviour", "Balance"):
        table.add_column(column, overflow="fold")
    table.add_column("Contacts sent", no_wrap=True)
    table.add_column("Outcome", no_wrap=True)
    for item in run.portfolio:
        invoice_id = item.invoice.invoice_id
        entries = run.logs[invoice_id]
        lines = [f"{e.at:%d %b %H:%M} {e.kind:<9} {e.step_id or ''}".rstrip()
                 for e in entries if e.kind in CONTACT_KINDS or e.kind in REPLY_KINDS]
        closing = next((e for e in entries if e.kind in ("payment", "voided", "marked_uncollectible")), None)
        result = outcome(entries) + (f" {closing.at:%d %b}" if closing else "")
        stored = run.invoices.get(invoice_id)
        balance = stored.amount_remaining if stored is not None else item.invoice.total
        table.add_row(f"{item.invoice.number}\n{invoice_id}", item.invoice.customer.name, item.behaviour,
                      format_money(balance, item.invoice.currency), "\n".join(lines) or "—", result)
    return table


@dataclass(frozen=True)
class LetterRow:
    invoice_number: str
    customer: str
    language: str  # the language the letter is written in: the debtor's, or English when there is no wording in theirs
    step_id: str
    path: str  # where export_outputs wrote it, under its out/ folder


def letters(run: BookRun) -> list[LetterRow]:
    """Every letter the book produced (demand letters and letters posted instead of an email), in the debtor's language."""
    from arrears.domain.wording import resolve

    rows = []
    for item in run.portfolio:
        customer = run.customers.get(item.invoice.customer.customer_id)
        for entry in run.logs[item.invoice.invoice_id]:
            if "covered_by" in entry.details:
                continue  # another invoice's letter (one message per customer): listed under the invoice that carried it
            for artefact in entry.artefacts:
                if artefact.kind == "letter":
                    key = artefact.uri.split("/", 3)[3]  # s3://bucket/letters/<invoice>/<step>.pdf
                    rows.append(LetterRow(item.invoice.number, item.invoice.customer.name,
                                          resolve(customer.language if customer else "en")[0], entry.step_id or "",
                                          _flat_name(key)))
    return rows


def letters_table(rows: list[LetterRow], out: Path):
    from rich.table import Table

    table = Table(title=f"Letters (PDF) in {out}/, each in its debtor's language")
    for column in ("Invoice", "Customer", "Language", "Step", "File"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row.invoice_number, row.customer, row.language, row.step_id, row.path)
    return table


def contacts(entries: list[ContactEntry]) -> list[ContactEntry]:
    return [entry for entry in entries if entry.kind in CONTACT_KINDS]


def outcome(entries: list[ContactEntry]) -> str:
    kinds = [entry.kind for entry in entries]
    for kind, label in (("payment", "paid"), ("voided", "voided"), ("marked_uncollectible", "written off"), ("referral", "referred")):
        if kind in kinds:
            return label
    return "open"


def portal_line(runtime: LocalRuntime, portfolio: list[PortfolioInvoice]) -> str:
    """One customer's portal link, as the demo's last messages carry it (signed by the local stack's key)."""
    from arrears_local.portal import portal_link

    customer = portfolio[0].invoice.customer
    return f"{customer.name}'s own page (docs/portal.md): {portal_link(runtime, customer.customer_id, DEMO_PORTAL_URL)}"
