"""`arrears audit export`: a zip an auditor can take away, for a period and optionally one customer.

The zip has the audit bucket's own layout (contact-log/, manifests/, artefacts/),
restricted to the period's entries (and the customer's), with manifest parts
rebuilt for the restricted objects, plus `export.json` (what was exported and
where each invoice's chain starts) and a README explaining the format. The same
`verify` checks a zip, a folder or the bucket.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from arrears.usecases.audit.manifest import artefact_key, build_manifest, manifest_bytes, manifest_key_for, parse_object_key
from arrears.usecases.audit.verify import EXPORT_FORMAT, EXPORT_MANIFEST, ArchiveSource, Report, load_archive, verify_loaded


class ExportRefused(Exception):
    """The source archive has problems: exporting it would hand the auditor a package that hides them."""

    def __init__(self, report: Report) -> None:
        super().__init__(f"{len(report.problems)} problem(s) in {report.source}")
        self.report = report


@dataclass(frozen=True)
class Export:
    content: bytes  # the zip
    invoices: int
    entries: int
    artefacts: int
    manifest: dict[str, Any]


def build_export(source: ArchiveSource, date_from: date, date_to: date, customer_id: str | None, exported_at: datetime,
                 allow_problems: bool = False) -> Export:
    """The zip of the period [date_from, date_to] (dates of the entries, UTC), optionally one customer's only."""
    if date_to < date_from:
        raise ValueError(f"--to {date_to} is before --from {date_from}")
    archive = load_archive(source)
    report = verify_loaded(archive, source)
    if report.problems and not allow_problems:
        raise ExportRefused(report)
    files: dict[str, bytes] = {}
    invoices: dict[str, dict[str, Any]] = {}
    entry_count = 0
    lines_by_key: dict[str, list] = {}
    for line in archive.lines:
        lines_by_key.setdefault(line.key, []).append(line)
    for key in archive.objects:
        day = parse_object_key(key)[0]  # type: ignore[index]
        if not date_from.isoformat() <= day <= date_to.isoformat():
            continue
        kept = [line for line in lines_by_key.get(key, [])
                if line.data is not None and (customer_id is None or line.data.get("customer_id") == customer_id)]
        if not kept:
            continue
        body = b"".join(line.raw + b"\n" for line in kept)
        files[key] = body
        files[manifest_key_for(key)] = manifest_bytes(build_manifest(key, body, [line.data for line in kept]))
        for line in kept:
            entry = line.data
            entry_count += 1
            span = invoices.setdefault(entry["invoice_id"], {"customer_id": entry.get("customer_id"), "entries": 0,
                                                             "first_seq": entry["seq"], "last_seq": entry["seq"],
                                                             "prev_hash": entry["prev_hash"]})
            span["entries"] += 1
            span["last_seq"] = max(span["last_seq"], entry["seq"])
            if entry["seq"] < span["first_seq"]:
                span["first_seq"], span["prev_hash"] = entry["seq"], entry["prev_hash"]
            for artefact in entry.get("artefacts") or ():
                target = artefact_key(artefact["uri"])
                if target not in files:
                    content = source.read(target)
                    if content is not None:  # a missing one is a problem verify reported (allow_problems)
                        files[target] = content
    if not invoices:
        scope = f" for customer {customer_id}" if customer_id else ""
        raise ValueError(f"no contact-log entries dated {date_from} to {date_to}{scope} in {source.description}")
    artefacts = sum(1 for key in files if key.startswith("artefacts/"))
    manifest = {
        "format": EXPORT_FORMAT,
        "from": date_from.isoformat(), "to": date_to.isoformat(), "customer_id": customer_id,
        "source": source.description, "exported_at": exported_at.isoformat(),
        "source_verified": {"problems": len(report.problems), "summary": report.summary()},
        "counts": {"invoices": len(invoices), "entries": entry_count, "artefacts": artefacts},
        "invoices": dict(sorted(invoices.items())),
    }
    files[EXPORT_MANIFEST] = (json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode()
    files["README.md"] = export_readme(manifest).encode()
    buffer = io.BytesIO()
    stamp = exported_at.timetuple()[:6]
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=stamp)  # type: ignore[arg-type]
            info.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(info, files[name])
    return Export(buffer.getvalue(), len(invoices), entry_count, artefacts, manifest)


def export_readme(manifest: dict[str, Any]) -> str:
    scope = f"customer {manifest['customer_id']}" if manifest.get("customer_id") else "every customer"
    counts = manifest["counts"]
    found = manifest["source_verified"]["problems"]
    verified = ("The source archive verified clean (`arrears audit verify`) before export." if not found else
                f"**`arrears audit verify` found {found} problem(s) in the source archive**; it was exported anyway "
                "(`--allow-problems`).")
    return _README.format(verified=verified, 
        period_from=manifest["from"], period_to=manifest["to"], scope=scope, source=manifest["source"],
        exported_at=manifest["exported_at"], invoices=counts["invoices"], entries=counts["entries"],
        artefacts=counts["artefacts"],
    )


_README = """\
# Arrears audit export

Contact-log entries dated {period_from} to {period_to} (UTC, inclusive) for {scope},
exported from `{source}` at {exported_at}: {invoices} invoices, {entries} entries,
{artefacts} artefacts. {verified}

Every event of a collection is one immutable contact-log entry: emails, letters,
call tasks, referrals, payments, voids, write-offs, holds, manual actions, workflow
failures, and the delivery / bounce / complaint notifications SES sends about each
email. Each entry is hash-chained to the entry before it for the same invoice.

## Check it

    arrears audit verify {{this zip, or the folder it is unpacked to}}

exits 0 and prints a summary when everything below holds, and otherwise names
each problem (a missing, altered or reordered entry, an altered letter, ...).
Nothing in this package has to be trusted: the rules below are enough to check it
with any tool.

## Layout

| path | what it is |
| --- | --- |
| `contact-log/dt=YYYY-MM-DD/<n>.jsonl` | entries, one JSON object a line, partitioned by the entry's date; `<n>` is the DynamoDB stream sequence number of the object's first entry in the original archive |
| `manifests/dt=YYYY-MM-DD/<n>.json` | the manifest part of the object with the same name; the day's manifest is every part of that date |
| `artefacts/<kind>/<invoice>/<file>` | the emails (`.eml`, as sent to SES), demand letters (`.pdf`) and referral packages (`.zip`) the entries name |
| `export.json` | what was exported, and where each invoice's chain starts in this package |
| `README.md` | this file |

Archive order is objects by `<n>` (numerically), then lines in order; within
one invoice it follows `seq`.

## An entry

| field | meaning |
| --- | --- |
| `invoice_id`, `customer_id` | the billing platform's ids |
| `seq` | 1, 2, 3, ... per invoice, no gaps |
| `at` | when it was recorded (ISO 8601, UTC, `Z`) |
| `kind` | billing: `invoice_opened`, `invoice_updated`, `partial_payment`, `payment_failed`, `payment`, `voided`, `marked_uncollectible`; workflow: `collection_started`, `step_skipped`, `contact_deferred`, `email`, `letter`, `call_task`, `referral`, `manual_task`, `contact_blocked`, `escalated`, `insolvency`, `collection_closed`, `workflow_failed`; finance team: `hold_placed`, `hold_released`, `note`, `written_off`, `customer_updated`, `task_done`; SES: `email_delivered`, `email_bounced`, `email_complained`; debtors' replies: `reply_received`, `auto_reply_received`, `reply_pause_ended` (a message matched to no invoice is logged under the `invoice_id` `-unmatched`, with an empty `customer_id`) |
| `actor` | who or what acted: `arrears-workflow`, `stripe webhook evt_...`, `amazon-ses`, a person |
| `channel`, `step_id`, `stage`, `template` | how the debtor was contacted and which policy step it was |
| `policy_id`, `policy_version` | the collections policy (version) the invoice is pinned to |
| `recipient`, `subject`, `message_id` | the addressee, the email's subject, the SES message id (delivery, bounce and complaint entries carry the id of the email they concern) |
| `artefacts` | `kind` (`email`, `letter`, `referral_package`, `reply`: a received message as it came, `reply_attachment`, ...), `uri` (where Arrears stored it), `sha256` (of its bytes), `content_type` |
| `details` | the rest: balance, deadline, interest and how it was calculated, bounce type, ... |
| `prev_hash` | `hash` of the invoice's previous entry; 64 zeros for `seq` 1 |
| `hash` | SHA-256 (hex) of the entry without its `hash` field, serialised as canonical JSON: keys sorted, separators `,` and `:` with no spaces, UTF-8, non-ASCII characters unescaped |

In Python: `hashlib.sha256(json.dumps({{k: v for k, v in entry.items() if k != "hash"}},
sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()`.

## A manifest part

`format` (`arrears.usecases.audit.manifest/1`), `date`, `object` (its key), `sha256`,
`bytes` and `lines` of the object, `entries` (`invoice_id`, `seq`, `hash` of each
line, in order), `invoices` (the `first_seq`..`last_seq` each invoice has in the
object) and `artefacts` (`key`, `sha256` of each artefact its entries name).

## What verify checks

1. Every object's SHA-256 equals its manifest part's; every manifest part's object
   exists; every object has a manifest part.
2. Per invoice, entries in archive order have increasing `seq`; `seq` runs without
   gaps from the first entry (1 in the bucket; `first_seq` of `export.json` here)
   to the last one listed anywhere (`last_seq` here); no `seq` appears twice.
3. Every entry's `hash` is the hash of its content and matches its manifest line;
   each entry's `prev_hash` is the previous entry's `hash` (the first one's is 64
   zeros in the bucket, `prev_hash` of `export.json` here).
4. Every artefact an entry names is in `artefacts/` and hashes to the entry's `sha256`.

## Limits

An export covers its period: the first entry of each invoice links to an entry
outside it (`export.json` records that link), so a chain is checked from there.
Deleting the newest entries of an invoice together with their manifest parts is
visible only against the bucket itself, whose Object Lock keeps every version
(and `verify s3://...` reports delete markers).

## Querying the bucket

The stack's Glue table (output `AuditDatabaseName`, table `contact_log`) reads
`contact-log/` with Athena in the stack's audit workgroup, partitioned by `dt`:

    SELECT at, kind, actor, step_id, message_id FROM contact_log
    WHERE dt BETWEEN '{period_from}' AND '{period_to}' AND invoice_id = 'in_...' ORDER BY seq;
"""
