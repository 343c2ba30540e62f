"""Policy versions in the table (adapter). Versions are immutable, so they are cached for good."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from arrears.adapters import aws
from arrears.domain.policy import Policy, parse_policy_yaml
from arrears.domain import table_keys as keys


class PolicyNotFound(LookupError):
    pass


class PolicyConflict(ValueError):
    pass


class DynamoPolicyRepository:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def current(self, policy_id: str) -> Policy:
        item = aws.table(self.table_name).get_item(
            Key={"pk": keys.policy_pk(policy_id), "sk": "CURRENT"}, ConsistentRead=True
        ).get("Item")
        if not item:
            raise PolicyNotFound(f"policy {policy_id!r} has no published version (run `arrears policy publish`)")
        return self.get(policy_id, int(item["version"]))

    def get(self, policy_id: str, version: int) -> Policy:
        return _cached_policy(self.table_name, policy_id, version)

    def publish(self, policy: Policy, source: str) -> bool:
        """Store a version and make it current. False when that exact version is already there;
        an existing version with other content is a conflict (versions never change)."""
        table = aws.table(self.table_name)
        try:
            table.put_item(
                Item={"pk": keys.policy_pk(policy.policy_id), "sk": keys.policy_version_sk(policy.version),
                      "entity": "policy", "version": policy.version, "source": source},
                ConditionExpression="attribute_not_exists(pk)",
            )
            created = True
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            if self.get(policy.policy_id, policy.version) != policy:
                raise PolicyConflict(
                    f"policy {policy.policy_id} v{policy.version} is already published with other content; "
                    "publish a new version instead"
                ) from None
            created = False
        table.put_item(Item={"pk": keys.policy_pk(policy.policy_id), "sk": "CURRENT", "entity": "policy_pointer",
                             "version": policy.version, "policy_id": policy.policy_id,
                             "gsi1pk": keys.POLICY_INDEX, "gsi1sk": policy.policy_id})
        return created

    def policy_ids(self) -> dict[str, int]:
        """Every published policy and its current version (GSI1 over the CURRENT pointers: no Scan)."""
        table = aws.table(self.table_name)
        request: dict[str, Any] = {"IndexName": "gsi1", "KeyConditionExpression": Key("gsi1pk").eq(keys.POLICY_INDEX)}
        found: dict[str, int] = {}
        while True:
            response = table.query(**request)
            found.update({item["policy_id"]: int(item["version"]) for item in response.get("Items", [])})
            if "LastEvaluatedKey" not in response:
                return found
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def versions(self, policy_id: str) -> list[dict[str, Any]]:
        """Each published version of a policy, oldest first: its number and YAML source."""
        table = aws.table(self.table_name)
        request: dict[str, Any] = {"ConsistentRead": True, "KeyConditionExpression":
                                   Key("pk").eq(keys.policy_pk(policy_id)) & Key("sk").begins_with("V#")}
        versions: list[dict[str, Any]] = []
        while True:
            response = table.query(**request)
            versions += [{"version": int(item["version"]), "source": item["source"]} for item in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return versions
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


@lru_cache(maxsize=64)
def _cached_policy(table_name: str, policy_id: str, version: int) -> Policy:
    item = aws.table(table_name).get_item(
        Key={"pk": keys.policy_pk(policy_id), "sk": keys.policy_version_sk(version)}, ConsistentRead=True
    ).get("Item")
    if not item:
        raise PolicyNotFound(f"policy {policy_id!r} version {version} is not published")
    return parse_policy_yaml(item["source"])


def reset_policy_cache() -> None:
    _cached_policy.cache_clear()
