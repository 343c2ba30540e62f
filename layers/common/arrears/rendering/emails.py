"""Email rendering: one NoticeContext in, a subject, a plain-text body and an HTML body out.

Templates live in the package, one directory per language (en, de, fr:
`templates/email/<language>/<template>.subject.j2`, `.txt.j2`, `.html.j2`; the
phrases the context carries, what happens next and the legal basis of interest,
come from arrears.domain.wording in the same language). A language without its own
set falls back to English, and the whole message
(dates and amounts included) is then written in English so it never mixes
languages. The templates only lay the context out: every sum is already on
the context, and amounts and dates go through the `money` and `date` filters.

Templates run in a sandbox with `StrictUndefined`: a value a template names
but the context lacks is an error, never a blank in a message to a debtor.
HTML is autoescaped (a debtor called `<script>` or `Smith & Sons` is shown
as text); the subject and plain-text body are not escaped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.numbers import format_decimal, format_percent
from jinja2 import FileSystemLoader, StrictUndefined, Undefined, pass_context, select_autoescape
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from arrears.domain.money import format_money
from arrears.domain.notices import NoticeContext, NoticeIncomplete
from arrears.domain.policy.model import Stage
from arrears.domain.wording import FALLBACK_LANGUAGE, babel_locale, format_day, language_candidates

EMAIL_TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "email"

_TEMPLATE_NAME = re.compile(r"^[a-z0-9_]{1,40}$")
_STAGES_WITH_DEADLINE = frozenset({Stage.FORMAL_NOTICE, Stage.FINAL_NOTICE})


@dataclass(frozen=True)
class RenderedEmail:
    subject: str  # one line
    text: str  # plain-text body
    html: str  # HTML body, autoescaped


def render_email(ctx: NoticeContext) -> RenderedEmail:
    """Render the email for `ctx.template` in the debtor's language (English if there is no such set)."""
    directory, locale = check_email(ctx)
    env = _environment(directory)
    variables = {"ctx": ctx, "locale": locale, "by_post": False}
    subject = env.get_template(_subject_template(ctx)).render(variables)
    text = env.get_template(f"{ctx.template}.txt.j2").render(variables)
    html = env.get_template(f"{ctx.template}.html.j2").render(variables)
    return RenderedEmail(subject=_one_line(subject), text=_tidy_text(text), html=html.strip() + "\n")


def render_email_message(ctx: NoticeContext) -> tuple[str, str]:
    """The email's subject and its message alone (the template's `body` block, plain text: no greeting,
    figures, payment details or sign-off), for a letter that says on paper what the email would have."""
    directory, locale = check_email(ctx)
    env = _environment(directory)
    # by_post: the message is printed in a letter, where "reply to this email" would make no sense.
    variables = {"ctx": ctx, "locale": locale, "by_post": True}
    subject = env.get_template(_subject_template(ctx)).render(variables)
    if ctx.consolidated:
        return _one_line(subject), _tidy_text(env.get_template("_account_body.txt.j2").render(variables))
    text = env.get_template(f"{ctx.template}.txt.j2")
    message = "".join(text.blocks["body"](text.new_context(variables))) if "body" in text.blocks else ""
    return _one_line(subject), _tidy_text(message)


def _subject_template(ctx: NoticeContext) -> str:
    """A message covering several invoices (arrears.domain.consolidation) has the account's subject."""
    return "_account.subject.j2" if ctx.consolidated else f"{ctx.template}.subject.j2"


def check_email(ctx: NoticeContext) -> tuple[str, str]:
    """Every check `render_email` makes before it renders anything (NoticeIncomplete when one fails):
    what a dry run (the policy simulator's plan-only renderer) runs instead of rendering.
    Returns the template directory and babel locale the email would be rendered with."""
    _check_complete(ctx)
    return _resolve(ctx.language, ctx.template)


def _check_complete(ctx: NoticeContext) -> None:
    if not _TEMPLATE_NAME.match(ctx.template):
        raise ValueError(f"invalid template name {ctx.template!r}")
    for name in ("debtor_name", "invoice_number", "reference", "currency"):
        if not str(getattr(ctx, name)).strip():
            raise NoticeIncomplete(f"the email must state {name.replace('_', ' ')}, which is empty")
    if ctx.pay_url and not ctx.pay_url.startswith(("https://", "http://")):
        raise NoticeIncomplete(f"pay_url is not a web address: {ctx.pay_url[:60]!r}")
    if ctx.stage in _STAGES_WITH_DEADLINE:
        if ctx.deadline is None:
            raise NoticeIncomplete(f"a {ctx.stage.value} must state a deadline")
        if not ctx.next_consequence.strip():
            raise NoticeIncomplete(f"a {ctx.stage.value} must state what happens if the debtor does not act")


# -- language and template resolution ------------------------------------------------------------


@lru_cache(maxsize=256)
def _resolve(language: str, template: str) -> tuple[str, str]:
    """(template directory, babel locale) for a language tag and a template name."""
    candidates = language_candidates(language)
    for candidate in candidates:
        directory = EMAIL_TEMPLATE_DIR / candidate
        if (directory / f"{template}.subject.j2").is_file():
            # The most specific tag of the same language formats dates and amounts (en_GB: "1 March 2026").
            return str(directory), babel_locale(candidates, candidate)
    raise NoticeIncomplete(f"no email template {template!r} (looked in {', '.join(candidates)})")


def has_templates(language: str) -> bool:
    """Whether messages in this language tag are written in it (`de-AT` in German), not in the English fallback."""
    primary = (language or "").strip().replace("-", "_").split("_")[0].lower()
    return any(candidate.split("_")[0] == primary and (EMAIL_TEMPLATE_DIR / candidate).is_dir()
               for candidate in language_candidates(language))


def template_languages() -> list[str]:
    """The languages messages are written in: one template directory each."""
    return sorted(path.name for path in EMAIL_TEMPLATE_DIR.iterdir() if path.is_dir())


@lru_cache(maxsize=None)
def _environment(directory: str) -> SandboxedEnvironment:
    # Shared partials (layouts, figures) a language does not provide come from English.
    search_path = list(dict.fromkeys([directory, str(EMAIL_TEMPLATE_DIR / FALLBACK_LANGUAGE)]))
    env = SandboxedEnvironment(
        loader=FileSystemLoader(search_path),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False, default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["money"] = _money_filter
    env.filters["date"] = _date_filter
    env.filters["percent"] = _percent_filter
    env.filters["number"] = _number_filter
    return env


# -- filters ---------------------------------------------------------------------------------------


def _defined(value: Any, what: str) -> Any:
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises UndefinedError naming the missing value
    if value is None:
        raise NoticeIncomplete(f"the message states {what}, which is missing")
    return value


@pass_context
def _money_filter(context: Context, amount_minor: Any, currency: str | None = None) -> str:
    """`{{ ctx.balance_minor|money }}`: minor units in the context's currency (or the one given)."""
    amount_minor = _defined(amount_minor, "an amount")
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise TypeError(f"money expects an integer amount in minor units, got {amount_minor!r}")
    return _format_money(amount_minor, currency or context["ctx"].currency, context["locale"])


@pass_context
def _date_filter(context: Context, value: Any) -> str:
    value = _defined(value, "a date")
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"date expects a calendar date, got {value!r}")
    return _format_date(value, context["locale"])


@pass_context
def _percent_filter(context: Context, value: Any) -> str:
    """`{{ rate|percent }}`: a rate given in percent, as the locale writes it ("10.15%", "10,15 %")."""
    value = _defined(value, "a rate")
    return format_percent(Decimal(value) / 100, locale=context["locale"], decimal_quantization=False)


@pass_context
def _number_filter(context: Context, value: Any) -> str:
    """`{{ i.margin_points|number }}`: a decimal number as the locale writes it ("8", "2,5")."""
    return format_decimal(Decimal(_defined(value, "a number")), locale=context["locale"])


# babel's formatting is pure and slow next to the rest of a message (about a third of rendering an
# email): remember recent results. Only hashable values reach these (ints, dates, strings).
@lru_cache(maxsize=8192)
def _format_money(amount_minor: int, currency: str, locale: str) -> str:
    return format_money(amount_minor, currency, locale)


@lru_cache(maxsize=4096)
def _format_date(value: date, locale: str) -> str:
    return format_day(value, locale)


# -- output tidying --------------------------------------------------------------------------------


def _one_line(text: str) -> str:
    # A subject is a header: no line breaks, whatever a debtor's name contains.
    return " ".join(text.split())


def _tidy_text(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"
