"""The debtor's portal pages as HTML (rendering): sandboxed, autoescaped Jinja; no script, no third-party asset.

Templates live in `templates/portal/`; their words come from the `portal.*` keys of the text catalogues
(arrears.domain.wording), so a page reads in the debtor's language as their letters do. The one stylesheet is
inline and allowed by its hash in the Content-Security-Policy (`default-src 'none'`), so the page loads
nothing at all from anywhere.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from arrears.domain.money import format_money
from arrears.domain.wording import Wording, format_day

PORTAL_TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "portal"

# Readable on a phone: one column, large tap targets, system fonts, contrast above WCAG AA.
CSS = (
    "body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1a1a1a;background:#fff}"
    "header{background:#12355b;color:#fff;padding:.75rem 1rem}header p{margin:0;font-weight:600}"
    "main{max-width:52rem;margin:0 auto;padding:1rem}h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem}"
    "a{color:#0b4f9c}.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%;margin:.5rem 0}"
    "caption{text-align:left;font-weight:600}th,td{padding:.4rem .5rem;border-bottom:1px solid #ccc;text-align:left}"
    ".num{text-align:right;white-space:nowrap}dl.facts div,dl.aging div{display:flex;gap:1rem}"
    "dt{font-weight:600;min-width:10rem}dd{margin:0}"
    "form{display:flex;flex-direction:column;gap:.4rem;max-width:32rem}"
    "input,select,textarea,button{font:inherit;padding:.5rem;border:1px solid #555;border-radius:4px}"
    "button{background:#12355b;color:#fff;border:0;min-height:44px;margin-top:.5rem;cursor:pointer}"
    "fieldset{border:1px solid #ccc;display:flex;flex-direction:column;gap:.3rem}"
    ".notice{background:#e6f4ea;border-left:4px solid #1e7d34;padding:.75rem}"
    ".errors{background:#fdecea;border-left:4px solid #b3261e;padding:.75rem}.errors h2{margin-top:0}"
    "@media (max-width:40rem){dl.facts div,dl.aging div{flex-direction:column;gap:0}th,td{padding:.3rem}}"
)
_CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode("utf-8")).digest()).decode("ascii")
CONTENT_SECURITY_POLICY = (f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; form-action 'self'; "
                           "frame-ancestors 'none'; base-uri 'none'")
# Every portal answer carries these (pages and documents): nothing cached, framed, sniffed or referred onwards.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


class FormValues(dict):
    """A form's values (or its errors) as the page shows them again: a field not given reads as empty."""

    def __missing__(self, key: str) -> str:
        return ""


def page_headers() -> dict[str, str]:
    return {"Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            **SECURITY_HEADERS}


def render_page(template: str, wording: Wording, **variables: Any) -> str:
    """One page in the wording's language; every value is escaped (a debtor's text is shown as text)."""
    env = _environment()
    page = env.get_template(f"{template}.html.j2")
    lang = wording.language.split("_")[0]
    return page.render(t=wording, lang=lang, locale=wording.locale, css=Markup(CSS),
                       form=FormValues(variables.pop("form", {}) or {}),
                       errors=FormValues(variables.pop("errors", {}) or {}), **variables)


@lru_cache(maxsize=1)
def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(loader=FileSystemLoader(str(PORTAL_TEMPLATE_DIR)), autoescape=True,
                               undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, auto_reload=False)
    env.filters["money"] = _money
    env.filters["day"] = _day
    return env


@pass_context
def _money(context: Context, amount_minor: int, currency: str) -> str:
    return format_money(int(amount_minor), currency, context["locale"])


@pass_context
def _day(context: Context, value: date) -> str:
    return format_day(value, context["locale"])
