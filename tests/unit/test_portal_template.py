"""The portal's routes in template.yaml (issue 16): public (no authorizer: the signed link is the credential), each
with its own API Gateway throttle on the stage, and each listed in docs/portal.md."""

from __future__ import annotations

import re

from arrears_local.runtime import project_root
from arrears_local.cfn import load_template

ROOT = project_root()


def _portal_events() -> dict[str, dict]:
    template = load_template(ROOT / "template.yaml")
    return {name: event["Properties"] for name, event in template["Resources"]["PortalFunction"]["Properties"]["Events"].items()}


def _throttled() -> dict[str, tuple[int, int]]:
    template = load_template(ROOT / "template.yaml")
    api = next(r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Api")
    # ResourcePath is "/" and the resource's path with each "/" as "~1" ("/*": every route of the stage).
    return {(s["ResourcePath"][1:].replace("~1", "/") if s["ResourcePath"] != "/*" else "/*"):
            (s["ThrottlingBurstLimit"], s["ThrottlingRateLimit"]) for s in api["Properties"]["MethodSettings"]}


def test_every_portal_route_is_public_and_throttled_below_the_stage():
    events, throttled = _portal_events(), _throttled()
    assert len(events) >= 11
    stage = throttled["/*"]
    for name, event in events.items():
        assert "Auth" not in event, name
        assert event["Path"] in throttled, f"{name} ({event['Path']}) has no throttle of its own"
        burst, rate = throttled[event["Path"]]
        assert burst < stage[0] and rate < stage[1], name


def test_every_portal_route_is_in_the_docs():
    docs = (ROOT / "docs" / "portal.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"`(?:GET|POST)(?:`/`POST)? (/portal/[^`]+)`", docs))
    assert {event["Path"] for event in _portal_events().values()} <= rows, rows
