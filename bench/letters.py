"""Letters: two-page PDF demand letters rendered per second on one core.

The formal notice of the default policy for an invoice of the synthetic book, given enough
invoice lines that the letter runs to two pages, rendered over and over in one thread (after a
warm-up: fonts are parsed once per process) for a fixed time. Then, back to back, the same letter
with fpdf2's own font embedding (`add_font` per document, fontTools subsetting at output): the
figure that justifies channels.fonts' own embedding, so it stays measured.
"""

from __future__ import annotations

import io
import re
import time
from datetime import timedelta
from typing import Any

from common import BENCH, cli, figure, profile_top, setup_paths

TARGET_PER_SECOND = 200.0  # issue #19 (100 before)


def _pages(pdf: bytes) -> int:
    try:
        from pypdf import PdfReader

        return len(PdfReader(io.BytesIO(pdf)).pages)
    except ImportError:  # pragma: no cover - pypdf is a dev requirement
        return len(re.findall(rb"/Type\s*/Page\b", pdf))


def two_page_notice() -> Any:
    setup_paths()
    from arrears.domain.models import InvoiceLine
    from arrears.domain.notices import build_notice
    from arrears.domain.policy import Stage, load_policy_file
    from arrears_local.book import synthetic_book
    from arrears_local.portfolio import DEMO_START
    from arrears.rendering.letter_pdf import render_demand_letter

    policy = load_policy_file(BENCH.parent / "policies" / "default.yaml")
    item = synthetic_book(1, DEMO_START)[0]
    step = next(s for s in policy.segment_for("standard").steps if s.stage is Stage.FORMAL_NOTICE)
    now = item.invoice.due_at + timedelta(days=step.offset_days)
    for count in range(1, 60):
        lines = tuple(InvoiceLine(description=f"Analytics Platform seat {n + 1}, annual", amount=item.invoice.amount_due // count)
                      for n in range(count))
        invoice = item.invoice.model_copy(update={"lines": lines})
        notice = build_notice(invoice, item.customer, policy, step, now)
        if _pages(render_demand_letter(notice)) >= 2:
            return notice
    raise RuntimeError("could not make the letter run to two pages")


def _rate(render: Any, notice: Any, seconds: float) -> float:
    for _ in range(3):
        render(notice)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        render(notice)
        count += 1
    return count / (time.perf_counter() - started)


def run(args: Any) -> list[dict[str, Any]]:
    from arrears.rendering import fonts
    from arrears.rendering.letter_pdf import render_demand_letter

    notice = two_page_notice()
    pages = _pages(render_demand_letter(notice))
    rate = _rate(render_demand_letter, notice, args.seconds)
    met = rate >= TARGET_PER_SECOND
    note = f"{1000 / rate:.1f} ms a letter, {pages} pages"
    if not met:
        _, top = profile_top(lambda: [render_demand_letter(notice) for _ in range(30)], limit=6)
        note += f"; {TARGET_PER_SECOND / rate:.2f}x short of the target. Own time: " + "; ".join(top)
    figures = [figure("letters: two-page PDFs per second, one core", round(rate, 1), "/s", f">= {TARGET_PER_SECOND:.0f}/s", met, note)]

    fonts.FAST = False  # fpdf2's own embedding, as channels.fonts falls back to it
    try:
        own = _rate(render_demand_letter, notice, min(args.seconds, 3.0))
    finally:
        fonts.FAST = True
    # The first letter of a process, or the first with characters beyond the base glyph set, cuts a subset.
    fonts._program.cache_clear()
    started = time.perf_counter()
    render_demand_letter(notice)
    first = 1000 * (time.perf_counter() - started)
    figures.append(figure("letters: fpdf2's own font embedding, PDFs per second", round(own, 1), "/s", None, None,
                          f"{1000 / own:.0f} ms a letter; channels.fonts' embedding (one subset cut per glyph set, reused) "
                          f"is {rate / own:.1f}x faster; its cut costs {first:.0f} ms, once per process and glyph set"))
    return figures


if __name__ == "__main__":
    cli(__doc__.splitlines()[0], run, lambda p: p.add_argument("--seconds", type=float, default=8.0))
