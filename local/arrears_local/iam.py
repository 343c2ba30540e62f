"""Least privilege, proven at run time: each function's AWS calls signed as its own IAM role, and checked.

`LocalRuntime(start, iam=True)` (or `ARREARS_LOCAL_IAM=1`) creates in moto, before anything runs, the role
SAM generates for each function and for the state machine (`security_scan.translate()`, intrinsics resolved
against the local names and ARNs): the inline policies, and the AWS managed policies by their documents
(moto's copy of them). Each function gets STS credentials of its role. Then two patches:

- `RoleCredentials`: botocore's frozen credentials follow the function being invoked (a contextvar the
  runtime's invoke wrapper sets), so one client cache serves every function and product code (`layers/`)
  knows nothing of it. Outside an invocation (the runtime's setup, test drivers, moto itself) the
  process's own credentials are used, and those calls are not checked: they stand for the deployer.
- `RoleAuthorizer`: every request moto authorizes (`ActionAuthenticatorMixin._authenticate_and_authorize_action`)
  signed with a role session's key is checked against that role's policies with moto's own policy
  evaluator (`IAMPolicy`). moto itself passes the resource `*` for every service but S3, SQS, IAM and STS,
  which no resource-scoped statement matches; so the resource of each request is worked out here, from
  the request, as AWS's authorization reference defines it (the table and index of a DynamoDB call, each
  table and item action of a batch or transaction, the state machine a task token belongs to, the
  function invoked, the SSM parameter, the SES identity and configuration set). A refused call answers
  AccessDenied, as AWS would, and is recorded in `IamEnforcement.denials`.

What this does not check (tests/e2e/test_least_privilege.py lists each, and checks some another way):
SigV4 signatures (the access key id picks the role; the signature is a placeholder), Condition keys
(moto evaluates none of a request's context), resource-based policies (bucket, topic and key policies),
and calls AWS makes with a role outside any function's code: Step Functions invoking Lambda (the state
machine role), Lambda polling the DynamoDB stream, writing logs, sending to a dead-letter queue or an
on-failure destination, X-Ray (off locally). docs/local-runtime.md, "IAM enforcement", says the same.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from arrears_local.engine import Patch, Target

_log = logging.getLogger("arrears_local.iam")
_SCOPE_SERVICE_ACTIONS = {("lambda", "Invoke"): "InvokeFunction", ("lambda", "InvokeAsync"): "InvokeAsync"}

# Their errors are JSON ({"__type": "AccessDeniedException"}), as AWS answers; the others' are XML.
_JSON_SERVICES = frozenset({"dynamodb", "states", "ssm", "lambda", "ses", "sqs", "events"})

_CURRENT: contextvars.ContextVar[RoleSession | None] = contextvars.ContextVar("arrears_local_iam_role", default=None)


@dataclass(frozen=True)
class RoleSession:
    """The role a function runs as, and the STS credentials of its session."""

    logical_id: str  # the template's function (or state machine) logical id
    role_name: str
    role_arn: str
    access_key_id: str
    secret_access_key: str
    session_token: str


@dataclass(frozen=True)
class Denial:
    """A call a role's policies refused."""

    function: str  # logical id
    action: str  # e.g. dynamodb:PutItem
    resource: str


@dataclass
class RolePolicies:
    """One role as SAM generates it, intrinsics resolved: its inline policies (name -> document) and the
    managed policy ARNs attached to it."""

    role_logical_id: str
    source: str  # the function or state machine the role belongs to
    inline: dict[str, dict[str, Any]]
    managed: list[str]
    trust: dict[str, Any]  # the assume-role policy document

    def statements(self) -> list[tuple[str, int, dict[str, Any]]]:
        """(policy name, index, statement) of every inline statement."""
        out = []
        for name, document in self.inline.items():
            statements = document["Statement"]
            for index, statement in enumerate(statements if isinstance(statements, list) else [statements]):
                out.append((name, index, statement))
        return out


def translated_roles(resolver: Any, root: Any) -> dict[str, RolePolicies]:
    """Source logical id (function or state machine) -> its SAM-generated role, resolved locally."""
    from arrears_local.security_scan import source_of

    resources = _translated(Path(root), (Path(root) / "template.yaml").read_text(encoding="utf-8"))["Resources"]
    sources = {lid for lid, r in resources.items() if r["Type"] in ("AWS::Lambda::Function", "AWS::StepFunctions::StateMachine")}
    roles: dict[str, RolePolicies] = {}
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        source = source_of(logical_id, sources)
        if source is None:
            continue
        properties = resource["Properties"]
        inline = {p["PolicyName"]: resolver.resolve(p["PolicyDocument"]) for p in properties.get("Policies", [])}
        roles[source] = RolePolicies(logical_id, source, inline, list(properties.get("ManagedPolicyArns", [])),
                                     resolver.resolve(properties["AssumeRolePolicyDocument"]))
    return roles


@functools.lru_cache(maxsize=4)
def _translated(root: Path, template_text: str) -> dict[str, Any]:
    """SAM's translation, once per template text (each runtime of a test session would redo it: ~0.5 s).
    Callers resolve copies of its parts, never change it."""
    from arrears_local.security_scan import translate

    return translate(root)


def managed_policy_document(arn: str) -> dict[str, Any]:
    """An AWS managed policy's document, from moto's copy of them."""
    name = arn.rpartition("/")[2]
    data = _managed_policies()
    if name not in data:
        raise KeyError(f"moto has no copy of the managed policy {arn}")
    return data[name]["Document"]


@functools.lru_cache(maxsize=1)
def _managed_policies() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return json.loads(aws_managed_policies_data)


class IamEnforcement:
    """Creates the roles in moto, hands out their sessions and installs the two patches (see the module
    docstring). `without` removes statements before the roles are created: {(source, policy, index)} a
    whole statement, {(source, policy, index, action)} one action of it (the statement-removal test)."""

    def __init__(self, runtime: Any, without: set[tuple[Any, ...]] | None = None, *, account: str, stack: str) -> None:
        self.runtime = runtime
        self.account = account
        self.stack = stack  # roles are named <stack>-<logical id>, as the runtime names the state machine's
        self.without = without or set()
        self.roles: dict[str, RolePolicies] = {}
        self.sessions: dict[str, RoleSession] = {}  # source logical id -> session
        self._by_key: dict[str, RoleSession] = {}
        self.denials: list[Denial] = []
        self.checked = 0  # calls checked against a role's policies
        self.allowed: set[tuple[str, str, str]] = set()  # (function, action, resource) of each call allowed
        self.unresolved: set[tuple[str, str]] = set()  # (function, action) of calls whose resource was not worked out
        # (function, what) of each invocation that failed as Lambda would count it: raised, answered 5xx,
        # or reported failed batch items (how a refused call surfaces).
        self.failures: list[tuple[str, str]] = []
        self._refusing: set[tuple[str, str]] = set()  # (function, action) refused on purpose (`refusing`)
        self.deliberate: list[Denial] = []
        self.deliberate_failures: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._patches: list[Patch] = []
        self._policies: dict[str, list[Any]] = {}

    # --- roles ------------------------------------------------------------------------------
    def provision(self) -> None:
        """Create every role and its session (with the deployer's credentials: nothing is enforced yet)."""
        self.roles = translated_roles(self.runtime.resolver, self.runtime.root)
        iam, sts = self.runtime.client("iam"), self.runtime.client("sts")
        for source, role in self.roles.items():
            name = f"{self.stack}-{source}"[:64]
            arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(role.trust))["Role"]["Arn"]
            for policy_name, document in self._trimmed(source, role).items():
                iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(document))
            for managed in role.managed:
                # moto does not load AWS's managed policies by default: their documents, inline, same effect.
                if (source, managed) in self.without:
                    continue
                iam.put_role_policy(RoleName=name, PolicyName=f"managed-{managed.rpartition('/')[2]}",
                                    PolicyDocument=json.dumps(managed_policy_document(managed)))
            credentials = sts.assume_role(RoleArn=arn, RoleSessionName=source[:64])["Credentials"]
            session = RoleSession(source, name, arn, credentials["AccessKeyId"], credentials["SecretAccessKey"],
                                  credentials["SessionToken"])
            self.sessions[source] = session
            self._by_key[session.access_key_id] = session

    def _trimmed(self, source: str, role: RolePolicies) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for name, document in role.inline.items():
            statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
            kept = []
            for index, statement in enumerate(statements):
                if (source, name, index) in self.without:
                    continue
                actions = statement.get("Action")
                if isinstance(actions, list):
                    actions = [a for a in actions if (source, name, index, a) not in self.without]
                    if not actions:
                        continue
                    statement = {**statement, "Action": actions}
                elif isinstance(actions, str) and (source, name, index, actions) in self.without:
                    continue
                kept.append(statement)
            if kept:
                out[name] = {"Version": "2012-10-17", **document, "Statement": kept}  # SAM omits it in some
        return out

    def role_arn(self, source: str) -> str | None:
        session = self.sessions.get(source)
        return session.role_arn if session else None

    def acting_as(self, source: str, invoke: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        """`invoke` running with `source`'s role: its AWS calls are signed with its session."""
        session = self.sessions[source]

        def invoke_as_role(event: Any, context: Any) -> Any:
            token = _CURRENT.set(session)
            try:
                result = invoke(event, context)
            except Exception as exc:
                self._failed(source, f"raised {type(exc).__name__}: {exc}")
                raise
            finally:
                _CURRENT.reset(token)
            if isinstance(result, dict) and int(result.get("statusCode") or 0) >= 500:
                self._failed(source, f"answered {result['statusCode']}")
            elif isinstance(result, dict) and result.get("batchItemFailures"):
                self._failed(source, f"reported {len(result['batchItemFailures'])} failed batch item(s)")
            return result

        return invoke_as_role

    def _failed(self, source: str, what: str) -> None:
        with self._lock:
            (self.deliberate_failures if self._refusing else self.failures).append((source, what))

    @contextmanager
    def as_role(self, source: str) -> Iterator[None]:
        """Run a block as `source`'s role (tests: a presigned link the function made, opened as it)."""
        token = _CURRENT.set(self.sessions[source])
        try:
            yield
        finally:
            _CURRENT.reset(token)

    # --- patches ----------------------------------------------------------------------------
    def install(self) -> None:
        for cls in (RoleCredentials, RoleAuthorizer):
            patch = cls(self)
            self._patches.append(patch)
            patch.install()

    def uninstall(self) -> None:
        while self._patches:
            self._patches.pop().uninstall()
        report = os.environ.get("ARREARS_LOCAL_IAM_LOG")
        if report and self.allowed:
            with open(report, "a", encoding="utf-8") as out:
                out.writelines(f"allowed\t{source}\t{action}\t{resource}\n" for source, action, resource in sorted(self.allowed))

    # --- checking ---------------------------------------------------------------------------
    def session_of(self, access_key_id: str) -> RoleSession | None:
        return self._by_key.get(access_key_id)

    @contextmanager
    def refusing(self, source: str, action: str) -> Iterator[None]:
        """Refuse `source` `action` during the block whatever its role says: a transient failure (as a
        throttle or a briefly missing grant would cause) for a test of what happens next. Those refusals, and
        the invocations they fail, are kept apart (`deliberate`), not in `denials` and `failures`."""
        with self._lock:
            self._refusing.add((source, action))
        try:
            yield
        finally:
            with self._lock:
                self._refusing.discard((source, action))

    def permitted(self, session: RoleSession, action: str, resource: str) -> bool:
        """moto's evaluator over the role's policies: an explicit Deny wins, else any Allow."""
        if (session.logical_id, action) in self._refusing:
            return False
        from moto.iam.access_control import IAMPolicy, PermissionResult
        from moto.iam.models import iam_backends

        policies = self._policies.get(session.role_name)
        if policies is None:  # the roles do not change once enforcement starts: parsed once
            backend = iam_backends[self.account]["aws"]
            policies = [IAMPolicy(backend.get_role_policy(session.role_name, name)[1])
                        for name in backend.list_role_policies(session.role_name)]
            self._policies[session.role_name] = policies
        allowed = False
        for policy in policies:
            result = policy.is_action_permitted(action, resource)
            if result == PermissionResult.DENIED:
                return False
            allowed = allowed or result == PermissionResult.PERMITTED
        return allowed

    def record(self, session: RoleSession, action: str, resource: str, allowed: bool) -> None:
        with self._lock:
            self.checked += 1
            if not allowed and (session.logical_id, action) in self._refusing:
                self.deliberate.append(Denial(session.logical_id, action, resource))
                return
            if resource == "*":  # no resource worked out: only a Resource "*" statement could allow it
                self.unresolved.add((session.logical_id, action))
            if allowed:
                self.allowed.add((session.logical_id, action, resource))
            else:
                self.denials.append(Denial(session.logical_id, action, resource))
        if not allowed:
            _log.warning("IAM: %s may not %s on %s", session.logical_id, action, resource)
            report = os.environ.get("ARREARS_LOCAL_IAM_LOG")
            if report:  # every denial of a run (or a whole suite), one line each, for a review
                with open(report, "a", encoding="utf-8") as out:
                    out.write(f"denied\t{session.logical_id}\t{action}\t{resource}\n")


class RoleCredentials(Patch):
    """botocore's frozen credentials: the invoking function's role session, else the process's own."""

    NAME = "iam_role_credentials"
    WRITTEN_FOR = "botocore 1.44.5"
    TARGETS = (
        Target("botocore.credentials", "Credentials.get_frozen_credentials", ("self",)),
        Target("botocore.credentials", "RefreshableCredentials.get_frozen_credentials", ("self",)),
        Target("botocore.credentials", "ReadOnlyCredentials"),
    )

    def install(self) -> None:
        from botocore.credentials import Credentials, ReadOnlyCredentials, RefreshableCredentials

        for cls in (Credentials, RefreshableCredentials):
            original = cls.__dict__["get_frozen_credentials"]

            def frozen(credentials: Any, _original: Any = original) -> Any:
                session = _CURRENT.get()
                if session is None:
                    return _original(credentials)
                return ReadOnlyCredentials(session.access_key_id, session.secret_access_key, session.session_token, None)

            self.set(cls, "get_frozen_credentials", frozen)


class RoleAuthorizer(Patch):
    """Every request moto authorizes, checked against the calling role's policies (see the module docstring)."""

    NAME = "iam_role_authorizer"
    TARGETS = (
        Target("moto.core.authorization", "ActionAuthenticatorMixin._authenticate_and_authorize_action",
               ("self", "iam_request_cls", "resource")),
        Target("moto.iam.access_control", "IAMPolicy.is_action_permitted",
               ("self", "action", "resource", "principal", "incoming_condition_values")),
        Target("moto.iam.access_control", "S3IAMRequest"),
        Target("moto.core.exceptions", "AccessDeniedError"),
        Target("moto.core.exceptions", "JsonRESTError"),
        Target("moto.stepfunctions.parser.models", "stepfunctions_parser_backends"),
        Target("moto.stepfunctions.parser.asl.eval.callback.callback", "CallbackPoolManager.get", ("self", "callback_id")),
        Target("moto.s3.exceptions", "S3AccessDeniedError"),
        Target("moto.s3.exceptions", "BucketAccessDeniedError"),
    )

    def install(self) -> None:
        from moto.core.authorization import ActionAuthenticatorMixin
        from moto.core.exceptions import AccessDeniedError, JsonRESTError
        from moto.iam.access_control import S3IAMRequest
        from moto.s3.exceptions import BucketAccessDeniedError, S3AccessDeniedError

        enforcement: IamEnforcement = self.engine

        def authorize(response: Any, iam_request_cls: type, resource: str = "*") -> None:
            key, service = _credential_of(response)
            session = enforcement.session_of(key) if key else None
            if session is None:
                return  # the deployer, a test driver or moto itself: not a function's call
            if iam_request_cls is S3IAMRequest:
                checks = [(f"s3:{response.data['Action']}", resource)]
            else:
                checks = request_checks(service, response, resource)
            for action, arn in checks:
                # AWS answers GetCallerIdentity to any valid credentials, whatever the policies say.
                allowed = action == "sts:GetCallerIdentity" or enforcement.permitted(session, action, arn)
                enforcement.record(session, action, arn, allowed)
                if allowed:
                    continue
                if iam_request_cls is S3IAMRequest:
                    bucket = response.data.get("BucketName") if isinstance(response.data, dict) else None
                    raise BucketAccessDeniedError(bucket=bucket) if bucket else S3AccessDeniedError()
                message = f"User: {session.role_arn}/{session.logical_id} is not authorized to perform: {action} on resource: {arn}"
                if service in _JSON_SERVICES:
                    raise JsonRESTError("AccessDeniedException", message)
                raise AccessDeniedError(user_arn=f"{session.role_arn}/{session.logical_id}", action=action)

        self.set(ActionAuthenticatorMixin, "_authenticate_and_authorize_action", authorize)


def _credential_of(response: Any) -> tuple[str | None, str]:
    """(access key id, credential-scope service) of a request: its Authorization header, or the query of
    a presigned URL."""
    header = response.headers.get("Authorization") or ""
    if "Credential=" in header:
        scope = header.partition("Credential=")[2].partition(",")[0]
    else:
        query = parse_qs(urlparse(response.uri).query)
        scope = (query.get("X-Amz-Credential") or [""])[0]
    parts = scope.split("/")
    return (parts[0] or None), (parts[3] if len(parts) > 3 else "")


def request_checks(service: str, response: Any, default: str) -> list[tuple[str, str]]:
    """(IAM action, resource ARN) pairs one request needs, as AWS authorizes it."""
    operation = response._get_action()
    account = response.current_account
    region = response.region
    action = f"{service}:{_SCOPE_SERVICE_ACTIONS.get((service, operation), operation)}"
    body = _json_body(response)
    prefix = f"arn:aws:{service}:{region}:{account}"
    if service == "dynamodb":
        return _dynamodb_checks(operation, body, f"arn:aws:dynamodb:{region}:{account}")
    if service == "states":
        if "executionArn" in body:
            return [(action, body["executionArn"])]
        if "stateMachineArn" in body:
            return [(action, body["stateMachineArn"])]
        if "taskToken" in body:
            return [(action, _state_machine_of_token(body["taskToken"], account, region) or f"{prefix}:stateMachine:*")]
        return [(action, default)]
    if service == "lambda":
        path = urlparse(response.uri).path
        if "/functions/" in path:
            name = unquote(path.split("/functions/")[1].split("/")[0])
            arn = name if name.startswith("arn:") else f"arn:aws:lambda:{region}:{account}:function:{name}"
            return [(action, arn)]
        return [(action, default)]
    if service == "ssm":
        names = body.get("Names") or ([body["Name"]] if "Name" in body else [])
        if names:
            return [(action, f"{prefix}:parameter{n if n.startswith('/') else '/' + n}") for n in names]
        return [(action, default)]
    if service == "ses":
        checks = []
        sender = body.get("FromEmailAddress")
        if sender:
            checks.append((action, f"{prefix}:identity/{_address(sender)}"))
        if body.get("ConfigurationSetName"):
            checks.append((action, f"{prefix}:configuration-set/{body['ConfigurationSetName']}"))
        return checks or [(action, default)]
    if service == "events" and operation == "PutEvents":
        buses = {entry.get("EventBusName") or "default" for entry in body.get("Entries", [])}
        return [(action, bus if bus.startswith("arn:") else f"{prefix}:event-bus/{bus}") for bus in sorted(buses)]
    return [(action, default)]


_DYNAMODB_ITEM_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                          "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}


def _dynamodb_checks(operation: str, body: dict[str, Any], prefix: str) -> list[tuple[str, str]]:
    def table(name: str) -> str:
        return name if name.startswith("arn:") else f"{prefix}:table/{name}"

    if operation in ("TransactWriteItems", "TransactGetItems"):
        checks = []
        for item in body.get("TransactItems", []):
            for kind, request in item.items():
                checks.append((f"dynamodb:{_DYNAMODB_ITEM_ACTIONS[kind]}", table(request["TableName"])))
        return checks
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(f"dynamodb:{operation}", table(name)) for name in body.get("RequestItems", {})]
    if "TableName" in body:
        arn = table(body["TableName"])
        if body.get("IndexName"):
            arn = f"{arn}/index/{body['IndexName']}"
        return [(f"dynamodb:{operation}", arn)]
    return [(f"dynamodb:{operation}", "*")]


def _state_machine_of_token(token: str, account: str, region: str) -> str | None:
    """The state machine whose execution issued `token` (SendTaskSuccess is authorized on it)."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    # The interpreter's backend (moto runs executions there when execute_state_machine is on).
    for machine in stepfunctions_parser_backends[account][region].state_machines:
        for execution in machine.executions:
            env = getattr(getattr(execution, "exec_worker", None), "env", None)
            pool = getattr(env, "callback_pool_manager", None)
            if pool is not None and pool.get(token) is not None:
                return machine.arn
    # A token no execution holds (any more): AWS answers InvalidToken; the stack has one machine it could name.
    machines = stepfunctions_parser_backends[account][region].state_machines
    return machines[0].arn if len(machines) == 1 else None


def _json_body(response: Any) -> dict[str, Any]:
    raw = response.raw_body if hasattr(response, "raw_body") else b""
    if isinstance(raw, (bytes, bytearray)):
        raw = raw.decode("utf-8", "replace")
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _address(sender: str) -> str:
    from email.utils import parseaddr

    return parseaddr(sender)[1] or sender
