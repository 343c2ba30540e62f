"""The policy simulator: a whole book through the dunning domain, in memory, no ASL interpreter.

It calls exactly what the workflow function calls (`dunning.start_collection`,
`dunning.run_due_steps`) and what the webhooks function calls
(`ingest.apply_billing_change`), on in-memory adapters, and replaces the state
machine with a discrete-event loop that keeps its semantics: one workflow per
invoice, started when the invoice opens, woken at each decision's `next_at`,
stopped when the invoice is settled; an event at the same instant as a wake-up
is applied first (never contact a payer). A test runs one book through this and
through the local runtime and requires the same contact logs.

`render=False` makes it a plan-only dry run: every contact is still built and checked
exactly as the workflow would (a notice that cannot be sent is blocked the same way), but
no template, MIME message, PDF letter or referral package is made, so the log has the
same entries with empty subjects, no artefact hashes and no hash chain, at a small
fraction of the cost (what `arrears simulate` needs to say which contacts go out when
over a whole book).

Replies are modelled when a caller adds them (`add_reply`: a raw message handled at its moment by the inbound
function's use case, so a person's reply pauses the customer's messages as it does in the stack; `complete_task`: a
person's "done" on its task, which ends the pause). A book simulated without them plans as if nobody answered:
`arrears simulate` and the dry runs add none (they cannot know who will reply).
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

from arrears.domain import dunning
from arrears.domain.clock import FixedClock, parse_iso
from arrears.ingestion.billing_changes import BillingChange, apply_billing_change
from arrears.domain.models import Artefact, ContactEntry
from arrears.domain.policy import Policy
from arrears.domain.notices import NoticeContext, NoticeIncomplete
from arrears.domain.ports import Ports
from arrears.domain.renewal import RENEWED, renew_if_due
from arrears.domain.replies import ADDRESS_PREFIX, REPLY_PREFIX, reply_index_items
from arrears.domain.ses_events import MessageRef, message_lookup_item, message_pk
from arrears.adapters.memory import MemoryArtefacts, MemoryEventClaims, MemoryMailer, MemoryPolicies, MemoryStore

CONTACT_KINDS = ("email", "letter", "call_task", "referral")
# At one instant: billing events first, then workflow starts, then wake-ups.
_EVENT, _START, _WAKE = 0, 1, 2


@dataclass
class SimulationResult:
    logs: dict[str, list[ContactEntry]]
    decisions: dict[str, str] = field(default_factory=dict)  # invoice -> last workflow status
    emails_sent: int = 0  # every email, the collection agency's included

    @property
    def agency_emails(self) -> int:
        """Emails to the collection agency (each referral's package): not messages to a debtor."""
        return sum(1 for entries in self.logs.values() for e in entries if e.kind == "referral" and "agency_message_id" in e.details)

    @property
    def debtor_emails(self) -> int:
        """Emails to the debtors alone."""
        return self.emails_sent - self.agency_emails

    def contacts(self) -> list[ContactEntry]:
        return sorted((e for entries in self.logs.values() for e in entries if e.kind in CONTACT_KINDS),
                      key=lambda e: (e.at, e.invoice_id, e.seq))

    def stage_totals(self) -> dict[str, int]:
        return dict(Counter(e.stage for e in self.contacts() if e.stage))

    def referred(self) -> list[str]:
        return sorted({e.invoice_id for e in self.contacts() if e.kind == "referral"})


class _Workflows:
    """WorkflowStarter for the loop: a start or stop request becomes a scheduled event."""

    def __init__(self, simulation: "Simulation") -> None:
        self.simulation = simulation
        self.started: set[str] = set()
        self.current: dict[str, str] = {}  # invoice -> the execution carrying it (as the invoice's execution_arn)

    def start(self, invoice_id: str) -> str | None:
        if invoice_id in self.started:
            return None  # as StartExecution with the invoice id as name
        self.started.add(invoice_id)
        self.current[invoice_id] = f"simulated:{invoice_id}"
        self.simulation.schedule(self.simulation.clock.at, _START, invoice_id)
        return f"simulated:{invoice_id}"

    def successor(self, invoice_id: str, execution_arn: str) -> tuple[str, int]:
        _, _, renewal = execution_arn.removeprefix(f"simulated:{invoice_id}").partition("-r")
        following = int(renewal or 0) + 1
        return f"simulated:{invoice_id}-r{following}", following

    def start_renewal(self, invoice_id: str, renewal: int) -> None:
        # As the successor execution: it starts now and re-reads the invoice (a wake-up at this instant).
        self.current[invoice_id] = f"simulated:{invoice_id}-r{renewal}"
        self.simulation.wake(invoice_id, self.simulation.clock.at)

    def resume(self, task_token: str) -> None:
        # As SendTaskSuccess: the parked workflow re-reads the invoice now.
        self.simulation.wake(task_token.removeprefix("simulated-token:"), self.simulation.clock.at)

    def stop(self, invoice_id: str, reason: str) -> None:
        self.simulation.running.discard(invoice_id)


class PlanOnlyRenderer:
    """The dry run's renderer: every check a real contact makes before it goes out, none of the content.

    An email gets the same completeness checks as `render_email` (required fields, a usable pay
    link, a template for the debtor's language) and no template is rendered: the log records an
    empty subject. A demand letter gets the letter's completeness check and a check that its
    (regular) font can print every name, address and line it would show (what the PDF renderer
    finds missing after rendering); no PDF is made, and neither is a letter posted instead of an
    email that cannot reach the debtor (checked the same way). No referral package is built.
    """

    def email(self, notice: NoticeContext):  # -> RenderedEmail
        from arrears.rendering.emails import RenderedEmail, check_email

        check_email(notice)
        return RenderedEmail(subject="", text="", html="")

    def letter(self, notice: NoticeContext) -> bytes:
        from arrears.rendering import letter_pdf

        letter_pdf._check_complete(notice)
        self._check_printable(notice, "demand letter")
        return b""

    def posted_letter(self, notice: NoticeContext) -> bytes:
        """As `render_posted_letter` chooses: a demand letter's checks, or a reminder letter's (those of any
        letter, and that its email template exists)."""
        from arrears.rendering import letter_pdf
        from arrears.rendering.emails import check_email

        if notice.stage in letter_pdf.LETTER_STAGES:
            return self.letter(notice)
        letter_pdf._check_complete(notice, demand=False)
        check_email(notice)
        self._check_printable(notice, "letter")
        return b""

    @staticmethod
    def _check_printable(notice: NoticeContext, what: str) -> None:
        from arrears.rendering import fonts

        regular = fonts.parsed_fonts()[fonts.FAMILY.lower()]
        printed = [notice.debtor_name, *notice.debtor_address_lines, notice.invoice_number, notice.reference,
                   notice.next_consequence, *(str(v) for v in notice.creditor.model_dump(exclude={"address"}).values()),
                   *notice.creditor.address.lines(), *(line.description for line in notice.lines)]
        missing = sorted({c for text in printed for c in text
                          if c not in "\n\r\t " and ord(c) not in regular.glyph_ids})
        if missing:
            raise NoticeIncomplete(f"{what} {notice.reference}: the letter font cannot print {''.join(missing[:20])!r}")

    def statement(self, notice: NoticeContext) -> bytes:
        """A statement attached to a message: its letter's checks (names and addresses the font prints)."""
        self._check_printable(notice, "statement")
        return b""

    def compose(self, rendered: object, **fields: object) -> bytes:
        return b""

    def referral_package(self, *args: object) -> bytes:
        return b""

    def customer_referral_package(self, *args: object) -> bytes:
        return b""


class PlannedArtefacts:
    """Where a dry run's artefacts would be stored: kind, place and content type; no content, no hash."""

    def __init__(self, bucket: str = "simulation") -> None:
        self.bucket = bucket

    def put(self, key: str, body: bytes, content_type: str, kind: str) -> Artefact:
        return Artefact(kind=kind, uri=f"s3://{self.bucket}/{key}", sha256="", content_type=content_type)

    def get(self, uri: str) -> bytes:
        return b""


class _PlanStore(MemoryStore):
    """MemoryStore whose contact log keeps a dry run's entries unchained (empty `prev_hash` and `hash`):
    a plan is not evidence, and hashing entries whose artefacts have no hash would only look like it."""

    def append(self, invoice_id: str, customer_id: str, at: datetime, **fields: Any) -> ContactEntry:
        log = self.logs.setdefault(invoice_id, [])
        entry = ContactEntry(seq=len(log) + 1, at=at, prev_hash="", hash="", invoice_id=invoice_id, customer_id=customer_id,
                             **fields)
        log.append(entry)
        return entry


class _CountingMailer:
    """MemoryMailer's message ids without keeping the (empty) messages."""

    def __init__(self) -> None:
        self.count = 0

    def send(self, raw_message: bytes, sender: str, recipients: list[str]) -> str:
        self.count += 1
        return f"memory-{self.count:06d}"


class _SentMessages(MemoryEventClaims):
    """What the inbound function reads to match a reply (arrears.domain.replies.ReplyLookups, MessageIndex) and to
    handle a message once, over the simulation's own contact log: the items the table keeps beside each sent email's
    entry (`message_lookup_item`, `reply_index_items`: DynamoStore writes them on append), derived when asked."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        super().__init__()

    def _items(self) -> list[dict[str, Any]]:
        entries = sorted((e for log in self.store.logs.values() for e in log), key=lambda e: (e.at, e.invoice_id, e.seq))
        found: list[dict[str, Any]] = []
        for entry in entries:
            if entry.message_id:
                found.append(message_lookup_item(entry))
                found.extend(reply_index_items(entry))
        return found

    def find(self, message_id: str) -> MessageRef | None:
        # The first entry naming a message (the email itself) wins, as the table's put-if-absent
        item = next((i for i in self._items() if i["pk"] == message_pk(message_id)), None)
        return MessageRef(item["invoice_id"], item["customer_id"], item.get("step_id")) if item else None

    def find_reply_ref(self, ref: str) -> tuple[str, str, str | None] | None:
        items = [i for i in self._items() if i["pk"] == f"{REPLY_PREFIX}{ref}"]
        return (items[-1]["invoice_id"], items[-1]["customer_id"], items[-1]["step_id"]) if items else None

    def customers_at(self, address: str) -> list[tuple[str, str]]:
        pk = f"{ADDRESS_PREFIX}{address.strip().lower()}"
        latest = {i["customer_id"]: i["invoice_id"] for i in self._items() if i["pk"] == pk}
        return sorted(latest.items())[:20]


class Simulation:
    def __init__(self, policy: Policy, sender_email: str = "collections@arrears.invalid", *, policies: Iterable[Policy] = (),
                 render: bool = True, reply_to: Callable[[str, str], str | None] | None = None) -> None:
        """`render=False`: plan only (see the module's doc): same entries; no subjects, artefact hashes or chain.
        `reply_to`: the stack's signed Reply-To addresses (Ports.reply_to), for byte-equal emails; None: the creditor's."""
        self.store = MemoryStore() if render else _PlanStore()
        self.clock = FixedClock(datetime.min)
        self.render = render
        self.mailer: MemoryMailer | _CountingMailer = MemoryMailer() if render else _CountingMailer()
        extra = {} if render else {"renderer": PlanOnlyRenderer()}
        self.ports = Ports(store=self.store, log=self.store,
                           artefacts=MemoryArtefacts("simulation") if render else PlannedArtefacts("simulation"),
                           mailer=self.mailer, policies=MemoryPolicies(policy, *policies), clock=self.clock,
                           sender_email=sender_email, reply_to=reply_to, **extra)
        self.default_policy_id = policy.policy_id
        self.workflows = _Workflows(self)
        self.sent_messages = _SentMessages(self.store)  # what a reply is matched by (add_reply)
        self.running: set[str] = set()
        self.seen_events: set[str] = set()
        # At one instant: events, starts, wake-ups; starts and wake-ups by invoice id, as the local engine
        # releases same-instant executions by name (the order decides which of a customer's invoices
        # contacts it first when the policy keeps a gap between contacts).
        self._queue: list[tuple[datetime, int, str, int, object]] = []
        self._order = itertools.count()
        # Each wake-up carries its invoice's generation: a timeout overtaken by a resume is ignored.
        self._generation: dict[str, int] = {}
        self.decisions: dict[str, str] = {}  # invoice -> its workflow's last decision, across advances

    def schedule(self, at: datetime, kind: int, payload: object) -> None:
        name = payload if kind == _START else payload[0] if kind == _WAKE else ""  # type: ignore[index]
        heapq.heappush(self._queue, (at, kind, name, next(self._order), payload))  # type: ignore[arg-type]

    def add_updates(self, updates: Iterable[tuple[datetime, BillingChange]]) -> None:
        """Billing changes as the webhooks function applies them: invoice snapshots, and credit notes,
        disputes, customer updates and payment links."""
        for at, update in updates:
            self.schedule(at, _EVENT, update)

    def add_action(self, at: datetime, action: Callable[["Simulation"], object]) -> None:
        """A finance-team action (e.g. place or lift a hold) applied at `at`, before wake-ups at that instant."""
        self.schedule(at, _EVENT, action)

    def add_reply(self, at: datetime, raw: bytes, domain: str, secrets: list[str]) -> None:
        """A message received for the inbound domain at `at` (a debtor's reply, an out-of-office, a DSN), handled as the
        inbound function handles it (arrears.usecases.inbound): logged, and for a person's reply a `read_reply` task and
        the customer's pause, which its workflows honour. `domain`, `secrets`: the stack's InboundDomain and key(s)."""
        from arrears.usecases.inbound import InboundPorts, receive_message

        ports = InboundPorts(store=self.store, index=self.sent_messages, artefacts=self.ports.artefacts,
                             policies=self.ports.policies, clock=self.clock, secrets=lambda: list(secrets), domain=domain,
                             default_policy_id=self.default_policy_id)
        self.add_action(at, lambda simulation: receive_message(raw, ports))

    def complete_task(self, task_id: str, note: str, actor: str) -> None:
        """A person's "done" on a task now, as `POST /tasks/{id}/done`: it closes, and a reply's pause ends."""
        from arrears.domain.reply_pause import task_done
        from arrears.usecases.finance.actions import complete_task

        closed = complete_task(task_id, note, actor, self.store, self.store, self.clock.at)
        task_done(closed, actor, self.store, self.store, self.workflows, self.clock.at)

    def wake(self, invoice_id: str, at: datetime) -> None:
        generation = self._generation.get(invoice_id, 0) + 1
        self._generation[invoice_id] = generation
        self.schedule(at, _WAKE, (invoice_id, generation))

    def run(self, until: datetime) -> SimulationResult:
        self.advance(until)
        return self.result()

    def advance(self, until: datetime) -> None:
        """Process everything due up to `until` (call it repeatedly to report progress)."""
        decisions = self.decisions
        while self._queue and self._queue[0][0] <= until:
            at, kind, _, _, payload = heapq.heappop(self._queue)
            self.clock.at = at
            if kind == _EVENT:
                if callable(payload):
                    payload(self)
                    continue
                change: BillingChange = payload  # type: ignore[assignment]
                if change.event_id in self.seen_events:
                    continue  # a redelivery: the webhook's idempotency answers it without effect
                self.seen_events.add(change.event_id)
                apply_billing_change(change, self.store, self.store, self.workflows, at, policies=self.ports.policies)
                continue
            if kind == _START:
                invoice_id: str = payload  # type: ignore[assignment]
                self.running.add(invoice_id)
                decision = dunning.start_collection(invoice_id, f"simulated:{invoice_id}", self.default_policy_id, self.ports)
            else:
                invoice_id, generation = payload  # type: ignore[misc]
                if invoice_id not in self.running or generation != self._generation.get(invoice_id):
                    continue  # stopped, or overtaken by a later wake-up
                decision = dunning.run_due_steps(invoice_id, self.ports)
            while decision.status == "active" and decision.next_at and parse_iso(decision.next_at) <= at:
                # A Wait state whose moment has come does not park: the execution goes on at once.
                decision = dunning.run_due_steps(invoice_id, self.ports)
            # As the workflow function: near Step Functions' year, a shorter wait, or a successor execution.
            decision = renew_if_due(invoice_id, decision, self.workflows.current.get(invoice_id), self.workflows, self.ports)
            decisions[invoice_id] = decision.status
            if decision.status == RENEWED:
                continue  # the successor's wake-up is scheduled (start_renewal)
            if decision.status == "active" and decision.next_at:
                # Wait on a token whose timeout is the step's moment: a hold placed meanwhile wakes it (resume).
                woken = parse_iso(decision.next_at)
                if decision.wait_seconds:
                    woken = min(woken, at + timedelta(seconds=decision.wait_seconds))
                self.wake(invoice_id, woken)
                dunning.park_until_next_step(invoice_id, f"simulated-token:{invoice_id}", decision.next_at, self.workflows,
                                             self.ports)
            elif decision.status == "hold" and decision.hold_seconds:
                # Park: the timeout wakes it unless the hold is lifted first (resume wakes it then).
                self.wake(invoice_id, at + timedelta(seconds=decision.hold_seconds))
                dunning.park_for_hold(invoice_id, f"simulated-token:{invoice_id}", self.workflows, self.ports)
            else:
                self.running.discard(invoice_id)

    def result(self) -> SimulationResult:
        """Every invoice's log and last decision so far (built once, not on every advance)."""
        decisions = dict(self.decisions)
        return SimulationResult(logs={i: self.store.entries(i) for i in self.store.invoices}, decisions=decisions,
                                emails_sent=len(self.mailer.sent) if isinstance(self.mailer, MemoryMailer) else self.mailer.count)


def simulate(policy: Policy, updates: Iterable[tuple[datetime, BillingChange]], until: datetime,
             sender_email: str = "collections@arrears.invalid", *, render: bool = True,
             reply_to: Callable[[str, str], str | None] | None = None) -> SimulationResult:
    """`sender_email` matters only for byte-equal emails (their From header): pass the stack's SenderEmail.
    `render=False` plans without rendering (same entries; no subjects, artefact hashes or chain)."""
    simulation = Simulation(policy, sender_email, render=render, reply_to=reply_to)
    simulation.add_updates(updates)
    return simulation.run(until)
