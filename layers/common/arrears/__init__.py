"""Arrears: serverless B2B collections on AWS.

The shared package, deployed as a Lambda layer. Its folders say what each file is
(see docs/architecture.md):

- `domain/`     the collections rules, pure: models, policy and calendar, money, interest, notices,
                dunning, holds, deliverability, the contact queue, and the ports adapters implement
- `ingestion/`  billing platforms' webhooks and their signature checks, bulk import, billing changes
- `rendering/`  email text and HTML, the MIME message, the PDF letter, the referral package
- `adapters/`   DynamoDB, S3, SES, Step Functions, SSM, settings, AWS clients (the only boto3 imports)
- `usecases/`   what the entry points call: a workflow step, the finance API, the audit archive, dry runs
- `wiring.py`   the composition root: the one place adapters are put behind the domain's ports
"""

__version__ = "0.1.0"
