"""The finance API's OpenAPI document: committed, fresh, and the same routes as template.yaml."""

from __future__ import annotations

import json

from samtranslator.yaml_helper import yaml_parse

from arrears_local.openapi import FINANCE_DOCUMENT, finance_openapi
from arrears_local.runtime import project_root


def test_the_committed_document_is_what_the_api_serves():
    # A route or schema changed without `arrears openapi` fails here.
    assert FINANCE_DOCUMENT.read_text(encoding="utf-8") == finance_openapi()


def test_the_document_and_the_template_declare_the_same_routes_all_signed():
    template = yaml_parse((project_root() / "template.yaml").read_text(encoding="utf-8"))
    events = template["Resources"]["ApiFunction"]["Properties"]["Events"].values()
    in_template = {(e["Properties"]["Path"], e["Properties"]["Method"].lower()) for e in events}
    assert all(e["Properties"]["Auth"] == {"Authorizer": "AWS_IAM"} for e in events)
    document = json.loads(FINANCE_DOCUMENT.read_text(encoding="utf-8"))
    in_document = {(path, method) for path, item in document["paths"].items() for method in item}
    assert in_template == in_document | {("/openapi.json", "get")}
    assert document["security"] == [{"sigv4": []}]


def test_every_operation_documents_its_errors():
    document = json.loads(FINANCE_DOCUMENT.read_text(encoding="utf-8"))
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert {"404", "409", "422"} <= set(operation["responses"]), (method, path)


def test_openapi_check_names_a_stale_webhooks_document(tmp_path, monkeypatch):
    # Given the webhooks document on disk no longer matches the providers' parsing models
    from typer.testing import CliRunner

    from arrears_local import webhooks_openapi
    from arrears_local.cli import app

    stale = tmp_path / "webhooks.json"
    stale.write_text("{}\n", encoding="utf-8")
    monkeypatch.setattr(webhooks_openapi, "WEBHOOKS_DOCUMENT", stale)
    # When `arrears openapi --check` runs, it fails naming that file
    checked = CliRunner().invoke(app, ["openapi", "--check"], env={"COLUMNS": "300"})
    assert checked.exit_code == 1 and "webhooks.json is stale" in checked.output
    # And `arrears openapi` rewrites both documents, after which the check passes
    written = CliRunner().invoke(app, ["openapi"], env={"COLUMNS": "300"})
    assert written.exit_code == 0 and stale.read_text(encoding="utf-8") == webhooks_openapi.webhooks_openapi()
