"""Verifying and exporting the audit archive, on hand-made archives written exactly as the audit function writes them."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import pytest

from arrears.usecases.audit.archive import StreamedEntry, archive_batch
from arrears.usecases.audit.export import ExportRefused, build_export
from arrears.usecases.audit.manifest import manifest_key_for, sha256_hex
from arrears.adapters.audit_sources import MemorySource, ZipSource
from arrears.usecases.audit.verify import verify_archive
from arrears.adapters.memory import MemoryArtefacts, MemoryStore

LETTERS_BUCKET = "arrears-prod-lettersbucket-1x2y3z"
BERLIN = ("in_1QAbCdEfGhIjKlMn", "cus_QhK2pT5wQm7Yz2", "buchhaltung@mueller-soehne.example")
MANCHESTER = ("in_1QZyXwVuTsRqPoNm", "cus_QhK2mN8vLp4Rt1", "ap@brightwater-logistics.example")
LETTER_KEY = f"artefacts/letters/{BERLIN[0]}/formal_notice.pdf"
EXPORTED_AT = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


@dataclass
class Book:
    bucket: dict[str, bytes]  # the audit bucket, key -> bytes
    entries: list  # every ContactEntry, in stream order

    def source(self) -> MemorySource:
        return MemorySource(self.bucket, "s3://arrears-prod-auditbucket-9k8j7h/")

    def key_of(self, invoice_id: str, seq: int) -> str:
        for key, body in self.bucket.items():
            if key.startswith("contact-log/") and any(json.loads(line)["invoice_id"] == invoice_id and json.loads(line)["seq"] == seq
                                                      for line in body.splitlines()):
                return key
        raise KeyError((invoice_id, seq))


def make_book() -> Book:
    """Two invoices collected over two months, archived in four stream batches (one retried after a failure)."""
    store, letters = MemoryStore(), MemoryArtefacts(LETTERS_BUCKET)
    day = datetime(2026, 9, 1, 9, 0, tzinfo=timezone.utc)

    def email(invoice, step, subject, at, extra=()):
        eml = letters.put(f"emails/{invoice[0]}/{step}.eml", f"Subject: {subject}\r\n\r\nDear customer, ...".encode(),
                          "message/rfc822", "email")
        return dict(kind="letter" if extra else "email", actor="arrears-workflow", channel="email", step_id=step,
                    template=step, policy_id="default", policy_version=1, recipient=invoice[2], subject=subject,
                    message_id=f"0100019{step[:4]}-{invoice[0][-6:]}", artefacts=(*extra, eml),
                    details={"balance": 125_000, "currency": "EUR"})

    timeline = [
        (BERLIN, day, dict(kind="invoice_opened", actor="stripe webhook evt_1QAbC", details={"event_type": "invoice.finalized"})),
        (BERLIN, day, dict(kind="collection_started", actor="arrears-workflow", policy_id="default", policy_version=1)),
        (MANCHESTER, day + timedelta(hours=2), dict(kind="invoice_opened", actor="stripe webhook evt_1QZyX")),
        (BERLIN, day + timedelta(days=30), email(BERLIN, "due_notice", "Invoice NW-2026-0042 is due today", day)),
        (MANCHESTER, day + timedelta(days=31), dict(kind="payment", actor="stripe webhook evt_1QZyY", details={"amount": 98_000})),
        (BERLIN, day + timedelta(days=37), email(BERLIN, "overdue_7", "Reminder: invoice NW-2026-0042 is overdue", day)),
        (BERLIN, day + timedelta(days=60), email(BERLIN, "formal_notice", "Formal notice: invoice NW-2026-0042", day, extra=(
            letters.put(f"letters/{BERLIN[0]}/formal_notice.pdf", b"%PDF-1.7\n% demand letter for NW-2026-0042\n%%EOF\n",
                        "application/pdf", "letter"),))),
        (BERLIN, day + timedelta(days=60, minutes=3), dict(kind="email_bounced", actor="amazon-ses", channel="email",
                                                           message_id="0100019form-hIjKlMn", details={"bounce_type": "Permanent"})),
    ]
    streamed = []
    for number, (invoice, at, fields) in enumerate(timeline, start=1):
        entry = store.append(invoice[0], invoice[1], at, **fields)
        streamed.append(StreamedEntry(f"49500000000000000000{number:04d}", entry.model_dump_json()))
    bucket: dict[str, bytes] = {}

    def copy_artefact(uri: str, key: str) -> str:
        bucket[key] = letters.get(uri)
        return sha256_hex(bucket[key])

    for batch in (streamed[0:3], streamed[3:5], streamed[5:7], streamed[7:]):
        assert archive_batch(batch, bucket.__setitem__, copy_artefact).failed == []
    return Book(bucket, [entry for log in store.logs.values() for entry in log])


def problems(book: Book) -> list[str]:
    return [problem.message for problem in verify_archive(book.source()).problems]


def lines_of(book: Book, key: str) -> list[bytes]:
    return book.bucket[key].splitlines()


def write_lines(book: Book, key: str, lines: list[bytes]) -> None:
    book.bucket[key] = b"".join(line + b"\n" for line in lines)


# --- a clean archive ------------------------------------------------------------------------
def test_an_intact_archive_verifies_and_says_what_it_checked():
    book = make_book()
    report = verify_archive(book.source())
    assert report.problems == []
    assert (report.invoices, report.entries, report.objects, report.manifests) == (2, 8, 6, 6)
    assert report.artefacts == 4  # three emails and the demand letter
    assert report.summary().endswith("4 artefacts checked, 2026-09-01 to 2026-10-31")


def test_a_manifest_part_lists_its_object_hash_entries_and_artefacts():
    book = make_book()
    key = book.key_of(BERLIN[0], 5)  # the formal notice: its email and its demand letter
    manifest = json.loads(book.bucket[manifest_key_for(key)])
    assert manifest["object"] == key and manifest["sha256"] == sha256_hex(book.bucket[key])
    assert manifest["date"] == "2026-10-31" and manifest["lines"] == len(lines_of(book, key)) == 1
    assert manifest["entries"] == [{"invoice_id": BERLIN[0], "seq": 5, "hash": book.entries[4].hash}]
    assert manifest["invoices"] == {BERLIN[0]: {"first_seq": 5, "last_seq": 5}}
    assert {"key": LETTER_KEY, "sha256": sha256_hex(book.bucket[LETTER_KEY])} in manifest["artefacts"]


# --- tampering, each named precisely --------------------------------------------------------
def test_changing_one_byte_of_an_entry_names_the_entry_altered():
    book = make_book()
    key = book.key_of(BERLIN[0], 3)
    line = lines_of(book, key)[0]
    write_lines(book, key, [line.replace(b"is due today", b"is due todaY")])
    found = problems(book)
    assert any(p.startswith(f"invoice {BERLIN[0]}: entry #3 altered (hash mismatch") for p in found), found
    assert any(p.startswith(f"object {key} altered (sha256") for p in found), found


def test_a_deleted_entry_is_named_missing():
    book = make_book()
    key = book.key_of(BERLIN[0], 2)
    write_lines(book, key, [line for line in lines_of(book, key) if json.loads(line)["seq"] != 2])
    found = problems(book)
    assert any(p.startswith(f"invoice {BERLIN[0]}: entry #2 missing (listed in manifest dt=2026-09-01/") for p in found), found


def test_deleting_an_invoices_newest_entry_is_caught_by_the_manifest():
    # The chain alone cannot see a missing tail; the manifest part still lists the entry.
    book = make_book()
    key = book.key_of(BERLIN[0], 6)
    write_lines(book, key, [])
    found = problems(book)
    assert any(p.startswith(f"invoice {BERLIN[0]}: entry #6 missing (listed in manifest") for p in found), found


def test_swapped_entries_are_named_out_of_order():
    book = make_book()
    key = book.key_of(BERLIN[0], 1)  # the first batch: Berlin #1, Berlin #2, Manchester #1
    first, second, third = lines_of(book, key)
    write_lines(book, key, [second, first, third])
    found = problems(book)
    assert f"invoice {BERLIN[0]}: entries #1 and #2 out of order (#2 is archived before #1)" in found
    assert any(p.startswith(f"object {key} altered") for p in found)


def test_an_altered_letter_is_named_with_both_hashes():
    book = make_book()
    pdf = bytearray(book.bucket[LETTER_KEY])
    pdf[20] ^= 0x01
    book.bucket[LETTER_KEY] = bytes(pdf)
    found = problems(book)
    assert len(found) == 1
    assert found[0].startswith(f"letter letters/{BERLIN[0]}/formal_notice.pdf altered (sha256 {sha256_hex(bytes(pdf))[:12]}")
    assert f"invoice {BERLIN[0]} entry #5 records" in found[0]


def test_a_missing_email_copy_is_named():
    book = make_book()
    del book.bucket[f"artefacts/emails/{BERLIN[0]}/overdue_7.eml"]
    assert problems(book) == [f"email emails/{BERLIN[0]}/overdue_7.eml missing from the archive "
                              f"(artefacts/emails/{BERLIN[0]}/overdue_7.eml, named by invoice {BERLIN[0]} entry #4)"]


def test_a_deleted_object_is_named_by_its_manifest_and_its_entries_missing():
    book = make_book()
    key = book.key_of(MANCHESTER[0], 2)
    del book.bucket[key]
    found = problems(book)
    name = manifest_key_for(key).removeprefix("manifests/")
    assert f"manifest {name} lists object {key} which is missing" in found
    assert any(p.startswith(f"invoice {MANCHESTER[0]}: entry #2 missing (listed in manifest {name})") for p in found)


def test_an_added_object_is_named_and_its_copied_entry_archived_twice():
    book = make_book()
    original = book.key_of(MANCHESTER[0], 2)
    forged = original.replace(original.rsplit("/", 1)[1], "495000000000000000000999.jsonl")
    book.bucket[forged] = [line + b"\n" for line in lines_of(book, original) if MANCHESTER[0].encode() in line][0]
    found = problems(book)
    assert f"object {forged} is not listed in any manifest (added, or its manifest part is missing)" in found
    assert any(p.startswith(f"invoice {MANCHESTER[0]}: entry #2 archived twice") for p in found)


def test_an_entry_rewritten_with_a_fresh_hash_breaks_the_link_to_the_next():
    from arrears.domain.hash_chain import compute_hash

    book = make_book()
    key = book.key_of(BERLIN[0], 3)
    entry = json.loads(lines_of(book, key)[0])
    entry["details"]["balance"] = 12_500  # a forger who knows the hashing rule
    entry["hash"] = compute_hash(entry)
    write_lines(book, key, [json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()])
    found = problems(book)
    assert f"invoice {BERLIN[0]}: entry #4 does not follow entry #3 (prev_hash mismatch)" in found
    assert any(p.startswith(f"invoice {BERLIN[0]}: entry #3 altered (manifest dt=2026-10-01/") for p in found), found


def test_a_damaged_line_still_names_its_entry():
    book = make_book()
    key = book.key_of(MANCHESTER[0], 2)
    lines = lines_of(book, key)
    write_lines(book, key, [line[:-1] if MANCHESTER[0].encode() in line else line for line in lines])
    found = problems(book)
    assert any(p.startswith(f"invoice {MANCHESTER[0]}: entry #2 altered ({key} line") for p in found), found


def test_a_delete_marker_on_s3_is_named():
    book = make_book()
    key = book.key_of(BERLIN[0], 6)
    source = MemorySource({k: v for k, v in book.bucket.items()}, deleted=[key])
    found = [p.message for p in verify_archive(source).problems]
    assert f"object {key} was deleted (a delete marker hides it; its earlier versions are still in the bucket)" in found


# --- archiving ------------------------------------------------------------------------------
def test_a_batch_retried_after_a_failed_manifest_write_archives_each_entry_once():
    store, bucket = MemoryStore(), {}
    at = datetime(2026, 10, 5, 10, 0, tzinfo=timezone.utc)
    stream = [StreamedEntry(f"5100{n:04d}", store.append(BERLIN[0], BERLIN[1], at + timedelta(days=n // 2), kind="note",
                                                           actor="j.smith@northwind.example").model_dump_json())
              for n in range(1, 6)]
    failing = {"manifests/dt=2026-10-06/51000002.json"}

    def put(key: str, body: bytes) -> None:
        if key in failing:
            failing.discard(key)
            raise TimeoutError("S3 timed out")
        bucket[key] = body

    first = archive_batch(stream, put, lambda uri, key: "")
    assert first.failed == ["51000002", "51000003", "51000004", "51000005"]
    # Lambda retries from the first reported record; the object of the failed run was written, its manifest was not
    assert archive_batch([e for e in stream if e.sequence_number in first.failed], put, lambda uri, key: "").failed == []
    report = verify_archive(MemorySource(bucket))
    assert report.problems == [] and report.entries == 5 and report.manifests == 3


# --- export ---------------------------------------------------------------------------------
def test_an_export_holds_one_customers_period_with_a_readme_and_verifies():
    book = make_book()
    result = build_export(book.source(), date(2026, 10, 1), date(2026, 10, 31), BERLIN[1], EXPORTED_AT)
    bundle = zipfile.ZipFile(io.BytesIO(result.content))
    names = set(bundle.namelist())
    assert {"README.md", "export.json", LETTER_KEY} <= names
    exported = [json.loads(line) for name in names if name.startswith("contact-log/") for line in bundle.read(name).splitlines()]
    assert sorted(e["seq"] for e in exported) == [3, 4, 5, 6]
    assert {e["customer_id"] for e in exported} == {BERLIN[1]}
    manifest = json.loads(bundle.read("export.json"))
    assert manifest["invoices"] == {BERLIN[0]: {"customer_id": BERLIN[1], "entries": 4, "first_seq": 3, "last_seq": 6,
                                                "prev_hash": book.entries[1].hash}}
    readme = bundle.read("README.md").decode()
    assert "2026-10-01 to 2026-10-31" in readme and f"customer {BERLIN[1]}" in readme
    assert "keys sorted" in readme and "arrears audit verify" in readme


def test_an_export_zip_verifies_and_a_removed_first_entry_is_named(tmp_path):
    book = make_book()
    result = build_export(book.source(), date(2026, 10, 1), date(2026, 10, 31), BERLIN[1], EXPORTED_AT)
    path = tmp_path / "export.zip"
    path.write_bytes(result.content)
    report = verify_archive(ZipSource(path))
    assert report.problems == [] and report.entries == 4 and report.export
    # Given the same package with its first entry taken out (and its manifest part too)
    with zipfile.ZipFile(path) as original, zipfile.ZipFile(tmp_path / "cut.zip", "w") as cut:
        first = book.key_of(BERLIN[0], 3)
        for name in original.namelist():
            if name not in (first, manifest_key_for(first)):
                cut.writestr(name, original.read(name))
    found = [p.message for p in verify_archive(ZipSource(tmp_path / "cut.zip")).problems]
    assert found == [f"invoice {BERLIN[0]}: entry #3 missing",
                     f"artefact artefacts/emails/{BERLIN[0]}/due_notice.eml is named by no entry (added)"]


def test_an_export_of_a_tampered_archive_is_refused():
    book = make_book()
    del book.bucket[LETTER_KEY]
    with pytest.raises(ExportRefused) as refused:
        build_export(book.source(), date(2026, 9, 1), date(2026, 10, 31), None, EXPORTED_AT)
    assert [p.kind for p in refused.value.report.problems] == ["missing_artefact"]


def test_an_empty_folder_does_not_pass_for_a_verified_archive():
    report = verify_archive(MemorySource({}, "audit-download/"))
    assert [p.kind for p in report.problems] == ["empty_archive"]
    assert "no contact-log objects in audit-download/" in report.problems[0].message


def test_an_export_with_nothing_in_its_period_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="no contact-log entries dated 2027-01-01 to 2027-01-31 for customer cus_QhK2pT5wQm7Yz2"):
        build_export(make_book().source(), date(2027, 1, 1), date(2027, 1, 31), BERLIN[1], EXPORTED_AT)


def test_an_entry_written_at_a_sub_second_moment_verifies_once_archived():
    # Given entries logged at moments with microseconds (as every Lambda's clock gives them on AWS; the hash
    # covers the moment to the second, the stored JSON keeps the microseconds)
    store = MemoryStore()
    at = datetime(2026, 10, 5, 8, 0, 5, 123456, tzinfo=timezone.utc)
    first = store.append(BERLIN[0], BERLIN[1], at, kind="invoice_opened", actor="stripe webhook evt_1QAbC")
    second = store.append(BERLIN[0], BERLIN[1], at + timedelta(seconds=40.5), kind="collection_started",
                          actor="arrears-workflow", policy_id="default", policy_version=1)
    assert ".123456" in first.model_dump_json()
    bucket: dict[str, bytes] = {}

    # When the stream batch is archived
    batch = [StreamedEntry("495000000000000000000001", first.model_dump_json()),
             StreamedEntry("495000000000000000000002", second.model_dump_json())]
    assert archive_batch(batch, bucket.__setitem__, lambda uri, key: "").failed == []

    # Then the archive verifies, each line in the form its hash covers
    assert [p.message for p in verify_archive(MemorySource(bucket, "memory")).problems] == []
    lines = [json.loads(line) for line in next(v for k, v in bucket.items() if k.startswith("contact-log/")).splitlines()]
    assert [line["at"] for line in lines] == ["2026-10-05T08:00:05Z", "2026-10-05T08:00:45Z"]
