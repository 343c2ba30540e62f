"""A complete MIME message from a rendered email: pure, so the stored .eml is exactly what was sent."""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime
from email import quoprimime
from email.headerregistry import Address as MailAddress
from email.headerregistry import HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime
from typing import Any, Protocol

from arrears.domain.debtor_data import file_stem, printable


class Rendered(Protocol):
    subject: str
    text: str
    html: str


class _MemoisedPolicy(EmailPolicy):
    """`email.policy.default`, byte for byte, with its two hot spots remembered.

    Parsing a header value into a header object (the header registry) and folding it back into
    bytes are pure functions of the policy's settings, the header's name and its text, and they
    are most of the cost of composing a message; most headers of a message (MIME-Version, the
    parts' Content-Type and Content-Transfer-Encoding, From, To, Reply-To) repeat from one message
    to the next. Header objects are immutable (a changed header is replaced, never edited), so a
    remembered one can be shared. A unit test composes with this and with `email.policy.default`
    and requires the same bytes.
    """

    def header_store_parse(self, name: str, value: Any) -> tuple[str, Any]:
        if type(value) is not str:
            return super().header_store_parse(name, value)
        key = (self.max_line_length, self.linesep, self.utf8, self.cte_type, name, value)
        stored = _PARSED.get(key)
        if stored is None:
            stored = super().header_store_parse(name, value)
            _remember(_PARSED, key, stored)
        return stored

    def fold_binary(self, name: str, value: Any) -> bytes:
        if not hasattr(value, "name"):
            return super().fold_binary(name, value)
        key = (self.max_line_length, self.linesep, self.utf8, self.cte_type, type(value), name, str(value))
        folded = _FOLDED.get(key)
        if folded is None:
            folded = super().fold_binary(name, value)
            _remember(_FOLDED, key, folded)
        return folded


# RFC 2047: an encoded word is at most 75 characters, and a line holding one at most 76.
_ENCODED_WORD_MAX, _ENCODED_LINE_MAX = 75, 76


def fold_subject(name: str, subject: str, linesep: str = "\n", max_line_length: int = 78) -> str:
    """A Subject header as it goes on the wire. The standard library's folder can begin the value on a
    continuation line (a subject that starts with a space), write an empty encoded word (`=?utf-8?q??=`)
    or drop the space between two encoded words; this one cannot. An ASCII subject is folded at its
    spaces; any other is written whole as consecutive UTF-8 Q encoded words (no text between them, so
    none is lost when they are joined again), each holding whole characters and never empty."""
    if subject.isascii() and "=?" not in subject:
        lines = [f"{name}:"]
        for word in subject.split(" "):
            if len(lines[-1]) + 1 + len(word) > max_line_length and lines[-1] != f"{name}:":
                lines.append("")
            lines[-1] += f" {word}"
        return linesep.join(lines) + linesep
    words: list[str] = []
    chunk = ""
    for char in subject:
        # The first line also holds "Subject: "; a continuation line one space.
        budget = min(_ENCODED_WORD_MAX, _ENCODED_LINE_MAX - (len(name) + 2 if not words else 1))
        if chunk and len(quoprimime.header_encode((chunk + char).encode("utf-8"), "utf-8")) > budget:
            words.append(quoprimime.header_encode(chunk.encode("utf-8"), "utf-8"))
            chunk = ""
        chunk += char
    if chunk:
        words.append(quoprimime.header_encode(chunk.encode("utf-8"), "utf-8"))
    return f"{name}: " + f"{linesep} ".join(words) + linesep


class _SubjectHeader(UnstructuredHeader):
    """The Subject, folded by `fold_subject` rather than by the standard library."""

    def fold(self, *, policy: Any) -> str:
        if policy.utf8:
            return super().fold(policy=policy)  # type: ignore[misc]
        return fold_subject(self.name, str(self), policy.linesep, policy.max_line_length)  # type: ignore[attr-defined]


class _ClassCachingRegistry(HeaderRegistry):
    """The stdlib registry builds a new header class (`type(...)`) for every header it parses; the
    classes for one name are interchangeable, so each is built once."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type] = {}
        self.map_to_type("subject", _SubjectHeader)

    def __getitem__(self, name: str) -> type:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls


_PARSED: dict[tuple, tuple[str, Any]] = {}
_FOLDED: dict[tuple, bytes] = {}
_MEMO_SIZE = 4096
_MEMO_LOCK = threading.Lock()


def _remember(memo: dict, key: tuple, value: Any) -> None:
    with _MEMO_LOCK:
        if len(memo) >= _MEMO_SIZE:
            del memo[next(iter(memo))]  # oldest first
        memo[key] = value


_POLICY = _MemoisedPolicy(header_factory=_ClassCachingRegistry())  # otherwise the settings of email.policy.default


def compose_email(
    rendered: Rendered,
    *,
    sender: str,
    sender_name: str,
    recipient: str,
    recipient_name: str,
    reference: str,
    reply_to: str,
    sent_at: datetime,
    attachments: tuple[tuple[str, bytes, str], ...] = (),
) -> bytes:
    message = EmailMessage(policy=_POLICY)
    # Names, subject and reference carry debtor-supplied text: never a line break (a header injection) in a header.
    message["From"] = str(MailAddress(display_name=printable(sender_name), addr_spec=sender))
    message["To"] = str(MailAddress(display_name=printable(recipient_name), addr_spec=recipient))
    message["Reply-To"] = reply_to
    message["Subject"] = printable(rendered.subject)
    message["Date"] = format_datetime(sent_at)
    # Deterministic id: the same contact always yields the same message, byte for byte.
    digest = hashlib.sha256(f"{reference}|{recipient}".encode()).hexdigest()[:24]
    message["Message-ID"] = f"<{digest}@arrears.invalid>"
    message["X-Arrears-Reference"] = printable(reference)
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    for filename, content, content_type in attachments:
        maintype, subtype = content_type.split("/", 1)
        # Named from an invoice number: never a path, a line break or a control character in the name.
        stem, dot, extension = filename.rpartition(".")
        safe_name = f"{file_stem(stem)}.{file_stem(extension, 'bin')}" if dot else file_stem(filename, "attachment")
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=safe_name)
    # Fixed boundaries (email picks random ones) keep the stored .eml and its hash reproducible.
    for index, part in enumerate(part for part in message.walk() if part.is_multipart()):
        part.set_boundary(f"=_arrears_{digest}_{index}")
    return message.as_bytes()
