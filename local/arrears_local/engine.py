"""In-process engine of the local runtime.

Runs real Amazon States Language (JSONPath) state machines on moto's Step Functions
interpreter, routes Lambda invocations to Python callables in the same process and
drives a *virtual clock*, so that months of Wait states pass in well under a second.

How it works
------------
moto executes every state machine execution in its own threads. Left alone, a Wait
state blocks its thread on ``Event.wait(seconds)`` (wall time), Retry intervals call
``time.sleep`` and ``.waitForTaskToken`` blocks until SendTaskSuccess or a wall-clock
timeout. The engine takes those three blocking points over and turns each of them into
a *parked waiter* (optionally with a virtual due time). It also counts the logical
flows of control that are runnable ("active"): +1 when an execution (or a Parallel
branch / Map worker) starts, -1 when it ends, -1 when a flow parks, +1 when whoever
releases it does so (the releaser increments *before* waking the thread, so the count
never drops to zero while work is pending). When the count is zero every execution is
parked, so the driver can move the clock (time-machine, ``tick=False``) to the earliest
due waiter, release it and wait for quiescence again: a discrete-event simulation.

Lambda: functions registered with ``register_lambda`` exist in moto (so ARNs, event-source
mappings and permissions behave as usual) but every invocation runs the Python handler in
the calling thread. DynamoDB-stream (and SQS/SNS) event-source mappings are delivered by
moto itself, synchronously inside the write call, through the same hook.

Speed: moto re-parses the ASL on every StartExecution, re-parses every JSONPath on every
evaluation and builds a boto3 client per Task; the engine memoises all three and calls
registered handlers from Task states without the boto3 round trip (``caches=False``
turns these off). Measured on this machine: ~1 ms per state, ~10 ms per StartExecution.
The handlers' own AWS calls (~100 an invoice, boto3 -> moto in-process) are the rest of the
time; ``caches=True`` also takes the repeated work out of them where moto redoes it per request
with the same result (URL tables, method lists, User-Agent text, DynamoDB expression parsing and
validation, response serialisation of items, item size, SigV4 signatures nothing checks). Each
is exact: ``tests/integration/test_local_engine_speedups.py`` compares answers with and without.

Only one engine can be active at a time (moto and time-machine are process-global).
"""

from __future__ import annotations

import base64
import copy
import datetime as _dt
import functools
import heapq
import io
import itertools
import json
import logging
import os
import pickle
import sys
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

UTC = _dt.timezone.utc

_MOTO_CONFIG = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}

_MISSING = object()
_MOTO_SFN_LOGGER = "moto.stepfunctions.parser"

# Process environment while an engine is active (restored on exit).
_ENV = {
    # moto compares Wait timestamps with a naive local now(): local time must be UTC.
    "TZ": "UTC",
    # botocore >= 1.40 sends DynamoDB Streams calls to {account}.streams-ddb.{region}...,
    # which moto 5.2.5 does not route ("404 Not yet implemented"); use the classic endpoint.
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}


class LocalEngineError(RuntimeError):
    """An execution thread crashed inside moto, or the engine was misused."""


class IdleTimeout(LocalEngineError):
    """wait_idle() did not observe quiescence in time (a probable deadlock)."""


def _aware(t: _dt.datetime) -> _dt.datetime:
    if t.tzinfo is None:
        raise ValueError(f"naive datetime not allowed: {t!r} (use tz-aware UTC)")
    return t.astimezone(UTC)


# --------------------------------------------------------------------------- Lambda


class LambdaContext:
    """The subset of the Lambda Python runtime's context object that handlers use."""

    def __init__(self, function_name: str, function_arn: str, memory_mb: int, timeout_s: int):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function_arn
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"local/{self.aws_request_id}"
        self._timeout_ms = int(timeout_s) * 1000

    def get_remaining_time_in_millis(self) -> int:
        # Virtual time does not advance while a handler runs.
        return self._timeout_ms


@dataclass
class _LambdaEntry:
    name: str
    arn: str
    handler: Callable[[dict, Any], Any]
    memory_mb: int
    timeout_s: int


def _dummy_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("lambda_function.py", "def handler(event, context):\n    return event\n")
    return buf.getvalue()


def _function_name_of(name_or_arn: str) -> str:
    # "fn", "fn:qualifier", "arn:aws:lambda:r:acct:function:fn[:qualifier]", "acct:function:fn"
    if name_or_arn.startswith("arn:"):
        parts = name_or_arn.split(":")
        return parts[6] if len(parts) > 6 else name_or_arn
    parts = name_or_arn.split(":")
    if len(parts) >= 3 and parts[1] == "function":
        return parts[2]
    return parts[0]


# --------------------------------------------------------------------------- waiters


def _execution_name(env: Any) -> str:
    """The execution a parked flow belongs to (an invoice's workflow is named after the invoice)."""
    try:
        return env.states.context_object.context_object_data["Execution"]["Name"]
    except (AttributeError, KeyError, TypeError):
        return ""


class _Waiter:
    """A parked flow of control: a Wait state, a Retry interval or a task-token wait."""

    __slots__ = ("due", "env", "endpoint", "kind", "event", "released", "callback")

    def __init__(self, due: _dt.datetime | None, env: Any, endpoint: Any, kind: str,
                 callback: Callable[[], Any] | None = None):
        self.due = due
        self.env = env
        self.endpoint = endpoint
        self.kind = kind
        self.event = threading.Event()
        self.released = False
        self.callback = callback  # timer: run by the driver when due; no parked thread


class _Patches:
    """Attribute patches that are undone in reverse order."""

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, Any]] = []

    def set(self, owner: Any, name: str, value: Any) -> None:
        # Save the raw attribute (vars() keeps staticmethod/classmethod wrappers intact).
        old = vars(owner).get(name, _MISSING) if hasattr(owner, "__dict__") else _MISSING
        self._saved.append((owner, name, old))
        setattr(owner, name, value)

    def restore_all(self) -> None:
        while self._saved:
            owner, name, old = self._saved.pop()
            if old is _MISSING:
                try:
                    delattr(owner, name)
                except AttributeError:
                    pass
            else:
                setattr(owner, name, old)


class _VirtualTimeModule:
    """Stand-in for the ``time`` module inside moto's retrier: sleep() is virtual."""

    def __init__(self, sleep: Callable[[float], None]):
        self.sleep = sleep

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


# --------------------------------------------------------------------------- engine


class LocalEngine:
    _current: LocalEngine | None = None

    def __init__(
        self,
        start: _dt.datetime,
        region: str = "us-east-1",
        *,
        caches: bool = True,
        quiet_moto: bool = True,
    ):
        """``start``: tz-aware start of virtual time. ``caches=False`` turns off the speed-ups
        (ASL/JSONPath parse caches, task boto3-client cache, direct Task->handler calls), for
        comparison or troubleshooting. ``quiet_moto`` silences moto's interpreter logger,
        which logs every handled task failure (e.g. a retried Lambda error) at ERROR level;
        failures remain visible in the execution history."""
        self._start = _aware(start)
        self.region = region
        self._caches = caches
        self._quiet_moto = quiet_moto
        self._saved_log_level: int | None = None

        self._cond = threading.Condition(threading.Lock())
        self._active = 0  # runnable flows of control (guarded by _cond)
        # Timed waiters, lazy deletion. Same-instant waiters come out by execution name: see _release_due.
        self._heap: list[tuple[_dt.datetime, str, int, _Waiter]] = []
        self._seq = itertools.count()
        self._by_env: dict[Any, set[_Waiter]] = {}
        self._by_endpoint: dict[Any, _Waiter] = {}
        self._workers: set[Any] = set()  # running (async) ExecutionWorkers
        self._errors: list[BaseException] = []

        self._lambdas: dict[str, _LambdaEntry] = {}
        self._asl_cache: dict[str, Any] = {}
        self._asl_lock = threading.Lock()
        self._clients: dict[tuple[str, str], Any] = {}  # engine.client()
        self._task_clients: dict[tuple[str, str], Any] = {}  # moto's task states
        self._client_lock = threading.Lock()
        self._tmp_threads: list | None = None
        self._default_role: str | None = None
        self._tls = threading.local()

        self._patches = _Patches()
        self._mock: Any = None
        self._travel: Any = None
        self._traveller: Any = None
        self._saved_env: dict[str, Any] = {}

        # Counters, handy for benchmarks and assertions.
        self.stats = {"executions_started": 0, "lambda_invocations": 0, "asl_parses": 0,
                      "wakeups": 0}

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> LocalEngine:
        if LocalEngine._current is not None:
            raise LocalEngineError("another LocalEngine is already active in this process")
        from moto import mock_aws
        import time_machine

        LocalEngine._current = self
        try:
            self._saved_env = {k: os.environ.get(k, _MISSING) for k in _ENV}
            os.environ.update(_ENV)
            time.tzset()
            self._mock = mock_aws(config=_MOTO_CONFIG)
            self._mock.start()
            self._travel = time_machine.travel(self._start, tick=False)
            self._traveller = self._travel.start()
            self._install_patches()
            if self._quiet_moto:
                logger = logging.getLogger(_MOTO_SFN_LOGGER)
                self._saved_log_level = logger.level
                logger.setLevel(logging.CRITICAL)
        except BaseException:
            self._teardown()
            raise
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            self._stop_all_executions()
        finally:
            self._teardown()

    def _stop_all_executions(self) -> None:
        # Stop what is still running so that no moto thread resumes after the mock ends.
        # A few rounds: an execution started just before exit may not have its env yet.
        for _ in range(3):
            with self._cond:
                workers = list(self._workers)
            if not workers:
                return
            for w in workers:
                env = getattr(w, "env", None)
                if env is not None and env.is_running():
                    try:
                        env.set_stop(stop_date=self.now(), cause="LocalEngine shut down",
                                     error=None)
                    except Exception:
                        pass
            try:
                self.wait_idle(timeout=2)
            except LocalEngineError:
                pass

    def _teardown(self) -> None:
        steps = [
            self._patches.restore_all,
            lambda: self._travel is not None and self._travel.stop(),
            lambda: self._mock is not None and self._mock.stop(),
            self._restore_env,
            self._restore_log_level,
        ]
        first: BaseException | None = None
        for step in steps:
            try:
                step()
            except BaseException as e:  # keep undoing; re-raise the first failure
                first = first or e
        self._travel = self._traveller = self._mock = None
        self._asl_cache.clear()
        self._clients.clear()
        self._task_clients.clear()
        self._lambdas.clear()  # the functions lived in the mock that just ended
        self._default_role = None
        self._prune_tmp_threads()
        LocalEngine._current = None
        if first is not None:
            raise first

    def _restore_log_level(self) -> None:
        if self._saved_log_level is not None:
            logging.getLogger(_MOTO_SFN_LOGGER).setLevel(self._saved_log_level)
            self._saved_log_level = None

    def _restore_env(self) -> None:
        for key, old in self._saved_env.items():
            if old is _MISSING:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
        self._saved_env = {}
        time.tzset()

    def _prune_tmp_threads(self) -> None:
        # moto appends every thread it starts to a module list and never drops them.
        threads = self._tmp_threads
        if threads is not None:
            threads[:] = [t for t in threads if t.is_alive()]

    # ------------------------------------------------------------------ clock

    def now(self) -> _dt.datetime:
        """Current virtual time (tz-aware UTC)."""
        return _dt.datetime.now(UTC)

    def _set_clock(self, t: _dt.datetime) -> None:
        delta = t - self.now()
        if delta > _dt.timedelta(0):
            self._traveller.shift(delta)

    # ------------------------------------------------------------------ AWS helpers

    def client(self, service: str) -> Any:
        """A cached boto3 client bound to the mock (boto3 client creation is ~10 ms)."""
        key = (service, self.region)
        c = self._clients.get(key)
        if c is None:
            import boto3

            with self._client_lock:
                c = self._clients.get(key)
                if c is None:
                    c = boto3.client(service, region_name=self.region)
                    self._clients[key] = c
        return c

    def _role(self) -> str:
        if self._default_role is None:
            iam = self.client("iam")
            name = "arrears-local-lambda-role"
            try:
                self._default_role = iam.get_role(RoleName=name)["Role"]["Arn"]
            except iam.exceptions.NoSuchEntityException:
                doc = {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole"}]}
                self._default_role = iam.create_role(
                    RoleName=name, AssumeRolePolicyDocument=json.dumps(doc))["Role"]["Arn"]
        return self._default_role

    def register_lambda(
        self,
        function_name: str,
        handler: Callable[[dict, Any], Any],
        role_arn: str | None = None,
        *,
        timeout: int = 30,
        memory_size: int = 128,
        environment: dict[str, str] | None = None,
    ) -> str:
        """Create ``function_name`` in moto and route all its invocations to ``handler``.

        Registering an existing name again replaces the handler. Returns the function ARN.
        """
        lam = self.client("lambda")
        kwargs: dict[str, Any] = dict(
            FunctionName=function_name, Runtime="python3.11", Role=role_arn or self._role(),
            Handler="lambda_function.handler", Code={"ZipFile": _dummy_zip()},
            Timeout=timeout, MemorySize=memory_size,
        )
        if environment:
            kwargs["Environment"] = {"Variables": environment}
        try:
            arn = lam.create_function(**kwargs)["FunctionArn"]
        except lam.exceptions.ResourceConflictException:
            arn = lam.get_function(FunctionName=function_name)["Configuration"]["FunctionArn"]
        self._lambdas[function_name] = _LambdaEntry(
            function_name, arn, handler, memory_size, timeout)
        return arn

    def _invoke_handler(self, entry: _LambdaEntry, body: Any, request_headers: Any,
                        response_headers: dict) -> bytes:
        headers = {str(k).lower(): v for k, v in dict(request_headers or {}).items()}
        if headers.get("x-amz-invocation-type") == "DryRun":
            return b""
        if isinstance(body, (bytes, bytearray)):
            body = body.decode("utf-8")
        event = json.loads(body) if body else {}
        ctx = LambdaContext(entry.name, entry.arn, entry.memory_mb, entry.timeout_s)
        with self._cond:
            self.stats["lambda_invocations"] += 1
        try:
            result = entry.handler(event, ctx)
        except Exception as exc:
            # Same shape as the Python runtime's unhandled-error payload; Step Functions
            # reads errorType from it, so Retry/Catch on the exception class name works.
            return _function_error(response_headers, ctx, type(exc).__name__, str(exc), exc)
        try:
            return json.dumps(result).encode("utf-8")
        except (TypeError, ValueError) as exc:
            return _function_error(response_headers, ctx, "Runtime.MarshalError",
                                   f"Unable to marshal response: {exc}", exc)

    # ------------------------------------------------------------------ accounting

    def _inc(self) -> None:
        with self._cond:
            self._active += 1

    def _dec(self) -> None:
        with self._cond:
            self._active -= 1
            if self._active <= 0:
                self._cond.notify_all()

    def _park(self, waiter: _Waiter, still_needed: Callable[[], bool]) -> bool:
        """Park the calling flow until released. ``still_needed`` is evaluated under the
        engine lock so that a release racing with parking is never lost."""
        with self._cond:
            if not still_needed():
                return False
            self._by_env.setdefault(waiter.env, set()).add(waiter)
            if waiter.endpoint is not None:
                self._by_endpoint[waiter.endpoint] = waiter
            if waiter.due is not None:
                heapq.heappush(self._heap, (waiter.due, _execution_name(waiter.env), next(self._seq), waiter))
            self._active -= 1
            if self._active <= 0:
                self._cond.notify_all()
        waiter.event.wait()
        return True

    def _release_locked(self, waiter: _Waiter) -> None:
        if waiter.released:
            return
        waiter.released = True
        peers = self._by_env.get(waiter.env)
        if peers is not None:
            peers.discard(waiter)
            if not peers:
                del self._by_env[waiter.env]
        if waiter.endpoint is not None and self._by_endpoint.get(waiter.endpoint) is waiter:
            del self._by_endpoint[waiter.endpoint]
        self._active += 1  # counted before the thread wakes: no false idle in between
        waiter.event.set()

    def _release_env(self, env: Any) -> None:
        with self._cond:
            for w in list(self._by_env.get(env, ())):
                self._release_locked(w)

    def _release_endpoint(self, endpoint: Any) -> None:
        with self._cond:
            w = self._by_endpoint.get(endpoint)
            if w is not None:
                self._release_locked(w)

    def _release_due(self, t: _dt.datetime) -> int:
        """Release the first waiter due by ``t``: earliest first and, at one instant, by execution name
        (timers first). One at a time, each run until everything is parked again before the next, so
        executions woken at the same instant act in a fixed order, as the policy simulator's queue does
        (two invoices of one customer due at once: which one contacts first must not depend on threads)."""
        with self._cond:
            while self._heap and self._heap[0][3].released:
                heapq.heappop(self._heap)
            if not self._heap or self._heap[0][0] > t:
                return 0
            w = heapq.heappop(self._heap)[3]
            self.stats["wakeups"] += 1
            if w.callback is None:
                self._release_locked(w)
                return 1
            w.released = True
        w.callback()  # outside the lock: it may wake waiters
        return 1

    def _schedule(self, due: _dt.datetime, callback: Callable[[], Any]) -> _Waiter:
        timer = _Waiter(due, None, None, "timer", callback)
        with self._cond:
            heapq.heappush(self._heap, (due, "", next(self._seq), timer))
        return timer

    def _cancel(self, timer: _Waiter) -> None:
        with self._cond:
            timer.released = True  # lazily dropped from the heap

    # Fork/join for Parallel branches and Map workers: each child thread is a flow; the
    # parent stops counting while it waits and is re-credited by the child that completes
    # the pool (before that child stops counting itself).
    def _join_wait(self, pool: Any, done: Callable[[], bool], wait: Callable[[], Any]) -> Any:
        with self._cond:
            if not done():
                pool._arrears_join = "waiting"
                self._active -= 1
                if self._active <= 0:
                    self._cond.notify_all()
        return wait()

    def _join_signalled(self, pool: Any, done: Callable[[], bool]) -> None:
        if not done():
            return
        with self._cond:
            if getattr(pool, "_arrears_join", None) == "waiting":
                pool._arrears_join = "credited"
                self._active += 1

    # ------------------------------------------------------------------ driver API

    def wait_idle(self, timeout: float = 30) -> None:
        """Block until every execution is parked (Wait, retry interval, task token) or
        finished. Raises IdleTimeout after ``timeout`` wall seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._active > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise IdleTimeout(
                        f"{self._active} flow(s) still running after {timeout}s of wall time "
                        f"(virtual now {self.now().isoformat()}); deadlock or a blocking call "
                        "the engine does not virtualise (.sync integration, activity, "
                        "heartbeat, StartSyncExecution with Wait)?")
                self._cond.wait(remaining)
            errors, self._errors = self._errors, []
        if errors:
            raise LocalEngineError(f"{len(errors)} execution thread(s) crashed") from errors[0]

    def next_wakeup(self) -> _dt.datetime | None:
        """Earliest virtual time at which a parked Wait (or retry interval, or task-token
        timeout) is due."""
        with self._cond:
            while self._heap and self._heap[0][3].released:
                heapq.heappop(self._heap)
            return self._heap[0][0] if self._heap else None

    def parked(self) -> dict[str, int]:
        """Count of parked waiters by kind ('wait', 'retry', 'token')."""
        with self._cond:
            out: dict[str, int] = {}
            for ws in self._by_env.values():
                for w in ws:
                    out[w.kind] = out.get(w.kind, 0) + 1
            return out

    def advance_to(self, t: _dt.datetime, *, idle_timeout: float = 30) -> None:
        """Move virtual time to ``t``, releasing in time order every waiter due by then."""
        self.run_until(t, idle_timeout=idle_timeout)

    def run_until(
        self,
        t_end: _dt.datetime,
        external: Iterable[tuple[_dt.datetime, Callable[[], None]]] | None = None,
        on_progress: Callable[[_dt.datetime], None] | None = None,
        *,
        idle_timeout: float = 30,
    ) -> None:
        """Discrete-event loop up to ``t_end``.

        ``external`` events are applied at their virtual time, in order. An event due at
        the same instant as a waiter is applied first (then the engine waits for
        quiescence), and only then are the waiters released: a payment that lands the
        instant a reminder is due wins. Events already in the past run at the current time.
        ``on_progress(now)`` is called after each step. ``idle_timeout`` is the deadlock
        guard (wall seconds) of each wait for quiescence.
        """
        t_end = _aware(t_end)
        if t_end < self.now():
            raise ValueError(f"cannot go back in time: {t_end} < {self.now()}")
        pending = sorted(((_aware(at), fn) for at, fn in (external or ())),
                         key=lambda e: e[0])
        i = 0
        while True:
            self.wait_idle(idle_timeout)
            candidates = [x for x in (self.next_wakeup(),
                                      pending[i][0] if i < len(pending) else None)
                          if x is not None]
            if not candidates or min(candidates) > t_end:
                break
            self._set_clock(min(candidates))
            now = self.now()
            applied = False
            while i < len(pending) and pending[i][0] <= now:
                pending[i][1]()
                i += 1
                applied = True
            if applied:
                self.wait_idle(idle_timeout)
            while self._release_due(now):
                self.wait_idle(idle_timeout)
            if self._tmp_threads is not None and len(self._tmp_threads) > 20000:
                self._prune_tmp_threads()
            if on_progress is not None:
                on_progress(now)
        self._set_clock(t_end)
        self.wait_idle(idle_timeout)
        if on_progress is not None:
            on_progress(self.now())

    # ------------------------------------------------------------------ patches

    def _install_patches(self) -> None:
        # Imports here: moto must only be touched once the mock is active.
        from moto.awslambda.models import LambdaBackend, LambdaFunction
        from moto.awslambda_simple.models import LambdaSimpleBackend
        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
        from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import (
            Timeout,
            TimeoutSeconds,
        )
        from moto.stepfunctions.parser.asl.component.program.program import Program
        from moto.stepfunctions.parser.asl.component.component import Component
        from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
        from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
            inline_iteration_component as iic,
        )
        from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.job import (
            JobPool,
        )
        from moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branch_worker import (
            BranchWorker,
        )
        from moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branches_decl import (
            BranchWorkerPool,
        )
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
            state_task_service_factory,  # noqa: F401  (loads every service module)
        )
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
            ResourceCondition,
        )
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
            StateTaskServiceCallback,
        )
        from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import (
            Timestamp,
        )
        from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
            WaitFunction,
        )
        from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
            FailureEventException,
        )
        from moto.stepfunctions.parser.asl.eval.callback.callback import (
            CallbackEndpoint,
            CallbackOutcomeTimedOut,
        )
        from moto.stepfunctions.parser.asl.component.state.exec.execute_state import (
            ExecutionState,
        )
        from moto.stepfunctions.parser.asl.eval.environment import Environment
        from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
        from moto.stepfunctions.parser.asl.utils import boto_client
        from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
        from moto.stepfunctions.parser.utils import TMP_THREADS

        engine = self
        self._tmp_threads = TMP_THREADS
        p = self._patches
        tls = self._tls

        # --- execution lifecycle: +1 when started (in the caller's thread, so that a
        # wait_idle() right after StartExecution sees it), -1 when the thread ends.
        # SyncExecutionWorker (StartSyncExecution) overrides start() and runs in the caller's
        # thread; it is not registered, so its end is not counted either.
        orig_start = ExecutionWorker.start
        orig_logic = ExecutionWorker._execution_logic
        orig_entry = ExecutionWorker._get_evaluation_entrypoint

        def worker_start(w: Any) -> None:
            with engine._cond:
                engine._workers.add(w)
                engine._active += 1
                engine.stats["executions_started"] += 1
            try:
                orig_start(w)
            except BaseException:
                engine._end_worker(w)
                raise

        def worker_logic(w: Any) -> None:
            try:
                orig_logic(w)
            except BaseException as e:  # moto catches ASL failures; this is a crash
                with engine._cond:
                    engine._errors.append(e)
            finally:
                engine._end_worker(w)

        # --- ASL parse cache: the parsed program is immutable during evaluation (per-run
        # state lives in Environment.heap/stack), so one tree is shared by all executions of
        # a definition. heap_key ids are assigned lazily and racily: pre-assign them.
        def worker_entry(w: Any) -> Any:
            definition = w._evaluation_details.state_machine_details.definition
            program = engine._asl_cache.get(definition)
            if program is None:
                with engine._asl_lock:  # concurrent starts: parse once
                    program = engine._asl_cache.get(definition)
                    if program is None:
                        program = orig_entry(w)
                        _prewarm_heap_keys(program, Component, EvalComponent)
                        engine._asl_cache[definition] = program
                        engine.stats["asl_parses"] += 1
            return program

        p.set(ExecutionWorker, "start", worker_start)
        p.set(ExecutionWorker, "_execution_logic", worker_logic)
        if self._caches:
            p.set(ExecutionWorker, "_get_evaluation_entrypoint", worker_entry)

        # --- Wait states: park until the virtual clock reaches the due time, or until the
        # execution stops (StopExecution goes through Environment.set_stop, hooked below).
        # Timestamp waits keep the exact target (moto truncates the delta to whole seconds,
        # which would drift once the virtual clock carries sub-second retry jitter).
        def ts_get_wait_seconds(wf: Any, env: Any) -> int:
            wf.string.eval(env=env)
            raw = env.stack.pop()
            ts = wf._from_timestamp_string(timestamp=raw)
            if ts is None:
                raise FailureEventException(wf._create_failure_event(env, raw))
            tls.wait_due = ts.replace(tzinfo=UTC)
            return int((tls.wait_due - engine.now()).total_seconds())

        def wait_interval(wf: Any, env: Any, wait_seconds: int) -> None:
            due = getattr(tls, "wait_due", None)
            tls.wait_due = None
            now = engine.now()
            if due is None:
                due = now + _dt.timedelta(seconds=wait_seconds)
            if due <= now:
                return
            engine._park(_Waiter(due, env, None, "wait"), env.is_running)

        p.set(Timestamp, "_get_wait_seconds", ts_get_wait_seconds)
        p.set(WaitFunction, "_wait_interval", wait_interval)

        # --- Retry intervals: moto's retrier calls time.sleep(interval). Choice: each
        # interval becomes a virtual wait parked until now+interval and released in time
        # order by the driver, like a Wait state. (Jumping the global clock forward instead
        # would shift the time of every other concurrent execution.) Costs no wall time.
        orig_retrier_body = retrier_decl.RetrierDecl._eval_body

        def retrier_body(r: Any, env: Any) -> None:
            tls.retry_env = env
            try:
                orig_retrier_body(r, env)
            finally:
                tls.retry_env = None

        def retry_sleep(seconds: float) -> None:
            env = getattr(tls, "retry_env", None)
            if env is None or seconds <= 0 or not env.is_running():
                return
            due = engine.now() + _dt.timedelta(seconds=seconds)
            engine._park(_Waiter(due, env, None, "retry"), env.is_running)

        p.set(retrier_decl.RetrierDecl, "_eval_body", retrier_body)
        p.set(retrier_decl, "time", _VirtualTimeModule(retry_sleep))

        # --- .waitForTaskToken: park until SendTaskSuccess/Failure (CallbackEndpoint.notify),
        # StopExecution, or the task's TimeoutSeconds in virtual time. HeartbeatSeconds is
        # not virtualised (ignored). Other integration patterns (.sync) keep moto's code.
        orig_wait_token = StateTaskServiceCallback._eval_wait_for_task_token

        def wait_for_task_token(st: Any, env: Any, timeout_seconds: Any, callback_endpoint: Any,
                                heartbeat_endpoint: Any) -> Any:
            if st.resource.condition != ResourceCondition.WaitForTaskToken:
                return orig_wait_token(st, env, timeout_seconds, callback_endpoint,
                                       heartbeat_endpoint)
            due = None
            if timeout_seconds and timeout_seconds < TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS:
                due = engine.now() + _dt.timedelta(seconds=timeout_seconds)
            engine._park(
                _Waiter(due, env, callback_endpoint, "token"),
                lambda: callback_endpoint.get_outcome() is None and env.is_running(),
            )
            outcome = callback_endpoint.get_outcome()
            if outcome is None:
                return CallbackOutcomeTimedOut(callback_id=callback_endpoint.callback_id)
            return outcome

        orig_notify = CallbackEndpoint.notify
        orig_interrupt = CallbackEndpoint.interrupt_all

        def endpoint_notify(ep: Any, outcome: Any) -> None:
            orig_notify(ep, outcome)
            engine._release_endpoint(ep)

        def endpoint_interrupt(ep: Any) -> None:
            orig_interrupt(ep)
            engine._release_endpoint(ep)

        p.set(StateTaskServiceCallback, "_eval_wait_for_task_token", wait_for_task_token)
        p.set(CallbackEndpoint, "notify", endpoint_notify)
        p.set(CallbackEndpoint, "interrupt_all", endpoint_interrupt)

        # --- Program state changes (StopExecution, failure, timeout, end) wake the env's
        # parked waiters. moto propagates set_stop to child frames via frame.set_stop(), so
        # the patched method runs for each frame too.
        # An aborted execution stays aborted: moto's set_error()/set_timed_out() overwrite a
        # ProgramStopped state (e.g. when the task that was interrupted by the stop raises),
        # which would turn ABORTED into FAILED.
        for name in ("set_stop", "set_error", "set_timed_out", "set_ended"):
            p.set(Environment, name, _wake_on_state_change(
                engine, getattr(Environment, name),
                keep_stopped=name in ("set_error", "set_timed_out"), stopped_cls=ProgramStopped))

        # Task states: moto runs the task in a helper thread and waits for it with the
        # state's TimeoutSeconds in *wall* time. In virtual time a handler takes no time, so
        # that wall-clock bound is lifted (the Timeout read made first in this thread gets the
        # "no timeout" value); task-token waits still honour TimeoutSeconds virtually.
        # Also: a task interrupted by StopExecution (a token wait woken by the stop) is not
        # recorded as a task failure; the state ends quietly, as a Wait state does.
        orig_with_timeout = ExecutionState._evaluate_with_timeout
        orig_timeout_body = Timeout._eval_body

        def evaluate_with_timeout(state: Any, env: Any) -> None:
            tls.unbounded_task = True
            try:
                orig_with_timeout(state, env)
            except Exception:
                if isinstance(env._program_state, ProgramStopped):
                    return
                raise
            finally:
                tls.unbounded_task = False

        def timeout_body(t: Any, env: Any) -> None:
            if getattr(tls, "unbounded_task", False):
                tls.unbounded_task = False
                env.stack.append(TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS)
                return
            orig_timeout_body(t, env)

        p.set(ExecutionState, "_evaluate_with_timeout", evaluate_with_timeout)
        p.set(Timeout, "_eval_body", timeout_body)

        # Top-level TimeoutSeconds: moto joins the program thread with a wall-clock timeout;
        # here it is a virtual timer that sets the execution TIMED_OUT when due.
        orig_program_eval = Program.eval

        def program_eval(prog: Any, env: Any) -> None:
            timeout = prog.timeout_seconds.timeout_seconds if prog.timeout_seconds else None
            if not timeout:
                return orig_program_eval(prog, env)
            timer = engine._schedule(
                engine.now() + _dt.timedelta(seconds=timeout),
                lambda: env.is_running() and env.set_timed_out())
            try:
                env.next_state_name = prog.start_at.start_at_name
                worker = threading.Thread(target=EvalComponent.eval, args=(prog, env),
                                          daemon=True)
                TMP_THREADS.append(worker)
                worker.start()
                worker.join()
            finally:
                engine._cancel(timer)

        p.set(Program, "eval", program_eval)

        # --- Parallel branches.
        orig_bw_start = BranchWorker.start
        orig_bw_routine = BranchWorker._thread_routine
        orig_pool_terminated = BranchWorkerPool.on_terminated
        orig_pool_wait = BranchWorkerPool.wait

        def bw_start(bw: Any) -> None:
            engine._inc()
            try:
                orig_bw_start(bw)
            except BaseException:
                engine._dec()
                raise

        def bw_routine(bw: Any) -> None:
            try:
                orig_bw_routine(bw)
            finally:
                engine._dec()

        def pool_terminated(pool: Any, env: Any) -> None:
            orig_pool_terminated(pool, env)
            engine._join_signalled(pool, pool._termination_event.is_set)

        def pool_wait(pool: Any) -> None:
            engine._join_wait(pool, pool._termination_event.is_set, lambda: orig_pool_wait(pool))

        p.set(BranchWorker, "start", bw_start)
        p.set(BranchWorker, "_thread_routine", bw_routine)
        p.set(BranchWorkerPool, "on_terminated", pool_terminated)
        p.set(BranchWorkerPool, "wait", pool_wait)

        # --- Map (inline and distributed) workers.
        orig_notify_term = JobPool._notify_on_termination
        orig_await = JobPool.await_jobs

        def launch_worker(comp: Any, env: Any, eval_input: Any, job_pool: Any) -> Any:
            worker = comp._create_worker(env=env, eval_input=eval_input, job_pool=job_pool)

            def run() -> None:
                try:
                    worker.eval()
                finally:
                    engine._dec()

            thread = threading.Thread(target=run, daemon=True)
            TMP_THREADS.append(thread)
            engine._inc()
            try:
                thread.start()
            except BaseException:
                engine._dec()
                raise
            return worker

        def notify_termination(pool: Any) -> None:
            orig_notify_term(pool)
            engine._join_signalled(pool, pool._is_terminated)

        def await_jobs(pool: Any) -> None:
            engine._join_wait(pool, pool._is_terminated, lambda: orig_await(pool))

        p.set(iic.InlineIterationComponent, "_launch_worker", launch_worker)
        p.set(JobPool, "_notify_on_termination", notify_termination)
        p.set(JobPool, "await_jobs", await_jobs)

        # --- boto3 clients made by task states: one per (region, service) instead of one
        # per Task (~10 ms each). Every client is built with the same fixed config, and
        # botocore clients are thread-safe.
        orig_client_for = boto_client.boto_client_for

        def cached_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
            key = (region, service)
            c = engine._task_clients.get(key)
            if c is None:
                with engine._client_lock:
                    c = engine._task_clients.get(key)
                    if c is None:
                        c = orig_client_for(region=region, service=service,
                                            state_credentials=state_credentials)
                        engine._task_clients[key] = c
            return c

        for mod in list(sys.modules.values()) if self._caches else ():
            if (getattr(mod, "__name__", "").startswith("moto.stepfunctions.parser")
                    and getattr(mod, "boto_client_for", None) is orig_client_for):
                p.set(mod, "boto_client_for", cached_client_for)

        # --- JSONPath: jsonpath_ng builds a fresh PLY parser for every parse() (~1 ms), and
        # moto parses each path on every evaluation. Parsed expressions are immutable and
        # find()/update() do not modify them, so memoise by path string.
        if self._caches:
            from moto.stepfunctions.parser.asl.component.common.path import result_path
            from moto.stepfunctions.parser.asl.utils import json_path

            for mod in (json_path, result_path):
                p.set(mod, "parse", functools.lru_cache(maxsize=8192)(mod.parse))

        # --- Lambda: registered functions run in-process. LambdaFunction.invoke is the
        # common path of boto3 Invoke, Step Functions tasks and event-source mappings
        # (DynamoDB streams, SQS, SNS); the no-Docker backend's invoke() only echoes the
        # payload, so it is redirected to the regular backend path for registered names.
        orig_fn_invoke = LambdaFunction.invoke
        orig_simple_invoke = LambdaSimpleBackend.invoke

        def fn_invoke(fn: Any, body: Any, request_headers: Any, response_headers: Any) -> Any:
            entry = engine._lambdas.get(fn.function_name)
            if entry is None:
                return orig_fn_invoke(fn, body, request_headers, response_headers)
            return engine._invoke_handler(entry, body, request_headers, response_headers)

        def simple_invoke(backend: Any, function_name: str, qualifier: Any, body: Any,
                          headers: Any, response_headers: Any) -> Any:
            if _function_name_of(function_name) in engine._lambdas:
                return LambdaBackend.invoke(backend, function_name, qualifier, body, headers,
                                            response_headers)
            return orig_simple_invoke(backend, function_name, qualifier, body, headers,
                                      response_headers)

        p.set(LambdaFunction, "invoke", fn_invoke)
        p.set(LambdaSimpleBackend, "invoke", simple_invoke)

        # --- boto3's DynamoDB resource turns Key()/Attr() conditions into expressions with one
        # placeholder counter per client (ConditionExpressionBuilder, reset on every call). A Lambda
        # container runs one request at a time; here executions share the handlers' cached clients
        # from many threads, and two concurrent calls could swap placeholders ("Query condition
        # missed key schema element: pk", then a failed webhook or step). One call at a time builds
        # them, as in Lambda (the build is pure Python and short).
        from boto3.dynamodb.transform import TransformationInjector

        orig_inject = TransformationInjector.inject_condition_expressions
        inject_lock = threading.Lock()

        def inject_condition_expressions(injector: Any, params: Any, model: Any, **kwargs: Any) -> Any:
            with inject_lock:
                return orig_inject(injector, params, model, **kwargs)

        p.set(TransformationInjector, "inject_condition_expressions", inject_condition_expressions)

        # --- DynamoDB streams: moto numbers a shard's records by len(items) and empties the
        # list after each delivery to a mapped function, so every delivered record gets the same
        # SequenceNumber. On AWS they are unique and increasing (the audit archive keys objects by
        # them), so records are numbered from a per-shard counter that never goes back.
        from moto.dynamodb.models.table import StreamRecord, StreamShard

        # Executions write concurrently from their own threads; numbering and delivery must not interleave.
        shard_lock = threading.RLock()

        def shard_add(shard: Any, old: Any, new: Any) -> None:
            with shard_lock:
                _shard_add(shard, old, new)

        def _shard_add(shard: Any, old: Any, new: Any) -> None:
            view_type = shard.table.stream_specification["StreamViewType"]
            event_name = "INSERT" if old is None else ("REMOVE" if new is None else "MODIFY")
            counter = shard.__dict__.setdefault("_arrears_next_seq", shard.starting_sequence_number)
            shard._arrears_next_seq = counter + 1
            if self._caches and not shard.items and _filtered_out_by_keys(shard.table, event_name, old, new):
                # No mapping's filter lets this record through, decided on its keys and event name alone
                # (most writes: invoices, claims, tasks): consumed without building it (both images as
                # JSON, twice) and without an invocation, as below. Its sequence number is used up.
                return
            shard.items.append(StreamRecord(shard.table, view_type, event_name, old, new, counter))
            from moto.awslambda.utils import get_backend

            delivered = None
            for arn, esm in shard.table.lambda_event_source_mappings.items():
                # The mapping's FilterCriteria, as Lambda applies them: records no filter matches
                # are consumed without an invocation (moto would invoke the function with them).
                matching = _matching_records(esm, shard.items)
                if not matching:
                    delivered = True
                    continue
                delivered = get_backend(shard.account_id, arn.split(":")[3]).send_dynamodb_items(
                    arn, matching, esm.event_source_arn)
            if delivered:
                shard.items = []

        p.set(StreamShard, "add", shard_add)

        # --- DynamoDB queries: moto answers a query on a table's key by sorting every item of the
        # table (all_items) and keeping those of the partition, so each query costs O(table) and a
        # run O(table^2). A query on the table's own hash key only ever looks at one partition: it
        # is given just that partition, in the order all_items would list it (by range key).
        if self._caches:
            from moto.dynamodb.models.table import Table

            orig_all_items = Table.all_items
            orig_query = Table.query

            def all_items(table: Any) -> Any:
                restricted = getattr(tls, "query_partition", None)
                if restricted is not None and restricted[0] is table:
                    return restricted[1]
                return orig_all_items(table)

            def query(table: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
                index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
                if index_name or hash_key is None or not table.range_key_attr:
                    return orig_query(table, hash_key, *args, **kwargs)
                partition = table.items.get(hash_key)
                items = sorted(list(partition.values()), key=lambda item: item.range_key) if partition else []
                tls.query_partition = (table, items)
                try:
                    return orig_query(table, hash_key, *args, **kwargs)
                finally:
                    tls.query_partition = None

            p.set(Table, "all_items", all_items)
            p.set(Table, "query", query)

        # --- DynamoDB responses: moto serialises every AttributeValue member by member through its
        # generic attribute picker (alias providers, xform_name), which was ~30 % of a run for
        # items already held in wire form ({"S": ...}, {"M": {...}}). Such a value serialises to
        # itself, so it is passed through; anything else (binary, unexpected types) takes moto's path.
        if self._caches:
            from moto.core.serialize import BaseJSONSerializer

            orig_structure = BaseJSONSerializer._serialize_type_structure

            def serialize_structure(ser: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
                if (key and shape.name == "AttributeValue" and _is_wire_attribute_value(value)
                        and not _transformed(ser)):
                    serialized[shape.serialization.get("name", key)] = value
                    return
                orig_structure(ser, serialized, value, shape, key)

            p.set(BaseJSONSerializer, "_serialize_type_structure", serialize_structure)

        # --- Request routing: for every request moto rebuilds the service's URL table, and for S3
        # first reloads moto.s3.urls (its URLs may depend on environment variables). The table
        # depends only on the backend class and that environment, which does not change while an
        # engine runs: it is built once per backend class.
        if self._caches:
            from moto.core.base_backend import BaseBackend

            orig_urls = BaseBackend.urls
            url_tables: dict[type, Any] = {}

            def urls(backend: Any) -> Any:
                table = url_tables.get(type(backend))
                if table is None:
                    table = url_tables[type(backend)] = orig_urls.fget(backend)
                return table

            p.set(BaseBackend, "urls", property(urls))

        # --- Request signing: moto never checks a SigV4 signature, and computing one (canonical
        # request, payload hash, five HMACs) is a visible part of each in-process call. Plain SigV4
        # requests (DynamoDB, SES, Step Functions, Lambda, SSM...) get every header signing adds,
        # with a placeholder signature. S3 (its signer also decides the payload headers moto reads)
        # and presigned URLs (their query carries the signature) are signed as usual.
        if self._caches:
            from botocore import auth as botocore_auth
            from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
            from botocore.exceptions import NoCredentialsError

            orig_add_auth = SigV4Auth.add_auth

            def add_auth(auth: Any, request: Any) -> None:
                if type(auth) is not SigV4Auth:
                    return orig_add_auth(auth, request)
                if auth.credentials is None:
                    raise NoCredentialsError()
                request.context["timestamp"] = botocore_auth.get_current_datetime().strftime(SIGV4_TIMESTAMP)
                auth._modify_request_before_signing(request)
                auth._inject_signature_to_request(request, "0" * 64)

            p.set(SigV4Auth, "add_auth", add_auth)

        # --- User-Agent: botocore rebuilds the header for every request from ~30 components, each
        # sanitised character by character. A component is an immutable tuple and its text a pure
        # function of it: the text is kept per component.
        if self._caches:
            from botocore.useragent import UserAgentComponent

            orig_component_text = UserAgentComponent.to_string
            component_texts: dict[Any, str] = {}

            def component_text(component: Any) -> str:
                try:
                    text = component_texts.get(component)
                except TypeError:  # an unhashable field: not kept
                    return orig_component_text(component)
                if text is None:
                    text = orig_component_text(component)
                    if len(component_texts) < 4096:
                        component_texts[component] = text
                return text

            p.set(UserAgentComponent, "to_string", component_text)

        # --- Timestamps in responses (S3's Last-Modified, ...): botocore parses each string with
        # dateutil (~0.5 ms). The virtual clock stands still while executions run, so the same
        # strings come back again and again; the (immutable) datetime is kept per string. Parsers
        # of clients made while the engine runs pick this up.
        if self._caches:
            from botocore import parsers as botocore_parsers

            orig_timestamp_parser = botocore_parsers.DEFAULT_TIMESTAMP_PARSER
            timestamps: dict[str, Any] = {}

            def parse_timestamp(value: Any) -> Any:
                if type(value) is not str:
                    return orig_timestamp_parser(value)
                parsed_at = timestamps.get(value)
                if parsed_at is None:
                    parsed_at = orig_timestamp_parser(value)
                    if len(timestamps) >= 8192:
                        timestamps.clear()
                    timestamps[value] = parsed_at
                return parsed_at

            p.set(botocore_parsers, "DEFAULT_TIMESTAMP_PARSER", parse_timestamp)

        # --- moto lists a response class's methods with inspect.getmembers on every request (to
        # check that the action exists); classes do not change while an engine runs.
        if self._caches:
            from moto.core import responses as moto_responses

            orig_method_names = moto_responses.method_names_from_class
            method_names: dict[Any, list[str]] = {}

            def method_names_from_class(cls: Any) -> list[str]:
                names = method_names.get(cls)
                if names is None:
                    names = method_names[cls] = orig_method_names(cls)
                return list(names)

            p.set(moto_responses, "method_names_from_class", method_names_from_class)

        # --- DynamoDB item size: moto re-measures the whole item on every attribute it sets (the
        # 400 KB limit), and its measure wraps every map value in a new DynamoType first. The same
        # measure, without the wrapping (see _dynamo_size).
        if self._caches:
            from moto.dynamodb.models.dynamo_type import DynamoType

            p.set(DynamoType, "size", _dynamo_size)

        # --- DynamoDB item copies: moto deep-copies the item of every UpdateItem (its old image) and
        # every item a Query returns, and turns attribute values into plain JSON (GetItem and Query
        # responses, both images of every stream record) by deep-copying each map or list again at
        # every level below it. Item values are acyclic trees of DynamoTypes over immutable scalars:
        # the same copies and the same JSON, each node visited once (see _copy_dynamo, _regular_json).
        if self._caches:
            from moto.dynamodb.models.dynamo_type import Item

            p.set(DynamoType, "__deepcopy__", lambda value, memo: _copy_dynamo(value))
            p.set(Item, "__deepcopy__", _copy_item)
            p.set(DynamoType, "to_regular_json", _regular_json)

        # --- DynamoDB condition expressions: moto lexes and parses the ConditionExpression of every
        # write (most are the same few strings, e.g. attribute_not_exists(pk)). The result (an Op
        # tree, evaluated without being changed, and the names and values it used) depends only on
        # the expression, its names and its values: it is kept by those, and each caller still gets
        # its own lists. Parse errors are not kept.
        if self._caches:
            from moto.dynamodb.comparisons import ConditionExpressionParser

            orig_condition_parse = ConditionExpressionParser.parse
            conditions: dict[tuple, tuple] = {}

            def condition_parse(parser: Any) -> Any:
                try:
                    key = (parser.condition_expression,
                           json.dumps(parser.expression_attribute_names, sort_keys=True),
                           json.dumps(parser.expression_attribute_values, sort_keys=True))
                except (TypeError, ValueError):  # e.g. binary values: not kept
                    return orig_condition_parse(parser)
                hit = conditions.get(key)
                if hit is None or parser.expr_attr_names_found or parser.expr_attr_values_found:
                    before = (len(parser.expr_attr_names_found), len(parser.expr_attr_values_found))
                    op = orig_condition_parse(parser)
                    if before == (0, 0):
                        if len(conditions) >= 4096:
                            conditions.clear()
                        conditions[key] = (op, tuple(parser.expr_attr_names_found), tuple(parser.expr_attr_values_found))
                    return op
                op, names_found, values_found = hit
                parser.expr_attr_names_found.extend(names_found)
                parser.expr_attr_values_found.extend(values_found)
                return op

            p.set(ConditionExpressionParser, "parse", condition_parse)

        # --- DynamoDB UpdateExpressions: moto parses each one twice per UpdateItem and then runs
        # three checks that depend only on the expression, its attribute names and the table's key
        # (one of them quadratic in the number of actions): ~40 % of an UpdateItem. The parsed tree
        # is only read (the validator works on a copy), so it is kept by expression string with a
        # pickle to copy it from (4x faster than deepcopy), and the three structural checks run
        # once per (tree, names, key attributes). A failing parse or check is not remembered: it
        # fails again, the same way, on the next call.
        if self._caches:
            from moto.dynamodb.parsing import validators as ddb_validators
            from moto.dynamodb.parsing.expressions import UpdateExpressionParser

            orig_make = UpdateExpressionParser.make.__func__
            parsed: dict[str, Any] = {}
            live: dict[int, bytes] = {}  # id of each kept tree (alive in `parsed`, so never reused) -> its pickle
            structural_ok: set[tuple] = set()
            structural = (ddb_validators.ActionCountValidator, ddb_validators.OverlappingPathsValidator,
                          ddb_validators.UpdateHashRangeKeyValidator)
            orig_validator_init = ddb_validators.UpdateExpressionValidator.__init__
            orig_validate = ddb_validators.UpdateExpressionValidator.validate

            def make(cls: Any, expression: str) -> Any:
                tree = parsed.get(expression)
                if tree is None:
                    tree = orig_make(cls, expression)
                    if len(parsed) >= 4096:
                        parsed.clear()
                        live.clear()
                        structural_ok.clear()
                    try:
                        blob = pickle.dumps(tree, pickle.HIGHEST_PROTOCOL)
                    except Exception:  # not picklable: not kept, moto's path
                        return tree
                    parsed[expression] = tree
                    live[id(tree)] = blob
                return tree

            def validator_init(v: Any, expression: Any, expression_attribute_names: Any, expression_attribute_values: Any,
                               item: Any, table: Any) -> None:
                blob = live.get(id(expression))
                if blob is None:
                    orig_validator_init(v, expression, expression_attribute_names, expression_attribute_values, item, table)
                    v._arrears_key = None
                    return
                # moto's __init__, with the working copy of the tree unpickled (4x faster than deepcopy).
                v.expression_attribute_names = expression_attribute_names
                v.expression_attribute_values = expression_attribute_values
                v.item = item
                v.table = table
                v.processors = v.get_ast_processors()
                v.node_to_validate = pickle.loads(blob)
                v._arrears_key = (id(expression), frozenset((expression_attribute_names or {}).items()),
                                  tuple(table.table_key_attrs))

            def validate(v: Any) -> Any:
                key = getattr(v, "_arrears_key", None)
                n_structural = len(structural)
                if key is None or tuple(type(x) for x in v.processors[:n_structural]) != structural:
                    return orig_validate(v)
                n = v.node_to_validate
                if key not in structural_ok:
                    for processor in v.processors[:n_structural]:
                        n = processor.traverse(n)
                    structural_ok.add(key)
                for processor in v.processors[n_structural:]:
                    n = processor.traverse(n)
                return n

            # Each traverser's node types are the keys of a dict literal its class builds on every
            # call (per node visited): the tuple is kept per class.
            from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser

            node_types: dict[type, tuple] = {}

            def nodes_to_be_processed(traverser: Any) -> tuple:
                types = node_types.get(type(traverser))
                if types is None:
                    types = node_types[type(traverser)] = tuple(traverser._processing_map())
                return types

            p.set(DepthFirstTraverser, "nodes_to_be_processed", nodes_to_be_processed)
            p.set(UpdateExpressionParser, "make", classmethod(make))
            p.set(ddb_validators.UpdateExpressionValidator, "__init__", validator_init)
            p.set(ddb_validators.UpdateExpressionValidator, "validate", validate)

        # --- Fast path for Step Functions -> registered Lambda (Task with lambda:invoke or a
        # plain function ARN): the boto3 round trip through moto's HTTP stubber costs ~3 ms
        # per call against ~0.3 ms for the handler. Call the handler directly and build the
        # same response moto produces ({StatusCode, Payload[, FunctionError]}). Anything
        # unusual (other parameters, async InvocationType, unregistered name) takes the
        # normal boto3 path.
        if self._caches:
            from moto.stepfunctions.parser.asl.component.state.exec.state_task import (
                lambda_eval_utils,
            )

            orig_task_invoke = lambda_eval_utils._invoke_lambda_function

            def task_invoke(parameters: dict, region: str, state_credentials: Any) -> Any:
                name = _function_name_of(str(parameters.get("FunctionName", "")))
                entry = engine._lambdas.get(name)
                sync = parameters.get("InvocationType", "RequestResponse") == "RequestResponse"
                if (entry is None or not sync
                        or not set(parameters) <= {"FunctionName", "Payload", "InvocationType"}):
                    return orig_task_invoke(parameters, region, state_credentials)
                headers: dict[str, str] = {}
                raw = engine._invoke_handler(entry, parameters.get("Payload"), {}, headers)
                response: dict[str, Any] = {
                    "StatusCode": 200,
                    "Payload": lambda_eval_utils._from_payload(io.BytesIO(raw)),
                }
                if "x-amz-function-error" in headers:
                    response["FunctionError"] = headers["x-amz-function-error"]
                return response

            p.set(lambda_eval_utils, "_invoke_lambda_function", task_invoke)

    def _end_worker(self, w: Any) -> None:
        with self._cond:
            if w in self._workers:
                self._workers.discard(w)
                self._active -= 1
                if self._active <= 0:
                    self._cond.notify_all()


def _function_error(response_headers: dict, ctx: LambdaContext, error_type: str, message: str,
                    exc: BaseException) -> bytes:
    response_headers["x-amz-function-error"] = "Unhandled"
    return json.dumps({
        "errorMessage": message,
        "errorType": error_type,
        "requestId": ctx.aws_request_id,
        "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)),
    }).encode("utf-8")


def _matching_records(esm: Any, records: list) -> list:
    """The stream records an event source mapping's FilterCriteria let through (all without filters)."""
    filters = ((getattr(esm, "filter_criteria", None) or {}).get("Filters")) or []
    if not filters:
        return list(records)
    patterns = [_event_pattern(f["Pattern"]) for f in filters if f.get("Pattern")]
    kept = []
    for record in records:
        view = record.to_json()
        view = {**view, "dynamodb": {k: v for k, v in view["dynamodb"].items() if k != "ApproximateCreationDateTime"}}
        if any(pattern.matches_event(view) for pattern in patterns):
            kept.append(record)
    return kept


@functools.lru_cache(maxsize=256)
def _event_pattern(raw: str) -> Any:
    """A filter's parsed pattern (moto's EventPattern matches without changing it)."""
    from moto.events.models import EventPattern

    return EventPattern.load(raw)


# The parts of a stream record known before it is built: a pattern naming nothing else is decided by them.
_RECORD_HEAD = frozenset({"eventName", "eventSource", "eventVersion", "awsRegion"})


def _keys_only(raw: str) -> bool:
    pattern = _event_pattern(raw).get_pattern()
    dynamodb = pattern.get("dynamodb", {})
    return bool(pattern) and set(pattern) <= _RECORD_HEAD | {"dynamodb"} and isinstance(dynamodb, dict) \
        and set(dynamodb) <= {"Keys"}


def _filtered_out_by_keys(table: Any, event_name: str, old: Any, new: Any) -> bool:
    """True when the table has event source mappings, every one filtered by patterns that only name the
    record's event name, source, region or keys, and none of them matches this write's record."""
    mappings = table.lambda_event_source_mappings
    if not mappings:
        return False
    raws = []
    for esm in mappings.values():
        filters = ((getattr(esm, "filter_criteria", None) or {}).get("Filters")) or []
        esm_raws = [f.get("Pattern") for f in filters]
        if not esm_raws or not all(raw and _keys_only(raw) for raw in esm_raws):
            return False
        raws += esm_raws
    record = old if old is not None else new
    keys = {table.hash_key_attr: record.hash_key.to_json()}
    if table.range_key_attr is not None:
        keys[table.range_key_attr] = record.range_key.to_json()
    # As moto's StreamRecord has them (its region is always us-east-1).
    head = {"eventName": event_name, "eventSource": "aws:dynamodb", "eventVersion": "1.0", "awsRegion": "us-east-1",
            "dynamodb": {"Keys": keys}}
    return not any(_event_pattern(raw).matches_event(head) for raw in raws)


_WIRE_SCALARS = {"S": str, "N": str, "BOOL": bool, "NULL": bool}


def _is_wire_attribute_value(value: Any) -> bool:
    """True for a DynamoDB AttributeValue in wire form whose serialisation is itself (no binaries)."""
    if type(value) is not dict or len(value) != 1:
        return False
    (tag, inner), = value.items()
    scalar = _WIRE_SCALARS.get(tag)
    if scalar is not None:
        return type(inner) is scalar
    if tag == "M":
        return type(inner) is dict and all(type(k) is str and _is_wire_attribute_value(v) for k, v in inner.items())
    if tag == "L":
        return type(inner) is list and all(_is_wire_attribute_value(v) for v in inner)
    if tag in ("SS", "NS"):
        return type(inner) is list and all(type(v) is str for v in inner)
    return False


def _dynamo_size(value: Any) -> int:
    """moto's DynamoType.size (5.2.5), rule for rule, without re-wrapping map values that already are
    DynamoTypes (DynamoType(v) of a DynamoType measures the same)."""
    kind, inner = value.type, value.value
    if kind == "N":
        return len(str(inner))
    if kind in ("SS", "NS", "BS"):
        if kind == "NS":
            return sum(len(str(v)) for v in inner)
        return sum(len(v if isinstance(v, bytes) else v.encode("utf-8")) for v in inner)
    if kind == "L":
        return sum(v.size() for v in inner)
    if kind == "M":
        return sum(len(k if isinstance(k, bytes) else k.encode("utf-8"))
                   + (v.size() if type(v) is type(value) else type(value)(v).size()) for k, v in inner.items())
    if isinstance(inner, bool):
        return 1
    return len(inner if isinstance(inner, bytes) else inner.encode("utf-8"))


_ATOMIC = (str, bool, int, float, bytes, type(None))


def _copy_dynamo(value: Any) -> Any:
    """moto's DynamoType.__deepcopy__ (5.2.5) without the copy module's dispatch and memo per node
    (a child of another class than its parent takes copy.deepcopy, as before)."""
    cls = type(value)
    result = cls.__new__(cls)
    for name, attribute in value.__dict__.items():  # anything besides type and value, as deepcopy would
        if name not in ("type", "value"):
            setattr(result, name, copy.deepcopy(attribute))
    result.type = kind = value.type
    inner = value.value
    if kind == "L":
        result.value = [_copy_dynamo(v) if type(v) is cls else copy.deepcopy(v) for v in inner]
    elif kind == "M":
        result.value = {k: _copy_dynamo(v) if type(v) is cls else copy.deepcopy(v) for k, v in inner.items()}
    elif kind in ("SS", "NS", "BS"):
        result.value = list(inner)
    else:
        result.value = inner
    return result


def _copy_item(item: Any, memo: Any = None) -> Any:
    """moto's Item.__deepcopy__ (5.2.5): the attributes copied without LimitedSizeDict's size check."""
    from moto.dynamodb.models.dynamo_type import LimitedSizeDict

    cls = type(item)
    result = cls.__new__(cls)
    for name, attribute in item.__dict__.items():
        if name not in ("hash_key", "range_key", "attrs"):
            setattr(result, name, copy.deepcopy(attribute))
    result.hash_key = copy.deepcopy(item.hash_key)
    result.range_key = copy.deepcopy(item.range_key)
    attrs = LimitedSizeDict.__new__(LimitedSizeDict)
    dict.__init__(attrs)
    for key, value in item.attrs.items():
        dict.__setitem__(attrs, key, copy.deepcopy(value))  # DynamoType.__deepcopy__ is _copy_dynamo
    result.attrs = attrs
    return result


def _regular_json(value: Any) -> dict[str, Any]:
    """moto's DynamoType.to_regular_json (5.2.5): plain JSON in new containers, scalars shared (they are
    immutable), binaries decoded; each node converted once instead of deep-copied again at each level."""
    cls, inner = type(value), value.value
    if isinstance(inner, dict):
        plain: Any = {k: _regular_json(v) if isinstance(v, cls) else _plain_copy(v) for k, v in inner.items()}
    elif isinstance(inner, list):
        plain = [_regular_json(v) if isinstance(v, cls) else _plain_copy(v) for v in inner]
    else:
        plain = _plain_copy(inner)
    if value.type == "B" and isinstance(plain, str):
        plain = base64.b64decode(plain)
    return {value.type: plain}


def _plain_copy(value: Any) -> Any:
    return value if type(value) in _ATOMIC else copy.deepcopy(value)


def _transformed(serializer: Any) -> bool:
    """Whether moto would rewrite some AttributeValue member (a response transformer on such a path)."""
    transformers = getattr(serializer._value_picker, "response_transformers", None) or {}
    # moto applies a transformer when the member's key path ends with the transformer's path.
    return any(path.endswith(f".{member}") or f".{member}".endswith(path)
               for path in transformers for member in ("S", "N", "BOOL", "NULL", "M", "L", "SS", "NS"))


def _wake_on_state_change(engine: LocalEngine, orig: Callable[..., Any], *, keep_stopped: bool,
                          stopped_cls: type) -> Callable[..., Any]:
    def wrapper(env: Any, *args: Any, **kwargs: Any) -> Any:
        if keep_stopped and isinstance(env._program_state, stopped_cls):
            return None
        result = orig(env, *args, **kwargs)
        if not env.is_running():
            engine._release_env(env)
        return result

    wrapper.__name__ = orig.__name__
    return wrapper


def _prewarm_heap_keys(root: Any, component_cls: type, eval_cls: type) -> None:
    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
        elif isinstance(obj, dict):
            stack.extend(obj.values())
        elif isinstance(obj, component_cls):
            if isinstance(obj, eval_cls):
                obj.heap_key  # noqa: B018  (assigns the lazy id now, single-threaded)
            stack.extend(getattr(obj, "__dict__", {}).values())
