"""Request signing: moto never checks a SigV4 signature, and computing one (canonical request, payload
hash, five HMACs) is a visible part of each in-process call. Plain SigV4 requests (DynamoDB, SES, Step
Functions, Lambda, SSM...) get every header signing adds, with a placeholder signature. S3 (its signer
also decides the payload headers moto reads) and presigned URLs (their query carries the signature) are
signed as usual."""

from __future__ import annotations

from typing import Any

from ..patch import Patch, Target


class PlaceholderSignatures(Patch):
    NAME = "sigv4_placeholder"
    WRITTEN_FOR = "botocore 1.44.5"
    SPEEDUP = True
    TARGETS = (
        Target("botocore.auth", "SigV4Auth.add_auth", ("self", "request")),
        Target("botocore.auth", "SigV4Auth._modify_request_before_signing", ("self", "request")),
        Target("botocore.auth", "SigV4Auth._inject_signature_to_request", ("self", "request", "signature")),
        Target("botocore.auth", "get_current_datetime", ("remove_tzinfo",)),
        Target("botocore.auth", "SIGV4_TIMESTAMP"),
    )

    def install(self) -> None:
        from botocore import auth as botocore_auth
        from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
        from botocore.exceptions import NoCredentialsError

        orig_add_auth = SigV4Auth.add_auth

        def add_auth(auth: Any, request: Any) -> None:
            if type(auth) is not SigV4Auth:
                return orig_add_auth(auth, request)
            if auth.credentials is None:
                raise NoCredentialsError()
            request.context["timestamp"] = botocore_auth.get_current_datetime().strftime(SIGV4_TIMESTAMP)
            auth._modify_request_before_signing(request)
            auth._inject_signature_to_request(request, "0" * 64)

        self.set(SigV4Auth, "add_auth", add_auth)
