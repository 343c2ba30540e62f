"""The audit archive's layout and its manifests: pure functions, no I/O.

The audit bucket (and any copy of it: a folder, an export zip) holds

    contact-log/dt=YYYY-MM-DD/<stream seq no>.jsonl   contact-log entries, one JSON object a line
    manifests/dt=YYYY-MM-DD/<stream seq no>.json      one manifest part per contact-log object
    artefacts/<key in the letters bucket>             the emails, letters and referral packages

A contact-log object and its manifest part share their name: the stream sequence
number of the object's first entry. The day's manifest is the set of parts under
`manifests/dt=DATE/`; each part names its object, the object's SHA-256, byte and
line counts, every entry it holds (invoice, seq, entry hash) in order, and the
artefacts those entries name. A part is written right after its object, by the
same batch run, so a retried run rewrites both with the same name and the
manifest never lists an entry twice.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

ARCHIVE_PREFIX = "contact-log"
MANIFEST_PREFIX = "manifests"
ARTEFACT_PREFIX = "artefacts"
MANIFEST_FORMAT = "arrears.usecases.audit.manifest/1"

_OBJECT_KEY = re.compile(rf"^{ARCHIVE_PREFIX}/dt=(\d{{4}}-\d{{2}}-\d{{2}})/(\d+)\.jsonl$")
_MANIFEST_KEY = re.compile(rf"^{MANIFEST_PREFIX}/dt=(\d{{4}}-\d{{2}}-\d{{2}})/(\d+)\.json$")
ARTEFACT_LABELS = {"email": "email", "letter": "letter", "referral_package": "referral package"}


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def object_key(date: str, first_sequence_number: str) -> str:
    return f"{ARCHIVE_PREFIX}/dt={date}/{first_sequence_number}.jsonl"


def manifest_key(date: str, first_sequence_number: str) -> str:
    return f"{MANIFEST_PREFIX}/dt={date}/{first_sequence_number}.json"


def parse_object_key(key: str) -> tuple[str, int] | None:
    """(date, first stream sequence number) of a contact-log object key, None for any other key."""
    match = _OBJECT_KEY.match(key)
    return (match.group(1), int(match.group(2))) if match else None


def parse_manifest_key(key: str) -> tuple[str, int] | None:
    match = _MANIFEST_KEY.match(key)
    return (match.group(1), int(match.group(2))) if match else None


def manifest_key_for(object_key_: str) -> str:
    date, _ = parse_object_key(object_key_) or ("", 0)
    return manifest_key(date, object_key_.rsplit("/", 1)[-1].removesuffix(".jsonl"))


def artefact_source_key(uri: str) -> str:
    """The key inside the letters bucket: s3://letters/letters/in_1/formal_notice.pdf -> letters/in_1/formal_notice.pdf."""
    return uri.removeprefix("s3://").partition("/")[2] if uri.startswith("s3://") else uri.lstrip("/")


def artefact_key(uri: str) -> str:
    """Where the audit archive keeps the copy of an artefact."""
    return f"{ARTEFACT_PREFIX}/{artefact_source_key(uri)}"


def short(digest: str) -> str:
    return f"{digest[:12]}…" if len(digest) > 12 else digest


def build_manifest(key: str, body: bytes, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The manifest part of one contact-log object (its entries as parsed from `body`, in order)."""
    date, _ = parse_object_key(key) or ("", 0)
    invoices: dict[str, dict[str, int]] = {}
    artefacts: dict[str, str] = {}
    for entry in entries:
        seq = int(entry.get("seq") or 0)
        span = invoices.setdefault(str(entry.get("invoice_id")), {"first_seq": seq, "last_seq": seq})
        span["first_seq"], span["last_seq"] = min(span["first_seq"], seq), max(span["last_seq"], seq)
        for artefact in entry.get("artefacts") or ():
            artefacts[artefact_key(artefact["uri"])] = artefact["sha256"]
    return {
        "format": MANIFEST_FORMAT,
        "date": date,
        "object": key,
        "sha256": sha256_hex(body),
        "bytes": len(body),
        "lines": len(entries),
        "entries": [{"invoice_id": e.get("invoice_id"), "seq": e.get("seq"), "hash": e.get("hash")} for e in entries],
        "invoices": invoices,
        "artefacts": [{"key": k, "sha256": v} for k, v in sorted(artefacts.items())],
    }


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    """Stable bytes: a retried run writes the very same manifest."""
    return (json.dumps(manifest, sort_keys=True, ensure_ascii=False, indent=1) + "\n").encode()
