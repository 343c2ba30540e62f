"""Arrears: serverless B2B collections on AWS.

The shared package, deployed as a Lambda layer. Sub-packages follow the
handler -> domain -> adapters layering: `models`, `policy` and the modules at
this level are pure domain code; `store`, `channels` and `audit` hold the
adapters (the only modules that import boto3).
"""

__version__ = "0.1.0"
