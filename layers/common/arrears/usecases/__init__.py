"""Use cases the entry points call: a workflow step, the finance API, the audit archive and its
offline verification, the policy simulator (dry run)."""
