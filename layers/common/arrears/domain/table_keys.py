"""Single-table key design, in one place so the API, the workflow and the tests agree.

INVOICE#id / META          invoice facts + collection state     GSI1: COLLECTION#open|closed / next action
                                                                GSI3: RECEIVABLE / due#id (open with a balance)
INVOICE#id / LOG#000001    contact-log entries (hash-chained)   GSI2: CUSTOMER#id / INVOICE#due#id
INVOICE#id / STEP#step     once-only claims of workflow steps
CUSTOMER#id / META         customer (the billing platform's record)
CUSTOMER#id / SETTINGS     the finance team's values over it (contacts, language, timezone, segment)
CUSTOMER#id / INSOLVENCY   the customer's insolvency notice: its later invoices are held at once
CUSTOMER#id / BEHAVIOUR    how the customer pays: figures summed per paid invoice, its risk band (issue #20)
CUSTOMER#id / LAST_CONTACT the last message to the customer (any invoice): the policy's gap runs from it
CUSTOMER#id / REPLY_PAUSE  the customer replied: automated messages wait until its task is handled (docs/replies.md)
REPLY#ref / META           a sent message's Reply-To token -> its invoice and step (arrears.domain.replies)
ADDRESS#email / CUSTOMER#id  the customers emailed at an address (a reply matched by its sender)
TASK#id / META             tasks for people                     GSI1: TASK#open / due
                                                                GSI2: INVOICE#id / TASK#due#id (the invoice's tasks)
POLICY#id / V#000001       immutable policy versions; POLICY#id / CURRENT points at one  GSI1: POLICY / id
"""

META = "META"
CUSTOMER_SETTINGS = "SETTINGS"
INSOLVENCY = "INSOLVENCY"
LAST_CONTACT = "LAST_CONTACT"
BEHAVIOUR = "BEHAVIOUR"
REPLY_PAUSE = "REPLY_PAUSE"
RECEIVABLE = "RECEIVABLE"
POLICY_INDEX = "POLICY"


def invoice_pk(invoice_id: str) -> str:
    return f"INVOICE#{invoice_id}"


def customer_pk(customer_id: str) -> str:
    return f"CUSTOMER#{customer_id}"


def log_sk(seq: int) -> str:
    return f"LOG#{seq:06d}"


def step_sk(step_id: str) -> str:
    return f"STEP#{step_id}"


def policy_pk(policy_id: str) -> str:
    return f"POLICY#{policy_id}"


def policy_version_sk(version: int) -> str:
    return f"V#{version:06d}"


LOG_PREFIX = "LOG#"
TASK_PREFIX = "TASK#"


def task_id(invoice_id: str, kind: str, due_at: str, details: dict) -> str:
    """One task per invoice, kind, moment and, when the task is about a step, step: two tasks of one
    kind at the same instant (a hold's letter and a step's letter) must not overwrite each other,
    while a retried step reopens the same task."""
    step = details.get("step_id")
    return f"{invoice_id}.{kind}.{step}.{due_at}" if step else f"{invoice_id}.{kind}.{due_at}"
