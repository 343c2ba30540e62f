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
turns these off; ``caches={"asl_cache", ...}`` keeps just the named ones, see ``SPEEDUPS``). Measured on this machine: ~1 ms per state, ~10 ms per StartExecution.
The handlers' own AWS calls (~100 an invoice, boto3 -> moto in-process) are the rest of the
time; ``caches=True`` also takes the repeated work out of them where moto redoes it per request
with the same result (URL tables, method lists, User-Agent text, DynamoDB expression parsing and
validation, response serialisation of items, item size, SigV4 signatures nothing checks). Each
is exact: ``tests/integration/test_local_engine_speedups.py`` compares answers with and without.

Each of these rewirings is one patch module (``patches/``, ``speedups/``, listed in
``registry.py``) naming the moto internals it relies on; docs/local-runtime.md describes them.

Only one engine can be active at a time (moto and time-machine are process-global).
"""

from __future__ import annotations

import datetime as _dt
import heapq
import itertools
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from .chaos import ChaosConfig, ChaosState, ProcessDied
from .errors import IdleTimeout, LocalEngineError
from .lambdas import LambdaContext, LambdaEntry, dummy_zip, function_error
from .patch import Patch
from .registry import PATCHES, SPEEDUPS
from .waiters import UTC, Waiter, execution_name

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


def _aware(t: _dt.datetime) -> _dt.datetime:
    if t.tzinfo is None:
        raise ValueError(f"naive datetime not allowed: {t!r} (use tz-aware UTC)")
    return t.astimezone(UTC)


def _speedups(caches: bool | Iterable[str]) -> frozenset[str]:
    """``caches``: True (every speed shortcut), False (none) or the names of those to keep."""
    if caches is True or caches is False:
        return frozenset(SPEEDUPS) if caches else frozenset()
    names = frozenset(caches)
    unknown = sorted(names - set(SPEEDUPS))
    if unknown:
        raise ValueError(f"unknown speed-up(s) {unknown}; known: {', '.join(SPEEDUPS)}")
    return names


class LocalEngine:
    _current: LocalEngine | None = None

    def __init__(
        self,
        start: _dt.datetime,
        region: str = "us-east-1",
        *,
        caches: bool | Iterable[str] = True,
        quiet_moto: bool = True,
        chaos: ChaosConfig | None = None,
    ):
        """``start``: tz-aware start of virtual time. ``caches=False`` turns off the speed-ups
        (ASL/JSONPath parse caches, task boto3-client cache, direct Task->handler calls, the
        moto and botocore shortcuts), for comparison or troubleshooting; a collection of names
        from ``SPEEDUPS`` keeps just those. ``quiet_moto`` silences moto's interpreter logger,
        which logs every handled task failure (e.g. a retried Lambda error) at ERROR level;
        failures remain visible in the execution history. ``chaos``: faults, process deaths and stream
        redeliveries (engine/chaos.py, docs/faults.md); ``None`` (the default) injects nothing."""
        self._start = _aware(start)
        self.region = region
        self._speedups = _speedups(caches)
        self._quiet_moto = quiet_moto
        self.chaos: ChaosState | None = ChaosState(chaos) if chaos is not None else None
        self._saved_log_level: int | None = None

        self._cond = threading.Condition(threading.Lock())
        self._active = 0  # runnable flows of control (guarded by _cond)
        # Timed waiters, lazy deletion. Same-instant waiters come out by execution name: see _release_due.
        self._heap: list[tuple[_dt.datetime, str, int, Waiter]] = []
        self._seq = itertools.count()
        self._by_env: dict[Any, set[Waiter]] = {}
        self._by_endpoint: dict[Any, Waiter] = {}
        self._workers: set[Any] = set()  # running (async) ExecutionWorkers
        self._errors: list[BaseException] = []

        self._lambdas: dict[str, LambdaEntry] = {}
        self._clients: dict[tuple[str, str], Any] = {}  # engine.client()
        self._client_lock = threading.Lock()
        self._tmp_threads: list | None = None
        self._default_role: str | None = None

        self._patches: list[Patch] = []
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
            self._uninstall_patches,
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
        self._clients.clear()
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
            Handler="lambda_function.handler", Code={"ZipFile": dummy_zip()},
            Timeout=timeout, MemorySize=memory_size,
        )
        if environment:
            kwargs["Environment"] = {"Variables": environment}
        try:
            arn = lam.create_function(**kwargs)["FunctionArn"]
        except lam.exceptions.ResourceConflictException:
            arn = lam.get_function(FunctionName=function_name)["Configuration"]["FunctionArn"]
        self._lambdas[function_name] = LambdaEntry(
            function_name, arn, handler, memory_size, timeout)
        return arn

    def _invoke_handler(self, entry: LambdaEntry, body: Any, request_headers: Any,
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
            if self.chaos is None:
                result = entry.handler(event, ctx)
            else:
                with self.chaos.invocation(entry.name, event):
                    result = entry.handler(event, ctx)
        except ProcessDied as died:
            # What Lambda answers when the runtime process exits mid-invocation (killed, out of memory).
            self.chaos.count("function_errors", entry.name)  # type: ignore[union-attr]
            return function_error(response_headers, ctx, died.error_type,
                                  f"RequestId: {ctx.aws_request_id} Error: Runtime exited with error: signal: killed",
                                  died)
        except Exception as exc:
            if self.chaos is not None:
                self.chaos.count("function_errors", entry.name)
            # Same shape as the Python runtime's unhandled-error payload; Step Functions
            # reads errorType from it, so Retry/Catch on the exception class name works.
            return function_error(response_headers, ctx, type(exc).__name__, str(exc), exc)
        try:
            return json.dumps(result).encode("utf-8")
        except (TypeError, ValueError) as exc:
            return function_error(response_headers, ctx, "Runtime.MarshalError",
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

    def _park(self, waiter: Waiter, still_needed: Callable[[], bool]) -> bool:
        """Park the calling flow until released. ``still_needed`` is evaluated under the
        engine lock so that a release racing with parking is never lost."""
        with self._cond:
            if not still_needed():
                return False
            self._by_env.setdefault(waiter.env, set()).add(waiter)
            if waiter.endpoint is not None:
                self._by_endpoint[waiter.endpoint] = waiter
            if waiter.due is not None:
                heapq.heappush(self._heap, (waiter.due, execution_name(waiter.env), next(self._seq), waiter))
            self._active -= 1
            if self._active <= 0:
                self._cond.notify_all()
        waiter.event.wait()
        return True

    def _release_locked(self, waiter: Waiter) -> None:
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

    def _schedule(self, due: _dt.datetime, callback: Callable[[], Any]) -> Waiter:
        timer = Waiter(due, None, None, "timer", callback)
        with self._cond:
            heapq.heappush(self._heap, (due, "", next(self._seq), timer))
        return timer

    def _cancel(self, timer: Waiter) -> None:
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

    def speedup_enabled(self, name: str) -> bool:
        """Whether the speed shortcut ``name`` (one of ``SPEEDUPS``) is on in this engine."""
        return name in self._speedups

    @property
    def patches(self) -> tuple[Patch, ...]:
        """The patches installed now, in install order."""
        return tuple(self._patches)

    def _install_patches(self) -> None:
        # Each patch imports moto inside install(): moto must only be touched once the mock is active.
        for cls in PATCHES:
            if cls.SPEEDUP and not self.speedup_enabled(cls.NAME):
                continue
            if cls.CHAOS and self.chaos is None:
                continue
            patch = cls(self)
            self._patches.append(patch)
            patch.install()

    def _uninstall_patches(self) -> None:
        first: BaseException | None = None
        while self._patches:
            try:
                self._patches.pop().uninstall()
            except BaseException as e:  # keep undoing; re-raise the first failure
                first = first or e
        if first is not None:
            raise first

    def _end_worker(self, w: Any) -> None:
        with self._cond:
            if w in self._workers:
                self._workers.discard(w)
                self._active -= 1
                if self._active <= 0:
                    self._cond.notify_all()
