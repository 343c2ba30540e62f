"""Demand letters as PDF: one NoticeContext in, the bytes of an A4 letter out.

The letter states what a formal demand must: who claims (letterhead), from whom
(name and postal address), what (an itemised table of the debt, the interest
with how it was computed, the fixed compensation and the total claimed), by
when (the deadline), how to pay, how to dispute, and what happens otherwise.
Anything it must state but the context lacks raises `NoticeIncomplete`: a
letter never goes out with a blank where a sum, a date or an address belongs.

The letter is written in the debtor's language (`ctx.language`): its wording comes from the
`letter.*` and `interest.*` texts of arrears.domain.wording's catalogue, its dates, amounts and rates are
formatted by babel in that language's locale (English throughout when there is no catalogue).

When no email reaches the debtor, a step's message goes by post instead (`render_posted_letter`):
a formal or final notice as its demand letter, any other message as a plain reminder letter
(`render_reminder_letter`) with the same letterhead, addresses, figures and payment details around
the email's own message.

The same context always gives the same bytes (the creation date comes from the
letter date), so a letter's SHA-256 recorded in the contact log identifies it.

Fonts: DejaVu Sans, bundled with the package (channels.fonts), so names in Latin, Greek,
Cyrillic and most other left-to-right alphabets print; text the font cannot
show (CJK) or would set backwards (Hebrew, Arabic) raises `NoticeIncomplete`.

Speed: fpdf2's `multi_cell` is quadratic in the line length and `cell` copies the graphics
state for every call, so `_Writer` wraps and places text itself; channels.fonts parses each
font once per process and embeds a subset cut once. About 10 ms a letter on one core once
warm, ~150 ms for the first letter of a process (bench/letters.py).
"""

from __future__ import annotations

import logging
import unicodedata
from datetime import date, datetime, time, timezone
from decimal import Decimal
from functools import lru_cache
from typing import Any

from babel.numbers import format_decimal, format_percent
from fpdf import FPDF
from fpdf.enums import Align

from arrears.rendering import fonts
from arrears.domain.interest import InterestClaim
from arrears.domain.money import format_money
from arrears.domain.notices import NoticeContext, NoticeIncomplete
from arrears.domain.policy.model import Stage
from arrears.domain.wording import Wording, format_day, wording_for

log = logging.getLogger(__name__)

# The stages with a demand letter. Its wording is in the debtor's language (arrears.domain.wording's
# catalogue, `letter.*`), and so are its dates and amounts (English when there is no catalogue).
LETTER_STAGES = frozenset({Stage.FORMAL_NOTICE, Stage.FINAL_NOTICE})

# Layout, in millimetres on A4 (210 x 297).
_LEFT = 20.0
_RIGHT = 20.0
_WIDTH = 210.0 - _LEFT - _RIGHT
_INK = (31, 41, 51)
_MUTED = (97, 110, 124)
_RULE = (203, 210, 217)
_ACCENT = {Stage.FORMAL_NOTICE: (154, 52, 18), Stage.FINAL_NOTICE: (180, 35, 24)}
_REMINDER_ACCENT = (36, 74, 120)  # a reminder is not a demand: a calm blue
# The debt table: invoice no., issued, due, amount, paid, balance.
_COLUMNS = (36.0, 25.0, 25.0, 28.0, 28.0, 28.0)
_FACTS_X = 118.0  # the date / reference block beside the recipient
_FACTS_LABEL = 24.0
_SIGNATURE_HEIGHT = 22.0


def render_demand_letter(ctx: NoticeContext) -> bytes:
    """The demand letter for a formal or final notice, as PDF bytes (deterministic for the same context)."""
    _check_complete(ctx)
    say = wording_for(ctx.language)
    pdf = _new_document(ctx, say, say(f"letter.heading.{ctx.stage.value}"))
    (_ConsolidatedWriter if ctx.consolidated else _Writer)(pdf, ctx, say).write()
    return _finish(pdf, ctx, "demand letter")


def render_reminder_letter(ctx: NoticeContext) -> bytes:
    """A reminder by post: the email's own message (in the debtor's language) as a dated letter, with the
    demand letter's letterhead, addresses, figures and payment details. For any stage; deterministic."""
    from arrears.rendering.emails import render_email_message

    _check_complete(ctx, demand=False)
    subject, message = render_email_message(ctx)
    say = wording_for(ctx.language)
    pdf = _new_document(ctx, say, subject)
    (_ConsolidatedReminderWriter if ctx.consolidated else _ReminderWriter)(pdf, ctx, say, subject, message).write()
    return _finish(pdf, ctx, "letter")


def render_posted_letter(ctx: NoticeContext) -> bytes:
    """The letter posted in place of an email that cannot reach the debtor: a formal or final notice is a
    demand letter whatever carried it, any other message a reminder letter."""
    return render_demand_letter(ctx) if ctx.stage in LETTER_STAGES else render_reminder_letter(ctx)


def _new_document(ctx: NoticeContext, say: Wording, title: str) -> _LetterPDF:
    pdf = _LetterPDF(ctx, say)
    pdf.set_creation_date(datetime.combine(ctx.letter_date, time(0, 0), tzinfo=timezone.utc))
    pdf.set_title(f"{title} - {ctx.reference}")
    pdf.set_subject(say("letter.subject", invoice=ctx.invoice_number))
    pdf.set_author(ctx.creditor.name)
    pdf.set_creator("Arrears")
    pdf.set_lang(say.locale.replace("_", "-"))
    return pdf


def _finish(pdf: _LetterPDF, ctx: NoticeContext, what: str) -> bytes:
    missing = sorted({chr(c) for font in pdf.fonts.values() for c in getattr(font, "missing_glyphs", ())})
    if missing:
        raise NoticeIncomplete(f"{what} {ctx.reference}: the letter font cannot print {''.join(missing[:20])!r}")
    if pdf.pages_count > 2:
        log.warning("%s %s runs to %d pages", what, ctx.reference, pdf.pages_count)
    return fonts.output(pdf)


def _check_complete(ctx: NoticeContext, demand: bool = True) -> None:
    """What every letter must state; `demand`: also what a demand letter must (a deadline, the consequence)."""
    def require(condition: Any, what: str) -> None:
        if not condition:
            raise NoticeIncomplete(f"{'demand letter' if demand else 'letter'} {ctx.reference or '?'}: {what}")

    if demand:
        require(ctx.stage in LETTER_STAGES, f"there is no demand letter for the {ctx.stage.value} stage")
    require(ctx.debtor_name.strip(), "the debtor has no name")
    address = [line for line in ctx.debtor_address_lines if line.strip()]
    require(len(address) >= 2, "the debtor's postal address is missing or incomplete")
    require(ctx.invoice_number.strip(), "the invoice number is missing")
    require(ctx.reference.strip(), "the reference is missing")
    require(ctx.balance_minor > 0, "there is no balance to demand")
    if demand:
        require(ctx.deadline is not None, "the deadline is missing")
        require(ctx.next_consequence.strip(), "the consequence of not paying is not stated")
    require(ctx.deadline is None or ctx.deadline > ctx.letter_date, "the deadline is not after the letter date")
    require(ctx.pay_url or ctx.creditor.iban, "there is no way to pay (neither a pay link nor a bank account)")
    require(not ctx.pay_url or ctx.pay_url.startswith(("https://", "http://")), "the pay link is not a web address")
    require(ctx.creditor.address.is_complete(), "the creditor's address is incomplete")
    for item in ctx.claimed_items if demand else ():
        # Every legal element of the demand, per invoice it claims.
        line = item.line
        require(line.number.strip(), f"invoice {line.invoice_id} has no number")
        require(line.balance_minor > 0, f"invoice {line.number} has no balance to demand")
        require(line.due_on < ctx.letter_date, f"invoice {line.number} is not overdue (due {line.due_on.isoformat()})")
    # The letter sets text left to right without shaping: a right-to-left name would print reversed.
    printed = [ctx.debtor_name, *ctx.debtor_address_lines, ctx.invoice_number, ctx.reference, ctx.next_consequence]
    printed += [str(value) for value in ctx.creditor.model_dump(exclude={"address"}).values()]
    printed += ctx.creditor.address.lines() + [line.description for line in ctx.lines]
    printed += [item.line.number for item in ctx.items]
    if ctx.interest is not None:
        printed.append(ctx.interest.basis)
    rtl = sorted({c for text in printed for c in text if unicodedata.bidirectional(c) in ("R", "AL")})
    require(not rtl, f"right-to-left text ({''.join(rtl[:10])!r}) cannot be set in this letter")


# -- formatting in the letter's locale --------------------------------------------------------------


# Formatting is pure and babel is slow next to the rest of a letter: remember recent results.
@lru_cache(maxsize=4096)
def _format_money(amount_minor: int, currency: str, locale: str) -> str:
    return format_money(amount_minor, currency, locale)


@lru_cache(maxsize=1024)
def _format_date(value: date, fmt: str, locale: str) -> str:
    return format_day(value, locale, fmt)


@lru_cache(maxsize=64)
def _format_decimal(value: Decimal, locale: str) -> str:
    return format_decimal(value, locale=locale)


@lru_cache(maxsize=256)
def _format_percent(rate: Decimal, locale: str) -> str:
    return format_percent(Decimal(rate) / 100, locale=locale, decimal_quantization=False)  # "10.15%", "10,15 %"


# -- the document ------------------------------------------------------------------------------------


class _LetterPDF(FPDF):
    def __init__(self, ctx: NoticeContext, say: Wording) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self._say = say
        self._ctx = ctx
        self.set_margins(_LEFT, 12, _RIGHT)
        self.set_auto_page_break(True, margin=20)
        fonts.install(self)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(fonts.FAMILY, "", 7.5)
        self.set_text_color(*_MUTED)
        footer = self._say("letter.footer", creditor=self._ctx.creditor.name, reference=self._ctx.reference,
                           page=self.page_no(), pages="{nb}")  # fpdf2 writes the page count for {nb}
        self.cell(0, 4, footer, align=Align.C)


class _Writer:
    """Lays out one letter on a `_LetterPDF`, top to bottom.

    Text is measured, wrapped and placed here and drawn with fpdf2's plain `text()`: `multi_cell`
    re-measures a line for every character it adds and `cell` copies the graphics state for every
    call, which together made up most of the cost of a letter.
    """

    def __init__(self, pdf: _LetterPDF, ctx: NoticeContext, say: Wording) -> None:
        self.pdf = pdf
        self.ctx = ctx
        self.say = say
        self.locale = say.locale
        self.accent = _ACCENT.get(ctx.stage, _REMINDER_ACCENT)
        self.total_label = say("letter.total_claimed")
        self.color: tuple[int, int, int] | None = None

    def write(self) -> None:
        self.pdf.add_page()
        self.letterhead()
        self.addresses()
        self.heading()
        self.introduction()
        self.debt_table()
        self.deadline()
        self.how_to_pay()
        self.disputes()
        self.consequence()
        self.signature()

    # wording and formatting in the letter's language

    def money(self, amount_minor: int) -> str:
        return _format_money(amount_minor, self.ctx.currency, self.locale)

    def date(self, value: date, fmt: str = "long") -> str:
        return _format_date(value, fmt, self.locale)

    def percent(self, rate: Decimal) -> str:
        return _format_percent(rate, self.locale)

    def number(self, value: Decimal | None) -> str:
        return _format_decimal(Decimal(value or 0), self.locale)

    def days(self, n: int) -> str:
        return self.say.count("interest.days", n)

    # small primitives

    def font(self, size: float, bold: bool = False, color: tuple[int, int, int] = _INK) -> None:
        style = "B" if bold else ""
        pdf = self.pdf
        if pdf.font_family != fonts.FAMILY.lower() or pdf.font_style != style or pdf.font_size_pt != size:
            pdf.set_font(fonts.FAMILY, style, size)
        if color != self.color:
            pdf.set_text_color(*color)
            self.color = color

    def measure(self, text: str) -> float:
        """Width in mm in the current font, as `get_string_width` gives it without its per-call overhead."""
        pdf = self.pdf
        return sum(map(pdf.current_font.cw.__getitem__, map(ord, text))) * pdf.font_size / 1000

    def wrap(self, text: str, width: float) -> list[str]:
        """`text` broken into lines that fit `width` mm in the current font (long words break anywhere)."""
        measure = self.measure
        text = unicodedata.normalize("NFC", text)
        room = width - 2 * self.pdf.c_margin
        space = measure(" ")
        lines: list[str] = []
        for paragraph in text.split("\n"):
            line, line_width = "", 0.0
            for word in paragraph.split(" "):
                word_width = measure(word)
                if line and line_width + space + word_width <= room:
                    line, line_width = f"{line} {word}", line_width + space + word_width
                    continue
                if line:
                    lines.append(line)
                while word_width > room and len(word) > 1:
                    cut, used = 0, 0.0
                    while cut < len(word) - 1 and used + measure(word[cut]) <= room:
                        used += measure(word[cut])
                        cut += 1
                    lines.append(word[: max(cut, 1)])
                    word = word[max(cut, 1) :]
                    word_width = measure(word)
                line, line_width = word, word_width
            lines.append(line)
        return lines

    def keep(self, height: float) -> None:
        """Start a new page unless `height` mm still fit on this one."""
        if self.pdf.will_page_break(height):
            self.pdf.add_page()

    def put(
        self, text: str, width: float, height: float, x: float | None = None, align: Align = Align.L, link: str = "",
        newline: bool = False,
    ) -> None:
        """One line in a `width` x `height` box at `x` (default: the cursor), placed as `cell` places it.

        The cursor moves right of the box, or with `newline` to the left margin under it.
        """
        pdf = self.pdf
        left = pdf.get_x() if x is None else x
        top = pdf.get_y()
        if text:
            text = unicodedata.normalize("NFC", text)  # one glyph per accented letter where the font has it
            start = left + pdf.c_margin
            if align != Align.L or link:
                text_width = self.measure(text)
                if align == Align.R:
                    start = left + width - pdf.c_margin - text_width
                elif align == Align.C:
                    start = left + (width - text_width) / 2
                if link:
                    pdf.link(start, top, text_width, height, link)
            pdf.text(start, top + height / 2 + 0.3 * pdf.font_size, text)
        if newline:
            pdf.set_xy(_LEFT, top + height)
        else:
            pdf.set_xy(left + width, top)

    def text(
        self, text: str, width: float, height: float, x: float | None = None, align: Align = Align.L, link: str = ""
    ) -> None:
        """Wrapped text from `x` (the left margin by default), leaving the cursor under it at the left margin."""
        for line in self.wrap(text, width):
            self.keep(height)
            self.put(line, width, height, x=_LEFT if x is None else x, align=align, link=link, newline=True)

    def paragraph(self, text: str, size: float = 9, bold: bool = False, gap: float = 2) -> None:
        self.font(size, bold)
        self.text(text, _WIDTH, size * 0.5)
        self.pdf.ln(gap)

    def section(self, title: str) -> None:
        self.keep(18)
        self.font(9.5, bold=True, color=self.accent)
        self.put(title, _WIDTH, 5, newline=True)

    def fitted(
        self, text: str, width: float, height: float, size: float, bold: bool = False, color: tuple[int, int, int] = _INK,
        **kwargs: Any,
    ) -> None:
        """`put`, with the font shrunk (to 6 pt at most) rather than overflow the box."""
        self.font(size, bold, color)
        while size > 6 and self.measure(text) > width - 2 * self.pdf.c_margin:
            size -= 0.5
            self.pdf.set_font_size(size)
        self.put(text, width, height, **kwargs)

    # sections

    def letterhead(self) -> None:
        pdf, creditor = self.pdf, self.ctx.creditor
        top = pdf.get_y()
        self.font(15, bold=True)
        self.text(creditor.name, 100, 7)
        registered = []
        if creditor.company_number:
            registered.append(self.say("letter.company_number", number=creditor.company_number))
        if creditor.vat_number:
            registered.append(self.say("letter.vat_number", number=creditor.vat_number))
        if registered:
            self.font(7.5, color=_MUTED)
            self.text("  \u00b7  ".join(registered), 100, 4)
        left_bottom = pdf.get_y()
        contact = [", ".join(creditor.address.lines()), creditor.email]  # the address wraps in the narrow column
        if creditor.phone:
            contact.append(creditor.phone)
        pdf.set_y(top)
        self.font(8, color=_MUTED)
        self.text("\n".join(contact), _WIDTH - 100, 3.9, x=_LEFT + 100, align=Align.R)
        pdf.set_y(max(left_bottom, pdf.get_y()) + 3)
        pdf.set_draw_color(*self.accent)
        pdf.set_line_width(0.6)
        pdf.line(_LEFT, pdf.get_y(), 210 - _RIGHT, pdf.get_y())
        pdf.set_line_width(0.2)

    def addresses(self) -> None:
        pdf, ctx = self.pdf, self.ctx
        top = max(pdf.get_y() + 5, 38.0)
        # Return address above the recipient, as a window envelope shows it.
        pdf.set_xy(_LEFT, top)
        sender = "  \u00b7  ".join([ctx.creditor.name, *ctx.creditor.address.lines()])
        self.fitted(sender, 95, 4, 6.5, color=_MUTED, newline=True)
        pdf.set_draw_color(*_RULE)
        pdf.line(_LEFT, pdf.get_y(), _LEFT + 85, pdf.get_y())
        pdf.ln(2)
        self.font(10, bold=True)
        self.text(ctx.debtor_name, 85, 5)
        self.font(10)
        for line in ctx.debtor_address_lines:
            if line.strip():
                self.text(line, 85, 5)
        left_bottom = pdf.get_y()
        y = top + 4
        for label, value, bold in self.facts():
            pdf.set_xy(_FACTS_X, y)
            self.fitted(label, _FACTS_LABEL, 5, 7.5, color=_MUTED)
            self.fitted(value, 210 - _RIGHT - _FACTS_X - _FACTS_LABEL, 5, 9, bold=bold)
            y += 5
        pdf.set_xy(_LEFT, max(left_bottom, y) + 7)

    def facts(self) -> list[tuple[str, str, bool]]:
        """The date / reference block beside the recipient: (label, value, bold)."""
        ctx, say = self.ctx, self.say
        return [
            (say("letter.facts.date"), self.date(ctx.letter_date), False),
            (say("letter.facts.reference"), ctx.reference, False),
            (say("letter.facts.invoice"), ctx.invoice_number, False),
            (say("letter.facts.amount_claimed"), self.money(ctx.total_claimed_minor), True),
            (say("letter.facts.pay_by"), self.date(ctx.deadline), True),  # type: ignore[arg-type]  # checked in _check_complete
        ]

    def heading(self) -> None:
        self.font(14, bold=True, color=self.accent)
        self.text(self.say(f"letter.heading.{self.ctx.stage.value}"), _WIDTH, 7)
        self.pdf.ln(2)

    def introduction(self) -> None:
        ctx, say = self.ctx, self.say
        self.paragraph(say("letter.salutation"))
        text = say(f"letter.introduction.{ctx.stage.value}", invoice=ctx.invoice_number, issued=self.date(ctx.issued_on),
                   due=self.date(ctx.due_on), days=self.days(ctx.days_overdue))
        self.paragraph(text, gap=2.5)

    def debt_table(self) -> None:
        pdf, ctx = self.pdf, self.ctx
        widths = _COLUMNS
        label_width = sum(widths[:-1])
        row = 5.5
        self.table_header(("invoice_number", "issued", "due", "amount", "paid", "balance"), "letter.table")
        values = (
            ctx.invoice_number,
            self.date(ctx.issued_on, "medium"),
            self.date(ctx.due_on, "medium"),
            self.money(ctx.amount_due_minor),
            self.money(ctx.amount_paid_minor),
            self.money(ctx.balance_minor),
        )
        for i, (width, value) in enumerate(zip(widths, values)):
            self.fitted(value, width, row + 1, 9, align=Align.L if i < 3 else Align.R)
        pdf.ln(row + 1)
        self.invoice_lines()
        pdf.line(_LEFT, pdf.get_y(), 210 - _RIGHT, pdf.get_y())

        def summary(label: str, amount_minor: int, bold: bool = False, note: str = "") -> None:
            self.keep(row + (8 if note else 0))
            self.fitted(label, label_width, row, 9, bold=bold)
            self.fitted(self.money(amount_minor), widths[-1], row, 9, bold=bold, align=Align.R)
            pdf.ln(row)
            if note:
                self.font(7.5, color=_MUTED)
                self.text(note, label_width - 4, 3.5)
                pdf.ln(0.8)

        say = self.say
        summary(say("letter.balance_outstanding"), ctx.balance_minor)
        interest = ctx.interest
        if interest is not None:
            summary(say("letter.interest"), interest.interest_minor, note=self.interest_note(interest))
            if interest.compensation_minor:
                summary(say("letter.compensation"), interest.compensation_minor)
        pdf.set_draw_color(*_INK)
        pdf.set_line_width(0.4)
        pdf.line(_LEFT, pdf.get_y(), 210 - _RIGHT, pdf.get_y())
        pdf.set_line_width(0.2)
        summary(self.total_label, ctx.total_claimed_minor, bold=True)
        pdf.ln(3)

    def table_header(self, columns: tuple[str, ...], prefix: str, widths: tuple[float, ...] = _COLUMNS) -> None:
        """A table's shaded header row, the column titles `prefix.column` of the catalogue (first three left)."""
        pdf, row = self.pdf, 5.5
        self.keep(3 * row)
        top = pdf.get_y()
        pdf.set_fill_color(240, 242, 245)
        pdf.set_draw_color(*_RULE)
        pdf.rect(_LEFT, top, _WIDTH, row, style="F")
        pdf.line(_LEFT, top + row, 210 - _RIGHT, top + row)
        self.font(8, bold=True, color=_MUTED)
        for i, (width, column) in enumerate(zip(widths, columns)):
            self.fitted(self.say(f"{prefix}.{column}"), width, row, 8, bold=True, color=_MUTED,
                        align=Align.L if i < 3 else Align.R)
        pdf.ln(row)

    def interest_note(self, interest: InterestClaim) -> str:
        """How the interest was computed: one line per period of one rate and principal, then the method and basis."""
        say = self.say
        lines = []
        for period in interest.periods:
            rate = say("interest.rate", rate=self.percent(period.annual_rate_percent))
            if period.reference_rate_percent is not None:
                makeup = say("interest.rate_makeup", reference=self.percent(period.reference_rate_percent),
                             margin=self.number(interest.margin_points))
                rate = f"{rate} ({makeup})"
            line = say("interest.period", rate=rate, principal=self.money(period.principal_minor),
                       days=self.days(period.days), start=self.date(period.from_date), end=self.date(period.to_date))
            lines.append(say("interest.period_amount", period=line, amount=self.money(period.interest_minor))
                         if len(interest.periods) > 1 else f"{line}.")
        lines.append(say("interest.method", day_count=interest.day_count, basis=interest.basis))
        return "\n".join(lines)

    def invoice_lines(self, limit: int = 12) -> None:
        pdf, ctx = self.pdf, self.ctx
        if not ctx.lines:
            return
        shown = ctx.lines if len(ctx.lines) <= limit else ctx.lines[: limit - 1]
        description_width = sum(_COLUMNS[:-1]) - 6
        for line in shown:
            self.keep(4.2)
            self.fitted(line.description, description_width, 4.2, 7.5, color=_MUTED, x=_LEFT + 6)
            self.fitted(self.money(line.amount), _COLUMNS[-1], 4.2, 7.5, color=_MUTED, align=Align.R)
            pdf.ln(4.2)
        if len(shown) < len(ctx.lines):
            self.font(7.5, color=_MUTED)
            more = self.say("letter.further_items", n=len(ctx.lines) - len(shown))
            self.put(more, description_width, 4.2, x=_LEFT + 6, newline=True)
        pdf.ln(1)

    def deadline(self) -> None:
        pdf, ctx = self.pdf, self.ctx
        text = self.say("letter.deadline", amount=self.money(ctx.total_claimed_minor), date=self.date(ctx.deadline))  # type: ignore[arg-type]
        self.font(10.5, bold=True)
        lines = self.wrap(text, _WIDTH - 8)
        height = 6 * len(lines) + 5
        self.keep(height + 4)
        top = pdf.get_y()
        pdf.set_fill_color(*[round(c + (255 - c) * 0.9) for c in self.accent])
        pdf.rect(_LEFT, top, _WIDTH, height, style="F")
        pdf.set_draw_color(*self.accent)
        pdf.set_line_width(0.8)
        pdf.line(_LEFT, top, _LEFT, top + height)
        pdf.set_line_width(0.2)
        pdf.set_y(top + 2.5)
        for line in lines:
            self.put(line, _WIDTH - 8, 6, x=_LEFT + 4, newline=True)
        pdf.set_y(top + height + 3)

    def how_to_pay(self, quote: str = "") -> None:
        """`quote`: what to quote instead of the one reference (a letter or statement about several invoices)."""
        pdf, ctx = self.pdf, self.ctx
        creditor, say = ctx.creditor, self.say
        self.section(say("letter.pay.title"))
        rows: list[tuple[str, str, bool, bool]] = []  # label, value, bold, a link
        if ctx.pay_url:
            rows.append((say("letter.pay.online"), ctx.pay_url, False, True))
        if ctx.portal_url:  # the debtor's own page (docs/portal.md): printed in full, short enough to type
            rows.append((say("letter.pay.portal"), ctx.portal_url, False, True))
        if creditor.iban:
            lead = say("letter.pay.or_bank_transfer" if ctx.pay_url else "letter.pay.bank_transfer")
            rows.append((lead, creditor.bank_account_name or creditor.name, False, False))
            rows.append((say("letter.pay.iban"), creditor.iban, True, False))
            if creditor.bic:
                rows.append((say("letter.pay.bic"), creditor.bic, False, False))
        if not quote:
            rows.append((say("letter.pay.reference"), ctx.reference, True, False))
        label_width = 32.0
        for label, value, bold, link in rows:
            self.keep(4.8)
            self.fitted(label, label_width, 4.8, 8.5, color=_MUTED)
            if link and value == ctx.portal_url:  # on one line, to be typed: the font shrinks rather than wrap it
                self.fitted(value, _WIDTH - label_width, 4.8, 9, color=(31, 95, 191), x=_LEFT + label_width, link=value,
                            newline=True)
            elif link:
                self.font(9, color=(31, 95, 191))
                self.text(value, _WIDTH - label_width, 4.8, x=_LEFT + label_width, link=value)
            else:
                self.font(9, bold=bold)
                self.text(value, _WIDTH - label_width, 4.8, x=_LEFT + label_width)
        self.font(8, color=_MUTED)
        self.text(quote or say("letter.pay.quote_reference"), _WIDTH - label_width, 4.2, x=_LEFT + label_width)
        pdf.ln(2.5)

    def disputes(self) -> None:
        ctx, say = self.ctx, self.say
        self.section(say("letter.disputes.title"))
        text = say("letter.disputes.text", email=ctx.creditor.email, deadline=self.date(ctx.deadline),  # type: ignore[arg-type]
                   reference=ctx.reference)
        if ctx.creditor.phone:
            text += " " + say("letter.disputes.phone", phone=ctx.creditor.phone)
        self.paragraph(text, gap=2.5)

    def consequence(self) -> None:
        # The consequence and the signature stay together: a page 2 with only a sign-off looks like a stray.
        self.font(9)
        self.keep(5 + 4.5 * len(self.wrap(self.ctx.next_consequence, _WIDTH)) + 4 + _SIGNATURE_HEIGHT)
        self.section(self.say("letter.consequence_title"))
        self.paragraph(self.ctx.next_consequence, gap=4)

    def signature(self) -> None:
        creditor = self.ctx.creditor
        self.keep(_SIGNATURE_HEIGHT)
        self.paragraph(self.say("letter.signoff"), gap=7)
        self.font(10, bold=True)
        self.text(creditor.name, 100, 5)
        self.font(8.5, color=_MUTED)
        self.text(creditor.email + (f"  \u00b7  {creditor.phone}" if creditor.phone else ""), 150, 4.2)


class _ReminderWriter(_Writer):
    """A reminder letter: the email's message where a demand letter states its demand, and the demand
    letter's figures and payment details around it; a deadline and a consequence only when the
    message has them. It says why it came by post, so the debtor can give a working email address."""

    def __init__(self, pdf: _LetterPDF, ctx: NoticeContext, say: Wording, subject: str, message: str) -> None:
        super().__init__(pdf, ctx, say)
        self.subject = subject
        self.message = message
        self.total_label = say("reminder.balance_due")

    def write(self) -> None:
        self.pdf.add_page()
        self.letterhead()
        self.addresses()
        self.heading()
        self.introduction()
        self.debt_table()
        if self.ctx.deadline is not None:
            self.deadline()
        self.how_to_pay()
        self.questions()
        if self.ctx.next_consequence.strip():
            self.consequence()
        self.signature()

    def facts(self) -> list[tuple[str, str, bool]]:
        ctx, say = self.ctx, self.say
        facts = [
            (say("letter.facts.date"), self.date(ctx.letter_date), False),
            (say("letter.facts.reference"), ctx.reference, False),
            (say("letter.facts.invoice"), ctx.invoice_number, False),
            (say("reminder.facts.due_on"), self.date(ctx.due_on), False),
            (say("reminder.balance_due"), self.money(ctx.total_claimed_minor), True),
        ]
        if ctx.deadline is not None:
            facts.append((say("letter.facts.pay_by"), self.date(ctx.deadline), True))
        return facts

    def heading(self) -> None:
        self.font(12.5, bold=True, color=self.accent)
        self.text(self.subject, _WIDTH, 6.5)
        self.pdf.ln(2)

    def introduction(self) -> None:
        self.paragraph(self.say("letter.salutation"))
        # The email's paragraphs as they are; its line breaks within a paragraph are kept too.
        for paragraph in (p.strip() for p in self.message.split("\n\n")):
            if paragraph:
                self.paragraph(paragraph, gap=2.5)
        self.font(8.5, color=_MUTED)
        self.text(self.say("reminder.by_post", email=self.ctx.debtor_email), _WIDTH, 4.2)
        self.pdf.ln(3)

    def questions(self) -> None:
        ctx, say = self.ctx, self.say
        self.section(say("reminder.questions_title"))
        text = say("reminder.questions", email=ctx.creditor.email, reference=ctx.reference)
        if ctx.creditor.phone:
            text += " " + say("letter.disputes.phone", phone=ctx.creditor.phone)
        self.paragraph(text, gap=2.5)


class _ConsolidatedWriter(_Writer):
    """A demand letter itemising several overdue invoices of one customer in one currency: per invoice its
    figures, its own interest (how it was computed) and fixed compensation; then the customer's other open
    invoices, for information (on hold, coming due, or in another currency: never claimed here)."""

    def facts(self) -> list[tuple[str, str, bool]]:
        ctx, say = self.ctx, self.say
        return [
            (say("letter.facts.date"), self.date(ctx.letter_date), False),
            (say("letter.facts.reference"), ctx.reference, False),
            (say("consolidated.facts.invoices"), str(len(ctx.claimed_items)), False),
            (say("letter.facts.amount_claimed"), self.money(ctx.total_claimed_minor), True),
            (say("letter.facts.pay_by"), self.date(ctx.deadline), True),  # type: ignore[arg-type]  # checked
        ]

    def introduction(self) -> None:
        self.paragraph(self.say("letter.salutation"))
        self.paragraph(self.say(f"consolidated.introduction.{self.ctx.stage.value}"), gap=2.5)

    def how_to_pay(self, quote: str = "") -> None:
        super().how_to_pay(quote or self.say("consolidated.quote_numbers"))

    def debt_table(self) -> None:
        pdf, say = self.pdf, self.say
        widths = _COLUMNS
        label_width = sum(widths[:-1])
        row = 5.5
        self.table_header(("invoice_number", "issued", "due", "amount", "paid", "balance"), "letter.table")
        for item in self.ctx.claimed_items:
            line = item.line
            self.keep(row + 1 + (12 if item.interest else 0))
            values = (line.number, self.date(line.issued_on, "medium"), self.date(line.due_on, "medium"),
                      self.money(line.amount_minor), self.money(line.paid_minor + line.credited_minor),
                      self.money(line.balance_minor))
            for i, (width, value) in enumerate(zip(widths, values)):
                self.fitted(value, width, row + 1, 9, bold=i == 0, align=Align.L if i < 3 else Align.R)
            pdf.ln(row + 1)
            interest = item.interest
            if interest is not None:
                self.sub_row(say("consolidated.interest_on", invoice=line.number), interest.interest_minor,
                             self.interest_note(interest))
                if interest.compensation_minor:
                    self.sub_row(say("consolidated.compensation_on", invoice=line.number), interest.compensation_minor)
            pdf.set_draw_color(*_RULE)
            pdf.line(_LEFT, pdf.get_y(), 210 - _RIGHT, pdf.get_y())
        pdf.set_draw_color(*_INK)
        pdf.set_line_width(0.4)
        pdf.line(_LEFT, pdf.get_y(), 210 - _RIGHT, pdf.get_y())
        pdf.set_line_width(0.2)
        self.keep(row)
        self.fitted(self.total_label, label_width, row, 9, bold=True)
        self.fitted(self.money(self.ctx.total_claimed_minor), widths[-1], row, 9, bold=True, align=Align.R)
        pdf.ln(row + 3)
        self.other_invoices()

    def sub_row(self, label: str, amount_minor: int, note: str = "") -> None:
        pdf = self.pdf
        label_width = sum(_COLUMNS[:-1])
        self.fitted(label, label_width - 6, 4.6, 8.5, x=_LEFT + 6)
        self.fitted(self.money(amount_minor), _COLUMNS[-1], 4.6, 8.5, align=Align.R)
        pdf.ln(4.6)
        if note:
            self.font(7, color=_MUTED)
            self.text(note, label_width - 10, 3.3, x=_LEFT + 6)
        pdf.ln(0.8)

    def other_invoices(self) -> None:
        ctx, say = self.ctx, self.say
        claimed = {item.line.invoice_id for item in ctx.claimed_items}
        others = [item.line for item in ctx.items if item.line.invoice_id not in claimed]
        if not others:
            return
        self.section(say("consolidated.others_title"))
        for line in others:
            if line.hold is not None:
                status = say(f"consolidated.on_hold.{line.hold.value}")
            elif line.currency != ctx.currency:
                status = say("consolidated.other_currency", currency=line.currency)
            else:
                status = say("consolidated.coming_due", date=self.date(line.due_on))
            self.keep(4.6)
            self.fitted(line.number, 36, 4.6, 8.5)
            self.fitted(status, 100, 4.6, 8.5, color=_MUTED)
            self.fitted(_format_money(line.balance_minor, line.currency, self.locale), _WIDTH - 136, 4.6, 8.5,
                        align=Align.R)
            self.pdf.ln(4.6)
        self.pdf.ln(3)


class _ConsolidatedReminderWriter(_ReminderWriter, _ConsolidatedWriter):
    """A reminder by post covering several invoices: the email's message, then the itemised table of the
    consolidated demand letter (its other open invoices too), with the reminder's own facts and wording."""

    def facts(self) -> list[tuple[str, str, bool]]:
        ctx, say = self.ctx, self.say
        facts = [
            (say("letter.facts.date"), self.date(ctx.letter_date), False),
            (say("letter.facts.reference"), ctx.reference, False),
            (say("consolidated.facts.invoices"), str(len(ctx.claimed_items)), False),
            (say("reminder.balance_due"), self.money(ctx.total_claimed_minor), True),
        ]
        if ctx.deadline is not None:
            facts.append((say("letter.facts.pay_by"), self.date(ctx.deadline), True))
        return facts
