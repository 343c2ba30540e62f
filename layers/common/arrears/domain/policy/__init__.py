"""Collections policies: data (YAML), validated by pydantic, versioned, pinned per invoice."""

from arrears.domain.policy.model import (
    Channel,
    Consolidation,
    ContactCalendar,
    Creditor,
    LatePayment,
    Policy,
    Segment,
    Stage,
    Step,
    load_policy_file,
    parse_policy_yaml,
)
from arrears.domain.policy.schedule import PlannedStep, plan_steps

__all__ = [
    "Channel",
    "Consolidation",
    "ContactCalendar",
    "Creditor",
    "LatePayment",
    "PlannedStep",
    "Policy",
    "Segment",
    "Stage",
    "Step",
    "load_policy_file",
    "parse_policy_yaml",
    "plan_steps",
]
