"""The browser harness itself: real Chromium loads a page under a strict CSP, and axe-core finds what is wrong."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.e2e.browser import axe_violations, browser_page, chromium  # noqa: F401  (fixture)
from tests.e2e.serving import running

CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
PAGES = {
    "/good": '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Statement</title></head>'
             '<body><main><h1>Statement of account</h1><form method="post" action="/good"><label for="d">Pay by</label>'
             '<input id="d" name="d" type="date"><button type="submit">Promise</button></form>'
             '<script>document.title = "script ran"</script></main></body></html>',
    "/bad": '<!doctype html><html><head><title>Bad</title></head><body><input type="text"><img src="/x.png"></body></html>',
}


class _Pages(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        body = PAGES.get(self.path, "").encode()
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Security-Policy", CSP)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _served():
    return running(ThreadingHTTPServer(("127.0.0.1", 0), _Pages))


def test_axe_passes_a_labelled_page_and_the_csp_still_blocks_inline_script(chromium):  # noqa: F811
    with _served() as base, browser_page(chromium) as page:
        page.goto(base + "/good")
        assert page.title() == "Statement"  # the inline script was refused by the page's own CSP
        assert axe_violations(page) == []


def test_axe_names_an_unlabelled_field_and_a_missing_language(chromium):  # noqa: F811
    with _served() as base, browser_page(chromium) as page:
        page.goto(base + "/bad")
        found = {v["id"] for v in axe_violations(page)}
        assert {"label", "html-has-lang"} <= found
