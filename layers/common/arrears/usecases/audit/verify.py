"""Verifying an audit archive offline: every chain, every artefact, every manifest (pure, over a source port).

An auditor runs this on a copy of the audit bucket (a folder, an S3 URI, an
export zip) without trusting the system that wrote it. It names every problem:

- an entry that is missing (a gap in an invoice's chain, or listed by a manifest
  but nowhere in the archive), altered (its content no longer hashes to its
  `hash`, or it differs from the manifest's record of it), out of order
  (archived after a later entry of the same invoice), archived twice, or not
  linked to the entry before it (`prev_hash`);
- an artefact (email, letter, referral package) that is missing or whose bytes
  no longer hash to the SHA-256 its entry records;
- a contact-log object that a manifest lists but is missing, whose bytes differ
  from the manifest's SHA-256, or that no manifest lists; a deleted object (S3).

Archive order is the order the stream delivered entries: objects by the stream
sequence number in their name, lines in order. One invoice's entries are written
in sequence, so its entries appear in archive order with increasing `seq`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Protocol

from arrears.domain.hash_chain import GENESIS_HASH, compute_hash
from arrears.usecases.audit.manifest import (
    ARCHIVE_PREFIX,
    ARTEFACT_LABELS,
    ARTEFACT_PREFIX,
    MANIFEST_PREFIX,
    artefact_key,
    artefact_source_key,
    manifest_key_for,
    parse_manifest_key,
    parse_object_key,
    sha256_hex,
    short,
)

EXPORT_MANIFEST = "export.json"
EXPORT_FORMAT = "arrears.usecases.audit.export/1"
_REQUIRED = ("invoice_id", "seq", "at", "prev_hash", "hash")


class ArchiveSource(Protocol):
    """Read access to a copy of the audit archive, keys relative to its root."""

    description: str

    def keys(self) -> list[str]: ...

    def read(self, key: str) -> bytes | None: ...

    def deleted_keys(self) -> list[str]:
        """Keys whose newest version is a delete marker (only a versioned bucket knows); [] elsewhere."""
        ...


@dataclass(frozen=True)
class Problem:
    kind: str  # missing_entry | altered_entry | reordered_entries | duplicate_entry | broken_link | misfiled_entry |
    #            missing_artefact | altered_artefact | unreferenced_artefact | missing_object | altered_object |
    #            unlisted_object | deleted_object | unexpected_object | bad_manifest | bad_export | empty_archive
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class ArchivedLine:
    key: str  # the contact-log object holding it
    line_no: int  # 1-based
    raw: bytes
    data: dict[str, Any] | None  # None when the line is not a JSON object

    @property
    def where(self) -> str:
        return f"{self.key} line {self.line_no}"


@dataclass
class LoadedArchive:
    keys: set[str]
    objects: dict[str, bytes]  # contact-log key -> bytes, in archive order
    lines: list[ArchivedLine]  # every line of every object, in archive order
    manifests: dict[str, dict[str, Any] | None]  # manifest key -> parsed (None: unreadable)
    export: dict[str, Any] | None
    problems: list[Problem] = field(default_factory=list)


@dataclass
class Report:
    source: str
    problems: list[Problem]
    invoices: int = 0
    entries: int = 0
    objects: int = 0
    manifests: int = 0
    artefacts: int = 0
    first_date: str | None = None
    last_date: str | None = None
    export: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        span = f", {self.first_date} to {self.last_date}" if self.first_date else ""
        kind = "export" if self.export else "archive"
        return (f"{kind} {self.source}: {_count(self.invoices, 'invoice')}, {_count(self.entries, 'entry', 'entries')} in "
                f"{_count(self.objects, 'object')}, {_count(self.manifests, 'manifest')}, "
                f"{_count(self.artefacts, 'artefact')} checked{span}")


def _count(number: int, singular: str, plural: str | None = None) -> str:
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


def object_order(key: str) -> tuple[int, str]:
    parsed = parse_object_key(key)
    return (parsed[1] if parsed else 0, key)


def load_archive(source: ArchiveSource) -> LoadedArchive:
    keys = set(source.keys())
    problems: list[Problem] = []
    for key in sorted(source.deleted_keys()):
        problems.append(Problem("deleted_object", f"object {key} was deleted (a delete marker hides it; "
                                                  "its earlier versions are still in the bucket)"))
    object_keys, manifest_keys = [], []
    for key in sorted(keys):
        if key.startswith(f"{ARCHIVE_PREFIX}/") and parse_object_key(key):
            object_keys.append(key)
        elif key.startswith(f"{MANIFEST_PREFIX}/") and parse_manifest_key(key):
            manifest_keys.append(key)
        elif key.startswith((f"{ARCHIVE_PREFIX}/", f"{MANIFEST_PREFIX}/")):
            problems.append(Problem("unexpected_object", f"object {key} does not belong in the archive (unexpected name)"))
    objects: dict[str, bytes] = {}
    lines: list[ArchivedLine] = []
    for key in sorted(object_keys, key=object_order):
        body = source.read(key) or b""
        objects[key] = body
        for number, raw in enumerate(body.splitlines(), start=1):
            lines.append(ArchivedLine(key, number, raw, _parse_line(raw)))
    manifests: dict[str, dict[str, Any] | None] = {}
    for key in manifest_keys:
        manifests[key] = _parse_json_object(source.read(key) or b"")
    export = None
    if EXPORT_MANIFEST in keys:
        export = _parse_json_object(source.read(EXPORT_MANIFEST) or b"")
        if export is None or export.get("format") != EXPORT_FORMAT:
            problems.append(Problem("bad_export", f"{EXPORT_MANIFEST} is not an Arrears export manifest ({EXPORT_FORMAT})"))
            export = {"invoices": {}}
    return LoadedArchive(keys, objects, lines, manifests, export, problems)


def verify_archive(source: ArchiveSource) -> Report:
    return verify_loaded(load_archive(source), source)


def verify_loaded(archive: LoadedArchive, source: ArchiveSource) -> Report:
    problems = list(archive.problems)
    if not archive.objects and not archive.manifests:
        problems.append(Problem("empty_archive", f"no contact-log objects in {source.description} "
                                                 f"(expected {ARCHIVE_PREFIX}/dt=YYYY-MM-DD/*.jsonl: is this the audit bucket?)"))
    listed = _check_manifests(archive, problems)
    by_invoice, entry_count = _check_lines(archive, problems)
    anchors = _export_anchors(archive, by_invoice, problems)
    for invoice_id in sorted(set(by_invoice) | set(listed)):
        _check_chain(invoice_id, by_invoice.get(invoice_id, []), listed.get(invoice_id, {}), anchors.get(invoice_id), problems)
    artefacts = _check_artefacts(archive, by_invoice, source, problems)
    dates = sorted(parse_object_key(key)[0] for key in archive.objects)  # type: ignore[index]
    return Report(
        source=source.description, problems=problems, invoices=len(by_invoice), entries=entry_count,
        objects=len(archive.objects), manifests=len(archive.manifests), artefacts=artefacts,
        first_date=dates[0] if dates else None, last_date=dates[-1] if dates else None, export=archive.export,
    )


# --- manifests ------------------------------------------------------------------------------
def _check_manifests(archive: LoadedArchive, problems: list[Problem]) -> dict[str, dict[int, tuple[str, str]]]:
    """Objects against manifests; returns every entry the manifests list: invoice -> seq -> (hash, manifest)."""
    listed: dict[str, dict[int, tuple[str, str]]] = {}
    covered: set[str] = set()
    for key, manifest in sorted(archive.manifests.items()):
        name = key.removeprefix(f"{MANIFEST_PREFIX}/")
        if manifest is None:
            problems.append(Problem("bad_manifest", f"manifest {name} is not valid JSON (altered)"))
            continue
        target = str(manifest.get("object", ""))
        if manifest_key_for(target) != key:
            problems.append(Problem("bad_manifest", f"manifest {name} names object {target}, which is not its own"))
            continue
        covered.add(target)
        for item in manifest.get("entries") or ():
            if isinstance(item, dict) and isinstance(item.get("seq"), int):
                listed.setdefault(str(item.get("invoice_id")), {}).setdefault(item["seq"], (str(item.get("hash")), name))
        body = archive.objects.get(target)
        if body is None:
            problems.append(Problem("missing_object", f"manifest {name} lists object {target} which is missing"))
            continue
        digest = sha256_hex(body)
        if digest != manifest.get("sha256"):
            lines = len(body.splitlines())
            counted = "" if lines == manifest.get("lines") else f"; {lines} lines, the manifest lists {manifest.get('lines')}"
            problems.append(Problem("altered_object", f"object {target} altered (sha256 {short(digest)}, manifest {name} "
                                                      f"records {short(str(manifest.get('sha256')))}{counted})"))
    for key in archive.objects:
        if key not in covered:
            problems.append(Problem("unlisted_object", f"object {key} is not listed in any manifest "
                                                       "(added, or its manifest part is missing)"))
    return listed


# --- entries and chains ---------------------------------------------------------------------
def _check_lines(archive: LoadedArchive, problems: list[Problem]) -> tuple[dict[str, list[ArchivedLine]], int]:
    by_invoice: dict[str, list[ArchivedLine]] = {}
    count = 0
    for line in archive.lines:
        data = line.data
        if data is None or not all(name in data for name in _REQUIRED) or not isinstance(data.get("seq"), int):
            guess = _guess(line.raw)
            problems.append(Problem("altered_entry", (f"invoice {guess[0]}: entry #{guess[1]} altered ({line.where} "
                                                      "is no longer a valid entry)") if guess
                                    else f"{line.where} is not a contact-log entry (altered)"))
            continue
        count += 1
        by_invoice.setdefault(str(data["invoice_id"]), []).append(line)
        date = parse_object_key(line.key)[0]  # type: ignore[index]
        if str(data["at"])[:10] != date:
            problems.append(Problem("misfiled_entry", f"invoice {data['invoice_id']}: entry #{data['seq']} is dated "
                                                      f"{str(data['at'])[:10]} but archived under dt={date} ({line.where})"))
    return by_invoice, count


def _check_chain(invoice_id: str, lines: list[ArchivedLine], listed_here: dict[int, tuple[str, str]],
                 anchor: tuple[int, str, int | None] | None, problems: list[Problem]) -> None:
    where = f"invoice {invoice_id}"
    seqs_in_order = [line.data["seq"] for line in lines]  # type: ignore[index]
    for earlier, later in zip(seqs_in_order, seqs_in_order[1:]):
        if later < earlier:
            problems.append(Problem("reordered_entries", f"{where}: entries #{later} and #{earlier} out of order "
                                                         f"(#{earlier} is archived before #{later})"))
    by_seq: dict[int, list[ArchivedLine]] = {}
    for line in lines:
        by_seq.setdefault(line.data["seq"], []).append(line)  # type: ignore[index]
    for seq, copies in sorted(by_seq.items()):
        if len(copies) > 1:
            same = len({c.data["hash"] for c in copies}) == 1 and len({c.raw for c in copies}) == 1  # type: ignore[index]
            places = "; ".join(c.where for c in copies)
            problems.append(Problem("duplicate_entry", f"{where}: entry #{seq} archived twice ({places})" if same
                                    else f"{where}: two different entries #{seq} ({places})"))
    start, start_prev, end = anchor if anchor else (1, GENESIS_HASH, None)
    last = max([*by_seq, *listed_here, *([end] if end else []), start - 1])
    missing = [seq for seq in range(start, last + 1) if seq not in by_seq]
    for first, final in _runs(missing):
        manifests = sorted({listed_here[s][1] for s in range(first, final + 1) if s in listed_here})
        note = f" (listed in manifest {', '.join(manifests)})" if manifests else ""
        label = f"entry #{first} missing" if first == final else f"entries #{first} to #{final} missing"
        problems.append(Problem("missing_entry", f"{where}: {label}{note}"))
    for seq, copies in sorted(by_seq.items()):
        data = copies[0].data or {}
        if seq < start:
            problems.append(Problem("bad_export", f"{where}: entry #{seq} precedes the export's first entry #{start}"))
            continue
        actual = compute_hash(data)
        if actual != data["hash"]:
            problems.append(Problem("altered_entry", f"{where}: entry #{seq} altered (hash mismatch: its content hashes to "
                                                     f"{short(actual)}, it records {short(str(data['hash']))}; "
                                                     f"{copies[0].where})"))
        elif seq in listed_here and listed_here[seq][0] != data["hash"]:
            problems.append(Problem("altered_entry", f"{where}: entry #{seq} altered (manifest {listed_here[seq][1]} "
                                                     f"records hash {short(listed_here[seq][0])}, the entry "
                                                     f"{short(str(data['hash']))})"))
        if seq == start:
            if data["prev_hash"] != start_prev:
                expected = "the genesis value" if start_prev == GENESIS_HASH else f"{short(start_prev)} (export.json)"
                problems.append(Problem("broken_link", f"{where}: entry #{seq} does not start the chain "
                                                       f"(prev_hash {short(str(data['prev_hash']))}, expected {expected})"))
        elif seq - 1 in by_seq and data["prev_hash"] != (by_seq[seq - 1][0].data or {}).get("hash"):
            problems.append(Problem("broken_link", f"{where}: entry #{seq} does not follow entry #{seq - 1} "
                                                   "(prev_hash mismatch)"))


def _export_anchors(archive: LoadedArchive, by_invoice: dict[str, list[ArchivedLine]],
                    problems: list[Problem]) -> dict[str, tuple[int, str, int | None]]:
    """In an export each invoice's chain starts where the period starts: export.json says where and on what."""
    if archive.export is None:
        return {}
    declared = archive.export.get("invoices") or {}
    anchors: dict[str, tuple[int, str, int | None]] = {}
    for invoice_id, span in declared.items():
        try:
            anchors[invoice_id] = (int(span["first_seq"]), str(span["prev_hash"]), int(span["last_seq"]))
        except (KeyError, TypeError, ValueError):
            problems.append(Problem("bad_export", f"{EXPORT_MANIFEST}: invoice {invoice_id} has no valid seq range"))
    for invoice_id in sorted(set(by_invoice) - set(declared)):
        problems.append(Problem("bad_export", f"invoice {invoice_id}: its entries are in the export but not in {EXPORT_MANIFEST}"))
    for invoice_id in sorted(set(anchors) - set(by_invoice)):
        first, _, final = anchors[invoice_id]
        problems.append(Problem("missing_entry", f"invoice {invoice_id}: entries #{first} to #{final} missing "
                                                 f"(declared in {EXPORT_MANIFEST})"))
    return {invoice_id: anchor for invoice_id, anchor in anchors.items() if invoice_id in by_invoice}


# --- artefacts ------------------------------------------------------------------------------
def _check_artefacts(archive: LoadedArchive, by_invoice: dict[str, list[ArchivedLine]], source: ArchiveSource,
                     problems: list[Problem]) -> int:
    named: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for lines in by_invoice.values():
        for line in lines:
            for artefact in (line.data or {}).get("artefacts") or ():
                if isinstance(artefact, dict) and "uri" in artefact:
                    named.setdefault(artefact_key(str(artefact["uri"])), (artefact, line.data or {}))
    for key, (artefact, entry) in sorted(named.items()):
        label = f"{ARTEFACT_LABELS.get(str(artefact.get('kind')), 'artefact')} {artefact_source_key(str(artefact['uri']))}"
        owner = f"invoice {entry.get('invoice_id')} entry #{entry.get('seq')}"
        body = source.read(key) if key in archive.keys else None
        if body is None:
            problems.append(Problem("missing_artefact", f"{label} missing from the archive ({key}, named by {owner})"))
            continue
        digest = sha256_hex(body)
        if digest != artefact.get("sha256"):
            problems.append(Problem("altered_artefact", f"{label} altered (sha256 {short(digest)}, {owner} records "
                                                        f"{short(str(artefact.get('sha256')))})"))
    for key in sorted(k for k in archive.keys if k.startswith(f"{ARTEFACT_PREFIX}/") and k not in named):
        problems.append(Problem("unreferenced_artefact", f"artefact {key} is named by no entry (added)"))
    return len(named)


# --- helpers --------------------------------------------------------------------------------
def _parse_json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _parse_line(raw: bytes) -> dict[str, Any] | None:
    return _parse_json_object(raw) if raw.strip() else None


def _guess(raw: bytes) -> tuple[str, int] | None:
    """Which entry a damaged line was, to name it."""
    text = raw.decode("utf-8", errors="replace")
    invoice = re.search(r'"invoice_id"\s*:\s*"([^"]+)"', text)
    seq = re.search(r'"seq"\s*:\s*(\d+)', text)
    return (invoice.group(1), int(seq.group(1))) if invoice and seq else None


def _runs(numbers: Iterable[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for number in numbers:
        if runs and runs[-1][1] == number - 1:
            runs[-1] = (runs[-1][0], number)
        else:
            runs.append((number, number))
    return runs
