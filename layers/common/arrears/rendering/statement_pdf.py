"""The statement of account as PDF: a customer's open invoices, payments and credits, balance and aging.

One `NoticeContext` in (`notices.build_statement_notice`, its `statement` holding the figures of
`consolidation.statement_of_account`), the bytes of an A4 document out, in the customer's language
(`statement.*` texts of arrears.domain.wording's catalogue, dates and amounts by babel). Laid out by the
demand letter's writer (rendering.letter_pdf): the same letterhead, addresses, payment details and
fonts. Per currency: a table of every open invoice (held ones marked, not-yet-due ones marked, an open
early-payment discount stated with its exact amount and last day), its totals, and the aging of its balance; currencies are never summed. Deterministic for the same context.
"""

from __future__ import annotations

from fpdf.enums import Align

from arrears.domain.notices import NoticeContext, NoticeIncomplete
from arrears.domain.consolidation import StatementCurrency
from arrears.domain.wording import wording_for
from arrears.rendering.letter_pdf import (
    _INK,
    _LEFT,
    _MUTED,
    _RIGHT,
    _RULE,
    _WIDTH,
    _ConsolidatedWriter,
    _finish,
    _format_money,
    _new_document,
)

# invoice no., issued, due, amount, paid, credited, balance, days late
_COLUMNS = (28.0, 19.0, 19.0, 23.0, 20.0, 20.0, 23.0, 18.0)


def render_statement(ctx: NoticeContext) -> bytes:
    """The statement of account PDF for `ctx.statement` (NoticeIncomplete when it cannot be printed)."""
    if ctx.statement is None:
        raise NoticeIncomplete("a statement of account needs its figures")
    if not ctx.debtor_name.strip():
        raise NoticeIncomplete("statement of account: the customer has no name")
    if not ctx.creditor.address.is_complete():
        raise NoticeIncomplete("statement of account: the creditor's address is incomplete")
    say = wording_for(ctx.language)
    pdf = _new_document(ctx, say, say("statement.title"))
    pdf.set_subject(say("statement.subject", customer=ctx.debtor_name))
    _StatementWriter(pdf, ctx, say).write()
    return _finish(pdf, ctx, "statement of account")


class _StatementWriter(_ConsolidatedWriter):
    def write(self) -> None:
        self.pdf.add_page()
        self.letterhead()
        self.addresses()
        self.heading()
        statement = self.ctx.statement
        assert statement is not None
        if statement.empty:
            self.paragraph(self.say("statement.nothing_open", date=self.date(statement.as_of)), gap=4)
        else:
            self.paragraph(self.say("statement.introduction", date=self.date(statement.as_of)), gap=3)
            for currency in statement.currencies:
                self.currency_table(currency)
                self.aging(currency)
        self.how_to_pay()
        self.statement_disputes()
        self.signature()

    def facts(self) -> list[tuple[str, str, bool]]:
        ctx, say = self.ctx, self.say
        statement = ctx.statement
        assert statement is not None
        facts = [(say("letter.facts.date"), self.date(ctx.letter_date), False),
                 (say("statement.facts.account"), ctx.reference, False)]
        for currency in statement.currencies:
            facts.append((say("statement.facts.open_balance"),
                          _format_money(currency.balance_minor, currency.currency, self.locale), True))
        return facts

    def heading(self) -> None:
        self.font(14, bold=True, color=self.accent)
        self.text(self.say("statement.title"), _WIDTH, 7)
        self.pdf.ln(2)

    def money_in(self, amount_minor: int, currency: str) -> str:
        return _format_money(amount_minor, currency, self.locale)

    def currency_table(self, figures: StatementCurrency) -> None:
        pdf, say, currency = self.pdf, self.say, figures.currency
        self.section(say("statement.currency_title", currency=currency))
        self.table_header(("invoice_number", "issued", "due", "amount", "paid", "credited", "balance", "days"),
                          "statement.table", _COLUMNS)
        row = 5.2
        for line in figures.lines:
            self.keep(row + 3.6 * ((line.hold is not None or line.coming_due) + (line.early_payment is not None)))
            values = (line.number, self.date(line.issued_on, "short"), self.date(line.due_on, "short"),
                      self.money_in(line.amount_minor, currency), self.money_in(line.paid_minor, currency),
                      self.money_in(line.credited_minor, currency), self.money_in(line.balance_minor, currency),
                      str(max(0, line.days_overdue)))
            for i, (width, value) in enumerate(zip(_COLUMNS, values)):
                self.fitted(value, width, row, 8, bold=i == 6, align=Align.L if i < 3 else Align.R)
            pdf.ln(row)
            notes = []
            if line.hold is not None:
                notes.append(f"{say('statement.held')}: {say(f'consolidated.on_hold.{line.hold.value}')}")
            elif line.coming_due:
                notes.append(say("statement.coming_due"))
            if notes:
                self.font(7, color=_MUTED)
                self.put("; ".join(notes), _WIDTH - 6, 3.6, x=_LEFT + 4, newline=True)
            if line.early_payment is not None:  # the pinned policy's discount, while it can still be taken:
                offer = line.early_payment  # what is left to pay of the discounted amount, and by when
                self.font(7, bold=True, color=self.accent)
                self.text(say("statement.early_payment", pay=self.money_in(offer.pay_minor - line.paid_minor, currency),
                              until=self.date(offer.until), percent=self.percent(offer.percent),
                              discount=self.money_in(offer.discount_minor, currency)),
                          _WIDTH - 6, 3.6, x=_LEFT + 4)
        pdf.set_draw_color(*_INK)
        pdf.set_line_width(0.4)
        pdf.line(_LEFT, pdf.get_y(), 210 - _RIGHT, pdf.get_y())
        pdf.set_line_width(0.2)
        totals = (say("statement.totals"), "", "", self.money_in(figures.amount_minor, currency),
                  self.money_in(figures.paid_minor, currency), self.money_in(figures.credited_minor, currency),
                  self.money_in(figures.balance_minor, currency), "")
        self.keep(row)
        for i, (width, value) in enumerate(zip(_COLUMNS, totals)):
            self.fitted(value, width, row, 8, bold=True, align=Align.L if i < 3 else Align.R)
        pdf.ln(row + 2)
        if figures.held_minor:
            self.font(7.5, color=_MUTED)
            self.text(say("statement.held_note", amount=self.money_in(figures.held_minor, currency)), _WIDTH, 3.8)
            pdf.ln(1.5)

    def aging(self, figures: StatementCurrency) -> None:
        pdf, say = self.pdf, self.say
        self.keep(18)
        self.font(8.5, bold=True, color=_MUTED)
        self.put(say("statement.aging_title", currency=figures.currency), _WIDTH, 5, newline=True)
        width = _WIDTH / len(figures.aging)
        top = pdf.get_y()
        pdf.set_fill_color(240, 242, 245)
        pdf.set_draw_color(*_RULE)
        pdf.rect(_LEFT, top, _WIDTH, 5, style="F")
        for bucket, _ in figures.aging:
            self.fitted(say(f"statement.aging.{bucket.value}"), width, 5, 7.5, bold=True, color=_MUTED, align=Align.C)
        pdf.ln(5)
        for _, amount in figures.aging:
            self.fitted(self.money_in(amount, figures.currency), width, 6, 9, align=Align.C)
        pdf.ln(6)
        pdf.line(_LEFT, pdf.get_y(), 210 - _RIGHT, pdf.get_y())
        pdf.ln(4)

    def how_to_pay(self, quote: str = "") -> None:
        super().how_to_pay(quote)
        statement = self.ctx.statement
        if statement is not None and not statement.empty:
            amounts = ", ".join(self.money_in(c.balance_minor, c.currency) for c in statement.currencies)
            self.paragraph(self.say("statement.pay_text", amount=amounts), size=8.5, gap=2.5)

    def statement_disputes(self) -> None:
        self.section(self.say("letter.disputes.title"))
        text = self.say("statement.disputes_text", email=self.ctx.creditor.email)
        if self.ctx.creditor.phone:
            text += " " + self.say("letter.disputes.phone", phone=self.ctx.creditor.phone)
        self.paragraph(text, gap=4)
