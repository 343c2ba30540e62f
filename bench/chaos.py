"""Chaos: the sample book under seeded faults, crashes and redeliveries, beside its fault-free run (`make chaos`).

Each seed runs the 40-invoice book of every behaviour on the local runtime in chaos mode
(arrears_local/engine/chaos.py) and compares it with the fault-free run (arrears_local/chaos_check.py).
The figures: what was injected (calls failed, crashes, stream redeliveries, webhook 5xx), what absorbed it
(SDK retries, Step Functions retries, stream retries), what came out (messages sent, failures handed to a
person) and what must be 0 (duplicates, lost, after settlement, disagreements, audit and webhook problems).
`--seeds 7,` replays seed 7 and prints what it got wrong; `--seeds 200` (or ARREARS_CHAOS_SEEDS) the long run.
"""

from __future__ import annotations

import os
import time
from typing import Any

from common import cli, figure, setup_paths


def _seeds(text: str) -> list[int]:
    """"20" -> seeds 0..19; "7," or "3,9" -> exactly those."""
    if "," in text:
        return [int(part) for part in text.split(",") if part.strip()]
    return list(range(int(text)))


def run(args: Any) -> list[dict[str, Any]]:
    setup_paths()
    from arrears_local.chaos_check import run_seeds, summary

    seeds = _seeds(args.seeds)
    began = time.monotonic()
    _, results = run_seeds(seeds, args.days, args.invoices, args.workers)
    seconds = time.monotonic() - began
    totals = summary(results)
    if len(seeds) <= 3:
        for result in results:
            print(f"seed {result.seed}: {result.figures}")
            for kind, found in result.verdict.violations().items():
                print(f"  {kind}: " + "\n    ".join(found))
            for handled in result.verdict.failed_with_task:
                print(f"  handed to a person: {handled}")

    def zero(name: str, key: str) -> dict[str, Any]:
        return figure(f"chaos: {name}", totals[key], "", "0", totals[key] == 0,
                      note=f"failing seeds {totals['failing_seeds']}" if totals[key] else "")

    by_service = ", ".join(f"{s} {n}" for s, n in sorted(totals["calls_failed_by_service"].items()))
    by_point = ", ".join(f"{p} {n}" for p, n in sorted(totals["crashes_by_point"].items()))
    return [
        figure("chaos: seeds", totals["seeds"], "", ">= 20 (200 with ARREARS_CHAOS_SEEDS)", totals["seeds"] >= 20,
               note=f"{args.invoices} invoices over {args.days} days each, {seconds:.0f} s with {args.workers or 'up to 2'} "
                    "worker(s), plus the fault-free run"),
        figure("chaos: AWS calls failed", totals["calls_failed"], "", "> 0", totals["calls_failed"] > 0, note=by_service),
        figure("chaos: process deaths injected", totals["crashes"], "", "> 0", totals["crashes"] > 0, note=by_point),
        figure("chaos: SDK retries (botocore, standard mode)", totals["sdk_retries"], ""),
        figure("chaos: calls whose SDK retries ran out", totals["retries_exhausted"], "", "> 0",
               totals["retries_exhausted"] > 0, note="bursts: every attempt of one call fails"),
        figure("chaos: Lambda errors (retried by Step Functions or the stream)", totals["lambda_errors"], ""),
        figure("chaos: stream batches redelivered", totals["stream_redeliveries"], "", "> 0", totals["stream_redeliveries"] > 0,
               note=f"{totals['stream_retries']} failed batches retried"),
        figure("chaos: webhook deliveries answered 5xx (retried)", totals["webhook_5xx"], "", "> 0", totals["webhook_5xx"] > 0),
        figure("chaos: messages sent", totals["messages_sent"], ""),
        figure("chaos: contacts handed to a person (recorded failure + task)", totals["handed_to_a_person"], "",
               note=f"{totals['rescheduled_by_policy']} steps the policy moved (the log says why)"),
        zero("duplicates", "duplicates"),
        zero("lost", "lost"),
        zero("sent at or after settlement", "after_settlement"),
        zero("outbox, log and plan disagree", "disagreements"),
        zero("audit archive problems", "audit_problems"),
        zero("webhook problems", "webhook_problems"),
    ]


if __name__ == "__main__":
    setup_paths()
    from arrears_local.chaos_check import CHAOS_DAYS, CHAOS_INVOICES

    def arguments(parser: Any) -> None:
        from_env = os.environ.get("ARREARS_CHAOS_SEEDS", "20")
        parser.add_argument("--seeds", default=from_env, help="how many seeds (0..N-1), or a comma list: 7, or 3,9")
        parser.add_argument("--days", type=int, default=CHAOS_DAYS)
        parser.add_argument("--invoices", type=int, default=CHAOS_INVOICES)
        parser.add_argument("--workers", type=int, default=None, help="processes side by side (default: up to 2)")

    cli(__doc__.splitlines()[0], run, arguments)
