"""Cost per invoice: each behaviour of the sample portfolio through the local runtime, priced.

One invoice of each behaviour in `arrears_local.portfolio.BEHAVIOURS` (the demo's sample
portfolio, with its Stripe redeliveries) runs alone through its own LocalRuntime for the demo's
150 days, so everything counted belongs to that invoice's lifecycle:

- state transitions: `*StateEntered` events of the execution's history (what Standard
  workflows bill);
- Lambda invocations and their durations: every handler invocation through the engine, timed
  in-process, a synchronously nested invocation (the audit function run inside a table write)
  subtracted from its caller; GB-seconds use each function's MemorySize from template.yaml.
  Local durations include moto's in-process emulation of the AWS calls, which on AWS are
  network round trips instead: an estimate of the right order, not a measurement of Lambda;
- DynamoDB request units: every DynamoDB call through botocore is recorded; reads cost
  ceil(bytes read / 4 KB) units (half for eventually consistent reads, at least one), writes
  ceil(item size / 1 KB) units of the larger of the item before and after (at least one), sizes
  computed as DynamoDB does (attribute names plus values) from moto's stored items;
- SES messages (SendEmail), S3 PUT-class requests (PutObject, CopyObject) and API Gateway
  requests (webhook deliveries);
priced with `bench/aws_prices.json`.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

from common import BENCH, ROOT, cli, figure, setup_paths

setup_paths()

TRANSITIONS_PER_STEP_TARGET = 3
REFERRAL_COST_TARGET_USD = 0.001


class Meter:
    """Counts what one runtime does: AWS calls by operation, DynamoDB units, Lambda time."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self.read_units = 0.0
        self.write_units = 0.0
        self.lambda_ms: defaultdict[str, list[float]] = defaultdict(list)
        self._tls = threading.local()
        self._lock = threading.Lock()

    # --- botocore ------------------------------------------------------------------------
    def install(self) -> None:
        import botocore.client

        from arrears_local.engine import LocalEngine

        meter = self
        self._orig_call = botocore.client.BaseClient._make_api_call
        self._orig_invoke = LocalEngine._invoke_handler

        def make_api_call(client: Any, operation: str, params: dict) -> Any:
            service = client.meta.service_model.service_name
            before = meter._item_size(params) if service == "dynamodb" and operation in ("DeleteItem", "UpdateItem", "PutItem") else 0
            try:
                response = meter._orig_call(client, operation, params)
            except Exception as error:
                if service == "dynamodb" and "ConditionalCheckFailed" in type(error).__name__ + str(error):
                    meter._count(service, operation, params, None, before)  # a failed condition still consumes units
                raise
            meter._count(service, operation, params, response, before)
            return response

        def invoke_handler(engine: Any, entry: Any, body: Any, request_headers: Any, response_headers: dict) -> bytes:
            stack = meter._tls.__dict__.setdefault("stack", [])
            stack.append(0.0)
            started = time.perf_counter()
            try:
                return meter._orig_invoke(engine, entry, body, request_headers, response_headers)
            finally:
                total = (time.perf_counter() - started) * 1000
                nested = stack.pop()
                if stack:
                    stack[-1] += total
                with meter._lock:
                    meter.lambda_ms[entry.name].append(max(0.0, total - nested))

        botocore.client.BaseClient._make_api_call = make_api_call
        LocalEngine._invoke_handler = invoke_handler

    def uninstall(self) -> None:
        import botocore.client

        from arrears_local.engine import LocalEngine

        botocore.client.BaseClient._make_api_call = self._orig_call
        LocalEngine._invoke_handler = self._orig_invoke

    def _count(self, service: str, operation: str, params: dict, response: Any, before: int) -> None:
        with self._lock:
            self.calls[(service, operation)] += 1
        if service != "dynamodb":
            return
        consistent = bool(params.get("ConsistentRead"))
        if operation == "GetItem":
            size = _size((response or {}).get("Item") or {})
            units = max(1, math.ceil(size / 4096))
            self._add_read(units if consistent else units / 2)
        elif operation == "Query":
            size = sum(_size(item) for item in (response or {}).get("Items", []))
            units = max(1, math.ceil(size / 4096))
            self._add_read(units if consistent else units / 2)
        elif operation in ("PutItem", "UpdateItem", "DeleteItem"):
            after = self._item_size(params) if operation != "DeleteItem" else 0
            if operation == "PutItem":
                after = max(after, _size(params.get("Item") or {}))
            self._add_write(max(1, math.ceil(max(before, after) / 1024)))
        elif operation == "TransactWriteItems":
            # Each item of a transaction costs two write units per KB (DynamoDB's transactional price); the size is
            # the item's after the write (as sent, for a Put) or as stored (read after: an Update's new image).
            for entry in params.get("TransactItems", []):
                (kind, request), = entry.items()
                size = _size(request.get("Item") or {}) if kind == "Put" else self._item_size(request)
                self._add_write(2 * max(1, math.ceil(size / 1024)))
        elif operation in ("BatchWriteItem", "BatchGetItem", "TransactGetItems", "Scan"):
            raise NotImplementedError(f"count units of {operation} before using it on a request path")

    def _add_read(self, units: float) -> None:
        with self._lock:
            self.read_units += units

    def _add_write(self, units: float) -> None:
        with self._lock:
            self.write_units += units

    def _item_size(self, params: dict) -> int:
        """The stored size of the item a write names (0 if there is none), read from moto's backend."""
        from moto.dynamodb.models import dynamodb_backends
        from moto.dynamodb.models.dynamo_type import DynamoType

        from arrears_local.runtime import ACCOUNT, REGION

        try:
            table = dynamodb_backends[ACCOUNT][REGION].get_table(params["TableName"])
            key = params.get("Key") or params.get("Item") or {}
            hash_value = _typed(key[table.hash_key_attr])
            range_value = _typed(key[table.range_key_attr]) if table.range_key_attr else None
            item = table.get_item(DynamoType(hash_value), DynamoType(range_value) if range_value else None)
        except Exception:
            return 0
        return item.size() if item is not None else 0

    # --- results -------------------------------------------------------------------------
    def count(self, *operations: tuple[str, str]) -> int:
        return sum(self.calls[op] for op in operations)


def _typed(value: Any) -> dict:
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("S", "N", "B"):
        return value
    return {"N": str(value)} if isinstance(value, (int, Decimal)) and not isinstance(value, bool) else {"S": str(value)}


def _size(value: Any, name: str = "") -> int:
    """DynamoDB's item size: attribute names plus values (strings as UTF-8, numbers ~ digits/2 + 1)."""
    size = len(name.encode())
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("S", "N", "B", "BOOL", "NULL", "L", "M", "SS", "NS"):
        kind, inner = next(iter(value.items()))
        if kind == "M":
            return size + 3 + sum(_size(v, k) for k, v in inner.items())
        if kind == "L":
            return size + 3 + sum(_size(v) for v in inner)
        if kind == "N":
            return size + len(str(inner)) // 2 + 1
        if kind in ("BOOL", "NULL"):
            return size + 1
        return size + len(str(inner).encode())
    if isinstance(value, dict):
        return size + (3 if name else 0) + sum(_size(v, k) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return size + 3 + sum(_size(v) for v in value)
    if isinstance(value, bool) or value is None:
        return size + 1
    if isinstance(value, (int, float, Decimal)):
        return size + len(str(value)) // 2 + 1
    if isinstance(value, (bytes, bytearray)):
        return size + len(value)
    return size + len(str(value).encode())


def prices() -> dict[str, float]:
    table = json.loads((BENCH / "aws_prices.json").read_text())
    return {name: entry["usd"] for name, entry in table["prices"].items()}


def measure_behaviour(item: Any, policy: Any, days: int) -> dict[str, Any]:
    from arrears_local.demo import contacts, run_book
    from arrears_local.portfolio import DEMO_START
    from arrears_local.runtime import LocalRuntime

    meter = Meter()
    with LocalRuntime(start=DEMO_START) as runtime:
        memory = {runtime.resolver.refs[lid]: int((r["Properties"].get("MemorySize")
                                                    or runtime.template.get("Globals", {}).get("Function", {}).get("MemorySize", 128)))
                  for lid, r in runtime.template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}
        meter.install()
        try:
            run = run_book(runtime, [item], policy, days)
        finally:
            meter.uninstall()
        sfn = runtime.client("stepfunctions")
        transitions = 0
        for execution in sfn.list_executions(stateMachineArn=runtime.state_machine_arn)["executions"]:
            history = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
            transitions += sum(1 for event in history if event["type"].endswith("StateEntered"))
    entries = run.logs[item.invoice.invoice_id]
    contact_moments = len({e.at for e in contacts(entries)})
    invocations = {name: len(ms) for name, ms in meter.lambda_ms.items()}
    gb_seconds = sum(math.ceil(ms) / 1000 * memory.get(name, 128) / 1024 for name, values in meter.lambda_ms.items() for ms in values)
    return {
        "behaviour": item.behaviour, "contacts": len(contacts(entries)), "contact_steps": contact_moments,
        "webhook_deliveries": len(run.deliveries), "state_transitions": transitions,
        "lambda_invocations": sum(invocations.values()), "lambda_invocations_by_function": invocations,
        "lambda_ms": round(sum(sum(v) for v in meter.lambda_ms.values()), 1), "lambda_gb_seconds": round(gb_seconds, 4),
        "dynamodb_read_units": meter.read_units, "dynamodb_write_units": meter.write_units,
        "ses_messages": meter.count(("sesv2", "SendEmail"), ("ses", "SendRawEmail"), ("ses", "SendEmail")),
        "s3_puts": meter.count(("s3", "PutObject"), ("s3", "CopyObject")),
        "api_requests": len(run.deliveries),
    }


def price(row: dict[str, Any], p: dict[str, float]) -> dict[str, float]:
    costs = {
        "step_functions": row["state_transitions"] * p["stepfunctions_standard_per_state_transition"],
        "lambda": row["lambda_invocations"] * p["lambda_per_request"] + row["lambda_gb_seconds"] * p["lambda_arm64_per_gb_second"],
        "dynamodb": row["dynamodb_read_units"] * p["dynamodb_on_demand_per_read_request_unit"]
        + row["dynamodb_write_units"] * p["dynamodb_on_demand_per_write_request_unit"],
        "ses": row["ses_messages"] * p["ses_per_email"],
        "s3": row["s3_puts"] * p["s3_standard_per_put_request"],
        "api_gateway": row["api_requests"] * p["apigateway_rest_per_request"],
    }
    costs["total"] = sum(costs.values())
    return {k: round(v, 8) for k, v in costs.items()}


def run(args: Any) -> list[dict[str, Any]]:
    from arrears.domain.policy import load_policy_file
    from arrears_local.portfolio import BEHAVIOURS, DEMO_DAYS, DEMO_START, sample_portfolio

    policy = load_policy_file(ROOT / "policies" / "default.yaml")
    p = prices()
    rows = []
    for item in sample_portfolio(DEMO_START, len(BEHAVIOURS)):
        row = measure_behaviour(item, policy, DEMO_DAYS)
        row["usd"] = price(row, p)
        rows.append(row)
    figures = []
    for row in rows:
        figures.append(figure(f"cost per invoice: {row['behaviour']}", row["usd"]["total"], "USD", note=(
            f"{row['state_transitions']} transitions, {row['lambda_invocations']} Lambda invocations "
            f"({row['lambda_gb_seconds']:.3f} GB-s), {row['dynamodb_read_units']:g} RRU, {row['dynamodb_write_units']:g} WRU, "
            f"{row['ses_messages']} emails, {row['s3_puts']} S3 PUTs, {row['api_requests']} API calls; "
            + ", ".join(f"{k} ${v:.6f}" for k, v in row["usd"].items() if k != "total")), detail=row))
    referral = next(r for r in rows if r["behaviour"] == "never pays")
    per_step = (referral["state_transitions"] - 4) / max(1, referral["contact_steps"])
    figures.append(figure("state transitions per contact step", round(per_step, 2), "", f"<= {TRANSITIONS_PER_STEP_TARGET}",
                          per_step <= TRANSITIONS_PER_STEP_TARGET,
                          f"never-pays invoice: {referral['state_transitions']} transitions for {referral['contact_steps']} contact "
                          "steps, less the fixed 4 (the first-execution-or-renewal choice, start task, its choice, the final Succeed)"))
    total = referral["usd"]["total"]
    biggest = max((k for k in referral["usd"] if k != "total"), key=lambda k: referral["usd"][k])
    figures.append(figure("cost of an invoice escalated to referral", total, "USD", f"< {REFERRAL_COST_TARGET_USD}",
                          total < REFERRAL_COST_TARGET_USD,
                          f"largest part: {biggest} ${referral['usd'][biggest]:.6f}"
                          + ("" if total < REFERRAL_COST_TARGET_USD else f"; {total / REFERRAL_COST_TARGET_USD:.2f}x the target")))
    return figures


if __name__ == "__main__":
    cli(__doc__.splitlines()[0], run)
