"""The full renderer (the domain's `Renderer` port): every email, letter, MIME message and referral package.
Each renderer is imported on first use: Jinja, babel and fpdf2 load only when a contact is rendered."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from arrears.domain.models import Customer, Invoice
    from arrears.domain.notices import NoticeContext
    from arrears.domain.policy import Policy
    from arrears.domain.ports import Ports
    from arrears.rendering.emails import RenderedEmail


class FullRenderer:
    """Renders everything: Jinja emails, the PDF demand letter, the MIME message, the referral zip."""

    def email(self, notice: NoticeContext) -> RenderedEmail:
        from arrears.rendering.emails import render_email

        return render_email(notice)

    def letter(self, notice: NoticeContext) -> bytes:
        from arrears.rendering.letter_pdf import render_demand_letter

        return render_demand_letter(notice)

    def posted_letter(self, notice: NoticeContext) -> bytes:
        from arrears.rendering.letter_pdf import render_posted_letter

        return render_posted_letter(notice)

    def statement(self, notice: NoticeContext) -> bytes:
        """The statement of account PDF (notices.build_statement_notice)."""
        from arrears.rendering.statement_pdf import render_statement

        return render_statement(notice)

    def compose(self, rendered: RenderedEmail, **fields: Any) -> bytes:
        from arrears.rendering.mime import compose_email

        return compose_email(rendered, **fields)

    def referral_package(self, invoice: Invoice, customer: Customer, policy: Policy, notice: NoticeContext,
                         ports: Ports) -> bytes:
        from arrears.rendering.referral_package import build_referral_package

        return build_referral_package(invoice, customer, policy, notice, ports)
