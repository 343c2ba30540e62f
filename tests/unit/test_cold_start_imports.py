"""Lean cold starts (issue #19): a handler imports what it uses, and loads the X-Ray SDK only when tracing is on.

Each handler module is imported in a fresh interpreter, as Lambda does, with tracing off (the template's
default): none of the heavy imports that used to be in every cold start is loaded by the import. The
figures are `make bench`'s (bench/cold_start.py); this only checks what is imported, not how fast.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from arrears.adapters.settings import Settings, function_settings
from arrears.adapters.tracing import traced

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = sorted(p.name for p in (ROOT / "functions").iterdir() if (p / "app.py").exists())  # every handler, new ones too
# Loaded at the first use, or only when tracing is on; never by the import of a handler.
LAZY = ("aws_xray_sdk", "pydantic_settings", "dotenv", "holidays", "yaml", "email_validator",
        "aws_lambda_powertools.utilities.parser", "aws_lambda_powertools.utilities.parameters")


def _imported_by(function: str) -> set[str]:
    env = {"PATH": os.environ.get("PATH", ""), "TZ": "UTC", "TABLE_NAME": "arrears-table", "AWS_DEFAULT_REGION": "eu-west-1",
           "POWERTOOLS_TRACE_DISABLED": "true", "PYTHONPATH": os.pathsep.join(
               [str(ROOT / "functions" / function), str(ROOT / "layers" / "common")])}
    code = f"import json, sys; import app; print(json.dumps(sorted(m for m in sys.modules if m.startswith({LAZY!r}))))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT / "functions" / function, env=env, capture_output=True,
                          text=True, check=True)
    return set(json.loads(done.stdout))


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_handlers_import_loads_none_of_what_it_does_not_need_at_once(function):
    # Given a fresh interpreter with tracing off; When the handler module is imported; Then none of them is loaded
    assert _imported_by(function) == set()


def test_the_settings_are_read_from_the_environment_by_their_names():
    # Given an environment with upper-case names, a number as text, a flag, and names that are not settings
    settings = Settings.from_environ({"TABLE_NAME": "arrears", "SECRET_MAX_AGE_SECONDS": "60",
                                      "POWERTOOLS_TRACE_DISABLED": "false", "PATH": "/usr/bin", "table_name": "lower"})
    # Then each is read by its name and typed; others are ignored
    assert (settings.table_name, settings.secret_max_age_seconds, settings.trace_disabled) == ("arrears", 60, False)
    assert Settings.from_environ({"TABLE_NAME": "arrears"}).trace_disabled is True  # off unless turned on
    with pytest.raises(ValueError):
        Settings.from_environ({"SECRET_MAX_AGE_SECONDS": "60"})  # the table is required


def test_traced_runs_the_handler_as_it_is_when_tracing_is_off_and_under_the_tracer_when_on():
    calls = []

    def handler(event, context):
        calls.append(event)
        return {"ok": event}

    for disabled in (True, False):
        wrapped = traced(handler)
        with function_settings(Settings.from_environ({"TABLE_NAME": "arrears", "POWERTOOLS_TRACE_DISABLED": str(disabled)})):
            # When the wrapped handler is invoked; Then it answers as the handler does, either way
            assert wrapped({"n": disabled}, None) == {"ok": {"n": disabled}}
        if not disabled:
            # And with tracing on, Powertools' Tracer (the X-Ray SDK) was loaded to wrap it
            assert "aws_xray_sdk" in sys.modules
    assert calls == [{"n": True}, {"n": False}]
    assert wrapped.__name__ == "handler"
