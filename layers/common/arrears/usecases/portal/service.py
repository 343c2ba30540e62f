"""What a debtor does on their portal page, each through the finance API's own domain operation.

Every operation starts from a checked link (`access`): the token's MAC (constant time), its expiry and the
customer's current link generation. One customer's link never reaches another's data: every invoice is read
by id and then refused unless it is the link's customer's, exactly as an unknown id is. Actions are logged in
the contact log with the actor "debtor via portal (link generation N)" and confirmed by email.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Callable

from arrears.domain import portal_links as links
from arrears.domain.debtor_data import email_or_error
from arrears.domain.holds import ActionRefused, check_instalments
from arrears.domain.models import Customer, Instalment, Invoice
from arrears.domain.money import decimal_to_minor, format_money, minor_to_decimal
from arrears.domain.phone import InvalidPhone, phone_from_finance
from arrears.domain.policy import Policy
from arrears.domain.policy.calendar import zone_of
from arrears.domain.wording import Wording, format_day, wording_for
from arrears.usecases.finance import schemas as s
from arrears.usecases.finance.api import FinanceApi
from arrears.usecases.finance.views import current_stage

ACTOR = "debtor via portal"
DISPUTE_REASONS = ("not_received", "wrong_amount", "already_paid", "quality", "no_order", "other")
# The documents a debtor may open from an invoice's log: what was sent to them.
DOCUMENT_KINDS = ("email", "letter")
MAX_TEXT = 1000


class LinkRefused(Exception):
    """A link that opens nothing: `state` is invalid, expired, revoked (or disabled: the policy has no portal)."""

    def __init__(self, state: str, link: links.PortalLink | None = None) -> None:
        super().__init__(state)
        self.state = state
        self.link = link


class NotFound(Exception):
    """No such invoice or document for this link's customer (another customer's is not found either)."""


class FieldErrors(Exception):
    """Bad input: {field: catalogue key (and values)}; nothing was changed."""

    def __init__(self, errors: dict[str, tuple[str, dict[str, Any]]]) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Access:
    token: str
    link: links.PortalLink
    customer: Customer
    policy: Policy
    wording: Wording

    @property
    def actor(self) -> str:
        return f"{ACTOR} (link generation {self.link.generation})"

    @property
    def customer_id(self) -> str:
        return self.link.customer_id


@dataclass
class PortalService:
    finance: FinanceApi  # the finance API's operations: the same holds, plans and customer settings
    records: Any  # PortalRecords: link generations, daily views, request counters
    mailer: Any  # Mailer
    sender: str
    secrets: Callable[[], list[str]]  # the link secret(s), newest first ("new,old" while rotating)
    public_url: str = ""  # where links in emails point (PORTAL_PUBLIC_URL); empty: the API's own URL

    @classmethod
    def from_settings(cls) -> PortalService:
        from arrears.adapters.dynamo import DynamoStore
        from arrears.adapters.dynamo_policies import DynamoPolicyRepository
        from arrears.adapters.portal_records import PortalRecords
        from arrears.adapters.s3 import S3ArtefactStore
        from arrears.adapters.ses import SesMailer
        from arrears.adapters.settings import get_settings
        from arrears.adapters.ssm_parameters import secret_values
        from arrears.adapters.step_functions import StepFunctionsWorkflows
        from arrears.domain.clock import SystemClock

        settings = get_settings()
        finance = FinanceApi(store=DynamoStore(settings.table_name), policies=DynamoPolicyRepository(settings.table_name),
                             workflows=StepFunctionsWorkflows(settings.state_machine_arn), escalation=None,
                             artefacts=S3ArtefactStore(settings.letters_bucket), clock=SystemClock(),
                             default_policy_id=settings.default_policy_id,
                             portal_links=PortalRecords(settings.table_name))
        return cls(finance=finance, records=finance.portal_links, mailer=SesMailer(settings.ses_configuration_set),
                   sender=settings.sender_email,
                   secrets=lambda: secret_values(settings.portal_secret_parameter, settings.secret_max_age_seconds),
                   public_url=settings.portal_public_url)

    @property
    def now(self) -> datetime:
        return self.finance.clock.now()

    # --- the link ----------------------------------------------------------------------------------
    def access(self, token: str) -> Access:
        link = links.read_link(token, self.secrets())
        if link is None:
            raise LinkRefused("invalid")
        state = links.link_state(link, self.now, self.records.generation(link.customer_id))
        if state != links.VALID:
            raise LinkRefused(state, link)
        customer = self.finance.store.get_customer(link.customer_id)
        if customer is None:
            raise LinkRefused("invalid")
        policy = self._policy(customer)
        if not policy.portal.enabled:
            raise LinkRefused("disabled", link)
        return Access(token, link, customer, policy, wording_for(customer.language))

    def _policy(self, customer: Customer) -> Policy:
        return self.finance.policies.current(customer.policy_id or self.finance.default_policy_id)

    def link_for(self, customer: Customer, base_url: str) -> tuple[str, datetime]:
        """A fresh link for the customer (their current generation) and until when it opens."""
        expiry = self._policy(customer).portal.link_expiry_days
        url = links.PortalLinks(self.records, base_url, self.secrets, self.finance.clock)(customer.customer_id, expiry)
        return url or "", self.now + timedelta(days=expiry)

    def form_tokens(self, access: Access, *forms: str) -> dict[str, str]:
        return {form: self.form_token(access.token, form) for form in forms}

    def form_token(self, token: str, form: str) -> str:
        return links.form_token(token, form, self.secrets())

    def form_ok(self, token: str, form: str, given: str) -> bool:
        return links.form_token_ok(given, token, form, self.secrets())

    def today(self, access: Access) -> date:
        return self.now.astimezone(zone_of(access.customer.timezone, access.policy.default_timezone)).date()

    # --- pages -------------------------------------------------------------------------------------
    def statement(self, access: Access) -> dict[str, Any]:
        """The statement's figures (open invoices, aging per currency) and the invoices paid in the policy's months.
        The first view of a day is logged ("statement_viewed") in each open invoice's log."""
        invoices = self.finance.store.invoices_of(access.customer_id)
        _, _, statement = self.finance.statement_of(access.customer_id, invoices)
        since = self.now - timedelta(days=31 * access.policy.portal.paid_months)
        paid = [i for i in invoices if i.is_settled and i.closed_at is not None and i.closed_at >= since]
        today = self.today(access)
        if self.records.first_view_of_day(access.customer_id, today.isoformat()):
            for invoice in invoices:
                if not invoice.is_settled:
                    self.finance.store.append(invoice.invoice_id, access.customer_id, self.now, kind="statement_viewed",
                                              actor=access.actor, details={"generation": access.link.generation})
        currencies = [{"currency": c.currency, "balance": c.balance_minor, "lines": c.lines, "aging": c.aging}
                      for c in statement.currencies]
        return {"currencies": currencies, "paid": sorted(paid, key=lambda i: i.closed_at, reverse=True), "today": today}

    def invoice(self, access: Access, invoice_id: str) -> Invoice:
        invoice = self.finance.store.get_invoice(invoice_id) if len(invoice_id) <= 200 else None
        if invoice is None or invoice.customer_id != access.customer_id:
            raise NotFound(invoice_id)
        return invoice

    def invoice_page(self, access: Access, invoice_id: str) -> dict[str, Any]:
        invoice = self.invoice(access, invoice_id)
        terms = access.policy.portal
        today = self.today(access)
        creditor = access.policy.creditor
        return {
            "invoice": invoice, "settled": invoice.is_settled, "stage": current_stage(invoice, self.finance._policy_of(invoice)),
            "documents": self.documents(invoice), "today": today, "reasons": DISPUTE_REASONS,
            "latest_promise": today + timedelta(days=terms.promise_max_days),
            "plan": {"least": terms.plan_min_instalments, "most": terms.plan_max_instalments,
                     "latest": today + timedelta(days=terms.plan_max_days)},
            "creditor_bank": {"name": creditor.bank_account_name or creditor.name, "iban": creditor.iban,
                              "bic": creditor.bic},
        }

    def documents(self, invoice: Invoice) -> list[dict[str, Any]]:
        """What was sent about the invoice: each email's .eml and each letter's PDF, by log entry and position."""
        found = []
        for entry in self.finance.store.entries(invoice.invoice_id):
            if entry.kind not in DOCUMENT_KINDS:
                continue
            for index, artefact in enumerate(entry.artefacts):
                if artefact.kind in DOCUMENT_KINDS:
                    found.append({"id": f"{entry.seq}-{index}", "kind": artefact.kind, "on": entry.at.date(),
                                  "uri": artefact.uri, "content_type": artefact.content_type})
        return found

    def document(self, access: Access, invoice_id: str, document_id: str) -> tuple[bytes, str, str]:
        invoice = self.invoice(access, invoice_id)
        chosen = next((d for d in self.documents(invoice) if d["id"] == document_id), None)
        if chosen is None:
            raise NotFound(document_id)
        extension = "eml" if chosen["kind"] == "email" else "pdf"
        return (self.finance.artefacts.get(chosen["uri"]), chosen["content_type"],
                f"{invoice.number}-{chosen['id']}.{extension}")

    def policy_document(self, access: Access) -> Any:
        """The customer version of the collections policy the customer is under (their segment's reminders), in
        their language (English when the document has no version in it)."""
        from arrears.rendering.policy_document import LANGUAGES, policy_document

        language = access.customer.language.split("-")[0].split("_")[0].lower()
        return policy_document(access.policy, "customer", language if language in LANGUAGES else "en",
                               segment=access.customer.segment if access.customer.segment in access.policy.segments else None)

    def statement_pdf(self, access: Access) -> bytes:
        return self.finance.statement_pdf(access.customer_id)[2]

    # --- actions -----------------------------------------------------------------------------------
    def dispute(self, access: Access, invoice_id: str, reason: str, disputed: str, text: str) -> Invoice:
        """The invoice goes on a dispute hold (the finance API's dispute) and a task asks finance to review it."""
        invoice = self.invoice(access, invoice_id)
        errors: dict[str, tuple[str, dict[str, Any]]] = {}
        if reason not in DISPUTE_REASONS:
            errors["reason"] = ("portal.error.choice", {})
        amount = _amount(disputed, invoice.currency) if disputed.strip() else None
        if disputed.strip() and (amount is None or not 0 < amount <= invoice.amount_remaining):
            errors["disputed_amount"] = ("portal.error.amount", {})
        if not _acceptable_text(text):
            errors["text"] = ("portal.error.text", {})
        if errors:
            raise FieldErrors(errors)
        part = f"; part: {format_money(amount, invoice.currency)} of {format_money(invoice.amount_remaining, invoice.currency)}" \
            if amount is not None and amount < invoice.amount_remaining else ""
        summary = f"{reason}{part}: {text.strip()}"[:500]
        self._refused_as_state(lambda: self.finance.open_dispute(invoice_id, summary, access.actor))
        self.finance.store.open_task(invoice_id, "review_dispute", self.now, {
            "customer_id": access.customer_id, "reason": reason, "text": text.strip(), "currency": invoice.currency,
            "disputed_amount": amount if amount is not None else invoice.amount_remaining,
            "balance": invoice.amount_remaining, "by": access.actor})
        self._confirm(access, invoice, "portal.done.dispute", number=invoice.number)
        return invoice

    def promise(self, access: Access, invoice_id: str, promised: str) -> tuple[Invoice, date]:
        invoice = self.invoice(access, invoice_id)
        day = _day(promised)
        today = self.today(access)
        latest = today + timedelta(days=access.policy.portal.promise_max_days)
        if day is None:
            raise FieldErrors({"promised_on": ("portal.error.date", {})})
        if day < today:
            raise FieldErrors({"promised_on": ("portal.error.past", {})})
        if day > latest:
            raise FieldErrors({"promised_on": ("portal.error.too_far", {"date": format_day(latest, access.wording.locale)})})
        self._refused_as_state(lambda: self.finance.promise(invoice_id, s.PromiseRequest(promised_on=day), access.actor))
        self._confirm(access, invoice, "portal.done.promise", number=invoice.number,
                      date=format_day(day, access.wording.locale))
        return invoice, day

    def propose_plan(self, access: Access, invoice_id: str, rows: list[tuple[str, str]]) -> tuple[Invoice, str]:
        """Instalments within the policy's bounds, adding up to the balance: agreed at once (the finance API's plan)
        up to the policy's threshold, else a task asks a person to approve it. 'agreed' or 'proposed'."""
        invoice = self.invoice(access, invoice_id)
        terms = access.policy.portal
        today = self.today(access)
        latest = today + timedelta(days=terms.plan_max_days)
        bounds = {"least": terms.plan_min_instalments, "most": terms.plan_max_instalments,
                  "date": format_day(latest, access.wording.locale),
                  "balance": format_money(invoice.amount_remaining, invoice.currency, access.wording.locale)}
        instalments = []
        for due, amount in rows:
            if not due.strip() and not amount.strip():
                continue
            day, minor = _day(due), _amount(amount, invoice.currency)
            if day is None or minor is None or minor <= 0 or day > latest:
                raise FieldErrors({"due_on_1": ("portal.error.plan", bounds)})
            instalments.append(Instalment(due_on=day, amount=minor))
        try:
            check_instalments(instalments, invoice, today, most=terms.plan_max_instalments, least=terms.plan_min_instalments)
        except ActionRefused:
            raise FieldErrors({"due_on_1": ("portal.error.plan", bounds)}) from None
        if invoice.is_settled or invoice.hold is not None:
            raise FieldErrors({"form": ("portal.error.state", {})})
        limit = terms.auto_accept_plan_up_to.get(invoice.currency, 0)
        if invoice.amount_remaining <= limit:
            request = s.PaymentPlanRequest(instalments=[s.InstalmentRequest(due_on=i.due_on, amount=i.amount)
                                                        for i in instalments], reason="proposed by the debtor on the portal")
            self._refused_as_state(lambda: self.finance.payment_plan(invoice_id, request, access.actor))
            outcome = "agreed"
        else:
            planned = [{"due_on": i.due_on.isoformat(), "amount": i.amount} for i in instalments]
            self.finance.store.append(invoice_id, access.customer_id, self.now, kind="payment_plan_proposed",
                                      actor=access.actor, details={"instalments": planned, "currency": invoice.currency})
            self.finance.store.open_task(invoice_id, "approve_payment_plan", self.now, {
                "customer_id": access.customer_id, "currency": invoice.currency, "balance": invoice.amount_remaining,
                "instalments": planned, "by": access.actor})
            outcome = "proposed"
        self._confirm(access, invoice, f"portal.done.plan_{outcome}", number=invoice.number)
        return invoice, outcome

    def update_contact(self, access: Access, email: str, phone: str) -> str:
        """The AP contact, stored as the finance team's PATCH /customers/{id} stores it (the old value in the log)."""
        errors: dict[str, tuple[str, dict[str, Any]]] = {}
        changes: dict[str, Any] = {}
        try:
            changes["email"] = email_or_error(email.strip())
        except ValueError:
            errors["email"] = ("portal.error.email", {})
        if phone.strip():
            try:
                changes["phone"] = phone_from_finance(phone.strip())
            except InvalidPhone:
                errors["phone"] = ("portal.error.phone", {})
        if errors:
            raise FieldErrors(errors)
        changed = {k: v for k, v in changes.items() if v != getattr(access.customer, k)}
        if changed:
            old = access.customer.email
            self.finance.update_customer(access.customer_id, s.CustomerChanges(**changed), access.actor)
            for recipient in dict.fromkeys([changes["email"], old]):
                self._mail(access, recipient, access.wording("portal.email.contact_subject", creditor=access.policy.creditor.name),
                           access.wording("portal.done.contact", email=changes["email"]))
        return changes["email"]

    # --- a fresh link ------------------------------------------------------------------------------
    def send_fresh_link(self, old: str, source: str, base_url: str) -> str:
        """A fresh link to the billing address on file, for a link that was ours (expired or revoked too).
        'sent' whatever the link was (the page never tells whether a link was ours), 'limited' when this source
        asked too often today."""
        today = self.now.date().isoformat()
        if not self.records.take_request(f"source#{source}", today, 20):
            return "limited"
        token = old.strip().rpartition("/portal/")[2].split("?")[0].strip("/").split("/")[0]
        link = links.read_link(token, self.secrets())
        customer = self.finance.store.get_customer(link.customer_id) if link else None
        if customer is None or not self._policy(customer).portal.enabled:
            return "sent"
        if not self.records.take_request(f"customer#{customer.customer_id}", today,
                                         self._policy(customer).portal.link_requests_per_day):
            return "sent"
        url, until = self.link_for(customer, base_url)
        wording = wording_for(customer.language)
        creditor = self._policy(customer).creditor.name
        self._send(customer, wording, wording("portal.email.link_subject", creditor=creditor),
                   wording("portal.email.link_text", creditor=creditor, date=format_day(until.date(), wording.locale)),
                   url, creditor, customer.email)
        return "sent"

    # --- helpers -----------------------------------------------------------------------------------
    def _refused_as_state(self, action: Callable[[], Any]) -> None:
        try:
            action()
        except ActionRefused:
            raise FieldErrors({"form": ("portal.error.state", {})}) from None

    def _confirm(self, access: Access, invoice: Invoice, key: str, **values: Any) -> None:
        customer = self.finance.store.get_customer(access.customer_id) or access.customer
        self._mail(access, customer.email, access.wording("portal.email.confirm_subject", creditor=access.policy.creditor.name,
                                                          number=invoice.number), access.wording(key, **values))

    def _mail(self, access: Access, recipient: str, subject: str, text: str) -> None:
        self._send(access.customer, access.wording, subject, text, None, access.policy.creditor.name, recipient)

    def _send(self, customer: Customer, wording: Wording, subject: str, text: str, url: str | None, creditor: str,
              recipient: str) -> None:
        """A short confirmation or link email (text and HTML), logged in each open invoice's log."""
        from markupsafe import escape

        from arrears.rendering.emails import RenderedEmail
        from arrears.rendering.mime import compose_email

        signature = wording("portal.email.signature", creditor=creditor)
        body = "\n\n".join(part for part in (text, url, signature) if part)
        link = f'<p><a href="{escape(url)}">{escape(url)}</a></p>' if url else ""
        html = f"<!DOCTYPE html><html><body><p>{escape(text)}</p>{link}<p>{escape(signature)}</p></body></html>\n"
        raw = compose_email(RenderedEmail(subject=subject, text=body + "\n", html=html), sender=self.sender,
                            sender_name=creditor, recipient=recipient, recipient_name=customer.name,
                            reference=f"portal-{customer.customer_id}-{self.now.isoformat()}", reply_to=self.sender,
                            sent_at=self.now)
        message_id = self.mailer.send(raw, self.sender, [recipient])
        for invoice in self.finance.store.invoices_of(customer.customer_id):
            if not invoice.is_settled:
                self.finance.store.append(invoice.invoice_id, customer.customer_id, self.now, kind="portal_email",
                                          actor=ACTOR, recipient=recipient, subject=subject, message_id=message_id)
                break  # once: the customer's oldest open invoice carries the record


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()) if len(text) <= 10 else None
    except ValueError:
        return None


def _amount(text: str, currency: str) -> int | None:
    """'120.50' or '120,50' as minor units of `currency`; None when it is not a plain amount in that currency."""
    cleaned = text.strip().replace(" ", "").replace(",", ".")
    if not cleaned or len(cleaned) > 16 or cleaned.count(".") > 1 or not cleaned.replace(".", "").isdigit():
        return None
    value = Decimal(cleaned)
    minor = decimal_to_minor(value, currency)
    return minor if minor_to_decimal(minor, currency) == value else None


def _acceptable_text(text: str) -> bool:
    return len(text) <= MAX_TEXT and all(ch.isprintable() or ch in "\n\r\t" for ch in text)
