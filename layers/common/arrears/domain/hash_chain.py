"""Hash chain of an invoice's contact log: pure functions, no I/O.

Each entry carries the SHA-256 of the entry before it (`prev_hash`, the genesis
value for the first) and its own hash over a canonical JSON form of every other
field. An edited, missing or reordered entry therefore breaks the chain, and an
auditor can check it offline with nothing but this module's rules.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Iterable

from arrears.domain.clock import to_iso_z
from arrears.domain.models import ContactEntry

GENESIS_HASH = "0" * 64


def canonical_json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def entry_to_dict(entry: ContactEntry) -> dict[str, Any]:
    """The archived form of an entry: plain JSON types, times as ISO Z."""
    data = entry.model_dump(mode="json")
    data["at"] = to_iso_z(entry.at)
    return data


def compute_hash(data: dict[str, Any]) -> str:
    body = {key: value for key, value in data.items() if key != "hash"}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def chain_entry(previous: ContactEntry | None, at: datetime, **fields: Any) -> ContactEntry:
    """The next entry after `previous` (None for an invoice's first entry)."""
    seq = previous.seq + 1 if previous else 1
    prev_hash = previous.hash if previous else GENESIS_HASH
    draft = ContactEntry(seq=seq, at=at, prev_hash=prev_hash, hash="", **fields)
    data = entry_to_dict(draft)
    return draft.model_copy(update={"hash": compute_hash(data)})


def verify_chain(entries: Iterable[dict[str, Any]]) -> list[str]:
    """Problems found in one invoice's entries (archived dicts, in seq order); empty when intact."""
    problems: list[str] = []
    expected_prev = GENESIS_HASH
    expected_seq = 1
    for data in entries:
        where = f"{data.get('invoice_id')} #{data.get('seq')}"
        if data.get("seq") != expected_seq:
            problems.append(f"{where}: expected entry #{expected_seq} (missing or reordered entry)")
        if data.get("prev_hash") != expected_prev:
            problems.append(f"{where}: prev_hash does not match the entry before it")
        if compute_hash(data) != data.get("hash"):
            problems.append(f"{where}: content does not match its hash (altered entry)")
        expected_prev = data.get("hash", "")
        expected_seq = (data.get("seq") or expected_seq) + 1
    return problems
