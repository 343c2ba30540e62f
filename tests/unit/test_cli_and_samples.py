"""The committed sample events and the policy commands of the `arrears` CLI."""

from pathlib import Path

import yaml
from typer.testing import CliRunner

from arrears_local.cli import app
from arrears_local.samples import write_sample_events

ROOT = Path(__file__).resolve().parents[2]


def test_committed_sample_events_are_up_to_date():
    # A change to the payload builders or the handlers' inputs must be reflected in events/ (run `arrears events`).
    assert write_sample_events(check=True, root=ROOT) == []


def test_sample_webhooks_are_signed_for_the_local_secret():
    import json

    from arrears.ingestion.providers.stripe import verify_signature
    from arrears_local.runtime import LOCAL_STRIPE_SECRET

    event = json.loads((ROOT / "events" / "webhooks" / "stripe-invoice-finalized.json").read_text())
    body = event["body"].encode()
    header = event["headers"]["Stripe-Signature"]
    from datetime import datetime, timezone

    signed_at = datetime.fromtimestamp(int(header.split(",")[0][2:]), tz=timezone.utc)
    verify_signature(body, header, [LOCAL_STRIPE_SECRET], signed_at)


def test_policy_validate_accepts_the_shipped_policies():
    result = CliRunner().invoke(app, ["policy", "validate", *map(str, sorted((ROOT / "policies").glob("*.yaml")))])
    assert result.exit_code == 0, result.output
    assert "default v4" in result.output


def test_policy_validate_names_the_mistake_and_fails(tmp_path):
    data = yaml.safe_load((ROOT / "policies" / "default.yaml").read_text())
    data["segments"]["standard"]["steps"] = [s for s in data["segments"]["standard"]["steps"] if s["id"] != "final_notice"]
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(app, ["policy", "validate", str(broken)])
    assert result.exit_code == 1
    assert "needs a final notice before it" in result.output
