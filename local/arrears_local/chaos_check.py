"""The chaos property: a sample book run fault-free, then under chaos (engine/chaos.py), compared invoice by invoice.

For each invoice of the book, the chaos run must agree with itself and with the fault-free run:

- the SES outbox, the contact log and the invoice's progress agree (every message SES accepted is logged
  once with its id, every logged message is in the outbox, every logged contact step is a completed step);
- no message twice (one invoice and step, twice in the outbox), none at or after settlement (once Arrears knew
  of it: the settling webhook's delivery answered 2xx; one answered 5xx is retried by the platform a minute later);
- none lost: every message of the fault-free run is in the outbox, or the invoice has a recorded failure
  (``workflow_failed``, or the step's ``contact_unconfirmed``) whose task for a person was opened;
- the audit archive verifies (``arrears audit verify``);
- webhooks: a delivery answered 5xx left nothing its retry would apply twice, and the platform's retry (a
  minute later) finished it: each event applied (its log entry) exactly once.

`bench/chaos.py` (`make chaos`) prints the figures; tests/e2e/test_chaos.py asserts the property per seed.
"""

from __future__ import annotations

import email
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Callable

from arrears.domain.policy import Policy
from arrears_local.demo import BookEvent, book_events
from arrears_local.engine.chaos import ChaosConfig
from arrears_local.portfolio import PortfolioInvoice
from arrears_local.runtime import LOCAL_STRIPE_SECRET, LocalRuntime
from arrears_local.stripe_events import signed_delivery

MESSAGE_KINDS = ("email", "letter", "referral")
FAILURE_KINDS = ("workflow_failed", "contact_unconfirmed")
_SETTLING = ("invoice.paid", "invoice.voided", "invoice.marked_uncollectible")
WEBHOOK_RETRY_DELAY = timedelta(minutes=1)  # a platform retries a delivery answered 5xx
WEBHOOK_RETRIES = 12
# What a settling event writes to the contact log: its entry must be there exactly once.
_EVENT_KINDS = {"invoice.finalized": "invoice_opened", "invoice.paid": "payment", "invoice.voided": "voided",
                "invoice.marked_uncollectible": "marked_uncollectible"}


@dataclass
class WebhookAnswer:
    at: datetime
    invoice_id: str
    event_type: str
    status_code: int
    entries_of_kind: int  # the event's log entries right after the answer
    outcome: str = ""  # what the function answered it did (or its error)


@dataclass
class BookObservation:
    """What one run of the book left behind."""

    outbox: dict[str, Counter]  # invoice id -> message reference ("<number>/<step>") -> times SES accepted it
    outbox_ids: dict[str, str]  # SES message id -> reference
    sent_at: dict[str, datetime]  # reference -> when it was composed (its Date header), the first time
    logs: dict[str, list[Any]]  # invoice id -> contact-log entries
    completed: dict[str, set[str]]  # invoice id -> completed steps
    open_tasks: dict[str, list[dict]]
    failure_tasks: dict[str, dict | None]  # task id named by a failure entry -> the task (None: never opened)
    settled_at: dict[str, datetime | None]
    webhooks: list[WebhookAnswer]
    audit_problems: list[str]
    audit_summary: str
    figures: dict[str, Any] = field(default_factory=dict)

    def messages(self) -> int:
        return sum(sum(c.values()) for c in self.outbox.values())


def run_observed(portfolio: list[PortfolioInvoice], policy: Policy, start: datetime, days: int,
                 chaos: ChaosConfig | None = None) -> BookObservation:
    """Run the book on a fresh local runtime (with `chaos`, or fault-free) and observe what it left."""
    with LocalRuntime(start=start, chaos=chaos, log_level="CRITICAL") as runtime:
        answers: list[WebhookAnswer] = []
        events, settled_at = book_events(portfolio, policy)
        external = [(event.at, _delivery(runtime, event, answers)) for event in events]
        runtime.run_until(start + timedelta(days=days), external=external)
        observation = observe(runtime, portfolio, settled_at, answers)
        if runtime.engine.chaos is not None:
            observation.figures = runtime.engine.chaos.figures()
        return observation


def _delivery(runtime: LocalRuntime, event: BookEvent, answers: list[WebhookAnswer]) -> Callable[[], None]:
    """One webhook delivery, retried as a platform retries one answered 5xx."""
    from arrears.adapters.dynamo import DynamoStore

    invoice_id = event.item.invoice.invoice_id
    kind = _EVENT_KINDS.get(event.event_type)

    def send(attempt: int = 0) -> None:
        body, headers = signed_delivery(event.document(), LOCAL_STRIPE_SECRET, runtime.now())
        reply = runtime.request("POST", "/webhooks/stripe", body, headers)
        # Read once everything is parked again: an execution the delivery started runs its first task meanwhile.
        runtime.engine.wait_idle()
        entries = DynamoStore(runtime.table_name).entries(invoice_id)
        answer = reply.json() or {}
        answers.append(WebhookAnswer(runtime.now(), invoice_id, event.event_type, reply.status_code,
                                     sum(1 for e in entries if e.kind == kind),
                                     str(answer.get("outcome") or answer.get("error") or "")))
        if reply.status_code >= 500 and attempt < WEBHOOK_RETRIES:
            runtime.engine._schedule(runtime.now() + WEBHOOK_RETRY_DELAY, lambda: send(attempt + 1))

    return send


def observe(runtime: LocalRuntime, portfolio: list[PortfolioInvoice], settled_at: dict[str, datetime | None],
            answers: list[WebhookAnswer]) -> BookObservation:
    from arrears.adapters.dynamo import DynamoStore
    from arrears.usecases.audit.verify import verify_archive

    by_number = {item.invoice.number: item.invoice.invoice_id for item in portfolio}
    outbox: dict[str, Counter] = {item.invoice.invoice_id: Counter() for item in portfolio}
    outbox_ids: dict[str, str] = {}
    sent_at: dict[str, datetime] = {}
    for message in runtime.sent_emails():
        raw = message.raw_data.encode() if isinstance(message.raw_data, str) else message.raw_data
        headers = email.message_from_bytes(raw)
        reference = str(headers.get("X-Arrears-Reference", ""))
        invoice_id = by_number.get(reference.split("/")[0])
        if invoice_id is None:
            continue
        outbox[invoice_id][reference] += 1
        outbox_ids[message.id] = reference
        if headers.get("Date"):
            sent_at.setdefault(reference, parsedate_to_datetime(str(headers["Date"])))
    store = DynamoStore(runtime.table_name)
    logs = {i: store.entries(i) for i in outbox}
    completed = {i: set(invoice.completed_steps) if (invoice := store.get_invoice(i)) else set() for i in outbox}
    open_tasks = {i: store.open_tasks_of(i) for i in outbox}
    failure_tasks = {e.details["task_id"]: store.task(e.details["task_id"]) for entries in logs.values() for e in entries
                     if e.kind in FAILURE_KINDS and e.details.get("task_id")}
    report = verify_archive(audit_bucket_source(runtime))
    return BookObservation(outbox, outbox_ids, sent_at, logs, completed, open_tasks, failure_tasks, settled_at, answers,
                           [p.message for p in report.problems], report.summary())


def audit_bucket_source(runtime: LocalRuntime) -> Any:
    """The audit bucket's newest objects (and its delete markers), read from moto's memory: the bytes
    `arrears audit verify s3://…` reads, without ~1,000 GetObject round trips through boto3."""
    from moto.s3.models import FakeDeleteMarker, s3_backends

    from arrears.adapters.audit_sources import MemorySource
    from arrears_local.runtime import ACCOUNT

    keys = s3_backends[ACCOUNT]["aws"].buckets[runtime.audit_bucket].keys
    objects, deleted = {}, []
    for name in list(keys):
        newest = keys[name]
        if isinstance(newest, FakeDeleteMarker):
            deleted.append(name)
        else:
            objects[name] = newest.value
    return MemorySource(objects, f"s3://{runtime.audit_bucket}/", deleted)


@dataclass
class Verdict:
    """What the chaos run got wrong, by kind, against the fault-free run (empty lists: the property holds)."""

    duplicates: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    after_settlement: list[str] = field(default_factory=list)
    disagreements: list[str] = field(default_factory=list)
    failed_with_task: list[str] = field(default_factory=list)  # not violations: recorded and handed to a person
    # Not violations either: the retries moved the invoice's timeline by seconds, the customer's queue of messages
    # came out differently (the policy's gap), and the log says what became of the step (as test_lifecycle allows).
    rescheduled: list[str] = field(default_factory=list)
    audit: list[str] = field(default_factory=list)
    webhooks: list[str] = field(default_factory=list)

    def violations(self) -> dict[str, list[str]]:
        return {name: found for name, found in (("duplicates", self.duplicates), ("lost", self.lost),
                                                 ("after_settlement", self.after_settlement),
                                                 ("disagreements", self.disagreements), ("audit", self.audit),
                                                 ("webhooks", self.webhooks)) if found}


def compare(baseline: BookObservation, chaos: BookObservation) -> Verdict:
    verdict = Verdict()
    for invoice_id, outbox in chaos.outbox.items():
        log = chaos.logs[invoice_id]
        verdict.duplicates += [f"{invoice_id} {ref} sent {n} times" for ref, n in outbox.items() if n > 1]
        settled = _known_settled(chaos, invoice_id)
        if settled is not None:
            verdict.after_settlement += [f"{invoice_id} {ref} composed {chaos.sent_at[ref].isoformat()} >= settled "
                                         f"{settled.isoformat()}" for ref in outbox
                                         if ref in chaos.sent_at and chaos.sent_at[ref] >= settled.replace(microsecond=0)]
            verdict.after_settlement += [f"{invoice_id} {e.kind} {e.step_id} logged at {e.at.isoformat()}" for e in log
                                         if e.kind in ("email", "letter", "call_task", "referral") and e.at >= settled]
        verdict.disagreements += _disagreements(invoice_id, chaos)
        for ref in baseline.outbox[invoice_id]:
            if ref in outbox:
                continue
            failure = _recorded_failure(chaos, invoice_id, ref.split("/")[1])
            explained = _rescheduled(chaos, invoice_id, ref.split("/")[1])
            if failure is not None:
                verdict.failed_with_task.append(f"{invoice_id} {ref}: {failure}")
            elif explained is not None:
                verdict.rescheduled.append(f"{invoice_id} {ref}: {explained}")
            else:
                verdict.lost.append(f"{invoice_id} {ref} (fault-free run sent it; no recorded failure with a task)")
    verdict.audit = list(chaos.audit_problems)
    verdict.webhooks = _webhook_problems(chaos)
    return verdict


def _known_settled(run: BookObservation, invoice_id: str) -> datetime | None:
    """When Arrears knew the invoice was settled: the settling event's first delivery answered 2xx (a delivery
    answered 5xx is retried by the platform; until then nothing in Arrears can know of the payment)."""
    settled = run.settled_at.get(invoice_id)
    if settled is None:
        return None
    accepted = [a.at for a in run.webhooks if a.invoice_id == invoice_id and a.event_type in _SETTLING
                and a.status_code < 500]
    return max(settled, min(accepted)) if accepted else settled


def _recorded_failure(run: BookObservation, invoice_id: str, step_id: str) -> str | None:
    """The failure entry that accounts for a step not sent (the step's contact_unconfirmed, or the workflow's
    failure), when it handed the invoice to a person (its task exists); else None."""
    for entry in run.logs[invoice_id]:
        if entry.kind == "workflow_failed" or (entry.kind == "contact_unconfirmed" and entry.step_id == step_id):
            if run.failure_tasks.get(entry.details.get("task_id", "")) is not None:
                return f"{entry.kind} #{entry.seq} {entry.details.get('error', '')} task {entry.details['task_id']}"
    return None


# Entries that say why a step's message did not go out, by the policy's own rules.
_POLICY_OUTCOMES = ("step_skipped", "referral_withheld", "referral_declined", "contact_blocked")


def _rescheduled(run: BookObservation, invoice_id: str, step_id: str) -> str | None:
    """Why the policy did not send `step_id` in this run, when its log says so (else None)."""
    log = run.logs[invoice_id]
    for entry in log:
        if entry.step_id == step_id and entry.kind in _POLICY_OUTCOMES:
            return f"{entry.kind} #{entry.seq} {entry.details.get('reason', '')}"
        covered_by = entry.details.get("covered_by") if entry.step_id == step_id else None
        if covered_by and covered_by.get("message_id") in run.outbox_ids:
            # One message per customer: another invoice's message did this step (the retries' seconds decided which)
            return f"{entry.kind} #{entry.seq} covered by {run.outbox_ids[covered_by['message_id']]}"
    deferred = [e for e in log if e.step_id == step_id and e.kind == "contact_deferred"]
    if deferred and run.settled_at.get(invoice_id) is not None:
        return f"contact_deferred #{deferred[-1].seq} until {deferred[-1].details.get('until')}, settled meanwhile"
    return None


def _disagreements(invoice_id: str, run: BookObservation) -> list[str]:
    log = run.logs[invoice_id]
    problems = []
    logged_ids = [e.message_id for e in log if e.message_id] + \
                 [e.details["agency_message_id"] for e in log if e.details.get("agency_message_id")]
    for message_id, n in Counter(logged_ids).items():
        if n > 1:
            problems.append(f"{invoice_id}: message {message_id} logged {n} times")
        if message_id not in run.outbox_ids:
            problems.append(f"{invoice_id}: logged message {message_id} is not in the SES outbox")
    logged_refs = {run.outbox_ids[m] for m in logged_ids if m in run.outbox_ids}
    unconfirmed = {e.step_id for e in log if e.kind == "contact_unconfirmed"}
    # Retries ran out after SES had the message (or after its entry was logged): the failure entry names the step
    # and a person's task has it (record_workflow_failure). Recorded, not silent (docs/faults.md).
    interrupted = {step for e in log if e.kind == "workflow_failed" and run.failure_tasks.get(e.details.get("task_id"))
                   for step in e.details.get("interrupted_steps", [])}
    unconfirmed |= interrupted
    for ref in run.outbox[invoice_id]:
        if ref not in logged_refs and ref.split("/")[1] not in unconfirmed:
            problems.append(f"{invoice_id}: {ref} is in the SES outbox but not in the contact log")
    for entry in log:
        if entry.kind in ("email", "letter", "call_task", "referral") and entry.step_id not in run.completed[invoice_id] \
                and entry.step_id not in interrupted:
            problems.append(f"{invoice_id}: {entry.kind} {entry.step_id} is logged but not a completed step")
    return problems


def _webhook_problems(run: BookObservation) -> list[str]:
    """A delivery answered 5xx left nothing a retry applies twice (never two entries of its event), the platform's
    retries got a 2xx in the end, and each event was applied exactly once."""
    problems = []
    final: dict[tuple[str, str], WebhookAnswer] = {}
    for answer in run.webhooks:
        kind = _EVENT_KINDS.get(answer.event_type)
        if answer.status_code >= 500 and kind and answer.entries_of_kind > 1:
            problems.append(f"{answer.invoice_id} {answer.event_type} answered {answer.status_code} at "
                            f"{answer.at.isoformat()} with {answer.entries_of_kind} {kind} entries")
        final[(answer.invoice_id, answer.event_type)] = answer
    for (invoice_id, event_type), answer in final.items():
        if answer.status_code >= 500:
            problems.append(f"{invoice_id} {event_type}: still answered {answer.status_code} after every retry")
        elif event_type in _EVENT_KINDS and answer.entries_of_kind != 1:
            problems.append(f"{invoice_id} {event_type}: applied {answer.entries_of_kind} times (its "
                            f"{_EVENT_KINDS[event_type]} entries), expected once")
    return problems


def webhook_figures(run: BookObservation) -> dict[str, int]:
    answered_5xx = [a for a in run.webhooks if a.status_code >= 500]
    return {"webhook_deliveries": len(run.webhooks), "webhook_5xx": len(answered_5xx)}


# --- many seeds ---------------------------------------------------------------------------------
#: The default book and horizon of a chaos run: 40 invoices, every behaviour of the sample book four times, over
#: 100 days: every behaviour's settlement happens (the last, "pays after the final notice", on days 96-107 for
#: half of its invoices) and the never-paying invoices reach their referral.
CHAOS_INVOICES = 40
CHAOS_DAYS = 100


@dataclass
class SeedResult:
    seed: int
    verdict: Verdict
    figures: dict[str, Any]
    messages: int
    webhook_5xx: int


def book(count: int = CHAOS_INVOICES) -> tuple[list[PortfolioInvoice], Policy, datetime]:
    from arrears.domain.policy import load_policy_file
    from arrears_local.portfolio import DEMO_START, sample_portfolio
    from arrears_local.runtime import project_root

    return sample_portfolio(DEMO_START, count), load_policy_file(project_root() / "policies" / "default.yaml"), DEMO_START


def observe_seed(seed: int | None, days: int = CHAOS_DAYS, count: int = CHAOS_INVOICES) -> BookObservation:
    """One run of the chaos book: fault-free for seed None. Top-level, so a process pool can run it."""
    portfolio, policy, start = book(count)
    return run_observed(portfolio, policy, start, days, ChaosConfig(seed=seed) if seed is not None else None)


def run_seeds(seeds: list[int], days: int = CHAOS_DAYS, count: int = CHAOS_INVOICES, workers: int | None = None,
              baseline: BookObservation | None = None) -> tuple[BookObservation, list[SeedResult]]:
    """The fault-free run (unless given) and one chaos run per seed, `workers` processes at a time (one engine
    per process: moto and the virtual clock are process-wide)."""
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    workers = workers or max(1, min(2, os.cpu_count() or 1))
    jobs: list[int | None] = ([] if baseline is not None else [None]) + list(seeds)
    if workers == 1:
        observed = [observe_seed(seed, days, count) for seed in jobs]
    else:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            observed = list(pool.map(observe_seed, jobs, [days] * len(jobs), [count] * len(jobs)))
    if baseline is None:
        baseline, observed = observed[0], observed[1:]
    results = [SeedResult(seed, compare(baseline, run), run.figures, run.messages(), webhook_figures(run)["webhook_5xx"])
               for seed, run in zip(seeds, observed)]
    return baseline, results


def summary(results: list[SeedResult]) -> dict[str, Any]:
    """The figures of many seeds together: what was injected, what it caused, and what went wrong (all 0)."""
    total: Counter = Counter()
    by_service: Counter = Counter()
    by_point: Counter = Counter()
    for result in results:
        figures = result.figures
        for service, errors in figures.get("calls_failed", {}).items():
            by_service[service] += sum(errors.values())
        by_point.update(figures.get("crashes", {}))
        for key, value in figures.items():
            if isinstance(value, int):
                total[key] += value
    violations: Counter = Counter()
    for result in results:
        for kind, found in result.verdict.violations().items():
            violations[kind] += len(found)
    return {
        "seeds": len(results),
        "calls_failed": total["calls_failed_total"], "calls_failed_by_service": dict(by_service),
        "crashes": total["crashes_total"], "crashes_by_point": dict(by_point),
        "sdk_retries": total["sdk_retries"], "retries_exhausted": total["bursts"],
        "lambda_errors": sum(v for k, v in total.items() if k.startswith("function_errors")),
        "stream_retries": total["stream_retries"], "stream_redeliveries": total["stream_redeliveries"],
        "webhook_5xx": sum(r.webhook_5xx for r in results),
        "messages_sent": sum(r.messages for r in results),
        "handed_to_a_person": sum(len(r.verdict.failed_with_task) for r in results),
        "rescheduled_by_policy": sum(len(r.verdict.rescheduled) for r in results),
        "duplicates": violations["duplicates"], "lost": violations["lost"],
        "after_settlement": violations["after_settlement"], "disagreements": violations["disagreements"],
        "audit_problems": violations["audit"], "webhook_problems": violations["webhooks"],
        "failing_seeds": [r.seed for r in results if r.verdict.violations()],
    }
