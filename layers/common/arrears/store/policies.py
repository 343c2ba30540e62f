"""Policy versions in the table (adapter). Versions are immutable, so they are cached for good."""

from __future__ import annotations

from functools import lru_cache

from botocore.exceptions import ClientError

from arrears import aws
from arrears.policy import Policy, parse_policy_yaml
from arrears.store import keys


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
                             "version": policy.version})
        return created


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
