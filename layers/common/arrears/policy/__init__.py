"""Collections policies: data (YAML), validated by pydantic, versioned, pinned per invoice."""

from arrears.policy.model import (
    Channel,
    Creditor,
    LatePayment,
    Policy,
    Segment,
    Stage,
    Step,
    load_policy_file,
    parse_policy_yaml,
)
from arrears.policy.schedule import PlannedStep, plan_steps

__all__ = [
    "Channel",
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
