"""The local runtime: template.yaml provisioned inside moto, real handlers, the real ASL, virtual time.

It reads the same `template.yaml` and `statemachines/*.asl.json` that `sam deploy`
ships, creates each resource in moto (in-process), imports each function's real
handler, and lets `LocalEngine` run the state machine with a virtual clock.
Nothing here is deployed.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import sys
import uuid
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs, unquote

from arrears.adapters.settings import Settings, function_settings
from arrears_local import gctune
from arrears_local.cfn import Resolver, UnsupportedTemplate, load_template
from arrears_local.engine import LocalEngine
from arrears_local.engine.chaos import ChaosConfig
from arrears_local.iam import IamEnforcement

_log = logging.getLogger("arrears_local")
REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "arrears-local"
# The webhook secret the local stack's SSM parameter holds; the demo and tests sign with it.
LOCAL_STRIPE_SECRET = "whsec_arrears_local_demo_secret"
# The other providers' local secrets, by the template parameter that names their SSM parameter.
LOCAL_PADDLE_SECRET = "pdl_ntfset_01arrearslocal_demo_secret"
LOCAL_CHARGEBEE_CREDENTIALS = "arrears-local:chargebee-demo-password"
LOCAL_GENERIC_SECRET = "arrears_local_generic_demo_secret"
# The key the local stack signs the finance API's list cursors with (its SSM parameter, like the secrets).
LOCAL_CURSOR_KEY = "arrears_local_cursor_signing_key"
# The local stack receives replies (the template's optional inbound path on): at this domain, signed with this key.
LOCAL_INBOUND_DOMAIN = "replies.northwind.example"
LOCAL_REPLY_TOKEN_SECRET = "arrears_local_reply_token_key"
# The key the local stack signs the debtors' portal links with (docs/portal.md).
LOCAL_PORTAL_SECRET = "arrears_local_portal_link_secret"
_LOCAL_WEBHOOK_SECRETS = {"StripeWebhookSecretParameterName": LOCAL_STRIPE_SECRET,
                          "PaddleWebhookSecretParameterName": LOCAL_PADDLE_SECRET,
                          "ChargebeeWebhookCredentialsParameterName": LOCAL_CHARGEBEE_CREDENTIALS,
                          "GenericWebhookSecretParameterName": LOCAL_GENERIC_SECRET,
                          "CursorKeyParameterName": LOCAL_CURSOR_KEY,
                          "ReplyTokenSecretParameterName": LOCAL_REPLY_TOKEN_SECRET,
                          "PortalSecretParameterName": LOCAL_PORTAL_SECRET}


def local_reply_to(invoice_id: str, step_id: str) -> str:
    """The Reply-To the local stack's emails carry (for the policy simulator's byte-equal emails)."""
    from arrears.domain.replies import reply_address

    return reply_address(invoice_id, step_id, LOCAL_REPLY_TOKEN_SECRET, LOCAL_INBOUND_DOMAIN)


# Template parameters the local stack sets unless told otherwise (`parameters`).
_LOCAL_PARAMETERS = {"InboundDomain": LOCAL_INBOUND_DOMAIN}
# Who the finance API's IAM-authorised routes see as the caller locally (no SigV4 is checked here).
LOCAL_PRINCIPAL = f"arn:aws:iam::{ACCOUNT}:user/local-finance"
# Local-only environment on top of the template's: no X-Ray daemon, metrics and logs kept off the console.
_LOCAL_ENVIRONMENT = {
    "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_DEV": "false",
}


def project_root() -> Path:
    """The repository: where template.yaml is (the runtime works from a clone, not an install)."""
    env = os.environ.get("ARREARS_ROOT")
    if env:
        return Path(env)
    for candidate in (Path.cwd(), *Path(__file__).resolve().parents):
        if (candidate / "template.yaml").exists() and (candidate / "statemachines").is_dir():
            return candidate
    raise FileNotFoundError("cannot find template.yaml: run from the Arrears repository or set ARREARS_ROOT")


@dataclass(frozen=True)
class Route:
    method: str
    resource: str  # API Gateway resource path, e.g. /webhooks/{provider}
    function_name: str
    pattern: re.Pattern[str]
    iam: bool = False  # Auth: AWS_IAM (the caller is an IAM principal)


@dataclass(frozen=True)
class HttpReply:
    status_code: int
    headers: dict[str, str]
    body: str | bytes  # bytes: a file served by `arrears serve` (local_routes.artefact)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class LocalRuntime:
    def __init__(self, start: datetime, root: Path | None = None, parameters: dict[str, str] | None = None,
                 log_level: str = "ERROR", iam: bool | None = None, iam_without: set[tuple[Any, ...]] | None = None,
                 chaos: ChaosConfig | None = None) -> None:
        """`iam`: each function's calls signed as its own role and checked (arrears_local.iam); default
        `ARREARS_LOCAL_IAM` ("1" on). `iam_without`: statements to leave out of the roles (IamEnforcement)."""
        self.root = root or project_root()
        self.engine = LocalEngine(start, chaos=chaos)  # chaos: docs/faults.md (None: nothing injected)
        self.parameter_overrides = {**_LOCAL_PARAMETERS, **(parameters or {})}
        self.log_level = log_level
        self.template: dict[str, Any] = {}
        self.resolver = Resolver()
        self.physical: dict[str, str] = {}  # logical id -> local name
        self.routes: list[Route] = []
        self.function_env: dict[str, dict[str, str]] = {}
        self.settings_read: dict[str, set[str]] = {}  # function -> the settings fields its invocations read
        self._saved_environ: dict[str, str | None] = {}
        self._saved_gc: tuple[int, ...] | None = None
        if iam is None:
            iam = os.environ.get("ARREARS_LOCAL_IAM", "") == "1"
        self.iam: IamEnforcement | None = IamEnforcement(self, iam_without, account=ACCOUNT, stack=STACK) \
            if iam or iam_without else None

    # --- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> LocalRuntime:
        self.engine.__enter__()
        try:
            self._provision()
            self._tune_gc()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            if self.iam is not None:
                self.iam.uninstall()
            self.engine.__exit__(*exc)
        finally:
            self._restore_gc()
            for name, value in self._saved_environ.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            from arrears.wiring import reset_wiring

            reset_wiring()

    # The cyclic GC tuned for the run (see gctune): what exists once the stack is provisioned is frozen
    # out of the collections. Undone on exit (tests run many runtimes in one process).
    def _tune_gc(self) -> None:
        self._saved_gc = gctune.tune()

    def _restore_gc(self) -> None:
        if self._saved_gc is not None:
            gctune.restore(self._saved_gc)
            self._saved_gc = None

    def now(self) -> datetime:
        return self.engine.now()

    def client(self, service: str) -> Any:
        return self.engine.client(service)

    # --- names ----------------------------------------------------------------------------
    def name_of(self, logical_id: str) -> str:
        return self.physical[logical_id]

    @property
    def table_name(self) -> str:
        return self.resolver.refs["ArrearsTable"]

    @property
    def letters_bucket(self) -> str:
        return self.resolver.refs["LettersBucket"]

    @property
    def audit_bucket(self) -> str:
        return self.resolver.refs["AuditBucket"]

    @property
    def state_machine_arn(self) -> str:
        return self.resolver.refs["DunningStateMachine"]

    @property
    def sender_email(self) -> str:
        return self.resolver.refs["SenderEmail"]

    # --- provisioning ---------------------------------------------------------------------
    def _provision(self) -> None:
        # Metrics are off locally (no CloudWatch): Powertools' warning that a handler published none is noise here.
        warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)
        self._set_environ(_LOCAL_ENVIRONMENT | {"POWERTOOLS_LOG_LEVEL": self.log_level})
        from aws_lambda_powertools.utilities import parameters

        from arrears.wiring import reset_wiring

        reset_wiring()
        # A cold start: no parameter value Powertools cached in an earlier runtime of this process (a secret,
        # fetched with another role) carries over, as in a fresh container.
        parameters.clear_caches()
        self.template = load_template(self.root / "template.yaml")
        resources: dict[str, Any] = self.template["Resources"]
        self._name_everything(resources)
        self._evaluate_conditions()
        creators = {
            "AWS::DynamoDB::Table": self._create_table,
            "AWS::S3::Bucket": self._create_bucket,
            "AWS::SQS::Queue": self._create_queue,
            "AWS::SES::ConfigurationSet": self._create_configuration_set,
            "AWS::SNS::Topic": self._create_topic,
        }
        for logical_id, resource in resources.items():
            if resource["Type"] in creators and self._wanted(resource):
                creators[resource["Type"]](logical_id, self.resolver.resolve(resource.get("Properties", {})))
        self._create_parameters_and_identity()
        if self.iam is not None:
            self.iam.provision()
        functions = [(lid, r) for lid, r in resources.items() if r["Type"] == "AWS::Serverless::Function" and self._wanted(r)]
        self._set_environ(self._shared_environment(functions))
        for logical_id, resource in functions:
            self._create_function(logical_id, resource)
        for logical_id, resource in resources.items():
            if resource["Type"] == "AWS::Serverless::StateMachine":
                self._create_state_machine(logical_id, resource["Properties"])
        for logical_id, resource in functions:
            self._connect_events(logical_id, resource["Properties"].get("Events") or {})
        self._publish_policies()
        if self.iam is not None:
            self.iam.install()  # from here on, each function's calls are checked against its role

    def _wanted(self, resource: dict[str, Any]) -> bool:
        condition = resource.get("Condition")
        return condition is None or self.resolver.conditions.get(condition, False)

    def _name_everything(self, resources: dict[str, Any]) -> None:
        """Every Ref and GetAtt the template may use, before anything is created (ARNs are deterministic)."""
        refs = self.resolver.refs
        attributes = self.resolver.attributes
        refs.update({"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::StackName": STACK,
                     "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"})
        for name, parameter in (self.template.get("Parameters") or {}).items():
            value = self.parameter_overrides.get(name, parameter.get("Default"))
            if value is None:
                raise UnsupportedTemplate(f"parameter {name} has no default and no local value")
            refs[name] = str(value) if parameter.get("Type") != "Number" else value
        for logical_id, resource in resources.items():
            kind = resource["Type"]
            local = f"{STACK}-{logical_id}".lower()
            self.physical[logical_id] = local
            if kind == "AWS::DynamoDB::Table":
                arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{local}"
                refs[logical_id] = local
                attributes[(logical_id, "Arn")] = arn
                attributes[(logical_id, "StreamArn")] = f"{arn}/stream/pending"  # replaced on creation
            elif kind == "AWS::S3::Bucket":
                # A bucket the template names (so a policy can name it without a reference) has that name here too.
                named = (resource.get("Properties") or {}).get("BucketName")
                local = self.resolver.resolve(named).lower() if named else local
                self.physical[logical_id] = local
                refs[logical_id] = local
                attributes[(logical_id, "Arn")] = f"arn:aws:s3:::{local}"
            elif kind == "AWS::Serverless::Function":
                refs[logical_id] = local
                attributes[(logical_id, "Arn")] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{local}"
            elif kind == "AWS::Serverless::StateMachine":
                name = self.resolver.resolve(resource.get("Properties", {}).get("Name")) or local
                refs[logical_id] = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
                attributes[(logical_id, "Name")] = name
                attributes[(logical_id, "Arn")] = refs[logical_id]
            elif kind == "AWS::SQS::Queue":
                refs[logical_id] = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{local}"
                attributes[(logical_id, "Arn")] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{local}"
                attributes[(logical_id, "QueueName")] = local
            elif kind == "AWS::SNS::Topic":
                refs[logical_id] = f"arn:aws:sns:{REGION}:{ACCOUNT}:{local}"
                attributes[(logical_id, "TopicArn")] = refs[logical_id]
                attributes[(logical_id, "TopicName")] = local
            elif kind == "AWS::CloudFront::Distribution":  # not run locally: its domain names the console's origin
                refs[logical_id] = local
                attributes[(logical_id, "DomainName")] = f"{local}.cloudfront.net"
            elif kind == "AWS::Logs::LogGroup":
                attributes[(logical_id, "Arn")] = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{local}:*"
                refs[logical_id] = local
            else:
                # Not run locally (API, layer, policies, alarms, topics): a stable placeholder value.
                refs[logical_id] = local

    def _create_table(self, logical_id: str, properties: dict[str, Any]) -> None:
        client = self.client("dynamodb")
        request = {key: properties[key] for key in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes",
                                                    "StreamSpecification", "BillingMode") if key in properties}
        if "StreamSpecification" in request:
            request["StreamSpecification"] = {"StreamEnabled": True, **request["StreamSpecification"]}
        description = client.create_table(TableName=self.resolver.refs[logical_id], **request)["TableDescription"]
        if "LatestStreamArn" in description:
            self.resolver.attributes[(logical_id, "StreamArn")] = description["LatestStreamArn"]

    def _create_bucket(self, logical_id: str, properties: dict[str, Any]) -> None:
        client = self.client("s3")
        name = self.resolver.refs[logical_id]
        client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=bool(properties.get("ObjectLockEnabled")))
        if properties.get("VersioningConfiguration", {}).get("Status") == "Enabled":
            client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        lock = properties.get("ObjectLockConfiguration")
        if lock and lock.get("Rule"):
            retention = lock["Rule"]["DefaultRetention"]
            client.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": retention["Mode"], "Days": int(retention["Days"])}},
            })

    def _create_queue(self, logical_id: str, properties: dict[str, Any]) -> None:
        self.client("sqs").create_queue(QueueName=self.resolver.attributes[(logical_id, "QueueName")])

    def _create_configuration_set(self, logical_id: str, properties: dict[str, Any]) -> None:
        self.client("sesv2").create_configuration_set(ConfigurationSetName=self.resolver.refs[logical_id])

    def _create_topic(self, logical_id: str, properties: dict[str, Any]) -> None:
        self.client("sns").create_topic(Name=self.resolver.attributes[(logical_id, "TopicName")])

    def _create_parameters_and_identity(self) -> None:
        """What a deployer creates by hand (README): the webhook secret and the verified sender."""
        refs = self.resolver.refs
        for parameter, secret in _LOCAL_WEBHOOK_SECRETS.items():
            if parameter in refs:
                self.client("ssm").put_parameter(Name=refs[parameter], Type="SecureString", Value=secret, Overwrite=True)
        if "SenderEmail" in refs:
            self.client("sesv2").create_email_identity(EmailIdentity=refs["SenderEmail"])

    def _evaluate_conditions(self) -> None:
        for condition, expression in (self.template.get("Conditions") or {}).items():
            self.resolver.conditions[condition] = self.resolver.evaluate_condition(expression)

    def _shared_environment(self, functions: list[tuple[str, dict[str, Any]]]) -> dict[str, str]:
        """Resolve every function's environment (Globals merged with its own, as SAM does). Each invocation
        reads its own settings (see _create_function); the shared process environment is only for code run
        outside an invocation (tests, the CLI), so keys the functions share must agree."""
        globals_env = ((self.template.get("Globals") or {}).get("Function") or {}).get("Environment", {}).get("Variables", {})
        shared: dict[str, str] = {}
        for logical_id, resource in functions:
            own = (resource["Properties"].get("Environment") or {}).get("Variables", {})
            env = {k: str(v) for k, v in self.resolver.resolve({**globals_env, **own}).items()}
            self.function_env[logical_id] = env
            for key, value in env.items():
                if key == "POWERTOOLS_SERVICE_NAME" or key == "POWERTOOLS_LOG_LEVEL":
                    continue
                if key in shared and shared[key] != value:
                    raise UnsupportedTemplate(f"functions disagree on {key}; the local runtime shares one environment")
                shared[key] = value
        return shared

    def _create_function(self, logical_id: str, resource: dict[str, Any]) -> None:
        properties = resource["Properties"]
        code_dir = self.root / properties["CodeUri"]
        module_name, _, handler_name = properties["Handler"].rpartition(".")
        env = self.function_env[logical_id]
        with _environment({k: v for k, v in env.items() if k != "POWERTOOLS_LOG_LEVEL"}):
            module = _import_handler_module(f"arrears_function_{logical_id.lower()}", code_dir / f"{module_name}.py")
        handler = getattr(module, handler_name)
        metrics = getattr(module, "metrics", None)
        # Each invocation reads exactly the settings its template entry declares (Globals merged with its own,
        # as SAM does), not the process's shared environment: an undeclared setting is its default, as in AWS.
        settings = _SettingsReads(declared_settings(env), self.settings_read.setdefault(logical_id, set()))

        def invoke(event: Any, context: Any) -> Any:
            try:
                with function_settings(settings):  # type: ignore[arg-type]
                    return handler(event, context)
            finally:
                # Metrics are off locally, and Powertools then keeps them instead of flushing: drop them
                # so a long run neither grows nor hits the 100-metric auto-flush that prints regardless.
                if metrics is not None:
                    metrics.clear_metrics()

        if self.iam is not None:
            invoke = self.iam.acting_as(logical_id, invoke)
        self.engine.register_lambda(self.resolver.refs[logical_id], invoke,
                                    role_arn=self.iam.role_arn(logical_id) if self.iam is not None else None)

    def _create_state_machine(self, logical_id: str, properties: dict[str, Any]) -> None:
        definition = (self.root / properties["DefinitionUri"]).read_text(encoding="utf-8")
        substitutions = self.resolver.resolve(properties.get("DefinitionSubstitutions") or {})
        for name, value in substitutions.items():
            definition = definition.replace("${" + name + "}", str(value))
        leftover = re.findall(r"\$\{([A-Za-z0-9_]+)\}", definition)
        if leftover:
            raise UnsupportedTemplate(f"{properties['DefinitionUri']} uses substitutions the template does not pass: {leftover}")
        self.client("stepfunctions").create_state_machine(
            name=self.resolver.attributes[(logical_id, "Name")], definition=definition,
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/{STACK}-{logical_id}", type=properties.get("Type", "STANDARD"),
        )

    def _connect_events(self, logical_id: str, events: dict[str, Any]) -> None:
        function_name = self.resolver.refs[logical_id]
        for event in events.values():
            properties = self.resolver.resolve(event.get("Properties", {}))
            if event["Type"] == "Api":
                resource_path = properties["Path"]
                pattern = re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", r"([^/]+)", re.escape(resource_path)) + "$")
                iam = (properties.get("Auth") or {}).get("Authorizer") == "AWS_IAM"
                self.routes.append(Route(properties["Method"].upper(), resource_path, function_name, pattern, iam))
            elif event["Type"] == "DynamoDB":
                request = {"EventSourceArn": properties["Stream"], "FunctionName": function_name,
                           "StartingPosition": properties.get("StartingPosition", "TRIM_HORIZON"),
                           "BatchSize": int(properties.get("BatchSize", 100))}
                if "FilterCriteria" in properties:
                    request["FilterCriteria"] = properties["FilterCriteria"]
                for name in ("FunctionResponseTypes", "MaximumRetryAttempts", "BisectBatchOnFunctionError"):
                    if name in properties:
                        request[name] = properties[name]
                self.client("lambda").create_event_source_mapping(**request)
            elif event["Type"] == "SNS":
                # moto delivers a publish to a lambda subscription through the engine's in-process invoke.
                self.client("sns").subscribe(TopicArn=properties["Topic"], Protocol="lambda",
                                             Endpoint=self.resolver.attributes[(logical_id, "Arn")])
            elif event["Type"] == "S3":
                # moto invokes the function (through the engine) for each object stored that matches.
                rules = ((properties.get("Filter") or {}).get("S3Key") or {}).get("Rules") or []
                events = properties["Events"] if isinstance(properties["Events"], list) else [properties["Events"]]
                self.client("s3").put_bucket_notification_configuration(Bucket=properties["Bucket"], NotificationConfiguration={
                    "LambdaFunctionConfigurations": [{
                        "LambdaFunctionArn": self.resolver.attributes[(logical_id, "Arn")], "Events": events,
                        **({"Filter": {"Key": {"FilterRules": rules}}} if rules else {})}]})
            else:
                raise UnsupportedTemplate(f"event type {event['Type']} of {logical_id} is not run locally")

    def _publish_policies(self) -> None:
        from arrears.domain.policy import load_policy_file
        from arrears.adapters.dynamo_policies import DynamoPolicyRepository

        repository = DynamoPolicyRepository(self.table_name)
        for path in sorted((self.root / "policies").glob("*.yaml")):
            load_policy_file(path)  # fails loudly on an invalid policy
            repository.publish(load_policy_file(path), path.read_text(encoding="utf-8"))

    def _set_environ(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            self._saved_environ.setdefault(name, os.environ.get(name))
            os.environ[name] = value

    # --- HTTP through the template's API routes -------------------------------------------
    def request(self, method: str, path: str, body: bytes | str = b"", headers: dict[str, str] | None = None,
                principal: str = LOCAL_PRINCIPAL) -> HttpReply:
        """What API Gateway would do: match a route, build the proxy event, invoke the function.
        `path` may carry a query string. IAM-authorised routes see `principal` as the caller (the local
        runtime does not check SigV4 signatures)."""
        raw = body.encode() if isinstance(body, str) else body
        path, _, query = path.partition("?")
        path = unquote(path)
        for route in self.routes:
            match = route.pattern.match(path)
            if route.method == method.upper() and match:
                names = re.findall(r"\{([^}]+)\}", route.resource)
                event = _proxy_event(method.upper(), path, route.resource, dict(zip(names, match.groups())), raw, headers or {},
                                     parse_qs(query, keep_blank_values=True), principal if route.iam else None)
                response = self.client("lambda").invoke(FunctionName=route.function_name, Payload=json.dumps(event).encode())
                payload = json.loads(response["Payload"].read() or b"null")
                if response.get("FunctionError") or not isinstance(payload, dict):
                    # API Gateway's answer to a function that crashed; the error goes to the log, as to CloudWatch.
                    _log.error("%s %s: %s crashed: %s", method, path, route.function_name, payload)
                    return HttpReply(502, {"content-type": "application/json"}, json.dumps({"message": "Internal server error"}))
                body = payload.get("body") or ""
                if payload.get("isBase64Encoded"):  # a file (a PDF): API Gateway hands the client its bytes
                    import base64

                    body = base64.b64decode(body)
                return HttpReply(int(payload.get("statusCode", 200)), payload.get("headers") or {}, body)
        return HttpReply(404 if not any(r.pattern.match(path) for r in self.routes) else 405,
                         {"content-type": "application/json"}, json.dumps({"message": "Missing Authentication Token"}))

    def sent_emails(self) -> list[Any]:
        """What SES accepted, as moto keeps it (RawMessage objects with source, destinations, raw_data)."""
        from moto.ses.models import ses_backends

        return list(ses_backends[ACCOUNT][REGION].sent_messages)

    def ses_notify(self, message_id: str, event_type: str, bounce_type: str = "Permanent") -> None:
        """What SES would publish about a sent message (moto never does): a "Delivery", "Bounce" or
        "Complaint" event, to the SNS topic of the configuration set's event destination."""
        from email import message_from_bytes

        from arrears.domain.ses_events import ses_notification

        sent = next((m for m in self.sent_emails() if m.id == message_id), None)
        if sent is None:
            raise KeyError(f"SES sent no message {message_id}")
        raw = sent.raw_data.encode() if isinstance(sent.raw_data, str) else sent.raw_data
        headers = {name: str(value) for name, value in message_from_bytes(raw).items()}
        destinations = list(dict.fromkeys(sent.destinations))  # moto may list a recipient twice; SES lists each once
        notification = ses_notification(event_type, message_id, self.now(), sent.source, destinations, headers,
                                        bounce_type=bounce_type, configuration_set=self.resolver.refs.get("EmailConfigurationSet", ""))
        self.client("sns").publish(TopicArn=self.email_events_topic, Message=json.dumps(notification))

    def receive_email(self, raw: bytes) -> str:
        """What SES's receipt rule does with a message for the inbound domain: store it in the inbound bucket, whose
        notification runs the inbound function (the real trigger path). The object's key."""
        from arrears.domain.hash_chain import sha256_hex

        if "InboundBucket" not in self.physical or not self.resolver.conditions.get("HasInboundDomain"):
            raise UnsupportedTemplate("this local stack receives no email (InboundDomain is empty)")
        key = f"messages/{sha256_hex(raw)[:40]}"
        self.client("s3").put_object(Bucket=self.physical["InboundBucket"], Key=key, Body=raw)
        return key

    @property
    def email_events_topic(self) -> str:
        """The SNS topic the template's SES configuration-set event destination publishes to."""
        for resource in self.template["Resources"].values():
            if resource["Type"] == "AWS::SES::ConfigurationSetEventDestination":
                destination = resource["Properties"]["EventDestination"]
                return self.resolver.resolve(destination["SnsDestination"]["TopicARN"])
        raise UnsupportedTemplate("the template has no SES configuration-set event destination")

    # --- time -----------------------------------------------------------------------------
    def run_until(self, end: datetime, external: list[tuple[datetime, Callable[[], None]]] | None = None,
                  on_progress: Callable[[datetime], None] | None = None) -> None:
        self.engine.run_until(end, external=external or [], on_progress=on_progress)


def _proxy_event(method: str, path: str, resource: str, path_parameters: dict[str, str], body: bytes,
                 headers: dict[str, str], query: dict[str, list[str]] | None = None,
                 principal: str | None = None) -> dict[str, Any]:
    """An API Gateway REST (v1) Lambda proxy event."""
    query = query or {}
    identity: dict[str, Any] = {"sourceIp": "127.0.0.1", "userAgent": headers.get("User-Agent", "arrears-local")}
    if principal:
        identity.update({"userArn": principal, "caller": principal.rpartition("/")[2], "accountId": ACCOUNT,
                         "accessKey": "ASIALOCALDEVELOPER00"})
    try:
        text, is_base64 = body.decode("utf-8"), False
    except UnicodeDecodeError:
        import base64

        text, is_base64 = base64.b64encode(body).decode(), True
    return {
        "resource": resource, "path": path, "httpMethod": method,
        "headers": dict(headers), "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {name: values[-1] for name, values in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": path_parameters or None, "stageVariables": None,
        "requestContext": {
            "resourcePath": resource, "httpMethod": method, "path": f"/prod{path}", "stage": "prod",
            "requestId": str(uuid.uuid4()), "accountId": ACCOUNT, "apiId": "local",
            "identity": identity,
        },
        "body": text, "isBase64Encoded": is_base64,
    }


def _import_handler_module(module_name: str, path: Path) -> ModuleType:
    """Each function's app.py under its own name (they are all called `app`)."""
    if module_name in sys.modules:
        del sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def declared_settings(env: dict[str, str]) -> Settings:
    """The settings model filled from `env` alone (not the process environment)."""
    return Settings.from_environ(env)


class _SettingsReads:
    """A function's settings, noting each field its code reads (tests check each is declared for it)."""

    __slots__ = ("_settings", "_reads")

    def __init__(self, settings: Settings, reads: set[str]) -> None:
        self._settings = settings
        self._reads = reads

    def __getattr__(self, name: str) -> Any:
        if name in Settings.model_fields:
            self._reads.add(name)
        return getattr(self._settings, name)


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
