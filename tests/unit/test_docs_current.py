"""The README is the front door and docs/ holds the depth: both stay current with the code they describe."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer.main
import yaml
from samtranslator.yaml_helper import yaml_parse

from arrears_local.cli import app

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGES = sorted((ROOT / "docs").glob("*.md"))
# Pages of issue 13 written on other branches at the same time as this one; checked like every other page
# as soon as they exist (drop a name here once its branch is merged).
WRITTEN_ELSEWHERE: set[str] = set()
LINK = re.compile(r"\]\(([^)#\s]*)(#[^)\s]+)?\)")


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {_anchor(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


def test_the_readme_is_a_front_door_with_the_two_commands():
    # Given the README a newcomer opens first
    text = README.read_text()
    # Then it is short, keeps the two commands exactly, and says what CI runs
    assert len(text.splitlines()) <= 160
    assert "make demo   # sets itself up" in text and "make test   # sets itself up" in text
    assert "`bash .ci/run` is what CI runs" in text
    # And it sends the reader on to every page of docs/
    for page in PAGES:
        assert f"(docs/{page.name})" in text, f"the README does not link docs/{page.name}"


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_and_anchor_resolves(page):
    # When a reader follows a link from the page
    for target, anchor in LINK.findall(page.read_text()):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        resolved = (page.parent / target).resolve() if target else page
        name = resolved.relative_to(ROOT).as_posix()
        if not resolved.exists() and name in WRITTEN_ELSEWHERE:
            continue
        # Then the file exists and, for a section link, so does the section
        assert resolved.exists(), f"{page.name} links {target}, which does not exist"
        if anchor and resolved.suffix == ".md":
            assert anchor[1:] in _anchors(resolved), f"{page.name} links {target}{anchor}: no such section"


def test_the_finance_api_page_names_every_route_of_the_template():
    # Given the API routes the template deploys
    template = yaml_parse((ROOT / "template.yaml").read_text())
    events = template["Resources"]["ApiFunction"]["Properties"]["Events"].values()
    paths = {re.sub(r"\{\w+_id\}", "{id}", event["Properties"]["Path"]) for event in events if event["Type"] == "Api"}
    page = (ROOT / "docs" / "finance-api.md").read_text()
    # Then the page names each one in full, or as its action under the resource (`/invoices/{id}/pause`, `/resume`)
    assert "/invoices/{id}/pause" in paths
    for path in paths:
        action = path.split("{id}", 1)[1] if "{id}/" in path else None
        assert f"{path}`" in page or f"{path}?" in page or (action and f"`{action}`" in page), f"{path} is not in the page"


def test_the_serve_page_lists_every_cli_command():
    # Given the commands `arrears --help` lists
    root = typer.main.get_command(app)
    page = (ROOT / "docs" / "serve.md").read_text()
    # Then the command table names each, and each sub-command
    for name, command in root.commands.items():
        assert f"`arrears {name}" in page, f"arrears {name} is not in docs/serve.md"
        for sub in getattr(command, "commands", {}):
            assert re.search(rf"`(arrears )?{name} {sub}\b", page), f"arrears {name} {sub} is not in docs/serve.md"


def test_the_policy_page_shows_the_default_policy_steps_as_published():
    # Given the default policy as it is published
    policy = yaml.safe_load((ROOT / "policies" / "default.yaml").read_text())
    rows = dict(re.findall(r"^\| \*\*(\w+)\*\*[^|]*\|([^|]+)\|", (ROOT / "docs" / "policy.md").read_text(), flags=re.M))
    # Then each segment's row gives the moments of its steps, in order (two steps on one day share a number)
    assert set(rows) == set(policy["segments"])
    for segment, terms in policy["segments"].items():
        offsets = sorted({step["offset_days"] for step in terms["steps"]})
        written = [int(number.replace("−", "-")) for number in re.findall(r"(?:^|·)\s*([−+]?\d+)\s", rows[segment])]
        assert written == offsets, f"{segment}: docs/policy.md says {written}, policies/default.yaml {offsets}"
