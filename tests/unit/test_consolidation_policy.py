"""Policy `consolidation` settings (issue #15): validated, versioned, on from default v3."""

import pytest
import yaml
from pydantic import ValidationError

from arrears.domain.policy import Stage, parse_policy_yaml


def _source(root, **consolidation):
    data = yaml.safe_load((root / "policies" / "default.yaml").read_text())
    if consolidation:
        data["consolidation"] = consolidation
    return data


def test_the_default_policy_turns_consolidation_on_with_a_seven_day_window(default_policy):
    # Given the shipped default policy (v3), Then one message per customer covers a week ahead
    settings = default_policy.consolidation
    assert default_policy.version >= 3
    assert settings.enabled and settings.window_days == 7 and settings.coming_due
    assert settings.holds == "list" and settings.currencies == "message_per_currency"
    assert settings.attach_statement == {Stage.FORMAL_NOTICE, Stage.FINAL_NOTICE}


def test_a_version_published_before_consolidation_keeps_one_message_per_invoice(root):
    # Given default v2 as it was published (no consolidation section)
    data = _source(root)
    del data["consolidation"]
    data["version"] = 2
    # When it is read back, Then consolidation is off: today's behaviour
    policy = parse_policy_yaml(yaml.safe_dump(data))
    assert policy.consolidation.enabled is False
    assert policy.consolidation.attach_statement == frozenset()


@pytest.mark.parametrize("settings, message", [
    ({"enabled": True, "window_days": 0}, "window_days"),
    ({"enabled": True, "window_days": 45}, "window_days"),
    ({"enabled": True, "holds": "break"}, "holds"),
    ({"enabled": True, "currencies": "sum"}, "currencies"),
    ({"enabled": True, "stages": ["overdue_reminder", "dunning_letter"]}, "unknown stages"),
    ({"enabled": True, "attach_statement": ["formal"]}, "unknown stages"),
    ({"enabled": True, "stages": []}, "no stage may be covered"),
    ({"enabled": True, "max_invoices": 1}, "max_invoices"),
    ({"enabled": True, "window": 7}, "window"),  # a misspelt key is refused, not ignored
])
def test_invalid_consolidation_settings_are_refused_with_the_reason(root, settings, message):
    # Given the default policy with a mistake in its consolidation settings
    data = _source(root, **settings)
    # When it is parsed, Then validation names the setting
    with pytest.raises(ValidationError, match=message):
        parse_policy_yaml(yaml.safe_dump(data))


def test_stages_are_given_by_name(root):
    data = _source(root, enabled=True, stages=["due_notice", "overdue_reminder"], attach_statement=["final_notice"])
    policy = parse_policy_yaml(yaml.safe_dump(data))
    assert policy.consolidation.stages == {Stage.DUE_NOTICE, Stage.OVERDUE_REMINDER}
    assert policy.consolidation.attach_statement == {Stage.FINAL_NOTICE}
