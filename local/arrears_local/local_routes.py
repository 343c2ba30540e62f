"""The `/_local/*` routes of `arrears serve` that stand in for what AWS does outside the API.

- `GET /_local/artefacts/{bucket}/{key}`: an email (.eml), letter (PDF) or referral package the
  stack stored, downloadable with curl. In AWS the finance API links to a presigned S3 URL; the
  local S3 lives inside this process, so serve rewrites those links to point here (`local_links`), and so
  the link to an open-book dry run's result (`GET /dry-runs/{id}`'s `result_url`).
- `GET /_local/emails`: what SES accepted (message id, recipients, subject, reference).
- `POST /_local/ses-events`: what SES's configuration set would publish about a sent email (a
  delivery, bounce or complaint), handed to the real ses_events function through the template's
  SNS topic. The body names the email by `message_id`, or by `invoice_id` (and `step_id`).
- `POST /_local/inbound-email`: a raw RFC 822 message (a debtor's reply, an out-of-office, a DSN), stored in the
  inbound bucket as SES's receipt rule would; its notification runs the real inbound function (docs/replies.md).
- `POST /_local/import?name=FILE`: a bulk import file (docs/webhooks.md), checked and applied by the
  same use case as `arrears import` against a deployed stack (`arrears import FILE --url ...`).

Each answers with an `HttpReply`; bad input is a 4xx with `{"error", "message"}` and changes nothing.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from email import message_from_bytes
from email.header import decode_header, make_header
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from arrears_local.runtime import HttpReply, LocalRuntime

ARTEFACTS_PREFIX = "/_local/artefacts/"
SES_EVENTS = ("Delivery", "Bounce", "Complaint")
BOUNCE_TYPES = ("Permanent", "Transient", "Undetermined")
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


def reply(status: int, body: dict[str, Any]) -> HttpReply:
    return HttpReply(status, {"content-type": "application/json"}, json.dumps(body))


def error(status: int, code: str, message: str, **extra: Any) -> HttpReply:
    return reply(status, {"error": code, "message": message, **extra})


def wall_now() -> datetime:
    """The real time, also while the local engine has moved this process's clock (time-machine)."""
    import time_machine

    if time_machine.escape_hatch.is_travelling():
        return datetime.fromtimestamp(time_machine.escape_hatch.time.time(), timezone.utc)
    return datetime.now(timezone.utc)


# --- artefacts ---------------------------------------------------------------------------------------
def base_url(headers: dict[str, str], fallback: str) -> str:
    """http://host:port as the client reached this server (its Host header), else `fallback`."""
    host = next((value for name, value in headers.items() if name.lower() == "host"), "")
    return f"http://{host}" if _HOST.match(host or "") else fallback


def local_links(answer: HttpReply, base: str) -> HttpReply:
    """The finance API's presigned S3 links, pointed at this server's artefact route instead."""
    body = answer.body
    if not isinstance(body, str) or ('"download_url"' not in body and '"result_url"' not in body):
        return answer
    try:
        document = json.loads(body)
    except ValueError:
        return answer
    if not _rewrite_links(document, base):
        return answer
    return HttpReply(answer.status_code, answer.headers, json.dumps(document))


def _rewrite_links(node: Any, base: str) -> bool:
    changed = False
    if isinstance(node, dict):
        uri = node.get("uri")
        if node.get("download_url") and isinstance(uri, str) and uri.startswith("s3://"):
            node["download_url"] = base + ARTEFACTS_PREFIX + quote(uri.removeprefix("s3://"))
            changed = True
        # A dry-run job's result: a presigned virtual-hosted link (https://{bucket}.s3.{region}.amazonaws.com/{key}?...).
        link = urlsplit(node["result_url"]) if isinstance(node.get("result_url"), str) else None
        if link and link.hostname and ".s3." in link.hostname:
            node["result_url"] = base + ARTEFACTS_PREFIX + quote(link.hostname.partition(".s3.")[0]) + link.path
            changed = True
        for value in node.values():
            changed = _rewrite_links(value, base) or changed
    elif isinstance(node, list):
        for value in node:
            changed = _rewrite_links(value, base) or changed
    return changed


def artefact(runtime: LocalRuntime, path: str) -> HttpReply:
    """GET /_local/artefacts/{bucket}/{key}: only the bucket the finance API links into (emails, letters)."""
    bucket, _, key = unquote(path.removeprefix(ARTEFACTS_PREFIX)).partition("/")
    if bucket != runtime.letters_bucket or not key:
        return error(404, "unknown_artefact", f"no artefact {bucket}/{key}: links point into {runtime.letters_bucket}")
    s3 = runtime.client("s3")
    try:
        stored = s3.get_object(Bucket=bucket, Key=key)
    except s3.exceptions.NoSuchKey:
        return error(404, "unknown_artefact", f"no artefact {key} in {bucket}")
    filename = key.rpartition("/")[2].replace('"', "")
    return HttpReply(200, {"content-type": stored.get("ContentType") or "application/octet-stream",
                           "content-disposition": f'inline; filename="{filename}"'}, stored["Body"].read())


# --- SES ---------------------------------------------------------------------------------------------
def sent_emails(runtime: LocalRuntime) -> HttpReply:
    """GET /_local/emails: every message SES accepted, oldest first."""
    emails = []
    for sent in runtime.sent_emails():
        raw = sent.raw_data.encode() if isinstance(sent.raw_data, str) else sent.raw_data
        headers = message_from_bytes(raw)
        emails.append({"message_id": sent.id, "from": sent.source, "to": _header(headers, "To"),
                       "subject": _header(headers, "Subject"),
                       "reference": headers.get("X-Arrears-Reference")})
    return reply(200, {"emails": emails})


def _header(message: Any, name: str) -> str:
    return str(make_header(decode_header(message.get(name, ""))))


def ses_event(runtime: LocalRuntime, body: bytes) -> HttpReply:
    """POST /_local/ses-events {"message_id" | "invoice_id" [+ "step_id"], "event", "bounce_type"?}."""
    request, refused = _json_object(body)
    if refused:
        return refused
    event = str(request.get("event", "")).capitalize()
    if event not in SES_EVENTS:
        return error(422, "invalid_request", f"event is one of {', '.join(SES_EVENTS)}")
    bounce_type = str(request.get("bounce_type", "Permanent")).capitalize()
    if bounce_type not in BOUNCE_TYPES:
        return error(422, "invalid_request", f"bounce_type is one of {', '.join(BOUNCE_TYPES)}")
    message_id = request.get("message_id")
    if message_id is None and isinstance(request.get("invoice_id"), str):
        message_id = _message_of(runtime, request["invoice_id"], request.get("step_id"))
        if message_id is None:
            return error(404, "unknown_message", f"invoice {request['invoice_id']} has no email"
                         + (f" for step {request['step_id']}" if request.get("step_id") else ""))
    if not isinstance(message_id, str) or not message_id:
        return error(422, "invalid_request", "name the email: message_id (GET /_local/emails), or invoice_id and step_id")
    if not any(sent.id == message_id for sent in runtime.sent_emails()):
        return error(404, "unknown_message", f"SES sent no message {message_id}")
    runtime.ses_notify(message_id, event, bounce_type=bounce_type)
    return reply(200, {"message_id": message_id, "event": event, **({"bounce_type": bounce_type} if event == "Bounce" else {})})


def _message_of(runtime: LocalRuntime, invoice_id: str, step_id: Any) -> str | None:
    """The SES message id of the invoice's last email (for `step_id`, if given)."""
    from arrears.adapters.dynamo import DynamoStore

    emails = [e for e in DynamoStore(runtime.table_name).entries(invoice_id)
              if e.kind == "email" and e.message_id and (step_id is None or e.step_id == step_id)]
    return emails[-1].message_id if emails else None


def inbound_email(runtime: LocalRuntime, body: bytes) -> HttpReply:
    """POST /_local/inbound-email: the message as SES's receipt rule stores it, handled by the inbound function."""
    from arrears_local.cfn import UnsupportedTemplate

    if not body.strip():
        return error(422, "invalid_request", "the body is a raw RFC 822 message (headers, a blank line, the body)")
    try:
        key = runtime.receive_email(body)
    except UnsupportedTemplate as off:
        return error(409, "inbound_off", str(off))
    return reply(202, {"stored": key, "message": "handled by the inbound function: see GET /tasks and the invoice's timeline"})


# --- bulk import -------------------------------------------------------------------------------------
def bulk_import(runtime: LocalRuntime, body: bytes, filename: str) -> HttpReply:
    """POST /_local/import?name=FILE: the whole file checked, then applied at the runtime's now."""
    from arrears.ingestion.bulk_import import ImportFileError, apply_import, plan_import, read_records
    from arrears.adapters.dynamo import DynamoStore
    from arrears.adapters.step_functions import StepFunctionsWorkflows

    if not filename:
        return error(400, "invalid_request", "name the file: ?name=invoices.csv (.csv, .json or .jsonl)")
    now = runtime.now()
    try:
        plan = plan_import(read_records(body, filename), now)
    except ImportFileError as unreadable:
        return error(400, "unreadable_file", str(unreadable))
    if not plan.valid:
        rows = len({problem.row for problem in plan.problems})
        return error(422, "invalid_rows", f"{filename}: {rows} row(s) with problems; nothing was imported",
                     problems=[{"row": p.row, "field": p.field, "message": p.message} for p in plan.problems])
    store = DynamoStore(runtime.table_name)
    outcomes = apply_import(plan, store, store, StepFunctionsWorkflows(runtime.state_machine_arn), now)
    return reply(200, {"imported": len(plan.updates), "outcomes": dict(sorted(outcomes.items()))})


def _json_object(body: bytes) -> tuple[dict[str, Any], HttpReply | None]:
    try:
        value = json.loads(body or b"{}")
    except (ValueError, RecursionError):
        return {}, error(400, "invalid_json", "the body is not JSON")
    if not isinstance(value, dict):
        return {}, error(400, "invalid_json", "the body is a JSON object")
    return value, None
