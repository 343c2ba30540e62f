"""Artefacts (emails, letters, referral packages) in the letters bucket (adapter)."""

from __future__ import annotations

from arrears.adapters import aws
from arrears.domain.hash_chain import sha256_hex
from arrears.domain.models import Artefact


class S3ArtefactStore:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def put(self, key: str, body: bytes, content_type: str, kind: str) -> Artefact:
        digest = sha256_hex(body)
        # Same key, same bytes on a retry: the put is idempotent. The hash travels as metadata
        # so an auditor can compare it with the contact log without trusting this code.
        aws.client("s3").put_object(
            Bucket=self.bucket, Key=key, Body=body, ContentType=content_type,
            ServerSideEncryption="AES256", Metadata={"sha256": digest},
            # S3 checks the bytes it stores against this; a bucket with Object Lock retention requires it.
            ChecksumAlgorithm="SHA256",
        )
        return Artefact(kind=kind, uri=f"s3://{self.bucket}/{key}", sha256=digest, content_type=content_type)

    def get(self, uri: str) -> bytes:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()

    def find(self, uri: str) -> bytes | None:
        """The object's bytes, or None when there is none (S3 says AccessDenied for a missing key to a role
        without s3:ListBucket)."""
        from botocore.exceptions import ClientError

        try:
            return self.get(uri)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "AccessDenied", "404", "403"):
                return None
            raise

    def download_url(self, uri: str, expires_seconds: int = 900) -> str | None:
        """A presigned GET for an artefact in this bucket (None for anything else)."""
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        if bucket != self.bucket or not key:
            return None
        return aws.client("s3").generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key},
                                                       ExpiresIn=expires_seconds)
