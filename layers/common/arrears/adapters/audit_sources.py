"""Where an audit archive is read from (adapters): a folder, a zip, an S3 bucket (prefix), or memory.

Each one presents the archive with keys relative to its root, the way the audit
bucket lays it out (contact-log/, manifests/, artefacts/), to `verify` and `export`.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any


class MemorySource:
    def __init__(self, objects: dict[str, bytes], description: str = "memory", deleted: list[str] | None = None) -> None:
        self.objects = objects
        self.description = description
        self.deleted = deleted or []

    def keys(self) -> list[str]:
        return list(self.objects)

    def read(self, key: str) -> bytes | None:
        return self.objects.get(key)

    def deleted_keys(self) -> list[str]:
        return list(self.deleted)


class FolderSource:
    """A folder laid out like the audit bucket (e.g. after `aws s3 sync s3://<AuditBucketName> audit/`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.description = str(root)

    def keys(self) -> list[str]:
        return [path.relative_to(self.root).as_posix() for path in self.root.rglob("*")
                if path.is_file() and not any(part.startswith(".") for part in path.relative_to(self.root).parts)]

    def read(self, key: str) -> bytes | None:
        path = self.root / key
        return path.read_bytes() if path.is_file() else None

    def deleted_keys(self) -> list[str]:
        return []


class ZipSource:
    """An export zip (`arrears audit export`), read in place."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = str(path)
        with zipfile.ZipFile(path) as archive:
            self._names = [name for name in archive.namelist() if not name.endswith("/")]

    def keys(self) -> list[str]:
        return list(self._names)

    def read(self, key: str) -> bytes | None:
        if key not in self._names:
            return None
        with zipfile.ZipFile(self.path) as archive:
            return archive.read(key)

    def deleted_keys(self) -> list[str]:
        return []


class S3Source:
    """The audit bucket itself, read with the caller's credentials (the stack's auditor policy suffices)."""

    def __init__(self, bucket: str, prefix: str = "", client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.description = f"s3://{bucket}/{self.prefix}"
        self._client = client
        self._keys: list[str] | None = None

    @property
    def client(self) -> Any:
        if self._client is None:
            from arrears.adapters import aws

            self._client = aws.client("s3")
        return self._client

    def keys(self) -> list[str]:
        if self._keys is None:
            keys: list[str] = []
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
                keys += [item["Key"][len(self.prefix):] for item in page.get("Contents", [])]
            self._keys = keys
        return list(self._keys)

    def read(self, key: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None

    def deleted_keys(self) -> list[str]:
        """Keys that have a delete marker and no current object (whatever the markers' IsLatest says)."""
        marked: set[str] = set()
        for page in self.client.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=self.prefix):
            marked |= {marker["Key"][len(self.prefix):] for marker in page.get("DeleteMarkers", [])}
        return sorted(marked - set(self.keys())) if marked else []


def open_source(target: str) -> MemorySource | FolderSource | ZipSource | S3Source:
    """`s3://bucket[/prefix]`, a folder, or an export zip."""
    if target.startswith("s3://"):
        bucket, _, prefix = target.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError(f"{target}: no bucket in the S3 URI")
        return S3Source(bucket, prefix)
    path = Path(target)
    if path.is_dir():
        return FolderSource(path)
    if path.is_file() and zipfile.is_zipfile(path):
        return ZipSource(path)
    raise ValueError(f"{target}: not a folder, an export zip or an s3:// URI")
