from datetime import datetime, timezone

import pytest
import yaml
from pydantic import ValidationError

from arrears.domain.policy import Stage, parse_policy_yaml, plan_steps
from arrears.domain.policy.schedule import steps_to_skip_at_start


def test_default_policy_follows_common_b2b_practice(default_policy):
    # Given the shipped default policy
    steps = {s.id: s for s in default_policy.segment_for("standard").steps}
    # Then its offsets are the ones DESIGN.md prescribes
    assert {k: s.offset_days for k, s in steps.items()} == {
        "courtesy_reminder": -7, "due_notice": 0, "overdue_7": 7, "overdue_15": 15, "call_15": 15,
        "formal_notice": 30, "final_notice": 60, "referral": 90,
    }
    assert steps["formal_notice"].channel.value == "letter"
    assert steps["referral"].channel.value == "referral"


def test_steps_fall_at_contact_time_in_the_debtors_zone_across_dst(default_policy):
    # Given an invoice due on 20 October 2026 for a debtor in Berlin (CEST until 25 October, then CET)
    due = datetime(2026, 10, 20, 23, 30, tzinfo=timezone.utc)  # already 21 October in Berlin
    # When its steps are planned
    planned = {p.step.id: p.at for p in plan_steps(default_policy, "standard", due, "Europe/Berlin")}
    # Then each falls at 10:00 Berlin time on the debtor's calendar day
    assert planned["due_notice"] == datetime(2026, 10, 21, 8, 0, tzinfo=timezone.utc)  # 10:00 CEST
    assert planned["overdue_7"] == datetime(2026, 10, 28, 9, 0, tzinfo=timezone.utc)  # 10:00 CET
    assert planned["courtesy_reminder"] == datetime(2026, 10, 14, 8, 0, tzinfo=timezone.utc)


def test_unknown_segment_falls_back_to_the_default_segment(default_policy):
    due = datetime(2026, 10, 1, 9, tzinfo=timezone.utc)
    assert [p.step.id for p in plan_steps(default_policy, "no-such-segment", due, "UTC")] == \
        [p.step.id for p in plan_steps(default_policy, "standard", due, "UTC")]


def test_late_start_skips_past_steps_but_sends_the_latest_one(default_policy):
    # Given an invoice that reaches Arrears 20 days after its due date
    due = datetime(2026, 10, 1, 9, tzinfo=timezone.utc)
    planned = plan_steps(default_policy, "standard", due, "Europe/London")
    now = datetime(2026, 10, 21, 12, tzinfo=timezone.utc)
    # When collection starts
    skipped = {p.step.id for p in steps_to_skip_at_start(planned, now)}
    # Then older steps are skipped, and the +15 reminder and call task (the latest past moment) are kept
    assert skipped == {"courtesy_reminder", "due_notice", "overdue_7"}


def test_a_late_courtesy_reminder_is_never_sent(default_policy):
    due = datetime(2026, 10, 1, 9, tzinfo=timezone.utc)
    planned = plan_steps(default_policy, "standard", due, "Europe/London")
    skipped = {p.step.id for p in steps_to_skip_at_start(planned, datetime(2026, 9, 28, tzinfo=timezone.utc))}
    assert skipped == {"courtesy_reminder"}


def _policy_dict(root):
    return yaml.safe_load((root / "policies" / "default.yaml").read_text())


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["segments"]["standard"]["steps"].append(dict(d["segments"]["standard"]["steps"][0])), "unique"),
    (lambda d: d["segments"]["standard"].__setitem__("steps", [s for s in d["segments"]["standard"]["steps"] if s["id"] != "final_notice"]),
     "final notice before it"),
    (lambda d: d["creditor"]["address"].pop("line1"), "creditor address"),
    (lambda d: d["segments"]["standard"]["steps"][0].__setitem__("stage", "final_notice"), "escalate"),
    (lambda d: d.__setitem__("default_segment", "vip"), "default_segment"),
    (lambda d: d["segments"]["standard"]["steps"][0].__setitem__("channel", "carrier_pigeon"), "channel"),
])
def test_invalid_policies_are_refused_with_the_reason(root, mutate, message):
    # Given the default policy with one mistake
    data = _policy_dict(root)
    mutate(data)
    # When it is parsed, Then validation names the problem
    with pytest.raises(ValidationError, match=message):
        parse_policy_yaml(yaml.safe_dump(data))


def test_stage_order_is_the_escalation_order():
    assert [s.value for s in Stage] == ["courtesy_reminder", "due_notice", "overdue_reminder", "formal_notice", "final_notice", "referral"]
