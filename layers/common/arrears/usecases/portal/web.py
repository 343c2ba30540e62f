"""The portal over HTTP: API Gateway's proxy event in, an HTML page (or a document) out.

Routes (template.yaml, PortalFunction; public, throttled):
  GET  /portal/link                                   ask for a fresh link (a form)
  POST /portal/link                                   send a fresh link to the billing address on file
  GET  /portal/{token}                                the statement of account, the AP contact form
  GET  /portal/{token}/statement                      the statement of account as a PDF
  GET  /portal/{token}/policy                         the collections policy, the customer version, in their language
  GET  /portal/{token}/invoices/{invoice_id}          one invoice: documents, how to pay, the action forms
  GET  /portal/{token}/invoices/{invoice_id}/documents/{document_id}   an email (.eml) or letter (PDF) sent
  POST /portal/{token}/invoices/{invoice_id}/dispute | /promise | /plan
  POST /portal/{token}/contact                        the accounts-payable contact

A state-changing request is a POST from a page of this origin (Origin, else Referer, names this host) carrying
the form's CSRF token bound to the link. Bad input re-renders the form with its message and a 4xx, changing
nothing; a bad, expired or revoked link shows a page with no data and the fresh-link form. Never a 5xx page
with a trace: an unexpected error is logged and answered with a plain page.
"""

from __future__ import annotations

import base64
import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

from arrears.domain.wording import wording_for
from arrears.ingestion.http_input import BodyRefused, checked_text
from arrears.rendering.portal_pages import SECURITY_HEADERS, page_headers, render_page
from arrears.usecases.portal.service import Access, FieldErrors, LinkRefused, NotFound, PortalService

_log = logging.getLogger(__name__)
MAX_FORM_BYTES = 16 * 1024
LINK_FORM = "fresh-link"
INVOICE_FORMS = ("dispute", "promise", "plan")


def handle(event: dict[str, Any], service: PortalService) -> dict[str, Any]:
    request = _Request(event)
    try:
        return _route(request, service)
    except Exception:  # never a trace, a path or a 5xx page: the log has it
        _log.exception("portal request failed")
        return _html(500, render_page("bad_link", wording_for("en"), title="Error", creditor="", root=request.root,
                                      csrf="", old_link="", sent=False, limited=False, notice=None))


class _Request:
    def __init__(self, event: dict[str, Any]) -> None:
        self.event = event
        self.method = str(event.get("httpMethod") or "GET").upper()
        self.resource = str(event.get("resource") or "")
        self.params = event.get("pathParameters") or {}
        self.headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
        path = str(event.get("path") or "")
        tail = path.split("/portal/", 1)[1] if "/portal/" in path else ""
        # Links on a page are relative (to .../portal/): the same page works under /prod/ in AWS and / locally.
        self.root = "../" * tail.count("/") or "./"
        self.source = str(((event.get("requestContext") or {}).get("identity") or {}).get("sourceIp") or "unknown")

    def body(self) -> bytes:
        raw = self.event.get("body") or ""
        return base64.b64decode(raw) if self.event.get("isBase64Encoded") else str(raw).encode("utf-8")

    def form(self) -> dict[str, str]:
        text = checked_text(self.body(), MAX_FORM_BYTES)
        return {name: values[-1] for name, values in parse_qs(text, keep_blank_values=True, max_num_fields=64).items()}

    def same_origin(self) -> bool:
        """Origin (else Referer) names the host this request came to; a request with neither is refused."""
        host = self.headers.get("host", "")
        claimed = self.headers.get("origin") or self.headers.get("referer") or ""
        if not host or not claimed or claimed == "null":
            return False
        return urlsplit(claimed).netloc.lower() == host.lower()

    def base_url(self, configured: str = "") -> str:
        """Where links in emails point: the configured public URL, else this API's own (with its stage)."""
        if configured:
            return configured.rstrip("/")
        host = self.headers.get("host", "")
        proto = self.headers.get("x-forwarded-proto", "http" if host.startswith(("127.0.0.1", "localhost")) else "https")
        stage = str((self.event.get("requestContext") or {}).get("stage") or "")
        prefix = f"/{stage}" if stage and ".execute-api." in host else ""
        return f"{proto}://{host}{prefix}"


def _route(request: _Request, service: PortalService) -> dict[str, Any]:
    resource, method = request.resource, request.method
    if resource == "/portal/link":
        return _fresh_link(request, service) if method == "POST" else _bad_link(request, service, None, 200)
    try:
        access = service.access(str(request.params.get("token", "")))
    except LinkRefused as refused:
        return _bad_link(request, service, refused, 403)
    try:
        if resource == "/portal/{token}" and method == "GET":
            return _statement(request, service, access)
        if resource == "/portal/{token}/statement":
            return _file(service.statement_pdf(access), "application/pdf", "statement.pdf", inline=True)
        if resource == "/portal/{token}/policy" and method == "GET":
            document = service.policy_document(access)
            return _html(200, _page(service, access, "policy", request, title=document.title, document=document))
        if resource == "/portal/{token}/contact" and method == "POST":
            return _contact(request, service, access)
        invoice_id = str(request.params.get("invoice_id", ""))
        if resource == "/portal/{token}/invoices/{invoice_id}" and method == "GET":
            return _invoice(request, service, access, invoice_id)
        if resource == "/portal/{token}/invoices/{invoice_id}/documents/{document_id}":
            body, content_type, name = service.document(access, invoice_id, str(request.params.get("document_id", "")))
            return _file(body, content_type, name, inline=content_type == "application/pdf")
        action = resource.rpartition("/")[2]
        if resource.startswith("/portal/{token}/invoices/{invoice_id}/") and action in INVOICE_FORMS and method == "POST":
            return _act(request, service, access, invoice_id, action)
    except NotFound:
        return _html(404, _page(service, access, "bad_link", request, title=access.wording("portal.bad_link.title"),
                                csrf=_link_csrf(service), old_link="", sent=False, limited=False))
    return _html(405, "")


# --- pages ---------------------------------------------------------------------------------------------
def _page(service: PortalService, access: Access, template: str, request: _Request, **variables: Any) -> str:
    variables.setdefault("title", access.wording("portal.page_title", creditor=access.policy.creditor.name))
    variables.setdefault("notice", None)
    return render_page(template, access.wording, creditor=access.policy.creditor.name, customer=access.customer,
                       token=access.token, root=request.root, **variables)


def _statement(request: _Request, service: PortalService, access: Access, status: int = 200, **extra: Any) -> dict[str, Any]:
    return _html(status, _page(service, access, "statement", request, csrf=service.form_tokens(access, "contact"),
                               **service.statement(access), **extra))


def _invoice(request: _Request, service: PortalService, access: Access, invoice_id: str, status: int = 200,
             **extra: Any) -> dict[str, Any]:
    view = service.invoice_page(access, invoice_id)
    title = access.wording("portal.invoice_title", number=view["invoice"].number)
    return _html(status, _page(service, access, "invoice", request, title=title,
                               csrf=service.form_tokens(access, *INVOICE_FORMS), **view, **extra))


def _bad_link(request: _Request, service: PortalService, refused: LinkRefused | None, status: int,
              **extra: Any) -> dict[str, Any]:
    wording = wording_for("en")
    if refused is not None and refused.link is not None:
        customer = service.finance.store.get_customer(refused.link.customer_id)
        wording = wording_for(customer.language) if customer else wording
    page = render_page("bad_link", wording, title=wording("portal.bad_link.title"), creditor="", root=request.root,
                       csrf=_link_csrf(service), old_link="", notice=None,
                       **{"sent": False, "limited": False, **extra})
    return _html(status, page)


def _link_csrf(service: PortalService) -> str:
    # The fresh-link form is not bound to a link (it is the way out of a bad one): to its own name only.
    return service.form_token("", LINK_FORM)


# --- actions ---------------------------------------------------------------------------------------------
def _checked_form(request: _Request, service: PortalService, token: str, form_name: str) -> dict[str, str] | None:
    """The form's fields when it came from this origin with its CSRF token; None otherwise."""
    if not request.same_origin():
        return None
    form = request.form()
    return form if service.form_ok(token, form_name, form.get("csrf", "")) else None


def _act(request: _Request, service: PortalService, access: Access, invoice_id: str, action: str) -> dict[str, Any]:
    service.invoice(access, invoice_id)  # another customer's invoice is not found, before anything else
    try:
        form = _checked_form(request, service, access.token, action)
    except BodyRefused:
        form = None
    if form is None:
        return _invoice(request, service, access, invoice_id, status=403, errors={"form": access.wording("portal.error.form")})
    try:
        if action == "dispute":
            invoice = service.dispute(access, invoice_id, form.get("reason", ""), form.get("disputed_amount", ""),
                                      form.get("text", ""))
            notice = access.wording("portal.done.dispute", number=invoice.number)
        elif action == "promise":
            invoice, day = service.promise(access, invoice_id, form.get("promised_on", ""))
            from arrears.domain.wording import format_day

            notice = access.wording("portal.done.promise", number=invoice.number, date=format_day(day, access.wording.locale))
        else:
            most = access.policy.portal.plan_max_instalments
            rows = [(form.get(f"due_on_{n}", ""), form.get(f"amount_{n}", "")) for n in range(1, most + 1)]
            invoice, outcome = service.propose_plan(access, invoice_id, rows)
            notice = access.wording(f"portal.done.plan_{outcome}", number=invoice.number)
    except FieldErrors as bad:
        return _invoice(request, service, access, invoice_id, status=422, form=form, errors=_messages(access, bad))
    return _invoice(request, service, access, invoice_id, notice=notice)


def _contact(request: _Request, service: PortalService, access: Access) -> dict[str, Any]:
    try:
        form = _checked_form(request, service, access.token, "contact")
    except BodyRefused:
        form = None
    if form is None:
        return _statement(request, service, access, status=403, errors={"form": access.wording("portal.error.form")})
    try:
        email = service.update_contact(access, form.get("email", ""), form.get("phone", ""))
    except FieldErrors as bad:
        return _statement(request, service, access, status=422, form=form, errors=_messages(access, bad))
    fresh = service.access(access.token)  # the customer as now stored
    return _statement(request, service, fresh, notice=access.wording("portal.done.contact", email=email))


def _fresh_link(request: _Request, service: PortalService) -> dict[str, Any]:
    try:
        form = request.form() if request.same_origin() else None
    except BodyRefused:
        form = None
    if form is None or not service.form_ok("", LINK_FORM, form.get("csrf", "")):
        return _bad_link(request, service, None, 403)
    outcome = service.send_fresh_link(form.get("link", "")[:2000], request.source, request.base_url(service.public_url))
    return _bad_link(request, service, None, 429 if outcome == "limited" else 200,
                     sent=outcome == "sent", limited=outcome == "limited")


def _messages(access: Access, bad: FieldErrors) -> dict[str, str]:
    return {field: access.wording(key, **values) for field, (key, values) in bad.errors.items()}


# --- replies ---------------------------------------------------------------------------------------------
def _html(status: int, body: str) -> dict[str, Any]:
    return {"statusCode": status, "headers": page_headers(), "body": body, "isBase64Encoded": False}


def _file(body: bytes, content_type: str, filename: str, inline: bool) -> dict[str, Any]:
    safe = "".join(ch for ch in filename if ch.isalnum() or ch in "._-")[:120] or "document"
    headers = {**SECURITY_HEADERS, "Content-Type": content_type if inline else "application/octet-stream",
               "Content-Security-Policy": "default-src 'none'; sandbox",
               "Content-Disposition": f'{"inline" if inline else "attachment"}; filename="{safe}"'}
    return {"statusCode": 200, "headers": headers, "body": base64.b64encode(body).decode("ascii"), "isBase64Encoded": True}
