"""Every `arrears` command's --help: a newcomer's first step must print help, never a traceback."""

from __future__ import annotations

import pytest
import typer.main
from typer.testing import CliRunner

from arrears_local.cli import app


def _command_paths(command, path=()):
    yield list(path)
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _command_paths(sub, (*path, name))


COMMANDS = list(_command_paths(typer.main.get_command(app)))


def test_every_command_and_sub_command_is_walked():
    # Given the CLI's tree, the walk below reaches the audit commands the pilot's --help crashed on
    assert ["audit", "verify"] in COMMANDS and ["audit", "export"] in COMMANDS and ["import"] in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "arrears")
def test_help_prints_and_exits_zero(path):
    # When a person asks for help on the command
    result = CliRunner().invoke(app, [*path, "--help"])
    # Then it prints its usage, without a markup error or any traceback
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "Usage" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("path", [["audit", "verify"], ["audit", "export"]])
def test_audit_help_shows_the_s3_uri_form_literally(path):
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "240"})
    assert result.exit_code == 0, repr(result.exception)
    assert "s3://bucket[/prefix]" in result.output
