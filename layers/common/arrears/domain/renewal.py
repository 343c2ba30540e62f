"""A workflow that outlives Step Functions' year: renewed by a successor execution (domain).

A standard execution ends at one year, and that end cannot be caught. So no execution of an invoice's
workflow waits past `RENEW_AT` of its age: a wait that would end later is cut to end then (the wake-up
re-reads the invoice, finds nothing due and decides again), and the first decision to wait or park
at that age or later hands the invoice to a successor execution instead. The successor (deterministic
name, so a retried renewal starts no second one) is recorded on the invoice over its predecessor's ARN,
logged once as `workflow_renewed`, and re-reads the invoice when it starts: completed steps, holds and
the customer's contact queue are the invoice's, not the execution's; it parks on task tokens of its own.
The predecessor ends in its Succeed state "Renewed". The policy simulator renews at the same moments.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

from arrears.domain.dunning import WORKFLOW_ACTOR, Decision
from arrears.domain.ports import Ports, WorkflowRenewer

# Renew at this age: a month before the year, so a wait in flight, its retries and a slow step all end well inside it.
RENEW_AT = timedelta(days=330)
RENEWED = "renewed"
_WAITING = ("active", "hold")


def renew_if_due(invoice_id: str, decision: Decision, execution_arn: str | None, workflows: WorkflowRenewer,
                 ports: Ports) -> Decision:
    """The decision the execution `execution_arn` acts on: as given; with its wait cut to end at `RENEW_AT` of the
    execution's age; or, at that age, `renewed` (a successor carries the invoice on; this execution ends)."""
    if decision.status not in _WAITING or not execution_arn:
        return decision
    now = ports.clock.now()
    seconds = decision.wait_seconds if decision.status == "active" else decision.hold_seconds
    if not seconds or seconds <= 1:
        return decision  # due now: the execution goes on at once (the next decision renews it)
    invoice = ports.store.get_invoice(invoice_id)
    if invoice is None or invoice.execution_started_at is None:
        return decision  # pinned before start times were kept: nothing to measure the age by
    successor_arn, renewal = workflows.successor(invoice_id, execution_arn)
    retried = invoice.execution_arn == successor_arn  # this renewal was recorded by an attempt that then died
    if not retried:
        if invoice.execution_arn not in (None, execution_arn):
            return decision  # not this execution's to renew
        renew_at = invoice.execution_started_at + RENEW_AT
        if now < renew_at:
            cut = max(1, math.ceil((renew_at - now).total_seconds()))
            if seconds <= cut:
                return decision
            return replace(decision, **{"wait_seconds" if decision.status == "active" else "hold_seconds": cut})
        # Recorded before the successor starts, so that the successor finds itself the invoice's execution, of age 0.
        if not ports.store.record_renewal(invoice_id, execution_arn, successor_arn, now):
            return decision  # another execution took the invoice over meanwhile
    if ports.store.claim_step(invoice_id, f"-renewal-{renewal}", now):
        ports.log.append(invoice_id, invoice.customer_id, now, kind="workflow_renewed", actor=WORKFLOW_ACTOR, details={
            "renewal": renewal, "reason": "a Step Functions execution lasts at most a year: a successor carries the invoice on"})
    workflows.start_renewal(invoice_id, renewal)
    return Decision(status=RENEWED, reason=f"carried on by renewal {renewal}")
