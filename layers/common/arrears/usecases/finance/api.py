"""The finance API's use cases: each takes a parsed request, calls the domain, returns a response body.

The Lambda handler (functions/api/app.py) only routes HTTP to these; the ports come in through
the constructor, so tests can drive them with any store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from arrears.domain import dunning, holds, reply_pause
from arrears.usecases.finance import actions, reports
from arrears.usecases.finance import schemas as s
from arrears.usecases.finance import dry_run_jobs
from arrears.usecases.finance.dry_run import dry_run
from arrears.usecases.finance.views import (
    AgingBucket,
    InvoiceFilter,
    aging_bucket,
    current_stage,
    days_past_due,
    invoice_timeline,
)
from arrears.usecases.finance.views import list_invoices as invoice_page
from arrears.domain.holds import ActionRefused
from arrears.domain.models import HoldKind, Instalment, Invoice
from arrears.domain.payment_behaviour import PaymentBehaviour, open_balance
from arrears.domain.policy.risk import RiskRules
from arrears.domain.risk import credit_limit, risk_band
from arrears.domain.policy import Policy, Stage, parse_policy_yaml
from arrears.domain import table_keys as keys

OPENAPI_INFO = {
    "title": "Arrears finance API",
    "version": "1.0.0",
    "description": (
        "See and steer collections. Every request is signed with AWS SigV4 (API Gateway IAM "
        "authorisation); every action is recorded in the invoice's contact log with the calling IAM "
        "principal. Money is in minor units with an ISO 4217 currency; times are ISO 8601. Errors carry "
        "a machine-readable `error`: 400 for a malformed request (a body that is not UTF-8 or nests too deep, "
        "a changed cursor), 404 for an unknown id, 409 for an action that does not fit the invoice's state, "
        "413 for a body over 1 MiB, 422 for an invalid value."
    ),
}

_NOT_FOUND = {"unknown_invoice", "unknown_customer", "unknown_policy", "unknown_version", "unknown_task", "unknown_job"}
_INVALID = {"invalid_until", "invalid_plan", "invalid_filter", "invalid_field", "invalid_policy", "unknown_step",
            "invalid_period"}
_MALFORMED = {"invalid_cursor"}  # not something this API handed out (changed, or from another query)


def statement_key(customer_id: str, as_of: str, pdf: bytes) -> str:
    """Where a statement is stored: per customer (its id hashed: any characters a platform uses) and day; the
    same figures give the same bytes and so the same key."""
    from arrears.domain.hash_chain import sha256_hex

    return f"statements/{sha256_hex(customer_id.encode())[:16]}/{as_of}-{sha256_hex(pdf)[:16]}.pdf"


def error_status(code: str) -> int:
    """400 for a malformed request, 404 for an unknown id, 422 for a bad value, 409 for everything that does
    not fit the state."""
    if code in _MALFORMED:
        return 400
    if code in _NOT_FOUND:
        return 404
    if code in _INVALID:
        return 422
    return 409


@dataclass
class FinanceApi:
    store: Any  # DynamoStore: InvoiceStore + ContactLog + the finance queries
    policies: Any  # DynamoPolicyRepository
    workflows: Any  # StepFunctionsWorkflows
    escalation: Any  # WorkflowFunction
    artefacts: Any  # S3ArtefactStore (presigned links)
    clock: Any
    # The list cursor's signing keys, newest first ("new,old" while rotating), read when a list is asked for.
    cursor_keys: Callable[[], list[str]] = lambda: []
    default_policy_id: str = "default"  # the policy of a customer without its own (settings.default_policy_id)
    dry_run_function: Any = None  # DryRunFunction: runs a dry run over the open book (usecases/finance/dry_run_jobs.py)
    portal_links: Any = None  # PortalRecords: the customers' portal link generations

    @classmethod
    def from_settings(cls) -> FinanceApi:
        from arrears.domain.clock import SystemClock
        from arrears.adapters.settings import get_settings
        from arrears.adapters.dynamo import DynamoStore
        from arrears.adapters.dynamo_policies import DynamoPolicyRepository
        from arrears.adapters.s3 import S3ArtefactStore
        from arrears.adapters.step_functions import DryRunFunction, StepFunctionsWorkflows, WorkflowFunction

        from arrears.adapters.ssm_parameters import secret_values
        from arrears.adapters.portal_records import PortalRecords

        settings = get_settings()
        return cls(store=DynamoStore(settings.table_name), policies=DynamoPolicyRepository(settings.table_name),
                   workflows=StepFunctionsWorkflows(settings.state_machine_arn),
                   escalation=WorkflowFunction(settings.workflow_function_name),
                   artefacts=S3ArtefactStore(settings.letters_bucket), clock=SystemClock(),
                   cursor_keys=lambda: secret_values(settings.cursor_key_parameter, settings.secret_max_age_seconds),
                   default_policy_id=settings.default_policy_id,
                   dry_run_function=DryRunFunction(settings.dry_run_function_name),
                   portal_links=PortalRecords(settings.table_name))

    # --- reading ---------------------------------------------------------------------------------
    def _policy_of(self, invoice: Invoice) -> Policy | None:
        if invoice.policy_id is None or invoice.policy_version is None:
            return None
        return self.policies.get(invoice.policy_id, invoice.policy_version)

    def _customers_behaviour(self, invoices: list[Invoice]) -> dict[str, dict[str, Any]]:
        """The stored payment behaviour (figures and band) of each customer of `invoices`, read once per customer."""
        stored = {customer_id: self.store.payment_behaviour(customer_id)
                  for customer_id in sorted({invoice.customer_id for invoice in invoices})}
        return {customer_id: item for customer_id, item in stored.items() if item}

    def summary(self, invoice: Invoice, now: datetime, behaviour: dict[str, dict[str, Any]] | None = None) -> s.InvoiceSummary:
        """The invoice as lists show it, with its customer's payment behaviour from `behaviour` (_customers_behaviour)."""
        is_open = not invoice.is_settled
        paid = (behaviour or {}).get(invoice.customer_id) or {}
        figures = PaymentBehaviour.from_item(paid)
        stage = current_stage(invoice, self._policy_of(invoice))
        return s.InvoiceSummary(
            invoice_id=invoice.invoice_id, provider=invoice.provider, number=invoice.number,
            customer_id=invoice.customer_id, currency=invoice.currency, amount_due=invoice.amount_due,
            amount_remaining=invoice.amount_remaining, issued_at=invoice.issued_at, due_at=invoice.due_at,
            status=invoice.status.value, state="open" if is_open else "closed", stage=stage.value if stage else None,
            aging=aging_bucket(invoice, now).value if is_open else None, days_past_due=max(0, days_past_due(invoice, now)),
            next_action_at=invoice.next_action_at if is_open else None,
            hold=s.HoldView(**invoice.hold.model_dump()) if invoice.hold else None,
            policy_id=invoice.policy_id, policy_version=invoice.policy_version, segment=invoice.segment,
            customer_risk_band=paid.get("band"),
            customer_payment_behaviour=s.PaymentBehaviourView(**figures.figures()) if figures.invoices_paid else None,
        )

    def list_invoices(self, *, state: str, stage: Stage | None, customer_id: str | None, currency: str | None,
                      aging: AgingBucket | None, next_action_before: datetime | None, limit: int,
                      cursor: str | None) -> s.InvoiceList:
        now = self.clock.now()
        if next_action_before is not None and next_action_before.tzinfo is None:
            raise ActionRefused("invalid_filter", "next_action_before needs a timezone (e.g. 2026-12-01T00:00:00Z)")
        page = invoice_page(InvoiceFilter(state, stage, customer_id, currency, aging, next_action_before, limit, cursor),
                             self.store, self._policy_of, now, self.cursor_keys())
        behaviour = self._customers_behaviour(page.invoices)
        return s.InvoiceList(invoices=[self.summary(i, now, behaviour) for i in page.invoices], next_cursor=page.next_cursor)

    def invoice_detail(self, invoice_id: str) -> s.InvoiceDetail:
        now = self.clock.now()
        timeline = invoice_timeline(invoice_id, self.store, self.store, self.policies, dunning.plan_for)
        entries = [
            s.TimelineEntry(
                seq=e.seq, at=e.at, kind=e.kind, actor=e.actor, channel=e.channel, step_id=e.step_id, stage=e.stage,
                recipient=e.recipient, subject=e.subject,
                delivery=(timeline.delivery.get(e.message_id, "sent") if e.message_id and e.kind == "email" else None),
                artefacts=[s.ArtefactLink(kind=a.kind, uri=a.uri, sha256=a.sha256, download_url=self.artefacts.download_url(a.uri))
                           for a in e.artefacts],
                details=e.details,
            ) for e in timeline.entries
        ]
        planned = [s.PlannedStepView(step_id=p.step_id, stage=p.stage, channel=p.channel, at=p.at) for p in timeline.planned]
        return s.InvoiceDetail(invoice=self.summary(timeline.invoice, now, self._customers_behaviour([timeline.invoice])),
                               customer_name=timeline.customer.name if timeline.customer else None,
                               timeline=entries, planned=planned)

    # --- actions ---------------------------------------------------------------------------------
    def _reply_handled(self, invoice_id: str, actor: str, how: str) -> None:
        """An action on an invoice of a customer whose reply waits for a person handles the reply (docs/replies.md)."""
        reply_pause.end_pause_of_invoice(invoice_id, actor, how, self.store, self.store, self.workflows, self.clock.now())

    def _done(self, invoice_id: str, action: str, **outcome: Any) -> s.ActionResult:
        return s.ActionResult(invoice_id=invoice_id, action=action, outcome=outcome)

    def pause(self, invoice_id: str, request: s.PauseRequest, actor: str) -> s.ActionResult:
        hold = holds.place_hold(invoice_id, HoldKind.PAUSE, request.until, request.reason, actor, self.store, self.store,
                                self.clock.now(), workflows=self.workflows)
        return self._done(invoice_id, "pause", until=hold.until.isoformat() if hold.until else None)

    def open_dispute(self, invoice_id: str, reason: str, actor: str) -> s.ActionResult:
        holds.place_hold(invoice_id, HoldKind.DISPUTE, None, reason, actor, self.store, self.store, self.clock.now(),
                         workflows=self.workflows)
        self._reply_handled(invoice_id, actor, "dispute")
        return self._done(invoice_id, "dispute")

    def promise(self, invoice_id: str, request: s.PromiseRequest, actor: str) -> s.ActionResult:
        hold = holds.promise_to_pay(invoice_id, request.promised_on, actor, self.store, self.store, self.policies,
                                    self.clock.now(), workflows=self.workflows)
        self._reply_handled(invoice_id, actor, "promise")
        return self._done(invoice_id, "promise", promised_on=request.promised_on.isoformat(),
                          contacts_resume_at=hold.until.isoformat() if hold.until else None)

    def release(self, invoice_id: str, action: str, reason: str, actor: str) -> s.ActionResult:
        """`resume` lifts a pause, a promise or a payment plan, `resolve_dispute` a dispute: neither lifts the
        other's hold, and an insolvency is never lifted here."""
        invoice = self.store.get_invoice(invoice_id)
        if invoice is None:
            raise ActionRefused("unknown_invoice", f"no invoice {invoice_id}")
        wanted = {HoldKind.DISPUTE} if action == "resolve_dispute" else {HoldKind.PAUSE, HoldKind.PROMISE, HoldKind.PAYMENT_PLAN}
        if invoice.hold is None or invoice.hold.kind not in wanted:
            held = f"on hold for {invoice.hold.kind.value}" if invoice.hold else "not on hold"
            code = "not_disputed" if action == "resolve_dispute" else "not_paused"
            raise ActionRefused(code, f"invoice {invoice_id} is {held}")
        hold = holds.release_hold(invoice_id, actor, self.store, self.store, self.workflows, self.clock.now(), reason)
        return self._done(invoice_id, action, released=hold.kind.value)

    def payment_plan(self, invoice_id: str, request: s.PaymentPlanRequest, actor: str) -> s.ActionResult:
        instalments = [Instalment(due_on=i.due_on, amount=i.amount) for i in request.instalments]
        hold = holds.agree_payment_plan(invoice_id, instalments, request.reason, actor, self.store, self.store,
                                        self.policies, self.clock.now(), workflows=self.workflows)
        self._reply_handled(invoice_id, actor, "payment plan")
        return self._done(invoice_id, "payment_plan", instalments=len(instalments),
                          next_checkpoint=hold.until.isoformat() if hold.until else None)

    def escalate(self, invoice_id: str, reason: str, actor: str, request_id: str | None = None) -> s.ActionResult:
        """Escalated, refused, or (outcome {"in_progress": true}) still sending when the API cannot wait longer."""
        if self.store.get_invoice(invoice_id) is None:
            raise ActionRefused("unknown_invoice", f"no invoice {invoice_id}")
        answer = self.escalation.escalate_now(invoice_id, actor, request_id)
        if answer.get("in_progress"):
            return self._done(invoice_id, "escalate", reason=reason, in_progress=True)
        if "refused" in answer:
            raise ActionRefused(answer["refused"]["code"], answer["refused"]["message"])
        escalated = {key: value for key, value in answer["escalated"].items() if key != "invoice_id"}
        return self._done(invoice_id, "escalate", reason=reason, **escalated)

    def skip(self, invoice_id: str, request: s.SkipRequest, actor: str) -> s.ActionResult:
        actions.skip_step(invoice_id, request.step_id, request.reason, actor, self.store, self.store, self.policies,
                          self.clock.now())
        return self._done(invoice_id, "skip", step_id=request.step_id)

    def write_off(self, invoice_id: str, reason: str, actor: str) -> s.ActionResult:
        actions.write_off(invoice_id, reason, actor, self.store, self.store, self.workflows, self.clock.now())
        return self._done(invoice_id, "write_off")

    def add_note(self, invoice_id: str, text: str, actor: str) -> s.ActionResult:
        seq = actions.add_note(invoice_id, text, actor, self.store, self.store, self.clock.now())
        return self._done(invoice_id, "note", seq=seq)

    # --- customers -------------------------------------------------------------------------------
    def customer(self, customer_id: str) -> s.CustomerView:
        customer = self.store.get_customer(customer_id)
        if customer is None:
            raise ActionRefused("unknown_customer", f"no customer {customer_id}")
        open_invoices = [i for i in self.store.invoices_of(customer_id) if not i.is_settled]
        balance = open_balance(open_invoices)
        settings = self.store.customer_settings(customer_id)
        try:
            rules = self.policies.current(customer.policy_id or self.default_policy_id).risk
        except LookupError:
            rules = RiskRules()  # no policy published yet: no bands
        behaviour = PaymentBehaviour.from_item(self.store.payment_behaviour(customer_id))
        band = risk_band(behaviour, rules)
        own = settings.get("credit_limits") or {}
        limits = {currency: s.CreditLimitView(limit=limit, exposure=balance.get(currency, 0),
                                              over_limit=balance.get(currency, 0) > limit,
                                              source="customer" if currency in own else "band")
                  for currency in sorted({*own, *balance, *rules.credit_limits.get(band.band or "", {})})
                  if (limit := credit_limit(rules, band.band, own, currency)) is not None}
        return s.CustomerView(
            customer_id=customer.customer_id, provider=customer.provider, name=customer.name, email=customer.email,
            escalation_email=customer.escalation_email, language=customer.language, timezone=customer.timezone,
            segment=customer.segment, policy_id=customer.policy_id, account_owner=customer.account_owner,
            phone=customer.phone, address=customer.address.model_dump(),
            finance_settings=settings,
            undeliverable=sorted(self.store.undeliverable_addresses(customer_id)),
            open_invoices=len(open_invoices), open_balance=balance,
            payment_behaviour=s.PaymentBehaviourView(**behaviour.figures()), risk_band=band.band,
            risk_band_reason=band.reason, credit_limits=limits,
        )

    def update_customer(self, customer_id: str, changes: s.CustomerChanges, actor: str) -> s.CustomerView:
        given = changes.model_dump(exclude_unset=True)
        if not given:
            raise ActionRefused("invalid_field", "give at least one field to change")
        if given.get("timezone"):
            from arrears.domain.geo import known_timezone

            if not known_timezone(given["timezone"]):
                raise actions.invalid_field("timezone", f"unknown timezone {given['timezone']!r}")
        if given.get("policy_id"):
            try:
                self.policies.current(given["policy_id"])
            except LookupError:
                raise actions.invalid_field("policy_id", f"no published policy {given['policy_id']!r}: publish it first") from None
        if given.get("language"):
            self._check_language(given["language"])
        if given.get("segment"):
            self._check_segment(customer_id, given)
        actions.update_customer_settings(customer_id, given, actor, self.store, self.store, self.clock.now())
        if given.keys() & {"email", "escalation_email", "phone", "address"}:  # a contact change handles a reply
            reply_pause.end_pause_of_customer(customer_id, actor, "contact change", self.store, self.store, self.workflows,
                                              self.clock.now())
        return self.customer(customer_id)

    @staticmethod
    def _check_language(language: str) -> None:
        """A language must be one messages are written in (never a silent English fallback)."""
        from arrears.rendering.emails import has_templates, template_languages  # jinja only when a language is set

        if not has_templates(language):
            raise actions.invalid_field("language", f"no messages are written in {language!r}; languages: "
                                                    f"{', '.join(template_languages())}")

    def _check_segment(self, customer_id: str, given: dict[str, Any]) -> None:
        """A segment must be one of the policy the customer's next invoice starts on (never a silent default)."""
        customer = self.store.get_customer(customer_id)
        if customer is None:
            raise ActionRefused("unknown_customer", f"no customer {customer_id}")
        policy_id = (given["policy_id"] if "policy_id" in given else customer.policy_id) or self.default_policy_id
        try:
            policy = self.policies.current(policy_id)
        except LookupError:
            raise actions.invalid_field("segment", f"no published policy {policy_id!r} to take the segment from") from None
        if given["segment"] not in policy.segments:
            raise actions.invalid_field("segment", f"policy {policy.policy_id} v{policy.version} has no segment "
                                                   f"{given['segment']!r}; its segments: {', '.join(policy.segments)}")

    def statement_of(self, customer_id: str, invoices: list[Invoice] | None = None) -> tuple[Any, Policy, Any]:
        """The customer, the policy the customer's next invoice would start on (its creditor, wording and zone),
        and the statement of account's figures (`invoices`: the customer's, when already read)."""
        from arrears.domain.consolidation import OpenInvoice, statement_of_account
        from arrears.domain.policy.calendar import zone_of

        customer = self.store.get_customer(customer_id)
        if customer is None:
            raise ActionRefused("unknown_customer", f"no customer {customer_id}")
        policy = self.policies.current(customer.policy_id or self.default_policy_id)
        book = []
        for invoice in self.store.invoices_of(customer_id) if invoices is None else invoices:
            pinned = self._policy_of(invoice) if not invoice.is_settled else None
            book.append(OpenInvoice(invoice, tuple(dunning.plan_for(invoice, customer, pinned)) if pinned else (), pinned))
        zone = zone_of(customer.timezone, policy.default_timezone)
        return customer, policy, statement_of_account(customer_id, book, self.clock.now(), zone)

    def statement_pdf(self, customer_id: str) -> tuple[Any, Any, bytes]:
        """The statement's figures, its notice (language, creditor) and its PDF, in the customer's language."""
        from arrears.domain.notices import NoticeIncomplete, build_statement_notice
        from arrears.rendering.renderer import FullRenderer

        customer, policy, statement = self.statement_of(customer_id)
        try:
            notice = build_statement_notice(statement, customer, policy, self.clock.now())
            return statement, notice, FullRenderer().statement(notice)
        except NoticeIncomplete as missing:
            raise ActionRefused("statement_incomplete", str(missing)) from None

    def statement(self, customer_id: str) -> s.StatementResult:
        """The customer's statement of account (every open invoice, payments and credits, aging), rendered in the
        customer's language and stored in the letters bucket; answered with a presigned link, as letters are."""
        statement, notice, pdf = self.statement_pdf(customer_id)
        stored = self.artefacts.put(statement_key(customer_id, statement.as_of.isoformat(), pdf), pdf,
                                    "application/pdf", "statement")
        return s.StatementResult(
            customer_id=customer_id, as_of=statement.as_of, language=notice.language,
            currencies=[s.StatementCurrencyView(
                currency=c.currency, open_invoices=len(c.lines), balance=c.balance_minor, paid=c.paid_minor,
                credited=c.credited_minor, on_hold=c.held_minor,
                aging={bucket.value: amount for bucket, amount in c.aging}) for c in statement.currencies],
            statement=s.ArtefactLink(kind=stored.kind, uri=stored.uri, sha256=stored.sha256,
                                     download_url=self.artefacts.download_url(stored.uri)))

    def revoke_portal_links(self, customer_id: str, reason: str, actor: str) -> s.PortalLinksRevoked:
        """Every portal link of the customer made so far stops opening (its generation is raised); the log of each
        open invoice says who revoked them and why. A fresh link goes out with the next message, or on request."""
        if self.store.get_customer(customer_id) is None:
            raise ActionRefused("unknown_customer", f"no customer {customer_id}")
        now = self.clock.now()
        generation = self.portal_links.revoke(customer_id, now, actor)
        for invoice in self.store.invoices_of(customer_id):
            if not invoice.is_settled:
                self.store.append(invoice.invoice_id, customer_id, now, kind="portal_links_revoked", actor=actor,
                                  details={"generation": generation, "reason": reason})
        return s.PortalLinksRevoked(customer_id=customer_id, generation=generation)

    def insolvency(self, customer_id: str, notice: str, actor: str) -> s.InsolvencyResult:
        held = holds.declare_insolvency(customer_id, notice, actor, self.store, self.store, self.workflows, self.clock.now())
        return s.InsolvencyResult(customer_id=customer_id, invoices_held=held)

    # --- policies --------------------------------------------------------------------------------
    def policy_list(self) -> s.PolicyList:
        return s.PolicyList(policies=[s.PolicySummary(policy_id=pid, current_version=v)
                                      for pid, v in sorted(self.policies.policy_ids().items())])

    def _current_version(self, policy_id: str) -> int:
        current = self.policies.policy_ids().get(policy_id)
        if current is None:
            raise ActionRefused("unknown_policy", f"no published policy {policy_id!r}")
        return current

    def policy_versions(self, policy_id: str) -> s.PolicyVersions:
        current = self._current_version(policy_id)
        versions = [s.PolicyVersion(policy_id=policy_id, version=v["version"], name=parse_policy_yaml(v["source"]).name,
                                    source=v["source"], current=v["version"] == current)
                    for v in self.policies.versions(policy_id)]
        return s.PolicyVersions(policy_id=policy_id, versions=versions)

    def policy(self, policy_id: str) -> s.PolicyVersion:
        current = self._current_version(policy_id)
        return next(v for v in self.policy_versions(policy_id).versions if v.version == current)

    def policy_document(self, policy_id: str, version: int | None, audience: str, language: str, fmt: str,
                        segment: str | None = None) -> s.PolicyDocumentResult:
        """The readable policy (rendering/policy_document.py) of one published version, stored in the letters bucket
        under policy-documents/ and answered with a presigned link, as statements are."""
        from arrears.domain.hash_chain import sha256_hex
        from arrears.rendering.policy_document import policy_document, render_html, render_pdf

        chosen = version or self._current_version(policy_id)
        try:
            policy = self.policies.get(policy_id, chosen)
        except LookupError:
            raise ActionRefused("unknown_version", f"policy {policy_id} has no version {chosen}") from None
        if segment is not None and segment not in policy.segments:
            raise actions.invalid_field("segment", f"policy {policy_id} v{chosen} has no segment {segment!r}; its "
                                                   f"segments: {', '.join(policy.segments)}")
        document = policy_document(policy, audience, language, segment)  # type: ignore[arg-type]
        body = render_pdf(document) if fmt == "pdf" else render_html(document)
        key = (f"policy-documents/{policy_id}/v{chosen:06d}/{audience}-{segment or policy.default_segment}-{language}"
               f"-{sha256_hex(body)[:16]}.{fmt}")
        stored = self.artefacts.put(key, body, "application/pdf" if fmt == "pdf" else "text/html; charset=utf-8",
                                    "policy_document")
        return s.PolicyDocumentResult(policy_id=policy_id, version=chosen, audience=audience, language=language, format=fmt,
                                      document=s.ArtefactLink(kind=stored.kind, uri=stored.uri, sha256=stored.sha256,
                                                              download_url=self.artefacts.download_url(stored.uri)))

    def publish_policy(self, policy_id: str, source: str, actor: str) -> s.PolicyVersion:
        policy = _parse_policy(source)
        if policy.policy_id != policy_id:
            raise ActionRefused("invalid_policy", f"the document is policy {policy.policy_id!r}, not {policy_id!r}")
        current = self.policies.policy_ids().get(policy_id, 0)
        if policy.version <= current:
            raise ActionRefused("version_exists", f"policy {policy_id} is at version {current}: publish version "
                                                  f"{current + 1} or later (versions never change)")
        self.policies.publish(policy, source)
        return s.PolicyVersion(policy_id=policy_id, version=policy.version, name=policy.name, source=source, current=True)

    def dry_run(self, policy_id: str, request: s.DryRunRequest) -> s.DryRunResult:
        policy, version = self.dry_run_policy(policy_id, request)
        return self._dry_run(policy_id, policy, version, request)

    def start_dry_run(self, policy_id: str, request: s.DryRunRequest, actor: str) -> s.DryRunJob:
        """The open book's dry run as a job (usecases/finance/dry_run_jobs.py): checked now, run by the dry-run function."""
        return dry_run_jobs.start(self, policy_id, request, actor)

    def dry_run_job(self, job_id: str) -> s.DryRunJob:
        return dry_run_jobs.status(self, job_id)

    def dry_run_policy(self, policy_id: str, request: s.DryRunRequest) -> tuple[Policy, int | None]:
        """The policy a dry run tries (a published version, or a draft: version None), or ActionRefused."""
        if request.source is not None and request.version is not None:
            raise ActionRefused("invalid_policy", "give a published version or a draft source, not both")
        if request.source is not None:
            policy = _parse_policy(request.source)
            if policy.policy_id != policy_id:
                raise ActionRefused("invalid_policy", f"the draft is policy {policy.policy_id!r}, not {policy_id!r}")
            version = None
        else:
            version = request.version or self._current_version(policy_id)
            try:
                policy = self.policies.get(policy_id, version)
            except LookupError:
                raise ActionRefused("unknown_version", f"policy {policy_id!r} has no version {version}") from None
        return policy, version

    def _dry_run(self, policy_id: str, policy: Policy, version: int | None, request: s.DryRunRequest) -> s.DryRunResult:
        if request.invoice_id:
            invoice = self.store.get_invoice(request.invoice_id)
            if invoice is None:
                raise ActionRefused("unknown_invoice", f"no invoice {request.invoice_id}")
            if invoice.is_settled:
                raise ActionRefused("invoice_closed", f"invoice {request.invoice_id} is closed: nothing to collect")
            invoices = [invoice]
        else:
            invoices = self.store.invoices_in("gsi3", keys.RECEIVABLE)
        book = [(i, c) for i in invoices if (c := self.store.get_customer(i.customer_id)) is not None]
        try:
            # What an invoice not yet started would start on: the policy's current version.
            unstarted = self.policies.get(policy_id, self._current_version(policy_id))
        except (ActionRefused, LookupError):
            unstarted = None
        insolvent = {c.customer_id: self.store.insolvency_of(c.customer_id) is not None for _, c in book}  # once a customer
        result = dry_run(policy, book, self.clock.now(), history=self.store.entries, insolvent=insolvent.__getitem__,
                         pinned=lambda invoice: self._policy_of(invoice) or unstarted)
        return s.DryRunResult(
            policy_id=policy_id, version=version, invoices_simulated=result.invoices, contacts_by_stage=result.by_stage(),
            invoices=[s.DryRunInvoice(invoice_id=invoice_id, contacts=[
                s.DryRunContact(at=e.at, step_id=e.step_id, stage=e.stage, kind=e.kind, channel=e.channel) for e in entries],
                changes=[s.DryRunChange(**vars(change)) for change in result.changes(invoice_id)])
                for invoice_id, entries in sorted(result.contacts.items())],
            left_out=[s.DryRunLeftOut(invoice_id=invoice_id, reason=reason) for invoice_id, reason in sorted(result.excluded.items())],
        )

    # --- reports ---------------------------------------------------------------------------------
    def _book(self, since: datetime | None = None) -> list[Invoice]:
        """The receivables (GSI3) and the invoices closed since `since` (GSI1), each once."""
        book = {i.invoice_id: i for i in self.store.invoices_in("gsi3", keys.RECEIVABLE)}
        for invoice in self.store.invoices_in("gsi1", "COLLECTION#closed"):
            if since is None or (invoice.closed_at is not None and invoice.closed_at >= since):
                book.setdefault(invoice.invoice_id, invoice)
        return list(book.values())

    def aging(self, as_of: datetime | None) -> s.AgingReport:
        now = self.clock.now()
        moment = as_of or now
        if moment.tzinfo is None:
            raise ActionRefused("invalid_period", "as_of needs a timezone (e.g. 2026-12-01T00:00:00Z)")
        if moment > now + timedelta(seconds=1):
            raise ActionRefused("invalid_period", "as_of cannot be in the future")
        return s.AgingReport(as_of=moment, currencies=reports.aging(self._book(moment), moment))

    def _period(self, start: datetime, end: datetime) -> None:
        if end <= start:
            raise ActionRefused("invalid_period", "`to` must be after `from`")
        if (end - start).days > 3660:
            raise ActionRefused("invalid_period", "a report covers at most ten years")

    def collections(self, start: datetime, end: datetime) -> s.CollectionReport:
        self._period(start, end)
        figures = reports.collection_figures(self._book(start), start, end)
        rows = [s.CurrencyCollection(**{k: (float(v) if v is not None and not isinstance(v, (int, str)) else v)
                                        for k, v in vars(f).items() if not k.startswith("_")})
                for _, f in sorted(figures.items())]
        return s.CollectionReport(start=start, end=end, currencies=rows)

    def stages(self, start: datetime, end: datetime) -> s.StageReport:
        self._period(start, end)
        return s.StageReport(start=start, end=end, stages=reports.stage_outcomes(self._book(start), start, end, self._policy_of))

    def tasks(self) -> s.TaskList:
        return s.TaskList(tasks=[s.TaskView(task_id=t["task_id"], invoice_id=t["invoice_id"], kind=t["kind"],
                                            due_at=t["due_at"], details=t["details"]) for t in self.store.open_tasks()])

    def complete_task(self, task_id: str, note: str, actor: str) -> s.ClosedTask:
        t = actions.complete_task(task_id, note, actor, self.store, self.store, self.clock.now())
        reply_pause.task_done(t, actor, self.store, self.store, self.workflows, self.clock.now())  # a reply read: no pause
        return s.ClosedTask(task_id=t["task_id"], invoice_id=t["invoice_id"], kind=t["kind"], due_at=t["due_at"],
                            details=t["details"], status=t["status"], closed_at=t["closed_at"], closed_by=t["closed_by"],
                            note=t["note"])


def _parse_policy(source: str) -> Policy:
    import yaml
    from pydantic import ValidationError

    try:
        return parse_policy_yaml(source)
    except ValidationError as invalid:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in invalid.errors()[:20])
        raise ActionRefused("invalid_policy", f"the policy is not valid: {problems}") from None
    except (yaml.YAMLError, ValueError) as invalid:
        raise ActionRefused("invalid_policy", f"the policy is not valid YAML: {invalid}") from None
