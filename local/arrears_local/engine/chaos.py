"""Chaos mode of the local engine: AWS faults, process deaths and stream redeliveries, seeded and counted.

Off by default. ``LocalEngine(start, chaos=ChaosConfig(seed=7))`` installs the ``chaos_*`` patches
(``patches/chaos_faults.py``, ``patches/chaos_crashes.py``) and makes the ``dynamodb_stream`` patch
redeliver batches. Only calls made *by a function* (inside a Lambda invocation) are touched: the test
driver's own setup and inspection calls never fail.

Reproducible: every invocation draws from its own random generator, seeded by the chaos seed, the
function, what the invocation is about (the invoice and action of a workflow task, the request of a
webhook, the stream records' keys) and how many times that same invocation happened before. So the
faults an invocation meets do not depend on how moto's threads interleave, and one seed replays exactly.

docs/faults.md says what is injected, what it proves and what it does not.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

#: The services whose calls fail, by botocore's hyphenated service id.
SERVICES = frozenset({"dynamodb", "sesv2", "s3", "sfn", "ssm"})
#: The named points at which the workflow function's process dies.
CRASH_POINTS = ("after_claim", "after_send", "after_log")
#: The errors each service really answers when it is overloaded or failing: (code, HTTP status).
SERVICE_ERRORS: dict[str, tuple[tuple[str, int], ...]] = {
    "dynamodb": (("ThrottlingException", 400), ("ProvisionedThroughputExceededException", 400),
                 ("InternalServerError", 500)),
    "sesv2": (("TooManyRequestsException", 429), ("InternalFailure", 500), ("ServiceUnavailable", 503)),
    "s3": (("SlowDown", 503), ("ServiceUnavailable", 503), ("InternalError", 500)),
    "sfn": (("ThrottlingException", 400),),
    "ssm": (("ThrottlingException", 400),),
}
READ_TIMEOUT = "ReadTimeout"  # the answer never came (botocore's ReadTimeoutError): nothing was done
CONNECT_ERROR = "ConnectError"  # the endpoint could not be reached (botocore's EndpointConnectionError)
LOST_ANSWER = "LostAnswer"  # the call was done, then its answer was lost: the client sees a read timeout
# botocore's standard retry mode, which the adapters' clients use (arrears.adapters.aws): 5 attempts a call.
SDK_MAX_ATTEMPTS = 5


class ProcessDied(BaseException):
    """The function's process died (killed, out of memory): no except clause of the product runs.
    A BaseException so that the product's ``except Exception`` handlers cannot see it, as they could not."""

    def __init__(self, point: str, error_type: str) -> None:
        super().__init__(f"process died at {point}")
        self.point = point
        self.error_type = error_type


@dataclass(frozen=True)
class ChaosConfig:
    """What to inject, how often. Rates are probabilities per opportunity."""

    seed: int
    fault_rate: float = 0.05  # per AWS call a function makes (each botocore attempt)
    services: frozenset[str] = SERVICES
    lost_answer_share: float = 0.25  # of those faults: the call succeeded, its answer was lost
    # SES too: SendEmail has no idempotency key, so the mailer calls it once and a lost answer leaves the
    # contact unconfirmed (a task for a person), never sent twice.
    lost_answer_services: frozenset[str] = SERVICES
    timeout_share: float = 0.15  # of those faults: a read timeout before the call was done
    burst_rate: float = 0.03  # per invocation: one call fails all its SDK attempts (its retries are exhausted)
    # The webhooks function makes few calls, each absorbed by the SDK's retries at any plain fault rate: its
    # invocations meet bursts more often, so deliveries are answered 5xx and the platform's retry is exercised.
    webhook_burst_rate: float = 0.25
    crash_rate: float = 0.04  # per crash point reached by the workflow function
    crash_points: frozenset[str] = frozenset(CRASH_POINTS)
    crash_error: str = "Runtime.ExitError"  # what Lambda reports when the runtime process exits mid-invocation
    redelivery_rate: float = 0.1  # per stream batch delivered: delivered again
    crash_function: str = "workflowfunction"  # the function whose process dies (part of its name)

    def __post_init__(self) -> None:
        unknown = set(self.services) - SERVICES
        if unknown:
            raise ValueError(f"unknown chaos services {sorted(unknown)}; known: {sorted(SERVICES)}")
        unknown = set(self.crash_points) - set(CRASH_POINTS)
        if unknown:
            raise ValueError(f"unknown crash points {sorted(unknown)}; known: {list(CRASH_POINTS)}")


@dataclass
class Invocation:
    function: str
    rng: random.Random
    burst_at: int | None  # the call number at which the burst starts (None: no burst)
    calls: int = 0
    burst_left: int = 0


@dataclass
class ChaosState:
    """The seeded decisions and the counters of one chaos run."""

    config: ChaosConfig
    counts: Counter = field(default_factory=Counter)
    _local: threading.local = field(default_factory=threading.local)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ordinals: Counter = field(default_factory=Counter)

    # --- invocations ------------------------------------------------------------------------
    @contextmanager
    def invocation(self, function: str, event: Any) -> Iterator[Invocation]:
        subject = _subject(event)
        with self._lock:
            self._ordinals[(function, subject)] += 1
            ordinal = self._ordinals[(function, subject)]
        rng = self.rng("invocation", function, subject, ordinal)
        rate = self.config.webhook_burst_rate if "webhooks" in function.lower() else self.config.burst_rate
        burst_at = rng.randint(1, 12) if rng.random() < rate else None
        current = Invocation(function, rng, burst_at)
        stack = self._stack()
        stack.append(current)
        try:
            yield current
        finally:
            stack.pop()
            self._local.last = (function, subject, ordinal)

    def last_invocation(self) -> tuple[str, str, int] | None:
        """The invocation this thread made last (an execution's thread: its last task), for seeded retry jitter."""
        return getattr(self._local, "last", None)

    def current(self) -> Invocation | None:
        stack = self._stack()
        return stack[-1] if stack else None

    def _stack(self) -> list[Invocation]:
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    def rng(self, *parts: Any) -> random.Random:
        text = "|".join(str(p) for p in (self.config.seed, *parts))
        return random.Random(int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big"))

    def count(self, *key: str, n: int = 1) -> None:
        with self._lock:
            self.counts[key] += n

    # --- decisions --------------------------------------------------------------------------
    def fault_for(self, service: str) -> str | None:
        """The fault the current invocation's next call to `service` meets: an error code, READ_TIMEOUT,
        LOST_ANSWER, or None (the call goes through)."""
        config = self.config
        inv = self.current()
        if inv is None or service not in config.services:
            return None
        inv.calls += 1
        if inv.burst_at is not None and inv.calls == inv.burst_at:
            inv.burst_left = SDK_MAX_ATTEMPTS
            self.count("bursts")
        rng = inv.rng
        if inv.burst_left > 0:
            inv.burst_left -= 1
            return rng.choice(SERVICE_ERRORS[service])[0]
        if rng.random() >= config.fault_rate:
            return None
        shape = rng.random()
        if shape < config.lost_answer_share:
            return LOST_ANSWER if service in config.lost_answer_services else READ_TIMEOUT
        if shape < config.lost_answer_share + config.timeout_share:
            return READ_TIMEOUT if rng.random() < 0.7 else CONNECT_ERROR
        return rng.choice(SERVICE_ERRORS[service])[0]

    def maybe_crash(self, point: str) -> None:
        """Kill the workflow function's process here, at the configured rate."""
        inv = self.current()
        config = self.config
        if inv is None or point not in config.crash_points or config.crash_function not in inv.function.lower():
            return
        if inv.rng.random() < config.crash_rate:
            self.count("crashes", point)
            raise ProcessDied(point, config.crash_error)

    def redeliver(self, keys: str, attempt: int) -> bool:
        return self.rng("stream", keys, attempt).random() < self.config.redelivery_rate

    # --- figures ----------------------------------------------------------------------------
    def figures(self) -> dict[str, Any]:
        """Everything counted, grouped: calls failed by service and error, crashes by point, and the rest."""
        with self._lock:
            counts = dict(self.counts)
        failed: dict[str, dict[str, int]] = {}
        crashes: dict[str, int] = {}
        other: dict[str, int] = {}
        for key, n in sorted(counts.items()):
            if key[0] == "fault":
                failed.setdefault(key[1], {})[key[2]] = n
            elif key[0] == "crashes":
                crashes[key[1]] = n
            else:
                other[":".join(key)] = n
        return {"calls_failed": failed, "calls_failed_total": sum(sum(v.values()) for v in failed.values()),
                "crashes": crashes, "crashes_total": sum(crashes.values()), **other}


def _subject(event: Any) -> str:
    """What an invocation is about, without anything random (task tokens, message ids, request ids)."""
    if isinstance(event, dict):
        if "invoice_id" in event:
            return f"{event.get('action')}:{event['invoice_id']}"
        records = event.get("Records")
        if isinstance(records, list):
            keys = [json.dumps((r.get("dynamodb") or {}).get("Keys") or r.get("Sns", {}).get("Subject") or "",
                               sort_keys=True) for r in records if isinstance(r, dict)]
            return "records:" + hashlib.sha256("".join(keys).encode()).hexdigest()[:16]
        if "httpMethod" in event:
            body = str(event.get("body") or "")
            return f"{event['httpMethod']} {event.get('path')} {hashlib.sha256(body.encode()).hexdigest()[:16]}"
    return "event:" + hashlib.sha256(json.dumps(event, sort_keys=True, default=str).encode()).hexdigest()[:16]
